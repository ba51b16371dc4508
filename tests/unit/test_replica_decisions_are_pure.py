"""The replica's decision modules load neither Panel, Bokeh, HoloViews nor redis.

Each is imported in a fresh interpreter (what an earlier test imported must not
hide an import), and the heavy modules must be absent from ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PURE = ("app.present_plan", "app.notification_cursor", "app.feed_decisions")
FORBIDDEN = ("panel", "bokeh", "holoviews", "redis")


@pytest.mark.parametrize("module", PURE)
def test_a_decision_module_imports_no_ui_or_redis(module: str) -> None:
    code = (
        f"import json, sys, {module}; "
        f"print(json.dumps(sorted(n for n in {FORBIDDEN!r} if n in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout) == []
