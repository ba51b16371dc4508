"""The feed's decisions, as pure functions; the feed thread (``app.feed``) does the I/O.

- :func:`stream_gap`: were entries lost between the feed's cursor and a batch?
  (every livegrid stream numbers its entries with a ``seq`` field, 1, 2, …)
- :func:`extend_ring`: the notification ring after a batch, and its epoch: a
  ``seq`` at or below the newest one already read means the stream started over
  (Redis lost its data), which starts a new epoch (cursors of the old one reset).
- :func:`notifications_on_resync`: after a resync, keep the ring, read what is
  new, or start a new epoch.
- :func:`frames_to_fetch` / :func:`keeps_frame`: which layers' frames to fetch
  (only those some session of the replica shows, only a ``frame_seq`` the view
  lacks unless forced) and which prepared frames a layer keeps.
- :func:`wakes`: which sessions a published view concerns.

No Panel, no Redis here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.view import NotificationEntry


def stream_gap(last_seq: int, seqs: Iterable[int]) -> int | None:
    """The newest ``seq`` after reading ``seqs`` on top of ``last_seq``; None on a gap.

    ``last_seq`` 0 means the feed knows no position yet: the first entry is taken
    as it comes. A ``seq`` that is not the one after its predecessor is a gap.
    """
    last = last_seq
    for seq in seqs:
        if last and seq != last + 1:
            return None
        last = seq
    return last


@dataclass(frozen=True)
class Ring:
    """The replica's bounded ring of recent notifications, as one value."""

    entries: tuple[NotificationEntry, ...]
    seq: int
    epoch: int


def extend_ring(ring: Ring, new: Sequence[NotificationEntry], maxlen: int) -> Ring:
    """``ring`` with ``new`` appended (oldest dropped beyond ``maxlen``).

    An entry whose ``seq`` is not above the newest one read so far means the
    stream started over behind the feed: the ring is emptied and the epoch grows,
    once per restart (the entries after it continue the new stream).
    """
    entries = list(ring.entries)
    epoch = ring.epoch
    newest = ring.seq
    for entry in new:
        if entry.seq <= newest and entries:
            epoch += 1
            entries.clear()
        entries.append(entry)
        newest = entry.seq
    if len(entries) > maxlen:
        entries = entries[len(entries) - max(maxlen, 0) :]
    seq = entries[-1].seq if entries else ring.seq
    return Ring(tuple(entries), seq, epoch)


@dataclass(frozen=True)
class ResyncNotifications:
    """``restart``: the stream is behind the ring (new epoch, empty ring at ``seq``);
    else read the newest ``read`` entries (0: the ring is up to date)."""

    restart: bool = False
    read: int = 0


def notifications_on_resync(stream_seq: int, ring_seq: int, maxlen: int) -> ResyncNotifications:
    """What to do with the ring when the feed resyncs and the stream's newest is ``stream_seq``."""
    if stream_seq < ring_seq:
        return ResyncNotifications(restart=True)
    if stream_seq > ring_seq:
        # New since the ring's last entry (all of it on a fresh replica, for the
        # System tab's log): read what the stream still holds, up to the ring's size.
        return ResyncNotifications(read=min(stream_seq - ring_seq, max(maxlen, 1)))
    return ResyncNotifications()


def frames_to_fetch(
    stored: Mapping[str, int],
    viewed: Mapping[str, int],
    interest: frozenset[str],
    *,
    force: bool,
) -> list[str]:
    """The layers whose frame to fetch, given each layer's stored ``frame_seq``
    (``stored``), the one the replica's view holds (``viewed``, absent: none) and
    the layers some session of this replica shows (``interest``).

    A layer no session shows is not fetched, nor one without a frame yet; one
    whose frame the view already holds only if ``force`` (a resync).
    """
    return [
        lid
        for lid, frame_seq in stored.items()
        if lid in interest and frame_seq and (force or frame_seq != viewed.get(lid, 0))
    ]


def keeps_frame(viewed_frame_seq: int, shown: bool) -> bool:
    """Whether a layer not fetched now keeps the prepared frame its view holds.

    It does while some session shows it (the frame is current); a layer nobody
    shows drops it, so its next viewer fetches the newest frame.
    """
    return bool(viewed_frame_seq) and shown


def wakes(grids: frozenset[str], affected: frozenset[str] | None, *, everyone: bool) -> bool:
    """Whether a session showing ``grids`` is woken for a view that ``affected`` those
    grids (None: everything changed); ``everyone`` for config, jobs and notifications."""
    return affected is None or everyone or bool(grids & affected)
