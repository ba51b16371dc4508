"""Plotters: the compute stage, from a workflow output to a plot-ready :class:`Frame`.

``PLOTTERS`` names every plotter with the dimensionality it shows and its params
model; :func:`compute_frame` checks the input, validates the params and fills in
the frame's title and times. The correlation histograms also take the layer's
``inputs`` (further outputs of the same job, ADR 0014). Static overlays (``ndim``
None) need no data; they are computed by :func:`livegrid.overlays.compute_overlay`,
which replicas share.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import scipp as sc
from pydantic import BaseModel, ValidationError

from livegrid import overlays
from livegrid.codec import Frame, FrameKind
from worker.plotters import (
    correlation,
    flatten,
    image,
    lines,
    overlay,
    slicer,
    timeseries,
    values,
)
from worker.plotters.errors import PlotterError, check_plottable
from worker.plotters.options import per_second

__all__ = [
    "PLOTTERS",
    "PlotterError",
    "PlotterSpec",
    "compatible_plotters",
    "compute_frame",
]

Compute = Callable[[sc.DataArray, Mapping[str, Any], int], Frame]
"""``(data, validated params, display_max) -> Frame`` without title or times."""

MultiCompute = Callable[
    [sc.DataArray, Sequence[sc.DataArray | None], Mapping[str, Any], int], Frame
]
"""``(data, inputs, validated params, display_max) -> Frame``: plotters of several series."""


@dataclass(frozen=True)
class PlotterSpec:
    """A plotter as the UI offers it."""

    name: str
    kind: FrameKind
    #: Dimensionality it is made for; None for a static overlay that takes no data.
    ndim: int | None
    #: Every dimensionality it accepts (``ndim`` and, for bars and table, 1-D too).
    accepts: frozenset[int]
    params: type[BaseModel]
    description: str
    #: None for static overlays.
    compute: Compute | None
    #: The data must lie along a time coordinate (timeseries).
    needs_time: bool = False
    #: How many further series (the layer's ``inputs``) it bins the data against.
    inputs: int = 0
    #: Compute of a plotter with ``inputs`` (``compute`` is then None).
    compute_multi: MultiCompute | None = None

    @property
    def defaults(self) -> dict[str, Any]:
        return self.params().model_dump()

    @property
    def is_static(self) -> bool:
        return self.ndim is None


def _correlation(
    name: str, inputs: int, params: type[BaseModel], compute: MultiCompute
) -> PlotterSpec:
    kind = FrameKind(name)
    against = "one other series" if inputs == 1 else "two other series (x, y)"
    return PlotterSpec(
        name,
        kind,
        1,
        frozenset({1}),
        params,
        f"A time series summed in bins of {against}: the layer's inputs.",
        None,
        needs_time=True,
        inputs=inputs,
        compute_multi=compute,
    )


def _spec(
    kind: FrameKind,
    ndim: int,
    params: type[BaseModel],
    description: str,
    compute: Compute,
    *,
    also: frozenset[int] = frozenset(),
    needs_time: bool = False,
) -> PlotterSpec:
    return PlotterSpec(
        kind.value, kind, ndim, frozenset({ndim}) | also, params, description, compute, needs_time
    )


PLOTTERS: dict[str, PlotterSpec] = {
    spec.name: spec
    for spec in (
        _spec(FrameKind.IMAGE, 2, image.ImageParams, "2-D data as a colour map.", image.compute),
        _spec(FrameKind.LINES, 1, lines.LinesParams, "1-D data as a curve.", lines.compute),
        _spec(
            FrameKind.SLICER,
            3,
            slicer.SlicerParams,
            "3-D data as a colour map with a slider along its first dim.",
            slicer.compute,
        ),
        _spec(
            FrameKind.OVERLAY_1D,
            2,
            overlay.OverlayParams,
            "2-D data as one curve per row of its first dim (ROI spectra).",
            overlay.compute,
        ),
        _spec(
            FrameKind.FLATTEN,
            3,
            flatten.FlattenParams,
            "3- to 6-D data flattened to an image; params choose the dims on each axis.",
            flatten.compute,
            also=frozenset({4, 5, 6}),
        ),
        _spec(
            FrameKind.TIMESERIES,
            1,
            timeseries.TimeseriesParams,
            "Values over time (the history workflow).",
            timeseries.compute,
            needs_time=True,
        ),
        _spec(
            FrameKind.BARS,
            0,
            values.ValuesParams,
            "Single values as bars.",
            values.compute_bars,
            also=frozenset({1}),
        ),
        _spec(
            FrameKind.TABLE,
            0,
            values.ValuesParams,
            "Single values as a table.",
            values.compute_table,
            also=frozenset({1}),
        ),
        _correlation(
            "correlation_histogram_1d",
            1,
            correlation.Correlation1DParams,
            correlation.compute_1d,
        ),
        _correlation(
            "correlation_histogram_2d",
            2,
            correlation.Correlation2DParams,
            correlation.compute_2d,
        ),
        *(
            PlotterSpec(
                kind.value,
                kind,
                None,
                frozenset(),
                overlays.OVERLAY_PARAMS[kind],
                f"Static {kind.value} drawn from their params.",
                None,
            )
            for kind in (FrameKind.RECTANGLES, FrameKind.VLINES, FrameKind.HLINES)
        ),
    )
}


def compatible_plotters(ndim: int, dims: Sequence[str] | None = None) -> list[str]:
    """Data plotters that show ``ndim``-D data, best first.

    With ``dims`` given, 1-D data along ``time`` offers the timeseries plotter
    first and not lines; other 1-D data does not offer timeseries.
    """
    names = [name for name, spec in PLOTTERS.items() if ndim in spec.accepts]
    if dims is None:
        return names
    along_time = list(dims) == ["time"]
    if along_time:
        names = [n for n in names if n != "lines"]
        names.sort(key=lambda n: not PLOTTERS[n].needs_time)
        return names
    return [n for n in names if not PLOTTERS[n].needs_time]


def _origin(data: sc.DataArray, source: str | None, output: str | None) -> str:
    name = source or data.name
    if name and output:
        return f"{name!r} output {output!r}"
    if name or output:
        return repr(name or output)
    return "the data"


def _choose(ndim: int, dims: Sequence[str]) -> str:
    """Advice naming the plotters made for ``ndim``-D data (those also accepting it if none)."""
    names = compatible_plotters(ndim, dims)
    names = [n for n in names if PLOTTERS[n].ndim == ndim] or names
    if not names:
        return f"No plotter shows {ndim}-D data."
    if len(names) == 1:
        return f"Choose the {names[0]} plotter."
    return f"Choose the {', '.join(names[:-1])} or {names[-1]} plotter."


def _check_ndim(spec: PlotterSpec, data: sc.DataArray, origin: str) -> None:
    if data.ndim in spec.accepts:
        return
    wanted = " or ".join(f"{n}-D" for n in sorted(spec.accepts))
    dims = f" ({', '.join(data.dims)})" if data.ndim else ""
    raise PlotterError(
        f"The {spec.name} plotter needs {wanted} data, but {origin} is {data.ndim}-D{dims}. "
        + _choose(data.ndim, data.dims)
    )


def _params(spec: PlotterSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return spec.params.model_validate(dict(params)).model_dump()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'params'}: {error['msg']}"
            for error in exc.errors()
        )
        raise PlotterError(f"The {spec.name} plotter has invalid parameters ({problems}).") from exc


def compute_frame(
    plotter_name: str,
    data: sc.DataArray | None,
    params: Mapping[str, Any],
    *,
    display_max: int,
    now_ns: int,
    title: str = "",
    data_start: int | None = None,
    data_end: int | None = None,
    source: str | None = None,
    output: str | None = None,
    inputs: Sequence[sc.DataArray | None] = (),
) -> Frame:
    """The frame ``plotter_name`` makes of ``data`` (None for static overlays).

    Raises :class:`PlotterError` with a sentence for the user when the plotter is
    unknown, the params are invalid or the data does not fit the plotter.
    ``source`` and ``output`` name the data in those sentences (default: its name).
    ``inputs`` are the further series of a correlation histogram (None: no data yet).
    """
    spec = PLOTTERS.get(plotter_name)
    if spec is None:
        raise PlotterError(
            f"There is no plotter {plotter_name!r}; choose one of {', '.join(PLOTTERS)}."
        )
    if display_max < 1:
        raise ValueError(f"display_max must be at least 1, not {display_max}")
    if spec.is_static:
        try:
            return overlays.compute_overlay(spec.kind, params, now_ns, title=title)
        except ValueError as exc:
            raise PlotterError(str(exc)) from exc
    if data is None:
        raise PlotterError(f"The {spec.name} plotter needs data, and none has arrived yet.")
    origin = _origin(data, source, output)
    _check_ndim(spec, data, origin)
    check_plottable(data, spec.name, origin)
    checked = _params(spec, params)
    if checked.get("per_second") and spec.inputs == 0:
        data = per_second(data, data_start, data_end, spec.name)
    if spec.compute_multi is not None:
        for k, extra in enumerate(inputs):
            if extra is not None:
                check_plottable(extra, spec.name, f"input {k + 1}")
        frame = spec.compute_multi(data, inputs, checked, display_max)
    else:
        assert spec.compute is not None
        frame = spec.compute(data, checked, display_max)
    return dataclasses.replace(
        frame,
        title=title or data.name or spec.name,
        data_start=data_start,
        data_end=data_end,
        computed_at=now_ns,
    )
