"""Headless Chromium (Debian's ``chromium``) driven by Playwright, and one browser tab's view.

Every page gets :data:`RECORDER`, an init script that keeps:

- ``window.__lg.toasts``: every toast (Panel's Notyf) as it appeared, in order,
  kept in the tab's ``sessionStorage`` so that it survives the reload of a
  reconnect; a test counts how often a message was shown, not just whether it
  is on screen now;
- ``window.__lg.updates``: how many times the data of a plot's Bokeh
  ``ColumnDataSource`` was replaced in this page load, i.e. how many frames
  reached the page (a frame updates its layer's source);
- ``window.__lg.loads``: how many times the tab loaded the page.

The stable hooks of the app (``data-testid`` attributes, ``lg-*`` classes) are
found with Playwright locators, which pierce Panel's shadow roots.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from pathlib import Path

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ElementHandle,
    Locator,
    Page,
    Playwright,
)

from harness import WaitTimeout, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]

RECORDER = """
(() => {
  const stored = JSON.parse(sessionStorage.getItem("lg-e2e-toasts") || "[]");
  const loads = Number(sessionStorage.getItem("lg-e2e-loads") || "0") + 1;
  sessionStorage.setItem("lg-e2e-loads", String(loads));
  const lg = window.__lg = {toasts: stored, updates: 0, loads: loads};
  const record = (node) => {
    if (node.nodeType !== 1) return;
    const selector = ".notyf__message";
    const found = node.matches(selector) ? [node] : node.querySelectorAll(selector);
    for (const el of found) lg.toasts.push({text: el.textContent, t: Date.now()});
    sessionStorage.setItem("lg-e2e-toasts", JSON.stringify(lg.toasts));
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) for (const node of m.addedNodes) record(node);
  }).observe(document, {childList: true, subtree: true});
  const seen = new WeakMap();
  setInterval(() => {
    const docs = (window.Bokeh && window.Bokeh.documents) || [];
    for (const doc of docs) {
      for (const model of doc.all_models) {
        if (model.type !== "ColumnDataSource") continue;
        const data = model.data;
        if (seen.has(model) && seen.get(model) !== data) lg.updates += 1;
        seen.set(model, data);
      }
    }
  }, 100);
})();
"""


class Tab:
    """One browser tab on the dashboard, with the questions tests ask of it."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name
        self._tab_id = ""
        #: The page's console messages and uncaught errors, for the artefacts.
        self.console: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    # --- what the page shows -------------------------------------------------------------

    def badges(self) -> dict[str, str]:
        """Layer id → the state its badge shows, for the grid on screen."""
        found: list[list[str]] = self.page.eval_on_selector_all(
            "[data-testid^=layer-state-]",
            "els => els.map(e => [e.dataset.testid.slice(12), e.dataset.state])",
        )
        return dict(found) if found else {}

    def errors(self) -> int:
        return self.page.locator("[data-testid^=layer-state-][data-state=error]").count()

    def replica(self) -> str:
        """The replica id the header shows (empty while the page is not rendered)."""
        locator = self.page.locator("[data-testid=replica]")
        return locator.first.inner_text() if locator.count() else ""

    def loads(self) -> int:
        """How many times this tab loaded the page (1 until a reload)."""
        return int(self.page.evaluate("window.__lg.loads"))

    def connection_state(self) -> str:
        """The page's link to its replica: "connected", or "reconnecting" once lost."""
        locator = self.page.locator("[data-testid=connection]")
        return locator.first.get_attribute("data-state") or "" if locator.count() else ""

    def redis_state(self) -> str:
        locator = self.page.locator("[data-testid=redis-status]")
        return locator.first.get_attribute("data-state") or "" if locator.count() else ""

    def tab_id(self) -> str:
        """The beacon's id of this browser tab; it never changes once set."""
        if not self._tab_id:
            self._tab_id = str(self.page.evaluate("sessionStorage.getItem('livegrid-tab') || ''"))
        return self._tab_id

    def tab_titles(self) -> list[str]:
        return [t.strip() for t in self.page.locator(".bk-tab").all_inner_texts()]

    def active_tab(self) -> str:
        locator = self.page.locator(".bk-tab.bk-active")
        return locator.first.inner_text().strip() if locator.count() else ""

    def toasts(self) -> list[str]:
        """Every toast this browser tab showed, across reloads, in order."""
        return list(self.page.evaluate("window.__lg.toasts.map(t => t.text)"))

    def toast_count(self, text: str) -> int:
        return sum(text in shown for shown in self.toasts())

    def updates(self) -> int:
        """Plot data updates that reached this page since it loaded."""
        return int(self.page.evaluate("window.__lg.updates"))

    def sources(self) -> list[dict[str, int]]:
        """Column name → length of every non-empty data source on the page (BokehJS's view)."""
        return list(
            self.page.evaluate(
                """() => (window.Bokeh ? window.Bokeh.documents : []).flatMap(doc =>
                  [...doc.all_models].filter(m => m.type === "ColumnDataSource").map(m =>
                    Object.fromEntries([...Object.entries(m.data)].map(([k, v]) => [k, v.length]))
                  )).filter(cols => Object.values(cols).some(n => n > 0))"""
            )
        )

    # --- doing things -----------------------------------------------------------------------

    def select_tab(self, title: str) -> None:
        exact = re.compile(rf"^\s*{re.escape(title)}\s*$")
        self.page.locator(".bk-tab", has_text=exact).first.click()

    def button(self, label: str, side: str = "") -> Locator:
        """The button ``label``, in the side tab whose root has CSS class ``side`` if given."""
        scope = self.page.locator(f".{side}").first if side else self.page
        return scope.get_by_role("button", name=label, exact=True)

    def field(self, label: str, side: str) -> Locator:
        """The input labelled ``label`` in the side tab whose root has CSS class ``side``
        (``lg-jobs``, ``lg-manage``)."""
        return self.page.locator(f".{side}").first.get_by_label(label, exact=True)

    def click_at(self, element: ElementHandle, epoch_ms: float) -> None:
        """Click ``element`` (by script, even if hidden) when the page's clock reads
        ``epoch_ms``; returns at once.

        Two tabs given the same time click within a millisecond or so of each other,
        which Playwright's sequential calls cannot do.
        """
        element.evaluate("(el, at) => setTimeout(() => el.click(), at - Date.now())", epoch_ms)

    def slider(self) -> Locator:
        return self.page.locator(".noUi-handle").first

    def slider_title(self) -> str:
        locator = self.page.locator(".bk-slider-title")
        return locator.first.inner_text() if locator.count() else ""

    def screenshot(self, path: Path) -> None:
        self.page.screenshot(path=str(path), full_page=True, timeout=10_000)


class BrowserProcess:
    """One headless Chromium; its tabs share one context, like one person's browser."""

    def __init__(self, playwright: Playwright) -> None:
        self.browser: Browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        self.context: BrowserContext = self._new_context()
        self.tabs: list[Tab] = []

    def _new_context(self) -> BrowserContext:
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(RECORDER)
        context.set_default_timeout(15_000)
        return context

    def open(self, url: str, name: str | None = None) -> Tab:
        """A new tab on ``url``, returned once the dashboard is rendered."""
        tab = Tab(self.context.new_page(), name or f"tab{len(self.tabs) + 1}")
        self.tabs.append(tab)
        tab.page.goto(url)
        tab.page.locator(".lg-dashboard").first.wait_for(timeout=30_000)
        tab.page.locator("[data-testid=connection]").first.wait_for(state="attached")
        return tab

    def pids(self) -> list[int]:
        """Every process of this browser (browser, renderers, network service, GPU)."""
        session = self.browser.new_browser_cdp_session()
        info = session.send("SystemInfo.getProcessInfo")
        return [int(p["id"]) for p in info["processInfo"]]

    def kill(self) -> None:
        """``kill -9`` every process of the browser by PID: no page is closed, no
        websocket closing handshake is sent."""
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(WaitTimeout):  # a survivor is the test's to notice
            wait_until(
                lambda: not any(_alive(pid) for pid in pids),
                10,
                "the browser to die",
                interval=0.05,
            )
        self.tabs = []

    def artefacts(self, directory: Path) -> list[Path]:
        """A screenshot and the console log of every open tab, written to ``directory``."""
        paths = []
        for tab in self.tabs:
            console = directory / f"console-{tab.name}.log"
            console.write_text("\n".join(tab.console) + "\n")
            paths.append(console)
            path = directory / f"screenshot-{tab.name}.png"
            try:
                tab.screenshot(path)
            except Exception as exc:  # a dead page must not hide the test's own failure
                print(f"no screenshot of {tab.name}: {exc}")
                continue
            paths.append(path)
        return paths

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.browser.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of the Playwright driver stays a zombie until reaped: count it dead.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
