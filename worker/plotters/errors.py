"""What every plotter shares: PlotterError, the input checks, the params base model."""

from __future__ import annotations

import numpy as np
import scipp as sc
from pydantic import BaseModel, ConfigDict

#: dtypes a coordinate may have to serve as a numeric axis.
COORD_DTYPES = (sc.DType.float64, sc.DType.float32, sc.DType.int64, sc.DType.int32)
#: dtypes plotters accept as values.
NUMERIC_DTYPES = (*COORD_DTYPES, sc.DType.bool)

#: Units scipp prints in SI base form that users know by another name.
_UNIT_NAMES = {"100Pa": "mbar"}


class PlotterError(ValueError):
    """Data or params a plotter cannot show; the message is a sentence for the user."""


class PlotterParams(BaseModel):
    """Base of every plotter's params: strict and finite.

    A layer's params are shared with the replica's presenter (``cmap``, ``color``,
    ...): keys compute does not know are the presenter's and are passed over.
    """

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True, allow_inf_nan=False)


class LogScaleParams(PlotterParams):
    log: bool = False


def unit_str(unit: sc.Unit | None) -> str:
    """A unit as axis text: '' for none or dimensionless."""
    if unit is None or unit == sc.units.dimensionless:
        return ""
    text = str(unit)
    return _UNIT_NAMES.get(text, text)


def check_plottable(data: sc.DataArray, plotter: str, origin: str) -> None:
    """Raise :class:`PlotterError` unless ``data`` holds a non-empty array of numbers.

    ``origin`` names the data in messages, e.g. "'monitor_1' output 'latest'".
    """
    if data.is_binned:
        raise PlotterError(
            f"The {plotter} plotter needs histogrammed data, but {origin} holds events; "
            "histogram them in the workflow first."
        )
    if data.dtype not in NUMERIC_DTYPES:
        raise PlotterError(
            f"The {plotter} plotter needs numbers, but {origin} holds {data.dtype} values."
        )
    empty = [dim for dim, size in data.sizes.items() if size == 0]
    if empty:
        raise PlotterError(
            f"The {plotter} plotter has nothing to show: {origin} has no values along "
            f"{', '.join(repr(dim) for dim in empty)}."
        )


def float_values(data: sc.DataArray) -> np.ndarray:
    """``data``'s values as float64 with masked elements NaN. May be a view: do not mutate."""
    values = np.asarray(data.values, dtype=np.float64)
    masks = [mask for mask in data.masks.values() if mask.dtype == sc.DType.bool]
    if not masks:
        return values
    hidden = np.zeros(values.shape, dtype=bool)
    for mask in masks:
        hidden |= mask.broadcast(sizes=data.sizes).values
    return np.where(hidden, np.nan, values)
