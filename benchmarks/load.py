"""Load and latency benchmark: per-session present cost, capacity, RSS, Redis, worker.

Usage::

    .venv/bin/python benchmarks/load.py                       # the default run, ~10 min
    .venv/bin/python benchmarks/load.py --phases slow         # slow clients, ~3 min
    .venv/bin/python benchmarks/load.py --phases churn --churn-seconds 1800   # 30 min churn

It starts, on loopback only, a private ``redis-server``, ``--workers`` benchmark
publishers (``publisher.py``: the worker's compute and fenced publish, exact
frame sizes), a fresh replica per phase (``livegrid app``; for the baseline
``baseline_app.py``: the same grid through per-session ``Pipe.send``), loads
``grid.yaml`` (2x3 grid: two 256x256 images, four 1000-point lines, 1 Hz) and
drives sessions with client processes
(``clients.py``, at most ``--per-client`` sessions each).

Phases (``--phases``, in this order):

``worker``
    ``worker_publish.measure``: compute + encode + publish of one image frame.
``baseline`` and ``lean``
    A ladder: at each step more sessions connect (idle RSS is measured at the
    first step with the publishers paused), then a ``--window`` s measurement
    window: replica event-loop (main thread) and process CPU from
    ``/proc``, the replica's tick-seconds and frames counters, Redis
    ``INFO`` (commands, CPU, GETs), client CPU; ``/debug/sessions`` for the
    frames each session was given. The lean ladder stops at the first step that
    misses p95 <= 250 ms or skips frames (the knee), unless ``--full-ladder``.
``slow``
    A fresh replica; ``--slow-with`` sessions for one window, then ``--slow``
    sessions that read at ``--slow-rate`` bytes/s as well, for another: the
    normal sessions' latency and skipped frames with and without them, and
    what the slow ones received, deferred, and whether the replica dropped them.
``churn``
    A fresh replica; one batch, then ``--churn-warmup`` s of open/close churn
    (the allocator reaches its working size), then the start RSS; sessions
    open and close in batches for ``--churn-seconds``; RSS, Panel's views
    (``/debug/process``) and live sessions before and after.

Latency is measured client side (``load_analysis`` says how); the replica's own
``flush_latency`` histogram (computed_at -> models updated) is reported beside.

The command line is this file; ``load_run.py`` starts and measures (processes
and phases), ``load_analysis.py`` computes the figures (pure, unit-tested) and
``load_report.py`` writes the Markdown.

Everything stops by itself: children get SIGTERM (then SIGKILL) on exit, on
Ctrl-C and on errors. Writes ``<out>/results.json`` and ``<out>/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks import worker_publish
from benchmarks.load_analysis import knee, worker_compute
from benchmarks.load_report import markdown
from benchmarks.load_run import HERE, NAMESPACE, Run
from livegrid.keyspace import Keyspace
from livegrid.redis_client import connect
from livegrid.redis_server import RedisServerProcess
from livegrid.supervise import Supervisor
from livegrid.workspace_cli import load_workspace
from livegrid.workspace_file import load_workspace_file


def machine() -> str:
    mem = Path("/proc/meminfo").read_text().split()[1]
    return (
        f"{platform.node()}, {os.cpu_count()} cores, {int(mem) / 2**20:.0f} GiB, "
        f"{platform.platform()}, Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--phases", default="worker,baseline,lean", help="any of worker,baseline,lean,slow,churn"
    )
    parser.add_argument("--workers", type=int, default=2, help="publisher processes")
    parser.add_argument("--baseline-steps", type=int, nargs="+", default=[5, 10, 15])
    parser.add_argument("--lean-steps", type=int, nargs="+", default=[10, 50, 100, 150, 200])
    parser.add_argument(
        "--no-idle", dest="idle", action="store_false",
        help="do not pause the publishers while the second step's sessions open",
    )  # fmt: skip
    parser.add_argument(
        "--gc-threshold",
        default="",
        help="G0,G1,G2: start lean replicas through gc_replica.py with gc.set_threshold(...)",
    )
    parser.add_argument("--window", type=float, default=30.0, help="seconds per measurement")
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--per-client", type=int, default=50, help="sessions per client process")
    parser.add_argument("--full-ladder", action="store_true")
    parser.add_argument("--churn-seconds", type=float, default=120.0)
    parser.add_argument("--churn-batch", type=int, default=10)
    parser.add_argument("--churn-hold", type=float, default=3.0)
    parser.add_argument(
        "--churn-warmup", type=float, default=120.0, help="seconds of churn before the start RSS"
    )
    parser.add_argument("--slow", type=int, default=10, help="slow sessions (phase slow)")
    parser.add_argument(
        "--slow-with", type=int, default=50, help="normal sessions beside them (phase slow)"
    )
    parser.add_argument(
        "--slow-rate", type=float, default=300_000.0, help="bytes/s a slow session reads"
    )
    parser.add_argument("--worker-iterations", type=int, default=200)
    parser.add_argument("--client-deadline", type=float, default=1200.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    phases = args.phases.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    log_dir = args.out / "logs"
    log_dir.mkdir(exist_ok=True)

    def interrupted(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    children = Supervisor(log_dir)
    server = RedisServerProcess()
    server.start()
    results: dict[str, Any] = {
        "machine": machine(),
        "command": " ".join([".venv/bin/python", "benchmarks/load.py", *sys.argv[1:]]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    try:
        client = connect(server.url)
        results["redis"] = client.info("server")["redis_version"]
        env = {
            **os.environ,
            "LIVEGRID_REDIS_URL": server.url,
            "LIVEGRID_NAMESPACE": NAMESPACE,
            "LIVEGRID_DEBUG_ENDPOINTS": "true",
            "LIVEGRID_LOG_FORMAT": "json",
            "LIVEGRID_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "warning"),
        }
        if "worker" in phases:
            print("[worker] compute + publish of image frames", flush=True)
            results["worker"] = worker_publish.measure(
                server.url, [256, 512, 1024, 2048], args.worker_iterations
            )
        keys = Keyspace(NAMESPACE)
        workspace = load_workspace_file(HERE / "grid.yaml")
        load_workspace(client, keys, workspace, user="bench", start_jobs=False)
        run = Run(args, args.out, children, server, client, env)
        for index in range(args.workers):
            path = args.out / f"publisher-{index}.jsonl"
            path.unlink(missing_ok=True)
            run.publisher_stats.append(path)
            run.publishers.append(
                children.spawn(
                    f"publisher-{index}",
                    [
                        sys.executable,
                        str(HERE / "publisher.py"),
                        "--redis-url",
                        server.url,
                        "--namespace",
                        NAMESPACE,
                        "--index",
                        str(index),
                        "--count",
                        str(args.workers),
                        "--stats",
                        str(path),
                        "--duration",
                        "3600",
                    ],
                    env,
                )
            )
        time.sleep(3)
        windows: list[dict[str, Any]] = []
        for mode in ("baseline", "lean"):
            if mode in phases:
                steps = args.baseline_steps if mode == "baseline" else args.lean_steps
                windows += run.ladder(mode, steps)
        if windows:
            results["windows"] = windows
            results["knee"] = knee(windows)
        if "slow" in phases:
            results["slow"] = run.slow()
        if "churn" in phases:
            results["churn"] = run.churn()
        for proc in run.publishers:
            proc.stop(15)
        records = run.publisher_records()
        if records:
            results["worker_run"] = worker_compute(records)
    except KeyboardInterrupt:
        print("interrupted; stopping children", file=sys.stderr)
    finally:
        children.stop_all()
        server.close()
        (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
        report = markdown(results)
        (args.out / "results.md").write_text(report)
        print(report)


if __name__ == "__main__":
    main()
