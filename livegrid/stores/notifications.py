"""The notification log: every user-visible event, once, with gap detection.

Keys: ``ns:notifications`` (stream ``{level, message, user, job, ts, seq}``,
``MAXLEN ~``) and its ``seq`` counter. Written by workers and replicas.
A reader keeps a :class:`NotificationCursor`; reading after it reports how many
entries were lost to trimming (a ``seq`` jump) instead of skipping silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import redis

from livegrid.keyspace import Keyspace
from livegrid.models import Notification
from livegrid.redis_client import text
from livegrid.stores._lua import XADD_SEQ

# KEYS: stream, seq.  ARGV: maxlen, field/value pairs
_APPEND = (
    XADD_SEQ
    + """
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
return xadd_seq(KEYS[1], KEYS[2], ARGV[1], fields)
"""
)

StreamEntry = tuple[Any, Any]


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True)
class NotificationCursor:
    """The last entry a reader has seen: its stream id and ``seq``."""

    last_id: str = "0-0"
    seq: int = 0


@dataclass(frozen=True)
class NotificationBatch:
    notifications: list[Notification]
    cursor: NotificationCursor
    #: Entries between the old cursor and the first one returned that no longer exist.
    missed: int = 0
    #: The stream restarted behind the cursor (e.g. Redis lost its data).
    reset: bool = False


class NotificationLog:
    def __init__(self, client: redis.Redis, keyspace: Keyspace, *, maxlen: int) -> None:
        self._redis = client
        self._keys = keyspace
        self._maxlen = maxlen
        self._append = client.register_script(_APPEND)

    @property
    def stream(self) -> str:
        return self._keys.notifications

    def append(self, notification: Notification) -> NotificationCursor:
        """Append; returns the cursor *at* the new entry."""
        args: list[str | int] = [self._maxlen]
        for name, value in notification.to_fields().items():
            if name != "seq":
                args += [name, value]
        entry_id, seq = self._append(
            keys=[self.stream, self._keys.stream_seq(self.stream)], args=args
        )
        return NotificationCursor(text(entry_id), int(seq))

    def end(self) -> NotificationCursor:
        """A cursor at the stream's end: reading after it returns only new entries."""
        latest: Any = self._redis.xrevrange(self.stream, count=1)
        if not latest:
            seq = int(self._redis.get(self._keys.stream_seq(self.stream)) or 0)
            return NotificationCursor("0-0", seq)
        entry_id, fields = latest[0]
        return NotificationCursor(text(entry_id), int(fields[b"seq"]))

    def read_after(self, cursor: NotificationCursor, *, count: int = 1000) -> NotificationBatch:
        entries: Any = self._redis.xrange(self.stream, min=f"({cursor.last_id}", count=count)
        if not entries and cursor.last_id != "0-0":
            newest: Any = self._redis.xrevrange(self.stream, count=1)
            if newest and _id_tuple(text(newest[0][0])) < _id_tuple(cursor.last_id):
                batch = self.read_after(NotificationCursor(), count=count)
                return replace(batch, missed=0, reset=True)
        return self.parse(entries, cursor)

    @staticmethod
    def parse(entries: Sequence[StreamEntry], cursor: NotificationCursor) -> NotificationBatch:
        """Turn raw stream entries after ``cursor`` into notifications, counting gaps."""
        notifications: list[Notification] = []
        missed = 0
        for entry_id, fields in entries:
            item = Notification.from_fields(fields)
            if item.seq > cursor.seq + 1:
                missed += item.seq - cursor.seq - 1
            notifications.append(item)
            cursor = NotificationCursor(text(entry_id), item.seq)
        return NotificationBatch(notifications, cursor, missed)
