"""The workspaces and synthetic rates the end-to-end tests run on."""

from __future__ import annotations

from livegrid.models import Cell, Grid, JobSpec, Layer, Workspace
from livegrid.workspace_file import default_template_path, load_workspace_file

#: Every synthetic source at 1 Hz: enough to see updates, cheap on a 2-core machine.
DEFAULT_RATES = {
    "detector_panel_0": 1,
    "detector_panel_1": 1,
    "monitor_1": 1,
    "monitor_2": 1,
    "detector_cube": 1,
    "temperature": 1,
    "pressure": 1,
    "motor_position": 1,
}


def default_workspace() -> Workspace:
    """The workspace a fresh livegrid shows (Detectors, Monitors, Logs, Cube, Flattened cube)."""
    return load_workspace_file(default_template_path())


def small_workspace() -> Workspace:
    """One grid, two cells, two jobs: one image and one spectrum."""
    return Workspace(
        grids=[
            Grid(
                id="main",
                title="Main",
                rows=1,
                cols=2,
                cells=[
                    Cell(
                        row=0,
                        col=0,
                        layers=[Layer(id="img", job="det", output="latest", plotter="image")],
                    ),
                    Cell(
                        row=0,
                        col=1,
                        layers=[Layer(id="mon", job="mon", output="latest", plotter="lines")],
                    ),
                ],
            )
        ],
        jobs=[
            JobSpec(id="det", workflow="latest", source="detector_panel_0"),
            JobSpec(id="mon", workflow="latest", source="monitor_1"),
        ],
    )


def cube_workspace() -> Workspace:
    """One grid with the detector cube behind a slicer."""
    return Workspace(
        grids=[
            Grid(
                id="cube",
                title="Cube",
                rows=1,
                cols=1,
                cells=[
                    Cell(
                        row=0,
                        col=0,
                        layers=[
                            Layer(id="slicer", job="cube", output="cumulative", plotter="slicer")
                        ],
                    )
                ],
            )
        ],
        jobs=[JobSpec(id="cube", workflow="cumulative", source="detector_cube")],
    )
