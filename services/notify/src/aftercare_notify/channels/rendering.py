"""What a person reads about an event: one headline, a few facts, and links.

A chat message and an e-mail are built from the same :class:`EventView`; a digest
(``digests.py``) is a :class:`DigestView`, a headline over the views of its events, from
the ``headlines/digest.txt`` and ``email/digest.*`` templates. The headline
comes from a one-line template per event type (``templates/headlines/<type>.txt``, with
``default.txt`` for the rest); the facts and links are read from the payload by name, so
a new event type needs at most its headline template. E-mail bodies are Jinja templates
with autoescaping on for HTML: nothing a client typed (a ticket title…) becomes markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import jinja2
import orjson

from aftercare_notify.domain.grouping import DIGEST_EVENT_TYPE
from aftercare_shared.events.envelope import CloudEvent

# Payload fields shown as facts, in this order, with their labels.
_FACT_FIELDS: tuple[tuple[str, str], ...] = (
    ("title", "Title"),
    ("priority", "Priority"),
    ("status", "Status"),
    ("metric", "SLA metric"),
    ("due_at", "SLA due"),
    ("breached_at", "SLA breached"),
    ("environment", "Environment"),
    ("product", "Product"),
    ("version", "Version"),
    ("ticket_id", "Ticket"),
    ("occurrences", "Occurrences"),
)


@dataclass(frozen=True, slots=True)
class EventView:
    event_id: str
    event_type: str  # the short type, e.g. ticket.created
    time: datetime
    client_id: str | None
    headline: str
    facts: tuple[tuple[str, str], ...]
    links: tuple[tuple[str, str], ...]


@cache
def template_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("aftercare_notify", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.ChainableUndefined,
        keep_trailing_newline=False,
    )


def _headline_template(short_type: str) -> jinja2.Template:
    return template_environment().select_template(
        [f"headlines/{short_type}.txt", "headlines/default.txt"]
    )


def _fact_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


@dataclass(frozen=True, slots=True)
class DigestView:
    digest_id: str
    time: datetime
    headline: str
    group: Mapping[str, str | None]
    events: tuple[EventView, ...]


def is_digest(event_type: str) -> bool:
    return event_type == DIGEST_EVENT_TYPE


def event_view(body: bytes) -> EventView:
    """Read the stored CloudEvent bytes into what the templates show."""
    return _view_of(CloudEvent.from_json_bytes(body))


def digest_view(body: bytes) -> DigestView:
    """Read a digest document (``digests.digest_body``) into what the templates show."""
    digest: dict[str, Any] = orjson.loads(body)
    events = tuple(_view_of(CloudEvent.model_validate(item)) for item in digest["events"])
    context = {
        "count": digest["count"],
        "group": digest["group"],
        "part": digest["part"],
        "parts": digest["parts"],
    }
    headline = template_environment().get_template("headlines/digest.txt").render(context)
    return DigestView(
        digest_id=digest["id"],
        time=datetime.fromisoformat(digest["time"]),
        headline=" ".join(headline.split()),
        group=digest["group"],
        events=events,
    )


def _view_of(event: CloudEvent) -> EventView:
    data = event.data
    context = {"data": data, "type": event.short_type, "client_id": event.clientid}
    headline = " ".join(_headline_template(event.short_type).render(context).split())
    facts = [("Client", event.clientid)] if event.clientid else []
    facts += [
        (label, _fact_text(data[name]))
        for name, label in _FACT_FIELDS
        if data.get(name) is not None
    ]
    # Any *_url field is a link (a report's, a release's…): new payloads need no code.
    links = [
        (name.removesuffix("_url").replace("_", " ").capitalize() or "Link", value)
        for name, value in data.items()
        if name.endswith("_url") and isinstance(value, str) and value.startswith("https://")
    ]
    return EventView(
        event_id=event.id,
        event_type=event.short_type,
        time=event.time,
        client_id=event.clientid,
        headline=headline or event.short_type,
        facts=tuple(facts),
        links=tuple(links),
    )


def render_email(view: EventView) -> tuple[str, str, str]:
    """(subject, plain text, HTML) for one event."""
    environment = template_environment()
    context = {"view": view}
    text = environment.get_template("email/message.txt").render(context)
    html = environment.get_template("email/message.html").render(context)
    return f"[Aftercare] {view.headline}", text, html


def render_email_digest(digest: DigestView) -> tuple[str, str, str]:
    """(subject, plain text, HTML) for a digest."""
    environment = template_environment()
    context = {"digest": digest}
    text = environment.get_template("email/digest.txt").render(context)
    html = environment.get_template("email/digest.html").render(context)
    return f"[Aftercare] {digest.headline}", text, html
