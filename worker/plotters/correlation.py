"""The correlation histograms: one time series binned against one or two others.

The layer's data is the series whose values are summed (e.g. detector counts over
time); its ``inputs`` are the series it is binned against (e.g. a temperature log),
one for ``correlation_histogram_1d``, two (x, then y) for ``_2d``; see ADR 0014.

Pairing: when both series have a ``datetime64`` coord along their dim, each data
value takes the axis value at or just before its time (a log holds its value until
it changes); data before the axis's first value is left out, and series whose time
spans do not overlap are refused. Series without a time coord pair by position and
must have the same length. Pairs with a NaN or infinite value are left out.

Bins are ``bins`` (``x_bins``, ``y_bins``) equal bins over the finite range of the
axis values. ``per_second`` divides each bin by the seconds the data spent in it
(a value's time lasts until the next value; the last lasts as long as the one
before), which needs time coords on the data.

Frame layouts: ``correlation_histogram_1d`` as ``lines`` (``x`` bin centres,
``values``, attrs ``log``, ``log_x``, ``x_edges``); ``_2d`` as ``image``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipp as sc
from pydantic import Field

from livegrid.codec import Frame, FrameKind
from worker.plotters.errors import PlotterError, float_values, unit_str
from worker.plotters.image import colour_limits
from worker.plotters.options import AxesOptions, ColourOptions

MAX_BINS = 10_000


class Correlation1DParams(AxesOptions):
    """``bins``, ``per_second``, ``log`` (y), ``log_x``, ``aspect``."""

    bins: int = Field(50, ge=1, le=MAX_BINS)
    per_second: bool = False
    log_x: bool = False


class Correlation2DParams(ColourOptions):
    """``x_bins``, ``y_bins``, ``per_second``, colour options."""

    x_bins: int = Field(50, ge=1, le=MAX_BINS)
    y_bins: int = Field(50, ge=1, le=MAX_BINS)
    per_second: bool = False


@dataclass(frozen=True)
class _Series:
    name: str
    unit: str
    values: np.ndarray
    times: np.ndarray | None  # int64 ns, or None without a time coord


def _series(data: sc.DataArray, plotter: str, what: str) -> _Series:
    if data.ndim != 1:
        raise PlotterError(
            f"The {plotter} plotter bins 1-D time series, but {what} is {data.ndim}-D; "
            "use the history workflow's output."
        )
    (dim,) = data.dims
    coord = data.coords.get(dim)
    times = None
    if coord is not None and coord.dtype == sc.DType.datetime64 and coord.dims == (dim,):
        stamps = coord.to(unit="ns", copy=False).values.astype("datetime64[ns]").astype(np.int64)
        if stamps.size == data.sizes[dim] + 1:
            stamps = stamps[:-1] + (stamps[1:] - stamps[:-1]) // 2
        times = stamps
    return _Series(data.name or what, unit_str(data.unit), float_values(data), times)


def _paired(data: _Series, axes: Sequence[_Series], plotter: str) -> tuple[np.ndarray, ...]:
    """Data values, their dwell seconds (or NaN) and each axis's value at the same time."""
    timed = data.times is not None and all(a.times is not None for a in axes)
    if not timed:
        for axis in axes:
            if axis.values.size != data.values.size:
                raise PlotterError(
                    f"The {plotter} plotter cannot pair {data.name!r} ({data.values.size} "
                    f"values) with {axis.name!r} ({axis.values.size} values): without time "
                    "coordinates both need the same length."
                )
        dwell = np.full(data.values.size, np.nan)
        return (data.values, dwell, *(a.values for a in axes))
    assert data.times is not None
    take = np.ones(data.values.size, dtype=bool)
    picked = []
    for axis in axes:
        assert axis.times is not None
        order = np.argsort(axis.times, kind="stable")
        times, values = axis.times[order], axis.values[order]
        if data.times.max() < times[0] or times[-1] < data.times.min():
            raise PlotterError(
                f"The {plotter} plotter has nothing to bin: {data.name!r} and {axis.name!r} "
                "do not overlap in time."
            )
        index = np.searchsorted(times, data.times, side="right") - 1
        take &= index >= 0
        picked.append(values[np.maximum(index, 0)])
    dwell = _dwell_seconds(data.times)
    return (data.values[take], dwell[take], *(p[take] for p in picked))


def _dwell_seconds(times: np.ndarray) -> np.ndarray:
    if times.size < 2:
        return np.full(times.size, np.nan)
    order = np.argsort(times, kind="stable")
    gaps = np.diff(times[order]).astype(np.float64) / 1e9
    dwell = np.empty(times.size)
    dwell[order] = np.concatenate([gaps, gaps[-1:]])
    return dwell


def _edges(values: np.ndarray, bins: int) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def _histogram(
    inputs: Sequence[sc.DataArray | None],
    data: sc.DataArray,
    params: Mapping[str, Any],
    plotter: str,
    bins: Sequence[int],
) -> tuple[_Series, list[_Series], np.ndarray, list[np.ndarray], str]:
    if len(inputs) != len(bins) or any(i is None for i in inputs):
        raise PlotterError(
            f"The {plotter} plotter bins its data against {len(bins)} other series, "
            f"set as the layer's inputs; {len([i for i in inputs if i is not None])} "
            "have data."
        )
    series = _series(data, plotter, "the data")
    axes = [_series(a, plotter, f"input {k + 1}") for k, a in enumerate(inputs) if a is not None]
    values, dwell, *coords = _paired(series, axes, plotter)
    finite = np.isfinite(values)
    for c in coords:
        finite &= np.isfinite(c)
    if not finite.any():
        raise PlotterError(
            f"The {plotter} plotter has nothing to bin: no time where {series.name!r} and "
            f"{' and '.join(repr(a.name) for a in axes)} all have finite values."
        )
    values, dwell, coords = values[finite], dwell[finite], [c[finite] for c in coords]
    edges = [_edges(c, n) for c, n in zip(coords, bins, strict=True)]
    sums, _ = np.histogramdd(np.stack(coords, axis=1), bins=edges, weights=values)
    unit = series.unit
    if params["per_second"]:
        if np.isnan(dwell).any():
            raise PlotterError(
                f"The {plotter} plotter needs time coordinates on {series.name!r} (and two "
                "values at least) to divide by seconds; turn per_second off."
            )
        seconds, _ = np.histogramdd(np.stack(coords, axis=1), bins=edges, weights=dwell)
        with np.errstate(invalid="ignore", divide="ignore"):
            sums = np.where(seconds > 0, sums / seconds, np.nan)
        unit = f"{unit}/s" if unit else "1/s"
    return series, axes, sums, edges, unit


def compute_1d(
    data: sc.DataArray,
    inputs: Sequence[sc.DataArray | None],
    params: Mapping[str, Any],
    display_max: int,
) -> Frame:
    """A histogram of ``data`` over the values of ``inputs[0]``."""
    plotter = "correlation_histogram_1d"
    series, (axis,), sums, (edges,), unit = _histogram(
        inputs, data, params, plotter, [params["bins"]]
    )
    return Frame(
        kind=FrameKind.CORRELATION_1D,
        labels={"x": axis.name, "values": series.name},
        units={"x": axis.unit, "values": unit},
        arrays={"x": (edges[1:] + edges[:-1]) / 2, "values": sums.astype(np.float64)},
        attrs={
            "log": bool(params["log"]),
            "log_x": bool(params["log_x"]),
            "x_edges": [float(edges[0]), float(edges[-1])],
        },
    )


def compute_2d(
    data: sc.DataArray,
    inputs: Sequence[sc.DataArray | None],
    params: Mapping[str, Any],
    display_max: int,
) -> Frame:
    """A 2-D histogram of ``data`` over the values of ``inputs[0]`` (x) and ``inputs[1]`` (y)."""
    plotter = "correlation_histogram_2d"
    series, (x_axis, y_axis), sums, (x_edges, y_edges), unit = _histogram(
        inputs, data, params, plotter, [params["x_bins"], params["y_bins"]]
    )
    values = np.ascontiguousarray(sums.T).astype(np.float32)  # (y, x)
    log = bool(params["log"])
    clim = params["clim"]
    return Frame(
        kind=FrameKind.CORRELATION_2D,
        labels={"x": x_axis.name, "y": y_axis.name, "values": series.name},
        units={"x": x_axis.unit, "y": y_axis.unit, "values": unit},
        arrays={
            "x": (x_edges[1:] + x_edges[:-1]) / 2,
            "y": (y_edges[1:] + y_edges[:-1]) / 2,
            "values": values,
        },
        attrs={
            "clim": list(clim) if clim is not None else colour_limits(values, log=log),
            "log": log,
            "x_edges": [float(x_edges[0]), float(x_edges[-1])],
            "y_edges": [float(y_edges[0]), float(y_edges[-1])],
        },
    )
