"""Small workspaces the integration tests load: one grid, one row of cells."""

from __future__ import annotations

from collections.abc import Iterable

from livegrid.models import Cell, Grid, JobSpec, Layer, Workspace


def one_row(*cells: list[Layer], jobs: Iterable[JobSpec], grid_id: str = "main") -> Workspace:
    """A workspace of one grid ``grid_id`` whose column ``i`` holds the layers ``cells[i]``."""
    return Workspace(
        grids=[
            Grid(
                id=grid_id,
                title=grid_id.title(),
                rows=1,
                cols=len(cells),
                cells=[Cell(row=0, col=i, layers=layers) for i, layers in enumerate(cells)],
            )
        ],
        jobs=list(jobs),
    )
