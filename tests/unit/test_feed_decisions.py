"""The feed's decisions (app.feed_decisions): gaps, the notification epoch, what to fetch."""

from __future__ import annotations

import pytest

from app.feed_decisions import (
    ResyncNotifications,
    Ring,
    extend_ring,
    frames_to_fetch,
    keeps_frame,
    notifications_on_resync,
    stream_gap,
    wakes,
)
from app.view import NotificationEntry
from livegrid.models import Level, Notification


def entries(*seqs: int) -> tuple[NotificationEntry, ...]:
    return tuple(
        NotificationEntry(s, Notification(level=Level.INFO, message=f"n{s}", seq=s)) for s in seqs
    )


@pytest.mark.parametrize(
    ("last", "seqs", "expected"),
    [
        (0, [], 0),
        (0, [7, 8], 8),  # no position yet: taken as it comes
        (4, [5, 6], 6),
        (4, [], 4),
        (4, [6], None),  # entries trimmed before we read them
        (4, [5, 7], None),
        (4, [1], None),  # the stream started over (Redis lost its data)
        (4, [4], None),
    ],
)
def test_stream_gap(last: int, seqs: list[int], expected: int | None) -> None:
    assert stream_gap(last, seqs) == expected


@pytest.mark.parametrize(
    ("before", "new", "maxlen", "seqs", "end"),
    [
        (Ring((), 0, 0), (1, 2), 5, (1, 2), (2, 0)),
        (Ring(entries(1, 2), 2, 0), (3,), 5, (1, 2, 3), (3, 0)),
        (Ring(entries(1, 2), 2, 0), (3, 4, 5, 6), 3, (4, 5, 6), (6, 0)),
        (Ring(entries(8, 9), 9, 0), (1, 2, 3), 5, (1, 2, 3), (3, 1)),  # one restart, one epoch
        (Ring(entries(8, 9), 9, 2), (10, 1, 2), 5, (1, 2), (2, 3)),  # restart mid-batch
        (Ring((), 9, 0), (1,), 5, (1,), (1, 0)),  # nothing to clear: no new epoch
        (Ring(entries(1), 1, 0), (), 5, (1,), (1, 0)),
        (Ring((), 0, 0), (1, 2), 0, (), (0, 0)),  # a ring of size 0 keeps nothing
    ],
)
def test_extend_ring(
    before: Ring,
    new: tuple[int, ...],
    maxlen: int,
    seqs: tuple[int, ...],
    end: tuple[int, int],
) -> None:
    after = extend_ring(before, entries(*new), maxlen)
    assert tuple(e.seq for e in after.entries) == seqs
    assert (after.seq, after.epoch) == end


@pytest.mark.parametrize(
    ("stream_seq", "ring_seq", "maxlen", "expected"),
    [
        (5, 5, 100, ResyncNotifications()),
        (3, 5, 100, ResyncNotifications(restart=True)),  # Redis lost its data
        (9, 5, 100, ResyncNotifications(read=4)),
        (900, 0, 100, ResyncNotifications(read=100)),  # a fresh replica fills its ring
        (9, 5, 0, ResyncNotifications(read=1)),
    ],
)
def test_notifications_on_resync(
    stream_seq: int, ring_seq: int, maxlen: int, expected: ResyncNotifications
) -> None:
    assert notifications_on_resync(stream_seq, ring_seq, maxlen) == expected


@pytest.mark.parametrize(
    ("stored", "viewed", "interest", "force", "expected"),
    [
        ({"a": 3, "b": 2}, {"a": 2, "b": 2}, {"a", "b"}, False, ["a"]),
        ({"a": 3, "b": 2}, {"a": 2, "b": 2}, {"a", "b"}, True, ["a", "b"]),
        ({"a": 3}, {}, {"a"}, False, ["a"]),  # a layer shown again, its frame not in the view
        ({"a": 3}, {"a": 1}, set(), True, []),  # nobody here shows it
        ({"a": 0}, {}, {"a"}, True, []),  # no frame yet
    ],
)
def test_frames_to_fetch(
    stored: dict[str, int],
    viewed: dict[str, int],
    interest: set[str],
    force: bool,
    expected: list[str],
) -> None:
    assert frames_to_fetch(stored, viewed, frozenset(interest), force=force) == expected


@pytest.mark.parametrize(
    ("frame_seq", "shown", "keeps"), [(3, True, True), (3, False, False), (0, True, False)]
)
def test_keeps_frame(frame_seq: int, shown: bool, keeps: bool) -> None:
    assert keeps_frame(frame_seq, shown) is keeps


@pytest.mark.parametrize(
    ("grids", "affected", "everyone", "woken"),
    [
        ({"g1"}, {"g1"}, False, True),
        ({"g1"}, {"g2"}, False, False),  # a frame of a grid this session does not show
        ({"g1"}, {"g2"}, True, True),  # config, jobs or a notification
        (set(), None, False, True),  # the connection changed: everyone
        (set(), set(), False, False),
    ],
)
def test_wakes(grids: set[str], affected: set[str] | None, everyone: bool, woken: bool) -> None:
    concerned = frozenset(affected) if affected is not None else None
    assert wakes(frozenset(grids), concerned, everyone=everyone) is woken
