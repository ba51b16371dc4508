"""Messages from the worker's control thread to its compute thread, and back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from livegrid.models import JobSpec, Workspace
from livegrid.stores.jobs import JobStatus
from livegrid.stores.leases import Lease


@dataclass(frozen=True)
class Claimed:
    """The control thread acquired ``lease``; ``prior`` is the job status it found."""

    lease: Lease
    spec: JobSpec
    prior: JobStatus


@dataclass(frozen=True)
class Stop:
    job_id: str


@dataclass(frozen=True)
class Reset:
    job_id: str
    #: The job's new ``reset_epoch``: checkpoints of older epochs are never restored.
    epoch: int | None = None


@dataclass(frozen=True)
class Restart:
    """The job's definition (workflow, source, params) changed while running here."""

    spec: JobSpec


@dataclass(frozen=True)
class HandOver:
    """Leave the job to another worker (shutdown or rebalancing)."""

    job_id: str


@dataclass(frozen=True)
class Lost:
    """Renewal failed: drop the job without writing anything more."""

    job_id: str


@dataclass(frozen=True)
class ConfigChanged:
    workspace: Workspace


@dataclass(frozen=True)
class ViewersChanged:
    viewed: frozenset[str]


Command = Claimed | Stop | Reset | Restart | HandOver | Lost | ConfigChanged | ViewersChanged


class Ending(StrEnum):
    STOPPED = "stopped"  # release the lease
    HANDED_OVER = "handed_over"  # release the lease, do not reclaim soon
    LOST = "lost"  # the lease is gone already


@dataclass(frozen=True)
class Finished:
    """Compute is done with ``job_id``: nothing more will be written for it."""

    job_id: str
    ending: Ending
