"""The slicer plotter (3-D data): the whole cube, for the browser to slice along its first dim.

Frame layout: arrays ``values`` (nz, ny, nx) float32, ``x``, ``y``, ``z`` centres;
attrs ``clim`` over the whole cube, ``log``, ``slice_dim`` (the first dim, ``z``),
``x_edges`` and ``y_edges``. ``y`` and ``x`` are rebinned like an image's; ``z`` is
rebinned the same way only when the cube would otherwise exceed
``MAX_SLICER_VALUES``, so a frame stays small enough to send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipp as sc

from livegrid.codec import Frame, FrameKind
from worker.plotters.errors import float_values, unit_str
from worker.plotters.image import (
    axis_of,
    manual_or_auto,
    rebin_axis,
    rebin_factor,
    reduce_as_unit,
)
from worker.plotters.options import RateOptions

#: The most values a slicer frame holds (16 MiB of float32).
MAX_SLICER_VALUES = 2**22


class SlicerParams(RateOptions):
    """``log``: logarithmic colour scale; ``clim``, ``aspect``, ``per_second`` (see options)."""


def compute(data: sc.DataArray, params: Mapping[str, Any], display_max: int) -> Frame:
    """A slicer frame of 3-D ``data`` (see the module docstring)."""
    log = bool(params["log"])
    z, y, x = (axis_of(data, dim, "slicer") for dim in data.dims)
    fy = rebin_factor(y.centres.size, display_max)
    fx = rebin_factor(x.centres.size, display_max)
    per_slice = -(-y.centres.size // fy) * -(-x.centres.size // fx)
    fz = rebin_factor(z.centres.size, max(1, MAX_SLICER_VALUES // per_slice))
    values = reduce_as_unit(float_values(data), data.unit, (fz, fy, fx)).astype(np.float32)
    z, y, x = rebin_axis(z, fz), rebin_axis(y, fy), rebin_axis(x, fx)
    return Frame(
        kind=FrameKind.SLICER,
        labels={"x": x.dim, "y": y.dim, "z": z.dim, "values": data.name or "values"},
        units={"x": x.unit, "y": y.unit, "z": z.unit, "values": unit_str(data.unit)},
        arrays={"values": values, "x": x.centres, "y": y.centres, "z": z.centres},
        attrs={
            "clim": manual_or_auto(params, values, log=log),
            "log": log,
            "slice_dim": z.dim,
            "x_edges": x.extent,
            "y_edges": y.extent,
        },
    )
