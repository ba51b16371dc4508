"""Baseline replica for the benchmark: the same grid, presented through per-session ``Pipe.send``.

Usage (started by ``benchmarks/load.py``)::

    LIVEGRID_REDIS_URL=... LIVEGRID_NAMESPACE=... .venv/bin/python benchmarks/baseline_app.py \
        --port PORT --grid bench

This is the design livegrid replaced (docs/adr/0007), kept here to measure the
replica against it in the same run with the same clients. Like the replica it
has one feed thread that reads each new frame of the grid once from Redis,
decodes and prepares it once (``app.frames.view_of_frame``), and wakes every
session with a data-free ``doc.add_next_tick_callback``. Each session has one
``hv.streams.Pipe`` and one ``hv.DynamicMap`` per layer; its tick calls
``pipe.send(data)`` for every layer whose ``frame_seq`` moved, inside one
``pn.io.hold`` (no ``doc.models.freeze()``, which would only add to its cost).
The DynamicMap callback builds the element from the shared arrays (no copy, no
colour-limit computation: the frame's limits are passed as ``clim``).

It serves the replica's ``/metrics`` (same metric names: tick seconds,
frames fetched and delivered, flush latency), ``/debug/sessions`` and
``/debug/feed``, so ``load.py`` measures both the same way.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from types import FrameType
from typing import Any

import holoviews as hv
import panel as pn
import redis

from app.frames import view_of_frame
from app.http import routes
from app.metrics import ReplicaMetrics
from app.prepare import Prepared
from livegrid.codec import FrameKind
from livegrid.keyspace import Keyspace
from livegrid.redis_client import connect, text
from livegrid.stores.config import ConfigStore
from livegrid.stores.layers import LayerStore

hv.extension("bokeh")

HISTORY = 64


class BaselineFeed:
    """Reads each new frame of the grid's layers once; wakes the sessions."""

    def __init__(self, client: redis.Redis, keys: Keyspace, grid_id: str, metrics: ReplicaMetrics):
        self._redis = client
        self._keys = keys
        self._metrics = metrics
        self._store = LayerStore(client, keys, frames_maxlen=10_000)
        workspace = ConfigStore(client, keys).read().workspace
        grid = workspace.grid(grid_id)
        self.cells = [(cell, cell.layers[0]) for cell in grid.cells]
        self.layer_ids = {layer.id for _, layer in self.cells}
        self.frames: dict[str, tuple[int, Prepared]] = {}
        self.fetched: dict[str, deque[int]] = {}
        self._wakes: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="baseline-feed", daemon=True)

    def subscribe(self, session_id: str, wake: Callable[[], None]) -> None:
        with self._lock:
            self._wakes[session_id] = wake

    def unsubscribe(self, session_id: str) -> None:
        with self._lock:
            self._wakes.pop(session_id, None)

    def start(self) -> None:
        self._fetch(sorted(self.layer_ids))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        cursor = "$"
        while not self._stop.is_set():
            reply: Any = self._redis.xread({self._keys.frames: cursor}, count=1000, block=250)
            if not reply:
                continue
            entries = reply[0][1]
            cursor = text(entries[-1][0])
            touched = {text(f[b"layer"]) for _, f in entries} & self.layer_ids
            with self._lock:
                watched = bool(self._wakes)
            if touched and watched:
                self._fetch(sorted(touched))

    def _fetch(self, layer_ids: list[str]) -> None:
        fetched = self._store.fetch(layer_ids)
        frames = dict(self.frames)
        for lid, (snapshot, raw) in fetched.items():
            if raw is None or frames.get(lid, (0, None))[0] == snapshot.frame_seq:
                continue
            prepared = view_of_frame(snapshot, raw).prepared
            if prepared is None:
                continue
            self._metrics.frames_fetched.inc()
            frames[lid] = (snapshot.frame_seq, prepared)
            self.fetched.setdefault(lid, deque(maxlen=HISTORY)).append(snapshot.frame_seq)
        self.frames = frames
        with self._lock:
            wakes = list(self._wakes.values())
        for wake in wakes:
            wake()


def _pipe_data(prepared: Prepared) -> dict[str, Any]:
    """What the baseline sends down each session's pipe: the shared prepared arrays."""
    if prepared.kind == FrameKind.IMAGE:
        data = prepared.data
        x0, y0 = data["x"][0], data["y"][0]
        bounds = (x0, y0, x0 + data["dw"][0], y0 + data["dh"][0])
        return {"values": data["image"][0], "bounds": bounds, "clim": prepared.clim}
    return {"x": prepared.data["x"], "y": prepared.data["y"]}


def _image(data: dict[str, Any] | None) -> hv.Image:
    if data is None:
        return hv.Image([[0.0]], bounds=(0, 0, 1, 1))
    return hv.Image(data["values"], bounds=data["bounds"]).opts(clim=data["clim"])


def _curve(data: dict[str, Any] | None) -> hv.Curve:
    if data is None:
        return hv.Curve(([0.0, 1.0], [0.0, 0.0]))
    return hv.Curve((data["x"], data["y"]))


class BaselineSession:
    def __init__(self, session_id: str, feed: BaselineFeed, metrics: ReplicaMetrics) -> None:
        self.id = session_id
        doc = pn.state.curdoc
        assert doc is not None, "Panel builds a session inside its document"
        self._doc = doc
        self._feed = feed
        self._metrics = metrics
        self._pending = threading.Event()
        self._closed = False
        self._seqs: dict[str, int] = {}
        self.delivered: dict[str, deque[int]] = {}
        self._pipes: dict[str, hv.streams.Pipe] = {}
        self.panel = pn.GridSpec(sizing_mode="stretch_width", height=640)  # type: ignore[no-untyped-call]
        frames = feed.frames
        for cell, layer in feed.cells:
            first = frames.get(layer.id)
            data = _pipe_data(first[1]) if first else None
            if first:
                self._seqs[layer.id] = first[0]
            pipe = hv.streams.Pipe(data=data)
            self._pipes[layer.id] = pipe
            if layer.plotter == FrameKind.IMAGE:
                dmap = hv.DynamicMap(_image, streams=[pipe]).opts(
                    cmap="viridis", colorbar=True, tools=["hover"], responsive=True,
                    framewise=True, title=layer.title,
                )  # fmt: skip
            else:
                dmap = hv.DynamicMap(_curve, streams=[pipe]).opts(
                    tools=["hover"], responsive=True, framewise=True, title=layer.title
                )
            self.panel[cell.row, cell.col] = pn.pane.HoloViews(dmap, sizing_mode="stretch_both")  # type: ignore[no-untyped-call]

    def wake(self) -> None:
        if self._closed or self._pending.is_set():
            return
        self._pending.set()
        try:
            self._doc.add_next_tick_callback(self._tick)
        except Exception:  # the document is gone
            self._pending.clear()

    def _tick(self) -> None:
        self._pending.clear()
        if self._closed:
            return
        started = time.thread_time()
        frames = self._feed.frames
        now_ns = time.time_ns()
        with pn.io.hold(self._doc):
            for lid, pipe in self._pipes.items():
                current = frames.get(lid)
                if current is None or self._seqs.get(lid) == current[0]:
                    continue
                seq, prepared = current
                self._seqs[lid] = seq
                pipe.send(_pipe_data(prepared))
                self.delivered.setdefault(lid, deque(maxlen=HISTORY)).append(seq)
                self._metrics.frames_delivered.inc()
                if prepared.frame.computed_at:
                    self._metrics.flush_latency.observe(
                        max(now_ns - prepared.frame.computed_at, 0) / 1e9
                    )
        self._metrics.tick_seconds.observe(time.thread_time() - started)

    def close(self) -> None:
        self._closed = True
        self._feed.unsubscribe(self.id)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "frames": {k: list(v) for k, v in self.delivered.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--grid", default="bench")
    args = parser.parse_args()
    url = os.environ["LIVEGRID_REDIS_URL"]
    keys = Keyspace(os.environ.get("LIVEGRID_NAMESPACE", "livegrid"))
    metrics = ReplicaMetrics()
    feed = BaselineFeed(connect(url, blocking=True), keys, args.grid, metrics)
    sessions: dict[str, BaselineSession] = {}

    def create() -> pn.viewable.Viewable:
        doc = pn.state.curdoc
        assert doc is not None
        assert doc.session_context is not None
        session_id = doc.session_context.id
        session = BaselineSession(session_id, feed, metrics)
        sessions[session_id] = session
        metrics.sessions.set(len(sessions))
        feed.subscribe(session_id, session.wake)

        def destroyed(_ctx: Any) -> None:
            sessions.pop(session_id, None)
            metrics.sessions.set(len(sessions))
            session.close()

        pn.state.on_session_destroyed(destroyed)
        return session.panel

    feed.start()
    server = pn.serve(  # type: ignore[no-untyped-call]
        {"/": create},
        port=args.port,
        address="127.0.0.1",
        show=False,
        start=False,
        websocket_origin=[f"127.0.0.1:{args.port}"],
        extra_patterns=routes(
            registry=metrics.registry,
            problem=lambda: None,
            describe_sessions=lambda: [s.describe() for s in list(sessions.values())],
            describe_feed=lambda: {"fetched": {k: list(v) for k, v in feed.fetched.items()}},
        ),
    )

    def stop(_signum: int, _frame: FrameType | None) -> None:
        server.io_loop.add_callback_from_signal(server.io_loop.stop)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    print(f"baseline serving at http://127.0.0.1:{args.port}/", flush=True)
    try:
        server.io_loop.start()
    finally:
        feed.stop()
        server.stop()


if __name__ == "__main__":
    main()
