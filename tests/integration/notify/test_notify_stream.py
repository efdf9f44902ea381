"""``GET /v1/stream`` read by a real HTTP client over a real socket: order, filters,
tenancy, heartbeats, and a reconnect with ``Last-Event-ID`` that loses and duplicates
nothing within the retained window."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
import uvicorn

from aftercare_notify.domain.routing import RoutingFields
from aftercare_notify.domain.stream_filter import StreamFilter
from aftercare_notify.stream import Reader, StreamItem
from aftercare_shared.auth import generate_api_key
from aftercare_shared.clock import utc_now
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.catalog import ClientApiKeyIssued, TicketCreated
from aftercare_shared.events.factory import new_event
from tests.integration.notify.notify_support import (
    STAFF,
    RunningNotify,
    migrated_notify_database,
    notify_settings_for,
    running_notify,
    ticket_created,
    unique_client_id,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@dataclass
class SseEvent:
    id: str | None
    event: str | None
    data: str

    @property
    def cloud_event(self) -> dict[str, object]:
        parsed: dict[str, object] = orjson.loads(self.data)
        return parsed


async def _read_events(
    response: httpx.Response, count: int, comments: list[str] | None = None
) -> list[SseEvent]:
    """Parse ``text/event-stream`` until ``count`` events arrived (bounded by the caller)."""
    events: list[SseEvent] = []
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            if comments is not None:
                comments.append(line)
            continue
        if line == "":
            if "data" in fields:
                events.append(SseEvent(fields.get("id"), fields.get("event"), fields["data"]))
                if len(events) == count:
                    return events
            fields = {}
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")
    return events


@contextlib.asynccontextmanager
async def over_a_socket(notify: RunningNotify) -> AsyncIterator[str]:
    """Serve the running app (its lifespan already up) on a real port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(notify.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers only this flag
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def streaming_notify() -> AsyncIterator[tuple[RunningNotify, str]]:
    async with (
        migrated_notify_database() as url,
        running_notify(
            notify_settings_for(url, stream_poll_interval_seconds=0.1, stream_heartbeat_seconds=0.3)
        ) as notify,
        over_a_socket(notify) as base_url,
    ):
        yield notify, base_url


def _p1_ticket(client_id: str) -> CloudEvent:
    ticket_id = str(uuid.uuid4())
    payload = TicketCreated(
        ticket_id=ticket_id,
        client_id=client_id,
        title="Everything is down",
        severity="critical",
        priority="P1",
        status="new",
        fingerprint=uuid.uuid4().hex,
        created_at=utc_now(),
    )
    return new_event(payload, service="intake", subject=ticket_id, client_id=client_id)


async def _client_key(notify: RunningNotify, client_id: str) -> str:
    key = generate_api_key()
    issued = ClientApiKeyIssued(
        api_key_id=f"key-{client_id}",
        client_id=client_id,
        key_hash=key.key_hash,
        prefix=key.prefix,
        created_at=utc_now(),
    )
    await notify.fan_out(
        new_event(issued, service="intake", subject=client_id, client_id=client_id)
    )
    return key.key


async def test_a_reconnect_with_last_event_id_loses_and_duplicates_nothing() -> None:
    async with (
        streaming_notify() as (notify, base_url),
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):
        client_id = unique_client_id()
        first_batch = [ticket_created(client_id, title=f"first {n}") for n in range(3)]
        async with http.stream("GET", "/v1/stream?types=ticket.*", headers=STAFF) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for event in first_batch:
                await notify.fan_out(event)
            async with asyncio.timeout(10):
                received = await _read_events(response, 2)
        # Disconnected after two: the third and everything after it must come on resume.
        assert [item.cloud_event["id"] for item in received] == [e.id for e in first_batch[:2]]
        assert {item.event for item in received} == {"ticket.created"}
        second_batch: list[CloudEvent] = [
            ticket_created(client_id, title=f"second {n}") for n in range(3)
        ]
        for event in second_batch:
            await notify.fan_out(event)
        resume = {**STAFF, "Last-Event-ID": received[-1].id or ""}
        async with http.stream("GET", "/v1/stream?types=ticket.*", headers=resume) as response:
            async with asyncio.timeout(10):
                rest = await _read_events(response, 4)
        expected = [first_batch[2], *second_batch]
        assert [item.cloud_event["id"] for item in rest] == [e.id for e in expected]
        ids = [item.id for item in [*received, *rest]]
        assert len(set(ids)) == len(ids)


async def test_client_keys_see_their_own_client_and_filters_apply() -> None:
    async with (
        streaming_notify() as (notify, base_url),
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):
        mine, theirs = unique_client_id(), unique_client_id()
        key = await _client_key(notify, mine)
        headers = {"Authorization": f"Bearer {key}"}
        async with http.stream(
            "GET", f"/v1/stream?client_id={theirs}", headers=headers
        ) as response:
            assert response.status_code == 200
            others = ticket_created(theirs)
            own = ticket_created(mine)
            await notify.fan_out(others)
            await notify.fan_out(own)
            async with asyncio.timeout(10):
                (only,) = await _read_events(response, 1)
            assert only.cloud_event["id"] == own.id  # the asked-for client was ignored

        # A priority floor: the P2 ticket is filtered out, a P1 comes through.
        async with http.stream("GET", "/v1/stream?min_priority=P1", headers=STAFF) as response:
            p2 = ticket_created(mine)
            await notify.fan_out(p2)
            p1 = _p1_ticket(mine)
            await notify.fan_out(p1)
            async with asyncio.timeout(10):
                (urgent,) = await _read_events(response, 1)
            assert urgent.cloud_event["id"] == p1.id


async def test_heartbeats_keep_an_idle_stream_alive() -> None:
    async with (
        streaming_notify() as (_notify, base_url),
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):
        async with http.stream("GET", "/v1/stream", headers=STAFF) as response:
            async with asyncio.timeout(5):
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        break
        assert line.startswith(": ping")


async def test_the_stream_refuses_bad_input_with_problems() -> None:
    async with streaming_notify() as (notify, _base_url):
        unknown = await notify.client.get("/v1/stream?types=nosuch.*", headers=STAFF)
        assert unknown.status_code == 422
        assert unknown.json()["type"].endswith("invalid-event-types")
        anonymous = await notify.client.get("/v1/stream")
        assert anonymous.status_code == 401


def test_a_reader_that_falls_behind_is_cut_not_buffered() -> None:
    reader = Reader(StreamFilter(patterns=["*"]), asyncio.Queue(2))
    item = StreamItem((1, 1), "aftercare.ticket.created.v1", RoutingFields(None, None, None), b"{}")
    for _ in range(3):
        reader.offer(item)
    assert reader.cut.is_set()
    assert reader.queue.qsize() == 2


async def test_a_stream_starts_at_its_answer_even_after_a_time_with_no_reader() -> None:
    # With nobody connected the feed stops following; a new reader must still get exactly
    # what commits after its 200 (registered before the answer, not when streaming starts),
    # and nothing from before unless it resumes.
    async with (
        streaming_notify() as (notify, base_url),
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):
        client_id = unique_client_id()
        before = ticket_created(client_id, title="while nobody watched")
        await notify.fan_out(before)
        await asyncio.sleep(0.3)  # a few feed polls with no reader
        after = [ticket_created(client_id, title=f"after {n}") for n in range(2)]
        path = f"/v1/stream?types=ticket.*&client_id={client_id}"
        async with http.stream("GET", path, headers=STAFF) as response:
            assert response.status_code == 200
            for event in after:  # at once: no pause for the stream to "settle"
                await notify.fan_out(event)
            async with asyncio.timeout(10):
                received = await _read_events(response, 2)
        assert [item.cloud_event["id"] for item in received] == [e.id for e in after]
        resume = {**STAFF, "Last-Event-ID": f"{received[0].id}"}
        async with http.stream("GET", path, headers=resume) as response:
            async with asyncio.timeout(10):
                rest = await _read_events(response, 1)
        assert [item.cloud_event["id"] for item in rest] == [after[1].id]
