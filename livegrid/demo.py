"""``livegrid demo``: Redis, workers and replicas on one machine, stopped together by Ctrl-C.

Uses ``LIVEGRID_REDIS_URL`` when it is set in the environment, else a private
``redis-server`` on a free port. Loads the default workspace template and
starts its jobs when Redis holds no workspace yet, so the first page already
moves. Every child is a ``livegrid`` process with the same settings; replica
``i`` listens on ``port + i``, worker ``i`` serves its metrics on
``port + 100 + i``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from types import FrameType

from livegrid.keyspace import Keyspace
from livegrid.redis_client import connect, describe_connection_error
from livegrid.redis_server import RedisServerMissing, RedisServerProcess
from livegrid.settings import Settings
from livegrid.stores.config import ConfigStore
from livegrid.supervise import Supervisor, WaitTimeout, livegrid_command, wait_until
from livegrid.workspace_cli import load_workspace
from livegrid.workspace_file import default_template_path, load_workspace_file

_READY_TIMEOUT_S = 90.0


@dataclass
class Demo:
    settings: Settings
    workers: int
    replicas: int
    port: int
    address: str = "127.0.0.1"
    #: The workers and replicas; their output goes to this terminal.
    children: Supervisor = field(default_factory=Supervisor)
    redis: RedisServerProcess | None = None
    #: Signals received; the handler only appends (no locks inside a signal handler).
    signals: list[int] = field(default_factory=list)

    def run(self) -> int:
        url = self._redis_url()
        if url is None:
            return 1
        env = {**os.environ, "LIVEGRID_REDIS_URL": url}
        try:
            self._seed_workspace(url)
        except OSError as exc:
            print(f"livegrid demo: {describe_connection_error(url, exc)}", file=sys.stderr)
            self.stop()
            return 1
        for index in range(self.workers):
            worker_id = f"demo-worker-{index}"
            metrics_port = str(self.port + 100 + index)
            self.children.spawn(
                worker_id,
                livegrid_command("worker", "--id", worker_id, "--metrics-port", metrics_port),
                env,
            )
        urls = []
        for index in range(self.replicas):
            port = self.port + index
            self.children.spawn(
                f"demo-replica-{index}",
                livegrid_command("app", "--port", str(port), "--address", self.address),
                env,
            )
            urls.append(f"http://{self.address}:{port}/")
        if not self._wait_ready(urls):
            self.stop()
            return 1
        print("livegrid demo is running; open", flush=True)
        for replica_url in urls:
            print(f"  {replica_url}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while not self.signals:
            if self.children.exited():
                print("livegrid demo: a child process exited; stopping", file=sys.stderr)
                break
            time.sleep(0.2)
        self.stop()
        return 0

    def _redis_url(self) -> str | None:
        if os.environ.get("LIVEGRID_REDIS_URL"):
            return self.settings.redis_url
        try:
            self.redis = RedisServerProcess()
            self.redis.start()
        except RedisServerMissing as exc:
            print(f"livegrid demo: {exc}", file=sys.stderr)
            return None
        print(f"livegrid demo: private Redis at {self.redis.url}", flush=True)
        return self.redis.url

    def _seed_workspace(self, url: str) -> None:
        client = connect(url)
        keys = Keyspace(self.settings.namespace)
        if ConfigStore(client, keys).version() > 0:
            print("livegrid demo: Redis already holds a workspace; keeping it", flush=True)
            return
        path = default_template_path()
        version = load_workspace(
            client, keys, load_workspace_file(path), user="demo", start_jobs=True
        )
        print(f"livegrid demo: loaded {path.name} as workspace version {version}", flush=True)

    def _wait_ready(self, urls: list[str]) -> bool:
        """Every replica answers ``/readyz``; False on a signal, an exited child or timeout."""
        try:
            wait_until(
                lambda: self.signals or self.children.exited() or all(_ready(u) for u in urls),
                _READY_TIMEOUT_S,
                "the replicas' /readyz",
                interval=0.2,
            )
        except WaitTimeout:
            pending = [u for u in urls if not _ready(u)]
            print(f"livegrid demo: not ready after {_READY_TIMEOUT_S:.0f} s: {pending}")
            return False
        if self.children.exited():
            print("livegrid demo: a child process exited during start", file=sys.stderr)
            return False
        return not self.signals

    def stop(self) -> None:
        """SIGTERM every child (workers hand their jobs over), then Redis."""
        self.children.stop_all(15)
        if self.redis is not None:
            self.redis.close()
            self.redis = None


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def run_demo(settings: Settings, *, workers: int, replicas: int, port: int) -> int:
    if workers < 1 or replicas < 1:
        print("livegrid demo: --workers and --replicas must be at least 1", file=sys.stderr)
        return 2
    demo = Demo(settings, workers, replicas, port)

    def stop(signum: int, _frame: FrameType | None) -> None:
        demo.signals.append(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    return demo.run()
