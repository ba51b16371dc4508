"""The control thread: leases, desired jobs, config, viewers and the heartbeat.

Reads ``ns:jobs``, ``ns:jobs:log``, ``ns:config`` (+ log), ``ns:viewers:*`` and
``ns:job:{id}:status``; writes ``ns:job:{id}:lease`` and ``:fence`` (through
:class:`Leases`, which also looks the leases up), this worker's entry in
``ns:workers`` and ``ns:catalogue``. Everything else
is written by the compute thread, to which this thread sends commands.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis
import structlog

from livegrid.catalogue import Catalogue
from livegrid.keyspace import Keyspace
from livegrid.models import Desired, JobSpec, Workspace
from livegrid.redis_client import MAX_BLOCK_MS
from livegrid.stores.catalogue import CatalogueStore
from livegrid.stores.config import ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.leases import Lease, LeaseLost, Leases
from livegrid.stores.registry import Registry
from livegrid.stores.viewers import Viewers
from worker.bindings import bindings_of_job
from worker.claims import CLAIM_STEP_S, may_claim, should_hand_over
from worker.commands import (
    Claimed,
    ConfigChanged,
    Ending,
    Finished,
    HandOver,
    Lost,
    Reset,
    Restart,
    Stop,
    ViewersChanged,
)
from worker.compute import ComputeLoop
from worker.held_jobs import plan_held_job
from worker.metrics import WorkerMetrics

log = structlog.get_logger(__name__)

SCAN_INTERVAL_S = 1.0
VIEWERS_INTERVAL_S = 0.5
REBALANCE_INTERVAL_S = 5.0


@dataclass
class _Held:
    lease: Lease
    spec: JobSpec
    ending: bool = False  # a Stop or HandOver was sent; waiting for Finished


@dataclass
class _Timers:
    heartbeat: float = 0.0
    renew: float = 0.0
    scan: float = 0.0
    viewers: float = 0.0
    rebalance: float = field(default_factory=lambda: time.monotonic() + REBALANCE_INTERVAL_S)


class ControlLoop:
    def __init__(
        self,
        *,
        worker_id: str,
        client: redis.Redis,
        blocking_client: redis.Redis,
        keyspace: Keyspace,
        leases: Leases,
        jobs: JobStore,
        config: ConfigStore,
        viewers: Viewers,
        workers: Registry,
        compute: ComputeLoop,
        metrics: WorkerMetrics,
        heartbeat_interval_s: float,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.worker_id = worker_id
        self._catalogue = catalogue
        self._catalogue_store = CatalogueStore(client, keyspace)
        self._catalogue_json: bytes | None = None
        self._blocking = blocking_client
        self._keys = keyspace
        self._leases = leases
        self._jobs = jobs
        self._config = config
        self._viewers = viewers
        self._workers = workers
        self._compute = compute
        self._metrics = metrics
        self._heartbeat_s = heartbeat_interval_s
        self._renew_s = leases.ttl_ms / 3000
        self._held: dict[str, _Held] = {}
        self._claimable_since: dict[str, float] = {}
        self._no_claim_until: dict[str, float] = {}
        self._config_version = -1
        self._last_claim = 0.0
        self._rate_base = (time.monotonic(), 0)
        self._workspace = Workspace()
        self._stream_ids = {keyspace.jobs_log: "$", keyspace.config_log: "$"}
        self._timers = _Timers()
        self._stop = threading.Event()
        self._draining = False
        self._thread = threading.Thread(target=self._run, name="worker-control", daemon=True)
        self.last_error = ""
        self.last_beat = time.monotonic()
        self.redis_ok = False
        self._identity: dict[str, str | int | float] = {}

    # --- process-level API ---

    def start(self) -> None:
        self._identity = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": time.time_ns(),
        }
        self._workers.register(self.worker_id, self._identity)
        self._thread.start()

    def stop(self, timeout: float = 8.0) -> None:
        """Hand every job over, release the leases and leave the registry."""
        self._stop.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def job_ids(self) -> list[str]:
        return sorted(self._held)

    # --- the loop ---

    def _run(self) -> None:
        while not self._stop.is_set():
            self.last_beat = time.monotonic()
            try:
                self._iteration()
                self.redis_ok = True
            except redis.RedisError as exc:
                self._redis_trouble(exc)
        self._drain()

    def _iteration(self) -> None:
        now = time.monotonic()
        self._collect_finished()
        if now >= self._timers.renew:
            self._renew_all()
            self._timers.renew = now + self._renew_s
        if now >= self._timers.heartbeat:
            self._heartbeat()
            self._timers.heartbeat = now + self._heartbeat_s
        woken_jobs, woken_config, woken_viewers = self._wait_for_events()
        now = time.monotonic()
        if woken_config or now >= self._timers.scan:
            self._refresh_config()
        if woken_jobs or now >= self._timers.scan:
            self._timers.scan = now + SCAN_INTERVAL_S
            self._reconcile(now)
        if woken_viewers or woken_config or now >= self._timers.viewers:
            self._refresh_viewers()
            self._timers.viewers = now + VIEWERS_INTERVAL_S
        if now >= self._timers.rebalance:
            self._rebalance()
            self._timers.rebalance = now + REBALANCE_INTERVAL_S

    def _wait_for_events(self) -> tuple[bool, bool, bool]:
        """Block on the job and config logs until an event or the next timer."""
        timers = self._timers
        next_due = min(timers.renew, timers.heartbeat, timers.viewers, timers.scan)
        block_ms = int(max(1, min(MAX_BLOCK_MS, (next_due - time.monotonic()) * 1000)))
        replies: Any = self._blocking.xread(self._stream_ids, block=block_ms, count=500)  # type: ignore[arg-type]
        jobs = config = viewers = False
        for stream, entries in replies or []:
            name = stream.decode()
            self._stream_ids[name] = entries[-1][0].decode()
            if name == self._keys.config_log:
                config = True
                continue
            for _entry_id, fields in entries:
                if fields.get(b"action") == b"viewed":
                    viewers = True
                else:
                    jobs = True
        return jobs, config, viewers

    def _redis_trouble(self, exc: redis.RedisError) -> None:
        self.redis_ok = False
        self.last_error = self._metrics.redis_failed(exc, self.last_error)
        self._stop.wait(0.5)

    # --- leases ---

    def _renew_all(self) -> None:
        for job_id, held in list(self._held.items()):
            try:
                self._leases.renew(held.lease)
            except LeaseLost:
                log.warning("lease lost", job=job_id, token=held.lease.token)
                del self._held[job_id]
                self._compute.commands.put(Lost(job_id))

    def _collect_finished(self) -> None:
        while True:
            try:
                done: Finished = self._compute.finished.get_nowait()
            except queue.Empty:
                return
            held = self._held.pop(done.job_id, None)
            if held is None:
                continue
            if done.ending is not Ending.LOST:
                self._leases.release(held.lease)
            if done.ending is Ending.HANDED_OVER:
                self._no_claim_until[done.job_id] = (
                    time.monotonic() + 3 * self._leases.ttl_ms / 1000
                )

    # --- desired state ---

    def _refresh_config(self) -> None:
        snapshot = self._config.read()
        if snapshot.version != self._config_version:
            self._config_version = snapshot.version
            self._workspace = snapshot.workspace
            self._compute.commands.put(ConfigChanged(snapshot.workspace))

    def _reconcile(self, now: float) -> None:
        specs = self._jobs.all()
        for job_id, held in self._held.items():
            if held.ending:
                continue
            spec = specs.get(job_id)
            plan = plan_held_job(held.spec, spec)
            if plan.stop:
                held.ending = True
                self._compute.commands.put(Stop(job_id))
            elif plan.reset and spec is not None:
                self._compute.commands.put(Reset(job_id, spec.reset_epoch))
            if plan.restart and spec is not None:
                self._compute.commands.put(Restart(spec))
            if spec is not None:
                held.spec = spec
        if self._draining:
            return
        wanted = [
            s for s in specs.values() if s.desired is Desired.RUNNING and s.id not in self._held
        ]
        holders = self._leases.holders([s.id for s in wanted])
        for spec in wanted:
            if holders[spec.id] is not None:
                self._claimable_since.pop(spec.id, None)
                continue
            since = self._claimable_since.setdefault(spec.id, now)
            if now < self._no_claim_until.get(spec.id, 0.0):
                continue
            if may_claim(held=len(self._held), claimable_for_s=now - since):
                self._claim(spec)
            else:
                self._timers.scan = min(self._timers.scan, now + CLAIM_STEP_S)

    def _claim(self, spec: JobSpec) -> None:
        lease = self._leases.acquire(spec.id, self.worker_id)
        if lease is None:
            return
        self._claimable_since.pop(spec.id, None)
        prior = self._jobs.status(spec.id)
        self._held[spec.id] = _Held(lease, spec)
        self._last_claim = time.monotonic()
        log.info("job claimed", job=spec.id, token=lease.token, prior=prior.state)
        self._compute.commands.put(Claimed(lease, spec, prior))
        self._timers.viewers = 0.0

    def _rebalance(self) -> None:
        """Hand one job to a worker that has clearly fewer, once the pool has settled."""
        if self._draining or time.monotonic() - self._last_claim < REBALANCE_INTERVAL_S:
            return
        fresh_ms = 3 * self._heartbeat_s * 1000
        others = [
            len([j for j in m.details.get("jobs", "").split(",") if j])
            for m in self._workers.live()
            if m.id != self.worker_id and m.age_ms < fresh_ms
        ]
        active = [j for j, h in self._held.items() if not h.ending]
        if should_hand_over(mine=len(active), others=others):
            job_id = active[-1]
            log.info("handing a job over to balance the pool", job=job_id)
            self._held[job_id].ending = True
            self._compute.commands.put(HandOver(job_id))

    def _refresh_viewers(self) -> None:
        layer_ids = [
            layer_id
            for job_id in self._held
            for layer_id in bindings_of_job(self._workspace, job_id)
        ]
        counts = self._viewers.counts(layer_ids)
        self._compute.commands.put(
            ViewersChanged(frozenset(lid for lid, n in counts.items() if n > 0))
        )

    def _heartbeat(self) -> None:
        now, frames = time.monotonic(), self._compute.frames_published
        last_at, last_frames = self._rate_base
        rate = (frames - last_frames) / (now - last_at) if now > last_at else 0.0
        self._rate_base = (now, frames)
        if self._workers.heartbeat([self.worker_id]):
            # Reaped by a peer while this worker could not reach Redis: details again.
            self._workers.update(self.worker_id, self._identity)
        if self._catalogue is not None:
            self._publish_catalogue_if_changed(self._catalogue)
        self._workers.update(
            self.worker_id,
            {
                "jobs": ",".join(sorted(self._held)),
                "frames_per_s": round(rate, 2),
                "frames_published": frames,
                "last_error": self.last_error or self._compute.last_error,
            },
        )

    def _publish_catalogue_if_changed(self, catalogue: Catalogue) -> None:
        """Written when Redis holds another catalogue (another build, or Redis lost its
        data): one GET per heartbeat, not a SET of the whole catalogue."""
        if self._catalogue_json is None:
            self._catalogue_json = catalogue.model_dump_json().encode()
        self._catalogue_store.publish_if_changed(self._catalogue_json)

    # --- shutdown ---

    def _drain(self, timeout_s: float = 5.0) -> None:
        """Hand every job over so other workers take them before the ttl."""
        self._draining = True
        try:
            for job_id, held in self._held.items():
                if not held.ending:
                    held.ending = True
                    self._compute.commands.put(HandOver(job_id))
            deadline = time.monotonic() + timeout_s
            while self._held and time.monotonic() < deadline:
                time.sleep(0.02)
                self._collect_finished()
            self._workers.remove([self.worker_id])
        except redis.RedisError as exc:
            log.warning("could not hand jobs over cleanly", error=str(exc))
