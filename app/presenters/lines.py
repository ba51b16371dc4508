"""Lines: curves over a numeric x axis; several layers share one plot with a legend."""

from __future__ import annotations

from typing import Any, ClassVar

import holoviews as hv

from app.prepare import Prepared
from app.presenters.base import LayerPresenter, aspect_opts, colour_opts, dimension
from livegrid.codec import FrameKind


class CurvesLayer(LayerPresenter):
    """Curves on x/y axes: the base layer's ``log`` decides the y scale (structure: a
    change rebuilds), its ``log_x`` and ``aspect`` params the x scale and the shape."""

    def needs_rebuild(self, prepared: Prepared) -> bool:
        return super().needs_rebuild(prepared) or (self.is_base and prepared.log != self._built_log)

    def figure_opts(self) -> dict[str, Any]:
        return {
            **aspect_opts(self.spec.params),
            "logy": self._built_log,
            "logx": bool(self.spec.params.get("log_x")),
        }


class LinesLayer(CurvesLayer):
    """A curve. The base layer's ``log`` decides the y scale, which is structure; its
    ``log_x`` and ``aspect`` params the x scale and the plot's shape."""

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.LINES})

    def _element(self, prepared: Prepared | None) -> hv.Element:
        x_label, y_label = (prepared.x_label, prepared.y_label) if prepared else ("x", "y")
        # A stand-in with positive values (valid on a log axis): the hook sets the real data.
        curve = hv.Curve(
            ([0.0, 1.0], [1.0, 1.0]),
            kdims=[dimension("x", x_label)],
            vdims=[dimension("y", y_label)],
            label=self.spec.title,
        )
        return curve.opts(tools=["hover"], backend="bokeh", **colour_opts(self.spec.params))
