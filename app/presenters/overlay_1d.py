"""overlay_1d: one curve per row (ROI spectra), each in its frame's colour, with a legend.

All curves are one Bokeh ``MultiLine`` whose source holds ``xs``, ``ys``, ``color``
and ``label`` columns, so a frame with another number of rows is still a data-only
update; the legend reads its entries from the ``label`` column.
"""

from __future__ import annotations

from typing import Any, ClassVar

import holoviews as hv
from bokeh.core.property.vectorization import field
from bokeh.models.annotations import Legend, LegendItem

from app.prepare import Prepared
from app.presenters.base import dimension
from app.presenters.lines import CurvesLayer
from livegrid.codec import FrameKind


class Overlay1DLayer(CurvesLayer):
    """Overlaid curves; ``log`` (y) is structure like a line's, ``log_x`` comes from params."""

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.OVERLAY_1D})

    def _element(self, prepared: Prepared | None) -> hv.Element:
        x_label, y_label = (prepared.x_label, prepared.y_label) if prepared else ("x", "y")
        # A stand-in with positive values (valid on log axes): the hook sets the real data.
        path = hv.Path(
            [{"x": [1.0, 2.0], "y": [1.0, 1.0]}],
            kdims=[dimension("x", x_label), dimension("y", y_label)],
            label=self.spec.title,
        )
        return path.opts(line_width=2, backend="bokeh")

    def _capture(self, plot: Any, element: Any) -> None:
        renderer = plot.handles.get("glyph_renderer")
        if renderer is not None:
            renderer.glyph.line_color = field("color")
        super()._capture(plot, element)

    def decorate(self, figure: Any) -> None:
        """One legend entry per row, read from the ``label`` column by the browser."""
        if self.renderer is None:
            return
        item = LegendItem(label=field("label"), renderers=[self.renderer])
        if figure.legend:
            figure.legend[0].items.append(item)
        else:
            figure.add_layout(Legend(items=[item], location="top_right"))
