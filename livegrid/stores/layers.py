"""Layer store: lifecycle state and the latest frame of each layer, fenced.

Keys: ``ns:layer:{id}`` (hash), ``ns:layer:{id}:frame`` (string),
``ns:frames`` (stream) and its ``seq`` counter, read: ``ns:job:{job}:fence``.
Single writer: the worker holding the lease of the layer's job. A write with a
token older than the job's fence is rejected and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import redis

from livegrid.keyspace import Keyspace
from livegrid.lifecycle import LayerState, Lifecycle
from livegrid.redis_client import text
from livegrid.stores._lua import XADD_SEQ

# KEYS: fence, layer, frame, frames stream, frames seq
# ARGV: token, expected_version, state, version, error, job, has_frame, frame,
#       data_start, data_end, computed_at, maxlen, layer_id
_PUBLISH = (
    XADD_SEQ
    + """
if tonumber(redis.call('GET', KEYS[1]) or '0') > tonumber(ARGV[1]) then
  return {-1, 0, 0}
end
local current = tonumber(redis.call('HGET', KEYS[2], 'version') or '0')
if current ~= tonumber(ARGV[2]) then
  return {-2, current, 0}
end
redis.call('HSET', KEYS[2], 'state', ARGV[3], 'version', ARGV[4], 'error', ARGV[5],
           'job', ARGV[6])
local frame_seq
if ARGV[7] == '1' then
  frame_seq = redis.call('HINCRBY', KEYS[2], 'frame_seq', 1)
  redis.call('SET', KEYS[3], ARGV[8])
  redis.call('HSET', KEYS[2], 'data_start', ARGV[9], 'data_end', ARGV[10],
             'computed_at', ARGV[11])
else
  frame_seq = tonumber(redis.call('HGET', KEYS[2], 'frame_seq') or '0')
end
xadd_seq(KEYS[4], KEYS[5], ARGV[12],
         {'layer', ARGV[13], 'version', ARGV[4], 'frame_seq', frame_seq, 'state', ARGV[3]})
return {1, tonumber(ARGV[4]), frame_seq}
"""
)

# KEYS: fence, layer, frame.  ARGV: token
_DELETE = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > tonumber(ARGV[1]) then return -1 end
return redis.call('DEL', KEYS[2], KEYS[3])
"""


class WriteStatus(StrEnum):
    ACCEPTED = "accepted"
    FENCED = "fenced"  # the token is older than the job's fence: the lease was lost
    CONFLICT = "conflict"  # the layer's version moved: re-read and retry


@dataclass(frozen=True)
class WriteResult:
    status: WriteStatus
    version: int
    frame_seq: int


@dataclass(frozen=True)
class LayerSnapshot:
    """What ``ns:layer:{id}`` says; a missing hash reads as version 0, no state."""

    layer_id: str
    lifecycle: Lifecycle
    frame_seq: int = 0
    job: str = ""
    data_start: int | None = None
    data_end: int | None = None
    computed_at: int | None = None

    @classmethod
    def from_hash(cls, layer_id: str, fields: dict[bytes, bytes]) -> LayerSnapshot:
        if not fields:
            return cls(layer_id, Lifecycle())
        state = text(fields.get(b"state"))

        def number(name: bytes) -> int | None:
            raw = text(fields.get(name))
            return int(raw) if raw else None

        return cls(
            layer_id=layer_id,
            lifecycle=Lifecycle(
                state=LayerState(state) if state else None,
                version=number(b"version") or 0,
                error=text(fields.get(b"error")) or None,
            ),
            frame_seq=number(b"frame_seq") or 0,
            job=text(fields.get(b"job")),
            data_start=number(b"data_start"),
            data_end=number(b"data_end"),
            computed_at=number(b"computed_at"),
        )


@dataclass(frozen=True)
class FrameTimes:
    data_start: int
    data_end: int
    computed_at: int


class LayerStore:
    """Fenced writes and snapshot reads of layers and their frames."""

    def __init__(self, client: redis.Redis, keyspace: Keyspace, *, frames_maxlen: int) -> None:
        self._redis = client
        self._keys = keyspace
        self._maxlen = frames_maxlen
        self._publish = client.register_script(_PUBLISH)
        self._delete = client.register_script(_DELETE)
        #: Writes refused because their token was stale (for metrics).
        self.fenced_rejections = 0

    def write(
        self,
        layer_id: str,
        *,
        job: str,
        token: int,
        expected_version: int,
        lifecycle: Lifecycle,
        frame: bytes | None = None,
        times: FrameTimes | None = None,
    ) -> WriteResult:
        """Write ``lifecycle`` and optionally a new ``frame`` in one atomic step.

        Appends one ``ns:frames`` entry. ``expected_version`` is the version the
        writer last read; a mismatch returns CONFLICT and writes nothing.
        """
        if lifecycle.state is None:
            raise ValueError("a layer must be added before it is written")
        if frame is not None and times is None:
            raise ValueError("a frame needs its data and compute times")
        keys = [
            self._keys.job_fence(job),
            self._keys.layer(layer_id),
            self._keys.layer_frame(layer_id),
            self._keys.frames,
            self._keys.stream_seq(self._keys.frames),
        ]
        args: list[str | int | bytes] = [
            token,
            expected_version,
            lifecycle.state.value,
            lifecycle.version,
            lifecycle.error or "",
            job,
            "1" if frame is not None else "0",
            frame if frame is not None else b"",
            times.data_start if times else 0,
            times.data_end if times else 0,
            times.computed_at if times else 0,
            self._maxlen,
            layer_id,
        ]
        code, version, frame_seq = self._publish(keys=keys, args=args)
        if code == -1:
            self.fenced_rejections += 1
            return WriteResult(WriteStatus.FENCED, 0, 0)
        if code == -2:
            return WriteResult(WriteStatus.CONFLICT, int(version), 0)
        return WriteResult(WriteStatus.ACCEPTED, int(version), int(frame_seq))

    def delete(self, layer_id: str, *, job: str, token: int) -> bool:
        """Remove a layer that left the workspace; False if the token is stale."""
        keys = [
            self._keys.job_fence(job),
            self._keys.layer(layer_id),
            self._keys.layer_frame(layer_id),
        ]
        result = self._delete(keys=keys, args=[token])
        if result == -1:
            self.fenced_rejections += 1
            return False
        return True

    def snapshot(self, layer_id: str) -> LayerSnapshot:
        return self.snapshots([layer_id])[layer_id]

    def snapshots(self, layer_ids: Sequence[str]) -> dict[str, LayerSnapshot]:
        """Snapshots of ``layer_ids`` in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for layer_id in layer_ids:
            pipe.hgetall(self._keys.layer(layer_id))
        replies = pipe.execute()
        return {
            lid: LayerSnapshot.from_hash(lid, fields)
            for lid, fields in zip(layer_ids, replies, strict=True)
        }

    def fetch(self, layer_ids: Sequence[str]) -> dict[str, tuple[LayerSnapshot, bytes | None]]:
        """Snapshot and frame bytes of each layer, consistent per layer, in one round trip."""
        pipe = self._redis.pipeline(transaction=True)
        for layer_id in layer_ids:
            pipe.hgetall(self._keys.layer(layer_id))
            pipe.get(self._keys.layer_frame(layer_id))
        replies = pipe.execute()
        out: dict[str, tuple[LayerSnapshot, bytes | None]] = {}
        for index, layer_id in enumerate(layer_ids):
            fields, frame = replies[2 * index], replies[2 * index + 1]
            out[layer_id] = (LayerSnapshot.from_hash(layer_id, fields), frame)
        return out
