"""The flatten plotter: 3- to 6-D data as one image with several dims per axis."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipp as sc

from livegrid.codec import Frame, FrameKind, decode_frame, encode_frame
from livegrid.workspace_file import default_template_path, load_workspace_file
from worker.plotters import PlotterError, compute_frame
from worker.sources.synthetic import SyntheticInstrument

NOW = 1_700_000_000_000_000_000


def frame_of(data: sc.DataArray, params: dict[str, Any] | None = None, dm: int = 512) -> Frame:
    return compute_frame("flatten", data, params or {}, display_max=dm, now_ns=NOW)


def cube(*sizes: int) -> sc.DataArray:
    dims = ["a", "b", "c", "d", "e", "f", "g"][: len(sizes)]
    values = np.arange(int(np.prod(sizes)), dtype=np.float64).reshape(sizes)
    data = sc.DataArray(sc.array(dims=dims, values=values, unit="counts"), name="cube")
    data.coords["a"] = sc.arange("a", float(sizes[0]), unit="mm") * 10
    return data


@pytest.mark.parametrize("sizes", [(2, 3, 4), (2, 3, 4, 5), (2, 2, 2, 2, 2), (2, 2, 2, 2, 2, 2)])
def test_flatten_splits_the_dims_in_half_by_default(sizes: tuple[int, ...]) -> None:
    frame = frame_of(cube(*sizes))
    half = len(sizes) // 2
    ny, nx = int(np.prod(sizes[:half])), int(np.prod(sizes[half:]))
    assert frame.kind is FrameKind.FLATTEN
    assert frame.arrays["values"].shape == (ny, nx)
    assert frame.arrays["x_labels"].shape == (nx,)
    assert frame.arrays["y_labels"].shape == (ny,)


def test_flatten_puts_the_chosen_dims_on_each_axis_in_c_order() -> None:
    data = cube(2, 3, 4)
    frame = frame_of(data, {"y_dims": ["b"], "x_dims": ["c", "a"]})
    assert frame.attrs["y_dims"] == ["b"]
    assert frame.attrs["x_dims"] == ["c", "a"]
    values = frame.arrays["values"]
    assert values.shape == (3, 8)
    # x pixel 5 is c=2, a=1 (a varies fastest); y pixel 1 is b=1.
    assert values[1, 5] == data.values[1, 1, 2]
    assert frame.arrays["x_labels"][5] == "c=2, a=10 mm"
    assert frame.arrays["y_labels"][1] == "b=1"
    assert frame.labels["x"] == "c x a"


def test_flatten_takes_the_other_dims_when_only_one_axis_is_chosen() -> None:
    frame = frame_of(cube(2, 3, 4), {"x_dims": ["a"]})
    assert frame.attrs["y_dims"] == ["b", "c"]
    assert frame.arrays["values"].shape == (12, 2)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"x_dims": ["z"]}, r"cannot put 'z' on an axis"),
        ({"y_dims": ["a", "b"], "x_dims": ["b", "c"]}, r"every dim on exactly one axis"),
        ({"y_dims": ["a", "b", "c"]}, r"at least one on each"),
    ],
)
def test_flatten_refuses_a_split_that_does_not_use_every_dim_once(
    params: dict[str, Any], message: str
) -> None:
    with pytest.raises(PlotterError, match=message):
        frame_of(cube(2, 3, 4), params)


@pytest.mark.parametrize("sizes", [(3, 4), (2, 2, 2, 2, 2, 2, 2)])
def test_flatten_refuses_data_outside_3_to_6_dims(sizes: tuple[int, ...]) -> None:
    with pytest.raises(PlotterError, match=r"flatten plotter needs 3-D or 4-D or 5-D or 6-D"):
        frame_of(cube(*sizes))


def test_flatten_rebins_a_long_axis_and_labels_each_block_by_its_first_pixel() -> None:
    data = cube(2, 10, 30)  # y: a (2), x: b x c (300)
    frame = frame_of(data, dm=100)
    assert frame.arrays["values"].shape == (2, 100)
    assert frame.arrays["values"][0, 0] == data.values[0, 0, 0:3].sum()  # counts are summed
    assert frame.arrays["x_labels"][1] == "b=0, c=3 + 2 more"
    assert frame.attrs["x_edges"] == [-0.5, 299.5]


def test_flatten_keeps_nan_and_leaves_inf_out_of_the_colour_limits() -> None:
    data = cube(2, 2, 2)
    data.values[0, 0, 0] = np.nan
    data.values[1, 1, 1] = np.inf
    frame = frame_of(data)
    assert np.isnan(frame.arrays["values"][0, 0])
    assert frame.attrs["clim"] == [1.0, 6.0]


def test_flatten_manual_colour_limits_replace_the_automatic_ones() -> None:
    assert frame_of(cube(2, 2, 2), {"clim": [0, 100]}).attrs["clim"] == [0, 100]


def test_flatten_refuses_a_time_coordinate_as_an_axis() -> None:
    data = cube(2, 2, 2)
    data.coords["c"] = sc.datetimes(dims=["c"], values=[0, 1], unit="s")
    with pytest.raises(PlotterError, match="cannot use the time coordinate 'c'"):
        frame_of(data)


def test_flatten_frame_survives_the_codec() -> None:
    frame = frame_of(cube(2, 3, 4))
    back = decode_frame(encode_frame(frame))
    assert back.arrays["x_labels"].tolist() == frame.arrays["x_labels"].tolist()
    assert back.units["values"] == "counts"


def test_the_default_workspace_flattens_the_synthetic_cube_tof_against_pixel() -> None:
    layer = load_workspace_file(default_template_path()).layer("cube-flatten")
    data = SyntheticInstrument(seed=1, clock=lambda: NOW).source("detector_cube").message(0).data
    frame = frame_of(data, layer.params)
    assert frame.arrays["values"].shape == (32, 512)  # tof x (64 x 64 pixels, rebinned by 8)
    assert frame.arrays["x_labels"][0].startswith("y=")
    assert frame.units["values"] == "counts"
