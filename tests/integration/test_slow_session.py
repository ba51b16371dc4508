"""A browser too slow for its frames skips to the latest instead of queueing them.

A probe session stops reading its websocket (its receive buffer shrunk), so the
replica's writes to it back up in the kernel, as on a congested link; a second
session on the same replica reads normally.
"""

from __future__ import annotations

from integration_workspaces import one_row

from livegrid.models import JobSpec, Layer, Workspace
from livegrid.workspace_cli import load_workspace

# Fast enough to fill a stalled socket within a second or two.
RATES = '{"detector_panel_0": 5}'


def _workspace() -> Workspace:
    return one_row(
        [Layer(id="img", job="det", output="latest", plotter="image")],
        jobs=[JobSpec(id="det", workflow="latest", source="detector_panel_0")],
    )


def test_a_session_that_stops_reading_skips_to_the_latest_frame_and_slows_no_other(
    *, r, keyspace, spawn_worker, spawn_replica, probes, wait_for
):
    load_workspace(r, keyspace, _workspace(), user="test", start_jobs=True)
    spawn_worker("w1", LIVEGRID_SYNTHETIC_RATES=RATES)
    # Pings every 20 s: the stalled browser is not disconnected during the test.
    replica = spawn_replica(
        "a", LIVEGRID_SESSION_BACKLOG_BYTES="65536", LIVEGRID_STALE_AFTER_S="60"
    )
    healthy, slow = probes.open(replica.url, 2)

    def by_probe() -> dict[str, dict]:
        return {s["id"]: s for s in replica.sessions()}

    wait_for(
        lambda: all(len(s["frames"].get("img", [])) >= 3 for s in by_probe().values()),
        60,
        "three image frames in both sessions",
    )
    probes.pause(slow)
    wait_for(
        lambda: by_probe()[slow.session_id]["presents_deferred"] >= 5,
        30,
        "the stalled session to defer five ticks",
    )
    stalled = by_probe()

    # The reading session showed every frame the replica fetched meanwhile (after its
    # first two: a session is built while frames arrive).
    seqs = stalled[healthy.session_id]["frames"]["img"][2:]
    fetched = [n for n in replica.fetched()["img"] if seqs[0] <= n <= seqs[-1]]
    assert seqs == fetched, f"reading session showed {seqs}, replica fetched {fetched}"
    assert stalled[healthy.session_id]["presents_deferred"] == 0

    probes.resume(slow)
    latest_at_resume = max(replica.fetched()["img"])
    wait_for(
        lambda: max(by_probe()[slow.session_id]["frames"]["img"]) > latest_at_resume,
        30,
        "the resumed session to show a frame newer than those published while it stalled",
    )
    after = by_probe()[slow.session_id]
    # It jumped over the frames published while it stalled instead of replaying them.
    assert after["frames_skipped"] > 0, after
    shown_while_stalled = [
        n for n in after["frames"]["img"] if max(stalled[slow.session_id]["frames"]["img"]) < n
    ]
    published_while_stalled = [
        n for n in replica.fetched()["img"] if max(stalled[slow.session_id]["frames"]["img"]) < n
    ]
    assert len(shown_while_stalled) < len(published_while_stalled), (
        shown_while_stalled,
        published_while_stalled,
    )
    assert replica.metric("livegrid_replica_presents_deferred_total") >= 5
    assert replica.metric("livegrid_replica_frames_skipped_total") >= after["frames_skipped"]
