"""Replicas with real sessions: a real worker, two ``livegrid app`` processes, probe sessions.

Probe sessions (``harness.probe``) speak the Bokeh websocket protocol like a
browser, including ``document_ready``; each replica's ``/debug/sessions`` says
which frames and notifications each of its sessions showed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from integration_workspaces import one_row

from livegrid.keyspace import Keyspace
from livegrid.models import JobSpec, Layer, Level, Workspace
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore
from livegrid.stores.registry import Registry
from livegrid.stores.viewers import Viewers
from livegrid.workspace_cli import load_workspace

# Slow enough that no session may skip a frame on a loaded CI machine.
RATES = '{"detector_panel_0": 2, "monitor_1": 2, "monitor_2": 2}'
LAYERS = ("img", "m1", "m2")


def _workspace() -> Workspace:
    return one_row(
        [Layer(id="img", job="det", output="latest", plotter="image")],
        [
            Layer(id="m1", job="mon1", output="latest", plotter="lines"),
            Layer(id="m2", job="mon2", output="latest", plotter="lines"),
        ],
        jobs=[
            JobSpec(id="det", workflow="latest", source="detector_panel_0"),
            JobSpec(id="mon1", workflow="latest", source="monitor_1"),
            JobSpec(id="mon2", workflow="latest", source="monitor_2"),
        ],
    )


def _start(r: redis.Redis, keyspace: Keyspace, spawn_worker: Callable[..., Any]) -> Any:
    load_workspace(r, keyspace, _workspace(), user="test", start_jobs=True)
    return spawn_worker("w1", LIVEGRID_SYNTHETIC_RATES=RATES)


def _frames(replicas: list[Any]) -> dict[str, dict[str, list[int]]]:
    """Every session's delivered frame_seqs per layer, by session id."""
    return {s["id"]: s["frames"] for replica in replicas for s in replica.sessions()}


def test_sessions_on_two_replicas_show_the_same_frames_without_skipping(
    *, r, keyspace, spawn_worker, spawn_replica, probes, wait_for
):
    _start(r, keyspace, spawn_worker)
    a, b = spawn_replica("a"), spawn_replica("b")
    clients = probes.open(a.url, 3) + probes.open(b.url, 2)

    def enough() -> bool:
        frames = _frames([a, b])
        return len(frames) == 5 and all(
            len(f.get(layer, [])) >= 6 for f in frames.values() for layer in LAYERS
        )

    wait_for(enough, 60, "five sessions each showing 6 frames of every layer")
    for replica in (a, b):
        fetched = replica.fetched()
        for session in replica.sessions():
            for layer in LAYERS:
                # After the first two (sessions are built while others start), every
                # frame the replica fetched, in order: a visible session skips none.
                seqs = session["frames"][layer][2:]
                feed = [n for n in fetched[layer] if seqs[0] <= n <= seqs[-1]]
                assert seqs == feed, f"{layer}: session showed {seqs}, replica fetched {feed}"
    frames = _frames([a, b])
    for layer in LAYERS:
        common = set.intersection(*(set(f[layer]) for f in frames.values()))
        assert len(common) >= 2, f"{layer}: sessions saw disjoint frames"
    assert all(client.patches for client in clients), "a session received no PATCH-DOC"


def test_each_frame_is_fetched_once_per_replica_whatever_the_sessions(
    *, r, keyspace, spawn_worker, spawn_replica, probes, wait_for
):
    worker = _start(r, keyspace, spawn_worker)
    a, b = spawn_replica("a"), spawn_replica("b")
    probes.open(a.url, 4)
    probes.open(b.url, 1)
    wait_for(
        lambda: all(len(f.get("img", [])) >= 5 for f in _frames([a, b]).values()),
        60,
        "five frames of the image in every session",
    )
    worker.close()  # no new frames from here on: the counts settle
    layers = LayerStore(r, keyspace, frames_maxlen=100)
    final = {lid: snap.frame_seq for lid, snap in layers.snapshots(list(LAYERS)).items()}
    for replica in (a, b):
        fetched = replica.metric("livegrid_replica_frames_fetched_total")
        # At most every frame each layer ever had, once: never once per session.
        assert 0 < fetched <= sum(final.values()), (fetched, final)
    assert a.metric("livegrid_replica_frames_fetched_total") <= sum(final.values())


def test_a_started_notification_reaches_every_session_once_and_not_later_ones(
    *, r, keyspace, spawn_worker, spawn_replica, probes, wait_for
):
    _start(r, keyspace, spawn_worker)
    a, b = spawn_replica("a"), spawn_replica("b")
    probes.open(a.url, 3)
    probes.open(b.url, 2)
    wait_for(lambda: len(_frames([a, b])) == 5, 30, "five sessions")
    JobStore(r, keyspace).start(
        JobSpec(id="temp", workflow="history", source="temperature"), user="alice"
    )

    def started_seq() -> int | None:
        entries: Any = r.xrange(keyspace.notifications)
        for _, fields in entries:
            if fields[b"job"] == b"temp" and b"started" in fields[b"message"]:
                return int(fields[b"seq"])
        return None

    seq = wait_for(started_seq, 30, "the started notification of job temp")
    wait_for(
        lambda: all(seq in s["notifications_shown"] for x in (a, b) for s in x.sessions()),
        30,
        "the notification in all five sessions",
    )
    for replica in (a, b):
        for session in replica.sessions():
            assert session["notifications_shown"].count(seq) == 1
    late = probes.open(b.url, 1)[0]
    wait_for(lambda: any(s["id"] == late.session_id for s in b.sessions()), 30, "late session")
    mine = next(s for s in b.sessions() if s["id"] == late.session_id)
    assert seq not in mine["notifications_shown"]


def test_a_late_session_shows_existing_plots_without_new_data(
    *, r, keyspace, spawn_worker, spawn_replica, probes, wait_for
):
    worker = _start(r, keyspace, spawn_worker)
    a = spawn_replica("a")
    probes.open(a.url, 1)
    wait_for(lambda: all(_frames([a]).values()), 60, "a first session with frames")
    worker.close()
    layers = LayerStore(r, keyspace, frames_maxlen=100)
    final = {lid: snap.frame_seq for lid, snap in layers.snapshots(list(LAYERS)).items()}
    late = probes.open(a.url, 1)[0]

    def late_frames() -> dict[str, list[int]]:
        return next((s["frames"] for s in a.sessions() if s["id"] == late.session_id), {})

    wait_for(lambda: set(late_frames()) == set(LAYERS), 30, "the late session's plots")
    assert {lid: seqs[-1] for lid, seqs in late_frames().items()} == final
    assert late.doc_bytes > 0


def test_concurrent_edits_one_wins_and_the_other_session_is_told(
    *, r, keyspace, spawn_worker, spawn_replica, probes, wait_for
):
    from app.actions import Actions

    _start(r, keyspace, spawn_worker)
    a, b = spawn_replica("a"), spawn_replica("b")
    probes.open(a.url, 1)
    probes.open(b.url, 1)
    store = ConfigStore(r, keyspace)
    seen = store.read()
    toasts: dict[str, list[tuple[Level, str]]] = {"alice": [], "bob": []}
    results = {}
    for user in ("alice", "bob"):
        actions = Actions(
            store,
            JobStore(r, keyspace),
            user=user,
            toast=lambda level, text, user=user: toasts[user].append((level, text)),
        )
        results[user] = actions.add_grid(
            seen.workspace, seen.version, title=f"Grid of {user}", rows=1, cols=1
        )
    assert results == {"alice": True, "bob": False}
    assert toasts["bob"] and toasts["bob"][-1][0] is Level.WARNING
    assert "not applied" in toasts["bob"][-1][1]
    current = store.read()
    assert [g.title for g in current.workspace.grids] == ["Main", "Grid of alice"]
    wait_for(
        lambda: all(s["config_version"] == current.version for x in (a, b) for s in x.sessions()),
        10,
        "both sessions on the winner's workspace",
    )


def test_a_vanished_session_is_reaped_and_its_viewer_interest_ends(
    *, r, keyspace, spawn_worker, spawn_replica, probes, wait_for
):
    _start(r, keyspace, spawn_worker)
    env = {"LIVEGRID_STALE_AFTER_S": "3", "LIVEGRID_VIEWER_TTL_S": "2"}
    a = spawn_replica("a", **env)
    client = probes.open(a.url, 1)[0]
    sessions = Registry(r, keyspace, "sessions", stale_after_s=3)
    viewers = Viewers(r, keyspace, ttl_s=2)
    wait_for(lambda: [m.id for m in sessions.live()] == [client.session_id], 30, "registered")
    wait_for(lambda: viewers.counts(["img"])["img"] == 1, 30, "viewer interest in img")
    probes.abandon(client)
    wait_for(lambda: not sessions.live(), 30, "the vanished session to leave the registry")
    wait_for(lambda: viewers.counts(["img"])["img"] == 0, 30, "viewer interest to end")
    wait_for(lambda: not a.sessions(), 30, "the replica to tear the session down")


def test_closed_sessions_leave_nothing_registered_in_the_replica(
    *, r, keyspace, spawn_worker, spawn_replica, probes, wait_for
):
    _start(r, keyspace, spawn_worker)
    replica = spawn_replica("a")
    before = replica.process_info()["panel_views"]
    opened = probes.open(replica.url, 3)
    wait_for(
        lambda: (
            len(_frames([replica])) == 3 and all(f.get("img") for f in _frames([replica]).values())
        ),
        60,
        "three sessions showing the image",
    )
    assert replica.process_info()["panel_views"] > before
    probes.close_sessions(opened)
    wait_for(lambda: replica.process_info()["sessions"] == 0, 60, "the closed sessions to end")
    # Bokeh destroys a closed session's document after its unused-session lifetime; then
    # nothing may keep it: Panel's registry of views is back where it started.
    wait_for(
        lambda: replica.process_info()["panel_views"] == before,
        60,
        "Panel to release the views of the closed sessions",
    )
