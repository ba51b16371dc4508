"""The flatten plotter: 3- to 6-D data as one image, several dims on each axis.

``y_dims`` and ``x_dims`` (params) name the dims on each axis, outer first; left
out, the first half of the dims (rounded down) go on y and the rest on x. Each
axis is the flattened index of its dims (pixel ``i`` of x is element ``i`` of the
x dims in C order); ``x_labels`` and ``y_labels`` give each pixel's original
coordinates (``"a=1.5 mm, b=3"``) for the hover.

Frame layout: the image layout (``x``, ``y`` centres as flat indices, ``values``
(ny, nx) float32, attrs ``clim``, ``log``, ``x_edges``, ``y_edges``) plus arrays
``x_labels`` (nx) and ``y_labels`` (ny) and attrs ``x_dims``, ``y_dims``. A flat
axis longer than ``display_max`` is rebinned like an image's; a block's label is
that of its first pixel followed by ``"+ k more"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipp as sc
from pydantic import Field

from livegrid.codec import Frame, FrameKind
from worker.plotters.errors import PlotterError, float_values, unit_str
from worker.plotters.image import axis_of, colour_limits, rebin_factor, reduce_as_unit
from worker.plotters.options import RateOptions


class FlattenParams(RateOptions):
    """``y_dims``, ``x_dims`` (None: split the dims in half), colour and rate options."""

    y_dims: list[str] | None = Field(None, min_length=1)
    x_dims: list[str] | None = Field(None, min_length=1)


def split_dims(
    dims: Sequence[str], y_dims: Sequence[str] | None, x_dims: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """The dims on y and on x; :class:`PlotterError` unless they use every dim once."""
    dims = list(dims)
    if y_dims is None and x_dims is None:
        half = len(dims) // 2
        return dims[:half], dims[half:]
    y = list(y_dims) if y_dims is not None else [d for d in dims if d not in (x_dims or [])]
    x = list(x_dims) if x_dims is not None else [d for d in dims if d not in y]
    used = y + x
    unknown = [d for d in used if d not in dims]
    if unknown:
        raise PlotterError(
            f"The flatten plotter cannot put {', '.join(map(repr, unknown))} on an axis: the "
            f"data has the dims {', '.join(map(repr, dims))}."
        )
    if len(set(used)) != len(used) or set(used) != set(dims) or not y or not x:
        raise PlotterError(
            "The flatten plotter needs every dim on exactly one axis and at least one on each: "
            f"y_dims {y} and x_dims {x} do not split {dims}."
        )
    return y, x


def _labels(data: sc.DataArray, dims: Sequence[str], starts: np.ndarray) -> np.ndarray:
    """'dim=value unit, ...' of the flat indices ``starts`` over ``dims`` (C order)."""
    shape = [data.sizes[d] for d in dims]
    index = np.unravel_index(starts, shape)
    text = np.full(starts.size, "", dtype=object)
    for k, dim in enumerate(dims):
        axis = axis_of(data, dim, "flatten")
        unit = f" {axis.unit}" if axis.unit else ""
        parts = np.char.add(np.char.mod(f"{dim}=%.6g", axis.centres[index[k]]), unit)
        text = parts.astype(object) if k == 0 else text + ", " + parts.astype(object)
    return np.asarray(text, dtype=str)


def _block_labels(data: sc.DataArray, dims: Sequence[str], n: int, factor: int) -> np.ndarray:
    starts = np.arange(0, n, factor)
    labels = _labels(data, dims, starts)
    if factor == 1:
        return labels
    counts = np.minimum(starts + factor, n) - starts
    more = np.where(
        counts > 1, np.char.add(" + ", np.char.add((counts - 1).astype(str), " more")), ""
    )
    return np.char.add(labels, more)


def compute(data: sc.DataArray, params: Mapping[str, Any], display_max: int) -> Frame:
    """A flatten frame of 3- to 6-D ``data`` (see the module docstring)."""
    y_dims, x_dims = split_dims(data.dims, params["y_dims"], params["x_dims"])
    for dim in data.dims:
        axis_of(data, dim, "flatten")  # refuses a time coordinate with a sentence
    ordered = data.transpose([*y_dims, *x_dims])
    ny = int(np.prod([data.sizes[d] for d in y_dims]))
    nx = int(np.prod([data.sizes[d] for d in x_dims]))
    flat = np.ascontiguousarray(float_values(ordered)).reshape(ny, nx)
    fy, fx = rebin_factor(ny, display_max), rebin_factor(nx, display_max)
    values = reduce_as_unit(flat, data.unit, (fy, fx)).astype(np.float32)
    my, mx = values.shape
    log = bool(params["log"])
    clim = params["clim"]
    return Frame(
        kind=FrameKind.FLATTEN,
        labels={
            "x": " x ".join(x_dims),
            "y": " x ".join(y_dims),
            "values": data.name or "values",
        },
        units={"x": "", "y": "", "values": unit_str(data.unit)},
        arrays={
            "x": np.arange(mx, dtype=np.float64) * fx + (fx - 1) / 2,
            "y": np.arange(my, dtype=np.float64) * fy + (fy - 1) / 2,
            "values": values,
            "x_labels": _block_labels(data, x_dims, nx, fx),
            "y_labels": _block_labels(data, y_dims, ny, fy),
        },
        attrs={
            "clim": list(clim) if clim is not None else colour_limits(values, log=log),
            "log": log,
            "x_edges": [-0.5, mx * fx - 0.5],
            "y_edges": [-0.5, my * fy - 0.5],
            "x_dims": list(x_dims),
            "y_dims": list(y_dims),
        },
    )
