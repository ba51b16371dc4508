"""Every source a worker can open by name: the Kafka mapping's first, then the synthetic ones."""

from __future__ import annotations

from livegrid.catalogue import SourceEntry
from worker.catalogue import synthetic_sources
from worker.sources.base import Source
from worker.sources.kafka import KafkaSources
from worker.sources.synthetic import SOURCE_NAMES, SyntheticInstrument


class SourceCatalog:
    """Opens a job's source: a Kafka consumer when the mapping names it, else a synthetic stream.

    A mapping entry shadows a synthetic source of the same name, so the
    synthetic instrument's streams published by ``livegrid produce`` are read
    back from Kafka under their own names.
    """

    def __init__(self, instrument: SyntheticInstrument, kafka: KafkaSources | None = None) -> None:
        self._instrument = instrument
        self._kafka = kafka

    @property
    def names(self) -> list[str]:
        kafka = list(self._kafka.mapping.sources) if self._kafka is not None else []
        return kafka + [name for name in SOURCE_NAMES if name not in kafka]

    def entries(self) -> dict[str, SourceEntry]:
        """Every source as a catalogue entry; a da00 source's shape is unknown until data."""
        entries = synthetic_sources()
        if self._kafka is not None:
            for name, entry in self._kafka.mapping.sources.items():
                f144 = entry.schema_id == "f144"
                entries[name] = SourceEntry(
                    name=name,
                    ndim=0 if f144 else None,
                    unit=(entry.unit or "") if f144 else "",
                    description=f"Kafka {entry.schema_id} on topic {entry.topic}",
                )
        return entries

    def open(self, name: str, job_id: str) -> Source:
        """A new stream of ``name`` for ``job_id``; ``ValueError`` (a sentence) if unknown."""
        if self._kafka is not None and name in self._kafka:
            return self._kafka.open(name, job_id)
        if name in SOURCE_NAMES:
            return self._instrument.source(name)
        raise ValueError(f"There is no source {name!r}; choose one of {', '.join(self.names)}.")
