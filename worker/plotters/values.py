"""The bars and table plotters: named single values.

Frame layout: arrays ``names`` (unicode) and ``values`` float64; attrs ``units``
(one string per value). 0-D data is one value named after the data; 1-D data of
at most ``MAX_VALUES`` is one value per element, named after its coordinate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipp as sc

from livegrid.codec import Frame, FrameKind
from worker.plotters.errors import COORD_DTYPES, PlotterError, PlotterParams, float_values, unit_str

MAX_VALUES = 1000


class ValuesParams(PlotterParams):
    """No options."""


def _names(data: sc.DataArray) -> np.ndarray:
    name = data.name or "value"
    if data.ndim == 0:
        return np.array([name])
    (dim,) = data.dims
    n = data.sizes[dim]
    coord = data.coords.get(dim)
    if coord is not None and coord.dims == (dim,) and coord.sizes[dim] == n:
        if coord.dtype == sc.DType.string:
            return np.array(coord.values, dtype=str)
        if coord.dtype in COORD_DTYPES:
            return np.char.add(f"{dim}=", np.char.mod("%g", coord.values))
    return np.char.add(np.char.add(f"{name}[", np.arange(n).astype(str)), "]")


def _compute(kind: FrameKind, data: sc.DataArray) -> Frame:
    if data.ndim == 1 and data.shape[0] > MAX_VALUES:
        raise PlotterError(
            f"The {kind.value} plotter shows at most {MAX_VALUES} values, but "
            f"{data.name or 'the data'} has {data.shape[0]}; choose the lines plotter."
        )
    values = float_values(data).reshape(-1)
    unit = unit_str(data.unit)
    return Frame(
        kind=kind,
        labels={"values": data.name or "values"},
        units={"values": unit},
        arrays={"names": _names(data), "values": values},
        attrs={"units": [unit] * values.size},
    )


def compute_bars(data: sc.DataArray, params: Mapping[str, Any], display_max: int) -> Frame:
    """A bars frame of 0-D or small 1-D ``data``."""
    return _compute(FrameKind.BARS, data)


def compute_table(data: sc.DataArray, params: Mapping[str, Any], display_max: int) -> Frame:
    """A table frame of 0-D or small 1-D ``data``."""
    return _compute(FrameKind.TABLE, data)
