"""The overlay_1d plotter: one curve per row of the first dim, with stable colours."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipp as sc

from livegrid.codec import Frame, FrameKind, decode_frame, encode_frame
from livegrid.palette import PALETTE, colour_of
from worker.plotters import PlotterError, compute_frame
from worker.plotters.overlay import MAX_CURVES

NOW = 1_700_000_000_000_000_000


def frame_of(data: sc.DataArray, params: dict[str, Any] | None = None, **kw: Any) -> Frame:
    return compute_frame("overlay_1d", data, params or {}, display_max=512, now_ns=NOW, **kw)


def spectra(rows: int = 3, n: int = 50, *, roi_coord: bool = False) -> sc.DataArray:
    values = np.arange(rows * n, dtype=np.float64).reshape(rows, n)
    data = sc.DataArray(
        sc.array(dims=["roi", "tof"], values=values, unit="counts"),
        coords={"tof": sc.linspace("tof", 0.0, 100.0, n + 1, unit="ms")},
        name="roi spectra",
    )
    if roi_coord:
        data.coords["roi"] = sc.array(dims=["roi"], values=[f"ROI {i}" for i in range(rows)])
    return data


def test_overlay_has_one_curve_per_row_over_the_bin_centres() -> None:
    frame = frame_of(spectra(3, 50))
    assert frame.kind is FrameKind.OVERLAY_1D
    assert frame.arrays["values"].shape == (3, 50)
    assert frame.arrays["x"].shape == (50,)
    assert frame.arrays["x"][0] == pytest.approx(1.0)
    assert frame.units == {"x": "ms", "values": "counts"}
    assert frame.labels["x"] == "tof"


def test_overlay_colours_are_the_palette_keyed_by_row_index() -> None:
    frame = frame_of(spectra(12))
    assert frame.attrs["colours"] == [PALETTE[i % len(PALETTE)] for i in range(12)]
    assert frame_of(spectra(2)).attrs["colours"] == frame.attrs["colours"][:2]
    assert colour_of(10) == colour_of(0)


def test_overlay_names_rows_by_their_string_coord_or_index() -> None:
    assert frame_of(spectra(2, roi_coord=True)).arrays["names"].tolist() == ["ROI 0", "ROI 1"]
    assert frame_of(spectra(2)).arrays["names"].tolist() == ["roi 0", "roi 1"]


def test_overlay_keeps_nan_and_inf_values_as_they_are() -> None:
    data = spectra(2, 5)
    data.values[0, 1] = np.nan
    data.values[1, 2] = np.inf
    values = frame_of(data).arrays["values"]
    assert np.isnan(values[0, 1])
    assert np.isinf(values[1, 2])


def test_overlay_downsamples_long_rows_keeping_each_rows_extremes() -> None:
    data = spectra(2, 100_000)
    data.values[0, 12_345] = 1e9
    data.values[1, 54_321] = -1e9
    frame = compute_frame("overlay_1d", data, {}, display_max=100, now_ns=NOW)
    assert frame.arrays["values"].shape[1] <= 2 * 4 * 100
    assert frame.arrays["values"][0].max() == 1e9
    assert frame.arrays["values"][1].min() == -1e9


def test_overlay_frame_survives_the_codec() -> None:
    frame = frame_of(spectra(3))
    back = decode_frame(encode_frame(frame))
    assert np.array_equal(back.arrays["values"], frame.arrays["values"])
    assert back.attrs["colours"] == frame.attrs["colours"]


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
def test_overlay_refuses_data_that_is_not_2d(shape: tuple[int, ...]) -> None:
    dims = ["a", "b", "c"][: len(shape)]
    data = sc.DataArray(sc.array(dims=dims, values=np.ones(shape)), name="x")
    with pytest.raises(PlotterError, match=r"overlay_1d plotter needs 2-D data, but .* is "):
        frame_of(data)


def test_overlay_refuses_more_curves_than_it_draws() -> None:
    with pytest.raises(PlotterError, match=f"at most {MAX_CURVES} curves"):
        frame_of(spectra(MAX_CURVES + 1, 3))


def test_overlay_log_axes_are_in_the_frame() -> None:
    frame = frame_of(spectra(), {"log": True, "log_x": True})
    assert frame.attrs["log"] is True
    assert frame.attrs["log_x"] is True
