"""Prometheus metrics of one worker process (its own registry, served by ``worker.http``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

log = structlog.get_logger(__name__)


@dataclass
class WorkerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.frames = Counter(
            "livegrid_worker_frames_published", "Frames published", ["plotter"], registry=r
        )
        self.compute_seconds = Histogram(
            "livegrid_worker_compute_seconds",
            "Compute time of one frame (plotter + encode)",
            ["plotter"],
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=r,
        )
        self.messages = Counter(
            "livegrid_worker_messages", "Source messages consumed", ["source"], registry=r
        )
        self.lease_acquisitions = Counter(
            "livegrid_worker_lease_acquisitions", "Job leases acquired", registry=r
        )
        self.lease_losses = Counter(
            "livegrid_worker_lease_losses", "Job leases lost (not released)", registry=r
        )
        self.fenced_rejections = Counter(
            "livegrid_worker_fenced_rejections", "Writes refused for a stale token", registry=r
        )
        self.redis_errors = Counter(
            "livegrid_worker_redis_errors", "Redis commands that failed", registry=r
        )
        self.jobs_held = Gauge("livegrid_worker_jobs", "Jobs held by this worker", registry=r)
        self.kafka_messages = Counter(
            "livegrid_worker_kafka_messages",
            "Kafka messages consumed (all on the topic, before filtering by source_name)",
            ["topic"],
            registry=r,
        )
        self.kafka_decode_errors = Counter(
            "livegrid_worker_kafka_decode_errors",
            "Kafka messages that could not be used (reason: schema, decode, shape, size)",
            ["source", "reason"],
            registry=r,
        )
        self.kafka_lag = Gauge(
            "livegrid_worker_kafka_consumer_lag",
            "Messages between a job's consumer and the end of its topic",
            ["job", "topic"],
            registry=r,
        )

    def redis_failed(self, exc: Exception, previous: str) -> str:
        """Count a failed Redis command; log it unless it repeats ``previous``; the new message."""
        self.redis_errors.inc()
        message = f"Redis unavailable: {exc}"
        if message != previous:
            log.warning("redis unavailable, retrying", error=str(exc))
        return message
