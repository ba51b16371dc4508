"""A job runner fed by a scripted source, writing to a real Redis."""

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


def _image(values: np.ndarray, t: int) -> Message:
    ny, nx = values.shape
    data = sc.DataArray(
        sc.array(dims=["y", "x"], values=values, unit="counts"),
        coords={
            "y": sc.arange("y", float(ny), unit="mm"),
            "x": sc.arange("x", float(nx), unit="mm"),
        },
    )
    return Message(source="scripted", data=data, start_ns=t, end_ns=t + 1)


def _runner(r: redis.Redis, keys: Keyspace, source: ScriptedSource) -> tuple[JobRunner, LayerStore]:
    return scripted_runner(
        r,
        keys,
        source,
        workflow="latest",
        bindings={"img": Binding("img", "latest", "image", "Image")},
    )


def test_nan_and_inf_do_not_stop_compute_and_colour_limits_stay_finite(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    source = ScriptedSource()
    runner, layers = _runner(r, keyspace, source)
    values = np.arange(16.0).reshape(4, 4)
    values[0, 0], values[1, 1], values[2, 2] = np.nan, np.inf, -np.inf
    source.pending = [_image(values, 1)]

    assert runner.step({"img"}) == 1

    snapshot, payload = layers.fetch(["img"])["img"]
    assert snapshot.lifecycle.state is LayerState.READY
    assert payload is not None
    low, high = decode_frame(payload).attrs["clim"]
    assert np.isfinite([low, high]).all()
    assert (low, high) == (1.0, 15.0)


def test_oversized_input_errs_the_job_layers_and_good_data_recovers(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    source = ScriptedSource()
    runner, layers = _runner(r, keyspace, source)
    source.pending = [_image(np.zeros((1024, 1024)), 1)]  # 8 MiB > 1 MiB limit
    runner.step({"img"})
    failed = layers.snapshot("img").lifecycle
    assert failed.state is LayerState.ERROR
    assert failed.error is not None and "MiB" in failed.error

    source.pending = [_image(np.ones((8, 8)), 2)]
    runner.step({"img"})
    assert layers.snapshot("img").lifecycle.state is LayerState.READY


def test_unviewed_layer_is_not_computed_until_someone_looks(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    source = ScriptedSource()
    runner, layers = _runner(r, keyspace, source)
    source.pending = [_image(np.ones((8, 8)), 1)]
    assert runner.step(set()) == 0
    assert layers.snapshot("img").frame_seq == 0
    assert runner.step({"img"}) == 1
    assert layers.snapshot("img").frame_seq == 1


def test_starting_a_job_bumps_each_layer_version_once(r: redis.Redis, keyspace: Keyspace) -> None:
    source = ScriptedSource()
    _runner(r, keyspace, source)
    started = LayerStore(r, keyspace, frames_maxlen=1000).snapshot("img").lifecycle
    assert (started.state, started.version) == (LayerState.WAITING_FOR_DATA, 2)
