"""One occurrence filed in one statement: what crash storms cost the database.

Why it exists: intake is where client systems' crash storms land, by REST report or by
Sentry envelope. The ordinary filing (:func:`aftercare_intake.filing.file_occurrence`)
takes several round trips through the ORM session: the occurrence's statement, the
outbox insert and the commit. Here the same work is one statement on a raw asyncpg
connection (prepared once per connection by asyncpg's statement cache), in autocommit:
the key re-checked live by id, the occurrence (the very CTEs of
:mod:`aftercare_intake.occurrence_store`) and, when the fingerprint is new, its
``ticket.created`` outbox row (the event built by :mod:`aftercare_intake.filing`'s
function, serialised once), committed together before the caller answers.

It declines (None) what the ordinary filing must do instead, and aborts whole so that
filing starts afresh: an occurrence that joins a ticket whose count must be announced now
(``ticket.occurred``), a finished ticket (maybe a regression), or a ticket a concurrent
occurrence created after the statement's snapshot. Users: the REST report fast path
(:mod:`aftercare_intake.report_fast_path`) and the Sentry envelope route for an envelope
of one event (``api/sentry.py``); both are checked against their ordinary paths by tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import asyncpg
import orjson
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare_intake import domain, filing, occurrence_store
from aftercare_intake.domain import OccurrencePolicy
from aftercare_intake.models import SCHEMA
from aftercare_intake.occurrence import Occurrence
from aftercare_shared.clock import utc_now
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.outages import outage_of
from aftercare_shared.outbox import outbox_notify_channel, record_headers, wake
from aftercare_shared.topics import topic_for_event_type

DEFERRED = "report-deferred-to-the-ordinary-route"
"""The statement declines an occurrence by failing on purpose with this text (see below)."""

KEY_NOT_LIVE: Final = "report-key-not-live"
"""…and refuses a key revoked or expired since its tokens were leased with this one."""

_FINISHED = ", ".join(f"'{status}'" for status in sorted(domain.FINISHED_STATUSES))


def relay_wakeup_sql(*, notify: bool) -> str:
    """The statement's part in waking the outbox relay (see ``aftercare_shared.outbox.wake``):
    a NOTIFY selected from the outbox insert, delivered by Postgres at commit, only when
    this process's relay does not lead (``notify``); else nothing, and the caller wakes the
    local relay after the commit (:meth:`OneStatementFiling.file`)."""
    if not notify:
        return "0"
    channel = outbox_notify_channel(SCHEMA)
    return f"(SELECT count(pg_notify('{channel}', '')) FROM queued)"  # noqa: S608 - a constant


# Count the occurrence (the ordinary path's CTEs), queue ``ticket.created`` when the
# fingerprint was new, wake the relay; one statement, committed (synchronously) before
# the answer.
#
# Declining: an occurrence the ordinary filing must file (see the module docstring) makes
# the CASE below yield the DEFERRED text, whose cast to integer fails at run time, and
# the statement is rolled back whole. (The CASE's condition reads the CTEs, so the
# planner cannot fold the cast away.) A key revoked or expired yields KEY_NOT_LIVE the
# same way: its tokens may have been leased before (report_token_leases), so the key is
# checked here, in the statement that files, and a revoked key files nothing.
def _file_statement(*, notify: bool) -> TextClause:
    return text(
        f"""
    WITH {occurrence_store.record_ctes()},
    queued AS (
        INSERT INTO {SCHEMA}.outbox (event_id, topic, record_key, payload, headers)
        SELECT :outbox_event_id, :outbox_topic, route.ticket_id, :outbox_payload,
               CAST(:outbox_headers AS jsonb)
        FROM route WHERE route.created
        RETURNING id
    )
    SELECT route.ticket_id, route.created, counted.status, counted.priority,
        counted.occurrences, {relay_wakeup_sql(notify=notify)} AS woken,
        CAST(CASE WHEN NOT EXISTS (
                SELECT FROM {SCHEMA}.api_keys AS api_key
                WHERE api_key.id = :api_key_id AND api_key.revoked_at IS NULL
                  AND (api_key.expires_at IS NULL OR api_key.expires_at > {occurrence_store.NOW}))
            THEN '{KEY_NOT_LIVE}'
            WHEN NOT route.created AND (
                counted.id IS NULL
                OR counted.occurrences_announced = counted.occurrences
                OR (counted.status IN ({_FINISHED}) AND counted.close_reason IS NULL))
            THEN '{DEFERRED}' ELSE '0' END AS integer) AS deferred
    FROM route LEFT JOIN counted ON true
    """  # noqa: S608 - formats in constants only (schema, statuses, CTEs)
    )


class CompiledStatement:
    """A statement compiled once for asyncpg: its SQL and its parameters' order."""

    def __init__(self, statement: TextClause, engine: AsyncEngine) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = compiled.string
        self.names = list(compiled.positiontup or [])

    async def fetchrow(
        self, connection: asyncpg.Connection, parameters: dict[str, Any]
    ) -> asyncpg.Record:
        # asyncpg prepares it once per connection (its statement cache) and reuses it.
        row = await connection.fetchrow(self.sql, *[parameters[name] for name in self.names])
        assert row is not None  # every statement here returns one row
        return row


@dataclass(frozen=True, slots=True)
class FiledAlone:
    """The ticket an occurrence was filed on, as the answers need it."""

    ticket_id: str
    created: bool
    status: str
    priority: str
    occurrences: int


class OneStatementFiling:
    """Files one occurrence in one statement; one per process (the statements are compiled
    on first use)."""

    def __init__(self) -> None:
        self._statements: dict[bool, CompiledStatement] = {}

    async def file(
        self,
        engine: AsyncEngine,
        connection: asyncpg.Connection,
        *,
        client_id: str,
        api_key_id: str,
        occurrence: Occurrence,
        policy: OccurrencePolicy,
    ) -> FiledAlone | Literal["report-key-not-live"] | None:
        """The ticket once the occurrence is committed (``connection`` in autocommit); None
        when the statement declined it, KEY_NOT_LIVE when it refused the key."""
        notify = wake.notify_needed(SCHEMA)
        statement = self._statements.get(notify)
        if statement is None:
            statement = CompiledStatement(_file_statement(notify=notify), engine)
            self._statements[notify] = statement
        priority = domain.priority_for(occurrence.severity)
        now = utc_now()
        ticket_id = filing.new_id()
        # Built (and serialised, once) before we know the fingerprint is new: the statement
        # inserts it only when it is.
        event = new_event(
            filing.ticket_created(
                client_id=client_id,
                ticket_id=ticket_id,
                occurrence=occurrence,
                priority=priority,
                now=now,
            ),
            service=ServiceName.INTAKE,
            subject=ticket_id,
            client_id=client_id,
        )
        parameters = {
            **occurrence_store.record_parameters(
                client_id=client_id,
                fingerprint=occurrence.fingerprint,
                new_ticket=filing.new_ticket_values(occurrence, priority),
                new_ticket_id=ticket_id,
                sample=filing.sample_of(occurrence),
                samples=policy.samples,
                now=now,
                announce_before=policy.announce_before(now),
            ),
            "api_key_id": api_key_id,
            "outbox_event_id": event.id,
            "outbox_topic": topic_for_event_type(event.type),
            "outbox_payload": event.to_json_bytes(),
            "outbox_headers": orjson.dumps(record_headers(event)).decode(),
        }
        try:
            row = await statement.fetchrow(connection, parameters)
        except asyncpg.PostgresError as error:
            if outage_of(error) is not None:
                raise  # the platform's answer to an outage (503), as on every route
            if KEY_NOT_LIVE in str(error):
                return KEY_NOT_LIVE
            return None  # DEFERRED, or text the database refuses (the ordinary path answers)
        created: bool = row["created"]
        if created and not notify:
            wake.committed(SCHEMA)  # its ticket.created row is in the outbox now
        return FiledAlone(
            ticket_id=row["ticket_id"],
            created=created,
            status=domain.NEW_STATUS if created else row["status"],
            priority=priority if created else row["priority"],
            occurrences=1 if created else row["occurrences"],
        )
