"""Sign-in with a real OpenID Connect provider: panva's ``oidc-provider`` run by node on
loopback (``tests/oidc/``, installed by ``./scripts/bootstrap --browser``).

Chromium signs in on the provider's own login page through the front proxy onto
replica a, reloads onto replica b (the proxy stops sending to a) and is still
signed in: both replicas share the cookie secret. A viewer sees the plots and finds
Stop disabled; an operator stops the job.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_browser import RECORDER, Tab
from e2e_cluster import wait_until
from e2e_workspaces import small_workspace

from livegrid.models import Desired
from livegrid.redis_server import free_port
from livegrid.stores.jobs import JobStore

OIDC_DIR = Path(__file__).resolve().parents[1] / "oidc"
RATES = {"detector_panel_0": 1, "monitor_1": 1}
CLIENT_ID = "livegrid-e2e"
CLIENT_SECRET = "livegrid-e2e-client-secret"
COOKIE_SECRET = "e2e-cookie-secret-shared-by-all-replicas-0123456789"


@pytest.fixture
def oidc_issuer(tmp_path: Path) -> Iterator[str]:
    """A real OpenID provider on loopback; its issuer URL."""
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("oidc-provider is not installed; run ./scripts/bootstrap --browser")
    port = free_port()
    log_path = tmp_path / "oidc-provider.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["node", "provider.mjs", str(port), CLIENT_ID, CLIENT_SECRET],
            cwd=OIDC_DIR, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    issuer = f"http://localhost:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(issuer + "/.well-known/openid-configuration", timeout=2):
                return True
        except OSError:
            return process.poll() is not None

    try:
        wait_until(answers, 30, "the OpenID provider")
        assert process.poll() is None, log_path.read_text()
        yield issuer
    finally:
        process.terminate()
        process.wait(10)


def _sign_in(tab: Tab, url: str, user: str) -> None:
    """Open the dashboard, sign in on the provider's login page, wait for the dashboard."""
    page = tab.page
    page.goto(url)
    page.locator("input[name=login]").fill(user)
    page.locator("input[name=password]").fill("any password: the dev login takes any")
    page.locator("button[type=submit]").click()
    page.locator(".lg-dashboard").first.wait_for(timeout=30_000)


def _role(tab: Tab) -> str:
    locator = tab.page.locator("[data-testid=role]")
    return (locator.first.get_attribute("data-role") or "") if locator.count() else ""


def test_oidc_sign_in_survives_a_reload_onto_another_replica_and_roles_hold(
    start_cluster, launch_browser, oidc_issuer
):
    front_port = free_port()
    cluster = start_cluster(
        workspace=small_workspace(),
        rates=RATES,
        workers=1,
        front_port=front_port,
        env={
            "LIVEGRID_AUTH_MODE": "oidc",
            "LIVEGRID_AUTH_COOKIE_SECRET": COOKIE_SECRET,
            "LIVEGRID_AUTH_OIDC_ISSUER": oidc_issuer,
            "LIVEGRID_AUTH_OIDC_CLIENT_ID": CLIENT_ID,
            "LIVEGRID_AUTH_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "LIVEGRID_AUTH_OIDC_REDIRECT_URI": f"http://127.0.0.1:{front_port}/login",
            "LIVEGRID_AUTH_OIDC_SCOPES": "openid profile groups",
            "LIVEGRID_AUTH_ROLE_MAP": json.dumps(
                {"livegrid-operators": "operator", "livegrid-admins": "admin"}
            ),
        },
    )
    assert cluster.front is not None
    url = cluster.front.url + "/"
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    browser = launch_browser()

    viewer = Tab(browser.context.new_page(), "vera")
    browser.tabs.append(viewer)
    cluster.front.backends = [a.port]
    _sign_in(viewer, url, "vera")
    assert _role(viewer) == "viewer"
    first_replica = viewer.replica()
    assert viewer.page.locator("[data-testid=user]").first.inner_text() == "vera"
    plots = {"img": "ready", "mon": "ready"}
    wait_until(lambda: viewer.badges() == plots, 60, "the viewer's plots")

    # Reload through the front proxy onto replica b: still signed in, no login page.
    cluster.front.backends = [b.port]
    viewer.page.reload()
    viewer.page.locator(".lg-dashboard").first.wait_for(timeout=30_000)
    assert viewer.replica() != first_replica
    assert _role(viewer) == "viewer"
    assert "/auth" not in viewer.page.url and "localhost" not in viewer.page.url
    wait_until(lambda: viewer.badges() == plots, 60, "the viewer's plots on replica b")

    viewer.select_tab("Jobs")
    stop = viewer.button("Stop", "lg-jobs")
    stop.wait_for()
    assert stop.is_disabled()

    # An operator, in a browser context of their own (their own cookies), stops the job.
    context = browser.browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(RECORDER)
    operator = Tab(context.new_page(), "otto")
    browser.tabs.append(operator)
    _sign_in(operator, url, "otto")
    assert _role(operator) == "operator"
    operator.select_tab("Jobs")
    operator.page.locator(".lg-jobs").first.get_by_label("Job", exact=True).select_option("mon")
    operator.button("Stop", "lg-jobs").click()
    jobs = JobStore(cluster.client, cluster.keys)

    def stopped() -> bool:
        spec = jobs.get("mon")
        return spec is not None and spec.desired == Desired.STOPPED and spec.updated_by == "otto"

    wait_until(stopped, 30, "otto's stop")
    det = jobs.get("det")
    assert det is not None and det.desired == Desired.RUNNING
    context.close()
