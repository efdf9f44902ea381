"""Recording attempts in one batch keeps every rule of recording them one by one:
order within an endpoint, outcome events, overtaken claims, deleted deliveries."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa

from aftercare_notify import use_cases
from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.domain.retry_schedule import parse_retry_schedule
from aftercare_notify.models import DeliveryAttempt
from aftercare_notify.use_cases import AttemptToRecord
from aftercare_shared.clock import utc_now
from tests.integration.notify.notify_support import (
    STAFF,
    migrated_notify_database,
    notify_settings_for,
    running_notify,
    ticket_created,
    unique_client_id,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCHEDULE = parse_retry_schedule("0,60,60")


async def test_a_batch_applies_results_in_order_with_the_one_by_one_rules() -> None:
    async with (
        migrated_notify_database() as url,
        running_notify(notify_settings_for(url)) as notify,
    ):
        client_id = unique_client_id()
        endpoint = await notify.create_endpoint(
            url="http://127.0.0.1:9/hooks", event_types=["ticket.*"], client_id=client_id
        )
        events = [ticket_created(client_id) for _ in range(4)]
        for event in events:
            await notify.fan_out(event)
        async with notify.session_factory() as session:
            claimed = await use_cases.claim_due_deliveries(
                session=session, now=utc_now(), lease=timedelta(seconds=30), limit=10
            )
        assert len(claimed) == 4
        by_message = {item.message_id: item for item in claimed}
        first, second, third, fourth = (by_message[event.id] for event in events)
        now = utc_now()
        failed = AttemptResult(500, 5, "no", None)
        ok = AttemptResult(200, 5, "ok", None)
        overtaken = dataclasses.replace(third, claim_token="someone-else")
        async with notify.session_factory() as session:
            outcomes = await use_cases.record_attempts(
                session=session,
                attempts=[
                    AttemptToRecord(first, failed, now),  # the endpoint starts failing
                    AttemptToRecord(second, ok, now),  # …and recovers
                    AttemptToRecord(overtaken, ok, now),  # another worker owns it now
                    AttemptToRecord(fourth, ok, now),
                    AttemptToRecord(fourth, ok, now),  # a second result for one claim
                ],
                schedule=SCHEDULE,
                disable_after=timedelta(days=5),
            )
        statuses = [None if outcome is None else outcome.delivery_status for outcome in outcomes]
        assert statuses == ["pending", "succeeded", None, "succeeded", None]

        deliveries = {item["message_id"]: item for item in await notify.deliveries(endpoint["id"])}
        assert deliveries[events[0].id]["status"] == "pending"
        assert deliveries[events[0].id]["last_error"] == "HTTP 500"
        assert deliveries[events[1].id]["status"] == "succeeded"
        # The overtaken claim's attempt is kept (it happened); its delivery is untouched.
        assert deliveries[events[2].id]["status"] == "pending"
        assert len(deliveries[events[2].id]["attempts"]) == 1
        assert deliveries[events[3].id]["status"] == "succeeded"
        async with notify.session_factory() as session:
            attempt_rows = await session.scalar(
                sa.select(sa.func.count()).select_from(DeliveryAttempt)
            )
        assert attempt_rows == 5

        (failing,) = await notify.outbox_events("aftercare.notification.endpoint_failing.v1")
        (recovered,) = await notify.outbox_events("aftercare.notification.endpoint_recovered.v1")
        assert failing.data["delivery_id"] == first.delivery_id
        assert recovered.data["delivery_id"] == second.delivery_id

        # A delivery deleted with its endpoint while in flight: nothing to record.
        deleted = await notify.client.delete(f"/v1/endpoints/{endpoint['id']}", headers=STAFF)
        assert deleted.status_code == 204
        async with notify.session_factory() as session:
            gone = await use_cases.record_attempts(
                session=session,
                attempts=[AttemptToRecord(first, ok, utc_now())],
                schedule=SCHEDULE,
                disable_after=timedelta(days=5),
            )
        assert gone == [None]
