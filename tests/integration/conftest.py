"""Real worker processes (the same CLI a user runs) against the test Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from livegrid.redis_server import free_port


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
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
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
