"""Bindings carry a layer's further inputs to the runner (ADR 0014)."""

from __future__ import annotations

from livegrid.models import Grid, Layer, Workspace
from worker.bindings import bindings_of_job


def test_bindings_carry_the_layers_inputs_in_order() -> None:
    layer = Layer(
        id="h",
        job="j",
        output="cumulative",
        plotter="correlation_histogram_2d",  # type: ignore[arg-type]
        inputs=["latest", "window"],
    )
    workspace = Workspace().with_grid(Grid(id="g", rows=1, cols=1)).with_layer("g", 0, 0, layer)
    assert bindings_of_job(workspace, "j")["h"].inputs == ("latest", "window")


def test_a_layer_without_inputs_binds_none() -> None:
    layer = Layer(id="l", job="j", output="latest", plotter="lines")  # type: ignore[arg-type]
    workspace = Workspace().with_grid(Grid(id="g", rows=1, cols=1)).with_layer("g", 0, 0, layer)
    assert bindings_of_job(workspace, "j")["l"].inputs == ()
