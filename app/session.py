"""One browser tab: its cursors, its presenters and the tick that moves them forward.

The feed wakes a session (from its thread, data-free) when something it shows
changed; the session's tick then runs on the server's IOLoop and, inside one
``pn.io.hold``: rebuilds what a config change touched (under
``doc.models.freeze()``, the only structural step), presents the layers of the
grid on screen whose ``version`` or ``frame_seq`` moved, shows each notification
after its cursor exactly once, and refreshes the side tab on screen. A periodic
callback is the safety net for lost wake-ups and ages the freshness texts. A
session whose websocket is backed up (``app.backlog``) presents no frames until
it drains, then the latest: slow browsers skip frames instead of queueing them.

Cursors: ``notification_seq`` (with the feed's epoch), ``config_version``, and
per layer ``(version, frame_seq)`` inside each :class:`~app.grid_view.GridView`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from html import escape
from typing import Any

import panel as pn
import redis
import structlog
from bokeh.document import Document

from app.actions import Actions
from app.auth.roles import Identity
from app.beacon import Beacon
from app.feed import Feed
from app.grid_view import GridView
from app.layout import GridPlan, plan_workspace
from app.metrics import ReplicaMetrics
from app.presence import Presence
from app.view import ReplicaView
from app.widgets import JobsTab, ManageTab, SystemTab
from livegrid.keyspace import Keyspace
from livegrid.models import Level, Notification

log = structlog.get_logger("livegrid.session")

_TOAST_MS = {Level.INFO: 4000, Level.SUCCESS: 4000, Level.WARNING: 8000, Level.ERROR: 0}
_SIDE_TABS = ("Jobs", "Manage", "System")
#: Notification sequence numbers remembered per session for inspection.
SHOWN_HISTORY = 256
#: How often a session whose websocket is backed up looks whether it drained.
BACKLOG_RECHECK_MS = 50

_CSS = """
.lg-banner { padding: 4px 10px; border-radius: 4px; }
.lg-banner[data-state="reconnecting"] { background: #fff3bf; color: #5c4400; }
"""


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
        self._cursors = cursors
        self._keys = keyspace
        self._metrics = metrics
        self._cursor_ttl_ms = int(cursor_ttl_s * 1000)
        self._backlog = backlog
        self._backlog_limit = backlog_limit
        #: Ticks that showed no frames because the websocket was backed up.
        self.deferred = 0
        self._deferred_pending = False
        self._recheck_pending = False  # a backlog re-check is scheduled
        self._ticked: ReplicaView | None = None  # the view the last tick showed
        self._cursor_saved = 0.0  # time.monotonic() of the last save
        self._closed = False
        # Panel drops the document changes made between the browser's pull of the
        # document and its "document ready" (it assumes the pull will carry them), so
        # after building the first view the session changes nothing until then.
        self._ready = False
        self._wake_pending = threading.Event()
        self._notifications = pn.state.notifications
        view = feed.view
        self.notification_seq = view.notification_seq
        self.notification_epoch = view.notification_epoch
        self._cursor_set = view.connected
        self.shown: deque[int] = deque(maxlen=SHOWN_HISTORY)
        self._config_version = -1
        self._plans: dict[str, GridPlan] = {}
        self._grid: GridView | None = None
        self._grid_id = ""
        self._tab_ids: list[str] = []
        self._containers: dict[str, pn.Column] = {}
        self.tab_id = ""
        self._connected: bool | None = None

        self.actions = actions(self.toast)
        self._beacon = Beacon()
        self._banner = pn.pane.HTML("", stylesheets=[_CSS], sizing_mode="stretch_width")
        self._tabs = pn.Tabs(sizing_mode="stretch_width", dynamic=False)
        self._tabs.param.watch(self._on_tab, "active")
        # The side tabs' content lives below the tab bar, not in it: a grid added or
        # removed elsewhere changes the tab bar's children, and Bokeh re-attaches those,
        # which would take the keyboard focus from a form being filled in. Each is built
        # when first shown: most tabs never open them, and their widgets are a third of
        # a session's models.
        self._side: dict[str, JobsTab | ManageTab | SystemTab] = {}
        self._side_panels = {
            name: pn.Column(visible=False, sizing_mode="stretch_width") for name in _SIDE_TABS
        }
        self._side_slots = {name: pn.Spacer(height=0) for name in _SIDE_TABS}
        self._beacon.param.watch(self._on_tab_id, "tab_id")
        self._beacon.param.watch(self._on_screen, "screen")
        self._beacon.param.watch(self._on_visible, "visible")
        header = pn.pane.HTML(
            f'<b>livegrid</b> &middot; <span data-testid="user">{escape(user)}</span> '
            f"{_signed_in_html(self.actions.identity)}"
            f'&middot; replica <span data-testid="replica">{view.replica_id}</span>',
            sizing_mode="stretch_width",
        )
        self.panel = pn.Column(
            pn.Row(header, self._beacon, sizing_mode="stretch_width"),
            self._banner,
            self._tabs,
            *self._side_panels.values(),
            sizing_mode="stretch_width",
            css_classes=["lg-dashboard"],
        )
        self._tick(view)
        pn.state.onload(self._on_ready)

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
        if (
            self._feed.view is not self._ticked
            or self._deferred_pending
            or self._side_tab_on_screen() is not None
        ):
            self.tick()
        if self._ready and self._grid is not None and self._beacon.visible:
            self._grid.age(time.time_ns())
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
        if self._backlog() > self._backlog_limit:
            self._recheck_later()
        else:
            self.tick()

    def _on_ready(self) -> None:
        """The browser rendered the document: from now on every change reaches it."""
        self._ready = True
        self.tick()

    # --- the tick (IOLoop) ----------------------------------------------------------------

    def tick(self) -> None:
        if self._ready and not self._closed:
            self._tick(self._feed.view)

    def _tick(self, view: ReplicaView) -> None:
        started = time.thread_time()
        with pn.io.hold(self._doc):
            if view.config_version != self._config_version:
                with self._structural():
                    self._apply_config(view)
            grid = self._grid
            if (
                grid is not None
                and self._beacon.visible
                and grid.generation != view.grid_generations.get(grid.plan.id, 0)
            ):
                if self._backlog() > self._backlog_limit:
                    # The browser has not taken the last frames yet: queue nothing more.
                    # The cursors stay behind, so the tick after it drains shows the latest.
                    self.deferred += 1
                    self._deferred_pending = True
                    self._metrics.presents_deferred.inc()
                    self._recheck_later()
                else:
                    self._deferred_pending = False
                    grid.present(view)
            self._show_notifications(view)
            self._show_connection(view)
            self._refresh_side_tab(view)
        self._ticked = view
        self._metrics.tick_seconds.observe(time.thread_time() - started)

    def _apply_config(self, view: ReplicaView) -> None:
        plans = {plan.id: plan for plan in plan_workspace(view.workspace)}
        self._plans = plans
        if list(plans) != self._tab_ids:
            self._retab(plans, view)
        elif self._grid is not None and self._grid_id in plans:
            self._grid.sync(plans[self._grid_id], view)
        self._config_version = view.config_version

    def _retab(self, plans: dict[str, GridPlan], view: ReplicaView) -> None:
        """Make the grid tabs those of ``plans``; the tab on screen stays on screen.

        Grids that stay keep their tab content (the grid on screen is synced, not
        rebuilt) and the side tabs keep theirs, so a grid added or removed elsewhere
        takes neither this tab's focus nor its half-typed form input. Only when the
        grid on screen was removed does the first grid take its place.
        """
        side = self._side_tab_on_screen()
        ids = list(plans)
        self._containers = {
            g: self._containers.get(g) or pn.Column(sizing_mode="stretch_width") for g in ids
        }
        self._tab_ids = ids
        self._tabs[:] = [(plans[g].title, self._containers[g]) for g in ids] + [
            (name, self._side_slots[name]) for name in _SIDE_TABS
        ]
        if self._grid is not None and self._grid_id in plans:
            self._grid.sync(plans[self._grid_id], view)
        else:
            self._show_grid(ids[0] if ids else "", plans, view)
        if side is not None:
            self._tabs.active = len(ids) + _SIDE_TABS.index(side)
        else:
            self._tabs.active = ids.index(self._grid_id) if self._grid_id in ids else len(ids)
        side = self._side_tab_on_screen()
        self._show_side(side)
        self._beacon.screen = side or self._grid_id

    def _side_tab_on_screen(self) -> str | None:
        if not len(self._tabs):
            return None
        index = self._tabs.active - len(self._tab_ids)
        return _SIDE_TABS[index] if 0 <= index < len(_SIDE_TABS) else None

    def _show_grid(self, grid_id: str, plans: dict[str, GridPlan], view: ReplicaView) -> None:
        """Build the grid on screen; dispose the one that left it (hidden grids cost nothing)."""
        if self._grid is not None:
            self._grid.dispose()
            self._grid = None
        self._grid_id = grid_id
        plan = plans.get(grid_id)
        layers: frozenset[str] = frozenset()
        if plan is not None:
            grid = GridView(plan, metrics=self._metrics, structural=self._structural)
            grid.sync(plan, view)
            self._grid = grid
            self._containers[grid_id].objects = [grid.panel]
            layers = plan.layer_ids
        self._feed.show(self.id, [grid_id] if grid_id else [], layers)
        self._presence.update_session(self.id, tab=grid_id or "-")

    def _on_tab(self, event: Any) -> None:
        side = self._side_tab_on_screen()
        with pn.io.hold(self._doc):
            self._show_side(side)
            if side is not None:
                self._presence.update_session(self.id, tab=side)
                self._refresh_side_tab(self._feed.view, force=True)
            elif event.new < len(self._tab_ids):
                self._to_grid(self._tab_ids[event.new])
            self._beacon.screen = side or self._grid_id

    def _to_grid(self, grid_id: str) -> None:
        if grid_id == self._grid_id:
            self._presence.update_session(self.id, tab=grid_id)
            return
        with self._structural():
            if self._grid_id in self._containers:
                self._containers[self._grid_id].objects = []
            self._show_grid(grid_id, self._plans, self._feed.view)
            if self._grid is not None:
                self._grid.present(self._feed.view)

    def _on_screen(self, event: Any) -> None:
        """The browser names the tab it showed before a reload: show that tab again."""
        names = [*self._tab_ids, *_SIDE_TABS]
        if event.new in names:
            self._tabs.active = names.index(event.new)
        else:
            self._beacon.screen = self._side_tab_on_screen() or self._grid_id

    def _show_side(self, side: str | None) -> None:
        """Show the content of side tab ``side`` below the tab bar (None: no side tab)."""
        if side is not None and side not in self._side:
            built = self._build_side(side)
            self._side[side] = built
            self._side_panels[side].objects = [built.panel]
        for name, side_panel in self._side_panels.items():
            if side_panel.visible != (name == side):
                side_panel.visible = name == side

    def _build_side(self, side: str) -> JobsTab | ManageTab | SystemTab:
        if side == "Jobs":
            return JobsTab(self.actions)
        if side == "Manage":
            return ManageTab(self.actions)
        return SystemTab()

    def _refresh_side_tab(self, view: ReplicaView, *, force: bool = False) -> None:
        side = self._side_tab_on_screen()
        tab = self._side.get(side) if side is not None else None
        if isinstance(tab, SystemTab):
            tab.refresh(view, time.time_ns())
        elif tab is not None:
            tab.refresh(view)

    # --- notifications ----------------------------------------------------------------------

    def _show_notifications(self, view: ReplicaView) -> None:
        if not self._cursor_set:
            # A new session starts at the stream's end, once the feed knows where that is.
            if view.connected:
                self._cursor_set = True
                self.notification_seq = view.notification_seq
                self.notification_epoch = view.notification_epoch
            return
        if view.notification_epoch != self.notification_epoch:
            self.notification_epoch = view.notification_epoch
            self.notification_seq = 0
        if view.notification_seq == self.notification_seq:
            return
        entries = view.notifications_after(self.notification_seq)
        if entries and self.notification_seq and entries[0].seq > self.notification_seq + 1:
            missed = entries[0].seq - self.notification_seq - 1
            self.toast(Level.WARNING, f"{missed} older notifications were missed; see System.")
        for entry in entries:
            self._toast_notification(entry.notification)
            self.shown.append(entry.seq)
        self.notification_seq = view.notification_seq
        self._save_cursor()

    def _toast_notification(self, item: Notification) -> None:
        prefix = f"{item.job}: " if item.job and item.job not in item.message else ""
        self.toast(item.level, prefix + item.message)
        self._metrics.notifications_shown.inc()

    def toast(self, level: Level, message: str) -> None:
        """Show ``message`` in this session only."""
        if self._notifications is None:
            log.info("toast", session=self.id, level=level.value, message=message)
            return
        kind = {Level.SUCCESS: "success", Level.WARNING: "warning", Level.ERROR: "error"}
        self._notifications.send(
            message, duration=_TOAST_MS.get(level, 4000), type=kind.get(level, "info")
        )

    # --- cursor resume across reconnects --------------------------------------------------

    def _on_tab_id(self, event: Any) -> None:
        """The browser told us which tab this is: resume its notification cursor if stored."""
        self.tab_id = str(event.new)
        if not self.tab_id:
            return
        self._presence.update_session(self.id, tab_id=self.tab_id)
        try:
            raw: Any = self._cursors.get(self._keys.session_cursor(self.tab_id))
        except redis.RedisError:
            return
        if raw:
            seq_text, _, _epoch = raw.decode().partition(":")
            seq = int(seq_text)
            if 0 < seq < self.notification_seq:
                self.notification_seq = seq
                self.tick()
        self._save_cursor()

    def _save_cursor(self) -> None:
        if not self.tab_id:
            return
        # If Redis is unreachable the banner says so; the cursor is saved next time.
        with contextlib.suppress(redis.RedisError):
            self._cursors.set(
                self._keys.session_cursor(self.tab_id),
                f"{self.notification_seq}:{self.notification_epoch}",
                px=self._cursor_ttl_ms,
            )
            self._cursor_saved = time.monotonic()

    def _keep_cursor(self) -> None:
        """Save the cursor again well before it expires: a quiet tab must keep it too."""
        if not self._closed and time.monotonic() - self._cursor_saved > self._cursor_ttl_ms / 4000:
            self._save_cursor()

    def _on_visible(self, event: Any) -> None:
        if event.new:
            self.tick()

    # --- connection banner -------------------------------------------------------------------

    def _show_connection(self, view: ReplicaView) -> None:
        if view.connected == self._connected:
            return
        self._connected = view.connected
        state, text = ("connected", "") if view.connected else ("reconnecting", view.problem)
        message = f"Reconnecting to Redis… {escape(text)}" if text else ""
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
        if self._grid is not None:
            self._grid.dispose()
            self._grid = None

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
        grid = self._grid
        return {
            "id": self.id,
            "user": self.user,
            "tab_id": self.tab_id,
            "grid": self._grid_id,
            "notification_seq": self.notification_seq,
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
        text = f"signed in as {escape(identity.user)}, role {identity.role.label}"
    return (
        f'<span data-testid="role" data-role="{identity.role.label}">({text})</span> '
        '<a href="/logout" data-testid="logout">sign out</a> '
        if identity.signed_in
        else f'<span data-testid="role" data-role="{identity.role.label}">({text})</span> '
    )
