"""Desired jobs and fenced job status on a real Redis."""

from __future__ import annotations

import pytest
import redis

from livegrid.keyspace import Keyspace
from livegrid.models import JobSpec
from livegrid.stores.jobs import JobCommandError, JobStore, JobVersionConflict
from livegrid.stores.leases import Leases


def _spec() -> JobSpec:
    return JobSpec(id="det", workflow="cumulative", source="detector_panel_0")


def test_start_stop_reset_write_desired_state_and_wake_workers(
    r: redis.Redis, keyspace: Keyspace
) -> None:
    jobs = JobStore(r, keyspace)
    jobs.start(_spec(), user="ada")
    jobs.reset("det", user="ada")
    stopped = jobs.stop("det", user="bob")

    assert (stopped.desired, stopped.reset_epoch, stopped.version) == ("stopped", 1, 2)
    assert jobs.get("det") == stopped
    actions = [(f[b"job_id"], f[b"action"]) for _, f in r.xrange(keyspace.jobs_log)]
    assert actions == [(b"det", b"start"), (b"det", b"reset"), (b"det", b"stop")]


def test_restart_keeps_the_reset_epoch(r: redis.Redis, keyspace: Keyspace) -> None:
    jobs = JobStore(r, keyspace)
    jobs.start(_spec())
    jobs.reset("det")
    jobs.stop("det")
    assert jobs.start(_spec()).reset_epoch == 1


def test_put_with_a_stale_version_is_refused(r: redis.Redis, keyspace: Keyspace) -> None:
    jobs = JobStore(r, keyspace)
    jobs.start(_spec())
    with pytest.raises(JobVersionConflict) as info:
        jobs.put(_spec(), expected_version=-1, action="start")
    assert info.value.current == 0


def test_command_on_unknown_job_tells_the_user(r: redis.Redis, keyspace: Keyspace) -> None:
    with pytest.raises(JobCommandError, match="no job 'ghost'"):
        JobStore(r, keyspace).stop("ghost")


def test_status_write_with_a_stale_token_is_rejected(r: redis.Redis, keyspace: Keyspace) -> None:
    jobs = JobStore(r, keyspace)
    leases = Leases(r, keyspace, ttl_ms=5000)
    old = leases.acquire("det", "w1")
    assert old is not None
    r.delete(keyspace.job_lease("det"))
    new = leases.acquire("det", "w2")
    assert new is not None

    assert jobs.set_status("det", new.token, state="running", worker="w2")
    assert not jobs.set_status("det", old.token, state="running", worker="w1")
    status = jobs.status("det")
    assert (status.state, status.worker, status.token) == ("running", "w2", new.token)
