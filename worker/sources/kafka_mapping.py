"""Which Kafka topic and message carry each source: the YAML mapping, validated at start.

.. code-block:: yaml

    sources:
      monitor_1:                 # the source name jobs use
        topic: instr_monitors    # Kafka topic
        schema: da00             # da00 (arrays) or f144 (single values)
        source_name: mon1        # source_name inside the messages; default: the name above
      temperature:
        topic: instr_logs
        schema: f144
        unit: K                  # f144 carries no unit; default: dimensionless
    status_topics: [instr_status]  # x5f2 service statuses for the System tab

Several sources may share a topic; each picks its own ``source_name``.
Errors name the entry: ``mapping.yaml: sources.monitor_1.schema: ...``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import scipp as sc
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from livegrid.models import ID_PATTERN

SCHEMAS = ("da00", "f144")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_SOURCE_NAME = re.compile(ID_PATTERN)


def _check_topic(topic: str) -> str:
    if not _TOPIC.match(topic):
        raise ValueError(f"{topic!r} is not a Kafka topic name (letters, digits, '.', '_', '-')")
    return topic


class MappingError(ValueError):
    """A mapping file livegrid cannot use; one line per problem, each naming its entry."""


class KafkaEntry(BaseModel):
    """Where one source's messages are: topic, schema and the ``source_name`` inside them."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    topic: str
    schema_id: str = Field(alias="schema")
    source_name: str | None = Field(None, min_length=1)
    unit: str | None = None

    @field_validator("topic")
    @classmethod
    def _topic_name(cls, value: str) -> str:
        return _check_topic(value)

    @field_validator("schema_id")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value == "ev44":
            raise ValueError(
                "ev44 event data is not supported: livegrid plots histograms; publish them "
                "as da00 (e.g. from a live data reduction service)"
            )
        if value not in SCHEMAS:
            raise ValueError(f"schema {value!r} is not supported; use da00 or f144")
        return value

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                sc.Unit(value)
            except Exception as exc:  # scipp raises several types for unparsable units
                raise ValueError(f"unit {value!r} is not a unit scipp knows") from exc
        return value


class KafkaMapping(BaseModel):
    """The whole mapping file: sources by name, and the topics of x5f2 statuses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: dict[str, KafkaEntry] = Field(default_factory=dict)
    status_topics: tuple[str, ...] = ()

    @field_validator("status_topics")
    @classmethod
    def _topic_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_topic(topic) for topic in value)

    def source_name(self, name: str) -> str:
        """The ``source_name`` inside the messages of source ``name``."""
        return self.sources[name].source_name or name

    @property
    def topics(self) -> list[str]:
        """Every topic the mapping reads, sorted."""
        return sorted({e.topic for e in self.sources.values()} | set(self.status_topics))


def load_mapping(path: str | Path) -> KafkaMapping:
    """Read and validate a mapping file; :class:`MappingError` says what is wrong and where."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(
            f"{where}: cannot read the Kafka mapping ({exc.strerror}); set LIVEGRID_KAFKA_MAPPING "
            "to a readable YAML file"
        ) from exc
    return parse_mapping(text, where)


def parse_mapping(text: str, where: str = "<mapping>") -> KafkaMapping:
    """Validate the YAML ``text`` of a mapping; ``where`` names it in errors."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{where}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: the Kafka mapping must be a YAML mapping with 'sources'")
    try:
        mapping = KafkaMapping.model_validate(raw)
    except ValidationError as exc:
        raise MappingError("\n".join(_problem(where, e) for e in exc.errors())) from None
    problems = [
        f"{where}: sources.{name}: {problem}"
        for name, entry in mapping.sources.items()
        if (problem := _entry_problem(name, entry))
    ]
    if problems:
        raise MappingError("\n".join(problems))
    return mapping


def _entry_problem(name: str, entry: KafkaEntry) -> str:
    if not _SOURCE_NAME.match(name):
        return "a source name has 1-64 letters, digits, '_' or '-'"
    if entry.unit is not None and entry.schema_id == "da00":
        return "da00 messages carry their own units; remove 'unit'"
    return ""


def _problem(where: str, error: Any) -> str:
    loc = ".".join("schema" if part == "schema_id" else str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {loc or 'mapping'}: {message}"


#: The synthetic instrument's streams, as ``livegrid produce`` publishes them.
SYNTHETIC_MAPPING_YAML = """\
sources:
  detector_panel_0: {topic: livegrid_detector, schema: da00}
  detector_panel_1: {topic: livegrid_detector, schema: da00}
  detector_cube: {topic: livegrid_cube, schema: da00}
  monitor_1: {topic: livegrid_monitor, schema: da00}
  monitor_2: {topic: livegrid_monitor, schema: da00}
  temperature: {topic: livegrid_logs, schema: f144, unit: K}
  pressure: {topic: livegrid_logs, schema: f144, unit: mbar}
  motor_position: {topic: livegrid_logs, schema: f144, unit: mm}
status_topics: [livegrid_status]
"""


def synthetic_mapping() -> KafkaMapping:
    """The mapping of the synthetic instrument's streams (``SYNTHETIC_MAPPING_YAML``)."""
    return parse_mapping(SYNTHETIC_MAPPING_YAML, "<synthetic mapping>")
