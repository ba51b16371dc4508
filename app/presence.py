"""The replica's presence in Redis: its registry entries, its sessions', its viewer marks.

Called by the feed thread about once a second (:meth:`Presence.__call__`), so all
of a replica's sessions cost one batched heartbeat, one viewer-mark script and
one reap per second, whatever their number. A session counts as alive while its
browser is connected (:class:`SessionEntry` ``alive``); a tab whose browser
vanished stops being heartbeated, any replica reaps it after the stale timeout,
and the replica that owns it tears it down (``on_reaped``).

Keys: ``ns:replicas`` + ``ns:replica:{id}``, ``ns:sessions`` + ``ns:session:{id}``
(written), ``ns:workers`` + ``ns:worker:{id}`` and ``ns:services:status`` (read),
``ns:viewers:{layer}``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
import structlog

from app.metrics import ReplicaMetrics
from app.view import ServiceView, SystemView
from livegrid.keyspace import Keyspace
from livegrid.stores.registry import Registry
from livegrid.stores.services import ServiceStatuses
from livegrid.stores.viewers import Viewers

log = structlog.get_logger("livegrid.presence")


@dataclass
class SessionEntry:
    """A session of this replica as the registry shows it; ``details`` may change."""

    details: dict[str, str | int | float]
    alive: Callable[[], bool]
    registered: bool = False
    published: dict[str, str | int | float] = field(default_factory=dict)


class Presence:
    def __init__(
        self,
        client: redis.Redis,
        keyspace: Keyspace,
        *,
        replica_id: str,
        replica_details: dict[str, str | int | float],
        stale_after_s: float,
        viewer_ttl_s: float,
        interest: Callable[[], frozenset[str]],
        on_reaped: Callable[[list[str]], None],
        metrics: ReplicaMetrics,
    ) -> None:
        self.replica_id = replica_id
        self._redis = client
        self._keys = keyspace
        self._details = replica_details
        self._replicas = Registry(client, keyspace, "replicas", stale_after_s=stale_after_s)
        self._sessions_reg = Registry(client, keyspace, "sessions", stale_after_s=stale_after_s)
        self._workers = Registry(client, keyspace, "workers", stale_after_s=stale_after_s)
        self._viewers = Viewers(client, keyspace, ttl_s=viewer_ttl_s)
        self._statuses = ServiceStatuses(client, keyspace)
        self._interest = interest
        self._on_reaped = on_reaped
        self._metrics = metrics
        self._lock = threading.Lock()
        self._sessions: dict[str, SessionEntry] = {}
        self._removed: list[str] = []
        self._marked: frozenset[str] = frozenset()
        self._registered = False

    # --- sessions (any thread) ------------------------------------------------------------

    def add_session(
        self, session_id: str, details: dict[str, str | int | float], alive: Callable[[], bool]
    ) -> None:
        with self._lock:
            self._sessions[session_id] = SessionEntry(
                {**details, "replica": self.replica_id}, alive
            )

    def update_session(self, session_id: str, **details: str | int | float) -> None:
        with self._lock:
            entry = self._sessions.get(session_id)
            if entry is not None:
                entry.details.update(details)

    def remove_session(self, session_id: str) -> None:
        with self._lock:
            if self._sessions.pop(session_id, None) is not None:
                self._removed.append(session_id)

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    # --- the chore (feed thread) ----------------------------------------------------------

    def __call__(self) -> SystemView:
        self._beat()
        self._mark_viewers()
        self._reap()
        return SystemView(
            sessions=tuple(self._sessions_reg.live()),
            replicas=tuple(self._replicas.live()),
            workers=tuple(self._workers.live()),
            services=self._services(),
        )

    def _services(self) -> tuple[ServiceView, ...]:
        """x5f2 statuses the workers stored, aged by Redis server time."""
        return tuple(
            ServiceView(
                id=status.service_id,
                software=status.software,
                host=status.host,
                state=status.state,
                age_ms=status.age_ms,
                quiet=status.quiet,
            )
            for status in self._statuses.read()
        )

    def leave(self) -> None:
        """Remove this replica, its sessions and its viewer marks (clean shutdown)."""
        with self._lock:
            ids = list(self._sessions) + self._removed
            self._sessions.clear()
            self._removed.clear()
        self._sessions_reg.remove(ids)
        self._viewers.unmark(self.replica_id, sorted(self._marked))
        self._replicas.remove([self.replica_id])

    def _beat(self) -> None:
        details = {**self._details, "sessions": len(self._sessions)}
        if not self._registered or self._replicas.heartbeat([self.replica_id]):
            self._replicas.register(self.replica_id, details)
            self._registered = True
        else:
            self._replicas.update(self.replica_id, details)
        with self._lock:
            entries = list(self._sessions.items())
            removed, self._removed = self._removed, []
        self._sessions_reg.remove(removed)
        alive: list[str] = []
        entries_by_id = dict(entries)
        for session_id, entry in entries:
            if not entry.alive():
                continue
            if not entry.registered:
                self._sessions_reg.register(session_id, entry.details)
                entry.registered = True
                entry.published = dict(entry.details)
            elif entry.details != entry.published:
                self._sessions_reg.update(session_id, entry.details)
                entry.published = dict(entry.details)
            alive.append(session_id)
        for session_id in self._sessions_reg.heartbeat(alive):
            # Reaped by another replica while we could not reach Redis: details again.
            self._sessions_reg.update(session_id, dict(entries_by_id[session_id].details))
        self._metrics.sessions.set(len(entries))

    def _mark_viewers(self) -> None:
        interest = self._interest()
        lost = self._marked - interest
        if lost:
            self._viewers.unmark(self.replica_id, sorted(lost))
        self._viewers.mark(self.replica_id, sorted(interest))
        self._marked = interest

    def _reap(self) -> None:
        reaped = self._sessions_reg.reap()
        self._replicas.reap()
        if not reaped:
            return
        self._metrics.sessions_reaped.inc(len(reaped))
        log.info("reaped stale sessions", sessions=reaped)
        dead: list[str] = []
        with self._lock:
            for session_id in reaped:
                entry = self._sessions.get(session_id)
                if entry is None:
                    continue
                if entry.alive():
                    # Stale only because Redis was out of reach: announce it again.
                    entry.registered = False
                else:
                    del self._sessions[session_id]
                    dead.append(session_id)
        if dead:
            self._on_reaped(dead)
