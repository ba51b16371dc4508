"""Load and latency harness of issue #8: per-session present cost, capacity, RSS, Redis, worker.

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

Latency (client side): every publisher burst (all layers of a tick) has the
``computed_at`` of its frames; a data patch belongs to the latest burst that
started before it arrived, and its latency is arrival of its last byte minus
the *earliest* ``computed_at`` of that burst (an upper bound: the other frames
of the burst were computed up to the burst's span later). Valid while
latencies stay under the frame period (1 s); the replica's own
``flush_latency`` histogram (computed_at -> models updated) is reported beside.

Everything stops by itself: children get SIGTERM (then SIGKILL) on exit, on
Ctrl-C and on errors. Writes ``<out>/results.json`` and ``<out>/results.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import redis

from livegrid.keyspace import Keyspace
from livegrid.redis_client import connect
from livegrid.redis_server import RedisServerProcess, free_port
from livegrid.workspace_cli import load_workspace
from livegrid.workspace_file import load_workspace_file

HERE = Path(__file__).resolve().parent
NAMESPACE = "bench"
P95_TARGET_S = 0.25
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- processes ----------------------------------------------------------------------------


class Children:
    """Every child process of the run; all of them are stopped by :meth:`stop_all`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[Any]] = []
        self._logs: list[IO[bytes]] = []

    def spawn(
        self, name: str, args: list[str], env: dict[str, str], *, pipes: bool = False
    ) -> subprocess.Popen[Any]:
        log = (self.log_dir / f"{name}.log").open("wb")
        self._logs.append(log)
        proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else log,
            stderr=log,
            text=pipes,
        )
        self.procs.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for log in self._logs:
            log.close()


def proc_cpu_s(pid: int, tid: int | None = None) -> float:
    """utime + stime of a process (or one of its threads) in seconds; 0 once it is gone."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        fields = Path(path).read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def http_get(url: str, timeout: float = 30.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> ``{name{labels}: value}``."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


class Replica:
    """A replica process (``livegrid app`` or the baseline app) and how to read it."""

    def __init__(
        self,
        children: Children,
        name: str,
        env: dict[str, str],
        *,
        baseline: bool,
        gc_threshold: str = "",
    ):
        self.name = name
        self.baseline = baseline
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if baseline:
            args = [sys.executable, str(HERE / "baseline_app.py"), "--port", str(self.port)]
        elif gc_threshold:
            launcher = str(HERE / "gc_replica.py")
            args = [sys.executable, launcher, gc_threshold, "app", "--port", str(self.port)]
        else:
            args = [sys.executable, "-m", "livegrid.cli", "app", "--port", str(self.port)]
        self.proc = children.spawn(name, args, env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while http_get(self.url + "/readyz", 2)[0] != 200:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not become ready; see its log")
            time.sleep(0.2)

    def metrics(self) -> dict[str, float]:
        return parse_metrics(http_get(self.url + "/metrics")[1])

    def sessions(self) -> list[dict[str, Any]]:
        status, body = http_get(self.url + "/debug/sessions", 60)
        return json.loads(body) if status == 200 else []

    def process(self) -> dict[str, Any]:
        status, body = http_get(self.url + "/debug/process", 60)
        return json.loads(body) if status == 200 else {}


# --- measurement ----------------------------------------------------------------------------


@dataclass
class Snapshot:
    at: float
    replica_cpu: dict[int, float]
    loop_cpu: dict[int, float]
    rss: dict[int, float]
    metrics: dict[int, dict[str, float]]
    redis_info: dict[str, Any]
    redis_cpu: float
    clients_cpu: float
    publishers_cpu: float


@dataclass
class Run:
    args: argparse.Namespace
    out: Path
    children: Children
    redis_server: RedisServerProcess
    client: redis.Redis
    env: dict[str, str]
    publishers: list[subprocess.Popen[Any]] = field(default_factory=list)
    clients: list[subprocess.Popen[Any]] = field(default_factory=list)
    client_files: list[Path] = field(default_factory=list)
    publisher_stats: list[Path] = field(default_factory=list)

    # --- helpers ---

    def snapshot(self, replicas: list[Replica]) -> Snapshot:
        info = self.client.info("all")
        assert self.redis_server.pid is not None
        return Snapshot(
            at=time.time(),
            replica_cpu={r.pid: proc_cpu_s(r.pid) for r in replicas},
            loop_cpu={r.pid: proc_cpu_s(r.pid, r.pid) for r in replicas},
            rss={r.pid: rss_mib(r.pid) for r in replicas},
            metrics={r.pid: r.metrics() for r in replicas},
            redis_info=info,
            redis_cpu=proc_cpu_s(self.redis_server.pid),
            clients_cpu=sum(proc_cpu_s(c.pid) for c in self.clients),
            publishers_cpu=sum(proc_cpu_s(p.pid) for p in self.publishers),
        )

    def start_clients(
        self, replica: Replica, count: int, tag: str, stalled: int = 0, slow: int = 0
    ) -> None:
        """Connect ``count`` more sessions to ``replica``; return once all are connected.

        ``slow`` sessions (read at ``--slow-rate``) come from one more client process.
        """
        if slow:
            rate = str(self.args.slow_rate)
            self._spawn_clients(
                replica, tag, ["--sessions", "0", "--slow", str(slow), "--slow-rate", rate]
            )
        remaining, stall_left = count, stalled
        while remaining > 0 or stall_left > 0:
            n = min(remaining, self.args.per_client)
            s = min(stall_left, self.args.per_client - n) if n < self.args.per_client else 0
            if n == 0:
                s = min(stall_left, self.args.per_client)
            remaining -= n
            stall_left -= s
            self._spawn_clients(replica, tag, ["--sessions", str(n), "--stalled", str(s)])

    def _spawn_clients(self, replica: Replica, tag: str, kinds: list[str]) -> None:
        index = len(self.client_files)
        path = self.out / f"clients-{tag}-{index}.json"
        args = [
            sys.executable, str(HERE / "clients.py"), "--url", replica.url, "--out", str(path),
            *kinds, "--stdin-stop", "--deadline", str(self.args.client_deadline),
        ]  # fmt: skip
        proc = self.children.spawn(f"clients-{tag}-{index}", args, self.env, pipes=True)
        self.clients.append(proc)
        self.client_files.append(path)
        # One session connects at a time (each client process in turn), like tabs
        # opening one after another, not a storm of simultaneous page builds.
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError(f"a client process failed to connect: {line}")
        if int(line[2]):
            print(f"  warning: {line[2]} sessions failed to connect", flush=True)

    def stop_clients(self) -> list[dict[str, Any]]:
        for proc in self.clients:
            if proc.poll() is None and proc.stdin is not None:
                try:
                    proc.stdin.write("stop\n")
                    proc.stdin.flush()
                except BrokenPipeError:
                    pass
        for proc in self.clients:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                Children.stop(proc)
        results = [json.loads(p.read_text()) for p in self.client_files if p.exists()]
        self.clients, self.client_files = [], []
        return results

    def pause_publishers(self, paused: bool) -> None:
        for proc in self.publishers:
            proc.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)

    # --- phases ---

    def ladder(self, mode: str, steps: list[int]) -> list[dict[str, Any]]:
        replica = Replica(
            self.children,
            f"{mode}-replica",
            self.env,
            baseline=mode == "baseline",
            gc_threshold="" if mode == "baseline" else self.args.gc_threshold,
        )
        replica.wait_ready()
        print(f"[{mode}] replica ready at {replica.url}", flush=True)
        windows: list[dict[str, Any]] = []
        open_sessions = 0
        idle: dict[str, Any] = {}
        try:
            for index, k in enumerate(steps):
                if k <= open_sessions:
                    continue
                if index == 1 and self.args.idle:
                    # The sessions between the first two steps open while no frame arrives.
                    idle = self.measure_idle(replica, open_sessions, k - open_sessions)
                else:
                    self.start_clients(replica, k - open_sessions, f"{mode}-{k}")
                open_sessions = k
                time.sleep(self.args.settle)
                window = self.measure(replica, open_sessions)
                window["mode"] = mode
                windows.append(window)
                print(
                    f"[{mode}] K={open_sessions}: loop CPU {window['loop_cpu_pct']:.0f} %, "
                    f"loop {window['loop_ms_per_layer_frame']:.3f} ms/layer-frame, "
                    f"server-side skipped {window['skipped_server']}",
                    flush=True,
                )
                early_fail = window["skipped_server"] > 0 or window["server_p95_s"] > 1.0
                if mode == "lean" and early_fail and not self.args.full_ladder:
                    break
        finally:
            self.finish(windows)
            if idle and windows:
                windows[0]["idle"] = idle
            Children.stop(replica.proc)
        return windows

    def measure_idle(self, replica: Replica, warm: int, n: int) -> dict[str, Any]:
        """RSS added by ``n`` more open sessions while the publishers are paused."""
        self.pause_publishers(True)
        try:
            time.sleep(3)
            before = rss_mib(replica.pid)
            self.start_clients(replica, n, f"idle-{warm}")
            time.sleep(5)
            after = rss_mib(replica.pid)
        finally:
            self.pause_publishers(False)
        return {
            "warm_sessions": warm,
            "added_sessions": n,
            "rss_before_mib": before,
            "rss_after_mib": after,
            "mib_per_idle_session": (after - before) / n,
        }

    def measure(self, replica: Replica, sessions: int) -> dict[str, Any]:
        for proc in self.publishers:
            if proc.poll() is not None:
                raise RuntimeError("a publisher exited; see its log")
        a = self.snapshot([replica])
        time.sleep(self.args.window)
        b = self.snapshot([replica])
        described = replica.sessions()
        pid, span = replica.pid, b.at - a.at
        ma, mb = a.metrics[pid], b.metrics[pid]

        def delta(name: str) -> float:
            return mb.get(name, 0.0) - ma.get(name, 0.0)

        delivered = delta("livegrid_replica_frames_delivered_total")
        fetched = delta("livegrid_replica_frames_fetched_total")
        loop = b.loop_cpu[pid] - a.loop_cpu[pid]
        tick = delta("livegrid_replica_session_tick_seconds_sum")
        cmd = _commandstats(b.redis_info, a.redis_info)
        published = self.published_between(a.at, b.at)
        window = {
            "sessions": sessions,
            "window": [a.at, b.at],
            "seconds": span,
            "frames_published": published,
            "frames_fetched": fetched,
            "redis_reads_per_frame": fetched / published if published else math.nan,
            "frames_delivered": delivered,
            "loop_cpu_pct": 100 * loop / span,
            "replica_cpu_pct": 100 * (b.replica_cpu[pid] - a.replica_cpu[pid]) / span,
            "loop_ms_per_layer_frame": 1e3 * loop / delivered if delivered else math.nan,
            "tick_ms_per_layer_frame": 1e3 * tick / delivered if delivered else math.nan,
            "rss_mib": b.rss[pid],
            "server_p95_s": _histogram_quantile(mb, ma, 0.95),
            "redis_ops_per_s": (
                b.redis_info["total_commands_processed"] - a.redis_info["total_commands_processed"]
            )
            / span,
            "redis_cpu_pct": 100 * (b.redis_cpu - a.redis_cpu) / span,
            "redis_get_per_frame": cmd.get("get", 0) / published if published else math.nan,
            "clients_cpu_pct": 100 * (b.clients_cpu - a.clients_cpu) / span,
            "publishers_cpu_pct": 100 * (b.publishers_cpu - a.publishers_cpu) / span,
            "sessions_reaped": mb.get("livegrid_replica_sessions_reaped_total", 0.0),
        }
        window.update(self.skipped_server(described, a.at, b.at))
        return window

    def published_between(self, t0: float, t1: float) -> int:
        """Frame events appended to ``ns:frames`` in ``[t0, t1)``."""
        stream = Keyspace(NAMESPACE).frames
        entries: Any = self.client.xrange(stream, f"{int(t0 * 1000)}", f"{int(t1 * 1000) - 1}")
        return len(entries)

    def skipped_server(
        self, described: list[dict[str, Any]], t0: float, t1: float
    ) -> dict[str, int]:
        """Frames of ``[t0, t1 - 2 s)`` that the feed has but a session was not given."""
        stream = Keyspace(NAMESPACE).frames
        entries: Any = self.client.xrange(stream, f"{int(t0 * 1000)}", f"{int((t1 - 2) * 1000)}")
        wanted: dict[str, set[int]] = defaultdict(set)
        for _, fields in entries:
            wanted[fields[b"layer"].decode()].add(int(fields[b"frame_seq"]))
        per_session: dict[str, tuple[int, int]] = {}
        for session in described:
            frames = session.get("frames", {})
            missing = sum(len(seqs - set(frames.get(lid, []))) for lid, seqs in wanted.items())
            per_session[session["id"]] = (missing, session.get("presents_deferred", 0))
        return {**_skipped(per_session), "_per_session": per_session}

    def slow(self) -> list[dict[str, Any]]:
        """``--slow-with`` sessions, then ``--slow`` slow ones too: what they cost the others."""
        replica = Replica(
            self.children, "slow-replica", self.env, baseline=False,
            gc_threshold=self.args.gc_threshold,
        )  # fmt: skip
        replica.wait_ready()
        k, n = self.args.slow_with, self.args.slow
        print(f"[slow] replica ready at {replica.url}", flush=True)
        windows: list[dict[str, Any]] = []
        try:
            self.start_clients(replica, k, f"slow-{k}")
            time.sleep(self.args.settle)
            windows.append(self.measure(replica, k) | {"mode": "lean"})
            self.start_clients(replica, 0, f"slow-{k}-{n}", slow=n)
            time.sleep(self.args.settle)
            windows.append(self.measure(replica, k) | {"mode": f"lean + {n} slow"})
            for window in windows:
                print(
                    f"[slow] {window['mode']}: loop CPU {window['loop_cpu_pct']:.0f} %",
                    flush=True,
                )
        finally:
            self.finish(windows)
            Children.stop(replica.proc)
        return windows

    def finish(self, windows: list[dict[str, Any]]) -> None:
        """Stop the clients; add what they received to each of ``windows``."""
        client_results = self.stop_clients()
        publisher_records = self.publisher_records()
        for window in windows:
            split_slow(window, client_results)
            add_client_side(window, client_results, publisher_records)

    def publisher_records(self) -> dict[str, list[dict[str, Any]]]:
        """Every frame the publishers published so far, per layer."""
        return read_records(self.publisher_stats)

    def churn(self) -> dict[str, Any]:
        replica = Replica(
            self.children,
            "churn-replica",
            self.env,
            baseline=False,
            gc_threshold=self.args.gc_threshold,
        )
        replica.wait_ready()
        print(f"[churn] replica ready at {replica.url}", flush=True)
        try:
            warm = self.args.churn_batch
            self.start_clients(replica, warm, "churn-warm")
            time.sleep(5)
            self.stop_clients()
            self._settled(replica)
            first_batch_rss = rss_mib(replica.pid)
            if self.args.churn_warmup > 0:
                # The allocator's high-water mark: a replica that served open/close churn
                # for a while holds freed arenas it reuses; growth is measured from there.
                self._churn_clients(replica, self.args.churn_warmup, "churn-warmup").wait()
            settle = self._settled(replica)
            start_rss = rss_mib(replica.pid)
            start_views = replica.process().get("panel_views", math.nan)
            proc = self._churn_clients(replica, self.args.churn_seconds, "churn")
            samples = [(0.0, start_rss)]
            began = time.monotonic()
            while proc.poll() is None:
                time.sleep(min(30.0, max(self.args.churn_seconds / 20, 2.0)))
                samples.append((time.monotonic() - began, rss_mib(replica.pid)))
            result = json.loads((self.out / "clients-churn.json").read_text())
            settle_end = self._settled(replica)
            end_rss = rss_mib(replica.pid)
            metrics = replica.metrics()
            leaked_redis = self.client.zcard(Keyspace(NAMESPACE).sessions)
            return {
                "seconds": self.args.churn_seconds,
                "batch": self.args.churn_batch,
                "hold_s": self.args.churn_hold,
                "opened": result["opened"],
                "closed": result["closed"],
                "failed": sum(1 for s in result["sessions"] if s["error"]),
                "warmup_s": self.args.churn_warmup,
                "rss_after_first_batch_mib": first_batch_rss,
                "rss_start_mib": start_rss,
                "panel_views_start": start_views,
                "panel_views_end": replica.process().get("panel_views", math.nan),
                "rss_end_mib": end_rss,
                "rss_change_pct": 100 * (end_rss - start_rss) / start_rss,
                "rss_samples": samples,
                "settle_start_s": settle,
                "settle_end_s": settle_end,
                "live_sessions_end": len(replica.sessions()),
                "sessions_gauge_end": metrics.get("livegrid_replica_sessions", math.nan),
                "redis_session_entries_end": leaked_redis,
            }
        finally:
            Children.stop(replica.proc)

    def _churn_clients(self, replica: Replica, seconds: float, tag: str) -> subprocess.Popen[Any]:
        """A client process opening and closing batches of sessions for ``seconds``."""
        args = [
            sys.executable, str(HERE / "clients.py"), "--url", replica.url,
            "--out", str(self.out / f"clients-{tag}.json"),
            "--churn-seconds", str(seconds),
            "--churn-batch", str(self.args.churn_batch),
            "--churn-hold", str(self.args.churn_hold),
            "--deadline", str(seconds + 120),
        ]  # fmt: skip
        return self.children.spawn(f"clients-{tag}", args, self.env, pipes=True)

    def _settled(self, replica: Replica, timeout: float = 90.0) -> float:
        """Seconds until the replica has no session and no Panel view left (Bokeh
        destroys a closed session's document after its unused-session lifetime)."""
        began = time.monotonic()
        while time.monotonic() - began < timeout and (
            replica.sessions() or replica.process().get("panel_views", 0)
        ):
            time.sleep(1.0)
        time.sleep(2.0)
        return time.monotonic() - began


def _skipped(per_session: dict[str, tuple[int, int]]) -> dict[str, int]:
    missing = [m for m, _ in per_session.values()]
    return {
        "skipped_server": sum(missing),
        "skipped_server_worst_session": max(missing, default=0),
        "sessions_described": len(per_session),
    }


def split_slow(window: dict[str, Any], clients: list[dict[str, Any]]) -> None:
    """Server-side skipped frames of the normal sessions only; the slow ones apart."""
    per_session: dict[str, tuple[int, int]] = window.pop("_per_session", {})
    slow = [s for r in clients for s in r["sessions"] if s.get("slow") and s["connected_ns"]]
    slow_ids = {s["session_id"] for s in slow}
    window.update(_skipped({k: v for k, v in per_session.items() if k not in slow_ids}))
    t0, t1 = (int(t * 1e9) for t in window["window"])
    slow = [s for s in slow if s["connected_ns"] <= t0]  # open during the whole window
    if not slow:
        return
    window["slow"] = {
        "sessions": len(slow),
        "still_open": sum(1 for s in slow if not s["dropped_ns"]),
        "skipped_server": sum(per_session.get(i, (0, 0))[0] for i in slow_ids),
        "presents_deferred": sum(per_session.get(i, (0, 0))[1] for i in slow_ids),
        "layer_frames_received": sum(c for s in slow for t, _, c in s["data"] if t0 <= t < t1),
        "kib_per_s": sum(b for s in slow for t, b, _ in s["data"] if t0 <= t < t1)
        / 1024
        / window["seconds"]
        / len(slow),
    }


def _commandstats(b: dict[str, Any], a: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in b.items():
        if key.startswith("cmdstat_") and isinstance(value, dict):
            before = a.get(key, {}).get("calls", 0)
            out[key.removeprefix("cmdstat_")] = value["calls"] - before
    return out


def _histogram_quantile(mb: dict[str, float], ma: dict[str, float], q: float) -> float:
    """Upper bucket bound of the ``q`` quantile of the flush-latency histogram in a window."""
    prefix = "livegrid_replica_flush_latency_seconds_bucket"
    buckets: list[tuple[float, float]] = []
    for key, value in mb.items():
        if key.startswith(prefix):
            bound = float(key.split('le="')[1].rstrip('"}'))
            buckets.append((bound, value - ma.get(key, 0.0)))
    buckets.sort()
    if not buckets or buckets[-1][1] <= 0:
        return math.nan
    total = buckets[-1][1]
    for bound, count in buckets:
        if count >= q * total:
            return bound
    return math.inf


# --- client-side analysis ----------------------------------------------------------------------


def _bursts(records: dict[str, list[dict[str, Any]]], period_s: float) -> list[tuple[int, int]]:
    """(earliest computed_at, latest computed_at) of each publisher tick, in ns, sorted."""
    ticks: dict[int, list[int]] = defaultdict(list)
    period_ns = int(period_s * 1e9)
    for frames in records.values():
        for frame in frames:
            # Frames are computed just after their tick's due time: round to the nearest tick.
            ticks[(frame["computed_at"] + period_ns // 2) // period_ns].append(frame["computed_at"])
    return sorted((min(v), max(v)) for v in ticks.values())


def add_client_side(
    window: dict[str, Any],
    clients: list[dict[str, Any]],
    records: dict[str, list[dict[str, Any]]],
    period_s: float = 1.0,
) -> None:
    """Latency, received layer-frames and bytes of the sessions open during ``window``."""
    t0, t1 = (int(t * 1e9) for t in window["window"])
    layers = len(records)
    bursts = _bursts(records, period_s)
    inside = [i for i, (start, _) in enumerate(bursts) if t0 <= start < t1 - 2e9]
    if not inside:
        return
    first, last = inside[0], inside[-1]
    lo = bursts[first][0]
    hi = bursts[last + 1][0] if last + 1 < len(bursts) else bursts[last][0] + int(period_s * 1e9)
    starts = [start for start, _ in bursts]
    latencies: list[float] = []
    received = expected = nbytes = frames_total = 0
    sessions = 0
    worst_missing = 0
    for result in clients:
        for session in result["sessions"]:
            if session["error"] or session["stalled"] or session.get("slow"):
                continue
            if not session["connected_ns"]:
                continue
            if session["connected_ns"] > t0:
                continue
            sessions += 1
            got = 0
            for received_ns, size, count in session["data"]:
                if not lo <= received_ns < hi:
                    continue
                burst = _latest_before(starts, received_ns)
                latencies.extend([(received_ns - starts[burst]) / 1e9] * count)
                got += count
                nbytes += size
            frames_total += got
            want = len(inside) * layers
            received += got
            expected += want
            worst_missing = max(worst_missing, want - got)
    latencies.sort()
    window.update(
        {
            "client_sessions": sessions,
            "bursts": len(inside),
            "burst_span_ms": statistics.median((e - s) / 1e6 for s, e in bursts[first : last + 1]),
            "layer_frames_expected": expected,
            "layer_frames_received": received,
            "skipped_client": max(expected - received, 0),
            "skipped_client_worst_session": max(worst_missing, 0),
            "bytes_per_layer_frame": nbytes / frames_total if frames_total else math.nan,
            "bytes_per_session_grid_frame": nbytes / (sessions * len(inside)) if sessions else 0,
            "latency_s": {
                "p50": _quantile(latencies, 0.50),
                "p95": _quantile(latencies, 0.95),
                "p99": _quantile(latencies, 0.99),
                "max": latencies[-1] if latencies else math.nan,
                "samples": len(latencies),
            },
        }
    )


def _latest_before(starts: list[int], t: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= t:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    return values[min(int(q * len(values)), len(values) - 1)]


def worker_compute(records: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Median compute, encode and publish ms per plotter and frame shape, from the publishers."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for frames in records.values():
        for frame in frames:
            groups[(frame["plotter"], frame["shape"])].append(frame)
    out = []
    for (plotter, shape), frames in sorted(groups.items()):
        total = [f["compute_ms"] + f["encode_ms"] + f["publish_ms"] for f in frames]
        out.append(
            {
                "plotter": plotter,
                "shape": shape,
                "frames": len(frames),
                "compute_ms": statistics.median(f["compute_ms"] for f in frames),
                "encode_ms": statistics.median(f["encode_ms"] for f in frames),
                "publish_ms": statistics.median(f["publish_ms"] for f in frames),
                "total_ms": statistics.median(total),
                "frame_kib": statistics.median(f["bytes"] for f in frames) / 1024,
            }
        )
    return out


# --- report ------------------------------------------------------------------------------------


def _f(value: Any, fmt: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt)


def markdown(results: dict[str, Any]) -> str:
    lines = [f"Machine: {results['machine']}", f"Command: `{results['command']}`", ""]
    if results.get("worker"):
        lines += ["### Worker: compute + publish of one image frame (`worker_publish.measure`)", ""]
        sys.path.insert(0, str(HERE))
        import worker_publish

        lines += [worker_publish.HEADER, *map(worker_publish.table_row, results["worker"]), ""]
    if results.get("worker_run"):
        lines += [
            "### Worker: frames of the run, per plotter and size (publishers)",
            "",
            "| plotter | frame shape | frames | compute ms | encode ms | publish ms "
            "| total ms (median) | frame KiB | frames/s per core |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in results["worker_run"]:
            lines.append(
                f"| {r['plotter']} | {r['shape']} | {r['frames']} | {r['compute_ms']:.2f} | "
                f"{r['encode_ms']:.2f} | {r['publish_ms']:.2f} | {r['total_ms']:.2f} | "
                f"{r['frame_kib']:.0f} | {1000 / r['total_ms']:.0f} |"
            )
        lines.append("")
    windows = results.get("windows", [])
    if windows:
        base = {w["sessions"]: w for w in windows if w["mode"] == "baseline"}
        lines += [
            "### Replica: present cost, latency, skipped frames, per configuration",
            "",
            "| mode | sessions | loop ms / session / layer-frame (ratio to baseline) "
            "| tick ms / layer-frame | loop CPU % | replica CPU % | p50 / p95 / p99 / max ms "
            "| server p95 ≤ | skipped (server / client) | KiB / layer-frame | RSS MiB "
            "| Redis reads / frame | Redis ops/s | Redis CPU % | clients CPU % |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for w in windows:
            lat = w.get("latency_s", {})
            ratio = ""
            ref = base.get(w["sessions"])
            if w["mode"] == "lean" and ref and w["loop_ms_per_layer_frame"]:
                x = ref["loop_ms_per_layer_frame"] / w["loop_ms_per_layer_frame"]
                ratio = f" ({x:.0f}x less)"
            cost = _f(w["loop_ms_per_layer_frame"], ".3f")
            lines.append(
                f"| {w['mode']} | {w['sessions']} | {cost}{ratio} | "
                f"{_f(w['tick_ms_per_layer_frame'], '.3f')} | {w['loop_cpu_pct']:.0f} | "
                f"{w['replica_cpu_pct']:.0f} | "
                f"{_f(lat.get('p50', math.nan) * 1e3, '.0f')} / "
                f"{_f(lat.get('p95', math.nan) * 1e3, '.0f')} / "
                f"{_f(lat.get('p99', math.nan) * 1e3, '.0f')} / "
                f"{_f(lat.get('max', math.nan) * 1e3, '.0f')} | "
                f"{_f(w['server_p95_s'] * 1e3, '.0f')} ms | "
                f"{w['skipped_server']} / {w.get('skipped_client', '-')} | "
                f"{_f(w.get('bytes_per_layer_frame', math.nan) / 1024, '.0f')} | "
                f"{w['rss_mib']:.0f} | {_f(w['redis_reads_per_frame'])} | "
                f"{w['redis_ops_per_s']:.0f} | {w['redis_cpu_pct']:.1f} | "
                f"{w['clients_cpu_pct']:.0f} |"
            )
        lines.append("")
        for mode in ("baseline", "lean"):
            ws = [w for w in windows if w["mode"] == mode]
            if len(ws) >= 2:
                slope = (ws[-1]["rss_mib"] - ws[0]["rss_mib"]) / (
                    ws[-1]["sessions"] - ws[0]["sessions"]
                )
                lines.append(
                    f"- {mode}: RSS per added session under load "
                    f"({ws[0]['sessions']} → {ws[-1]['sessions']}): {slope:.2f} MiB"
                )
            idle = next((w["idle"] for w in ws if "idle" in w), None)
            if idle:
                lines.append(
                    f"- {mode}: RSS per idle session ({idle['added_sessions']} opened after "
                    f"{idle['warm_sessions']}, no frames): {idle['mib_per_idle_session']:.2f} MiB"
                )
        lines.append("")
    if results.get("knee"):
        lines += [f"Knee: {results['knee']}", ""]
    if results.get("slow"):
        lines += [
            "### Slow clients: the other sessions with and without them",
            "",
            "| window | sessions | loop CPU % | p50 / p95 / p99 ms (others) "
            "| skipped, others (server / client) | slow sessions (open at the end of the run) "
            "| slow: layer-frames received / presents deferred since opened / KiB/s each |",
            "|---|---|---|---|---|---|---|",
        ]
        for w in results["slow"]:
            lat = w.get("latency_s", {})
            slow = w.get("slow", {})
            slow_cells = (
                f"{slow['sessions']} ({slow['still_open']}) | {slow['layer_frames_received']} / "
                f"{slow['presents_deferred']} / {slow['kib_per_s']:.0f}"
                if slow
                else "0 | -"
            )
            lines.append(
                f"| {w['mode']} | {w['sessions']} | {w['loop_cpu_pct']:.0f} | "
                + " / ".join(_f(lat.get(q, math.nan) * 1e3, ".0f") for q in ("p50", "p95", "p99"))
                + f" | {w['skipped_server']} / {w.get('skipped_client', '-')} | {slow_cells} |"
            )
        lines.append("")
    churn = results.get("churn")
    if churn:
        lines += [
            "### Churn",
            "",
            f"{churn['seconds']:.0f} s of batches of {churn['batch']} sessions held "
            f"{churn['hold_s']:.0f} s: {churn['opened']} opened, {churn['closed']} closed, "
            f"{churn['failed']} failed. RSS after the first batch "
            f"{churn.get('rss_after_first_batch_mib', math.nan):.0f} MiB, after "
            f"{churn.get('warmup_s', 0):.0f} s of warm-up churn {churn['rss_start_mib']:.0f} MiB"
            f" (start) → {churn['rss_end_mib']:.0f} MiB at the end "
            f"({churn['rss_change_pct']:+.1f} %). Panel views {churn.get('panel_views_start')}"
            f" → {churn.get('panel_views_end')}. Afterwards: "
            f"{churn['live_sessions_end']} live sessions, gauge {churn['sessions_gauge_end']:.0f},"
            f" {churn['redis_session_entries_end']} entries in ns:sessions.",
            "",
        ]
    return "\n".join(lines)


def knee(windows: list[dict[str, Any]]) -> str:
    lean = [w for w in windows if w["mode"] == "lean"]
    ok = [w for w in lean if _holds(w)]
    failed = [w for w in lean if not _holds(w)]
    best = max((w["sessions"] for w in ok), default=0)
    first_fail = min((w["sessions"] for w in failed), default=None)
    if first_fail is None:
        return f"held at every step up to {best} sessions (no knee found below it)"
    return f"holds at {best} sessions, fails at {first_fail}"


def _holds(w: dict[str, Any]) -> bool:
    p95 = w.get("latency_s", {}).get("p95", math.inf)
    return bool(
        p95 <= P95_TARGET_S and w["skipped_server"] == 0 and w.get("skipped_client", 1) == 0
    )


# --- main --------------------------------------------------------------------------------------


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
    children = Children(log_dir)
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
            sys.path.insert(0, str(HERE))
            import worker_publish

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
            Children.stop(proc)
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


def read_records(paths: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """The publishers' JSON lines, per layer."""
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in paths:
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    record = json.loads(line)
                    records[record["layer"]].append(record)
    return dict(records)


if __name__ == "__main__":
    main()
