"""Notify's tables: endpoints, messages (events as received), deliveries and attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from aftercare_notify.domain.channels import SUPPORTED_CHANNELS
from aftercare_notify.domain.quiet_hours import DELIVERY_MODES
from aftercare_notify.domain.statuses import DELIVERY_STATUSES, ENDPOINT_STATUSES
from aftercare_shared.client_keys import client_api_keys_table
from aftercare_shared.db import service_metadata
from aftercare_shared.events.catalog import PRIORITIES
from aftercare_shared.names import ServiceName, schema_of, sql_one_of
from aftercare_shared.outbox import inbox_table, outbox_table
from aftercare_shared.rate_limit import rate_buckets_table
from aftercare_shared.secrets_at_rest import EncryptedText
from aftercare_shared.staff_token_registry import staff_token_copies_table

SCHEMA = schema_of(ServiceName.NOTIFY)
# An e-mail endpoint names an address and no URL; every other channel a URL and no address.
TARGET_RULE = "(channel = 'email') = (address IS NOT NULL AND url IS NULL)"
# NOTIFY channel that wakes the delivery worker when new deliveries commit.
DELIVERIES_DUE_CHANNEL = "notify_deliveries_due"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Endpoint(Base):
    """A subscription: where to send which events, and the secret that signs them."""

    __tablename__ = "endpoints"
    __table_args__ = (
        CheckConstraint(sql_one_of("channel", SUPPORTED_CHANNELS), name="channel"),
        CheckConstraint(sql_one_of("status", ENDPOINT_STATUSES), name="status"),
        CheckConstraint(TARGET_RULE, name="target"),
        CheckConstraint(sql_one_of("deliver", DELIVERY_MODES), name="deliver"),
        CheckConstraint(
            f"min_priority IS NULL OR {sql_one_of('min_priority', PRIORITIES)}",
            name="min_priority",
        ),
        # Fan-out asks "which endpoints list any of these patterns" — an array overlap.
        Index("ix_endpoints_event_types", "event_types", postgresql_using="gin"),
        Index("ix_endpoints_client_id", "client_id"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    # Where to send: a URL (webhook, slack) or an e-mail address (email), never both.
    # The URL is stored sealed like the secrets: a Slack incoming-webhook URL is itself
    # the credential that posts to the channel (and a webhook URL may carry a token).
    url: Mapped[str | None] = mapped_column(EncryptedText)
    address: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # The owning client: only its events, and its API keys may read the endpoint.
    client_id: Mapped[str | None] = mapped_column(Text)
    # Routing filters; None means no filter (see domain.routing).
    client_ids: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    min_priority: Mapped[str | None] = mapped_column(Text)
    environments: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    # Quiet hours (domain.quiet_hours): "business_hours" holds events outside the
    # client's calendar, except these priorities.
    deliver: Mapped[str] = mapped_column(Text, server_default="always")
    except_priorities: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    # Grouping (domain.grouping): with ``group_by`` set, events become digests; the
    # timings and cap are None for the defaults.
    group_by: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    group_wait_seconds: Mapped[int | None] = mapped_column(Integer)
    group_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    group_max_events: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Signing secrets, stored encrypted (aftercare_shared.secrets_at_rest).
    secret: Mapped[str] = mapped_column(EncryptedText)
    previous_secret: Mapped[str | None] = mapped_column(EncryptedText)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Start of the current run of failed attempts; None while the endpoint is healthy.
    first_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def secrets_in_use(self, now: datetime) -> list[str]:
        """The secrets that sign right now: the current one, plus the old one in overlap."""
        return list(
            signing_secrets(self.secret, self.previous_secret, self.previous_secret_expires_at, now)
        )


def signing_secrets(
    secret: str, previous: str | None, previous_expires_at: datetime | None, now: datetime
) -> tuple[str, ...]:
    """An endpoint's secrets that sign at ``now``: the current one, plus the old one in
    a rotation's overlap (from the columns, for callers that read no ``Endpoint``)."""
    if previous is not None and previous_expires_at is not None and previous_expires_at > now:
        return (secret, previous)
    return (secret,)


class Xid8(UserDefinedType[int]):
    """Postgres's 64-bit transaction id (``xid8``), which never wraps around."""

    cache_ok = True

    def get_col_spec(self, **_: Any) -> str:
        return "xid8"


class Message(Base):
    """An event as notify received it: the exact body every delivery of it sends."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_received_at", "received_at"),
        Index("ix_messages_stream", "stream_xact", "stream_seq"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)  # the CloudEvent id
    event_type: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[str | None] = mapped_column(Text)
    # An internal comment: agency-wide endpoints and staff streams only (domain.routing).
    staff_only: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The live stream's position, set by the database on insert (see stream.py): the
    # inserting transaction's id and an insert sequence.
    stream_xact: Mapped[int] = mapped_column(Xid8(), server_default=text("pg_current_xact_id()"))
    stream_seq: Mapped[int] = mapped_column(BigInteger, Identity())


class Delivery(Base):
    """One message to one endpoint: a durable timer (``due_at``) plus its outcome."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "message_id"),
        CheckConstraint(sql_one_of("status", DELIVERY_STATUSES), name="status"),
        # The worker only ever scans pending rows by due time: cost follows what is due.
        Index(
            "ix_deliveries_due",
            "due_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_deliveries_endpoint_id_created_at", "endpoint_id", "created_at"),
        Index("ix_deliveries_message_id", "message_id"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(Text)
    attempt_count: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A claim: the worker holding it until locked_until; claim_token proves which claim.
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_token: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DeliveryAttempt(Base):
    """One HTTP call: what came back, how long it took, or why it could not be made."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (
        Index("ix_delivery_attempts_delivery_id_attempted_at", "delivery_id", "attempted_at"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    attempt_number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    succeeded: Mapped[bool]
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class DigestGroup(Base):
    """One endpoint's group of events with the same ``group_by`` values (domain.grouping).

    ``flush_at`` is when its waiting events are next sent as a digest (None: nothing
    waits); the flush job claims due groups with SKIP LOCKED, so two replicas never
    send one group twice.
    """

    __tablename__ = "digest_groups"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "labels"),
        Index(
            "ix_digest_groups_flush_at", "flush_at", postgresql_where=text("flush_at IS NOT NULL")
        ),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    labels: Mapped[dict[str, Any]] = mapped_column(JSONB)
    flush_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_flushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DigestItem(Base):
    """An event waiting in a group; ``released_at``: when quiet hours let it be sent."""

    __tablename__ = "digest_items"
    __table_args__ = (Index("ix_digest_items_message_id", "message_id"),)

    group_id: Mapped[str] = mapped_column(
        ForeignKey("digest_groups.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    released_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClientCalendar(Base):
    """Read model (from ``sla.client_plan_assigned``): a client's business calendar."""

    __tablename__ = "client_calendars"

    client_id: Mapped[str] = mapped_column(Text, primary_key=True)
    plan_id: Mapped[str] = mapped_column(Text)
    calendar: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


OUTBOX: Table = outbox_table(Base.metadata)
INBOX: Table = inbox_table(Base.metadata)
CLIENT_API_KEYS: Table = client_api_keys_table(Base.metadata)
STAFF_TOKEN_COPIES: Table = staff_token_copies_table(Base.metadata)
RATE_BUCKETS: Table = rate_buckets_table(Base.metadata)
