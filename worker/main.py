"""Composition root of a worker process: ``livegrid worker``."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from types import FrameType

import redis
import structlog

from livegrid.keyspace import Keyspace
from livegrid.log import configure_logging
from livegrid.redis_client import connect, describe_connection_error
from livegrid.settings import Settings
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore
from livegrid.stores.leases import Leases
from livegrid.stores.notifications import NotificationLog
from livegrid.stores.registry import Registry
from livegrid.stores.viewers import Viewers
from worker.compute import ComputeLoop
from worker.control import ControlLoop
from worker.http import serve_health_and_metrics
from worker.metrics import WorkerMetrics
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
    jobs = JobStore(client, keys)
    compute = ComputeLoop(
        worker_id=worker_id,
        layers=LayerStore(client, keys, frames_maxlen=settings.frames_maxlen),
        jobs=jobs,
        notifications=NotificationLog(client, keys, maxlen=settings.notifications_maxlen),
        make_source=instrument.source,
        metrics=metrics,
        display_max=settings.display_max,
        max_array_bytes=settings.max_array_bytes,
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
    )

    def health() -> str | None:
        now = time.monotonic()
        if not (compute.alive and control.alive):
            return "a worker thread died"
        if now - control.last_beat > STALL_S or now - compute.last_beat > STALL_S:
            return "a worker loop is stalled"
        return None

    port = metrics_port if metrics_port is not None else settings.metrics_port
    server = serve_health_and_metrics(port, metrics.registry, health) if port else None
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("worker starting", worker=worker_id, redis=settings.redis_url, ns=settings.namespace)
    try:
        control.start()
    except redis.ConnectionError as exc:
        log.error("cannot start", error=describe_connection_error(settings.redis_url, exc))
        return 1
    compute.start()
    while not stop.wait(1.0):
        if not (compute.alive and control.alive):
            log.error("a worker thread died; exiting so the pool takes the jobs over")
            return 1
    control.stop()
    compute.stop()
    if server is not None:
        server.shutdown()
    log.info("worker stopped", worker=worker_id)
    return 0
