"""The benchmark's processes and phases: it starts, measures and stops; it computes nothing.

Every child runs on the one supervisor (:class:`livegrid.supervise.Supervisor`);
the replica is read through the test harness's endpoints
(:class:`harness.processes.ReplicaEndpoints`). The figures come from
``load_analysis``; ``load.py`` is the command line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from benchmarks.load_analysis import (
    Snapshot,
    add_client_side,
    skipped_server,
    split_slow,
    window_figures,
)
from harness import wait_until
from harness.processes import ReplicaEndpoints
from livegrid.keyspace import Keyspace
from livegrid.redis_server import RedisServerProcess, free_port
from livegrid.supervise import Child, Supervisor, livegrid_command

HERE = Path(__file__).resolve().parent
NAMESPACE = "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


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


class Replica(ReplicaEndpoints):
    """A replica process (``livegrid app`` or the baseline app) and how to read it."""

    def __init__(
        self,
        children: Supervisor,
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
            args = livegrid_command("app", "--port", str(self.port))
        self.proc = children.spawn(name, args, env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 120.0) -> None:
        wait_until(lambda: not self.proc.running or self.ready(), timeout, f"{self.name} /readyz")
        if not self.proc.running:
            raise RuntimeError(f"{self.name} exited before it was ready; see its log")

    def debug_process(self) -> dict[str, Any]:
        """``/debug/process`` ({} when it does not answer in 60 s)."""
        status, body = self.get("/debug/process", 60)
        return json.loads(body) if status == 200 else {}


# --- phases ----------------------------------------------------------------------------------


@dataclass
class Run:
    args: argparse.Namespace
    out: Path
    children: Supervisor
    redis_server: RedisServerProcess
    client: redis.Redis
    env: dict[str, str]
    publishers: list[Child] = field(default_factory=list)
    clients: list[Child] = field(default_factory=list)
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
            metrics={r.pid: r.metrics(timeout=30) for r in replicas},
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
        assert proc.process.stdout is not None
        line = proc.process.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError(f"a client process failed to connect: {line}")
        if int(line[2]):
            print(f"  warning: {line[2]} sessions failed to connect", flush=True)

    def stop_clients(self) -> list[dict[str, Any]]:
        for proc in self.clients:
            stdin = proc.process.stdin
            if proc.running and stdin is not None:
                try:
                    stdin.write("stop\n")
                    stdin.flush()
                except BrokenPipeError:
                    pass
        for proc in self.clients:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.stop(15)
        results = [json.loads(p.read_text()) for p in self.client_files if p.exists()]
        self.clients, self.client_files = [], []
        return results

    def pause_publishers(self, paused: bool) -> None:
        for proc in self.publishers:
            proc.signal(signal.SIGSTOP if paused else signal.SIGCONT)

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
            replica.proc.stop(15)
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
            if not proc.running:
                raise RuntimeError("a publisher exited; see its log")
        a = self.snapshot([replica])
        time.sleep(self.args.window)
        b = self.snapshot([replica])
        described = replica.sessions(timeout=60)
        published = self.published_between(a.at, b.at)
        window = window_figures(a, b, replica.pid, sessions, published)
        window.update(skipped_server(described, self.frame_events(a.at, b.at - 2)))
        return window

    def published_between(self, t0: float, t1: float) -> int:
        """Frame events appended to ``ns:frames`` in ``[t0, t1)``."""
        stream = Keyspace(NAMESPACE).frames
        entries: Any = self.client.xrange(stream, f"{int(t0 * 1000)}", f"{int(t1 * 1000) - 1}")
        return len(entries)

    def frame_events(self, t0: float, t1: float) -> list[tuple[str, int]]:
        """(layer, frame_seq) of the frame events appended to ``ns:frames`` in ``[t0, t1]``."""
        stream = Keyspace(NAMESPACE).frames
        entries: Any = self.client.xrange(stream, f"{int(t0 * 1000)}", f"{int(t1 * 1000)}")
        return [(f[b"layer"].decode(), int(f[b"frame_seq"])) for _, f in entries]

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
            replica.proc.stop(15)
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
            start_views = replica.debug_process().get("panel_views", math.nan)
            proc = self._churn_clients(replica, self.args.churn_seconds, "churn")
            samples = [(0.0, start_rss)]
            began = time.monotonic()
            while proc.running:
                time.sleep(min(30.0, max(self.args.churn_seconds / 20, 2.0)))
                samples.append((time.monotonic() - began, rss_mib(replica.pid)))
            result = json.loads((self.out / "clients-churn.json").read_text())
            settle_end = self._settled(replica)
            end_rss = rss_mib(replica.pid)
            metrics = replica.metrics(timeout=30)
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
                "panel_views_end": replica.debug_process().get("panel_views", math.nan),
                "rss_end_mib": end_rss,
                "rss_change_pct": 100 * (end_rss - start_rss) / start_rss,
                "rss_samples": samples,
                "settle_start_s": settle,
                "settle_end_s": settle_end,
                "live_sessions_end": len(replica.sessions(timeout=60)),
                "sessions_gauge_end": metrics.get("livegrid_replica_sessions", math.nan),
                "redis_session_entries_end": leaked_redis,
            }
        finally:
            replica.proc.stop(15)

    def _churn_clients(self, replica: Replica, seconds: float, tag: str) -> Child:
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
            replica.sessions(timeout=60) or replica.debug_process().get("panel_views", 0)
        ):
            time.sleep(1.0)
        time.sleep(2.0)
        return time.monotonic() - began


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
