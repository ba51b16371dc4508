"""Which layers of a cell share which plot: a pure decision over the cell's layer specs.

A cell shows one plot that overlays all its layers when they fit on the same
axes. The first data layer decides a plot's type and axes; further data layers
join it only where overlaying reads well (several curves with a legend); static
overlays (rectangles, vertical and horizontal lines) are drawn on top of the
first plot with numeric axes. Layers that fit nowhere get their own plot below,
so nothing configured is silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.prepare import is_overlay
from livegrid.codec import FrameKind


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a cell as configured: what it is, not what it currently shows.

    ``params`` are the layer's display settings; presenters read ``cmap`` (image,
    slicer), ``color`` (lines, overlays) and ``log`` (the scale to assume before
    the first frame arrives).
    """

    layer_id: str
    kind: FrameKind
    title: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)


class PlotType(StrEnum):
    RASTER = "raster"  # image or slicer with a colour bar
    XY = "xy"  # curves over a numeric x axis
    TIME = "time"  # curves over a datetime x axis
    BARS = "bars"  # bars over named categories
    TABLE = "table"  # a data table, no axes
    SHAPES = "shapes"  # static overlays with no data layer to draw on


_PLOT_OF_KIND = {
    FrameKind.IMAGE: PlotType.RASTER,
    FrameKind.SLICER: PlotType.RASTER,
    FrameKind.LINES: PlotType.XY,
    FrameKind.TIMESERIES: PlotType.TIME,
    FrameKind.BARS: PlotType.BARS,
    FrameKind.TABLE: PlotType.TABLE,
    FrameKind.OVERLAY_1D: PlotType.XY,
    FrameKind.FLATTEN: PlotType.RASTER,
    FrameKind.CORRELATION_1D: PlotType.XY,
    FrameKind.CORRELATION_2D: PlotType.RASTER,
}

#: Plot types where a second data layer of the same type is overlaid, not stacked.
_SHARED = frozenset({PlotType.XY, PlotType.TIME})

#: Plot types each static overlay can be drawn on (its coordinates must be the axes' kind).
_HOSTS = {
    FrameKind.RECTANGLES: frozenset({PlotType.RASTER, PlotType.XY, PlotType.SHAPES}),
    FrameKind.VLINES: frozenset({PlotType.RASTER, PlotType.XY, PlotType.SHAPES}),
    FrameKind.HLINES: frozenset(
        {PlotType.RASTER, PlotType.XY, PlotType.TIME, PlotType.BARS, PlotType.SHAPES}
    ),
}


@dataclass(frozen=True)
class PlotGroup:
    """Layers drawn in one plot; ``layers[0]`` decides the axes and scales."""

    plot: PlotType
    layers: tuple[LayerSpec, ...]

    @property
    def base(self) -> LayerSpec:
        return self.layers[0]


def plan_cell(layers: Sequence[LayerSpec]) -> tuple[PlotGroup, ...]:
    """Group a cell's layers into plots, in the order they are shown (top to bottom)."""
    groups: list[tuple[PlotType, list[LayerSpec]]] = []
    for spec in layers:
        if is_overlay(spec.kind):
            continue
        plot = _PLOT_OF_KIND[spec.kind]
        target = next((g for g in groups if plot in _SHARED and g[0] is plot), None)
        if target is None:
            groups.append((plot, [spec]))
        else:
            target[1].append(spec)
    for spec in layers:
        if not is_overlay(spec.kind):
            continue
        host = next((g for g in groups if g[0] in _HOSTS[spec.kind]), None)
        if host is None:
            host = (PlotType.SHAPES, [])
            groups.append(host)
        host[1].append(spec)
    return tuple(PlotGroup(plot, tuple(specs)) for plot, specs in groups)
