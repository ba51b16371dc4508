"""``livegrid produce``: publish the synthetic instrument's streams to Kafka as da00 and f144.

Composition root of the producer process. Every source of the mapping that the
synthetic instrument knows is published to its topic under its ``source_name``:
arrays as da00, single values as f144, at the instrument's rates
(``LIVEGRID_SYNTHETIC_RATES``). Every 2 s it publishes an x5f2 status of
itself to the mapping's status topics. Point workers at the same broker and
mapping (``LIVEGRID_KAFKA_BOOTSTRAP``, ``LIVEGRID_KAFKA_MAPPING``) to run the
whole pipeline against a real broker.
"""

from __future__ import annotations

import signal
import time
from types import FrameType

import structlog
from confluent_kafka import KafkaError, KafkaException, Producer

from livegrid import __version__
from livegrid.log import configure_logging
from livegrid.settings import Settings
from worker.sources.ess_encode import encode_da00, encode_f144, encode_x5f2
from worker.sources.kafka import LIBRDKAFKA_LOG
from worker.sources.kafka_mapping import (
    KafkaMapping,
    MappingError,
    load_mapping,
    synthetic_mapping,
)
from worker.sources.synthetic import (
    SOURCE_NAMES,
    SyntheticInstrument,
    SyntheticSource,
    describe,
)
from worker.sources.throttle import LogThrottle

log = structlog.get_logger(__name__)

STATUS_INTERVAL_MS = 2000
#: Pause between two looks at the instrument's clock (its fastest rate is 14 Hz).
TICK_S = 0.01
SERVICE_ID = "livegrid-produce"
_REFUSED = LogThrottle()
#: Longest wait for the last messages to be delivered when stopping.
FLUSH_S = 5.0


def run_producer(
    settings: Settings, *, bootstrap: str, mapping_path: str | None, duration_s: float | None
) -> int:
    """Publish until SIGTERM/SIGINT or ``duration_s``; 0 on success, 2 for bad settings."""
    configure_logging(settings, process="produce")
    try:
        mapping = load_mapping(mapping_path) if mapping_path else synthetic_mapping()
        instrument = SyntheticInstrument(settings.synthetic_rates, settings.synthetic_seed)
        streams = _streams(mapping, instrument)
        producer = Producer(
            {
                **settings.kafka_config,
                "bootstrap.servers": bootstrap,
                "client.id": SERVICE_ID,
                "linger.ms": 5,
                "error_cb": _ErrorLog(bootstrap),
                "logger": LIBRDKAFKA_LOG,
            }
        )
    except (MappingError, ValueError) as exc:
        log.error("cannot produce", error=str(exc))
        return 2
    except KafkaException as exc:
        log.error("librdkafka rejects LIVEGRID_KAFKA_CONFIG", error=exc.args[0].str())
        return 2
    # A plain list, not a threading.Event: Event.set() in a signal handler deadlocks when
    # the signal lands while the main thread holds the Event's lock inside Event.wait().
    signals: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        signals.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("producing", bootstrap=bootstrap, sources=sorted(streams), topics=mapping.topics)
    deadline = None if duration_s is None else time.monotonic() + duration_s
    published = 0
    next_status = 0.0
    while not signals and (deadline is None or time.monotonic() < deadline):
        now_ns = time.time_ns()
        for name, stream in streams.items():
            for message in stream.poll(now_ns):
                entry = mapping.sources[name]
                encode = encode_da00 if entry.schema_id == "da00" else encode_f144
                payload = encode(mapping.source_name(name), message.end_ns, message.data)
                _produce(producer, entry.topic, payload, message.end_ns // 1_000_000)
                published += 1
        if time.monotonic() >= next_status:
            _publish_status(producer, mapping, "producing", sorted(streams))
            next_status = time.monotonic() + STATUS_INTERVAL_MS / 1000
        producer.poll(0)
        time.sleep(TICK_S)
    _publish_status(producer, mapping, "stopped", sorted(streams))
    left = producer.flush(FLUSH_S)
    log.info("producer stopped", published=published, undelivered=left)
    return 0


def _streams(mapping: KafkaMapping, instrument: SyntheticInstrument) -> dict[str, SyntheticSource]:
    """A stream per mapped source the instrument knows; ``ValueError`` if there is none."""
    names = [name for name in mapping.sources if name in SOURCE_NAMES]
    if not names:
        raise ValueError(
            "The Kafka mapping names none of the synthetic instrument's sources "
            f"({', '.join(SOURCE_NAMES)}); there is nothing to publish."
        )
    for name in names:
        ndim = describe()[name].ndim
        wanted = "f144" if ndim == 0 else "da00"
        if mapping.sources[name].schema_id != wanted:
            raise ValueError(
                f"The Kafka mapping publishes {name!r} as {mapping.sources[name].schema_id}, "
                f"but it delivers {ndim}-D data; use schema {wanted}."
            )
    return {name: instrument.source(name) for name in names}


def _produce(producer: Producer, topic: str, payload: bytes, timestamp_ms: int) -> None:
    try:
        producer.produce(topic, payload, timestamp=timestamp_ms)
    except BufferError:  # the local queue is full while the broker is away: drop, keep going
        producer.poll(0.1)
    except KafkaException as exc:  # e.g. a message above message.max.bytes: drop, keep going
        if _REFUSED.due(topic) is not None:
            log.warning("message not published", topic=topic, error=exc.args[0].str())


def _publish_status(
    producer: Producer, mapping: KafkaMapping, state: str, sources: list[str]
) -> None:
    payload = encode_x5f2(
        SERVICE_ID, __version__, STATUS_INTERVAL_MS, {"state": state, "sources": sources}
    )
    for topic in mapping.status_topics:
        _produce(producer, topic, payload, int(time.time() * 1000))


class _ErrorLog:
    """``error_cb`` of the producer: say once a minute why Kafka cannot be reached."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._throttle = LogThrottle()

    def __call__(self, error: KafkaError) -> None:
        skipped = self._throttle.due(error.code())
        if skipped is not None:
            log.warning(
                f"waiting for Kafka at {self._bootstrap}",
                error=error.str(),
                similar_skipped=skipped,
            )
