"""Quiet hours from the client's plan calendar, held and released by a controllable
clock: business-hours endpoints wait for the calendar to open, P1 exceptions and
ordinary endpoints do not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from aftercare_shared.business_time import BusinessCalendar
from aftercare_shared.clock import FrozenClock, use_clock, utc_now
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import (
    Priority,
    SlaClientPlanAssigned,
    SlaClientPlanUnassigned,
    TicketCreated,
)
from aftercare_shared.events.factory import new_event
from tests.integration.notify.notify_support import (
    STAFF,
    eventually,
    migrated_notify_database,
    notify_settings_for,
    running_notify,
    started_receiver,
    unique_client_id,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

# Saturday 28 November 2026, 10:00 in London (UTC in winter); the office opens Monday 09:00.
SATURDAY = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
MONDAY_OPENING = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WEEKDAYS_9_TO_5 = BusinessCalendar.from_json(
    {
        "timezone": "Europe/London",
        "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    }
).to_json()


def _ticket(client_id: str, priority: Priority) -> CloudEvent:
    ticket_id = str(uuid.uuid4())
    payload = TicketCreated(
        ticket_id=ticket_id,
        client_id=client_id,
        title=f"{priority} at the weekend",
        severity="high",
        priority=priority,
        status="new",
        fingerprint=uuid.uuid4().hex,
        created_at=SATURDAY,
    )
    return new_event(payload, service="intake", subject=ticket_id, client_id=client_id)


async def test_business_hours_endpoints_hold_until_the_calendar_opens_except_p1() -> None:
    clock = FrozenClock(SATURDAY)
    async with (
        migrated_notify_database() as url,
        started_receiver() as receiver,
        running_notify(notify_settings_for(url, delivery_worker_enabled=True)) as notify,
    ):
        with use_clock(clock):
            client_id = unique_client_id()
            await notify.fan_out(
                new_event(
                    SlaClientPlanAssigned(
                        client_id=client_id,
                        plan_id="gold",
                        calendar=WEEKDAYS_9_TO_5,
                        assigned_at=SATURDAY - timedelta(days=30),
                    ),
                    service="sla",
                    subject=client_id,
                    client_id=client_id,
                )
            )
            quiet = await notify.create_endpoint(
                url=receiver.url + "?quiet",
                event_types=["ticket.created"],
                deliver="business_hours",
                except_priorities=["P1"],
            )
            assert quiet["deliver"] == "business_hours"
            assert quiet["except_priorities"] == ["P1"]
            loud = await notify.create_endpoint(url=receiver.url + "?loud", event_types=["*"])

            p2, p1 = _ticket(client_id, "P2"), _ticket(client_id, "P1")
            await notify.fan_out(p2)
            await notify.fan_out(p1)
            # At the weekend: the P1 goes everywhere, the P2 only to the loud endpoint.
            arrived = await receiver.wait_for(3)
            seen = sorted((item.path, item.webhook_id) for item in arrived)
            assert seen == sorted(
                [("/hooks?loud", p2.id), ("/hooks?loud", p1.id), ("/hooks?quiet", p1.id)]
            )
            (held,) = [
                item for item in await notify.deliveries(quiet["id"]) if item["message_id"] == p2.id
            ]
            assert held["status"] == "pending"
            assert datetime.fromisoformat(held["next_attempt_at"]) == MONDAY_OPENING

            clock.set(MONDAY_OPENING + timedelta(seconds=1))  # the office opens
            await eventually(
                lambda: notify.deliveries(quiet["id"]),
                lambda items: all(item["status"] == "succeeded" for item in items),
            )
            assert ("/hooks?quiet", p2.id) in {(i.path, i.webhook_id) for i in receiver.received}
            assert loud["deliver"] == "always"

            # Without a calendar a client is always open: nothing is held.
            other = unique_client_id()
            clock.set(SATURDAY)
            await notify.fan_out(_ticket(other, "P3"))
            # Delivered while the clock still says Saturday: it was not held for Monday.
            # (While a claim is in flight next_attempt_at shows the lease's end, so the
            # finished delivery is what proves it.)
            quiet_items = await eventually(
                lambda: notify.deliveries(quiet["id"]),
                lambda items: (
                    len(items) == 3 and all(item["status"] == "succeeded" for item in items)
                ),
            )
            assert utc_now() == SATURDAY
            assert len(quiet_items) == 3

            # Once the client's plan is un-assigned it has no calendar either: not held.
            await notify.fan_out(
                new_event(
                    SlaClientPlanUnassigned(
                        client_id=client_id, plan_id="gold", unassigned_at=SATURDAY
                    ),
                    service="sla",
                    subject=client_id,
                    client_id=client_id,
                )
            )
            await notify.fan_out(_ticket(client_id, "P2"))
            await eventually(
                lambda: notify.deliveries(quiet["id"]),
                lambda items: (
                    len(items) == 4 and all(item["status"] == "succeeded" for item in items)
                ),
            )
            assert utc_now() == SATURDAY

            # Switching a business-hours endpoint back to "always" is a PATCH.
            changed = await notify.client.patch(
                f"/v1/endpoints/{quiet['id']}",
                json={"deliver": "always", "except_priorities": None},
                headers=STAFF,
            )
            assert changed.status_code == 200
            assert changed.json()["except_priorities"] is None
