"""The settings for service processes that a test or bench run starts on the shared stack,
isolated from every other run: a migrated database of their own and consumer groups of
their own that start at the end of the (long, shared) event topics."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from aftercare_shared.topics import ensure_topics
from devkit.databases import admin_token, create_migrated_database, kafka_bootstrap_servers
from devkit.kafka_groups import start_groups_at_the_end


@dataclass(frozen=True)
class IsolatedServices:
    database_url: str
    groups: dict[str, str]
    """Each service's consumer group id."""

    def settings(self) -> dict[str, str]:
        """The environment every one of the services needs; callers add their own tuning."""
        return {
            "AFTERCARE_DATABASE_URL": self.database_url,
            "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers(),
            "AFTERCARE_ADMIN_TOKEN": admin_token(),
            "AFTERCARE_ENVIRONMENT": "test",
            **{f"{name.upper()}_CONSUMER_GROUP": group for name, group in self.groups.items()},
        }


async def isolated_services(services: Sequence[str], *, prefix: str) -> IsolatedServices:
    """Create the database (drop it with ``devkit.databases.drop_database``) and the groups."""
    database_url = await create_migrated_database(*services, prefix=prefix)
    await ensure_topics(kafka_bootstrap_servers(), partitions=6, replication_factor=1)
    run_id = secrets.token_hex(4)
    groups = {name: f"{prefix}-{name}-{run_id}" for name in services}
    await start_groups_at_the_end(*groups.values())
    return IsolatedServices(database_url, groups)
