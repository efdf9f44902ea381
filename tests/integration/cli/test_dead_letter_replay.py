"""`aftercare dlq` end to end: a ticket.created that sla could not apply because a table it
needs was missing is dead-lettered; replayed while still broken it lands in the DLQ again
(once, not in a loop); once the table is back, the replay applies it exactly once.

Real intake and sla processes, real Kafka and Postgres, the real console script.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest

from aftercare_cli.dead_letters import DeadLetterFilter, read_dead_letters
from aftercare_shared.names import ServiceName
from devkit.databases import (
    admin_token,
    drop_database,
    kafka_bootstrap_servers,
)
from devkit.isolated_services import isolated_services
from devkit.service_processes import UvicornProcess, service_process
from tests.integration.cli.cli_support import AftercareCli
from tests.support.infra import holds_for

pytestmark = pytest.mark.integration

SERVICES = ("intake", "sla")
STAFF = {"Authorization": f"Bearer {admin_token()}"}
DEADLINE_SECONDS = 60.0
GOLD_TARGETS = {
    p: {"first_response_minutes": 60, "resolution_minutes": 480} for p in ("P1", "P2", "P3", "P4")
}

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, deadline: float = DEADLINE_SECONDS
) -> T:
    give_up_at = time.monotonic() + deadline
    while time.monotonic() < give_up_at:
        result = await probe()
        if result:
            return result
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _libpq(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


class Stack:
    def __init__(self, database_url: str, groups: dict[str, str], processes: dict[str, Any]):
        self.database_url = database_url
        self.groups = groups
        self.processes: dict[str, UvicornProcess] = processes

    def url(self, service: str) -> str:
        return self.processes[service].url

    async def sql(self, statement: str, *args: object) -> Any:
        connection = await asyncpg.connect(_libpq(self.database_url))
        try:
            return await connection.fetch(statement, *args)
        finally:
            await connection.close()


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp_path = tmp_path_factory.mktemp("cli-stack")
    isolated = await isolated_services(SERVICES, prefix="cli")
    database_url, groups = isolated.database_url, isolated.groups
    env = {
        **isolated.settings(),
        "AFTERCARE_OUTBOX_POLL_INTERVAL_SECONDS": "0.5",
        # Two quick tries, then the DLQ: the missing table will not come back by itself.
        "AFTERCARE_CONSUMER_MAX_ATTEMPTS": "2",
        "AFTERCARE_CONSUMER_RETRY_BACKOFF_SECONDS": "0.05",
    }
    processes = {name: service_process(name, tmp_path / f"{name}.log") for name in SERVICES}
    try:
        for process in processes.values():
            process.start(env)
        await asyncio.gather(*(p.wait_ready() for p in processes.values()))
        yield Stack(database_url, groups, processes)
    finally:
        for process in processes.values():
            process.stop()
        await drop_database(database_url)


@pytest.fixture(scope="module")
def cli(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AftercareCli:
    empty_env_file = tmp_path_factory.mktemp("cli") / "no-stack-env"
    empty_env_file.write_text("")
    return AftercareCli(
        {
            "AFTERCARE_ENV_FILE": str(empty_env_file),
            "AFTERCARE_DATABASE_URL": stack.database_url,
            "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers(),
            "AFTERCARE_ADMIN_TOKEN": admin_token(),
            "INTAKE_URL": stack.url("intake"),
            "SLA_URL": stack.url("sla"),
            **{f"{name.upper()}_CONSUMER_GROUP": group for name, group in stack.groups.items()},
        }
    )


async def _client_with_plan(stack: Stack, cli: AftercareCli) -> tuple[str, str]:
    """A client on a 24x7 plan, and an API key issued with `aftercare keys issue`."""
    async with httpx.AsyncClient(headers=STAFF, timeout=10) as http:
        client = (
            await http.post(f"{stack.url('intake')}/v1/clients", json={"name": "Acme"})
        ).json()
        plan = (
            await http.post(
                f"{stack.url('sla')}/v1/plans", json={"name": "Gold", "targets": GOLD_TARGETS}
            )
        ).json()
        assigned = await http.put(
            f"{stack.url('sla')}/v1/clients/{client['id']}/plan", json={"plan_id": plan["id"]}
        )
        assert assigned.status_code == 200, assigned.text
    key = await cli.ok_json("keys", "issue", "--client", client["id"], "--name", "monitor")
    assert key["key"].startswith("ak_")
    return client["id"], key["key"]


async def _report(stack: Stack, api_key: str) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(
            f"{stack.url('intake')}/v1/reports",
            headers={"Authorization": f"Bearer {api_key}"},
            json={"title": "Checkout fails", "severity": "critical"},
        )
    assert answer.status_code == 201, answer.text
    ticket_id: str = answer.json()["ticket_id"]
    return ticket_id


async def test_dead_letter_is_replayed_once_after_the_cause_is_fixed(
    stack: Stack, cli: AftercareCli
) -> None:
    group = stack.groups["sla"]
    _client_id, api_key = await _client_with_plan(stack, cli)
    # What sla needs to start a ticket's clocks goes missing (say, a migration not applied).
    await stack.sql("ALTER TABLE sla.clock_timers RENAME TO clock_timers_missing")
    ticket_id = await _report(stack, api_key)
    dlq_args = ("--service", "sla", "--group", group, "--type", "ticket.created")

    async def dead_letters() -> list[dict[str, Any]]:
        listed = await cli.ok_json("dlq", "list", *dlq_args)
        return [d for d in listed["dead_letters"] if d["subject"] == ticket_id]

    async def dead_letter_count() -> int:
        # Read in-process (each CLI run starts a Python and connects to Kafka).
        letters = await read_dead_letters(
            kafka_bootstrap_servers(), [ServiceName.SLA], DeadLetterFilter(consumer_group=group)
        )
        return len([d for d in letters if d.subject == ticket_id])

    async def dead_lettered(count: int) -> bool:
        return await dead_letter_count() >= count

    async def dead_lettered_exactly(count: int) -> bool:
        return await dead_letter_count() == count

    await eventually(lambda: dead_lettered(1), "the ticket.created dead letter")
    first = (await dead_letters())[0]
    assert first["event_type"] == "aftercare.ticket.created.v1"
    assert first["consumer_group"] == group
    assert first["source_topic"] == "aftercare.tickets"
    assert first["attempts"] == 2
    assert "clock_timers" in first["error_message"]
    assert first["replay_count"] == 0
    shown = await cli.ok_json("dlq", "show", first["position"])
    assert shown["value"]["id"] == first["event_id"]
    assert shown["headers"]["dlq-service"] == "sla"

    # Replayed before the cause is fixed: it fails again and is dead-lettered again, once.
    replayed = await cli.ok_json("dlq", "replay", *dlq_args)
    assert [r["position"] for r in replayed["replayed"]] == [first["position"]]
    await eventually(lambda: dead_lettered(2), "the replayed record back in the DLQ")
    # A loop would keep adding copies: watched for 3 s, many times one retry round.
    await holds_for(lambda: dead_lettered_exactly(2), seconds=3.0, message="two DLQ records")
    both = await dead_letters()
    assert len(both) == 2
    again = both[-1]
    assert again["event_id"] == first["event_id"]
    assert again["replay_count"] == 1
    assert again["replayed_from"] == first["position"]
    assert await stack.sql("SELECT 1 FROM sla.tickets WHERE ticket_id = $1", ticket_id) == []

    # The cause is fixed; a dry run sends nothing and names the one record to send.
    await stack.sql("ALTER TABLE sla.clock_timers_missing RENAME TO clock_timers")
    dry = await cli.ok_json("dlq", "replay", *dlq_args, "--dry-run")
    assert [r["position"] for r in dry["would_replay"]] == [again["position"]]

    async def not_applied() -> bool:
        rows = await stack.sql("SELECT 1 FROM sla.tickets WHERE ticket_id = $1", ticket_id)
        return not rows

    # A dry run sends nothing: sla's consumer (polling every fraction of a second) gets
    # nothing to apply in a 2 s window.
    await holds_for(not_applied, seconds=2.0, message="nothing applied")

    fixed = await cli.ok_json("dlq", "replay", *dlq_args)
    assert [r["event_id"] for r in fixed["replayed"]] == [first["event_id"]]

    async def clocks() -> list[dict[str, Any]] | None:
        async with httpx.AsyncClient(headers=STAFF, timeout=10) as http:
            answer = await http.get(f"{stack.url('sla')}/v1/tickets/{ticket_id}/sla")
        return answer.json()["clocks"] if answer.status_code == 200 else None

    started = await eventually(clocks, "the ticket's SLA clocks")
    assert sorted(c["metric"] for c in started) == ["first_response", "resolution"]

    # Once applied, the event is in sla's inbox: another replay sends nothing.
    after = await cli.ok_json("dlq", "replay", *dlq_args)
    assert after["replayed"] == []
    assert {s["reason"] for s in after["skipped"]} == {"already applied (in the inbox)"}
    inbox = await stack.sql(
        "SELECT 1 FROM sla.inbox WHERE consumer = $1 AND event_id = $2", group, first["event_id"]
    )
    assert len(inbox) == 1
    rows = await stack.sql("SELECT metric FROM sla.clocks WHERE ticket_id = $1", ticket_id)
    assert len(rows) == 2
    assert len(await dead_letters()) == 2


async def test_ops_commands_report_outbox_lag_keys_and_tokens(
    stack: Stack, cli: AftercareCli
) -> None:
    client_id, api_key = await _client_with_plan(stack, cli)
    await _report(stack, api_key)

    async def drained() -> bool:
        rows = await stack.sql(
            "SELECT (SELECT count(*) FROM intake.outbox WHERE published_at IS NULL)"
            " + (SELECT count(*) FROM sla.outbox WHERE published_at IS NULL) AS backlog"
        )
        return bool(rows[0]["backlog"] == 0)

    await eventually(drained, "both outboxes drained")
    status = await cli.ok_json("outbox", "status", "--service", "intake", "--service", "sla")
    outboxes = status["outboxes"]
    assert [o["backlog"] for o in outboxes] == [0, 0]
    intake_outbox = next(o for o in outboxes if o["service"] == "intake")
    assert intake_outbox["published_total"] >= 3  # client, key issued, ticket
    assert intake_outbox["relay_leader_pid"] is not None

    async def caught_up() -> dict[str, Any] | None:
        lag = await cli.ok_json("consumers", "lag", "--service", "sla")
        await asyncio.sleep(1)
        # The group starts with offsets on every event topic; sla reads these two.
        read = [
            p for p in lag["partitions"] if p["topic"] in ("aftercare.tickets", "aftercare.clients")
        ]
        return lag if read and all(p["lag"] == 0 for p in read) else None

    lag = await eventually(caught_up, "sla's group caught up")
    assert all(p["group"] == stack.groups["sla"] for p in lag["partitions"])
    assert lag["total_lag"][stack.groups["sla"]] == sum(p["lag"] for p in lag["partitions"])

    keys = await cli.ok_json("keys", "list", "--client", client_id)
    assert [k["name"] for k in keys["items"]] == ["monitor"]
    assert all("key" not in k for k in keys["items"])
    revoked = await cli.ok_json("keys", "revoke", keys["items"][0]["id"])
    assert revoked == {"revoked": keys["items"][0]["id"]}

    token = await cli.ok_json("staff-tokens", "issue", "--subject", "ops@example.com")
    assert token["token"].startswith("ast_")
    with_token = AftercareCli({**cli.env, "AFTERCARE_STAFF_TOKEN": token["token"]})
    assert (await with_token.ok_json("keys", "list", "--client", client_id))["items"]
    listed = await cli.ok_json("staff-tokens", "list")
    assert [item["id"] for item in listed["items"]] == [token["id"]]
    assert await cli.ok_json("staff-tokens", "revoke", token["id"]) == {"revoked": token["id"]}
    assert (await with_token("keys", "list", "--client", client_id, "--json")).exit_code != 0

    status = await cli.ok_json("stack", "status")
    assert status["healthy"] is True
    assert [(s["service"], s["state"]) for s in status["services"]] == [
        ("intake", "ready"),
        ("sla", "ready"),
    ]


async def test_failures_exit_non_zero_with_a_reason(stack: Stack, cli: AftercareCli) -> None:
    missing = await cli("keys", "revoke", "no-such-key", "--json")
    assert missing.exit_code == 1
    assert "404" in missing.json["error"]

    bad_position = await cli("dlq", "show", "aftercare.sla.dlq/x/1", "--json")
    assert bad_position.exit_code == 1
    assert "partition" in bad_position.json["error"]

    wrong_token = AftercareCli({**cli.env, "AFTERCARE_STAFF_TOKEN": "ast_forged.token"})
    refused = await wrong_token("keys", "list", "--client", "c", "--json")
    assert refused.exit_code == 1
    assert "401" in refused.json["error"]

    no_kafka = AftercareCli({**cli.env, "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    down = await no_kafka("dlq", "list", "--json")
    assert down.exit_code == 1

    # Last test of the module: the stack status says what is down, with exit code 1.
    stack.processes["sla"].stop()
    degraded = await cli("stack", "status", "--json")
    assert degraded.exit_code == 1
    states = {s["service"]: s["state"] for s in degraded.json["services"]}
    assert states["intake"] == "ready"
    assert states["sla"].startswith("down")
