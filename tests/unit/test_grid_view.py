"""The applier of layer patches (app.grid_view.GridView), on Panel objects without a server."""

from __future__ import annotations

import contextlib

import numpy as np

from app.grid_view import GridView
from app.layout import plan_workspace
from app.metrics import ReplicaMetrics
from app.prepare import Prepared, prepare
from app.present_plan import LayerCursor
from app.view import LayerView, ReplicaView
from livegrid.codec import Frame, FrameKind
from livegrid.lifecycle import LayerState, Lifecycle
from livegrid.models import Cell, Grid, Layer, Workspace
from livegrid.stores.layers import LayerSnapshot

WORKSPACE = Workspace(
    grids=[
        Grid(
            id="g1",
            rows=1,
            cols=2,
            cells=[
                Cell(row=0, col=0, layers=[Layer(id="la", job="j", output="a", plotter="lines")]),
                Cell(row=0, col=1, layers=[Layer(id="lb", job="j", output="b", plotter="lines")]),
            ],
        )
    ]
)


def lines() -> Prepared:
    x = np.linspace(0, 1, 3)
    return prepare(Frame(kind=FrameKind.LINES, arrays={"x": x, "values": x}))


def image() -> Prepared:
    return prepare(
        Frame(
            kind=FrameKind.IMAGE,
            arrays={"x": np.arange(2.0), "y": np.arange(2.0), "values": np.ones((2, 2))},
            attrs={"x_edges": [0, 2], "y_edges": [0, 2]},
        )
    )


def ready(lid: str, seq: int, prepared: Prepared) -> LayerView:
    snapshot = LayerSnapshot(lid, Lifecycle(LayerState.READY, 1), frame_seq=seq)
    return LayerView(snapshot, prepared, frame_seq=seq)


def grid_view() -> tuple[GridView, ReplicaMetrics]:
    metrics = ReplicaMetrics()
    [plan] = plan_workspace(WORKSPACE)
    grid = GridView(plan, metrics=metrics, structural=contextlib.nullcontext)
    grid.sync(plan, ReplicaView(workspace=WORKSPACE))
    return grid, metrics


def test_presenting_moves_each_layers_cursor_and_records_the_delivery() -> None:
    grid, _ = grid_view()
    view = ReplicaView(
        workspace=WORKSPACE,
        layers={"la": ready("la", 3, lines())},
        grid_generations={"g1": 5},
    )
    grid.present(view)
    assert grid.cursors["la"] == LayerCursor((LayerState.READY, None), 1, 3)
    assert grid.cursors["lb"] == LayerCursor((LayerState.WAITING_FOR_JOB, None), 0, 0)
    assert {k: list(v) for k, v in grid.delivered.items()} == {"la": [3]}
    assert grid.generation == 5
    assert grid.shown().cursors == grid.cursors


def test_a_frame_the_cell_cannot_show_becomes_the_layers_error_in_its_cursor() -> None:
    grid, _ = grid_view()
    view = ReplicaView(workspace=WORKSPACE, layers={"la": ready("la", 2, image())})
    grid.present(view)
    cursor = grid.cursors["la"]
    assert cursor.badge is not None and cursor.badge[0] is LayerState.ERROR
    assert cursor.frame_seq == 2  # not sent again by the next tick
    assert "la" not in grid.delivered


def test_skipped_frames_are_counted() -> None:
    grid, metrics = grid_view()
    grid.present(ReplicaView(workspace=WORKSPACE, layers={"la": ready("la", 1, lines())}))
    grid.present(ReplicaView(workspace=WORKSPACE, layers={"la": ready("la", 6, lines())}))
    assert grid.skipped == 4
    assert metrics.frames_skipped._value.get() == 4


def test_a_cell_that_leaves_the_plan_forgets_its_cursors() -> None:
    grid, _ = grid_view()
    grid.present(ReplicaView(workspace=WORKSPACE, layers={"la": ready("la", 1, lines())}))
    smaller = Workspace(
        grids=[WORKSPACE.grids[0].model_copy(update={"cells": WORKSPACE.grids[0].cells[1:]})]
    )
    [plan] = plan_workspace(smaller)
    grid.sync(plan, ReplicaView(workspace=smaller))
    assert "la" not in grid.cursors and "la" not in grid.delivered
    assert grid.generation == -1
