"""Checkpoint cost per job, and how long a job move leaves its layers without frames.

Part 1 (in process, private redis-server): for each synthetic job and for a large
cube, what one checkpoint costs the compute thread (the snapshot: the workflow's
arrays copied, as ``JobRunner.checkpoint`` does) and, separately, the writer
thread (``CheckpointWriter``: encode, then the chunked, fenced write), its size,
the longest single Redis command of the write, and the longest pause a 1 ms
ticker on the calling thread saw while the writer worked (GIL contention).
Part 2 (real worker processes): the move time, from the last frame the old holder
published to the first frame of the new one, for planned moves (SIGTERM hand-over)
and unplanned ones (kill -9, so the lease must expire first).

    .venv/bin/python benchmarks/checkpoint.py                  # about 2 minutes
    .venv/bin/python benchmarks/checkpoint.py --cube-tof 1000 --no-moves  # 2 GiB cube, ~5 GiB RAM

Prints one Markdown table per part (and writes JSON with --out).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis
import scipp as sc

from livegrid.keyspace import Keyspace
from livegrid.models import Cell, Grid, JobSpec, Layer, Workspace
from livegrid.redis_server import RedisServerProcess, free_port
from livegrid.stores.checkpoints import CheckpointStore
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore
from livegrid.stores.leases import Leases
from livegrid.stores.viewers import Viewers
from worker.checkpoint_writer import CheckpointWriter, Outcome, Snapshot, detach
from worker.metrics import WorkerMetrics
from worker.sources.base import Message
from worker.sources.synthetic import SyntheticInstrument
from worker.workflows import Workflow, make_workflow

JOBS = [
    ("cumulative detector_panel_0 (128x128)", "cumulative", {}, "detector_panel_0"),
    ("window 10 s detector_panel_1", "window", {"seconds": 10.0}, "detector_panel_1"),
    ("cumulative monitor_1 (200 bins)", "cumulative", {}, "monitor_1"),
    ("history temperature (10000 points)", "history", {}, "temperature"),
    ("cumulative detector_cube (32x64x64)", "cumulative", {}, "detector_cube"),
]


class TimedRedis(redis.Redis):
    """Records the duration of every command, so the longest one of a write is known."""

    durations: list[float]

    def execute_command(self, *args: Any, **options: Any) -> Any:
        started = time.perf_counter()
        try:
            return super().execute_command(*args, **options)
        finally:
            self.durations.append(time.perf_counter() - started)


def _cost(
    client: TimedRedis, writer: CheckpointWriter, job: str, workflow: Workflow, rounds: int
) -> dict[str, Any]:
    lease = Leases(client, Keyspace("bench"), ttl_ms=60_000).acquire(job, "bench")
    assert lease is not None
    rows = []
    buffers: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        started = time.perf_counter()
        # As JobRunner.checkpoint: the previous snapshot's buffers are free (its write is done).
        state, position = detach(workflow.snapshot(), {"next": 1}, buffers)
        buffers = {n: a for n, a in state.arrays.items() if n not in state.shared}
        snapshot = Snapshot(job, lease.token, 0, "bench", position, state)
        copied = time.perf_counter()
        del state
        client.durations = []
        ticket = writer.submit(snapshot)
        del snapshot
        # What the compute thread would feel meanwhile: the longest gap of a 1 ms ticker.
        last, pause = time.perf_counter(), 0.0
        while not ticket.done:
            time.sleep(0.001)
            now = time.perf_counter()
            pause, last = max(pause, now - last), now
        assert ticket.wait(1) is Outcome.WRITTEN
        rows.append(
            (
                (copied - started) * 1e3,
                writer.last_encode_ms,
                writer.last_write_ms,
                max(client.durations) * 1e3,
                pause * 1e3,
                ticket.bytes,
            )
        )
    copy_ms, encode_ms, write_ms, longest_ms, pause_ms, size = (
        statistics.median(r[i] for r in rows[1:]) for i in range(6)
    )
    return {
        "compute_thread_first_ms": round(rows[0][0], 2),
        "compute_thread_ms": round(copy_ms, 2),
        "encode_ms": round(encode_ms, 2),
        "write_ms": round(write_ms, 2),
        "writer_thread_ms": round(encode_ms + write_ms, 2),
        "longest_command_ms": round(longest_ms, 2),
        "longest_ticker_pause_ms": round(pause_ms, 2),
        "bytes": int(size),
        "rounds": rounds,
    }


def part_cost(url: str, cube_tof: int) -> list[dict[str, Any]]:
    client = TimedRedis.from_url(url)
    client.durations = []
    writer = CheckpointWriter(CheckpointStore(client, Keyspace("bench")), WorkerMetrics())
    writer.start()
    instrument = SyntheticInstrument(dict.fromkeys([j[3] for j in JOBS], 10.0), seed=1)
    results = []
    for title, workflow_name, params, source_name in JOBS:
        workflow = make_workflow(workflow_name, params)
        source = instrument.source(source_name)
        for k in range(20_000_000_000, 20_000_000_000 + 200):
            workflow.push(source.message(k))
        results.append({"job": title, **_cost(client, writer, title, workflow, 6)})
    rng = np.random.default_rng(0)
    # Filled slice by slice in place: the cube and the workflow's sum are the only full copies.
    cube = sc.DataArray(sc.zeros(dims=["tof", "y", "x"], shape=[cube_tof, 512, 512], unit="counts"))
    values = cube.values
    for index in range(cube_tof):
        values[index] = rng.poisson(0.3, size=(512, 512))
    big = make_workflow("cumulative")
    big.push(Message("cube", cube, 0, 1))
    del values, cube
    title = f"cumulative 512x512x{cube_tof} cube ({512 * 512 * cube_tof * 8 / 2**20:.0f} MiB)"
    results.append({"job": title, **_cost(client, writer, "cube", big, 4)})
    writer.stop()
    return results


# --- move times ----------------------------------------------------------------------------


def _worker(url: str, worker_id: str, log_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LIVEGRID_REDIS_URL": url,
        "LIVEGRID_NAMESPACE": "bench",
        "LIVEGRID_LOG_FORMAT": "json",
        "LIVEGRID_LEASE_TTL_MS": "2000",
        "LIVEGRID_CHECKPOINT_INTERVAL_S": "1",
        "LIVEGRID_SYNTHETIC_RATES": json.dumps({"monitor_1": 10}),
    }
    log = (log_dir / f"{worker_id}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "livegrid.cli", "worker", "--id", worker_id,
         "--metrics-port", str(free_port())],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _watch_move(client: redis.Redis, old: str, act: Any, timeout_s: float = 30) -> float:
    """Seconds from the old holder's last frame to the new holder's first."""
    keys = Keyspace("bench")
    layers = LayerStore(client, keys, frames_maxlen=1000)
    jobs = JobStore(client, keys)
    last_old = time.monotonic()
    seq = layers.snapshot("L").frame_seq
    act()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now_seq = layers.snapshot("L").frame_seq
        holder = jobs.status("job").worker
        if now_seq != seq:
            seq = now_seq
            if holder == old:
                last_old = time.monotonic()
            else:
                return time.monotonic() - last_old
        time.sleep(0.005)
    raise TimeoutError("the job did not move")


def part_moves(url: str, rounds: int) -> dict[str, list[float]]:
    client = redis.Redis.from_url(url)
    keys = Keyspace("bench")
    layer = Layer(id="L", job="job", output="cumulative", plotter="lines")
    workspace = Workspace(
        grids=[Grid(id="g", title="G", rows=1, cols=1, cells=[Cell(row=0, col=0, layers=[layer])])]
    )
    config = ConfigStore(client, keys)
    config.write(workspace, expected_version=config.version())
    Viewers(client, keys, ttl_s=3600).mark("bench", ["L"])
    JobStore(client, keys).start(JobSpec(id="job", workflow="cumulative", source="monitor_1"))
    log_dir = Path(tempfile.mkdtemp(prefix="lg-ckpt-bench-"))
    workers: dict[str, subprocess.Popen[bytes]] = {}
    count = 0

    def spawn() -> str:
        nonlocal count
        count += 1
        worker_id = f"w{count}"
        workers[worker_id] = _worker(url, worker_id, log_dir)
        return worker_id

    def holder() -> str:
        return JobStore(client, keys).status("job").worker

    spawn()
    times: dict[str, list[float]] = {"planned (SIGTERM)": [], "unplanned (kill -9)": []}
    try:
        while (
            not holder() or LayerStore(client, keys, frames_maxlen=1000).snapshot("L").frame_seq < 5
        ):
            time.sleep(0.1)
        for index in range(2 * rounds):
            spare = spawn()
            while client.zcard(keys.workers) < 2 or holder() == spare:
                time.sleep(0.1)
            old = holder()
            planned = index % 2 == 0
            how = signal.SIGTERM if planned else signal.SIGKILL
            kind = "planned (SIGTERM)" if planned else "unplanned (kill -9)"
            times[kind].append(
                _watch_move(client, old, lambda o=old, h=how: workers[o].send_signal(h))
            )
            workers[old].wait(15)
            time.sleep(1.5)
    finally:
        for process in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(15)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cube-tof", type=int, default=100, help="tof bins of the 512x512 cube (default 100)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="moves of each kind (default 3)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--no-moves", action="store_true", help="skip part 2 (the move times)")
    args = parser.parse_args()
    server = RedisServerProcess(free_port())
    server.start()
    try:
        cost = part_cost(server.url, args.cube_tof)
        moves = {} if args.no_moves else part_moves(server.url, args.rounds)
    finally:
        server.stop()
    print(
        "| job | compute thread ms: first snapshot / later (buffers reused) "
        "| writer thread ms (encode + write) "
        "| longest Redis command ms | longest 1 ms-ticker pause ms | bytes |"
    )
    print("|---|---|---|---|---|---|")
    for row in cost:
        print(f"| {row['job']} | {row['compute_thread_first_ms']} / {row['compute_thread_ms']} "
              f"| {row['writer_thread_ms']} "
              f"({row['encode_ms']} + {row['write_ms']}) | {row['longest_command_ms']} | "
              f"{row['longest_ticker_pause_ms']} | {row['bytes']:,} |")  # fmt: skip
    print()
    print("| move | n | p50 s | max s |")
    print("|---|---|---|---|")
    for kind, values in moves.items():
        print(f"| {kind} | {len(values)} | {statistics.median(values):.2f} | {max(values):.2f} |")
    if args.out:
        args.out.write_text(json.dumps({"cost": cost, "moves": moves}, indent=2))


if __name__ == "__main__":
    main()
