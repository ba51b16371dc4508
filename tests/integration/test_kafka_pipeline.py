"""Kafka to frames with real worker processes: ESS messages in, READY layers out.

Brokers: librdkafka's mock cluster, owned by this test process and reached by the
workers over loopback (always); and testcontainers' Kafka when a Docker daemon
answers. Messages are made with ``streaming_data_types``' own serialisers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
import scipp as sc
from confluent_kafka import Producer
from streaming_data_types import serialise_da00, serialise_f144
from streaming_data_types.dataarray_da00 import Variable

from harness.processes import LivegridProcess
from livegrid.codec import Frame, decode_frame
from livegrid.keyspace import Keyspace
from livegrid.lifecycle import LayerState
from livegrid.models import Grid, JobSpec, Layer, Workspace
from livegrid.redis_server import free_port
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore
from livegrid.stores.leases import Leases
from livegrid.stores.viewers import Viewers
from worker.sources.ess_decode import DecodeError, decode_da00
from worker.sources.synthetic import SyntheticInstrument

MAPPING = """
sources:
  camera: {topic: lg_da00, schema: da00, source_name: cam}
  monitor: {topic: lg_da00, schema: da00, source_name: mon}
  temperature: {topic: lg_logs, schema: f144, source_name: temp_pv, unit: K}
  broken: {topic: lg_broken, schema: da00, source_name: mon}
  garbage: {topic: lg_garbage, schema: da00}
"""
TOPICS = ("lg_da00", "lg_logs", "lg_broken", "lg_garbage")

# --- brokers -------------------------------------------------------------------------------


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_container() -> Iterator[str]:
    if not _docker_answers():
        pytest.skip("no Docker daemon answers (docker.from_env().ping() failed)")
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer() as container:
        yield container.get_bootstrap_server()


@pytest.fixture
def mock_kafka() -> Iterator[str]:
    """A mock cluster owned by this test; its bootstrap address works as long as it lives."""
    owner = Producer({"test.mock.num.brokers": 1})
    brokers = owner.list_topics(timeout=10).brokers.values()
    yield ",".join(f"{b.host}:{b.port}" for b in brokers)
    owner.flush(0)


@pytest.fixture(params=["mock", "testcontainers"])
def kafka(request: pytest.FixtureRequest) -> str:
    name = "mock_kafka" if request.param == "mock" else "kafka_container"
    return str(request.getfixturevalue(name))


# --- messages ------------------------------------------------------------------------------

IMAGE = np.arange(20, dtype=np.float64).reshape(4, 5) * 1.5
IMAGE_X = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])  # centres, mm
IMAGE_Y_EDGES = np.array([0.0, 10.0, 20.0, 30.0, 40.0])  # bin edges, mm
SPECTRUM = np.linspace(1.0, 50.0, 50)
TOF_EDGES = np.linspace(0.0, 71_000.0, 51)  # us


def _image(t: int) -> bytes:
    return bytes(serialise_da00("cam", t, [
        Variable(name="signal", data=IMAGE, axes=["y", "x"], shape=IMAGE.shape, unit="counts"),
        Variable(name="x", data=IMAGE_X, axes=["x"], shape=(5,), unit="mm"),
        Variable(name="y", data=IMAGE_Y_EDGES, axes=["y"], shape=(5,), unit="mm"),
    ]))  # fmt: skip


def _spectrum(t: int, scale: float = 1.0, name: str = "mon") -> bytes:
    return bytes(serialise_da00(name, t, [
        Variable(name="signal", data=SPECTRUM * scale, axes=["tof"], shape=(50,), unit="counts"),
        Variable(name="errors", data=np.sqrt(SPECTRUM), axes=["tof"], shape=(50,)),
        Variable(name="tof", data=TOF_EDGES, axes=["tof"], shape=(51,), unit="us"),
    ]))  # fmt: skip


def _temperature(t: int) -> bytes:
    return bytes(serialise_f144("temp_pv", 42.5, t))


def _rejected(t: int, rng: np.random.Generator) -> bytes:
    """A da00 message for source 'mon' that the worker must refuse: cut short, mis-shaped
    (a coordinate of the wrong length) or with random bytes inside."""
    kind = int(rng.integers(3))
    good = _spectrum(t)
    if kind == 0:
        return good[: int(rng.integers(16, len(good) - 64))]
    if kind == 1:
        return bytes(serialise_da00("mon", t, [
            Variable(name="signal", data=SPECTRUM, axes=["tof"], shape=(50,), unit="counts"),
            Variable(name="tof", data=TOF_EDGES[:20], axes=["tof"], shape=(20,), unit="us"),
        ]))  # fmt: skip
    while True:
        fuzzed = bytearray(good)
        for index in rng.integers(8, 200, size=12):
            fuzzed[index] = int(rng.integers(256))
        try:
            decode_da00(bytes(fuzzed))
        except DecodeError:
            return bytes(fuzzed)


Payload = Callable[[int], bytes]


class Publisher:
    """Publishes every ``payloads[topic]`` every 0.1 s on its own thread until closed."""

    def __init__(self, bootstrap: str, payloads: dict[str, Payload]) -> None:
        self.payloads = payloads
        self._bootstrap = bootstrap
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-publisher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        producer = Producer({"bootstrap.servers": self._bootstrap, "linger.ms": 0})
        while not self._stop.wait(0.1):
            for topic, payload in list(self.payloads.items()):
                producer.produce(topic, payload(time.time_ns()), partition=0)
            producer.flush(5)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


# --- the dashboard side --------------------------------------------------------------------


@dataclass
class Pipeline:
    """Redis, workers and publishers of one test, and what it reads back."""

    r: redis.Redis
    keys: Keyspace
    spawn_worker: Callable[..., Any]
    tmp_path: Path
    wait_for: Any
    publishers: list[Publisher] = field(default_factory=list)

    def publish(self, bootstrap: str, payloads: dict[str, Payload]) -> Publisher:
        """Publish ``payloads`` every 0.1 s until the test ends, after creating the topics."""
        producer = Producer({"bootstrap.servers": bootstrap})
        for topic in TOPICS:  # brokers create a topic on its first message
            producer.produce(topic, b"created", partition=0)
        producer.flush(10)
        self.publishers.append(Publisher(bootstrap, payloads))
        return self.publishers[-1]

    @property
    def store(self) -> LayerStore:
        return LayerStore(self.r, self.keys, frames_maxlen=1000)

    def jobs(self, jobs: dict[str, tuple[str, str, str]]) -> None:
        """One job per ``job_id: (source, workflow, plotter)``, each with one viewed layer
        ``L_<job_id>``."""
        layers = [
            Layer(id=f"L_{job}", job=job, output=workflow, plotter=plotter)
            for job, (_, workflow, plotter) in jobs.items()
        ]
        grid = Grid(id="g", title="G", rows=1, cols=len(layers), cells=[])
        workspace = Workspace().with_grid(grid)
        for col, layer in enumerate(layers):
            workspace = workspace.with_layer("g", 0, col, layer)
        config = ConfigStore(self.r, self.keys)
        config.write(workspace, expected_version=config.version())
        Viewers(self.r, self.keys, ttl_s=600).mark("replica", [layer.id for layer in layers])
        for job, (source, workflow, _) in jobs.items():
            spec = JobSpec(id=job, workflow=workflow, source=source)
            JobStore(self.r, self.keys).start(spec, user="test")

    def worker(self, worker_id: str, bootstrap: str, **env: str) -> Any:
        """A worker process reading the test mapping from ``bootstrap``."""
        mapping = self.tmp_path / "mapping.yaml"
        mapping.write_text(MAPPING)
        return self.spawn_worker(
            worker_id,
            LIVEGRID_KAFKA_BOOTSTRAP=bootstrap,
            LIVEGRID_KAFKA_MAPPING=str(mapping),
            **env,
        )

    def state(self, layer_id: str) -> LayerState | None:
        return self.store.snapshot(layer_id).lifecycle.state

    def error(self, layer_id: str) -> str:
        return self.store.snapshot(layer_id).lifecycle.error or ""

    def frame(self, layer_id: str) -> Frame:
        _, payload = self.store.fetch([layer_id])[layer_id]
        assert payload is not None
        return decode_frame(payload)

    def wait_until(self, layer_id: str, state: LayerState, timeout: float = 30) -> None:
        self.wait_for(lambda: self.state(layer_id) is state, timeout, f"{layer_id} {state}")


@pytest.fixture
def pipe(
    r: redis.Redis,
    keyspace: Keyspace,
    spawn_worker: Callable[..., Any],
    tmp_path: Path,
    wait_for: Any,
) -> Iterator[Pipeline]:
    pipeline = Pipeline(r, keyspace, spawn_worker, tmp_path, wait_for)
    yield pipeline
    for publisher in pipeline.publishers:
        publisher.close()


# --- tests ---------------------------------------------------------------------------------


def test_da00_images_and_spectra_and_f144_logs_reach_ready_layers_with_their_values(
    kafka: str, pipe: Pipeline
) -> None:
    pipe.jobs({
        "img": ("camera", "latest", "image"),
        "spec": ("monitor", "latest", "lines"),
        "temp": ("temperature", "history", "timeseries"),
    })  # fmt: skip
    pipe.publish(kafka, {"lg_da00": _image, "lg_logs": _temperature})
    pipe.publish(kafka, {"lg_da00": _spectrum})
    pipe.worker("w1", kafka)

    for layer in ("L_img", "L_spec", "L_temp"):
        pipe.wait_until(layer, LayerState.READY)

    image = pipe.frame("L_img")
    np.testing.assert_array_equal(image.arrays["values"], IMAGE.astype(np.float32))
    np.testing.assert_array_equal(image.arrays["x"], IMAGE_X)
    np.testing.assert_array_equal(image.arrays["y"], (IMAGE_Y_EDGES[1:] + IMAGE_Y_EDGES[:-1]) / 2)
    assert dict(image.units) == {"x": "mm", "y": "mm", "values": "counts"}
    spectrum = pipe.frame("L_spec")
    np.testing.assert_allclose(spectrum.arrays["values"], SPECTRUM)
    np.testing.assert_allclose(spectrum.arrays["x"], (TOF_EDGES[1:] + TOF_EDGES[:-1]) / 2)
    assert spectrum.units["x"] == str(sc.Unit("us"))
    assert spectrum.units["values"] == "counts"
    log = pipe.frame("L_temp")
    assert set(log.arrays["values"].tolist()) == {42.5}
    assert log.units["values"] == "K"
    assert log.arrays["time"].dtype == np.dtype("datetime64[ns]")


def test_bad_messages_err_only_their_source_which_recovers_on_good_data(
    mock_kafka: str, pipe: Pipeline
) -> None:
    pipe.jobs({
        "good": ("monitor", "latest", "lines"),
        "broken": ("broken", "latest", "lines"),
        "garbage": ("garbage", "latest", "lines"),
    })  # fmt: skip
    rng = np.random.default_rng(7)
    publisher = pipe.publish(mock_kafka, {
        "lg_da00": _spectrum,
        "lg_broken": lambda t: _rejected(t, rng),
        "lg_garbage": lambda t: rng.bytes(int(rng.integers(1, 3000))),
    })  # fmt: skip
    worker = pipe.worker("w1", mock_kafka)

    pipe.wait_until("L_good", LayerState.READY)
    pipe.wait_until("L_broken", LayerState.ERROR)
    pipe.wait_until("L_garbage", LayerState.ERROR)
    seq = pipe.store.snapshot("L_good").frame_seq
    pipe.wait_for(lambda: pipe.store.snapshot("L_good").frame_seq > seq + 2, 20, "good updates")
    assert pipe.error("L_broken").startswith(
        "Source 'broken' received a bad message on Kafka topic 'lg_broken'."
    )
    assert pipe.error("L_garbage").startswith("Source 'garbage' received a bad message")
    assert "no ESS streaming format" in pipe.error("L_garbage")
    assert worker.process.poll() is None
    assert worker.metric("livegrid_worker_kafka_decode_errors_total", source="broken") > 0
    assert worker.metric("livegrid_worker_kafka_decode_errors_total", source="garbage") > 0

    publisher.payloads["lg_broken"] = _spectrum
    publisher.payloads["lg_garbage"] = lambda t: _spectrum(t, name="garbage")
    pipe.wait_until("L_broken", LayerState.READY)
    pipe.wait_until("L_garbage", LayerState.READY)
    np.testing.assert_allclose(pipe.frame("L_broken").arrays["values"], SPECTRUM)


def test_a_job_moved_to_another_worker_resumes_consuming_there(
    mock_kafka: str, pipe: Pipeline
) -> None:
    workers = {w: pipe.worker(w, mock_kafka, LIVEGRID_LEASE_TTL_MS="2000") for w in ("w1", "w2")}
    pipe.wait_for(lambda: pipe.r.zcard(pipe.keys.workers) == 2, 20, "both workers registered")
    pipe.jobs({"spec": ("monitor", "latest", "lines")})
    pipe.publish(mock_kafka, {"lg_da00": lambda t: _spectrum(t, scale=t % 1000 + 1)})
    pipe.wait_until("L_spec", LayerState.READY)
    holder = Leases(pipe.r, pipe.keys, ttl_ms=1).holder("spec")
    assert holder is not None
    victim, survivor = holder.worker_id, ({"w1", "w2"} - {holder.worker_id}).pop()

    workers[victim].signal(signal.SIGKILL)
    workers[victim].wait()
    jobs = JobStore(pipe.r, pipe.keys)
    pipe.wait_for(lambda: jobs.status("spec").worker == survivor, 20, "job on the survivor")
    seq = pipe.store.snapshot("L_spec").frame_seq

    pipe.wait_for(lambda: pipe.store.snapshot("L_spec").frame_seq > seq + 2, 20, "new frames")
    assert pipe.state("L_spec") is LayerState.READY
    assert workers[survivor].metric("livegrid_worker_kafka_messages_total", topic="lg_da00") > 0


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target`` once started: a broker address that appears."""

    def __init__(self, port: int, target: str) -> None:
        host, _, target_port = target.rpartition(":")
        self._target = (host, int(target_port))
        self._server = socket.create_server(("127.0.0.1", port))
        self._stop = threading.Event()
        threading.Thread(target=self._accept, name="test-proxy", daemon=True).start()

    def _accept(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            upstream = socket.create_connection(self._target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            source.close()
            sink.close()

    def close(self) -> None:
        self._stop.set()
        self._server.close()


def test_an_unreachable_broker_shows_waiting_on_the_layers_until_it_answers(
    mock_kafka: str, pipe: Pipeline
) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens there yet
    pipe.jobs({"spec": ("monitor", "latest", "lines")})
    worker = pipe.worker("w1", bootstrap)

    pipe.wait_until("L_spec", LayerState.ERROR)
    assert pipe.error("L_spec").startswith(f"Waiting for Kafka at {bootstrap}: no broker answers.")
    jobs = JobStore(pipe.r, pipe.keys)
    assert jobs.status("spec").state == "running"

    proxy = TcpProxy(int(bootstrap.rpartition(":")[2]), mock_kafka)
    try:
        pipe.publish(mock_kafka, {"lg_da00": _spectrum})
        pipe.wait_until("L_spec", LayerState.READY)
    finally:
        proxy.close()
    assert jobs.status("spec").error == ""
    assert worker.process.poll() is None


def test_livegrid_produce_publishes_the_synthetic_instrument_and_its_x5f2_status(
    mock_kafka: str, pipe: Pipeline
) -> None:
    rates = {"monitor_1": 5.0, "temperature": 5.0}
    producer = LivegridProcess(
        ["produce", "--bootstrap", mock_kafka],
        {**os.environ, "LIVEGRID_SYNTHETIC_RATES": json.dumps(rates)},
        pipe.tmp_path / "produce.log",
    )
    try:
        pipe.jobs({
            "mon": ("monitor_1", "latest", "lines"),
            "temp": ("temperature", "history", "timeseries"),
        })  # fmt: skip
        pipe.spawn_worker("w1", LIVEGRID_KAFKA_BOOTSTRAP=mock_kafka)  # the built-in mapping
        pipe.wait_until("L_mon", LayerState.READY)
        pipe.wait_until("L_temp", LayerState.READY)
        monitor, temperature = pipe.frame("L_mon"), pipe.frame("L_temp")
        key = pipe.keys.services_status
        status = pipe.wait_for(lambda: pipe.r.hget(key, "livegrid-produce"), 30, "x5f2 status")
    finally:
        producer.close(15)
        exit_code = producer.wait()
    assert exit_code == 0, (pipe.tmp_path / "produce.log").read_text()[-3000:]

    instrument = SyntheticInstrument(rates)
    mon = instrument.source("monitor_1")
    assert monitor.data_end is not None
    expected = mon.message(monitor.data_end // mon.period_ns - 1).data
    np.testing.assert_array_equal(monitor.arrays["values"], expected.values)
    assert monitor.units["values"] == "counts"
    temp = instrument.source("temperature")
    for time_ns, value in zip(
        temperature.arrays["time"].astype(np.int64), temperature.arrays["values"], strict=True
    ):
        assert value == temp.message(int(time_ns) // temp.period_ns - 1).data.value
    assert temperature.units["values"] == "K"
    entry = json.loads(status)
    assert (entry["software"], entry["state"]) == ("livegrid", "producing")
    assert entry["host"] == socket.gethostname()
