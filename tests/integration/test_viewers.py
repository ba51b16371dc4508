"""Viewer interest on a real Redis."""

from __future__ import annotations

import time

import redis

from livegrid.keyspace import Keyspace
from livegrid.stores.viewers import Viewers


def test_first_viewer_wakes_workers_once(r: redis.Redis, keyspace: Keyspace) -> None:
    viewers = Viewers(r, keyspace, ttl_s=5)
    assert viewers.mark("r1", ["L1", "L2"]) == ["L1", "L2"]
    assert viewers.mark("r2", ["L1"]) == []
    assert viewers.mark("r1", ["L1"]) == []
    woken = [f[b"layer"] for _, f in r.xrange(keyspace.jobs_log) if f[b"action"] == b"viewed"]
    assert woken == [b"L1", b"L2"]
    assert viewers.counts(["L1", "L2", "L3"]) == {"L1": 2, "L2": 1, "L3": 0}


def test_unmarked_and_expired_viewers_stop_counting(r: redis.Redis, keyspace: Keyspace) -> None:
    short = Viewers(r, keyspace, ttl_s=0.1)
    short.mark("r1", ["L"])
    short.mark("r2", ["L"])
    short.unmark("r1", ["L"])
    assert short.counts(["L"]) == {"L": 1}
    time.sleep(0.2)
    assert short.counts(["L"]) == {"L": 0}
    assert short.mark("r3", ["L"]) == ["L"]
