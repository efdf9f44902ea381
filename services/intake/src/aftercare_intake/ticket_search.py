"""The desk's ticket list: filters, full-text search, four sort orders, keyset pages.

Every sort ends in the ticket id, so each is a unique key and pages neither skip nor
repeat rows:

- ``created`` (default): newest first — ``(created_at, id)`` descending;
- ``updated``: most recently changed first — ``(updated_at, id)`` descending;
- ``priority``: most urgent first, the longest waiting first within a priority —
  ``(priority, created_at, id)`` ascending (``'P1' < 'P2'`` as text);
- ``sla_due``: the soonest due SLA clock first (breached ones, due in the past, lead),
  tickets without a counting clock last, oldest first among equals —
  ``(coalesce(sla_due_at, NO_DUE), created_at, id)`` ascending — the expression of its
  index.

``q`` is Postgres full-text search (``websearch_to_tsquery``: words, "phrases", -not, or)
over the ticket's title and description and its **public** comments, each a generated
``tsvector`` column with a GIN index (a UNION of the two index scans); an internal note
never makes a ticket match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    DateTime,
    cast,
    func,
    literal_column,
    select,
    union,
)
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake.models import NO_SLA_DUE_SQL, SEARCH_CONFIG, Comment, Ticket
from aftercare_shared.events.catalog import Priority, TicketKind, TicketStatus
from aftercare_shared.pagination import CursorPosition, KeyValue, after_position

TicketSort = Literal["created", "updated", "priority", "sla_due"]
TICKET_SORTS: tuple[TicketSort, ...] = get_args(TicketSort)

NO_DUE: Final = datetime(9999, 12, 31, tzinfo=UTC)
"""Where tickets without a counting SLA clock sort under ``sla_due`` (after every due time)."""

UNASSIGNED: Final = "none"
MYSELF: Final = "me"


@dataclass(frozen=True, slots=True)
class TicketFilters:
    client_id: str | None = None
    statuses: Sequence[TicketStatus] = ()
    priorities: Sequence[Priority] = ()
    kinds: Sequence[TicketKind] = ()
    assignee: str | None = None
    """Tickets of this staff subject."""
    unassigned: bool = False
    """Tickets nobody has (``assignee=none``)."""
    environment: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    q: str | None = None


def _sla_due_key() -> ColumnElement[datetime]:
    # The very expression of the ix_tickets_sla_due index (a constant, not a parameter).
    return func.coalesce(
        Ticket.sla_due_at, literal_column(NO_SLA_DUE_SQL, type_=DateTime(timezone=True))
    )


def sort_columns(sort: TicketSort) -> tuple[list[ColumnElement[Any]], bool]:
    """The key columns of ``sort`` and whether it runs descending."""
    if sort == "updated":
        return [Ticket.updated_at.expression, Ticket.id.expression], True
    if sort == "priority":
        return [
            Ticket.priority.expression,
            Ticket.created_at.expression,
            Ticket.id.expression,
        ], False
    if sort == "sla_due":
        return [_sla_due_key(), Ticket.created_at.expression, Ticket.id.expression], False
    return [Ticket.created_at.expression, Ticket.id.expression], True


def cursor_types(sort: TicketSort) -> tuple[type[KeyValue], ...]:
    if sort == "priority":
        return (str, datetime, str)
    if sort == "sla_due":
        return (datetime, datetime, str)
    return (datetime, str)


def position_of(ticket: Ticket, sort: TicketSort) -> tuple[KeyValue, ...]:
    """The cursor values of ``ticket`` in ``sort``'s key."""
    if sort == "updated":
        return (ticket.updated_at, ticket.id)
    if sort == "priority":
        return (ticket.priority, ticket.created_at, ticket.id)
    if sort == "sla_due":
        return (ticket.sla_due_at or NO_DUE, ticket.created_at, ticket.id)
    return (ticket.created_at, ticket.id)


def _conditions(filters: TicketFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.client_id is not None:
        conditions.append(Ticket.client_id == filters.client_id)
    if filters.statuses:
        conditions.append(Ticket.status.in_(filters.statuses))
    if filters.priorities:
        conditions.append(Ticket.priority.in_(filters.priorities))
    if filters.kinds:
        conditions.append(Ticket.kind.in_(filters.kinds))
    if filters.unassigned:
        conditions.append(Ticket.assignee.is_(None))
    elif filters.assignee is not None:
        conditions.append(Ticket.assignee == filters.assignee)
    if filters.environment is not None:
        conditions.append(Ticket.environment == filters.environment)
    if filters.created_after is not None:
        conditions.append(Ticket.created_at >= filters.created_after)
    if filters.created_before is not None:
        conditions.append(Ticket.created_at < filters.created_before)
    if filters.updated_after is not None:
        conditions.append(Ticket.updated_at >= filters.updated_after)
    if filters.updated_before is not None:
        conditions.append(Ticket.updated_at < filters.updated_before)
    if filters.q:
        conditions.append(Ticket.id.in_(_matching_ticket_ids(filters.q)))
    return conditions


def _matching_ticket_ids(q: str) -> CompoundSelect[tuple[str]]:
    """Ids of tickets whose text or one of whose public comments matches ``q``: a UNION of
    two GIN index scans (an ``OR`` across the two tables would scan every ticket)."""
    query = func.websearch_to_tsquery(cast(SEARCH_CONFIG, REGCONFIG), q)
    return union(
        select(Ticket.id).where(Ticket.search.bool_op("@@")(query)),
        select(Comment.ticket_id).where(
            Comment.visibility == "public", Comment.search.bool_op("@@")(query)
        ),
    )


async def find_tickets(
    session: AsyncSession,
    *,
    filters: TicketFilters,
    sort: TicketSort,
    after: CursorPosition | None,
    limit: int,
) -> list[Ticket]:
    key, descending = sort_columns(sort)
    statement = select(Ticket).where(*_conditions(filters))
    position = after_position(key, after, descending=descending)
    if position is not None:
        statement = statement.where(position)
    order = [column.desc() for column in key] if descending else key
    return list((await session.scalars(statement.order_by(*order).limit(limit))).all())
