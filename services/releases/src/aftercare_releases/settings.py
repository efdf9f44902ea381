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
