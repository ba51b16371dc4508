"""The source protocol: a pull API that a job loop drains.

A source delivers :class:`Message` values, each one scipp ``DataArray`` with the
time range it covers. ``read`` waits at most ``max_wait_s`` and returns whatever
became due since the last call (possibly nothing), so one loop can serve the
synthetic instrument and a Kafka consumer (``consumer.consume(timeout=...)``)
alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import scipp as sc


class SourceError(Exception):
    """Input that a source cannot turn into data; the message is for the user."""


class SourceUnavailable(SourceError):
    """The source cannot reach its input (a broker) and keeps trying; the message is for the user.

    Raised by every ``read`` while the outage lasts; the first ``read`` that
    returns normally means the source is connected again.
    """


@dataclass(frozen=True)
class Message:
    """One chunk of a source's stream, covering ``[start_ns, end_ns]`` (ns since the epoch).

    Receivers must not mutate ``data``.
    """

    source: str
    data: sc.DataArray
    start_ns: int
    end_ns: int


class Source(Protocol):
    """A stream of messages from one named source."""

    @property
    def name(self) -> str: ...

    def read(self, max_wait_s: float) -> list[Message]:
        """Messages that arrived since the last call, waiting at most ``max_wait_s`` for one.

        Raises :class:`SourceError` for input that cannot be decoded (the messages
        before it are returned first, the ones after it by later calls), and
        :class:`SourceUnavailable` while the input cannot be reached.
        """
        ...

    def close(self) -> None:
        """Release what the source holds (connections, buffers); idempotent."""
        ...


@runtime_checkable
class Resumable(Protocol):
    """A source that can say where it is and continue from there (job checkpoints)."""

    def position(self) -> dict[str, Any]:
        """JSON-able position after the last message ``read`` returned."""
        ...

    def resume(self, position: dict[str, Any]) -> str:
        """Continue right after ``position``; a phrase for the user ("resumed at message 12").

        ``ValueError``/``KeyError`` if ``position`` is not one of this kind of source.
        """
        ...

    def take_skipped(self) -> int:
        """Messages the input no longer held after ``resume`` (retention), counted once."""
        ...
