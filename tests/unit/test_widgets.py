"""The management tabs, refreshed from hand-built views: what they show and what a click asks for.

Clicks go to a recorder standing in for ``Actions`` (the Redis side of every edit is
tested in tests/integration/test_actions.py).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, cast

import panel as pn
import pytest

from app.actions import Actions
from app.view import NotificationEntry, ReplicaView, ServiceView, SystemView
from app.widgets import JobsTab, ManageTab, SystemTab
from app.widgets.manage import OVERLAY
from livegrid.catalogue import Catalogue, PlotterEntry, SourceEntry, WorkflowEntry
from livegrid.models import Grid, JobSpec, Layer, Level, Notification, Workspace
from livegrid.stores.jobs import JobStatus
from livegrid.stores.registry import Member

NOW = 1_750_000_000 * 1_000_000_000  # 2025-06-15 15:06:40 UTC

CATALOGUE = Catalogue(
    sources=(
        SourceEntry(name="detector_panel_0", ndim=2),
        SourceEntry(name="monitor_1", ndim=1),
        SourceEntry(name="temperature", ndim=0),
    ),
    workflows=(
        WorkflowEntry(name="latest", outputs=("latest",)),
        WorkflowEntry(
            name="window",
            outputs=("window",),
            params_schema={
                "additionalProperties": False,
                "properties": {"seconds": {"default": 10.0, "description": "Width."}},
            },
        ),
        WorkflowEntry(name="history", outputs=("history",), input_ndim=0, output_ndim=1),
    ),
    plotters=(
        PlotterEntry(name="image", accepts=(2,), for_time=False, defaults={"log": False}),
        PlotterEntry(name="lines", accepts=(1,), for_time=False, defaults={"log": False}),
        PlotterEntry(name="timeseries", accepts=(1,), needs_time=True),
        PlotterEntry(name="vlines", defaults={"x": []}),
    ),
)

JOBS = {
    "det": JobSpec(id="det", workflow="latest", source="detector_panel_0"),
    "mon": JobSpec(id="mon", workflow="window", source="monitor_1", params={"seconds": 5}),
}

WORKSPACE = Workspace(
    grids=[
        Grid(id="detectors", title="Detectors", rows=2, cols=2),
        Grid(id="monitors", title="Monitors", rows=1, cols=2),
    ]
).with_layer("detectors", 0, 0, Layer(id="img", job="det", output="latest", plotter="image"))


def view(**changes: Any) -> ReplicaView:
    base = ReplicaView(
        generation=1,
        connected=True,
        config_version=7,
        workspace=WORKSPACE,
        jobs=JOBS,
        statuses={"det": JobStatus(state="running", worker="w-1")},
        jobs_generation=1,
        catalogue=CATALOGUE,
    )
    return replace(base, **changes)


class Recorder:
    """Stands in for ``Actions``: records each call and applies nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> bool:
            self.calls.append((name, args, kwargs))
            return True

        return record

    def named(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(args, kwargs) for n, args, kwargs in self.calls if n == name]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def _actions(recorder: Recorder) -> Actions:
    return cast(Actions, recorder)


Tab = JobsTab | ManageTab | SystemTab


def field(tab: Tab, label: str) -> Any:
    """The tab's one widget labelled ``label``, as a user finds it."""
    found = [w for w in tab.panel.select(pn.widgets.Widget) if w.label == label]
    assert len(found) == 1, f"{len(found)} widgets labelled {label!r}"
    return found[0]


def click(tab: Tab, label: str) -> None:
    field(tab, label).clicks += 1


def table(tab: Tab, testid: str) -> str:
    """The HTML of the tab's table with ``data-testid=testid``."""
    hook = f'data-testid="{testid}"'
    (html,) = [str(p.object) for p in tab.panel.select(pn.pane.HTML) if hook in str(p.object)]
    return html


def _rows(html: str, attribute: str) -> list[str]:
    """The values of ``data-<attribute>`` on the rows of a table's HTML, in order."""
    marker = f' data-{attribute}="'
    return [part.split('"', 1)[0] for part in html.split(marker)[1:]]


# --- Jobs ----------------------------------------------------------------------


def test_jobs_tab_shows_a_row_per_job_with_its_state_and_worker(recorder: Recorder) -> None:
    tab = JobsTab(_actions(recorder))
    tab.refresh(view())

    html = table(tab, "lg-jobs-table")
    assert 'data-testid="lg-jobs-table"' in html
    assert _rows(html, "job") == ["det", "mon"]
    assert "<td>running</td><td>w-1</td>" in html
    assert "<td>{&quot;seconds&quot;: 5}</td>" in html
    assert "lg-jobs" in tab.panel.css_classes


@pytest.mark.parametrize(("button", "action"), [("Stop", "stop_job"), ("Reset", "reset_job")])
def test_stop_and_reset_command_the_chosen_job(
    recorder: Recorder, button: str, action: str
) -> None:
    tab = JobsTab(_actions(recorder))
    tab.refresh(view())
    field(tab, "Job").value = "mon"

    click(tab, button)

    assert recorder.named(action) == [(("mon",), {})]


def test_start_again_starts_the_chosen_job_with_its_definition(recorder: Recorder) -> None:
    tab = JobsTab(_actions(recorder))
    tab.refresh(view())
    field(tab, "Job").value = "mon"

    click(tab, "Start again")

    expected = {"job_id": "mon", "workflow": "window", "source": "monitor_1"}
    assert recorder.named("start_job") == [((), {**expected, "params": {"seconds": 5}})]


def test_the_new_job_form_offers_fitting_sources_and_the_default_params(
    recorder: Recorder,
) -> None:
    tab = JobsTab(_actions(recorder))
    tab.refresh(view())

    field(tab, "Workflow").value = "window"
    assert json.loads(field(tab, "Params (JSON)").value) == {"seconds": 10.0}
    field(tab, "Workflow").value = "history"
    assert field(tab, "Source").options == ["temperature"]
    assert json.loads(field(tab, "Params (JSON)").value) == {}


def test_start_job_sends_the_typed_params(recorder: Recorder) -> None:
    tab = JobsTab(_actions(recorder))
    tab.refresh(view())
    field(tab, "Job id").value = "mon2"
    field(tab, "Workflow").value = "window"
    field(tab, "Source").value = "monitor_1"
    field(tab, "Params (JSON)").value = '{"seconds": 2.5}'

    click(tab, "Start job")

    expected = {"job_id": "mon2", "workflow": "window", "source": "monitor_1"}
    assert recorder.named("start_job") == [((), {**expected, "params": {"seconds": 2.5}})]


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ('{"seconds": ', "the params are not valid JSON"),
        ("[10]", "the params must be a JSON object"),
        ('{"width": 3}', "unknown params width; the params it takes: seconds"),
    ],
)
def test_start_job_with_bad_params_is_refused_before_any_action(
    recorder: Recorder, params: str, problem: str
) -> None:
    tab = JobsTab(_actions(recorder))
    tab.refresh(view())
    field(tab, "Job id").value = "mon2"
    field(tab, "Workflow").value = "window"
    field(tab, "Params (JSON)").value = params

    click(tab, "Start job")

    ((args, _),) = recorder.named("invalid")
    assert args[0] == "Job 'mon2' was not started"
    assert str(args[1]).startswith(problem)
    assert recorder.named("start_job") == []


def test_jobs_refresh_with_the_same_generation_changes_nothing(recorder: Recorder) -> None:
    tab = JobsTab(_actions(recorder))
    tab.refresh(view())
    shown = table(tab, "lg-jobs-table")

    tab.refresh(view(jobs={}))

    assert table(tab, "lg-jobs-table") == shown


def test_jobs_refresh_keeps_what_the_user_is_typing(recorder: Recorder) -> None:
    tab = JobsTab(_actions(recorder))
    tab.refresh(view())
    field(tab, "Job id").value = "typed"
    field(tab, "Workflow").value = "window"
    field(tab, "Params (JSON)").value = '{"seconds": 3'

    tab.refresh(view(jobs={"det": JOBS["det"]}, jobs_generation=2))

    assert _rows(table(tab, "lg-jobs-table"), "job") == ["det"]
    assert (
        field(tab, "Job id").value,
        field(tab, "Workflow").value,
        field(tab, "Params (JSON)").value,
    ) == (
        "typed",
        "window",
        '{"seconds": 3',
    )


# --- Manage --------------------------------------------------------------------


def test_add_grid_names_the_version_shown(recorder: Recorder) -> None:
    tab = ManageTab(_actions(recorder))
    tab.refresh(view())
    field(tab, "Grid title").value = "Logs"
    field(tab, "Rows").value, field(tab, "Cols").value = 3, 1

    click(tab, "Add grid")

    ((args, kwargs),) = recorder.named("add_grid")
    assert args == (WORKSPACE, 7)
    assert kwargs == {"title": "Logs", "rows": 3, "cols": 1}
    assert "lg-manage" in tab.panel.css_classes


def test_remove_grid_and_remove_plot_name_the_version_shown(recorder: Recorder) -> None:
    tab = ManageTab(_actions(recorder))
    tab.refresh(view())
    field(tab, "Grid to remove").value = "monitors"

    click(tab, "Remove grid")
    click(tab, "Remove plot")

    assert recorder.named("remove_grid") == [((WORKSPACE, 7, "monitors"), {})]
    assert recorder.named("remove_layer") == [((WORKSPACE, 7, "img"), {})]


def test_plots_to_remove_are_labelled_grid_cell_and_layer(recorder: Recorder) -> None:
    workspace = WORKSPACE.with_layer(
        "monitors", 0, 1, Layer(id="mon-lines", job="mon", output="window", plotter="lines",
                                title="Monitor 1")
    )  # fmt: skip
    tab = ManageTab(_actions(recorder))
    tab.refresh(view(workspace=workspace))

    assert field(tab, "Plot to remove").options == {
        "Detectors / row 0, col 0 / img": "img",
        "Monitors / row 0, col 1 / Monitor 1": "mon-lines",
    }


def test_a_job_offers_its_outputs_and_fitting_plotters_with_default_params(
    recorder: Recorder,
) -> None:
    tab = ManageTab(_actions(recorder))
    tab.refresh(view())

    field(tab, "Job").value = "mon"

    assert (field(tab, "Output").options, field(tab, "Output").value) == (["window"], "window")
    assert (field(tab, "Plotter").options, field(tab, "Plotter").value) == (["lines"], "lines")
    assert json.loads(field(tab, "Params (JSON)").value) == {"log": False}


def test_add_plot_builds_the_layer_and_names_the_version_shown(recorder: Recorder) -> None:
    tab = ManageTab(_actions(recorder))
    tab.refresh(view())
    field(tab, "Grid").value = "monitors"
    field(tab, "Row").value, field(tab, "Col").value, field(tab, "Col span").value = 0, 0, 2
    field(tab, "Job").value = "mon"
    field(tab, "Params (JSON)").value = '{"log": true}'
    field(tab, "Plot title").value = "Monitor"

    click(tab, "Add plot")

    ((args, kwargs),) = recorder.named("add_layer")
    layer = kwargs.pop("layer")
    assert args == (WORKSPACE, 7)
    assert kwargs == {
        "grid_id": "monitors", "row": 0, "col": 0, "row_span": 1, "col_span": 2,
        "cell_title": "Monitor",
    }  # fmt: skip
    assert (layer.job, layer.output, layer.plotter, layer.params, layer.title) == (
        "mon",
        "window",
        "lines",
        {"log": True},
        "Monitor",
    )


def test_a_static_overlay_has_no_job_and_keeps_an_existing_cell_title(
    recorder: Recorder,
) -> None:
    tab = ManageTab(_actions(recorder))
    tab.refresh(view())
    field(tab, "Job").value = ""

    assert field(tab, "Output").disabled
    assert field(tab, "Plotter").options == ["vlines"]
    field(tab, "Params (JSON)").value = '{"x": [4]}'
    field(tab, "Plot title").value = "Marker"
    click(tab, "Add plot")

    ((_, kwargs),) = recorder.named("add_layer")
    assert (kwargs["layer"].job, kwargs["layer"].params, kwargs["cell_title"]) == (
        None,
        {"x": [4]},
        None,
    )


def test_an_edit_names_the_version_of_the_last_refresh(recorder: Recorder) -> None:
    tab = ManageTab(_actions(recorder))
    tab.refresh(view())
    newer = WORKSPACE.with_grid(Grid(id="logs", rows=1, cols=1))
    tab.refresh(view(config_version=8, workspace=newer))

    click(tab, "Remove grid")

    ((args, _),) = recorder.named("remove_grid")
    assert args[:2] == (newer, 8)
    assert tab.shown_version == 8


def test_manage_refresh_with_the_same_version_changes_nothing(recorder: Recorder) -> None:
    tab = ManageTab(_actions(recorder))
    tab.refresh(view())

    tab.refresh(view(workspace=Workspace()))
    click(tab, "Remove grid")

    assert recorder.named("remove_grid") == [((WORKSPACE, 7, "detectors"), {})]


def test_manage_refresh_keeps_selections_that_are_still_valid(recorder: Recorder) -> None:
    tab = ManageTab(_actions(recorder))
    tab.refresh(view())
    field(tab, "Grid").value = "monitors"
    field(tab, "Job").value = "mon"
    field(tab, "Params (JSON)").value = '{"log": true}'

    without_detectors = WORKSPACE.without_grid("detectors")
    tab.refresh(view(config_version=8, workspace=without_detectors, jobs_generation=2))

    assert (
        field(tab, "Grid").value,
        field(tab, "Job").value,
        field(tab, "Params (JSON)").value,
    ) == (
        "monitors",
        "mon",
        '{"log": true}',
    )
    assert field(tab, "Grid to remove").value == "monitors"


def test_a_job_that_vanished_falls_back_to_the_overlay_choice(recorder: Recorder) -> None:
    tab = ManageTab(_actions(recorder))
    tab.refresh(view())
    field(tab, "Job").value = "mon"

    tab.refresh(view(jobs={"det": JOBS["det"]}, jobs_generation=2))

    assert list(field(tab, "Job").options) == [OVERLAY, "det (latest on detector_panel_0)"]
    assert field(tab, "Job").value == ""
    assert field(tab, "Plotter").options == ["vlines"]


# --- System --------------------------------------------------------------------


def _system() -> SystemView:
    return SystemView(
        sessions=(
            Member("s-2", 1500, {"user": "bob", "replica": "r-1", "tab": "monitors",
                                 "started_at": str(NOW - 60 * 10**9)}),
            Member("s-1", 200, {"user": "ada", "replica": "r-2", "tab": "detectors"}),
        ),
        replicas=(Member("r-1", 300, {"host": "app-0", "port": "5006", "sessions": "1"}),),
        workers=(Member("w-1", 700, {"host": "worker-0", "pid": "12", "jobs": "det,mon"}),),
    )  # fmt: skip


def _notifications() -> tuple[NotificationEntry, ...]:
    return tuple(
        NotificationEntry(seq, Notification(level=level, message=text, job="det", ts=NOW + seq))
        for seq, level, text in (
            (1, Level.INFO, "Job det started on worker w-1"),
            (2, Level.ERROR, "Job det failed: boom"),
        )
    )


def test_system_tab_lists_sessions_replicas_and_workers_with_heartbeat_age() -> None:
    tab = SystemTab()
    tab.refresh(view(system=_system(), system_generation=1), NOW)

    sessions, replicas, workers, jobs = (
        table(tab, f"lg-{name}-table")
        for name in ("sessions", "replicas", "workers", "system-jobs")
    )
    assert 'data-testid="lg-sessions-table"' in sessions
    assert _rows(sessions, "id") == ["s-1", "s-2"]
    assert "<td>s-2</td><td>bob</td><td>r-1</td><td>monitors</td><td>15:05:40</td><td>1.5</td>" in (
        sessions
    )
    assert "<td>r-1</td><td>app-0</td><td>5006</td><td>1</td><td>0.3</td>" in replicas
    assert "<td>w-1</td><td>worker-0</td><td>12</td><td>det,mon</td>" in workers
    assert "<td>det</td><td>running</td><td>running</td><td>w-1</td>" in jobs
    assert "lg-system" in tab.panel.css_classes


def test_system_tab_shows_notifications_newest_first() -> None:
    tab = SystemTab()
    tab.refresh(view(notifications=_notifications(), notification_seq=2), NOW)

    html = table(tab, "lg-notifications-table")
    assert _rows(html, "level") == ["error", "info"]
    assert "<td>15:06:40</td><td>error</td><td>det</td><td></td><td>Job det failed: boom</td>" in (
        html
    )


def test_system_refresh_with_the_same_generations_changes_nothing() -> None:
    tab = SystemTab()
    tab.refresh(view(system=_system(), system_generation=1), NOW)
    shown = [p.object for p in tab.panel.select(pn.pane.HTML)]

    tab.refresh(view(system=SystemView(), system_generation=1, jobs={}), NOW + 10**9)

    assert [p.object for p in tab.panel.select(pn.pane.HTML)] == shown


def test_system_refresh_shows_a_new_notification() -> None:
    tab = SystemTab()
    first = _notifications()[:1]
    tab.refresh(view(notifications=first, notification_seq=1), NOW)

    tab.refresh(view(notifications=_notifications(), notification_seq=2), NOW)

    assert _rows(table(tab, "lg-notifications-table"), "seq") == ["2", "1"]


def test_system_tab_shows_service_status_and_marks_quiet_services() -> None:
    services = (
        ServiceView("detector-reducer", "ess-reduce", "node-3", "running", 1_200),
        ServiceView("monitor-reducer", "ess-reduce", "node-4", "running", 9_000, quiet=True),
    )
    tab = SystemTab()
    tab.refresh(view(system=SystemView(services=services), system_generation=1), NOW)

    services_html = table(tab, "lg-services-table")
    assert _rows(services_html, "id") == ["detector-reducer", "monitor-reducer"]
    assert "<td>detector-reducer</td><td>ess-reduce</td><td>node-3</td><td>running</td>" in (
        services_html
    )
    assert "running (quiet)" in services_html
    assert 'data-quiet="true"' in services_html
