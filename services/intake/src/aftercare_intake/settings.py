"""Intake's settings (``INTAKE_*``) on top of the shared ``AFTERCARE_*`` ones."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from aftercare_shared.names import ServiceName
from aftercare_shared.settings import CommonSettings


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    consumer_group: str = Field(
        default=f"aftercare-{ServiceName.INTAKE}",
        description="Kafka consumer group of intake's consumers.",
    )
    report_rate_per_second: float = Field(
        default=50.0,
        gt=0,
        description="Sustained reports per second allowed per client API key (per replica).",
    )
    report_rate_burst: int = Field(
        default=200, ge=1, description="Reports a key may send at once before being limited."
    )
    idempotency_ttl_hours: int = Field(
        default=24, ge=1, description="How long an Idempotency-Key answer is replayed."
    )

    @property
    def idempotency_ttl(self) -> timedelta:
        return timedelta(hours=self.idempotency_ttl_hours)
