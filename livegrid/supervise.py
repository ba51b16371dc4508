"""Child processes started and stopped together, and polling until a condition holds.

The one process supervisor of the tree: ``livegrid demo`` runs its Redis-side
children with it, and the test and benchmark harness (``harness/``, outside
the wheel) builds its worker, replica and client processes on it.

- :class:`Child`: one process, its output in a log file (or the parent's
  terminal), stopped gracefully: SIGTERM (the path a user's Ctrl-C takes: a
  worker hands its jobs over), SIGKILL after a grace period.
- :class:`Supervisor`: every child of a run; :meth:`Supervisor.stop_all` stops
  them all, newest first, also the ones stopped with SIGSTOP.
- :func:`wait_until`: poll a condition; :class:`WaitTimeout` (an
  ``AssertionError``, so a test reports it as a failed expectation) names what
  was awaited and what was seen.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

#: Seconds a child gets between SIGTERM and SIGKILL.
STOP_GRACE_S = 10.0


def livegrid_command(*args: str) -> list[str]:
    """``livegrid ARGS...`` with this interpreter, as a user runs it."""
    return [sys.executable, "-m", "livegrid.cli", *args]


class WaitTimeout(AssertionError):
    """A condition did not hold within its timeout."""


def wait_until(
    condition: Callable[[], Any],
    timeout: float,
    what: str,
    detail: Callable[[], object] | None = None,
    *,
    interval: float = 0.1,
) -> Any:
    """Poll ``condition`` every ``interval`` s until it is truthy and return its value.

    Raises :class:`WaitTimeout` after ``timeout`` seconds, naming ``what`` and
    showing ``detail()`` (what was seen) when given.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = f"; saw {detail()}" if detail is not None else ""
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}{seen}")
        time.sleep(interval)


class Child:
    """One child process.

    Its stdout and stderr go to ``log_path`` (appended), or to the parent's when
    None. With ``pipes`` it is a line-based text peer: stdin and stdout are pipes,
    stderr goes to the log.
    """

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str],
        *,
        log_path: Path | None = None,
        pipes: bool = False,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] | None = log_path.open("ab") if log_path is not None else None
        self.process: subprocess.Popen[Any] = subprocess.Popen(
            list(args),
            env=dict(env),
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else self._log,
            stderr=self._log if pipes or self._log is not None else None,
            text=pipes,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.running:
            self.process.send_signal(signum)

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        """``kill -9``: no shutdown path runs."""
        if self.running:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = STOP_GRACE_S) -> None:
        """SIGTERM (after SIGCONT, should it be stopped), then SIGKILL after ``timeout`` s."""
        if self.running:
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
        self._reap(timeout)

    def close(self, timeout: float = STOP_GRACE_S) -> None:
        """Stop the process and close its log."""
        self.stop(timeout)
        if self._log is not None:
            self._log.close()

    def _reap(self, timeout: float) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


class Supervisor:
    """The children of one run; logs go to ``log_dir/<name>.log`` (the terminal if None)."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []

    def spawn(
        self, name: str, args: Sequence[str], env: Mapping[str, str], *, pipes: bool = False
    ) -> Child:
        log_path = self.log_dir / f"{name}.log" if self.log_dir is not None else None
        child = Child(name, args, env, log_path=log_path, pipes=pipes)
        self.children.append(child)
        return child

    def exited(self) -> list[Child]:
        """Children that are no longer running."""
        return [c for c in self.children if not c.running]

    def stop_all(self, timeout: float = 15.0) -> None:
        """SIGTERM every child at once, newest first; SIGKILL whatever outlives ``timeout``."""
        for child in reversed(self.children):
            if child.running:
                child.process.send_signal(signal.SIGCONT)
                child.process.send_signal(signal.SIGTERM)
        for child in self.children:
            child.close(timeout)
