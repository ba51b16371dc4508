"""Liveness registries of workers, replicas and sessions.

Keys: ``ns:{kind}`` (zset ``member_id -> heartbeat ms``, Redis server time) and
``ns:{singular}:{id}`` (details hash with a TTL). Each process writes its own
entries (a replica writes those of its sessions, batched); any process may reap
stale entries of any other, and :meth:`Registry.reap` hands each stale entry to
exactly one reaper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import redis

from livegrid.keyspace import Keyspace
from livegrid.redis_client import text
from livegrid.stores._lua import NOW_MS

# KEYS: zset, details keys...  ARGV: details ttl ms, member ids (same order as KEYS[2..])
# Returns the members that were not in the zset (reaped meanwhile: their details are gone).
_HEARTBEAT = (
    NOW_MS
    + """
local now = now_ms()
local returned = {}
for i = 2, #KEYS do
  if redis.call('ZADD', KEYS[1], now, ARGV[i]) == 1 then
    returned[#returned + 1] = ARGV[i]
  end
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
return returned
"""
)

# KEYS: zset.  ARGV: max age ms.  Returns {member, age_ms, ...}
_LIVE = (
    NOW_MS
    + """
local now = now_ms()
local found = redis.call('ZRANGE', KEYS[1], now - tonumber(ARGV[1]), '+inf', 'BYSCORE',
                         'WITHSCORES')
local out = {}
for i = 1, #found, 2 do
  out[#out + 1] = found[i]
  out[#out + 1] = now - tonumber(found[i + 1])
end
return out
"""
)

# KEYS: zset.  ARGV: max age ms, details key prefix.  Removes and returns stale members.
_REAP = (
    NOW_MS
    + """
local now = now_ms()
local stale = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[1])), 'BYSCORE')
for i = 1, #stale do
  redis.call('ZREM', KEYS[1], stale[i])
  redis.call('DEL', ARGV[2] .. stale[i])
end
return stale
"""
)


@dataclass(frozen=True)
class Member:
    id: str
    age_ms: int
    details: Mapping[str, str]


class Registry:
    """One liveness registry: ``kind`` is ``workers``, ``replicas`` or ``sessions``."""

    def __init__(
        self, client: redis.Redis, keyspace: Keyspace, kind: str, *, stale_after_s: float
    ) -> None:
        self._redis = client
        self._keys = keyspace
        self.kind = kind
        self.stale_after_ms = int(stale_after_s * 1000)
        self._zset = keyspace.registry(kind)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._live = client.register_script(_LIVE)
        self._reap = client.register_script(_REAP)

    def _details_key(self, member_id: str) -> str:
        return self._keys.registry_details(self.kind, member_id)

    def register(self, member_id: str, details: Mapping[str, str | int | float]) -> None:
        """Announce ``member_id`` with its details and a first heartbeat."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._details_key(member_id))
        if details:
            pipe.hset(self._details_key(member_id), mapping=dict(details))  # type: ignore[arg-type]
        pipe.execute()
        self.heartbeat([member_id])

    def update(self, member_id: str, details: Mapping[str, str | int | float]) -> None:
        """Change some details of a registered member."""
        if details:
            self._redis.hset(self._details_key(member_id), mapping=dict(details))  # type: ignore[arg-type]

    def heartbeat(self, member_ids: Sequence[str]) -> list[str]:
        """Mark ``member_ids`` alive now, in one round trip whatever their number.

        Returns those that had been reaped meanwhile (e.g. while this process could not
        reach Redis): they are back in the registry, but their details must be written again.
        """
        if not member_ids:
            return []
        keys = [self._zset, *(self._details_key(m) for m in member_ids)]
        returned = self._heartbeat(keys=keys, args=[self.stale_after_ms * 2, *member_ids])
        return [text(m) for m in returned]

    def live(self) -> list[Member]:
        """Members whose last heartbeat is younger than the stale timeout, with details."""
        flat = self._live(keys=[self._zset], args=[self.stale_after_ms])
        ids = [text(flat[i]) for i in range(0, len(flat), 2)]
        ages = [int(flat[i]) for i in range(1, len(flat), 2)]
        pipe = self._redis.pipeline(transaction=False)
        for member_id in ids:
            pipe.hgetall(self._details_key(member_id))
        details = pipe.execute()
        return [
            Member(m, age, {text(k): text(v) for k, v in d.items()})
            for m, age, d in zip(ids, ages, details, strict=True)
        ]

    def reap(self) -> list[str]:
        """Remove stale members and return their ids; each is returned to one caller only."""
        prefix = self._details_key("")
        return [text(m) for m in self._reap(keys=[self._zset], args=[self.stale_after_ms, prefix])]

    def remove(self, member_ids: Sequence[str]) -> None:
        if not member_ids:
            return
        pipe = self._redis.pipeline(transaction=True)
        pipe.zrem(self._zset, *member_ids)
        pipe.delete(*(self._details_key(m) for m in member_ids))
        pipe.execute()
