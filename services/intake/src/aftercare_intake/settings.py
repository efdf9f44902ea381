"""Intake's settings (``INTAKE_*``) on top of the shared ``AFTERCARE_*`` ones."""

from __future__ import annotations

from datetime import timedelta

from pydantic import AnyHttpUrl, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from aftercare_intake.domain import OccurrencePolicy
from aftercare_shared.names import ServiceName
from aftercare_shared.settings import CommonSettings
from aftercare_shared.ssrf import IPNetwork, parse_allowlist


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
    public_url: AnyHttpUrl | None = Field(
        default=None,
        description="Where client systems reach intake; the host of every DSN. Unset: the "
        "address the request for the key came in on.",
    )
    project_rate_per_second: float = Field(
        default=100.0,
        gt=0,
        description="Sustained Sentry envelopes/events per second per project (per replica).",
    )
    project_rate_burst: int = Field(
        default=300, ge=1, description="Envelopes a project may send at once before being limited."
    )
    occurrence_samples: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Latest occurrences kept in full per fingerprint (besides the first).",
    )
    occurrence_event_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="At most one ticket.occurred per ticket per this many seconds.",
    )

    auto_close_days: float = Field(
        default=7,
        gt=0,
        description="A resolved ticket closes itself (ticket.closed, reason auto_closed) this "
        "many days after it was resolved.",
    )
    reopen_window_days: float = Field(
        default=7,
        ge=0,
        description="A client's public reply on a resolved ticket within this many days of "
        "its resolution reopens it (ticket.reopened, reason client_reply).",
    )

    @property
    def auto_close_after(self) -> timedelta:
        return timedelta(days=self.auto_close_days)

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(days=self.reopen_window_days)

    # A deadline waits for the next round, so the interval bounds detection lag; an idle
    # round is one probe of the due_at index, cheap enough to run four times a second.
    monitor_check_interval_seconds: float = Field(
        default=0.25,
        gt=0,
        le=60,
        description="How often due monitor deadlines and probes are looked for (a round "
        "that filled its batch is followed by another at once).",
    )
    monitor_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Due monitors claimed per round."
    )
    probe_concurrency: int = Field(
        default=20, ge=1, le=500, description="Uptime probes in flight at once per replica."
    )
    probe_allowlist: str = Field(
        default="",
        description="CIDRs uptime probes may reach although the SSRF rules refuse them "
        "(comma-separated, e.g. 127.0.0.0/8 for tests).",
    )
    probe_ca_bundle: str | None = Field(
        default=None,
        description="A PEM file of extra CA certificates uptime probes trust (tests, "
        "private CAs); the system's CAs are trusted as well.",
    )
    probe_dns_timeout_seconds: float = Field(
        default=5.0, gt=0, description="How long a probe waits for DNS."
    )

    @property
    def probe_allowed_networks(self) -> tuple[IPNetwork, ...]:
        return parse_allowlist(self.probe_allowlist)

    @property
    def idempotency_ttl(self) -> timedelta:
        return timedelta(hours=self.idempotency_ttl_hours)

    @property
    def occurrence_policy(self) -> OccurrencePolicy:
        return OccurrencePolicy(
            samples=self.occurrence_samples,
            announce_interval=timedelta(seconds=self.occurrence_event_interval_seconds),
        )
