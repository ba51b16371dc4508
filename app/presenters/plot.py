"""A cell's plots in one session: built once with HoloViews, then fed data directly.

:class:`CellPresenter` builds one HoloViews plot per :class:`PlotGroup` of the
cell (usually one: every layer overlaid) and renders it through
``pn.pane.HoloViews``. Hooks capture each layer's Bokeh models when the pane is
rendered into the session's document; :meth:`CellPresenter.update` then only
assigns prepared data to them.

Axes use ``DataRange1d`` (installed by the plot's hook in place of HoloViews'
fixed ranges), so the browser rescales to new data by itself until the user
zooms or pans, and the server never touches ranges after the build.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import holoviews as hv
import panel as pn
from bokeh.models import DataRange1d, FactorRange

from app.prepare import Prepared, is_overlay
from app.presenters.base import LayerPresenter, weak_hook
from app.presenters.correlation import Correlation1DLayer, Correlation2DLayer
from app.presenters.flatten import FlattenLayer
from app.presenters.image import ImageLayer
from app.presenters.lines import LinesLayer
from app.presenters.overlay_1d import Overlay1DLayer
from app.presenters.overlays import HLinesLayer, RectanglesLayer, VLinesLayer
from app.presenters.plan import LayerSpec, PlotGroup, PlotType, plan_cell
from app.presenters.slicer import SlicerLayer
from app.presenters.timeseries import TimeseriesLayer
from app.presenters.values import BarsLayer, TableLayer
from livegrid.codec import FrameKind

_LAYER_TYPES: dict[FrameKind, type[LayerPresenter]] = {
    kind: cls
    for cls in (
        ImageLayer,
        SlicerLayer,
        LinesLayer,
        TimeseriesLayer,
        BarsLayer,
        TableLayer,
        RectanglesLayer,
        VLinesLayer,
        HLinesLayer,
        Overlay1DLayer,
        FlattenLayer,
        Correlation1DLayer,
        Correlation2DLayer,
    )
    for kind in cls.kinds
}

#: Fraction of the data span left free around curves and bars (images fill the plot).
_RANGE_PADDING = 0.05


class PlotPresenter:
    """One plot of a cell: its layers overlaid in one Bokeh figure (or one table)."""

    def __init__(self, group: PlotGroup, prepared: Mapping[str, Prepared]) -> None:
        self.group = group
        self.layers: dict[str, LayerPresenter] = {
            spec.layer_id: _LAYER_TYPES[spec.kind](
                spec, prepared.get(spec.layer_id), base=index == 0
            )
            for index, spec in enumerate(group.layers)
        }
        base = self.layers[group.base.layer_id]
        self.figure: Any = None
        if group.plot is PlotType.TABLE:
            element = base.element()
        else:
            data_layers = [s for s in group.layers if not is_overlay(s.kind)]
            element = hv.Overlay([layer.element() for layer in self.layers.values()]).opts(
                hooks=[weak_hook(self._capture_figure)],
                responsive=True,
                min_height=120,
                title="",
                shared_axes=False,
                show_legend=len(data_layers) > 1,
                backend="bokeh",
                **base.figure_opts(),
            )
        self._pane = pn.pane.HoloViews(
            element, backend="bokeh", linked_axes=False, sizing_mode="stretch_both"
        )
        widgets = [widget for layer in self.layers.values() for widget in layer.widgets()]
        self.panel: pn.viewable.Viewable = (
            pn.Column(*widgets, self._pane, sizing_mode="stretch_both") if widgets else self._pane
        )

    def _capture_figure(self, plot: Any, element: Any) -> None:
        figure = plot.handles["plot"]
        data = [
            layer.renderer
            for layer in self.layers.values()
            if not is_overlay(layer.spec.kind) and layer.renderer is not None
        ]
        padding = 0.0 if self.group.plot is PlotType.RASTER else _RANGE_PADDING
        renderers: Any = data or "auto"
        if not isinstance(figure.x_range, FactorRange):
            figure.x_range = DataRange1d(renderers=renderers, range_padding=padding)
        figure.y_range = DataRange1d(renderers=renderers, range_padding=padding)
        self.figure = figure
        for layer in self.layers.values():
            layer.decorate(figure)

    def dispose(self) -> None:
        for layer in self.layers.values():
            layer.dispose()
        self.figure = None


class CellPresenter:
    """A cell's plots for one session; ``panel`` goes into the session's grid.

    Built once (structure) from the frames in ``initial`` and placeholders for
    the rest; :meth:`update` shows later frames without rebuilding. Rebuild (a new
    presenter) only when :meth:`needs_rebuild` says so.
    """

    def __init__(
        self,
        cell_title: str,
        layers: Sequence[LayerSpec],
        initial: Mapping[str, Prepared] | None = None,
    ) -> None:
        if not layers:
            raise ValueError(f"cell {cell_title!r} has no layers to present")
        self.title = cell_title
        self.plots = tuple(PlotPresenter(group, initial or {}) for group in plan_cell(layers))
        self._layers = {
            layer_id: layer for plot in self.plots for layer_id, layer in plot.layers.items()
        }
        panels = [plot.panel for plot in self.plots]
        self.panel: pn.viewable.Viewable = (
            panels[0]
            if len(panels) == 1
            else pn.Column(*panels, name=cell_title, sizing_mode="stretch_both")
        )

    def layer(self, layer_id: str) -> LayerPresenter:
        """The presenter of one layer; ``KeyError`` for a layer not in this cell."""
        return self._layers[layer_id]

    @property
    def rendered(self) -> bool:
        """Whether every layer's Bokeh models are captured (the panel is in a document)."""
        return all(layer.rendered for layer in self._layers.values())

    def needs_rebuild(self, layer_id: str, prepared: Prepared) -> bool:
        """Whether ``prepared`` needs a new presenter (e.g. the colour scale turned log)."""
        return self.layer(layer_id).needs_rebuild(prepared)

    def update(self, layer_id: str, prepared: Prepared) -> bool:
        """Show ``prepared`` on the layer's glyph: a data-only change.

        Returns False when the plot is not rendered yet; the layer then shows
        ``prepared`` as soon as it is, so a retry on the next tick is harmless.
        """
        return self.layer(layer_id).update(prepared)

    def clear(self, layer_id: str) -> bool:
        """Show nothing for the layer (its job restarted or failed)."""
        return self.layer(layer_id).clear()

    def dispose(self) -> None:
        """Release Bokeh models and frames; call when the cell leaves the session."""
        for plot in self.plots:
            plot.dispose()
