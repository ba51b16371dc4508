"""Logging repeated trouble once per key and interval, with how much was left out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable


class LogThrottle:
    """Says which occurrences of a repeated event to log: the first per key and interval."""

    def __init__(
        self, interval_s: float = 60.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._logged_at: dict[Hashable, float] = {}
        self._skipped: dict[Hashable, int] = {}

    def due(self, key: Hashable) -> int | None:
        """None if ``key`` was logged within the interval; else how many were skipped since."""
        now = self._clock()
        last = self._logged_at.get(key)
        if last is not None and now - last < self._interval_s:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return None
        self._logged_at[key] = now
        return self._skipped.pop(key, 0)


class ThrottleFilter(logging.Filter):
    """Lets each librdkafka log line through once per minute per facility and client.

    confluent-kafka logs ``("%s [%s] %s", facility, client, text)``; a broker that
    stays away would otherwise log every reconnection attempt of every consumer.
    """

    def __init__(self, throttle: LogThrottle) -> None:
        super().__init__()
        self._throttle = throttle

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        key = (record.levelno, *args[:2]) if len(args) >= 2 else record.getMessage()
        return self._throttle.due(key) is not None
