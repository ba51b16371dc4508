"""Test harness: one real Redis per test run, an isolated namespace per test.

The Redis is chosen as docs/architecture.md ("Testing") says:
``LIVEGRID_TEST_REDIS_URL`` if set; else a testcontainers Redis when a Docker
daemon answers; else a private ``redis-server`` on a free loopback port.
Never the machine's shared 6379, never a fake.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from hypothesis import settings

from livegrid.keyspace import Keyspace
from livegrid.redis_client import connect
from livegrid.redis_server import RedisServerMissing, RedisServerProcess

_USED: list[str] = []

# Property tests check behaviour, never speed: no per-example deadline on a busy CI machine.
settings.register_profile("livegrid", deadline=None, print_blob=True)
settings.load_profile("livegrid")


@dataclass(frozen=True)
class TestRedis:
    url: str
    how: str
    server: RedisServerProcess | None = None


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def test_redis() -> Iterator[TestRedis]:
    url = os.environ.get("LIVEGRID_TEST_REDIS_URL")
    if url:
        _USED.append(f"LIVEGRID_TEST_REDIS_URL={url}")
        yield TestRedis(url=url, how="env")
        return
    if _docker_answers():
        from testcontainers.redis import RedisContainer  # type: ignore[import-untyped]

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            url = f"redis://{host}:{port}/0"
            _USED.append(f"testcontainers RedisContainer at {url}")
            yield TestRedis(url=url, how="testcontainers")
        return
    try:
        server = RedisServerProcess()
    except RedisServerMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    _USED.append(f"private redis-server (no Docker daemon answered) at {server.url}")
    try:
        yield TestRedis(url=server.url, how="redis-server", server=server)
    finally:
        server.close()


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def keyspace(namespace: str) -> Keyspace:
    return Keyspace(namespace)


@pytest.fixture
def redis_url(test_redis: TestRedis) -> str:
    return test_redis.url


@pytest.fixture
def r(test_redis: TestRedis, namespace: str) -> Iterator[redis.Redis]:
    """A client on the test Redis; every key of this test's namespace is removed afterwards."""
    client = connect(test_redis.url)
    yield client
    keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _USED:
        terminalreporter.write_line(f"Integration tests ran against a real Redis: {line}")
