"""The x5f2 statuses of data-producing services, for the System tab.

Key: ``ns:services:status``, a hash ``service_id -> JSON`` with ``service_id``,
``software``, ``version``, ``host``, ``pid``, ``update_interval_ms``, ``state``
(from the status JSON; '' when absent), ``status_json`` (the service's own
JSON), ``topic``, ``kafka_ts_ms`` (the message's Kafka timestamp) and
``received_at_ms`` (Redis server time of the write). Written by every worker's
Kafka status consumer, read by the replicas. Entries are never removed: a
service whose status is older than twice its update interval reads as quiet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from livegrid.keyspace import Keyspace
from livegrid.redis_client import text
from livegrid.stores._lua import NOW_MS

# KEYS: services status hash.  ARGV: service id, entry JSON (with kafka_ts_ms), kafka ts ms
# Keeps the newest status by Kafka timestamp, so copies written by several workers agree.
_WRITE_STATUS = (
    NOW_MS
    + """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local ok, previous = pcall(cjson.decode, old)
  if ok and tonumber(previous['kafka_ts_ms'] or 0) > tonumber(ARGV[3]) then return 0 end
end
local entry = cjson.decode(ARGV[2])
entry['received_at_ms'] = now_ms()
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
return 1
"""
)


@dataclass(frozen=True)
class StoredStatus:
    """One service's newest status, aged by Redis server time."""

    service_id: str
    software: str
    host: str
    state: str
    update_interval_ms: int
    age_ms: int

    @property
    def quiet(self) -> bool:
        """No status for more than twice the service's own update interval."""
        return bool(self.update_interval_ms) and self.age_ms > 2 * self.update_interval_ms


class ServiceStatuses:
    """Write (workers) and read (replicas) ``ns:services:status``."""

    def __init__(self, client: redis.Redis, keyspace: Keyspace) -> None:
        self._redis = client
        self._key = keyspace.services_status
        self._write = client.register_script(_WRITE_STATUS)

    def write(self, service_id: str, entry: Mapping[str, Any], *, kafka_ts_ms: int) -> bool:
        """Store ``entry`` unless a newer status of the service is stored; True if stored."""
        stored = {**entry, "service_id": service_id, "kafka_ts_ms": kafka_ts_ms}
        args: list[str | int] = [service_id, json.dumps(stored), kafka_ts_ms]
        return bool(self._write(keys=[self._key], args=args))

    def read(self) -> list[StoredStatus]:
        """Every stored status, by service id; unreadable entries are left out."""
        raw: Any = self._redis.hgetall(self._key)
        if not raw:
            return []
        seconds, micros = self._redis.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        out: list[StoredStatus] = []
        for service_id, value in sorted(raw.items()):
            try:
                fields = json.loads(value)
                age = max(now_ms - int(fields.get("received_at_ms", now_ms)), 0)
                interval = int(fields.get("update_interval_ms") or 0)
            except (ValueError, TypeError, AttributeError):
                continue
            out.append(
                StoredStatus(
                    service_id=text(service_id),
                    software=str(fields.get("software", "")),
                    host=str(fields.get("host", "")),
                    state=str(fields.get("state", "")),
                    update_interval_ms=interval,
                    age_ms=age,
                )
            )
        return out
