"""Prometheus metrics of one replica process (its own registry, served at ``/metrics``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class ReplicaMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.sessions = Gauge("livegrid_replica_sessions", "Live sessions", registry=r)
        self.frames_fetched = Counter(
            "livegrid_replica_frames_fetched",
            "Frames read from Redis by the feed (once per frame, whatever the sessions)",
            registry=r,
        )
        self.frames_delivered = Counter(
            "livegrid_replica_frames_delivered",
            "Layer frames put on a session's Bokeh models",
            registry=r,
        )
        self.frames_skipped = Counter(
            "livegrid_replica_frames_skipped",
            "Layer frames a session never showed because a newer one came first",
            registry=r,
        )
        self.presents_deferred = Counter(
            "livegrid_replica_presents_deferred",
            "Session ticks that showed no frames because the websocket was backed up",
            registry=r,
        )
        self.flush_latency = Histogram(
            "livegrid_replica_flush_latency_seconds",
            "From a frame's computed_at to its update of a session's models",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=r,
        )
        self.tick_seconds = Histogram(
            "livegrid_replica_session_tick_seconds",
            "Event-loop time of one session tick",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.redis_errors = Counter(
            "livegrid_replica_redis_errors", "Redis commands of the replica that failed", registry=r
        )
        self.feed_lag = Gauge(
            "livegrid_replica_feed_lag_seconds",
            "Age of the newest frame event when the feed read it",
            registry=r,
        )
        self.feed_batches = Counter(
            "livegrid_replica_feed_batches", "Stream batches the feed applied", registry=r
        )
        self.resyncs = Counter(
            "livegrid_replica_feed_resyncs", "Resyncs after a gap in a stream", registry=r
        )
        self.notifications_shown = Counter(
            "livegrid_replica_notifications_shown", "Toasts shown, summed over sessions", registry=r
        )
        self.sessions_reaped = Counter(
            "livegrid_replica_sessions_reaped",
            "Stale sessions removed from the registry by this replica",
            registry=r,
        )
