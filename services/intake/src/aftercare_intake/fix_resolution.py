"""When a ticket a release fixes counts as resolved: the client's plan decides.

sla owns plans; intake learns each client's choice from ``sla.client_plan_assigned``
(read model :class:`ClientResolutionMode`; a client without one resolves on release).

- ``release``: ``release.published`` resolves the listed open tickets (resolution
  ``released``).
- ``deploy``: ``release.published`` only marks them *fix released, awaiting deploy*
  (``fix_release_id``); they stay open, so sla's resolution clock keeps running. A
  ``release.deployed`` (always a succeeded deployment) to the plan's environment resolves
  the client's awaiting tickets the deployed version fixes — that release's or an earlier
  one's (resolution ``deployed``, with the deployment and the fixing release).

Each runs in the consumer's transaction (after the inbox check), so once per event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import domain
from aftercare_intake.models import SCHEMA, ClientResolutionMode, Ticket
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import (
    ReleaseDeployed,
    ResolutionOn,
    SlaClientPlanAssigned,
    SlaClientPlanUnassigned,
    TicketResolved,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.outbox import enqueue_event

RELEASED_RESOLUTION: Final = "released"
DEPLOYED_RESOLUTION: Final = "deployed"
DEFAULT_RESOLUTION_ON: Final[ResolutionOn] = "release"


async def record_resolution_mode(session: AsyncSession, assigned: SlaClientPlanAssigned) -> None:
    """Keep the client's latest assignment; an older one arriving late changes nothing."""
    values = {
        "client_id": assigned.client_id,
        "plan_id": assigned.plan_id,
        "resolution_on": assigned.resolution_on,
        "resolution_environment": assigned.resolution_environment,
        "assigned_at": assigned.assigned_at,
    }
    statement = insert(ClientResolutionMode).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[ClientResolutionMode.client_id],
        set_={key: statement.excluded[key] for key in values if key != "client_id"},
        where=ClientResolutionMode.assigned_at <= statement.excluded.assigned_at,
    )
    await session.execute(statement)


async def forget_resolution_mode(
    session: AsyncSession, unassigned: SlaClientPlanUnassigned
) -> None:
    """The plan is gone: fixed tickets resolve on release again, the default. A later
    assignment that arrived first is kept."""
    await session.execute(
        delete(ClientResolutionMode).where(
            ClientResolutionMode.client_id == unassigned.client_id,
            ClientResolutionMode.assigned_at <= unassigned.unassigned_at,
        )
    )


async def _modes_of(
    session: AsyncSession, client_ids: Iterable[str]
) -> dict[str, ClientResolutionMode]:
    rows = await session.scalars(
        select(ClientResolutionMode).where(ClientResolutionMode.client_id.in_(set(client_ids)))
    )
    return {row.client_id: row for row in rows}


def _resolves_on(mode: ClientResolutionMode | None) -> ResolutionOn:
    return DEFAULT_RESOLUTION_ON if mode is None else mode.resolution_on


async def _resolve(
    session: AsyncSession,
    ticket: Ticket,
    *,
    at: datetime,
    release_id: str | None,
    resolution: str,
    deployment_id: str | None = None,
) -> None:
    ticket.status = domain.RESOLVED_STATUS
    ticket.resolved_at = at
    ticket.resolved_by_release_id = release_id
    ticket.fix_release_id = None
    ticket.fix_released_at = None
    ticket.updated_at = utc_now()
    payload = TicketResolved(
        ticket_id=ticket.id,
        client_id=ticket.client_id,
        resolved_at=at,
        release_id=release_id,
        resolution=resolution,
        deployment_id=deployment_id,
    )
    event = new_event(
        payload, service=ServiceName.INTAKE, subject=ticket.id, client_id=ticket.client_id
    )
    await enqueue_event(session, event, schema=SCHEMA)


async def clients_waiting_for_deploy(session: AsyncSession, tickets: Iterable[Ticket]) -> set[str]:
    """The clients of ``tickets`` whose plan resolves a fix only once it is deployed."""
    modes = await _modes_of(session, (ticket.client_id for ticket in tickets))
    return {client_id for client_id, mode in modes.items() if _resolves_on(mode) == "deploy"}


def mark_awaiting_deploy(ticket: Ticket, *, release_id: str, published_at: datetime) -> None:
    """The fix is released but not yet where the plan counts it: the ticket stays open."""
    ticket.fix_release_id = release_id
    ticket.fix_released_at = published_at
    ticket.updated_at = utc_now()


async def resolve_deployed(session: AsyncSession, deployed: ReleaseDeployed) -> None:
    """A succeeded deployment reached an environment: resolve what waited for it there."""
    if not deployed.fixed_ticket_ids:
        return
    mode = await session.get(ClientResolutionMode, deployed.client_id)
    if mode is None or deployed.environment != mode.resolution_environment:
        return  # release mode resolved these already, or not the environment that counts
    statement = (
        select(Ticket)
        .where(
            Ticket.id.in_(deployed.fixed_ticket_ids),
            Ticket.client_id == deployed.client_id,
            Ticket.fix_release_id.is_not(None),
            Ticket.status.in_(domain.OPEN_STATUSES),
        )
        .order_by(Ticket.id)  # a fixed lock order
        .with_for_update()
    )
    for ticket in (await session.scalars(statement)).all():
        await _resolve(
            session,
            ticket,
            at=deployed.deployed_at,
            release_id=ticket.fix_release_id,
            resolution=DEPLOYED_RESOLUTION,
            deployment_id=deployed.deployment_id,
        )
