"""Subscription patterns: validation, and matching of full CloudEvent types."""

from __future__ import annotations

import pytest

from aftercare_notify.domain.event_patterns import (
    InvalidEventPattern,
    is_self_referential,
    known_short_types,
    normalize_patterns,
    pattern_matches,
    patterns_matching,
    subscription_matches,
)


def test_known_patterns_are_accepted_deduplicated_in_order() -> None:
    assert normalize_patterns(["sla.*", "ticket.created", "sla.*", " * "]) == [
        "sla.*",
        "ticket.created",
        "*",
    ]


def test_unknown_short_names_are_refused_listing_the_known_ones() -> None:
    with pytest.raises(InvalidEventPattern) as raised:
        normalize_patterns(["ticket.created", "ticket.exploded", "bogus.*"])
    message = str(raised.value)
    assert "'ticket.exploded'" in message
    assert "'bogus.*'" in message
    assert "ticket.created" in message  # the list of known types
    assert raised.value.known == known_short_types()
    assert "sla.breached" in raised.value.known


@pytest.mark.parametrize(
    "bad",
    ["aftercare.ticket.created.v1", "ticket", "ticket.*.*", "**", "ticket.created.v1", ""],
)
def test_malformed_patterns_are_refused(bad: str) -> None:
    with pytest.raises(InvalidEventPattern):
        normalize_patterns([bad])


def test_an_empty_subscription_is_refused() -> None:
    with pytest.raises(InvalidEventPattern):
        normalize_patterns([])


@pytest.mark.parametrize(
    ("pattern", "event_type", "expected"),
    [
        ("ticket.created", "aftercare.ticket.created.v1", True),
        ("ticket.created", "aftercare.ticket.updated.v1", False),
        ("sla.*", "aftercare.sla.breached.v1", True),
        ("sla.*", "aftercare.ticket.created.v1", False),
        ("*", "aftercare.release.published.v1", True),
        ("*", "aftercare.sla.at_risk.v1", True),
        # `*` never feeds notify's own events back (see the loop note in the module).
        ("*", "aftercare.notification.failed.v1", False),
        ("notification.*", "aftercare.notification.failed.v1", True),
        ("notification.failed", "aftercare.notification.failed.v1", True),
        # Only .v1: a breaking new version is not sent to v1 subscribers.
        ("ticket.created", "aftercare.ticket.created.v2", False),
        ("*", "aftercare.ticket.created.v2", False),
        ("*", "not.a.type", False),
    ],
)
def test_pattern_matching(pattern: str, event_type: str, expected: bool) -> None:
    assert pattern_matches(pattern, event_type) is expected


def test_candidate_patterns_agree_with_matching_for_every_catalog_type() -> None:
    patterns = ["*", *known_short_types()]
    patterns += sorted({short.split(".")[0] + ".*" for short in known_short_types()})
    for short in known_short_types():
        event_type = f"aftercare.{short}.v1"
        candidates = set(patterns_matching(event_type))
        for pattern in patterns:
            assert (pattern in candidates) is subscription_matches([pattern], event_type)
        assert short in candidates


def test_self_referential_types() -> None:
    assert is_self_referential("aftercare.notification.endpoint_failing.v1")
    assert not is_self_referential("aftercare.ticket.created.v1")


def test_internal_key_events_reach_no_subscriber() -> None:
    for event_type in ("aftercare.client.api_key_issued.v1", "aftercare.client.api_key_revoked.v1"):
        assert not subscription_matches(["*", "client.*"], event_type)
    assert subscription_matches(["client.*"], "aftercare.client.created.v1")
    with pytest.raises(InvalidEventPattern):
        normalize_patterns(["client.api_key_issued"])
