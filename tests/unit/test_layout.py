"""What a session shows of a grid (app.layout.plan_grid): cells, order, titles."""

from __future__ import annotations

from app.layout import plan_grid, plan_workspace
from livegrid.codec import FrameKind
from livegrid.models import Cell, Grid, Layer, Workspace


def lines(lid: str, *, title: str = "", job: str | None = "job") -> Layer:
    return Layer(
        id=lid, job=job, output="latest" if job else None, plotter=FrameKind.LINES, title=title
    )


def test_cells_without_layers_are_left_out_and_the_rest_in_reading_order() -> None:
    grid = Grid(
        id="g",
        rows=2,
        cols=2,
        cells=[
            Cell(row=1, col=0, layers=[lines("c")]),
            Cell(row=0, col=1, layers=[lines("b")]),
            Cell(row=0, col=0),
            Cell(row=1, col=1, layers=[lines("d")]),
        ],
    )
    plan = plan_grid(grid)
    assert [(c.row, c.col) for c in plan.cells] == [(0, 1), (1, 0), (1, 1)]
    assert plan.layer_ids == frozenset({"b", "c", "d"})
    assert (plan.rows, plan.cols) == (2, 2)


def test_titles_fall_back_from_cell_to_first_layer_to_job_and_output() -> None:
    grid = Grid(
        id="g",
        rows=1,
        cols=3,
        cells=[
            Cell(row=0, col=0, title="Detector", layers=[lines("a", title="counts")]),
            Cell(row=0, col=1, layers=[lines("b", title="monitor"), lines("c")]),
            Cell(row=0, col=2, layers=[lines("d")]),
        ],
    )
    plan = plan_grid(grid)
    assert [c.title for c in plan.cells] == ["Detector", "monitor", "job/latest"]
    assert [s.title for s in plan.cells[1].layers] == ["monitor", "job/latest"]
    assert plan.title == "g"  # a grid without a title is named by its id


def test_a_cell_key_changes_with_position_span_title_or_layers() -> None:
    def key(cell: Cell) -> object:
        return plan_grid(Grid(id="g", rows=2, cols=2, cells=[cell])).cells[0].key

    base = key(Cell(row=0, col=0, layers=[lines("a")]))
    assert key(Cell(row=0, col=0, layers=[lines("a")])) == base
    assert key(Cell(row=1, col=0, layers=[lines("a")])) != base
    assert key(Cell(row=0, col=0, col_span=2, layers=[lines("a")])) != base
    assert key(Cell(row=0, col=0, title="t", layers=[lines("a")])) != base
    assert key(Cell(row=0, col=0, layers=[lines("b")])) != base


def test_plan_workspace_keeps_the_grid_order() -> None:
    grids = [Grid(id=g, rows=1, cols=1) for g in ("z", "a", "m")]
    assert [p.id for p in plan_workspace(Workspace(grids=grids))] == ["z", "a", "m"]
