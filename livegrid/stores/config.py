"""The workspace configuration with compare-and-set writes.

Keys: ``ns:config`` (hash: ``version``, ``workspace`` JSON, ``user``, ``updated_at``),
``ns:config:log`` (stream ``{version, user, change}``) and its ``seq`` counter.
Written by replicas only through the CAS script: a writer that read an older
version is refused and told the current one, so it can retry or tell its user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from livegrid.keyspace import Keyspace
from livegrid.models import Workspace
from livegrid.redis_client import text
from livegrid.stores._lua import NOW_MS, XADD_SEQ

# KEYS: config, config log, config log seq.
# ARGV: expected version, workspace json, user, change, maxlen
_CAS = (
    XADD_SEQ
    + NOW_MS
    + """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[1]) then return {0, current} end
local version = current + 1
redis.call('HSET', KEYS[1], 'version', version, 'workspace', ARGV[2], 'user', ARGV[3],
           'updated_at', now_ms())
xadd_seq(KEYS[2], KEYS[3], ARGV[5], {'version', version, 'user', ARGV[3], 'change', ARGV[4]})
return {1, version}
"""
)


class ConfigConflict(Exception):
    """The workspace changed since the writer read it."""

    def __init__(self, current_version: int) -> None:
        super().__init__(
            f"The workspace was changed by someone else meanwhile (now version {current_version})."
        )
        self.current_version = current_version


@dataclass(frozen=True)
class ConfigSnapshot:
    version: int
    workspace: Workspace
    user: str = ""


class ConfigStore:
    def __init__(self, client: redis.Redis, keyspace: Keyspace, *, log_maxlen: int = 1_000):
        self._redis = client
        self._keys = keyspace
        self._maxlen = log_maxlen
        self._cas = client.register_script(_CAS)

    def read(self) -> ConfigSnapshot:
        """The current workspace; version 0 and an empty workspace before the first write."""
        fields: Any = self._redis.hmget(self._keys.config, ["version", "workspace", "user"])
        version, raw, user = fields
        if not raw:
            return ConfigSnapshot(0, Workspace())
        return ConfigSnapshot(int(version or 0), Workspace.model_validate_json(raw), text(user))

    def version(self) -> int:
        return int(self._redis.hget(self._keys.config, "version") or 0)

    def write(
        self, workspace: Workspace, *, expected_version: int, user: str = "", change: str = ""
    ) -> int:
        """Store ``workspace`` if the current version is ``expected_version``; the new version.

        Raises :class:`ConfigConflict` with the current version otherwise.
        """
        keys = [
            self._keys.config,
            self._keys.config_log,
            self._keys.stream_seq(self._keys.config_log),
        ]
        ok, version = self._cas(
            keys=keys,
            args=[expected_version, workspace.model_dump_json(), user, change, self._maxlen],
        )
        if not ok:
            raise ConfigConflict(int(version))
        return int(version)
