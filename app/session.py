"""One browser tab: the tick that moves it forward, read → decide → apply.

The feed wakes a session (from its thread, data-free) when something it shows
changed; the session's tick then runs on the server's IOLoop: it reads what it
shows (:class:`~app.present_plan.Shown`) and the replica's view, decides the
tick with the pure :func:`~app.present_plan.plan_tick`, and applies the plan
inside one ``pn.io.hold``: a config change rebuilds the tabs and cells it
touched (under ``doc.models.freeze()``, the only structural step; the session
then reads again, so frames go to the cells actually built), the layer patches
of the grid on screen are applied, each notification after the cursor is shown
exactly once, and the side tab on screen is refreshed. A periodic callback is
the safety net for lost wake-ups and ages the freshness texts. A session whose
websocket is backed up (``app.backlog``) presents no frames until it drains,
then the latest: slow browsers skip frames instead of queueing them.

The tab bar (grid and side tabs, focus) is :mod:`app.tab_bar`; the
notification cursor's rules are :mod:`app.notification_cursor`, its Redis
store :mod:`livegrid.stores.cursors`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import panel as pn
import redis
import structlog
from bokeh.document import Document

from app import notification_cursor
from app.actions import Actions
from app.auth.roles import Identity
from app.beacon import Beacon
from app.feed import Feed
from app.html import escape_text
from app.layout import plan_workspace
from app.metrics import ReplicaMetrics
from app.notification_cursor import CursorStep, NotificationCursor
from app.presence import Presence
from app.present_plan import Shown, TickPlan, needs_tick, plan_tick
from app.tab_bar import TabBar
from app.view import ReplicaView
from livegrid.keyspace import Keyspace
from livegrid.models import Level, Notification
from livegrid.stores.cursors import CursorStore, StoredCursor

log = structlog.get_logger("livegrid.session")

_TOAST_MS = {Level.INFO: 4000, Level.SUCCESS: 4000, Level.WARNING: 8000, Level.ERROR: 0}
#: Notification sequence numbers remembered per session for inspection.
SHOWN_HISTORY = 256
#: How often a session whose websocket is backed up looks whether it drained.
BACKLOG_RECHECK_MS = 50

_CSS = """
.lg-banner { padding: 4px 10px; border-radius: 4px; }
.lg-banner[data-state="reconnecting"] { background: #fff3bf; color: #5c4400; }
"""


def header_html(user: str, replica_id: str, identity: Identity | None = None) -> str:
    """The page header: this tab's user, who is signed in with which role, the replica."""
    return (
        f'<b>livegrid</b> &middot; <span data-testid="user">{escape_text(user)}</span> '
        f"{_signed_in_html(identity) if identity is not None else ''}"
        f'&middot; replica <span data-testid="replica">{escape_text(replica_id)}</span>'
    )


class Session:
    def __init__(
        self,
        *,
        session_id: str,
        user: str,
        doc: Document,
        feed: Feed,
        presence: Presence,
        actions: Callable[[Callable[[Level, str], None]], Actions],
        cursors: redis.Redis,
        keyspace: Keyspace,
        metrics: ReplicaMetrics,
        cursor_ttl_s: float,
        backlog: Callable[[], int] = lambda: 0,
        backlog_limit: int = 262_144,
    ) -> None:
        self.id = session_id
        self.user = user
        self._doc = doc
        self._feed = feed
        self._presence = presence
        self._cursor_store = CursorStore(cursors, keyspace, ttl_s=cursor_ttl_s)
        self._cursor_ttl_s = cursor_ttl_s
        self._metrics = metrics
        self._backlog = backlog
        self._backlog_limit = backlog_limit
        #: Ticks that showed no frames because the websocket was backed up.
        self.deferred = 0
        self._deferred_pending = False
        self._recheck_pending = False  # a backlog re-check is scheduled
        self._ticked = -1  # the generation of the view the last tick showed
        self._cursor_saved = 0.0  # time.monotonic() of the last save
        self._closed = False
        # Panel drops the document changes made between the browser's pull of the
        # document and its "document ready" (it assumes the pull will carry them), so
        # after building the first view the session changes nothing until then.
        self._ready = False
        self._wake_pending = threading.Event()
        self._notifications = pn.state.notifications
        view = feed.view
        self.cursor: NotificationCursor = notification_cursor.start(view)
        self.shown: deque[int] = deque(maxlen=SHOWN_HISTORY)
        self._config_version = -1
        self.tab_id = ""
        self._connected: bool | None = None

        self.actions = actions(self.toast)
        self._beacon = Beacon()
        self._banner = pn.pane.HTML("", stylesheets=[_CSS], sizing_mode="stretch_width")
        self._tab_bar = TabBar(
            session_id=session_id,
            doc=doc,
            feed=feed,
            presence=presence,
            actions=self.actions,
            beacon=self._beacon,
            metrics=metrics,
            structural=self._structural,
        )
        self._beacon.param.watch(self._on_tab_id, "tab_id")
        self._beacon.param.watch(self._on_visible, "visible")
        header = pn.pane.HTML(
            header_html(user, view.replica_id, self.actions.identity), sizing_mode="stretch_width"
        )
        self.panel = pn.Column(
            pn.Row(header, self._beacon, sizing_mode="stretch_width"),
            self._banner,
            self._tab_bar.tabs,
            *self._tab_bar.side_panels.values(),
            sizing_mode="stretch_width",
            css_classes=["lg-dashboard"],
        )
        self._tick(view)
        pn.state.onload(self._on_ready)

    @property
    def notification_seq(self) -> int:
        return self.cursor.seq

    @property
    def notification_epoch(self) -> int:
        return self.cursor.epoch

    # --- waking (feed thread) -------------------------------------------------------------

    def wake(self) -> None:
        """Schedule one tick on the session's IOLoop; repeated wake-ups coalesce.

        Nothing is scheduled before the session is ready: its first tick then catches
        up, and Bokeh cannot take a callback added from another thread while it is
        still setting the session up (it may register it twice and fail the page).
        """
        if self._closed or not self._ready or self._wake_pending.is_set():
            return
        self._wake_pending.set()
        try:
            self._doc.add_next_tick_callback(self._on_wake)
        except Exception:  # the document is gone: the session ends on its own
            self._wake_pending.clear()

    def _on_wake(self) -> None:
        self._wake_pending.clear()
        self.tick()

    def periodic(self) -> None:
        """The safety net: tick if a wake-up was lost or a present deferred, age the
        freshness texts and keep the notification cursor alive."""
        view = self._feed.view
        side = self._tab_bar.side_tab_on_screen() is not None
        if needs_tick(view, ticked=self._ticked, deferred=self._deferred_pending, side_tab=side):
            self.tick()
        grid = self._tab_bar.grid
        if self._ready and grid is not None and self._beacon.visible:
            grid.age(time.time_ns())
        self._keep_cursor()

    def _recheck_later(self) -> None:
        """Look at the backlog again soon, and tick once it drained below the limit.

        Without this a deferred present would wait for the next frame or the
        periodic tick (``LIVEGRID_SESSION_TICK_S``), though the browser may take
        the queued bytes within milliseconds.
        """
        if self._recheck_pending:
            return
        self._recheck_pending = True
        try:
            self._doc.add_timeout_callback(self._on_recheck, BACKLOG_RECHECK_MS)
        except Exception:  # the document is gone: the session ends on its own
            self._recheck_pending = False

    def _on_recheck(self) -> None:
        self._recheck_pending = False
        if self._closed or not self._deferred_pending:
            return
        if self._backlogged():
            self._recheck_later()
        else:
            self.tick()

    def _on_ready(self) -> None:
        """The browser rendered the document: from now on every change reaches it."""
        self._ready = True
        self.tick()

    # --- the tick (IOLoop): read → decide → apply -------------------------------------

    def tick(self) -> None:
        if self._ready and not self._closed:
            self._tick(self._feed.view)

    def _read(self) -> Shown:
        """What this session shows now, as a value for :func:`plan_tick`."""
        bar = self._tab_bar
        return Shown(
            config_version=self._config_version,
            tab_ids=tuple(bar.tab_ids),
            grid_id=bar.grid_id,
            grid=bar.grid.shown() if bar.grid is not None else None,
            visible=self._beacon.visible,
            connected=self._connected,
            notifications=self.cursor,
        )

    def _decide(self, view: ReplicaView) -> TickPlan:
        return plan_tick(
            self._read(), view, backlogged=self._backlogged(), plan_grids=plan_workspace
        )

    def _backlogged(self) -> bool:
        return self._backlog() > self._backlog_limit

    def _tick(self, view: ReplicaView) -> None:
        started = time.thread_time()
        with pn.io.hold(self._doc):
            plan = self._decide(view)
            if plan.config is not None:
                with self._structural():
                    self._tab_bar.apply_config(plan.config, view)
                self._config_version = view.config_version
                # Decide the rest on the tabs and cells actually built.
                plan = self._decide(view)
            self._apply(plan, view)
        self._ticked = view.generation
        self._metrics.tick_seconds.observe(time.thread_time() - started)

    def _apply(self, plan: TickPlan, view: ReplicaView) -> None:
        grid = self._tab_bar.grid
        if plan.deferred:
            # The browser has not taken the last frames yet: queue nothing more.
            # The cursors stay behind, so the tick after it drains shows the latest.
            self.deferred += 1
            self._deferred_pending = True
            self._metrics.presents_deferred.inc()
            self._recheck_later()
        elif plan.present is not None and grid is not None:
            self._deferred_pending = False
            grid.apply(plan.present, plan.generation)
        self._show_notifications(plan.notifications)
        if plan.connection is not None:
            self._show_connection(view)
        self._tab_bar.refresh_side_tab(view)

    # --- notifications ----------------------------------------------------------------------

    def _show_notifications(self, step: CursorStep) -> None:
        self.cursor = step.cursor
        if step.missed:
            self.toast(Level.WARNING, f"{step.missed} older notifications were missed; see System.")
        for entry in step.show:
            self._toast_notification(entry.notification)
            self.shown.append(entry.seq)
        if step.save:
            self._save_cursor()

    def _toast_notification(self, item: Notification) -> None:
        prefix = f"{item.job}: " if item.job and item.job not in item.message else ""
        self.toast(item.level, prefix + item.message)
        self._metrics.notifications_shown.inc()

    def toast(self, level: Level, message: str) -> None:
        """Show ``message`` (plain text) in this session only.

        Notyf sets a toast's message as ``innerHTML``: the text is escaped here, once.
        """
        if self._notifications is None:
            log.info("toast", session=self.id, level=level.value, message=message)
            return
        kind = {Level.SUCCESS: "success", Level.WARNING: "warning", Level.ERROR: "error"}
        self._notifications.send(
            escape_text(message), duration=_TOAST_MS.get(level, 4000), type=kind.get(level, "info")
        )

    # --- cursor resume across reconnects --------------------------------------------------

    def _on_tab_id(self, event: Any) -> None:
        """The browser told us which tab this is: resume its notification cursor if stored."""
        self.tab_id = str(event.new)
        if not self.tab_id:
            return
        self._presence.update_session(self.id, tab_id=self.tab_id)
        stored = self._cursor_store.read(self.tab_id)
        resumed = notification_cursor.resume(self.cursor, stored.seq if stored else None)
        if resumed is not None:
            self.cursor = resumed
            self.tick()
        self._save_cursor()

    def _save_cursor(self) -> None:
        if not self.tab_id:
            return
        # If Redis is unreachable the banner says so; the cursor is saved next time.
        if self._cursor_store.save(self.tab_id, StoredCursor(self.cursor.seq, self.cursor.epoch)):
            self._cursor_saved = time.monotonic()

    def _keep_cursor(self) -> None:
        """Save the cursor again well before it expires: a quiet tab must keep it too."""
        if not self._closed and notification_cursor.save_due(
            time.monotonic(), self._cursor_saved, self._cursor_ttl_s
        ):
            self._save_cursor()

    def _on_visible(self, event: Any) -> None:
        if event.new:
            self.tick()

    # --- connection banner -------------------------------------------------------------------

    def _show_connection(self, view: ReplicaView) -> None:
        self._connected = view.connected
        state, text = ("connected", "") if view.connected else ("reconnecting", view.problem)
        message = f"Reconnecting to Redis… {escape_text(text)}" if text else ""
        self._banner.object = (
            f'<div class="lg-banner" data-testid="redis-status" data-state="{state}">'
            f"{message}</div>"
        )

    # --- teardown --------------------------------------------------------------------------

    def close(self) -> None:
        """Release presenters and leave the feed; runs on the session's IOLoop."""
        if self._closed:
            return
        self._closed = True
        self._feed.unsubscribe(self.id)
        self._presence.remove_session(self.id)
        self._tab_bar.close()

    def close_soon(self) -> None:
        """:meth:`close` on the session's IOLoop; callable from any thread."""
        try:
            self._doc.add_next_tick_callback(self.close)
        except Exception:  # the document is already gone
            self.close()

    @contextlib.contextmanager
    def _structural(self) -> Iterator[None]:
        with self._doc.models.freeze():
            yield

    def describe(self) -> dict[str, Any]:
        """What this session showed, for ``/debug/sessions`` and tests."""
        grid = self._tab_bar.grid
        return {
            "id": self.id,
            "user": self.user,
            "tab_id": self.tab_id,
            "grid": self._tab_bar.grid_id,
            "notification_seq": self.cursor.seq,
            "config_version": self._config_version,
            "notifications_shown": list(self.shown),
            "frames": {k: list(v) for k, v in grid.delivered.items()} if grid else {},
            "frames_skipped": grid.skipped if grid else 0,
            "presents_deferred": self.deferred,
        }


def _signed_in_html(identity: Identity) -> str:
    """Who is signed in with which role, or that nobody is (sign-in off)."""
    if not identity.signed_in:
        text = "not signed in: everyone is an operator"
    else:
        text = f"signed in as {escape_text(identity.user)}, role {identity.role.label}"
    return (
        f'<span data-testid="role" data-role="{identity.role.label}">({text})</span> '
        '<a href="/logout" data-testid="logout">sign out</a> '
        if identity.signed_in
        else f'<span data-testid="role" data-role="{identity.role.label}">({text})</span> '
    )
