"""Sentry envelopes of one event filed in one statement, against the ordinary filing.

Two intake apps on one database take the same events from two clients: one files an
envelope of one event in one statement (``one_statement_filing``), the other has a filing
that always declines, so every event takes the ordinary ORM path. Answers, rows, events
and rate-limit takes must be the same; ``aftercare_intake_sentry_filing_total`` shows which
path filed.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

import httpx

from aftercare_intake.one_statement_filing import FiledAlone, OneStatementFiling
from tests.integration.intake.intake_support import (
    envelope_of,
    ingest_client,
    intake_api_providing,
    send_envelope,
    sentry_event,
)
from tests.integration.intake.test_intake_report_fast_path import _key_id, _state


class _AlwaysDeclines(OneStatementFiling):
    """Leaves every event to the ordinary filing, as a declined statement does."""

    async def file(
        self, *args: Any, **kwargs: Any
    ) -> FiledAlone | Literal["report-key-not-live"] | None:
        return None


def _events() -> list[dict[str, Any]]:
    crash = sentry_event()
    other = sentry_event(
        exception={"values": [{"type": "ValueError", "value": "bad sku", "stacktrace": None}]},
        release="shop@1.5.0",
    )
    return [
        crash,
        {**crash, "event_id": uuid.uuid4().hex, "environment": "staging"},  # the same fault
        other,
        {**crash, "event_id": uuid.uuid4().hex},
        {**other, "event_id": uuid.uuid4().hex, "level": "fatal"},
        {**crash, "event_id": uuid.uuid4().hex},  # over the project's burst of 5: 429
    ]


def _filed(metrics: str, path: str) -> float:
    found = re.search(
        rf'^aftercare_intake_sentry_filing_total\{{path="{path}"\}} (\S+)$', metrics, re.MULTILINE
    )
    return float(found.group(1)) if found else 0.0


def _answer(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if response.status_code == 429:
        body["instance"] = re.sub(r"\d+", "N", body["instance"])  # each client's project
    return {
        "status": response.status_code,
        "headers": sorted(
            name for name in response.headers if name.startswith(("retry-after", "x-sentry"))
        ),
        "body": body,
    }


async def test_one_statement_files_an_envelope_as_the_ordinary_filing(database_url: str) -> None:
    events = _events()
    arms: dict[bool, tuple[list[dict[str, Any]], dict[str, Any], str]] = {}
    for ordinary in (False, True):
        async with intake_api_providing(
            database_url,
            (_AlwaysDeclines(),) if ordinary else (),
            project_rate_per_second=0.01,
            project_rate_burst=5,
            report_rate_per_second=0.01,  # no refill between the arms' takes: same tokens
        ) as api:
            ingest = await ingest_client(api, "Ordinary" if ordinary else "One statement")
            before = (await api.get("/metrics")).text
            answers = [
                _answer(await send_envelope(api, ingest, envelope_of(event))) for event in events
            ]
            after = (await api.get("/metrics")).text
            filed = {
                path: _filed(after, path) - _filed(before, path)
                for path in ("one_statement", "declined", "ordinary")
            }
            state = await _state(
                database_url, ingest.client_id, await _key_id(api, ingest.client_id)
            )
            arms[ordinary] = (answers, state, str(filed))
            if ordinary:
                assert filed == {"one_statement": 0, "declined": 5, "ordinary": 0}
            else:
                # New faults and quiet repeats in one statement; a count to announce is
                # declined by it and filed the ordinary way.
                assert filed["one_statement"] >= 3, filed
                assert filed["one_statement"] + filed["declined"] == 5, filed
    (fast_answers, fast_state, _), (ordinary_answers, ordinary_state, _) = arms[False], arms[True]
    assert fast_answers == ordinary_answers
    assert [answer["status"] for answer in fast_answers] == [200] * 5 + [429]
    assert fast_state == ordinary_state
    assert len(fast_state["tickets"]) == 2
    assert sorted(row[12] for row in fast_state["tickets"]) == [2, 3]  # occurrences
