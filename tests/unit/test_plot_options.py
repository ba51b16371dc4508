"""Plot options: validated by each plotter's params, applied at compute or in prepare."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipp as sc

from app.prepare import prepare
from app.presenters.base import aspect_opts
from livegrid.codec import Frame
from worker.plotters import PLOTTERS, PlotterError, compute_frame

NOW = 1_700_000_000_000_000_000
S = 1_000_000_000


def panel() -> sc.DataArray:
    return sc.DataArray(
        sc.array(dims=["y", "x"], values=np.arange(12.0).reshape(3, 4), unit="counts"),
        name="panel",
    )


def spectrum() -> sc.DataArray:
    return sc.DataArray(
        sc.array(dims=["tof"], values=np.array([1.0, 2.0, 3.0]), unit="counts"),
        coords={"tof": sc.array(dims=["tof"], values=[-1.0, 1.0, 2.0], unit="ms")},
        name="monitor",
    )


def frame_of(plotter: str, data: sc.DataArray, params: dict[str, Any], **kw: Any) -> Frame:
    return compute_frame(plotter, data, params, display_max=512, now_ns=NOW, **kw)


@pytest.mark.parametrize("plotter", ["image", "flatten", "slicer"])
def test_manual_colour_limits_replace_the_automatic_ones(plotter: str) -> None:
    data = panel() if plotter == "image" else sc.concat([panel()] * 2, "z")
    assert frame_of(plotter, data, {"clim": [2, 5]}).attrs["clim"] == [2, 5]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"clim": [5, 2]}, "low < high"),
        ({"clim": [1]}, "at least 2 items"),
        ({"clim": [0, 5], "log": True}, "clim above 0"),
        ({"aspect": "wide"}, "aspect: Input should be 'free', 'square' or 'equal'"),
    ],
)
def test_bad_options_put_the_layer_in_error_with_a_sentence(
    params: dict[str, Any], message: str
) -> None:
    with pytest.raises(PlotterError, match=f"The image plotter has invalid parameters .*{message}"):
        frame_of("image", panel(), params)


def test_per_second_divides_by_the_seconds_of_data() -> None:
    frame = frame_of("image", panel(), {"per_second": True}, data_start=0, data_end=4 * S)
    assert frame.arrays["values"][2, 3] == pytest.approx(11 / 4)
    assert frame.units["values"] == "counts/s"


def test_per_second_without_a_time_span_is_refused() -> None:
    with pytest.raises(PlotterError, match="cannot show counts per second"):
        frame_of("lines", spectrum(), {"per_second": True}, data_start=5, data_end=5)


def test_log_x_masks_points_at_or_left_of_zero_once_per_replica() -> None:
    frame = frame_of("lines", spectrum(), {"log_x": True})
    assert frame.attrs["log_x"] is True
    prepared = prepare(frame)
    assert prepared.log_x
    y = prepared.data["y"]
    assert np.isnan(y[0])
    assert y[1:].tolist() == [2.0, 3.0]


@pytest.mark.parametrize(
    ("aspect", "opts"),
    [("free", {}), ("square", {"aspect": "square"}), ("equal", {"data_aspect": 1})],
)
def test_aspect_becomes_the_plots_holoviews_options(aspect: str, opts: dict[str, Any]) -> None:
    assert aspect_opts({"aspect": aspect}) == opts


def test_every_plotter_with_axes_validates_aspect() -> None:
    with_aspect = {n for n, spec in PLOTTERS.items() if "aspect" in spec.params.model_fields}
    assert with_aspect == {
        "image",
        "lines",
        "slicer",
        "overlay_1d",
        "flatten",
        "correlation_histogram_1d",
        "correlation_histogram_2d",
    }
