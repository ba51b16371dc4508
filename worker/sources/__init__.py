"""Where a job's data comes from: the source protocol, the synthetic instrument and Kafka."""

from worker.sources.base import Message, Source, SourceError, SourceUnavailable

__all__ = ["Message", "Source", "SourceError", "SourceUnavailable"]
