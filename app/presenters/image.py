"""Images: a raster with a colour bar, log colour mapper when the frame says ``log``."""

from __future__ import annotations

from typing import ClassVar

import holoviews as hv
import numpy as np

from app.prepare import Prepared
from app.presenters.base import LayerPresenter, dimension
from livegrid.codec import FrameKind


class ImageLayer(LayerPresenter):
    """An image layer; new frames change the image data and the colour limits.

    The colour mapper's type (linear or log) is structure: a frame whose ``log``
    differs from the built one needs a rebuild.
    """

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.IMAGE})

    def _forget_shown(self) -> None:
        super()._forget_shown()
        self._shown_clim: tuple[float, float] | None = None
        self._shown_value_label: str | None = None

    def needs_rebuild(self, prepared: Prepared) -> bool:
        return super().needs_rebuild(prepared) or prepared.log != self._built_log

    def _element(self, prepared: Prepared | None) -> hv.Element:
        labels = (
            (prepared.x_label, prepared.y_label, prepared.value_label)
            if prepared is not None
            else ("x", "y", "values")
        )
        clim = prepared.clim if prepared is not None else None
        if clim is None:
            clim = (1.0, 10.0) if self._built_log else (0.0, 1.0)
        # A 1x1 stand-in: the hook puts the real data on the Bokeh source.
        image = hv.Image(
            np.full((1, 1), clim[0]),
            bounds=(0, 0, 1, 1),
            kdims=[dimension("x", labels[0]), dimension("y", labels[1])],
            vdims=[dimension("values", labels[2])],
            label=self.spec.title,
        )
        return image.opts(
            cmap=self.spec.params.get("cmap", "viridis"),
            colorbar=True,
            clabel=labels[2],
            logz=self._built_log,
            clim=clim,
            tools=["hover"],
            backend="bokeh",
        )

    def _apply(self, prepared: Prepared | None) -> None:
        super()._apply(prepared)
        if prepared is None:
            return
        self._show_colours(prepared)

    def _show_colours(self, prepared: Prepared) -> None:
        clim = prepared.clim
        mapper = self.handles.get("color_mapper")
        if clim is not None and clim != self._shown_clim and mapper is not None:
            self._shown_clim = clim
            mapper.update(low=clim[0], high=clim[1])
        colorbar = self.handles.get("colorbar")
        if prepared.value_label != self._shown_value_label and colorbar is not None:
            self._shown_value_label = prepared.value_label
            colorbar.title = prepared.value_label
