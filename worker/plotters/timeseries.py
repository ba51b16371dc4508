"""The timeseries plotter: 1-D values along a time coordinate (the history workflow's output).

Frame layout: arrays ``time`` (datetime64[ns]) and ``values`` float64, downsampled
to at most ``MAX_POINTS``: the minimum and maximum of each bucket, in time order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipp as sc

from livegrid.codec import Frame, FrameKind
from worker.plotters.errors import PlotterError, PlotterParams, float_values, unit_str
from worker.plotters.lines import extreme_indices

MAX_POINTS = 2000


class TimeseriesParams(PlotterParams):
    """No options."""


def _times_ns(data: sc.DataArray, dim: str) -> np.ndarray:
    coord = data.coords.get(dim)
    if coord is None or coord.dtype != sc.DType.datetime64 or coord.dims != (dim,):
        raise PlotterError(
            f"The timeseries plotter needs values along a time coordinate, but the {dim!r} "
            "dimension has none; use the history workflow, or choose the lines plotter."
        )
    stamps: np.ndarray = coord.to(unit="ns", copy=False).values.astype("datetime64[ns]")
    if stamps.size == data.sizes[dim] + 1:  # bin edges: use the bins' middles
        middles: np.ndarray = stamps[:-1] + (stamps[1:] - stamps[:-1]) // 2
        return middles
    return stamps


def compute(data: sc.DataArray, params: Mapping[str, Any], display_max: int) -> Frame:
    """A timeseries frame of 1-D ``data`` along time (see the module docstring)."""
    (dim,) = data.dims
    times = _times_ns(data, dim)
    values = float_values(data)
    keep = extreme_indices(values, MAX_POINTS)
    return Frame(
        kind=FrameKind.TIMESERIES,
        labels={"values": data.name or "values"},
        units={"values": unit_str(data.unit)},
        arrays={"time": times[keep], "values": values[keep]},
    )
