"""What the worker pool offers: sources, workflows and plotters, for the UI's forms.

Values only (no Redis): workers publish a :class:`Catalogue` to ``ns:catalogue``
through :class:`livegrid.stores.catalogue.CatalogueStore`; replicas read it to
offer a job's source and workflow and a layer's plotter. Replicas never import
the worker's compute code: the catalogue is the contract between them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "Catalogue",
    "PlotterEntry",
    "SourceEntry",
    "WorkflowEntry",
]


class SourceEntry(BaseModel):
    """A data source; ``ndim`` None when only the first message will tell (Kafka)."""

    name: str
    ndim: int | None = None
    dims: tuple[str, ...] = ()
    unit: str = ""
    description: str = ""


class WorkflowEntry(BaseModel):
    name: str
    description: str = ""
    outputs: tuple[str, ...]
    #: JSON schema of the params; the UI edits params as JSON and shows its defaults.
    params_schema: dict[str, Any] = Field(default_factory=dict)
    #: Input dimensionality it needs; None: any.
    input_ndim: int | None = None
    #: Dimensionality of its outputs; None: that of its input.
    output_ndim: int | None = None


class PlotterEntry(BaseModel):
    name: str
    description: str = ""
    #: Every dimensionality it accepts; empty for static overlays (no data).
    accepts: tuple[int, ...] = ()
    #: Offered only for 1-D data along time (timeseries).
    needs_time: bool = False
    #: Offered for 1-D data along time at all (lines is not: timeseries is better).
    for_time: bool = True
    defaults: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_static(self) -> bool:
        return not self.accepts


class Catalogue(BaseModel):
    sources: tuple[SourceEntry, ...] = ()
    workflows: tuple[WorkflowEntry, ...] = ()
    plotters: tuple[PlotterEntry, ...] = ()

    def source(self, name: str) -> SourceEntry | None:
        return next((s for s in self.sources if s.name == name), None)

    def workflow(self, name: str) -> WorkflowEntry | None:
        return next((w for w in self.workflows if w.name == name), None)

    def sources_for(self, workflow: str) -> list[str]:
        """Sources a workflow can consume (those of unknown shape included)."""
        flow = self.workflow(workflow)
        need = flow.input_ndim if flow is not None else None
        return [s.name for s in self.sources if need is None or s.ndim in (None, need)]

    def output_ndim(self, workflow: str, source: str) -> int | None:
        """Dimensionality of a job's outputs; None when unknown."""
        flow, src = self.workflow(workflow), self.source(source)
        if flow is not None and flow.output_ndim is not None:
            return flow.output_ndim
        return src.ndim if src is not None else None

    def plotters_for(self, workflow: str, source: str) -> list[str]:
        """Data plotters that can show the outputs of a job, best first; all when unknown."""
        data = [p for p in self.plotters if not p.is_static]
        ndim = self.output_ndim(workflow, source)
        if ndim is None:
            return [p.name for p in data]
        flow = self.workflow(workflow)
        along_time = flow is not None and flow.output_ndim is not None and ndim == 1
        fits = [p for p in data if ndim in p.accepts]
        if along_time:
            fits = sorted((p for p in fits if p.for_time), key=lambda p: not p.needs_time)
        else:
            fits = [p for p in fits if not p.needs_time]
        return [p.name for p in fits]
