"""Heartbeat monitors end to end in intake: CRUD and validation, cron across DST, intervals,
margins, max runtime, thresholds, recovery, pause, every ping form, the check-in API,
Sentry's HTTP cron form, the uptime report, and two timer runners on one database.

Time is frozen with ``use_clock`` for what the API records; the timer's rounds are driven
directly with an explicit ``now`` (the app's own rounds are kept out of the way).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from aftercare_shared.clock import FrozenClock, use_clock
from tests.integration.intake.intake_support import STAFF, count, ingest_client, intake_api
from tests.integration.intake.monitor_support import (
    QUIET_JOBS,
    evaluate,
    monitor,
    monitor_events,
    new_client,
    new_monitor,
    ticket,
)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with intake_api(database_url, **QUIET_JOBS) as client:
        yield client


def _ping_path(created: dict[str, Any]) -> str:
    ping_url: str = created["ping_url"]
    return "/ping/" + ping_url.rsplit("/ping/", 1)[1]


async def _ping(api: httpx.AsyncClient, path: str, method: str = "GET") -> None:
    answer = await api.request(method, path)
    assert answer.status_code == 200, answer.text


async def test_monitors_are_created_checked_listed_changed_and_deleted(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id = await new_client(api)
    with use_clock(FrozenClock(T0)):
        created = await new_monitor(api, client_id, timezone="Europe/Berlin", priority="P1")
    assert created["state"] == "new"
    assert created["next_expected_at"] == "2026-03-28T02:00:00Z"
    assert created["ping_url"].startswith("http://intake/ping/")
    assert created["failure_threshold"] == 1
    assert created["open_ticket_id"] is None

    bad_cron = await api.post(
        "/v1/monitors",
        json={
            **_body(client_id),
            "slug": "x",
            "schedule": {"type": "crontab", "value": "0 25 * * *"},
        },
        headers=STAFF,
    )
    assert bad_cron.status_code == 422
    assert bad_cron.json()["type"].endswith("/invalid-schedule")
    assert bad_cron.json()["field"] == "schedule.value"
    assert "0 25 * * *" in bad_cron.json()["detail"]
    bad_zone = await api.post(
        "/v1/monitors",
        json={**_body(client_id), "slug": "y", "timezone": "Europe/Atlantis"},
        headers=STAFF,
    )
    assert bad_zone.status_code == 422
    assert bad_zone.json()["field"] == "timezone"
    taken = await api.post("/v1/monitors", json=_body(client_id), headers=STAFF)
    assert taken.status_code == 409
    uptime_without_url = await api.post(
        "/v1/monitors",
        json={
            **_body(client_id),
            "slug": "site",
            "kind": "uptime",
            "schedule": {"type": "interval", "value": 1, "unit": "minute"},
        },
        headers=STAFF,
    )
    assert uptime_without_url.status_code == 422
    assert await count(database_url, "monitors") == 1

    other_client = await new_client(api, "Other")
    own_key = await _client_key(api, client_id)
    other_key = await _client_key(api, other_client)
    listed = await api.get("/v1/monitors", headers={"Authorization": f"Bearer {own_key}"})
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    assert listed.json()["items"][0]["ping_url"] is None  # the secret is staff's to hand out
    hidden = await api.get(
        f"/v1/monitors/{created['id']}", headers={"Authorization": f"Bearer {other_key}"}
    )
    assert hidden.status_code == 404
    forbidden = await api.post(
        "/v1/monitors", json=_body(client_id), headers={"Authorization": f"Bearer {own_key}"}
    )
    assert forbidden.status_code == 403

    paused = await api.patch(
        f"/v1/monitors/{created['id']}", json={"paused": True, "name": "Backup"}, headers=STAFF
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["state"] == "paused"
    assert paused.json()["next_expected_at"] is None
    null_name = await api.patch(f"/v1/monitors/{created['id']}", json={"name": None}, headers=STAFF)
    assert null_name.status_code == 422

    deleted = await api.delete(f"/v1/monitors/{created['id']}", headers=STAFF)
    assert deleted.status_code == 204
    assert (await api.get(f"/v1/monitors/{created['id']}", headers=STAFF)).status_code == 404
    upserted = await monitor_events(database_url, "monitor.upserted")
    assert [event["paused"] for event in upserted] == [False, True]
    assert upserted[1]["name"] == "Backup"
    assert [
        event["monitor_id"] for event in await monitor_events(database_url, "monitor.deleted")
    ] == [created["id"]]


async def test_a_monitor_schedule_is_changed_by_patch_and_its_deadline_follows(
    api: httpx.AsyncClient,
) -> None:
    # Changing the schedule answered 500 for every body until a fuzzer sent one.
    client_id = await new_client(api)
    with use_clock(FrozenClock(T0)):
        created = await new_monitor(api, client_id, timezone="Europe/Berlin")
        path = f"/v1/monitors/{created['id']}"
        hourly = await api.patch(
            path, json={"schedule": {"type": "interval", "value": 1, "unit": "hour"}}, headers=STAFF
        )
        assert hourly.status_code == 200, hourly.text
        assert hourly.json()["schedule"] == {"type": "interval", "value": 1, "unit": "hour"}
        nightly = await api.patch(
            path, json={"schedule": {"type": "crontab", "value": "30 4 * * *"}}, headers=STAFF
        )
        assert nightly.status_code == 200, nightly.text
        assert nightly.json()["schedule"]["value"] == "30 4 * * *"
        assert nightly.json()["next_expected_at"] == "2026-03-28T03:30:00Z"  # 04:30 CET
        bad = await api.patch(
            path, json={"schedule": {"type": "crontab", "value": "0 25 * * *"}}, headers=STAFF
        )
    assert bad.status_code == 422
    assert bad.json()["field"] == "schedule.value"
    assert (await monitor(api, created["id"]))["schedule"]["value"] == "30 4 * * *"


def _body(client_id: str) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "name": "Nightly backup",
        "slug": "nightly-backup",
        "kind": "heartbeat",
        "schedule": {"type": "crontab", "value": "0 3 * * *"},
    }


async def _client_key(api: httpx.AsyncClient, client_id: str) -> str:
    key = await api.post(f"/v1/clients/{client_id}/api-keys", headers=STAFF)
    assert key.status_code == 201, key.text
    value: str = key.json()["key"]
    return value


async def test_a_berlin_cron_across_dst_misses_opens_one_incident_counts_and_recovers(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id = await new_client(api)
    with use_clock(FrozenClock(T0)) as clock:
        await _berlin_cron_story(api, database_url, client_id, clock)


async def _at(clock: FrozenClock, database_url: str, at: datetime) -> int:
    """Move the clock to ``at`` and run the timer's rounds there."""
    clock.set(at)
    return await evaluate(database_url, at)


async def _berlin_cron_story(
    api: httpx.AsyncClient, database_url: str, client_id: str, clock: FrozenClock
) -> None:
    created = await new_monitor(api, client_id, timezone="Europe/Berlin", checkin_margin_minutes=5)
    ping = _ping_path(created)
    # 03:00 CET on 28 March is 02:00 UTC: nothing is due before the margin has passed.
    assert await _at(clock, database_url, datetime(2026, 3, 28, 2, 4, 59, tzinfo=UTC)) == 0
    assert (await monitor(api, created["id"]))["state"] == "late"
    await _ping(api, ping)
    after_run = await monitor(api, created["id"])
    assert after_run["state"] == "ok"
    # The next run is 03:00 CEST, one hour earlier in UTC.
    assert after_run["next_expected_at"] == "2026-03-29T01:00:00Z"

    assert await _at(clock, database_url, datetime(2026, 3, 29, 1, 4, 59, tzinfo=UTC)) == 0
    assert await _at(clock, database_url, datetime(2026, 3, 29, 1, 5, 1, tzinfo=UTC)) == 1
    missed = await monitor(api, created["id"])
    assert missed["state"] == "missed"
    assert missed["next_expected_at"] == "2026-03-30T01:00:00Z"
    assert missed["last_check_ins"][0]["status"] == "missed"
    ticket_id = missed["open_ticket_id"]
    opened = await ticket(api, ticket_id)
    assert opened["kind"] == "incident"
    assert opened["priority"] == "P2"
    assert opened["title"] == "Nightly backup: missed its check-in"
    assert opened["status"] == "new"
    failed = await monitor_events(database_url, "monitor.failed")
    assert len(failed) == 1
    assert failed[0]["reason"] == "missed"
    assert failed[0]["ticket_id"] == ticket_id
    assert failed[0]["failed_at"].startswith("2026-03-29T01:05:01")
    created_events = await monitor_events(database_url, "ticket.created")
    assert [event["ticket_id"] for event in created_events] == [ticket_id]

    # The next night is missed too: one more occurrence on the same ticket, no new incident.
    assert await _at(clock, database_url, datetime(2026, 3, 30, 1, 6, tzinfo=UTC)) == 1
    assert (await ticket(api, ticket_id))["occurrences"] == 2
    assert len(await monitor_events(database_url, "monitor.failed")) == 1

    recovered_at = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    clock.set(recovered_at)
    await _ping(api, ping, "POST")
    recovered = await monitor(api, created["id"])
    assert recovered["state"] == "ok"
    assert recovered["open_ticket_id"] is None
    assert (await ticket(api, ticket_id))["status"] == "resolved"
    resolved = await monitor_events(database_url, "ticket.resolved")
    assert [(event["ticket_id"], event["resolution"]) for event in resolved] == [
        (ticket_id, "recovered")
    ]
    recoveries = await monitor_events(database_url, "monitor.recovered")
    assert len(recoveries) == 1
    assert recoveries[0]["ticket_id"] == ticket_id
    assert recoveries[0]["failed_at"].startswith("2026-03-29T01:05:01")

    # The uptime report: the incident ran from the first miss to the recovering ping.
    report = await api.get(
        f"/v1/monitors/{created['id']}/uptime",
        params={"from": "2026-03-29T00:00:00Z", "to": "2026-03-31T00:00:00Z"},
        headers=STAFF,
    )
    assert report.status_code == 200, report.text
    body = report.json()
    downtime = (recovered_at - datetime(2026, 3, 29, 1, 5, 1, tzinfo=UTC)).total_seconds()
    assert body["downtime_seconds"] == downtime
    assert body["availability_percent"] == round(100 * (1 - downtime / (2 * 86400)), 4)
    assert [incident["ticket_id"] for incident in body["incidents"]] == [ticket_id]
    backwards = await api.get(
        f"/v1/monitors/{created['id']}/uptime",
        params={"from": "2026-03-31T00:00:00Z", "to": "2026-03-29T00:00:00Z"},
        headers=STAFF,
    )
    assert backwards.status_code == 422
    naive = await api.get(
        f"/v1/monitors/{created['id']}/uptime",
        params={"from": "2026-03-29T00:00:00", "to": "2026-03-31T00:00:00"},
        headers=STAFF,
    )
    assert naive.status_code == 422

    # A failure later is a new incident with a new ticket.
    clock.set(datetime(2026, 3, 31, 1, 0, tzinfo=UTC))
    await _ping(api, f"{ping}/fail")
    again = await monitor(api, created["id"])
    assert again["open_ticket_id"] not in (None, ticket_id)


async def test_an_interval_job_that_starts_and_never_finishes_times_out(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id = await new_client(api)
    with use_clock(FrozenClock(T0)) as clock:
        created = await new_monitor(
            api,
            client_id,
            schedule={"type": "interval", "value": 10, "unit": "minute"},
            checkin_margin_minutes=2,
            max_runtime_minutes=5,
            priority="P1",
        )
        assert created["next_expected_at"] == "2026-03-27T12:10:00Z"
        clock.advance(timedelta(minutes=9))
        await _ping(api, _ping_path(created) + "/start")
    # Started at 12:09: the run may last until 12:14; the next start is due 12:19 + 2 min.
    assert await evaluate(database_url, datetime(2026, 3, 27, 12, 13, 59, tzinfo=UTC)) == 0
    assert await evaluate(database_url, datetime(2026, 3, 27, 12, 14, 1, tzinfo=UTC)) == 1
    timed_out = await monitor(api, created["id"])
    assert timed_out["state"] == "timed_out"
    assert timed_out["last_check_ins"][0]["status"] == "timed_out"
    assert timed_out["last_check_ins"][1]["status"] == "in_progress"
    opened = await ticket(api, timed_out["open_ticket_id"])
    assert opened["priority"] == "P1"
    assert opened["title"] == "Nightly backup: ran past its maximum runtime"
    # Then the schedule itself is missed (no start by 12:21).
    assert await evaluate(database_url, datetime(2026, 3, 27, 12, 21, 1, tzinfo=UTC)) == 1
    assert (await monitor(api, created["id"]))["state"] == "missed"
    assert (await ticket(api, opened["id"]))["occurrences"] == 2


async def test_thresholds_need_failures_and_successes_in_a_row(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id = await new_client(api)
    created = await new_monitor(api, client_id, failure_threshold=2, recovery_threshold=2)
    ping = _ping_path(created)
    await _ping(api, f"{ping}/1")
    first = await monitor(api, created["id"])
    assert first["state"] == "failing"
    assert first["open_ticket_id"] is None
    await _ping(api, f"{ping}/0")  # a success in between: the count starts again
    await _ping(api, f"{ping}/3")
    assert (await monitor(api, created["id"]))["open_ticket_id"] is None
    await _ping(api, f"{ping}/fail")
    failing = await monitor(api, created["id"])
    ticket_id = failing["open_ticket_id"]
    assert ticket_id is not None
    failed = await monitor_events(database_url, "monitor.failed")
    assert [(event["reason"], event["ticket_id"]) for event in failed] == [("failed", ticket_id)]
    await _ping(api, ping)
    assert (await monitor(api, created["id"]))["open_ticket_id"] == ticket_id
    await _ping(api, f"{ping}/0")
    assert (await monitor(api, created["id"]))["open_ticket_id"] is None
    assert (await ticket(api, ticket_id))["status"] == "resolved"
    assert len(await monitor_events(database_url, "monitor.recovered")) == 1


async def test_a_paused_monitor_is_never_late_and_resuming_expects_from_then(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id = await new_client(api)
    with use_clock(FrozenClock(T0)):
        created = await new_monitor(
            api, client_id, schedule={"type": "interval", "value": 1, "unit": "hour"}
        )
        paused = await api.patch(
            f"/v1/monitors/{created['id']}", json={"paused": True}, headers=STAFF
        )
        assert paused.status_code == 200
        await _ping(api, _ping_path(created) + "/fail")  # recorded, never judged
    assert await evaluate(database_url, T0 + timedelta(days=30)) == 0
    still = await monitor(api, created["id"])
    assert still["state"] == "paused"
    assert still["open_ticket_id"] is None
    assert still["last_check_ins"][0]["status"] == "error"
    resumed_at = T0 + timedelta(days=30)
    with use_clock(FrozenClock(resumed_at)):
        resumed = await api.patch(
            f"/v1/monitors/{created['id']}", json={"paused": False}, headers=STAFF
        )
    assert resumed.json()["state"] == "new"
    assert resumed.json()["next_expected_at"] == "2026-04-26T13:00:00Z"
    assert await monitor_events(database_url, "monitor.failed") == []


async def test_every_ping_form_and_the_check_in_api(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id = await new_client(api)
    created = await new_monitor(api, client_id)
    ping = _ping_path(created)
    for method in ("GET", "HEAD", "POST"):
        answer = await api.request(method, ping)
        assert answer.status_code == 200, (method, answer.text)
    await _ping(api, f"{ping}/start", "HEAD")
    await _ping(api, f"{ping}/0", "POST")
    statuses = [
        (row["status"], row["exit_status"], row["source"])
        for row in (await monitor(api, created["id"]))["last_check_ins"]
    ]
    assert statuses == [
        ("ok", 0, "ping"),
        ("in_progress", None, "ping"),
        ("ok", None, "ping"),
        ("ok", None, "ping"),
        ("ok", None, "ping"),
    ]
    finished = (await monitor(api, created["id"]))["last_check_ins"][0]
    assert finished["duration_ms"] is not None

    bad_action = await api.get(f"{ping}/restart")
    assert bad_action.status_code == 422
    assert (await api.get(f"{ping}/256")).status_code == 422
    assert (await api.get("/ping/not-a-real-key-at-all")).status_code == 404

    rotated = await api.post(f"/v1/monitors/{created['id']}/ping-key", headers=STAFF)
    assert rotated.status_code == 200
    assert (await api.get(ping)).status_code == 404
    await _ping(api, _ping_path(rotated.json()))

    key = await _client_key(api, client_id)
    sent = await api.post(
        f"/v1/monitors/{created['id']}/check-ins",
        json={"status": "error", "check_in_id": "run-7", "duration_ms": 1200},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["source"] == "api"
    assert (await monitor(api, created["id"]))["state"] == "failing"
    other_key = await _client_key(api, await new_client(api, "Other"))
    foreign = await api.post(
        f"/v1/monitors/{created['id']}/check-ins",
        json={"status": "ok"},
        headers={"Authorization": f"Bearer {other_key}"},
    )
    assert foreign.status_code == 404
    bad_status = await api.post(
        f"/v1/monitors/{created['id']}/check-ins",
        json={"status": "missed"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert bad_status.status_code == 422
    page = await api.get(
        f"/v1/monitors/{created['id']}/check-ins", params={"limit": 3}, headers=STAFF
    )
    assert len(page.json()["items"]) == 3
    rest = await api.get(
        f"/v1/monitors/{created['id']}/check-ins",
        params={"limit": 50, "cursor": page.json()["next_cursor"]},
        headers=STAFF,
    )
    assert len(rest.json()["items"]) == 4  # seven check-ins in all


async def test_sentrys_http_cron_form(api: httpx.AsyncClient, database_url: str) -> None:
    ingest = await ingest_client(api, "Shop")
    created = await new_monitor(api, ingest.client_id, slug="import-feed")
    base = f"/api/{ingest.project_id}/cron/import-feed/{ingest.public_key}/"
    started = await api.get(base, params={"status": "in_progress", "check_in_id": "c-1"})
    assert started.status_code == 202, started.text
    finished = await api.post(
        base, params={"status": "error", "check_in_id": "c-1", "duration": 2.5}
    )
    assert finished.status_code == 202, finished.text
    found = await monitor(api, created["id"])
    assert found["state"] == "failing"
    assert [
        (row["status"], row["source"], row["duration_ms"]) for row in found["last_check_ins"]
    ] == [
        ("error", "sentry", 2500),
        ("in_progress", "sentry", None),
    ]
    unknown = await api.get(f"/api/{ingest.project_id}/cron/no-such/{ingest.public_key}/")
    assert unknown.status_code == 404
    wrong_key = await api.get(f"/api/{ingest.project_id}/cron/import-feed/{'0' * 32}/")
    assert wrong_key.status_code == 401
    bad_status = await api.get(base, params={"status": "finished"})
    assert bad_status.status_code == 400
    endless = await api.get(base, params={"status": "ok", "duration": "inf"})
    assert endless.status_code == 422


async def test_two_timer_runners_on_one_database_take_each_miss_once(
    api: httpx.AsyncClient, database_url: str
) -> None:
    client_id = await new_client(api)
    monitors = 120
    with use_clock(FrozenClock(T0)):
        for number in range(monitors):
            await new_monitor(
                api,
                client_id,
                slug=f"job-{number}",
                schedule={"type": "interval", "value": 1, "unit": "minute"},
                checkin_margin_minutes=0,
            )
    due = T0 + timedelta(minutes=1, seconds=1)
    handled = await asyncio.gather(
        evaluate(database_url, due, limit=7), evaluate(database_url, due, limit=7)
    )
    assert sum(handled) == monitors
    failed = await monitor_events(database_url, "monitor.failed")
    assert len(failed) == monitors
    assert len({event["monitor_id"] for event in failed}) == monitors
    assert await count(database_url, "tickets") == monitors
    # Nothing more is due at that instant: the next deadline is a minute later.
    assert await evaluate(database_url, due) == 0


async def test_a_runaway_ping_loop_is_refused_with_retry_after(database_url: str) -> None:
    async with intake_api(
        database_url, report_rate_per_second=0.01, report_rate_burst=3, **QUIET_JOBS
    ) as api:
        created = await new_monitor(api, await new_client(api))
        ping = _ping_path(created)
        for _ in range(3):
            await _ping(api, ping)
        refused = await api.get(ping)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert len((await monitor(api, created["id"]))["last_check_ins"]) == 3


async def test_a_page_of_monitors_reads_their_last_check_ins_in_one_statement(
    api: httpx.AsyncClient,
) -> None:
    client_id = await new_client(api)
    # Three monitors with 0, 4 and 14 check-ins (only the newest five are shown).
    created = [await new_monitor(api, client_id, slug=f"job-{n}") for n in range(3)]
    for number, pings in ((1, 2), (2, 7)):
        for status in ("ok", "error") * pings:
            posted = await api.post(
                f"/v1/monitors/{created[number]['id']}/check-ins",
                json={"status": status},
                headers=STAFF,
            )
            assert posted.status_code in (200, 201), posted.text
    statements: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2])
        if "monitor_check_ins" in statement:
            statements.append(statement)

    # Every engine in this process: the app's included.
    event.listen(Engine, "before_cursor_execute", record)
    try:
        listed = await api.get("/v1/monitors", params={"client_id": client_id}, headers=STAFF)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert listed.status_code == 200, listed.text
    assert len(statements) == 1, statements
    page = {item["id"]: item for item in listed.json()["items"]}
    assert set(page) == {monitor_["id"] for monitor_ in created}
    for monitor_ in created:
        alone = await monitor(api, monitor_["id"])
        assert page[monitor_["id"]]["last_check_ins"] == alone["last_check_ins"]
    assert [len(page[m["id"]]["last_check_ins"]) for m in created] == [0, 4, 5]
