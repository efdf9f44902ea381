"""intake's handler registry: which events it acts on, and what reaches its use cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import consumers, use_cases
from aftercare_intake.consumers import handlers
from aftercare_shared.consumer import PermanentEventError
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    ClientApiKeyIssued,
    ReleasePublished,
    SlaAtRisk,
    SlaBreached,
    SlaCancelled,
    SlaClockEvent,
    SlaClockStarted,
    SlaMet,
    SlaPaused,
    SlaResumed,
    TicketCreated,
)
from aftercare_shared.events.factory import new_event
from aftercare_shared.names import ServiceName
from aftercare_shared.topics import RELEASES, SLA

SESSION = cast(AsyncSession, object())  # the handlers only pass it on to the use cases
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

SLA_TYPES: list[tuple[type[SlaClockEvent], str]] = [
    (SlaClockStarted, "running"),
    (SlaAtRisk, "at_risk"),
    (SlaBreached, "breached"),
    (SlaMet, "met"),
    (SlaPaused, "paused"),
    (SlaResumed, "running"),
    (SlaCancelled, "cancelled"),
]


def _release_published() -> CloudEvent:
    payload = ReleasePublished(
        release_id="r-1",
        product="shop",
        version="1.2.0",
        kind="bugfix",
        ticket_ids=["t-1", "t-2"],
        published_at=AT,
    )
    return new_event(payload, service=ServiceName.RELEASES, subject="r-1")


def _sla_event(payload_type: type[SlaClockEvent]) -> CloudEvent:
    payload = payload_type(
        ticket_id="t-1",
        client_id="c-1",
        metric="resolution",
        plan_id=None,
        priority="P2",
        started_at=AT,
        due_at=AT + timedelta(hours=8),
        occurred_at=AT + timedelta(minutes=5),
    )
    return new_event(payload, service=ServiceName.SLA, subject="t-1", client_id="c-1")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Stand-ins for the use cases the handlers call, recording their arguments."""
    recorded: list[tuple[str, dict[str, Any]]] = []

    async def resolve(session: AsyncSession, **arguments: Any) -> int:
        assert session is SESSION
        recorded.append(("resolve", arguments))
        return 0

    async def record(session: AsyncSession, **arguments: Any) -> None:
        assert session is SESSION
        recorded.append(("sla", arguments))

    monkeypatch.setattr(use_cases, "resolve_tickets_fixed_by_release", resolve)
    monkeypatch.setattr(use_cases, "record_sla_state", record)
    return recorded


def test_intake_handles_releases_and_every_sla_clock_event_and_nothing_else() -> None:
    assert handlers.handled_types == {
        ReleasePublished.event_type,
        *(payload_type.event_type for payload_type, _ in SLA_TYPES),
        "sla.due_changed",  # moves the due time shown, keeps the state
        # patch management (aftercare_intake.patch_tickets)
        "advisory.matched",
        "advisory.patched",
        "release.rolled_back",
        # resolution on deploy (aftercare_intake.fix_resolution)
        "sla.client_plan_assigned",
        "sla.client_plan_unassigned",
        "release.deployed",
    }
    # intake owns the client keys: it keeps no read model of them.
    assert ClientApiKeyIssued.event_type not in handlers.handled_types
    assert consumers.CONSUMED_TOPICS == [RELEASES, SLA]


async def test_a_published_release_resolves_the_tickets_it_lists(
    calls: list[tuple[str, dict[str, Any]]],
) -> None:
    await handlers(SESSION, _release_published())
    assert calls == [
        (
            "resolve",
            {
                "release": use_cases.PublishedRelease(
                    release_id="r-1",
                    product="shop",
                    version="1.2.0",
                    ticket_ids=["t-1", "t-2"],
                    published_at=AT,
                )
            },
        )
    ]


@pytest.mark.parametrize(("payload_type", "state"), SLA_TYPES)
async def test_each_sla_clock_event_shows_its_state_on_the_ticket(
    calls: list[tuple[str, dict[str, Any]]], payload_type: type[SlaClockEvent], state: str
) -> None:
    await handlers(SESSION, _sla_event(payload_type))
    assert calls == [
        (
            "sla",
            {
                "ticket_id": "t-1",
                "metric": "resolution",
                "state": state,
                "due_at": AT + timedelta(hours=8),
                "occurred_at": AT + timedelta(minutes=5),
            },
        )
    ]


async def test_a_known_event_intake_does_not_handle_is_skipped(
    calls: list[tuple[str, dict[str, Any]]],
) -> None:
    created = TicketCreated(
        ticket_id="t-1",
        client_id="c-1",
        title="Checkout fails",
        severity="high",
        priority="P2",
        status="new",
        fingerprint="fp",
        created_at=AT,
    )
    await handlers(
        SESSION, new_event(created, service=ServiceName.INTAKE, subject="t-1", client_id="c-1")
    )
    assert calls == []


async def test_an_event_type_not_in_the_catalog_is_a_permanent_failure(
    calls: list[tuple[str, dict[str, Any]]],
) -> None:
    unknown = _release_published().model_copy(update={"type": "aftercare.release.recalled.v1"})
    with pytest.raises(PermanentEventError, match="unknown event type"):
        await handlers(SESSION, unknown)
    assert calls == []


@pytest.mark.parametrize(
    "event",
    [
        _release_published().model_copy(update={"data": {"release_id": "r-1"}}),
        _sla_event(SlaBreached).model_copy(
            update={"data": {"ticket_id": "t-1", "metric": "uptime"}}
        ),
    ],
    ids=["release.published", "sla.breached"],
)
async def test_a_payload_that_does_not_decode_is_a_permanent_failure(
    calls: list[tuple[str, dict[str, Any]]], event: CloudEvent
) -> None:
    with pytest.raises(PermanentEventError, match="bad payload"):
        await handlers(SESSION, event)
    assert calls == []
