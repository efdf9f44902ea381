"""An internal comment (a staff note) never reaches a client: not an endpoint the client
owns, not one routed to a list of clients, not a replay to either, not a client key's live
stream. Agency-wide endpoints and staff streams get it like any other event."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from aftercare_notify.models import Delivery
from aftercare_shared.clock import utc_now
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import CommentVisibility, TicketCommented
from aftercare_shared.events.factory import new_event
from tests.integration.notify.notify_support import (
    STAFF,
    RunningNotify,
    migrated_notify_database,
    notify_settings_for,
    running_notify,
    unique_client_id,
)
from tests.integration.notify.test_notify_stream import (
    _client_key,
    _read_events,
    streaming_notify,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _comment(client_id: str, visibility: CommentVisibility) -> CloudEvent:
    ticket_id = str(uuid.uuid4())
    payload = TicketCommented(
        ticket_id=ticket_id,
        client_id=client_id,
        comment_id=str(uuid.uuid4()),
        author_kind="staff",
        visibility=visibility,
        created_at=utc_now(),
    )
    return new_event(payload, service="intake", subject=ticket_id, client_id=client_id)


async def _deliveries_for(notify: RunningNotify, message_id: str) -> set[str]:
    async with notify.session_factory() as session:
        rows = await session.execute(
            sa.select(Delivery.endpoint_id).where(Delivery.message_id == message_id)
        )
        return set(rows.scalars())


async def test_internal_comments_reach_agency_wide_endpoints_only_also_on_replay() -> None:
    async with (
        migrated_notify_database() as url,
        running_notify(notify_settings_for(url)) as notify,
    ):
        acme = unique_client_id()

        async def endpoint(**routing: object) -> str:
            created = await notify.create_endpoint(
                url="http://127.0.0.1:9/hooks", event_types=["ticket.*"], **routing
            )
            return str(created["id"])

        agency = await endpoint()
        owned_by_acme = await endpoint(client_id=acme)
        routed_to_acme = await endpoint(client_ids=[acme])

        public = _comment(acme, "public")
        internal = _comment(acme, "internal")
        await notify.fan_out(public)
        await notify.fan_out(internal)
        assert await _deliveries_for(notify, public.id) == {agency, owned_by_acme, routed_to_acme}
        assert await _deliveries_for(notify, internal.id) == {agency}

        # A replay matches subscriptions again: the internal note stays with the agency.
        for endpoint_id in (owned_by_acme, routed_to_acme):
            answer = await notify.client.post(
                f"/v1/endpoints/{endpoint_id}/replay",
                json={"since": (utc_now() - timedelta(hours=1)).isoformat()},
                headers=STAFF,
            )
            assert answer.status_code == 202, answer.text
        assert await _deliveries_for(notify, internal.id) == {agency}


async def test_a_client_keys_stream_never_carries_an_internal_comment() -> None:
    async with (
        streaming_notify() as (notify, base_url),
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):
        acme = unique_client_id()
        key = await _client_key(notify, acme)
        internal, public = _comment(acme, "internal"), _comment(acme, "public")
        async with (
            http.stream("GET", "/v1/stream?types=ticket.*", headers=STAFF) as staff_stream,
            http.stream(
                "GET", "/v1/stream?types=ticket.*", headers={"Authorization": f"Bearer {key}"}
            ) as client_stream,
        ):
            assert (staff_stream.status_code, client_stream.status_code) == (200, 200)
            await notify.fan_out(internal)
            await notify.fan_out(public)
            async with asyncio.timeout(10):
                staff_seen = await _read_events(staff_stream, 2)
                (client_seen,) = await _read_events(client_stream, 1)
        assert [event.cloud_event["id"] for event in staff_seen] == [internal.id, public.id]
        assert client_seen.cloud_event["id"] == public.id  # the note before it was skipped
