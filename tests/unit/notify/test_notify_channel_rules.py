"""Pure rules behind channels and routing: filters, breakers, Retry-After, addresses,
and what a permanent refusal or a requested wait does to the retry schedule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from aftercare_notify.domain.circuit_breaker import CircuitBreakers
from aftercare_notify.domain.delivery_policy import AttemptResult, decide
from aftercare_notify.domain.mail_address import mail_address_problem
from aftercare_notify.domain.retry_after import MAX_RETRY_AFTER_SECONDS, retry_after_seconds
from aftercare_notify.domain.retry_schedule import parse_retry_schedule
from aftercare_notify.domain.routing import RouteFilters, routing_fields
from aftercare_notify.domain.stream_filter import StreamFilter

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_routing_reads_priority_and_environment_only_when_they_are_valid() -> None:
    fields = routing_fields("c1", {"priority": "P1", "environment": "production"})
    assert (fields.client_id, fields.priority, fields.environment) == ("c1", "P1", "production")
    odd = routing_fields(None, {"priority": "urgent", "environment": 3})
    assert (odd.priority, odd.environment) == (None, None)


def test_an_internal_comment_passes_agency_wide_routes_only() -> None:
    internal = routing_fields("c1", {"visibility": "internal", "priority": "P1"})
    public = routing_fields("c1", {"visibility": "public"})
    assert (internal.staff_only, public.staff_only) == (True, False)
    assert RouteFilters().passes(internal)
    assert RouteFilters(min_priority="P1").passes(internal)
    assert not RouteFilters(client_ids=["c1"]).passes(internal)
    assert not RouteFilters().passes(internal, owner_client_id="c1")
    assert RouteFilters(client_ids=["c1"]).passes(public)
    assert RouteFilters().passes(public, owner_client_id="c1")
    assert not RouteFilters().passes(public, owner_client_id="c2")


def test_only_a_staff_stream_reader_gets_an_internal_comment() -> None:
    internal = routing_fields("c1", {"visibility": "internal"})
    assert StreamFilter(patterns=["*"], staff=True).wants("aftercare.ticket.commented.v1", internal)
    client_reader = StreamFilter(patterns=["*"], client_id="c1")
    assert not client_reader.wants("aftercare.ticket.commented.v1", internal)
    assert client_reader.wants(
        "aftercare.ticket.commented.v1", routing_fields("c1", {"visibility": "public"})
    )


@pytest.mark.parametrize(
    ("filters", "data", "client_id", "passes"),
    [
        (RouteFilters(), {}, None, True),
        (RouteFilters(min_priority="P2"), {"priority": "P1"}, "c", True),
        (RouteFilters(min_priority="P2"), {"priority": "P2"}, "c", True),
        (RouteFilters(min_priority="P2"), {"priority": "P3"}, "c", False),
        (RouteFilters(min_priority="P1"), {}, "c", True),  # no priority: passes
        (RouteFilters(environments=["prod"]), {"environment": "prod"}, "c", True),
        (RouteFilters(environments=["prod"]), {"environment": "dev"}, "c", False),
        (RouteFilters(environments=["prod"]), {}, "c", True),
        (RouteFilters(client_ids=["a", "b"]), {}, "b", True),
        (RouteFilters(client_ids=["a", "b"]), {}, "c", False),
        (RouteFilters(client_ids=["a"]), {}, None, False),  # client lists need a client
    ],
)
def test_route_filters(
    filters: RouteFilters, data: dict[str, str], client_id: str | None, passes: bool
) -> None:
    assert filters.passes(routing_fields(client_id, data)) is passes


def test_a_breaker_opens_after_consecutive_unreachable_attempts_and_probes_once() -> None:
    breakers = CircuitBreakers(
        failure_threshold=3, cooldown_seconds=10, random_source=random.Random(1)
    )
    for _ in range(2):
        assert not breakers.record("e", unreachable=True, now=0)
    assert breakers.may_claim("e", 0)
    breakers.record("e", unreachable=False, now=0)  # an answer resets the streak
    for _ in range(2):
        breakers.record("e", unreachable=True, now=1)
    assert breakers.record("e", unreachable=True, now=1)  # third in a row: open
    assert breakers.blocked(2) == ["e"]
    assert breakers.probe_candidates(2) == []
    later = 1 + 10 * 1.2 + 0.01  # past the cooldown, whatever the jitter
    assert breakers.probe_candidates(later) == ["e"]
    breakers.start_probe("e")
    assert breakers.blocked(later) == ["e"]  # one probe at a time
    assert breakers.record("e", unreachable=True, now=later)  # probe failed: open again
    assert not breakers.may_claim("e", later + 1)
    breakers.record("e", unreachable=False, now=later + 100)
    assert breakers.may_claim("e", later + 100)
    assert breakers.blocked(later + 100) == []


def test_retry_after_in_seconds_or_as_a_date_capped() -> None:
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("99999999") == MAX_RETRY_AFTER_SECONDS
    assert retry_after_seconds("Tue, 01 Dec 2026 09:01:00 GMT", now=NOW) == 60
    assert retry_after_seconds("Tue, 01 Dec 2026 08:00:00 GMT", now=NOW) == 0
    assert retry_after_seconds("soon") is None


@pytest.mark.parametrize(
    ("address", "usable"),
    [
        ("ops@client.example", True),
        ("first.last+alerts@mail.client.example", True),
        ("ops@localhost", False),
        ("ops", False),
        ("@client.example", False),
        ("ops@client.example\r\nBcc: spy@evil.example", False),
        ("ops@client.example, spy@evil.example", False),
        ("Ops <ops@client.example>", False),
        ("a@b@client.example", False),
    ],
)
def test_mail_addresses(address: str, usable: bool) -> None:
    assert (mail_address_problem(address) is None) is usable


def test_a_permanent_refusal_fails_at_once_and_keeps_the_endpoint() -> None:
    schedule = parse_retry_schedule("0,5,300")
    refused = AttemptResult(550, 3, "no", "smtp: 550 no", accepted=False, permanent=True)
    decision = decide(
        result=refused,
        attempts_made=1,
        schedule=schedule,
        now=NOW,
        first_failure_at=None,
        disable_after=timedelta(days=5),
    )
    assert decision.delivery_status == "failed"
    assert decision.disable_endpoint_reason is None


def test_retry_after_pushes_the_next_attempt_back_but_never_forward() -> None:
    schedule = parse_retry_schedule("0,5,300")
    busy = AttemptResult(503, 3, None, None, retry_after_seconds=60)
    decision = decide(
        result=busy,
        attempts_made=1,
        schedule=schedule,
        now=NOW,
        first_failure_at=None,
        disable_after=timedelta(days=5),
    )
    assert decision.next_due_at == NOW + timedelta(seconds=60)
    soon = AttemptResult(429, 3, None, None, retry_after_seconds=1)
    decision = decide(
        result=soon,
        attempts_made=1,
        schedule=schedule,
        now=NOW,
        first_failure_at=None,
        disable_after=timedelta(days=5),
    )
    assert decision.next_due_at == NOW + timedelta(seconds=5)


def test_smtp_acceptance_is_success_without_an_http_status() -> None:
    assert AttemptResult(250, 1, "ok", None, accepted=True).succeeded
    assert not AttemptResult(251, 1, "ok", "smtp: x", accepted=True).succeeded
