"""What a session shows of a grid: a pure decision over the workspace (no Panel here).

A cell is identified by its :class:`CellPlan` ``key``: position, span and the ids
of its layers. Layers are immutable (a changed layer gets a new id), so an equal
key means the session's presenters for that cell are still right; any other key
means dispose and build anew.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.presenters.plan import LayerSpec
from livegrid.codec import FrameKind
from livegrid.models import Cell, Grid, Workspace


@dataclass(frozen=True)
class CellPlan:
    row: int
    col: int
    row_span: int
    col_span: int
    title: str
    layers: tuple[LayerSpec, ...]

    @property
    def key(self) -> tuple[int, int, int, int, str, tuple[str, ...]]:
        ids = tuple(spec.layer_id for spec in self.layers)
        return (self.row, self.col, self.row_span, self.col_span, self.title, ids)

    @property
    def layer_ids(self) -> tuple[str, ...]:
        return tuple(spec.layer_id for spec in self.layers)


@dataclass(frozen=True)
class GridPlan:
    id: str
    title: str
    rows: int
    cols: int
    cells: tuple[CellPlan, ...]

    @property
    def layer_ids(self) -> frozenset[str]:
        return frozenset(lid for cell in self.cells for lid in cell.layer_ids)


def plan_grid(grid: Grid) -> GridPlan:
    """The cells of ``grid`` that have layers, in reading order."""
    cells = sorted((c for c in grid.cells if c.layers), key=lambda c: (c.row, c.col))
    return GridPlan(grid.id, grid.title or grid.id, grid.rows, grid.cols, tuple(map(_plan, cells)))


def plan_workspace(workspace: Workspace) -> tuple[GridPlan, ...]:
    return tuple(plan_grid(grid) for grid in workspace.grids)


def _plan(cell: Cell) -> CellPlan:
    specs = tuple(
        LayerSpec(
            layer_id=layer.id,
            kind=FrameKind(layer.plotter),
            title=layer.title or (f"{layer.job}/{layer.output}" if layer.job else layer.plotter),
            params=dict(layer.params),
        )
        for layer in cell.layers
    )
    title = cell.title or next((s.title for s in specs), "")
    return CellPlan(cell.row, cell.col, cell.row_span, cell.col_span, title, specs)
