"""``livegrid demo`` as a user runs it: private Redis, a worker, a replica, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import urllib.request
from pathlib import Path

from livegrid.redis_server import free_port
from livegrid.supervise import Child, livegrid_command


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_demo_serves_live_plots_and_ctrl_c_leaves_no_process_behind(*, tmp_path, probes, wait_for):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEGRID_")}
    env["LIVEGRID_DEBUG_ENDPOINTS"] = "true"
    log_path = tmp_path / "demo.log"
    demo = Child("demo", livegrid_command("demo", "--port", str(port)), env, log_path=log_path)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(
            lambda: f"livegrid demo is running; open\n  {url}" in log_path.read_text(),
            120,
            f"the demo to print {url}",
        )
        with urllib.request.urlopen(url + "readyz", timeout=5) as response:
            assert response.status == 200
        session = probes.open(url, 1)[0]
        wait_for(lambda: len(session.patches) >= 3, 60, "three patches in a demo session")
        assert re.search(r"private Redis at redis://127\.0\.0\.1:\d+", log_path.read_text())
        children = _descendants(demo.pid)
        assert len(children) >= 3, "expected redis-server, a worker and a replica"
        demo.signal(signal.SIGINT)
        assert demo.wait(60) == 0
        wait_for(
            lambda: not any(_alive(pid) for pid in children),
            10,
            "every child of the demo to exit",
            lambda: log_path.read_text()[-2000:],
        )
    finally:
        demo.kill()
        demo.close()
