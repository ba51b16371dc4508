"""The workspace (grids → cells → layers), job specs and notifications.

All models are frozen pydantic models that reject unknown fields. Edits never
mutate: ``Workspace.with_layer`` and friends return a new, fully validated
workspace, which a replica then writes back with the CAS script.

Validators that find a problem inside a nested item (an overlapping cell, a
duplicate layer id) raise ``PydanticCustomError`` with ``ctx["at"]``: the path
of the offending item relative to the model that raised. ``workspace_file``
appends it to the error's ``loc`` to point at the right line of a YAML file.

Redis keys holding these models (see ``Keyspace``): ``ns:config`` (the
``Workspace`` as JSON), ``ns:jobs`` (``JobSpec`` JSON per job id) and
``ns:notifications`` (``Notification.to_fields()`` per entry).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from livegrid.codec import FrameKind

_TIMES = "\N{MULTIPLICATION SIGN}"

#: Ids of layers, grids and jobs: they become parts of Redis keys.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


#: How a layer is drawn: one plotter per frame kind, by the same names.
Plotter = FrameKind


#: Overlays drawn from their ``params`` alone: no job, READY as soon as added.
STATIC_PLOTTERS: frozenset[Plotter] = frozenset(
    {Plotter.RECTANGLES, Plotter.VLINES, Plotter.HLINES}
)


class Workflow(StrEnum):
    LATEST = "latest"
    CUMULATIVE = "cumulative"
    WINDOW = "window"
    HISTORY = "history"


class Desired(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"


class Level(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


class NotInWorkspaceError(LookupError):
    """An edit or lookup named a grid or layer the workspace does not have."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> bytes:
        """Compact JSON, as stored in Redis."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        """Parse and validate what ``to_json`` wrote; raises ``pydantic.ValidationError``."""
        return cls.model_validate_json(data)


_M = TypeVar("_M", bound=_Model)


def _revalidated(model: _M, **changes: Any) -> _M:
    """A new ``model`` with ``changes``, built through the constructor so validators run."""
    fields = {name: getattr(model, name) for name in type(model).model_fields}
    return type(model)(**{**fields, **changes})


def _new_layer_id() -> str:
    return uuid.uuid4().hex[:12]


def _problem(kind: str, message: str, at: tuple[str | int, ...] = ()) -> PydanticCustomError:
    return PydanticCustomError(kind, message, {"at": at})


Coordinate = Annotated[float, Field(allow_inf_nan=False)]

#: The most ROIs a layer may ever allow (``Layer.max_rois`` is at most this).
ROI_LIMIT = 64


class RectangleROI(_Model):
    """An axis-aligned rectangle in data coordinates; pixels whose centre lies inside or
    on its edge belong to it. ``x0 == x1`` (or ``y0 == y1``) is allowed: a line."""

    kind: Literal["rectangle"] = "rectangle"
    x0: Coordinate
    x1: Coordinate
    y0: Coordinate
    y1: Coordinate

    @model_validator(mode="after")
    def _ordered(self) -> RectangleROI:
        if self.x1 < self.x0 or self.y1 < self.y0:
            raise ValueError(
                f"a rectangle ROI needs x0 <= x1 and y0 <= y1, got x {self.x0}..{self.x1} "
                f"and y {self.y0}..{self.y1}; swap the corners"
            )
        return self


class PolygonROI(_Model):
    """A polygon through the vertices ``(x[i], y[i])``, closed from the last to the first."""

    kind: Literal["polygon"] = "polygon"
    x: list[Coordinate] = Field(min_length=3, max_length=1000)
    y: list[Coordinate] = Field(min_length=3, max_length=1000)

    @model_validator(mode="after")
    def _paired(self) -> PolygonROI:
        if len(self.x) != len(self.y):
            raise ValueError(
                f"a polygon ROI needs one y per x, got {len(self.x)} x and {len(self.y)} y values"
            )
        return self


#: A region of interest on an image layer, told apart by ``kind``.
ROI = Annotated[RectangleROI | PolygonROI, Field(discriminator="kind")]


class Layer(_Model):
    """One plot in a cell: a job's output drawn by a plotter, or a static overlay.

    A layer is immutable, also in Redis: changing its settings means removing it
    and adding a layer with a new id (see ``Workspace.replace_layer``), so every
    session rebuilds its presenter and no stale frame is shown with new settings.
    """

    id: str = Field(default_factory=_new_layer_id, pattern=ID_PATTERN)
    job: str | None = Field(None, pattern=ID_PATTERN, description="None for static overlays.")
    output: str | None = Field(None, min_length=1, description="Workflow output, e.g. 'latest'.")
    plotter: Plotter
    params: dict[str, Any] = Field(default_factory=dict)
    title: str = ""
    #: Further outputs of the same job a plotter combines with ``output``
    #: (the correlation histograms' axes; ADR 0014).
    inputs: list[str] = Field(default_factory=list, max_length=2)
    #: Regions of interest drawn on this layer; ROI ``i`` has colour ``palette.colour_of(i)``.
    rois: list[ROI] = Field(default_factory=list)
    max_rois: int = Field(10, ge=0, le=ROI_LIMIT)

    @property
    def is_static(self) -> bool:
        return self.plotter in STATIC_PLOTTERS

    def changed(self, **changes: Any) -> Layer:
        """A validated copy with ``changes`` and a new id, ready for ``replace_layer``."""
        return _revalidated(self, **{"id": _new_layer_id(), **changes})

    def with_rois(self, rois: list[RectangleROI | PolygonROI]) -> Layer:
        """A validated copy with ``rois``, keeping the id.

        ROIs are not plotter settings: the layer's own frame does not depend on them
        (the job's ROI outputs do), so sessions keep their presenter and only redraw
        the outlines; ``ValueError`` (a pydantic ``ValidationError``) past ``max_rois``.
        """
        return _revalidated(self, rois=rois)

    @model_validator(mode="after")
    def _rois_within_limit(self) -> Layer:
        if len(self.rois) > self.max_rois:
            raise _problem(
                "too_many_rois",
                f"layer '{self.id}' allows at most {_plural(self.max_rois, 'ROI')}, "
                f"and {len(self.rois)} were drawn; delete one first",
                ("rois",),
            )
        if self.inputs and self.is_static:
            raise _problem(
                "static_layer_with_inputs",
                f"plotter '{self.plotter}' draws a static overlay and takes no inputs; "
                "remove 'inputs'",
                ("inputs",),
            )
        return self

    @model_validator(mode="after")
    def _static_or_data(self) -> Layer:
        if self.is_static:
            for field in ("job", "output"):
                if getattr(self, field) is not None:
                    raise _problem(
                        "static_layer_with_data",
                        f"plotter '{self.plotter}' draws a static overlay from its "
                        f"params and takes no {field}; remove '{field}'",
                        (field,),
                    )
        else:
            for field, what in (("job", "the id of the job"), ("output", "the job's output")):
                if getattr(self, field) is None:
                    raise _problem(
                        "data_layer_without_source",
                        f"plotter '{self.plotter}' draws a job's output and needs "
                        f"'{field}'; set it to {what} to plot",
                    )
        return self


class Cell(_Model):
    """A rectangle of the grid anchored at ``row``, ``col``; its layers are drawn on top of
    each other in list order."""

    row: int = Field(ge=0)
    col: int = Field(ge=0)
    row_span: int = Field(1, ge=1)
    col_span: int = Field(1, ge=1)
    title: str | None = None
    layers: list[Layer] = Field(default_factory=list)

    def overlaps(self, other: Cell) -> bool:
        return (
            self.row < other.row + other.row_span
            and other.row < self.row + self.row_span
            and self.col < other.col + other.col_span
            and other.col < self.col + self.col_span
        )

    def describe(self) -> str:
        """'cell at row 0, col 1', plus its span (rows by cols) when larger than one slot."""
        where = f"cell at row {self.row}, col {self.col}"
        if (self.row_span, self.col_span) != (1, 1):
            where += f" (span {self.row_span}{_TIMES}{self.col_span})"
        return where


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:64]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class Grid(_Model):
    """One tab of the dashboard: ``rows`` by ``cols`` slots holding non-overlapping cells.

    ``id`` defaults to a slug of ``title``.
    """

    id: str = Field(pattern=ID_PATTERN)
    title: str = ""
    rows: int = Field(ge=1, le=12)
    cols: int = Field(ge=1, le=12)
    cells: list[Cell] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _id_from_title(cls, data: Any) -> Any:
        if isinstance(data, dict) and "id" not in data and isinstance(data.get("title"), str):
            slug = _slug(data["title"])
            if slug:
                return {"id": slug, **data}
        return data

    @model_validator(mode="after")
    def _cells_fit_and_do_not_overlap(self) -> Grid:
        name = f"grid '{self.id}'"
        size = f"{_plural(self.rows, 'row')} and {_plural(self.cols, 'col')}"
        for j, cell in enumerate(self.cells):
            if cell.row + cell.row_span > self.rows or cell.col + cell.col_span > self.cols:
                raise _problem(
                    "cell_out_of_bounds",
                    f"{cell.describe()} reaches beyond {name}, which has {size}",
                    ("cells", j),
                )
            for other in self.cells[:j]:
                if cell.overlaps(other):
                    raise _problem(
                        "cell_overlap",
                        f"{cell.describe()} overlaps {other.describe()} in {name}",
                        ("cells", j),
                    )
        seen: dict[str, Cell] = {}
        for j, cell in enumerate(self.cells):
            for k, layer in enumerate(cell.layers):
                first = seen.get(layer.id)
                if first is not None:
                    where = (
                        f"in {cell.describe()}"
                        if first is cell
                        else f"in {first.describe()} and {cell.describe()}"
                    )
                    raise _problem(
                        "duplicate_layer_id",
                        f"layer id '{layer.id}' appears twice in {name} ({where}); "
                        "give each layer its own id",
                        ("cells", j, "layers", k, "id"),
                    )
                seen[layer.id] = cell
        return self

    def cell_at(self, row: int, col: int) -> Cell | None:
        """The cell anchored at ``row``, ``col``, if any."""
        return next((c for c in self.cells if (c.row, c.col) == (row, col)), None)


class JobSpec(_Model):
    """Desired state of one job (``ns:jobs`` hash entry), written by replicas only.

    ``reset_epoch`` bumps to ask the worker to restart accumulation;
    ``version`` is bumped by the CAS script on every accepted change.
    """

    id: str = Field(pattern=ID_PATTERN)
    workflow: Workflow
    source: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    desired: Desired = Desired.RUNNING
    reset_epoch: int = Field(0, ge=0)
    version: int = Field(0, ge=0)
    updated_by: str = ""


class Workspace(_Model):
    """Everything the dashboard shows: grids, and for templates the jobs to create.

    A layer's ``job`` need not name a job listed here: jobs live in ``ns:jobs``
    and are managed separately; ``jobs`` only seeds them from a template.
    """

    grids: list[Grid] = Field(default_factory=list)
    jobs: list[JobSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Workspace:
        grid_ids: set[str] = set()
        for i, grid in enumerate(self.grids):
            if grid.id in grid_ids:
                raise _problem(
                    "duplicate_grid_id",
                    f"grid id '{grid.id}' is used by more than one grid; give each grid its own id",
                    ("grids", i, "id"),
                )
            grid_ids.add(grid.id)
        job_ids: set[str] = set()
        for i, job in enumerate(self.jobs):
            if job.id in job_ids:
                raise _problem(
                    "duplicate_job_id",
                    f"job id '{job.id}' is used by more than one job; give each job its own id",
                    ("jobs", i, "id"),
                )
            job_ids.add(job.id)
        layer_grids: dict[str, str] = {}
        for i, grid in enumerate(self.grids):
            for j, cell in enumerate(grid.cells):
                for k, layer in enumerate(cell.layers):
                    first = layer_grids.setdefault(layer.id, grid.id)
                    if first != grid.id:
                        raise _problem(
                            "duplicate_layer_id",
                            f"layer id '{layer.id}' is used in grid '{first}' and in grid "
                            f"'{grid.id}'; layer ids must be unique in the workspace",
                            ("grids", i, "cells", j, "layers", k, "id"),
                        )
        return self

    # --- lookups ---

    def grid(self, grid_id: str) -> Grid:
        for grid in self.grids:
            if grid.id == grid_id:
                return grid
        raise NotInWorkspaceError(f"the workspace has no grid '{grid_id}'")

    def layers(self) -> Iterator[tuple[Grid, Cell, Layer]]:
        """Every layer with its grid and cell, in grid, cell and layer order."""
        for grid in self.grids:
            for cell in grid.cells:
                for layer in cell.layers:
                    yield grid, cell, layer

    def layer(self, layer_id: str) -> Layer:
        return self._locate(layer_id)[2]

    def layers_of_job(self, job_id: str) -> list[Layer]:
        """The layers that show an output of ``job_id``."""
        return [layer for _, _, layer in self.layers() if layer.job == job_id]

    def _locate(self, layer_id: str) -> tuple[Grid, Cell, Layer]:
        for found in self.layers():
            if found[2].id == layer_id:
                return found
        raise NotInWorkspaceError(f"the workspace has no layer '{layer_id}'")

    # --- edits: each returns a new, validated workspace ---

    def with_grid(self, grid: Grid) -> Workspace:
        """Add ``grid`` at the end, or replace the grid with its id in place."""
        if any(g.id == grid.id for g in self.grids):
            grids = [grid if g.id == grid.id else g for g in self.grids]
        else:
            grids = [*self.grids, grid]
        return _revalidated(self, grids=grids)

    def without_grid(self, grid_id: str) -> Workspace:
        self.grid(grid_id)  # raises NotInWorkspaceError for an unknown grid
        return _revalidated(self, grids=[g for g in self.grids if g.id != grid_id])

    def with_layer(
        self,
        grid_id: str,
        row: int,
        col: int,
        layer: Layer,
        *,
        row_span: int | None = None,
        col_span: int | None = None,
    ) -> Workspace:
        """Add ``layer`` on top of the cell anchored at ``row``, ``col``, or create that cell.

        Spans left out keep an existing cell's span, and are 1 for a new cell; spans
        that differ from an existing cell's raise ``ValueError``.
        """
        grid = self.grid(grid_id)
        cell = grid.cell_at(row, col)
        if cell is None:
            new_cell = Cell(
                row=row,
                col=col,
                row_span=1 if row_span is None else row_span,
                col_span=1 if col_span is None else col_span,
                layers=[layer],
            )
            cells = [*grid.cells, new_cell]
        else:
            asked = (
                cell.row_span if row_span is None else row_span,
                cell.col_span if col_span is None else col_span,
            )
            if asked != (cell.row_span, cell.col_span):
                raise ValueError(
                    f"{cell.describe()} in grid '{grid_id}' does not span "
                    f"{asked[0]}{_TIMES}{asked[1]}; "
                    "leave out row_span and col_span to add a layer to it"
                )
            cells = [
                _revalidated(c, layers=[*c.layers, layer]) if c is cell else c for c in grid.cells
            ]
        return self.with_grid(_revalidated(grid, cells=cells))

    def without_layer(self, layer_id: str) -> Workspace:
        """Remove the layer; a cell left without layers is removed too."""
        grid, cell, _ = self._locate(layer_id)
        layers = [x for x in cell.layers if x.id != layer_id]
        if layers:
            cells = [_revalidated(c, layers=layers) if c is cell else c for c in grid.cells]
        else:
            cells = [c for c in grid.cells if c is not cell]
        return self.with_grid(_revalidated(grid, cells=cells))

    def replace_layer(self, layer_id: str, new_layer: Layer) -> Workspace:
        """Put ``new_layer`` where ``layer_id`` is (same cell, same stacking position).

        ``new_layer`` must have a new id (``Layer.changed`` makes one): sessions
        and workers key presenters, frames and lifecycle by layer id, so reusing
        the id would show the old layer's frame with the new settings.
        """
        if new_layer.id == layer_id:
            raise ValueError(
                f"the replacement of layer '{layer_id}' reuses its id; a changed layer "
                "needs a new id (use Layer.changed(...))"
            )
        grid, cell, _ = self._locate(layer_id)
        layers = [new_layer if x.id == layer_id else x for x in cell.layers]
        cells = [_revalidated(c, layers=layers) if c is cell else c for c in grid.cells]
        return self.with_grid(_revalidated(grid, cells=cells))


class Notification(_Model):
    """A user-facing message on ``ns:notifications``: feedback, never state."""

    level: Level
    message: str = Field(min_length=1, max_length=1000)
    user: str = ""
    job: str = ""
    ts: int = Field(default_factory=time.time_ns, ge=0, description="ns since the epoch")
    seq: int = Field(0, ge=0)

    def to_fields(self) -> dict[str, str]:
        """The stream entry: every value a string."""
        return {
            "level": self.level.value,
            "message": self.message,
            "user": self.user,
            "job": self.job,
            "ts": str(self.ts),
            "seq": str(self.seq),
        }

    @classmethod
    def from_fields(
        cls,
        fields: Mapping[bytes, bytes] | Mapping[str, str] | Mapping[bytes | str, bytes | str],
    ) -> Notification:
        """Parse a stream entry as redis-py returns it (bytes or, if decoding, str)."""

        def text(value: bytes | str) -> str:
            return value.decode() if isinstance(value, bytes) else value

        return cls.model_validate({text(k): text(v) for k, v in fields.items()})
