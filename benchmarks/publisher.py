"""The benchmark's worker: publishes the bench grid's frames at a fixed rate, in exact sizes.

Usage (started by ``benchmarks/load.py``; standalone for debugging)::

    .venv/bin/python benchmarks/publisher.py --redis-url URL --namespace NS \
        --index 0 --count 1 --rate 1 --duration 600 --stats out.json

It plays the worker role with the worker's own code: it holds the fenced lease
of each bench job it owns (``layer i`` belongs to publisher ``i % count``),
computes each frame with :func:`worker.plotters.compute_frame`, encodes it with
:func:`livegrid.codec.encode_frame` and writes it with the fenced
``LayerStore.write``, like ``worker/runner.py``. It exists because the built-in
synthetic instrument has no source of the benchmark's sizes (its panels are
128x128, its spectra 200 bins): the inputs here are 256x256 float64 count
images and 1000-bin spectra, drawn once (16 variants each) so generating data
costs nothing per frame.

All layers of a publisher are published together at every multiple of
``1/rate`` s since the epoch (several publishers therefore burst together). For
each frame it appends one JSON line to ``--stats`` (layer, ``frame_seq``,
``computed_at``, compute, encode and publish times), so the harness reads them
while it runs. It stops at the deadline, on SIGTERM or on SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from pathlib import Path
from types import FrameType

import numpy as np
import scipp as sc

from livegrid.codec import encode_frame
from livegrid.keyspace import Keyspace
from livegrid.lifecycle import LayerState, Lifecycle
from livegrid.models import Layer
from livegrid.redis_client import connect
from livegrid.stores.config import ConfigStore
from livegrid.stores.layers import FrameTimes, LayerStore, WriteStatus
from livegrid.stores.leases import Leases
from worker.plotters import compute_frame

VARIANTS = 16
LEASE_TTL_MS = 600_000


def image_inputs(n: int, seed: int) -> list[sc.DataArray]:
    """``VARIANTS`` n x n count images: a Gaussian blob moving on a circle, Poisson noise."""
    rng = np.random.default_rng(seed)
    centres = np.arange(n) - (n - 1) / 2
    coord = sc.array(dims=["x"], values=centres, unit="mm")
    out = []
    for k in range(VARIANTS):
        angle = 2 * np.pi * k / VARIANTS
        cx, cy = 0.3 * n * np.cos(angle), 0.3 * n * np.sin(angle)
        gx = np.exp(-((centres - cx) ** 2) / (2 * (0.08 * n) ** 2))
        gy = np.exp(-((centres - cy) ** 2) / (2 * (0.08 * n) ** 2))
        counts = rng.poisson(0.5 + 40 * np.outer(gy, gx)).astype(np.float64)
        out.append(
            sc.DataArray(
                sc.array(dims=["y", "x"], values=counts, unit="counts"),
                coords={"y": coord.rename_dims(x="y"), "x": coord},
                name="bench image",
            )
        )
    return out


def lines_inputs(n: int, seed: int) -> list[sc.DataArray]:
    """``VARIANTS`` spectra of ``n`` bins (``n + 1`` bin edges), Poisson noise."""
    rng = np.random.default_rng(seed)
    edges = sc.linspace("tof", 0.0, 71_000.0, n + 1, unit="us")
    tof = sc.midpoints(edges).values
    out = []
    for k in range(VARIANTS):
        peak = 20_000.0 * (1 + 0.1 * np.sin(2 * np.pi * k / VARIANTS))
        shape = (tof / peak) ** 2 * np.exp(1 - (tof / peak) ** 2)
        counts = rng.poisson(1.0 + 500.0 * shape).astype(np.float64)
        out.append(
            sc.DataArray(
                sc.array(dims=["tof"], values=counts, unit="counts"),
                coords={"tof": edges},
                name="bench spectrum",
            )
        )
    return out


class Publisher:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        client = connect(args.redis_url)
        self.keys = Keyspace(args.namespace)
        self.store = LayerStore(client, self.keys, frames_maxlen=args.frames_maxlen)
        self.leases = Leases(client, self.keys, ttl_ms=LEASE_TTL_MS)
        workspace = ConfigStore(client, self.keys).read().workspace
        layers = [layer for _, _, layer in workspace.layers() if not layer.is_static]
        self.layers = [layer for i, layer in enumerate(layers) if i % args.count == args.index]
        self.stop = threading.Event()
        self.stats = args.stats.open("a", buffering=1)
        self.inputs = {
            "image": image_inputs(args.image_size, seed=args.index),
            "lines": lines_inputs(args.lines_points, seed=args.index + 100),
        }

    def run(self) -> None:
        worker_id = f"bench-publisher-{self.args.index}"
        leases = {}
        versions = {}
        for layer in self.layers:
            assert layer.job is not None
            lease = self.leases.acquire(layer.job, worker_id)
            if lease is None:
                raise RuntimeError(f"job {layer.job} is leased by someone else")
            leases[layer.id] = lease
            current = self.store.snapshot(layer.id).lifecycle.version
            result = self.store.write(
                layer.id, job=layer.job, token=lease.token, expected_version=current,
                lifecycle=Lifecycle(LayerState.READY, current + 1),
            )  # fmt: skip
            versions[layer.id] = result.version
        period_ns = round(1e9 / self.args.rate)
        deadline = time.monotonic() + self.args.duration
        next_renew = time.monotonic() + LEASE_TTL_MS / 3000
        k = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            due = (time.time_ns() // period_ns + 1) * period_ns
            if self.stop.wait(max(due - time.time_ns(), 0) / 1e9):
                break
            for layer in self.layers:
                self._publish(layer, leases[layer.id].token, versions[layer.id], k)
            k += 1
            if time.monotonic() > next_renew:
                for lease in leases.values():
                    self.leases.renew(lease)
                next_renew = time.monotonic() + LEASE_TTL_MS / 3000

    def _publish(self, layer: Layer, token: int, version: int, k: int) -> None:
        layer_id, job, plotter = layer.id, str(layer.job), layer.plotter
        data = self.inputs[plotter][k % VARIANTS]
        t0 = time.perf_counter()
        computed_at = time.time_ns()
        frame = compute_frame(
            plotter, data, {}, display_max=self.args.display_max, now_ns=computed_at,
            data_start=computed_at - 10**9, data_end=computed_at,
        )  # fmt: skip
        t1 = time.perf_counter()
        payload = encode_frame(frame)
        t2 = time.perf_counter()
        result = self.store.write(
            layer_id, job=job, token=token, expected_version=version,
            lifecycle=Lifecycle(LayerState.READY, version), frame=payload,
            times=FrameTimes(computed_at - 10**9, computed_at, computed_at),
        )  # fmt: skip
        t3 = time.perf_counter()
        if result.status is not WriteStatus.ACCEPTED:
            raise RuntimeError(f"write of {layer_id} was {result.status}")
        shape = "x".join(str(n) for n in frame.arrays["values"].shape)
        record = {
            "layer": layer_id,
            "frame_seq": result.frame_seq,
            "computed_at": computed_at,
            "written_ns": time.time_ns(),
            "compute_ms": (t1 - t0) * 1e3,
            "encode_ms": (t2 - t1) * 1e3,
            "publish_ms": (t3 - t2) * 1e3,
            "bytes": len(payload),
            "plotter": plotter,
            "shape": shape,
        }
        self.stats.write(json.dumps(record) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--rate", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=900.0)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--lines-points", type=int, default=1000)
    parser.add_argument("--display-max", type=int, default=512)
    parser.add_argument("--frames-maxlen", type=int, default=10_000)
    parser.add_argument("--stats", type=Path, required=True)
    args = parser.parse_args()
    publisher = Publisher(args)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        publisher.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"publishing {[layer.id for layer in publisher.layers]}", flush=True)
    try:
        publisher.run()
    finally:
        publisher.stats.close()


if __name__ == "__main__":
    main()
