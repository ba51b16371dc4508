"""``livegrid workspace load|dump``: templates in and out of the config store."""

from __future__ import annotations

import sys
from pathlib import Path

import redis

from livegrid.keyspace import Keyspace
from livegrid.models import Workspace
from livegrid.redis_client import connect, describe_connection_error
from livegrid.settings import Settings
from livegrid.stores.config import ConfigConflict, ConfigStore
from livegrid.stores.jobs import JobStore
from livegrid.workspace_file import WorkspaceFileError, dump_workspace, load_workspace_file


def load_command(settings: Settings, path: str, *, user: str, start_jobs: bool) -> int:
    """Validate ``path`` and make it the current workspace; start its jobs."""
    try:
        workspace = load_workspace_file(path)
    except (WorkspaceFileError, OSError) as exc:
        print(f"livegrid: {exc}", file=sys.stderr)
        return 2
    client = connect(settings.redis_url)
    keys = Keyspace(settings.namespace)
    try:
        version = load_workspace(client, keys, workspace, user=user, start_jobs=start_jobs)
    except redis.ConnectionError as exc:
        print(f"livegrid: {describe_connection_error(settings.redis_url, exc)}", file=sys.stderr)
        return 1
    print(f"loaded {path} as workspace version {version} ({len(workspace.grids)} grids)")
    return 0


def load_workspace(
    client: redis.Redis,
    keys: Keyspace,
    workspace: Workspace,
    *,
    user: str,
    start_jobs: bool,
) -> int:
    """Replace the current workspace (retrying on concurrent edits); the new version."""
    store = ConfigStore(client, keys)
    while True:
        current = store.version()
        try:
            version = store.write(
                workspace, expected_version=current, user=user, change="load workspace"
            )
            break
        except ConfigConflict:
            continue
    if start_jobs:
        jobs = JobStore(client, keys)
        for spec in workspace.jobs:
            jobs.start(spec, user=user)
    return version


def dump_command(settings: Settings, path: str | None) -> int:
    client = connect(settings.redis_url)
    try:
        snapshot = ConfigStore(client, Keyspace(settings.namespace)).read()
        jobs = JobStore(client, Keyspace(settings.namespace)).all()
    except redis.ConnectionError as exc:
        print(f"livegrid: {describe_connection_error(settings.redis_url, exc)}", file=sys.stderr)
        return 1
    workspace = snapshot.workspace.model_copy(
        update={"jobs": sorted(jobs.values(), key=lambda j: j.id)}
    )
    text = dump_workspace(workspace)
    if path:
        Path(path).write_text(text)
    else:
        sys.stdout.write(text)
    return 0
