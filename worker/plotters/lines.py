"""The lines plotter (1-D data), and the extremes-keeping downsampling it shares.

Frame layout: arrays ``x`` (n centres; midpoints of bin edges) and ``values`` (n)
float64; attrs ``log`` (logarithmic y) and ``log_x``. Data longer than ``4 * display_max`` is
downsampled to at most ``4 * display_max`` points: the minimum and maximum of each
of ``2 * display_max`` buckets, in order, so peaks and dips survive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipp as sc

from livegrid.codec import Frame, FrameKind
from worker.plotters.errors import float_values, unit_str
from worker.plotters.image import axis_of
from worker.plotters.options import CurveOptions


class LinesParams(CurveOptions):
    """``log``: logarithmic y axis; ``log_x``, ``aspect``, ``per_second`` (see options)."""


def extreme_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Sorted indices of at most ``max_points`` values: each bucket's min and max.

    NaN is never picked over a number; all of ``values`` when they fit.
    """
    n = values.size
    if n <= max_points:
        return np.arange(n)
    size = -(-n // max(1, max_points // 2))
    buckets = -(-n // size)
    pad = buckets * size - n
    nan = np.isnan(values)
    low = np.pad(np.where(nan, np.inf, values), (0, pad), constant_values=np.inf)
    high = np.pad(np.where(nan, -np.inf, values), (0, pad), constant_values=-np.inf)
    start = np.arange(buckets) * size
    lows = start + low.reshape(buckets, size).argmin(axis=1)
    highs = start + high.reshape(buckets, size).argmax(axis=1)
    return np.unique(np.concatenate([lows, highs]))


def compute(data: sc.DataArray, params: Mapping[str, Any], display_max: int) -> Frame:
    """A lines frame of 1-D ``data`` (see the module docstring)."""
    (dim,) = data.dims
    axis = axis_of(data, dim, "lines")
    values = float_values(data)
    keep = extreme_indices(values, 4 * display_max)
    return Frame(
        kind=FrameKind.LINES,
        labels={"x": dim, "values": data.name or "values"},
        units={"x": axis.unit, "values": unit_str(data.unit)},
        arrays={"x": axis.centres[keep], "values": values[keep]},
        attrs={"log": bool(params["log"]), "log_x": bool(params["log_x"])},
    )
