"""Which source a job name opens, and how Kafka sources appear in the worker's catalogue."""

from __future__ import annotations

import pytest

from worker.metrics import WorkerMetrics
from worker.sources.catalog import SourceCatalog
from worker.sources.kafka import KafkaSources
from worker.sources.kafka_mapping import parse_mapping
from worker.sources.synthetic import SyntheticInstrument, SyntheticSource


def _catalog() -> SourceCatalog:
    mapping = parse_mapping(
        "sources:\n"
        "  monitor_1: {topic: monitors, schema: da00}\n"
        "  sample_temperature: {topic: logs, schema: f144, unit: K}\n"
    )
    kafka = KafkaSources(
        bootstrap="127.0.0.1:9",
        mapping=mapping,
        config={},
        group_prefix="p",
        namespace="ns",
        max_message_bytes=2**20,
        metrics=WorkerMetrics(),
    )
    return SourceCatalog(SyntheticInstrument(), kafka)


def test_a_name_the_mapping_lacks_opens_the_synthetic_stream() -> None:
    assert isinstance(_catalog().open("monitor_2", "job"), SyntheticSource)


def test_an_unknown_name_lists_every_source_there_is() -> None:
    with pytest.raises(ValueError, match="no source 'nope'") as raised:
        _catalog().open("nope", "job")

    assert "sample_temperature" in str(raised.value)
    assert "detector_panel_0" in str(raised.value)


def test_kafka_entries_shadow_synthetic_ones_in_the_catalogue() -> None:
    entries = _catalog().entries()

    assert entries["monitor_1"].ndim is None  # da00: the first message tells
    assert entries["monitor_1"].description == "Kafka da00 on topic monitors"
    assert (entries["sample_temperature"].ndim, entries["sample_temperature"].unit) == (0, "K")
    assert entries["detector_panel_0"].ndim == 2
