"""Connection state and lag of a consumer, from librdkafka's error and statistics callbacks."""

from __future__ import annotations

import json

from confluent_kafka import KafkaError

from worker.sources.kafka_health import KafkaHealth
from worker.sources.throttle import LogThrottle


def _stats(*, broker_state: str, lags: dict[str, int] | None = None) -> str:
    partitions = {p: {"consumer_lag_stored": lag} for p, lag in (lags or {}).items()}
    partitions["-1"] = {"consumer_lag_stored": 999}  # librdkafka's internal partition
    return json.dumps(
        {
            "brokers": {
                "127.0.0.1:9092/bootstrap": {"state": "UP", "nodeid": -1},
                "127.0.0.1:9092/1": {"state": broker_state, "nodeid": 1},
            },
            "topics": {"t": {"partitions": partitions}},
        }
    )


def test_a_fresh_consumer_has_no_problem_and_no_lag() -> None:
    health = KafkaHealth()

    assert health.problem == ""
    assert health.lag("t") is None


def test_all_brokers_down_is_a_problem_until_a_broker_is_up_again() -> None:
    health = KafkaHealth()

    health.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert health.problem == "no broker answers"
    health.on_stats(_stats(broker_state="CONNECT"))
    assert health.problem == "no broker answers"
    health.on_stats(_stats(broker_state="UP"))
    assert health.problem == ""


def test_a_message_clears_the_problem() -> None:
    health = KafkaHealth()
    health.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN))

    health.on_message()

    assert health.problem == ""


def test_refused_credentials_point_at_the_kafka_config_setting() -> None:
    health = KafkaHealth()

    health.on_error(KafkaError(KafkaError._AUTHENTICATION, "SASL authentication failed"))

    assert "LIVEGRID_KAFKA_CONFIG" in health.problem
    assert health.detail == "SASL authentication failed"


def test_a_transient_error_of_one_connection_is_no_problem() -> None:
    health = KafkaHealth()

    health.on_error(KafkaError(KafkaError._TRANSPORT, "connection reset"))

    assert health.problem == ""


def test_lag_is_the_sum_over_the_partitions_with_a_known_position() -> None:
    health = KafkaHealth()

    health.on_stats(_stats(broker_state="UP", lags={"0": 3, "1": 4, "2": -1}))

    assert health.lag("t") == 7


def test_unreadable_statistics_are_ignored() -> None:
    health = KafkaHealth()
    health.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN))

    health.on_stats("{not json")

    assert health.problem == "no broker answers"


def test_the_log_throttle_lets_one_event_per_key_and_interval_through() -> None:
    now = [0.0]
    throttle = LogThrottle(60.0, clock=lambda: now[0])

    assert throttle.due("a") == 0
    assert throttle.due("a") is None
    assert throttle.due("b") == 0
    now[0] = 30.0
    assert throttle.due("a") is None
    now[0] = 61.0
    assert throttle.due("a") == 2
