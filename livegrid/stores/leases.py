"""Job leases with fencing tokens.

Keys: ``ns:job:{id}:lease`` (string ``worker_id:token``, PX ttl) and
``ns:job:{id}:fence`` (counter, INCR on every acquisition). A holder renews
every ttl/3; a failed renewal means the lease is lost and the holder must stop
writing at once. Writers of job-owned keys pass the token, and the write
scripts reject tokens older than the fence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis

from livegrid.keyspace import Keyspace
from livegrid.redis_client import text

# KEYS: lease, fence.  ARGV: worker_id, ttl_ms
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
"""

# KEYS: lease.  ARGV: expected value, ttl_ms
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lease.  ARGV: expected value
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LeaseLost(Exception):
    """The holder's lease expired or was taken: it must stop writing for the job."""


@dataclass(frozen=True)
class Lease:
    job_id: str
    worker_id: str
    token: int

    @property
    def value(self) -> str:
        return f"{self.worker_id}:{self.token}"


@dataclass(frozen=True)
class LeaseHolder:
    worker_id: str
    token: int


class Leases:
    """Acquire, renew and release job leases."""

    def __init__(self, client: redis.Redis, keyspace: Keyspace, *, ttl_ms: int) -> None:
        self._redis = client
        self._keys = keyspace
        self.ttl_ms = ttl_ms
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self, job_id: str, worker_id: str) -> Lease | None:
        """The lease with a new, higher token, or None while another holder's lease lives."""
        keys = [self._keys.job_lease(job_id), self._keys.job_fence(job_id)]
        token = int(self._acquire(keys=keys, args=[worker_id, self.ttl_ms]))
        return Lease(job_id, worker_id, token) if token else None

    def renew(self, lease: Lease) -> None:
        """Extend ``lease`` by one ttl; raises :class:`LeaseLost` if it is no longer held."""
        if not self._renew(
            keys=[self._keys.job_lease(lease.job_id)], args=[lease.value, self.ttl_ms]
        ):
            raise LeaseLost(f"lease of job {lease.job_id!r} (token {lease.token}) was lost")

    def release(self, lease: Lease) -> bool:
        """Give the lease up; False if it was already gone."""
        return bool(self._release(keys=[self._keys.job_lease(lease.job_id)], args=[lease.value]))

    def holder(self, job_id: str) -> LeaseHolder | None:
        return _parse_holder(self._redis.get(self._keys.job_lease(job_id)))

    def holders(self, job_ids: Sequence[str]) -> dict[str, LeaseHolder | None]:
        """The live holder of each job's lease (None: claimable), in one ``MGET``."""
        if not job_ids:
            return {}
        values: list[bytes | None] = self._redis.mget(  # type: ignore[assignment]
            [self._keys.job_lease(j) for j in job_ids]
        )
        return {j: _parse_holder(v) for j, v in zip(job_ids, values, strict=True)}

    def fence(self, job_id: str) -> int:
        return int(self._redis.get(self._keys.job_fence(job_id)) or 0)


def _parse_holder(value: bytes | str | None) -> LeaseHolder | None:
    """A lease value ``worker_id:token`` (None for a missing lease)."""
    raw = text(value)
    if not raw:
        return None
    worker_id, _, token = raw.rpartition(":")
    return LeaseHolder(worker_id, int(token))
