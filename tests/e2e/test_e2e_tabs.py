"""Many tabs on two replicas watch, edit and slice without interfering."""

from __future__ import annotations

import time

import pytest
from e2e_cluster import wait_until
from e2e_steps import badges_in, keeps_updating, open_five
from e2e_workspaces import DEFAULT_RATES, cube_workspace, default_workspace, small_workspace

from livegrid.stores.config import ConfigStore

pytestmark = pytest.mark.e2e

DEFAULT_TABS = [
    "Detectors",
    "Monitors",
    "Logs",
    "Cube",
    "Flattened cube",
    "Jobs",
    "Manage",
    "System",
]
DETECTOR_LAYERS = ("det0-image", "det1-image")
DETECTOR_BADGES = {"det0-image": "ready", "det0-roi": "ready", "det1-image": "ready"}
MONITOR_LAYERS = ("mon1-lines", "mon2-lines", "mon1-lines-log", "mon2-lines-log")
MONITOR_BADGES = dict.fromkeys(MONITOR_LAYERS, "ready")
SMALL_RATES = {"detector_panel_0": 1, "monitor_1": 1, "temperature": 1}


def test_five_tabs_on_two_replicas_show_the_default_grids_and_keep_updating(start_cluster, browser):
    cluster = start_cluster(workspace=default_workspace(), rates=DEFAULT_RATES)
    tabs = open_five(cluster, browser)
    for tab in tabs:
        replica = cluster.replicas[tab.name[0]]
        assert tab.replica() == replica.replica_id
        assert tab.tab_titles() == DEFAULT_TABS
        assert tab.active_tab() == "Detectors"
        wait_until(
            lambda tab=tab: tab.badges() == DETECTOR_BADGES,
            15,
            f"{tab.name}: the Detectors grid with every layer ready",
        )
    keeps_updating(cluster, tabs, DETECTOR_LAYERS, "new detector frames in every tab")
    for tab in tabs:
        # Updates send only changed columns; the page must still hold whole sources.
        sources = tab.sources()
        assert sources, f"{tab.name}: no plot data on the page"
        ragged = [
            cols
            for cols in sources
            if len(set(cols.values())) != 1 or ("x" in cols) != ("y" in cols)
        ]
        assert not ragged, f"{tab.name}: sources missing a column or ragged: {ragged}"

    switcher, others = tabs[0], tabs[1:]
    switcher.select_tab("Monitors")
    wait_until(
        lambda: switcher.badges() == MONITOR_BADGES, 15, "the switched tab on the Monitors grid"
    )
    keeps_updating(cluster, [switcher], MONITOR_LAYERS, "new monitor frames in the switched tab")
    keeps_updating(cluster, others, DETECTOR_LAYERS, "new detector frames in the other four")
    assert [tab.active_tab() for tab in others] == ["Detectors"] * 4


def test_a_started_job_toasts_once_in_each_of_five_tabs_and_not_in_a_later_tab(
    start_cluster, browser
):
    cluster = start_cluster(workspace=small_workspace(), rates=SMALL_RATES)
    tabs = open_five(cluster, browser)
    starter = tabs[0]
    starter.select_tab("Jobs")
    starter.field("Job id", "lg-jobs").fill("temp")
    starter.field("Workflow", "lg-jobs").select_option("history")
    starter.field("Source", "lg-jobs").select_option("temperature")
    starter.button("Start job", "lg-jobs").click()
    started = "Job temp started on worker"
    wait_until(
        lambda: all(tab.toast_count(started) for tab in tabs), 15, "the started toast in all tabs"
    )

    earlier = set(starter.toasts())
    late = browser.open(cluster.replicas["b"].url, "late")
    wait_until(lambda: late.badges() == {"img": "ready", "mon": "ready"}, 15, "late tab's plots")
    seen = late.updates()
    wait_until(lambda: late.updates() >= seen + 2, 15, "new frames in the late tab")

    # A later notification is a barrier: each tab shows notifications in order, so once
    # every tab showed it, any repeat of the started toast would have been shown too.
    starter.field("Job", "lg-jobs").select_option("temp")
    starter.button("Stop", "lg-jobs").click()
    stopped = "Job temp stopped."
    wait_until(
        lambda: all(tab.toast_count(stopped) for tab in [*tabs, late]),
        15,
        "the stopped toast in all six tabs",
    )
    for tab in tabs:
        assert tab.toast_count(started) == 1, (tab.name, tab.toasts())
        assert tab.toast_count(stopped) == 1, (tab.name, tab.toasts())
    assert late.toast_count(stopped) == 1
    assert not earlier & set(late.toasts()), late.toasts()


def test_a_grid_and_a_plot_added_in_one_tab_reach_all_others_without_taking_their_focus(
    start_cluster, browser
):
    cluster = start_cluster(workspace=small_workspace(), rates=SMALL_RATES)
    editor, on_main_a, on_system, on_main_b, typing = open_five(cluster, browser)
    editor.select_tab("Manage")
    on_system.select_tab("System")
    typing.select_tab("Manage")
    draft = typing.field("Grid title", "lg-manage")
    draft.click()
    draft.press_sequentially("draft")
    others = {on_main_a: "Main", on_system: "System", on_main_b: "Main", typing: "Manage"}

    editor.field("Grid title", "lg-manage").fill("Extra")
    editor.button("Add grid", "lg-manage").click()
    clicked = time.monotonic()
    wait_until(
        lambda: all("Extra" in tab.tab_titles() for tab in others),
        2,
        "the new grid's tab in every other tab within 2 s",
    )
    print(f"grid reached the other tabs {time.monotonic() - clicked:.2f} s after the click")

    manage = "lg-manage"
    editor.field("Grid", manage).select_option(label="Main (main)")
    editor.field("Row", manage).fill("0")
    editor.field("Col", manage).fill("1")
    editor.field("Job", manage).select_option(label="mon (latest on monitor_1)")
    editor.field("Output", manage).select_option("latest")
    editor.field("Plotter", manage).select_option("lines")
    editor.field("Params (JSON)", manage).fill('{"log": true}')
    editor.field("Plot title", manage).fill("Log spectrum")
    editor.button("Add plot", manage).click()
    clicked = time.monotonic()
    label = "Main / row 0, col 1 / Log spectrum"

    def everywhere() -> bool:
        """On the grid of the tabs that show Main, and in the form of the tab on Manage."""
        on_grid = all(len(badges_in(tab, "cell-0-1")) == 2 for tab in (on_main_a, on_main_b))
        listed = label in typing.field("Plot to remove", manage).inner_text()
        return on_grid and listed

    wait_until(everywhere, 2, "the new plot in every other tab within 2 s")
    print(f"plot reached the other tabs {time.monotonic() - clicked:.2f} s after the click")
    # The System tab shows no plots: that tab sees the new one when it returns to Main.

    assert {tab: tab.active_tab() for tab in others} == others
    assert draft.input_value() == "draft"
    assert draft.evaluate("el => el.getRootNode().activeElement === el")
    on_system.select_tab("Main")
    wait_until(lambda: len(badges_in(on_system, "cell-0-1")) == 2, 10, "the plot on return")


def test_one_cell_edited_from_two_tabs_at_once_ends_consistent_with_one_conflict_message(
    start_cluster, browser
):
    cluster = start_cluster(workspace=small_workspace(), rates=SMALL_RATES)
    tabs = open_five(cluster, browser)
    editors = {"from A": tabs[0], "from B": tabs[3]}
    manage = "lg-manage"
    for title, editor in editors.items():
        editor.select_tab("Manage")
        editor.field("Grid", manage).select_option(label="Main (main)")
        editor.field("Row", manage).fill("0")
        editor.field("Col", manage).fill("1")
        editor.field("Job", manage).select_option(label="mon (latest on monitor_1)")
        editor.field("Output", manage).select_option("latest")
        editor.field("Plotter", manage).select_option("lines")
        editor.field("Plot title", manage).fill(title)
    # A tab's edit names the workspace version its Manage tab showed when last on screen.
    # Both tabs leave Manage before their (scripted) clicks at the same instant, so both
    # edits name the same version whichever replica handles its click first.
    buttons = [(e, e.button("Add plot", manage).element_handle()) for e in editors.values()]
    for editor in editors.values():
        editor.select_tab("Main")
    at = time.time() * 1000 + 300
    for editor, button in buttons:
        editor.click_at(button, at)

    conflict = "Your change was not applied"
    wait_until(
        lambda: sum(e.toast_count(conflict) for e in editors.values()) == 1,
        10,
        "a conflict message in one of the two tabs",
        lambda: {
            "toasts": {title: e.toasts() for title, e in editors.items()},
            "cell": _cell_layers(cluster, "main", 1),
        },
    )
    loser = next(title for title, e in editors.items() if e.toast_count(conflict))
    winner = next(title for title in editors if title != loser)
    layers = _cell_layers(cluster, "main", 1)
    assert [layer.title for layer in layers] == ["", winner]
    new_id = layers[1].id
    for tab in tabs:
        tab.select_tab("Main")
    wait_until(
        lambda: all(badges_in(tab, "cell-0-1") == ["mon", new_id] for tab in tabs),
        10,
        "every tab to show the winner's plot and only it",
    )
    assert editors[winner].toast_count(conflict) == 0
    assert all(tab.toast_count(conflict) == 0 for tab in tabs if tab not in editors.values())


def test_a_slice_moved_in_one_tab_does_not_move_in_another(start_cluster, browser):
    cluster = start_cluster(workspace=cube_workspace(), rates={"detector_cube": 1})
    a, b = cluster.replicas["a"].url, cluster.replicas["b"].url
    mover = browser.open(a, "mover")
    # One watcher shares the mover's replica (and its prepared slices), one does not.
    watchers = [browser.open(a, "watcher-a"), browser.open(b, "watcher-b")]
    for tab in (mover, *watchers):
        wait_until(lambda tab=tab: tab.slider_title().endswith(": 0"), 20, f"{tab.name}: slice 0")
    first = watchers[0].slider_title()

    mover.slider().focus()
    for _ in range(3):
        mover.page.keyboard.press("ArrowRight")
    wait_until(lambda: mover.slider_title().endswith(": 3"), 10, "the mover's slice 3")
    assert mover.slider_title() != first

    # New frames reach the watchers after the move: a slice shared by mistake would show now.
    seen = [tab.updates() for tab in watchers]
    wait_until(
        lambda: all(tab.updates() >= n + 2 for tab, n in zip(watchers, seen, strict=True)),
        15,
        "two new frames in each watcher",
    )
    for tab in watchers:
        assert tab.slider_title() == first, tab.name
        assert tab.slider().get_attribute("aria-valuenow") == "0.0", tab.name
    assert mover.slider().get_attribute("aria-valuenow") == "3.0"


def _cell_layers(cluster, grid: str, col: int):
    """The layers of the cell at row 0, column ``col`` of ``grid`` in the stored workspace."""
    workspace = ConfigStore(cluster.client, cluster.keys).read().workspace
    return next(c for c in workspace.grid(grid).cells if (c.row, c.col) == (0, col)).layers
