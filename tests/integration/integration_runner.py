"""A job runner over a source that delivers exactly the messages a test gives it."""

from __future__ import annotations

from collections.abc import Mapping

import redis

from livegrid.keyspace import Keyspace
from livegrid.models import JobSpec
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore
from livegrid.stores.leases import Leases
from worker.bindings import Binding
from worker.metrics import WorkerMetrics
from worker.runner import JobRunner
from worker.sources.base import Message
from worker.workflows import make_workflow


class ScriptedSource:
    """Delivers the messages it is given, one batch per read."""

    name = "scripted"

    def __init__(self) -> None:
        self.pending: list[Message] = []

    def read(self, max_wait_s: float) -> list[Message]:
        out, self.pending = self.pending, []
        return out

    def close(self) -> None:
        self.pending = []


def scripted_runner(
    r: redis.Redis,
    keys: Keyspace,
    source: ScriptedSource,
    *,
    workflow: str,
    bindings: Mapping[str, Binding],
) -> tuple[JobRunner, LayerStore]:
    """A started runner of job ``job`` (``workflow`` over ``source``) holding its lease."""
    lease = Leases(r, keys, ttl_ms=10_000).acquire("job", "w")
    assert lease is not None
    layers = LayerStore(r, keys, frames_maxlen=1000)
    runner = JobRunner(
        lease=lease,
        spec=JobSpec(id="job", workflow=workflow, source="scripted"),
        source=source,
        workflow=make_workflow(workflow, {}),
        layers=layers,
        set_status=JobStore(r, keys).set_status,
        notify=lambda level, text: None,
        metrics=WorkerMetrics(),
        display_max=512,
        max_array_bytes=2**20,
    )
    runner.start(dict(bindings))
    return runner, layers
