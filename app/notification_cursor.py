"""A session's notification cursor and the one rule that moves it (pure: no Panel, no Redis).

The cursor is the ``seq`` of the last notification the tab showed, in the
stream of one ``epoch`` (the feed's count of stream restarts, docs/adr/0012).
:func:`advance` decides, from the cursor and what the replica's ring holds now,
what one tick shows:

- a new session starts at the stream's end once the feed is connected (it shows
  nothing of the past);
- a new epoch (Redis lost its data, the stream started over) starts the cursor
  at 0, so everything of the new stream in the ring is shown;
- entries after the cursor are shown once each, oldest first; a gap between the
  cursor and the oldest entry the ring still holds is reported as missed;
- the cursor then moves to the ring's newest ``seq`` and is saved.

:func:`resume` is the rule for a cursor stored by the same browser tab before a
reconnect (``livegrid.stores.cursors``), :func:`save_due` the keep-alive rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.view import NotificationEntry, ReplicaView


@dataclass(frozen=True)
class NotificationCursor:
    """``started`` is False until the session knows the stream's end (the feed connected)."""

    seq: int = 0
    epoch: int = 0
    started: bool = False


@dataclass(frozen=True)
class CursorStep:
    """One tick's notification actions: toast ``show`` (after a ``missed`` warning if > 0),
    then keep ``cursor``; ``save`` says the cursor moved and should be stored."""

    cursor: NotificationCursor
    show: tuple[NotificationEntry, ...] = ()
    missed: int = 0
    save: bool = False


def start(view: ReplicaView) -> NotificationCursor:
    """The cursor of a new session: at the end of the stream the feed knows (if any)."""
    return NotificationCursor(view.notification_seq, view.notification_epoch, view.connected)


def advance(cursor: NotificationCursor, view: ReplicaView) -> CursorStep:
    """What one tick shows of the replica's notifications; see the module docstring."""
    if not cursor.started:
        if view.connected:
            return CursorStep(start(view))
        return CursorStep(cursor)
    if view.notification_epoch != cursor.epoch:
        cursor = NotificationCursor(0, view.notification_epoch, True)
    if view.notification_seq == cursor.seq:
        return CursorStep(cursor)
    entries = view.notifications_after(cursor.seq)
    missed = 0
    if entries and cursor.seq and entries[0].seq > cursor.seq + 1:
        missed = entries[0].seq - cursor.seq - 1
    moved = NotificationCursor(view.notification_seq, cursor.epoch, True)
    return CursorStep(moved, entries, missed, save=True)


def resume(cursor: NotificationCursor, stored_seq: int | None) -> NotificationCursor | None:
    """The cursor after the tab's stored one is read back; None when it changes nothing.

    Only a stored cursor behind this one moves it back (the notifications between
    were shown to the tab's earlier page, not to this one); a stored 0 or one at or
    beyond the current cursor is ignored.
    """
    if stored_seq is not None and 0 < stored_seq < cursor.seq:
        return NotificationCursor(stored_seq, cursor.epoch, cursor.started)
    return None


def save_due(now_s: float, saved_s: float, ttl_s: float) -> bool:
    """Save again once a quarter of the ttl passed: a quiet tab must keep its cursor too."""
    return now_s - saved_s > ttl_s / 4
