"""Notify's settings, read from ``NOTIFY_*`` environment variables (plus ``AFTERCARE_*``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aftercare_notify.channels.smtp_url import parse_smtp_url
from aftercare_notify.domain.retry_schedule import (
    DEFAULT_RETRY_SCHEDULE,
    RetrySchedule,
    parse_retry_schedule,
)
from aftercare_shared.settings import CommonSettings
from aftercare_shared.ssrf import IPNetwork, parse_allowlist

# Renewed every third of it: shorter would be mostly renewals.
MIN_DELIVERY_LEASE_SECONDS = 3.0


class NotifySettings(BaseSettings):
    """Webhook delivery tuning, SSRF policy and the fan-out consumer."""

    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)

    consumer_enabled: bool = Field(
        default=True,
        description="Run the Kafka consumer that fans events out to endpoints.",
    )
    consumer_group: str = Field(
        default="aftercare-notify",
        min_length=1,
        description="Kafka consumer group of the fan-out consumer (one per deployment).",
    )
    delivery_worker_enabled: bool = Field(
        default=True,
        description="Run the worker that sends due webhook deliveries.",
    )
    retry_schedule: str = Field(
        default=DEFAULT_RETRY_SCHEDULE,
        description=(
            "Comma-separated delays in seconds, one per attempt: before the first attempt, "
            "then after each failure. The default is now, 5 s, 5 min, 30 min, 2 h, 5 h, "
            "10 h, 10 h; after the last failure the delivery is failed."
        ),
    )
    disable_after_seconds: float = Field(
        default=432_000,
        gt=0,
        description="Disable an endpoint whose deliveries have all failed for this long.",
    )
    secret_rotation_overlap_seconds: float = Field(
        default=86_400,
        ge=0,
        description="After a secret rotation, how long the old secret still signs (both sent).",
    )
    ssrf_allowlist: str = Field(
        default="",
        description=(
            "Comma-separated CIDRs that webhook URLs may reach although they are "
            "loopback/private/link-local/… (e.g. 127.0.0.0/8 in tests). Empty: none."
        ),
    )
    dns_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How long resolving a webhook host may take before the check fails.",
    )
    delivery_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Total time one webhook request may take (connect, send, response).",
    )
    delivery_connect_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How long opening a connection to a receiver may take (within the total).",
    )
    delivery_connections_per_host: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Most kept-alive connections (and requests in flight) per receiving host; "
        "also the most deliveries of one endpoint in flight at once.",
    )
    breaker_failure_threshold: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Consecutive timeouts or connection failures that open an endpoint's "
        "circuit breaker (its deliveries then wait, unclaimed, without spending attempts).",
    )
    breaker_cooldown_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How long an open breaker waits (±20 % jitter) before one probe delivery.",
    )
    smtp_url: str = Field(
        default="",
        description="SMTP server for the `email` channel: `smtp://[user:pass@]host[:port]` or "
        "`smtps://…` (TLS from the start). Empty: no e-mail channel.",
    )
    smtp_starttls: bool = Field(
        default=True,
        description="Upgrade `smtp://` connections with STARTTLS (refuse servers without it).",
    )
    smtp_ca_file: str = Field(
        default="",
        description="PEM file of CAs trusted for the SMTP server's certificate (default: the "
        "system's).",
    )
    smtp_timeout_seconds: float = Field(
        default=30.0, gt=0, le=300, description="Time one SMTP conversation may take."
    )
    mail_from: str = Field(
        default="aftercare@localhost.localdomain",
        min_length=3,
        description="`From` address of notification e-mails (its domain ends `Message-ID`).",
    )
    delivery_lease_seconds: float = Field(
        default=15.0,
        ge=MIN_DELIVERY_LEASE_SECONDS,
        le=3600,
        description=(
            "How long a claimed delivery stays reserved for the worker that claimed it; "
            "the worker renews it every third of it while the attempt runs, so if the "
            "worker dies the delivery is due again within this, however long requests take."
        ),
    )
    delivery_batch_size: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Most deliveries claimed in one database round trip.",
    )
    delivery_concurrency: int = Field(
        default=400,
        ge=1,
        le=10_000,
        description="Most webhook requests in flight at once per process.",
    )
    delivery_poll_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the delivery worker looks for due deliveries when idle.",
    )
    response_body_max_bytes: int = Field(
        default=1024,
        ge=0,
        le=1_048_576,
        description="How much of each response body is kept on the attempt record.",
    )
    stream_retention_seconds: float = Field(
        default=3600,
        gt=0,
        le=30 * 86_400,
        description="How far back `Last-Event-ID` can resume the live stream (`GET /v1/stream`).",
    )
    stream_heartbeat_seconds: float = Field(
        default=15, gt=0, le=300, description="Comment line sent on an idle stream this often."
    )
    stream_reader_queue: int = Field(
        default=1000,
        ge=10,
        le=100_000,
        description="Events waiting for one stream reader; a reader that falls this far "
        "behind is cut (it resumes with `Last-Event-ID`).",
    )
    stream_send_timeout_seconds: float = Field(
        default=30, gt=0, le=600, description="A stream write blocked this long cuts the reader."
    )
    stream_poll_interval_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often the stream feed polls when not woken."
    )
    digest_flush_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often the digest job looks for groups due to be sent (grouping "
        "endpoints' timings are whole seconds; this is how late a digest may start).",
    )
    digest_flush_batch_size: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Most digest groups flushed in one transaction (a full round runs again).",
    )
    retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Messages (with their deliveries and attempts) older than this are "
        "deleted, unless a delivery of them is still pending; replay reaches this far back.",
    )

    @field_validator("retry_schedule")
    @classmethod
    def _valid_retry_schedule(cls, value: str) -> str:
        parse_retry_schedule(value)
        return value

    @field_validator("ssrf_allowlist")
    @classmethod
    def _valid_allowlist(cls, value: str) -> str:
        parse_allowlist(value)
        return value

    @field_validator("smtp_url")
    @classmethod
    def _valid_smtp_url(cls, value: str) -> str:
        if value:
            parse_smtp_url(value)
        return value

    @property
    def parsed_retry_schedule(self) -> RetrySchedule:
        return parse_retry_schedule(self.retry_schedule)

    @property
    def parsed_ssrf_allowlist(self) -> tuple[IPNetwork, ...]:
        return parse_allowlist(self.ssrf_allowlist)
