"""``ns:services:status`` through its store, on a real Redis."""

from __future__ import annotations

import redis

from livegrid.keyspace import Keyspace
from livegrid.stores.services import ServiceStatuses


def _entry(state: str, interval_ms: int = 1000) -> dict[str, object]:
    return {"software": "ess-reduce", "host": "node-3", "state": state,
            "update_interval_ms": interval_ms}  # fmt: skip


def test_an_older_status_never_overwrites_a_newer_one(r: redis.Redis, keyspace: Keyspace) -> None:
    statuses = ServiceStatuses(r, keyspace)
    assert statuses.write("reducer", _entry("running"), kafka_ts_ms=200)
    assert not statuses.write("reducer", _entry("starting"), kafka_ts_ms=100)

    assert [(s.service_id, s.state) for s in statuses.read()] == [("reducer", "running")]


def test_a_status_older_than_twice_its_interval_reads_as_quiet(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    statuses = ServiceStatuses(r, keyspace)
    statuses.write("fresh", _entry("running"), kafka_ts_ms=1)
    statuses.write("silent", _entry("running", interval_ms=10), kafka_ts_ms=1)
    r.hset(keyspace.services_status, "silent", '{"received_at_ms": 1, "update_interval_ms": 10}')

    quiet = {s.service_id: s.quiet for s in statuses.read()}

    assert quiet == {"fresh": False, "silent": True}


def test_an_unreadable_entry_is_left_out_and_the_others_are_listed(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    statuses = ServiceStatuses(r, keyspace)
    statuses.write("good", _entry("running"), kafka_ts_ms=1)
    r.hset(keyspace.services_status, "bad", "not json")

    assert [s.service_id for s in statuses.read()] == ["good"]


def test_no_statuses_read_as_an_empty_list(r: redis.Redis, keyspace: Keyspace) -> None:
    assert ServiceStatuses(r, keyspace).read() == []
