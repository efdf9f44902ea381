"""Sentry ingest use cases: who is sending (DSN key and project), and filing their events.

Events are mapped and grouped before anything is written; then every event of the
envelope is filed in one transaction, so an envelope is stored whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import filing, repository
from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.errors import (
    IngestCredentialsMissingError,
    OriginNotAllowedError,
    ProjectMismatchError,
)
from aftercare_intake.sentry.cors import origin_allowed
from aftercare_intake.sentry.events import occurrence_from_event
from aftercare_shared.clock import utc_now


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
) -> str | None:
    """File every event in one transaction; the id of the first (Sentry's answer)."""
    occurrences = [
        occurrence_from_event(event, project_id=target.project_id, event_id=fallback_event_id)
        for event in events
    ]
    now = utc_now()
    for occurrence in occurrences:
        await filing.file_occurrence(
            session, client_id=target.client_id, occurrence=occurrence, policy=policy, now=now
        )
    await session.commit()
    return occurrences[0].event_id if occurrences else fallback_event_id
