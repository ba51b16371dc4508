"""The worker writes the catalogue when Redis holds another one, not on every heartbeat."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

from livegrid.keyspace import Keyspace
from livegrid.stores.catalogue import CatalogueStore


def test_the_catalogue_is_written_once_and_again_only_when_it_is_gone(
    r: redis.Redis, keyspace: Keyspace, spawn_worker: Callable[..., Any], wait_for: Any
) -> None:
    r.config_set("notify-keyspace-events", "K$g")
    pubsub = r.pubsub()
    pubsub.subscribe(f"__keyspace@0__:{keyspace.catalogue}")
    try:
        spawn_worker("w1", LIVEGRID_HEARTBEAT_INTERVAL_S="0.2")
        wait_for(lambda: CatalogueStore(r, keyspace).read().workflows, 30, "a catalogue")
        time.sleep(1.5)  # about seven heartbeats

        def events() -> list[bytes]:
            out = []
            while (message := pubsub.get_message(timeout=0.1)) is not None:
                if message["type"] == "message":
                    out.append(message["data"])
            return out

        assert events() == [b"set"]
        r.delete(keyspace.catalogue)  # Redis lost its data
        wait_for(lambda: r.exists(keyspace.catalogue), 10, "the catalogue written again")
        time.sleep(1.0)
        assert events() == [b"del", b"set"]
    finally:
        pubsub.close()
        r.config_set("notify-keyspace-events", "")
