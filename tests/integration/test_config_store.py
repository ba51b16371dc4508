"""Compare-and-set of the workspace on a real Redis."""

from __future__ import annotations

import threading

import pytest
import redis

from livegrid.keyspace import Keyspace
from livegrid.models import Grid, Workspace
from livegrid.stores.config import ConfigConflict, ConfigStore


def _grid(grid_id: str) -> Grid:
    return Grid(id=grid_id, title=grid_id.title(), rows=1, cols=1, cells=[])


def test_empty_store_reads_version_zero(r: redis.Redis, keyspace: Keyspace) -> None:
    snapshot = ConfigStore(r, keyspace).read()
    assert snapshot.version == 0
    assert snapshot.workspace == Workspace()


def test_accepted_write_bumps_version_and_logs_the_change(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    store = ConfigStore(r, keyspace)
    workspace = Workspace().with_grid(_grid("detectors"))
    version = store.write(workspace, expected_version=0, user="ada", change="add grid")
    assert version == 1
    snapshot = store.read()
    assert (snapshot.version, snapshot.workspace, snapshot.user) == (1, workspace, "ada")
    ((_, fields),) = r.xrange(keyspace.config_log)
    assert fields == {b"version": b"1", b"user": b"ada", b"change": b"add grid", b"seq": b"1"}


def test_stale_version_is_refused_with_the_current_version(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    store = ConfigStore(r, keyspace)
    store.write(Workspace().with_grid(_grid("a")), expected_version=0)
    with pytest.raises(ConfigConflict) as info:
        store.write(Workspace().with_grid(_grid("b")), expected_version=0)
    assert info.value.current_version == 1
    assert [g.id for g in store.read().workspace.grids] == ["a"]


def test_two_concurrent_writers_exactly_one_wins(
    r: redis.Redis, keyspace: Keyspace, redis_url: str
) -> None:
    ConfigStore(r, keyspace).write(Workspace(), expected_version=0)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def writer(name: str) -> None:
        store = ConfigStore(redis.Redis.from_url(redis_url), keyspace)
        snapshot = store.read()
        barrier.wait()
        try:
            results[name] = store.write(
                snapshot.workspace.with_grid(_grid(name)), expected_version=snapshot.version
            )
        except ConfigConflict as exc:
            results[name] = exc

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)

    wins = [n for n, v in results.items() if v == 2]
    losses = [v for v in results.values() if isinstance(v, ConfigConflict)]
    assert len(wins) == 1 and len(losses) == 1
    assert losses[0].current_version == 2
    assert [g.id for g in ConfigStore(r, keyspace).read().workspace.grids] == wins
