"""The Kafka mapping file: what it accepts, and errors that name the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.sources.kafka_mapping import (
    MappingError,
    load_mapping,
    parse_mapping,
    synthetic_mapping,
)
from worker.sources.synthetic import SOURCE_NAMES, describe

GOOD = """
sources:
  monitor_1: {topic: instr_monitors, schema: da00, source_name: mon1}
  monitor_2: {topic: instr_monitors, schema: da00}
  temperature: {topic: instr_logs, schema: f144, unit: K}
status_topics: [instr_status]
"""


def test_a_valid_mapping_gives_topic_schema_and_source_name_per_source() -> None:
    mapping = parse_mapping(GOOD)

    assert mapping.sources["monitor_1"].topic == "instr_monitors"
    assert mapping.sources["temperature"].schema_id == "f144"
    assert mapping.sources["temperature"].unit == "K"
    assert mapping.status_topics == ("instr_status",)
    assert mapping.topics == ["instr_logs", "instr_monitors", "instr_status"]


def test_source_name_defaults_to_the_entry_name() -> None:
    mapping = parse_mapping(GOOD)

    assert mapping.source_name("monitor_1") == "mon1"
    assert mapping.source_name("monitor_2") == "monitor_2"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "{topic: t, schema: ev44}",
            "m.yaml: sources.det.schema: ev44 event data is not supported",
        ),
        ("{topic: t, schema: hs01}", "m.yaml: sources.det.schema: schema 'hs01' is not supported"),
        ("{topic: 'a b', schema: da00}", "m.yaml: sources.det.topic: 'a b' is not a Kafka topic"),
        ("{schema: da00}", "m.yaml: sources.det.topic: Field required"),
        ("{topic: t, schema: da00, colour: red}", "m.yaml: sources.det.colour: Extra inputs"),
        ("{topic: t, schema: f144, unit: parsecs_per_blob}", "m.yaml: sources.det.unit: unit"),
        ("{topic: t, schema: da00, unit: K}", "m.yaml: sources.det: da00 messages carry"),
    ],
)
def test_each_problem_names_its_entry(entry: str, expected: str) -> None:
    with pytest.raises(MappingError) as raised:
        parse_mapping(f"sources:\n  det: {entry}\n", "m.yaml")

    assert str(raised.value).startswith(expected)


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = "sources:\n  a: {topic: t, schema: ev44}\n  b: {topic: t}\n"

    with pytest.raises(MappingError) as raised:
        parse_mapping(text, "m.yaml")

    lines = str(raised.value).splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "sources.a.schema",
        "sources.b.schema",
    ]


def test_a_source_name_must_be_usable_as_a_job_source() -> None:
    with pytest.raises(MappingError, match=r"sources\.a b: a source name has"):
        parse_mapping("sources:\n  'a b': {topic: t, schema: da00}\n", "m.yaml")


@pytest.mark.parametrize("text", ["[1, 2]", "sources: [a]", "{: :"])
def test_a_file_that_is_no_mapping_says_so(text: str) -> None:
    with pytest.raises(MappingError, match=r"^m\.yaml: "):
        parse_mapping(text, "m.yaml")


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="LIVEGRID_KAFKA_MAPPING"):
        load_mapping(tmp_path / "nope.yaml")


def test_load_mapping_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(GOOD)

    assert set(load_mapping(path).sources) == {"monitor_1", "monitor_2", "temperature"}


def test_the_synthetic_mapping_covers_every_synthetic_source_with_the_fitting_schema() -> None:
    mapping = synthetic_mapping()

    assert set(mapping.sources) == set(SOURCE_NAMES)
    for name, info in describe().items():
        entry = mapping.sources[name]
        assert entry.schema_id == ("f144" if info.ndim == 0 else "da00")
        if entry.schema_id == "f144":
            assert entry.unit == info.unit
    assert mapping.status_topics
