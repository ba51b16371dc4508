"""What a worker does with a job it holds when the desired spec changed: pure."""

from __future__ import annotations

from dataclasses import dataclass

from livegrid.models import Desired, JobSpec


@dataclass(frozen=True)
class HeldJobPlan:
    """The commands for one held job; ``stop`` and ``reset`` never both."""

    stop: bool = False
    reset: bool = False
    restart: bool = False


def plan_held_job(held: JobSpec, current: JobSpec | None) -> HeldJobPlan:
    """Compare the spec a worker runs (``held``) with the stored one (``current``).

    Stop when the job was removed or is desired stopped; else reset when its
    ``reset_epoch`` moved. Restart (new source, workflow or params) whenever the
    definition changed, even beside a stop, so a job started again runs the new one.
    """
    stop = current is None or current.desired is Desired.STOPPED
    reset = not stop and current is not None and current.reset_epoch != held.reset_epoch
    restart = current is not None and definition(current) != definition(held)
    return HeldJobPlan(stop=stop, reset=reset, restart=restart)


def definition(spec: JobSpec) -> tuple[str, str, str]:
    """What a job computes: a change needs a new runner."""
    return (str(spec.workflow), spec.source, repr(sorted(spec.params.items())))
