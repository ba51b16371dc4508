"""Run ``livegrid app`` with other garbage-collector thresholds: an experiment, not a fix.

Usage: ``.venv/bin/python benchmarks/gc_replica.py G0,G1,G2 app --port N`` (what
``load.py --gc-threshold G0,G1,G2`` starts instead of ``livegrid app``).

A replica holds a large, long-lived object graph (every session's Bokeh
models), and each frame allocates objects that live about one frame period,
long enough to be promoted to the oldest generation. With CPython's default
thresholds (700, 10, 10) that triggers full collections every few seconds, each
walking the whole heap on the event loop (docs/benchmarks.md measures them).
This launcher only calls :func:`gc.set_threshold` before the normal CLI, so the
harness can measure a replica with other thresholds side by side.
"""

from __future__ import annotations

import gc
import sys

from livegrid.cli import main

if __name__ == "__main__":
    gc.set_threshold(*(int(n) for n in sys.argv[1].split(",")))
    sys.exit(main(sys.argv[2:]))
