"""The checkpoint writer thread on a real Redis: order, replacement, fencing, waits."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import redis

from livegrid.keyspace import Keyspace
from livegrid.models import JobSpec
from livegrid.stores.checkpoints import CheckpointStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore
from livegrid.stores.leases import Lease, LeaseLost, Leases
from worker.bindings import Binding
from worker.checkpoint_writer import CheckpointWriter, Outcome, Snapshot
from worker.metrics import WorkerMetrics
from worker.runner import JobRunner
from worker.sources.synthetic import SyntheticInstrument
from worker.state_codec import State, decode, encode
from worker.workflows import make_workflow

T0 = 1_800_000_000 * 10**9
PERIOD = 10**8
WAIT_S = 30


class Gate:
    """An encoder that records what it encodes and holds the writer until it is opened."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()
        self.order: list[object] = []
        self.blobs: list[bytes] = []

    def __call__(self, state: State) -> bytes:
        self.order.append(state.meta.get("n"))
        self.entered.set()
        assert self.opened.wait(WAIT_S), "the test never opened the gate"
        blob = encode(state)
        self.blobs.append(blob)
        return blob


@pytest.fixture
def lease(r: redis.Redis, keyspace: Keyspace) -> Lease:
    held = Leases(r, keyspace, ttl_ms=60_000).acquire("job", "w1")
    assert held is not None
    return held


@pytest.fixture
def start_writer(
    r: redis.Redis, keyspace: Keyspace
) -> Iterator[Callable[..., tuple[CheckpointWriter, CheckpointStore, WorkerMetrics]]]:
    started: list[CheckpointWriter] = []

    def start(
        encoder: Callable[[State], bytes] = encode,
    ) -> tuple[CheckpointWriter, CheckpointStore, WorkerMetrics]:
        store, metrics = CheckpointStore(r, keyspace), WorkerMetrics()
        writer = CheckpointWriter(store, metrics, encoder=encoder)
        writer.start()
        started.append(writer)
        return writer, store, metrics

    yield start
    for writer in started:
        writer.stop(WAIT_S)
        assert not writer.alive


def _snapshot(n: int, token: int) -> Snapshot:
    state = State(meta={"n": n}, arrays={"a": np.full(4, float(n))})
    return Snapshot("job", token, 0, "d", {"next": n}, state)


def _wait_for(check: Callable[[], object], what: str) -> None:
    pause = threading.Event()
    for _ in range(WAIT_S * 100):
        if check():
            return
        pause.wait(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _in_thread(action: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(action()))
    thread.start()
    return thread, result


def test_a_newer_periodic_snapshot_replaces_a_waiting_one_and_writes_commit_in_order(
    start_writer: Callable[..., tuple[CheckpointWriter, CheckpointStore, WorkerMetrics]],
    lease: Lease,
) -> None:
    gate = Gate()
    writer, store, _ = start_writer(gate)
    first = writer.submit(_snapshot(1, lease.token))
    assert gate.entered.wait(WAIT_S)  # 1 is in flight
    second = writer.submit(_snapshot(2, lease.token))
    third = writer.submit(_snapshot(3, lease.token))
    assert second.wait(WAIT_S) is Outcome.REPLACED  # never started
    gate.opened.set()
    assert first.wait(WAIT_S) is Outcome.WRITTEN
    assert third.wait(WAIT_S) is Outcome.WRITTEN
    assert gate.order == [1, 3]
    checkpoint = store.read("job")
    assert checkpoint is not None and checkpoint.position == {"next": 3}
    assert decode(checkpoint.state).arrays["a"].tolist() == [3.0] * 4


def test_a_hand_over_write_waits_for_the_write_in_flight_and_nothing_older_commits_after_it(
    start_writer: Callable[..., tuple[CheckpointWriter, CheckpointStore, WorkerMetrics]],
    lease: Lease,
) -> None:
    gate = Gate()
    writer, store, _ = start_writer(gate)
    in_flight = writer.submit(_snapshot(1, lease.token))
    assert gate.entered.wait(WAIT_S)
    waiting = writer.submit(_snapshot(2, lease.token))
    thread, result = _in_thread(lambda: writer.write_now(_snapshot(9, lease.token), WAIT_S))
    thread.join(0.3)
    assert thread.is_alive()  # cannot return while the older write is held
    assert waiting.wait(WAIT_S) is Outcome.REPLACED
    gate.opened.set()
    thread.join(WAIT_S)
    assert result == [Outcome.WRITTEN]
    assert in_flight.outcome is Outcome.WRITTEN
    assert gate.order == [1, 9]
    checkpoint = store.read("job")
    assert checkpoint is not None and checkpoint.position == {"next": 9}


def test_a_delete_is_not_overtaken_by_a_write_in_flight(
    start_writer: Callable[..., tuple[CheckpointWriter, CheckpointStore, WorkerMetrics]],
    lease: Lease,
) -> None:
    gate = Gate()
    writer, store, _ = start_writer(gate)
    writer.submit(_snapshot(1, lease.token))
    assert gate.entered.wait(WAIT_S)
    thread, result = _in_thread(lambda: writer.delete_now("job", lease.token, WAIT_S))
    gate.opened.set()
    thread.join(WAIT_S)
    assert result == [Outcome.DELETED]
    assert store.read("job") is None


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def _runner(
    r: redis.Redis,
    keys: Keyspace,
    lease: Lease,
    writer: CheckpointWriter,
    clock: Clock,
    *,
    interval_ns: int = 10**9,
) -> JobRunner:
    instrument = SyntheticInstrument({"detector_panel_0": 10.0}, seed=3, clock=clock)
    runner = JobRunner(
        lease=lease,
        spec=JobSpec(id="job", workflow="cumulative", source="detector_panel_0"),
        source=instrument.source("detector_panel_0"),
        workflow=make_workflow("cumulative"),
        layers=LayerStore(r, keys, frames_maxlen=1000),
        set_status=JobStore(r, keys).set_status,
        notify=lambda level, text: None,
        metrics=WorkerMetrics(),
        display_max=512,
        max_array_bytes=2**24,
        checkpoints=writer,
        checkpoint_interval_ns=interval_ns,
        clock=clock,
    )
    runner.start({"L": Binding("L", "cumulative", "image", "Image")})
    return runner


def test_the_snapshot_is_a_copy_taken_with_its_position_while_the_workflow_goes_on(
    r: redis.Redis,
    keyspace: Keyspace,
    start_writer: Callable[..., tuple[CheckpointWriter, CheckpointStore, WorkerMetrics]],
    lease: Lease,
) -> None:
    gate = Gate()
    writer, store, _ = start_writer(gate)
    clock = Clock()
    runner = _runner(r, keyspace, lease, writer, clock)
    clock.now += 11 * PERIOD  # 1.1 s: past the interval, so this step snapshots
    runner.step({"L"})
    assert gate.entered.wait(WAIT_S)
    for _ in range(4):  # more data is added in place while the writer holds the snapshot
        clock.now += 2 * PERIOD
        runner.step({"L"})
    first_k = T0 // PERIOD
    reference = make_workflow("cumulative")
    source = SyntheticInstrument({"detector_panel_0": 10.0}, seed=3).source("detector_panel_0")
    for k in range(first_k, first_k + 11):
        reference.push(source.message(k))
    gate.opened.set()
    _wait_for(lambda: store.read("job") is not None, "the periodic checkpoint")
    periodic = store.read("job")
    assert periodic is not None and periodic.position == {"first": first_k, "next": first_k + 11}
    early = make_workflow("cumulative")
    early.restore(decode(periodic.state))
    # The data added after the snapshot is not in it: the arrays were copied.
    assert np.array_equal(
        early.outputs()["cumulative"].values, reference.outputs()["cumulative"].values
    )

    runner.hand_over()  # the final checkpoint, committed before this returns
    assert len(gate.order) == 2
    final = store.read("job")
    assert final is not None and final.position == {"first": first_k, "next": first_k + 19}
    for k in range(first_k + 11, first_k + 19):
        reference.push(source.message(k))
    restored = make_workflow("cumulative")
    restored.restore(decode(final.state))
    assert np.array_equal(
        restored.outputs()["cumulative"].values, reference.outputs()["cumulative"].values
    )
    assert not np.array_equal(
        early.outputs()["cumulative"].values, restored.outputs()["cumulative"].values
    )


def _sum_of(first: int, count: int) -> np.ndarray:
    reference = make_workflow("cumulative")
    source = SyntheticInstrument({"detector_panel_0": 10.0}, seed=3).source("detector_panel_0")
    for k in range(first, first + count):
        reference.push(source.message(k))
    return reference.outputs()["cumulative"].values


def test_a_snapshot_taken_while_the_previous_is_written_does_not_reuse_its_buffers(
    r: redis.Redis,
    keyspace: Keyspace,
    start_writer: Callable[..., tuple[CheckpointWriter, CheckpointStore, WorkerMetrics]],
    lease: Lease,
) -> None:
    gate = Gate()
    writer, store, _ = start_writer(gate)
    clock = Clock()
    runner = _runner(r, keyspace, lease, writer, clock)
    clock.now += 11 * PERIOD
    runner.step({"L"})  # snapshot of 11 messages, held in the writer by the gate
    assert gate.entered.wait(WAIT_S)
    clock.now += 11 * PERIOD
    runner.step({"L"})  # the next interval: a snapshot of 22 messages waits behind it
    gate.opened.set()
    _wait_for(lambda: len(gate.blobs) == 2, "both periodic checkpoints")
    written = [make_workflow("cumulative") for _ in gate.blobs]
    for workflow, blob in zip(written, gate.blobs, strict=True):
        workflow.restore(decode(blob))
    first_k = T0 // PERIOD
    assert np.array_equal(written[0].outputs()["cumulative"].values, _sum_of(first_k, 11))
    assert np.array_equal(written[1].outputs()["cumulative"].values, _sum_of(first_k, 22))
    clock.now += 3 * PERIOD
    runner.step({"L"})
    runner.hand_over()  # the final checkpoint, committed when this returns
    final = store.read("job")
    assert final is not None and final.position == {"first": first_k, "next": first_k + 25}
    restored = make_workflow("cumulative")
    restored.restore(decode(final.state))
    assert np.array_equal(restored.outputs()["cumulative"].values, _sum_of(first_k, 25))


def test_a_periodic_write_with_a_stale_token_loses_the_job_at_its_next_step_and_is_counted(
    r: redis.Redis,
    keyspace: Keyspace,
    start_writer: Callable[..., tuple[CheckpointWriter, CheckpointStore, WorkerMetrics]],
    lease: Lease,
) -> None:
    writer, store, metrics = start_writer()
    clock = Clock()
    runner = _runner(r, keyspace, lease, writer, clock, interval_ns=5 * PERIOD)
    r.delete(keyspace.job_lease("job"))  # the lease expired: another worker takes over
    newer = Leases(r, keyspace, ttl_ms=60_000).acquire("job", "w2")
    assert newer is not None and newer.token > lease.token
    clock.now += 6 * PERIOD  # past the checkpoint interval, before the next status write
    runner.step(set())  # snapshots and hands over to the writer, which is fenced
    _wait_for(lambda: metrics.fenced_rejections._value.get() == 1, "the stale-token rejection")
    with pytest.raises(LeaseLost):
        runner.step(set())
    assert store.read("job") is None  # nothing of the stale holder was committed
    assert metrics.fenced_rejections._value.get() == 1


def test_a_failing_encode_costs_that_checkpoint_only_and_the_writer_goes_on(
    start_writer: Callable[..., tuple[CheckpointWriter, CheckpointStore, WorkerMetrics]],
    lease: Lease,
) -> None:
    calls: list[int] = []

    def flaky(state: State) -> bytes:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("codec bug")
        return encode(state)

    writer, store, metrics = start_writer(flaky)
    assert writer.submit(_snapshot(1, lease.token)).wait(WAIT_S) is Outcome.FAILED
    assert store.read("job") is None
    assert writer.write_now(_snapshot(2, lease.token), WAIT_S) is Outcome.WRITTEN
    checkpoint = store.read("job")
    assert checkpoint is not None and checkpoint.position == {"next": 2}
    assert metrics.fenced_rejections._value.get() == 0
