"""The Manage tab: add and remove grids, add and remove plots (layers).

Every edit names the workspace version this tab *shows* (captured by the last
refresh() that saw a new version), so an edit made elsewhere meanwhile is refused
with a conflict message instead of being overwritten.

Stable hooks: the root has the CSS class ``lg-manage``; buttons "Add grid",
"Remove grid", "Add plot", "Remove plot"; the shown version is in
``data-testid="lg-config-version"``.
"""

from __future__ import annotations

from collections.abc import Mapping

import panel as pn

from app.actions import Actions
from app.auth.roles import Permission
from app.html import escape_text
from app.view import ReplicaView
from app.widgets.forms import (
    NONE,
    assign_if_changed,
    params_text,
    parse_params,
    set_options,
)
from app.widgets.roles import disable_unless
from livegrid.catalogue import Catalogue
from livegrid.models import JobSpec, Layer, NotInWorkspaceError, Workspace

#: The job choice for a static overlay (rectangles, lines): no job, no output.
OVERLAY = "(none: static overlay)"


def grid_options(workspace: Workspace) -> dict[str, str]:
    """Label → grid id, in the workspace's order."""
    return {f"{g.title or g.id} ({g.id})": g.id for g in workspace.grids}


def layer_options(workspace: Workspace) -> dict[str, str]:
    """Label "grid / cell title / layer title or id" → layer id; duplicates get the id."""
    options: dict[str, str] = {}
    for grid, cell, layer in workspace.layers():
        cell_name = cell.title or f"row {cell.row}, col {cell.col}"
        label = f"{grid.title or grid.id} / {cell_name} / {layer.title or layer.id}"
        if label in options:
            label = f"{label} [{layer.id}]"
        options[label] = layer.id
    return options


def job_options(jobs: Mapping[str, JobSpec]) -> dict[str, str]:
    options = {OVERLAY: NONE}
    for job_id in sorted(jobs):
        spec = jobs[job_id]
        options[f"{job_id} ({spec.workflow.value} on {spec.source})"] = job_id
    return options


def plotter_choices(catalogue: Catalogue, job: JobSpec | None) -> tuple[list[str], list[str]]:
    """(outputs, plotters) to offer for ``job``; static overlays when it is None."""
    if job is None:
        return [], [p.name for p in catalogue.plotters if p.is_static]
    flow = catalogue.workflow(job.workflow.value)
    outputs = list(flow.outputs) if flow is not None else []
    return outputs, catalogue.plotters_for(job.workflow.value, job.source)


class ManageTab:
    """Edits of the workspace; refresh() works only when the version, jobs or catalogue changed."""

    def __init__(self, actions: Actions) -> None:
        self._actions = actions
        self._version: int | None = None
        self._workspace = Workspace()
        self._jobs_generation: int | None = None
        self._jobs: Mapping[str, JobSpec] = {}
        self._catalogue = Catalogue()
        self._shown = pn.pane.HTML("")

        self._grid_title = pn.widgets.TextInput(label="Grid title", placeholder="e.g. Detectors")
        self._grid_rows = pn.widgets.IntInput(label="Rows", value=2, start=1, end=12, width=80)
        self._grid_cols = pn.widgets.IntInput(label="Cols", value=2, start=1, end=12, width=80)
        self._add_grid = pn.widgets.Button(label="Add grid", color="primary", align="end")
        self._grid_to_remove = pn.widgets.Select(label="Grid to remove", options={})
        self._remove_grid = pn.widgets.Button(label="Remove grid", color="danger", align="end")

        self._plot_grid = pn.widgets.Select(label="Grid", options={})
        self._row = pn.widgets.IntInput(label="Row", value=0, start=0, end=11, width=80)
        self._col = pn.widgets.IntInput(label="Col", value=0, start=0, end=11, width=80)
        self._row_span = pn.widgets.IntInput(label="Row span", value=1, start=1, end=12, width=80)
        self._col_span = pn.widgets.IntInput(label="Col span", value=1, start=1, end=12, width=80)
        self._job = pn.widgets.Select(label="Job", options=job_options({}))
        self._output = pn.widgets.Select(label="Output", options=[])
        self._plotter = pn.widgets.Select(label="Plotter", options=[])
        self._params = pn.widgets.TextAreaInput(label="Params (JSON)", value="{}", height=80)
        self._title = pn.widgets.TextInput(label="Plot title", placeholder="shown in the cell")
        self._add_plot = pn.widgets.Button(label="Add plot", color="primary")
        self._layer_to_remove = pn.widgets.Select(label="Plot to remove", options={}, width=400)
        self._remove_plot = pn.widgets.Button(label="Remove plot", color="danger", align="end")

        self._add_grid.on_click(lambda _: self._on_add_grid())
        self._remove_grid.on_click(lambda _: self._on_remove_grid())
        self._add_plot.on_click(lambda _: self._on_add_plot())
        self._remove_plot.on_click(lambda _: self._on_remove_plot())
        disable_unless(
            actions,
            Permission.EDIT_WORKSPACE,
            self._add_grid,
            self._remove_grid,
            self._add_plot,
            self._remove_plot,
        )
        self._job.param.watch(lambda _: self._job_chosen(), "value")
        self._plotter.param.watch(lambda _: self._plotter_chosen(), "value")
        self._job_chosen()

        self.panel: pn.viewable.Viewable = pn.Column(
            self._shown,
            pn.pane.HTML("<h3>Grids</h3>"),
            pn.Row(self._grid_title, self._grid_rows, self._grid_cols, self._add_grid),
            pn.Row(self._grid_to_remove, self._remove_grid),
            pn.pane.HTML("<h3>Add a plot</h3>"),
            pn.Row(self._plot_grid, self._row, self._col, self._row_span, self._col_span),
            pn.Row(self._job, self._output, self._plotter),
            self._params,
            pn.Row(self._title, self._add_plot),
            pn.pane.HTML("<h3>Remove a plot</h3>"),
            pn.Row(self._layer_to_remove, self._remove_plot),
            css_classes=["lg-manage"],
            sizing_mode="stretch_width",
        )

    @property
    def shown_version(self) -> int | None:
        """The workspace version the edits of this tab name."""
        return self._version

    def refresh(self, view: ReplicaView) -> None:
        new_config = view.config_version != self._version
        new_jobs = view.jobs_generation != self._jobs_generation
        new_catalogue = not (view.catalogue is self._catalogue or view.catalogue == self._catalogue)
        if new_config:
            self._version, self._workspace = view.config_version, view.workspace
            by = f", last changed by {escape_text(view.config_user)}" if view.config_user else ""
            shown = f"Workspace version {self._version}{by}"
            html = f'<span data-testid="lg-config-version">{shown}</span>'
            assign_if_changed(self._shown, html)
            grids = grid_options(self._workspace)
            set_options(self._grid_to_remove, grids)
            set_options(self._plot_grid, grids)
            set_options(self._layer_to_remove, layer_options(self._workspace))
        if new_jobs:
            self._jobs_generation, self._jobs = view.jobs_generation, view.jobs
            set_options(self._job, job_options(self._jobs))
        if new_catalogue:
            self._catalogue = view.catalogue
        if new_jobs or new_catalogue:
            self._job_chosen()

    # --- handlers (the session's IOLoop) ---------------------------------------

    def _on_add_grid(self) -> None:
        try:
            rows, cols = _number(self._grid_rows), _number(self._grid_cols)
        except ValueError as error:
            self._actions.invalid("The grid was not added", error)
            return
        added = self._actions.add_grid(
            self._workspace,
            self._shown_version(),
            title=self._grid_title.value or "",
            rows=rows,
            cols=cols,
        )
        if added:
            self._grid_title.value = ""

    def _on_remove_grid(self) -> None:
        if self._grid_to_remove.value:
            self._actions.remove_grid(
                self._workspace, self._shown_version(), self._grid_to_remove.value
            )

    def _on_remove_plot(self) -> None:
        if self._layer_to_remove.value:
            self._actions.remove_layer(
                self._workspace, self._shown_version(), self._layer_to_remove.value
            )

    def _on_add_plot(self) -> None:
        failed = "The plot was not added"
        grid_id = self._plot_grid.value
        if not grid_id:
            self._actions.invalid(failed, ValueError("there is no grid yet; add a grid first"))
            return
        if not self._plotter.value:
            self._actions.invalid(failed, ValueError("choose a plotter"))
            return
        job = self._job.value or None
        title = (self._title.value or "").strip()
        try:
            row, col = _number(self._row), _number(self._col)
            spans = _number(self._row_span), _number(self._col_span)
            layer = Layer(
                job=job,
                output=(self._output.value or None) if job else None,
                plotter=self._plotter.value,
                params=parse_params(self._params.value or ""),
                title=title,
            )
            existing = self._workspace.grid(grid_id).cell_at(row, col)
        except (ValueError, NotInWorkspaceError) as error:
            self._actions.invalid(failed, error)
            return
        self._actions.add_layer(
            self._workspace,
            self._shown_version(),
            grid_id=grid_id,
            row=row,
            col=col,
            layer=layer,
            row_span=spans[0],
            col_span=spans[1],
            cell_title=(title or None) if existing is None else None,
        )

    def _shown_version(self) -> int:
        return self._version or 0

    def _job_chosen(self) -> None:
        """Offer the outputs and plotters that fit the chosen job (overlays for none)."""
        outputs, plotters = plotter_choices(self._catalogue, self._jobs.get(self._job.value or ""))
        set_options(self._output, outputs)
        self._output.disabled = not self._job.value
        set_options(self._plotter, plotters)

    def _plotter_chosen(self) -> None:
        """A plotter the user chose starts from its default params."""
        entry = next((p for p in self._catalogue.plotters if p.name == self._plotter.value), None)
        self._params.value = params_text(entry.defaults if entry is not None else {})


def _number(field: pn.widgets.IntInput) -> int:
    if field.value is None:
        raise ValueError(f"fill in '{field.label}'")
    return int(field.value)
