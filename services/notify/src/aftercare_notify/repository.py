"""Data access for endpoints, messages, deliveries and attempts. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    column,
    delete,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import TableValuedAlias

from aftercare_notify.domain.grouping import (
    DEFAULT_GROUP_INTERVAL_SECONDS,
    DEFAULT_GROUP_WAIT_SECONDS,
    DIGEST_EVENT_TYPE,
)
from aftercare_notify.domain.routing import RoutingFields
from aftercare_notify.models import (
    SCHEMA,
    ClientCalendar,
    Delivery,
    DeliveryAttempt,
    DigestGroup,
    DigestItem,
    Endpoint,
    Message,
    signing_secrets,
)
from aftercare_shared.db import column_arrays, unnested_rows
from aftercare_shared.pagination import CursorPosition, after_position
from aftercare_shared.secrets_at_rest import current_keyring

SELF_REFERENTIAL_TYPE_PREFIX = "aftercare.notification."

# The keyset orders of the two lists: (created_at, id) is unique, so pages never overlap.
_ENDPOINT_ORDER = (Endpoint.created_at.expression, Endpoint.id.expression)
_DELIVERY_ORDER = (Delivery.created_at.expression, Delivery.id.expression)


def cast_table(table: object) -> Table:
    assert isinstance(table, Table)
    return table


def new_id() -> str:
    return str(uuid.uuid4())


# --- endpoints -------------------------------------------------------------------------


async def get_endpoint(
    session: AsyncSession, endpoint_id: str, *, lock: bool = False
) -> Endpoint | None:
    """The endpoint, optionally locked for update.

    The lock is FOR NO KEY UPDATE: it serialises changes to the endpoint without
    blocking the key-share locks that inserting its deliveries takes (fan-out goes on).
    """
    query = select(Endpoint).where(Endpoint.id == endpoint_id)
    if lock:
        # populate_existing: a row read earlier in this session must show the locked state.
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def list_endpoints(
    session: AsyncSession,
    *,
    client_id: str | None,
    after: CursorPosition | None,
    limit: int,
) -> list[Endpoint]:
    """Endpoints oldest first, strictly after the ``after`` position; ``client_id``'s only."""
    query = select(Endpoint).order_by(*_ENDPOINT_ORDER).limit(limit)
    if client_id is not None:
        query = query.where(Endpoint.client_id == client_id)
    after_clause = after_position(_ENDPOINT_ORDER, after, descending=False)
    if after_clause is not None:
        query = query.where(after_clause)
    return list((await session.execute(query)).scalars())


async def cancel_pending_deliveries(
    session: AsyncSession, *, endpoint_id: str, reason: str, now: datetime
) -> int:
    """Cancel an endpoint's waiting deliveries; ones being sent right now finish normally."""
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.endpoint_id == endpoint_id,
            Delivery.status == "pending",
            or_(Delivery.locked_until.is_(None), Delivery.locked_until <= now),
        )
        .values(
            status="cancelled",
            due_at=None,
            locked_until=None,
            claim_token=None,
            last_error=reason,
            completed_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- messages and fan-out --------------------------------------------------------------


_MESSAGES = cast_table(Message.__table__)
_DELIVERIES = cast_table(Delivery.__table__)

_MESSAGE_COLUMNS = (
    "id",
    "event_type",
    "subject",
    "client_id",
    "priority",
    "environment",
    "staff_only",
    "event_time",
    "body",
    "received_at",
)
# Built once, over one array per column (``unnested_rows``): the consumer stores a run of
# events with this one statement, whatever the run's length, so it is compiled and
# prepared once and no Core objects are made per event.
_RUN_OF_MESSAGES = unnested_rows(_MESSAGES, _MESSAGE_COLUMNS)
_INSERT_MESSAGES = (
    insert(_MESSAGES)
    .from_select(
        list(_MESSAGE_COLUMNS), select(*(_RUN_OF_MESSAGES.c[name] for name in _MESSAGE_COLUMNS))
    )
    .on_conflict_do_nothing(index_elements=[_MESSAGES.c.id])
    .returning(_MESSAGES.c.id)
)


async def insert_messages(session: AsyncSession, messages: Sequence[Message]) -> set[str]:
    """Store events once; the ids of those not stored before."""
    if not messages:
        return set()
    inserted = await session.scalars(_INSERT_MESSAGES, column_arrays(messages, *_MESSAGE_COLUMNS))
    return set(inserted)


def _not_about_endpoint(endpoint_id: str) -> ColumnElement[bool]:
    """SQL: the message is not a notify event whose payload names ``endpoint_id``."""
    payload_endpoint = cast(func.convert_from(Message.body, "UTF8"), JSONB)["data"][
        "endpoint_id"
    ].astext
    return or_(
        ~Message.event_type.like(SELF_REFERENTIAL_TYPE_PREFIX + "%"),
        payload_endpoint.is_distinct_from(endpoint_id),
    )


def _routes_pass(
    client: ColumnElement[str | None],
    prio: ColumnElement[str | None],
    env: ColumnElement[str | None],
    staff_only: ColumnElement[bool],
) -> list[ColumnElement[bool]]:
    """SQL: the endpoint's owner and routing filters let this event through.

    The rules of ``domain.routing``: a staff-only event (an internal comment) reaches
    agency-wide endpoints only; an owned endpoint and a ``client_ids`` list take only
    those clients' events; ``min_priority`` and ``environments`` apply to events that
    carry the field. ``'P1' <= 'P2'`` as text: the priorities sort as they rank.
    The event's fields are columns (replay) or bound parameters (fan-out).
    """
    agency_wide = and_(Endpoint.client_id.is_(None), Endpoint.client_ids.is_(None))
    return [
        or_(not_(staff_only), agency_wide),
        or_(Endpoint.client_id.is_(None), Endpoint.client_id == client),
        or_(Endpoint.client_ids.is_(None), client == func.any(Endpoint.client_ids)),
        or_(Endpoint.min_priority.is_(None), prio.is_(None), prio <= Endpoint.min_priority),
        or_(Endpoint.environments.is_(None), env.is_(None), env == func.any(Endpoint.environments)),
    ]


def _due_for_endpoint(due_at: ColumnElement[datetime]) -> ColumnElement[datetime]:
    """SQL: ``due_at``, or ``:held_until`` for a business-hours endpoint that holds the event.

    ``:held_until`` is when the client's calendar opens, bound only when that is later
    than ``due_at`` (NULL otherwise: nothing is held); an endpoint's ``except_priorities``
    let an event of those priorities through (an event without a priority is held).
    """
    held = and_(
        _HELD_UNTIL.is_not(None),
        Endpoint.deliver == "business_hours",
        or_(
            _PRIORITY.is_(None),
            Endpoint.except_priorities.is_(None),
            not_(any_(Endpoint.except_priorities) == _PRIORITY),
        ),
    )
    return case((held, _HELD_UNTIL), else_=due_at)


def _held_until(quiet_until: datetime | None, due_at: datetime) -> datetime | None:
    """The ``:held_until`` parameter: the calendar's opening, if later than ``due_at``."""
    return quiet_until if quiet_until is not None and quiet_until > due_at else None


_CALENDARS = cast_table(ClientCalendar.__table__)
# Built once, Core: the consumer reads the calendars of a run's clients in one statement
# (an ORM get per event was 3 % of notify's CPU under a fan-out burst).
_CLIENT_CALENDARS = select(_CALENDARS.c.client_id, _CALENDARS.c.calendar).where(
    _CALENDARS.c.client_id == any_(bindparam("client_ids", type_=ARRAY(Text)))
)


async def client_calendars(
    session: AsyncSession, client_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The business calendars (JSON) of those of ``client_ids`` that have one; a client
    without one has no quiet hours."""
    wanted = sorted(set(client_ids))
    if not wanted:
        return {}
    rows = await session.execute(_CLIENT_CALENDARS, {"client_ids": wanted})
    return {client_id: calendar for client_id, calendar in rows}


async def save_client_calendar(session: AsyncSession, row: ClientCalendar) -> None:
    """Keep the newest assignment (an older event arriving late changes nothing)."""
    statement = insert(ClientCalendar).values(
        client_id=row.client_id,
        plan_id=row.plan_id,
        calendar=row.calendar,
        assigned_at=row.assigned_at,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ClientCalendar.client_id],
            set_={
                "plan_id": statement.excluded.plan_id,
                "calendar": statement.excluded.calendar,
                "assigned_at": statement.excluded.assigned_at,
            },
            where=ClientCalendar.assigned_at <= statement.excluded.assigned_at,
        )
    )


async def drop_client_calendar(
    session: AsyncSession, *, client_id: str, unassigned_at: datetime
) -> None:
    """The client's plan is gone: no quiet hours any more, unless a newer assignment is
    already here (events of one client arrive in order, but replays may not)."""
    await session.execute(
        delete(ClientCalendar).where(
            ClientCalendar.client_id == client_id, ClientCalendar.assigned_at <= unassigned_at
        )
    )


# The per-event values of the fan-out statements, bound at execution: each statement is
# built once, below, so fanning an event out builds no Core objects and SQLAlchemy's
# compiled cache always hits. Optional filters are NULL-tolerant in SQL instead of
# shaping the statement in Python.
_MESSAGE_ID = bindparam("message_id", type_=Text)
_PATTERNS = bindparam("patterns", type_=ARRAY(Text))
_CLIENT_ID: BindParameter[str | None] = bindparam("client_id", type_=Text)
_PRIORITY: BindParameter[str | None] = bindparam("priority", type_=Text)
_ENVIRONMENT: BindParameter[str | None] = bindparam("environment", type_=Text)
_STAFF_ONLY = bindparam("staff_only", type_=Boolean)
_SKIP_ENDPOINT_ID: BindParameter[str | None] = bindparam("skip_endpoint_id", type_=Text)
_DUE_AT = bindparam("due_at", type_=DateTime(timezone=True))
_NOW = bindparam("now", type_=DateTime(timezone=True))
_HELD_UNTIL = bindparam("held_until", type_=DateTime(timezone=True))
_GROUP_VALUES = bindparam("group_values", type_=JSONB)


def _fan_out_conditions() -> list[ColumnElement[bool]]:
    """SQL: the enabled endpoints whose patterns and routing filters take this event.

    ``:skip_endpoint_id`` NULL skips none (an endpoint's id is never NULL).
    """
    return [
        Endpoint.status == "enabled",
        Endpoint.event_types.overlap(_PATTERNS),
        *_routes_pass(_CLIENT_ID, _PRIORITY, _ENVIRONMENT, _STAFF_ONLY),
        or_(_SKIP_ENDPOINT_ID.is_(None), Endpoint.id != _SKIP_ENDPOINT_ID),
    ]


@dataclass(frozen=True, slots=True)
class FanOut:
    """One stored event's part in the fan-out statements."""

    message_id: str
    candidate_patterns: Sequence[str]
    routing: RoutingFields
    group_values: dict[str, str | None]
    """The event's values of the fields an endpoint may group by (``group_by``)."""
    skip_endpoint_id: str | None
    """An endpoint the event is about, never sent it (see ``_not_about_endpoint``)."""
    quiet_until: datetime | None
    """When the client's calendar opens, if it is closed now (business-hours endpoints)."""


def _fan_out_parameters(
    fan_out: FanOut, *, now: datetime, released_at: datetime
) -> dict[str, object]:
    """The bound values the two fan-out statements share (``:held_until`` against the
    time the statement releases the event at when nothing holds it)."""
    return {
        "message_id": fan_out.message_id,
        "patterns": list(fan_out.candidate_patterns),
        "client_id": fan_out.routing.client_id,
        "priority": fan_out.routing.priority,
        "environment": fan_out.routing.environment,
        "staff_only": fan_out.routing.staff_only,
        "skip_endpoint_id": fan_out.skip_endpoint_id,
        "now": now,
        "held_until": _held_until(fan_out.quiet_until, released_at),
    }


_INSERT_FAN_OUT_DELIVERIES = (
    insert(_DELIVERIES)
    .from_select(
        [
            "id",
            "endpoint_id",
            "message_id",
            "status",
            "attempt_count",
            "due_at",
            "created_at",
            "updated_at",
        ],
        select(
            cast(func.gen_random_uuid(), String),
            Endpoint.id,
            _MESSAGE_ID,
            literal("pending"),
            literal(0),
            _due_for_endpoint(_DUE_AT),
            _NOW,
            _NOW,
        ).where(
            *_fan_out_conditions(),
            Endpoint.group_by.is_(None),  # grouping endpoints get digests instead
        ),
    )
    .on_conflict_do_nothing(index_elements=[_DELIVERIES.c.endpoint_id, _DELIVERIES.c.message_id])
)


async def insert_fan_out_deliveries(
    session: AsyncSession, fan_outs: Sequence[FanOut], *, due_at: datetime, now: datetime
) -> bool:
    """Per event, one pending delivery per enabled endpoint whose patterns and filters match.

    A business-hours endpoint gets the delivery due when the client's calendar opens
    (``quiet_until``) instead, unless its priority is one of the endpoint's exceptions.

    One INSERT … SELECT per event, whatever the number of endpoints, all sent in one
    round trip (asyncpg's ``executemany`` pipelines them) and applied in list order; the
    unique (endpoint_id, message_id) makes a repeated fan-out a no-op. Returns whether
    any event could match an endpoint (the pipelined statements report no row counts);
    internal events, which never match, send no statement.
    """
    parameters = [
        {
            **_fan_out_parameters(fan_out, now=now, released_at=due_at),
            "due_at": due_at,
        }
        for fan_out in fan_outs
        if fan_out.candidate_patterns
    ]
    if parameters:
        await session.execute(_INSERT_FAN_OUT_DELIVERIES, parameters)
    return bool(parameters)


_GROUP_INTERVAL_OF_CONFLICTING_GROUP = (
    f"(SELECT coalesce(owner.group_interval_seconds, {DEFAULT_GROUP_INTERVAL_SECONDS})"  # noqa: S608 - constants only
    f" FROM {SCHEMA}.endpoints AS owner WHERE owner.id = {SCHEMA}.digest_groups.endpoint_id)"
)


def _build_insert_fan_out_digest_items() -> Insert:
    """The statement of :func:`insert_fan_out_digest_items`, built once at import."""
    field = func.unnest(Endpoint.group_by).column_valued("field")
    values = cast(_GROUP_VALUES, JSONB)
    labels = func.coalesce(
        select(func.jsonb_object_agg(field, values.op("->")(field))).scalar_subquery(),
        cast(literal({}, JSONB), JSONB),
    )
    released_at = _due_for_endpoint(_NOW)
    wait = func.make_interval(
        0, 0, 0, 0, 0, 0, func.coalesce(Endpoint.group_wait_seconds, DEFAULT_GROUP_WAIT_SECONDS)
    )
    matched = (
        select(
            Endpoint.id.label("endpoint_id"),
            labels.label("labels"),
            released_at.label("released_at"),
            (released_at + wait).label("flush_at"),
        )
        .where(*_fan_out_conditions(), Endpoint.group_by.is_not(None))
        .cte("matched")
    )
    groups = cast_table(DigestGroup.__table__)
    upsert = insert(groups).from_select(
        ["id", "endpoint_id", "labels", "flush_at", "created_at"],
        select(
            cast(func.gen_random_uuid(), String),
            matched.c.endpoint_id,
            matched.c.labels,
            matched.c.flush_at,
            _NOW,
        ),
    )
    # The group's endpoint's interval, read in the conflict's SET (a correlated subquery
    # written out: the SQL compiler does not correlate to an ON CONFLICT target).
    interval_seconds: ColumnElement[int] = literal_column(_GROUP_INTERVAL_OF_CONFLICTING_GROUP)
    interval_after_last = groups.c.last_flushed_at + func.make_interval(
        0, 0, 0, 0, 0, 0, interval_seconds
    )
    # Sooner if this event is due sooner; never before the group's interval has passed.
    # (LEAST ignores a NULL: a group with nothing waiting takes the new time.)
    flush_at = func.least(
        groups.c.flush_at,
        func.greatest(
            upsert.excluded.flush_at,
            func.coalesce(interval_after_last, upsert.excluded.flush_at),
        ),
    )
    joined = (
        upsert.on_conflict_do_update(
            index_elements=[groups.c.endpoint_id, groups.c.labels], set_={"flush_at": flush_at}
        )
        .returning(groups.c.id, groups.c.endpoint_id, groups.c.labels)
        .cte("joined")
    )
    items = insert(cast_table(DigestItem.__table__)).from_select(
        ["group_id", "message_id", "released_at", "added_at"],
        select(joined.c.id, _MESSAGE_ID, matched.c.released_at, _NOW)
        .select_from(joined)
        .join(
            matched,
            and_(
                matched.c.endpoint_id == joined.c.endpoint_id,
                matched.c.labels == joined.c.labels,
            ),
        ),
    )
    return items.on_conflict_do_nothing()


_INSERT_FAN_OUT_DIGEST_ITEMS = _build_insert_fan_out_digest_items()


async def insert_fan_out_digest_items(
    session: AsyncSession, fan_outs: Sequence[FanOut], *, now: datetime
) -> None:
    """Put each event in its group at every matching endpoint that groups.

    The group (the endpoint, the event's values of its ``group_by`` fields) is created
    if new, its ``flush_at`` moved earlier if this event is due sooner (domain.grouping:
    ``released_at + group_wait``, but never before ``last_flushed_at + group_interval``);
    ``released_at`` is now, or when the client's calendar opens for a business-hours
    endpoint that holds the event. One statement per event, pipelined in one round trip
    and applied in list order (a later event of a group finds the group the earlier one
    made).
    """
    parameters = [
        {
            **_fan_out_parameters(fan_out, now=now, released_at=now),
            "group_values": fan_out.group_values,
        }
        for fan_out in fan_outs
        if fan_out.candidate_patterns
    ]
    if parameters:
        await session.execute(_INSERT_FAN_OUT_DIGEST_ITEMS, parameters)


async def message_types_since(session: AsyncSession, since: datetime) -> list[str]:
    """The distinct event types received since ``since`` (a small set, however many rows)."""
    rows = await session.execute(
        select(Message.event_type)
        .where(Message.received_at >= since, Message.event_type != DIGEST_EVENT_TYPE)
        .distinct()
    )
    return list(rows.scalars())


async def replay_messages_to_endpoint(
    session: AsyncSession,
    *,
    endpoint: Endpoint,
    event_types: Sequence[str],
    since: datetime,
    now: datetime,
) -> int:
    """Make every matching message since ``since`` due now for ``endpoint``.

    Messages never sent to it get a new delivery; finished ones (succeeded, failed,
    cancelled) are reopened; ones already pending are left alone.
    """
    if not event_types:
        return 0
    conditions = [
        Message.received_at >= since,
        Message.event_type.in_(list(event_types)),
        _not_about_endpoint(endpoint.id),
        Endpoint.id == endpoint.id,
        *_routes_pass(
            Message.client_id.expression,
            Message.priority.expression,
            Message.environment.expression,
            Message.staff_only.expression,
        ),
    ]
    matching = select(
        cast(func.gen_random_uuid(), String),
        literal(endpoint.id),
        Message.id,
        literal("pending"),
        literal(0),
        literal(now),
        literal(now),
        literal(now),
    ).where(and_(*conditions))
    statement = insert(Delivery).from_select(
        [
            Delivery.id,
            Delivery.endpoint_id,
            Delivery.message_id,
            Delivery.status,
            Delivery.attempt_count,
            Delivery.due_at,
            Delivery.created_at,
            Delivery.updated_at,
        ],
        matching,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Delivery.endpoint_id, Delivery.message_id],
        set_={
            "status": "pending",
            "due_at": now,
            "locked_until": None,
            "claim_token": None,
            "completed_at": None,
            "updated_at": now,
        },
        where=Delivery.status != "pending",
    )
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- delivery claims -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery reserved for one attempt, with everything needed to make it."""

    delivery_id: str
    claim_token: str
    attempt_number: int
    endpoint_id: str
    channel: str
    url: str | None
    address: str | None
    secrets_in_use: tuple[str, ...]
    message_id: str
    event_type: str
    body: bytes


_ENDPOINTS = cast_table(Endpoint.__table__)

# The claim's per-call values, bound at execution (the statement is built once, below).
_CLAIM_NOW = bindparam("now", type_=DateTime(timezone=True))
_LEASE_UNTIL = bindparam("lease_until", type_=DateTime(timezone=True))
_CLAIM_TOKEN = bindparam("claim_token", type_=Text)
_EXCLUDED_IDS = bindparam("excluded_endpoint_ids", type_=ARRAY(Text))
_SINGLE_SLOT_IDS = bindparam("single_slot_endpoint_ids", type_=ARRAY(Text))
_PER_ENDPOINT_LIMIT = bindparam("per_endpoint_limit", type_=Integer)


def _build_claim_due_deliveries() -> Select[Any]:
    """The statement of :func:`claim_due_deliveries`, built once at import.

    Core tables only (no ORM entities): the ORM's compile and loading steps cost more
    than the claim itself when a fan-out keeps the worker claiming. The optional lists
    are arrays that may be empty (``= ANY('{}')`` is false), so one SQL text serves
    every call and Postgres keeps its prepared plan. The secrets and the URL come out
    as stored (sealed): :func:`claim_due_deliveries` opens them through the keyring,
    which keeps what it opened.
    """
    deliveries, endpoints, messages = _DELIVERIES, _ENDPOINTS, _MESSAGES
    # A window over every due row would cost what is due, so bound the scan first: the
    # earliest due deliveries, by the pending-due index, in a MATERIALIZED scan of the
    # deliveries table alone (the endpoint's status looked up per row by primary key, a
    # subquery the planner cannot turn into a join). As a join, on a freshly grown table
    # whose statistics autovacuum had not refreshed yet, Postgres looped over the
    # endpoints with a bitmap scan of the whole due index for each: 30-45 ms a claim,
    # and notify's paced fan-out (2,000 deliveries/s) queued for seconds.
    endpoint_status = (
        select(endpoints.c.status)
        .where(endpoints.c.id == deliveries.c.endpoint_id)
        .scalar_subquery()
    )
    scanned = (
        select(deliveries.c.id, deliveries.c.endpoint_id, deliveries.c.due_at)
        .where(
            deliveries.c.status == "pending",
            deliveries.c.due_at <= _CLAIM_NOW,
            not_(deliveries.c.endpoint_id == any_(_EXCLUDED_IDS)),
            endpoint_status == "enabled",
        )
        .order_by(deliveries.c.due_at)
        .limit(bindparam("scan_limit", type_=Integer))
        .cte("due_scan")
        .prefix_with("MATERIALIZED")
    )
    candidates = select(
        scanned.c.id,
        func.row_number()
        .over(partition_by=scanned.c.endpoint_id, order_by=scanned.c.due_at)
        .label("rank"),
        scanned.c.endpoint_id,
    ).subquery()
    ranked = select(candidates.c.id).where(
        candidates.c.rank <= _PER_ENDPOINT_LIMIT,
        or_(
            not_(candidates.c.endpoint_id == any_(_SINGLE_SLOT_IDS)),
            candidates.c.rank <= 1,
        ),
    )
    due = (
        select(deliveries.c.id)
        .where(
            # = ANY(ARRAY(…)), not IN (…): the ranked ids are computed once and the rows
            # fetched through them, whatever the planner believes. Right after a burst of
            # fan-out, before autovacuum has analyzed the table, Postgres took deliveries
            # for a one-row table and planned IN (…) as a nested-loop semi join: the
            # ranked list compared against every due row (0.66 million comparisons for
            # 1,160 due rows, 190-440 ms a claim, the fan-out at 260-780 deliveries/s;
            # auto_explain in the bench's Postgres). The ranked ids come from the
            # materialized scan above for the same reason.
            deliveries.c.id == any_(func.array(ranked.scalar_subquery())),
            # Checked again on the locked row: another worker may have claimed it since.
            deliveries.c.status == "pending",
            deliveries.c.due_at <= _CLAIM_NOW,
        )
        .order_by(deliveries.c.due_at)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    claimed = (
        update(deliveries)
        .where(deliveries.c.id.in_(due.scalar_subquery()))
        .values(
            due_at=_LEASE_UNTIL,
            locked_until=_LEASE_UNTIL,
            claim_token=_CLAIM_TOKEN,
            attempt_count=deliveries.c.attempt_count + 1,
            updated_at=_CLAIM_NOW,
        )
        .returning(
            deliveries.c.id,
            deliveries.c.endpoint_id,
            deliveries.c.message_id,
            deliveries.c.attempt_count,
        )
        .cte("claimed")
    )
    return (
        select(
            claimed.c.id,
            claimed.c.attempt_count,
            endpoints.c.id,
            endpoints.c.channel,
            type_coerce(endpoints.c.url, Text),
            endpoints.c.address,
            type_coerce(endpoints.c.secret, Text),
            type_coerce(endpoints.c.previous_secret, Text),
            endpoints.c.previous_secret_expires_at,
            messages.c.id,
            messages.c.event_type,
            messages.c.body,
        )
        .join_from(claimed, endpoints, endpoints.c.id == claimed.c.endpoint_id)
        .join(messages, messages.c.id == claimed.c.message_id)
    )


_CLAIM_DUE_DELIVERIES = _build_claim_due_deliveries()


async def claim_due_deliveries(
    session: AsyncSession,
    *,
    now: datetime,
    lease_until: datetime,
    limit: int,
    per_endpoint_limit: int | None = None,
    excluded_endpoint_ids: Sequence[str] = (),
    single_slot_endpoint_ids: Sequence[str] = (),
) -> list[ClaimedDelivery]:
    """Reserve up to ``limit`` due deliveries of enabled endpoints until ``lease_until``.

    The claim moves ``due_at`` to the lease's end: if the claimer dies mid-attempt the
    delivery simply becomes due again then, with no sweeper needed. The attempt number
    is taken at claim time, so an attempt lost in a crash still counts. At most
    ``per_endpoint_limit`` deliveries of one endpoint (1 for ``single_slot_endpoint_ids``,
    a breaker's probe), none of ``excluded_endpoint_ids`` (saturated or breaker open):
    one endpoint's backlog never fills a claim that healthy endpoints are waiting for.

    One statement, one round trip: the claiming UPDATE … RETURNING is a CTE the SELECT
    of what the attempt needs joins to.
    """
    scan_limit = limit * 20
    claim_token = new_id()
    rows = await session.execute(
        _CLAIM_DUE_DELIVERIES,
        {
            "now": now,
            "lease_until": lease_until,
            "claim_token": claim_token,
            "limit": limit,
            "scan_limit": scan_limit,
            # No cap: a rank never exceeds the scan's size.
            "per_endpoint_limit": scan_limit if per_endpoint_limit is None else per_endpoint_limit,
            "excluded_endpoint_ids": list(excluded_endpoint_ids),
            "single_slot_endpoint_ids": list(single_slot_endpoint_ids),
        },
    )
    keyring = current_keyring()
    return [
        ClaimedDelivery(
            delivery_id=delivery_id,
            claim_token=claim_token,
            attempt_number=attempt_count,
            endpoint_id=endpoint_id,
            channel=channel,
            url=None if url is None else keyring.decrypt(url),
            address=address,
            secrets_in_use=signing_secrets(
                keyring.decrypt(secret),
                None if previous_secret is None else keyring.decrypt(previous_secret),
                previous_expires_at,
                now,
            ),
            message_id=message_id,
            event_type=event_type,
            body=body,
        )
        for (
            delivery_id,
            attempt_count,
            endpoint_id,
            channel,
            url,
            address,
            secret,
            previous_secret,
            previous_expires_at,
            message_id,
            event_type,
            body,
        ) in rows
    ]


def _any_text(values: Sequence[str]) -> ColumnElement[bool]:
    """``ANY($1)`` over one text[] parameter: the same SQL whatever the list's length."""
    return any_(literal(list(values), ARRAY(Text)))


# --- deliveries and attempts -----------------------------------------------------------


async def get_delivery(
    session: AsyncSession, delivery_id: str, *, lock: bool = False
) -> Delivery | None:
    query = select(Delivery).where(Delivery.id == delivery_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def get_message(session: AsyncSession, message_id: str) -> Message | None:
    return await session.get(Message, message_id)


async def list_deliveries(
    session: AsyncSession,
    *,
    endpoint_id: str,
    status: str | None,
    after: CursorPosition | None,
    limit: int,
) -> list[tuple[Delivery, str]]:
    """An endpoint's deliveries newest first after ``after``, each with its event type."""
    query = (
        select(Delivery, Message.event_type)
        .join(Message, Message.id == Delivery.message_id)
        .where(Delivery.endpoint_id == endpoint_id)
        .order_by(*(column.desc() for column in _DELIVERY_ORDER))
        .limit(limit)
    )
    if status is not None:
        query = query.where(Delivery.status == status)
    after_clause = after_position(_DELIVERY_ORDER, after, descending=True)
    if after_clause is not None:
        query = query.where(after_clause)
    return [(delivery, event_type) for delivery, event_type in (await session.execute(query))]


async def attempts_by_delivery(
    session: AsyncSession, delivery_ids: Sequence[str]
) -> dict[str, list[DeliveryAttempt]]:
    """Every attempt of the given deliveries, oldest first."""
    attempts: dict[str, list[DeliveryAttempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if not delivery_ids:
        return attempts
    rows = await session.execute(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(list(delivery_ids)))
        .order_by(DeliveryAttempt.attempted_at, DeliveryAttempt.attempt_number)
    )
    for attempt in rows.scalars():
        attempts[attempt.delivery_id].append(attempt)
    return attempts


async def purge_messages_received_before(session: AsyncSession, cutoff: datetime) -> int:
    """Delete old messages with their deliveries and attempts (cascade); never one still due.

    Nor one still waiting in a digest group (quiet hours may hold it for long).
    """
    still_pending = select(Delivery.message_id).where(
        Delivery.message_id == Message.id, Delivery.status == "pending"
    )
    still_grouped = select(DigestItem.message_id).where(DigestItem.message_id == Message.id)
    result = await session.execute(
        delete(Message).where(
            Message.received_at < cutoff, ~still_pending.exists(), ~still_grouped.exists()
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- recording attempts in batches -----------------------------------------------------

# Core statements (no ORM identity map): a batch is hundreds of rows written once.
_ATTEMPTS = cast_table(DeliveryAttempt.__table__)


@dataclass(slots=True)
class LockedEndpoint:
    """What recording an attempt reads of its endpoint (locked for the transaction)."""

    status: str
    first_failure_at: datetime | None


_LOCK_ENDPOINTS = (
    select(_ENDPOINTS.c.id, _ENDPOINTS.c.status, _ENDPOINTS.c.first_failure_at)
    .where(_ENDPOINTS.c.id == any_(bindparam("ids", type_=ARRAY(Text))))
    .order_by(_ENDPOINTS.c.id)
    .with_for_update(key_share=True)
)


async def lock_endpoints(
    session: AsyncSession, endpoint_ids: Sequence[str]
) -> dict[str, LockedEndpoint]:
    """The endpoints' state, each locked FOR NO KEY UPDATE in id order (the lock order
    everywhere). Columns, not entities: the rare change loads the entity (``Endpoint``)."""
    rows = await session.execute(_LOCK_ENDPOINTS, {"ids": list(endpoint_ids)})
    return {
        endpoint_id: LockedEndpoint(status, first_failure_at)
        for endpoint_id, status, first_failure_at in rows
    }


_LOCK_DELIVERY_CLAIMS = (
    select(_DELIVERIES.c.id, _DELIVERIES.c.claim_token)
    .where(_DELIVERIES.c.id == any_(bindparam("ids", type_=ARRAY(Text))))
    .order_by(_DELIVERIES.c.id)
    .with_for_update()
)


async def lock_delivery_claims(
    session: AsyncSession, delivery_ids: Sequence[str]
) -> dict[str, str | None]:
    """Delivery id → its current claim token, each row locked, in id order."""
    rows = await session.execute(_LOCK_DELIVERY_CLAIMS, {"ids": sorted(set(delivery_ids))})
    return {delivery_id: token for delivery_id, token in rows}


def _unnest(table: Table, names: Sequence[str]) -> TableValuedAlias:
    """``unnest(:each_name, …) AS anon(name, …)``: one array parameter per column of ``table``.

    A batch's rows travel as one array per column, so a statement of hundreds of rows
    is one parameter set for SQLAlchemy to process, not hundreds (executemany).
    """
    rows = func.unnest(
        # Not the column's name: an UPDATE reserves those for its SET clause.
        *(bindparam(f"each_{name}", type_=ARRAY(table.c[name].type)) for name in names)
    ).table_valued(*(column(name, table.c[name].type) for name in names))
    return rows.render_derived()


def _each(columns: dict[str, list[object]]) -> dict[str, list[object]]:
    """The parameters of an ``_unnest`` statement from its columns' lists."""
    return {f"each_{name}": values for name, values in columns.items()}


ATTEMPT_COLUMNS = (
    "id",
    "delivery_id",
    "attempt_number",
    "attempted_at",
    "succeeded",
    "status_code",
    "latency_ms",
    "response_body",
    "error",
)
_ATTEMPT_ROWS = _unnest(_ATTEMPTS, ATTEMPT_COLUMNS)
_INSERT_ATTEMPTS = insert(_ATTEMPTS).from_select(
    list(ATTEMPT_COLUMNS), select(*(_ATTEMPT_ROWS.c[name] for name in ATTEMPT_COLUMNS))
)


async def insert_attempts(session: AsyncSession, columns: dict[str, list[object]]) -> None:
    """Insert attempt rows given column-wise (``ATTEMPT_COLUMNS`` → one list each)."""
    if columns["id"]:
        await session.execute(_INSERT_ATTEMPTS, _each(columns))


FINISHED_CLAIM_COLUMNS = (
    "id",
    "status",
    "due_at",
    "completed_at",
    "last_status_code",
    "last_error",
    "updated_at",
)
_FINISHED = _unnest(_DELIVERIES, FINISHED_CLAIM_COLUMNS)
_FINISH_CLAIMS = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == _FINISHED.c.id)
    .values(
        status=_FINISHED.c.status,
        due_at=_FINISHED.c.due_at,
        completed_at=_FINISHED.c.completed_at,
        last_status_code=_FINISHED.c.last_status_code,
        last_error=_FINISHED.c.last_error,
        updated_at=_FINISHED.c.updated_at,
        locked_until=null(),
        claim_token=null(),
    )
)


async def renew_claims(
    session: AsyncSession,
    *,
    claims: Sequence[tuple[str, str]],
    lease_until: datetime,
) -> int:
    """Extend the leases of these (delivery id, claim token) claims still held; how many.

    A claim already recorded (its token cleared) or taken over by another worker (a new
    token) is left alone: renewing never resurrects a lease.
    """
    if not claims:
        return 0
    ids = [delivery_id for delivery_id, _ in claims]
    tokens = sorted({token for _, token in claims})
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.id == _any_text(ids),
            Delivery.claim_token == _any_text(tokens),
            Delivery.status == "pending",
        )
        .values(due_at=lease_until, locked_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def finish_claims(session: AsyncSession, columns: dict[str, list[object]]) -> None:
    """Apply each delivery's new state and release its claim (one statement), given
    column-wise (``FINISHED_CLAIM_COLUMNS`` → one list each)."""
    if columns["id"]:
        await session.execute(_FINISH_CLAIMS, _each(columns))


# --- digest groups ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaitingEvent:
    """An event waiting in a digest group, with the bytes the digest will carry."""

    group_id: str
    message_id: str
    released_at: datetime
    body: bytes


async def claim_due_digest_groups(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[tuple[DigestGroup, Endpoint]]:
    """Lock up to ``limit`` groups due now, SKIP LOCKED: each is flushed by one replica."""
    rows = await session.execute(
        select(DigestGroup, Endpoint)
        .join(Endpoint, Endpoint.id == DigestGroup.endpoint_id)
        .where(DigestGroup.flush_at.is_not(None), DigestGroup.flush_at <= now)
        .order_by(DigestGroup.flush_at)
        .limit(limit)
        .with_for_update(of=DigestGroup.__table__, skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return [(group, endpoint) for group, endpoint in rows.all()]


async def waiting_events(
    session: AsyncSession, group_ids: Sequence[str]
) -> dict[str, list[WaitingEvent]]:
    """Each group's waiting events, in release then arrival order."""
    waiting: dict[str, list[WaitingEvent]] = {group_id: [] for group_id in group_ids}
    if not group_ids:
        return waiting
    rows = await session.execute(
        select(DigestItem.group_id, DigestItem.message_id, DigestItem.released_at, Message.body)
        .join(Message, Message.id == DigestItem.message_id)
        .where(DigestItem.group_id.in_(list(group_ids)))
        .order_by(DigestItem.released_at, Message.stream_xact, Message.stream_seq)
    )
    for group_id, message_id, released_at, body in rows.all():
        waiting[group_id].append(WaitingEvent(group_id, message_id, released_at, body))
    return waiting


async def remove_waiting_events(session: AsyncSession, events: Sequence[WaitingEvent]) -> None:
    """Take events out of their groups (they were sent, or will never be)."""
    if events:
        await session.execute(
            delete(DigestItem).where(
                tuple_(DigestItem.group_id, DigestItem.message_id).in_(
                    [(event.group_id, event.message_id) for event in events]
                )
            )
        )


async def insert_digest_message(
    session: AsyncSession, *, message: Message, endpoint_id: str, due_at: datetime, now: datetime
) -> None:
    """The digest as a message of its own, and its one pending delivery."""
    await insert_messages(session, [message])
    await session.execute(
        insert(Delivery).values(
            id=new_id(),
            endpoint_id=endpoint_id,
            message_id=message.id,
            status="pending",
            attempt_count=0,
            due_at=due_at,
            created_at=now,
            updated_at=now,
        )
    )


async def drop_digest_groups(session: AsyncSession, *, endpoint_id: str) -> None:
    """Forget an endpoint's groups and what waits in them (it was disabled)."""
    await session.execute(
        delete(DigestGroup)
        .where(DigestGroup.endpoint_id == endpoint_id)
        .execution_options(synchronize_session=False)
    )


async def delete_idle_digest_groups(session: AsyncSession, *, now: datetime) -> int:
    """Forget groups with nothing waiting whose interval has passed since their last flush.

    Invisible to timing: such a group's next event would be due ``group_wait`` after it
    arrives either way (domain.grouping.next_flush_at).
    """
    interval = func.make_interval(
        0,
        0,
        0,
        0,
        0,
        0,
        func.coalesce(Endpoint.group_interval_seconds, DEFAULT_GROUP_INTERVAL_SECONDS),
    )
    idle = (
        select(DigestGroup.id)
        .join(Endpoint, Endpoint.id == DigestGroup.endpoint_id)
        .where(
            DigestGroup.flush_at.is_(None),
            or_(
                DigestGroup.last_flushed_at.is_(None), DigestGroup.last_flushed_at + interval < now
            ),
            ~select(DigestItem.group_id).where(DigestItem.group_id == DigestGroup.id).exists(),
        )
        .limit(1000)
        .with_for_update(of=DigestGroup.__table__, skip_locked=True)
    )
    result = await session.execute(
        delete(DigestGroup)
        .where(DigestGroup.id.in_(idle.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
