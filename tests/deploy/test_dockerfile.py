"""The container image's Dockerfile: linted by hadolint, read for what it promises.

No Docker daemon is needed (or used): the image itself cannot be built here.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
HADOLINT = Path(sys.executable).with_name("hadolint")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    found: list[Instruction] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.removesuffix("\\").rstrip() + " "
        if not line.endswith("\\"):
            keyword, _, arguments = pending.strip().partition(" ")
            found.append(Instruction(keyword.upper(), arguments.strip()))
            pending = ""
    return found


def stages() -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in instructions():
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def final_stage() -> list[Instruction]:
    return stages()[-1]


def arguments_of(keyword: str, stage: list[Instruction]) -> list[str]:
    return [i.arguments for i in stage if i.keyword == keyword]


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    # An explicit config that ignores nothing, so no user or repository config can hide a rule.
    config = tmp_path / "hadolint.yaml"
    config.write_text("ignored: []\nfailure-threshold: style\n")
    result = subprocess.run(
        [str(HADOLINT), "--config", str(config), "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_every_hadolint_ignore_states_its_reason() -> None:
    for line in DOCKERFILE.read_text().splitlines():
        if "hadolint ignore=" in line:
            assert re.search(r"hadolint ignore=\S+\s+\S", line), f"no reason given: {line}"


def test_base_image_is_pinned_by_tag_in_every_stage() -> None:
    # hadolint cannot see through FROM ${ARG}; check the ARG's default here.
    (default,) = [
        i.arguments.partition("=")[2]
        for i in instructions()
        if i.keyword == "ARG" and i.arguments.startswith("PYTHON_IMAGE=")
    ]
    repository, _, tag = default.partition("@")[0].partition(":")
    assert repository == "python"
    assert tag.startswith("3.11") and "slim" in tag and tag != "latest"
    assert [s[0].arguments.split()[0] for s in stages()] == ["${PYTHON_IMAGE}"] * len(stages())
    assert len(stages()) >= 2, "a builder stage and a final stage"


def test_final_stage_takes_only_the_venv_from_the_builder() -> None:
    stage = final_stage()
    copies = arguments_of("COPY", stage)
    assert copies == ["--from=builder /opt/livegrid /opt/livegrid"]
    runs = " ".join(arguments_of("RUN", stage))
    for tool in ("apt-get", "pip", "gcc", "build-essential", "curl", "wget"):
        assert not re.search(rf"\b{re.escape(tool)}\b", runs), tool


def test_image_runs_as_the_non_root_user_the_chart_expects() -> None:
    (user,) = arguments_of("USER", final_stage())
    uid, _, gid = user.partition(":")
    values = yaml.safe_load((REPO / "helm" / "livegrid" / "values.yaml").read_text())
    assert int(uid) != 0 and int(gid) != 0
    assert int(uid) == values["podSecurityContext"]["runAsUser"]
    assert int(gid) == values["podSecurityContext"]["runAsGroup"]


def test_entrypoint_is_livegrid_and_the_default_role_is_a_listening_replica() -> None:
    stage = final_stage()
    assert [json.loads(a) for a in arguments_of("ENTRYPOINT", stage)] == [["livegrid"]]
    assert [json.loads(a) for a in arguments_of("CMD", stage)] == [["app", "--address", "0.0.0.0"]]
    env = " ".join(arguments_of("ENV", stage))
    assert "PATH=/opt/livegrid/bin:" in env
    assert "LIVEGRID_LOG_FORMAT=json" in env


def test_image_holds_every_package_the_project_installs() -> None:
    """The builder copies what pyproject's package finder includes and the files
    the wheel build reads, and .dockerignore lets them into the build context."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    finder = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    needed = {p.rstrip("*") for p in finder} | {"pyproject.toml", pyproject["project"]["readme"]}
    sources = {
        source.rstrip("/")
        for arguments in arguments_of("COPY", stages()[0])
        for source in arguments.split()[:-1]
    }
    assert needed <= sources
    allowed = {
        line.removeprefix("!").rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert needed <= allowed


# ---- the HEALTHCHECK command, run for real against a local HTTP server ----


def healthcheck_command() -> list[str]:
    (healthcheck,) = arguments_of("HEALTHCHECK", final_stage())
    exec_form = healthcheck[healthcheck.index("CMD ") + len("CMD ") :]
    command: list[str] = json.loads(exec_form)
    return command


@pytest.fixture
def health_server() -> Iterator[dict[str, int]]:
    """Serves /healthz with whatever status ``state['status']`` says."""
    state = {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = state["status"] if self.path == "/healthz" else 404
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="test-healthz", daemon=True
    )
    thread.start()
    state["port"] = server.server_address[1]
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def run_healthcheck(port: int) -> int:
    command = healthcheck_command()
    assert command[0] == "python", "the image's python, no curl"
    env = {"HEALTHCHECK_URL": f"http://127.0.0.1:{port}/healthz"}
    result = subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, check=False, timeout=30
    )
    return result.returncode


def test_healthcheck_passes_when_healthz_answers_200(health_server: dict[str, int]) -> None:
    assert run_healthcheck(health_server["port"]) == 0


def test_healthcheck_fails_when_healthz_answers_503(health_server: dict[str, int]) -> None:
    health_server["status"] = 503
    assert run_healthcheck(health_server["port"]) != 0


def test_healthcheck_defaults_to_the_replicas_healthz() -> None:
    env = " ".join(arguments_of("ENV", final_stage()))
    assert "HEALTHCHECK_URL=http://127.0.0.1:5006/healthz" in shlex.split(env)
