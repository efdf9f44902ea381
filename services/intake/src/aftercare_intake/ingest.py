"""Sentry ingest use cases: who is sending (DSN key and project), and filing their events.

Events are mapped and grouped before anything is written; then every event of the
envelope is filed in one transaction, so an envelope is stored whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aftercare_intake import filing, repository
from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.errors import (
    IngestCredentialsMissingError,
    OriginNotAllowedError,
    ProjectMismatchError,
)
from aftercare_intake.occurrence import Occurrence
from aftercare_intake.one_statement_filing import KEY_NOT_LIVE, OneStatementFiling
from aftercare_intake.sentry.cors import origin_allowed
from aftercare_intake.sentry.events import occurrence_from_event
from aftercare_shared.clock import utc_now

SENTRY_FILING = Counter(
    "aftercare_intake_sentry_filing_total",
    "Sentry events filed, by path: one_statement (an envelope of one event), declined (by "
    "that statement, then filed by the ordinary path) or ordinary (several events in the "
    "envelope, or check-ins beside them)",
    ["path"],
)


@dataclass(frozen=True, slots=True)
class IngestTarget:
    client_id: str
    api_key_id: str
    public_key: str
    project_id: int


async def authorize(
    session: AsyncSession, *, public_key: str, project_id: int, origin: str | None
) -> IngestTarget:
    """The client a DSN key sends for, once the key, the project and the origin check out."""
    key = await repository.resolve_ingest_key(session, public_key=public_key, project_id=project_id)
    if key is None:
        raise IngestCredentialsMissingError("The DSN's public key is unknown or revoked.")
    if key.project_id is None:
        raise ProjectMismatchError("This key is not valid for this project.")
    if origin is not None and not origin_allowed(origin, key.allowed_origins):
        raise OriginNotAllowedError(
            "This project does not accept events from that origin; add it to the "
            "project's allowed_origins."
        )
    return IngestTarget(
        client_id=key.client_id,
        api_key_id=key.api_key_id,
        public_key=public_key,
        project_id=key.project_id,
    )


async def ingest_events(
    session: AsyncSession,
    *,
    target: IngestTarget,
    events: list[dict[str, Any]],
    fallback_event_id: str | None,
    policy: OccurrencePolicy,
    one_statement: OneStatementFiling | None,
) -> str | None:
    """File every event in one transaction; the id of the first (Sentry's answer).

    An envelope of one event (nearly every SDK's, and every crash storm's) is filed in one
    statement by ``one_statement`` when given (:mod:`aftercare_intake.one_statement_filing`),
    unless the statement declines it; the caller gives none when the envelope's other
    writes (check-ins) must share the events' transaction.
    """
    occurrences = [
        occurrence_from_event(event, project_id=target.project_id, event_id=fallback_event_id)
        for event in events
    ]
    if one_statement is not None and len(occurrences) == 1:
        if await _filed_alone(session, one_statement, target, occurrences[0], policy):
            SENTRY_FILING.labels("one_statement").inc()
            return occurrences[0].event_id
        SENTRY_FILING.labels("declined").inc()
    else:
        SENTRY_FILING.labels("ordinary").inc(len(occurrences))
    now = utc_now()
    for occurrence in occurrences:
        await filing.file_occurrence(
            session, client_id=target.client_id, occurrence=occurrence, policy=policy, now=now
        )
    await session.commit()
    return occurrences[0].event_id if occurrences else fallback_event_id


async def _filed_alone(
    session: AsyncSession,
    one_statement: OneStatementFiling,
    target: IngestTarget,
    occurrence: Occurrence,
    policy: OccurrencePolicy,
) -> bool:
    """Filed and committed by one statement; False when it declined (nothing written)."""
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    await session.rollback()  # it has read only: give its connection back to the pool
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        filed = await one_statement.file(
            engine,
            raw.driver_connection,
            client_id=target.client_id,
            api_key_id=target.api_key_id,
            occurrence=occurrence,
            policy=policy,
        )
    if filed == KEY_NOT_LIVE:  # revoked since it was looked up: nothing was filed
        raise IngestCredentialsMissingError("The DSN's public key is unknown or revoked.")
    return filed is not None
