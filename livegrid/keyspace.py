"""Every Redis key and stream name of the livegrid contract, built from the namespace.

See docs/architecture.md ("The Redis contract") for who writes each key.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keyspace:
    """Names of all keys under one namespace prefix ``ns``."""

    ns: str

    # --- workspace configuration (replicas, via CAS script) ---
    @property
    def config(self) -> str:
        return f"{self.ns}:config"

    @property
    def config_log(self) -> str:
        return f"{self.ns}:config:log"

    # --- jobs (desired state: replicas; leases and status: workers) ---
    @property
    def jobs(self) -> str:
        return f"{self.ns}:jobs"

    @property
    def jobs_log(self) -> str:
        return f"{self.ns}:jobs:log"

    def job_lease(self, job_id: str) -> str:
        return f"{self.ns}:job:{job_id}:lease"

    def job_fence(self, job_id: str) -> str:
        return f"{self.ns}:job:{job_id}:fence"

    def job_status(self, job_id: str) -> str:
        return f"{self.ns}:job:{job_id}:status"

    # --- layers and frames (worker owning the layer's job, fenced) ---
    def layer(self, layer_id: str) -> str:
        return f"{self.ns}:layer:{layer_id}"

    def layer_frame(self, layer_id: str) -> str:
        return f"{self.ns}:layer:{layer_id}:frame"

    @property
    def frames(self) -> str:
        return f"{self.ns}:frames"

    # --- notifications (workers and replicas) ---
    @property
    def notifications(self) -> str:
        return f"{self.ns}:notifications"

    def stream_seq(self, stream: str) -> str:
        """Counter behind the ``seq`` field of a stream's entries."""
        return f"{stream}:seq"

    # --- registries (each process for itself) ---
    @property
    def workers(self) -> str:
        return f"{self.ns}:workers"

    def worker(self, worker_id: str) -> str:
        return f"{self.ns}:worker:{worker_id}"

    @property
    def replicas(self) -> str:
        return f"{self.ns}:replicas"

    def replica(self, replica_id: str) -> str:
        return f"{self.ns}:replica:{replica_id}"

    @property
    def sessions(self) -> str:
        return f"{self.ns}:sessions"

    def session(self, session_id: str) -> str:
        return f"{self.ns}:session:{session_id}"

    # --- viewer interest (each replica for itself) ---
    def viewers(self, layer_id: str) -> str:
        return f"{self.ns}:viewers:{layer_id}"

    @property
    def catalogue(self) -> str:
        """JSON: the sources, workflows and plotters the worker pool offers (``Catalogue``)."""
        return f"{self.ns}:catalogue"

    def session_cursor(self, tab_id: str) -> str:
        """A browser tab's last shown notification, so a reconnect resumes after it."""
        return f"{self.ns}:cursor:{tab_id}"

    # --- service status from Kafka x5f2 messages (workers' status consumers) ---
    @property
    def services_status(self) -> str:
        """Hash ``service_id -> JSON`` of the newest x5f2 status of each service."""
        return f"{self.ns}:services:status"

    def registry(self, kind: str) -> str:
        """The liveness zset of ``kind`` (``workers``, ``replicas``, ``sessions``)."""
        return f"{self.ns}:{kind}"

    def registry_details(self, kind: str, member_id: str) -> str:
        """The details hash of one member of registry ``kind``."""
        singular = {"workers": "worker", "replicas": "replica", "sessions": "session"}[kind]
        return f"{self.ns}:{singular}:{member_id}"

    # --- job checkpoints (worker holding the job's lease, fenced; stores/checkpoints.py) ---
    def job_checkpoint(self, job_id: str) -> str:
        """Hash: the committed checkpoint's generation, epoch, definition and source position."""
        return f"{self.ns}:job:{job_id}:checkpoint"

    def job_checkpoint_chunk_prefix(self, job_id: str) -> str:
        """Prefix of the state chunks ``<prefix>{generation}:{i}``."""
        return f"{self.ns}:job:{job_id}:checkpoint:"
