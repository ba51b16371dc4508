"""A session's edits against a real Redis: applied, or refused with a toast and nothing written."""

from __future__ import annotations

from typing import Any

import panel as pn
import pytest
import redis

from app.actions import Actions
from app.view import ReplicaView
from app.widgets import JobsTab, ManageTab
from livegrid.catalogue import Catalogue, PlotterEntry, SourceEntry, WorkflowEntry
from livegrid.keyspace import Keyspace
from livegrid.models import Grid, JobSpec, Layer, Level, Workspace
from livegrid.redis_server import free_port
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore

Toasts = list[tuple[Level, str]]


class Session:
    """One user's Actions and the toasts they were shown."""

    def __init__(self, r: redis.Redis, keyspace: Keyspace, user: str) -> None:
        self.toasts: Toasts = []
        self.config = ConfigStore(r, keyspace)
        self.jobs = JobStore(r, keyspace)
        self.actions = Actions(
            self.config, self.jobs, user=user, toast=lambda lv, m: self.toasts.append((lv, m))
        )

    def shown(self) -> tuple[Workspace, int]:
        snapshot = self.config.read()
        return snapshot.workspace, snapshot.version


@pytest.fixture
def ada(r: redis.Redis, keyspace: Keyspace) -> Session:
    return Session(r, keyspace, "ada")


@pytest.fixture
def bob(r: redis.Redis, keyspace: Keyspace) -> Session:
    return Session(r, keyspace, "bob")


@pytest.fixture
def with_grid(ada: Session) -> Session:
    """ada's workspace: grid 'detectors' (3 by 3) with layer 'big' in a 2 by 2 cell at (0, 0)."""
    grid = Grid(id="detectors", title="Detectors", rows=3, cols=3)
    ada.config.write(Workspace().with_grid(grid), expected_version=0)
    layer = Layer(id="big", job="det", output="latest", plotter="image")
    ada.config.write(
        ada.config.read().workspace.with_layer("detectors", 0, 0, layer, row_span=2, col_span=2),
        expected_version=1,
    )
    return ada


def field(tab: JobsTab | ManageTab, label: str) -> Any:
    """The tab's one widget labelled ``label``, as a user finds it."""
    (found,) = [w for w in tab.panel.select(pn.widgets.Widget) if w.label == label]
    return found


def _catalogue() -> Catalogue:
    return Catalogue(
        sources=(SourceEntry(name="monitor_1", ndim=1),),
        workflows=(WorkflowEntry(name="latest", outputs=("latest",)),),
        plotters=(
            PlotterEntry(name="lines", accepts=(1,), defaults={"log": False}),
            PlotterEntry(name="vlines", defaults={"x": []}),
        ),
    )


# --- the workspace -------------------------------------------------------------


def test_adding_a_grid_writes_a_new_version_with_who_and_what(
    ada: Session, r: redis.Redis, keyspace: Keyspace
) -> None:
    assert ada.actions.add_grid(Workspace(), 0, title="Detector panels", rows=2, cols=3)

    snapshot = ada.config.read()
    assert snapshot.version == 1
    assert [(g.id, g.rows, g.cols) for g in snapshot.workspace.grids] == [("detector-panels", 2, 3)]
    ((_, entry),) = r.xrange(keyspace.config_log)
    assert (entry[b"user"], entry[b"change"]) == (b"ada", b"add grid 'detector-panels'")
    assert ada.toasts == []


def test_of_two_edits_of_the_same_version_one_wins_and_the_other_is_told(
    ada: Session, bob: Session
) -> None:
    ada.config.write(Workspace(), expected_version=0)
    shown, version = ada.shown()

    assert ada.actions.add_grid(shown, version, title="Ada", rows=1, cols=1)
    assert not bob.actions.add_grid(shown, version, title="Bob", rows=1, cols=1)

    assert bob.toasts == [
        (
            Level.WARNING,
            "Your change was not applied: ada changed the workspace meanwhile (now version 2). "
            "The dashboard shows the current state; make your change again if it still applies.",
        )
    ]
    assert [g.id for g in ada.config.read().workspace.grids] == ["ada"]
    assert ada.config.version() == 2


def test_a_grid_with_the_title_of_an_existing_one_is_refused_not_replaced(
    with_grid: Session,
) -> None:
    shown, version = with_grid.shown()

    assert not with_grid.actions.add_grid(shown, version, title="Detectors", rows=1, cols=1)

    ((level, message),) = with_grid.toasts
    assert level is Level.ERROR
    assert "a grid with id 'detectors' exists already" in message
    assert with_grid.shown() == (shown, version)


def test_adding_a_plot_creates_the_cell_with_its_title(with_grid: Session) -> None:
    shown, version = with_grid.shown()
    layer = Layer(job="mon", output="latest", plotter="lines", title="Monitor")

    assert with_grid.actions.add_layer(
        shown,
        version,
        grid_id="detectors",
        row=2,
        col=0,
        layer=layer,
        col_span=3,
        cell_title="Monitors",
    )

    cell = with_grid.config.read().workspace.grid("detectors").cell_at(2, 0)
    assert cell is not None
    assert (cell.title, cell.col_span, cell.layers) == ("Monitors", 3, [layer])


def test_adding_a_plot_to_an_existing_cell_keeps_its_span(with_grid: Session) -> None:
    shown, version = with_grid.shown()
    overlay = Layer(plotter="vlines", params={"x": [3]})

    assert with_grid.actions.add_layer(
        shown, version, grid_id="detectors", row=0, col=0, layer=overlay
    )

    cell = with_grid.config.read().workspace.grid("detectors").cell_at(0, 0)
    assert cell is not None
    assert ((cell.row_span, cell.col_span), [x.id for x in cell.layers]) == (
        (2, 2),
        ["big", overlay.id],
    )


def test_an_overlapping_cell_is_refused_and_nothing_is_written(with_grid: Session) -> None:
    shown, version = with_grid.shown()
    layer = Layer(job="mon", output="latest", plotter="lines")

    assert not with_grid.actions.add_layer(
        shown, version, grid_id="detectors", row=1, col=1, layer=layer
    )

    assert with_grid.toasts == [
        (
            Level.ERROR,
            "The plot was not added: cell at row 1, col 1 overlaps cell at row 0, col 0 "
            "(span 2\N{MULTIPLICATION SIGN}2) in grid 'detectors'.",
        )
    ]
    assert with_grid.shown() == (shown, version)


def test_a_plot_for_an_unknown_grid_is_refused_and_nothing_is_written(
    with_grid: Session,
) -> None:
    shown, version = with_grid.shown()
    layer = Layer(job="mon", output="latest", plotter="lines")

    assert not with_grid.actions.add_layer(
        shown, version, grid_id="nope", row=0, col=0, layer=layer
    )

    assert with_grid.toasts == [
        (Level.ERROR, "The plot was not added: the workspace has no grid 'nope'.")
    ]
    assert with_grid.shown() == (shown, version)


def test_removing_the_last_plot_of_a_cell_removes_the_cell(with_grid: Session) -> None:
    shown, version = with_grid.shown()

    assert with_grid.actions.remove_layer(shown, version, "big")

    assert with_grid.config.read().workspace.grid("detectors").cells == []


def test_removing_a_grid(with_grid: Session) -> None:
    shown, version = with_grid.shown()

    assert with_grid.actions.remove_grid(shown, version, "detectors")

    assert with_grid.shown() == (Workspace(), version + 1)


def test_bad_params_json_in_the_plot_form_is_refused_and_nothing_is_written(
    with_grid: Session,
) -> None:
    shown, version = with_grid.shown()
    tab = ManageTab(with_grid.actions)
    tab.refresh(ReplicaView(config_version=version, workspace=shown, catalogue=_catalogue()))
    field(tab, "Job").value = ""  # a static overlay: no job needed
    field(tab, "Params (JSON)").value = '{"x": [1, 2'

    field(tab, "Add plot").clicks += 1

    ((level, message),) = with_grid.toasts
    assert level is Level.ERROR
    assert message.startswith("The plot was not added: the params are not valid JSON")
    assert with_grid.shown() == (shown, version)


# --- jobs ------------------------------------------------------------------------


def _stored(r: redis.Redis, keyspace: Keyspace, job_id: str) -> JobSpec:
    raw = r.hget(keyspace.jobs, job_id)
    assert raw is not None
    return JobSpec.from_json(raw)  # type: ignore[arg-type]


def test_start_stop_reset_and_start_again_change_the_desired_job(
    ada: Session, r: redis.Redis, keyspace: Keyspace
) -> None:
    params = {"seconds": 5}

    assert ada.actions.start_job(job_id="mon", workflow="window", source="monitor_1", params=params)
    started = _stored(r, keyspace, "mon")
    assert ada.actions.reset_job("mon")
    assert ada.actions.stop_job("mon")
    stopped = _stored(r, keyspace, "mon")
    assert ada.actions.start_job(job_id="mon", workflow="window", source="monitor_1", params=params)
    again = _stored(r, keyspace, "mon")

    assert (started.workflow, started.source, started.params) == ("window", "monitor_1", params)
    assert (started.desired, started.updated_by) == ("running", "ada")
    assert (stopped.desired, stopped.reset_epoch) == ("stopped", 1)
    assert (again.desired, again.reset_epoch) == ("running", 1)
    logged = [f[b"action"] for _, f in r.xrange(keyspace.jobs_log)]
    assert logged == [b"start", b"reset", b"stop", b"start"]
    assert ada.toasts == []


def test_a_job_id_taken_by_another_definition_is_refused_not_redefined(
    ada: Session, bob: Session, r: redis.Redis, keyspace: Keyspace
) -> None:
    ada.actions.start_job(job_id="mon", workflow="latest", source="monitor_1", params={})
    before = _stored(r, keyspace, "mon")

    assert not bob.actions.start_job(job_id="mon", workflow="latest", source="monitor_2", params={})

    ((level, message),) = bob.toasts
    assert level is Level.WARNING
    assert message.startswith("Job 'mon' was not started: a job with this id exists already")
    assert _stored(r, keyspace, "mon") == before


def test_an_invalid_job_is_refused_and_nothing_is_written(
    ada: Session, r: redis.Redis, keyspace: Keyspace
) -> None:
    assert not ada.actions.start_job(job_id="my job", workflow="sum", source="m", params={})

    ((level, message),) = ada.toasts
    assert level is Level.ERROR
    assert message.startswith("Job 'my job' was not started: id: use 1 to 64 letters")
    assert "workflow: Input should be 'latest'" in message
    assert r.hlen(keyspace.jobs) == 0


def test_stopping_an_unknown_job_is_refused(ada: Session) -> None:
    assert not ada.actions.stop_job("ghost")
    assert ada.toasts == [(Level.ERROR, "There is no job 'ghost'; start it first.")]


def test_bad_params_json_in_the_job_form_is_refused_and_nothing_is_written(
    ada: Session, r: redis.Redis, keyspace: Keyspace
) -> None:
    tab = JobsTab(ada.actions)
    tab.refresh(ReplicaView(catalogue=_catalogue()))
    field(tab, "Job id").value = "mon"
    field(tab, "Params (JSON)").value = "[1, 2"

    field(tab, "Start job").clicks += 1

    ((level, message),) = ada.toasts
    assert level is Level.ERROR
    assert message.startswith("Job 'mon' was not started: the params are not valid JSON")
    assert r.hlen(keyspace.jobs) == 0


def test_an_unreachable_redis_is_reported_not_raised(keyspace: Keyspace) -> None:
    nowhere = redis.Redis(port=free_port(), socket_connect_timeout=1)
    toasts: Toasts = []
    actions = Actions(
        ConfigStore(nowhere, keyspace),
        JobStore(nowhere, keyspace),
        user="ada",
        toast=lambda lv, m: toasts.append((lv, m)),
    )

    assert not actions.add_grid(Workspace(), 0, title="Grid", rows=1, cols=1)
    assert not actions.start_job(job_id="j", workflow="latest", source="s", params={})

    assert [lv for lv, _ in toasts] == [Level.ERROR, Level.ERROR]
    assert all(m.startswith("Redis is unreachable;") for _, m in toasts)
