"""Which layers of the workspace a job feeds: a pure function over the config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from livegrid.models import Workspace


@dataclass(frozen=True)
class Binding:
    """One layer fed by a job output. Layers are immutable: a change is a new id."""

    layer_id: str
    output: str
    plotter: str
    title: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    #: Further outputs of the job the plotter combines with ``output`` (ADR 0014).
    inputs: tuple[str, ...] = ()


def bindings_of_job(workspace: Workspace, job_id: str) -> dict[str, Binding]:
    """The data layers bound to ``job_id``, by layer id."""
    out: dict[str, Binding] = {}
    for _grid, _cell, layer in workspace.layers():
        if layer.job == job_id and layer.output is not None:
            out[layer.id] = Binding(
                layer_id=layer.id,
                output=layer.output,
                plotter=str(layer.plotter),
                title=layer.title,
                params=dict(layer.params),
                inputs=tuple(layer.inputs),
            )
    return out
