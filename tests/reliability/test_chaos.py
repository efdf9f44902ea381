"""The whole system under load while its parts are killed, and everything counted after.

Its own stack: a Postgres cluster the test owns (:mod:`tests.support.postgres_server`), a
single Kafka broker (:mod:`tests.support.kafka_broker`), the four services as uvicorn
processes, and devkit's webhook receiver in a process of its own
(:mod:`tests.support.receiver_process`) behind two endpoints subscribed to every event
(one staff-wide, one for a single client). Three clients send a paced load of reports,
unique and repeated (deduplicated into occurrences), each with an ``Idempotency-Key`` and
retried on 503, 429 and refused or cut connections, as a well-behaved client would; two
clients have a plan whose one-minute targets breach during the run.

Faults, in turn, each in a window of its own: ``kill -9`` of a service (restarted after
a few seconds), Kafka ``kill -9`` (restarted after :data:`KAFKA_DOWN_SECONDS`), Postgres
``pg_ctl restart -m immediate``, and the webhook receiver killed for
:data:`RECEIVER_DOWN_SECONDS` (notify's retry schedule is compressed by
``NOTIFY_RETRY_SCHEDULE`` so deliveries are retried, not given up, meanwhile).

After the load drains, the invariants of issue 15 are checked and a table printed
(fault → acknowledged, lost, duplicated, late, recovered in s):

- every acknowledged report is a ticket or an occurrence of one (lost: acknowledged but
  not stored, not on the topic or never delivered; duplicated: stored more often than
  acknowledged, or a ticket with two ``ticket.created`` events);
- every ticket has exactly one ``ticket.created`` on ``aftercare.tickets``, the first
  copies of each ticket's events in its outbox's order (a relay re-send may repeat an
  event with its own id, which every consumer's inbox skips);
- every ticket of a plan client has both clocks, each breached exactly once;
- every endpoint got every delivery notify made for it, each event under one
  ``webhook-id`` only (its CloudEvent id), however often it was retried;
- no record in any DLQ topic;
- while Postgres restarts intake answers only 503 problem+json with ``Retry-After``
  (never 500), and background workers log a repeated failure's traceback once per kind
  per window.

Short form (inside ``make test``): one fault of each kind (intake killed), a smaller
load, about two to three minutes. ``make chaos`` sets ``AFTERCARE_CHAOS_FULL=1``: each
of the four services killed, Kafka down 60 s, a longer load. ``AFTERCARE_CHAOS_LOG_DIR``
keeps the processes' logs and the receiver's record there.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import secrets
import shutil
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from aftercare_shared.migrations import upgrade
from aftercare_shared.topics import SERVICES as SERVICE_NAMES
from aftercare_shared.topics import TICKETS, dlq_topic, ensure_topics
from devkit.databases import admin_token
from devkit.service_processes import UvicornProcess, service_process
from tests.support.kafka_broker import ThrowawayKafkaBroker, throwaway_kafka_broker
from tests.support.postgres_server import ThrowawayPostgres, throwaway_postgres
from tests.support.receiver_process import Receipt, ReceiverProcess

FULL = os.environ.get("AFTERCARE_CHAOS_FULL", "").strip() == "1"
LOG_DIR = os.environ.get("AFTERCARE_CHAOS_LOG_DIR", "").strip()
SERVICES = ("intake", "sla", "releases", "notify")
KILLED_SERVICES = SERVICES if FULL else ("intake",)
REPORTS_PER_SECOND_PER_CLIENT = 0.8 if FULL else 0.7
DUPLICATE_SHARE = 0.3
FAULT_WINDOW_SECONDS = 25.0 if FULL else 8.0
SERVICE_DOWN_SECONDS = 3.0
KAFKA_DOWN_SECONDS = 60.0 if FULL else 10.0
RECEIVER_DOWN_SECONDS = 30.0 if FULL else 6.0
# Compressed from hours to seconds; its 53 s outlast the receiver's downtime.
RETRY_SCHEDULE = "0,1,2,3,5,8,13,21"
LATE_AFTER_SECONDS = 10.0
REQUEST_GIVE_UP_SECONDS = 300.0
REQUEST_TIMEOUT_SECONDS = 60.0
DRAIN_SECONDS = 360.0 if FULL else 150.0
TARGET_MINUTES = 1
STAFF = {"Authorization": f"Bearer {admin_token()}"}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.own_kafka,
    pytest.mark.timeout(1500 if FULL else 480),
]


def _libpq(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def _letters(number: int) -> str:
    word = ""
    while True:
        number, digit = divmod(number, 26)
        word = "abcdefghijklmnopqrstuvwxyz"[digit] + word
        if number == 0:
            return word


@dataclass
class Stack:
    postgres: ThrowawayPostgres
    broker: ThrowawayKafkaBroker
    database_url: str
    services: dict[str, UvicornProcess]
    receiver: ReceiverProcess
    env: dict[str, str]
    started_at: float = field(default_factory=time.time)

    def url(self, service: str) -> str:
        return self.services[service].url

    async def sql(self, statement: str, *args: object) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(_libpq(self.database_url))
        try:
            return list(await connection.fetch(statement, *args))
        finally:
            await connection.close()

    async def restart_service(self, service: str) -> None:
        process = self.services[service]
        # The killed process's log stays beside the new one (a start truncates its log).
        process.log_path.rename(process.log_path.with_suffix(".killed.log"))
        process.start(self.env)  # the same port: clients keep their URL
        await process.wait_ready(180)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    logs = Path(LOG_DIR) if LOG_DIR else tmp_path
    logs.mkdir(parents=True, exist_ok=True)
    set_up_started = time.monotonic()
    async with contextlib.AsyncExitStack() as exits:
        # Both at once: a JVM and initdb each take a while on a busy machine.
        postgres, broker = await asyncio.gather(
            exits.enter_async_context(throwaway_postgres()),
            exits.enter_async_context(throwaway_kafka_broker()),
        )
        connection = await asyncpg.connect(_libpq(postgres.url))
        try:
            await connection.execute('CREATE DATABASE "aftercare"')
        finally:
            await connection.close()
        database_url = postgres.url.rpartition("/")[0] + "/aftercare"
        for service in SERVICES:
            await asyncio.to_thread(upgrade, service, database_url)
        await ensure_topics(broker.bootstrap_servers, partitions=6, replication_factor=1)
        env = {
            "AFTERCARE_DATABASE_URL": database_url,
            "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "AFTERCARE_ADMIN_TOKEN": admin_token(),
            "AFTERCARE_ENVIRONMENT": "test",
            "AFTERCARE_OUTBOX_POLL_INTERVAL_SECONDS": "0.5",
            "NOTIFY_SSRF_ALLOWLIST": "127.0.0.0/8,::1/128",
            "NOTIFY_RETRY_SCHEDULE": RETRY_SCHEDULE,
        }
        receiver = ReceiverProcess(logs / "receiver.jsonl", logs / "receiver.log")
        receiver.record.unlink(missing_ok=True)
        services = {s: service_process(s, logs / f"{s}.log") for s in SERVICES}
        try:
            receiver.start()
            await asyncio.to_thread(receiver.wait_listening)
            for process in services.values():
                process.start(env)
            await asyncio.gather(*(p.wait_ready(180) for p in services.values()))
            print(f"\nchaos set-up: {time.monotonic() - set_up_started:.0f}s")
            yield Stack(postgres, broker, database_url, services, receiver, env)
        finally:
            for process in services.values():
                process.stop(grace_seconds=10)
            receiver.kill()
            if LOG_DIR:
                shutil.copy(postgres.log_path, logs / "postgres.log")


# --- the load --------------------------------------------------------------------------


@dataclass
class Report:
    client: str
    title: str
    phase: str
    sent_at: float
    acked_at: float | None = None
    ticket_id: str | None = None
    deduplicated: bool = False


@dataclass
class Load:
    reports: list[Report] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    refused_connections: int = 0
    cut_connections: int = 0
    bad_outage_answers: list[str] = field(default_factory=list)
    phase: str = "no fault"
    stopping: bool = False


async def _send_report(
    http: httpx.AsyncClient, stack: Stack, load: Load, key: str, report: Report
) -> None:
    """One logical report, retried with the same Idempotency-Key until answered: 201 a
    new ticket, 200 an occurrence of an open one."""
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())}
    body = {"title": report.title, "severity": "high"}
    give_up_at = time.monotonic() + REQUEST_GIVE_UP_SECONDS
    backoff = 0.5  # doubling to 8 s: a restarted intake is not met by every client at once
    while time.monotonic() < give_up_at:
        try:
            answer = await http.post(
                f"{stack.url('intake')}/v1/reports", headers=headers, json=body
            )
        except httpx.ConnectError:
            load.refused_connections += 1
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, 8.0)
            continue
        except httpx.TransportError:  # cut mid-flight: the outcome is unknown, so retry
            load.cut_connections += 1
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, 8.0)
            continue
        load.statuses[answer.status_code] += 1
        if answer.status_code in (200, 201):  # 200: an occurrence of an open ticket
            report.acked_at = time.time()
            report.ticket_id = answer.json()["ticket_id"]
            report.deduplicated = answer.json()["deduplicated"]
            return
        if answer.status_code in (429, 503):
            if answer.status_code == 503 and not (
                answer.headers.get("content-type", "").startswith("application/problem+json")
                and answer.headers.get("retry-after")
            ):
                load.bad_outage_answers.append(f"{answer.headers} {answer.text}")
            await asyncio.sleep(min(float(answer.headers.get("retry-after", "1")), 2.0))
            continue
        raise AssertionError(f"intake answered {answer.status_code}: {answer.text}")


async def _client(
    http: httpx.AsyncClient, stack: Stack, load: Load, name: str, key: str, run_id: str
) -> None:
    """Paced reports; some repeat one of this client's earlier titles (an occurrence)."""
    rng = random.Random(name)
    titles: list[str] = []
    sending: list[asyncio.Task[None]] = []
    interval = 1.0 / REPORTS_PER_SECOND_PER_CLIENT
    number = 0
    while not load.stopping:
        if titles and rng.random() < DUPLICATE_SHARE:
            title = rng.choice(titles)
        else:
            # Letters only: intake groups titles that differ by numbers alone.
            title = f"chaos {run_id} {name} {_letters(number)}"
            number += 1
            titles.append(title)
        report = Report(name, title, load.phase, time.time())
        load.reports.append(report)
        sending.append(asyncio.create_task(_send_report(http, stack, load, key, report)))
        await asyncio.sleep(interval)
    await asyncio.gather(*sending)


# --- the faults ------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    inject: Callable[[], Awaitable[None]]
    heal: Callable[[], Awaitable[None]]
    down_seconds: float
    injected_at: float = 0.0
    healed_at: float = 0.0


def _faults(stack: Stack) -> list[Fault]:
    faults: list[Fault] = []
    for service in KILLED_SERVICES:

        async def kill(service: str = service) -> None:
            process = stack.services[service].process
            assert process is not None
            process.kill()  # SIGKILL: no drain, no lock release, no offset commit
            process.wait()

        async def restart(service: str = service) -> None:
            await stack.restart_service(service)

        faults.append(Fault(f"kill -9 {service}", kill, restart, SERVICE_DOWN_SECONDS))

    async def kill_kafka() -> None:
        await stack.broker.stop(crash=True)

    async def restart_kafka() -> None:
        await stack.broker.start(within_seconds=240)

    faults.append(Fault("kill -9 Kafka", kill_kafka, restart_kafka, KAFKA_DOWN_SECONDS))

    async def nothing() -> None:
        return None

    faults.append(
        Fault("Postgres restart -m immediate", stack.postgres.restart_immediately, nothing, 0.0)
    )

    async def kill_receiver() -> None:
        stack.receiver.kill()

    async def restart_receiver() -> None:
        stack.receiver.start()
        await asyncio.to_thread(stack.receiver.wait_listening)

    faults.append(
        Fault("webhook receiver down", kill_receiver, restart_receiver, RECEIVER_DOWN_SECONDS)
    )
    return faults


async def _run_faults(load: Load, faults: list[Fault]) -> None:
    load.phase = "no fault"
    await asyncio.sleep(FAULT_WINDOW_SECONDS / 2)
    for fault in faults:
        load.phase = fault.name
        fault.injected_at = time.time()
        await fault.inject()
        await asyncio.sleep(fault.down_seconds)
        await fault.heal()
        fault.healed_at = time.time()
        await asyncio.sleep(FAULT_WINDOW_SECONDS)
    load.phase = "after the faults"
    await asyncio.sleep(FAULT_WINDOW_SECONDS / 2)


# --- set-up through the API ------------------------------------------------------------


async def _onboard(http: httpx.AsyncClient, stack: Stack) -> tuple[dict[str, str], dict[str, str]]:
    """Three clients (two with a one-minute plan) and their keys; two endpoints."""
    intake, sla, notify = stack.url("intake"), stack.url("sla"), stack.url("notify")
    targets = {
        priority: {"first_response_minutes": TARGET_MINUTES, "resolution_minutes": TARGET_MINUTES}
        for priority in ("P1", "P2", "P3", "P4")
    }
    plan = await http.post(
        f"{sla}/v1/plans", headers=STAFF, json={"name": "Chaos minute", "targets": targets}
    )
    assert plan.status_code == 201, plan.text
    clients: dict[str, str] = {}
    keys: dict[str, str] = {}
    for name in ("plan-a", "plan-b", "free"):
        client = await http.post(f"{intake}/v1/clients", headers=STAFF, json={"name": name})
        assert client.status_code == 201, client.text
        clients[name] = client.json()["id"]
        key = await http.post(f"{intake}/v1/clients/{clients[name]}/api-keys", headers=STAFF)
        assert key.status_code == 201, key.text
        keys[name] = key.json()["key"]
        if name.startswith("plan"):
            assigned = await http.put(
                f"{sla}/v1/clients/{clients[name]}/plan",
                headers=STAFF,
                json={"plan_id": plan.json()["id"]},
            )
            assert assigned.status_code == 200, assigned.text
    for path, scope in (("/hooks/all", {}), ("/hooks/plan-a", {"client_id": clients["plan-a"]})):
        endpoint = await http.post(
            f"{notify}/v1/endpoints",
            headers=STAFF,
            # The path doubles as the description: the stored URL is sealed at rest.
            json={
                "url": stack.receiver.url(path),
                "description": path,
                "event_types": ["*"],
                **scope,
            },
        )
        assert endpoint.status_code == 201, endpoint.text

    # The plan must be known to sla before the first report, or a ticket starts no clock.
    async def plans_known() -> bool:
        rows = await stack.sql("SELECT count(*) AS n FROM sla.client_plans")
        return bool(rows[0]["n"] == 2)

    await _eventually(plans_known, "sla to know both plan assignments", 60)
    return clients, keys


async def _eventually(condition: Callable[[], Awaitable[bool]], what: str, within: float) -> None:
    give_up_at = time.monotonic() + within
    while not await condition():
        if time.monotonic() > give_up_at:
            raise AssertionError(f"gave up after {within:.0f}s waiting for {what}")
        await asyncio.sleep(1.0)


# --- reading back what happened --------------------------------------------------------


async def _topic_records(bootstrap_servers: str, topic: str) -> list[Any]:
    """Every record of ``topic`` from the beginning to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await consumer.start()
    records: list[Any] = []
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, partition_records in batch.items():
                records.extend(partition_records)
                if partition_records and partition_records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return records


async def _dlq_records(bootstrap_servers: str) -> dict[str, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        counts = {}
        for service in SERVICE_NAMES:
            topic = dlq_topic(service)
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
            ]
            starts = await consumer.beginning_offsets(partitions)
            ends = await consumer.end_offsets(partitions)
            counts[topic] = sum(ends[tp] - starts[tp] for tp in partitions)
        return counts
    finally:
        await consumer.stop()


@dataclass
class Row:
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    late: int = 0
    recovered_seconds: float | None = None


def _log_entries(log: Path) -> list[dict[str, Any]]:
    """The structured (JSON) lines of a service's log."""
    entries = []
    for line in log.read_bytes().splitlines() if log.exists() else []:
        if line.startswith(b"{"):
            with contextlib.suppress(orjson.JSONDecodeError):
                entries.append(orjson.loads(line))
    return entries


def _log_counts(log: Path, event: str) -> Counter[str]:
    """How many lines of ``event`` the log has, per exception kind."""
    counts: Counter[str] = Counter()
    for entry in _log_entries(log):
        if entry.get("event") == event:
            kind = str(entry.get("exception", "")).strip().splitlines()[-1:] or [""]
            counts[kind[0].split(":")[0]] += 1
    return counts


async def test_chaos_loses_and_duplicates_nothing(stack: Stack) -> None:
    run_id = _letters(secrets.randbelow(26**6))
    load = Load()
    faults = _faults(stack)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS) as http:
        clients, keys = await _onboard(http, stack)
        load_started = time.time()
        senders = [
            asyncio.create_task(_client(http, stack, load, name, key, run_id))
            for name, key in keys.items()
        ]
        try:
            await _run_faults(load, faults)
        finally:
            load.stopping = True
            await asyncio.gather(*senders)
    load_seconds = time.time() - load_started
    acked = [r for r in load.reports if r.ticket_id is not None]
    assert len(acked) == len(load.reports), "a report was never acknowledged in time"
    assert load.statuses[500] == 0, load.statuses
    assert not load.bad_outage_answers, load.bad_outage_answers[:3]
    ticket_ids = {r.ticket_id for r in acked if r.ticket_id}
    plan_clients = {clients["plan-a"], clients["plan-b"]}

    # Drained: every outbox published, every delivery done, every plan clock breached.
    async def drained() -> bool:
        outboxes = await stack.sql(
            " UNION ALL ".join(
                f"SELECT count(*) AS n FROM {s}.outbox WHERE published_at IS NULL"  # noqa: S608
                for s in SERVICES
            )
        )
        # notify consumes every topic and stores every event it fans out, so an event
        # published but not yet in notify.messages is still on its way.
        unseen = await stack.sql(
            " UNION ALL ".join(
                f"SELECT count(*) AS n FROM {s}.outbox o WHERE NOT EXISTS"  # noqa: S608
                " (SELECT 1 FROM notify.messages m WHERE m.id = o.event_id)"
                for s in SERVICES
            )
        )
        pending = await stack.sql(
            "SELECT count(*) AS n FROM notify.deliveries WHERE status <> 'succeeded'"
        )
        unbreached = await stack.sql(
            "SELECT count(*) AS n FROM sla.tickets t WHERE t.ticket_id = ANY($1::text[])"
            " AND (SELECT count(*) FROM sla.clocks c WHERE c.ticket_id = t.ticket_id"
            "      AND c.breached_at IS NOT NULL) < 2",
            [r.ticket_id for r in acked if r.client.startswith("plan")],
        )
        return (
            all(row["n"] == 0 for row in outboxes)
            and all(row["n"] == 0 for row in unseen)
            and pending[0]["n"] == 0
            and unbreached[0]["n"] == 0
        )

    drain_started = time.time()
    await _eventually(drained, "outboxes, deliveries and breaches to drain", DRAIN_SECONDS)
    drain_seconds = time.time() - drain_started

    # 1. Acknowledged reports against what intake stored.
    stored = {
        row["id"]: row
        for row in await stack.sql(
            "SELECT id, client_id, occurrences FROM intake.tickets WHERE id = ANY($1::text[])",
            list(ticket_ids),
        )
    }
    acked_per_ticket = Counter(r.ticket_id for r in acked)

    # 2. ticket.created on the topic, once per ticket; first copies in the outbox's order.
    outbox = await stack.sql(
        "SELECT record_key, payload FROM intake.outbox WHERE topic = $1 ORDER BY id", TICKETS
    )
    written: dict[str, list[str]] = defaultdict(list)
    for row in outbox:
        written[row["record_key"]].append(orjson.loads(row["payload"])["id"])
    on_topic: dict[str, list[str]] = defaultdict(list)
    created_ids: dict[str, set[str]] = defaultdict(set)
    for record in await _topic_records(stack.broker.bootstrap_servers, TICKETS):
        event = orjson.loads(record.value)
        key = record.key.decode() if record.key else ""
        on_topic[key].append(event["id"])
        if event["type"] == "aftercare.ticket.created.v1":
            created_ids[key].add(event["id"])
    resent_copies = 0
    out_of_order = []
    for key, event_ids in written.items():
        seen = on_topic.get(key, [])
        resent_copies += len(seen) - len(set(seen))
        if list(dict.fromkeys(seen)) != event_ids:
            out_of_order.append(key)

    # 3. Clocks of plan clients' tickets, and their breaches on sla's outbox.
    clocks = await stack.sql(
        "SELECT ticket_id, metric, breached_at FROM sla.clocks WHERE ticket_id = ANY($1::text[])",
        list(ticket_ids),
    )
    clock_metrics: dict[str, set[str]] = defaultdict(set)
    for row in clocks:
        clock_metrics[row["ticket_id"]].add(row["metric"])
    breaches: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in await stack.sql("SELECT payload FROM sla.outbox"):
        event = orjson.loads(row["payload"])
        if event["type"] == "aftercare.sla.breached.v1":
            breaches[(event["data"]["ticket_id"], event["data"]["metric"])].add(event["id"])

    # 4. Webhooks: every delivery notify made arrived, under its event's id only.
    receipts = stack.receiver.receipts()
    ids_per_event: dict[tuple[str, str], set[str | None]] = defaultdict(set)
    first_receipt: dict[tuple[str, str], Receipt] = {}
    for receipt in receipts:
        event_key = (receipt.path, str(receipt.event.get("id")))
        ids_per_event[event_key].add(receipt.webhook_id)
        first_receipt.setdefault(event_key, receipt)
    two_ids = [key for key, ids in ids_per_event.items() if ids != {key[1]}]
    deliveries = await stack.sql(
        "SELECT e.description AS path, d.message_id, d.attempt_count FROM notify.deliveries d"
        " JOIN notify.endpoints e ON e.id = d.endpoint_id"
    )
    undelivered = [
        (row["path"], row["message_id"])
        for row in deliveries
        if (row["path"], row["message_id"]) not in first_receipt
    ]
    retried_deliveries = sum(1 for row in deliveries if row["attempt_count"] > 1)
    redelivered_same_id = len(receipts) - len(first_receipt)
    sla_outbox_breach_ids = {i for ids in breaches.values() for i in ids}
    breach_webhooks_missing = [
        i for i in sla_outbox_breach_ids if ("/hooks/all", i) not in first_receipt
    ]

    # 5. Dead letters.
    dlq = await _dlq_records(stack.broker.bootstrap_servers)

    # The table: each report counts in the window it was sent in.
    rows: dict[str, Row] = {"no fault": Row()}
    rows.update({fault.name: Row() for fault in faults})
    rows["after the faults"] = Row()
    first_report_of_ticket: dict[str, Report] = {}
    for report in acked:
        assert report.ticket_id is not None
        first_report_of_ticket.setdefault(report.ticket_id, report)
    counted_duplicates: set[str] = set()
    lost_reasons: Counter[str] = Counter()
    for report in acked:
        assert report.ticket_id is not None
        assert report.acked_at is not None
        row = rows[report.phase]
        row.acknowledged += 1
        ticket = report.ticket_id
        created = sorted(created_ids.get(ticket, set()))
        delivered = [first_receipt.get(("/hooks/all", i)) for i in created]
        if ticket not in stored or not created or not all(delivered):
            row.lost += 1
            lost_reasons[
                "not stored"
                if ticket not in stored
                else "no ticket.created on the topic"
                if not created
                else "ticket.created not delivered"
            ] += 1
            continue
        if ticket not in counted_duplicates and (
            stored[ticket]["occurrences"] > acked_per_ticket[ticket] or len(created) > 1
        ):
            counted_duplicates.add(ticket)
            row.duplicated += 1
        if first_report_of_ticket[ticket] is report:
            first_delivery = delivered[0]
            assert first_delivery is not None
            if first_delivery.received_at - report.acked_at > LATE_AFTER_SECONDS:
                row.late += 1
    for fault in faults:
        after = [
            first_receipt[("/hooks/all", sorted(created_ids[r.ticket_id])[0])].received_at
            for r in first_report_of_ticket.values()
            if r.sent_at >= fault.injected_at
            and r.ticket_id in created_ids
            and ("/hooks/all", sorted(created_ids[r.ticket_id])[0]) in first_receipt
        ]
        if after:
            rows[fault.name].recovered_seconds = min(after) - fault.injected_at

    header = f"{'fault':<32}{'acknowledged':>13}{'lost':>6}{'duplicated':>11}{'late':>6}"
    lines = [header + f"{'recovered in s':>16}"]
    for name, row in rows.items():
        recovered = "—" if row.recovered_seconds is None else f"{row.recovered_seconds:.1f}"
        lines.append(
            f"{name:<32}{row.acknowledged:>13}{row.lost:>6}{row.duplicated:>11}{row.late:>6}"
            f"{recovered:>16}"
        )
    print(  # the figures the test reports (pytest -s shows them)
        f"\nchaos ({'full' if FULL else 'short'} form): {len(acked)} reports acknowledged "
        f"({len(ticket_ids)} tickets) in {load_seconds:.0f}s, drained {drain_seconds:.0f}s "
        f"later; answers {dict(load.statuses)}, {load.refused_connections} refused and "
        f"{load.cut_connections} cut connections retried; {resent_copies} re-sent record "
        f"copies on {TICKETS} (same ids); {len(deliveries)} deliveries "
        f"({retried_deliveries} retried), {redelivered_same_id} received again under the same "
        f"webhook-id; 'late' = ticket.created webhook more than {LATE_AFTER_SECONDS:.0f}s "
        f"after the answer\n" + "\n".join(lines)
    )

    # The invariants.
    assert sum(row.lost for row in rows.values()) == 0, lost_reasons
    assert sum(row.duplicated for row in rows.values()) == 0
    assert not out_of_order, out_of_order[:5]
    for ticket in ticket_ids:
        assert len(created_ids.get(ticket or "", set())) == 1, ticket
    plan_tickets = {
        r.ticket_id
        for r in acked
        if r.ticket_id and stored[r.ticket_id]["client_id"] in plan_clients
    }
    assert plan_tickets
    for ticket in plan_tickets:
        assert clock_metrics[ticket] == {"first_response", "resolution"}, ticket
        for metric in ("first_response", "resolution"):
            assert len(breaches[(ticket, metric)]) == 1, (
                ticket,
                metric,
                breaches[(ticket, metric)],
            )
    assert not two_ids, two_ids[:5]
    assert not undelivered, undelivered[:5]
    assert not breach_webhooks_missing, breach_webhooks_missing[:5]
    plan_a_created = [
        ("/hooks/plan-a", i)
        for r in first_report_of_ticket.values()
        if r.client == "plan-a"
        for i in created_ids[r.ticket_id or ""]
    ]
    assert all(key in first_receipt for key in plan_a_created)
    assert all(n == 0 for n in dlq.values()), dlq

    # Outage logging: each refused request logged once, and the background workers'
    # repeated failures once per kind per 30 s window (plus one after it, with a count).
    windows = math.ceil((time.time() - stack.started_at) / 30) + 1
    for service, process in stack.services.items():
        for event in (
            "periodic job round failed",
            "outbox relay interrupted; retrying",
            "worker crashed; restarting",
        ):
            for kind, count in _log_counts(process.log_path, event).items():  # since a kill
                # Per worker; a service runs a few of each at most.
                assert count <= windows * 8, (service, event, kind, count)
        unhandled = _log_counts(process.log_path, "unhandled error")
        assert not unhandled, (service, unhandled)
    # Each 503 intake answered a report is one WARNING line, with no traceback.
    outage_lines = [
        entry
        for entry in _log_entries(stack.services["intake"].log_path)
        if entry.get("event") == "dependency unavailable" and entry.get("path") == "/v1/reports"
    ]
    assert not [entry for entry in outage_lines if "exception" in entry]
    assert load.statuses[503] <= len(outage_lines) <= load.statuses[503] + load.cut_connections
