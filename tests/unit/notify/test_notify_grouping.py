"""Grouping rules, the digest document and its rendering (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from aftercare_notify.channels.rendering import digest_view, render_email_digest
from aftercare_notify.channels.slack import MAX_DIGEST_LINES, slack_digest
from aftercare_notify.digest_document import SCHEMA_FILE, DigestDocument, schema_document
from aftercare_notify.digests import digest_body
from aftercare_notify.domain.grouping import (
    DIGEST_EVENT_TYPE,
    Grouping,
    chunks,
    grouping_problem,
    next_flush_at,
)
from aftercare_notify.models import DigestGroup
from aftercare_notify.repository import WaitingEvent
from aftercare_shared.events.catalog import TicketCreated
from aftercare_shared.events.factory import new_event

DOCS = Path(__file__).resolve().parents[3] / "docs" / "events" / "webhooks"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WAIT, INTERVAL = timedelta(seconds=30), timedelta(seconds=300)


def _ticket(title: str) -> bytes:
    payload = TicketCreated(
        ticket_id="t-1",
        client_id="acme",
        title=title,
        severity="high",
        priority="P2",
        status="new",
        fingerprint="f",
        created_at=NOW,
    )
    return new_event(payload, service="intake", subject="t-1", client_id="acme").to_json_bytes()


def _digest(bodies: list[bytes]) -> bytes:
    group = DigestGroup(
        id="g-1", endpoint_id="e-1", labels={"client_id": "acme", "type": "ticket.created"}
    )
    events = [WaitingEvent("g-1", f"m-{n}", NOW, body) for n, body in enumerate(bodies)]
    return digest_body(digest_id="d-1", group=group, part=1, parts=1, events=events, now=NOW)


def test_first_message_waits_group_wait_later_ones_group_interval() -> None:
    assert (
        next_flush_at(
            earliest_released_at=None, last_flushed_at=NOW, group_wait=WAIT, group_interval=INTERVAL
        )
        is None
    )
    assert (
        next_flush_at(
            earliest_released_at=NOW, last_flushed_at=None, group_wait=WAIT, group_interval=INTERVAL
        )
        == NOW + WAIT
    )
    assert (
        next_flush_at(
            earliest_released_at=NOW + timedelta(seconds=10),
            last_flushed_at=NOW,
            group_wait=WAIT,
            group_interval=INTERVAL,
        )
        == NOW + INTERVAL
    )
    # Long after the last message the group behaves as a new one: group_wait again.
    later = NOW + timedelta(hours=1)
    assert (
        next_flush_at(
            earliest_released_at=later,
            last_flushed_at=NOW,
            group_wait=WAIT,
            group_interval=INTERVAL,
        )
        == later + WAIT
    )


def test_grouping_problems_name_the_field() -> None:
    assert grouping_problem(Grouping(group_by=["client_id", "type"], wait_seconds=0)) is None
    assert grouping_problem(Grouping()) is None
    assert grouping_problem(Grouping(interval_seconds=60)) == (
        "group_interval_seconds",
        "`group_interval_seconds` applies to grouping endpoints only: set `group_by` too.",
    )
    field, _ = grouping_problem(Grouping(group_by=["type", "type"])) or ("", "")
    assert field == "group_by"
    field, _ = grouping_problem(Grouping(group_by=["title"])) or ("", "")
    assert field == "group_by"


def test_chunks_respect_the_cap() -> None:
    assert [list(part) for part in chunks([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    assert chunks([], 3) == []


def test_the_digest_carries_each_event_byte_for_byte_and_fits_its_schema() -> None:
    bodies = [_ticket("one"), _ticket("two")]
    raw = _digest(bodies)
    for body in bodies:
        assert body in raw
    document = DigestDocument.model_validate(orjson.loads(raw))
    assert document.type == DIGEST_EVENT_TYPE
    assert document.count == 2
    assert document.events == [orjson.loads(body) for body in bodies]


def test_the_committed_schema_is_up_to_date() -> None:
    assert (DOCS / SCHEMA_FILE).read_bytes() == schema_document(), (
        "regenerate with: uv run python -m aftercare_notify.digest_document docs/events/webhooks"
    )


def test_slack_and_email_digests_escape_what_clients_typed() -> None:
    typed = "<script>x</script> & <@U123>"
    view = digest_view(_digest([_ticket(typed)] * (MAX_DIGEST_LINES + 2)))
    assert view.headline == f"{MAX_DIGEST_LINES + 2} events ticket.created for acme"
    message = slack_digest(view)
    sections = [block for block in message["blocks"] if block["type"] == "section"]
    assert len(sections) == MAX_DIGEST_LINES
    assert "<script>" not in orjson.dumps(message).decode()
    assert message["blocks"][-1]["elements"][0]["text"].startswith("and 2 more · ")
    subject, text, html = render_email_digest(view)
    assert subject == f"[Aftercare] {view.headline}"
    assert typed in text
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt; &amp;" in html
