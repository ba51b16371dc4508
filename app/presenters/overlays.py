"""Static overlays drawn over a data layer: rectangles, vertical and horizontal lines."""

from __future__ import annotations

from typing import Any, ClassVar

import holoviews as hv

from app.prepare import Prepared
from app.presenters.base import LayerPresenter
from livegrid.codec import FrameKind

_DEFAULT_COLOUR = "#e4572e"


class RectanglesLayer(LayerPresenter):
    """Outlined rectangles (regions of interest)."""

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.RECTANGLES})

    def _element(self, prepared: Prepared | None) -> hv.Element:
        return hv.Rectangles([]).opts(
            fill_alpha=0, line_width=2, line_color=_colour(self.spec.params), backend="bokeh"
        )


class VLinesLayer(LayerPresenter):
    """Vertical lines at the frame's ``x`` positions."""

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.VLINES})

    def _element(self, prepared: Prepared | None) -> hv.Element:
        return hv.VLines([]).opts(color=_colour(self.spec.params), line_width=2, backend="bokeh")


class HLinesLayer(LayerPresenter):
    """Horizontal lines at the frame's ``y`` positions."""

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.HLINES})

    def _element(self, prepared: Prepared | None) -> hv.Element:
        return hv.HLines([]).opts(color=_colour(self.spec.params), line_width=2, backend="bokeh")


def _colour(params: Any) -> str:
    return str(params.get("color") or _DEFAULT_COLOUR)
