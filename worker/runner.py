"""One job held by this worker: its source, workflow and the layers it feeds.

Runs on the worker's compute thread only. Every Redis write carries the job
lease's fencing token; a write refused as stale raises :class:`LeaseLost` and
the caller drops the runner at once.

Keys written (through the stores): ``ns:layer:{id}``, ``ns:layer:{id}:frame``,
``ns:frames``, ``ns:job:{id}:status``, ``ns:notifications``, ``ns:job:{id}:checkpoint``
(and its chunks).

Checkpoints: the workflow's state and the source's position are snapshot together
every ``checkpoint_interval_ns`` while data arrives, and once more on hand-over,
so a planned move replays nothing and a crash replays (never double-counts) the
data since the last one. A claim restores the latest checkpoint of the same
reset epoch and definition (see :meth:`JobRunner.restore`). This thread only
copies the snapshot; the worker's :class:`CheckpointWriter` thread encodes and
writes it. Hand-over, reset and stop wait for their write (or delete).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipp as sc
import structlog

from livegrid.codec import FrameEncodeError, encode_frame
from livegrid.lifecycle import LayerState, Lifecycle, Outcome, Transition
from livegrid.models import JobSpec
from livegrid.stores.checkpoints import Checkpoint
from livegrid.stores.layers import FrameTimes, LayerStore, WriteStatus
from livegrid.stores.leases import Lease, LeaseLost
from worker.bindings import Binding
from worker.checkpoint_writer import (
    CheckpointWriter,
    Snapshot,
    Ticket,
    WriterUnavailable,
    detach,
)
from worker.checkpoint_writer import Outcome as Written
from worker.metrics import WorkerMetrics
from worker.plotters import PlotterError, compute_frame
from worker.sources.base import Message, Resumable, Source, SourceError, SourceUnavailable
from worker.state_codec import CheckpointDecodeError, decode
from worker.workflows import Workflow, WorkflowError

log = structlog.get_logger(__name__)

Notify = Callable[[str, str], None]  # (level, message)
SetStatus = Callable[..., bool]


def definition_of(spec: JobSpec) -> str:
    """What a checkpoint must match to be restored: workflow, source and params."""
    return repr((str(spec.workflow), spec.source, sorted(spec.params.items())))


@dataclass(frozen=True)
class Restored:
    """What :meth:`JobRunner.restore` did: a phrase for the claim notification, and its level."""

    phrase: str = ""
    level: str = ""


@dataclass
class _Slot:
    """The runner's view of one bound layer: what it last wrote, and whether data is newer."""

    binding: Binding
    lifecycle: Lifecycle
    stored_version: int
    dirty: bool = False


class JobRunner:
    def __init__(
        self,
        *,
        lease: Lease,
        spec: JobSpec,
        source: Source | None,
        workflow: Workflow | None,
        failure: str = "",
        layers: LayerStore,
        set_status: SetStatus,
        notify: Notify,
        metrics: WorkerMetrics,
        display_max: int,
        max_array_bytes: int,
        checkpoints: CheckpointWriter | None = None,
        checkpoint_interval_ns: int = 5_000_000_000,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.lease = lease
        self.spec = spec
        self._source = source
        self._workflow = workflow
        self._layers = layers
        self._set_status = set_status
        self._notify = notify
        self._metrics = metrics
        self._display_max = display_max
        self._max_array_bytes = max_array_bytes
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        #: Why the job could not be set up (unknown source, bad params); it then idles.
        self.failure = failure
        self._job_error = ""
        #: What the source said while it could not reach its input ('' when it can).
        self._waiting = ""
        self._last_status_at = 0
        self.frames_published = 0
        self._checkpoints = checkpoints
        self._checkpoint_interval_ns = checkpoint_interval_ns
        self._epoch = spec.reset_epoch
        self._last_checkpoint_at = clock()
        #: Data arrived (or a reset) since the last checkpoint.
        self._unsaved = False
        #: Snapshots handed to the writer, and the tickets of those not yet seen done.
        self.checkpoints_taken = 0
        self._tickets: list[Ticket] = []
        #: The copied arrays of the last snapshot, reused once the writer is done with it.
        self._buffers: dict[str, np.ndarray] = {}

    @property
    def job_id(self) -> str:
        return self.lease.job_id

    @property
    def layer_ids(self) -> list[str]:
        return list(self._slots)

    # --- lifecycle of the job on this worker ---

    def start(self, bindings: Mapping[str, Binding]) -> None:
        """Take the job's layers over: every bound layer gets ``job_started``."""
        self.set_bindings(bindings)  # not started yet: adopts the layers without writing
        now = self._clock()
        self._status(state="running", worker=self.lease.worker_id, started_at=now, error="")
        for slot in self._slots.values():
            self._start_slot(slot)
        if self.failure:
            self._status(state="error", error=self.failure)

    def _start_slot(self, slot: _Slot) -> None:
        self._transition(slot, Transition.JOB_STARTED)
        if self.failure:
            self._transition(slot, Transition.ERROR_OCCURRED, error=self.failure)

    def set_bindings(self, bindings: Mapping[str, Binding]) -> None:
        """Follow a config change: adopt new layers, forget removed ones."""
        for layer_id in [lid for lid in self._slots if lid not in bindings]:
            del self._slots[layer_id]
            if not self._layers.delete(layer_id, job=self.job_id, token=self.lease.token):
                raise LeaseLost(f"lease of job {self.job_id!r} was lost")
        new = [b for lid, b in bindings.items() if lid not in self._slots]
        if not new:
            return
        snapshots = self._layers.snapshots([b.layer_id for b in new])
        for binding in new:
            stored = snapshots[binding.layer_id].lifecycle
            lifecycle = stored if stored.state is not None else Lifecycle.added()
            slot = _Slot(binding, lifecycle, stored.version, dirty=True)
            self._slots[binding.layer_id] = slot
            if self._started:
                self._start_slot(slot)

    @property
    def _started(self) -> bool:
        return self._last_status_at > 0

    def stop(self) -> None:
        """The job was stopped: layers keep their last frame and show STOPPED.

        Its checkpoint is deleted: a job started again starts new sums from the
        present, as before checkpoints existed (ADR 10)."""
        if self._checkpoints is not None:
            # Through the writer, after any write of this job in flight: none commits later.
            try:
                outcome = self._checkpoints.delete_now(self.job_id, self.lease.token)
            except WriterUnavailable as exc:
                outcome = Written.FAILED
                log.error("checkpoint not deleted", job=self.job_id, error=str(exc))
            if outcome is Written.FENCED:
                raise LeaseLost(f"lease of job {self.job_id!r} was lost")
        for slot in self._slots.values():
            self._transition(slot, Transition.JOB_STOPPED)
        self._status(state="stopped", error="")
        self.close()

    def hand_over(self) -> None:
        """This worker leaves the job to another (shutdown or rebalancing): a final
        checkpoint first, committed before this returns (and so before the lease is
        released), so the next holder continues without loss or replay."""
        self.checkpoint(wait=True)
        self._status(state="handed_over")
        self.close()

    def close(self) -> None:
        """Release the source (a Kafka consumer); idempotent, writes nothing."""
        if self._source is not None:
            self._source.close()

    def reset(self, epoch: int | None = None) -> None:
        """Start the sums over; a new ``epoch`` is checkpointed at once, so no claim
        can restore state from before the reset."""
        if epoch is not None:
            self._epoch = epoch
        if self._workflow is None:
            return
        self._workflow.reset()
        for slot in self._slots.values():
            slot.dirty = True
        self._unsaved = True
        self.checkpoint(wait=True)

    # --- checkpoints ---

    @property
    def _resumable(self) -> Resumable | None:
        """The source, if it can checkpoint its position."""
        source: object = self._source
        return source if isinstance(source, Resumable) else None

    def restore(self, checkpoint: Checkpoint | None) -> Restored:
        """Continue from ``checkpoint`` (the job's latest, read on claim), if it fits.

        A checkpoint of another reset epoch or definition is not restored (the job
        starts fresh and says why); one that cannot be decoded fails the job with
        an operator action, and the worker goes on.
        """
        if checkpoint is None or self._workflow is None or self._source is None:
            return Restored()
        if checkpoint.epoch != self._epoch:
            return Restored("the job was reset since its last checkpoint, so it starts afresh")
        if checkpoint.definition != definition_of(self.spec):
            return Restored(
                "its checkpoint belongs to an earlier definition (workflow, source or params), "
                "which it does not fit, so it starts afresh",
                "warning",
            )
        resumable = self._resumable
        if resumable is None:
            return Restored()
        try:
            self._workflow.restore(decode(checkpoint.state))
            phrase = resumable.resume(checkpoint.position)
        except (CheckpointDecodeError, KeyError, ValueError, TypeError, IndexError) as exc:
            self.unrestorable(str(exc))
            return Restored()
        return Restored(f"{phrase}, nothing lost")

    def unrestorable(self, reason: str) -> None:
        """The job's checkpoint cannot be used: the job idles in ERROR until it is reset."""
        log.warning("checkpoint unreadable", job=self.job_id, error=reason)
        self.failure = (
            f"The job's checkpoint cannot be restored ({reason}); reset the job to start it "
            "from scratch."
        )
        if self._source is not None:
            self._source.close()
        self._source = None
        self._workflow = None

    def checkpoint(self, *, wait: bool = False) -> bool:
        """Snapshot state and position together if data arrived since the last; True if taken.

        The arrays are copied here (workflows add in place), with the position and
        the token of this moment; the writer thread encodes and writes the copy.
        ``wait``: return only once it is committed (``LeaseLost`` if fenced).
        """
        if (
            self._checkpoints is None
            or self._workflow is None
            or not self._unsaved
            or (resumable := self._resumable) is None
        ):
            return False
        started = time.perf_counter()
        # The last snapshot's buffers are free once every write handed over has finished.
        reuse = self._buffers if all(ticket.done for ticket in self._tickets) else None
        try:
            state, position = detach(self._workflow.snapshot(), resumable.position(), reuse)
        except Exception:  # a snapshot bug must cost this checkpoint, not the worker
            log.exception("checkpoint snapshot failed", job=self.job_id)
            return False
        self._buffers = {n: a for n, a in state.arrays.items() if n not in state.shared}
        snapshot = Snapshot(
            job_id=self.job_id,
            token=self.lease.token,
            epoch=self._epoch,
            definition=definition_of(self.spec),
            position=position,
            state=state,
        )
        self._unsaved = False
        self._last_checkpoint_at = self._clock()
        self.checkpoints_taken += 1
        log.debug(
            "checkpoint taken",
            job=self.job_id,
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
        if not wait:
            self._tickets.append(self._checkpoints.submit(snapshot))
            return True
        try:
            outcome = self._checkpoints.write_now(snapshot)
        except WriterUnavailable as exc:
            # The previous checkpoint stays: a claim replays from it, never double-counts.
            log.error("checkpoint not written", job=self.job_id, error=str(exc))
            self._unsaved = True
            self._buffers = {}  # the writer may still read them
            return False
        if outcome is Written.FENCED:
            raise LeaseLost(f"lease of job {self.job_id!r} was lost")
        if outcome is not Written.WRITTEN:
            self._unsaved = True
            return False
        return True

    def _check_writes(self) -> None:
        """Act on the writer's outcomes: a stale token loses the job, a failure retries."""
        if not self._tickets:
            return
        pending = []
        for ticket in self._tickets:
            if not ticket.done:
                pending.append(ticket)
            elif ticket.outcome is Written.FENCED:
                self._tickets = []
                raise LeaseLost(f"lease of job {self.job_id!r} was lost (checkpoint fenced)")
            elif ticket.outcome is Written.FAILED:
                self._unsaved = True  # the next interval writes again, even without new data
        self._tickets = pending

    def _maybe_checkpoint(self) -> None:
        if self._clock() - self._last_checkpoint_at >= self._checkpoint_interval_ns:
            self.checkpoint()

    # --- data ---

    def step(self, viewed: Iterable[str]) -> int:
        """Read what the source has, feed the workflow, publish viewed layers; frames published."""
        self._check_writes()
        if self._source is None or self._workflow is None:
            return 0
        try:
            messages = self._source.read(0.0)
            for message in messages:
                self._check_size(message)
                self._workflow.push(message)
                self._unsaved = True
        except SourceUnavailable as exc:
            self._wait_for_source(str(exc))
            return 0
        except (SourceError, WorkflowError) as exc:
            self._fail_job(str(exc))
            return 0
        if self._waiting:
            self._source_back()
        if (resumable := self._resumable) is not None and (skipped := resumable.take_skipped()):
            self._notify(
                "warning",
                f"Job {self.job_id}: {skipped} messages no longer in Kafka were skipped "
                "(retention dropped them before the job resumed).",
            )
        if messages:
            self._metrics.messages.labels(source=self.spec.source).inc(len(messages))
            for slot in self._slots.values():
                slot.dirty = True
            self._recover_job()
            self._maybe_status(last_data_at=messages[-1].end_ns)
        self._maybe_checkpoint()
        viewed_now = set(viewed)
        published = 0
        outputs = None
        for slot in self._slots.values():
            if not slot.dirty or slot.binding.layer_id not in viewed_now:
                continue
            if outputs is None:
                outputs = self._workflow.outputs()
            data = outputs.get(slot.binding.output)
            if data is None:
                continue  # no data for this output yet
            inputs = [outputs.get(name) for name in slot.binding.inputs]
            published += self._publish(slot, data, self._workflow, inputs)
        return published

    def _check_size(self, message: Message) -> None:
        size = message.data.data.values.nbytes
        if size > self._max_array_bytes:
            raise SourceError(
                f"Source {message.source!r} sent {size / 2**20:.1f} MiB, more than the "
                f"{self._max_array_bytes / 2**20:.1f} MiB limit (LIVEGRID_MAX_ARRAY_BYTES)."
            )

    def _publish(
        self,
        slot: _Slot,
        data: sc.DataArray,
        workflow: Workflow,
        inputs: Sequence[sc.DataArray | None] = (),
    ) -> int:
        binding = slot.binding
        slot.dirty = False
        now = self._clock()
        started = time.perf_counter()
        data_range = workflow.time_range(binding.output)
        try:
            frame = compute_frame(
                binding.plotter,
                data,
                binding.params,
                display_max=self._display_max,
                now_ns=now,
                title=binding.title,
                data_start=data_range[0] if data_range else None,
                data_end=data_range[1] if data_range else None,
                source=self.spec.source,
                output=binding.output,
                inputs=inputs,
            )
            payload = encode_frame(frame)
        except (PlotterError, FrameEncodeError, ValueError) as exc:
            self._transition(slot, Transition.ERROR_OCCURRED, error=str(exc))
            return 0
        except Exception as exc:  # a plotter bug must cost one layer, not the worker
            log.exception("compute failed", layer=binding.layer_id, plotter=binding.plotter)
            message = f"The {binding.plotter} plotter failed: {exc.__class__.__name__}: {exc}"
            self._transition(slot, Transition.ERROR_OCCURRED, error=message)
            return 0
        self._metrics.compute_seconds.labels(plotter=binding.plotter).observe(
            time.perf_counter() - started
        )
        lifecycle, _ = slot.lifecycle.apply(Transition.DATA_ARRIVED)
        times = FrameTimes(
            data_start=frame.data_start or 0,
            data_end=frame.data_end or 0,
            computed_at=frame.computed_at or now,
        )
        self._write(slot, lifecycle, frame=payload, times=times)
        self._metrics.frames.labels(plotter=binding.plotter).inc()
        self.frames_published += 1
        return 1

    # --- errors of the whole job ---

    def _fail_job(self, message: str) -> None:
        """Bad input: layers show the latest reason; log, status and notification once per
        failure (a stream of varied bad messages must not flood the notifications)."""
        first = not self._job_error
        self._job_error = message
        for slot in self._slots.values():
            self._transition(slot, Transition.ERROR_OCCURRED, error=message)
        if first:
            log.warning("job input failed", job=self.job_id, error=message)
            self._status(state="error", error=message)
            self._notify("error", f"Job {self.job_id} failed: {message}")

    def _wait_for_source(self, message: str) -> None:
        """The source cannot reach its input: layers show why; the job keeps running."""
        first = self._waiting != message
        self._waiting = message
        for slot in self._slots.values():
            self._transition(slot, Transition.ERROR_OCCURRED, error=message)
        if first:
            log.warning("job waits for its source", job=self.job_id, reason=message)
            self._status(state="running", error=message)
            self._notify("warning", f"Job {self.job_id}: {message}")

    def _source_back(self) -> None:
        """The source reaches its input again: its layers wait for data (or show what is held)."""
        message, self._waiting = self._waiting, ""
        for slot in self._slots.values():
            if slot.lifecycle.state is LayerState.ERROR and slot.lifecycle.error == message:
                self._transition(slot, Transition.JOB_STARTED)
                slot.dirty = True
        self._status(state="running", error="")
        self._notify("success", f"Job {self.job_id} reaches its source again.")

    def _recover_job(self) -> None:
        if self._job_error:
            self._job_error = ""
            self._status(state="running", error="")
            self._notify("success", f"Job {self.job_id} receives good data again.")

    # --- writes ---

    def _transition(self, slot: _Slot, transition: Transition, error: str | None = None) -> None:
        lifecycle, outcome = slot.lifecycle.apply(transition, error=error)
        if outcome is Outcome.REJECTED:
            log.warning(
                "invalid layer transition",
                layer=slot.binding.layer_id,
                state=slot.lifecycle.state,
                transition=transition.value,
            )
            return
        if outcome is Outcome.APPLIED:
            self._write(slot, lifecycle)

    def _write(self, slot: _Slot, lifecycle: Lifecycle, **frame: object) -> None:
        for _attempt in range(2):
            result = self._layers.write(
                slot.binding.layer_id,
                job=self.job_id,
                token=self.lease.token,
                expected_version=slot.stored_version,
                lifecycle=lifecycle,
                **frame,  # type: ignore[arg-type]
            )
            if result.status is WriteStatus.FENCED:
                self._metrics.fenced_rejections.inc()
                raise LeaseLost(f"lease of job {self.job_id!r} was lost")
            if result.status is WriteStatus.ACCEPTED:
                slot.lifecycle = lifecycle
                slot.stored_version = result.version
                return
            # CONFLICT: someone wrote the layer since we read it; adopt their version.
            slot.stored_version = result.version
            lifecycle = Lifecycle(lifecycle.state, result.version + 1, lifecycle.error)
        raise LeaseLost(f"layer {slot.binding.layer_id!r} keeps changing under job {self.job_id!r}")

    def _status(self, **fields: str | int) -> None:
        if not self._set_status(self.job_id, self.lease.token, **fields):
            raise LeaseLost(f"lease of job {self.job_id!r} was lost")
        self._last_status_at = self._clock()

    def _maybe_status(self, **fields: str | int) -> None:
        if self._clock() - self._last_status_at >= 1_000_000_000:
            self._status(**fields)
