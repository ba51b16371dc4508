"""The test and benchmark harness: not part of the ``livegrid`` wheel.

One set of helpers for ``tests/`` and ``benchmarks/`` alike (pytest finds this
package through ``pythonpath`` in pyproject.toml; ``./scripts/bootstrap``
puts the checkout on the virtualenv's path for the benchmark scripts):

- :mod:`harness.processes`: ``livegrid worker`` and ``livegrid app`` as child
  processes (:class:`~harness.processes.WorkerProcess`,
  :class:`~harness.processes.ReplicaProcess`) on the one supervisor,
  :mod:`livegrid.supervise`; reading a replica's HTTP endpoints; scraping
  Prometheus metrics (:func:`~harness.processes.parse_metrics`,
  :func:`~harness.processes.metric_sum`).
- :mod:`harness.probe`: :class:`~harness.probe.ProbeSession`, a headless
  dashboard session over the Bokeh websocket protocol.
- :mod:`harness.probes`: :class:`~harness.probes.Probes`, probe sessions kept
  receiving on a background event loop (for synchronous tests).
- :func:`wait_until` (from :mod:`livegrid.supervise`): the one polling helper.
"""

from __future__ import annotations

from livegrid.supervise import Child, Supervisor, WaitTimeout, livegrid_command, wait_until

__all__ = ["Child", "Supervisor", "WaitTimeout", "livegrid_command", "wait_until"]
