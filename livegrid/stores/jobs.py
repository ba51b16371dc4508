"""Desired jobs and their fenced status.

Keys: ``ns:jobs`` (hash ``job_id -> JobSpec JSON``), ``ns:jobs:log`` (stream of
wake-ups ``{job_id, version, action}``) and its ``seq`` counter: written by
replicas through the CAS script. ``ns:job:{id}:status`` (hash): written by the
worker holding the job's lease, fenced by its token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from livegrid.keyspace import Keyspace
from livegrid.models import Desired, JobSpec
from livegrid.redis_client import text
from livegrid.stores._lua import XADD_SEQ

# KEYS: jobs, jobs log, jobs log seq.
# ARGV: job_id, expected version (-1: must not exist), spec json ('' deletes), action, maxlen
_PUT = (
    XADD_SEQ
    + """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local current = -1
if raw then current = tonumber(cjson.decode(raw)['version']) end
if current ~= tonumber(ARGV[2]) then return {0, current} end
local version = current + 1
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
xadd_seq(KEYS[2], KEYS[3], ARGV[5], {'job_id', ARGV[1], 'version', version, 'action', ARGV[4]})
return {1, version}
"""
)

# KEYS: fence, status.  ARGV: token, then field/value pairs
_SET_STATUS = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > tonumber(ARGV[1]) then return 0 end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
return 1
"""


class JobVersionConflict(Exception):
    """Another writer changed the job first."""

    def __init__(self, job_id: str, current: int) -> None:
        super().__init__(f"job {job_id!r} changed meanwhile (now at version {current})")
        self.current = current


class JobCommandError(ValueError):
    """A job command that cannot be carried out; the message is for the user."""


@dataclass(frozen=True)
class JobStatus:
    state: str = ""
    worker: str = ""
    token: int = 0
    started_at: int | None = None
    last_data_at: int | None = None
    error: str = ""

    @classmethod
    def from_hash(cls, fields: Mapping[Any, Any]) -> JobStatus:
        def number(name: bytes) -> int | None:
            raw = text(fields.get(name))
            return int(raw) if raw else None

        return cls(
            state=text(fields.get(b"state")),
            worker=text(fields.get(b"worker")),
            token=number(b"token") or 0,
            started_at=number(b"started_at"),
            last_data_at=number(b"last_data_at"),
            error=text(fields.get(b"error")),
        )


class JobStore:
    """Desired job state (replicas write, workers read) and fenced status (workers)."""

    def __init__(self, client: redis.Redis, keyspace: Keyspace, *, log_maxlen: int = 10_000):
        self._redis = client
        self._keys = keyspace
        self._maxlen = log_maxlen
        self._put = client.register_script(_PUT)
        self._set_status = client.register_script(_SET_STATUS)

    # --- desired state ---
    def all(self) -> dict[str, JobSpec]:
        raw = self._redis.hgetall(self._keys.jobs)
        return {text(k): JobSpec.model_validate_json(v) for k, v in raw.items()}

    def get(self, job_id: str) -> JobSpec | None:
        raw = self._redis.hget(self._keys.jobs, job_id)
        return JobSpec.model_validate_json(raw) if raw else None

    def put(self, spec: JobSpec, *, expected_version: int, action: str) -> JobSpec:
        """Write ``spec`` if the stored version is ``expected_version`` (-1: new job)."""
        stored = spec.model_copy(update={"version": expected_version + 1})
        code, current = self._put(
            keys=self._keys_for_put(),
            args=[spec.id, expected_version, stored.model_dump_json(), action, self._maxlen],
        )
        if not code:
            raise JobVersionConflict(spec.id, int(current))
        return stored

    def delete(self, job_id: str, *, expected_version: int) -> None:
        code, current = self._put(
            keys=self._keys_for_put(), args=[job_id, expected_version, "", "removed", self._maxlen]
        )
        if not code:
            raise JobVersionConflict(job_id, int(current))

    def _keys_for_put(self) -> list[str]:
        return [self._keys.jobs, self._keys.jobs_log, self._keys.stream_seq(self._keys.jobs_log)]

    def update(
        self, job_id: str, change: Callable[[JobSpec], JobSpec], *, action: str, attempts: int = 5
    ) -> JobSpec:
        """Apply ``change`` to the current spec, retrying on concurrent writers."""
        for _ in range(attempts):
            current = self.get(job_id)
            if current is None:
                raise JobCommandError(f"There is no job {job_id!r}; start it first.")
            try:
                return self.put(change(current), expected_version=current.version, action=action)
            except JobVersionConflict:
                continue
        raise JobCommandError(f"Job {job_id!r} is changing too fast; try again.")

    def start(self, spec: JobSpec, *, user: str = "") -> JobSpec:
        """Create the job, or set an existing one to running with ``spec``'s definition."""
        for _ in range(5):
            current = self.get(spec.id)
            expected = current.version if current else -1
            desired = spec.model_copy(update={"desired": Desired.RUNNING, "updated_by": user})
            if current is not None:
                desired = desired.model_copy(update={"reset_epoch": current.reset_epoch})
            try:
                return self.put(desired, expected_version=expected, action="start")
            except JobVersionConflict:
                continue
        raise JobCommandError(f"Job {spec.id!r} is changing too fast; try again.")

    def stop(self, job_id: str, *, user: str = "") -> JobSpec:
        return self.update(
            job_id,
            lambda s: s.model_copy(update={"desired": Desired.STOPPED, "updated_by": user}),
            action="stop",
        )

    def reset(self, job_id: str, *, user: str = "") -> JobSpec:
        return self.update(
            job_id,
            lambda s: s.model_copy(update={"reset_epoch": s.reset_epoch + 1, "updated_by": user}),
            action="reset",
        )

    # --- status (lease holder only) ---
    def set_status(self, job_id: str, token: int, **fields: str | int) -> bool:
        """Write status fields with the lease token; False if the token is stale."""
        args: list[str | int] = [token, "token", token]
        for name, value in fields.items():
            args += [name, value]
        keys = [self._keys.job_fence(job_id), self._keys.job_status(job_id)]
        return bool(self._set_status(keys=keys, args=args))

    def status(self, job_id: str) -> JobStatus:
        return JobStatus.from_hash(self._redis.hgetall(self._keys.job_status(job_id)))

    def statuses(self, job_ids: list[str]) -> dict[str, JobStatus]:
        pipe = self._redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(self._keys.job_status(job_id))
        return {j: JobStatus.from_hash(f) for j, f in zip(job_ids, pipe.execute(), strict=True)}
