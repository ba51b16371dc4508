"""Frames to and from msgpack.

A frame is what a worker's *compute* stage produces: plain data, no HoloViews
or Bokeh. Arrays travel as raw buffers with dtype and shape: one copy when
encoding (none for contiguous arrays), none when decoding (the decoded arrays
are read-only views on the received bytes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgpack
import numpy as np

#: Bumped whenever the frame layout changes incompatibly.
SCHEMA_VERSION = 1

#: dtype kinds that travel as raw buffers: bool, ints, floats, complex,
#: datetime64, timedelta64 and fixed-width unicode.
_BUFFER_KINDS = frozenset("biufcmMU")


class FrameKind(StrEnum):
    IMAGE = "image"
    LINES = "lines"
    SLICER = "slicer"
    TIMESERIES = "timeseries"
    BARS = "bars"
    TABLE = "table"
    RECTANGLES = "rectangles"
    VLINES = "vlines"
    HLINES = "hlines"
    OVERLAY_1D = "overlay_1d"
    FLATTEN = "flatten"
    CORRELATION_1D = "correlation_histogram_1d"
    CORRELATION_2D = "correlation_histogram_2d"


class FrameDecodeError(ValueError):
    """Bytes that are not a frame this version of livegrid can read."""


class FrameEncodeError(ValueError):
    """A frame that cannot be encoded (e.g. an array of Python objects)."""


@dataclass(frozen=True)
class Frame:
    """Plot-ready data for one layer.

    ``arrays`` hold the data; ``attrs`` hold plotter-specific plain values
    (colour limits, log scale, slice axis, ...). Times are ns since the epoch.
    """

    kind: FrameKind
    title: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    attrs: Mapping[str, Any] = field(default_factory=dict)
    data_start: int | None = None
    data_end: int | None = None
    computed_at: int | None = None


def _pack_array(name: str, array: np.ndarray) -> dict[str, Any]:
    if array.dtype.kind not in _BUFFER_KINDS:
        raise FrameEncodeError(
            f"array {name!r} has dtype {array.dtype}, which cannot travel as a raw buffer; "
            "convert it to a numeric, bool, datetime64 or unicode dtype"
        )
    contiguous = array if array.flags.c_contiguous else array.copy(order="C")
    return {
        "dtype": contiguous.dtype.str,
        "shape": list(array.shape),
        "data": contiguous.reshape(-1).view(np.uint8).data,
    }


def encode_frame(frame: Frame) -> bytes:
    """Serialize ``frame``; raises :class:`FrameEncodeError` on unsupported content."""
    try:
        kind = FrameKind(frame.kind)
    except ValueError as exc:
        raise FrameEncodeError(f"unknown frame kind {frame.kind!r}") from exc
    payload = {
        "schema": SCHEMA_VERSION,
        "kind": kind.value,
        "title": frame.title,
        "labels": dict(frame.labels),
        "units": dict(frame.units),
        "arrays": {name: _pack_array(name, np.asarray(a)) for name, a in frame.arrays.items()},
        "attrs": dict(frame.attrs),
        "data_start": frame.data_start,
        "data_end": frame.data_end,
        "computed_at": frame.computed_at,
    }
    try:
        return msgpack.packb(payload, use_bin_type=True)  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError) as exc:
        raise FrameEncodeError(f"frame attrs cannot be encoded: {exc}") from exc


def _unpack_array(name: str, spec: Any) -> np.ndarray:
    if not isinstance(spec, dict):
        raise FrameDecodeError(f"array {name!r} is not a dtype/shape/data map")
    try:
        dtype = np.dtype(spec["dtype"])
        shape = tuple(int(n) for n in spec["shape"])
        data = spec["data"]
    except (KeyError, TypeError, ValueError) as exc:
        raise FrameDecodeError(f"array {name!r} has a malformed header: {exc}") from exc
    if dtype.kind not in _BUFFER_KINDS:
        raise FrameDecodeError(f"array {name!r} has unsupported dtype {dtype}")
    if any(n < 0 for n in shape):
        raise FrameDecodeError(f"array {name!r} has a negative dimension in {shape}")
    expected = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    if not isinstance(data, bytes) or len(data) != expected:
        size = len(data) if isinstance(data, bytes) else type(data).__name__
        raise FrameDecodeError(
            f"array {name!r} should hold {expected} bytes for {dtype}{list(shape)}, got {size}"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def decode_frame(data: bytes) -> Frame:
    """Deserialize a frame; raises :class:`FrameDecodeError` on anything unreadable."""
    try:
        payload = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises a zoo of types on corrupt input
        raise FrameDecodeError(f"frame bytes are not valid msgpack: {exc}") from exc
    if not isinstance(payload, dict):
        raise FrameDecodeError("frame is not a msgpack map")
    schema = payload.get("schema")
    if schema != SCHEMA_VERSION:
        raise FrameDecodeError(
            f"frame schema {schema!r} is not supported (this livegrid reads schema "
            f"{SCHEMA_VERSION}); upgrade the older of worker and replica"
        )
    try:
        kind = FrameKind(payload["kind"])
        arrays = payload.get("arrays", {})
        if not isinstance(arrays, dict):
            raise FrameDecodeError("frame arrays are not a map")
        return Frame(
            kind=kind,
            title=str(payload.get("title", "")),
            labels=dict(payload.get("labels") or {}),
            units=dict(payload.get("units") or {}),
            arrays={str(name): _unpack_array(str(name), spec) for name, spec in arrays.items()},
            attrs=dict(payload.get("attrs") or {}),
            data_start=_optional_int(payload.get("data_start")),
            data_end=_optional_int(payload.get("data_end")),
            computed_at=_optional_int(payload.get("computed_at")),
        )
    except FrameDecodeError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise FrameDecodeError(f"frame is malformed: {exc!r}") from exc


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
