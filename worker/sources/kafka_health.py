"""Whether a consumer reaches Kafka, and how far it lags, from librdkafka's callbacks.

librdkafka reconnects by itself and reports through two callbacks, both served
on the thread that polls the consumer: ``error_cb`` (e.g. all brokers down,
authentication failed) and ``stats_cb`` (JSON statistics every
``statistics.interval.ms``: broker states, per-partition lag). This class
turns them into one sentence fragment, ``problem`` ('' while connected), and
the consumer lag of each topic. Pure: no Kafka connection of its own.
"""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import KafkaError

#: librdkafka errors after which the consumer cannot get data, with what to tell the user.
#: Errors of single connections (transport, name resolution) are left out: with several
#: brokers the others may serve; when none does, librdkafka reports _ALL_BROKERS_DOWN.
_BLOCKING: dict[int, str] = {
    KafkaError._ALL_BROKERS_DOWN: "no broker answers",
    KafkaError._AUTHENTICATION: "the broker refused the credentials in LIVEGRID_KAFKA_CONFIG",
    KafkaError._SSL: "the TLS handshake failed; check the ssl.* settings in LIVEGRID_KAFKA_CONFIG",
}


class KafkaHealth:
    """Connection problem and lag of one consumer, as its callbacks report them."""

    def __init__(self) -> None:
        self.problem = ""
        #: Last error text librdkafka gave for ``problem``, for the log.
        self.detail = ""
        self._lag: dict[str, int] = {}

    def on_error(self, error: KafkaError) -> None:
        """``error_cb``: remember an error that stops data until the broker is back."""
        problem = _BLOCKING.get(error.code())
        if problem is not None:
            self.problem = problem
            self.detail = error.str()

    def on_stats(self, stats_json: str) -> None:
        """``stats_cb``: a broker in state UP clears the problem; record the lag per topic."""
        try:
            stats: Any = json.loads(stats_json)
        except ValueError:
            return
        brokers = stats.get("brokers", {}).values()
        if any(b.get("state") == "UP" and b.get("nodeid", -1) >= 0 for b in brokers):
            self.problem = ""
        for topic, info in stats.get("topics", {}).items():
            lags = [
                int(p.get("consumer_lag_stored", -1))
                for key, p in info.get("partitions", {}).items()
                if key != "-1"
            ]
            known = [lag for lag in lags if lag >= 0]
            if known:
                self._lag[topic] = sum(known)

    def on_message(self) -> None:
        """A message arrived: the broker is evidently reachable."""
        self.problem = ""

    def lag(self, topic: str) -> int | None:
        """Messages between the consumer's position and the end of ``topic``; None until known."""
        return self._lag.get(topic)
