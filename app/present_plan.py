"""What one tick of a session does, decided as a value (pure: no Panel, Bokeh or Redis).

A session's tick is read → decide → apply: it reads what it shows now
(:class:`Shown`) and the replica's view, :func:`plan_tick` decides the tick's
:class:`TickPlan`, and the session's applier (``app.session``, ``app.tab_bar``,
``app.grid_view``) carries it out: the only code that touches Panel and Bokeh.

The plan names:

- the structure a config change asks for (:class:`ConfigPlan`: the grid tabs,
  the grid on screen, the cells of that grid to dispose and to build);
- whether the grid on screen is presented, or deferred because the websocket
  is backed up (docs/adr/0009), or left alone (hidden tab, nothing new);
- per layer of that grid, a :class:`LayerPatch`: the badge to show, the frame
  to send (or to clear), and the cursor to advance to. A patch names the layer
  and its ``frame_seq``, so two sessions given the same patch send the same
  columns: a later applier may build each patch's bytes once per replica;
- the notifications to show and the notification cursor to keep
  (:mod:`app.notification_cursor`); the Redis state for the banner.

Each layer's cursor (:class:`LayerCursor`) is what the session last showed of
it: its badge, its lifecycle ``version`` and its ``frame_seq``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.notification_cursor import CursorStep, NotificationCursor, advance
from livegrid.lifecycle import LayerState

if TYPE_CHECKING:
    from app.layout import CellPlan, GridPlan
    from app.prepare import Prepared
    from app.view import LayerView, ReplicaView
    from livegrid.models import Workspace

Badge = tuple[LayerState, "str | None"]
#: The badge of a layer the replica has no state of yet (docs/adr/0003).
WAITING: Badge = (LayerState.WAITING_FOR_JOB, None)


@dataclass(frozen=True)
class LayerCursor:
    """What a session last showed of a layer (None/0: nothing yet)."""

    badge: Badge | None = None
    version: int | None = None
    frame_seq: int = 0


@dataclass(frozen=True)
class LayerPatch:
    """One layer's actions in one tick; ``cursor`` is the layer's cursor afterwards.

    ``badge``: show this state (None: unchanged). ``clear``: stop showing the
    layer's frame (a new version has none yet). ``frame``: send the columns of
    this prepared frame (``frame_seq``); ``skipped`` frames came and went unshown.
    """

    layer_id: str
    cursor: LayerCursor
    badge: Badge | None = None
    clear: bool = False
    frame: Prepared | None = None
    frame_seq: int = 0
    skipped: int = 0

    @property
    def idle(self) -> bool:
        return self.badge is None and not self.clear and self.frame is None


def plan_layer(layer_id: str, cursor: LayerCursor | None, layer: LayerView | None) -> LayerPatch:
    """The patch that brings a layer's cell from ``cursor`` to ``layer``.

    The badge follows the layer's state; a new lifecycle ``version`` without a
    frame clears the shown frame; a new ``frame_seq`` sends the frame, counting
    the ones in between as skipped (slow browsers skip to the latest frame).
    A layer missing from the view (None) is waiting for its job, version 0.
    """
    cursor = cursor or LayerCursor()
    badge: Badge = (layer.state, layer.error) if layer is not None else WAITING
    version = layer.version if layer is not None else 0
    new_badge = badge if cursor.badge != badge else None
    version_moved = cursor.version != version
    prepared = layer.prepared if layer is not None else None
    if layer is None or prepared is None:
        clear = version_moved and bool(cursor.frame_seq)
        seq = 0 if clear else cursor.frame_seq
        after = LayerCursor(badge, version, seq)
        return LayerPatch(layer_id, after, new_badge, clear=clear)
    previous = cursor.frame_seq
    after = LayerCursor(badge, version, layer.frame_seq)
    if previous == layer.frame_seq:
        return LayerPatch(layer_id, after, new_badge)
    skipped = layer.frame_seq - previous - 1 if 0 < previous < layer.frame_seq - 1 else 0
    return LayerPatch(
        layer_id,
        after,
        new_badge,
        frame=prepared,
        frame_seq=layer.frame_seq,
        skipped=skipped,
    )


def plan_layers(
    cursors: Mapping[str, LayerCursor], layer_ids: Iterable[str], view: ReplicaView
) -> tuple[LayerPatch, ...]:
    """The patches of ``layer_ids`` (those of the grid on screen), in order."""
    return tuple(plan_layer(lid, cursors.get(lid), view.layers.get(lid)) for lid in layer_ids)


@dataclass(frozen=True)
class CellChanges:
    """The cells of a grid to dispose (``gone``) and to build (``new``)."""

    gone: tuple[CellPlan, ...] = ()
    new: tuple[CellPlan, ...] = ()


def diff_cells(shown: Iterable[CellPlan], wanted: GridPlan) -> CellChanges:
    """Cells are equal by ``key`` (position, span, title, layer ids): others are rebuilt."""
    keys = {cell.key for cell in wanted.cells}
    shown = tuple(shown)
    have = {cell.key for cell in shown}
    return CellChanges(
        gone=tuple(cell for cell in shown if cell.key not in keys),
        new=tuple(cell for cell in wanted.cells if cell.key not in have),
    )


@dataclass(frozen=True)
class GridShown:
    """The grid a session shows: its plan, the view generation it presented, its cursors."""

    plan: GridPlan
    generation: int = -1
    cursors: Mapping[str, LayerCursor] = field(default_factory=dict)


@dataclass(frozen=True)
class Shown:
    """What a session shows now: everything :func:`plan_tick` needs to know of it."""

    config_version: int = -1
    tab_ids: tuple[str, ...] = ()
    grid_id: str = ""
    grid: GridShown | None = None
    visible: bool = True
    connected: bool | None = None
    notifications: NotificationCursor = field(default_factory=NotificationCursor)


@dataclass(frozen=True)
class ConfigPlan:
    """A new workspace version: make the grid tabs ``tab_ids`` (``retab``), and either
    keep the grid on screen and change its ``cells``, or ``build`` grid ``grid_id`` anew
    (disposing the one shown; "" and no plan: no grid)."""

    plans: Mapping[str, GridPlan]
    tab_ids: tuple[str, ...]
    retab: bool
    grid_id: str
    build: bool = False
    cells: CellChanges | None = None


@dataclass(frozen=True)
class TickPlan:
    """The actions of one tick, applied in this order (see the module docstring)."""

    config: ConfigPlan | None
    present: tuple[LayerPatch, ...] | None
    deferred: bool
    generation: int
    notifications: CursorStep
    connection: bool | None

    @property
    def patches(self) -> tuple[LayerPatch, ...]:
        """The patches that change something on screen."""
        return tuple(p for p in self.present or () if not p.idle)


def plan_config(shown: Shown, plans: Mapping[str, GridPlan]) -> ConfigPlan:
    """Grid tabs of a new workspace; the grid on screen stays on screen if it still exists."""
    ids = tuple(plans)
    retab = ids != shown.tab_ids
    if shown.grid is not None and shown.grid_id in plans:
        cells = diff_cells(shown.grid.plan.cells, plans[shown.grid_id])
        return ConfigPlan(plans, ids, retab, shown.grid_id, cells=cells)
    if retab:
        return ConfigPlan(plans, ids, retab, ids[0] if ids else "", build=True)
    return ConfigPlan(plans, ids, retab, shown.grid_id)


def plan_tick(
    shown: Shown,
    view: ReplicaView,
    *,
    backlogged: bool,
    plan_grids: Callable[[Workspace], Iterable[GridPlan]],
) -> TickPlan:
    """Decide one tick of a session that shows ``shown``; see the module docstring.

    ``backlogged``: the session's websocket holds more unsent bytes than its
    limit, so no frame is queued behind them (the cursors stay, the next tick
    after it drains shows the latest). ``plan_grids`` maps the view's workspace
    to its grid plans (:func:`app.layout.plan_workspace`).
    """
    config: ConfigPlan | None = None
    grid = shown.grid
    if view.config_version != shown.config_version:
        plans = {plan.id: plan for plan in plan_grids(view.workspace)}
        config = plan_config(shown, plans)
        grid = _grid_after(shown, config)
    present: tuple[LayerPatch, ...] | None = None
    deferred = False
    generation = grid.generation if grid is not None else -1
    if (
        grid is not None
        and shown.visible
        and grid.generation != view.grid_generations.get(grid.plan.id, 0)
    ):
        if backlogged:
            deferred = True
        else:
            present = plan_layers(grid.cursors, _layer_ids(grid.plan), view)
            generation = view.grid_generations.get(grid.plan.id, 0)
    connection = view.connected if view.connected != shown.connected else None
    return TickPlan(
        config,
        present,
        deferred,
        generation,
        advance(shown.notifications, view),
        connection,
    )


def needs_tick(view: ReplicaView, *, ticked: int, deferred: bool, side_tab: bool) -> bool:
    """The periodic safety net: tick if the view moved since the last tick (a lost
    wake-up, ``ticked`` is that tick's view generation), a present was deferred, or
    a side tab is on screen (it shows ages and live members)."""
    return view.generation != ticked or deferred or side_tab


def _grid_after(shown: Shown, config: ConfigPlan) -> GridShown | None:
    """The grid on screen once ``config`` is applied (a synced grid presents anew)."""
    plan = config.plans.get(config.grid_id)
    if plan is None:
        return None if config.build or shown.grid is None else shown.grid
    if config.build or shown.grid is None:
        return GridShown(plan)
    kept = plan.layer_ids
    cursors = {lid: c for lid, c in shown.grid.cursors.items() if lid in kept}
    gone = {lid for cell in (config.cells.gone if config.cells else ()) for lid in cell.layer_ids}
    cursors = {lid: c for lid, c in cursors.items() if lid not in gone}
    return GridShown(plan, -1, cursors)


def _layer_ids(plan: GridPlan) -> list[str]:
    return [lid for cell in plan.cells for lid in cell.layer_ids]
