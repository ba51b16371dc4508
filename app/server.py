"""Composition root of a replica: builds the feed, presence and HTTP routes, serves sessions.

``livegrid app`` calls :func:`run_app`. One process = one replica: one feed
thread, one Tornado IOLoop shared by all sessions. Replicas are stateless:
everything a session shows comes from Redis, so a tab whose replica is gone
reloads through the load balancer (``app/beacon.py``) and any replica rebuilds
the same view.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import threading
import time
from types import FrameType
from typing import Any

import panel as pn
import structlog

from app.actions import Actions
from app.auth.providers import SignIn, build_sign_in
from app.auth.roles import Identity, Permission
from app.backlog import pending_bytes
from app.beacon import RECONNECTING
from app.feed import Feed
from app.http import routes
from app.metrics import ReplicaMetrics
from app.presence import Presence
from app.session import Session
from livegrid.keyspace import Keyspace
from livegrid.log import configure_logging
from livegrid.redis_client import connect
from livegrid.settings import Settings
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore

log = structlog.get_logger("livegrid.app")

#: Shortest websocket ping interval and timeout, whatever ``LIVEGRID_STALE_AFTER_S``.
MIN_WEBSOCKET_PING_S = 5.0


class Replica:
    """The replica's long-lived objects and its registry of live sessions."""

    def __init__(self, settings: Settings, *, port: int, sign_in: SignIn | None = None) -> None:
        self.settings = settings
        self.sign_in = sign_in or SignIn()
        self.id = f"{socket.gethostname()}-{os.getpid()}"
        self.keys = Keyspace(settings.namespace)
        self.metrics = ReplicaMetrics()
        feed_client = connect(settings.redis_url, blocking=True, name=f"livegrid-feed-{self.id}")
        self.client = connect(settings.redis_url, name=f"livegrid-app-{self.id}")
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.presence = Presence(
            feed_client,
            self.keys,
            replica_id=self.id,
            replica_details={"host": socket.gethostname(), "port": port, "pid": os.getpid()},
            stale_after_s=settings.stale_after_s,
            viewer_ttl_s=settings.viewer_ttl_s,
            interest=self._interest,
            on_reaped=self._reaped,
            metrics=self.metrics,
        )
        self.feed = Feed(
            feed_client,
            self.keys,
            url=settings.redis_url,
            replica_id=self.id,
            ring=settings.notification_ring,
            frames_maxlen=settings.frames_maxlen,
            metrics=self.metrics,
            chores=self.presence,
            chore_interval_s=settings.heartbeat_interval_s,
            gather_s=settings.feed_gather_ms / 1000,
        )

    def _interest(self) -> frozenset[str]:
        return self.feed.interest()

    # --- sessions ---------------------------------------------------------------------------

    def create_session(self) -> pn.viewable.Viewable:
        """The Panel app: one call per browser tab, on the IOLoop."""
        doc = pn.state.curdoc
        assert doc is not None, "Panel calls the app inside a session"
        context: Any = doc.session_context
        session_id = context.id
        identity: Identity | None = None
        if self.sign_in.mode != "none":
            request = getattr(context, "request", None)
            identity = self.sign_in.identify(
                getattr(request, "headers", {}) or {}, getattr(request, "cookies", {}) or {}
            )
            if identity is None:  # Bokeh let the request in, but it names nobody we know
                log.warning("session refused: no identity", session=session_id)
                return pn.pane.HTML(
                    '<p data-testid="not-signed-in">Not signed in: <a href="/login">sign in</a> '
                    "to use the dashboard.</p>"
                )
            user = identity.user  # ?user= is ignored when sign-in is on
        else:
            user = _user(context, session_id)
        config = ConfigStore(self.client, self.keys)
        jobs = JobStore(self.client, self.keys)

        def actions(toast: Any) -> Actions:
            return Actions(config, jobs, user=user, toast=toast, identity=identity)

        session = Session(
            session_id=session_id,
            user=user,
            doc=doc,
            feed=self.feed,
            presence=self.presence,
            actions=actions,
            cursors=self.client,
            keyspace=self.keys,
            metrics=self.metrics,
            cursor_ttl_s=self.settings.stale_after_s * 4,
            backlog=lambda: pending_bytes(context),
            backlog_limit=self.settings.session_backlog_bytes,
        )
        with self._lock:
            self.sessions[session_id] = session
        self.feed.subscribe(session_id, session.wake)
        self.presence.add_session(
            session_id,
            {"user": user, "started_at": time.time_ns(), "tab": "-"},
            alive=lambda: _connected(context),
        )
        # Bokeh's reconnect cannot restore a page with plots (see app/beacon.py): the
        # beacon reloads the page through the load balancer instead.
        doc.config.update(reconnect_session=False, notify_connection_status=False)
        pn.state.on_session_destroyed(lambda _ctx: self._close(session_id, session))
        # Panel 1.9 never releases a session's notification area: Bokeh destroys the
        # document first, which drops it from Panel's notification registry, so Panel's
        # own clean-up skips it and ``pn.state._views`` keeps the area, its model and,
        # through them, the whole closed document (about 0.3 MiB per tab ever opened).
        release = getattr(pn.state.notifications, "_server_destroy", None)
        if release is not None:
            pn.state.on_session_destroyed(release)
        # Bokeh's own periodic callback, not Panel's: Panel's updates its busy indicator
        # (param events) around every call, a fifth of a loaded replica's event loop.
        doc.add_periodic_callback(session.periodic, int(self.settings.session_tick_s * 1000))
        log.info(
            "session opened",
            session=session_id,
            user=user,
            role=identity.role.label if identity else "operator (sign-in off)",
        )
        return session.panel

    def _close(self, session_id: str, session: Session) -> None:
        """Bokeh destroyed the session's document: close *this* session, whatever the
        registry says. The reaper may have taken it out of the registry already and
        queued its close on the IOLoop, and Bokeh drops callbacks of a destroyed
        session; closing twice is harmless."""
        with self._lock:
            if self.sessions.get(session_id) is session:
                del self.sessions[session_id]
        session.close()
        log.info("session closed", session=session_id)

    def _reaped(self, session_ids: list[str]) -> None:
        """Sessions whose browser vanished: tear each down on its own IOLoop (feed thread)."""
        for session_id in session_ids:
            with self._lock:
                session = self.sessions.pop(session_id, None)
            if session is not None:
                session.close_soon()

    def describe_sessions(self) -> list[dict[str, Any]]:
        with self._lock:
            sessions = list(self.sessions.values())
        return [s.describe() for s in sessions]

    def describe_process(self) -> dict[str, Any]:
        """Process-wide counts that must return to their start when sessions close."""
        with self._lock:
            sessions = len(self.sessions)
        return {
            "sessions": sessions,
            "panel_views": len(pn.state._views),
            "rss_mib": _rss_mib(),
        }

    def describe_feed(self) -> dict[str, Any]:
        return {"fetched": {lid: list(seqs) for lid, seqs in self.feed.fetched.items()}}

    # --- health -----------------------------------------------------------------------------

    def problem(self) -> str | None:
        """Why this replica should not get new sessions, or None when ready."""
        if not self.feed.alive:
            return "the feed thread is not running"
        view = self.feed.view
        if not view.connected:
            return view.problem or "Redis is not reachable"
        return None


def _user(context: Any, session_id: str) -> str:
    """The authenticated user, else ``?user=`` from the URL, else a guest name."""
    if pn.state.user:
        return str(pn.state.user)
    request = getattr(context, "request", None)
    arguments = getattr(request, "arguments", {}) or {}
    names = arguments.get("user") or []
    if names:
        name = str(names[0].decode(errors="replace")).strip()[:64]
        if name:
            return name
    return f"guest-{session_id[:6]}"


def _debug_refusal(sign_in: SignIn) -> Any:
    """Why a request may not read ``/debug/*`` (None when its user is an admin)."""

    def refusal(handler: Any) -> str | None:
        identity = sign_in.whois(handler)
        if identity is None:
            return "Sign-in required: /debug/* is for admins."
        return None if identity.may(Permission.DEBUG) else identity.refusal(Permission.DEBUG)

    return refusal


def _rss_mib() -> float:
    """This process's resident set size (Linux), 0 where ``/proc`` is missing."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _connected(context: Any) -> bool:
    """Whether the session's browser holds a websocket to this replica now.

    Bokeh closes a websocket whose peer stops answering pings, so a vanished
    browser reads as disconnected within the ping timeout.
    """
    server_session = getattr(context, "_session", None)
    if server_session is None:
        return True  # still being created
    return int(getattr(server_session, "connection_count", 0)) > 0


def run_app(settings: Settings, *, port: int, address: str) -> int:
    """Serve the dashboard until SIGTERM/SIGINT; then leave the registries and exit 0."""
    configure_logging(settings, process="app")
    # Full collections of a replica holding many sessions' models paused the IOLoop
    # for up to 1.8 s every ~10 s (docs/benchmarks.md); collect the old generations
    # far less often.
    gc.set_threshold(50_000, 20, 100)
    pn.extension(notifications=True, disconnect_notification=RECONNECTING)
    sign_in = build_sign_in(settings)
    replica = Replica(settings, port=port, sign_in=sign_in)
    replica.feed.start()
    origins = settings.allow_websocket_origin or [f"{address}:{port}", f"localhost:{port}"]
    extra: dict[str, Any] = {}
    if settings.secret_key is not None:
        extra = {"secret_key": settings.secret_key.get_secret_value(), "sign_sessions": True}
    extra.update(sign_in.serve_kwargs())
    debug = settings.debug_endpoints
    if debug and sign_in.mode == "oidc":
        log.warning("debug endpoints stay off with LIVEGRID_AUTH_MODE=oidc")
        debug = False
    ping_s = max(settings.stale_after_s / 3, 1.0)
    # Bokeh caps the ping timeout at the ping interval. Below a few seconds a busy
    # replica or link (a page being pulled, a slow browser's backlog) delays a pong
    # past it and the tab is dropped and reloads; a dead peer is usually closed by
    # its kernel at once, so only a silently lost network path waits this long.
    websocket_ping_s = max(ping_s, MIN_WEBSOCKET_PING_S)
    server = pn.serve(
        {"/": replica.create_session},
        port=port,
        address=address,
        show=False,
        start=False,
        title="livegrid",
        websocket_origin=origins,
        extra_patterns=routes(
            registry=replica.metrics.registry,
            problem=replica.problem,
            describe_sessions=replica.describe_sessions if debug else None,
            describe_feed=replica.describe_feed if debug else None,
            describe_process=replica.describe_process if debug else None,
            debug_refusal=None if sign_in.mode == "none" else _debug_refusal(sign_in),
        ),
        session_token_expiration=settings.session_token_expiration_s,
        check_unused_sessions_milliseconds=int(ping_s * 1000),
        unused_session_lifetime_milliseconds=int(settings.stale_after_s * 1000),
        websocket_ping_interval=websocket_ping_s,
        websocket_ping_timeout=websocket_ping_s,
        **extra,
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping replica", signal=signal.Signals(signum).name)
        server.io_loop.add_callback_from_signal(server.io_loop.stop)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    log.info("replica serving", url=f"http://{address}:{port}/", replica=replica.id)
    print(f"livegrid replica {replica.id} serving at http://{address}:{port}/", flush=True)
    try:
        server.io_loop.start()
    finally:
        replica.feed.stop()
        try:
            replica.presence.leave()
        except Exception as exc:  # Redis gone at shutdown: the registries reap us instead
            log.warning("could not leave the registries", error=str(exc))
        server.stop()
    return 0
