"""A replica rides out a Redis restart: its sessions say so, then go on without reload."""

from __future__ import annotations

from livegrid.models import Cell, Grid, JobSpec, Layer, Workspace
from livegrid.redis_client import connect
from livegrid.workspace_cli import load_workspace


def _one_plot() -> Workspace:
    layer = Layer(id="m1", job="mon1", output="latest", plotter="lines")
    return Workspace(
        grids=[
            Grid(
                id="main", title="Main", rows=1, cols=1, cells=[Cell(row=0, col=0, layers=[layer])]
            )
        ],
        jobs=[JobSpec(id="mon1", workflow="latest", source="monitor_1")],
    )


def test_sessions_show_reconnecting_while_redis_is_down_and_continue_after(
    *, own_redis, keyspace, spawn_worker, spawn_replica, probes, wait_for
):
    load_workspace(connect(own_redis.url), keyspace, _one_plot(), user="t", start_jobs=True)
    spawn_worker("w1", url=own_redis.url, LIVEGRID_SYNTHETIC_RATES='{"monitor_1": 4}')
    replica = spawn_replica("a", url=own_redis.url)
    session = probes.open(replica.url, 1)[0]

    def delivered() -> list[int]:
        sessions = replica.sessions()
        return sessions[0]["frames"].get("m1", []) if sessions else []

    wait_for(lambda: len(delivered()) >= 2, 30, "frames before the outage")
    own_redis.stop(kill=True)

    wait_for(lambda: replica.get("/readyz")[0] == 503, 30, "/readyz to report the outage")
    assert "not reachable" in replica.get("/readyz")[1]
    wait_for(lambda: "Reconnecting to Redis" in session.text_received(), 30, "the banner")

    own_redis.start()
    wait_for(replica.ready, 30, "/readyz after the restart")
    before = delivered()[-1]
    wait_for(lambda: delivered()[-1] >= before + 2, 30, "new frames in the same session")
    text = session.text_received()
    # The HTML pane's text travels HTML-escaped.
    assert text.rfind("data-state=&quot;connected&quot;") > text.rfind("Reconnecting to Redis")
    assert [s["id"] for s in replica.sessions()] == [session.session_id]
    assert not session.closed
