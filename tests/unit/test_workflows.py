"""Workflows: what each output holds after a sequence of messages."""

from __future__ import annotations

import numpy as np
import pytest
import scipp as sc

from worker.sources.base import Message
from worker.workflows import WORKFLOWS, WorkflowError, make_workflow

S = 10**9  # one second in ns


def spectrum(
    values: list[float], *, unit: str = "counts", edges: list[float] | None = None
) -> sc.DataArray:
    n = len(values)
    tof = sc.array(dims=["tof"], values=edges or list(range(n + 1)), unit="us")
    return sc.DataArray(
        sc.array(dims=["tof"], values=values, unit=unit), coords={"tof": tof}, name="monitor_1"
    )


def message(data: sc.DataArray, second: int) -> Message:
    """The message of data time ``[second, second + 1)`` s."""
    return Message("monitor_1", data, second * S, (second + 1) * S)


def reading(value: float, second: int, unit: str = "K") -> Message:
    data = sc.DataArray(
        sc.scalar(value, unit=unit),
        coords={"time": sc.datetime((second + 1) * S, unit="ns")},
        name="temperature",
    )
    return message(data, second)


# --- registry ---


def test_every_workflow_offers_the_outputs_it_declares() -> None:
    for name, spec in WORKFLOWS.items():
        workflow = make_workflow(name, {})
        data = reading(1.0, 0) if spec.input_ndim == 0 else message(spectrum([1.0]), 0)
        workflow.push(data)
        assert set(workflow.outputs()) == set(spec.outputs), name


def test_no_outputs_before_the_first_message() -> None:
    for name in WORKFLOWS:
        workflow = make_workflow(name, {})
        assert workflow.outputs() == {}
        assert workflow.time_range(WORKFLOWS[name].outputs[0]) is None


def test_unknown_workflow_is_rejected_with_the_valid_names() -> None:
    with pytest.raises(ValueError, match=r"no workflow 'average'.*latest, cumulative"):
        make_workflow("average", {})


@pytest.mark.parametrize(
    ("name", "params", "problem"),
    [
        ("window", {"seconds": 0}, "seconds: Input should be greater than 0"),
        ("window", {"seconds": float("inf")}, "seconds"),
        ("window", {"seconds": "10"}, "seconds"),
        ("history", {"max_points": 10**9}, "max_points"),
        ("latest", {"seconds": 3}, "seconds: Extra inputs are not permitted"),
    ],
)
def test_invalid_params_are_rejected_with_a_readable_message(
    name: str, params: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValueError, match=f"The {name} workflow has invalid parameters") as info:
        make_workflow(name, params)
    assert problem in str(info.value)


def test_history_outputs_are_one_dimensional_whatever_the_input() -> None:
    assert WORKFLOWS["history"].input_ndim == 0
    assert WORKFLOWS["history"].output_ndim == 1
    assert WORKFLOWS["cumulative"].output_ndim is None


# --- latest ---


def test_latest_holds_the_last_message_and_its_time_range() -> None:
    workflow = make_workflow("latest", {})
    workflow.push(message(spectrum([1.0, 2.0]), 0))
    workflow.push(message(spectrum([3.0, 4.0]), 1))
    assert sc.identical(workflow.outputs()["latest"], spectrum([3.0, 4.0]))
    assert workflow.time_range("latest") == (1 * S, 2 * S)


def test_latest_accepts_a_change_of_shape() -> None:
    workflow = make_workflow("latest", {})
    workflow.push(message(spectrum([1.0, 2.0]), 0))
    workflow.push(message(spectrum([1.0, 2.0, 3.0]), 1))
    assert workflow.outputs()["latest"].sizes == {"tof": 3}


# --- cumulative ---


def test_cumulative_sums_every_message() -> None:
    workflow = make_workflow("cumulative", {})
    for second in range(3):
        workflow.push(message(spectrum([1.0, float(second)]), second))
    total = workflow.outputs()["cumulative"]
    assert np.array_equal(total.values, [3.0, 3.0])
    assert total.unit == sc.units.counts
    assert sc.identical(total.coords["tof"], spectrum([0.0, 0.0]).coords["tof"])


def test_cumulative_also_offers_the_latest_message() -> None:
    workflow = make_workflow("cumulative", {})
    workflow.push(message(spectrum([1.0]), 0))
    workflow.push(message(spectrum([5.0]), 1))
    assert workflow.outputs()["latest"].values.tolist() == [5.0]
    assert workflow.time_range("latest") == (1 * S, 2 * S)


def test_cumulative_time_range_runs_from_the_first_to_the_last_message() -> None:
    workflow = make_workflow("cumulative", {})
    for second in (4, 5, 6):
        workflow.push(message(spectrum([1.0]), second))
    assert workflow.time_range("cumulative") == (4 * S, 7 * S)


def test_cumulative_sums_integer_counts_as_floats() -> None:
    workflow = make_workflow("cumulative", {})
    counts = sc.DataArray(sc.array(dims=["x"], values=[1, 2], unit="counts"))
    workflow.push(message(counts, 0))
    workflow.push(message(counts, 1))
    total = workflow.outputs()["cumulative"]
    assert total.dtype == sc.DType.float64
    assert total.values.tolist() == [2.0, 4.0]


def test_reset_clears_the_sum() -> None:
    workflow = make_workflow("cumulative", {})
    workflow.push(message(spectrum([10.0]), 0))
    workflow.reset()
    assert workflow.outputs() == {}
    workflow.push(message(spectrum([1.0]), 5))
    assert workflow.outputs()["cumulative"].values.tolist() == [1.0]
    assert workflow.time_range("cumulative") == (5 * S, 6 * S)


def test_reset_allows_a_new_shape() -> None:
    workflow = make_workflow("cumulative", {})
    workflow.push(message(spectrum([1.0]), 0))
    workflow.reset()
    workflow.push(message(spectrum([1.0, 1.0]), 1))
    assert workflow.outputs()["cumulative"].sizes == {"tof": 2}


def test_cumulative_rejects_a_change_of_shape_and_keeps_its_sum() -> None:
    workflow = make_workflow("cumulative", {})
    workflow.push(message(spectrum([1.0, 1.0]), 0))
    with pytest.raises(WorkflowError, match=r"'monitor_1' changed shape .*tof: 2.*tof: 3.*reset"):
        workflow.push(message(spectrum([1.0, 1.0, 1.0]), 1))
    assert workflow.outputs()["cumulative"].values.tolist() == [1.0, 1.0]


def test_cumulative_rejects_a_change_of_unit() -> None:
    workflow = make_workflow("cumulative", {})
    workflow.push(message(spectrum([1.0]), 0))
    with pytest.raises(WorkflowError, match="changed unit"):
        workflow.push(message(spectrum([1.0], unit="m"), 1))


def test_cumulative_rejects_a_change_of_coordinate() -> None:
    workflow = make_workflow("cumulative", {})
    workflow.push(message(spectrum([1.0], edges=[0.0, 1.0]), 0))
    with pytest.raises(WorkflowError, match="changed its 'tof' coordinate"):
        workflow.push(message(spectrum([1.0], edges=[0.0, 2.0]), 1))


def test_cumulative_sums_values_and_drops_variances() -> None:
    workflow = make_workflow("cumulative", {})
    data = spectrum([2.0])
    data.variances = np.array([2.0])
    workflow.push(message(data, 0))
    workflow.push(message(spectrum([1.0]), 1))
    total = workflow.outputs()["cumulative"]
    assert total.values.tolist() == [3.0]
    assert total.variances is None


def test_cumulative_rejects_values_that_cannot_be_summed() -> None:
    workflow = make_workflow("cumulative", {})
    workflow.push(message(spectrum([1.0]), 0))
    words = sc.DataArray(sc.array(dims=["tof"], values=["a"]), name="monitor_1")
    with pytest.raises(WorkflowError, match="'monitor_1' delivers string values"):
        workflow.push(message(words, 1))


def test_cumulative_of_scalars_ignores_their_differing_time_stamps() -> None:
    workflow = make_workflow("cumulative", {})
    workflow.push(reading(1.0, 0))
    workflow.push(reading(2.0, 1))
    assert workflow.outputs()["cumulative"].value == 3.0


def test_outputs_are_snapshots_that_later_messages_do_not_change() -> None:
    workflow = make_workflow("cumulative", {})
    workflow.push(message(spectrum([1.0]), 0))
    before = workflow.outputs()["cumulative"]
    workflow.push(message(spectrum([1.0]), 1))
    assert before.values.tolist() == [1.0]


def test_sums_take_the_masks_of_the_newest_message() -> None:
    workflow = make_workflow("cumulative", {})
    masked = spectrum([1.0, 1.0])
    masked.masks["dead"] = sc.array(dims=["tof"], values=[False, True])
    workflow.push(message(spectrum([1.0, 1.0]), 0))
    workflow.push(message(masked, 1))
    assert workflow.outputs()["cumulative"].masks["dead"].values.tolist() == [False, True]


# --- window ---


def test_window_sums_only_the_messages_of_the_last_seconds() -> None:
    workflow = make_workflow("window", {"seconds": 3})
    for second in range(10):
        workflow.push(message(spectrum([float(second)]), second))
    assert workflow.outputs()["window"].values.tolist() == [7.0 + 8.0 + 9.0]
    assert workflow.time_range("window") == (7 * S, 10 * S)


def test_window_defaults_to_ten_seconds() -> None:
    workflow = make_workflow("window", {})
    for second in range(30):
        workflow.push(message(spectrum([1.0]), second))
    assert workflow.outputs()["window"].values.tolist() == [10.0]


def test_window_ignores_a_message_older_than_the_whole_window() -> None:
    workflow = make_workflow("window", {"seconds": 2})
    workflow.push(message(spectrum([1.0]), 10))
    workflow.push(message(spectrum([100.0]), 3))
    assert workflow.outputs()["window"].values.tolist() == [1.0]


def test_window_at_a_high_rate_stays_close_to_its_width() -> None:
    workflow = make_workflow("window", {"seconds": 1})
    per_message = S // 100
    for k in range(1000):  # 10 s at 100 Hz
        data = spectrum([1.0])
        workflow.push(Message("m", data, k * per_message, (k + 1) * per_message))
    assert 98 <= workflow.outputs()["window"].values[0] <= 102


def test_window_rejects_a_change_of_shape() -> None:
    workflow = make_workflow("window", {})
    workflow.push(message(spectrum([1.0]), 0))
    with pytest.raises(WorkflowError, match="changed shape"):
        workflow.push(message(spectrum([1.0, 2.0]), 1))


def test_window_reset_clears_it() -> None:
    workflow = make_workflow("window", {})
    workflow.push(message(spectrum([1.0]), 0))
    workflow.reset()
    assert workflow.outputs() == {}
    assert workflow.time_range("window") is None


# --- history ---


def test_history_is_the_values_along_time_in_order() -> None:
    workflow = make_workflow("history", {})
    for second, value in enumerate([290.0, 291.0, 292.5]):
        workflow.push(reading(value, second))
    history = workflow.outputs()["history"]
    assert history.dims == ("time",)
    assert history.unit == sc.Unit("K")
    assert history.values.tolist() == [290.0, 291.0, 292.5]
    times = history.coords["time"].values
    assert times.dtype == np.dtype("datetime64[ns]")
    assert times.astype(np.int64).tolist() == [1 * S, 2 * S, 3 * S]
    assert history.name == "temperature"


def test_history_keeps_only_the_newest_max_points() -> None:
    workflow = make_workflow("history", {"max_points": 5})
    for second in range(12):
        workflow.push(reading(float(second), second))
    history = workflow.outputs()["history"]
    assert history.values.tolist() == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert workflow.time_range("history") == (8 * S, 12 * S)


def test_history_time_is_the_message_end_without_a_time_coordinate() -> None:
    workflow = make_workflow("history", {})
    workflow.push(message(sc.DataArray(sc.scalar(1.0, unit="K")), 3))
    assert workflow.outputs()["history"].coords["time"].values.astype(np.int64).tolist() == [4 * S]


def test_history_reset_starts_a_new_history() -> None:
    workflow = make_workflow("history", {})
    workflow.push(reading(1.0, 0))
    workflow.reset()
    workflow.push(reading(2.0, 1, unit="mbar"))
    assert workflow.outputs()["history"].values.tolist() == [2.0]


def test_history_rejects_data_that_is_not_a_single_value() -> None:
    workflow = make_workflow("history", {})
    with pytest.raises(WorkflowError, match=r"records single values.*1-D \(tof: 2\)"):
        workflow.push(message(spectrum([1.0, 2.0]), 0))


def test_history_rejects_a_change_of_unit() -> None:
    workflow = make_workflow("history", {})
    workflow.push(reading(1.0, 0))
    with pytest.raises(WorkflowError, match="'temperature' changed unit"):
        workflow.push(reading(1.0, 1, unit="mbar"))
