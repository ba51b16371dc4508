"""The replica's one reader of Redis: tails the streams, fetches frames once, wakes sessions.

One :class:`Feed` thread per replica process, with its own connection. It
``XREAD``s ``ns:frames``, ``ns:notifications``, ``ns:config:log`` and
``ns:jobs:log``; for each new ``frame_seq`` of a layer some session of this
replica shows, it fetches the frame (one pipelined round trip per batch),
decodes and prepares it once, and publishes a new immutable
:class:`~app.view.ReplicaView`. Then it wakes the sessions whose grid changed;
the wake-up carries no data, a session reads ``feed.view`` on its own IOLoop.

Its decisions (gaps, the notification epoch, what to fetch, whom to wake) are
the pure functions of :mod:`app.feed_decisions`; this module does their I/O.
A ``seq`` jump in any stream (entries trimmed before we read them, a Redis
restart) or a lost connection makes the feed resync from the state keys. After a
frame event it waits ``gather_s`` for the rest of the burst, so the layers a
worker publishes together reach a session in one patch. Its periodic chores
(:class:`~app.presence.Presence`) run between reads.

Keys read: ``ns:frames``, ``ns:notifications``, ``ns:config``, ``ns:config:log``,
``ns:jobs``, ``ns:jobs:log``, ``ns:job:{id}:status``, ``ns:layer:{id}``,
``ns:layer:{id}:frame``, ``ns:catalogue``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import redis
import structlog

from app.feed_decisions import (
    Ring,
    extend_ring,
    frames_to_fetch,
    keeps_frame,
    notifications_on_resync,
    stream_gap,
    wakes,
)
from app.frames import view_of_frame, view_of_overlay
from app.metrics import ReplicaMetrics
from app.view import LayerView, NotificationEntry, ReplicaView, SystemView
from livegrid.keyspace import Keyspace
from livegrid.models import Notification, Workspace
from livegrid.redis_client import describe_connection_error, redact, text
from livegrid.stores.catalogue import CatalogueStore
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore

log = structlog.get_logger("livegrid.feed")

#: How long one XREAD waits; also how soon a new interest is served.
BLOCK_MS = 250
#: Entries read per stream and batch.
BATCH = 1_000
_RETRY_S = (0.2, 0.5, 1.0, 2.0)
#: Frame sequence numbers remembered per layer for ``/debug/feed``.
FETCH_HISTORY = 64

Wake = Callable[[], None]


class Feed:
    """Owns the replica's view of Redis; see the module docstring.

    ``chores`` runs in the feed thread about every ``chore_interval_s`` with the
    feed's client; it returns the live registry members for the System tab.
    """

    def __init__(
        self,
        client: redis.Redis,
        keyspace: Keyspace,
        *,
        url: str,
        replica_id: str,
        ring: int,
        frames_maxlen: int,
        metrics: ReplicaMetrics,
        chores: Callable[[], SystemView] | None = None,
        chore_interval_s: float = 1.0,
        gather_s: float = 0.0,
    ) -> None:
        self._redis = client
        self._keys = keyspace
        self._url = url
        self._layers_store = LayerStore(client, keyspace, frames_maxlen=frames_maxlen)
        self._config = ConfigStore(client, keyspace)
        self._jobs = JobStore(client, keyspace)
        self._catalogue = CatalogueStore(client, keyspace)
        self._metrics = metrics
        self._chores = chores
        self._chore_interval_s = chore_interval_s
        self._gather_s = gather_s
        self._ring_size = ring
        self._view = ReplicaView(replica_id=replica_id)
        self._cursors: dict[str, str] = {}
        self._seqs: dict[str, int] = {}
        self._interest: dict[str, frozenset[str]] = {}
        self._subscribers: dict[str, tuple[Wake, frozenset[str]]] = {}
        self._fetched_interest: frozenset[str] = frozenset()
        #: Recent frame_seqs fetched per layer, for ``/debug/feed``.
        self.fetched: dict[str, deque[int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._need_resync = True
        self._next_chores = 0.0
        self.running = False
        self._thread = threading.Thread(target=self._run, name="replica-feed", daemon=True)

    # --- API for sessions (any thread) ---------------------------------------------------

    @property
    def view(self) -> ReplicaView:
        """The latest view; an immutable value, safe to read from any thread."""
        return self._view

    def subscribe(self, session_id: str, wake: Wake, grids: Iterable[str] = ()) -> None:
        """Call ``wake`` (from the feed thread) when something a session shows changed."""
        with self._lock:
            _, shown = self._subscribers.get(session_id, (wake, frozenset()))
            self._subscribers[session_id] = (wake, frozenset(grids) | shown)

    def show(self, session_id: str, grids: Iterable[str], layers: Iterable[str]) -> None:
        """The grids and layers a session shows now; their frames are fetched from now on."""
        with self._lock:
            wake, _ = self._subscribers.get(session_id, (_no_wake, frozenset()))
            self._subscribers[session_id] = (wake, frozenset(grids))
            self._interest[session_id] = frozenset(layers)

    def unsubscribe(self, session_id: str) -> None:
        with self._lock:
            self._subscribers.pop(session_id, None)
            self._interest.pop(session_id, None)

    def interest(self) -> frozenset[str]:
        """Every layer some session of this replica shows."""
        with self._lock:
            return frozenset().union(*self._interest.values())

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.running = True
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self.running = False

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- the loop -------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if self._need_resync:
                    self._resync()
                self._step()
                if failures:
                    log.info("redis reachable again", url=redact(self._url))
                failures = 0
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self._metrics.redis_errors.inc()
                if not failures:
                    log.warning("redis unreachable", error=str(exc))
                failures += 1
                self._need_resync = True
                problem = describe_connection_error(self._url, exc)
                if self._view.connected or self._view.problem != problem:
                    self._publish(replace(self._view, connected=False, problem=problem), None)
                self._stop.wait(_RETRY_S[min(failures, len(_RETRY_S)) - 1])
            except Exception:
                # A bug must not silently end the replica's only reader: log, resync, go on.
                self._metrics.redis_errors.inc()
                log.exception("feed step failed; resyncing")
                self._need_resync = True
                self._stop.wait(1.0)

    def _step(self) -> None:
        interest = self.interest()
        if interest - self._fetched_interest:
            # A layer some session shows again: fetch its frame only if the view lacks it.
            self._fetch_layers(interest - self._fetched_interest, force=False)
        self._fetched_interest = interest
        if time.monotonic() >= self._next_chores:
            self._next_chores = time.monotonic() + self._chore_interval_s
            self._run_chores()
        streams: dict[Any, Any] = {
            self._keys.frames: self._cursors[self._keys.frames],
            self._keys.notifications: self._cursors[self._keys.notifications],
            self._keys.config_log: self._cursors[self._keys.config_log],
            self._keys.jobs_log: self._cursors[self._keys.jobs_log],
        }
        reply: Any = self._redis.xread(streams, count=BATCH, block=BLOCK_MS)
        if (
            reply
            and self._gather_s > 0
            and any(text(stream) == self._keys.frames for stream, _ in reply)
        ):
            reply = self._gather(streams, reply)
        if reply:
            self._apply(reply)

    def _gather(self, streams: dict[Any, Any], reply: Any) -> Any:
        """Wait ``gather_s`` after a frame event, then read what came meanwhile.

        Workers write the layers of one tick a few ms apart; taken together they
        reach each session as one patch instead of one each, and a session's patch
        costs the replica about as much for one layer as for six.
        """
        self._stop.wait(self._gather_s)
        merged: dict[str, list[Any]] = {text(name): list(entries) for name, entries in reply}
        after = dict(streams)
        for name, entries in merged.items():
            if entries:
                after[name] = text(entries[-1][0])
        more: Any = self._redis.xread(after, count=BATCH)
        for name, entries in more or []:
            merged.setdefault(text(name), []).extend(entries)
        return list(merged.items())

    def _run_chores(self) -> None:
        statuses = self._jobs.statuses(sorted(self._view.jobs))
        system = self._chores() if self._chores is not None else self._view.system
        view = self._view
        changed_status = statuses != view.statuses
        changed_system = system != view.system
        if changed_status or changed_system or not view.connected:
            self._publish(
                replace(
                    view,
                    connected=True,
                    problem="",
                    statuses=statuses,
                    jobs_generation=view.jobs_generation + int(changed_status),
                    system=system,
                    system_generation=view.system_generation + int(changed_system),
                ),
                None,
            )

    # --- applying stream entries ---------------------------------------------------------

    def _apply(self, reply: Any) -> None:
        by_stream: dict[str, list[tuple[str, dict[bytes, bytes]]]] = {}
        for stream, entries in reply:
            name = text(stream)
            decoded = [(text(entry_id), fields) for entry_id, fields in entries]
            if self._gap(name, decoded):
                self._metrics.resyncs.inc()
                log.info("stream gap; resyncing", stream=name)
                self._resync()
                return
            by_stream[name] = decoded
            if decoded:
                self._cursors[name] = decoded[-1][0]
        self._metrics.feed_batches.inc()
        config_changed = bool(by_stream.get(self._keys.config_log))
        jobs_changed = bool(by_stream.get(self._keys.jobs_log))
        view = self._view
        if config_changed:
            view = self._with_config(view)
        if jobs_changed:
            view = replace(view, jobs=self._jobs.all(), jobs_generation=view.jobs_generation + 1)
        view = self._with_notifications(view, by_stream.get(self._keys.notifications, []))
        touched = {text(f[b"layer"]) for _, f in by_stream.get(self._keys.frames, [])}
        self._track_lag(by_stream.get(self._keys.frames, []))
        affected: set[str] = set()
        if touched:
            view, affected = self._with_layers(view, touched, force=False)
        if config_changed:
            affected |= {g.id for g in view.workspace.grids}
        news = bool(by_stream.get(self._keys.notifications))
        self._publish(view, affected, everyone=config_changed or jobs_changed or news)

    def _gap(self, stream: str, entries: list[tuple[str, dict[bytes, bytes]]]) -> bool:
        """True if entries were lost between our cursor and this batch."""
        seqs = [int(fields.get(b"seq", 0) or 0) for _, fields in entries]
        last = stream_gap(self._seqs.get(stream, 0), seqs)
        if last is None:
            return True
        self._seqs[stream] = last
        return False

    def _track_lag(self, entries: list[tuple[str, dict[bytes, bytes]]]) -> None:
        if entries:
            newest_ms = int(entries[-1][0].split("-")[0])
            self._metrics.feed_lag.set(max(time.time() - newest_ms / 1000, 0.0))

    def _with_config(self, view: ReplicaView) -> ReplicaView:
        snapshot = self._config.read()
        layers = _with_overlays(dict(view.layers), snapshot.workspace)
        known = {layer.id for _, _, layer in snapshot.workspace.layers()}
        layers = {lid: lv for lid, lv in layers.items() if lid in known}
        return replace(
            view,
            config_version=snapshot.version,
            config_user=snapshot.user,
            workspace=snapshot.workspace,
            layers=layers,
            catalogue=self._catalogue.read(),
        )

    def _with_notifications(
        self, view: ReplicaView, entries: list[tuple[str, dict[bytes, bytes]]]
    ) -> ReplicaView:
        if not entries:
            return view
        new: list[NotificationEntry] = []
        for _, fields in entries:
            try:
                item = Notification.from_fields(fields)
            except ValueError as exc:
                log.warning("unreadable notification skipped", error=str(exc))
                continue
            new.append(NotificationEntry(item.seq, item))
        ring = Ring(view.notifications, view.notification_seq, view.notification_epoch)
        ring = extend_ring(ring, new, self._ring_size)
        return replace(
            view,
            notifications=ring.entries,
            notification_seq=ring.seq,
            notification_epoch=ring.epoch,
        )

    def _with_layers(
        self, view: ReplicaView, layer_ids: Iterable[str], *, force: bool
    ) -> tuple[ReplicaView, set[str]]:
        """Read the state of ``layer_ids``; fetch new frames of those some session shows."""
        known = {
            layer.id: grid.id for grid, _, layer in view.workspace.layers() if not layer.is_static
        }
        wanted = [lid for lid in layer_ids if lid in known]
        if not wanted:
            return view, set()
        snapshots = self._layers_store.snapshots(wanted)
        interest = self.interest()
        viewed = {lid: lv.frame_seq for lid, lv in view.layers.items()}
        stored = {lid: snap.frame_seq for lid, snap in snapshots.items()}
        to_fetch = frames_to_fetch(stored, viewed, interest, force=force)
        fetched = self._layers_store.fetch(to_fetch) if to_fetch else {}
        self._metrics.frames_fetched.inc(len([f for f in fetched.values() if f[1] is not None]))
        layers = dict(view.layers)
        for lid, snap in snapshots.items():
            if lid in fetched:
                fresh_snap, raw = fetched[lid]
                layers[lid] = view_of_frame(fresh_snap, raw, layers.get(lid))
                history = self.fetched.setdefault(lid, deque(maxlen=FETCH_HISTORY))
                history.append(fresh_snap.frame_seq)
            else:
                old = layers.get(lid)
                keep = old is not None and keeps_frame(old.frame_seq, lid in interest)
                layers[lid] = (
                    replace(old, snapshot=snap) if keep and old is not None else LayerView(snap)
                )
        return replace(view, layers=layers), {known[lid] for lid in wanted}

    def _fetch_layers(self, layer_ids: Iterable[str], *, force: bool) -> None:
        view, affected = self._with_layers(self._view, layer_ids, force=force)
        self._publish(view, affected)

    # --- resync ---------------------------------------------------------------------------

    def _resync(self) -> None:
        """Rebuild the view from the state keys; cursors first, so nothing falls between."""
        for stream in (
            self._keys.frames,
            self._keys.notifications,
            self._keys.config_log,
            self._keys.jobs_log,
        ):
            newest: Any = self._redis.xrevrange(stream, count=1)
            self._cursors[stream] = text(newest[0][0]) if newest else "0-0"
            self._seqs[stream] = int(newest[0][1].get(b"seq", 0)) if newest else 0
        view = self._with_config(replace(self._view, layers={}))
        view = replace(
            view,
            jobs=self._jobs.all(),
            jobs_generation=view.jobs_generation + 1,
            connected=True,
            problem="",
        )
        view = self._resync_notifications(view)
        all_layers = [layer.id for _, _, layer in view.workspace.layers()]
        view, _ = self._with_layers(view, all_layers, force=True)
        self._fetched_interest = self.interest()
        self._need_resync = False
        self._publish(view, {g.id for g in view.workspace.grids}, everyone=True)

    def _resync_notifications(self, view: ReplicaView) -> ReplicaView:
        """Keep the ring if the stream still continues it, else start a new epoch."""
        seq = self._seqs[self._keys.notifications]
        decision = notifications_on_resync(seq, view.notification_seq, self._ring_size)
        if decision.restart:
            return replace(
                view,
                notifications=(),
                notification_seq=seq,
                notification_epoch=view.notification_epoch + 1,
            )
        if decision.read:
            recent: Any = self._redis.xrevrange(self._keys.notifications, count=decision.read)
            entries = [(text(i), f) for i, f in reversed(recent)]
            return self._with_notifications(view, entries)
        return view

    # --- publishing -----------------------------------------------------------------------

    def _publish(
        self, view: ReplicaView, affected: set[str] | None, *, everyone: bool = False
    ) -> None:
        """Swap in ``view`` and wake the sessions showing an affected grid (all if None)."""
        generations = dict(view.grid_generations)
        for grid in affected or ():
            generations[grid] = generations.get(grid, 0) + 1
        self._view = replace(view, generation=view.generation + 1, grid_generations=generations)
        with self._lock:
            subscribers = list(self._subscribers.values())
        concerned = frozenset(affected) if affected is not None else None
        for wake, grids in subscribers:
            if wakes(grids, concerned, everyone=everyone):
                wake()


def _no_wake() -> None:
    """The wake-up of a session that showed a grid before it subscribed."""


def _with_overlays(layers: dict[str, LayerView], workspace: Workspace) -> dict[str, LayerView]:
    """Draw every static overlay new to the workspace (overlays never change: docs/adr/0002)."""
    for _, _, layer in workspace.layers():
        if layer.is_static and layer.id not in layers:
            layers[layer.id] = view_of_overlay(layer)
    return layers
