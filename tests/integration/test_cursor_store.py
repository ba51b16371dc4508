"""The cursor store against a real Redis: ``ns:cursor:{tab_id}`` with its ttl."""

from __future__ import annotations

import redis

from livegrid.keyspace import Keyspace
from livegrid.stores.cursors import CursorStore, StoredCursor


def test_a_saved_cursor_reads_back_and_expires(r: redis.Redis, keyspace: Keyspace) -> None:
    store = CursorStore(r, keyspace, ttl_s=30)
    assert store.read("tab-1") is None
    assert store.save("tab-1", StoredCursor(7, 1))
    assert store.read("tab-1") == StoredCursor(7, 1)
    assert r.get(keyspace.session_cursor("tab-1")) == b"7:1"
    ttl = int(r.pttl(keyspace.session_cursor("tab-1")))
    assert 0 < ttl <= 30_000
    assert store.read("tab-2") is None


def test_an_unreadable_cursor_reads_as_none(r: redis.Redis, keyspace: Keyspace) -> None:
    r.set(keyspace.session_cursor("tab-1"), "garbage")
    assert CursorStore(r, keyspace, ttl_s=30).read("tab-1") is None


def test_an_unreachable_redis_neither_raises_nor_pretends_to_save(keyspace: Keyspace) -> None:
    away = redis.Redis(port=1, socket_connect_timeout=0.2)
    store = CursorStore(away, keyspace, ttl_s=30)
    assert store.read("tab-1") is None
    assert store.save("tab-1", StoredCursor(1, 0)) is False
