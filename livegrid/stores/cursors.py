"""Where each browser tab's notification cursor survives a reconnect.

Keys: ``ns:cursor:{tab_id}`` (string ``"{seq}:{epoch}"``, expires ``ttl_s``
after its last save). ``tab_id`` is the browser tab's own id (kept in its
``sessionStorage``), so a reload or a reconnect to another replica resumes the
cursor of the same tab. A session saves its cursor when it showed
notifications and again well before it expires (a quiet tab keeps it too).

Reads and writes never raise for an unreachable Redis: the cursor is an
optimisation (the tab would otherwise start at the stream's end), the banner
says Redis is away, and the next save catches up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from livegrid.keyspace import Keyspace


@dataclass(frozen=True)
class StoredCursor:
    """A tab's last shown notification: its ``seq`` in the stream of ``epoch``."""

    seq: int
    epoch: int


def parse_cursor(raw: bytes | str | None) -> StoredCursor | None:
    """``b"12:3"`` as a cursor; None for a missing or unreadable value."""
    if not raw:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    seq_text, _, epoch_text = text.partition(":")
    try:
        return StoredCursor(int(seq_text), int(epoch_text or 0))
    except ValueError:
        return None


def format_cursor(cursor: StoredCursor) -> str:
    return f"{cursor.seq}:{cursor.epoch}"


class CursorStore:
    def __init__(self, client: redis.Redis, keyspace: Keyspace, *, ttl_s: float) -> None:
        self._redis = client
        self._keys = keyspace
        self.ttl_ms = int(ttl_s * 1000)

    def read(self, tab_id: str) -> StoredCursor | None:
        """The stored cursor of ``tab_id``; None if none, unreadable or Redis is away."""
        try:
            raw: Any = self._redis.get(self._keys.session_cursor(tab_id))
        except redis.RedisError:
            return None
        return parse_cursor(raw)

    def save(self, tab_id: str, cursor: StoredCursor) -> bool:
        """Store ``cursor`` for one ttl; False if Redis is unreachable (save again later)."""
        try:
            self._redis.set(
                self._keys.session_cursor(tab_id), format_cursor(cursor), px=self.ttl_ms
            )
        except redis.RedisError:
            return False
        return True
