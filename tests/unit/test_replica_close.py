"""A session the reaper took is still closed when Bokeh destroys its document first."""

from __future__ import annotations

from typing import Any, cast

from app.server import Replica
from livegrid.settings import Settings


class _Tab:
    """Records the two calls a replica makes on a session."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def close(self) -> None:
        self.calls.append("close")

    def close_soon(self) -> None:
        # Queued on the IOLoop; Bokeh drops it when it destroys the session first.
        self.calls.append("close_soon")


def _replica() -> Replica:
    # Nothing here talks to Redis: the clients connect on first use.
    return Replica(Settings(redis_url="redis://127.0.0.1:9/0"), port=0)


def test_the_destroy_hook_closes_a_session_the_reaper_took_first() -> None:
    replica, tab = _replica(), _Tab()
    replica.sessions["s"] = cast(Any, tab)
    replica._reaped(["s"])
    replica._close("s", cast(Any, tab))
    assert tab.calls == ["close_soon", "close"]
    assert "s" not in replica.sessions


def test_the_destroy_hook_leaves_a_new_session_of_the_same_id_alone() -> None:
    replica, old, new = _replica(), _Tab(), _Tab()
    replica.sessions["s"] = cast(Any, new)
    replica._close("s", cast(Any, old))
    assert old.calls == ["close"]
    assert new.calls == []
    assert replica.sessions["s"] is cast(Any, new)
