"""A ticket's history: who did what, when (merges, status and priority changes, reopenings)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake.domain import HistoryAction
from aftercare_intake.models import TicketHistory
from aftercare_shared.pagination import CursorPosition, after_position


async def record(
    session: AsyncSession,
    *,
    ticket_id: str,
    action: HistoryAction,
    actor: str,
    details: dict[str, Any],
    now: datetime,
) -> None:
    session.add(
        TicketHistory(
            id=str(uuid.uuid4()),
            ticket_id=ticket_id,
            action=action,
            actor=actor,
            details={key: value for key, value in details.items() if value is not None},
            created_at=now,
        )
    )


async def page(
    session: AsyncSession, *, ticket_id: str, after: CursorPosition | None, limit: int
) -> list[TicketHistory]:
    """Oldest first, as things happened."""
    statement = select(TicketHistory).where(TicketHistory.ticket_id == ticket_id)
    position = after_position([TicketHistory.created_at, TicketHistory.id], after, descending=False)
    if position is not None:
        statement = statement.where(position)
    statement = statement.order_by(TicketHistory.created_at, TicketHistory.id).limit(limit)
    return list((await session.scalars(statement)).all())
