"""Plotters: the frame each one makes, its bounds, and its errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipp as sc
from hypothesis import given, settings
from hypothesis import strategies as st

from livegrid.codec import Frame, FrameKind, decode_frame, encode_frame
from worker.plotters import PLOTTERS, PlotterError, compatible_plotters, compute_frame
from worker.plotters.slicer import MAX_SLICER_VALUES
from worker.plotters.timeseries import MAX_POINTS
from worker.plotters.values import MAX_VALUES
from worker.sources.synthetic import SyntheticInstrument

NOW = 1_700_000_000_000_000_000


def frame_of(
    plotter: str, data: sc.DataArray, params: dict[str, Any] | None = None, display_max: int = 512
) -> Frame:
    return compute_frame(plotter, data, params or {}, display_max=display_max, now_ns=NOW)


def image_data(
    values: np.ndarray, *, unit: str = "counts", coords: str | None = "centres"
) -> sc.DataArray:
    ny, nx = values.shape
    data = sc.DataArray(sc.array(dims=["y", "x"], values=values, unit=unit), name="panel")
    extra = 1 if coords == "edges" else 0
    if coords is not None:
        data.coords["y"] = sc.arange("y", float(ny + extra), unit="mm")
        data.coords["x"] = sc.arange("x", float(nx + extra), unit="mm")
    return data


def synthetic(name: str) -> sc.DataArray:
    return SyntheticInstrument(seed=1, clock=lambda: NOW).source(name).message(0).data


def series(values: np.ndarray) -> sc.DataArray:
    times = np.datetime64(NOW, "ns") + np.arange(values.size).astype("timedelta64[s]")
    return sc.DataArray(
        sc.array(dims=["time"], values=values, unit="K"),
        coords={"time": sc.array(dims=["time"], values=times, unit="ns")},
        name="temperature",
    )


# --- registry and compute_frame ---


def test_every_frame_kind_has_a_plotter_of_the_same_name() -> None:
    assert set(PLOTTERS) == {kind.value for kind in FrameKind}
    assert all(spec.kind.value == name for name, spec in PLOTTERS.items())


def test_static_overlays_are_the_plotters_without_dimensionality() -> None:
    static = {name for name, spec in PLOTTERS.items() if spec.ndim is None}
    assert static == {"rectangles", "vlines", "hlines"}


def test_plotter_defaults_come_from_their_params_model() -> None:
    assert PLOTTERS["image"].defaults == {
        "log": False,
        "aspect": "free",
        "clim": None,
        "per_second": False,
    }
    assert PLOTTERS["bars"].defaults == {}


@pytest.mark.parametrize(
    ("ndim", "dims", "expected"),
    [
        (0, None, ["bars", "table"]),
        (1, ["tof"], ["lines", "bars", "table"]),
        (
            1,
            ["time"],
            [
                "timeseries",
                "correlation_histogram_1d",
                "correlation_histogram_2d",
                "bars",
                "table",
            ],
        ),
        (2, ["y", "x"], ["image", "overlay_1d"]),
        (3, None, ["slicer", "flatten"]),
        (4, None, ["flatten"]),
    ],
)
def test_compatible_plotters_by_dimensionality(
    ndim: int, dims: list[str] | None, expected: list[str]
) -> None:
    assert compatible_plotters(ndim, dims) == expected


def test_frame_carries_title_data_times_and_compute_time() -> None:
    frame = compute_frame(
        "lines",
        synthetic("monitor_1"),
        {},
        display_max=512,
        now_ns=NOW,
        title="Monitor 1",
        data_start=5,
        data_end=6,
    )
    assert (frame.title, frame.data_start, frame.data_end, frame.computed_at) == (
        "Monitor 1",
        5,
        6,
        NOW,
    )


def test_title_defaults_to_the_data_name() -> None:
    assert frame_of("lines", synthetic("monitor_1")).title == "monitor_1"


def test_wrong_dimensionality_names_plotter_data_and_the_plotter_to_choose() -> None:
    with pytest.raises(PlotterError) as info:
        compute_frame(
            "image",
            synthetic("monitor_1"),
            {},
            display_max=512,
            now_ns=NOW,
            source="monitor_1",
            output="latest",
        )
    assert str(info.value) == (
        "The image plotter needs 2-D data, but 'monitor_1' output 'latest' is 1-D (tof). "
        "Choose the lines plotter."
    )


@pytest.mark.parametrize(
    ("plotter", "source", "ndim"),
    [
        ("image", "detector_cube", 3),
        ("lines", "detector_panel_0", 2),
        ("slicer", "temperature", 0),
        ("timeseries", "detector_panel_1", 2),
        ("bars", "detector_panel_0", 2),
        ("table", "detector_cube", 3),
    ],
)
def test_wrong_dimensionality_raises_plotter_error(plotter: str, source: str, ndim: int) -> None:
    with pytest.raises(PlotterError, match=f"The {plotter} plotter needs .* is {ndim}-D"):
        frame_of(plotter, synthetic(source))


def test_unknown_plotter_is_rejected_with_the_valid_names() -> None:
    with pytest.raises(PlotterError, match="no plotter 'heatmap'; choose one of image, lines"):
        frame_of("heatmap", synthetic("monitor_1"))


def test_invalid_params_raise_plotter_error() -> None:
    with pytest.raises(PlotterError, match=r"image plotter has invalid parameters \(log:"):
        frame_of("image", synthetic("detector_panel_0"), {"log": "yes"})


def test_display_params_for_the_presenter_are_passed_over() -> None:
    frame = frame_of("image", synthetic("detector_panel_0"), {"cmap": "magma", "log": True})
    assert frame.attrs["log"] is True


def test_missing_data_raises_plotter_error() -> None:
    with pytest.raises(PlotterError, match="needs data"):
        compute_frame("lines", None, {}, display_max=512, now_ns=NOW)


def test_non_numeric_data_raises_plotter_error() -> None:
    data = sc.DataArray(sc.array(dims=["x"], values=["a", "b"]), name="labels")
    with pytest.raises(PlotterError, match="needs numbers, but 'labels' holds string"):
        frame_of("lines", data)


def test_empty_data_raises_plotter_error() -> None:
    with pytest.raises(PlotterError, match=r"nothing to show.*'x'"):
        frame_of("image", image_data(np.zeros((3, 0))))


def test_event_data_raises_plotter_error() -> None:
    events = sc.data.table_xyz(50).bin(x=4)
    with pytest.raises(PlotterError, match="histogrammed"):
        frame_of("lines", events)


def test_static_overlay_is_computed_from_params_alone() -> None:
    frame = compute_frame("vlines", None, {"x": [1.0, 2.0]}, display_max=512, now_ns=NOW)
    assert frame.kind == FrameKind.VLINES
    assert frame.arrays["x"].tolist() == [1.0, 2.0]
    assert frame.computed_at == NOW


def test_invalid_overlay_params_raise_plotter_error() -> None:
    with pytest.raises(PlotterError, match="vlines overlay has invalid parameters"):
        compute_frame("vlines", None, {"x": [float("nan")]}, display_max=512, now_ns=NOW)


@pytest.mark.parametrize(
    ("plotter", "source"),
    [
        ("image", "detector_panel_0"),
        ("lines", "monitor_1"),
        ("slicer", "detector_cube"),
        ("bars", "temperature"),
        ("table", "pressure"),
    ],
)
def test_frames_round_trip_through_the_codec(plotter: str, source: str) -> None:
    frame = compute_frame(
        plotter, synthetic(source), {}, display_max=512, now_ns=NOW, data_start=1, data_end=2
    )
    assert_round_trips(frame)


def test_timeseries_frame_round_trips_through_the_codec() -> None:
    assert_round_trips(frame_of("timeseries", series(np.linspace(0, 1, 50))))


def assert_round_trips(frame: Frame) -> None:
    decoded = decode_frame(encode_frame(frame))
    assert decoded.kind == frame.kind
    assert decoded.attrs == frame.attrs
    assert decoded.labels == frame.labels
    assert decoded.units == frame.units
    assert (decoded.title, decoded.data_start, decoded.data_end, decoded.computed_at) == (
        frame.title,
        frame.data_start,
        frame.data_end,
        frame.computed_at,
    )
    assert decoded.arrays.keys() == frame.arrays.keys()
    for name, array in frame.arrays.items():
        assert decoded.arrays[name].dtype == array.dtype
        np.testing.assert_array_equal(decoded.arrays[name], array)


# --- image ---


def test_image_frame_layout() -> None:
    frame = frame_of("image", synthetic("detector_panel_0"))
    assert frame.kind == FrameKind.IMAGE
    assert frame.arrays["values"].dtype == np.float32
    assert frame.arrays["values"].shape == (128, 128)
    assert frame.arrays["x"].dtype == frame.arrays["y"].dtype == np.float64
    assert frame.arrays["x"].shape == frame.arrays["y"].shape == (128,)
    assert set(frame.attrs) == {"clim", "log", "x_edges", "y_edges"}
    assert frame.attrs["log"] is False
    assert frame.attrs["x_edges"] == [-64.0, 64.0]
    assert frame.attrs["y_edges"] == [-64.0, 64.0]
    assert frame.labels == {"x": "x", "y": "y", "values": "detector_panel_0"}
    assert frame.units == {"x": "mm", "y": "mm", "values": "counts"}


def test_image_rows_follow_the_first_dim() -> None:
    values = np.zeros((2, 3))
    values[1, 0] = 7.0
    data = image_data(values).transpose(["y", "x"]).copy()
    frame = frame_of("image", data)
    assert frame.arrays["values"].shape == (2, 3)
    assert frame.arrays["values"][1, 0] == 7.0
    assert frame.labels["y"] == "y"


def test_image_on_bin_edges_has_midpoints_and_outer_edges() -> None:
    frame = frame_of("image", image_data(np.ones((2, 4)), coords="edges"))
    assert frame.arrays["x"].tolist() == [0.5, 1.5, 2.5, 3.5]
    assert frame.attrs["x_edges"] == [0.0, 4.0]
    assert frame.attrs["y_edges"] == [0.0, 2.0]


def test_image_on_centres_extends_half_a_pixel_beyond_them() -> None:
    frame = frame_of("image", image_data(np.ones((2, 4)), coords="centres"))
    assert frame.arrays["x"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert frame.attrs["x_edges"] == [-0.5, 3.5]


def test_image_without_coords_uses_pixel_indices_and_no_unit() -> None:
    frame = frame_of("image", image_data(np.ones((2, 3)), coords=None))
    assert frame.arrays["x"].tolist() == [0.0, 1.0, 2.0]
    assert frame.units["x"] == ""


def test_image_log_param_sets_the_log_attr() -> None:
    assert frame_of("image", synthetic("detector_panel_0"), {"log": True}).attrs["log"] is True


@settings(max_examples=40, deadline=None)
@given(
    ny=st.integers(1, 300),
    nx=st.integers(1, 300),
    display_max=st.integers(1, 64),
    seed=st.integers(0, 2**16),
)
def test_image_rebin_never_exceeds_display_max_never_upsamples_and_keeps_counts(
    ny: int, nx: int, display_max: int, seed: int
) -> None:
    counts = np.random.default_rng(seed).integers(0, 10, (ny, nx)).astype(np.float64)
    frame = frame_of("image", image_data(counts, coords="edges"), display_max=display_max)
    out_y, out_x = frame.arrays["values"].shape
    assert out_y <= min(ny, display_max)
    assert out_x <= min(nx, display_max)
    assert frame.arrays["x"].shape == (out_x,)
    assert frame.arrays["y"].shape == (out_y,)
    assert frame.arrays["values"].sum(dtype=np.float64) == counts.sum()
    assert frame.attrs["x_edges"][0] == 0.0
    assert frame.attrs["x_edges"][1] >= nx


def test_image_rebin_sums_blocks_of_counts() -> None:
    frame = frame_of("image", image_data(np.ones((8, 8))), display_max=4)
    assert frame.arrays["values"].tolist() == [[4.0] * 4] * 4
    assert frame.arrays["x"].tolist() == [0.5, 2.5, 4.5, 6.5]


def test_image_rebin_pads_a_partial_block_and_widens_the_extent() -> None:
    frame = frame_of("image", image_data(np.ones((1, 5)), coords="edges"), display_max=2)
    assert frame.arrays["values"].tolist() == [[3.0, 2.0]]
    assert frame.attrs["x_edges"] == [0.0, 6.0]


def test_image_rebin_averages_blocks_that_are_not_counts() -> None:
    values = np.array([[1.0, 3.0, 10.0, 20.0]])
    frame = frame_of("image", image_data(values, unit="K"), display_max=2)
    assert frame.arrays["values"].tolist() == [[2.0, 15.0]]


def test_image_rebin_leaves_nan_pixels_out_of_blocks() -> None:
    values = np.array([[1.0, np.nan, np.nan, np.nan]])
    frame = frame_of("image", image_data(values), display_max=2)
    result = frame.arrays["values"]
    assert result[0, 0] == 1.0
    assert np.isnan(result[0, 1])


def test_clim_ignores_nan_and_infinities() -> None:
    values = np.array([[np.nan, 2.0], [np.inf, -np.inf], [-3.0, 5.0]])
    assert frame_of("image", image_data(values)).attrs["clim"] == [-3.0, 5.0]


def test_clim_with_log_uses_only_positive_values() -> None:
    values = np.array([[0.0, -4.0], [0.5, 8.0], [np.inf, np.nan]])
    assert frame_of("image", image_data(values), {"log": True}).attrs["clim"] == [0.5, 8.0]


def test_clim_without_any_usable_value_is_zero_to_one() -> None:
    values = np.array([[np.nan, -1.0]])
    assert frame_of("image", image_data(values), {"log": True}).attrs["clim"] == [0.0, 1.0]


def test_clim_of_a_constant_image_is_widened_to_a_range() -> None:
    assert frame_of("image", image_data(np.full((2, 2), 3.0))).attrs["clim"] == [3.0, 4.0]


def test_masked_pixels_are_shown_as_missing_and_left_out_of_the_clim() -> None:
    data = image_data(np.array([[1.0, 100.0]]))
    data.masks["hot"] = sc.array(dims=["x"], values=[False, True])
    frame = frame_of("image", data)
    assert np.isnan(frame.arrays["values"][0, 1])
    assert frame.attrs["clim"] == [1.0, 2.0]


def test_image_of_a_time_axis_points_to_the_timeseries_plotter() -> None:
    data = sc.DataArray(sc.zeros(dims=["time", "x"], shape=[2, 2]))
    data.coords["time"] = sc.datetimes(dims=["time"], values=[0, 1], unit="s")
    with pytest.raises(PlotterError, match="time coordinate 'time'"):
        frame_of("image", data)


# --- lines ---


def test_lines_frame_layout() -> None:
    frame = frame_of("lines", synthetic("monitor_1"))
    assert frame.kind == FrameKind.LINES
    assert set(frame.arrays) == {"x", "values"}
    assert frame.arrays["x"].dtype == frame.arrays["values"].dtype == np.float64
    assert frame.arrays["x"].shape == frame.arrays["values"].shape == (200,)
    assert frame.attrs == {"log": False, "log_x": False}
    assert frame.labels == {"x": "tof", "values": "monitor_1"}
    assert frame.units == {"x": "µs", "values": "counts"}


def test_lines_x_are_the_midpoints_of_bin_edges() -> None:
    data = sc.DataArray(
        sc.array(dims=["tof"], values=[1.0, 2.0]),
        coords={"tof": sc.array(dims=["tof"], values=[0.0, 2.0, 6.0])},
    )
    assert frame_of("lines", data).arrays["x"].tolist() == [1.0, 4.0]


def test_lines_log_param_sets_the_log_attr() -> None:
    assert frame_of("lines", synthetic("monitor_1"), {"log": True}).attrs == {
        "log": True,
        "log_x": False,
    }


def test_lines_up_to_four_times_display_max_are_sent_whole() -> None:
    data = sc.DataArray(sc.array(dims=["x"], values=np.arange(64.0)))
    assert frame_of("lines", data, display_max=16).arrays["values"].size == 64


def test_long_lines_are_downsampled_keeping_the_extremes_in_order() -> None:
    values = np.random.default_rng(0).normal(size=10_000)
    values[1234], values[8765] = 50.0, -50.0
    data = sc.DataArray(sc.array(dims=["x"], values=values))
    frame = frame_of("lines", data, display_max=100)
    assert frame.arrays["values"].size <= 400
    assert frame.arrays["values"].max() == 50.0
    assert frame.arrays["values"].min() == -50.0
    assert np.all(np.diff(frame.arrays["x"]) > 0)


def test_lines_with_nan_and_inf_are_computed() -> None:
    data = sc.DataArray(sc.array(dims=["x"], values=[np.nan, np.inf, 1.0] * 1000))
    frame = frame_of("lines", data, display_max=16)
    assert frame.arrays["values"].size <= 64
    assert np.inf in frame.arrays["values"]


def test_lines_on_a_time_axis_point_to_the_timeseries_plotter() -> None:
    with pytest.raises(PlotterError, match="timeseries plotter"):
        frame_of("lines", series(np.ones(3)))


# --- slicer ---


def test_slicer_frame_layout() -> None:
    frame = frame_of("slicer", synthetic("detector_cube"))
    assert frame.kind == FrameKind.SLICER
    assert set(frame.arrays) == {"values", "x", "y", "z"}
    assert frame.arrays["values"].dtype == np.float32
    assert frame.arrays["values"].shape == (32, 64, 64)
    assert frame.arrays["z"].shape == (32,)
    assert set(frame.attrs) == {"clim", "log", "slice_dim", "x_edges", "y_edges"}
    assert frame.attrs["slice_dim"] == "tof"
    assert frame.attrs["x_edges"] == [-64.0, 64.0]
    assert frame.labels == {"x": "x", "y": "y", "z": "tof", "values": "detector_cube"}
    assert frame.units["z"] == "µs"


def test_slicer_clim_spans_the_whole_cube() -> None:
    cube = np.zeros((3, 2, 2))
    cube[0, 0, 0], cube[2, 1, 1] = -1.0, 9.0
    data = sc.DataArray(sc.array(dims=["z", "y", "x"], values=cube))
    assert frame_of("slicer", data).attrs["clim"] == [-1.0, 9.0]


def test_slicer_rebins_x_and_y_but_keeps_a_small_z() -> None:
    data = sc.DataArray(sc.ones(dims=["z", "y", "x"], shape=[5, 40, 40], unit="counts"))
    frame = frame_of("slicer", data, display_max=16)
    assert frame.arrays["values"].shape == (5, 14, 14)
    assert frame.arrays["values"].sum() == 5 * 40 * 40


def test_slicer_rebins_z_only_to_stay_within_its_size_budget() -> None:
    nz = 80
    data = sc.DataArray(sc.ones(dims=["z", "y", "x"], shape=[nz, 256, 256], unit="counts"))
    frame = frame_of("slicer", data, display_max=256)
    assert frame.arrays["values"].size <= MAX_SLICER_VALUES
    assert frame.arrays["values"].shape[1:] == (256, 256)
    assert frame.arrays["values"].sum() == nz * 256 * 256


# --- timeseries ---


def test_timeseries_frame_layout() -> None:
    frame = frame_of("timeseries", series(np.array([1.0, 2.0, 3.0])))
    assert frame.kind == FrameKind.TIMESERIES
    assert set(frame.arrays) == {"time", "values"}
    assert frame.arrays["time"].dtype == np.dtype("datetime64[ns]")
    assert frame.arrays["values"].dtype == np.float64
    assert frame.arrays["time"][0] == np.datetime64(NOW, "ns")
    assert frame.labels == {"values": "temperature"}
    assert frame.units == {"values": "K"}


@settings(max_examples=25, deadline=None)
@given(n=st.integers(MAX_POINTS + 1, 50_000), seed=st.integers(0, 2**16))
def test_timeseries_downsampling_keeps_the_global_min_and_max_in_time_order(
    n: int, seed: int
) -> None:
    values = np.random.default_rng(seed).normal(size=n)
    frame = frame_of("timeseries", series(values))
    kept = frame.arrays["values"]
    assert kept.size <= MAX_POINTS
    assert kept.min() == values.min()
    assert kept.max() == values.max()
    assert np.all(np.diff(frame.arrays["time"].astype(np.int64)) > 0)


def test_timeseries_needs_a_time_coordinate() -> None:
    with pytest.raises(PlotterError, match="needs values along a time coordinate"):
        frame_of("timeseries", synthetic("monitor_1"))


def test_timeseries_of_history_output_is_the_values_over_time() -> None:
    frame = frame_of("timeseries", series(np.array([4.0, np.nan, 6.0])))
    assert np.array_equal(frame.arrays["values"], [4.0, np.nan, 6.0], equal_nan=True)


# --- bars and table ---


@pytest.mark.parametrize("plotter", ["bars", "table"])
def test_a_scalar_is_one_value_named_after_the_data(plotter: str) -> None:
    frame = frame_of(plotter, synthetic("temperature"))
    assert frame.kind == FrameKind(plotter)
    assert frame.arrays["names"].dtype.kind == "U"
    assert frame.arrays["names"].tolist() == ["temperature"]
    assert frame.arrays["values"].dtype == np.float64
    assert frame.arrays["values"].shape == (1,)
    assert frame.attrs == {"units": ["K"]}


def test_pressure_unit_reads_mbar() -> None:
    assert frame_of("bars", synthetic("pressure")).attrs["units"] == ["mbar"]


def test_small_1d_data_is_one_value_per_element_named_by_its_coordinate() -> None:
    data = sc.DataArray(
        sc.array(dims=["motor"], values=[1.0, 2.0], unit="mm"),
        coords={"motor": sc.array(dims=["motor"], values=["x", "y"])},
    )
    frame = frame_of("table", data)
    assert frame.arrays["names"].tolist() == ["x", "y"]
    assert frame.arrays["values"].tolist() == [1.0, 2.0]
    assert frame.attrs["units"] == ["mm", "mm"]


def test_numeric_coordinates_name_values_by_dim_and_value() -> None:
    data = sc.DataArray(
        sc.array(dims=["ch"], values=[1.0, 2.0]),
        coords={"ch": sc.array(dims=["ch"], values=[3, 4])},
    )
    assert frame_of("bars", data).arrays["names"].tolist() == ["ch=3", "ch=4"]


def test_values_without_coordinate_are_numbered() -> None:
    data = sc.DataArray(sc.array(dims=["i"], values=[1.0, 2.0]), name="rate")
    assert frame_of("bars", data).arrays["names"].tolist() == ["rate[0]", "rate[1]"]


def test_bars_of_too_many_values_point_to_the_lines_plotter() -> None:
    data = sc.DataArray(sc.zeros(dims=["x"], shape=[MAX_VALUES + 1]))
    with pytest.raises(PlotterError, match=r"at most 1000 values.*lines plotter"):
        frame_of("bars", data)
