"""ESS streaming flatbuffers to livegrid's data model: da00 and f144 to scipp, x5f2 to a status.

Pure functions over the bytes of one Kafka message. Anything that cannot be
read raises :class:`DecodeError` with a ``reason`` (``schema``, ``decode``,
``shape``, ``size``: a label for metrics) and a sentence for the user; the
library's own exception goes to ``detail`` for the log, so the sentence stays
the same for every corrupt message and a layer in ERROR does not churn.

da00 follows the convention of ESS live data reduction: the variable named
``signal`` is the data (its ``label`` the name), ``errors`` holds standard
deviations (stored as variances), every other variable is a coordinate; a
coordinate one longer than the data along its dim holds bin edges, and a unit
``datetime64[<unit>]`` marks integer offsets from the Unix epoch. Integer types
scipp lacks are widened; text variables other than the signal are skipped, and
so are coordinates along dims the signal does not have (some producers attach
per-frame values to integrated data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipp as sc
import streaming_data_types
from streaming_data_types import dataarray_da00, logdata_f144, status_x5f2
from streaming_data_types.fbschemas.dataarray_da00.da00_DataArray import da00_DataArray
from streaming_data_types.fbschemas.logdata_f144.f144_LogData import f144_LogData

#: Every schema id of the ESS streaming formats; anything else is unknown input.
KNOWN_SCHEMAS: frozenset[str] = frozenset(streaming_data_types.DESERIALISERS)

SIGNAL = "signal"
ERRORS = "errors"
_DATETIME = "datetime64"

# scipp holds bool, int32, int64, float32, float64; other numeric types are widened.
_WIDEN = {
    np.dtype("int8"): np.int32,
    np.dtype("uint8"): np.int32,
    np.dtype("int16"): np.int32,
    np.dtype("uint16"): np.int32,
    np.dtype("uint32"): np.int64,
    np.dtype("uint64"): np.float64,
}


class DecodeError(ValueError):
    """A message livegrid cannot read; ``str()`` is a sentence for the user."""

    def __init__(self, reason: str, sentence: str, detail: str = "") -> None:
        super().__init__(sentence)
        self.reason = reason
        self.detail = detail or sentence


@dataclass(frozen=True)
class Decoded:
    """A message's data and its time in ns since the epoch (0 when the message has none)."""

    data: sc.DataArray
    time_ns: int


@dataclass(frozen=True)
class ServiceStatus:
    """An x5f2 status message; ``state`` is read from ``status_json`` ('' when absent)."""

    service_id: str
    software: str
    version: str
    host: str
    pid: int
    update_interval_ms: int
    state: str
    status_json: str


def schema_of(payload: bytes) -> str:
    """The 4-character schema id at bytes 4 to 8; :class:`DecodeError` if it is no ESS schema."""
    raw = payload[4:8]
    schema = raw.decode("ascii", errors="replace")
    if len(payload) < 8 or schema not in KNOWN_SCHEMAS:
        shown = raw.hex() if not raw.isascii() or not raw.isalnum() else schema
        raise DecodeError(
            "schema",
            "The message is in no ESS streaming format (unknown schema id).",
            f"schema id {shown!r} of a {len(payload)}-byte message",
        )
    return schema


def source_name_of(payload: bytes, schema: str) -> str:
    """The ``source_name`` inside a da00 or f144 message, without decoding its arrays."""
    try:
        if schema == "da00":
            raw = da00_DataArray.GetRootAs(payload, 0).SourceName()
        else:
            raw = f144_LogData.GetRootAsf144_LogData(payload, 0).SourceName()
        return bytes(raw or b"").decode()
    except Exception as exc:  # any failure of the flatbuffer reader means corrupt bytes
        raise _corrupt(schema, exc) from exc


def _corrupt(schema: str, exc: Exception) -> DecodeError:
    return DecodeError(
        "decode",
        f"The message is not valid {schema}: it is truncated or corrupt.",
        f"{exc.__class__.__name__}: {exc}",
    )


# --- da00 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RawVariable:
    name: str
    label: str
    unit: str | None
    axes: list[str]
    shape: tuple[int, ...]
    values: np.ndarray | str


def _read_da00(payload: bytes) -> tuple[int, list[_RawVariable]]:
    """The timestamp and variables of a da00 message, checked for nothing but readability."""
    try:
        root = da00_DataArray.GetRootAs(payload, 0)
        variables = []
        for j in range(root.DataLength()):
            fb = root.Data(j)
            variables.append(
                _RawVariable(
                    name=bytes(fb.Name() or b"").decode(),
                    label=bytes(fb.Label() or b"").decode(),
                    unit=None if fb.Unit() is None else bytes(fb.Unit()).decode(),
                    axes=[bytes(fb.Axes(i)).decode() for i in range(fb.AxesLength())],
                    shape=tuple(int(n) for n in fb.ShapeAsNumpy()) if fb.ShapeLength() else (),
                    values=dataarray_da00.from_buffer(fb),
                )
            )
        return int(root.Timestamp()), variables
    except Exception as exc:  # any failure of the flatbuffer reader means corrupt bytes
        raise _corrupt("da00", exc) from exc


def decode_da00(payload: bytes) -> Decoded:
    """A da00 message as a DataArray (see the module docstring for the conventions)."""
    timestamp_ns, raw = _read_da00(payload)
    variables = {}
    for variable in raw:
        converted = _variable(variable)
        if converted is not None:
            variables[variable.name] = converted
    signal = variables.pop(SIGNAL, None)
    if signal is None:
        names = ", ".join(repr(v.name) for v in raw) or "none"
        raise DecodeError(
            "decode",
            f"The da00 message has no {SIGNAL!r} variable to plot (it has {names}).",
        )
    errors = variables.pop(ERRORS, None)
    if errors is not None:
        if errors.sizes != signal.sizes:
            raise DecodeError(
                "shape",
                f"The da00 message's {ERRORS!r} have shape {_sizes(errors)}, "
                f"but its {SIGNAL!r} has {_sizes(signal)}.",
            )
        if signal.dtype not in (sc.DType.float32, sc.DType.float64):
            signal = signal.to(dtype="float64")
        signal.variances = np.square(np.asarray(errors.values, dtype=np.float64))
    label = next((v.label for v in raw if v.name == SIGNAL), "")
    coords = {
        name: coord for name, coord in variables.items() if set(coord.dims) <= set(signal.dims)
    }
    try:
        data = sc.DataArray(signal, coords=coords, name=label)
    except (sc.DimensionError, sc.BinEdgeError, ValueError) as exc:
        raise DecodeError("shape", _coords_misfit(signal, coords), str(exc)) from exc
    return Decoded(data, timestamp_ns)


def _variable(variable: _RawVariable) -> sc.Variable | None:
    """One da00 variable in scipp; None for a text variable that is not the signal."""
    name = variable.name
    if isinstance(variable.values, str):
        if name == SIGNAL:
            raise DecodeError("decode", f"The da00 message's {SIGNAL!r} is text, not numbers.")
        return None
    values, axes, shape = variable.values, variable.axes, variable.shape
    if not axes:
        shape = ()  # a scalar; writers store the byte count of a packed number as its shape
    if len(axes) != len(shape) or values.size != int(np.prod(shape, dtype=np.int64)):
        raise DecodeError(
            "shape",
            f"The da00 variable {name!r} has {values.size} values for axes {axes} "
            f"and shape {list(variable.shape)}.",
        )
    values = values.reshape(shape)
    if values.dtype in _WIDEN:
        values = values.astype(_WIDEN[values.dtype])
    unit = variable.unit
    if unit is not None and unit.startswith(_DATETIME):
        return _datetimes(name, axes, values, unit)
    try:
        return sc.array(dims=axes, values=values, unit=unit)
    except (sc.UnitError, ValueError) as exc:
        raise DecodeError(
            "decode", f"The da00 variable {name!r} has a unit scipp does not know ({unit!r})."
        ) from exc


def _datetimes(name: str, axes: list[str], values: np.ndarray, unit: str) -> sc.Variable:
    inner = unit[len(_DATETIME) :].strip("[]") or "ns"
    if values.dtype.kind not in "iu":
        raise DecodeError(
            "decode", f"The da00 variable {name!r} holds times that are not integer offsets."
        )
    try:
        offsets = sc.array(dims=axes, values=values.astype(np.int64), unit=inner)
        return sc.epoch(unit=inner) + offsets
    except (sc.UnitError, ValueError) as exc:
        raise DecodeError(
            "decode", f"The da00 variable {name!r} has a time unit scipp does not know ({unit!r})."
        ) from exc


def _sizes(variable: sc.Variable) -> str:
    return "(" + ", ".join(f"{dim}: {n}" for dim, n in variable.sizes.items()) + ")"


def _coords_misfit(signal: sc.Variable, coords: dict[str, sc.Variable]) -> str:
    for name, coord in coords.items():
        for dim, n in coord.sizes.items():
            if n not in (signal.sizes[dim], signal.sizes[dim] + 1):
                return (
                    f"The da00 coordinate {name!r} has {n} values along {dim!r}, but the "
                    f"{SIGNAL!r} has {signal.sizes[dim]} (bin edges would be "
                    f"{signal.sizes[dim] + 1})."
                )
    return f"The da00 coordinates do not fit the {SIGNAL!r} of shape {_sizes(signal)}."


# --- f144 ----------------------------------------------------------------------------------


def decode_f144(payload: bytes, unit: str | None) -> Decoded:
    """An f144 value as 0-D data (1-D along ``index`` for an array) with a ``time`` coord."""
    try:
        message = logdata_f144.deserialise_f144(payload)
        value = np.asarray(message.value)
        time_ns = int(message.timestamp_unix_ns)
    except Exception as exc:  # any failure of the flatbuffer reader means corrupt bytes
        raise _corrupt("f144", exc) from exc
    if value.dtype in _WIDEN:
        value = value.astype(_WIDEN[value.dtype])
    if value.ndim > 1 or value.dtype.kind not in "iuf":
        raise DecodeError("decode", "The f144 value is not a number or a list of numbers.")
    variable = (
        sc.scalar(value[()], unit=unit)
        if value.ndim == 0
        else sc.array(dims=["index"], values=value, unit=unit)
    )
    time = sc.datetime(time_ns, unit="ns")
    return Decoded(sc.DataArray(variable, coords={"time": time}, name=message.source_name), time_ns)


# --- x5f2 ----------------------------------------------------------------------------------


def decode_x5f2(payload: bytes) -> ServiceStatus:
    """An x5f2 status; ``state`` from ``status_json`` (``state``, or ``message.state``)."""
    try:
        status = status_x5f2.deserialise_x5f2(payload)
    except Exception as exc:  # any failure of the flatbuffer reader means corrupt bytes
        raise _corrupt("x5f2", exc) from exc
    return ServiceStatus(
        service_id=status.service_id,
        software=status.software_name,
        version=status.software_version,
        host=status.host_name,
        pid=int(status.process_id),
        update_interval_ms=int(status.update_interval),
        state=_state(status.status_json),
        status_json=status.status_json,
    )


def _state(status_json: str) -> str:
    try:
        parsed: Any = json.loads(status_json) if status_json else {}
    except ValueError:
        return ""
    if not isinstance(parsed, dict):
        return ""
    state = parsed.get("state")
    if state is None and isinstance(parsed.get("message"), dict):
        state = parsed["message"].get("state")
    return str(state) if isinstance(state, str | int | float) else ""
