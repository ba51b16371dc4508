"""The present stage: per-session plots fed with data prepared once per replica.

HoloViews builds each session's plot once; each new frame then updates the
session's Bokeh sources and colour mappers directly (see ``base``). Which layers
share a plot is decided by the pure :func:`plan_cell`.
"""

from app.presenters.base import LayerPresenter
from app.presenters.cell import CellView, freshness_text, state_text
from app.presenters.plan import LayerSpec, PlotGroup, PlotType, plan_cell
from app.presenters.plot import CellPresenter, PlotPresenter
from app.presenters.slicer import SlicerLayer

__all__ = [
    "CellPresenter",
    "CellView",
    "LayerPresenter",
    "LayerSpec",
    "PlotGroup",
    "PlotPresenter",
    "PlotType",
    "SlicerLayer",
    "freshness_text",
    "plan_cell",
    "state_text",
]
