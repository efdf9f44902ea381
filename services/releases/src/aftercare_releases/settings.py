"""Settings of the releases service, read from ``RELEASES_*`` (and ``AFTERCARE_*``) variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from aftercare_shared.settings import CommonSettings


class ReleasesSettings(BaseSettings):
    """What the releases service needs beyond the settings every service shares."""

    model_config = SettingsConfigDict(env_prefix="RELEASES_", extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    consumer_group: str = Field(
        default="aftercare-releases",
        min_length=1,
        description=(
            "Kafka consumer group for aftercare.clients and aftercare.tickets; every replica "
            "of the service shares it so each event is applied once."
        ),
    )
    scheduler_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="How often each replica looks for scheduled releases that are due.",
    )
    scheduler_batch_size: int = Field(
        default=100, ge=1, le=10_000, description="Scheduled releases published per round."
    )
    sbom_max_components: int = Field(
        default=20_000,
        ge=1,
        description="An SBOM listing more components is refused with 413 (nothing stored).",
    )
    advisory_import_max_items: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="OSV documents one POST /v1/advisories/import may carry.",
    )
