"""The replica's own HTTP endpoints, served by Panel's Tornado next to the dashboard.

``/healthz``: the process and its IOLoop answer. ``/readyz``: Redis reachable
and the feed running, else 503 with the reason (load balancers stop sending new
sessions). ``/metrics``: Prometheus. ``/debug/sessions`` and ``/debug/feed`` (only
when enabled): what each session showed and the feed fetched, for tests and
troubleshooting; ``/debug/process``: live sessions, Panel's registered views and
RSS, which must fall back when sessions close. With sign-in on, ``/debug/*`` answers
403 to anyone but an admin (and stays off with OIDC); the probes stay open.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from tornado.web import RequestHandler

Route = tuple[str, type[RequestHandler], dict[str, Any]]


class _Plain(RequestHandler):
    def _plain(self, status: int, text: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(text + "\n")


class HealthHandler(_Plain):
    def get(self) -> None:
        self._plain(200, "ok")


class ReadyHandler(_Plain):
    def initialize(self, problem: Callable[[], str | None]) -> None:
        self._problem = problem

    def get(self) -> None:
        problem = self._problem()
        self._plain(503 if problem else 200, problem or "ready")


class MetricsHandler(RequestHandler):
    def initialize(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(self._registry))


class JsonHandler(_Plain):
    def initialize(
        self,
        describe: Callable[[], Any],
        refusal: Callable[[RequestHandler], str | None] | None = None,
    ) -> None:
        self._describe = describe
        self._refusal = refusal

    def get(self) -> None:
        refused = self._refusal(self) if self._refusal is not None else None
        if refused:
            self._plain(403, refused)
            return
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(self._describe()))


def routes(
    *,
    registry: CollectorRegistry,
    problem: Callable[[], str | None],
    describe_sessions: Callable[[], list[dict[str, Any]]] | None,
    describe_feed: Callable[[], dict[str, Any]] | None = None,
    describe_process: Callable[[], dict[str, Any]] | None = None,
    debug_refusal: Callable[[RequestHandler], str | None] | None = None,
) -> list[Route]:
    """``debug_refusal`` (with sign-in on) tells why a request may not read ``/debug/*``."""
    out: list[Route] = [
        (r"/healthz", HealthHandler, {}),
        (r"/readyz", ReadyHandler, {"problem": problem}),
        (r"/metrics", MetricsHandler, {"registry": registry}),
    ]
    if describe_sessions is not None:
        out.append(
            (
                r"/debug/sessions",
                JsonHandler,
                {"describe": describe_sessions, "refusal": debug_refusal},
            )
        )
    if describe_feed is not None:
        out.append(
            (r"/debug/feed", JsonHandler, {"describe": describe_feed, "refusal": debug_refusal})
        )
    if describe_process is not None:
        out.append(
            (
                r"/debug/process",
                JsonHandler,
                {"describe": describe_process, "refusal": debug_refusal},
            )
        )
    return out
