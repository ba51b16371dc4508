"""The checkpoint writer thread: encodes and writes job checkpoints off the compute thread.

One per worker process (composed in ``worker/main.py``). The compute thread only
takes a :class:`Snapshot` (the workflow's arrays copied, the source position and
the lease's token captured at the same moment) and hands it over; this thread
encodes it (``state_codec.encode``) and writes it with
:meth:`CheckpointStore.write`, fenced by the token of the snapshot.

Ordering: a single thread works through the tasks, and each job has at most one
task waiting. A newer periodic snapshot replaces a waiting (not yet started)
older one of the same job, whose ticket ends ``REPLACED``; a job's writes
therefore commit in snapshot order. Hand-over, reset and stop go through the same
queue and wait for their task (:meth:`write_now`, :meth:`delete_now`): the task
replaces any waiting one of the job and runs after the one in flight, so nothing
older of that job can commit after it.

A write refused for a stale token is counted (``fenced_rejections``) and ends its
ticket ``FENCED``; the runner, on the compute thread, turns that into
:class:`LeaseLost` at its next step.

Keys written (through the store): ``ns:job:{id}:checkpoint`` and its chunks.
"""

from __future__ import annotations

import copy
import enum
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis
import structlog

from livegrid.stores.checkpoints import CheckpointStore
from worker.metrics import WorkerMetrics
from worker.state_codec import State, encode

log = structlog.get_logger(__name__)

#: Longest wait of the compute thread for a hand-over, reset or stop task.
WAIT_S = 120.0


@dataclass(frozen=True)
class Snapshot:
    """A job's checkpoint as of one moment: nothing in it is shared with the workflow."""

    job_id: str
    token: int
    epoch: int
    definition: str
    position: dict[str, Any]
    state: State


def detach(
    state: State, position: dict[str, Any], reuse: dict[str, np.ndarray] | None = None
) -> tuple[State, dict[str, Any]]:
    """Copies of ``state`` and ``position`` that later in-place updates cannot change.

    Arrays the workflow declared ``shared`` (a message's own data, never written in
    place) are kept as they are; every other array is copied, into the buffer of
    the same name in ``reuse`` when its shape and dtype fit (memory already paged
    in copies several times faster than fresh memory). ``reuse`` must be buffers
    no one reads any more (the writer finished the snapshot that held them)."""
    arrays: dict[str, np.ndarray] = {}
    for name, array in state.arrays.items():
        if name in state.shared:
            arrays[name] = array
            continue
        spare = (reuse or {}).get(name)
        if spare is not None and spare.shape == array.shape and spare.dtype == array.dtype:
            np.copyto(spare, array)
            arrays[name] = spare
        else:
            arrays[name] = np.array(array, copy=True, order="C")
    return (
        State(meta=copy.deepcopy(state.meta), arrays=arrays, shared=set(state.shared)),
        copy.deepcopy(position),
    )


class Outcome(enum.Enum):
    WRITTEN = "written"
    DELETED = "deleted"
    #: The token was stale: nothing was written (counted in ``fenced_rejections``).
    FENCED = "fenced"
    #: Redis or the codec failed; the job's previous checkpoint stays.
    FAILED = "failed"
    #: A newer task of the same job took its place before it started.
    REPLACED = "replaced"


class WriterUnavailable(Exception):
    """The writer thread is not running, or did not finish a task in time."""


class Ticket:
    """The outcome of one submitted task, set by the writer thread."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.outcome: Outcome | None = None
        self.error: Exception | None = None
        self.bytes = 0
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float) -> Outcome:
        if not self._done.wait(timeout) or self.outcome is None:
            raise WriterUnavailable(
                f"the checkpoint of job {self.job_id!r} was not written in time"
            )
        return self.outcome

    def finish(self, outcome: Outcome, error: Exception | None = None) -> None:
        self.outcome, self.error = outcome, error
        self._done.set()


@dataclass
class _Task:
    ticket: Ticket
    snapshot: Snapshot | None = None  # None: delete the checkpoint
    token: int = 0


class CheckpointWriter:
    """One named thread that encodes and writes checkpoints, in snapshot order per job."""

    def __init__(
        self,
        store: CheckpointStore,
        metrics: WorkerMetrics,
        *,
        encoder: Callable[[State], bytes] = encode,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._encode = encoder
        self._lock = threading.Condition()
        self._waiting: OrderedDict[str, _Task] = OrderedDict()
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="worker-checkpoint-writer", daemon=True
        )
        #: Milliseconds of the last write (encode, upload): for logs and benchmarks.
        self.last_encode_ms = 0.0
        self.last_write_ms = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = WAIT_S) -> None:
        """Finish the tasks already submitted, then end the thread."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- used by the compute thread ---

    def submit(self, snapshot: Snapshot) -> Ticket:
        """Queue a periodic checkpoint; it replaces a waiting older one of the same job."""
        return self._put(_Task(Ticket(snapshot.job_id), snapshot=snapshot))

    def write_now(self, snapshot: Snapshot, timeout: float = WAIT_S) -> Outcome:
        """Write ``snapshot`` after the job's write in flight, and wait for the outcome.

        A Redis error of the write is raised here, as a write on this thread would."""
        return self._wait(_Task(Ticket(snapshot.job_id), snapshot=snapshot), timeout)

    def delete_now(self, job_id: str, token: int, timeout: float = WAIT_S) -> Outcome:
        """Delete the job's checkpoint after its write in flight (none can commit later)."""
        return self._wait(_Task(Ticket(job_id), token=token), timeout)

    def _wait(self, task: _Task, timeout: float) -> Outcome:
        if not self.alive:
            raise WriterUnavailable("the checkpoint writer thread is not running")
        ticket = self._put(task)
        outcome = ticket.wait(timeout)
        if outcome is Outcome.FAILED and isinstance(ticket.error, redis.RedisError):
            raise ticket.error
        return outcome

    def _put(self, task: _Task) -> Ticket:
        with self._lock:
            if self._stopping:
                task.ticket.finish(Outcome.FAILED, WriterUnavailable("the writer is stopping"))
                return task.ticket
            older = self._waiting.get(task.ticket.job_id)
            if older is not None:
                older.ticket.finish(Outcome.REPLACED)
            self._waiting[task.ticket.job_id] = task  # keeps the job's place in the queue
            self._lock.notify_all()
        return task.ticket

    # --- the thread ---

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._stopping:
                    self._lock.wait()
                if not self._waiting:
                    return
                _job, task = self._waiting.popitem(last=False)
            self._perform(task)

    def _perform(self, task: _Task) -> None:
        ticket = task.ticket
        try:
            if task.snapshot is None:
                deleted = self._store.delete(ticket.job_id, token=task.token)
                self._finish(ticket, Outcome.DELETED if deleted else Outcome.FENCED)
                return
            snapshot = task.snapshot
            started = time.perf_counter()
            state = self._encode(snapshot.state)
            encoded = time.perf_counter()
            written = self._store.write(
                snapshot.job_id,
                token=snapshot.token,
                epoch=snapshot.epoch,
                definition=snapshot.definition,
                position=snapshot.position,
                state=state,
            )
            self.last_encode_ms = (encoded - started) * 1e3
            self.last_write_ms = (time.perf_counter() - encoded) * 1e3
            ticket.bytes = len(state)
            log.debug(
                "checkpoint written" if written else "checkpoint fenced",
                job=snapshot.job_id,
                bytes=len(state),
                encode_ms=round(self.last_encode_ms, 2),
                write_ms=round(self.last_write_ms, 2),
            )
            self._finish(ticket, Outcome.WRITTEN if written else Outcome.FENCED)
        except redis.RedisError as exc:
            log.warning("checkpoint not written", job=ticket.job_id, error=str(exc))
            ticket.finish(Outcome.FAILED, exc)
        except Exception as exc:  # a codec bug must cost this checkpoint, not the worker
            log.exception("checkpoint failed", job=ticket.job_id)
            ticket.finish(Outcome.FAILED, exc)

    def _finish(self, ticket: Ticket, outcome: Outcome) -> None:
        if outcome is Outcome.FENCED:
            self._metrics.fenced_rejections.inc()
        ticket.finish(outcome)
