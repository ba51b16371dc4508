"""Sign-in on real replicas: basic auth with a password file, the trusted proxy header,
and roles enforced on the server against raw Bokeh events from a protocol-level client.

Every replica here signs its session tokens (``LIVEGRID_SECRET_KEY``), as sign-in
requires; probe sessions carry the headers a browser's page load would.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from integration_workspaces import one_row

from app.auth.passwords import hash_password
from livegrid.models import Desired, JobSpec, Layer
from livegrid.stores.jobs import JobStore
from livegrid.workspace_cli import load_workspace

SECRET_KEY = "integration-secret-key-0123456789-abcdef"
COOKIE_SECRET = "integration-cookie-secret-0123456789-abcdef"
PASSWORDS = {
    "vera": ("viewer", "vera-pw"),
    "otto": ("operator", "otto-pw"),
    "ada": ("admin", "ada-pw"),
}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _get(
    url: str, headers: dict[str, str] | None = None, *, follow: bool = True
) -> tuple[int, Any, str]:
    """Status, headers (case-insensitive) and body; an HTTP error status is returned."""
    opener = urllib.request.build_opener(*([] if follow else [_NoRedirect()]))
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _password_file(tmp_path: Path) -> Path:
    lines = ["# user:role:hash"] + [
        f"{user}:{role}:{hash_password(password)}" for user, (role, password) in PASSWORDS.items()
    ]
    path = tmp_path / "passwords"
    path.write_text("\n".join(lines) + "\n")
    return path


def _basic_replica(spawn_replica: Any, tmp_path: Path) -> Any:
    return spawn_replica(
        "basic",
        LIVEGRID_AUTH_MODE="basic",
        LIVEGRID_AUTH_PASSWORD_FILE=str(_password_file(tmp_path)),
        LIVEGRID_SECRET_KEY=SECRET_KEY,
        LIVEGRID_AUTH_COOKIE_SECRET=COOKIE_SECRET,
    )


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every Bokeh model object serialized anywhere in ``node``."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "id" in node:
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def _model_id(texts: list[str], name: str, **attributes: Any) -> str | None:
    for text in texts:
        for obj in _objects(json.loads(text)):
            attrs = obj.get("attributes", {})
            short = str(obj.get("name", "")).rsplit(".", 1)[-1]
            if short == name and all(attrs.get(k) == v for k, v in attributes.items()):
                return str(obj["id"])
    return None


def _open_jobs_tab(probes: Any, session: Any, wait_for: Any) -> str:
    """Switch the probe's tab bar to "Jobs" like a click would; the Stop button's model id."""
    doc = json.loads(session.doc_content)
    panels = {str(o["id"]): o for o in _objects(doc) if str(o.get("name")).endswith("TabPanel")}
    for obj in _objects(doc):
        tabs = obj.get("attributes", {}).get("tabs")
        if isinstance(tabs, list) and tabs:
            titles = [
                panels.get(str(t.get("id")), {}).get("attributes", {}).get("title") for t in tabs
            ]
            if "Jobs" in titles:
                probes.call(session.change(str(obj["id"]), "active", titles.index("Jobs")))
                break
    else:
        raise AssertionError("no tab bar with a Jobs tab in the pulled document")

    def stop_button() -> str | None:
        return _model_id([p.content for p in session.patches], "Button", label="Stop")

    return str(wait_for(stop_button, 30, "the Jobs tab's Stop button"))


def _start_job(r: Any, keyspace: Any) -> JobStore:
    workspace = one_row(
        [Layer(id="m1", job="mon1", output="latest", plotter="lines")],
        jobs=[JobSpec(id="mon1", workflow="latest", source="monitor_1")],
    )
    load_workspace(r, keyspace, workspace, user="test", start_jobs=True)
    return JobStore(r, keyspace)


def test_basic_auth_refuses_a_wrong_password_and_signs_in_with_the_right_one(
    *, spawn_replica, tmp_path, probes, wait_for
):
    replica = _basic_replica(spawn_replica, tmp_path)

    status, headers, body = _get(replica.url + "/")
    assert status == 401, body  # sent to /login, which asks for a password
    assert headers.get("WWW-Authenticate", "").startswith("Basic")
    assert _get(replica.url + "/login", _basic("vera", "wrong"))[0] == 401
    assert _get(replica.url + "/login", _basic("nobody", "vera-pw"))[0] == 401

    status, headers, _ = _get(
        replica.url + "/login?next=/", _basic("vera", "vera-pw"), follow=False
    )
    assert status == 302 and headers["Location"] == "/"
    cookie = headers["Set-Cookie"].split(";")[0]
    assert cookie.startswith("livegrid_user=")
    status, _, page = _get(replica.url + "/?user=mallory", {"Cookie": cookie})
    assert status == 200 and "bokeh" in page.lower()
    # The page load opened a session: it is vera's, ?user= is ignored with sign-in on.
    opened = [
        json.loads(line)
        for line in replica.log_path.read_text().splitlines()
        if '"session opened"' in line
    ]
    assert [(e["user"], e["role"]) for e in opened] == [("vera", "viewer")]

    # Probes and metrics stay open; /debug/* is for admins only.
    assert _get(replica.url + "/healthz")[0] == 200
    assert _get(replica.url + "/readyz")[0] == 200
    assert _get(replica.url + "/metrics")[0] == 200
    assert _get(replica.url + "/debug/sessions")[0] == 403
    assert _get(replica.url + "/debug/sessions", _basic("otto", "otto-pw"))[0] == 403
    assert _get(replica.url + "/debug/sessions", _basic("ada", "ada-pw"))[0] == 200

    # A websocket session opened with the cookie is vera's, a viewer.
    value = cookie.split("=", 1)[1].strip('"')  # as Tornado parses it from the Cookie header
    (session,) = probes.open(
        replica.url,
        secret_key=SECRET_KEY,
        headers={"Cookie": cookie},
        cookies={"livegrid_user": value},
    )
    assert "signed in as vera, role viewer" in session.doc_content


def test_trusted_header_is_ignored_from_an_unlisted_address(*, spawn_replica, probes, wait_for):
    common = {
        "LIVEGRID_AUTH_MODE": "proxy",
        "LIVEGRID_SECRET_KEY": SECRET_KEY,
        "LIVEGRID_AUTH_COOKIE_SECRET": COOKIE_SECRET,
        "LIVEGRID_AUTH_ROLE_MAP": '{"ops": "operator", "root": "admin"}',
    }
    proxied = {"X-Forwarded-User": "mallory", "X-Forwarded-Groups": "root"}
    elsewhere = spawn_replica("elsewhere", LIVEGRID_AUTH_TRUSTED_PROXIES='["10.9.8.7"]', **common)
    status, _, body = _get(elsewhere.url + "/", proxied)
    assert status == 401 and "did not come through it" in body
    assert _get(elsewhere.url + "/debug/sessions", proxied)[0] == 403

    loopback = spawn_replica("loopback", LIVEGRID_AUTH_TRUSTED_PROXIES='["127.0.0.0/8"]', **common)
    assert (
        _get(loopback.url + "/", {"X-Forwarded-User": "olga", "X-Forwarded-Groups": "ops"})[0]
        == 200
    )
    assert _get(loopback.url + "/")[0] == 401  # the proxy named nobody
    (session,) = probes.open(
        loopback.url,
        secret_key=SECRET_KEY,
        headers={"X-Forwarded-User": "olga", "X-Forwarded-Groups": "staff, ops"},
    )
    assert "signed in as olga, role operator" in session.doc_content


def test_a_viewer_sending_the_raw_stop_event_is_refused_and_the_job_keeps_running(
    *, r, keyspace, spawn_replica, tmp_path, probes, wait_for
):
    jobs = _start_job(r, keyspace)
    replica = _basic_replica(spawn_replica, tmp_path)

    (viewer,) = probes.open(replica.url, secret_key=SECRET_KEY, headers=_basic("vera", "vera-pw"))
    stop = _open_jobs_tab(probes, viewer, wait_for)
    # The button is disabled for a viewer, with the reason as its tooltip ...
    texts = [p.content for p in viewer.patches]
    assert _model_id(texts, "Button", label="Stop", disabled=True) == stop
    # ... but a crafted browser enables it (the browser owns its copy of the document)
    # and sends the raw click event: the server refuses it with a toast.
    before = len(viewer.patches)
    probes.call(viewer.change(stop, "disabled", False))
    probes.call(viewer.click(stop))

    def refusal_toast() -> bool:
        later = "\n".join(p.content for p in viewer.patches[before:])
        return "Not allowed: you are signed in as vera with the role viewer" in later

    wait_for(refusal_toast, 30, "the refusal toast")
    spec = jobs.get("mon1")
    assert spec is not None and spec.desired == Desired.RUNNING and spec.updated_by == "test"

    # The same event from an operator's session stops the job: the test's click is real.
    (operator,) = probes.open(replica.url, secret_key=SECRET_KEY, headers=_basic("otto", "otto-pw"))
    probes.call(operator.click(_open_jobs_tab(probes, operator, wait_for)))

    def stopped_by_otto() -> bool:
        spec = jobs.get("mon1")
        return spec is not None and spec.desired == Desired.STOPPED and spec.updated_by == "otto"

    wait_for(stopped_by_otto, 30, "the operator's stop")
