"""Checkpoint state: workflows and the synthetic source continue bit for bit after a restore."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import scipp as sc

from worker.sources.base import Message, Resumable
from worker.sources.synthetic import MAX_BATCH, SyntheticInstrument
from worker.state_codec import MAGIC, CheckpointDecodeError, State, decode, encode
from worker.workflows import Workflow, make_workflow

T0 = 1_700_000_000 * 10**9
PERIOD = 10**8  # 10 Hz


def _stream(source: str, first: int, count: int) -> list[Message]:
    synthetic = SyntheticInstrument({source: 10.0}, seed=7).source(source)
    return [synthetic.message(k) for k in range(first, first + count)]


def _outputs_equal(a: Workflow, b: Workflow) -> None:
    left, right = a.outputs(), b.outputs()
    assert sorted(left) == sorted(right)
    for name, data in left.items():
        other = right[name]
        assert np.array_equal(data.values, other.values), name
        assert data.unit == other.unit
        assert data.name == other.name
        assert sorted(data.coords) == sorted(other.coords)
        for coord in data.coords:
            assert sc.identical(data.coords[coord], other.coords[coord])
        assert a.time_range(name) == b.time_range(name)


@pytest.mark.parametrize(
    ("workflow", "params", "source"),
    [
        ("cumulative", {}, "detector_panel_0"),
        ("cumulative", {}, "monitor_1"),
        ("window", {"seconds": 1.0}, "detector_panel_1"),
        ("history", {"max_points": 16}, "temperature"),
        ("latest", {}, "detector_cube"),
        ("latest", {}, "temperature"),
        ("cumulative", {}, "temperature"),
    ],
)
def test_a_restored_workflow_continues_exactly_like_the_uninterrupted_one(
    workflow: str, params: dict[str, float], source: str
) -> None:
    messages = _stream(source, 17_000_000_000, 40)
    reference = make_workflow(workflow, params)
    moved = make_workflow(workflow, params)
    for message in messages[:25]:
        reference.push(message)
        moved.push(message)
    restored = make_workflow(workflow, params)
    restored.restore(decode(encode(moved.snapshot())))
    _outputs_equal(reference, restored)
    for message in messages[25:]:
        reference.push(message)
        restored.push(message)
    _outputs_equal(reference, restored)


def test_an_empty_workflow_restores_empty() -> None:
    for name in ("latest", "cumulative", "window", "history"):
        restored = make_workflow(name)
        restored.restore(decode(encode(make_workflow(name).snapshot())))
        assert restored.outputs() == {}


def test_a_history_of_another_size_is_refused() -> None:
    small = make_workflow("history", {"max_points": 4})
    small.push(_stream("temperature", 1, 1)[0])
    with pytest.raises(ValueError, match="another number of points"):
        make_workflow("history", {"max_points": 8}).restore(decode(encode(small.snapshot())))


def test_variances_and_datetime_coords_survive() -> None:
    data = sc.DataArray(
        sc.array(dims=["t"], values=[1.0, 2.0], variances=[0.5, 0.25], unit="counts"),
        coords={"t": sc.datetimes(dims=["t"], values=[5, 6], unit="ns")},
        masks={"bad": sc.array(dims=["t"], values=[False, True])},
        name="x",
    )
    state = State()
    state.put_data("d", data)
    assert sc.identical(decode(encode(state)).get_data("d"), data)


@pytest.mark.parametrize(
    ("blob", "problem"),
    [
        (b"not zlib at all", "does not decompress"),
        (zlib.compress(b"XXXX" + b"\0" * 12), "not in livegrid's checkpoint format"),
        (zlib.compress(MAGIC + (5).to_bytes(4, "big") + b"{nope"), "malformed"),
        (
            zlib.compress(MAGIC + (12).to_bytes(4, "big") + b'{"schema":0}'),
            "schema 0, this worker reads 1",
        ),
    ],
)
def test_a_corrupt_or_older_checkpoint_raises_a_sentence(blob: bytes, problem: str) -> None:
    with pytest.raises(CheckpointDecodeError, match=problem):
        decode(blob)


def test_a_truncated_checkpoint_is_detected() -> None:
    workflow = make_workflow("cumulative")
    workflow.push(_stream("monitor_1", 3, 1)[0])
    raw = zlib.decompress(encode(workflow.snapshot()))
    with pytest.raises(CheckpointDecodeError, match="truncated"):
        decode(zlib.compress(raw[:-100]))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def test_the_synthetic_source_resumes_after_its_position_and_skips_nothing() -> None:
    clock = Clock()
    instrument = SyntheticInstrument({"monitor_1": 10.0}, seed=7, clock=clock)
    first = instrument.source("monitor_1")
    clock.now += 5 * PERIOD
    delivered = first.poll(clock.now)
    assert isinstance(first, Resumable)
    position = first.position()
    assert position == {"first": T0 // PERIOD, "next": T0 // PERIOD + 5}

    clock.now += 3 * MAX_BATCH * PERIOD  # a long outage: more than a batch is due
    second = instrument.source("monitor_1")
    assert second.resume(position) == "resumed at message 5"
    caught_up = []
    while batch := second.poll(clock.now):
        assert len(batch) <= MAX_BATCH
        caught_up += batch
    indices = [m.start_ns // PERIOD for m in delivered + caught_up]
    assert indices == list(range(T0 // PERIOD, clock.now // PERIOD))
    assert second.take_skipped() == 0
    assert second.position()["first"] == T0 // PERIOD


def test_a_foreign_position_is_refused() -> None:
    source = SyntheticInstrument().source("monitor_1")
    with pytest.raises(KeyError):
        source.resume({"offsets": {"0": 4}})
    with pytest.raises(ValueError, match="not a synthetic one"):
        source.resume({"first": 9, "next": 3})
