"""Job leases with fencing tokens on a real Redis."""

from __future__ import annotations

import pytest
import redis

from harness import wait_until
from livegrid.keyspace import Keyspace
from livegrid.stores.leases import LeaseHolder, LeaseLost, Leases


def test_second_worker_cannot_acquire_a_live_lease(r: redis.Redis, keyspace: Keyspace) -> None:
    leases = Leases(r, keyspace, ttl_ms=5000)
    assert leases.acquire("job", "w1") is not None
    assert leases.acquire("job", "w2") is None


def test_expired_lease_is_acquired_by_another_holder_with_a_higher_token(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    leases = Leases(r, keyspace, ttl_ms=150)
    first = leases.acquire("job", "w1")
    assert first is not None
    second = wait_until(
        lambda: leases.acquire("job", "w2"), 5, "the expired lease to be acquired", interval=0.02
    )
    assert second.token > first.token
    holder = leases.holder("job")
    assert holder is not None and (holder.worker_id, holder.token) == ("w2", second.token)


def test_holder_detects_lease_loss_on_renewal(r: redis.Redis, keyspace: Keyspace) -> None:
    leases = Leases(r, keyspace, ttl_ms=5000)
    lease = leases.acquire("job", "w1")
    assert lease is not None
    leases.renew(lease)
    r.delete(keyspace.job_lease("job"))
    assert leases.acquire("job", "w2") is not None
    with pytest.raises(LeaseLost):
        leases.renew(lease)


def test_release_frees_the_lease_at_once_but_only_for_its_holder(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    leases = Leases(r, keyspace, ttl_ms=60_000)
    lease = leases.acquire("job", "w1")
    assert lease is not None
    impostor = type(lease)("job", "w2", lease.token)
    assert leases.release(impostor) is False
    assert leases.release(lease) is True
    assert leases.acquire("job", "w2") is not None


def test_renewal_extends_the_ttl(r: redis.Redis, keyspace: Keyspace) -> None:
    leases = Leases(r, keyspace, ttl_ms=10_000)
    lease = leases.acquire("job", "w1")
    assert lease is not None
    r.pexpire(keyspace.job_lease("job"), 50)
    leases.renew(lease)
    assert r.pttl(keyspace.job_lease("job")) > 5_000


def test_holders_names_each_live_holder_and_none_for_a_claimable_job(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    leases = Leases(r, keyspace, ttl_ms=5000)
    first = leases.acquire("a", "w1")
    second = leases.acquire("b", "w2")
    assert first is not None and second is not None
    leases.release(second)

    holders = leases.holders(["a", "b", "never-claimed"])

    assert holders == {"a": LeaseHolder("w1", first.token), "b": None, "never-claimed": None}
    assert leases.holders([]) == {}
