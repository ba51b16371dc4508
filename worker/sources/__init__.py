"""Where a job's data comes from: the source protocol and the built-in synthetic instrument."""

from worker.sources.base import Message, Source, SourceError

__all__ = ["Message", "Source", "SourceError"]
