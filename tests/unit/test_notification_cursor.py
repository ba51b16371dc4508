"""The notification cursor's rules (app.notification_cursor): a table of ticks."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.notification_cursor import NotificationCursor, advance, resume, save_due, start
from app.view import NotificationEntry, ReplicaView
from livegrid.models import Level, Notification


def ring(*seqs: int) -> tuple[NotificationEntry, ...]:
    return tuple(
        NotificationEntry(s, Notification(level=Level.INFO, message=f"n{s}", seq=s)) for s in seqs
    )


def view(*seqs: int, epoch: int = 0, connected: bool = True) -> ReplicaView:
    return ReplicaView(
        connected=connected,
        notifications=ring(*seqs),
        notification_seq=seqs[-1] if seqs else 0,
        notification_epoch=epoch,
    )


def at(seq: int, epoch: int = 0) -> NotificationCursor:
    return NotificationCursor(seq, epoch, True)


@dataclass(frozen=True)
class Case:
    name: str
    cursor: NotificationCursor
    view: ReplicaView
    shows: tuple[int, ...]
    missed: int
    after: NotificationCursor
    save: bool


CASES = [
    Case(
        "a new session waits for the feed to know the stream's end",
        NotificationCursor(),
        view(connected=False),
        (),
        0,
        NotificationCursor(),
        False,
    ),
    Case(
        "a new session starts at the end: it shows nothing of the past",
        NotificationCursor(),
        view(4, 5, 6, epoch=2),
        (),
        0,
        at(6, 2),
        False,
    ),
    Case("no news", at(6), view(5, 6), (), 0, at(6), False),
    Case("news are shown once, oldest first", at(4), view(3, 4, 5, 6), (5, 6), 0, at(6), True),
    Case(
        "a gap between the cursor and the ring is reported as missed",
        at(2),
        view(6, 7),
        (6, 7),
        3,
        at(7),
        True,
    ),
    Case("a cursor at 0 misses nothing", at(0), view(6, 7), (6, 7), 0, at(7), True),
    Case(
        "a new epoch (the stream started over) resets the cursor: all of the new ring shows",
        at(40, 0),
        view(1, 2, epoch=1),
        (1, 2),
        0,
        at(2, 1),
        True,
    ),
    Case(
        "a new epoch with an empty stream only resets the cursor",
        at(40, 0),
        view(epoch=1),
        (),
        0,
        at(0, 1),
        False,
    ),
    Case(
        "a reset with a ring that lost its start still misses nothing (cursor 0)",
        at(40, 0),
        view(3, 4, epoch=1),
        (3, 4),
        0,
        at(4, 1),
        True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_advance(case: Case) -> None:
    step = advance(case.cursor, case.view)
    assert tuple(e.seq for e in step.show) == case.shows
    assert step.missed == case.missed
    assert step.cursor == case.after
    assert step.save is case.save


def test_start_takes_the_feeds_end_only_once_connected() -> None:
    assert start(view(3, epoch=1)) == at(3, 1)
    assert not start(view(3, connected=False)).started


@pytest.mark.parametrize(
    ("stored", "expected"),
    [(None, None), (0, None), (3, at(3, 1)), (9, None), (12, None)],
)
def test_resume_moves_the_cursor_back_only(stored: int | None, expected: object) -> None:
    assert resume(at(9, 1), stored) == expected


def test_a_resumed_cursor_shows_what_the_tab_missed_while_away() -> None:
    resumed = resume(at(9), 6)
    assert resumed is not None
    assert tuple(e.seq for e in advance(resumed, view(5, 6, 7, 8, 9)).show) == (7, 8, 9)


@pytest.mark.parametrize(
    ("now", "saved", "due"), [(10.0, 0.0, True), (10.0, 8.0, False), (10.0, 7.4, True)]
)
def test_the_cursor_is_saved_again_after_a_quarter_of_its_ttl(
    now: float, saved: float, due: bool
) -> None:
    assert save_due(now, saved, ttl_s=10.0) is due
