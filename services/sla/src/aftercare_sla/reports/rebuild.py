"""Rebuild the reports' read models: empty them and replay the topics from the beginning.

The replay reads every partition of the given topics from its first offset up to the end
it had when the rebuild began (no consumer group: the live consumer's offsets are left
alone), and applies each event with the same handlers the live consumer runs. Everything
happens in one transaction, so readers see the old figures until the new ones are
complete; the live consumer waits on the emptied tables meanwhile and afterwards applies
events the replay already saw, which the upserts make harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare_shared.consumer.processing import PermanentEventError
from aftercare_shared.events import CloudEvent
from aftercare_shared.events.envelope import EventDecodeError
from aftercare_sla.models import SCHEMA
from aftercare_sla.reports.ingest import report_handlers
from aftercare_sla.reports.models import REPORT_TABLES

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RebuildOutcome:
    read: int
    skipped: int
    """Records that are not CloudEvents, or of types this build does not know."""


async def rebuild(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    bootstrap_servers: str,
    topics: Sequence[str],
) -> RebuildOutcome:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        partitions = await _partitions(bootstrap_servers, topics)
        if not partitions:
            raise RuntimeError(f"none of the topics {list(topics)} exists")
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > await consumer.position(tp)}
        read = skipped = 0
        async with session_factory() as session, session.begin():
            tables = ", ".join(f"{SCHEMA}.{table}" for table in REPORT_TABLES)
            await session.execute(text(f"TRUNCATE {tables}"))
            while pending:
                batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=500)
                for tp, records in batches.items():
                    for record in records:
                        if record.offset >= ends[tp]:
                            break
                        read += 1
                        skipped += not await _apply(session, record.value)
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
        logger.info("reports rebuilt", events=read, skipped=skipped, topics=list(topics))
        return RebuildOutcome(read=read, skipped=skipped)
    finally:
        await consumer.stop()


async def _partitions(bootstrap_servers: str, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of the topics that exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        if not topic.get("error_code")
        for partition in sorted(topic["partitions"], key=lambda p: int(p["partition"]))
    ]


async def _apply(session: AsyncSession, value: bytes | None) -> bool:
    """Apply one record; False when it is no CloudEvent or of a type this build lacks."""
    if value is None:
        return False
    try:
        event = CloudEvent.from_json_bytes(value)
    except (EventDecodeError, ValueError):
        return False
    try:
        # Only the registry's checks raise this, before any handler wrote anything.
        await report_handlers(session, event)
    except PermanentEventError:
        return False
    return True
