"""A layer's further inputs (ADR 0014): the runner hands the job's other outputs to the
plotter, and a missing input errs that layer only. Real Redis, real runner."""

from __future__ import annotations

import numpy as np
import redis
import scipp as sc
from integration_runner import ScriptedSource, scripted_runner

from livegrid.codec import decode_frame
from livegrid.keyspace import Keyspace
from livegrid.lifecycle import LayerState
from livegrid.stores.layers import LayerStore
from worker.bindings import Binding
from worker.runner import JobRunner
from worker.sources.base import Message


def _series(values: list[float], t: int) -> Message:
    data = sc.DataArray(sc.array(dims=["i"], values=np.asarray(values), unit="counts"))
    data.name = "counts"
    return Message(source="scripted", data=data, start_ns=t, end_ns=t + 1)


BINDINGS = {
    "hist": Binding(
        "hist", "cumulative", "correlation_histogram_1d", "Hist", {"bins": 2}, ("latest",)
    ),
    "broken": Binding("broken", "cumulative", "correlation_histogram_1d", "Broken", {}, ("nope",)),
    "sum": Binding("sum", "cumulative", "lines", "Sum"),
}


def _runner(r: redis.Redis, keys: Keyspace, source: ScriptedSource) -> tuple[JobRunner, LayerStore]:
    return scripted_runner(r, keys, source, workflow="cumulative", bindings=BINDINGS)


def test_a_correlation_layer_bins_one_output_against_another(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    source = ScriptedSource()
    runner, layers = _runner(r, keyspace, source)
    source.pending = [_series([1, 2, 3, 4], 1), _series([0, 0, 10, 10], 2)]
    runner.step(set(BINDINGS))

    snapshot, payload = layers.fetch(["hist"])["hist"]
    assert snapshot.lifecycle.state is LayerState.READY
    assert payload is not None
    # cumulative [1, 2, 13, 14] binned by latest [0, 0, 10, 10]
    assert decode_frame(payload).arrays["values"].tolist() == [3.0, 27.0]


def test_an_input_the_job_does_not_offer_errs_that_layer_only(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    source = ScriptedSource()
    runner, layers = _runner(r, keyspace, source)
    source.pending = [_series([1, 2], 1)]
    runner.step(set(BINDINGS))

    broken = layers.snapshot("broken").lifecycle
    assert broken.state is LayerState.ERROR
    assert broken.error is not None
    assert "bins its data against 1 other series" in broken.error
    assert layers.snapshot("hist").lifecycle.state is LayerState.READY
    assert layers.snapshot("sum").lifecycle.state is LayerState.READY
