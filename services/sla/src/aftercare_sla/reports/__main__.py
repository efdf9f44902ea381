"""``python -m aftercare_sla.reports rebuild``: replay the topics into fresh report read models.

Reads sla's own settings (``AFTERCARE_DATABASE_URL``, ``AFTERCARE_KAFKA_BOOTSTRAP_SERVERS``,
``SLA_CLIENTS_TOPIC``, ``SLA_TICKETS_TOPIC``, ``SLA_REPORT_TOPICS``).
"""

from __future__ import annotations

import argparse
import asyncio

from aftercare_shared.db import create_engine, create_session_factory
from aftercare_sla.reports.rebuild import rebuild
from aftercare_sla.settings import SlaSettings


async def _rebuild(settings: SlaSettings) -> None:
    engine = create_engine(
        settings.common.database_url, pool_size=1, application_name="aftercare-sla-reports-rebuild"
    )
    try:
        outcome = await rebuild(
            create_session_factory(engine),
            bootstrap_servers=settings.common.kafka_bootstrap_servers,
            topics=[settings.clients_topic, settings.tickets_topic, *settings.report_topics],
        )
    finally:
        await engine.dispose()
    print(f"reports rebuilt from {outcome.read} events ({outcome.skipped} skipped)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m aftercare_sla.reports")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rebuild", help="empty the report read models and replay the topics")
    parser.parse_args(argv)
    asyncio.run(_rebuild(SlaSettings()))


if __name__ == "__main__":
    main()
