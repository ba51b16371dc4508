"""scipp data to ESS streaming flatbuffers (da00, f144, x5f2), for ``livegrid produce``.

The inverse of :mod:`worker.sources.ess_decode`, with the same conventions.
Signals travel as float32: counts stay exact below 2**24, and the detector cube
stays under the 1 MB message limit of a default Kafka broker.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping

import numpy as np
import scipp as sc
from streaming_data_types import serialise_da00, serialise_f144, serialise_x5f2
from streaming_data_types.dataarray_da00 import Variable

from worker.sources.ess_decode import ERRORS, SIGNAL


def encode_da00(source_name: str, time_ns: int, data: sc.DataArray) -> bytes:
    """``data`` as one da00 message: signal (float32), errors if it has variances, coords."""
    signal = data.data
    variables = [_variable(SIGNAL, sc.values(signal), label=data.name or None, as_float32=True)]
    if signal.variances is not None:
        variables.append(_variable(ERRORS, sc.stddevs(signal), as_float32=True))
    variables.extend(_variable(name, coord) for name, coord in data.coords.items())
    return bytes(serialise_da00(source_name=source_name, timestamp_ns=time_ns, data=variables))


def _variable(
    name: str, var: sc.Variable, *, label: str | None = None, as_float32: bool = False
) -> Variable:
    if var.dtype == sc.DType.datetime64:
        offsets = var - sc.epoch(unit=var.unit)
        values = np.asarray(offsets.values, dtype=np.int64)
        unit: str | None = f"datetime64[{var.unit}]"
    else:
        values = np.asarray(var.values)
        if as_float32:
            values = values.astype(np.float32)
        unit = None if var.unit is None else str(var.unit)
    return Variable(
        name=name,
        data=np.ascontiguousarray(values).reshape(var.shape),
        axes=list(var.dims),
        shape=tuple(var.shape),
        unit=unit,
        label=label,
    )


def encode_f144(source_name: str, time_ns: int, data: sc.DataArray) -> bytes:
    """A 0-D ``data`` as one f144 value (float64); its unit does not travel (see the mapping)."""
    return bytes(serialise_f144(source_name, np.float64(data.value), time_ns))


def encode_x5f2(
    service_id: str, software_version: str, update_interval_ms: int, status: Mapping[str, object]
) -> bytes:
    """An x5f2 status of this process, ``status`` as its JSON."""
    return bytes(
        serialise_x5f2(
            "livegrid",
            software_version,
            service_id,
            socket.gethostname(),
            os.getpid(),
            update_interval_ms,
            json.dumps(dict(status)),
        )
    )
