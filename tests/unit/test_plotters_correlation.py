"""The correlation histograms: a time series summed in bins of one or two others."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import scipp as sc

from livegrid.codec import Frame, FrameKind, decode_frame, encode_frame
from worker.plotters import PlotterError, compute_frame

NOW = 1_700_000_000_000_000_000
S = 1_000_000_000


def series(
    values: Sequence[float],
    *,
    name: str,
    unit: str = "counts",
    start_s: float = 0.0,
    step_s: float = 1.0,
    timed: bool = True,
) -> sc.DataArray:
    data = sc.DataArray(sc.array(dims=["time"], values=np.asarray(values, float), unit=unit))
    data.name = name
    if timed:
        stamps = (start_s + step_s * np.arange(len(values))) * S
        data.coords["time"] = sc.array(
            dims=["time"], values=stamps.astype("int64"), unit="ns", dtype="datetime64"
        )
    return data


def hist(
    plotter: str,
    data: sc.DataArray,
    inputs: Sequence[sc.DataArray | None],
    params: dict[str, Any] | None = None,
) -> Frame:
    return compute_frame(
        f"correlation_histogram_{plotter}",
        data,
        params or {},
        display_max=512,
        now_ns=NOW,
        inputs=inputs,
    )


def test_1d_sums_the_data_in_bins_of_the_other_series() -> None:
    counts = series([1, 2, 3, 4], name="counts")
    temperature = series([10, 10, 20, 20], name="temperature", unit="K")
    frame = hist("1d", counts, [temperature], {"bins": 2})
    assert frame.kind is FrameKind.CORRELATION_1D
    assert frame.arrays["values"].tolist() == [3.0, 7.0]
    assert frame.arrays["x"].tolist() == [12.5, 17.5]
    assert frame.units == {"x": "K", "values": "counts"}
    assert frame.labels == {"x": "temperature", "values": "counts"}
    assert frame.attrs["x_edges"] == [10.0, 20.0]


def test_1d_takes_the_axis_value_at_or_before_each_data_time() -> None:
    counts = series([1, 2, 3, 4], name="counts", start_s=0.5)  # 0.5, 1.5, 2.5, 3.5 s
    # The log changes at 0 s and 2 s only: it holds its value in between.
    log = series([0, 1], name="log", step_s=2.0)
    frame = hist("1d", counts, [log], {"bins": 2})
    assert frame.arrays["values"].tolist() == [3.0, 7.0]


def test_1d_leaves_out_data_before_the_first_axis_value() -> None:
    counts = series([100, 1, 2], name="counts")  # 0, 1, 2 s
    log = series([5, 6], name="log", start_s=1.0)  # from 1 s
    frame = hist("1d", counts, [log], {"bins": 2})
    assert frame.arrays["values"].sum() == 3.0


def test_1d_per_second_divides_each_bin_by_the_time_spent_in_it() -> None:
    counts = series([10, 10, 30, 30], name="counts", step_s=2.0)  # each lasts 2 s
    log = series([0, 0, 1, 1], name="log", step_s=2.0)
    frame = hist("1d", counts, [log], {"bins": 2, "per_second": True})
    assert frame.arrays["values"].tolist() == [5.0, 15.0]
    assert frame.units["values"] == "counts/s"


def test_1d_per_second_leaves_empty_bins_nan() -> None:
    counts = series([1, 1], name="counts")
    log = series([0, 3], name="log")
    values = hist("1d", counts, [log], {"bins": 3, "per_second": True}).arrays["values"]
    assert np.isnan(values[1])
    assert values[0] == values[2] == 1.0


def test_without_time_coords_series_pair_by_position() -> None:
    counts = series([1, 2, 3], name="counts", timed=False)
    log = series([0, 1, 1], name="log", timed=False)
    assert hist("1d", counts, [log], {"bins": 2}).arrays["values"].tolist() == [1.0, 5.0]


def test_without_time_coords_different_lengths_are_refused() -> None:
    counts = series([1, 2, 3], name="counts", timed=False)
    log = series([0, 1], name="log", timed=False)
    with pytest.raises(PlotterError, match=r"cannot pair 'counts' \(3 values\) with 'log'"):
        hist("1d", counts, [log])


def test_series_that_do_not_overlap_in_time_are_refused() -> None:
    counts = series([1, 2], name="counts")
    log = series([1, 2], name="log", start_s=100.0)
    with pytest.raises(PlotterError, match="'counts' and 'log' do not overlap in time"):
        hist("1d", counts, [log])


def test_per_second_without_time_coords_is_refused() -> None:
    counts = series([1, 2], name="counts", timed=False)
    log = series([1, 2], name="log", timed=False)
    with pytest.raises(PlotterError, match="needs time coordinates on 'counts'"):
        hist("1d", counts, [log], {"per_second": True})


def test_nan_and_inf_pairs_are_left_out() -> None:
    counts = series([1, np.nan, 4, 8], name="counts")
    log = series([0, 0, np.inf, 1], name="log")
    frame = hist("1d", counts, [log], {"bins": 2})
    assert frame.arrays["values"].tolist() == [1.0, 8.0]


def test_all_pairs_non_finite_is_refused_with_a_sentence() -> None:
    counts = series([np.nan, np.nan], name="counts")
    log = series([1, 2], name="log")
    with pytest.raises(PlotterError, match="no time where 'counts' and 'log' all have finite"):
        hist("1d", counts, [log])


def test_a_constant_axis_gets_one_unit_wide_range() -> None:
    frame = hist("1d", series([1, 2], name="c"), [series([5, 5], name="log")], {"bins": 1})
    assert frame.attrs["x_edges"] == [4.5, 5.5]
    assert frame.arrays["values"].tolist() == [3.0]


def test_wrong_dimensionality_of_the_data_is_refused() -> None:
    data = sc.DataArray(sc.array(dims=["y", "x"], values=np.ones((2, 2))), name="panel")
    with pytest.raises(PlotterError, match=r"correlation_histogram_1d plotter needs 1-D data"):
        hist("1d", data, [series([1, 2], name="log")])


def test_wrong_dimensionality_of_an_input_is_refused() -> None:
    panel = sc.DataArray(sc.array(dims=["y", "x"], values=np.ones((2, 2))), name="panel")
    with pytest.raises(PlotterError, match=r"bins 1-D time series, but input 1 is 2-D"):
        hist("1d", series([1, 2], name="c"), [panel])


def test_a_missing_input_is_refused_with_a_sentence() -> None:
    with pytest.raises(PlotterError, match=r"against 2 other series, set as the layer's inputs"):
        hist("2d", series([1, 2], name="c"), [series([1, 2], name="a")])
    with pytest.raises(PlotterError, match=r"against 1 other series.*0 have data"):
        hist("1d", series([1, 2], name="c"), [None])


def test_2d_bins_against_x_then_y() -> None:
    counts = series([1, 2, 4, 8], name="counts")
    x = series([0, 1, 0, 1], name="temperature", unit="K")
    y = series([0, 0, 1, 1], name="pressure", unit="mbar")
    frame = hist("2d", counts, [x, y], {"x_bins": 2, "y_bins": 2})
    assert frame.kind is FrameKind.CORRELATION_2D
    assert frame.arrays["values"].tolist() == [[1.0, 2.0], [4.0, 8.0]]  # rows are y
    assert frame.units == {"x": "K", "y": "mbar", "values": "counts"}
    assert frame.attrs["clim"] == [1.0, 8.0]


def test_2d_shape_follows_the_bin_counts() -> None:
    counts = series(np.ones(50), name="counts")
    x, y = series(np.arange(50), name="x"), series(np.arange(50) % 7, name="y")
    frame = hist("2d", counts, [x, y], {"x_bins": 10, "y_bins": 3})
    assert frame.arrays["values"].shape == (3, 10)
    assert frame.arrays["values"].sum() == 50


def test_bin_counts_are_validated() -> None:
    with pytest.raises(PlotterError, match=r"invalid parameters \(bins: "):
        hist("1d", series([1, 2], name="c"), [series([1, 2], name="a")], {"bins": 0})


def test_correlation_frames_survive_the_codec() -> None:
    counts, x, y = (series([1, 2, 3], name=n) for n in ("c", "x", "y"))
    for frame in (hist("1d", counts, [x]), hist("2d", counts, [x, y])):
        back = decode_frame(encode_frame(frame))
        assert np.array_equal(back.arrays["values"], frame.arrays["values"])
