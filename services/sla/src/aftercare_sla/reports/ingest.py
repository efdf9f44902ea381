"""Keep the report read models from the topics, in the consumer's transaction.

Every handler is an upsert that tolerates redelivery and events of one ticket arriving
from different topics in any order (ticket events on ``aftercare.tickets``, its clocks'
on ``aftercare.sla``). Times come from the events, never from the wall clock, so a
replay from the beginning yields the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_shared.business_time import BusinessCalendar
from aftercare_shared.consumer.handlers import EventHandlers
from aftercare_shared.db import column_arrays, table_of, unnested_rows
from aftercare_shared.events.catalog import (
    AdvisoryMatched,
    AdvisoryPatched,
    AdvisoryPublished,
    ClientCreated,
    ClientUpdated,
    MonitorDeleted,
    MonitorFailed,
    MonitorRecovered,
    MonitorUpserted,
    ReleaseDeployed,
    SlaAtRisk,
    SlaBreached,
    SlaCancelled,
    SlaClientPlanAssigned,
    SlaClientPlanUnassigned,
    SlaClockEvent,
    SlaClockStarted,
    SlaDueChanged,
    SlaMet,
    SlaPaused,
    SlaResumed,
    TicketClosed,
    TicketCreated,
    TicketFeedbackReceived,
    TicketReopened,
    TicketResolved,
    TicketUpdated,
)
from aftercare_sla.reports.figures import business_seconds_to_meet, stored_pauses
from aftercare_sla.reports.models import (
    ReportAdvisory,
    ReportClient,
    ReportClock,
    ReportDeployment,
    ReportExposure,
    ReportFeedback,
    ReportIncident,
    ReportMonitor,
    ReportPlanCalendar,
    ReportResolution,
    ReportTicket,
    ReportTicketSpan,
)

report_handlers = EventHandlers()


# --- clients and plans ---------------------------------------------------------------


async def _client_named(session: AsyncSession, client_id: str, name: str, at: datetime) -> None:
    statement = insert(ReportClient).values(client_id=client_id, name=name, first_seen_at=at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ReportClient.client_id], set_={"name": statement.excluded.name}
        )
    )


@report_handlers.on(ClientCreated)
async def client_created(session: AsyncSession, created: ClientCreated) -> None:
    await _client_named(session, created.client_id, created.name, created.created_at)


@report_handlers.on(ClientUpdated)
async def client_updated(session: AsyncSession, updated: ClientUpdated) -> None:
    await _client_named(session, updated.client_id, updated.name, updated.updated_at)


@report_handlers.on(SlaClientPlanAssigned)
async def plan_assigned(session: AsyncSession, assigned: SlaClientPlanAssigned) -> None:
    timezone = str((assigned.calendar or {}).get("timezone") or "UTC")
    client = insert(ReportClient).values(
        client_id=assigned.client_id,
        plan_id=assigned.plan_id,
        timezone=timezone,
        assigned_at=assigned.assigned_at,
        first_seen_at=assigned.assigned_at,
    )
    # The latest assignment wins, whatever order the events come in.
    await session.execute(
        client.on_conflict_do_update(
            index_elements=[ReportClient.client_id],
            set_={
                "plan_id": client.excluded.plan_id,
                "timezone": client.excluded.timezone,
                "assigned_at": client.excluded.assigned_at,
            },
            where=(ReportClient.assigned_at.is_(None))
            | (ReportClient.assigned_at <= client.excluded.assigned_at),
        )
    )
    calendar = insert(ReportPlanCalendar).values(
        plan_id=assigned.plan_id, calendar=assigned.calendar, assigned_at=assigned.assigned_at
    )
    await session.execute(
        calendar.on_conflict_do_update(
            index_elements=[ReportPlanCalendar.plan_id],
            set_={
                "calendar": calendar.excluded.calendar,
                "assigned_at": calendar.excluded.assigned_at,
            },
            where=ReportPlanCalendar.assigned_at <= calendar.excluded.assigned_at,
        )
    )


@report_handlers.on(SlaClientPlanUnassigned)
async def plan_unassigned(session: AsyncSession, unassigned: SlaClientPlanUnassigned) -> None:
    """The client has no plan now; its time zone stays, so past periods keep their bounds."""
    await session.execute(
        update(ReportClient)
        .where(
            ReportClient.client_id == unassigned.client_id,
            (ReportClient.assigned_at.is_(None))
            | (ReportClient.assigned_at <= unassigned.unassigned_at),
        )
        .values(plan_id=None, assigned_at=unassigned.unassigned_at)
    )


# --- tickets -------------------------------------------------------------------------


# A run of ticket.created in two statements, built once (aftercare_shared.db.unnested_rows):
# the report tickets and each one's first open stretch. Already there (the same ticket
# announced twice): left alone.
_REPORT_TICKETS = table_of(ReportTicket)
_REPORT_TICKET_COLUMNS = ("ticket_id", "client_id", "title", "kind", "priority", "created_at")
_RUN_OF_TICKETS = unnested_rows(_REPORT_TICKETS, _REPORT_TICKET_COLUMNS)
_INSERT_REPORT_TICKETS = (
    insert(_REPORT_TICKETS)
    .from_select(list(_REPORT_TICKET_COLUMNS), select(*_RUN_OF_TICKETS.c))
    .on_conflict_do_nothing()
)
_SPANS = table_of(ReportTicketSpan)
_SPAN_COLUMNS = ("ticket_id", "client_id", "opened_at")
_RUN_OF_SPANS = unnested_rows(_SPANS, _SPAN_COLUMNS)
_OPEN_SPANS = (
    insert(_SPANS)
    .from_select(list(_SPAN_COLUMNS), select(*_RUN_OF_SPANS.c))
    .on_conflict_do_nothing()
)


@report_handlers.on_many(TicketCreated)
async def tickets_created(session: AsyncSession, run: Sequence[TicketCreated]) -> None:
    """The run's report tickets and their first open stretches (a later copy: no change)."""
    await session.execute(
        _INSERT_REPORT_TICKETS,
        column_arrays(run, "ticket_id", "client_id", "title", "kind", "priority", "created_at"),
    )
    await session.execute(
        _OPEN_SPANS,
        {
            "ticket_id": [created.ticket_id for created in run],
            "client_id": [created.client_id for created in run],
            "opened_at": [created.created_at for created in run],
        },
    )


@report_handlers.on(TicketUpdated)
async def ticket_updated(session: AsyncSession, updated: TicketUpdated) -> None:
    # A ticket is reported under its latest priority and kind.
    latest: dict[str, str] = {"priority": updated.priority}
    if updated.kind is not None:
        latest["kind"] = updated.kind
    await session.execute(
        update(ReportTicket).where(ReportTicket.ticket_id == updated.ticket_id).values(latest)
    )


@report_handlers.on(TicketResolved)
async def ticket_resolved(session: AsyncSession, resolved: TicketResolved) -> None:
    await session.execute(
        insert(ReportResolution)
        .values(
            ticket_id=resolved.ticket_id,
            client_id=resolved.client_id,
            resolved_at=resolved.resolved_at,
        )
        .on_conflict_do_nothing()
    )
    await _end_span(session, resolved.ticket_id, resolved.resolved_at, "resolved")


@report_handlers.on(TicketClosed)
async def ticket_closed(session: AsyncSession, closed: TicketClosed) -> None:
    await _end_span(session, closed.ticket_id, closed.closed_at, "closed")


@report_handlers.on(TicketReopened)
async def ticket_reopened(session: AsyncSession, reopened: TicketReopened) -> None:
    await _open_span(session, reopened.ticket_id, reopened.client_id, reopened.reopened_at)


async def _open_span(session: AsyncSession, ticket_id: str, client_id: str, at: datetime) -> None:
    await session.execute(
        _OPEN_SPANS, {"ticket_id": [ticket_id], "client_id": [client_id], "opened_at": [at]}
    )


async def _end_span(session: AsyncSession, ticket_id: str, at: datetime, how: str) -> None:
    """End the ticket's latest open stretch that began before ``at`` (none: nothing to do)."""
    latest = (
        select(func.max(ReportTicketSpan.opened_at))
        .where(ReportTicketSpan.ticket_id == ticket_id, ReportTicketSpan.opened_at <= at)
        .scalar_subquery()
    )
    await session.execute(
        update(ReportTicketSpan)
        .where(
            ReportTicketSpan.ticket_id == ticket_id,
            ReportTicketSpan.opened_at == latest,
            ReportTicketSpan.ended_at.is_(None),
        )
        .values(ended_at=at, ended_by=how)
    )


@report_handlers.on(TicketFeedbackReceived)
async def feedback_received(session: AsyncSession, feedback: TicketFeedbackReceived) -> None:
    await session.execute(
        insert(ReportFeedback)
        .values(
            feedback_id=feedback.feedback_id,
            client_id=feedback.client_id,
            ticket_id=feedback.ticket_id,
            rating=feedback.rating,
            comment=feedback.comment,
            received_at=feedback.received_at,
        )
        .on_conflict_do_nothing()
    )


# --- SLA clocks ----------------------------------------------------------------------


async def _clock(session: AsyncSession, event: SlaClockEvent) -> ReportClock:
    """The clock row of the event (created on its first event), locked for the update."""
    await session.execute(
        insert(ReportClock)
        .values(
            ticket_id=event.ticket_id,
            metric=event.metric,
            started_at=event.started_at,
            client_id=event.client_id,
            plan_id=event.plan_id,
            priority=event.priority,
            due_at=event.due_at,
            pauses=[],
        )
        .on_conflict_do_nothing()
    )
    clock = await session.scalar(
        select(ReportClock)
        .where(
            ReportClock.ticket_id == event.ticket_id,
            ReportClock.metric == event.metric,
            ReportClock.started_at == event.started_at,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert clock is not None
    # Every event carries the clock's current deadline and priority (a re-target moves them).
    clock.due_at = event.due_at
    clock.priority = event.priority
    clock.plan_id = event.plan_id
    return clock


async def clock_started(
    session: AsyncSession, event: SlaClockStarted | SlaAtRisk | SlaDueChanged
) -> None:
    await _clock(session, event)


@report_handlers.on(SlaMet)
async def clock_met(session: AsyncSession, met: SlaMet) -> None:
    clock = await _clock(session, met)
    # A clock stopped while paused (resolved while waiting on the client): sla ends the pause
    # at the stop without a sla.resumed.
    if clock.paused_at is not None and clock.paused_at < met.occurred_at:
        clock.pauses = [*clock.pauses, [clock.paused_at.isoformat(), met.occurred_at.isoformat()]]
    clock.met_at = met.occurred_at
    clock.paused_at = None
    plan = await session.get(ReportPlanCalendar, met.plan_id) if met.plan_id else None
    # Worked out once here rather than on every report; without the calendar yet (events
    # of another partition), the report works it out when asked.
    clock.business_seconds = (
        None
        if plan is None
        else business_seconds_to_meet(
            BusinessCalendar.from_json(plan.calendar),
            clock.started_at,
            met.occurred_at,
            stored_pauses(clock.pauses),
        )
    )


@report_handlers.on(SlaBreached)
async def clock_breached(session: AsyncSession, breached: SlaBreached) -> None:
    clock = await _clock(session, breached)
    clock.breached_at = breached.occurred_at


@report_handlers.on(SlaPaused)
async def clock_paused(session: AsyncSession, paused: SlaPaused) -> None:
    clock = await _clock(session, paused)
    clock.paused_at = paused.occurred_at


@report_handlers.on(SlaResumed)
async def clock_resumed(session: AsyncSession, resumed: SlaResumed) -> None:
    """The end of a pause, or a reopened clock: sla excludes the stretch it was stopped."""
    clock = await _clock(session, resumed)
    began = clock.paused_at or clock.met_at
    if began is not None and began < resumed.occurred_at:
        clock.pauses = [*clock.pauses, [began.isoformat(), resumed.occurred_at.isoformat()]]
    clock.paused_at = None
    clock.met_at = None
    clock.business_seconds = None


@report_handlers.on(SlaCancelled)
async def clock_cancelled(session: AsyncSession, cancelled: SlaCancelled) -> None:
    clock = await _clock(session, cancelled)
    # As at sla.met: a clock cancelled while paused ends its pause at the cancellation.
    if clock.paused_at is not None and clock.paused_at < cancelled.occurred_at:
        clock.pauses = [
            *clock.pauses,
            [clock.paused_at.isoformat(), cancelled.occurred_at.isoformat()],
        ]
    clock.cancelled_at = cancelled.occurred_at
    clock.paused_at = None


report_handlers.add(SlaClockStarted, clock_started)
report_handlers.add(SlaAtRisk, clock_started)
# Every clock event carries the current deadline, so a moved due time needs only the upsert.
report_handlers.add(SlaDueChanged, clock_started)


# --- releases and advisories -----------------------------------------------------------


@report_handlers.on(ReleaseDeployed)
async def release_deployed(session: AsyncSession, deployed: ReleaseDeployed) -> None:
    await session.execute(
        insert(ReportDeployment)
        .values(
            deployment_id=deployed.deployment_id,
            client_id=deployed.client_id,
            environment=deployed.environment,
            product=deployed.product,
            version=deployed.version,
            previous_version=deployed.previous_version,
            release_id=deployed.release_id,
            fixed_tickets=len(deployed.fixed_ticket_ids),
            deployed_at=deployed.deployed_at,
        )
        .on_conflict_do_nothing()
    )


@report_handlers.on(AdvisoryPublished)
async def advisory_published(session: AsyncSession, published: AdvisoryPublished) -> None:
    statement = insert(ReportAdvisory).values(
        advisory_id=published.advisory_id,
        summary=published.summary,
        severity=published.severity,
        cvss_score=published.cvss_score,
        published_at=published.published_at,
    )
    # An update keeps the first publication time: the clock to a patch starts there.
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ReportAdvisory.advisory_id],
            set_={
                "summary": statement.excluded.summary,
                "severity": statement.excluded.severity,
                "cvss_score": statement.excluded.cvss_score,
                "published_at": func.least(
                    ReportAdvisory.published_at, statement.excluded.published_at
                ),
            },
        )
    )


@report_handlers.on(AdvisoryMatched)
async def advisory_matched(session: AsyncSession, matched: AdvisoryMatched) -> None:
    await session.execute(
        insert(ReportExposure)
        .values(
            client_id=matched.client_id,
            advisory_id=matched.advisory_id,
            summary=matched.summary,
            severity=matched.severity,
            environments=[],
            matched_at=matched.matched_at,
        )
        .on_conflict_do_nothing()
    )
    exposure = await session.scalar(
        select(ReportExposure)
        .where(
            ReportExposure.client_id == matched.client_id,
            ReportExposure.advisory_id == matched.advisory_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert exposure is not None
    exposure.matched_at = min(exposure.matched_at, matched.matched_at)
    exposure.environments = sorted({*exposure.environments, matched.environment})


@report_handlers.on(AdvisoryPatched)
async def advisory_patched(session: AsyncSession, patched: AdvisoryPatched) -> None:
    await session.execute(
        update(ReportExposure)
        .where(
            ReportExposure.client_id == patched.client_id,
            ReportExposure.advisory_id == patched.advisory_id,
        )
        .values(patched_at=patched.patched_at, deployment_id=patched.deployment_id)
    )


# --- monitors ------------------------------------------------------------------------


async def _monitor(
    session: AsyncSession,
    *,
    monitor_id: str,
    client_id: str,
    name: str,
    kind: str | None,
    environment: str | None,
    at: datetime,
) -> None:
    statement = insert(ReportMonitor).values(
        monitor_id=monitor_id,
        client_id=client_id,
        name=name,
        kind=kind,
        environment=environment,
        first_seen_at=at,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ReportMonitor.monitor_id],
            set_={
                "name": statement.excluded.name,
                "kind": func.coalesce(statement.excluded.kind, ReportMonitor.kind),
                "environment": func.coalesce(
                    statement.excluded.environment, ReportMonitor.environment
                ),
                "first_seen_at": func.least(
                    ReportMonitor.first_seen_at, statement.excluded.first_seen_at
                ),
            },
        )
    )


@report_handlers.on(MonitorUpserted)
async def monitor_upserted(session: AsyncSession, upserted: MonitorUpserted) -> None:
    await _monitor(
        session,
        monitor_id=upserted.monitor_id,
        client_id=upserted.client_id,
        name=upserted.name,
        kind=upserted.kind,
        environment=upserted.environment,
        at=upserted.updated_at,
    )


@report_handlers.on(MonitorDeleted)
async def monitor_deleted(session: AsyncSession, deleted: MonitorDeleted) -> None:
    await session.execute(
        update(ReportMonitor)
        .where(ReportMonitor.monitor_id == deleted.monitor_id)
        .values(deleted_at=deleted.deleted_at)
    )


@report_handlers.on(MonitorFailed)
async def monitor_failed(session: AsyncSession, failed: MonitorFailed) -> None:
    await _monitor(
        session,
        monitor_id=failed.monitor_id,
        client_id=failed.client_id,
        name=failed.name,
        kind=failed.kind,
        environment=failed.environment,
        at=failed.failed_at,
    )
    await session.execute(
        insert(ReportIncident)
        .values(
            monitor_id=failed.monitor_id,
            failed_at=failed.failed_at,
            client_id=failed.client_id,
            reason=failed.reason,
            ticket_id=failed.ticket_id,
        )
        .on_conflict_do_nothing()
    )


@report_handlers.on(MonitorRecovered)
async def monitor_recovered(session: AsyncSession, recovered: MonitorRecovered) -> None:
    await _monitor(
        session,
        monitor_id=recovered.monitor_id,
        client_id=recovered.client_id,
        name=recovered.name,
        kind=None,
        environment=None,
        at=recovered.failed_at,
    )
    statement = insert(ReportIncident).values(
        monitor_id=recovered.monitor_id,
        failed_at=recovered.failed_at,
        client_id=recovered.client_id,
        ticket_id=recovered.ticket_id,
        recovered_at=recovered.recovered_at,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ReportIncident.monitor_id, ReportIncident.failed_at],
            set_={"recovered_at": statement.excluded.recovered_at},
        )
    )
