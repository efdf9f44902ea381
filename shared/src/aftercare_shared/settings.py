"""Settings every service shares, read from ``AFTERCARE_*`` environment variables.

Each service adds its own settings class with its own prefix (``INTAKE_``, ``SLA_``,
``RELEASES_``, ``NOTIFY_``) and embeds these as ``common``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aftercare_shared.secrets_at_rest import Keyring

MIN_ADMIN_TOKEN_LENGTH = 24


class CommonSettings(BaseSettings):
    """What all four services need: where the infrastructure is and how to behave."""

    model_config = SettingsConfigDict(env_prefix="AFTERCARE_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:54320/aftercare"
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    admin_token: SecretStr = Field(
        default=SecretStr(""),
        description="Staff bootstrap credential; also the root of signed staff tokens.",
    )
    token_signing_key: SecretStr | None = Field(
        default=None,
        description="Key for signed staff tokens; derived from the admin token when unset.",
    )
    secret_keys: SecretStr | None = Field(
        default=None,
        description="Keys encrypting stored credentials: `id:base64url(32 bytes)`, comma "
        "separated, the first encrypting; derived from the admin token when unset.",
    )
    topic_partitions: int = Field(default=6, ge=1, le=1000)
    topic_replication_factor: int = Field(default=1, ge=1, le=10)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_header_bytes: int = Field(
        default=32_768,
        ge=4096,
        description="Request headers (names and values, all together) over this get 431.",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    client_rate_per_second: float = Field(
        default=100.0,
        gt=0,
        description="Sustained requests per second per client API key, on every service "
        "(all its replicas together); over it: 429 + Retry-After.",
    )
    client_rate_burst: int = Field(default=300, ge=1)
    outage_retry_after_seconds: int = Field(
        default=5,
        ge=1,
        le=3600,
        description="Retry-After of the 503 a request gets while Postgres (or Kafka) is down.",
    )
    outbox_poll_interval_seconds: float = Field(default=1.0, gt=0)
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_retention_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="Published outbox rows are deleted once published this long ago; "
        "unpublished rows are never deleted.",
    )
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)
    consumer_retry_backoff_seconds: float = Field(default=0.2, ge=0)
    consumer_max_batch_records: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Records a consumer polls and applies in one transaction (1: one by one).",
    )
    consumer_linger_seconds: float | None = Field(
        default=None,
        ge=0,
        le=1.0,
        description="How long a consumer waits after a poll for more records to apply in the "
        "same transaction. Unset: the service's own default, 0.05 for intake, sla and "
        "releases (read models) and 0 for notify (people wait on its events).",
    )

    @field_validator("database_url")
    @classmethod
    def _require_asyncpg_driver(cls, value: str) -> str:
        # Users often paste a libpq URL; accept it and pick the async driver we use.
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("must be a postgresql:// or postgresql+asyncpg:// URL")
        return value

    @field_validator("secret_keys")
    @classmethod
    def _usable_secret_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            Keyring.parse(value.get_secret_value())  # refuse a bad key at start, not at use
        return value

    @model_validator(mode="after")
    def _refuse_weak_admin_token(self) -> CommonSettings:
        token = self.admin_token.get_secret_value()
        if len(token) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(
                f"AFTERCARE_ADMIN_TOKEN must be set to at least {MIN_ADMIN_TOKEN_LENGTH} "
                "characters (make up generates one and writes it to .devstack/env)"
            )
        return self

    @property
    def sync_database_url(self) -> str:
        """The same database for tools that want a libpq-style URL (psql, pgbench)."""
        return "postgresql://" + self.database_url.split("://", 1)[1]
