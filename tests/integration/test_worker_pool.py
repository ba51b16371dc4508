"""The worker pool with real worker processes on a real Redis."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import redis

from livegrid.keyspace import Keyspace
from livegrid.lifecycle import LayerState, Lifecycle
from livegrid.models import Grid, JobSpec, Layer, Notification, Workspace
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore, WriteStatus
from livegrid.stores.leases import Leases
from livegrid.stores.viewers import Viewers

FAST_TTL = {"LIVEGRID_LEASE_TTL_MS": "2000"}


def _workspace(layers: list[Layer]) -> Workspace:
    grid = Grid(id="g", title="G", rows=1, cols=max(1, len(layers)), cells=[])
    workspace = Workspace().with_grid(grid)
    for col, layer in enumerate(layers):
        workspace = workspace.with_layer("g", 0, col, layer)
    return workspace


def _setup(r: redis.Redis, keys: Keyspace, layers: list[Layer], jobs: list[JobSpec]) -> None:
    store = ConfigStore(r, keys)
    store.write(_workspace(layers), expected_version=store.version())
    job_store = JobStore(r, keys)
    for spec in jobs:
        job_store.start(spec, user="test")


def _notifications(r: redis.Redis, keys: Keyspace) -> list[Notification]:
    return [Notification.from_fields(f) for _, f in r.xrange(keys.notifications)]


def _holders(r: redis.Redis, keys: Keyspace, job_ids: list[str]) -> dict[str, str]:
    leases = Leases(r, keys, ttl_ms=1)
    out = {}
    for job_id in job_ids:
        holder = leases.holder(job_id)
        if holder is not None:
            out[job_id] = holder.worker_id
    return out


def test_each_data_update_is_computed_once_per_layer_whatever_the_viewers(
    r: redis.Redis, keyspace: Keyspace, spawn_worker: Callable[..., Any], wait_for: Any
) -> None:
    layers = [Layer(id=f"L{i}", job="mon", output="latest", plotter="lines") for i in range(3)]
    viewers = Viewers(r, keyspace, ttl_s=60)
    for replica in ("replica-a", "replica-b", "replica-c"):
        viewers.mark(replica, [layer.id for layer in layers])
    _setup(r, keyspace, layers, [JobSpec(id="mon", workflow="latest", source="monitor_1")])
    worker = spawn_worker("w1")
    store = LayerStore(r, keyspace, frames_maxlen=1000)

    wait_for(lambda: store.snapshot("L0").frame_seq >= 3, 20, "three frames of L0")
    JobStore(r, keyspace).stop("mon")
    wait_for(lambda: store.snapshot("L0").lifecycle.state is LayerState.STOPPED, 10, "stop")

    messages = worker.metric("livegrid_worker_messages_total", source="monitor_1")
    frames = worker.metric("livegrid_worker_frames_published_total")
    per_layer = [store.snapshot(layer.id).frame_seq for layer in layers]
    assert messages >= 3
    assert per_layer == [messages] * 3
    assert frames == 3 * messages


def test_jobs_split_between_two_workers_and_move_after_kill_9(
    r: redis.Redis, keyspace: Keyspace, spawn_worker: Callable[..., Any], wait_for: Any
) -> None:
    job_ids = [f"job{i}" for i in range(6)]
    layers = [
        Layer(id=f"L{i}", job=j, output="latest", plotter="lines") for i, j in enumerate(job_ids)
    ]
    Viewers(r, keyspace, ttl_s=60).mark("replica", [layer.id for layer in layers])
    first = spawn_worker("w1", **FAST_TTL)
    second = spawn_worker("w2", **FAST_TTL)
    wait_for(lambda: r.zcard(keyspace.workers) == 2, 20, "both workers registered")
    _setup(
        r, keyspace, layers, [JobSpec(id=j, workflow="latest", source="monitor_1") for j in job_ids]
    )

    def balanced() -> dict[str, str] | None:
        # Rebalancing moves jobs until the counts differ by at most one (3 + 3); before
        # that a job may still move, and the kill would find it on the survivor.
        held = _holders(r, keyspace, job_ids)
        counts = Counter(held.values())
        if len(held) == 6 and len(counts) == 2 and max(counts.values()) == 3:
            return held
        return None

    holders = wait_for(balanced, 30, "all jobs held, three by each worker")
    per_worker = Counter(holders.values())  # type: ignore[union-attr]
    assert set(per_worker) == {"w1", "w2"}, per_worker

    victim = first if per_worker["w1"] >= per_worker["w2"] else second
    survivor_id = "w2" if victim is first else "w1"
    moved = [j for j, w in holders.items() if w == victim.worker_id]  # type: ignore[union-attr]
    old_token = Leases(r, keyspace, ttl_ms=1).holder(moved[0])
    assert old_token is not None
    killed_at = time.monotonic()
    victim.signal(signal.SIGKILL)
    victim.wait()

    ttl_plus_2_s = 2 + 2

    def survivor_runs_all() -> bool:
        statuses = JobStore(r, keyspace).statuses(job_ids)
        return all(s.state == "running" and s.worker == survivor_id for s in statuses.values())

    wait_for(survivor_runs_all, ttl_plus_2_s, "every job running on the survivor")
    assert time.monotonic() - killed_at < ttl_plus_2_s
    time.sleep(0.5)  # a duplicate notification would show up now
    takeovers = [n for n in _notifications(r, keyspace) if "taken over" in n.message]
    assert sorted(n.job for n in takeovers) == sorted(moved)
    stale = LayerStore(r, keyspace, frames_maxlen=1000).write(
        f"L{job_ids.index(moved[0])}", job=moved[0], token=old_token.token,
        expected_version=99, lifecycle=Lifecycle(LayerState.READY, 100),
    )  # fmt: skip
    assert stale.status is WriteStatus.FENCED


def test_sigterm_hands_jobs_over_well_before_the_ttl(
    r: redis.Redis, keyspace: Keyspace, spawn_worker: Callable[..., Any], wait_for: Any
) -> None:
    slow_ttl = {"LIVEGRID_LEASE_TTL_MS": "30000"}
    job_ids = ["a", "b"]
    _setup(
        r, keyspace, [], [JobSpec(id=j, workflow="latest", source="temperature") for j in job_ids]
    )
    leaving = spawn_worker("leaving", **slow_ttl)
    wait_for(lambda: len(_holders(r, keyspace, job_ids)) == 2, 20, "jobs held by the first worker")
    staying = spawn_worker("staying", **slow_ttl)
    wait_for(lambda: r.zcard(keyspace.workers) == 2, 20, "second worker registered")

    sent = time.monotonic()
    leaving.signal(signal.SIGTERM)
    assert leaving.wait() == 0
    wait_for(
        lambda: _holders(r, keyspace, job_ids) == {"a": "staying", "b": "staying"}, 10,
        "jobs on the staying worker",
    )  # fmt: skip
    assert time.monotonic() - sent < 30 / 3

    def moves() -> list[str]:
        notes = _notifications(r, keyspace)
        return sorted(n.job for n in notes if "moved from worker leaving" in n.message)

    wait_for(lambda: moves() == job_ids, 5, "one 'moved' notification per job")
    assert staying.process.poll() is None


def test_wrong_dimensionality_errs_one_layer_while_the_others_update(
    r: redis.Redis, keyspace: Keyspace, spawn_worker: Callable[..., Any], wait_for: Any
) -> None:
    good = Layer(id="good", job="mon", output="latest", plotter="lines")
    bad = Layer(id="bad", job="mon", output="latest", plotter="image")
    Viewers(r, keyspace, ttl_s=60).mark("replica", ["good", "bad", "fixed"])
    _setup(r, keyspace, [good, bad], [JobSpec(id="mon", workflow="latest", source="monitor_1")])
    spawn_worker("w1")
    store = LayerStore(r, keyspace, frames_maxlen=1000)

    wait_for(lambda: store.snapshot("bad").lifecycle.state is LayerState.ERROR, 20, "bad in ERROR")
    error = store.snapshot("bad").lifecycle.error
    assert error and "image" in error and "2" in error
    seq = store.snapshot("good").frame_seq
    wait_for(lambda: store.snapshot("good").frame_seq > seq + 1, 20, "good keeps updating")
    assert store.snapshot("good").lifecycle.state is LayerState.READY

    config = ConfigStore(r, keyspace)
    current = config.read()
    fixed = Layer(id="fixed", job="mon", output="latest", plotter="lines")
    config.write(current.workspace.replace_layer("bad", fixed), expected_version=current.version)
    wait_for(lambda: store.snapshot("fixed").lifecycle.state is LayerState.READY, 20, "fixed ready")
    wait_for(lambda: not r.exists(keyspace.layer("bad")), 10, "removed layer cleaned up")


def test_start_stop_and_reset_each_notify_exactly_once(
    r: redis.Redis, keyspace: Keyspace, spawn_worker: Callable[..., Any], wait_for: Any
) -> None:
    spawn_worker("w1")
    spawn_worker("w2")
    jobs = JobStore(r, keyspace)
    jobs.start(JobSpec(id="t", workflow="history", source="temperature"), user="ada")
    wait_for(lambda: any("started" in n.message for n in _notifications(r, keyspace)), 20, "start")
    jobs.reset("t", user="ada")
    wait_for(lambda: any("reset" in n.message for n in _notifications(r, keyspace)), 20, "reset")
    jobs.stop("t", user="ada")
    wait_for(lambda: any("stopped" in n.message for n in _notifications(r, keyspace)), 20, "stop")
    time.sleep(1.5)  # give a duplicate the chance to appear
    messages = [n.message for n in _notifications(r, keyspace)]
    assert sum("started on worker" in m for m in messages) == 1, messages
    assert sum("was reset" in m for m in messages) == 1, messages
    assert sum("stopped" in m for m in messages) == 1, messages
