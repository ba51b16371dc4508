"""Pure decision modules import no Panel, Bokeh, HoloViews or Redis client.

Each module is imported alone in a fresh interpreter and ``sys.modules`` is
checked afterwards, so a heavy import that arrives through another module (a
package ``__init__``, a store's value type) is caught as well.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = ("panel", "bokeh", "holoviews", "redis")

#: Modules that decide or compute from plain values; add a pure module here when you write one.
PURE_MODULES = [
    "livegrid.lifecycle",
    "livegrid.catalogue",
    "livegrid.codec",
    "livegrid.models",
    "livegrid.overlays",
    "livegrid.workspace_file",
    "worker.claims",
    "worker.bindings",
    "worker.held_jobs",
    "app.backlog",
    "app.layout",
    "app.presenters.plan",
    "app.prepare",
    "benchmarks.load_analysis",
]

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
roots = {name.partition(".")[0] for name in sys.modules}
print(json.dumps(sorted(roots & set(sys.argv[2:]))))
"""


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_no_ui_or_redis_library(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, module, *FORBIDDEN],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [], f"{module} pulls in {result.stdout.strip()}"
