"""``python -m aftercare_sla.reports rebuild`` replays the topics into fresh read models that
yield the same figures as the live consumer built."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import uuid
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.clock import utc_now
from aftercare_shared.db import create_engine, create_session_factory
from aftercare_shared.events.catalog import EventPayload
from aftercare_shared.topics import ensure_topics
from aftercare_sla.reports import queries
from aftercare_sla.reports.monthly import monthly_report
from aftercare_sla.reports.periods import parse_period
from devkit.databases import create_migrated_database, drop_database, kafka_bootstrap_servers
from tests.integration.sla.report_history import september
from tests.integration.sla.sla_support import apply_events, as_event

TOPIC_OF = {
    "client": "clients",
    "ticket": "tickets",
    "sla": "sla",
    "release": "releases",
    "advisory": "releases",
    "monitor": "monitors",
}


async def _report(sessions: async_sessionmaker[AsyncSession], client_id: str) -> dict[str, Any]:
    async with sessions() as session:
        client = await queries.client(session, client_id)
        assert client is not None
        return await monthly_report(
            session, client=client, period=parse_period("2026-09"), now=utc_now()
        )


async def _publish(topics: dict[str, str], events: list[EventPayload]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers(), acks="all")
    await producer.start()
    try:
        for payload in events:
            event = as_event(payload)
            topic = topics[TOPIC_OF[payload.event_type.split(".")[0]]]
            await producer.send_and_wait(
                topic, event.to_json_bytes(), key=(event.subject or "").encode()
            )
        # A record that is no CloudEvent is skipped, not fatal.
        await producer.send_and_wait(topics["tickets"], b"not a cloud event", key=b"x")
    finally:
        await producer.stop()


async def _run_rebuild(database_url: str, topics: dict[str, str]) -> str:
    environment = {
        **os.environ,
        "AFTERCARE_DATABASE_URL": database_url,
        "SLA_CLIENTS_TOPIC": topics["clients"],
        "SLA_TICKETS_TOPIC": topics["tickets"],
        "SLA_REPORT_TOPICS": f'["{topics["sla"]}", "{topics["releases"]}", "{topics["monitors"]}"]',
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aftercare_sla.reports",
        "rebuild",
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, output.decode()
    return output.decode()


async def test_rebuild_from_the_topics_yields_the_same_figures(
    fresh_sessions: async_sessionmaker[AsyncSession],
) -> None:
    client_id = f"c-{uuid.uuid4().hex[:8]}"
    events = september(client_id, plan_id=f"plan-{client_id}")
    await apply_events(fresh_sessions, *events)
    live = await _report(fresh_sessions, client_id)

    suffix = secrets.token_hex(4)
    topics = {name: f"test.reports.{name}.{suffix}" for name in set(TOPIC_OF.values())}
    await ensure_topics(
        kafka_bootstrap_servers(), partitions=3, replication_factor=1, topics=tuple(topics.values())
    )
    await _publish(topics, events)

    url = await create_migrated_database("sla", prefix="rebuild")
    engine = create_engine(url, pool_size=2, application_name="aftercare-sla-test")
    try:
        rebuilt_sessions = create_session_factory(engine)
        output = await _run_rebuild(url, topics)
        assert f"from {len(events) + 1} events (1 skipped)" in output
        rebuilt = await _report(rebuilt_sessions, client_id)
        assert _without_as_of(rebuilt) == _without_as_of(live)
        assert rebuilt["tickets"]["opened_total"] == 6  # the figures are there, not empty

        # Again, over what it built: emptied first, so nothing counts twice.
        await _run_rebuild(url, topics)
        assert _without_as_of(await _report(rebuilt_sessions, client_id)) == _without_as_of(live)
    finally:
        await engine.dispose()
        await drop_database(url)


def _without_as_of(report: dict[str, Any]) -> dict[str, Any]:
    assert datetime.fromisoformat(report["as_of"])
    return {key: value for key, value in report.items() if key != "as_of"}
