"""One grid of one session: its cells on a ``GridSpec``, and their cursors.

``sync`` makes the cells match a :class:`~app.layout.GridPlan` (structural:
the caller freezes the document); ``present`` puts what changed in the
replica's view on the cells (data-only, unless a cell must build its plots).
Each layer's cursor is the ``(version, frame_seq)`` this session last showed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager

import panel as pn

from app.frames import waiting
from app.layout import CellPlan, GridPlan
from app.metrics import ReplicaMetrics
from app.presenters import CellView
from app.view import LayerView, ReplicaView
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
        self._shown: dict[str, tuple[LayerState, str | None]] = {}
        self._versions: dict[str, int] = {}
        self._seqs: dict[str, int] = {}
        self.delivered: dict[str, deque[int]] = {}
        self.generation = -1
        #: Layer frames this grid never showed because a newer one came first.
        self.skipped = 0
        self.panel = pn.GridSpec(
            sizing_mode="stretch_width",
            height=_ROW_HEIGHT * plan.rows,
            css_classes=["lg-grid", f"lg-grid-{plan.id}"],
        )

    # --- structure ----------------------------------------------------------------------

    def sync(self, plan: GridPlan, view: ReplicaView) -> None:
        """Build the cells that are new in ``plan``, dispose those that left it."""
        wanted = {cell.key: cell for cell in plan.cells}
        for key in [k for k in self._cells if k not in wanted]:
            cell_plan, cell = self._cells.pop(key)
            cell.dispose()
            self._forget(cell_plan)
            del self.panel[
                cell_plan.row : cell_plan.row + cell_plan.row_span,
                cell_plan.col : cell_plan.col + cell_plan.col_span,
            ]
        if (plan.rows, plan.cols) != (self.plan.rows, self.plan.cols):
            self.panel.height = _ROW_HEIGHT * plan.rows
        for key, cell_plan in wanted.items():
            if key in self._cells:
                continue
            states = {lid: _layer(view, lid).state for lid in cell_plan.layer_ids}
            cell = CellView(cell_plan.row, cell_plan.col, cell_plan.title, cell_plan.layers, states)
            self._cells[key] = (cell_plan, cell)
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
            for cursor in (self._shown, self._versions, self._seqs, self.delivered):
                cursor.pop(lid, None)

    # --- data -----------------------------------------------------------------------------

    def present(self, view: ReplicaView) -> None:
        """Show every layer state and frame that moved since this session last looked."""
        now_ns = time.time_ns()
        for _, cell in self._cells.values():
            for lid in cell.layer_ids:
                self._present_layer(cell, lid, _layer(view, lid), now_ns)
        self.generation = view.grid_generations.get(self.plan.id, 0)

    def age(self, now_ns: int) -> None:
        for _, cell in self._cells.values():
            cell.age(now_ns)

    def _present_layer(self, cell: CellView, lid: str, layer: LayerView, now_ns: int) -> None:
        shown = (layer.state, layer.error)
        if self._shown.get(lid) != shown:
            cell.set_state(lid, *shown)
            self._shown[lid] = shown
        version_moved = self._versions.get(lid) != layer.version
        self._versions[lid] = layer.version
        prepared = layer.prepared
        if prepared is None:
            if version_moved and self._seqs.pop(lid, 0):
                cell.clear(lid)
            return
        previous = self._seqs.get(lid, 0)
        if previous == layer.frame_seq:
            return
        self._seqs[lid] = layer.frame_seq
        if 0 < previous < layer.frame_seq - 1:
            missed = layer.frame_seq - previous - 1
            self.skipped += missed
            self._metrics.frames_skipped.inc(missed)
        try:
            if cell.needs_rebuild(lid, prepared):
                with self._structural():
                    rendered = cell.show(lid, prepared)
            else:
                rendered = cell.show(lid, prepared)
        except ValueError as exc:
            cell.set_state(lid, LayerState.ERROR, f"This frame cannot be shown here: {exc}")
            self._shown[lid] = (LayerState.ERROR, str(exc))
            return
        self.delivered.setdefault(lid, deque(maxlen=DELIVERY_HISTORY)).append(layer.frame_seq)
        if rendered:
            self._metrics.frames_delivered.inc()
            computed_at = prepared.frame.computed_at
            if computed_at:
                self._metrics.flush_latency.observe(max(now_ns - computed_at, 0) / 1e9)


def _layer(view: ReplicaView, layer_id: str) -> LayerView:
    return view.layers.get(layer_id) or waiting(layer_id)
