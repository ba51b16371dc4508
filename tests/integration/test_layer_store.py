"""Fenced layer writes on a real Redis."""

from __future__ import annotations

import redis

from livegrid.keyspace import Keyspace
from livegrid.lifecycle import LayerState, Lifecycle, Transition
from livegrid.stores.layers import FrameTimes, LayerStore, WriteStatus
from livegrid.stores.leases import Leases

TIMES = FrameTimes(data_start=10, data_end=20, computed_at=30)


def _started() -> Lifecycle:
    return Lifecycle.added().apply(Transition.JOB_STARTED)[0]


def test_current_holder_writes_and_stale_token_is_rejected(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    leases = Leases(r, keyspace, ttl_ms=100)
    store = LayerStore(r, keyspace, frames_maxlen=1000)
    old = leases.acquire("job", "w1")
    assert old is not None
    r.delete(keyspace.job_lease("job"))  # the old holder's lease expired
    new = leases.acquire("job", "w2")
    assert new is not None and new.token > old.token

    ok = store.write("L", job="job", token=new.token, expected_version=0, lifecycle=_started())
    stale = store.write(
        "L", job="job", token=old.token, expected_version=2,
        lifecycle=Lifecycle(LayerState.READY, 3), frame=b"stale", times=TIMES,
    )  # fmt: skip

    assert ok.status is WriteStatus.ACCEPTED
    assert stale.status is WriteStatus.FENCED
    assert store.fenced_rejections == 1
    snapshot = store.snapshot("L")
    assert snapshot.lifecycle == _started()
    assert snapshot.frame_seq == 0
    assert r.get(keyspace.layer_frame("L")) is None


def test_frame_write_bumps_frame_seq_and_stores_times(r: redis.Redis, keyspace: Keyspace) -> None:
    store = LayerStore(r, keyspace, frames_maxlen=1000)
    token = Leases(r, keyspace, ttl_ms=1000).acquire("job", "w")
    assert token is not None
    started = _started()
    store.write("L", job="job", token=token.token, expected_version=0, lifecycle=started)
    ready = started.apply(Transition.DATA_ARRIVED)[0]
    first = store.write(
        "L", job="job", token=token.token, expected_version=started.version,
        lifecycle=ready, frame=b"f1", times=TIMES,
    )  # fmt: skip
    second = store.write(
        "L", job="job", token=token.token, expected_version=ready.version,
        lifecycle=ready, frame=b"f2", times=TIMES,
    )  # fmt: skip

    assert (first.frame_seq, second.frame_seq) == (1, 2)
    assert second.version == ready.version
    snapshot, frame = store.fetch(["L"])["L"]
    assert frame == b"f2"
    assert (snapshot.data_start, snapshot.data_end, snapshot.computed_at) == (10, 20, 30)
    assert snapshot.job == "job"


def test_each_write_appends_one_frames_entry_with_consecutive_seq(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    store = LayerStore(r, keyspace, frames_maxlen=1000)
    lease = Leases(r, keyspace, ttl_ms=1000).acquire("job", "w")
    assert lease is not None
    lifecycle = _started()
    store.write("A", job="job", token=lease.token, expected_version=0, lifecycle=lifecycle)
    store.write("B", job="job", token=lease.token, expected_version=0, lifecycle=lifecycle)

    entries = r.xrange(keyspace.frames)
    assert [e[1][b"layer"] for e in entries] == [b"A", b"B"]
    assert [int(e[1][b"seq"]) for e in entries] == [1, 2]
    assert entries[0][1][b"state"] == b"waiting_for_data"


def test_write_against_a_moved_version_is_a_conflict(r: redis.Redis, keyspace: Keyspace) -> None:
    store = LayerStore(r, keyspace, frames_maxlen=1000)
    lease = Leases(r, keyspace, ttl_ms=1000).acquire("job", "w")
    assert lease is not None
    store.write("L", job="job", token=lease.token, expected_version=0, lifecycle=_started())
    result = store.write(
        "L", job="job", token=lease.token, expected_version=0, lifecycle=_started()
    )
    assert result.status is WriteStatus.CONFLICT
    assert result.version == 2


def test_missing_layer_reads_as_not_yet_added(r: redis.Redis, keyspace: Keyspace) -> None:
    snapshot = LayerStore(r, keyspace, frames_maxlen=1000).snapshot("nobody")
    assert snapshot.lifecycle == Lifecycle()
    assert snapshot.frame_seq == 0
