"""Named values: bars over named categories, or a table of name, value and unit."""

from __future__ import annotations

from typing import Any, ClassVar

import holoviews as hv
from bokeh.models import FactorRange

from app.prepare import Prepared
from app.presenters.base import LayerPresenter, colour_opts, dimension
from livegrid.codec import FrameKind


class BarsLayer(LayerPresenter):
    """Bars; a frame with other names changes the x categories (a property, not a model)."""

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.BARS})

    def _forget_shown(self) -> None:
        super()._forget_shown()
        self._shown_factors: tuple[str, ...] | None = None

    def _element(self, prepared: Prepared | None) -> hv.Element:
        x_label, y_label = (prepared.x_label, prepared.y_label) if prepared else ("name", "y")
        bars = hv.Bars(
            ([""], [0.0]),
            kdims=[dimension("x", x_label)],
            vdims=[dimension("y", y_label)],
            label=self.spec.title,
        )
        return bars.opts(tools=["hover"], backend="bokeh", **colour_opts(self.spec.params))

    def _apply(self, prepared: Prepared | None) -> None:
        factors = prepared.factors if prepared is not None else ()
        x_range = self.handles["plot"].x_range if "plot" in self.handles else None
        if factors != self._shown_factors and isinstance(x_range, FactorRange):
            self._shown_factors = factors
            x_range.factors = list(factors)
        super()._apply(prepared)


class TableLayer(LayerPresenter):
    """A data table of name, value and unit."""

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.TABLE})

    def _element(self, prepared: Prepared | None) -> hv.Element:
        table = hv.Table(
            {"name": [], "value": [], "unit": []},
            kdims=[dimension("name", "Name")],
            vdims=[dimension("value", "Value"), dimension("unit", "Unit")],
            label=self.spec.title,
        )
        return table.opts(backend="bokeh")

    def _capture(self, plot: Any, element: Any) -> None:
        super()._capture(plot, element)
        # HoloViews tables have no ``responsive`` option; the pane reads the sizing from the model.
        self.handles["table"].sizing_mode = "stretch_both"
