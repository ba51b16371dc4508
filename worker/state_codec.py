"""Bytes of a job's checkpoint: a JSON header plus raw array buffers, zlib-compressed.

A checkpoint holds what a workflow needs to continue exactly where it stopped
(:meth:`Workflow.snapshot`): JSON-able metadata and named numpy arrays, and the
source position. No pickle: a checkpoint read from Redis is data, never code.
Layout (before compression): ``MAGIC``, a 4-byte big-endian header length, the
UTF-8 JSON header, then each array's bytes in header order. Anything that does not
parse raises :class:`CheckpointDecodeError` with a sentence for the operator.

Pure: imports no Redis or UI library.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipp as sc

MAGIC = b"LGCK"
#: Bumped when the layout or a workflow's state changes incompatibly; older ones do not load.
SCHEMA = 1
#: zlib level: 1 is several times faster than the default and compresses counts well.
LEVEL = 1


class CheckpointDecodeError(Exception):
    """A checkpoint that cannot be read back; the message is for the operator."""


@dataclass
class State:
    """JSON-able ``meta`` and named arrays; what a workflow snapshot is made of."""

    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    #: Arrays nothing writes in place (a message's own data): a checkpoint snapshot
    #: may keep them without a copy (``worker.checkpoint_writer.detach``).
    shared: set[str] = field(default_factory=set)

    def put_data(self, prefix: str, data: sc.DataArray, *, shared: bool = False) -> None:
        """Store a DataArray (values, variances, coords, masks, unit, name) under ``prefix``.

        ``shared``: ``data`` is never changed in place (e.g. a received message)."""
        before = set(self.arrays)
        self.meta[prefix] = {
            "name": data.name,
            "data": self._put_variable(f"{prefix}.data", data.data),
            "coords": {n: self._put_variable(f"{prefix}.c.{n}", c) for n, c in data.coords.items()},
            "masks": {n: self._put_variable(f"{prefix}.m.{n}", m) for n, m in data.masks.items()},
        }
        if shared:
            self.shared |= set(self.arrays) - before

    def get_data(self, prefix: str) -> sc.DataArray:
        entry = self.meta[prefix]
        return sc.DataArray(
            self._get_variable(entry["data"]),
            coords={n: self._get_variable(v) for n, v in entry["coords"].items()},
            masks={n: self._get_variable(v) for n, v in entry["masks"].items()},
            name=entry["name"],
        )

    def _put_variable(self, key: str, variable: sc.Variable) -> dict[str, Any]:
        values = variable.values
        if variable.dtype == sc.DType.datetime64:
            values = np.asarray(values).astype(np.int64)
        self.arrays[key] = np.asarray(values, order="C")
        described: dict[str, Any] = {
            "key": key,
            "dims": list(variable.dims),
            "unit": None if variable.unit is None else str(variable.unit),
            "datetime": variable.dtype == sc.DType.datetime64,
        }
        if variable.variances is not None:
            self.arrays[key + ".var"] = np.asarray(variable.variances, order="C")
            described["variances"] = key + ".var"
        return described

    def _get_variable(self, described: dict[str, Any]) -> sc.Variable:
        values = self.arrays[described["key"]]
        unit = described["unit"]
        if described["datetime"]:
            if not described["dims"]:
                return sc.datetime(int(values[()]), unit=unit)
            return sc.array(
                dims=described["dims"], values=values.astype(f"datetime64[{unit}]"), unit=unit
            )
        variances = self.arrays.get(described.get("variances", ""))
        if not described["dims"]:
            return sc.scalar(
                values[()],
                variance=None if variances is None else variances[()],
                unit=unit,
            )
        return sc.array(dims=described["dims"], values=values, variances=variances, unit=unit)


def encode(state: State) -> bytes:
    """``state`` as compressed bytes."""
    names = list(state.arrays)
    header = {
        "schema": SCHEMA,
        "meta": state.meta,
        "arrays": [
            {"name": n, "dtype": state.arrays[n].dtype.str, "shape": list(state.arrays[n].shape)}
            for n in names
        ],
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    compressor = zlib.compressobj(LEVEL)
    parts = [compressor.compress(MAGIC + len(head).to_bytes(4, "big") + head)]
    for name in names:
        flat = np.asarray(state.arrays[name], order="C").reshape(-1).view(np.uint8)
        parts.append(compressor.compress(flat.data))
    parts.append(compressor.flush())
    return b"".join(parts)


def decode(blob: bytes) -> State:
    """The state in ``blob``; :class:`CheckpointDecodeError` if corrupt or of another schema."""
    try:
        raw = zlib.decompress(blob)
    except zlib.error as exc:
        raise CheckpointDecodeError(f"the checkpoint does not decompress ({exc})") from exc
    if raw[:4] != MAGIC:
        raise CheckpointDecodeError("the checkpoint is not in livegrid's checkpoint format")
    try:
        length = int.from_bytes(raw[4:8], "big")
        header = json.loads(raw[8 : 8 + length])
        if header.get("schema") != SCHEMA:
            raise CheckpointDecodeError(
                f"the checkpoint has schema {header.get('schema')!r}, this worker reads {SCHEMA}"
            )
        offset = 8 + length
        arrays: dict[str, np.ndarray] = {}
        for entry in header["arrays"]:
            dtype = np.dtype(entry["dtype"])
            count = int(np.prod(entry["shape"], dtype=np.int64))
            size = count * dtype.itemsize
            if offset + size > len(raw):
                raise CheckpointDecodeError("the checkpoint is truncated")
            arrays[entry["name"]] = (
                np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
                .reshape(entry["shape"])
                .copy()
            )
            offset += size
        return State(meta=header["meta"], arrays=arrays)
    except CheckpointDecodeError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointDecodeError(f"the checkpoint's header is malformed ({exc})") from exc
