"""Nothing lost when the pool changes: three real worker processes move jobs by
rebalancing, SIGTERM hand-over and kill -9, and every job's final state equals a
one-pass reference over the same synthetic messages, bit for bit."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from typing import Any

import numpy as np
import redis

from livegrid.keyspace import Keyspace
from livegrid.models import JobSpec, Layer, Notification
from livegrid.stores.checkpoints import CheckpointStore
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.leases import Leases
from livegrid.stores.viewers import Viewers
from tests.integration.integration_workspaces import one_row
from worker.sources.synthetic import SyntheticInstrument
from worker.state_codec import decode
from worker.workflows import make_workflow

RATES = {"detector_panel_0": 4.0, "detector_panel_1": 4.0, "temperature": 4.0}
SEED = 11
ENV = {
    "LIVEGRID_LEASE_TTL_MS": "2000",
    "LIVEGRID_CHECKPOINT_INTERVAL_S": "1",
    "LIVEGRID_SYNTHETIC_RATES": json.dumps(RATES),
    "LIVEGRID_SYNTHETIC_SEED": str(SEED),
}
JOBS = [
    JobSpec(id="cum", workflow="cumulative", source="detector_panel_0"),
    JobSpec(id="win", workflow="window", source="detector_panel_1", params={"seconds": 3.0}),
    JobSpec(id="hist", workflow="history", source="temperature", params={"max_points": 50}),
]
OUTPUTS = {"cum": "cumulative", "win": "window", "hist": "history"}
JOB_IDS = [spec.id for spec in JOBS]


def _holders(r: redis.Redis, keys: Keyspace) -> dict[str, str]:
    leases = Leases(r, keys, ttl_ms=1)
    return {j: h.worker_id for j in JOB_IDS if (h := leases.holder(j)) is not None}


def _notes(r: redis.Redis, keys: Keyspace) -> list[Notification]:
    return [Notification.from_fields(f) for _, f in r.xrange(keys.notifications)]


def test_moves_by_rebalancing_sigterm_and_kill_9_lose_and_double_nothing(
    r: redis.Redis, keyspace: Keyspace, spawn_worker: Callable[..., Any], wait_for: Any
) -> None:
    layers = [
        [Layer(id=f"L-{spec.id}", job=spec.id, output=OUTPUTS[spec.id], plotter=plotter)]
        for spec, plotter in zip(JOBS, ("image", "image", "timeseries"), strict=True)
    ]
    config = ConfigStore(r, keyspace)
    config.write(one_row(*layers, jobs=[]), expected_version=config.version())
    Viewers(r, keyspace, ttl_s=600).mark("replica", [f"L-{j}" for j in JOB_IDS])
    for spec in JOBS:
        JobStore(r, keyspace).start(spec, user="test")
    store = CheckpointStore(r, keyspace)

    first = spawn_worker("w1", **ENV)
    wait_for(lambda: _holders(r, keyspace) == dict.fromkeys(JOB_IDS, "w1"), 30, "w1 holds all")
    wait_for(lambda: all(store.read(j) for j in JOB_IDS), 40, "a checkpoint of every job")

    # A worker started mid-run: rebalancing hands one job over to it.
    second = spawn_worker("w2", **ENV)
    wait_for(lambda: "w2" in _holders(r, keyspace).values(), 40, "a job rebalanced to w2")

    # SIGTERM: w1 hands its jobs over (final checkpoint, then release).
    third = spawn_worker("w3", **ENV)
    wait_for(lambda: r.zcard(keyspace.workers) == 3, 30, "three workers registered")
    first.signal(signal.SIGTERM)
    assert first.wait() == 0
    wait_for(
        lambda: len(h := _holders(r, keyspace)) == 3 and "w1" not in h.values(),
        40,
        "w1's jobs taken over",
    )

    # kill -9 the holder of the cumulative job: the survivor restores its last checkpoint.
    victim_id = _holders(r, keyspace)["cum"]
    victim, survivor, survivor_id = (
        (second, third, "w3") if victim_id == "w2" else (third, second, "w2")
    )
    victim.signal(signal.SIGKILL)
    victim.wait()
    wait_for(
        lambda: _holders(r, keyspace) == dict.fromkeys(JOB_IDS, survivor_id),
        40,
        "the survivor holds every job",
    )
    wait_for(
        lambda: any("stopped responding" in n.message for n in _notes(r, keyspace)),
        20,
        "a takeover notification",
    )
    started = {j: store.read(j) for j in JOB_IDS}
    wait_for(
        lambda: all(
            (c := store.read(j)) and c.written_at > started[j].written_at  # type: ignore[union-attr]
            for j in JOB_IDS
        ),
        40,
        "a checkpoint by the survivor",
    )
    survivor.signal(signal.SIGTERM)  # the last hand-over writes the final checkpoints
    assert survivor.wait() == 0

    source_of = {spec.id: spec for spec in JOBS}
    instrument = SyntheticInstrument(RATES, seed=SEED)
    for job_id in JOB_IDS:
        spec = source_of[job_id]
        checkpoint = store.read(job_id)
        assert checkpoint is not None
        first_k, next_k = checkpoint.position["first"], checkpoint.position["next"]
        assert next_k - first_k > 40, (job_id, checkpoint.position)
        reference = make_workflow(str(spec.workflow), spec.params)
        source = instrument.source(spec.source)
        for k in range(first_k, next_k):
            reference.push(source.message(k))
        moved = make_workflow(str(spec.workflow), spec.params)
        moved.restore(decode(checkpoint.state))
        output = OUTPUTS[job_id]
        expected, got = reference.outputs()[output], moved.outputs()[output]
        assert np.array_equal(got.values, expected.values), job_id
        if job_id == "hist":
            assert np.array_equal(got.coords["time"].values, expected.coords["time"].values)
        assert moved.time_range(output) == reference.time_range(output)

    notes = _notes(r, keyspace)
    moves = [n.message for n in notes if "moved from worker" in n.message]
    takeovers = [n.message for n in notes if "stopped responding" in n.message]
    assert moves and takeovers, [n.message for n in notes]
    assert all("; resumed at message " in m and m.endswith(", nothing lost.") for m in moves)
    assert all("; resumed at message " in m for m in takeovers), takeovers
    assert not [n for n in notes if n.level == "error"], [n.message for n in notes]
