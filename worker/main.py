"""Composition root of a worker process: ``livegrid worker``."""

from __future__ import annotations

import os
import signal
import socket
import time
from types import FrameType

import redis
import structlog

from livegrid.keyspace import Keyspace
from livegrid.log import configure_logging
from livegrid.redis_client import connect, describe_connection_error, redact
from livegrid.settings import Settings
from livegrid.stores.checkpoints import CheckpointStore
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore
from livegrid.stores.leases import Leases
from livegrid.stores.notifications import NotificationLog
from livegrid.stores.registry import Registry
from livegrid.stores.viewers import Viewers
from worker.catalogue import build_catalogue
from worker.checkpoint_writer import CheckpointWriter
from worker.compute import ComputeLoop
from worker.control import ControlLoop
from worker.http import serve_health_and_metrics
from worker.metrics import WorkerMetrics
from worker.sources.catalog import SourceCatalog
from worker.sources.kafka import KafkaSources
from worker.sources.kafka_mapping import load_mapping, synthetic_mapping
from worker.sources.kafka_status import StatusConsumer
from worker.sources.synthetic import SyntheticInstrument

log = structlog.get_logger(__name__)

#: A loop silent this long makes /healthz fail.
STALL_S = 30.0


def run_worker(settings: Settings, *, worker_id: str | None, metrics_port: int | None) -> int:
    """Run one worker until SIGTERM/SIGINT; then hand its jobs over and exit 0."""
    configure_logging(settings, process="worker")
    worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
    keys = Keyspace(settings.namespace)
    client = connect(settings.redis_url, name=f"livegrid-worker-{worker_id}")
    blocking = connect(settings.redis_url, blocking=True, name=f"livegrid-worker-{worker_id}-tail")
    metrics = WorkerMetrics()
    try:
        instrument = SyntheticInstrument(settings.synthetic_rates, settings.synthetic_seed)
    except ValueError as exc:
        log.error("invalid LIVEGRID_SYNTHETIC_RATES", error=str(exc))
        return 2
    try:
        kafka = _kafka_sources(settings, metrics)
    except ValueError as exc:
        log.error("invalid Kafka settings", error=str(exc))
        return 2
    sources = SourceCatalog(instrument, kafka)
    jobs = JobStore(client, keys)
    checkpoints = CheckpointStore(client, keys)
    # Encodes and writes checkpoints off the compute thread; stopped after it (hand-overs wait).
    writer = CheckpointWriter(checkpoints, metrics)
    compute = ComputeLoop(
        worker_id=worker_id,
        layers=LayerStore(client, keys, frames_maxlen=settings.frames_maxlen),
        jobs=jobs,
        notifications=NotificationLog(client, keys, maxlen=settings.notifications_maxlen),
        make_source=sources.open,
        metrics=metrics,
        display_max=settings.display_max,
        max_array_bytes=settings.max_array_bytes,
        checkpoints=checkpoints,
        checkpoint_writer=writer,
        checkpoint_interval_s=settings.checkpoint_interval_s,
    )
    control = ControlLoop(
        worker_id=worker_id,
        client=client,
        blocking_client=blocking,
        keyspace=keys,
        leases=Leases(client, keys, ttl_ms=settings.lease_ttl_ms),
        jobs=jobs,
        config=ConfigStore(client, keys),
        viewers=Viewers(client, keys, ttl_s=settings.viewer_ttl_s),
        workers=Registry(client, keys, "workers", stale_after_s=settings.stale_after_s),
        compute=compute,
        metrics=metrics,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        catalogue=build_catalogue(sources.entries()),
    )

    def health() -> str | None:
        now = time.monotonic()
        if not (compute.alive and control.alive and writer.alive):
            return "a worker thread died"
        if now - control.last_beat > STALL_S or now - compute.last_beat > STALL_S:
            return "a worker loop is stalled"
        return None

    port = metrics_port if metrics_port is not None else settings.metrics_port
    server = serve_health_and_metrics(port, metrics.registry, health) if port else None
    # The handler only records the signal: taking a lock (Event.set, logging) inside a
    # handler can deadlock against the main thread that holds the same lock.
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "worker starting", worker=worker_id, redis=redact(settings.redis_url), ns=settings.namespace
    )
    try:
        control.start()
    except redis.ConnectionError as exc:
        log.error("cannot start", error=describe_connection_error(settings.redis_url, exc))
        return 1
    writer.start()
    compute.start()
    status = _status_consumer(kafka, client, keys, metrics, worker_id)
    if status is not None:
        status.start()
    while not received:
        if not (compute.alive and control.alive and writer.alive):
            log.error("a worker thread died; exiting so the pool takes the jobs over")
            return 1
        time.sleep(0.2)
    log.info("stopping", signal=signal.Signals(received[0]).name)
    control.stop()
    compute.stop()
    writer.stop()
    if status is not None:
        status.stop()
    if server is not None:
        server.shutdown()
    log.info("worker stopped", worker=worker_id)
    return 0


def _kafka_sources(settings: Settings, metrics: WorkerMetrics) -> KafkaSources | None:
    """Kafka sources when LIVEGRID_KAFKA_BOOTSTRAP is set; ``ValueError`` for bad settings."""
    if not settings.kafka_bootstrap:
        return None
    mapping = (
        load_mapping(settings.kafka_mapping) if settings.kafka_mapping else synthetic_mapping()
    )
    kafka = KafkaSources(
        bootstrap=settings.kafka_bootstrap,
        mapping=mapping,
        config=settings.kafka_config,
        group_prefix=settings.kafka_group_prefix,
        namespace=settings.namespace,
        max_message_bytes=settings.max_array_bytes,
        metrics=metrics,
    )
    kafka.check_config()
    log.info("kafka sources", bootstrap=kafka.bootstrap, sources=sorted(mapping.sources))
    return kafka


def _status_consumer(
    kafka: KafkaSources | None,
    client: redis.Redis,
    keys: Keyspace,
    metrics: WorkerMetrics,
    worker_id: str,
) -> StatusConsumer | None:
    """The x5f2 status consumer, when the mapping names status topics."""
    if kafka is None or not kafka.mapping.status_topics:
        return None
    return StatusConsumer(
        client=client,
        keyspace=keys,
        topics=list(kafka.mapping.status_topics),
        config=kafka.config(
            group_id=kafka.group_id("status"), client_id=f"livegrid-status-{worker_id}"
        ),
        metrics=metrics,
    )
