"""A checkpoint that cannot be restored errs its job's layers with an operator action;
``reset`` starts the job anew; the worker goes on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from livegrid.keyspace import Keyspace
from livegrid.lifecycle import LayerState
from livegrid.models import JobSpec, Layer, Notification
from livegrid.stores.checkpoints import CheckpointStore
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore
from livegrid.stores.viewers import Viewers
from tests.integration.integration_workspaces import one_row
from worker.runner import definition_of

ENV = {"LIVEGRID_CHECKPOINT_INTERVAL_S": "0.5", "LIVEGRID_SYNTHETIC_RATES": '{"monitor_1": 5}'}


def test_a_corrupt_checkpoint_errs_only_its_job_until_it_is_reset(
    r: redis.Redis, keyspace: Keyspace, spawn_worker: Callable[..., Any], wait_for: Any
) -> None:
    broken = JobSpec(id="broken", workflow="cumulative", source="monitor_1")
    fine = JobSpec(id="fine", workflow="cumulative", source="monitor_1")
    cells = [
        [Layer(id=f"L-{s.id}", job=s.id, output="cumulative", plotter="lines")]
        for s in (broken, fine)
    ]
    config = ConfigStore(r, keyspace)
    config.write(one_row(*cells, jobs=[]), expected_version=config.version())
    Viewers(r, keyspace, ttl_s=600).mark("replica", ["L-broken", "L-fine"])
    store = CheckpointStore(r, keyspace)
    assert store.write(
        "broken", token=0, epoch=0, definition=definition_of(broken),
        position={"first": 1, "next": 2}, state=b"\x78\x9c not really zlib",
    )  # fmt: skip
    jobs = JobStore(r, keyspace)
    jobs.start(broken, user="test")
    jobs.start(fine, user="test")
    worker = spawn_worker("w1", **ENV)
    layers = LayerStore(r, keyspace, frames_maxlen=1000)

    wait_for(lambda: layers.snapshot("L-broken").lifecycle.state is LayerState.ERROR, 30, "ERROR")
    error = layers.snapshot("L-broken").lifecycle.error or ""
    assert "checkpoint cannot be restored" in error and "reset the job" in error, error
    wait_for(lambda: layers.snapshot("L-fine").frame_seq >= 2, 20, "the other job's frames")
    notes = [Notification.from_fields(f) for _, f in r.xrange(keyspace.notifications)]
    assert [n.job for n in notes if n.level == "error"] == ["broken"]

    jobs.reset("broken", user="test")
    wait_for(lambda: layers.snapshot("L-broken").frame_seq >= 1, 20, "frames after the reset")
    assert layers.snapshot("L-broken").lifecycle.state is not LayerState.ERROR
    wait_for(
        lambda: (c := store.read("broken")) is not None and c.epoch == 1 and c.position["next"] > 2,
        20,
        "a checkpoint of the new epoch",
    )
    assert worker.process.poll() is None
