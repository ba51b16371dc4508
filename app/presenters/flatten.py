"""Flatten: an image whose axes are several dims each; the hover names every coordinate.

The pixel's original coordinates come from :attr:`Prepared.x_labels` and
``y_labels``: the hover's ``CustomJSHover`` formatters hold them and look up the
pixel under the cursor in the browser, so moving the mouse costs no server work.
Labels are sent again only when they change (new coords or rebinning).
"""

from __future__ import annotations

from typing import Any, ClassVar

from bokeh.models import CustomJSHover

from app.prepare import Prepared
from app.presenters.image import ImageLayer
from livegrid.codec import FrameKind

#: The label of the pixel at ``value`` between the axis edges ``lo`` and ``hi``.
_LOOKUP = """
const n = labels.length;
const i = Math.floor((value - lo) / (hi - lo) * n);
return (i >= 0 && i < n) ? labels[i] : '';
"""


class FlattenLayer(ImageLayer):
    """A flattened cube; new frames change the image, colours and, if new, the labels."""

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.FLATTEN})

    def _forget_shown(self) -> None:
        super()._forget_shown()
        self._shown_hover: tuple[Any, ...] | None = None

    def _apply(self, prepared: Prepared | None) -> None:
        super()._apply(prepared)
        hover = self.handles.get("hover")
        if prepared is None or hover is None:
            return
        data = prepared.data
        x0, y0 = data["x"][0], data["y"][0]
        shown = (prepared.x_labels, prepared.y_labels, x0, y0, data["dw"][0], data["dh"][0])
        if shown == self._shown_hover:
            return
        self._shown_hover = shown
        hover.tooltips = [
            (prepared.x_label, "$x{x}"),
            (prepared.y_label, "$y{y}"),
            (prepared.value_label, "@image"),
        ]
        hover.formatters = {
            "$x": CustomJSHover(
                args={"labels": list(prepared.x_labels), "lo": x0, "hi": x0 + data["dw"][0]},
                code=_LOOKUP,
            ),
            "$y": CustomJSHover(
                args={"labels": list(prepared.y_labels), "lo": y0, "hi": y0 + data["dh"][0]},
                code=_LOOKUP,
            ),
        }
