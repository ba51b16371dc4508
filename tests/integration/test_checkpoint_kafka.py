"""Kafka offsets in checkpoints, on librdkafka's mock cluster: a job moved by kill -9
counts every produced message exactly once; a resumed source continues right after
its offset. (The mock cluster has no retention or DeleteRecords, so the count of
messages lost to retention is tested on :class:`OffsetTracker` in the unit tests.)"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from confluent_kafka import Producer
from streaming_data_types import serialise_da00
from streaming_data_types.dataarray_da00 import Variable

from livegrid.keyspace import Keyspace
from livegrid.models import JobSpec, Layer, Notification
from livegrid.stores.checkpoints import CheckpointStore
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.leases import Leases
from livegrid.stores.viewers import Viewers
from tests.integration.integration_workspaces import one_row
from worker.metrics import WorkerMetrics
from worker.sources.base import SourceError
from worker.sources.kafka import KafkaSources
from worker.sources.kafka_mapping import parse_mapping
from worker.state_codec import decode
from worker.workflows import make_workflow

TOPIC = "lg_ckpt"
MAPPING = f"""
sources:
  monitor: {{topic: {TOPIC}, schema: da00, source_name: mon}}
"""
T_BASE = 1_900_000_000 * 10**9
STEP_NS = 10**6
BASE = np.arange(1.0, 51.0)  # integers: float64 sums are exact in any order
TOF_EDGES = np.linspace(0.0, 71_000.0, 51)


def _values(i: int) -> np.ndarray:
    return BASE * (i % 7 + 1)


def _payload(i: int, name: str = "mon") -> bytes:
    return bytes(serialise_da00(name, T_BASE + i * STEP_NS, [
        Variable(name="signal", data=_values(i), axes=["tof"], shape=(50,), unit="counts"),
        Variable(name="tof", data=TOF_EDGES, axes=["tof"], shape=(51,), unit="us"),
    ]))  # fmt: skip


@pytest.fixture
def mock_kafka() -> Iterator[str]:
    owner = Producer({"test.mock.num.brokers": 1})
    brokers = owner.list_topics(timeout=10).brokers.values()
    bootstrap = ",".join(f"{b.host}:{b.port}" for b in brokers)
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(TOPIC, _payload(0, name="other"), partition=0)  # creates the topic
    producer.flush(10)
    yield bootstrap
    owner.flush(0)


class Publisher:
    """Produces message 1, 2, ... every 20 ms until stopped; remembers how many."""

    def __init__(self, bootstrap: str) -> None:
        self.count = 0
        self._bootstrap = bootstrap
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        producer = Producer({"bootstrap.servers": self._bootstrap, "linger.ms": 0})
        while not self._stop.wait(0.02):
            producer.produce(TOPIC, _payload(self.count + 1), partition=0)
            producer.flush(5)
            self.count += 1

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(10)
        return self.count


def _offset(store: CheckpointStore, job_id: str) -> int:
    checkpoint = store.read(job_id)
    if checkpoint is None:
        return -1
    return int(checkpoint.position.get("offsets", {}).get("0", -1))


def test_kill_9_mid_stream_counts_every_message_exactly_once(  # noqa: PLR0917 (fixtures)
    r: redis.Redis,
    keyspace: Keyspace,
    spawn_worker: Callable[..., Any],
    wait_for: Any,
    mock_kafka: str,
    tmp_path: Path,
) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    env = {
        "LIVEGRID_KAFKA_BOOTSTRAP": mock_kafka,
        "LIVEGRID_KAFKA_MAPPING": str(mapping),
        "LIVEGRID_LEASE_TTL_MS": "2000",
        "LIVEGRID_CHECKPOINT_INTERVAL_S": "0.5",
    }
    workers = {w: spawn_worker(w, **env) for w in ("w1", "w2")}
    wait_for(lambda: r.zcard(keyspace.workers) == 2, 30, "both workers registered")
    config = ConfigStore(r, keyspace)
    layer = Layer(id="L", job="sum", output="cumulative", plotter="lines")
    config.write(one_row([layer], jobs=[]), expected_version=config.version())
    Viewers(r, keyspace, ttl_s=600).mark("replica", ["L"])
    JobStore(r, keyspace).start(JobSpec(id="sum", workflow="cumulative", source="monitor"))
    wait_for(lambda: JobStore(r, keyspace).status("sum").state == "running", 30, "job running")
    publisher = Publisher(mock_kafka)
    store = CheckpointStore(r, keyspace)
    wait_for(lambda: _offset(store, "sum") >= 20, 30, "a checkpoint 20 messages in")

    holder = Leases(r, keyspace, ttl_ms=1).holder("sum")
    assert holder is not None
    survivor = ({"w1", "w2"} - {holder.worker_id}).pop()
    workers[holder.worker_id].signal(signal.SIGKILL)  # mid-stream, between two checkpoints
    workers[holder.worker_id].wait()
    wait_for(lambda: JobStore(r, keyspace).status("sum").worker == survivor, 20, "job moved")
    wait_for(lambda: publisher.count > _offset(store, "sum") + 50, 20, "more produced")
    produced = publisher.stop()
    # Offset 0 is the topic-creating message of another source; message i is at offset i.
    wait_for(lambda: _offset(store, "sum") == produced, 30, "every message consumed")

    checkpoint = store.read("sum")
    assert checkpoint is not None
    workflow = make_workflow("cumulative")
    workflow.restore(decode(checkpoint.state))
    time_range = workflow.time_range("cumulative")
    assert time_range is not None
    first, last = ((t - T_BASE) // STEP_NS for t in time_range)
    assert last == produced
    expected = sum((_values(i) for i in range(first, last + 1)), np.zeros(50))
    assert np.array_equal(workflow.outputs()["cumulative"].values, expected)

    notes = [Notification.from_fields(f) for _, f in r.xrange(keyspace.notifications)]
    takeover = [n.message for n in notes if "stopped responding" in n.message]
    assert len(takeover) == 1 and "resumed at partition 0 offset " in takeover[0], takeover


def test_a_resumed_kafka_source_continues_right_after_its_offset(mock_kafka: str) -> None:
    producer = Producer({"bootstrap.servers": mock_kafka})
    for i in range(1, 11):
        producer.produce(TOPIC, _payload(i), partition=0)
    producer.flush(10)
    sources = KafkaSources(
        bootstrap=mock_kafka,
        mapping=parse_mapping(MAPPING),
        config={},
        group_prefix="test",
        namespace="ns",
        max_message_bytes=2**20,
        metrics=WorkerMetrics(),
    )
    source = sources.open("monitor", "job")
    try:
        # The checkpoint had consumed up to offset 6 (message 6).
        assert source.resume({"offsets": {"0": 6}}) == "resumed at partition 0 offset 7"
        got: list[int] = []
        for _ in range(200):
            got += [(m.end_ns - T_BASE) // STEP_NS for m in source.read(0.05)]
            if len(got) >= 4:
                break
        assert got == [7, 8, 9, 10]
        assert source.take_skipped() == 0
        assert source.position() == {"offsets": {"0": 10}}
    finally:
        source.close()


SHARED = f"""
sources:
  monitor: {{topic: {TOPIC}, schema: da00, source_name: mon}}
  camera: {{topic: {TOPIC}, schema: da00, source_name: cam}}
"""


def test_on_a_shared_topic_a_bad_message_errs_only_the_source_it_names(mock_kafka: str) -> None:
    sources = KafkaSources(
        bootstrap=mock_kafka,
        mapping=parse_mapping(SHARED),
        config={},
        group_prefix="test",
        namespace="ns",
        max_message_bytes=1500,
        metrics=WorkerMetrics(),
    )
    camera, monitor = sources.open("camera", "jc"), sources.open("monitor", "jm")
    try:
        resume_at = {"offsets": {"0": 0}}  # right after the topic-creating message
        camera.resume(resume_at)
        monitor.resume(resume_at)
        big = np.arange(1.0, 501.0)
        oversized = bytes(serialise_da00("mon", T_BASE, [
            Variable(name="signal", data=big, axes=["tof"], shape=(500,), unit="counts"),
        ]))  # fmt: skip
        producer = Producer({"bootstrap.servers": mock_kafka})
        for payload in (b"\x00" * 40, oversized, _payload(1, name="cam"), _payload(2)):
            producer.produce(TOPIC, payload, partition=0)
        producer.flush(10)

        def drain(source: Any, want: int) -> tuple[list[int], list[str]]:
            got: list[int] = []
            errors: list[str] = []
            for _ in range(200):
                try:
                    got += [(m.end_ns - T_BASE) // STEP_NS for m in source.read(0.05)]
                except SourceError as exc:
                    errors.append(str(exc))
                if len(got) >= want:
                    break
            return got, errors

        assert drain(camera, 1) == ([1], [])  # garbage and monitor's oversized: not its own
        got, errors = drain(monitor, 1)
        assert got == [2]
        assert len(errors) == 1 and "limit (LIVEGRID_MAX_ARRAY_BYTES)" in errors[0], errors
    finally:
        camera.close()
        monitor.close()
