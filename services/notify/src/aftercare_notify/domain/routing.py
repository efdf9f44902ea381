"""Routing filters beyond event types: which clients, how urgent, which environments.

One rule comes before every filter: a staff-only event (an ``internal`` comment, a staff
note) goes to agency-wide endpoints only — never to one a client owns, nor to one routed
to a list of clients — and never to a client key's live stream.

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
    staff_only: bool = False
    """An event no client may receive (see :func:`is_staff_only`)."""


STAFF_ONLY_VISIBILITY = "internal"


def is_staff_only(data: Mapping[str, Any]) -> bool:
    """An internal ``ticket.commented`` (``visibility: internal``) — or any event a producer
    marks internal the same way — is for the agency's own endpoints only."""
    return data.get("visibility") == STAFF_ONLY_VISIBILITY


def routing_fields(client_id: str | None, data: Mapping[str, Any]) -> RoutingFields:
    priority = data.get("priority")
    environment = data.get("environment")
    return RoutingFields(
        client_id=client_id,
        priority=priority if priority in PRIORITIES else None,
        environment=environment if isinstance(environment, str) else None,
        staff_only=is_staff_only(data),
    )


def priority_rank(priority: Priority) -> int:
    """P1 → 1 (most urgent) … P4 → 4."""
    return PRIORITIES.index(priority) + 1


@dataclass(frozen=True, slots=True)
class RouteFilters:
    client_ids: Sequence[str] | None = None
    min_priority: Priority | None = None
    environments: Sequence[str] | None = None

    def passes(self, fields: RoutingFields, *, owner_client_id: str | None = None) -> bool:
        """Whether an endpoint with these filters (owned by ``owner_client_id``, None: the
        agency's) receives an event with ``fields``."""
        if fields.staff_only and (owner_client_id is not None or self.client_ids is not None):
            return False
        if owner_client_id is not None and fields.client_id != owner_client_id:
            return False
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
