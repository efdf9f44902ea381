"""Routing filters beyond event types: which clients, how urgent, which environments.

Each filter is optional (None: everything passes) and applies to events that carry the
field it looks at: ``min_priority`` to events with a ``priority`` (tickets, SLA clocks),
``environments`` to events with an ``environment`` (a ticket's first report). An event
without the field passes, so an "only P1" route still hears about releases it subscribed
to by type. The same rules run in SQL at fan-out (``repository``) and here, for replay
and tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aftercare_shared.events.catalog import PRIORITIES, Priority


@dataclass(frozen=True, slots=True)
class RoutingFields:
    """What routing reads from one event."""

    client_id: str | None
    priority: Priority | None
    environment: str | None


def routing_fields(client_id: str | None, data: Mapping[str, Any]) -> RoutingFields:
    priority = data.get("priority")
    environment = data.get("environment")
    return RoutingFields(
        client_id=client_id,
        priority=priority if priority in PRIORITIES else None,
        environment=environment if isinstance(environment, str) else None,
    )


def priority_rank(priority: Priority) -> int:
    """P1 → 1 (most urgent) … P4 → 4."""
    return PRIORITIES.index(priority) + 1


@dataclass(frozen=True, slots=True)
class RouteFilters:
    client_ids: Sequence[str] | None = None
    min_priority: Priority | None = None
    environments: Sequence[str] | None = None

    def passes(self, fields: RoutingFields) -> bool:
        if self.client_ids is not None and fields.client_id not in self.client_ids:
            return False
        if (
            self.min_priority is not None
            and fields.priority is not None
            and priority_rank(fields.priority) > priority_rank(self.min_priority)
        ):
            return False
        return not (
            self.environments is not None
            and fields.environment is not None
            and fields.environment not in self.environments
        )


NO_FILTERS = RouteFilters()
