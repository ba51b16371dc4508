"""``livegrid`` processes for tests and benchmarks, their HTTP endpoints and metrics.

Every process runs the same CLI a user runs, supervised by
:class:`livegrid.supervise.Child` (SIGTERM, then SIGKILL after 10 s).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from livegrid.redis_server import free_port
from livegrid.supervise import Child, livegrid_command


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """Status and body of ``GET url``; ``(0, "")`` when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> ``{'name{labels}': value}``."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def metric_sum(samples: Mapping[str, float], name: str, **labels: str) -> float:
    """Sum of the samples of metric ``name`` whose labels include ``labels``."""
    return sum(
        value
        for key, value in samples.items()
        if (key == name or key.startswith(name + "{"))
        and all(f'{k}="{v}"' in key for k, v in labels.items())
    )


class LivegridProcess(Child):
    """``livegrid ARGS...``, its output appended to ``log_path``."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        super().__init__(log_path.stem, livegrid_command(*args), env, log_path=log_path)


class ReplicaEndpoints:
    """A replica's HTTP endpoints, read at ``self.url``."""

    url: str

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        return http_get(self.url + path, timeout)

    def ready(self) -> bool:
        return self.get("/readyz")[0] == 200

    def sessions(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """What each session of this replica shows (``/debug/sessions``); [] when unreachable."""
        status, body = self.get("/debug/sessions", timeout)
        return json.loads(body) if status == 200 else []

    def process_info(self) -> dict[str, Any]:
        """``/debug/process``: live sessions, Panel's registered views, RSS."""
        status, body = self.get("/debug/process")
        assert status == 200, body
        return dict(json.loads(body))

    def fetched(self) -> dict[str, list[int]]:
        """Frame seqs the replica's feed fetched, per layer."""
        status, body = self.get("/debug/feed")
        return json.loads(body)["fetched"] if status == 200 else {}

    def metrics(self, timeout: float = 5.0) -> dict[str, float]:
        return parse_metrics(self.get("/metrics", timeout)[1])

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` matching ``labels`` on ``/metrics``."""
        return metric_sum(self.metrics(), name, **labels)


def _environment(redis_url: str, namespace: str, env: Mapping[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "LIVEGRID_REDIS_URL": redis_url,
        "LIVEGRID_NAMESPACE": namespace,
        "LIVEGRID_LOG_FORMAT": "json",
        **env,
    }


class WorkerProcess(LivegridProcess):
    """``livegrid worker --id ID`` with its metrics on a free port."""

    def __init__(
        self, redis_url: str, namespace: str, worker_id: str, log_dir: Path, **env: str
    ) -> None:
        self.worker_id = worker_id
        self.metrics_port = free_port()
        args = ["worker", "--id", worker_id, "--metrics-port", str(self.metrics_port)]
        environment = _environment(redis_url, namespace, env)
        super().__init__(args, environment, log_dir / f"{worker_id}.log")

    def wait(self, timeout: float | None = 15) -> int:
        return super().wait(timeout)

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` matching ``labels`` on /metrics."""
        status, body = http_get(f"http://127.0.0.1:{self.metrics_port}/metrics")
        assert status == 200, f"worker {self.worker_id} /metrics answered {status}"
        return metric_sum(parse_metrics(body), name, **labels)


class ReplicaProcess(ReplicaEndpoints, LivegridProcess):
    """``livegrid app`` on a free port, with ``/debug/sessions`` on."""

    def __init__(
        self, redis_url: str, namespace: str, name: str, log_dir: Path, **env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = _environment(
            redis_url, namespace, {"LIVEGRID_DEBUG_ENDPOINTS": "true", **env}
        )
        super().__init__(
            ["app", "--port", str(self.port)], environment, log_dir / f"replica-{name}.log"
        )
        self.name = name
