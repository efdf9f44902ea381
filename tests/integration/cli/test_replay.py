"""`aftercare replay` end to end: sla's client read model is rebuilt by rewinding sla's
consumer group on aftercare.clients.

A real sla process, real Kafka and Postgres, the real console script. The story: sla's
database loses one client (as after a restore from an older backup: the row and its inbox
rows are gone) and another client's name is damaged (row wrong, inbox intact). A replay
brings back the lost client and leaves the damaged one alone (its events are in the inbox:
nothing is applied twice); a replay with --reapply repairs the damaged one too. A replay
while sla consumes is refused.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from aftercare_cli.lag import group_lag
from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import ClientCreated, ClientUpdated
from aftercare_shared.events.factory import new_event
from aftercare_shared.topics import CLIENTS, ensure_topics
from devkit.databases import (
    admin_token,
    create_migrated_database,
    drop_database,
    kafka_bootstrap_servers,
)
from devkit.kafka_groups import start_groups_at_the_end
from devkit.service_processes import UvicornProcess, service_process
from tests.integration.cli.cli_support import AftercareCli

pytestmark = pytest.mark.integration

T = TypeVar("T")
DEADLINE_SECONDS = 60.0


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    give_up_at = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < give_up_at:
        result = await probe()
        if result:
            return result
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


class SlaStack:
    def __init__(self, database_url: str, group: str, env: dict[str, str], log_dir: Any) -> None:
        self.database_url = database_url
        self.group = group
        self.env = env
        self.log_dir = log_dir
        self.starts = 0
        self.process: UvicornProcess | None = None

    async def start(self) -> None:
        self.starts += 1
        self.process = service_process("sla", self.log_dir / f"sla-{self.starts}.log")
        self.process.start(self.env)
        await self.process.wait_ready()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    async def sql(self, statement: str, *args: object) -> Any:
        connection = await asyncpg.connect("postgresql://" + self.database_url.split("://", 1)[1])
        try:
            return await connection.fetch(statement, *args)
        finally:
            await connection.close()

    async def names(self, client_ids: list[str]) -> dict[str, str]:
        rows = await self.sql(
            "SELECT client_id, name FROM sla.clients WHERE client_id = ANY($1::text[])",
            client_ids,
        )
        return {row["client_id"]: row["name"] for row in rows}


@pytest.fixture(scope="module")
async def sla(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SlaStack]:
    database_url = await create_migrated_database("sla", prefix="replay")
    await ensure_topics(kafka_bootstrap_servers(), partitions=6, replication_factor=1)
    group = f"replay-sla-{secrets.token_hex(4)}"
    await start_groups_at_the_end(group)
    env = {
        "AFTERCARE_DATABASE_URL": database_url,
        "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers(),
        "AFTERCARE_ADMIN_TOKEN": admin_token(),
        "AFTERCARE_ENVIRONMENT": "test",
        "SLA_CONSUMER_GROUP": group,
    }
    stack = SlaStack(database_url, group, env, tmp_path_factory.mktemp("replay"))
    try:
        await stack.start()
        yield stack
    finally:
        stack.stop()
        await drop_database(database_url)


@pytest.fixture(scope="module")
def cli(sla: SlaStack, tmp_path_factory: pytest.TempPathFactory) -> AftercareCli:
    empty_env_file = tmp_path_factory.mktemp("cli") / "no-stack-env"
    empty_env_file.write_text("")
    return AftercareCli(
        {
            "AFTERCARE_ENV_FILE": str(empty_env_file),
            "AFTERCARE_DATABASE_URL": sla.database_url,
            "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers(),
            "AFTERCARE_ADMIN_TOKEN": admin_token(),
            "SLA_CONSUMER_GROUP": sla.group,
        }
    )


async def _publish_client_history(client_ids: list[str]) -> list[str]:
    """What intake's relay publishes: each client created, then renamed (key = client id)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap_servers(), acks="all", enable_idempotence=True
    )
    await producer.start()
    event_ids = []
    try:
        for number, client_id in enumerate(client_ids):
            created_at = utc_now()
            for payload in (
                ClientCreated(client_id=client_id, name=f"client {number}", created_at=created_at),
                ClientUpdated(
                    client_id=client_id,
                    name=f"client {number} renamed",
                    updated_at=created_at + timedelta(seconds=1),
                ),
            ):
                event = new_event(payload, service="intake", subject=client_id)
                await producer.send_and_wait(
                    CLIENTS, value=event.to_json_bytes(), key=client_id.encode()
                )
                event_ids.append(event.id)
    finally:
        await producer.stop()
    return event_ids


async def test_replay_rebuilds_a_read_model_once_and_only_for_the_idle_service(
    sla: SlaStack, cli: AftercareCli
) -> None:
    before = utc_now() - timedelta(seconds=1)
    lost, damaged, intact = (f"replay-client-{secrets.token_hex(4)}" for _ in range(3))
    clients = [lost, damaged, intact]
    event_ids = await _publish_client_history(clients)
    expected = {client: f"client {n} renamed" for n, client in enumerate(clients)}

    async def all_applied() -> bool:
        return await sla.names(clients) == expected

    await eventually(all_applied, "sla's client read model")
    since = ("--topic", CLIENTS, "--to-service", "sla", "--since", before.isoformat())

    # Kafka moves only an idle group's offsets: with sla consuming, the tool says so.
    refused = await cli("replay", *since, "--json")
    assert refused.exit_code == 1, refused
    assert "stop every sla replica" in refused.json["error"]

    sla.stop()
    # The "restore": the lost client's row and inbox rows are gone; the damaged one's row
    # is wrong but its inbox says its events were applied.
    await sla.sql("DELETE FROM sla.clients WHERE client_id = $1", lost)
    lost_events = event_ids[0:2]
    await sla.sql(
        "DELETE FROM sla.inbox WHERE consumer = $1 AND event_id = ANY($2::text[])",
        sla.group,
        lost_events,
    )
    await sla.sql("UPDATE sla.clients SET name = 'garbled' WHERE client_id = $1", damaged)

    dry = await cli.ok_json("replay", *since, "--dry-run")
    assert dry["dry_run"] is True
    assert dry["group"] == sla.group
    assert dry["events"] >= len(event_ids)
    assert dry["to_apply"] == len(lost_events)
    assert dry["already_applied"] == dry["events"] - len(lost_events)
    assert all(p["new_offset"] <= (p["committed"] or p["end"]) for p in dry["partitions"])

    done = await cli.ok_json("replay", *since)
    assert done["records"] == dry["records"]
    assert done["to_apply"] == len(lost_events)
    lag = await cli.ok_json("consumers", "lag", "--group", sla.group)
    behind = sum(p["lag"] for p in lag["partitions"] if p["topic"] == CLIENTS)
    assert behind == done["records"]
    # Twice in a row changes nothing more: offsets only ever move back to the same place.
    again = await cli.ok_json("replay", *since)
    assert [p["new_offset"] for p in again["partitions"]] == [
        p["new_offset"] for p in done["partitions"]
    ]
    assert again["records"] == 0

    await sla.start()

    async def lost_client_back() -> dict[str, str] | None:
        names = await sla.names(clients)
        return names if names.get(lost) == expected[lost] else None

    names = await eventually(lost_client_back, "the lost client rebuilt")
    await eventually(lambda: _caught_up(sla.group), "sla caught up after the replay")
    names = await sla.names(clients)
    # Applied again only what the inbox lacked: the damaged row was not touched.
    assert names == {**expected, damaged: "garbled"}
    inbox = await sla.sql(
        "SELECT event_id, count(*) AS n FROM sla.inbox WHERE consumer = $1"
        " AND event_id = ANY($2::text[]) GROUP BY event_id",
        sla.group,
        event_ids,
    )
    assert {row["event_id"]: row["n"] for row in inbox} == dict.fromkeys(event_ids, 1)

    # --reapply: the group forgets these events and applies them once more, in order.
    sla.stop()
    reapplied = await cli.ok_json("replay", *since, "--reapply")
    assert reapplied["inbox_rows_forgotten"] == reapplied["events"]
    assert reapplied["to_apply"] == reapplied["events"]
    await sla.start()

    async def repaired() -> bool:
        return await sla.names(clients) == expected

    await eventually(repaired, "the damaged client repaired by --reapply")
    await eventually(lambda: _caught_up(sla.group), "sla caught up after --reapply")
    inbox = await sla.sql(
        "SELECT count(*) AS n FROM sla.inbox WHERE consumer = $1 AND event_id = ANY($2::text[])",
        sla.group,
        event_ids,
    )
    assert inbox[0]["n"] == len(event_ids)


async def _caught_up(group: str) -> bool:
    # Polled in-process: each run of the console script starts a Python and connects anew.
    lags = await group_lag(kafka_bootstrap_servers(), [group])
    return all(lag.lag == 0 for lag in lags if lag.topic == CLIENTS)


async def test_replay_refuses_bad_requests(sla: SlaStack, cli: AftercareCli) -> None:
    both = await cli(
        "replay", "--topic", CLIENTS, "--to-service", "sla", "--from-offset", "0", "--since",
        "1h", "--json",
    )  # fmt: skip
    assert both.exit_code == 1
    assert "exactly one of --from-offset and --since" in both.json["error"]
    unknown_topic = await cli(
        "replay", "--topic", "no.such.topic", "--to-service", "sla", "--from-offset", "0",
        "--dry-run", "--json",
    )  # fmt: skip
    assert unknown_topic.exit_code == 1
    assert "does not exist" in unknown_topic.json["error"]
    unknown_service = await cli(
        "replay", "--topic", CLIENTS, "--to-service", "billing", "--from-offset", "0", "--json"
    )
    assert unknown_service.exit_code == 1
    assert "unknown service" in unknown_service.json["error"]
