"""A whole livegrid on loopback: a private Redis, workers and replicas as separate processes.

Every process is started with the same CLI a user runs (``livegrid worker``,
``livegrid app``) on the harness's supervisor (``harness.processes``) and can
be killed by its PID. The replicas sit behind a
:class:`FrontProxy`, the stand-in for a load balancer: a tab that loads the
front URL reaches the first replica that accepts connections, so when that
replica dies, the tab's reconnect lands on the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import redis

from harness import wait_until
from harness.processes import LivegridProcess, ReplicaEndpoints
from livegrid.keyspace import Keyspace
from livegrid.models import Workspace
from livegrid.redis_client import connect
from livegrid.redis_server import RedisServerProcess, free_port
from livegrid.stores.jobs import JobStatus, JobStore
from livegrid.stores.layers import LayerStore
from livegrid.workspace_cli import load_workspace

__all__ = ["FAST_FAILURE_ENV", "SECRET_KEY", "Cluster", "FrontProxy", "wait_until"]

#: Shared by every replica so a tab's signed session id is valid on each of them.
SECRET_KEY = "e2e-secret-key-shared-by-all-replicas-0123456789"

#: Short timeouts so failures are noticed and repaired within seconds.
FAST_FAILURE_ENV = {
    "LIVEGRID_LEASE_TTL_MS": "2000",
    "LIVEGRID_STALE_AFTER_S": "4",
    "LIVEGRID_HEARTBEAT_INTERVAL_S": "1",
    "LIVEGRID_VIEWER_TTL_S": "3",
}


class Worker(LivegridProcess):
    def __init__(self, worker_id: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.id = worker_id
        super().__init__(["worker", "--id", worker_id], env, log_dir / f"worker-{worker_id}.log")


class Replica(ReplicaEndpoints, LivegridProcess):
    """``livegrid app`` on ``port`` with ``/debug/sessions`` on."""

    def __init__(self, name: str, port: int, env: Mapping[str, str], log_dir: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        super().__init__(["app", "--port", str(port)], env, log_dir / f"replica-{name}.log")
        self.name = name

    @property
    def replica_id(self) -> str:
        """The id the replica shows in its header and registers under (host-pid)."""
        return f"{socket.gethostname()}-{self.pid}"


class FrontProxy:
    """A loopback TCP proxy standing in for the load balancer in front of the replicas.

    Each new connection goes to the first port of ``backends`` that accepts it;
    when none does, the connection is closed at once, as a load balancer with no
    healthy backend would. Connections already open stay with their backend.
    """

    def __init__(self, port: int, backends: Iterable[int]) -> None:
        self.port = port
        self.backends = list(backends)
        self.url = f"http://127.0.0.1:{port}"
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="front-proxy")
        self._thread.daemon = True
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for port in list(self.backends):
            try:
                upstream = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        if upstream is None:
            self._writers.discard(writer)
            writer.close()
            return
        back_reader, back_writer = upstream
        self._writers.add(back_writer)
        await asyncio.gather(
            self._pipe(reader, back_writer), self._pipe(back_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                with contextlib.suppress(OSError, RuntimeError):
                    writer.close()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class Cluster:
    """Redis (with AOF, so a restart keeps the workspace), workers and replicas.

    ``env`` is added to every process's environment. Replicas are named "a", "b",
    ...; the front proxy prefers them in that order.
    """

    def __init__(
        self,
        log_dir: Path,
        *,
        workspace: Workspace,
        rates: Mapping[str, float],
        workers: int = 2,
        replicas: int = 2,
        env: Mapping[str, str] | None = None,
        front_port: int | None = None,
    ) -> None:
        self.log_dir = log_dir
        self._front_port = front_port  # chosen beforehand when env must name it
        self.namespace = "e2e"
        self.keys = Keyspace(self.namespace)
        self.workers: dict[str, Worker] = {}
        self.replicas: dict[str, Replica] = {}
        self.front: FrontProxy | None = None
        self.redis = RedisServerProcess(appendonly=True)
        self.redis.start()
        self.client: redis.Redis = connect(self.redis.url)
        try:
            self._start(workspace, rates, workers, replicas, env or {})
        except BaseException:
            self.close()
            raise

    def _start(
        self,
        workspace: Workspace,
        rates: Mapping[str, float],
        workers: int,
        replicas: int,
        env: Mapping[str, str],
    ) -> None:
        load_workspace(self.client, self.keys, workspace, user="e2e", start_jobs=True)
        ports = [free_port() for _ in range(replicas)]
        front_port = self._front_port or free_port()
        origins = [f"127.0.0.1:{p}" for p in [*ports, front_port]]
        self.env = {
            **os.environ,
            "LIVEGRID_REDIS_URL": self.redis.url,
            "LIVEGRID_NAMESPACE": self.namespace,
            "LIVEGRID_LOG_FORMAT": "json",
            "LIVEGRID_DEBUG_ENDPOINTS": "true",
            "LIVEGRID_SECRET_KEY": SECRET_KEY,
            "LIVEGRID_ALLOW_WEBSOCKET_ORIGIN": json.dumps(origins),
            "LIVEGRID_SYNTHETIC_RATES": json.dumps(dict(rates)),
            **FAST_FAILURE_ENV,
            **env,
        }
        for i in range(workers):
            worker_id = f"w{i + 1}"
            self.workers[worker_id] = Worker(worker_id, self.env, self.log_dir)
        for i, port in enumerate(ports):
            name = chr(ord("a") + i)
            self.replicas[name] = Replica(name, port, self.env, self.log_dir)
        self.front = FrontProxy(front_port, ports)
        for replica in self.replicas.values():
            wait_until(
                lambda r=replica: r.ready() or not r.running, 90, f"replica {replica.name} /readyz"
            )
            if not replica.running:
                raise RuntimeError(f"replica {replica.name} exited; see {replica.log_path}")

    # --- reading the shared state ------------------------------------------------------

    def layer_seqs(self, layer_ids: Iterable[str]) -> dict[str, int]:
        """Each layer's published ``frame_seq`` in Redis."""
        store = LayerStore(self.client, self.keys, frames_maxlen=1000)
        return {lid: snap.frame_seq for lid, snap in store.snapshots(list(layer_ids)).items()}

    def layer_states(self, layer_ids: Iterable[str]) -> dict[str, str]:
        store = LayerStore(self.client, self.keys, frames_maxlen=1000)
        snapshots = store.snapshots(list(layer_ids))
        return {
            lid: snap.lifecycle.state.value if snap.lifecycle.state else "waiting_for_job"
            for lid, snap in snapshots.items()
        }

    def job_status(self, job_id: str) -> JobStatus:
        return JobStore(self.client, self.keys).status(job_id)

    def notifications(self) -> list[dict[str, str]]:
        """Every notification in the stream, oldest first, as text fields."""
        entries: Any = self.client.xrange(self.keys.notifications)
        return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]

    def notification_seq(self, job: str, containing: str) -> int | None:
        """The ``seq`` of the first notification of ``job`` whose message contains text."""
        for entry in self.notifications():
            if entry["job"] == job and containing in entry["message"]:
                return int(entry["seq"])
        return None

    def session_of(self, tab_id: str) -> dict[str, Any]:
        """What the session of browser tab ``tab_id`` showed, on whichever replica holds it
        (``{}`` while none does)."""
        return self.sessions_by_tab().get(tab_id, {}) if tab_id else {}

    def sessions_by_tab(self) -> dict[str, dict[str, Any]]:
        """Browser tab id → what its session showed, over every live replica."""
        found: dict[str, dict[str, Any]] = {}
        for replica in self.replicas.values():
            for session in replica.sessions() if replica.running else []:
                if session["tab_id"]:
                    found[session["tab_id"]] = session
        return found

    # --- logs and teardown -------------------------------------------------------------

    def log_paths(self) -> list[Path]:
        paths = [p.log_path for p in [*self.workers.values(), *self.replicas.values()]]
        redis_log = self.log_dir / "redis.log"
        if self.redis.log_path.exists():
            shutil.copyfile(self.redis.log_path, redis_log)
            paths.append(redis_log)
        return paths

    def close(self) -> None:
        if self.front is not None:
            self.front.close()
        for process in [*self.replicas.values(), *self.workers.values()]:
            process.close()
        self.client.close()
        self.redis.close()
