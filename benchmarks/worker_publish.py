"""Worker compute + publish cost per image frame, against a private redis-server.

Usage: .venv/bin/python benchmarks/worker_publish.py [--iterations N] [--sizes 512 1024 2048]

Measures, per input size, the wall time of one ``image`` frame: plotter
(rebin to 512x512, colour limits), msgpack encoding and the fenced
``LayerStore.write`` round trip. Prints a Markdown table. Not part of the tests;
``benchmarks/load.py`` calls :func:`measure` for its worker section.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any

import numpy as np
import scipp as sc

from livegrid.codec import encode_frame
from livegrid.keyspace import Keyspace
from livegrid.lifecycle import LayerState, Lifecycle
from livegrid.redis_client import connect
from livegrid.redis_server import RedisServerProcess
from livegrid.stores.layers import FrameTimes, LayerStore
from livegrid.stores.leases import Leases
from worker.plotters import compute_frame

HEADER = (
    "| input | compute ms (median) | encode ms | publish ms "
    "| total ms (median / p95) | frame MiB | frames/s per core |\n"
    "|---|---|---|---|---|---|---|"
)


def _image(n: int) -> sc.DataArray:
    rng = np.random.default_rng(0)
    return sc.DataArray(
        sc.array(dims=["y", "x"], values=rng.poisson(5.0, (n, n)).astype(float), unit="counts"),
        coords={"y": sc.arange("y", float(n), unit="mm"), "x": sc.arange("x", float(n), unit="mm")},
    )


def measure(
    redis_url: str, sizes: list[int], iterations: int, namespace: str = "bench-worker"
) -> list[dict[str, Any]]:
    """Per input size: median compute, encode, publish and total ms, p95 total, frame MiB."""
    client = connect(redis_url)
    keys = Keyspace(namespace)
    store = LayerStore(client, keys, frames_maxlen=1000)
    lease = Leases(client, keys, ttl_ms=600_000).acquire("job", "bench")
    assert lease is not None
    version = store.snapshot("layer").lifecycle.version
    results = []
    for n in sizes:
        data = _image(n)
        compute, encode, publish, total = [], [], [], []
        for _ in range(iterations):
            t0 = time.perf_counter()
            frame = compute_frame("image", data, {}, display_max=512, now_ns=time.time_ns())
            t1 = time.perf_counter()
            payload = encode_frame(frame)
            t2 = time.perf_counter()
            version = store.write(
                "layer", job="job", token=lease.token, expected_version=version,
                lifecycle=Lifecycle(LayerState.READY, version + 1), frame=payload,
                times=FrameTimes(0, 0, time.time_ns()),
            ).version  # fmt: skip
            t3 = time.perf_counter()
            compute.append((t1 - t0) * 1e3)
            encode.append((t2 - t1) * 1e3)
            publish.append((t3 - t2) * 1e3)
            total.append((t3 - t0) * 1e3)
        med = statistics.median(total)
        results.append(
            {
                "input": f"{n}x{n} float64",
                "compute_ms": statistics.median(compute),
                "encode_ms": statistics.median(encode),
                "publish_ms": statistics.median(publish),
                "total_ms": med,
                "total_p95_ms": sorted(total)[int(0.95 * len(total))],
                "frame_mib": len(payload) / 2**20,
                "frames_per_s_per_core": 1000 / med,
            }
        )
    return results


def table_row(r: dict[str, Any]) -> str:
    return (
        f"| {r['input']} | {r['compute_ms']:.2f} | {r['encode_ms']:.2f} | "
        f"{r['publish_ms']:.2f} | {r['total_ms']:.2f} / {r['total_p95_ms']:.2f} | "
        f"{r['frame_mib']:.2f} | {r['frames_per_s_per_core']:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    args = parser.parse_args()
    server = RedisServerProcess()
    server.start()
    try:
        print(f"machine: {platform.node()}, {platform.processor() or platform.machine()}, "
              f"Python {platform.python_version()}")  # fmt: skip
        print(HEADER)
        for result in measure(server.url, args.sizes, args.iterations):
            print(table_row(result))
    finally:
        server.close()


if __name__ == "__main__":
    main()
