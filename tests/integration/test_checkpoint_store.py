"""Checkpoint store and job runner restores on a real Redis."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import numpy as np
import pytest
import redis

from livegrid.keyspace import Keyspace
from livegrid.lifecycle import LayerState
from livegrid.models import JobSpec
from livegrid.stores.checkpoints import CheckpointStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore
from livegrid.stores.leases import Lease, LeaseLost, Leases
from worker.bindings import Binding
from worker.checkpoint_writer import CheckpointWriter
from worker.metrics import WorkerMetrics
from worker.runner import JobRunner, definition_of
from worker.sources.synthetic import SyntheticInstrument
from worker.state_codec import decode
from worker.workflows import make_workflow

T0 = 1_800_000_000 * 10**9
PERIOD = 10**8


def _write(store: CheckpointStore, token: int, state: bytes, epoch: int = 0) -> bool:
    return store.write(
        "job", token=token, epoch=epoch, definition="d", position={"next": token}, state=state
    )


def test_a_checkpoint_is_stored_in_chunks_and_read_back_whole(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    lease = Leases(r, keyspace, ttl_ms=10_000).acquire("job", "w")
    assert lease is not None
    store = CheckpointStore(r, keyspace, chunk_bytes=1000)
    state = os.urandom(4500)
    assert _write(store, lease.token, state)
    assert len(r.keys(keyspace.job_checkpoint_chunk_prefix("job") + "*")) == 5
    checkpoint = store.read("job")
    assert checkpoint is not None
    assert checkpoint.state == state
    assert checkpoint.position == {"next": lease.token}
    assert checkpoint.token == lease.token

    smaller = os.urandom(1500)
    assert _write(store, lease.token, smaller)
    # The previous generation's chunks are gone with the commit; the new ones do not expire.
    chunks = r.keys(keyspace.job_checkpoint_chunk_prefix("job") + "*")
    assert len(chunks) == 2
    assert all(r.pttl(key) == -1 for key in chunks)
    read = store.read("job")
    assert read is not None and read.state == smaller


def test_a_stale_token_cannot_overwrite_a_newer_checkpoint_and_is_counted(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    leases = Leases(r, keyspace, ttl_ms=10_000)
    old = leases.acquire("job", "w1")
    assert old is not None
    store = CheckpointStore(r, keyspace, chunk_bytes=100)
    assert _write(store, old.token, b"old state")
    r.delete(keyspace.job_lease("job"))  # the lease expired: another worker takes over
    new = leases.acquire("job", "w2")
    assert new is not None and new.token > old.token
    assert _write(store, new.token, b"new state")

    assert not _write(store, old.token, b"stale state" * 50)
    assert store.fenced_rejections == 1
    read = store.read("job")
    assert read is not None and read.state == b"new state"
    # The stale write's staged chunks were removed, only the committed one is left.
    assert len(r.keys(keyspace.job_checkpoint_chunk_prefix("job") + "*")) == 1
    assert not store.delete("job", token=old.token)
    assert store.fenced_rejections == 2
    assert store.delete("job", token=new.token)
    assert store.read("job") is None
    assert r.keys(keyspace.job_checkpoint_chunk_prefix("job") + "*") == []


_WRITERS: list[CheckpointWriter] = []


@pytest.fixture(autouse=True)
def _stop_writers() -> Iterator[None]:
    yield
    while _WRITERS:
        _WRITERS.pop().stop()
    assert not [t for t in threading.enumerate() if t.name == "worker-checkpoint-writer"]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def _runner(
    r: redis.Redis,
    keys: Keyspace,
    lease: Lease,
    clock: Clock,
    *,
    spec: JobSpec,
    notes: list[tuple[str, str]],
    metrics: WorkerMetrics | None = None,
) -> JobRunner:
    instrument = SyntheticInstrument({spec.source: 10.0}, seed=3, clock=clock)
    metrics = metrics or WorkerMetrics()
    writer = CheckpointWriter(CheckpointStore(r, keys), metrics)
    writer.start()
    _WRITERS.append(writer)
    return JobRunner(
        lease=lease,
        spec=spec,
        source=instrument.source(spec.source),
        workflow=make_workflow(str(spec.workflow), spec.params),
        layers=LayerStore(r, keys, frames_maxlen=1000),
        set_status=JobStore(r, keys).set_status,
        notify=lambda level, text: notes.append((level, text)),
        metrics=metrics,
        display_max=512,
        max_array_bytes=2**24,
        checkpoints=writer,
        checkpoint_interval_ns=10**9,
        clock=clock,
    )


BINDINGS = {"L": Binding("L", "cumulative", "image", "Image")}
SPEC = JobSpec(id="job", workflow="cumulative", source="detector_panel_0")


def test_a_handed_over_job_continues_bit_for_bit_and_a_stale_holder_is_fenced(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    leases = Leases(r, keyspace, ttl_ms=60_000)
    clock = Clock()
    notes: list[tuple[str, str]] = []
    lease = leases.acquire("job", "w1")
    assert lease is not None
    first = _runner(r, keyspace, lease, clock, spec=SPEC, notes=notes)
    first.start(BINDINGS)
    for _ in range(7):
        clock.now += 3 * PERIOD
        first.step({"L"})
    assert first.checkpoints_taken >= 1  # the 1 s cadence passed during 2.1 s of data
    first.hand_over()
    leases.release(lease)

    clock.now += 5 * PERIOD  # the move takes half a second; nothing is lost meanwhile
    second_lease = leases.acquire("job", "w2")
    assert second_lease is not None
    second = _runner(r, keyspace, second_lease, clock, spec=SPEC, notes=notes)
    checkpoint = CheckpointStore(r, keyspace).read("job")
    restored = second.restore(checkpoint)
    assert restored.phrase == "resumed at message 21, nothing lost"
    second.start(BINDINGS)
    second.step({"L"})
    second.hand_over()

    final = CheckpointStore(r, keyspace).read("job")
    assert final is not None
    assert final.position == {"first": T0 // PERIOD, "next": T0 // PERIOD + 26}
    reference = make_workflow("cumulative")
    source = SyntheticInstrument({"detector_panel_0": 10.0}, seed=3).source("detector_panel_0")
    for k in range(T0 // PERIOD, T0 // PERIOD + 26):
        reference.push(source.message(k))
    state = make_workflow("cumulative")
    state.restore(decode(final.state))
    assert np.array_equal(
        state.outputs()["cumulative"].values, reference.outputs()["cumulative"].values
    )

    # A runner still holding the first, long-superseded token cannot write over it.
    metrics = WorkerMetrics()
    stale = _runner(r, keyspace, lease, clock, spec=SPEC, notes=notes, metrics=metrics)
    stale.restore(checkpoint)
    with pytest.raises(LeaseLost):
        stale.reset()  # a reset checkpoints at once
    assert metrics.fenced_rejections._value.get() == 1
    after = CheckpointStore(r, keyspace).read("job")
    assert after is not None and after.state == final.state
    assert [level for level, _ in notes] == []


def test_reset_epoch_changed_spec_and_corrupt_checkpoints_are_not_restored(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    leases = Leases(r, keyspace, ttl_ms=60_000)
    clock = Clock()
    notes: list[tuple[str, str]] = []
    lease = leases.acquire("job", "w1")
    assert lease is not None
    store = CheckpointStore(r, keyspace)
    runner = _runner(r, keyspace, lease, clock, spec=SPEC, notes=notes)
    runner.start(BINDINGS)
    clock.now += 4 * PERIOD
    runner.step({"L"})
    runner.hand_over()
    checkpoint = store.read("job")
    assert checkpoint is not None and checkpoint.definition == definition_of(SPEC)

    reset = SPEC.model_copy(update={"reset_epoch": 1})
    fresh = _runner(r, keyspace, lease, clock, spec=reset, notes=notes)
    assert "was reset" in fresh.restore(checkpoint).phrase
    assert fresh.failure == ""

    changed = JobSpec(id="job", workflow="window", source="detector_panel_0", params={"seconds": 2})
    other = _runner(r, keyspace, lease, clock, spec=changed, notes=notes)
    restored = other.restore(checkpoint)
    assert "earlier definition" in restored.phrase and restored.level == "warning"

    corrupt = checkpoint.__class__(
        epoch=0, definition=definition_of(SPEC), position=checkpoint.position, state=b"garbage"
    )
    broken = _runner(r, keyspace, lease, clock, spec=SPEC, notes=notes)
    assert broken.restore(corrupt).phrase == ""
    assert "reset the job" in broken.failure
    broken.start(BINDINGS)
    layer = LayerStore(r, keyspace, frames_maxlen=1000).snapshot("L")
    assert layer.lifecycle.state is LayerState.ERROR
    assert "checkpoint cannot be restored" in (layer.lifecycle.error or "")
    assert broken.step({"L"}) == 0  # idles, the worker goes on
