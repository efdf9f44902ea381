"""Which events one live-stream reader wants: types, a client, a minimum priority — and
what it may have: a client key's reader never gets a staff-only event (an internal
comment)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aftercare_notify.domain.event_patterns import subscription_matches
from aftercare_notify.domain.routing import RouteFilters, RoutingFields
from aftercare_shared.events.catalog import Priority


@dataclass(frozen=True, slots=True)
class StreamFilter:
    patterns: Sequence[str]
    client_id: str | None = None
    min_priority: Priority | None = None
    staff: bool = False
    """A staff reader (who may see staff-only events); False for a client key's."""

    def wants(self, event_type: str, fields: RoutingFields) -> bool:
        if not subscription_matches(self.patterns, event_type):
            return False  # internal types never match, notification.* only by name
        if fields.staff_only and not self.staff:
            return False
        if self.client_id is not None and fields.client_id != self.client_id:
            return False
        return RouteFilters(min_priority=self.min_priority).passes(fields)
