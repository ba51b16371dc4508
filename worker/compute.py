"""The compute thread: owns the runners of the jobs this worker holds.

Commands arrive from the control thread on a queue; every data write happens
here, so a runner is only ever touched by one thread. When the thread is done
with a job it reports :class:`Finished` so the control thread can release or
forget the lease after the last write.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from functools import partial

import redis
import structlog

from livegrid.models import JobSpec, Notification, Workspace
from livegrid.stores.checkpoints import Checkpoint, CheckpointStore
from livegrid.stores.jobs import JobStore
from livegrid.stores.layers import LayerStore
from livegrid.stores.leases import LeaseLost
from livegrid.stores.notifications import NotificationLog
from worker.bindings import bindings_of_job
from worker.checkpoint_writer import CheckpointWriter
from worker.commands import (
    Claimed,
    Command,
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
from worker.metrics import WorkerMetrics
from worker.runner import JobRunner
from worker.sources.base import Source
from worker.workflows import Workflow, make_workflow

log = structlog.get_logger(__name__)

SourceFactory = Callable[[str, str], Source]
"""Open a stream of a source for a job: ``(source name, job id) -> Source``."""

#: Longest pause between two looks at the sources when nothing else happens.
IDLE_WAIT_S = 0.02
MAX_MESSAGE_CHARS = 1000


class ComputeLoop:
    def __init__(
        self,
        *,
        worker_id: str,
        layers: LayerStore,
        jobs: JobStore,
        notifications: NotificationLog,
        make_source: SourceFactory,
        metrics: WorkerMetrics,
        display_max: int,
        max_array_bytes: int,
        checkpoints: CheckpointStore | None = None,
        checkpoint_writer: CheckpointWriter | None = None,
        checkpoint_interval_s: float = 5.0,
    ) -> None:
        self.worker_id = worker_id
        #: Read on claim here; written by the writer thread (no writer: no checkpoints).
        self._checkpoints = checkpoints
        self._writer = checkpoint_writer
        self._checkpoint_interval_ns = round(checkpoint_interval_s * 1e9)
        self._layers = layers
        self._jobs = jobs
        self._notifications = notifications
        self._make_source = make_source
        self._metrics = metrics
        self._display_max = display_max
        self._max_array_bytes = max_array_bytes
        self.commands: queue.Queue[Command] = queue.Queue()
        self.finished: queue.Queue[Finished] = queue.Queue()
        self._runners: dict[str, JobRunner] = {}
        self._workspace = Workspace()
        self._viewed: frozenset[str] = frozenset()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-compute", daemon=True)
        self.last_error = ""
        self.frames_published = 0
        self.last_beat = time.monotonic()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- the loop ---

    def _run(self) -> None:
        while not self._stop.is_set():
            self.last_beat = time.monotonic()
            try:
                self._drain_commands()
                for runner in list(self._runners.values()):
                    self._step(runner)
            except redis.RedisError as exc:
                self._redis_trouble(exc)

    def _drain_commands(self) -> None:
        try:
            command = self.commands.get(timeout=IDLE_WAIT_S)
        except queue.Empty:
            return
        while True:
            self._handle(command)
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return

    def _step(self, runner: JobRunner) -> None:
        try:
            self.frames_published += runner.step(self._viewed)
        except LeaseLost as exc:
            self._drop(runner.job_id, Ending.LOST, str(exc))

    def _redis_trouble(self, exc: redis.RedisError) -> None:
        self.last_error = self._metrics.redis_failed(exc, self.last_error)
        self._stop.wait(0.5)

    # --- commands ---

    def _handle(self, command: Command) -> None:
        match command:
            case ConfigChanged(workspace):
                self._workspace = workspace
                for held in list(self._runners.values()):
                    bindings = bindings_of_job(workspace, held.job_id)
                    self._guard(held.job_id, partial(held.set_bindings, bindings))
            case ViewersChanged(viewed):
                self._viewed = viewed
            case Claimed(lease, spec, prior):
                self._claimed(lease.job_id, command, prior_worker=prior.worker, prior=prior.state)
            case Stop(job_id):
                self._end(job_id, Ending.STOPPED, "stop", f"Job {job_id} stopped.")
            case HandOver(job_id):
                self._end(job_id, Ending.HANDED_OVER, "hand_over", "")
            case Reset(job_id, epoch):
                to_reset = self._runners.get(job_id)
                if to_reset is not None:
                    self._guard(job_id, partial(self._reset, to_reset, epoch))
            case Restart(spec):
                to_restart = self._runners.get(spec.id)
                if to_restart is not None:
                    self._guard(spec.id, partial(self._restart, to_restart, spec))
            case Lost(job_id):
                self._drop(job_id, Ending.LOST, "lease renewal failed")

    def _reset(self, runner: JobRunner, epoch: int | None) -> None:
        if runner.failure:
            # Nothing to reset in a job that could not start (bad checkpoint): start it anew.
            spec = runner.spec
            if epoch is not None:
                spec = spec.model_copy(update={"reset_epoch": epoch})
            runner.close()
            fresh = self._new_runner(Claimed(runner.lease, spec, self._jobs.status(spec.id)))
            self._runners[spec.id] = fresh
            fresh.start(bindings_of_job(self._workspace, spec.id))
            if fresh.failure:
                self._notify("error", f"Job {spec.id} failed to start: {fresh.failure}", spec.id)
                return
        else:
            runner.reset(epoch)
        self._notify("info", f"Job {runner.job_id} was reset.", runner.job_id)

    def _read_checkpoint(self, runner: JobRunner) -> Checkpoint | None:
        if self._checkpoints is None:
            return None
        try:
            return self._checkpoints.read(runner.job_id)
        except (ValueError, UnicodeDecodeError) as exc:
            runner.unrestorable(str(exc))
            return None

    def _claimed(self, job_id: str, command: Claimed, *, prior_worker: str, prior: str) -> None:
        runner = self._new_runner(command)
        restored = runner.restore(self._read_checkpoint(runner))
        self._runners[job_id] = runner
        self._metrics.jobs_held.set(len(self._runners))
        self._metrics.lease_acquisitions.inc()
        me = self.worker_id
        if prior == "running" and prior_worker and prior_worker != me:
            level, text = (
                "warning",
                (
                    f"Job {job_id} was taken over by worker {me} after worker {prior_worker} "
                    "stopped responding."
                ),
            )
        elif prior == "handed_over" and prior_worker != me:
            level, text = "info", f"Job {job_id} moved from worker {prior_worker} to worker {me}."
        elif prior == "running":
            level, text = "info", f"Job {job_id} resumed on worker {me}."
        else:
            level, text = "success", f"Job {job_id} started on worker {me}."
        if restored.phrase:
            text = f"{text.rstrip('.')}; {restored.phrase}."
            level = restored.level or level
        if self._guard(job_id, lambda: runner.start(bindings_of_job(self._workspace, job_id))):
            if runner.failure:
                self._notify("error", f"Job {job_id} failed to start: {runner.failure}", job_id)
            else:
                self._notify(level, text, job_id)

    def _new_runner(self, command: Claimed) -> JobRunner:
        spec = command.spec
        source: Source | None = None
        workflow: Workflow | None = None
        failure = ""
        try:
            workflow = make_workflow(str(spec.workflow), spec.params)
            source = self._make_source(spec.source, spec.id)
        except ValueError as exc:
            failure = str(exc)
        return JobRunner(
            lease=command.lease,
            spec=spec,
            source=source,
            workflow=workflow,
            failure=failure,
            layers=self._layers,
            set_status=self._jobs.set_status,
            notify=lambda level, text: self._notify(level, text, spec.id),
            metrics=self._metrics,
            display_max=self._display_max,
            max_array_bytes=self._max_array_bytes,
            checkpoints=self._writer,
            checkpoint_interval_ns=self._checkpoint_interval_ns,
        )

    def _restart(self, runner: JobRunner, spec: JobSpec) -> None:
        runner.hand_over()
        fresh = self._new_runner(Claimed(runner.lease, spec, self._jobs.status(spec.id)))
        self._runners[spec.id] = fresh
        fresh.start(bindings_of_job(self._workspace, spec.id))
        self._notify("info", f"Job {spec.id} restarted with its new definition.", spec.id)

    def _end(self, job_id: str, ending: Ending, method: str, message: str) -> None:
        runner = self._runners.get(job_id)
        if runner is None:
            self.finished.put(Finished(job_id, ending))
            return
        if self._guard(job_id, getattr(runner, method)):
            if message:
                self._notify("info", message, job_id)
            self._drop(job_id, ending, method)

    def _guard(self, job_id: str, action: Callable[[], object]) -> bool:
        """Run ``action`` for ``job_id``; a lost lease drops the job. True if it completed."""
        try:
            action()
            return True
        except LeaseLost as exc:
            self._drop(job_id, Ending.LOST, str(exc))
            return False

    def _drop(self, job_id: str, ending: Ending, why: str) -> None:
        runner = self._runners.pop(job_id, None)
        if runner is not None:
            runner.close()
            log.info("job left this worker", job=job_id, ending=ending.value, why=why)
            if ending is Ending.LOST:
                self._metrics.lease_losses.inc()
        self._metrics.jobs_held.set(len(self._runners))
        self.finished.put(Finished(job_id, ending))

    def _notify(self, level: str, message: str, job_id: str) -> None:
        text = (
            message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"
        )
        self._notifications.append(
            Notification(level=level, message=text, user=f"worker {self.worker_id}", job=job_id)
        )

    # --- introspection for the registry ---

    def job_ids(self) -> list[str]:
        return sorted(self._runners)
