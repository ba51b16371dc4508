"""Which layers a job feeds (worker/bindings.py)."""

from __future__ import annotations

from livegrid.models import Cell, Grid, Layer, Plotter, Workspace
from worker.bindings import Binding, bindings_of_job


def _workspace(*cells: Cell, grid_id: str = "g") -> Workspace:
    return Workspace(grids=[Grid(id=grid_id, rows=2, cols=2, cells=list(cells))])


def test_the_data_layers_of_a_job_are_bound_by_layer_id_with_their_settings() -> None:
    image = Layer(
        id="img", job="j1", output="cumulative", plotter=Plotter.IMAGE,
        params={"log": True}, title="Panel 0",
    )  # fmt: skip
    workspace = _workspace(Cell(row=0, col=0, layers=[image]))

    assert bindings_of_job(workspace, "j1") == {
        "img": Binding(
            layer_id="img",
            output="cumulative",
            plotter="image",
            title="Panel 0",
            params={"log": True},
        )
    }


def test_layers_of_other_jobs_and_static_overlays_are_not_bound() -> None:
    mine = Layer(id="mine", job="j1", output="latest", plotter=Plotter.LINES)
    other = Layer(id="other", job="j2", output="latest", plotter=Plotter.LINES)
    overlay = Layer(id="box", plotter=Plotter.RECTANGLES, params={"rectangles": []})
    workspace = _workspace(Cell(row=0, col=0, layers=[mine, other, overlay]))

    assert list(bindings_of_job(workspace, "j1")) == ["mine"]
    assert list(bindings_of_job(workspace, "j2")) == ["other"]


def test_a_job_feeds_layers_in_every_grid_and_cell() -> None:
    first = Layer(id="a", job="j", output="latest", plotter=Plotter.LINES)
    second = Layer(id="b", job="j", output="cumulative", plotter=Plotter.LINES)
    workspace = Workspace(
        grids=[
            Grid(id="one", rows=1, cols=1, cells=[Cell(row=0, col=0, layers=[first])]),
            Grid(id="two", rows=1, cols=2, cells=[Cell(row=0, col=1, layers=[second])]),
        ]
    )

    bound = bindings_of_job(workspace, "j")

    assert {lid: b.output for lid, b in bound.items()} == {"a": "latest", "b": "cumulative"}


def test_a_job_no_layer_names_feeds_nothing() -> None:
    assert bindings_of_job(Workspace(), "j") == {}
    layer = Layer(id="a", job="j", output="latest", plotter=Plotter.LINES)
    assert bindings_of_job(_workspace(Cell(row=0, col=0, layers=[layer])), "absent") == {}


def test_a_binding_copies_the_params_so_the_workspace_stays_untouched() -> None:
    layer = Layer(id="a", job="j", output="latest", plotter=Plotter.LINES, params={"k": 1})
    workspace = _workspace(Cell(row=0, col=0, layers=[layer]))

    bindings_of_job(workspace, "j")["a"].params["k"] = 2

    assert workspace.layer("a").params == {"k": 1}
