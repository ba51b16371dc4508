"""Every edit a session can make: workspace edits by compare-and-set, and job commands.

Keys, through the stores: ``ns:config`` and ``ns:config:log`` (``ConfigStore.write``),
``ns:jobs`` and ``ns:jobs:log`` (``JobStore``). Nothing is overwritten silently: a
workspace edit names the version its user was looking at and is refused when someone
changed the workspace since; starting a job under an id that already has another
definition is refused too. Each method returns whether the change was applied and
otherwise tells the user why with a toast in their session only.

Called from button handlers on the session's IOLoop; these are the only Redis calls
the widgets make. Every method first checks the session's role (``app.auth.roles``):
a refused change is told in a toast and writes nothing, whatever the browser sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import redis
from pydantic import ValidationError

from app.auth.roles import Identity, Permission, Role
from livegrid.models import (
    ID_PATTERN,
    Desired,
    Grid,
    JobSpec,
    Layer,
    Level,
    NotInWorkspaceError,
    Workspace,
)
from livegrid.stores.config import ConfigConflict, ConfigStore
from livegrid.stores.jobs import JobCommandError, JobStore, JobVersionConflict

#: Shows a toast in this session only.
Toast = Callable[[Level, str], None]

REDIS_UNREACHABLE = (
    "Redis is unreachable; your change was not applied. "
    "Make it again once the dashboard is connected."
)

_ATTEMPTS = 5


def error_sentence(error: Exception) -> str:
    """What is wrong, for a user: the model's messages, with field names where they help."""
    if not isinstance(error, ValidationError):
        return str(error)
    parts = []
    for problem in error.errors(include_url=False):
        message = problem["msg"]
        if problem["type"] == "string_pattern_mismatch" and (
            problem.get("ctx", {}).get("pattern") == ID_PATTERN
        ):
            message = "use 1 to 64 letters, digits, '_' or '-'"
        where = ".".join(str(part) for part in problem["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def _definition(spec: JobSpec) -> tuple[str, str, dict[str, Any]]:
    return spec.workflow.value, spec.source, spec.params


class Actions:
    """One session's edits, written as ``user``; failures become toasts through ``toast``."""

    def __init__(
        self,
        config: ConfigStore,
        jobs: JobStore,
        *,
        user: str,
        toast: Toast,
        identity: Identity | None = None,
    ) -> None:
        self._config = config
        self._jobs = jobs
        self.user = user
        self.toast = toast
        #: Who acts; without sign-in everyone is an operator.
        self.identity = identity or Identity(user, Role.OPERATOR, signed_in=False)

    def may(self, permission: Permission) -> bool:
        return self.identity.may(permission)

    def _refused(self, permission: Permission) -> bool:
        """True (after a toast) when this session's role may not do it."""
        if self.identity.may(permission):
            return False
        self.toast(Level.WARNING, self.identity.refusal(permission))
        return True

    def invalid(self, what: str, error: Exception) -> bool:
        """Tell the user that ``what`` (e.g. "The grid was not added") failed; False."""
        self.toast(Level.ERROR, _sentence(f"{what}: {error_sentence(error)}"))
        return False

    # --- the workspace ------------------------------------------------------

    def add_grid(
        self, workspace: Workspace, expected_version: int, *, title: str, rows: int, cols: int
    ) -> bool:
        """Add a grid whose id is made from ``title``; an existing id is refused, not replaced."""
        failed = "The grid was not added"
        if self._refused(Permission.EDIT_WORKSPACE):
            return False
        if not re.search(r"[a-z0-9]", title.lower()):
            reason = "give it a title with a letter (a to z) or a digit, for its id"
            return self.invalid(failed, ValueError(reason))

        def edit() -> tuple[Workspace, str]:
            grid = Grid.model_validate({"title": title.strip(), "rows": rows, "cols": cols})
            if any(g.id == grid.id for g in workspace.grids):
                raise ValueError(
                    f"a grid with id '{grid.id}' exists already; give the new grid another title"
                )
            return workspace.with_grid(grid), f"add grid '{grid.id}'"

        return self._edit(expected_version, failed, edit)

    def remove_grid(self, workspace: Workspace, expected_version: int, grid_id: str) -> bool:
        def edit() -> tuple[Workspace, str]:
            return workspace.without_grid(grid_id), f"remove grid '{grid_id}'"

        return self._edit(expected_version, "The grid was not removed", edit)

    def add_layer(
        self,
        workspace: Workspace,
        expected_version: int,
        *,
        grid_id: str,
        row: int,
        col: int,
        layer: Layer,
        row_span: int = 1,
        col_span: int = 1,
        cell_title: str | None = None,
    ) -> bool:
        """Add ``layer`` on top of the cell at ``row``, ``col``, or create that cell.

        Spans and ``cell_title`` shape a new cell. An existing cell keeps its span and
        title; spans other than 1 must then match its span.
        """

        def edit() -> tuple[Workspace, str]:
            cell = workspace.grid(grid_id).cell_at(row, col)
            spans: tuple[int | None, int | None] = (row_span, col_span)
            if cell is not None:
                if (row_span, col_span) not in ((1, 1), (cell.row_span, cell.col_span)):
                    raise ValueError(
                        f"the {cell.describe()} in grid '{grid_id}' exists already; set the "
                        f"spans to 1 or to {cell.row_span} and {cell.col_span} to add a plot to it"
                    )
                spans = (None, None)
            edited = workspace.with_layer(
                grid_id, row, col, layer, row_span=spans[0], col_span=spans[1]
            )
            if cell is None and cell_title:
                edited = _with_cell_title(edited, grid_id, row, col, cell_title)
            change = f"add layer '{layer.id}' to grid '{grid_id}' at row {row}, col {col}"
            return edited, change

        return self._edit(expected_version, "The plot was not added", edit)

    def remove_layer(self, workspace: Workspace, expected_version: int, layer_id: str) -> bool:
        def edit() -> tuple[Workspace, str]:
            return workspace.without_layer(layer_id), f"remove layer '{layer_id}'"

        return self._edit(expected_version, "The plot was not removed", edit)

    def _edit(
        self, expected_version: int, failed: str, edit: Callable[[], tuple[Workspace, str]]
    ) -> bool:
        if self._refused(Permission.EDIT_WORKSPACE):
            return False
        try:
            edited, change = edit()
        except (ValueError, NotInWorkspaceError) as error:  # ValidationError is a ValueError
            return self.invalid(failed, error)
        try:
            self._config.write(
                edited, expected_version=expected_version, user=self.user, change=change
            )
        except ConfigConflict as conflict:
            self.toast(Level.WARNING, self._conflict_sentence(conflict.current_version))
            return False
        except redis.RedisError:
            self.toast(Level.ERROR, REDIS_UNREACHABLE)
            return False
        return True

    def _conflict_sentence(self, current_version: int) -> str:
        try:
            snapshot = self._config.read()
        except (redis.RedisError, ValueError):
            who = "someone"
        else:
            same = snapshot.version == current_version
            who = snapshot.user if same and snapshot.user else "someone"
        return (
            f"Your change was not applied: {who} changed the workspace meanwhile "
            f"(now version {current_version}). The dashboard shows the current state; "
            "make your change again if it still applies."
        )

    # --- jobs ---------------------------------------------------------------

    def start_job(
        self, *, job_id: str, workflow: str, source: str, params: Mapping[str, Any]
    ) -> bool:
        """Create the job, or set it running again if it exists with this definition."""
        failed = f"Job '{job_id}' was not started" if job_id else "The job was not started"
        if self._refused(Permission.RUN_JOBS):
            return False
        if not job_id:
            return self.invalid(failed, ValueError("give it an id"))
        try:
            spec = JobSpec.model_validate(
                {
                    "id": job_id,
                    "workflow": workflow,
                    "source": source,
                    "params": dict(params),
                    "updated_by": self.user,
                }
            )
        except ValidationError as error:
            return self.invalid(failed, error)
        try:
            return self._start(spec)
        except redis.RedisError:
            self.toast(Level.ERROR, REDIS_UNREACHABLE)
            return False

    def _start(self, spec: JobSpec) -> bool:
        for _ in range(_ATTEMPTS):
            current = self._jobs.get(spec.id)
            if current is not None and _definition(current) != _definition(spec):
                workflow, source, params = _definition(current)
                self.toast(
                    Level.WARNING,
                    f"Job '{spec.id}' was not started: a job with this id exists already "
                    f"(workflow {workflow} on {source}, params {json.dumps(params)}). "
                    "Choose another id "
                    "for a new job, or start that job again from the table.",
                )
                return False
            if current is None:
                desired, expected = spec, -1
            else:
                update = {"desired": Desired.RUNNING, "updated_by": self.user}
                desired, expected = current.model_copy(update=update), current.version
            try:
                self._jobs.put(desired, expected_version=expected, action="start")
            except JobVersionConflict:
                continue
            return True
        return self.invalid(
            f"Job '{spec.id}' was not started", ValueError("it is changing too fast; try again")
        )

    def stop_job(self, job_id: str) -> bool:
        return self._command(job_id, self._jobs.stop)

    def reset_job(self, job_id: str) -> bool:
        return self._command(job_id, self._jobs.reset)

    def _command(self, job_id: str, command: Callable[..., JobSpec]) -> bool:
        if self._refused(Permission.RUN_JOBS):
            return False
        try:
            command(job_id, user=self.user)
        except JobCommandError as error:  # its message is a sentence for the user
            self.toast(Level.ERROR, _sentence(str(error)))
            return False
        except redis.RedisError:
            self.toast(Level.ERROR, REDIS_UNREACHABLE)
            return False
        return True


def _with_cell_title(
    workspace: Workspace, grid_id: str, row: int, col: int, title: str
) -> Workspace:
    grid = workspace.grid(grid_id)
    cells = [
        c.model_copy(update={"title": title}) if (c.row, c.col) == (row, col) else c
        for c in grid.cells
    ]
    return workspace.with_grid(grid.model_copy(update={"cells": cells}))
