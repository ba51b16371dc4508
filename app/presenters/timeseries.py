"""Time series: curves over a datetime x axis (times travel as ms since the epoch)."""

from __future__ import annotations

from typing import ClassVar

import holoviews as hv
import numpy as np

from app.prepare import Prepared
from app.presenters.base import LayerPresenter, colour_opts, dimension
from livegrid.codec import FrameKind


class TimeseriesLayer(LayerPresenter):
    """A value history; the stand-in's datetime64 x makes HoloViews build a datetime axis."""

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.TIMESERIES})

    def _element(self, prepared: Prepared | None) -> hv.Element:
        x_label, y_label = (prepared.x_label, prepared.y_label) if prepared else ("time", "y")
        curve = hv.Curve(
            (np.array([0, 1], dtype="datetime64[ms]"), [0.0, 1.0]),
            kdims=[dimension("x", x_label)],
            vdims=[dimension("y", y_label)],
            label=self.spec.title,
        )
        return curve.opts(tools=["hover"], backend="bokeh", **colour_opts(self.spec.params))
