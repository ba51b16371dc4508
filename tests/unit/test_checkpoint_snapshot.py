"""A checkpoint snapshot is detached from the workflow: later pushes do not change it."""

from __future__ import annotations

import numpy as np
import pytest

from worker.checkpoint_writer import detach
from worker.sources.base import Message
from worker.sources.synthetic import SyntheticInstrument
from worker.state_codec import decode, encode
from worker.workflows import make_workflow


def _stream(source: str, first: int, count: int) -> list[Message]:
    synthetic = SyntheticInstrument({source: 10.0}, seed=11).source(source)
    return [synthetic.message(k) for k in range(first, first + count)]


@pytest.mark.parametrize(
    ("workflow", "params", "source"),
    [
        ("cumulative", {}, "detector_panel_0"),
        ("window", {"seconds": 1.0}, "detector_panel_1"),
        ("history", {"max_points": 16}, "temperature"),
        ("latest", {}, "monitor_1"),
    ],
)
def test_a_detached_snapshot_keeps_the_state_of_its_moment(
    workflow: str, params: dict[str, float], source: str
) -> None:
    messages = _stream(source, 17_000_000_000, 12)
    live = make_workflow(workflow, params)
    for message in messages[:6]:
        live.push(message)
    state, position = detach(live.snapshot(), {"next": 6, "offsets": {"0": 5}})
    expected = encode(live.snapshot())  # what the state was at the snapshot
    for message in messages[6:]:
        live.push(message)  # sums and ring buffers are updated in place

    assert encode(state) == expected
    assert position == {"next": 6, "offsets": {"0": 5}}
    for name, array in state.arrays.items():
        assert np.array_equal(array, decode(expected).arrays[name])


def test_only_arrays_declared_shared_are_kept_without_a_copy() -> None:
    cumulative = make_workflow("cumulative")
    message = _stream("detector_panel_0", 17_000_000_000, 1)[0]
    cumulative.push(message)
    snapshot = cumulative.snapshot()
    assert snapshot.shared == {"latest.data"} | {
        key for key in snapshot.arrays if key.startswith("latest.")
    }
    state, _ = detach(snapshot, {})
    for name, array in state.arrays.items():
        if name in snapshot.shared:
            assert array is snapshot.arrays[name]  # the message's own data, never changed
        else:
            assert not np.shares_memory(array, snapshot.arrays[name]), name


def test_free_buffers_of_the_same_shape_are_reused_and_others_are_not() -> None:
    history = make_workflow("history", {"max_points": 16})
    for message in _stream("temperature", 17_000_000_000, 5):
        history.push(message)
    first, _ = detach(history.snapshot(), {})
    spare = {**first.arrays, "values": np.zeros(3)}  # a buffer of another shape
    history.push(_stream("temperature", 17_000_000_005, 1)[0])
    second, _ = detach(history.snapshot(), {}, reuse=spare)
    assert second.arrays["times"] is first.arrays["times"]  # copied into the free buffer
    assert second.arrays["values"] is not spare["values"]
    assert encode(second) == encode(history.snapshot())
