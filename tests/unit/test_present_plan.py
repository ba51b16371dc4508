"""The present plan (app.present_plan): one tick's actions decided from values alone.

No Redis, no Panel document: every case is a table row of (what the session
shows, the replica's view, backlog) and the actions expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pytest

from app.layout import GridPlan, plan_workspace
from app.notification_cursor import NotificationCursor
from app.prepare import Prepared, prepare
from app.present_plan import (
    WAITING,
    GridShown,
    LayerCursor,
    Shown,
    TickPlan,
    diff_cells,
    needs_tick,
    plan_layer,
    plan_tick,
)
from app.view import LayerView, ReplicaView
from livegrid.codec import Frame, FrameKind
from livegrid.lifecycle import LayerState, Lifecycle
from livegrid.models import Cell, Grid, Layer, Workspace
from livegrid.stores.layers import LayerSnapshot

READY = LayerState.READY


def frame(offset: float = 0.0) -> Prepared:
    x = np.linspace(0, 1, 3)
    return prepare(Frame(kind=FrameKind.LINES, arrays={"x": x, "values": x + offset}))


PREPARED = frame()


def layer_view(
    lid: str,
    *,
    seq: int = 0,
    version: int = 1,
    state: LayerState = READY,
    prepared: Prepared | None = PREPARED,
    problem: str | None = None,
) -> LayerView:
    snapshot = LayerSnapshot(lid, Lifecycle(state, version), frame_seq=seq)
    return LayerView(snapshot, prepared if seq else None, problem=problem, frame_seq=seq)


def data_layer(lid: str) -> Layer:
    return Layer(id=lid, job="job", output=lid, plotter=FrameKind.LINES)


def grid(gid: str, *cells: tuple[int, int, str, tuple[str, ...]]) -> Grid:
    return Grid(
        id=gid,
        rows=2,
        cols=2,
        cells=[
            Cell(row=r, col=c, title=t, layers=[data_layer(lid) for lid in lids])
            for r, c, t, lids in cells
        ],
    )


TWO_CELLS = Workspace(
    grids=[grid("g1", (0, 0, "a", ("la",)), (0, 1, "b", ("lb",))), grid("g2", (0, 0, "c", ("lc",)))]
)


def plans(workspace: Workspace) -> dict[str, GridPlan]:
    return {plan.id: plan for plan in plan_workspace(workspace)}


def view(
    workspace: Workspace = TWO_CELLS,
    *,
    config_version: int = 1,
    layers: dict[str, LayerView] | None = None,
    generations: dict[str, int] | None = None,
    connected: bool = True,
) -> ReplicaView:
    return ReplicaView(
        generation=7,
        connected=connected,
        config_version=config_version,
        workspace=workspace,
        layers=layers if layers is not None else {},
        grid_generations=generations if generations is not None else {"g1": 1, "g2": 1},
    )


def showing(
    workspace: Workspace = TWO_CELLS,
    gid: str = "g1",
    *,
    generation: int = 1,
    cursors: dict[str, LayerCursor] | None = None,
    visible: bool = True,
) -> Shown:
    """A session that presented ``generation`` of grid ``gid`` of ``workspace`` (version 1)."""
    plan = plans(workspace)[gid]
    return Shown(
        config_version=1,
        tab_ids=tuple(plans(workspace)),
        grid_id=gid,
        grid=GridShown(plan, generation, cursors or {}),
        visible=visible,
        connected=True,
        notifications=NotificationCursor(0, 0, True),
    )


def tick(shown: Shown, replica: ReplicaView, *, backlogged: bool = False) -> TickPlan:
    return plan_tick(shown, replica, backlogged=backlogged, plan_grids=plan_workspace)


def shown_at(seq: int, version: int = 1) -> LayerCursor:
    return LayerCursor((READY, None), version, seq)


# --- one layer ------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerCase:
    name: str
    cursor: LayerCursor | None
    layer: LayerView | None
    badge: tuple[LayerState, str | None] | None
    clear: bool = False
    sends: int = 0  # the frame_seq sent; 0: none
    skipped: int = 0
    after: LayerCursor = field(default_factory=LayerCursor)


LAYER_CASES = [
    LayerCase(
        "first frame",
        None,
        layer_view("l", seq=1),
        (READY, None),
        sends=1,
        after=shown_at(1),
    ),
    LayerCase("the same frame again", shown_at(1), layer_view("l", seq=1), None, after=shown_at(1)),
    LayerCase(
        "the next frame", shown_at(1), layer_view("l", seq=2), None, sends=2, after=shown_at(2)
    ),
    LayerCase(
        "frames that came and went are skipped",
        shown_at(1),
        layer_view("l", seq=5),
        None,
        sends=5,
        skipped=3,
        after=shown_at(5),
    ),
    LayerCase(
        "a version bump without a frame clears the shown one",
        shown_at(4),
        layer_view("l", version=2, state=LayerState.WAITING_FOR_DATA),
        (LayerState.WAITING_FOR_DATA, None),
        clear=True,
        after=LayerCursor((LayerState.WAITING_FOR_DATA, None), 2, 0),
    ),
    LayerCase(
        "a version bump with nothing shown clears nothing",
        LayerCursor((READY, None), 1, 0),
        layer_view("l", version=2),
        None,
        after=LayerCursor((READY, None), 2, 0),
    ),
    LayerCase(
        "a version bump with a frame sends it",
        shown_at(4),
        layer_view("l", seq=5, version=2),
        None,
        sends=5,
        after=shown_at(5, version=2),
    ),
    LayerCase(
        "a replica-side problem shows as the layer's error, the frame stays",
        shown_at(1),
        layer_view("l", seq=1, problem="cannot decode"),
        (LayerState.ERROR, "cannot decode"),
        after=LayerCursor((LayerState.ERROR, "cannot decode"), 1, 1),
    ),
    LayerCase(
        "a layer the replica knows nothing of waits for its job",
        None,
        None,
        WAITING,
        after=LayerCursor(WAITING, 0, 0),
    ),
]


@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: c.name)
def test_plan_layer(case: LayerCase) -> None:
    patch = plan_layer("l", case.cursor, case.layer)
    assert patch.badge == case.badge
    assert patch.clear is case.clear
    assert (patch.frame_seq if patch.frame is not None else 0) == case.sends
    assert patch.skipped == case.skipped
    assert patch.cursor == case.after
    assert patch.idle is (case.badge is None and not case.clear and not case.sends)


# --- cells ------------------------------------------------------------------------------


def test_diff_cells_rebuilds_exactly_the_cells_whose_key_changed() -> None:
    before = plans(TWO_CELLS)["g1"]
    after = plans(Workspace(grids=[grid("g1", (0, 0, "a", ("la",)), (1, 1, "b", ("lb",)))]))["g1"]
    changes = diff_cells(before.cells, after)
    assert [c.title for c in changes.gone] == ["b"]
    assert [(c.row, c.col, c.title) for c in changes.new] == [(1, 1, "b")]
    assert diff_cells(before.cells, before) == diff_cells((), replace(before, cells=()))


# --- one tick ---------------------------------------------------------------------------


def test_first_frame_builds_the_first_grid_and_sends_every_frame() -> None:
    replica = view(layers={"la": layer_view("la", seq=3), "lb": layer_view("lb", seq=1)})
    plan = tick(Shown(), replica)
    assert plan.config is not None
    assert plan.config.retab and plan.config.build
    assert plan.config.tab_ids == ("g1", "g2")
    assert plan.config.grid_id == "g1"
    assert [(p.layer_id, p.frame_seq) for p in plan.patches if p.frame] == [("la", 3), ("lb", 1)]
    assert plan.generation == 1
    assert not plan.deferred


def test_an_empty_workspace_shows_no_grid_and_no_tabs() -> None:
    plan = tick(Shown(), view(Workspace(), generations={}))
    assert plan.config is not None
    # The tab list is the same (none), so the tab bar is not rebuilt: as before the split.
    assert not plan.config.retab and not plan.config.build and plan.config.grid_id == ""
    assert plan.present is None


def test_new_shape_rebuilds_the_moved_cell_and_sends_only_its_frame() -> None:
    moved = Workspace(
        grids=[grid("g1", (0, 0, "a", ("la",)), (1, 1, "b", ("lb",))), TWO_CELLS.grids[1]]
    )
    layers = {"la": layer_view("la", seq=3), "lb": layer_view("lb", seq=2)}
    shown = showing(cursors={"la": shown_at(3), "lb": shown_at(2)})
    plan = tick(shown, view(moved, config_version=2, layers=layers))
    assert plan.config is not None
    assert not plan.config.retab and not plan.config.build
    assert plan.config.cells is not None
    assert [c.title for c in plan.config.cells.gone] == ["b"]
    assert [(c.row, c.col) for c in plan.config.cells.new] == [(1, 1)]
    # The kept cell shows its frame already; the rebuilt one is shown from scratch.
    assert [(p.layer_id, p.frame_seq) for p in plan.patches] == [("lb", 2)]


def test_version_bump_clears_the_frame_of_the_layer_whose_version_moved() -> None:
    layers = {
        "la": layer_view("la", version=2, state=LayerState.WAITING_FOR_DATA),
        "lb": layer_view("lb", seq=2),
    }
    shown = showing(cursors={"la": shown_at(3), "lb": shown_at(2)})
    plan = tick(shown, view(layers=layers, generations={"g1": 2}))
    assert plan.config is None
    assert [(p.layer_id, p.clear) for p in plan.patches] == [("la", True)]
    assert plan.generation == 2


@dataclass(frozen=True)
class TickCase:
    name: str
    shown: Shown
    replica: ReplicaView
    backlogged: bool
    presents: bool
    deferred: bool


NEWS = view(layers={"la": layer_view("la", seq=4)}, generations={"g1": 2, "g2": 1})
TICK_CASES = [
    TickCase("a new frame on screen is presented", showing(), NEWS, False, True, False),
    TickCase(
        "a hidden browser tab presents nothing", showing(visible=False), NEWS, False, False, False
    ),
    TickCase("a backed-up websocket defers the present", showing(), NEWS, True, False, True),
    TickCase("a hidden tab defers nothing", showing(visible=False), NEWS, True, False, False),
    TickCase(
        "nothing new for the grid on screen", showing(generation=2), NEWS, False, False, False
    ),
    TickCase("news of another grid only", showing(gid="g2"), NEWS, False, False, False),
]


@pytest.mark.parametrize("case", TICK_CASES, ids=lambda c: c.name)
def test_plan_tick_presents_only_a_visible_grid_that_moved(case: TickCase) -> None:
    plan = tick(case.shown, case.replica, backlogged=case.backlogged)
    assert (plan.present is not None) is case.presents
    assert plan.deferred is case.deferred
    assert plan.config is None
    expected = 2 if case.presents else case.shown.grid.generation if case.shown.grid else -1
    assert plan.generation == expected


def test_a_deferred_present_keeps_the_cursors_so_the_next_tick_shows_the_latest() -> None:
    shown = showing(cursors={"la": shown_at(1)})
    deferred = tick(shown, NEWS, backlogged=True)
    assert deferred.present is None and deferred.deferred
    later = replace(NEWS, layers={"la": layer_view("la", seq=9)}, grid_generations={"g1": 3})
    plan = tick(shown, later)
    [patch] = [p for p in plan.patches if p.frame is not None]
    assert (patch.layer_id, patch.frame_seq, patch.skipped) == ("la", 9, 7)


def test_config_change_touching_another_grid_sends_nothing_to_this_one() -> None:
    other = Workspace(grids=[TWO_CELLS.grids[0], grid("g2", (1, 0, "c", ("lc2",)))])
    layers = {"la": layer_view("la", seq=3), "lb": layer_view("lb", seq=2)}
    shown = showing(cursors={"la": shown_at(3), "lb": shown_at(2)})
    plan = tick(shown, view(other, config_version=2, layers=layers, generations={"g1": 2}))
    assert plan.config is not None
    assert not plan.config.retab and not plan.config.build
    assert plan.config.cells is not None
    assert plan.config.cells.gone == () and plan.config.cells.new == ()
    assert plan.present is not None and plan.patches == ()


def test_a_grid_added_elsewhere_keeps_the_grid_on_screen() -> None:
    added = Workspace(grids=[*TWO_CELLS.grids, grid("g3", (0, 0, "d", ("ld",)))])
    plan = tick(showing(gid="g2"), view(added, config_version=2))
    assert plan.config is not None
    assert plan.config.retab and not plan.config.build
    assert (plan.config.tab_ids, plan.config.grid_id) == (("g1", "g2", "g3"), "g2")


def test_removing_the_grid_on_screen_shows_the_first_grid() -> None:
    removed = Workspace(grids=[TWO_CELLS.grids[0]])
    plan = tick(showing(gid="g2"), view(removed, config_version=2))
    assert plan.config is not None
    assert plan.config.retab and plan.config.build
    assert plan.config.grid_id == "g1"
    assert {p.layer_id for p in plan.present or ()} == {"la", "lb"}


@pytest.mark.parametrize(
    ("shown_connected", "connected", "banner"),
    [(None, True, True), (True, True, None), (True, False, False), (False, True, True)],
)
def test_the_banner_changes_only_when_the_connection_did(
    shown_connected: bool | None, connected: bool, banner: bool | None
) -> None:
    shown = replace(showing(), connected=shown_connected)
    assert tick(shown, view(connected=connected)).connection == banner


@pytest.mark.parametrize(
    ("ticked", "deferred", "side_tab", "expected"),
    [
        (7, False, False, False),
        (6, False, False, True),
        (7, True, False, True),
        (7, False, True, True),
    ],
)
def test_needs_tick(ticked: int, deferred: bool, side_tab: bool, expected: bool) -> None:
    replica = view()  # generation 7
    assert needs_tick(replica, ticked=ticked, deferred=deferred, side_tab=side_tab) is expected


def test_the_tick_advances_the_notification_cursor() -> None:
    replica = replace(view(), notification_seq=3)
    plan = tick(showing(), replica)
    assert plan.notifications.cursor == NotificationCursor(3, 0, True)
