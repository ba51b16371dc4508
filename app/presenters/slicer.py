"""Slicers: one slice of a 3-D cube as an image, picked by a per-session slider.

The replica prepares the image data of every slice once (views of the cube);
a slider move in one session assigns that session's source the chosen slice
and touches nothing else. Colour limits are global to the cube, so slices
compare at a glance.
"""

from __future__ import annotations

from typing import Any, ClassVar

import panel as pn
from panel.viewable import Viewable

from app.html import widget_title
from app.prepare import ColumnData, Prepared
from app.presenters.image import ImageLayer
from app.presenters.plan import LayerSpec
from livegrid.codec import FrameKind


class SlicerLayer(ImageLayer):
    """A slicer layer with its own slider (one per session: sessions slice independently)."""

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.SLICER})

    def __init__(self, spec: LayerSpec, prepared: Prepared | None, *, base: bool) -> None:
        super().__init__(spec, prepared, base=base)
        self._index = 0
        self._syncing = False
        self.slider = pn.widgets.IntSlider(
            label=widget_title(spec.title or "slice"),
            start=0,
            end=1,
            value=0,
            sizing_mode="stretch_width",
        )
        if prepared is not None:
            self._sync_slider(prepared)
        self._watcher: Any = self.slider.param.watch(self._on_slide, "value")

    def widgets(self) -> list[Viewable]:
        return [self.slider]

    def dispose(self) -> None:
        super().dispose()
        if self._watcher is not None:
            self.slider.param.unwatch(self._watcher)
            self._watcher = None

    def _data(self, prepared: Prepared | None) -> ColumnData:
        if prepared is None:
            return super()._data(None)
        return prepared.slices[min(self._index, len(prepared.slices) - 1)]

    def _apply(self, prepared: Prepared | None) -> None:
        if prepared is not None:
            self._sync_slider(prepared)
        super()._apply(prepared)

    def _on_slide(self, event: Any) -> None:
        if self._syncing:
            return
        self._index = int(event.new)
        latest = self.latest
        if latest is None:
            return
        self._sync_slider(latest)
        if self.rendered:
            self._show(self._data(latest))

    def _sync_slider(self, prepared: Prepared) -> None:
        """Fit the slider to the frame's slices, changing only what differs."""
        count = len(prepared.slices)
        self._index = min(self._index, count - 1)
        wanted = {
            "end": max(count - 1, 1),
            "value": self._index,
            "disabled": count < 2,
            "label": widget_title(f"{prepared.slice_label} = {prepared.slice_values[self._index]}"),
        }
        changed = {k: v for k, v in wanted.items() if getattr(self.slider, k) != v}
        if changed:
            self._syncing = True
            try:
                self.slider.param.update(changed)
            finally:
                self._syncing = False
