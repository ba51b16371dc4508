"""Process settings, read once by each composition root from ``LIVEGRID_*`` env vars."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Settings(BaseSettings):
    """All knobs of a livegrid process. Every field can be set as ``LIVEGRID_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LIVEGRID_", extra="ignore")

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis to use for all shared state (redis:// or rediss://).",
    )
    namespace: str = Field("livegrid", description="Prefix of every Redis key.")
    lease_ttl_ms: int = Field(5000, ge=500, le=600_000, description="Job lease time-to-live.")
    heartbeat_interval_s: float = Field(1.0, gt=0, le=60, description="Registry heartbeats.")
    stale_after_s: float = Field(
        15.0, gt=0, le=3600, description="A process or session silent this long is stale."
    )
    frames_maxlen: int = Field(10_000, ge=100, description="Approximate length of ns:frames.")
    notifications_maxlen: int = Field(
        1_000, ge=10, description="Approximate length of ns:notifications."
    )
    display_max: int = Field(512, ge=16, le=4096, description="Largest image edge sent out.")
    max_array_bytes: int = Field(
        64 * 2**20, ge=2**10, description="Largest array a source may deliver to a workflow."
    )
    viewer_ttl_s: float = Field(10.0, gt=0, le=600, description="Lifetime of a viewer mark.")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="Log format: JSON in containers, key-value in a terminal."
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    metrics_port: int = Field(0, ge=0, le=65535, description="Worker /metrics port; 0 = off.")
    synthetic_rates: dict[str, float] = Field(
        default_factory=dict,
        description='Synthetic source rates in Hz as JSON, e.g. {"detector_panel_0": 14}.',
    )
    synthetic_seed: int = Field(0, ge=0, description="Seed of the synthetic instrument.")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"LIVEGRID_REDIS_URL={value!r} is not a Redis URL; "
                "use e.g. redis://127.0.0.1:6379/0"
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace_chars(cls, value: str) -> str:
        if not _NAMESPACE.match(value):
            raise ValueError(
                f"LIVEGRID_NAMESPACE={value!r} must be 1-64 characters of letters, digits, "
                "'_', '.' or '-'"
            )
        return value

    @model_validator(mode="after")
    def _heartbeat_below_stale(self) -> Settings:
        if self.heartbeat_interval_s * 2 > self.stale_after_s:
            raise ValueError(
                "LIVEGRID_STALE_AFTER_S must be at least twice LIVEGRID_HEARTBEAT_INTERVAL_S, "
                "or live processes would be reaped"
            )
        return self
