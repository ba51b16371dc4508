"""Checkpoint store: each job's workflow state and source position, fenced.

Keys: ``ns:job:{id}:checkpoint`` (hash: generation, token, epoch, definition,
position, chunks, bytes, written_at), ``ns:job:{id}:checkpoint:{gen}:{i}``
(strings, the state's bytes in chunks of at most :data:`CHUNK_BYTES`), read:
``ns:job:{id}:fence``. Single writer: the worker holding the job's lease.

A write uploads the chunks of a new generation first (plain SETs that expire
unless committed, so one command never holds Redis for long), then commits them
in one script that checks the fence: a token older than the fence writes
nothing, and the previous generation stays the checkpoint. The commit switches
state and position together, so a reader never sees one without the other.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from livegrid.keyspace import Keyspace
from livegrid.redis_client import text

#: Largest single SET of a write: about a millisecond of Redis time.
CHUNK_BYTES = 1 << 20
#: Chunks of a write that was never committed (its worker died mid-upload) expire.
STAGED_TTL_MS = 600_000

# KEYS: fence, checkpoint hash.
# ARGV: token, generation, chunks, bytes, epoch, definition, position, written_at, chunk prefix
_COMMIT = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > tonumber(ARGV[1]) then
  return -1
end
local old_gen = redis.call('HGET', KEYS[2], 'generation')
local old_chunks = tonumber(redis.call('HGET', KEYS[2], 'chunks') or '0')
for i = 0, tonumber(ARGV[3]) - 1 do
  redis.call('PERSIST', ARGV[9] .. ARGV[2] .. ':' .. i)
end
redis.call('HSET', KEYS[2], 'generation', ARGV[2], 'token', ARGV[1], 'chunks', ARGV[3],
           'bytes', ARGV[4], 'epoch', ARGV[5], 'definition', ARGV[6], 'position', ARGV[7],
           'written_at', ARGV[8])
if old_gen and old_gen ~= ARGV[2] then
  for i = 0, old_chunks - 1 do
    redis.call('UNLINK', ARGV[9] .. old_gen .. ':' .. i)
  end
end
return 1
"""

# KEYS: fence, checkpoint hash.  ARGV: token, chunk prefix
_DELETE = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > tonumber(ARGV[1]) then
  return -1
end
local gen = redis.call('HGET', KEYS[2], 'generation')
if gen then
  local chunks = tonumber(redis.call('HGET', KEYS[2], 'chunks') or '0')
  for i = 0, chunks - 1 do
    redis.call('UNLINK', ARGV[2] .. gen .. ':' .. i)
  end
end
return redis.call('DEL', KEYS[2])
"""


@dataclass(frozen=True)
class Checkpoint:
    """One committed checkpoint: what it belongs to, where the source was, and the state."""

    epoch: int
    definition: str
    position: dict[str, Any]
    state: bytes
    token: int = 0
    written_at: int = 0


class CheckpointStore:
    """Fenced, chunked writes and consistent reads of job checkpoints."""

    def __init__(
        self, client: redis.Redis, keyspace: Keyspace, *, chunk_bytes: int = CHUNK_BYTES
    ) -> None:
        self._redis = client
        self._keys = keyspace
        self._chunk = chunk_bytes
        self._commit = client.register_script(_COMMIT)
        self._delete = client.register_script(_DELETE)
        self._generations = itertools.count(1)
        #: Writes refused because their token was stale (for metrics).
        self.fenced_rejections = 0

    def write(
        self,
        job_id: str,
        *,
        token: int,
        epoch: int,
        definition: str,
        position: dict[str, Any],
        state: bytes,
    ) -> bool:
        """Store a checkpoint; False (and nothing changed) if ``token`` is stale."""
        generation = f"{token}.{time.time_ns()}.{next(self._generations)}"
        prefix = self._keys.job_checkpoint_chunk_prefix(job_id)
        view = memoryview(state)  # chunks without copies (redis-py sends views as they are)
        chunks = [view[i : i + self._chunk] for i in range(0, len(state), self._chunk)]
        for index, chunk in enumerate(chunks):
            # One command per chunk (no pipeline): each holds Redis for one chunk only.
            self._redis.set(f"{prefix}{generation}:{index}", chunk, px=STAGED_TTL_MS)
        keys = [self._keys.job_fence(job_id), self._keys.job_checkpoint(job_id)]
        args: list[str | int] = [
            token,
            generation,
            len(chunks),
            len(state),
            epoch,
            definition,
            json.dumps(position, sort_keys=True),
            time.time_ns(),
            prefix,
        ]
        if self._commit(keys=keys, args=args) == -1:
            self.fenced_rejections += 1
            if chunks:
                self._redis.unlink(*(f"{prefix}{generation}:{i}" for i in range(len(chunks))))
            return False
        return True

    def delete(self, job_id: str, *, token: int) -> bool:
        """Drop the job's checkpoint (the job was stopped); False if ``token`` is stale."""
        keys = [self._keys.job_fence(job_id), self._keys.job_checkpoint(job_id)]
        if (
            self._delete(keys=keys, args=[token, self._keys.job_checkpoint_chunk_prefix(job_id)])
            == -1
        ):
            self.fenced_rejections += 1
            return False
        return True

    def read(self, job_id: str, *, attempts: int = 3) -> Checkpoint | None:
        """The job's committed checkpoint, or None if it has none.

        ``ValueError`` if its chunks keep disappearing (a writer commits meanwhile)
        or its fields are malformed.
        """
        prefix = self._keys.job_checkpoint_chunk_prefix(job_id)
        for _attempt in range(attempts):
            fields = self._redis.hgetall(self._keys.job_checkpoint(job_id))
            if not fields:
                return None
            generation = text(fields.get(b"generation"))
            count = int(text(fields.get(b"chunks")) or 0)
            pipe = self._redis.pipeline(transaction=False)
            for index in range(count):
                pipe.get(f"{prefix}{generation}:{index}")
            chunks = pipe.execute() if count else []
            if any(chunk is None for chunk in chunks):
                continue  # committed over while we read; read the new generation
            state = b"".join(chunks)
            if len(state) != int(text(fields.get(b"bytes")) or 0):
                raise ValueError("the checkpoint's chunks do not add up to its size")
            return Checkpoint(
                epoch=int(text(fields.get(b"epoch")) or 0),
                definition=text(fields.get(b"definition")),
                position=json.loads(text(fields.get(b"position")) or "{}"),
                state=state,
                token=int(text(fields.get(b"token")) or 0),
                written_at=int(text(fields.get(b"written_at")) or 0),
            )
        raise ValueError("the checkpoint kept changing while it was read")
