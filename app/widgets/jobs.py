"""The Jobs tab: every job with its state and worker, commands on one job, a new-job form.

Stable hooks: the root has the CSS class ``lg-jobs``; the table
``data-testid="lg-jobs-table"`` with one ``data-job="<id>"`` row per job; buttons
"Stop", "Reset", "Start again" (on the job chosen in "Job") and "Start job".
"""

from __future__ import annotations

import json
from collections.abc import Callable

import panel as pn

from app.actions import Actions
from app.auth.roles import Permission
from app.html import escape_text
from app.view import ReplicaView
from app.widgets.forms import (
    assign_if_changed,
    html_table,
    params_text,
    parse_params,
    schema_defaults,
    schema_keys,
    set_options,
    table_pane,
)
from app.widgets.roles import disable_unless
from livegrid.catalogue import Catalogue
from livegrid.models import JobSpec
from livegrid.stores.jobs import JobStatus

COLUMNS = ("id", "workflow", "source", "params", "desired", "state", "worker", "error")

NO_CATALOGUE = "No worker has published its workflows and sources yet; start a worker."


def jobs_table(view: ReplicaView) -> str:
    rows = []
    for job_id in sorted(view.jobs):
        spec = view.jobs[job_id]
        status = view.statuses.get(job_id, JobStatus())
        cells = (
            job_id,
            spec.workflow.value,
            spec.source,
            json.dumps(spec.params),
            spec.desired.value,
            status.state,
            status.worker,
            status.error,
        )
        rows.append(({"job": job_id, "state": status.state}, cells))
    return html_table("lg-jobs-table", COLUMNS, rows, empty="No jobs yet: start one below.")


class JobsTab:
    """Shows ``view.jobs``; refresh() works only when the jobs or the catalogue changed."""

    def __init__(self, actions: Actions) -> None:
        self._actions = actions
        self._generation: int | None = None
        self._catalogue = Catalogue()
        self._jobs: dict[str, JobSpec] = {}
        self._table = table_pane()
        self._job = pn.widgets.Select(label="Job", options=[], width=220)
        self._stop = pn.widgets.Button(label="Stop", color="warning", align="end")
        self._reset = pn.widgets.Button(label="Reset", align="end")
        self._again = pn.widgets.Button(label="Start again", align="end")
        self._new_id = pn.widgets.TextInput(label="Job id", placeholder="e.g. monitor_1_sum")
        self._workflow = pn.widgets.Select(label="Workflow", options=[])
        self._source = pn.widgets.Select(label="Source", options=[])
        self._params = pn.widgets.TextAreaInput(label="Params (JSON)", value="{}", height=80)
        self._about = pn.pane.HTML(NO_CATALOGUE, sizing_mode="stretch_width")
        self._start = pn.widgets.Button(label="Start job", color="primary")
        self._stop.on_click(lambda _: self._command(self._actions.stop_job))
        self._reset.on_click(lambda _: self._command(self._actions.reset_job))
        self._again.on_click(lambda _: self._start_again())
        self._start.on_click(lambda _: self._start_new())
        disable_unless(
            actions, Permission.RUN_JOBS, self._stop, self._reset, self._again, self._start
        )
        self._workflow.param.watch(lambda _: self._workflow_chosen(), "value")
        self.panel: pn.viewable.Viewable = pn.Column(
            pn.pane.HTML("<h3>Jobs</h3>"),
            self._table,
            pn.Row(self._job, self._stop, self._reset, self._again),
            pn.pane.HTML("<h3>Start a job</h3>"),
            pn.Row(self._new_id, self._workflow, self._source),
            self._about,
            self._params,
            self._start,
            css_classes=["lg-jobs"],
            sizing_mode="stretch_width",
        )

    def refresh(self, view: ReplicaView) -> None:
        catalogue_same = view.catalogue is self._catalogue or view.catalogue == self._catalogue
        if view.jobs_generation == self._generation and catalogue_same:
            return
        if view.jobs_generation != self._generation:
            self._generation = view.jobs_generation
            self._jobs = dict(view.jobs)
            assign_if_changed(self._table, jobs_table(view))
            set_options(self._job, sorted(self._jobs))
        if not catalogue_same:
            self._catalogue = view.catalogue
            set_options(self._workflow, [w.name for w in view.catalogue.workflows])
            self._workflow_chosen(prefill=False)

    # --- handlers (the session's IOLoop) ---------------------------------------

    def _command(self, command: Callable[[str], bool]) -> None:
        if self._job.value:
            command(self._job.value)

    def _start_again(self) -> None:
        spec = self._jobs.get(self._job.value or "")
        if spec is not None:
            self._actions.start_job(
                job_id=spec.id, workflow=spec.workflow.value, source=spec.source, params=spec.params
            )

    def _start_new(self) -> None:
        job_id = (self._new_id.value or "").strip()
        failed = f"Job '{job_id}' was not started" if job_id else "The job was not started"
        flow = self._catalogue.workflow(self._workflow.value or "")
        if flow is None or not self._source.value:
            self._actions.invalid(failed, ValueError("choose a workflow and a source"))
            return
        try:
            params = parse_params(self._params.value or "", allowed=schema_keys(flow.params_schema))
        except ValueError as error:
            self._actions.invalid(failed, error)
            return
        started = self._actions.start_job(
            job_id=job_id, workflow=flow.name, source=self._source.value, params=params
        )
        if started:
            self._new_id.value = ""

    def _workflow_chosen(self, *, prefill: bool = True) -> None:
        """Offer the workflow's sources; a workflow the user chose gets its default params."""
        flow = self._catalogue.workflow(self._workflow.value or "")
        set_options(self._source, self._catalogue.sources_for(flow.name) if flow else [])
        about = _describe(flow.description, flow.params_schema) if flow else NO_CATALOGUE
        assign_if_changed(self._about, about)
        if flow is not None and prefill:
            self._params.value = params_text(schema_defaults(flow.params_schema))


def _describe(description: str, schema: dict[str, object]) -> str:
    """The workflow's description and each of its params with its help text."""
    properties = schema.get("properties")
    items = []
    if isinstance(properties, dict):
        for name, spec in properties.items():
            help_text = spec.get("description", "") if isinstance(spec, dict) else ""
            items.append(f"<li><code>{escape_text(name)}</code>: {escape_text(help_text)}</li>")
    params = f"<ul>{''.join(items)}</ul>" if items else " It takes no params."
    return f'<div class="lg-workflow-about">{escape_text(description)}{params}</div>'
