"""Redis connections with the timeouts livegrid relies on.

redis-py's defaults (no socket timeout, or 5 s with retries) turn a long
``XREAD BLOCK`` into a minute-long hang; every client here has a socket timeout
above the longest block it will issue.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

#: Longest ``BLOCK`` any livegrid reader issues, in milliseconds.
MAX_BLOCK_MS = 2_000


def connect(url: str, *, blocking: bool = False, name: str | None = None) -> redis.Redis:
    """A client for ``url``; ``blocking=True`` for a connection that issues ``XREAD BLOCK``."""
    timeout = (MAX_BLOCK_MS / 1000 + 3.0) if blocking else 5.0
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=3.0,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=2),
        client_name=name,
    )


def redact(url: str) -> str:
    """``url`` without its password, fit for logs and messages users see."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def describe_connection_error(url: str, exc: Exception) -> str:
    """A sentence for the user when Redis at ``url`` cannot be reached (password hidden)."""
    return (
        f"Redis at {redact(url)} is not reachable ({exc.__class__.__name__}: {exc}); "
        "start it or set LIVEGRID_REDIS_URL"
    )


def text(value: bytes | str | None) -> str:
    """A Redis reply as ``str`` ('' for a missing value)."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
