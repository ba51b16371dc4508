"""Plot options several plotters share, validated by their params models.

Options the worker applies are in the frame (``clim``, ``log_x``, per-second
values); options only the replica applies (``aspect``) are validated here too,
so a typo puts the layer in ERROR instead of being ignored.

========== ================================== ===========================================
option     plotters                           meaning
========== ================================== ===========================================
clim       image, slicer, flatten, corr. 2-D  ``[lo, hi]`` colour limits instead of automatic
log_x      lines, overlay_1d, corr. 1-D       logarithmic x axis
aspect     every plotter with axes            ``free`` (fill the cell), ``square``, ``equal``
per_second lines, image, slicer, overlay_1d,  values divided by the seconds of data behind
           flatten                            them (counts per second)
========== ================================== ===========================================
"""

from __future__ import annotations

from typing import Literal

import scipp as sc
from pydantic import Field, model_validator

from worker.plotters.errors import LogScaleParams, PlotterError

Aspect = Literal["free", "square", "equal"]


class AxesOptions(LogScaleParams):
    """``log`` (colour or y), ``aspect``."""

    aspect: Aspect = "free"


class ColourOptions(AxesOptions):
    """Adds manual colour limits ``clim`` (None: from the data)."""

    clim: list[float] | None = Field(None, min_length=2, max_length=2)

    @model_validator(mode="after")
    def _ordered(self) -> ColourOptions:
        if self.clim is not None:
            lo, hi = self.clim
            if not lo < hi:
                raise ValueError(f"clim must be [low, high] with low < high, not {self.clim}")
            if self.log and lo <= 0:
                raise ValueError(f"a log colour scale needs clim above 0, not {self.clim}")
        return self


class RateOptions(ColourOptions):
    """Adds ``per_second``."""

    per_second: bool = False


class CurveOptions(AxesOptions):
    """``log`` (y), ``log_x``, ``aspect``, ``per_second``."""

    log_x: bool = False
    per_second: bool = False


def per_second(
    data: sc.DataArray, data_start: int | None, data_end: int | None, plotter: str
) -> sc.DataArray:
    """``data`` divided by the seconds between ``data_start`` and ``data_end`` (ns)."""
    if data_start is None or data_end is None or data_end <= data_start:
        raise PlotterError(
            f"The {plotter} plotter cannot show counts per second: the data covers no known "
            "time span yet; turn per_second off or wait for a second update."
        )
    seconds = sc.scalar((data_end - data_start) / 1e9, unit="s")
    return data.to(dtype="float64") / seconds
