"""What one replica knows, as immutable values: the feed publishes, sessions read.

The feed thread builds a new :class:`ReplicaView` for every batch it applies and
swaps it in with one reference assignment; sessions read ``feed.view`` on their
own IOLoop without locks. Everything inside is shared by all sessions of the
replica and must not be mutated. Counters (``generation`` and friends) let a
session skip work cheaply: equal counter, nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.prepare import Prepared
from livegrid.catalogue import Catalogue
from livegrid.lifecycle import LayerState
from livegrid.models import JobSpec, Notification, Workspace
from livegrid.stores.jobs import JobStatus
from livegrid.stores.layers import LayerSnapshot
from livegrid.stores.registry import Member


@dataclass(frozen=True)
class LayerView:
    """A layer as this replica shows it: its lifecycle and its latest prepared frame.

    ``problem`` is a replica-side failure (the frame could not be decoded or
    prepared); it is shown as the layer's error until a good frame arrives.
    ``frame_seq`` is the sequence number of the frame ``prepared`` (or the broken
    one) came from; 0 before any frame reached this replica. It may lag
    ``snapshot.frame_seq`` for a layer no session of this replica shows.
    """

    snapshot: LayerSnapshot
    prepared: Prepared | None = None
    problem: str | None = None
    frame_seq: int = 0

    @property
    def state(self) -> LayerState:
        """A missing layer hash reads as waiting for its job (docs/adr/0003)."""
        if self.problem:
            return LayerState.ERROR
        return self.snapshot.lifecycle.state or LayerState.WAITING_FOR_JOB

    @property
    def error(self) -> str | None:
        return self.problem or self.snapshot.lifecycle.error

    @property
    def version(self) -> int:
        return self.snapshot.lifecycle.version


@dataclass(frozen=True)
class NotificationEntry:
    """A notification with its position in ``ns:notifications`` (``seq``, 1-based)."""

    seq: int
    notification: Notification


@dataclass(frozen=True)
class ServiceView:
    """The newest x5f2 status of a data-producing service (``ns:services:status``).

    ``quiet`` when no status arrived for more than twice its update interval.
    """

    id: str
    software: str = ""
    host: str = ""
    state: str = ""
    age_ms: int = 0
    quiet: bool = False


@dataclass(frozen=True)
class SystemView:
    """Live members of the registries and service statuses, refreshed about once a second."""

    sessions: tuple[Member, ...] = ()
    replicas: tuple[Member, ...] = ()
    workers: tuple[Member, ...] = ()
    services: tuple[ServiceView, ...] = ()


@dataclass(frozen=True)
class ReplicaView:
    """Everything a session needs to present, at one instant of the feed.

    ``generation`` grows with every change; ``config_version`` is the workspace's
    version in Redis; ``jobs_generation``, ``system_generation`` and
    ``grid_generations`` grow when their part changes. ``notifications`` is the
    bounded ring of recent notifications in ``seq`` order; ``notification_epoch``
    grows when the stream restarted (Redis lost its data), so cursors of the old
    epoch start over. ``connected`` is False while Redis is unreachable and
    ``problem`` then says so.
    """

    generation: int = 0
    connected: bool = False
    problem: str = "Connecting to Redis…"
    config_version: int = 0
    config_user: str = ""
    workspace: Workspace = field(default_factory=Workspace)
    jobs: Mapping[str, JobSpec] = field(default_factory=dict)
    statuses: Mapping[str, JobStatus] = field(default_factory=dict)
    jobs_generation: int = 0
    catalogue: Catalogue = field(default_factory=Catalogue)
    layers: Mapping[str, LayerView] = field(default_factory=dict)
    grid_generations: Mapping[str, int] = field(default_factory=dict)
    notifications: tuple[NotificationEntry, ...] = ()
    notification_seq: int = 0
    notification_epoch: int = 0
    system: SystemView = field(default_factory=SystemView)
    system_generation: int = 0
    replica_id: str = ""

    def notifications_after(self, seq: int) -> tuple[NotificationEntry, ...]:
        """Ring entries after ``seq``, oldest first."""
        return tuple(entry for entry in self.notifications if entry.seq > seq)
