"""The one-statement fast path of ``POST /v1/reports`` against the ordinary route it fronts.

Two clients send the same reports: one through the fast path, the other with an
``Idempotency-Key`` on every request, which the fast path always hands to the ordinary
route. Answers, rows, events and rate-limit takes must be the same; the fast path's own
counter (``aftercare_intake_report_fast_path_total``) shows which path answered.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.integration.intake.intake_support import STAFF, client_with_key, intake_api

STACK = (
    "Traceback (most recent call last):\n"
    '  File "shop/checkout.py", line 218, in capture\n'
    "    receipt = provider.capture(order.payment_id)\n"
    "httpx.HTTPStatusError: Server error 502 Bad Gateway"
)

REPORTS: list[dict[str, Any]] = [
    {
        "title": "Checkout failed",
        "severity": "high",
        "kind": "bug",
        "fingerprint": "checkout-502",
        "environment": "production",
        "release": "shop@4.2.1",
        "description": "Payment provider answered 502.",
        "stacktrace": STACK,
        "context": {"order": 7, "locale": "en-GB"},
    },
    # The same fingerprint again: counted on the ticket, not announced (within the interval).
    {"title": "Checkout failed again", "severity": "low", "fingerprint": "checkout-502"},
    # No explicit fingerprint: grouped by its stack trace.
    {"title": "Capture crashed", "severity": "critical", "stacktrace": STACK},
    {"title": "Capture crashed later", "severity": "medium", "stacktrace": STACK},
]


def _fast_path_count(metrics: str, outcome: str) -> float:
    found = re.search(
        rf'^aftercare_intake_report_fast_path_total\{{outcome="{outcome}"\}} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


async def _counts(api: httpx.AsyncClient) -> dict[str, float]:
    metrics = (await api.get("/metrics")).text
    return {
        outcome: _fast_path_count(metrics, outcome)
        for outcome in ("answered", "rate_limited", "request", "declined", "unknown_key")
    }


def _answer(response: httpx.Response) -> dict[str, Any]:
    """What a client sees, with the ticket id named apart (each client has its own)."""
    body = response.json()
    ticket_id = body.get("ticket_id")
    location = response.headers.get("location")
    retry_after = response.headers.get("retry-after")
    if retry_after is not None:
        # The wait depends on when each client's bucket started: its shape is compared.
        assert int(retry_after) > 0
        body["detail"] = re.sub(r"\d+", "N", body["detail"])
    return {
        "status": response.status_code,
        "content_type": response.headers["content-type"],
        "retry_after": retry_after is not None,
        "location_is_the_ticket": location == f"/v1/tickets/{ticket_id}",
        "body": {key: value for key, value in body.items() if key != "ticket_id"},
    }


_STATE_QUERIES = {
    "tickets": """
        SELECT title, description, severity, priority, kind, status, fingerprint,
               environment, release, stacktrace, context, platform, occurrences,
               occurrences_announced, first_seen_at = created_at AS first_is_created
        FROM intake.tickets WHERE client_id = :client_id ORDER BY title""",
    "fingerprints": """
        SELECT fingerprint, occurrences, ticket_id = origin_ticket_id AS own
        FROM intake.ticket_fingerprints WHERE client_id = :client_id ORDER BY fingerprint""",
    "samples": """
        SELECT f.fingerprint, s.slot, s.number, s.title, s.severity, s.environment,
               s.release, s.details
        FROM intake.occurrence_samples AS s
        JOIN intake.ticket_fingerprints AS f ON f.id = s.fingerprint_id
        WHERE f.client_id = :client_id ORDER BY f.fingerprint, s.slot""",
    "tallies": """
        SELECT f.fingerprint, t.dimension, t.value, t.occurrences
        FROM intake.fingerprint_tallies AS t
        JOIN intake.ticket_fingerprints AS f ON f.id = t.fingerprint_id
        WHERE f.client_id = :client_id ORDER BY f.fingerprint, t.dimension, t.value""",
    "backlog": """
        SELECT count(*) FROM intake.occurrence_backlog AS b
        JOIN intake.tickets AS t ON t.id = b.ticket_id WHERE t.client_id = :client_id""",
    "buckets": """
        SELECT split_part(bucket_key, ':', 1) AS bucket,
               CASE WHEN bucket_key LIKE 'report:%' THEN floor(tokens) END AS whole_tokens,
               allowed
        FROM intake.rate_buckets
        WHERE bucket_key IN ('client:' || :key_id, 'report:' || :key_id) ORDER BY bucket_key""",
}


async def _state(database_url: str, client_id: str, key_id: str) -> dict[str, Any]:
    """Everything the reports left for one client, free of ids and clocks."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            state: dict[str, Any] = {
                name: [
                    tuple(row)
                    for row in await connection.execute(
                        sa.text(query), {"client_id": client_id, "key_id": key_id}
                    )
                ]
                for name, query in _STATE_QUERIES.items()
            }
            outbox = await connection.execute(
                sa.text("SELECT topic, record_key, payload, headers FROM intake.outbox ORDER BY id")
            )
            events = []
            for topic, record_key, payload, headers in outbox:
                event = orjson.loads(bytes(payload))
                if event.get("clientid") != client_id or not event["type"].startswith(
                    "aftercare.ticket."
                ):
                    continue
                data = {
                    key: value
                    for key, value in event["data"].items()
                    if key not in {"ticket_id", "client_id", "created_at", "occurred_at", "since"}
                }
                events.append(
                    (
                        topic,
                        record_key == event["subject"] == event["data"]["ticket_id"],
                        event["type"],
                        event["source"],
                        sorted(event),
                        data,
                        sorted(headers),
                    )
                )
            state["events"] = events
            return state
    finally:
        await engine.dispose()


async def _key_id(api: httpx.AsyncClient, client_id: str) -> str:
    keys = (await api.get(f"/v1/clients/{client_id}/api-keys", headers=STAFF)).json()
    return str(keys["items"][0]["id"])


async def _send(
    api: httpx.AsyncClient, key: str, report: dict[str, Any], *, ordinary: bool
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if ordinary:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return await api.post("/v1/reports", json=report, headers=headers)


async def test_fast_path_answers_and_files_as_the_ordinary_route(database_url: str) -> None:
    async with intake_api(database_url, report_rate_per_second=0.01, report_rate_burst=5) as api:
        fast_client, fast_key = await client_with_key(api, "Fast")
        ordinary_client, ordinary_key = await client_with_key(api, "Ordinary")
        before = await _counts(api)
        # The report bucket holds 5: the sixth report of each client is refused (429).
        sent = [*REPORTS, REPORTS[0], REPORTS[1]]
        fast = [_answer(await _send(api, fast_key, report, ordinary=False)) for report in sent]
        after_fast = await _counts(api)
        ordinary = [
            _answer(await _send(api, ordinary_key, report, ordinary=True)) for report in sent
        ]
        after_ordinary = await _counts(api)

        assert [answer["status"] for answer in fast] == [201, 200, 201, 200, 200, 429]
        assert fast == ordinary
        # The fast path answered all of the first client's, none of the second's.
        assert after_fast["answered"] - before["answered"] == 5
        assert after_fast["rate_limited"] - before["rate_limited"] == 1
        assert after_ordinary["answered"] == after_fast["answered"]
        assert after_ordinary["request"] - after_fast["request"] == len(sent)

        fast_state = await _state(database_url, fast_client, await _key_id(api, fast_client))
        ordinary_state = await _state(
            database_url, ordinary_client, await _key_id(api, ordinary_client)
        )
    assert [event[2] for event in fast_state["events"]] == ["aftercare.ticket.created.v1"] * 2
    assert fast_state["buckets"][1][:2] == ("report", 0)
    assert fast_state == ordinary_state


async def test_a_declined_report_is_filed_once_by_the_ordinary_route(database_url: str) -> None:
    # A 1 ms coalescing interval: every repeat is announced at once, which the fast path
    # leaves to the ordinary use case after rolling its own statement back.
    async with intake_api(
        database_url,
        occurrence_event_interval_seconds=0.001,
        report_rate_per_second=0.01,
        report_rate_burst=20,
    ) as api:
        client_id, key = await client_with_key(api)
        before = await _counts(api)
        answers = [await _send(api, key, REPORTS[0], ordinary=False) for _ in range(3)]
        after = await _counts(api)
        state = await _state(database_url, client_id, await _key_id(api, client_id))

    assert [answer.status_code for answer in answers] == [201, 200, 200]
    assert [answer.json()["occurrences"] for answer in answers] == [1, 2, 3]
    assert after["answered"] - before["answered"] == 1
    assert after["declined"] - before["declined"] == 2
    assert state["fingerprints"] == [("checkout-502", 3, True)]
    assert [ticket[12] for ticket in state["tickets"]] == [3]
    assert [event[2] for event in state["events"]] == [
        "aftercare.ticket.created.v1",
        "aftercare.ticket.occurred.v1",
        "aftercare.ticket.occurred.v1",
    ]
    # Three reports took three tokens: the ordinary use case took none again.
    assert ("report", 17, True) in state["buckets"]


async def test_leased_tokens_admit_no_more_than_the_bucket(database_url: str) -> None:
    # A burst of 32 is leased two tokens at a time (the client bucket's 300, 18 at a
    # time): the fast path admits exactly the 32 the ordinary route admits, then the same 429.
    async with intake_api(database_url, report_rate_per_second=0.01, report_rate_burst=32) as api:
        fast_client, fast_key = await client_with_key(api, "Fast")
        ordinary_client, ordinary_key = await client_with_key(api, "Ordinary")
        before = await _counts(api)
        sent = [
            {"title": f"Crash {n}", "severity": "low", "fingerprint": f"crash-{n}"}
            for n in range(33)
        ]
        fast = [_answer(await _send(api, fast_key, report, ordinary=False)) for report in sent]
        after = await _counts(api)
        ordinary = [
            _answer(await _send(api, ordinary_key, report, ordinary=True)) for report in sent
        ]
        fast_state = await _state(database_url, fast_client, await _key_id(api, fast_client))
        ordinary_state = await _state(
            database_url, ordinary_client, await _key_id(api, ordinary_client)
        )

    assert [answer["status"] for answer in fast] == [201] * 32 + [429]
    assert fast == ordinary
    assert after["answered"] - before["answered"] == 32
    assert after["rate_limited"] - before["rate_limited"] == 1
    assert fast_state["buckets"] == ordinary_state["buckets"]
    assert fast_state["buckets"][1][:2] == ("report", 0)
    assert len(fast_state["tickets"]) == len(fast_state["events"]) == 32


async def test_a_revoked_key_is_refused_at_once(database_url: str) -> None:
    async with intake_api(database_url) as api:
        client_id, key = await client_with_key(api)
        # The key is cached now, and tokens of its buckets leased for the next reports.
        first = await _send(api, key, REPORTS[0], ordinary=False)
        key_id = await _key_id(api, client_id)
        revoked = await api.delete(f"/v1/api-keys/{key_id}", headers=STAFF)
        refused = await _send(api, key, REPORTS[2], ordinary=False)
        refused_ordinary = await _send(api, key, REPORTS[2], ordinary=True)
        state = await _state(database_url, client_id, key_id)

    assert first.status_code == 201
    assert revoked.status_code == 204
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json() == refused_ordinary.json()
    # The leased tokens filed nothing for the revoked key.
    assert [ticket[0] for ticket in state["tickets"]] == [REPORTS[0]["title"]]
