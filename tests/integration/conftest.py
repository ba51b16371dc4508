"""Real worker processes (the same CLI a user runs) against the test Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from livegrid.probe import ProbeSession
from livegrid.redis_server import RedisServerProcess, free_port


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the graceful path a user's Ctrl-C takes), then kill after 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class WorkerProcess:
    def __init__(self, redis_url: str, namespace: str, worker_id: str, log_dir: Path, **env: str):
        self.worker_id = worker_id
        self.metrics_port = free_port()
        self.log_path = log_dir / f"{worker_id}.log"
        environment = {
            **os.environ,
            "LIVEGRID_REDIS_URL": redis_url,
            "LIVEGRID_NAMESPACE": namespace,
            "LIVEGRID_LOG_FORMAT": "json",
            **env,
        }
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "livegrid.cli", "worker", "--id", worker_id,
             "--metrics-port", str(self.metrics_port)],
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` matching ``labels`` on /metrics."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        body = urllib.request.urlopen(url, timeout=5).read().decode()
        total = 0.0
        for line in body.splitlines():
            if not line.startswith(name):
                continue
            head, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
        return total

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def wait(self, timeout: float = 15) -> int:
        return self.process.wait(timeout)

    def close(self) -> None:
        _terminate(self.process)
        self._log.close()


@pytest.fixture
def spawn_worker(
    redis_url: str, namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def spawn(worker_id: str, url: str | None = None, **env: str) -> WorkerProcess:
        worker = WorkerProcess(url or redis_url, namespace, worker_id, tmp_path, **env)
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        worker.close()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for worker in started:
            print(f"worker log: {worker.log_path}")


class ReplicaProcess:
    """``livegrid app`` on a free port, with ``/debug/sessions`` on."""

    def __init__(self, redis_url: str, namespace: str, name: str, log_dir: Path, **env: str):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"replica-{name}.log"
        environment = {
            **os.environ,
            "LIVEGRID_REDIS_URL": redis_url,
            "LIVEGRID_NAMESPACE": namespace,
            "LIVEGRID_LOG_FORMAT": "json",
            "LIVEGRID_DEBUG_ENDPOINTS": "true",
            **env,
        }
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "livegrid.cli", "app", "--port", str(self.port)],
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def ready(self) -> bool:
        return self.get("/readyz")[0] == 200

    def process_info(self) -> dict[str, Any]:
        """``/debug/process``: live sessions, Panel's registered views, RSS."""
        status, body = self.get("/debug/process")
        assert status == 200, body
        return dict(json.loads(body))

    def sessions(self) -> list[dict[str, Any]]:
        status, body = self.get("/debug/sessions")
        return json.loads(body) if status == 200 else []

    def fetched(self) -> dict[str, list[int]]:
        """Frame seqs the replica's feed fetched, per layer."""
        status, body = self.get("/debug/feed")
        return json.loads(body)["fetched"] if status == 200 else {}

    def metric(self, name: str) -> float:
        _, body = self.get("/metrics")
        return sum(
            float(line.rpartition(" ")[2])
            for line in body.splitlines()
            if line.startswith(name + " ") or line.startswith(name + "{")
        )

    def close(self) -> None:
        _terminate(self.process)
        self._log.close()


class Probes:
    """Opens probe sessions that keep receiving until :meth:`close`."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="probes", daemon=True)
        self._thread.start()
        self._tasks: list[asyncio.Future[Any]] = []
        self.sessions: list[ProbeSession] = []

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def open(self, url: str, count: int = 1, **options: Any) -> list[ProbeSession]:
        """Connect ``count`` sessions to the replica at ``url`` and keep them receiving;
        ``options`` go to each :class:`ProbeSession` (e.g. ``secret_key``, ``headers``)."""
        opened = [ProbeSession(url, **options) for _ in range(count)]
        for session in opened:
            self._call(session.connect())
            self._tasks.append(asyncio.run_coroutine_threadsafe(session.run(3600), self._loop))
        self.sessions += opened
        return opened

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        """Run a coroutine of a session (e.g. ``session.click(id)``) on the probes' loop."""
        return self._call(coro, timeout)

    def pause(self, session: ProbeSession) -> None:
        """Stop reading the session's websocket, like a browser on a too slow link."""
        self._call(_run(session.pause))

    def resume(self, session: ProbeSession) -> None:
        self._call(_run(session.resume))

    def close_sessions(self, sessions: list[ProbeSession]) -> None:
        """Close these sessions' websockets, like closing their browser tabs."""
        for session in sessions:
            self._call(session.close(), 10)

    def abandon(self, session: ProbeSession) -> None:
        """Drop the connection without closing the websocket, like a killed browser."""
        self._loop.call_soon_threadsafe(session.abandon)

    def close(self) -> None:
        for session in self.sessions:
            if not session.closed:
                self._call(session.close(), 10)
        for task in self._tasks:
            task.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


async def _run(function: Callable[[], None]) -> None:
    """Call ``function`` on the probes' loop (a coroutine for :meth:`Probes._call`)."""
    function()


@pytest.fixture
def own_redis() -> Iterator[RedisServerProcess]:
    """A private, persistent Redis of this test's own, to stop and restart."""
    server = RedisServerProcess(appendonly=True)
    server.start()
    yield server
    server.close()


@pytest.fixture
def spawn_replica(
    redis_url: str, namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., ReplicaProcess]]:
    """Start replicas; each is ready (``/readyz`` 200) when returned."""
    started: list[ReplicaProcess] = []

    def spawn(name: str, url: str | None = None, **env: str) -> ReplicaProcess:
        replica = ReplicaProcess(url or redis_url, namespace, name, tmp_path, **env)
        started.append(replica)
        _wait_for(lambda: replica.ready() or replica.process.poll() is not None, 60, "/readyz")
        if replica.process.poll() is not None:
            pytest.fail(f"replica {name} exited; log: {replica.log_path}")
        return replica

    yield spawn
    for replica in started:
        replica.close()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for replica in started:
            print(f"replica log: {replica.log_path}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``condition`` until it is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


WaitFor = Callable[[Callable[[], object], float, str], object]


@pytest.fixture
def wait_for() -> WaitFor:
    return _wait_for


@pytest.fixture
def probes() -> Iterator[Probes]:
    group = Probes()
    yield group
    group.close()
