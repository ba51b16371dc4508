"""The feed takes the frames a worker writes together as one batch (one wake per session)."""

from __future__ import annotations

import time

import numpy as np
from integration_workspaces import one_row

from app.feed import Feed
from app.metrics import ReplicaMetrics
from livegrid.codec import Frame, FrameKind, encode_frame
from livegrid.lifecycle import Lifecycle, Transition
from livegrid.models import JobSpec, Layer, Workspace
from livegrid.redis_client import connect
from livegrid.stores.layers import FrameTimes, LayerStore
from livegrid.stores.leases import Leases
from livegrid.workspace_cli import load_workspace

LAYERS = ("l0", "l1", "l2")


def _workspace() -> Workspace:
    return one_row(
        *([Layer(id=lid, job=lid, output="o", plotter="lines")] for lid in LAYERS),
        jobs=[JobSpec(id=lid, workflow="latest", source="monitor_1") for lid in LAYERS],
        grid_id="g",
    )


def _frame(value: float) -> bytes:
    return encode_frame(
        Frame(
            kind=FrameKind.LINES,
            labels={"x": "x", "values": "y"},
            arrays={"x": np.arange(4.0), "values": np.full(4, value)},
            attrs={"log": False},
        )
    )


def test_frames_written_a_few_ms_apart_wake_a_session_once(r, keyspace, redis_url, wait_for):
    load_workspace(r, keyspace, _workspace(), user="test", start_jobs=False)
    store = LayerStore(r, keyspace, frames_maxlen=1000)
    leases = Leases(r, keyspace, ttl_ms=60_000)
    started = Lifecycle.added().apply(Transition.JOB_STARTED)[0]
    ready = started.apply(Transition.DATA_ARRIVED)[0]
    tokens = {}
    for lid in LAYERS:
        lease = leases.acquire(lid, "w")
        assert lease is not None
        tokens[lid] = lease.token
        store.write(lid, job=lid, token=lease.token, expected_version=0, lifecycle=started)

    feed = Feed(
        connect(redis_url),
        keyspace,
        url=redis_url,
        replica_id="t",
        ring=50,
        frames_maxlen=1000,
        metrics=ReplicaMetrics(),
        gather_s=0.2,
    )
    wakes: list[dict[str, int]] = []

    def wake() -> None:
        wakes.append({lid: v.frame_seq for lid, v in feed.view.layers.items()})

    feed.subscribe("s", wake, ["g"])
    feed.show("s", ["g"], LAYERS)
    feed.start()
    try:
        wait_for(lambda: feed.view.connected and set(LAYERS) <= set(feed.view.layers), 10, "feed")
        time.sleep(0.5)  # the feed is idle in its blocking read
        wakes.clear()
        now = time.time_ns()
        for index, lid in enumerate(LAYERS):
            store.write(
                lid, job=lid, token=tokens[lid], expected_version=started.version,
                lifecycle=ready, frame=_frame(index), times=FrameTimes(now, now, now),
            )  # fmt: skip
            time.sleep(0.01)
        wait_for(lambda: wakes and all(wakes[-1].get(lid) == 1 for lid in LAYERS), 10, "frames")
        time.sleep(0.3)
        assert wakes == [dict.fromkeys(LAYERS, 1)]
    finally:
        feed.stop()
