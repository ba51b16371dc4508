"""The catalogue this worker build offers (``livegrid.catalogue``), built from its registries."""

from __future__ import annotations

from collections.abc import Mapping

from livegrid.catalogue import Catalogue, PlotterEntry, SourceEntry, WorkflowEntry
from worker.plotters import PLOTTERS, compatible_plotters
from worker.workflows import WORKFLOWS


def build_catalogue(sources: Mapping[str, SourceEntry]) -> Catalogue:
    """Every workflow and plotter of this build, and ``sources`` as given."""
    on_time = set(compatible_plotters(1, ["time"]))
    return Catalogue(
        sources=tuple(sources.values()),
        workflows=tuple(
            WorkflowEntry(
                name=spec.name,
                description=spec.description,
                outputs=spec.outputs,
                params_schema=spec.params.model_json_schema(),
                input_ndim=spec.input_ndim,
                output_ndim=spec.output_ndim,
            )
            for spec in WORKFLOWS.values()
        ),
        plotters=tuple(
            PlotterEntry(
                name=spec.name,
                description=spec.description,
                accepts=tuple(sorted(spec.accepts)) if not spec.is_static else (),
                needs_time=spec.needs_time,
                for_time=spec.name in on_time,
                defaults=spec.defaults,
            )
            for spec in PLOTTERS.values()
        ),
    )


def synthetic_sources() -> dict[str, SourceEntry]:
    """The synthetic instrument's sources as catalogue entries."""
    from worker.sources.synthetic import describe

    return {
        name: SourceEntry(
            name=name, ndim=info.ndim, dims=info.dims, unit=info.unit, description=info.description
        )
        for name, info in describe().items()
    }
