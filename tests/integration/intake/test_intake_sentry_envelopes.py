"""Sentry ingest driven by a raw envelope client: keys and DSNs, every auth form, the hostile
cases (oversize, zip bomb, bad auth, each malformed form), CORS and the rate-limit answer.

Nothing a refused request carried may be stored: each refusal is checked against the
database (tickets, samples, outbox rows).
"""

from __future__ import annotations

import base64
import gzip
import time
import zlib
from collections.abc import AsyncIterator

import brotli
import httpx
import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from aftercare_shared.errors import PROBLEM_BASE_URI
from devkit.sentry_payloads import gzip_bomb
from tests.integration.intake.intake_support import (
    STAFF,
    count,
    envelope_of,
    ingest_client,
    intake_api,
    outbox_events,
    send_envelope,
    sentry_event,
)

MIB = 1024 * 1024


@pytest.fixture
async def ingest_api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with intake_api(database_url) as client:
        yield client


async def _nothing_stored(database_url: str) -> None:
    assert await count(database_url, "tickets") == 0
    assert await count(database_url, "occurrence_samples") == 0
    assert await count(database_url, "ticket_fingerprints") == 0
    ticket_events = [
        e for e in await outbox_events(database_url) if e.short_type.startswith("ticket.")
    ]
    assert ticket_events == []


def _problem(answer: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = answer.json()
    assert problem["type"] == PROBLEM_BASE_URI + slug
    return problem


# --- keys, projects and DSNs -----------------------------------------------------------------


async def test_every_key_answers_its_dsn_for_each_project(ingest_api: httpx.AsyncClient) -> None:
    client = await ingest_api.post("/v1/clients", json={"name": "Acme"}, headers=STAFF)
    client_id = client.json()["id"]
    first = await ingest_api.post(f"/v1/clients/{client_id}/api-keys", headers=STAFF)
    assert first.status_code == 201
    key = first.json()
    # A client without a project gets one with its first key, so a key always has a DSN.
    assert key["scope"] == "client"
    assert len(key["public_key"]) == 32
    assert key["public_key"].isalnum()
    assert key["dsn"] == f"http://{key['public_key']}@intake/{key['dsns'][0]['project_id']}"
    assert [dsn["project_name"] for dsn in key["dsns"]] == ["default"]

    app = await ingest_api.post(
        f"/v1/clients/{client_id}/projects",
        json={"name": "shop-app", "allowed_origins": ["https://Shop.example"]},
        headers=STAFF,
    )
    assert app.status_code == 201
    assert app.json()["allowed_origins"] == ["https://shop.example"]
    assert isinstance(app.json()["id"], int)
    assert app.json()["id"] > 0
    listed = (await ingest_api.get(f"/v1/clients/{client_id}/api-keys", headers=STAFF)).json()
    assert [dsn["project_name"] for dsn in listed["items"][0]["dsns"]] == ["default", "shop-app"]
    assert "key" not in listed["items"][0]
    projects = (await ingest_api.get(f"/v1/clients/{client_id}/projects", headers=STAFF)).json()
    assert [p["name"] for p in projects["items"]] == ["default", "shop-app"]

    renamed = await ingest_api.patch(
        f"/v1/projects/{app.json()['id']}", json={"allowed_origins": ["*"]}, headers=STAFF
    )
    assert renamed.json()["allowed_origins"] == ["*"]
    bad_origin = await ingest_api.post(
        f"/v1/clients/{client_id}/projects",
        json={"name": "x", "allowed_origins": ["https://shop.example/path"]},
        headers=STAFF,
    )
    _problem(bad_origin, 422, "validation-failed")
    assert (
        await ingest_api.patch("/v1/projects/999999", json={"name": "x"}, headers=STAFF)
    ).status_code == 404


async def test_the_dsn_names_intakes_public_url_when_it_is_set(database_url: str) -> None:
    async with intake_api(database_url, public_url="https://errors.agency.example") as api:
        ingest = await ingest_client(api)
    assert ingest.dsn == f"https://{ingest.public_key}@errors.agency.example/{ingest.project_id}"


async def test_an_ingest_key_submits_and_reads_nothing(
    ingest_api: httpx.AsyncClient, database_url: str
) -> None:
    ingest = await ingest_client(ingest_api)
    bearer = {"Authorization": f"Bearer {ingest.key}"}
    report = await ingest_api.post(
        "/v1/reports", json={"title": "From the browser", "severity": "low"}, headers=bearer
    )
    assert report.status_code == 201
    ticket_id = report.json()["ticket_id"]
    for path in ("/v1/tickets", f"/v1/tickets/{ticket_id}", f"/v1/tickets/{ticket_id}/occurrences"):
        refused = await ingest_api.get(path, headers=bearer)
        assert _problem(refused, 403, "forbidden")["detail"] == (
            "This key may only submit reports and events; it reads nothing."
        )
    # Only client keys are announced: no other service ever learns an ingest key.
    issued = [
        e for e in await outbox_events(database_url) if e.short_type == "client.api_key_issued"
    ]
    assert issued == []


# --- auth forms ---------------------------------------------------------------------------------


async def test_each_auth_form_sdks_use_is_accepted(ingest_api: httpx.AsyncClient) -> None:
    ingest = await ingest_client(ingest_api)
    event = sentry_event()
    header = await send_envelope(ingest_api, ingest, envelope_of(event))
    assert header.status_code == 200, header.text
    assert header.json() == {"id": event["event_id"]}

    query = await ingest_api.post(
        f"/api/{ingest.project_id}/envelope/?sentry_key={ingest.public_key}&sentry_version=7",
        content=envelope_of(sentry_event()),
        headers={"content-type": "text/plain;charset=UTF-8"},
    )
    assert query.status_code == 200, query.text

    in_envelope = await send_envelope(
        ingest_api, ingest, envelope_of(sentry_event(), dsn=ingest.dsn), headers={}
    )
    assert in_envelope.status_code == 200, in_envelope.text

    all_three = await ingest_api.post(
        f"/api/{ingest.project_id}/envelope/?sentry_key={ingest.public_key}",
        content=envelope_of(sentry_event(), dsn=ingest.dsn),
        headers=ingest.auth,
    )
    assert all_three.status_code == 200
    ticket = (await ingest_api.get("/v1/tickets", headers=STAFF)).json()["items"][0]
    assert ticket["occurrences"] == 4


async def test_missing_unknown_conflicting_or_foreign_credentials_are_refused(
    ingest_api: httpx.AsyncClient, database_url: str
) -> None:
    ingest = await ingest_client(ingest_api, "A")
    other = await ingest_client(ingest_api, "B")
    body = envelope_of(sentry_event())

    none = await send_envelope(ingest_api, ingest, body, headers={})
    assert _problem(none, 401, "unauthenticated")["detail"] == (
        "Send the DSN's public key: X-Sentry-Auth, ?sentry_key= or the envelope's dsn."
    )
    assert none.headers["www-authenticate"] == 'Sentry realm="aftercare"'
    unknown = await send_envelope(
        ingest_api, ingest, body, headers={"X-Sentry-Auth": "Sentry sentry_key=" + "0" * 32}
    )
    _problem(unknown, 401, "unauthenticated")
    malformed = await send_envelope(
        ingest_api, ingest, body, headers={"X-Sentry-Auth": "Sentry sentry_key=ak_not-a-dsn-key"}
    )
    _problem(malformed, 401, "unauthenticated")
    conflicting = await ingest_api.post(
        f"/api/{ingest.project_id}/envelope/?sentry_key={other.public_key}",
        content=body,
        headers=ingest.auth,
    )
    _problem(conflicting, 401, "unauthenticated")
    dsn_disagrees = await send_envelope(
        ingest_api,
        ingest,
        envelope_of(sentry_event(), dsn=f"http://{other.public_key}@intake/{ingest.project_id}"),
    )
    _problem(dsn_disagrees, 401, "unauthenticated")

    foreign_project = await send_envelope(ingest_api, other, body, project_id=ingest.project_id)
    _problem(foreign_project, 403, "forbidden")
    no_such_project = await send_envelope(ingest_api, ingest, body, project_id=987654)
    _problem(no_such_project, 403, "forbidden")
    dsn_of_another_project = await send_envelope(
        ingest_api,
        ingest,
        envelope_of(sentry_event(), dsn=ingest.dsn.rsplit("/", 1)[0] + "/987654"),
        headers={},
    )
    _problem(dsn_of_another_project, 403, "forbidden")

    key_id = (
        await ingest_api.get(f"/v1/clients/{ingest.client_id}/api-keys", headers=STAFF)
    ).json()["items"][0]["id"]
    assert (await ingest_api.delete(f"/v1/api-keys/{key_id}", headers=STAFF)).status_code == 204
    revoked = await send_envelope(ingest_api, ingest, body)
    _problem(revoked, 401, "unauthenticated")
    await _nothing_stored(database_url)


# --- malformed envelopes: a 400 naming the fault, nothing half-applied --------------------------

GOOD = sentry_event()
GOOD_ITEM = orjson.dumps({"type": "event", "length": len(orjson.dumps(GOOD))}) + b"\n"
GOOD_ITEM += orjson.dumps(GOOD) + b"\n"
HEAD = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n'


@pytest.mark.parametrize(
    ("body", "encoding", "fault"),
    [
        (b"{not json\n" + GOOD_ITEM, None, "The envelope header line is not valid JSON"),
        (HEAD + GOOD_ITEM + b"{bad item header\n{}\n", None, "The header of item 2 is not valid"),
        (HEAD + GOOD_ITEM + b'{"type":"event","length":999}\n{}\n', None, "declares 999 bytes"),
        (HEAD + GOOD_ITEM + b'{"type":"event","length":2}\n{}}\n', None, "goes on past the 2"),
        (HEAD + GOOD_ITEM + b'{"type":"event"}\n{"message": \n', None, "item 2 (event) is not"),
        (gzip.compress(HEAD + GOOD_ITEM)[:-10], "gzip", "gzip body is cut short"),
        (HEAD + GOOD_ITEM, "gzip", "not valid gzip"),
        (brotli.compress(HEAD + GOOD_ITEM)[:-4], "br", "br body is cut short"),
    ],
    ids=[
        "bad-header-line",
        "bad-item-header",
        "length-mismatch-short",
        "length-mismatch-long",
        "invalid-json-item",
        "truncated-body",
        "wrong-compression",
        "truncated-brotli",
    ],
)
async def test_a_malformed_envelope_is_a_400_and_its_valid_event_is_not_stored(
    ingest_api: httpx.AsyncClient,
    database_url: str,
    body: bytes,
    encoding: str | None,
    fault: str,
) -> None:
    ingest = await ingest_client(ingest_api)
    headers = {**ingest.auth, **({"content-encoding": encoding} if encoding else {})}
    answer = await send_envelope(ingest_api, ingest, body, headers=headers)
    problem = _problem(answer, 400, "malformed-envelope")
    assert fault in str(problem["detail"])
    await _nothing_stored(database_url)


async def test_an_unsupported_encoding_is_a_415(
    ingest_api: httpx.AsyncClient, database_url: str
) -> None:
    ingest = await ingest_client(ingest_api)
    answer = await send_envelope(
        ingest_api,
        ingest,
        envelope_of(sentry_event()),
        headers={**ingest.auth, "content-encoding": "zstd"},
    )
    _problem(answer, 415, "unsupported-encoding")
    await _nothing_stored(database_url)


# --- limits -------------------------------------------------------------------------------------


async def test_an_event_over_1_mib_or_more_than_100_items_is_a_413(
    ingest_api: httpx.AsyncClient, database_url: str
) -> None:
    ingest = await ingest_client(ingest_api)
    big = envelope_of(sentry_event(extra={"blob": "x" * MIB}))
    _problem(await send_envelope(ingest_api, ingest, big), 413, "payload-too-large")
    many = envelope_of(sentry_event(), extra=b'{"type":"session"}\n{}\n' * 100)
    _problem(await send_envelope(ingest_api, ingest, many), 413, "payload-too-large")
    await _nothing_stored(database_url)


async def test_a_zip_bomb_costs_nothing_and_stores_nothing(
    ingest_api: httpx.AsyncClient, database_url: str
) -> None:
    ingest = await ingest_client(ingest_api)
    prefix = envelope_of(sentry_event()) + b'{"type":"attachment","length":4294967296}\n'
    bomb = gzip_bomb(prefix, inflated_mib=4096)
    assert len(bomb) < 5 * MIB  # 4 GiB inflated

    started = time.monotonic()
    answer = await send_envelope(
        ingest_api, ingest, bomb, headers={**ingest.auth, "content-encoding": "gzip"}
    )
    elapsed = time.monotonic() - started
    _problem(answer, 413, "payload-too-large")
    # Inflating 4 GiB would take many seconds; stopping at 20 MiB takes a fraction of one.
    assert elapsed < 5, elapsed
    await _nothing_stored(database_url)


async def test_a_body_over_20_mib_is_refused_whatever_it_declares(
    ingest_api: httpx.AsyncClient, database_url: str
) -> None:
    ingest = await ingest_client(ingest_api)

    async def streamed() -> AsyncIterator[bytes]:
        yield envelope_of(sentry_event())
        yield b'{"type":"attachment"}\n'
        for _ in range(21):
            yield b"a" * MIB

    answer = await ingest_api.post(
        f"/api/{ingest.project_id}/envelope/", content=streamed(), headers=ingest.auth
    )
    _problem(answer, 413, "payload-too-large")
    declared = await ingest_api.post(
        f"/api/{ingest.project_id}/envelope/",
        content=b"x" * (21 * MIB),
        headers=ingest.auth,
    )
    _problem(declared, 413, "payload-too-large")
    await _nothing_stored(database_url)


# --- items and the legacy endpoint ------------------------------------------------------------


async def test_items_other_than_events_are_accepted_and_skipped(
    ingest_api: httpx.AsyncClient, database_url: str
) -> None:
    ingest = await ingest_client(ingest_api)
    items = (
        b'{"type":"check_in"}\n{"check_in_id":"c1","monitor_slug":"nightly","status":"ok"}\n'
        b'{"type":"session"}\n{"sid":"s1","status":"ok"}\n'
        b'{"type":"sessions"}\n{"aggregates":[]}\n'
        b'{"type":"client_report","length":2}\n{}\n'
        b'{"type":"transaction"}\n{"type":"transaction"}\n'
        b'{"type":"attachment","length":5,"filename":"a.txt"}\nhello\n'
        b'{"type":"profile_chunk"}\n{}\n'
    )
    answer = await send_envelope(
        ingest_api, ingest, b'{"event_id":"0f8c2a1e2b1f4c7e9d3a5b6c7d8e9f00"}\n' + items
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": "0f8c2a1e2b1f4c7e9d3a5b6c7d8e9f00"}
    no_id = await send_envelope(ingest_api, ingest, b"{}\n" + items)
    assert no_id.json() == {}
    await _nothing_stored(database_url)


@pytest.mark.parametrize("form", ["json", "gzip", "deflate", "legacy-base64-zlib"])
async def test_the_store_endpoint_takes_one_event(ingest_api: httpx.AsyncClient, form: str) -> None:
    ingest = await ingest_client(ingest_api)
    event = sentry_event(message="stored", exception=None)
    raw = orjson.dumps(event)
    body, headers = {
        "json": (raw, {}),
        "gzip": (gzip.compress(raw), {"content-encoding": "gzip"}),
        "deflate": (zlib.compress(raw), {"content-encoding": "deflate"}),
        "legacy-base64-zlib": (base64.b64encode(zlib.compress(raw)), {}),
    }[form]
    answer = await ingest_api.post(
        f"/api/{ingest.project_id}/store/",
        content=body,
        headers={**ingest.auth, "content-type": "application/json", **headers},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": event["event_id"]}
    tickets = (await ingest_api.get("/v1/tickets", headers=STAFF)).json()["items"]
    assert [t["title"] for t in tickets] == ["stored"]
    refused = await ingest_api.post(f"/api/{ingest.project_id}/store/", content=raw)
    _problem(refused, 401, "unauthenticated")


# --- CORS and rate limits -------------------------------------------------------------------------


async def test_browsers_may_send_only_from_the_projects_allowed_origins(
    ingest_api: httpx.AsyncClient, database_url: str
) -> None:
    ingest = await ingest_client(ingest_api, allowed_origins=["https://shop.example"])
    path = f"/api/{ingest.project_id}/envelope/"
    preflight = await ingest_api.options(
        path,
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    refused_preflight = await ingest_api.options(path, headers={"Origin": "https://evil.example"})
    _problem(refused_preflight, 403, "forbidden")
    assert "access-control-allow-origin" not in refused_preflight.headers

    browser = await ingest_api.post(
        f"{path}?sentry_key={ingest.public_key}&sentry_version=7",
        content=envelope_of(sentry_event()),
        headers={"Origin": "https://shop.example", "content-type": "text/plain;charset=UTF-8"},
    )
    assert browser.status_code == 200, browser.text
    assert browser.headers["access-control-allow-origin"] == "https://shop.example"
    assert "x-sentry-rate-limits" in browser.headers["access-control-expose-headers"]
    evil = await ingest_api.post(
        f"{path}?sentry_key={ingest.public_key}",
        content=envelope_of(sentry_event()),
        headers={"Origin": "https://evil.example"},
    )
    _problem(evil, 403, "forbidden")
    assert "access-control-allow-origin" not in evil.headers
    assert await count(database_url, "occurrence_samples") == 1


async def test_over_the_projects_rate_sdks_are_told_to_back_off(database_url: str) -> None:
    async with intake_api(database_url, project_rate_per_second=0.01, project_rate_burst=3) as api:
        ingest = await ingest_client(api, allowed_origins=["*"])
        codes = []
        for _ in range(5):
            answer = await send_envelope(
                api,
                ingest,
                envelope_of(sentry_event()),
                headers={**ingest.auth, "Origin": "https://x.example"},
            )
            codes.append(answer.status_code)
        assert codes == [200, 200, 200, 429, 429]
        problem = _problem(answer, 429, "rate-limited")
        assert "project" in str(problem["detail"])
        seconds = int(answer.headers["retry-after"])
        assert 1 <= seconds <= 100  # one token per 100 s: no refill, however slow the machine
        assert answer.headers["x-sentry-rate-limits"] == f"{seconds}::project"
        # The browser SDK can read the answer, so it obeys it too.
        assert answer.headers["access-control-allow-origin"] == "https://x.example"
        tickets = (await api.get("/v1/tickets", headers=STAFF)).json()["items"]
        assert tickets[0]["occurrences"] == 3


async def test_over_the_keys_rate_the_answer_names_the_key(database_url: str) -> None:
    async with intake_api(database_url, report_rate_per_second=0.01, report_rate_burst=2) as api:
        ingest = await ingest_client(api)
        codes = [
            (await send_envelope(api, ingest, envelope_of(sentry_event()))).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        limited = await send_envelope(api, ingest, envelope_of(sentry_event()))
        assert limited.headers["x-sentry-rate-limits"].endswith("::key")


async def test_leased_tokens_keep_the_burst_exact_and_a_revoked_key_out(
    database_url: str,
) -> None:
    # A burst of 48 leases 3 tokens at a time, 1,000 leases 62: the process spends most
    # envelopes' tokens without a statement, yet the project gets exactly its burst.
    async with intake_api(
        database_url,
        project_rate_per_second=0.01,
        project_rate_burst=48,
        report_rate_per_second=0.01,
        report_rate_burst=1_000,
    ) as api:
        ingest = await ingest_client(api)
        first = await send_envelope(api, ingest, envelope_of(sentry_event()))
        assert first.status_code == 200
        # The shared rows count the lease taken, not the one token spent so far.
        assert await _bucket_tokens(database_url, "ingest:project:") == pytest.approx(45, abs=0.1)
        assert await _bucket_tokens(database_url, "report:") == pytest.approx(938, abs=0.1)
        codes = [
            (await send_envelope(api, ingest, envelope_of(sentry_event()))).status_code
            for _ in range(48)
        ]
        assert codes == [200] * 47 + [429]
        key_id = (await api.get(f"/v1/clients/{ingest.client_id}/api-keys", headers=STAFF)).json()[
            "items"
        ][0]["id"]
        assert (await api.delete(f"/v1/api-keys/{key_id}", headers=STAFF)).status_code == 204
        # Its leased key tokens are still held here: the key is refused anyway.
        _problem(
            await send_envelope(api, ingest, envelope_of(sentry_event())), 401, "unauthenticated"
        )


async def _bucket_tokens(database_url: str, prefix: str) -> float:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            tokens = await connection.scalar(
                sa.text("SELECT tokens FROM intake.rate_buckets WHERE bucket_key LIKE :prefix"),
                {"prefix": prefix + "%"},
            )
    finally:
        await engine.dispose()
    return float(tokens)


async def test_the_ingest_endpoints_are_documented(ingest_api: httpx.AsyncClient) -> None:
    document = (await ingest_api.get("/openapi.json")).json()
    envelope = document["paths"]["/api/{project_id}/envelope/"]["post"]
    assert {"400", "401", "403", "413", "415", "429"} <= set(envelope["responses"])
    assert "application/x-sentry-envelope" in envelope["requestBody"]["content"]
    for path in (
        "/api/{project_id}/store/",
        "/v1/clients/{client_id}/projects",
        "/v1/tickets/{ticket_id}/occurrences",
        "/v1/tickets/{ticket_id}/history",
        "/v1/tickets/{ticket_id}/merge",
        "/v1/tickets/{ticket_id}/unmerge",
    ):
        assert path in document["paths"], path
