"""The System tab: sessions, replicas and workers across the cluster, data services
(Kafka x5f2 status), jobs with their worker, and the recent notifications (newest first).

Times are UTC. Heartbeat ages are as of the feed's last registry read. Each table
is rebuilt only when its part of the view changed.

Stable hooks: the root has the CSS class ``lg-system``; tables
``data-testid="lg-sessions-table"``, ``lg-replicas-table``, ``lg-workers-table``,
``lg-services-table``, ``lg-system-jobs-table`` and ``lg-notifications-table``, rows carrying
``data-id`` (members), ``data-job`` or ``data-level``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

import panel as pn

from app.view import ReplicaView
from app.widgets.forms import assign_if_changed, html_table, table_pane, utc_time
from livegrid.stores.jobs import JobStatus
from livegrid.stores.registry import Member

Table = Callable[[ReplicaView, int], str]


def _age(member: Member) -> str:
    return f"{member.age_ms / 1000:.1f}"


def _epoch_ns(raw: str) -> int | None:
    """A ``started_at`` detail: ns since the epoch (``time.time_ns()``); None if absent."""
    try:
        return int(raw)
    except ValueError:
        return None


def _members(
    testid: str, members: Iterable[Member], columns: Sequence[str], now_ns: int, empty: str
) -> str:
    """Members as rows: their id, the detail per column ("started_at" as a time), age."""
    rows = []
    for m in sorted(members, key=lambda m: m.id):
        details = [
            utc_time(_epoch_ns(m.details.get(c, "")), now_ns)
            if c == "started_at"
            else m.details.get(c, "")
            for c in columns
        ]
        rows.append(({"id": m.id}, (m.id, *details, _age(m))))
    headers = ["started (UTC)" if c == "started_at" else c for c in columns]
    return html_table(testid, ("id", *headers, "heartbeat age (s)"), rows, empty=empty)


def sessions_table(view: ReplicaView, now_ns: int) -> str:
    columns = ("user", "replica", "tab", "started_at")
    return _members("lg-sessions-table", view.system.sessions, columns, now_ns, "No sessions.")


def replicas_table(view: ReplicaView, now_ns: int) -> str:
    columns = ("host", "port", "sessions")
    return _members("lg-replicas-table", view.system.replicas, columns, now_ns, "No replicas.")


def workers_table(view: ReplicaView, now_ns: int) -> str:
    columns = ("host", "pid", "jobs", "started_at")
    return _members("lg-workers-table", view.system.workers, columns, now_ns, "No live worker.")


def jobs_table(view: ReplicaView, now_ns: int) -> str:
    rows = []
    for job_id in sorted(view.jobs):
        spec, status = view.jobs[job_id], view.statuses.get(job_id, JobStatus())
        cells = (
            job_id,
            spec.desired.value,
            status.state,
            status.worker,
            utc_time(status.started_at, now_ns),
            utc_time(status.last_data_at, now_ns),
            status.error,
        )
        rows.append(({"job": job_id}, cells))
    columns = ("job", "desired", "state", "worker", "started (UTC)", "last data (UTC)", "error")
    return html_table("lg-system-jobs-table", columns, rows, empty="No jobs.")


def services_table(view: ReplicaView, now_ns: int) -> str:
    rows = [
        (
            {"id": svc.id, "quiet": "true" if svc.quiet else "false"},
            (
                svc.id,
                svc.software,
                svc.host,
                svc.state + (" (quiet)" if svc.quiet else ""),
                f"{svc.age_ms / 1000:.0f}",
            ),
        )
        for svc in view.system.services
    ]
    columns = ("service", "software", "host", "state", "last status (s ago)")
    return html_table(
        "lg-services-table", columns, rows, empty="No service status (x5f2) received."
    )


def notifications_table(view: ReplicaView, now_ns: int) -> str:
    rows = []
    for entry in reversed(view.notifications):
        n = entry.notification
        cells = (utc_time(n.ts, now_ns), n.level.value, n.job, n.user, n.message)
        rows.append(({"level": n.level.value, "seq": str(entry.seq)}, cells))
    columns = ("time (UTC)", "level", "job", "user", "message")
    return html_table("lg-notifications-table", columns, rows, empty="No notifications yet.")


def _utc_day(now_ns: int) -> int:
    return datetime.fromtimestamp(now_ns / 1e9, UTC).toordinal()


class SystemTab:
    """Shows the cluster; refresh() rebuilds only the tables whose part of the view changed."""

    def __init__(self) -> None:
        self._tables: list[tuple[Table, Callable[[ReplicaView], object], pn.pane.HTML]] = []
        self._keys: list[object] = []
        sections = []
        for heading, table, key in (
            ("Sessions", sessions_table, _system_key),
            ("Replicas", replicas_table, _system_key),
            ("Workers", workers_table, _system_key),
            ("Services (Kafka x5f2)", services_table, _system_key),
            ("Jobs", jobs_table, _jobs_key),
            ("Notifications", notifications_table, _notifications_key),
        ):
            pane = table_pane()
            self._tables.append((table, key, pane))
            self._keys.append(None)
            sections += [pn.pane.HTML(f"<h3>{heading}</h3>"), pane]
        self.panel: pn.viewable.Viewable = pn.Column(
            *sections, css_classes=["lg-system"], sizing_mode="stretch_width"
        )

    def refresh(self, view: ReplicaView, now_ns: int) -> None:
        day = _utc_day(now_ns)
        for i, (table, key, pane) in enumerate(self._tables):
            current = (key(view), day)
            if current != self._keys[i]:
                self._keys[i] = current
                assign_if_changed(pane, table(view, now_ns))


def _system_key(view: ReplicaView) -> object:
    return view.system_generation


def _jobs_key(view: ReplicaView) -> object:
    return view.jobs_generation


def _notifications_key(view: ReplicaView) -> object:
    last = view.notifications[-1].seq if view.notifications else 0
    return view.notification_epoch, last, len(view.notifications)
