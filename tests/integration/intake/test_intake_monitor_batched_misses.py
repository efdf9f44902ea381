"""A deadline round records its further misses in batches (one statement for all the
occurrences on open incidents, one for their announcements, one for the check-ins, one for
the monitors' state): what a round of several misses leaves must be what the one-by-one
filing path left — one ticket per incident, one more occurrence per miss, ``ticket.occurred``
announced per ticket, and a ticket staff resolved while the job still fails reopened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from aftercare_shared.clock import FrozenClock, use_clock
from tests.integration.intake.intake_support import STAFF, count, intake_api
from tests.integration.intake.monitor_support import (
    QUIET_JOBS,
    evaluate,
    monitor,
    monitor_events,
    new_client,
    new_monitor,
    ticket,
)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
MONITORS = 3


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with intake_api(database_url, **QUIET_JOBS) as client:
        yield client


async def test_a_round_of_further_misses_counts_announces_and_reopens_like_one_by_one(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id = await new_client(api)
    every_minute = {"type": "interval", "value": 1, "unit": "minute"}
    with use_clock(FrozenClock(T0)) as clock:
        created = [
            await new_monitor(
                api,
                client_id,
                name=f"Job {n}",
                slug=f"job-{n}",
                schedule=every_minute,
                checkin_margin_minutes=1,
                environment="production",
            )
            for n in range(MONITORS)
        ]
        # First deadline (expected T0 + 1 min, margin 1 min): every incident opens.
        first = T0 + timedelta(minutes=2, seconds=30)
        clock.set(first)
        assert await evaluate(database_url, first) == MONITORS
        ticket_ids = [(await monitor(api, m["id"]))["open_ticket_id"] for m in created]
        assert len(set(ticket_ids)) == MONITORS
        resolved = await api.patch(
            f"/v1/tickets/{ticket_ids[0]}", json={"status": "resolved"}, headers=STAFF
        )
        assert resolved.status_code == 200, resolved.text

        # Second deadline: all three misses go through the batched path in one round.
        second = T0 + timedelta(minutes=3, seconds=30)
        clock.set(second)
        assert await evaluate(database_url, second) == MONITORS

    for monitor_id, ticket_id in zip((m["id"] for m in created), ticket_ids, strict=True):
        shown = await monitor(api, monitor_id)
        assert shown["state"] == "missed"
        assert shown["open_ticket_id"] == ticket_id
        assert [c["status"] for c in shown["last_check_ins"]] == ["missed", "missed"]
        assert (await ticket(api, ticket_id))["occurrences"] == 2
    # The ticket staff resolved while the job kept failing is back, as a regression.
    assert (await ticket(api, ticket_ids[0]))["status"] == "triaged"
    [reopened] = await monitor_events(database_url, "ticket.reopened")
    assert reopened["ticket_id"] == ticket_ids[0]
    assert reopened["reason"] == "regression"
    # One ticket.occurred per ticket (the last announcement is a minute old), one more each.
    occurred = await monitor_events(database_url, "ticket.occurred")
    assert sorted(event["ticket_id"] for event in occurred) == sorted(ticket_ids)
    assert {(event["occurrences"], event["new_occurrences"]) for event in occurred} == {(2, 1)}
    # No new incident: still one monitor.failed and one ticket per monitor.
    assert len(await monitor_events(database_url, "monitor.failed")) == MONITORS
    assert await count(database_url, "tickets") == MONITORS
    # Each fingerprint keeps its first sample and the latest, and tallies its environment.
    assert await count(database_url, "occurrence_samples") == 2 * MONITORS
    assert await count(database_url, "fingerprint_tallies") == MONITORS
