"""Which events an endpoint receives: short names and wildcards over ``aftercare.<name>.v1``.

A subscription pattern is one of:

* a short event type, ``ticket.created`` (matches ``aftercare.ticket.created.v1``);
* an entity wildcard, ``sla.*`` (every ``aftercare.sla.<verb>.v1``);
* ``*`` (every event type — except ``notification.*``, see below).

Patterns match ``.v1`` types only: a breaking change ships as a new version and nobody
should receive it without subscribing to it on purpose.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from aftercare_shared.events.catalog import INTERNAL_SHORT_TYPES, PAYLOADS_BY_SHORT_TYPE

MATCH_ALL = "*"
WILDCARD_SUFFIX = ".*"
SUBSCRIBABLE_VERSION = "v1"
MAX_PATTERNS_PER_ENDPOINT = 100

# Notify's own events. `*` never matches them: an endpoint that fails produces
# notification.failed / endpoint_disabled events, and if `*` delivered those back to the
# failing endpoint each failure would breed another delivery that fails — a loop that
# only ends when the endpoint is disabled. Explicit subscriptions (``notification.*`` or
# ``notification.failed``) still receive them (minus the ones about the endpoint itself).
SELF_REFERENTIAL_ENTITY = "notification"


class InvalidEventPattern(ValueError):  # noqa: N818 - reads as "the pattern is invalid"
    """A subscription names an event type or entity that does not exist."""

    def __init__(self, message: str, *, known: Sequence[str]) -> None:
        super().__init__(message)
        self.known = list(known)


def known_short_types() -> list[str]:
    """Every short event type that may be subscribed to, sorted (internal ones excluded)."""
    return sorted(set(PAYLOADS_BY_SHORT_TYPE) - INTERNAL_SHORT_TYPES)


def _entity_of(short_type: str) -> str:
    return short_type.split(".", 1)[0]


def normalize_patterns(
    patterns: Iterable[str], *, known_types: Collection[str] | None = None
) -> list[str]:
    """Validate patterns and drop duplicates, keeping their order.

    Raises :class:`InvalidEventPattern` naming every unknown pattern and listing the known
    types, so a caller can fix all mistakes in one round trip.
    """
    known = set(known_types if known_types is not None else known_short_types())
    known_entities = {_entity_of(short_type) for short_type in known}
    accepted: list[str] = []
    unknown: list[str] = []
    for raw in patterns:
        pattern = raw.strip()
        if pattern == MATCH_ALL:
            valid = True
        elif pattern.endswith(WILDCARD_SUFFIX):
            valid = pattern[: -len(WILDCARD_SUFFIX)] in known_entities
        else:
            valid = pattern in known
        if not valid:
            unknown.append(raw)
        elif pattern not in accepted:
            accepted.append(pattern)
    listing = sorted(known)
    if unknown:
        names = ", ".join(repr(pattern) for pattern in unknown)
        raise InvalidEventPattern(
            f"Unknown event type pattern(s): {names}. Use a short type "
            f"(e.g. 'ticket.created'), '<entity>.*' or '*'. Known types: {', '.join(listing)}.",
            known=listing,
        )
    if not accepted:
        raise InvalidEventPattern("Subscribe to at least one event type.", known=listing)
    if len(accepted) > MAX_PATTERNS_PER_ENDPOINT:
        raise InvalidEventPattern(
            f"At most {MAX_PATTERNS_PER_ENDPOINT} patterns per endpoint.", known=listing
        )
    return accepted


def subscribable_short_type(event_type: str) -> str | None:
    """``aftercare.ticket.created.v1`` → ``ticket.created``; None for any other shape/version."""
    parts = event_type.split(".")
    if len(parts) != 4 or parts[0] != "aftercare" or parts[3] != SUBSCRIBABLE_VERSION:
        return None
    return f"{parts[1]}.{parts[2]}"


def patterns_matching(event_type: str) -> list[str]:
    """Every pattern that selects ``event_type`` — so a store can match with one overlap test.

    The three pattern forms mean an event is selected exactly by its short type, its
    entity wildcard, or ``*`` (which excludes notify's own events).
    """
    short_type = subscribable_short_type(event_type)
    if short_type is None or short_type in INTERNAL_SHORT_TYPES:
        return []
    entity = _entity_of(short_type)
    candidates = [short_type, entity + WILDCARD_SUFFIX]
    if entity != SELF_REFERENTIAL_ENTITY:
        candidates.append(MATCH_ALL)
    return candidates


def pattern_matches(pattern: str, event_type: str) -> bool:
    """Whether one subscription pattern selects the full CloudEvent type ``event_type``."""
    return pattern in patterns_matching(event_type)


def subscription_matches(patterns: Iterable[str], event_type: str) -> bool:
    """Whether any of an endpoint's patterns selects ``event_type``."""
    wanted = set(patterns_matching(event_type))
    return any(pattern in wanted for pattern in patterns)


def is_self_referential(event_type: str) -> bool:
    """Events notify emits about its own deliveries (``aftercare.notification.*``)."""
    short_type = subscribable_short_type(event_type)
    return short_type is not None and _entity_of(short_type) == SELF_REFERENTIAL_ENTITY
