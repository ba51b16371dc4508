"""The overlay_1d plotter: 2-D data as one curve per row of its first dim (ROI spectra).

Frame layout: arrays ``x`` (n centres), ``values`` (m, n) float64 and ``names``
(m, unicode); attrs ``colours`` (m hex strings, ``livegrid.palette`` keyed by row
index, so row ``i`` keeps its colour whatever the other rows do), ``log`` (y),
``log_x``. Rows longer than ``4 * display_max`` are downsampled like lines, keeping
every row's extremes. At most ``MAX_CURVES`` rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipp as sc

from livegrid.codec import Frame, FrameKind
from livegrid.palette import colour_of
from worker.plotters.errors import COORD_DTYPES, PlotterError, float_values, unit_str
from worker.plotters.image import axis_of
from worker.plotters.lines import extreme_indices
from worker.plotters.options import CurveOptions

MAX_CURVES = 64


class OverlayParams(CurveOptions):
    """``log`` (y), ``log_x``, ``aspect``, ``per_second``."""


def row_names(data: sc.DataArray, dim: str) -> np.ndarray:
    """One name per row: its string coord, ``dim=value``, or ``dim i``."""
    n = data.sizes[dim]
    coord = data.coords.get(dim)
    if coord is not None and coord.dims == (dim,) and coord.sizes[dim] == n:
        if coord.dtype == sc.DType.string:
            return np.array(coord.values, dtype=str)
        if coord.dtype in COORD_DTYPES:
            return np.char.add(f"{dim}=", np.char.mod("%g", coord.values))
    return np.char.add(f"{dim} ", np.arange(n).astype(str))


def compute(data: sc.DataArray, params: Mapping[str, Any], display_max: int) -> Frame:
    """An overlay_1d frame of 2-D ``data`` (see the module docstring)."""
    row_dim, x_dim = data.dims
    rows = data.sizes[row_dim]
    if rows > MAX_CURVES:
        raise PlotterError(
            f"The overlay_1d plotter draws at most {MAX_CURVES} curves, but "
            f"{data.name or 'the data'} has {rows} along {row_dim!r}; choose the image plotter."
        )
    axis = axis_of(data, x_dim, "overlay_1d")
    values = float_values(data)
    keep = np.unique(np.concatenate([extreme_indices(row, 4 * display_max) for row in values]))
    return Frame(
        kind=FrameKind.OVERLAY_1D,
        labels={"x": x_dim, "values": data.name or "values", "names": row_dim},
        units={"x": axis.unit, "values": unit_str(data.unit)},
        arrays={
            "x": axis.centres[keep],
            "values": np.ascontiguousarray(values[:, keep]),
            "names": row_names(data, row_dim),
        },
        attrs={
            "colours": [colour_of(i) for i in range(rows)],
            "log": bool(params["log"]),
            "log_x": bool(params["log_x"]),
        },
    )
