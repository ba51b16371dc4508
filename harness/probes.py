"""Probe sessions for synchronous tests: each keeps receiving on a background event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from harness.probe import ProbeSession


class Probes:
    """Opens probe sessions that keep receiving until :meth:`close`."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="probes", daemon=True)
        self._thread.start()
        self._tasks: list[concurrent.futures.Future[Any]] = []
        self.sessions: list[ProbeSession] = []

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def open(self, url: str, count: int = 1, **options: Any) -> list[ProbeSession]:
        """Connect ``count`` sessions to the replica at ``url`` and keep them receiving;
        ``options`` go to each :class:`ProbeSession` (e.g. ``secret_key``, ``headers``)."""
        opened = [ProbeSession(url, **options) for _ in range(count)]
        for session in opened:
            self._call(session.connect())
            self._tasks.append(asyncio.run_coroutine_threadsafe(session.run(3600), self._loop))
        self.sessions += opened
        return opened

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        """Run a coroutine of a session (e.g. ``session.click(id)``) on the probes' loop."""
        return self._call(coro, timeout)

    def pause(self, session: ProbeSession) -> None:
        """Stop reading the session's websocket, like a browser on a too slow link."""
        self._call(_run(session.pause))

    def resume(self, session: ProbeSession) -> None:
        self._call(_run(session.resume))

    def close_sessions(self, sessions: list[ProbeSession]) -> None:
        """Close these sessions' websockets, like closing their browser tabs."""
        for session in sessions:
            self._call(session.close(), 10)

    def abandon(self, session: ProbeSession) -> None:
        """Drop the connection without closing the websocket, like a killed browser."""
        self._loop.call_soon_threadsafe(session.abandon)

    def close(self) -> None:
        for session in self.sessions:
            if not session.closed:
                self._call(session.close(), 10)
        for task in self._tasks:
            task.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


async def _run(function: Callable[[], None]) -> None:
    """Call ``function`` on the probes' loop (a coroutine for :meth:`Probes._call`)."""
    function()
