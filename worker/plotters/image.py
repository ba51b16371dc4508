"""The image plotter (2-D data), and the axis, rebinning and colour-limit rules it shares.

Frame layout: arrays ``x`` (nx centres), ``y`` (ny centres), ``values`` (ny, nx)
float32; attrs ``clim`` [lo, hi] (the ``clim`` param if set), ``log``, ``x_edges``
and ``y_edges`` [first, last].
The first dim is ``y``, the second ``x``.

Rebinning: each edge longer than ``display_max`` is cut into blocks of ``f`` pixels
with ``f = ceil(n / display_max)`` (never upsampling). When ``f`` does not divide
``n``, the data is padded with empty pixels to whole blocks and the outer edge moves
out by the padding (at the last bin's width), so every block has the same width.
Blocks of counts are **summed**, which preserves the total; blocks in any other unit
are **averaged** over their real, non-NaN pixels. NaN pixels are left out; a block
of NaN only stays NaN. Masked pixels count as NaN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np
import scipp as sc

from livegrid.codec import Frame, FrameKind
from worker.plotters.errors import (
    COORD_DTYPES,
    PlotterError,
    float_values,
    unit_str,
)
from worker.plotters.options import RateOptions


class ImageParams(RateOptions):
    """``log``: logarithmic colour scale; ``clim``, ``aspect``, ``per_second`` (see options)."""


@dataclass(frozen=True)
class Axis:
    """One dim of the data as a plot axis: bin edges and centres in float64."""

    dim: str
    edges: np.ndarray
    centres: np.ndarray
    unit: str

    @property
    def extent(self) -> list[float]:
        return [float(self.edges[0]), float(self.edges[-1])]


def _edges_from_centres(centres: np.ndarray) -> np.ndarray:
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middle = (centres[1:] + centres[:-1]) / 2
    first = 2 * centres[0] - middle[0]
    last = 2 * centres[-1] - middle[-1]
    return np.concatenate([[first], middle, [last]])


def axis_of(data: sc.DataArray, dim: str, plotter: str) -> Axis:
    """The ``dim`` axis from its coord (centres or bin edges); pixel indices without one.

    A time coord raises :class:`PlotterError` (only the timeseries plotter shows
    time); coords that are not numeric and 1-D along ``dim`` fall back to indices.
    """
    n = data.sizes[dim]
    coord = data.coords.get(dim)
    if coord is not None and coord.dtype == sc.DType.datetime64:
        raise PlotterError(
            f"The {plotter} plotter cannot use the time coordinate {dim!r} as an axis; "
            "the timeseries plotter shows values over time."
        )
    usable = (
        coord is not None
        and coord.dims == (dim,)
        and coord.dtype in COORD_DTYPES
        and coord.sizes[dim] in (n, n + 1)
    )
    if coord is None or not usable:
        centres = np.arange(n, dtype=np.float64)
        return Axis(dim, np.arange(n + 1, dtype=np.float64) - 0.5, centres, "")
    values = np.asarray(coord.values, dtype=np.float64)
    if values.size == n + 1:
        return Axis(dim, values, (values[1:] + values[:-1]) / 2, unit_str(coord.unit))
    return Axis(dim, _edges_from_centres(values), values, unit_str(coord.unit))


def rebin_factor(n: int, display_max: int) -> int:
    """Pixels per block so that at most ``display_max`` blocks cover ``n``; at least 1."""
    return max(1, -(-n // display_max))


def rebin_axis(axis: Axis, factor: int) -> Axis:
    """The axis of blocks of ``factor`` bins; the last block is padded to full width."""
    if factor == 1:
        return axis
    pad = -(axis.centres.size) % factor
    edges = axis.edges
    if pad:
        width = edges[-1] - edges[-2]
        edges = np.concatenate([edges, edges[-1] + width * np.arange(1, pad + 1)])
    block_edges = edges[::factor]
    return Axis(axis.dim, block_edges, (block_edges[1:] + block_edges[:-1]) / 2, axis.unit)


def _block_sum(values: np.ndarray, factors: tuple[int, ...], dtype: type) -> np.ndarray:
    padding = [(0, -n % f) for n, f in zip(values.shape, factors, strict=True)]
    if any(after for _, after in padding):
        values = np.pad(values, padding)
    # Adding the f strided views of each axis is one pass over the data, several
    # times faster than reducing a reshaped array over its interleaved block axes.
    for axis, factor in enumerate(factors):
        if factor == 1:
            continue
        views = [
            values[(slice(None),) * axis + (slice(offset, None, factor),)]
            for offset in range(factor)
        ]
        total: np.ndarray = views[0].astype(dtype)
        for view in views[1:]:
            total += view
        values = total
    return values


def _block_sizes(n: int, factor: int) -> np.ndarray:
    sizes = np.full(-(-n // factor), factor)
    sizes[-1] = n - factor * (sizes.size - 1)
    return sizes


def block_reduce(values: np.ndarray, factors: tuple[int, ...], *, mean: bool) -> np.ndarray:
    """Sum (or mean, with ``mean``) over blocks of ``factors`` pixels, ignoring NaN."""
    if all(f == 1 for f in factors):
        return values
    nan = np.isnan(values)
    if not nan.any():
        sums = _block_sum(values, factors, np.float64)
        if not mean:
            return sums
        counts = reduce(
            np.multiply.outer,
            [_block_sizes(n, f) for n, f in zip(values.shape, factors, strict=True)],
        )
        return sums / counts  # type: ignore[no-any-return]
    sums = _block_sum(np.where(nan, 0.0, values), factors, np.float64)
    counts = _block_sum(~nan, factors, np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        reduced = sums / counts if mean else sums
    return np.where(counts == 0, np.nan, reduced)


def colour_limits(values: np.ndarray, *, log: bool) -> list[float]:
    """``[lo, hi]`` over the finite values (positive ones for ``log``); ``[0, 1]`` if none.

    A constant image gets ``[v, v + 1]`` (``[v, 10 v]`` for log) so the range is never empty.
    """
    usable = np.isfinite(values)
    if log:
        usable &= values > 0
    picked = values if usable.all() else values[usable]
    if picked.size == 0:
        return [0.0, 1.0]
    lo, hi = float(picked.min()), float(picked.max())
    if lo == hi:
        hi = lo * 10 if log else lo + 1
    return [lo, hi]


def manual_or_auto(params: Mapping[str, Any], values: np.ndarray, *, log: bool) -> list[float]:
    """The ``clim`` param if set, else the limits of ``values``."""
    clim = params.get("clim")
    return list(clim) if clim is not None else colour_limits(values, log=log)


def reduce_as_unit(
    values: np.ndarray, unit: sc.Unit | None, factors: tuple[int, ...]
) -> np.ndarray:
    """Sum blocks of counts, average blocks of anything else."""
    return block_reduce(values, factors, mean=unit != sc.units.counts)


def compute(data: sc.DataArray, params: Mapping[str, Any], display_max: int) -> Frame:
    """An image frame of 2-D ``data`` (see the module docstring)."""
    log = bool(params["log"])
    y_dim, x_dim = data.dims
    y, x = axis_of(data, y_dim, "image"), axis_of(data, x_dim, "image")
    factors = (rebin_factor(y.centres.size, display_max), rebin_factor(x.centres.size, display_max))
    values = reduce_as_unit(float_values(data), data.unit, factors).astype(np.float32)
    y, x = rebin_axis(y, factors[0]), rebin_axis(x, factors[1])
    return Frame(
        kind=FrameKind.IMAGE,
        labels={"x": x.dim, "y": y.dim, "values": data.name or "values"},
        units={"x": x.unit, "y": y.unit, "values": unit_str(data.unit)},
        arrays={"x": x.centres, "y": y.centres, "values": values},
        attrs={
            "clim": manual_or_auto(params, values, log=log),
            "log": log,
            "x_edges": x.extent,
            "y_edges": y.extent,
        },
    )
