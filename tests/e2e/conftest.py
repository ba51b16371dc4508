"""End-to-end fixtures: a whole cluster of real processes and real headless Chromium.

``start_cluster`` starts a private Redis, two workers and two replicas with the
``livegrid`` CLI (see ``e2e_cluster.py``); ``launch_browser`` starts Debian's
Chromium through Playwright (see ``e2e_browser.py``). Everything is stopped
when the test ends. When a test fails, a screenshot and the console log of
every open tab and the log of every process are kept in the test's
``tmp_path`` and their paths are printed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_browser import CHROMIUM, BrowserProcess
from e2e_cluster import Cluster
from playwright.sync_api import Playwright, sync_playwright


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    report = getattr(request.node, "rep_call", None)
    return report is None or report.failed


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"{CHROMIUM} was not found; install Debian's chromium "
            "(./scripts/bootstrap --browser, or apt-get install -y chromium)",
            pytrace=False,
        )
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def start_cluster(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Cluster]]:
    """Start a cluster (see :class:`Cluster` for the arguments); stopped after the test."""
    started: list[Cluster] = []

    def start(**kwargs: Any) -> Cluster:
        log_dir = tmp_path / f"cluster{len(started) + 1}"
        log_dir.mkdir()
        cluster = Cluster(log_dir, **kwargs)
        started.append(cluster)
        return cluster

    yield start
    failed = _failed(request)
    for cluster in started:
        logs = cluster.log_paths() if failed else []
        cluster.close()
        for path in logs:
            print(f"e2e artefact (process log): {path}")


@pytest.fixture
def launch_browser(
    playwright: Playwright,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    start_cluster: Callable[..., Cluster],
) -> Iterator[Callable[[], BrowserProcess]]:
    """Launch a headless Chromium; on failure, screenshot its tabs before closing it.

    Depends on ``start_cluster`` so that browsers close (and are photographed)
    before the processes they show are stopped.
    """
    launched: list[BrowserProcess] = []

    def launch() -> BrowserProcess:
        browser = BrowserProcess(playwright)
        launched.append(browser)
        return browser

    yield launch
    failed = _failed(request)
    for index, browser in enumerate(launched):
        if failed:
            directory = tmp_path / f"browser{index + 1}"
            directory.mkdir(exist_ok=True)
            for path in browser.artefacts(directory):
                print(f"e2e artefact (browser): {path}")
        browser.close()


@pytest.fixture
def browser(launch_browser: Callable[[], BrowserProcess]) -> BrowserProcess:
    return launch_browser()
