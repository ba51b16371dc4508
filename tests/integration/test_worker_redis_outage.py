"""A worker rides out a Redis restart (its own private, persistent Redis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from livegrid.keyspace import Keyspace
from livegrid.lifecycle import LayerState
from livegrid.models import Grid, JobSpec, Layer, Workspace
from livegrid.redis_client import connect
from livegrid.redis_server import RedisServerProcess
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore
from livegrid.stores.viewers import Viewers


def test_worker_resumes_publishing_after_redis_restarts(
    own_redis: RedisServerProcess,
    keyspace: Keyspace,
    spawn_worker: Callable[..., Any],
    wait_for: Any,
) -> None:
    client = connect(own_redis.url)
    layer = Layer(id="L", job="mon", output="latest", plotter="lines")
    grid = Grid(id="g", title="G", rows=1, cols=1, cells=[])
    ConfigStore(client, keyspace).write(
        Workspace().with_grid(grid).with_layer("g", 0, 0, layer), expected_version=0
    )
    JobStore(client, keyspace).start(JobSpec(id="mon", workflow="latest", source="monitor_1"))
    Viewers(client, keyspace, ttl_s=600).mark("replica", ["L"])
    worker = spawn_worker("w1", url=own_redis.url)
    store = LayerStore(client, keyspace, frames_maxlen=1000)
    wait_for(lambda: store.snapshot("L").frame_seq >= 1, 20, "first frame")

    own_redis.stop(kill=True)
    own_redis.start()
    before = store.snapshot("L").frame_seq

    wait_for(lambda: store.snapshot("L").frame_seq >= before + 2, 20, "frames after the restart")
    assert store.snapshot("L").lifecycle.state is LayerState.READY
    assert worker.process.poll() is None
    client.close()
