"""The sla service's settings (``SLA_*``) on top of the shared ``AFTERCARE_*`` ones."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from aftercare_shared.settings import CommonSettings
from aftercare_shared.topics import CLIENTS, MONITORS, RELEASES, SLA, TICKETS


class SlaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLA_", extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    consumer_group: str = Field(
        default="aftercare-sla",
        min_length=1,
        description="Kafka consumer group of the sla consumer (shared by its replicas).",
    )
    clients_topic: str = Field(
        default=CLIENTS,
        min_length=1,
        description="Topic the client and client-key read models are kept from.",
    )
    tickets_topic: str = Field(
        default=TICKETS,
        min_length=1,
        description="Topic of the ticket events that start, pause and stop SLA clocks.",
    )
    report_topics: list[str] = Field(
        default_factory=lambda: [SLA, RELEASES, MONITORS],
        description="Further topics the reports' read models are kept from (sla's own clock "
        "events, deployments and advisories, monitors); clients and tickets come from the two "
        "topics above.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8002",
        min_length=1,
        description="sla's public base URL: the report link in report.published is built on it.",
    )
    report_poll_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often the monthly-report job looks for clients whose month has ended "
        "in their plan time zone (report.published is emitted once per client and month).",
    )
    timer_poll_seconds: float = Field(
        default=0.25,
        gt=0,
        description="How often the timer job looks for due at-risk/breach timers; "
        "also the worst-case wait of an sla.at_risk or sla.breached event before its round "
        "starts. An idle round is one index probe, so polling often costs next to nothing "
        "however many clocks are open (make bench: sla timers).",
    )
    timer_batch_size: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Most timers one timer-job transaction claims; a full batch is followed "
        "at once by the next, so a backlog drains without waiting for the poll interval.",
    )
