"""Real worker and replica processes (the same CLI a user runs) against the test Redis.

The processes, probe sessions and the wait helper live in ``harness/`` (shared
with the benchmarks); the names below stay importable from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness import wait_until
from harness.probes import Probes
from harness.processes import ReplicaProcess, WorkerProcess
from livegrid.redis_server import RedisServerProcess

__all__ = ["Probes", "ReplicaProcess", "WaitFor", "WorkerProcess"]


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


def _wait_for(
    condition: Callable[[], object],
    timeout: float,
    what: str,
    detail: Callable[[], object] | None = None,
) -> object:
    """Poll ``condition`` until it is truthy; fail with ``what`` after ``timeout`` seconds."""
    return wait_until(condition, timeout, what, detail, interval=0.05)


WaitFor = Callable[..., object]


@pytest.fixture
def wait_for() -> WaitFor:
    return _wait_for


@pytest.fixture
def probes() -> Iterator[Probes]:
    group = Probes()
    yield group
    group.close()
