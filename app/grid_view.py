"""One grid of one session: its cells on a ``GridSpec``, and the applier of its patches.

``sync`` makes the cells match a :class:`~app.layout.GridPlan` (structural:
the caller freezes the document); ``apply`` carries out the layer patches that
:mod:`app.present_plan` decided (data-only, unless a cell must build its
plots). The grid's state for the next decision is :meth:`shown`: its plan, the
view generation it presented and each layer's cursor.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

import panel as pn

from app.layout import CellPlan, GridPlan
from app.metrics import ReplicaMetrics
from app.present_plan import GridShown, LayerCursor, LayerPatch, diff_cells, plan_layers
from app.presenters.cell import CellView
from app.view import ReplicaView
from livegrid.lifecycle import LayerState

#: Frame sequence numbers remembered per layer for inspection (``/debug/sessions``).
DELIVERY_HISTORY = 64

_ROW_HEIGHT = 320


class GridView:
    def __init__(
        self,
        plan: GridPlan,
        *,
        metrics: ReplicaMetrics,
        structural: Callable[[], AbstractContextManager[object]],
    ) -> None:
        self.plan = plan
        self._metrics = metrics
        self._structural = structural
        self._cells: dict[tuple[object, ...], tuple[CellPlan, CellView]] = {}
        self._by_layer: dict[str, CellView] = {}
        #: What this session last showed of each layer (app.present_plan decides from it).
        self.cursors: dict[str, LayerCursor] = {}
        self.delivered: dict[str, deque[int]] = {}
        self.generation = -1
        #: Layer frames this grid never showed because a newer one came first.
        self.skipped = 0
        self.panel = pn.GridSpec(
            sizing_mode="stretch_width",
            height=_ROW_HEIGHT * plan.rows,
            css_classes=["lg-grid", f"lg-grid-{plan.id}"],
        )

    def shown(self) -> GridShown:
        return GridShown(self.plan, self.generation, dict(self.cursors))

    # --- structure ----------------------------------------------------------------------

    def sync(self, plan: GridPlan, view: ReplicaView) -> None:
        """Build the cells that are new in ``plan``, dispose those that left it."""
        changes = diff_cells((cell_plan for cell_plan, _ in self._cells.values()), plan)
        for cell_plan in changes.gone:
            _, cell = self._cells.pop(cell_plan.key)
            cell.dispose()
            self._forget(cell_plan)
            del self.panel[
                cell_plan.row : cell_plan.row + cell_plan.row_span,
                cell_plan.col : cell_plan.col + cell_plan.col_span,
            ]
        if (plan.rows, plan.cols) != (self.plan.rows, self.plan.cols):
            self.panel.height = _ROW_HEIGHT * plan.rows
        for cell_plan in changes.new:
            states = {lid: _state(view, lid) for lid in cell_plan.layer_ids}
            cell = CellView(cell_plan.row, cell_plan.col, cell_plan.title, cell_plan.layers, states)
            self._cells[cell_plan.key] = (cell_plan, cell)
            self._by_layer.update(dict.fromkeys(cell_plan.layer_ids, cell))
            self.panel[
                cell_plan.row : cell_plan.row + cell_plan.row_span,
                cell_plan.col : cell_plan.col + cell_plan.col_span,
            ] = cell.panel
        self.plan = plan
        self.generation = -1

    def dispose(self) -> None:
        for cell_plan, cell in self._cells.values():
            cell.dispose()
            self._forget(cell_plan)
        self._cells.clear()
        self.panel.objects = {}

    def _forget(self, plan: CellPlan) -> None:
        for lid in plan.layer_ids:
            self.cursors.pop(lid, None)
            self.delivered.pop(lid, None)
            self._by_layer.pop(lid, None)

    # --- data -----------------------------------------------------------------------------

    def present(self, view: ReplicaView) -> None:
        """Show every layer state and frame that moved since this session last looked."""
        layer_ids = [lid for _, cell in self._cells.values() for lid in cell.layer_ids]
        self.apply(
            plan_layers(self.cursors, layer_ids, view), view.grid_generations.get(self.plan.id, 0)
        )

    def apply(self, patches: Iterable[LayerPatch], generation: int) -> None:
        """Carry out ``patches`` (the applier of app.present_plan); the grid then shows
        the view of ``generation``."""
        now_ns = time.time_ns()
        for patch in patches:
            cell = self._by_layer.get(patch.layer_id)
            if cell is not None:
                self.cursors[patch.layer_id] = self._apply_patch(cell, patch, now_ns)
        self.generation = generation

    def age(self, now_ns: int) -> None:
        for _, cell in self._cells.values():
            cell.age(now_ns)

    def _apply_patch(self, cell: CellView, patch: LayerPatch, now_ns: int) -> LayerCursor:
        lid = patch.layer_id
        if patch.badge is not None:
            cell.set_state(lid, *patch.badge)
        if patch.clear:
            cell.clear(lid)
        prepared = patch.frame
        if prepared is None:
            return patch.cursor
        if patch.skipped:
            self.skipped += patch.skipped
            self._metrics.frames_skipped.inc(patch.skipped)
        try:
            if cell.needs_rebuild(lid, prepared):
                with self._structural():
                    rendered = cell.show(lid, prepared)
            else:
                rendered = cell.show(lid, prepared)
        except ValueError as exc:
            cell.set_state(lid, LayerState.ERROR, f"This frame cannot be shown here: {exc}")
            return LayerCursor((LayerState.ERROR, str(exc)), patch.cursor.version, patch.frame_seq)
        self.delivered.setdefault(lid, deque(maxlen=DELIVERY_HISTORY)).append(patch.frame_seq)
        if rendered:
            self._metrics.frames_delivered.inc()
            computed_at = prepared.frame.computed_at
            if computed_at:
                self._metrics.flush_latency.observe(max(now_ns - computed_at, 0) / 1e9)
        return patch.cursor


def _state(view: ReplicaView, layer_id: str) -> LayerState:
    layer = view.layers.get(layer_id)
    return layer.state if layer is not None else LayerState.WAITING_FOR_JOB
