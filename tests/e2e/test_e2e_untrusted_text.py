"""Crafted text from outside shows as text in Chromium and runs no script.

One browser, two tabs on one replica. The payloads reach the page as user names
(``?user=``), a grid, cell and layer title, a job's source (so the worker's
error message, the layer's badge and tooltip, the job tables), the name of the
workspace's last editor, and a notification's job and message (a toast and the
System tab's log). Job ids themselves are refused by the model's id pattern; the
notification's ``job`` field is the free-text job name that reaches a toast.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from e2e_browser import Tab
from e2e_cluster import wait_until
from e2e_steps import open_tabs

from livegrid.models import Cell, Grid, JobSpec, Layer, Level, Notification, Workspace
from livegrid.stores.config import ConfigStore
from livegrid.stores.notifications import NotificationLog

pytestmark = pytest.mark.e2e

IMG = "<img src=x onerror=window.__pwned=1>"
SCRIPT = '"><script>window.__pwned=1</script>'
BOTH = SCRIPT + IMG
#: What the worker says about the crafted source (its repr, quoted with ').
NO_SOURCE = f"There is no source '{BOTH}'"
TOAST = f"{SCRIPT}: failed: {IMG}"


def crafted_workspace() -> Workspace:
    cells = [
        Cell(
            row=0,
            col=0,
            title=BOTH,
            layers=[Layer(id="bad", job="bad", output="latest", plotter="lines", title=BOTH)],
        ),
        Cell(
            row=0,
            col=1,
            layers=[Layer(id="mon", job="mon", output="latest", plotter="lines", title=BOTH)],
        ),
    ]
    return Workspace(
        grids=[Grid(id="main", title=BOTH, rows=1, cols=2, cells=cells)],
        jobs=[
            JobSpec(id="bad", workflow="latest", source=BOTH),
            JobSpec(id="mon", workflow="latest", source="monitor_1"),
        ],
    )


def text_of(tab: Tab, selector: str) -> str:
    locator = tab.page.locator(selector)
    return locator.first.inner_text() if locator.count() else ""


def pwned(tab: Tab) -> str:
    return str(tab.page.evaluate("typeof window.__pwned"))


def test_crafted_names_titles_errors_and_notifications_show_literally_and_run_nothing(
    start_cluster, browser
):
    cluster = start_cluster(
        workspace=crafted_workspace(), rates={"monitor_1": 1}, workers=1, replicas=1
    )
    config = ConfigStore(cluster.client, cluster.keys)
    snapshot = config.read()
    config.write(snapshot.workspace, expected_version=snapshot.version, user=BOTH, change="edit")
    url = cluster.replicas["a"].url
    users = {"img": IMG, "script": SCRIPT}
    tabs = open_tabs(cluster, browser, {n: f"{url}/?user={quote(u)}" for n, u in users.items()})
    for tab in tabs:
        wait_until(
            lambda tab=tab: tab.badges() == {"bad": "error", "mon": "ready"},
            30,
            f"{tab.name}: the crafted job's layer in error, the other ready",
        )
    NotificationLog(cluster.client, cluster.keys, maxlen=1000).append(
        Notification(level=Level.ERROR, job=SCRIPT, message=f"failed: {IMG}")
    )
    for tab in tabs:
        wait_until(lambda tab=tab: TOAST in tab.toasts(), 15, f"{tab.name}: the crafted toast")
        assert text_of(tab, "[data-testid=user]") == users[tab.name]
        assert BOTH in tab.tab_titles()
        assert text_of(tab, ".lg-cell-title") == BOTH
        badge = tab.page.locator("[data-testid=layer-state-bad]").first
        assert NO_SOURCE in badge.inner_text()
        assert NO_SOURCE in (badge.get_attribute("title") or "")

    watcher = tabs[0]
    watcher.select_tab("System")
    wait_until(
        lambda: all(
            u in text_of(watcher, "[data-testid=lg-sessions-table]") for u in users.values()
        ),
        15,
        "both crafted user names in the sessions table",
    )
    assert NO_SOURCE in text_of(watcher, "[data-testid=lg-system-jobs-table]")
    notifications = text_of(watcher, "[data-testid=lg-notifications-table]")
    assert SCRIPT in notifications and f"failed: {IMG}" in notifications
    assert NO_SOURCE in notifications  # the worker's "failed to start" notification
    watcher.select_tab("Jobs")
    wait_until(
        lambda: NO_SOURCE in text_of(watcher, "[data-testid=lg-jobs-table]"), 15, "the jobs table"
    )
    assert BOTH in text_of(watcher, "[data-testid=lg-jobs-table] tr[data-job=bad]")
    watcher.select_tab("Manage")
    wait_until(
        lambda: f"last changed by {BOTH}" in text_of(watcher, "[data-testid=lg-config-version]"),
        15,
        "the crafted last editor in the Manage tab",
    )

    assert [pwned(tab) for tab in tabs] == ["undefined", "undefined"]
    # The flag does catch a payload set as HTML: the same strings, unescaped, run at once.
    control = browser.context.new_page()
    control.set_content("<div id=target></div>")
    control.evaluate("html => { document.getElementById('target').innerHTML = html; }", BOTH)
    control.wait_for_function("window.__pwned === 1", timeout=10_000)
