"""Viewer interest: which replicas show which layers now.

Keys: ``ns:viewers:{layer}`` (zset ``replica_id -> expiry ms``, Redis server time),
and ``ns:jobs:log`` (a ``viewed`` wake-up when a layer goes from 0 to 1 viewers).
Each replica writes its own members. Workers compute only viewed layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from livegrid.keyspace import Keyspace
from livegrid.redis_client import text
from livegrid.stores._lua import NOW_MS, XADD_SEQ

# KEYS: jobs log, jobs log seq, viewer keys...  ARGV: replica id, ttl ms, maxlen, layer ids...
_MARK = (
    XADD_SEQ
    + NOW_MS
    + """
local now = now_ms()
local ttl = tonumber(ARGV[2])
local woken = {}
for i = 3, #KEYS do
  local layer = ARGV[i + 1]
  local before = redis.call('ZCOUNT', KEYS[i], now, '+inf')
  redis.call('ZADD', KEYS[i], now + ttl, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. now)
  redis.call('PEXPIRE', KEYS[i], ttl * 2)
  if before == 0 then
    xadd_seq(KEYS[1], KEYS[2], ARGV[3], {'action', 'viewed', 'layer', layer})
    woken[#woken + 1] = layer
  end
end
return woken
"""
)

# KEYS: viewer keys.  Returns live viewer counts.
_COUNT = (
    NOW_MS
    + """
local now = now_ms()
local out = {}
for i = 1, #KEYS do out[i] = redis.call('ZCOUNT', KEYS[i], now, '+inf') end
return out
"""
)


class Viewers:
    def __init__(self, client: redis.Redis, keyspace: Keyspace, *, ttl_s: float) -> None:
        self._redis = client
        self._keys = keyspace
        self.ttl_ms = int(ttl_s * 1000)
        self._mark = client.register_script(_MARK)
        self._count = client.register_script(_COUNT)

    def mark(
        self, replica_id: str, layer_ids: Sequence[str], *, log_maxlen: int = 10_000
    ) -> list[str]:
        """Mark ``layer_ids`` viewed by ``replica_id`` for one ttl; returns those newly viewed."""
        if not layer_ids:
            return []
        keys = [
            self._keys.jobs_log,
            self._keys.stream_seq(self._keys.jobs_log),
            *(self._keys.viewers(lid) for lid in layer_ids),
        ]
        woken = self._mark(keys=keys, args=[replica_id, self.ttl_ms, log_maxlen, *layer_ids])
        return [text(w) for w in woken]

    def unmark(self, replica_id: str, layer_ids: Sequence[str]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for layer_id in layer_ids:
            pipe.zrem(self._keys.viewers(layer_id), replica_id)
        pipe.execute()

    def counts(self, layer_ids: Sequence[str]) -> dict[str, int]:
        """Live viewer count (replicas) per layer."""
        if not layer_ids:
            return {}
        counts = self._count(keys=[self._keys.viewers(lid) for lid in layer_ids])
        return {lid: int(n) for lid, n in zip(layer_ids, counts, strict=True)}
