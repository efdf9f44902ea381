"""``GET /v1/stream``: Server-Sent Events for ops dashboards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from aftercare_notify.api.dependencies import SettingsDep, StreamFeedDep
from aftercare_notify.domain.event_patterns import InvalidEventPattern, normalize_patterns
from aftercare_notify.domain.stream_filter import StreamFilter
from aftercare_notify.errors import InvalidEventTypesError
from aftercare_notify.stream import StreamItem
from aftercare_shared.auth.dependencies import CurrentPrincipal
from aftercare_shared.events.catalog import Priority
from aftercare_shared.problems import problem_responses

router = APIRouter(
    prefix="/v1/stream",
    tags=["stream"],
    responses=problem_responses(
        {
            401: "No credentials, or ones that are not valid.",
            422: "Unknown event types (`invalid-event-types`) or a bad parameter "
            "(`validation-failed`).",
            429: "Too many calls with this client API key; see Retry-After.",
        }
    ),
)


@router.get(
    "",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "The event stream."}},
)
async def stream(
    principal: CurrentPrincipal,
    feed: StreamFeedDep,
    settings: SettingsDep,
    request: Request,
    types: Annotated[str, Query(max_length=2000, description="Comma-separated patterns.")] = "*",
    client_id: Annotated[str | None, Query(max_length=200)] = None,
    min_priority: Priority | None = None,
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
) -> EventSourceResponse:
    """Events as notify receives them: `id` (resume with `Last-Event-ID`), `event` (the
    short type) and `data` (the CloudEvent). Staff see every client's events (or one
    client's with `client_id`); a client API key sees only its own client's, and never an
    internal comment. A comment
    line every `NOTIFY_STREAM_HEARTBEAT_SECONDS` keeps proxies from closing the stream;
    a reader too slow to keep up is cut and resumes with `Last-Event-ID`.
    """
    try:
        patterns = normalize_patterns(part.strip() for part in types.split(",") if part.strip())
    except InvalidEventPattern as error:
        raise InvalidEventTypesError(str(error), known_event_types=error.known) from None
    if not principal.is_staff:
        client_id = principal.client_id  # a client key sees its own client, whatever it asks
    wanted = StreamFilter(
        patterns=patterns,
        client_id=client_id,
        min_priority=min_priority,
        staff=principal.is_staff,
    )
    # Registered before the response starts: once the client has its 200, nothing
    # committed from then on can be missing from its stream.
    items = await feed.open(wanted, last_event_id)
    return EventSourceResponse(
        _events(items),
        ping=settings.stream_heartbeat_seconds,
        send_timeout=settings.stream_send_timeout_seconds,
    )


async def _events(items: AsyncIterator[StreamItem]) -> AsyncIterator[ServerSentEvent]:
    async for item in items:
        yield ServerSentEvent(
            data=item.body.decode(),
            event=item.event_type.removeprefix("aftercare.").removesuffix(".v1"),
            id=item.event_id,
        )
