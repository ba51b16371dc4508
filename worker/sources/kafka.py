"""A job's source on Kafka: one consumer per job, from the latest offset, decoded with ESS formats.

Each :class:`KafkaSource` owns one confluent-kafka consumer for its job and
assigns itself every partition of its topic at the end; it joins no consumer
group (ADR 4). The job's lease already makes it the only consumer of that job,
so any worker can run any job. A new job starts at the latest offset; a job that
moved resumes from its checkpoint (ADR 10): ``position`` is the offset of the
last consumed message per partition, and ``resume`` assigns each partition at
that offset + 1. When retention already dropped some of those messages, the
consumer starts at the earliest kept one (``auto.offset.reset=earliest``, which
only applies to such out-of-range offsets) and ``take_skipped`` reports how many
were lost. ``group.id`` is ``<prefix>.<namespace>.<job id>`` for identification
only; nothing is committed.

The partitions are looked up on a short-lived named thread, so the compute
thread never blocks on an unreachable broker. ``read`` (compute thread only)
serves librdkafka's callbacks, assigns once the partitions are known, and
turns the messages of its ``source_name`` into :class:`Message` values. A
message that cannot be used (unknown schema id, corrupt, mismatched shapes,
above the size limit) is counted, logged once per source and minute, and
raised as :class:`SourceError` in stream order: the messages before it are
returned first. On a topic several mapped sources share, only messages that name
this source (or cannot be attributed while the topic is this source's alone) err
its layers; the size limit applies after the source name is known. While Kafka
cannot be reached, ``read`` raises :class:`SourceUnavailable` ("Waiting for Kafka
at ...").
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

import structlog
from confluent_kafka import OFFSET_END, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka import Message as KafkaMessage

from worker.metrics import WorkerMetrics
from worker.sources.base import Message, SourceError, SourceUnavailable
from worker.sources.ess_decode import DecodeError, decode_da00, decode_f144, schema_of
from worker.sources.ess_decode import source_name_of as peek_source_name
from worker.sources.kafka_health import KafkaHealth
from worker.sources.kafka_mapping import KafkaEntry, KafkaMapping
from worker.sources.kafka_offsets import OffsetTracker
from worker.sources.throttle import LogThrottle, ThrottleFilter

log = structlog.get_logger(__name__)

#: Messages taken from the consumer per ``read``, so one busy job cannot starve the others.
MAX_BATCH = 64
#: Longest wait of one partition lookup, and the pause between two lookups.
METADATA_TIMEOUT_S = 1.0

#: librdkafka's own log lines, once per minute per kind (see ``ThrottleFilter``).
LIBRDKAFKA_LOG = logging.getLogger("librdkafka")
LIBRDKAFKA_LOG.addFilter(ThrottleFilter(LogThrottle()))

KafkaConfig = Mapping[str, str | int | float | bool]

#: Defaults a deployment may override through LIVEGRID_KAFKA_CONFIG.
CONSUMER_DEFAULTS: dict[str, str | int | float | bool] = {
    "statistics.interval.ms": 1000,  # lag and broker state for KafkaHealth
    "queued.max.messages.kbytes": 16384,  # prefetch per consumer; one consumer per job
    "reconnect.backoff.max.ms": 2000,
}


def consumer_config(
    bootstrap: str, user: KafkaConfig, *, group_id: str, client_id: str
) -> dict[str, object]:
    """librdkafka settings: defaults, then the deployment's (SASL/SSL...), then livegrid's own."""
    return {
        **CONSUMER_DEFAULTS,
        "client.id": client_id,
        **user,
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "enable.auto.commit": False,
        # Only used when a resumed offset is out of range (retention dropped it): start
        # at the earliest message kept; new jobs are assigned at OFFSET_END explicitly.
        "auto.offset.reset": "earliest",
        "logger": LIBRDKAFKA_LOG,
    }


class KafkaSource:
    """The stream of one mapped source for one job."""

    def __init__(
        self,
        name: str,
        entry: KafkaEntry,
        *,
        source_name: str,
        job_id: str,
        bootstrap: str,
        config: dict[str, object],
        max_message_bytes: int,
        metrics: WorkerMetrics,
        throttle: LogThrottle,
        shared_topic: bool = False,
    ) -> None:
        self._name = name
        #: Other mapped sources read the same topic: a message whose source cannot be
        #: told errs none of them; one that names a source errs that source only.
        self._shared_topic = shared_topic
        self._entry = entry
        self._source_name = source_name
        self._job_id = job_id
        self._bootstrap = bootstrap
        self._max_bytes = max_message_bytes
        self._metrics = metrics
        self._throttle = throttle
        self._health = KafkaHealth()
        self._consumer = Consumer(
            {**config, "error_cb": self._health.on_error, "stats_cb": self._on_stats}
        )
        self._raw: deque[KafkaMessage] = deque()
        self._deferred: SourceError | None = None
        self._assigned = False
        self._closed = False
        self._tracker = OffsetTracker()
        # Written by the lookup thread, read by the compute thread (single assignments).
        self._partitions: list[int] | None = None
        self._lookup_problem = ""
        self._stop = threading.Event()
        # Whoever comes last of close() and the end of the lookup closes the consumer, so
        # close() never waits for a lookup and the consumer is never closed under one.
        self._lock = threading.Lock()
        self._lookup_done = False
        self._lookup = threading.Thread(
            target=self._look_up_partitions, name=f"kafka-partitions-{job_id}", daemon=True
        )
        self._lookup.start()

    @property
    def name(self) -> str:
        return self._name

    # --- compute thread ---

    def read(self, max_wait_s: float) -> list[Message]:
        if self._closed:
            return []
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        if not self._assigned and self._partitions is not None:
            topic = self._entry.topic
            starts = {p: self._tracker.start_offset(p) for p in self._partitions}
            self._consumer.assign(
                [
                    TopicPartition(topic, p, OFFSET_END if start is None else start)
                    for p, start in starts.items()
                ]
            )
            self._assigned = True
            log.info("kafka consumer assigned", job=self._job_id, topic=topic)
        if not self._raw:
            batch = self._consumer.consume(MAX_BATCH, max_wait_s)
            if batch:
                self._metrics.kafka_messages.labels(topic=self._entry.topic).inc(len(batch))
                self._raw.extend(batch)
        out: list[Message] = []
        while self._raw:
            raw = self._raw.popleft()
            self._consumed(raw)
            try:
                message = self._message(raw)
            except DecodeError as exc:
                error = self._bad_input(raw, exc)
                if not out:
                    raise error from None
                self._deferred = error
                break
            if message is not None:
                out.append(message)
        if not out and (problem := self._problem()):
            raise SourceUnavailable(
                f"Waiting for Kafka at {self._bootstrap}: {problem}. The job keeps trying; "
                "check the broker and LIVEGRID_KAFKA_BOOTSTRAP."
            )
        return out

    def _consumed(self, raw: KafkaMessage) -> None:
        """Track the position; count messages retention dropped before a resumed offset."""
        if raw.error() is not None:
            return
        partition, offset = raw.partition(), raw.offset()
        if partition is None or offset is None or offset < 0:
            return
        self._tracker.consumed(partition, offset)

    def position(self) -> dict[str, Any]:
        """``{"offsets": {partition: offset of the last consumed message}}``.

        A partition that delivered nothing yet counts from the consumer's fetch
        position, so messages produced to it during a move are not skipped either."""
        offsets = dict(self._tracker.offsets)
        if self._assigned and self._partitions and not self._closed:
            missing = [p for p in self._partitions if p not in offsets]
            if missing:
                topic = self._entry.topic
                try:
                    fetched = self._consumer.position([TopicPartition(topic, p) for p in missing])
                except KafkaException:
                    fetched = []
                for part in fetched:
                    if part.offset >= 0:
                        offsets[part.partition] = part.offset - 1
        return {"offsets": {str(p): o for p, o in sorted(offsets.items())}}

    def resume(self, position: dict[str, Any]) -> str:
        """Assign each partition right after its checkpointed offset (call before ``read``)."""
        offsets = {int(p): int(o) for p, o in dict(position["offsets"]).items()}
        if self._assigned:
            raise ValueError("a Kafka source resumes before its first read only")
        self._tracker.resume(offsets)
        if not offsets:
            return "resumed at the latest offset"
        where = ", ".join(f"partition {p} offset {o + 1}" for p, o in sorted(offsets.items()))
        return f"resumed at {where}"

    def take_skipped(self) -> int:
        return self._tracker.take_skipped()

    def _message(self, raw: KafkaMessage) -> Message | None:
        """The message for this source, None for another source's or a broker notice."""
        error = raw.error()
        if error is not None:
            self._log_once("kafka consumer error", error=error.str(), code=error.code())
            return None
        self._health.on_message()
        payload = raw.value() or b""
        try:
            schema = schema_of(payload)
            if schema != self._entry.schema_id:
                return None  # another kind of message on a shared topic (e.g. x5f2 status)
            name = peek_source_name(payload, schema)
        except DecodeError as exc:
            if not self._shared_topic:
                raise
            # Whose it is cannot be told: on a shared topic it errs no source's layers.
            self._metrics.kafka_decode_errors.labels(source=self._name, reason=exc.reason).inc()
            self._log_once("unattributable kafka message", reason=exc.reason, error=exc.detail)
            return None
        if name != self._source_name:
            return None
        if len(payload) > self._max_bytes:
            raise DecodeError(
                "size",
                f"The message has {len(payload) / 2**20:.1f} MiB, more than the "
                f"{self._max_bytes / 2**20:.1f} MiB limit (LIVEGRID_MAX_ARRAY_BYTES).",
            )
        if schema == "da00":
            decoded = decode_da00(payload)
        else:
            decoded = decode_f144(payload, self._entry.unit)
        data = decoded.data
        if schema == "f144" or not data.name:
            data.name = self._name
        time_ns = decoded.time_ns or _kafka_time_ns(raw)
        return Message(source=self._name, data=data, start_ns=time_ns, end_ns=time_ns)

    def _bad_input(self, raw: KafkaMessage, exc: DecodeError) -> SourceError:
        self._metrics.kafka_decode_errors.labels(source=self._name, reason=exc.reason).inc()
        self._log_once(
            "bad kafka message",
            reason=exc.reason,
            error=exc.detail,
            partition=raw.partition(),
            offset=raw.offset(),
        )
        return SourceError(
            f"Source {self._name!r} received a bad message on Kafka topic "
            f"{self._entry.topic!r}. {exc}"
        )

    def _log_once(self, event: str, **fields: object) -> None:
        skipped = self._throttle.due((self._name, event))
        if skipped is not None:
            log.warning(
                event, source=self._name, topic=self._entry.topic, similar_skipped=skipped, **fields
            )

    def _problem(self) -> str:
        if self._health.problem:
            self._log_once("kafka unreachable", error=self._health.detail)
            return self._health.problem
        return "" if self._assigned else self._lookup_problem

    def _on_stats(self, stats_json: str) -> None:
        self._health.on_stats(stats_json)
        lag = self._health.lag(self._entry.topic)
        if lag is not None:
            self._metrics.kafka_lag.labels(job=self._job_id, topic=self._entry.topic).set(lag)

    def close(self) -> None:
        """Close the consumer now, or when a lookup in flight ends; idempotent."""
        if self._closed:
            return
        self._stop.set()
        with self._lock:
            self._closed = True
            close_here = self._lookup_done
        if close_here:
            self._consumer.close()
        with contextlib.suppress(KeyError):  # no lag was ever reported
            self._metrics.kafka_lag.remove(self._job_id, self._entry.topic)

    # --- lookup thread ---

    def _look_up_partitions(self) -> None:
        try:
            self._look_up()
        finally:
            with self._lock:
                self._lookup_done = True
                close_here = self._closed
            if close_here:
                self._consumer.close()

    def _look_up(self) -> None:
        topic = self._entry.topic
        while not self._stop.is_set():
            try:
                metadata = self._consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
            except KafkaException as exc:
                if self._stop.is_set():
                    return
                self._lookup_problem = "no broker answers"
                self._log_once("kafka metadata unavailable", error=str(exc.args[0]))
            else:
                found = metadata.topics.get(topic)
                if found is not None and found.error is None and found.partitions:
                    self._partitions = sorted(found.partitions)
                    return
                code = found.error.code() if found is not None and found.error else None
                self._lookup_problem = (
                    f"topic {topic!r} does not exist"
                    if code in (None, KafkaError.UNKNOWN_TOPIC_OR_PART)
                    else f"topic {topic!r} is not available yet"
                )
            self._stop.wait(METADATA_TIMEOUT_S)


def _kafka_time_ns(raw: KafkaMessage) -> int:
    _kind, ms = raw.timestamp()
    return max(0, int(ms)) * 1_000_000


class KafkaSources:
    """Opens one :class:`KafkaSource` per job for the sources of a mapping."""

    def __init__(
        self,
        *,
        bootstrap: str,
        mapping: KafkaMapping,
        config: KafkaConfig,
        group_prefix: str,
        namespace: str,
        max_message_bytes: int,
        metrics: WorkerMetrics,
    ) -> None:
        self.bootstrap = bootstrap
        self.mapping = mapping
        self._config = dict(config)
        self._group_prefix = group_prefix
        self._namespace = namespace
        self._max_bytes = max_message_bytes
        self._metrics = metrics
        self._throttle = LogThrottle()

    def __contains__(self, name: object) -> bool:
        return name in self.mapping.sources

    def group_id(self, suffix: str) -> str:
        """``<prefix>.<namespace>.<suffix>``: a job id, or ``status``."""
        return f"{self._group_prefix}.{self._namespace}.{suffix}"

    def config(self, *, group_id: str, client_id: str) -> dict[str, object]:
        return consumer_config(self.bootstrap, self._config, group_id=group_id, client_id=client_id)

    def check_config(self) -> None:
        """Build (and drop) one consumer: ``ValueError`` if librdkafka rejects the settings."""
        try:
            Consumer(self.config(group_id=self.group_id("check"), client_id="livegrid")).close()
        except KafkaException as exc:
            raise ValueError(
                f"librdkafka rejects LIVEGRID_KAFKA_CONFIG: {exc.args[0].str()}"
            ) from exc

    def _shares_topic(self, name: str) -> bool:
        topic = self.mapping.sources[name].topic
        return sum(entry.topic == topic for entry in self.mapping.sources.values()) > 1

    def open(self, name: str, job_id: str) -> KafkaSource:
        """A new consumer of source ``name`` for job ``job_id``, from the latest offset.

        Raises ``ValueError`` (a sentence) if librdkafka cannot create the consumer.
        """
        try:
            return KafkaSource(
                name,
                self.mapping.sources[name],
                source_name=self.mapping.source_name(name),
                job_id=job_id,
                bootstrap=self.bootstrap,
                config=self.config(group_id=self.group_id(job_id), client_id=f"livegrid-{job_id}"),
                max_message_bytes=self._max_bytes,
                metrics=self._metrics,
                throttle=self._throttle,
                shared_topic=self._shares_topic(name),
            )
        except KafkaException as exc:
            raise ValueError(
                f"Cannot create a Kafka consumer for source {name!r}: {exc.args[0].str()}"
            ) from exc
