r"""The worker pool's catalogue in Redis (ADR 5).

Key: ``ns:catalogue``, a string holding the JSON of a
:class:`livegrid.catalogue.Catalogue`. Every worker compares it with its own
on each heartbeat (one ``GET``) and ``SET``\s it only when Redis holds another
(all workers of one build publish the same catalogue, so the last writer wins
harmlessly; the comparison also restores it after Redis lost its data); read by
the replicas' feeds.
"""

from __future__ import annotations

from typing import Any

import redis
from pydantic import ValidationError

from livegrid.catalogue import Catalogue
from livegrid.keyspace import Keyspace


class CatalogueStore:
    def __init__(self, client: redis.Redis, keyspace: Keyspace) -> None:
        self._redis = client
        self._key = keyspace.catalogue

    def publish(self, catalogue: Catalogue) -> None:
        self._redis.set(self._key, catalogue.model_dump_json())

    def publish_if_changed(self, encoded: bytes) -> bool:
        """Write ``encoded`` (a catalogue's JSON) unless Redis holds it already; True if written."""
        if self._redis.get(self._key) == encoded:
            return False
        self._redis.set(self._key, encoded)
        return True

    def read(self) -> Catalogue:
        """The published catalogue; empty before any worker started or if unreadable."""
        raw: Any = self._redis.get(self._key)
        if not raw:
            return Catalogue()
        try:
            return Catalogue.model_validate_json(raw)
        except ValidationError:
            return Catalogue()
