"""Liveness registries and stale reaping on a real Redis."""

from __future__ import annotations

import time

import redis

from harness import wait_until
from livegrid.keyspace import Keyspace
from livegrid.stores.registry import Registry


def _wait_until_stale(registry: Registry, member: str, timeout: float = 5.0) -> None:
    wait_until(
        lambda: member not in {m.id for m in registry.live()},
        timeout,
        f"{member} to go stale",
        interval=0.02,
    )


def test_registered_members_are_live_with_their_details(r: redis.Redis, keyspace: Keyspace) -> None:
    sessions = Registry(r, keyspace, "sessions", stale_after_s=5)
    sessions.register("s1", {"user": "ada", "replica": "r1"})
    (member,) = sessions.live()
    assert member.id == "s1"
    assert member.details == {"user": "ada", "replica": "r1"}
    assert 0 <= member.age_ms < 5000


def test_stale_sessions_are_listed_no_more_and_reaped_once(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    sessions = Registry(r, keyspace, "sessions", stale_after_s=0.2)
    sessions.register("gone", {"user": "ada"})
    sessions.register("alive", {"user": "bob"})
    _wait_until_stale(sessions, "gone")
    sessions.heartbeat(["alive"])

    assert [m.id for m in sessions.live()] == ["alive"]
    assert sessions.reap() == ["gone"]
    assert sessions.reap() == []
    assert r.exists(keyspace.session("gone")) == 0
    assert r.exists(keyspace.session("alive")) == 1


def test_batched_heartbeat_keeps_many_members_alive_in_one_call(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    sessions = Registry(r, keyspace, "sessions", stale_after_s=0.3)
    ids = [f"s{i}" for i in range(50)]
    for member in ids:
        sessions.register(member, {"replica": "r1"})
    time.sleep(0.2)
    sessions.heartbeat(ids)
    time.sleep(0.2)
    assert sorted(m.id for m in sessions.live()) == sorted(ids)


def test_removed_member_disappears_with_its_details(r: redis.Redis, keyspace: Keyspace) -> None:
    workers = Registry(r, keyspace, "workers", stale_after_s=5)
    workers.register("w1", {"host": "h"})
    workers.remove(["w1"])
    assert workers.live() == []
    assert r.exists(keyspace.worker("w1")) == 0


def test_a_heartbeat_reports_members_that_were_reaped_meanwhile(r, keyspace):
    workers = Registry(r, keyspace, "workers", stale_after_s=15)
    workers.register("w-1", {"host": "a"})
    workers.remove(["w-1"])

    assert workers.heartbeat(["w-1"]) == ["w-1"]
    assert workers.heartbeat(["w-1"]) == []
