"""A session's tab bar: the grid tabs, the side tabs (Jobs, Manage, System) and the focus.

The tab bar owns the Panel widgets of the tabs and the :class:`~app.grid_view.GridView`
of the grid on screen (hidden grids cost nothing: the grid that leaves the screen
is disposed). It applies the :class:`~app.present_plan.ConfigPlan` of a new
workspace version; a grid added or removed elsewhere takes neither this tab's
focus nor its half-typed form input (the side tabs' content lives below the tab
bar, not in it). The browser's beacon names the tab it showed before a reload,
and the tab bar shows it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import panel as pn
from bokeh.document import Document

from app.actions import Actions
from app.beacon import Beacon
from app.feed import Feed
from app.grid_view import GridView
from app.layout import GridPlan
from app.metrics import ReplicaMetrics
from app.presence import Presence
from app.present_plan import ConfigPlan
from app.view import ReplicaView
from app.widgets import JobsTab, ManageTab, SystemTab

SIDE_TABS = ("Jobs", "Manage", "System")


class TabBar:
    def __init__(
        self,
        *,
        session_id: str,
        doc: Document,
        feed: Feed,
        presence: Presence,
        actions: Actions,
        beacon: Beacon,
        metrics: ReplicaMetrics,
        structural: Callable[[], AbstractContextManager[object]],
    ) -> None:
        self._id = session_id
        self._doc = doc
        self._feed = feed
        self._presence = presence
        self._actions = actions
        self._beacon = beacon
        self._metrics = metrics
        self._structural = structural
        self._plans: dict[str, GridPlan] = {}
        #: The grid on screen (None: the workspace has no grid) and its id.
        self.grid: GridView | None = None
        self.grid_id = ""
        self.tab_ids: list[str] = []
        self._containers: dict[str, pn.Column] = {}
        self.tabs = pn.Tabs(sizing_mode="stretch_width", dynamic=False)
        self.tabs.param.watch(self._on_tab, "active")
        # Each side tab is built when first shown: most tabs never open them, and their
        # widgets are a third of a session's models.
        self._side: dict[str, JobsTab | ManageTab | SystemTab] = {}
        self.side_panels = {
            name: pn.Column(visible=False, sizing_mode="stretch_width") for name in SIDE_TABS
        }
        self._side_slots = {name: pn.Spacer(height=0) for name in SIDE_TABS}
        beacon.param.watch(self._on_screen, "screen")

    # --- a new workspace version (structural: the caller freezes the document) --------

    def apply_config(self, config: ConfigPlan, view: ReplicaView) -> None:
        self._plans = dict(config.plans)
        if config.retab:
            self._retab(config, view)
        elif self.grid is not None and config.cells is not None:
            self.grid.sync(self._plans[self.grid_id], view)

    def _retab(self, config: ConfigPlan, view: ReplicaView) -> None:
        """Make the grid tabs those of ``config``; the tab on screen stays on screen.

        Grids that stay keep their tab content (the grid on screen is synced, not
        rebuilt) and the side tabs keep theirs. Only when the grid on screen was
        removed does the first grid take its place.
        """
        side = self.side_tab_on_screen()
        plans = self._plans
        ids = list(config.tab_ids)
        self._containers = {
            g: self._containers.get(g) or pn.Column(sizing_mode="stretch_width") for g in ids
        }
        self.tab_ids = ids
        self.tabs[:] = [(plans[g].title, self._containers[g]) for g in ids] + [
            (name, self._side_slots[name]) for name in SIDE_TABS
        ]
        if self.grid is not None and self.grid_id in plans:
            self.grid.sync(plans[self.grid_id], view)
        else:
            self._show_grid(config.grid_id, view)
        if side is not None:
            self.tabs.active = len(ids) + SIDE_TABS.index(side)
        else:
            self.tabs.active = ids.index(self.grid_id) if self.grid_id in ids else len(ids)
        side = self.side_tab_on_screen()
        self._show_side(side)
        self._beacon.screen = side or self.grid_id

    def _show_grid(self, grid_id: str, view: ReplicaView) -> None:
        """Build the grid on screen; dispose the one that left it."""
        if self.grid is not None:
            self.grid.dispose()
            self.grid = None
        self.grid_id = grid_id
        plan = self._plans.get(grid_id)
        layers: frozenset[str] = frozenset()
        if plan is not None:
            grid = GridView(plan, metrics=self._metrics, structural=self._structural)
            grid.sync(plan, view)
            self.grid = grid
            self._containers[grid_id].objects = [grid.panel]
            layers = plan.layer_ids
        self._feed.show(self._id, [grid_id] if grid_id else [], layers)
        self._presence.update_session(self._id, tab=grid_id or "-")

    # --- the user moves between tabs ---------------------------------------------------

    def side_tab_on_screen(self) -> str | None:
        if not len(self.tabs):
            return None
        index = self.tabs.active - len(self.tab_ids)
        return SIDE_TABS[index] if 0 <= index < len(SIDE_TABS) else None

    def _on_tab(self, event: Any) -> None:
        side = self.side_tab_on_screen()
        with pn.io.hold(self._doc):
            self._show_side(side)
            if side is not None:
                self._presence.update_session(self._id, tab=side)
                self.refresh_side_tab(self._feed.view)
            elif event.new < len(self.tab_ids):
                self._to_grid(self.tab_ids[event.new])
            self._beacon.screen = side or self.grid_id

    def _to_grid(self, grid_id: str) -> None:
        if grid_id == self.grid_id:
            self._presence.update_session(self._id, tab=grid_id)
            return
        with self._structural():
            if self.grid_id in self._containers:
                self._containers[self.grid_id].objects = []
            self._show_grid(grid_id, self._feed.view)
            if self.grid is not None:
                self.grid.present(self._feed.view)

    def _on_screen(self, event: Any) -> None:
        """The browser names the tab it showed before a reload: show that tab again."""
        names = [*self.tab_ids, *SIDE_TABS]
        if event.new in names:
            self.tabs.active = names.index(event.new)
        else:
            self._beacon.screen = self.side_tab_on_screen() or self.grid_id

    # --- side tabs --------------------------------------------------------------------------

    def _show_side(self, side: str | None) -> None:
        """Show the content of side tab ``side`` below the tab bar (None: no side tab)."""
        if side is not None and side not in self._side:
            built = self._build_side(side)
            self._side[side] = built
            self.side_panels[side].objects = [built.panel]
        for name, side_panel in self.side_panels.items():
            if side_panel.visible != (name == side):
                side_panel.visible = name == side

    def _build_side(self, side: str) -> JobsTab | ManageTab | SystemTab:
        if side == "Jobs":
            return JobsTab(self._actions)
        if side == "Manage":
            return ManageTab(self._actions)
        return SystemTab()

    def refresh_side_tab(self, view: ReplicaView) -> None:
        side = self.side_tab_on_screen()
        tab = self._side.get(side) if side is not None else None
        if isinstance(tab, SystemTab):
            tab.refresh(view, time.time_ns())
        elif tab is not None:
            tab.refresh(view)

    def close(self) -> None:
        if self.grid is not None:
            self.grid.dispose()
            self.grid = None
