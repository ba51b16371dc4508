"""x5f2 service statuses from Kafka into Redis, for the dashboard's System tab.

Key written: ``ns:services:status`` through
:class:`livegrid.stores.services.ServiceStatuses` (its docstring lists the
fields); ``status_json`` is cut to at most 4000 characters.

Every worker with Kafka runs one :class:`StatusConsumer` on its own thread.
Like the job consumers it joins no consumer group (ADR 4): it assigns itself
every partition of the status topics from the latest offset, so statuses keep
arriving whichever workers live. Each worker writes the statuses it reads; the
write script keeps the newest by Kafka timestamp, so the copies agree and an
older status never overwrites a newer one.
"""

from __future__ import annotations

import threading
import time

import redis
import structlog
from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition
from confluent_kafka import Message as KafkaMessage

from livegrid.keyspace import Keyspace
from livegrid.stores.services import ServiceStatuses
from worker.metrics import WorkerMetrics
from worker.sources.ess_decode import DecodeError, ServiceStatus, decode_x5f2, schema_of
from worker.sources.throttle import LogThrottle

log = structlog.get_logger(__name__)

POLL_S = 0.5
MAX_STATUS_JSON = 4000
#: Pause between two lookups of status topics that do not exist yet.
RETRY_S = 2.0


class StatusConsumer:
    """Consumes the mapping's status topics on its own thread and writes each status."""

    def __init__(
        self,
        *,
        client: redis.Redis,
        keyspace: Keyspace,
        topics: list[str],
        config: dict[str, object],
        metrics: WorkerMetrics,
    ) -> None:
        self._statuses = ServiceStatuses(client, keyspace)
        self._topics = topics
        self._config = config
        self._metrics = metrics
        self._throttle = LogThrottle()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-kafka-status", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        consumer = Consumer(self._config)
        missing, next_lookup = list(self._topics), 0.0
        try:
            while not self._stop.is_set():
                if missing and time.monotonic() >= next_lookup:
                    missing = self._assign_existing(consumer, missing)
                    next_lookup = time.monotonic() + RETRY_S
                for message in consumer.consume(100, POLL_S):
                    self._handle(message)
        except Exception:  # the status display must never take the worker down
            log.exception("kafka status consumer stopped")
        finally:
            consumer.close()

    def _assign_existing(self, consumer: Consumer, topics: list[str]) -> list[str]:
        """Add every partition of those ``topics`` that exist, at their end; the missing ones."""
        missing: list[str] = []
        for i, topic in enumerate(topics):
            try:
                found = consumer.list_topics(topic, timeout=POLL_S).topics.get(topic)
            except KafkaException as exc:
                self._log_once("kafka status topics unavailable", error=str(exc.args[0]))
                return missing + topics[i:]
            if found is None or found.error is not None or not found.partitions:
                missing.append(topic)
            else:
                consumer.incremental_assign(
                    [TopicPartition(topic, p, OFFSET_END) for p in found.partitions]
                )
        if missing:
            self._log_once("kafka status topics missing", topics=missing)
        return missing

    def _handle(self, message: KafkaMessage) -> None:
        error = message.error()
        if error is not None:
            self._log_once("kafka status consumer error", error=error.str())
            return
        payload = message.value() or b""
        try:
            if schema_of(payload) != "x5f2":
                return  # status topics may carry other messages
            status = decode_x5f2(payload)
        except DecodeError as exc:
            self._metrics.kafka_decode_errors.labels(source="status", reason=exc.reason).inc()
            self._log_once("bad kafka status message", topic=message.topic(), error=exc.detail)
            return
        try:
            self.write(status, topic=message.topic() or "", kafka_ts_ms=message.timestamp()[1])
        except redis.RedisError as exc:
            self._log_once("cannot store a service status", error=str(exc))

    def write(self, status: ServiceStatus, *, topic: str, kafka_ts_ms: int) -> bool:
        """Store ``status`` unless a newer one of the same service is stored; True if stored."""
        service = status.service_id or f"{status.software}@{status.host}"
        entry = {
            "service_id": service,
            "software": status.software,
            "version": status.version,
            "host": status.host,
            "pid": status.pid,
            "update_interval_ms": status.update_interval_ms,
            "state": status.state,
            "status_json": status.status_json[:MAX_STATUS_JSON],
            "topic": topic,
            "kafka_ts_ms": kafka_ts_ms,
        }
        return self._statuses.write(service, entry, kafka_ts_ms=kafka_ts_ms)

    def _log_once(self, event: str, **fields: object) -> None:
        skipped = self._throttle.due(event)
        if skipped is not None:
            log.warning(event, similar_skipped=skipped, **fields)
