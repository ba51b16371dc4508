"""A decoded frame made ready for every session's Bokeh sources, once per replica.

The feed thread calls :func:`prepare` once per new frame; every session of the
replica then only assigns :attr:`Prepared.data` (or one of
:attr:`Prepared.slices`) to its own ``ColumnDataSource.data``. Everything that
costs CPU in proportion to the data happens here, once: validating the layout,
masking non-positive values on log axes, colour limits, datetime to
milliseconds, contiguity. Arrays are the frame's own arrays or views of them
unless such a transformation is needed.

The dicts, lists and arrays of a :class:`Prepared` are shared by all sessions:
nobody may mutate them. Bokeh copies the outer dict on assignment
(``source.data = d`` stores a new mapping holding the same arrays), so sharing
one dict between sessions is safe.

Column names are the ones the presenters' glyphs read (``app.presenters``).
Pure numpy: no Panel, Bokeh or HoloViews here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from livegrid.codec import Frame, FrameKind

#: CDS data of a glyph: column name -> array or list. Shared, never mutated.
ColumnData = dict[str, Any]

#: Kinds drawn over a data layer; they carry no data of their own beyond shapes.
OVERLAY_KINDS = frozenset({FrameKind.RECTANGLES, FrameKind.VLINES, FrameKind.HLINES})

_NUMERIC = "biuf"


class FrameLayoutError(ValueError):
    """A frame whose arrays or attrs do not match the layout of its kind."""


@dataclass(frozen=True, eq=False)
class Prepared:
    """Session-independent presentation of one frame: built once, shared read-only.

    ``data`` is the layer's glyph data, ready for ``source.data = data``. For a
    slicer it is the first slice; ``slices[i]`` is the image data of slice ``i``
    (a view of the cube). ``clim`` are the colour limits (image, slicer), ``log``
    the log scale of the colour (image, slicer) or y axis (lines). ``factors``
    are the categories of a bar chart, in order.
    """

    frame: Frame
    data: ColumnData
    log: bool = False
    clim: tuple[float, float] | None = None
    x_label: str = ""
    y_label: str = ""
    value_label: str = ""
    factors: tuple[str, ...] = ()
    slices: tuple[ColumnData, ...] = ()
    slice_label: str = ""
    slice_values: tuple[str, ...] = ()
    #: Logarithmic x axis (lines, overlay_1d, correlation 1-D).
    log_x: bool = False
    #: Each pixel's original coordinates along x and y (flatten), for the hover.
    x_labels: tuple[str, ...] = ()
    y_labels: tuple[str, ...] = ()

    @property
    def kind(self) -> FrameKind:
        return self.frame.kind


def prepare(frame: Frame) -> Prepared:
    """Make ``frame`` ready to present; raises :class:`FrameLayoutError` if malformed."""
    try:
        preparer = _PREPARERS[FrameKind(frame.kind)]
    except ValueError as exc:
        raise FrameLayoutError(f"frame kind {frame.kind!r} is not one livegrid can show") from exc
    return preparer(frame)


def carry_unchanged(prepared: Prepared, previous: Prepared | None) -> Prepared:
    """``prepared`` with every column equal to ``previous``'s replaced by that same object.

    Sessions send only the columns whose object changed since the frame they
    showed last (``LayerPresenter._show``), so comparing here, once per
    replica, keeps a spectrum's fixed x axis or an image's extent off the wire.
    Slicers are left alone: their sessions show one of :attr:`Prepared.slices`.
    """
    if previous is None or previous.kind != prepared.kind or prepared.kind == FrameKind.SLICER:
        return prepared
    old = previous.data
    data = {
        name: old[name] if name in old and _same(column, old[name]) else column
        for name, column in prepared.data.items()
    }
    return replace(prepared, data=data)


def _same(a: Any, b: Any) -> bool:
    """Whether two columns (arrays, lists of scalars or of arrays) hold the same values."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and _samples_equal(a, b)
            and bool(np.array_equal(a, b))
        )
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _samples_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """A few elements of two same-shaped arrays, so a new image is told apart without a
    full comparison (a differing sample, NaN included, means the arrays differ)."""
    step = max(a.size // 8, 1)
    return all(a.flat[i] == b.flat[i] for i in range(0, a.size, step))


def is_overlay(kind: FrameKind) -> bool:
    """Whether ``kind`` is drawn over another layer's plot rather than defining one."""
    return kind in OVERLAY_KINDS


def empty_data(kind: FrameKind) -> ColumnData:
    """Glyph data that shows nothing for a layer of ``kind`` (a fresh dict)."""
    columns = {
        FrameKind.IMAGE: ("image", "x", "y", "dw", "dh"),
        FrameKind.SLICER: ("image", "x", "y", "dw", "dh"),
        FrameKind.LINES: ("x", "y"),
        FrameKind.TIMESERIES: ("x", "y"),
        FrameKind.BARS: ("x", "y"),
        FrameKind.TABLE: ("name", "value", "unit"),
        FrameKind.RECTANGLES: ("left", "bottom", "right", "top"),
        FrameKind.VLINES: ("x",),
        FrameKind.HLINES: ("y",),
        FrameKind.OVERLAY_1D: ("xs", "ys", "color", "label"),
        FrameKind.FLATTEN: ("image", "x", "y", "dw", "dh"),
        FrameKind.CORRELATION_1D: ("x", "y"),
        FrameKind.CORRELATION_2D: ("image", "x", "y", "dw", "dh"),
    }[FrameKind(kind)]
    return {column: [] for column in columns}


# --- per kind ---------------------------------------------------------------


def _prepare_image(frame: Frame) -> Prepared:
    values = _array(frame, "values", ndim=2)
    ny, nx = values.shape
    x = _array(frame, "x", ndim=1, length=nx)
    y = _array(frame, "y", ndim=1, length=ny)
    values, (x0, x1), (y0, y1) = _oriented(frame, values, x, y)
    values = _bokeh_ready(values)
    log = _flag(frame, "log")
    return Prepared(
        frame=frame,
        data=_image_data(values, x0, x1, y0, y1),
        log=log,
        clim=_clim(frame, values, log),
        x_label=_label(frame, "x"),
        y_label=_label(frame, "y"),
        value_label=_label(frame, "values"),
    )


def _prepare_slicer(frame: Frame) -> Prepared:
    cube = _array(frame, "values", ndim=3)
    nz, ny, nx = cube.shape
    if nz == 0:
        raise FrameLayoutError("slicer frame has no slices: 'values' has 0 entries on axis 0")
    x = _array(frame, "x", ndim=1, length=nx)
    y = _array(frame, "y", ndim=1, length=ny)
    z = _array(frame, "z", ndim=1, length=nz, kinds=_NUMERIC + "mM")
    cube, (x0, x1), (y0, y1) = _oriented(frame, cube, x, y)
    cube = _bokeh_ready(cube)
    log = _flag(frame, "log")
    slices = tuple(_image_data(cube[i], x0, x1, y0, y1) for i in range(nz))
    z_unit = frame.units.get("z", "")
    slice_dim = str(frame.attrs.get("slice_dim") or "z")
    return Prepared(
        frame=frame,
        data=slices[0],
        log=log,
        clim=_clim(frame, cube, log),
        x_label=_label(frame, "x"),
        y_label=_label(frame, "y"),
        value_label=_label(frame, "values"),
        slices=slices,
        slice_label=frame.labels.get("z") or slice_dim,
        slice_values=tuple(f"{v} {z_unit}".strip() for v in _format_values(z)),
    )


def _prepare_lines(frame: Frame) -> Prepared:
    y = _array(frame, "values", ndim=1)
    x = _array(frame, "x", ndim=1, length=len(y))
    log, log_x = _flag(frame, "log"), _flag(frame, "log_x")
    y = _positive_or_nan(y) if log else y
    if log_x and bool(np.any(x <= 0)):
        # Points left of a log x axis's zero are dropped as gaps, like log y.
        y = np.where(x > 0, y, np.nan)
    return Prepared(
        frame=frame,
        data={"x": _bokeh_ready(x), "y": _bokeh_ready(y)},
        log=log,
        log_x=log_x,
        x_label=_label(frame, "x"),
        y_label=_label(frame, "values"),
    )


def _positive_or_nan(values: np.ndarray) -> np.ndarray:
    """A log axis cannot show zero or negative values: gaps instead of a broken line."""
    return np.where(values > 0, values, np.nan) if bool(np.any(values <= 0)) else values


def _prepare_overlay_1d(frame: Frame) -> Prepared:
    values = _array(frame, "values", ndim=2)
    rows, n = values.shape
    x = _array(frame, "x", ndim=1, length=n)
    names = _array(frame, "names", ndim=1, length=rows, kinds="U")
    colours = frame.attrs.get("colours")
    if not isinstance(colours, list) or len(colours) != rows:
        raise FrameLayoutError(f"overlay_1d frame attr 'colours' should list {rows} colours")
    log, log_x = _flag(frame, "log"), _flag(frame, "log_x")
    shown = _positive_or_nan(values) if log else values
    if log_x and bool(np.any(x <= 0)):
        shown = np.where(x > 0, shown, np.nan)
    xs = _bokeh_ready(x)
    return Prepared(
        frame=frame,
        data={
            "xs": [xs] * rows,
            "ys": [_bokeh_ready(row) for row in shown],
            "color": [str(c) for c in colours],
            "label": names.tolist(),
        },
        log=log,
        log_x=log_x,
        x_label=_label(frame, "x"),
        y_label=_label(frame, "values"),
    )


def _prepare_flatten(frame: Frame) -> Prepared:
    prepared = _prepare_image(frame)
    ny, nx = prepared.data["image"][0].shape
    x_labels = _array(frame, "x_labels", ndim=1, length=nx, kinds="U")
    y_labels = _array(frame, "y_labels", ndim=1, length=ny, kinds="U")
    return replace(prepared, x_labels=tuple(x_labels.tolist()), y_labels=tuple(y_labels.tolist()))


def _prepare_timeseries(frame: Frame) -> Prepared:
    time = _array(frame, "time", ndim=1, kinds="M")
    values = _array(frame, "values", ndim=1, length=len(time))
    return Prepared(
        frame=frame,
        data={"x": _bokeh_ready(time), "y": _bokeh_ready(values)},
        x_label=_label(frame, "time"),
        y_label=_label(frame, "values"),
    )


def _prepare_bars(frame: Frame) -> Prepared:
    names, values, _units = _named_values(frame)
    if len(set(names)) != len(names):
        raise FrameLayoutError("bars frame has repeated names; each bar needs a distinct name")
    return Prepared(
        frame=frame,
        data={"x": names, "y": _bokeh_ready(values)},
        factors=tuple(names),
        x_label=_label(frame, "names"),
        y_label=_label(frame, "values"),
    )


def _prepare_table(frame: Frame) -> Prepared:
    names, values, units = _named_values(frame)
    return Prepared(frame=frame, data={"name": names, "value": _bokeh_ready(values), "unit": units})


def _prepare_rectangles(frame: Frame) -> Prepared:
    x0 = _array(frame, "x0", ndim=1)
    n = len(x0)
    y0, x1, y1 = (_array(frame, name, ndim=1, length=n) for name in ("y0", "x1", "y1"))
    return Prepared(
        frame=frame,
        data={
            "left": _bokeh_ready(x0),
            "bottom": _bokeh_ready(y0),
            "right": _bokeh_ready(x1),
            "top": _bokeh_ready(y1),
        },
    )


def _prepare_vlines(frame: Frame) -> Prepared:
    return Prepared(frame=frame, data={"x": _bokeh_ready(_array(frame, "x", ndim=1))})


def _prepare_hlines(frame: Frame) -> Prepared:
    return Prepared(frame=frame, data={"y": _bokeh_ready(_array(frame, "y", ndim=1))})


_PREPARERS: dict[FrameKind, Callable[[Frame], Prepared]] = {
    FrameKind.IMAGE: _prepare_image,
    FrameKind.SLICER: _prepare_slicer,
    FrameKind.LINES: _prepare_lines,
    FrameKind.TIMESERIES: _prepare_timeseries,
    FrameKind.BARS: _prepare_bars,
    FrameKind.TABLE: _prepare_table,
    FrameKind.RECTANGLES: _prepare_rectangles,
    FrameKind.VLINES: _prepare_vlines,
    FrameKind.HLINES: _prepare_hlines,
    FrameKind.OVERLAY_1D: _prepare_overlay_1d,
    FrameKind.FLATTEN: _prepare_flatten,
    FrameKind.CORRELATION_1D: _prepare_lines,
    FrameKind.CORRELATION_2D: _prepare_image,
}


# --- helpers ----------------------------------------------------------------


def _array(
    frame: Frame, name: str, *, ndim: int, length: int | None = None, kinds: str = _NUMERIC
) -> np.ndarray:
    array = frame.arrays.get(name)
    if array is None:
        present = ", ".join(sorted(frame.arrays)) or "none"
        raise FrameLayoutError(f"{frame.kind} frame needs an array {name!r}; it has {present}")
    array = np.asarray(array)
    if array.ndim != ndim:
        raise FrameLayoutError(
            f"{frame.kind} frame array {name!r} should have {ndim} dimension(s), "
            f"has shape {array.shape}"
        )
    if array.dtype.kind not in kinds:
        raise FrameLayoutError(
            f"{frame.kind} frame array {name!r} has unusable dtype {array.dtype}"
        )
    if length is not None and len(array) != length:
        raise FrameLayoutError(
            f"{frame.kind} frame array {name!r} has {len(array)} entries, expected {length} "
            "to match 'values'"
        )
    return array


def _named_values(frame: Frame) -> tuple[list[str], np.ndarray, list[str]]:
    values = _array(frame, "values", ndim=1)
    names = _array(frame, "names", ndim=1, length=len(values), kinds="U")
    units = frame.attrs.get("units")
    if units is None:
        units = [""] * len(values)
    if not isinstance(units, Sequence) or isinstance(units, str) or len(units) != len(values):
        raise FrameLayoutError(
            f"{frame.kind} frame attr 'units' should be a list of {len(values)} strings"
        )
    # Bokeh sends unicode arrays as lists anyway; converting once spares every session.
    return names.tolist(), values, [str(u) for u in units]


def _oriented(
    frame: Frame, values: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, tuple[float, float], tuple[float, float]]:
    """Values with x and y ascending along the last two axes, and the edges."""
    x0, x1 = _edges(frame, "x_edges", x)
    y0, y1 = _edges(frame, "y_edges", y)
    if x1 < x0:
        values, (x0, x1) = np.flip(values, axis=-1), (x1, x0)
    if y1 < y0:
        values, (y0, y1) = np.flip(values, axis=-2), (y1, y0)
    return values, (x0, x1), (y0, y1)


def _edges(frame: Frame, attr: str, centres: np.ndarray) -> tuple[float, float]:
    edges = frame.attrs.get(attr)
    if edges is None:
        if len(centres) == 0:
            return 0.0, 1.0
        half = (float(centres[-1]) - float(centres[0])) / (2 * (len(centres) - 1) or 1) or 0.5
        return float(centres[0]) - half, float(centres[-1]) + half
    lo, hi = _pair(frame, attr, edges)
    if lo == hi:
        raise FrameLayoutError(f"{frame.kind} frame attr {attr!r} spans nothing: {[lo, hi]}")
    return lo, hi


def _clim(frame: Frame, values: np.ndarray, log: bool) -> tuple[float, float]:
    given = frame.attrs.get("clim")
    if given is not None:
        lo, hi = _pair(frame, "clim", given)
    else:
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if log and lo <= 0:
        positive = values[values > 0]
        lo = float(positive.min()) if positive.size else (hi / 1000 if hi > 0 else 0.1)
    if hi <= lo:
        hi = lo * 10 if log else lo + 1
    return lo, hi


def _pair(frame: Frame, attr: str, value: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise FrameLayoutError(
            f"{frame.kind} frame attr {attr!r} should be two numbers, got {value!r}"
        ) from exc
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise FrameLayoutError(f"{frame.kind} frame attr {attr!r} is not finite: {[lo, hi]}")
    return lo, hi


def _flag(frame: Frame, attr: str) -> bool:
    value = frame.attrs.get(attr, False)
    if not isinstance(value, (bool, np.bool_)):
        raise FrameLayoutError(f"{frame.kind} frame attr {attr!r} should be true or false")
    return bool(value)


def _bokeh_ready(array: np.ndarray) -> np.ndarray:
    """``array`` in a form Bokeh sends without per-session conversion (itself if it is)."""
    if array.dtype.kind == "M":
        ms = array.astype("datetime64[ns]").astype(np.int64) / 1e6
        return np.where(np.isnat(array), np.nan, ms)
    if array.dtype.kind in "iu" and array.dtype.itemsize == 8:
        array = array.astype(np.float64)
    elif not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return np.ascontiguousarray(array)


def _image_data(values: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> ColumnData:
    return {"image": [values], "x": [x0], "y": [y0], "dw": [x1 - x0], "dh": [y1 - y0]}


def _label(frame: Frame, key: str) -> str:
    label = frame.labels.get(key) or key
    unit = frame.units.get(key)
    return f"{label} [{unit}]" if unit else label


def _format_values(values: np.ndarray) -> list[str]:
    if values.dtype.kind in "mM":
        return [str(v) for v in values]
    return [f"{float(v):.4g}" for v in values]


__all__ = [
    "OVERLAY_KINDS",
    "ColumnData",
    "FrameLayoutError",
    "Prepared",
    "empty_data",
    "is_overlay",
    "prepare",
]
