"""The one process supervisor (livegrid/supervise.py) with real child processes."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from livegrid.supervise import Supervisor, WaitTimeout, wait_until

SLEEPER = "import time; print('up', flush=True); time.sleep(60)"
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('up', flush=True); time.sleep(60)"
)


def test_stop_all_ends_every_child_also_a_stopped_one_and_keeps_their_output(
    tmp_path: Path,
) -> None:
    supervisor = Supervisor(tmp_path)
    running = supervisor.spawn("running", [sys.executable, "-c", SLEEPER], {})
    paused = supervisor.spawn("paused", [sys.executable, "-c", SLEEPER], {})
    wait_until(lambda: "up" in (tmp_path / "paused.log").read_text(), 30, "the child to start")
    paused.signal(signal.SIGSTOP)

    supervisor.stop_all(timeout=10)

    assert supervisor.exited() == [running, paused]
    assert paused.wait() == -signal.SIGTERM
    assert (tmp_path / "running.log").read_text().strip() == "up"


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    child = supervisor.spawn("stubborn", [sys.executable, "-c", STUBBORN], {})
    wait_until(lambda: "up" in (tmp_path / "stubborn.log").read_text(), 30, "the child to start")

    child.stop(timeout=0.5)

    assert child.wait() == -signal.SIGKILL


def test_wait_until_returns_the_value_or_names_what_it_waited_for() -> None:
    assert wait_until(lambda: 7, 1, "a value") == 7
    with pytest.raises(WaitTimeout, match="waiting for the impossible; saw nothing"):
        wait_until(lambda: False, 0.2, "the impossible", lambda: "nothing", interval=0.05)
