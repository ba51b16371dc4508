"""Notifications read after a cursor, with gaps reported, on a real Redis."""

from __future__ import annotations

import redis

from livegrid.keyspace import Keyspace
from livegrid.models import Notification
from livegrid.stores.notifications import NotificationCursor, NotificationLog


def _note(i: int) -> Notification:
    return Notification(level="info", message=f"event {i}", job="job")


def test_reader_gets_each_entry_after_its_cursor_once(r: redis.Redis, keyspace: Keyspace) -> None:
    log = NotificationLog(r, keyspace, maxlen=1000)
    log.append(_note(0))
    cursor = log.end()
    log.append(_note(1))
    log.append(_note(2))

    batch = log.read_after(cursor)
    again = log.read_after(batch.cursor)

    assert [n.message for n in batch.notifications] == ["event 1", "event 2"]
    assert [n.seq for n in batch.notifications] == [2, 3]
    assert batch.missed == 0
    assert again.notifications == []


def test_cursor_at_the_end_of_an_empty_stream_sees_the_first_entry(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    log = NotificationLog(r, keyspace, maxlen=1000)
    cursor = log.end()
    log.append(_note(1))
    assert [n.message for n in log.read_after(cursor).notifications] == ["event 1"]


def test_cursor_behind_a_trimmed_stream_reports_the_gap(r: redis.Redis, keyspace: Keyspace) -> None:
    log = NotificationLog(r, keyspace, maxlen=1000)
    log.append(_note(0))
    cursor = log.end()
    for i in range(1, 11):
        log.append(_note(i))
    r.xtrim(
        keyspace.notifications, maxlen=3, approximate=False
    )  # exact trim: entries 1..7 are gone

    batch = log.read_after(cursor)

    assert [n.message for n in batch.notifications] == ["event 8", "event 9", "event 10"]
    assert batch.missed == 7


def test_stream_lost_behind_the_cursor_is_reported_as_reset(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    log = NotificationLog(r, keyspace, maxlen=1000)
    log.append(_note(0))
    cursor = NotificationCursor(last_id="99999999999999-0", seq=50)
    batch = log.read_after(cursor)
    assert batch.reset
    assert [n.message for n in batch.notifications] == ["event 0"]
