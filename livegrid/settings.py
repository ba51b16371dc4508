"""Process settings, read once by each composition root from ``LIVEGRID_*`` env vars."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9_.:\[\]-]+:[0-9]{1,5}$")
#: librdkafka settings livegrid sets itself (see worker/sources/kafka.py).
_KAFKA_MANAGED = frozenset(
    {"bootstrap.servers", "group.id", "enable.auto.commit", "auto.offset.reset"}
)


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
    secret_key: SecretStr | None = Field(
        None,
        description="Bokeh secret key shared by all replicas; when set, session ids are signed "
        "so a tab can reconnect to any replica. At least 32 characters.",
        min_length=32,
    )
    allow_websocket_origin: list[str] = Field(
        default_factory=list,
        description="Host[:port] values browsers may open websockets from, as JSON, e.g. "
        '["dash.example.org"]; empty = the replica\'s own address.',
    )
    session_token_expiration_s: int = Field(
        300,
        ge=10,
        le=86_400,
        description="How long a signed session token stays valid between loading the page "
        "and opening its websocket (a tab whose replica is gone reloads for a new one).",
    )
    session_tick_s: float = Field(
        1.0, gt=0, le=10, description="Safety-net tick of each session (heartbeat, ageing)."
    )
    feed_gather_ms: float = Field(
        20.0,
        ge=0,
        le=500,
        description="After a new frame the replica's feed waits this long for the frames "
        "published with it, so they reach each browser in one update (0 = no wait).",
    )
    session_backlog_bytes: int = Field(
        262_144,
        ge=16_384,
        description="A session whose websocket holds more unsent bytes than this gets no new "
        "frames until it drains, then the latest (slow browsers skip frames instead of queueing).",
    )
    debug_endpoints: bool = Field(
        False, description="Serve /debug/sessions, /debug/feed and /debug/process on replicas."
    )
    notification_ring: int = Field(
        200, ge=10, le=10_000, description="Recent notifications each replica keeps."
    )
    kafka_bootstrap: str = Field(
        "",
        description="Kafka bootstrap servers, e.g. kafka-1:9092,kafka-2:9092; empty = no Kafka, "
        "every source is synthetic.",
    )
    kafka_mapping: str = Field(
        "",
        description="YAML file mapping source names to Kafka topics (docs/kafka.md); empty = "
        "the synthetic instrument's streams as 'livegrid produce' publishes them.",
    )
    kafka_config: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        repr=False,
        description="librdkafka settings passed through as JSON, for SASL/SSL, e.g. "
        '{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", '
        '"sasl.username": "livegrid", "sasl.password": "..."}.',
    )
    kafka_group_prefix: str = Field(
        "livegrid",
        description="Kafka group.id of each consumer: <prefix>.<namespace>.<job id>, and "
        "<prefix>.<namespace>.status for x5f2 statuses; for identification only (livegrid "
        "assigns partitions itself and commits no offsets).",
    )

    checkpoint_interval_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="Each job's workflow state and source position are checkpointed to Redis "
        "this often (and on every hand-over); a crash replays at most this much data.",
    )

    auth_mode: Literal["none", "basic", "proxy", "oidc"] = Field(
        "none",
        description="Sign-in: none (everyone is an operator; the demo), basic (password file), "
        "proxy (a trusted header from an authenticating proxy) or oidc (OpenID Connect). "
        "Any mode but none needs LIVEGRID_SECRET_KEY and LIVEGRID_AUTH_COOKIE_SECRET.",
    )
    auth_cookie_secret: SecretStr | None = Field(
        None,
        min_length=32,
        description="Secret signing the sign-in cookies; the same on every replica, so a "
        "reload onto another replica stays signed in. At least 32 characters.",
    )
    auth_password_file: str = Field(
        "",
        description="basic: file of user:role:scrypt-hash lines "
        "(python -m app.auth.passwords USER ROLE writes one).",
    )
    auth_trusted_proxies: list[str] = Field(
        default_factory=list,
        description="proxy: addresses or networks of the authenticating proxy, as JSON, e.g. "
        '["10.0.0.0/8"]; the user header from any other peer is ignored.',
    )
    auth_user_header: str = Field(
        "X-Forwarded-User", description="proxy: the header naming the signed-in user."
    )
    auth_groups_header: str = Field(
        "X-Forwarded-Groups",
        description="proxy: the header listing the user's groups (comma or space separated).",
    )
    auth_role_map: dict[str, Literal["viewer", "operator", "admin"]] = Field(
        default_factory=dict,
        description="proxy and oidc: group (or claim value) to role, as JSON, e.g. "
        '{"livegrid-operators": "operator", "livegrid-admins": "admin"}; the highest wins.',
    )
    auth_default_role: Literal["none", "viewer", "operator", "admin"] = Field(
        "viewer",
        description="proxy and oidc: role of a signed-in user none of whose groups is mapped; "
        "none = such a user is not let in.",
    )
    auth_oidc_issuer: str = Field(
        "", description="oidc: issuer URL; its /.well-known/openid-configuration is read."
    )
    auth_oidc_client_id: str = Field("", description="oidc: this dashboard's client id.")
    auth_oidc_client_secret: SecretStr | None = Field(None, description="oidc: the client secret.")
    auth_oidc_redirect_uri: str = Field(
        "",
        description="oidc: the public URL of the dashboard's /login, as registered with the "
        "provider, e.g. https://dash.example.org/login.",
    )
    auth_oidc_scopes: str = Field(
        "openid profile email", description="oidc: scopes asked for, space separated."
    )
    auth_oidc_user_claim: str = Field(
        "preferred_username", description="oidc: the claim naming the user."
    )
    auth_oidc_role_claim: str = Field(
        "groups", description="oidc: the claim (a list or a string) mapped by AUTH_ROLE_MAP."
    )
    auth_oidc_encryption_key: SecretStr | None = Field(
        None,
        description="oidc: Fernet key encrypting the token cookies (the same on every "
        "replica); unset = the cookies are signed only.",
    )

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

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_servers(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        for server in servers:
            if not _HOST_PORT.match(server):
                raise ValueError(
                    f"LIVEGRID_KAFKA_BOOTSTRAP={value!r} must be host:port pairs separated by "
                    f"commas, e.g. kafka-1:9092,kafka-2:9092; {server!r} is not one"
                )
        return ",".join(servers)

    @field_validator("kafka_config")
    @classmethod
    def _kafka_config_keys(
        cls, value: dict[str, str | int | float | bool]
    ) -> dict[str, str | int | float | bool]:
        managed = sorted(_KAFKA_MANAGED & set(value))
        if managed:
            raise ValueError(
                f"LIVEGRID_KAFKA_CONFIG sets {', '.join(managed)}, which livegrid sets itself "
                "(servers: LIVEGRID_KAFKA_BOOTSTRAP, groups: LIVEGRID_KAFKA_GROUP_PREFIX); "
                "remove them"
            )
        return value

    @field_validator("kafka_group_prefix")
    @classmethod
    def _group_prefix_chars(cls, value: str) -> str:
        if not _NAMESPACE.match(value):
            raise ValueError(
                f"LIVEGRID_KAFKA_GROUP_PREFIX={value!r} must be 1-64 characters of letters, "
                "digits, '_', '.' or '-'"
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

    @model_validator(mode="after")
    def _auth_complete(self) -> Settings:
        if self.auth_mode == "none":
            return self
        missing = []
        if self.secret_key is None:
            missing.append("LIVEGRID_SECRET_KEY (signs the session tokens)")
        if self.auth_cookie_secret is None:
            missing.append("LIVEGRID_AUTH_COOKIE_SECRET")
        if self.auth_mode == "basic" and not self.auth_password_file:
            missing.append("LIVEGRID_AUTH_PASSWORD_FILE")
        if self.auth_mode == "proxy" and not self.auth_trusted_proxies:
            missing.append("LIVEGRID_AUTH_TRUSTED_PROXIES")
        if self.auth_mode == "oidc":
            for name in ("issuer", "client_id", "redirect_uri"):
                if not getattr(self, f"auth_oidc_{name}"):
                    missing.append(f"LIVEGRID_AUTH_OIDC_{name.upper()}")
            if self.auth_oidc_client_secret is None:
                missing.append("LIVEGRID_AUTH_OIDC_CLIENT_SECRET")
        if missing:
            raise ValueError(f"LIVEGRID_AUTH_MODE={self.auth_mode} needs " + ", ".join(missing))
        return self
