"""A replica's presence in Redis: its sessions, its viewer marks, the service statuses it shows."""

from __future__ import annotations

from app.metrics import ReplicaMetrics
from app.presence import Presence
from livegrid.stores.registry import Registry
from livegrid.stores.viewers import Viewers
from worker.metrics import WorkerMetrics
from worker.sources.ess_decode import ServiceStatus
from worker.sources.kafka_status import StatusConsumer


def _presence(r, keyspace, interest, reaped, stale_after_s=15.0):
    return Presence(
        r,
        keyspace,
        replica_id="rep-1",
        replica_details={"host": "h", "port": 1},
        stale_after_s=stale_after_s,
        viewer_ttl_s=10,
        interest=lambda: interest,
        on_reaped=reaped.extend,
        metrics=ReplicaMetrics(),
    )


def test_one_chore_registers_the_replica_its_live_sessions_and_its_viewers(r, keyspace):
    presence = _presence(r, keyspace, frozenset({"img"}), [])
    presence.add_session("s-1", {"user": "ada"}, alive=lambda: True)
    presence.add_session("s-2", {"user": "bob"}, alive=lambda: False)

    system = presence()

    assert [m.id for m in system.replicas] == ["rep-1"]
    assert [(m.id, m.details["user"], m.details["replica"]) for m in system.sessions] == [
        ("s-1", "ada", "rep-1")
    ]
    assert Viewers(r, keyspace, ttl_s=10).counts(["img"]) == {"img": 1}


def test_a_disconnected_session_is_reaped_and_handed_to_its_replica(r, keyspace, wait_for):
    reaped: list[str] = []
    connected = {"s-1": True}
    presence = _presence(r, keyspace, frozenset(), reaped, stale_after_s=0.5)
    presence.add_session("s-1", {"user": "ada"}, alive=lambda: connected["s-1"])
    presence()
    connected["s-1"] = False

    wait_for(lambda: presence() and reaped, 10, "the stale session to be reaped")

    assert reaped == ["s-1"]
    assert Registry(r, keyspace, "sessions", stale_after_s=0.5).live() == []


def test_a_live_session_reaped_by_another_replica_during_an_outage_is_restored(r, keyspace):
    presence = _presence(r, keyspace, frozenset(), [], stale_after_s=15)
    presence.add_session("s-1", {"user": "ada"}, alive=lambda: True)
    presence()
    # Another replica reaped it while this one could not reach Redis.
    Registry(r, keyspace, "sessions", stale_after_s=15).remove(["s-1"])

    system = presence()

    assert [(m.id, m.details.get("user")) for m in system.sessions] == [("s-1", "ada")]


def test_service_statuses_written_by_workers_are_listed_with_their_age(r, keyspace):
    consumer = StatusConsumer(
        client=r, keyspace=keyspace, topics=[], config={}, metrics=WorkerMetrics()
    )
    status = ServiceStatus("reducer-1", "ess-reduce", "1.0", "node-3", 12, 1000, "running", "{}")
    assert consumer.write(status, topic="status", kafka_ts_ms=1)

    services = _presence(r, keyspace, frozenset(), [])().services

    assert [(s.id, s.software, s.host, s.state, s.quiet) for s in services] == [
        ("reducer-1", "ess-reduce", "node-3", "running", False)
    ]
