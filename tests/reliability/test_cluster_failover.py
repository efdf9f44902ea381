"""Two replicas of each service on a three-broker cluster, under load; one replica of each
service and one broker are SIGKILLed mid-way. Afterwards:

- nothing acknowledged is lost: every report intake answered 201 (and every PATCH it
  answered 200) is a ticket in intake, its events are all on aftercare.tickets, and sla
  applied every one of them;
- nothing is applied twice: one inbox row per event in sla, one sla ticket per ticket;
- per-key order holds: on the topic, each ticket's events come in the order intake's
  outbox wrote them (a re-sent copy may repeat an event, never overtake a later one), and
  sla ends with the last state (the PATCHed priority);
- the outbox leader fails over (the replica of each service holding the relay lock is the
  one killed, and every outbox drains afterwards) and the consumer groups
  rebalance without skipping (sla's lag on the topic ends at 0 with every event applied);
- the timer and delivery workers fail over. The client's plan breaches every ticket's
  first-response clock a minute after it opened, and a webhook endpoint (a real receiver
  that holds each answer :data:`RECEIVER_DELAY_SECONDS`) is subscribed to
  ``ticket.created`` and ``sla.breached``. The sla and notify replicas killed during the
  load are restarted (as an orchestrator would); as the first breach comes due (whether
  or not the restarted ones are ready yet), the sla replica leading the relay is
  SIGKILLed, and then the notify replica that sent a webhook still waiting for its answer.
  Every breach not fired at the kill fires once, from another replica; every clock
  breaches once (one ``webhook-id`` per breach at the receiver); every matching event is
  delivered, and the cut-off webhook is sent again with the same ``webhook-id``.

CI form (inside `make test`): intake, sla and notify, 2 replicas each, a bounded load of
:data:`REPORTS` reports. `make chaos` sets ``AFTERCARE_CHAOS_FULL=1``: all four services,
2 replicas each, and three times the load.

Real processes throughout: three Kafka JVMs (:mod:`tests.support.kafka_cluster`), uvicorn
service processes, the test stack's Postgres, HTTP over 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from aftercare_cli.database import outbox_status
from aftercare_cli.lag import group_lag
from aftercare_shared.events import short_event_type
from aftercare_shared.names import ServiceName
from aftercare_shared.topics import TICKETS, ensure_topics
from devkit.databases import admin_token, create_migrated_database, drop_database
from devkit.service_processes import UvicornProcess, service_process
from devkit.webhook_receiver import ReceivedWebhook, WebhookReceiver
from tests.support.kafka_cluster import ThrowawayKafkaCluster, throwaway_kafka_cluster

FULL = os.environ.get("AFTERCARE_CHAOS_FULL", "").strip() == "1"
SERVICES = ("intake", "sla", "releases", "notify") if FULL else ("intake", "sla", "notify")
REPLICAS = 2
REPORTS = 180 if FULL else 60
CONCURRENCY = 4
# The kills happen once this share of the reports were sent.
KILL_AT = REPORTS // 3
CONVERGE_SECONDS = 150.0
# Every ticket's first response is due a minute after it opened (the shortest target).
BREACH_MINUTES = 1
# The receiver answers each webhook this late, so deliveries are in flight long enough
# to kill a notify replica in the middle of one.
RECEIVER_DELAY_SECONDS = 2.0
SUBSCRIBED = ("ticket.created", "sla.breached")
# The sla and notify replicas killed in the load are restarted; the breach kills take
# the second replica of each.
RESTARTED = ("sla", "notify")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.own_kafka,
    pytest.mark.timeout(720 if FULL else 480),
]

STAFF = {"Authorization": f"Bearer {admin_token()}"}
T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    give_up_at = time.monotonic() + CONVERGE_SECONDS
    while time.monotonic() < give_up_at:
        result = await probe()
        if result:
            return result
        await asyncio.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}")


def _libpq(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


@dataclass
class Deployment:
    database_url: str
    cluster: ThrowawayKafkaCluster
    replicas: dict[str, list[UvicornProcess]]
    groups: dict[str, str]
    env: dict[str, str]
    logs: Path

    def live(self, service: str) -> list[UvicornProcess]:
        return [p for p in self.replicas[service] if p.process and p.process.poll() is None]

    async def restart(self, service: str) -> UvicornProcess:
        """A new replica in place of a killed one, as an orchestrator restarts a pod."""
        number = len(self.replicas[service]) + 1
        process = service_process(service, self.logs / f"{service}-{number}.log")
        process.start(self.env)
        self.replicas[service].append(process)
        await process.wait_ready(180)
        return process

    async def sql(self, statement: str, *args: object) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(_libpq(self.database_url))
        try:
            return list(await connection.fetch(statement, *args))
        finally:
            await connection.close()


@dataclass
class LoadResult:
    acknowledged: list[str] = field(default_factory=list)
    patched: list[str] = field(default_factory=list)
    unanswered: int = 0
    retried_elsewhere: int = 0


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    started = time.monotonic()
    async with throwaway_kafka_cluster() as cluster:
        cluster_seconds = time.monotonic() - started
        await ensure_topics(
            cluster.bootstrap_servers, partitions=6, replication_factor=3, min_insync_replicas=2
        )
        database_url = await create_migrated_database(*SERVICES, prefix="chaos")
        groups = {s: f"chaos-{s}-{secrets.token_hex(3)}" for s in SERVICES}
        env = {
            "AFTERCARE_DATABASE_URL": database_url,
            "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap_servers,
            "AFTERCARE_ADMIN_TOKEN": admin_token(),
            "AFTERCARE_ENVIRONMENT": "test",
            "AFTERCARE_OUTBOX_POLL_INTERVAL_SECONDS": "0.2",
            # The receiver is on 127.0.0.1; a delivery cut by a kill is due again within
            # the lease (renewed every third of it while the attempt runs).
            "NOTIFY_SSRF_ALLOWLIST": "127.0.0.0/8",
            "NOTIFY_DELIVERY_LEASE_SECONDS": "5",
            "NOTIFY_RETRY_SCHEDULE": "0,1,2,5,10,20",
            "NOTIFY_DELIVERY_POLL_INTERVAL_SECONDS": "0.5",
            **{f"{s.upper()}_CONSUMER_GROUP": g for s, g in groups.items()},
        }
        replicas: dict[str, list[UvicornProcess]] = {s: [] for s in SERVICES}
        try:
            # Every replica at once; the test then kills, in each service, the one that
            # holds the outbox relay lock, so the relay's failover is what gets tested.
            for service in SERVICES:
                for number in range(1, REPLICAS + 1):
                    process = service_process(service, tmp_path / f"{service}-{number}.log")
                    process.start(env)
                    replicas[service].append(process)
            await asyncio.gather(*(p.wait_ready(180) for r in replicas.values() for p in r))
            deployment = Deployment(database_url, cluster, replicas, groups, env, tmp_path)
            for service in SERVICES:
                await eventually(
                    functools.partial(_relay_leader, deployment, service),
                    f"{service} relay leader",
                )
            print(  # the figure the test reports (pytest -s shows it)
                f"\nchaos set-up: cluster {cluster_seconds:.0f}s, all up after "
                f"{time.monotonic() - started:.0f}s"
            )
            yield deployment
        finally:
            for processes in replicas.values():
                for process in processes:
                    process.stop(grace_seconds=10)
            await drop_database(database_url)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    hooks = WebhookReceiver(verify_signatures=True, response_delay_seconds=RECEIVER_DELAY_SECONDS)
    await hooks.start()
    yield hooks
    await hooks.stop()


async def _relay_leader(deployment: Deployment, service: str) -> int | None:
    """The Postgres backend pid holding ``service``'s relay lock, if any."""
    status = await outbox_status(_libpq(deployment.database_url), ServiceName(service))
    return status.relay_leader_pid


async def _leading_replica(deployment: Deployment, service: str) -> UvicornProcess:
    """The replica whose database connection holds the relay lock: the backend's client
    port is a socket of exactly one of our processes (/proc, Linux)."""
    backend = await _relay_leader(deployment, service)
    rows = await deployment.sql("SELECT client_port FROM pg_stat_activity WHERE pid = $1", backend)
    assert rows, f"{service}: no relay leader"
    port = rows[0]["client_port"]
    for replica in deployment.live(service):
        if await asyncio.to_thread(_has_socket_on_local_port, replica.pid, port):
            return replica
    raise AssertionError(f"{service}: the relay leader is none of our replicas")


def _has_socket_on_local_port(pid: int, port: int) -> bool:
    inodes = _socket_inodes_on_local_port(port)
    fds = Path(f"/proc/{pid}/fd")
    return any(os.readlink(fd) in inodes for fd in fds.iterdir() if fd.is_symlink())


def _socket_inodes_on_local_port(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    return inodes


async def _client_key(deployment: Deployment) -> tuple[str, str]:
    """A client (its id) and an API key for it."""
    intake = deployment.replicas["intake"][0].url
    async with httpx.AsyncClient(headers=STAFF, timeout=20) as http:
        client = await http.post(f"{intake}/v1/clients", json={"name": "Chaos Ltd"})
        assert client.status_code == 201, client.text
        key = await http.post(f"{intake}/v1/clients/{client.json()['id']}/api-keys", json={})
        assert key.status_code == 201, key.text
    return str(client.json()["id"]), str(key.json()["key"])


async def _plan_and_endpoint(
    deployment: Deployment, client_id: str, receiver: WebhookReceiver
) -> None:
    """A plan whose first-response clocks breach after a minute, and a webhook endpoint."""
    sla = deployment.replicas["sla"][0].url
    notify = deployment.replicas["notify"][0].url
    targets = {
        priority: {"first_response_minutes": BREACH_MINUTES, "resolution_minutes": 600}
        for priority in ("P1", "P2", "P3", "P4")
    }
    async with httpx.AsyncClient(headers=STAFF, timeout=20) as http:
        plan = await http.post(f"{sla}/v1/plans", json={"name": "Chaos", "targets": targets})
        assert plan.status_code == 201, plan.text
        assigned = await http.put(
            f"{sla}/v1/clients/{client_id}/plan", json={"plan_id": plan.json()["id"]}
        )
        assert assigned.status_code == 200, assigned.text
        endpoint = await http.post(
            f"{notify}/v1/endpoints",
            json={
                "url": receiver.url,
                "channel": "webhook",
                "event_types": list(SUBSCRIBED),
                "client_id": client_id,
            },
        )
        assert endpoint.status_code == 201, endpoint.text
    receiver.secret = endpoint.json()["secret"]


async def _load(
    deployment: Deployment, api_key: str, kill: Callable[[], Awaitable[None]]
) -> LoadResult:
    """Each report, then a PATCH of its priority, spread over the live intake replicas.

    A request refused at connect time never reached a server: it is sent to another
    replica. One cut mid-flight has an unknown outcome: it is neither retried nor counted.
    """
    result = LoadResult()
    numbers = iter(range(REPORTS))
    killed = asyncio.Event()
    run_id = _letters(secrets.randbelow(26**6))

    async def send(
        method: str, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> httpx.Response | None:
        for attempt in range(4):
            live = deployment.live("intake")
            target = live[attempt % len(live)]
            try:
                return await http.request(method, f"{target.url}{path}", headers=headers, json=body)
            except httpx.ConnectError:
                result.retried_elsewhere += 1
                await asyncio.sleep(0.2)
            except httpx.HTTPError:
                result.unanswered += 1
                return None
        result.unanswered += 1
        return None

    async def worker() -> None:
        for number in numbers:
            if number == KILL_AT and not killed.is_set():
                killed.set()
                await kill()
            report = await send(
                "POST",
                "/v1/reports",
                {"Authorization": f"Bearer {api_key}"},
                # Letters only: intake groups reports whose titles differ by numbers alone.
                {"title": f"chaos {run_id} {_letters(number)}", "severity": "high"},
            )
            if report is None:
                continue
            assert report.status_code == 201, report.text
            ticket_id = report.json()["ticket_id"]
            result.acknowledged.append(ticket_id)
            patched = await send("PATCH", f"/v1/tickets/{ticket_id}", STAFF, {"priority": "P1"})
            if patched is not None:
                assert patched.status_code == 200, patched.text
                result.patched.append(ticket_id)

    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return result


def _letters(number: int) -> str:
    word = ""
    while True:
        number, digit = divmod(number, 26)
        word = "abcdefghijklmnopqrstuvwxyz"[digit] + word
        if number == 0:
            return word


async def test_killing_a_replica_of_each_service_and_a_broker_loses_and_repeats_nothing(
    deployment: Deployment, receiver: WebhookReceiver
) -> None:
    client_id, api_key = await _client_key(deployment)
    await _plan_and_endpoint(deployment, client_id, receiver)
    leaders_before = {s: await _relay_leader(deployment, s) for s in SERVICES}
    victim_broker = deployment.cluster.nodes[1]
    restarts: list[asyncio.Task[UvicornProcess]] = []
    # The timer and delivery workers are killed (with a breach due, a webhook in flight) as
    # soon as the first breach is due, a minute after the load began, whether the load or
    # the checks of the first kills are still running then (on a busy machine, either).
    second_kills: list[asyncio.Task[tuple[set[str], ReceivedWebhook]]] = []

    async def kill() -> None:
        for service in SERVICES:
            leader = await _leading_replica(deployment, service)
            assert leader.process is not None
            leader.process.kill()  # SIGKILL: no drain, no lock release, no offset commit
            leader.process.wait()
        await deployment.cluster.kill(victim_broker)
        restarts.extend(asyncio.create_task(deployment.restart(service)) for service in RESTARTED)
        second_kills.append(
            asyncio.create_task(_kill_timer_and_delivery_workers(deployment, receiver))
        )

    started = time.monotonic()
    load = await _load(deployment, api_key, kill)
    load_seconds = time.monotonic() - started
    assert len(load.acknowledged) >= REPORTS - CONCURRENCY * 2, load
    assert not deployment.cluster.nodes[1].running
    try:
        figures = await _check_the_first_kills(deployment, load, leaders_before)
        breached_before, cut_off = await second_kills[0]
        await asyncio.gather(*restarts)
    finally:
        for task in (*second_kills, *restarts):
            task.cancel()  # when a check above failed
    breaches, deliveries = await _check_breaches_and_webhooks(
        deployment, receiver, breached_before, cut_off
    )
    await eventually(
        functools.partial(_drained, deployment), "every outbox drained after the second kills"
    )

    async def caught_up() -> bool:
        lags = await group_lag(
            deployment.cluster.bootstrap_servers, list(deployment.groups.values())
        )
        ticket_lags = [lag for lag in lags if lag.topic == TICKETS]
        return bool(ticket_lags) and all(lag.lag == 0 for lag in ticket_lags)

    await eventually(caught_up, "every consumer group at the end of aftercare.tickets")
    events, duplicates = figures
    print(  # the figures the test reports (pytest -s shows them)
        f"\nchaos: {len(load.acknowledged)} reports acknowledged, {len(load.patched)} patched, "
        f"{load.unanswered} cut mid-flight, {load.retried_elsewhere} retried on the other "
        f"replica; {events} events, {duplicates} duplicate record(s) on the topic "
        f"(applied once); {breaches} breaches, {breaches - len(breached_before)} of them after the "
        f"sla kill; {deliveries} webhooks received, the cut-off one "
        f"{sum(item.webhook_id == cut_off.webhook_id for item in receiver.received)} times; "
        f"load {load_seconds:.0f}s, converged "
        f"{time.monotonic() - started - load_seconds:.0f}s later"
    )


async def _drained(deployment: Deployment) -> bool:
    rows = await deployment.sql(
        " UNION ALL ".join(
            # Schema names from this module's own constant, never input.
            f"SELECT count(*) AS n FROM {s}.outbox WHERE published_at IS NULL"  # noqa: S608
            for s in SERVICES
        )
    )
    return all(row["n"] == 0 for row in rows)


async def _check_the_first_kills(
    deployment: Deployment, load: LoadResult, leaders_before: dict[str, int | None]
) -> tuple[int, int]:
    """Nothing acknowledged lost, nothing applied twice, order kept, leaders replaced;
    returns how many ticket events there were and how many duplicate records."""
    # Acknowledged means stored: every ticket intake answered 201 for is there.
    stored = await deployment.sql(
        "SELECT id, priority FROM intake.tickets WHERE id = ANY($1::text[])", load.acknowledged
    )
    assert {row["id"] for row in stored} == set(load.acknowledged)
    assert all(row["priority"] == "P1" for row in stored if row["id"] in set(load.patched))

    await eventually(
        functools.partial(_drained, deployment), "every outbox drained by the new relay leaders"
    )
    for service in SERVICES:
        leader_after = await eventually(
            functools.partial(_relay_leader, deployment, service), f"a new {service} leader"
        )
        assert leader_after != leaders_before[service], service

    # The outbox's order per ticket, and what the topic holds.
    outbox = await deployment.sql(
        "SELECT record_key, payload FROM intake.outbox WHERE topic = $1"
        " AND record_key = ANY($2::text[]) ORDER BY id",
        TICKETS,
        load.acknowledged,
    )
    written: dict[str, list[str]] = defaultdict(list)
    for row in outbox:
        written[row["record_key"]].append(orjson.loads(row["payload"])["id"])
    assert set(written) == set(load.acknowledged)
    on_topic = await _events_per_key(deployment.cluster.bootstrap_servers, set(written))
    duplicates = 0
    for ticket_id, event_ids in written.items():
        seen = on_topic.get(ticket_id, [])
        first_seen = list(dict.fromkeys(seen))
        duplicates += len(seen) - len(first_seen)
        # First copies in the outbox's order. A relay that takes over re-sends what its
        # predecessor had not marked published, so a repeated copy may follow a later
        # event; the inbox skips it, so what is applied is exactly this order.
        assert first_seen == event_ids, f"{ticket_id}: topic {seen} vs outbox {event_ids}"

    # sla: every event applied, once, in order; its group skipped nothing.
    all_events = [event_id for ids in written.values() for event_id in ids]
    sla_group = deployment.groups["sla"]

    async def sla_applied_all() -> bool:
        rows = await deployment.sql(
            "SELECT count(*) AS n FROM sla.inbox WHERE consumer = $1"
            " AND event_id = ANY($2::text[])",
            sla_group,
            all_events,
        )
        return bool(rows[0]["n"] == len(all_events))

    await eventually(sla_applied_all, "sla applied every event of every acknowledged ticket")
    tickets = await deployment.sql(
        "SELECT ticket_id, priority FROM sla.tickets WHERE ticket_id = ANY($1::text[])",
        load.acknowledged,
    )
    assert len(tickets) == len(load.acknowledged)
    patched = set(load.patched)
    assert all(row["priority"] == "P1" for row in tickets if row["ticket_id"] in patched)

    return len(all_events), duplicates


async def _kill_timer_and_delivery_workers(
    deployment: Deployment, receiver: WebhookReceiver
) -> tuple[set[str], ReceivedWebhook]:
    breached_before = await _kill_sla_as_a_breach_comes_due(deployment)
    return breached_before, await _kill_notify_mid_delivery(deployment, receiver)


async def _kill_sla_as_a_breach_comes_due(deployment: Deployment) -> set[str]:
    """SIGKILL sla's relay leader (a timer worker, like every replica) the moment the first
    ticket's breach comes due; returns the tickets whose clock had breached by then."""
    rows = await deployment.sql(
        "SELECT EXTRACT(EPOCH FROM min(created_at) + $1 * interval '1 minute' - now())::float8"
        " AS wait FROM intake.tickets",
        BREACH_MINUTES,
    )
    wait = rows[0]["wait"]
    assert wait is not None, "no ticket yet"
    await asyncio.sleep(max(0.0, wait) + 0.05)  # until that breach is due, no longer
    await eventually(functools.partial(_relay_leader, deployment, "sla"), "an sla relay leader")
    victim = await _leading_replica(deployment, "sla")
    assert victim.process is not None
    victim.process.kill()
    victim.process.wait()
    # A batch the victim had claimed is rolled back with its connection: not breached.
    breached = await deployment.sql(
        "SELECT ticket_id FROM sla.clocks"
        " WHERE metric = 'first_response' AND breached_at IS NOT NULL"
    )
    return {row["ticket_id"] for row in breached}


async def _kill_notify_mid_delivery(
    deployment: Deployment, receiver: WebhookReceiver
) -> ReceivedWebhook:
    """SIGKILL the notify replica that sent a webhook the receiver has not answered yet."""
    give_up_at = time.monotonic() + CONVERGE_SECONDS
    while time.monotonic() < give_up_at:
        now = time.time()
        for item in reversed(receiver.received):
            # Half the receiver's delay in hand: the answer is not sent before the kill.
            if now - item.received_at > RECEIVER_DELAY_SECONDS / 2:
                break
            for replica in deployment.live("notify"):
                if await asyncio.to_thread(
                    _has_socket_on_local_port, replica.pid, item.sender_port
                ):
                    assert replica.process is not None
                    replica.process.kill()
                    replica.process.wait()
                    return item
        await asyncio.sleep(0.1)
    raise AssertionError("no webhook in flight from a notify replica")


async def _check_breaches_and_webhooks(
    deployment: Deployment,
    receiver: WebhookReceiver,
    breached_before: set[str],
    cut_off: ReceivedWebhook,
) -> tuple[int, int]:
    """Every clock breached once; every subscribed event delivered under one webhook-id."""
    tickets = {row["id"] for row in await deployment.sql("SELECT id FROM intake.tickets")}

    async def all_breached() -> bool:
        rows = await deployment.sql(
            "SELECT count(*) AS n FROM sla.clocks"
            " WHERE metric = 'first_response' AND breached_at IS NOT NULL"
        )
        return bool(rows[0]["n"] == len(tickets))

    await eventually(all_breached, "every first-response clock breached")
    events = [
        orjson.loads(row["payload"])
        for row in await deployment.sql(
            "SELECT payload FROM intake.outbox UNION ALL SELECT payload FROM sla.outbox"
        )
    ]
    breached = [
        (event["data"]["ticket_id"], event["data"]["metric"])
        for event in events
        if short_event_type(event["type"]) == "sla.breached"
    ]
    # Each clock breached exactly once; most of them after the sla kill.
    assert sorted(breached) == sorted((ticket, "first_response") for ticket in tickets)
    assert tickets - breached_before, "every clock breached before the sla kill"
    wanted = {
        event["id"]: event for event in events if short_event_type(event["type"]) in SUBSCRIBED
    }

    async def all_delivered() -> bool:
        return set(wanted) <= {item.webhook_id for item in receiver.received}

    await eventually(all_delivered, "a webhook for every subscribed event")
    assert receiver.rejected == []
    for item in receiver.received:
        # The dedupe key is the event's id, on every attempt: never two ids for one event.
        assert item.webhook_id == item.event["id"]
        assert item.webhook_id in wanted, item.event
    # The cut-off delivery was sent again by the surviving replica, under the same id.
    assert [item.webhook_id for item in receiver.received].count(cut_off.webhook_id) >= 2
    # One breach, one webhook id, at the receiver too.
    breach_ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for item in receiver.received:
        if short_event_type(item.event["type"]) == "sla.breached":
            data = item.event["data"]
            breach_ids[(data["ticket_id"], data["metric"])].add(item.webhook_id)
    assert all(len(ids) == 1 for ids in breach_ids.values()), breach_ids
    assert set(breach_ids) == set(breached)
    return len(breached), len(receiver.received)


async def _events_per_key(bootstrap_servers: str, keys: set[str]) -> dict[str, list[str]]:
    """The CloudEvent ids on aftercare.tickets for ``keys``, in offset order per key."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await consumer.start()
    found: dict[str, list[str]] = defaultdict(list)
    try:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
        await producer.start()
        try:  # a producer's metadata: the public way to learn a topic's partitions
            partitions = [
                TopicPartition(TICKETS, p) for p in await producer.partitions_for(TICKETS)
            ]
        finally:
            await producer.stop()
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    if key in keys and record.value is not None:
                        found[key].append(orjson.loads(record.value)["id"])
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return found
