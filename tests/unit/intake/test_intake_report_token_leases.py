"""Token leases: how many tokens are taken at once, how they are spent, and what a take
answers (the shared buckets' side is in the fast path's and the Sentry routes'
integration tests; here a plain fake stands in for the statement)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aftercare_intake.report_token_leases import (
    KEY_GONE,
    MAX_LEASE,
    Bucket,
    Refused,
    TokenLeases,
    lease_size,
    take_leased,
)
from aftercare_shared.rate_limit import RateLimiter

NOW = datetime(2026, 12, 2, tzinfo=UTC)
KEYS = RateLimiter(schema="intake", name="report", rate_per_second=1.0, burst=200)
PROJECTS = RateLimiter(schema="intake", name="ingest", rate_per_second=2.0, burst=48)


def test_a_lease_is_a_sixteenth_of_the_burst_between_one_and_the_cap() -> None:
    assert lease_size(1) == 1
    assert lease_size(31) == 1  # a small burst: one token per report, as the route takes
    assert lease_size(32) == 2
    assert lease_size(200) == 12  # the default report burst
    assert lease_size(1_000_000) == MAX_LEASE


def test_a_report_spends_one_token_of_both_buckets_or_none() -> None:
    leases = TokenLeases()
    leases.keep("client:k", 2)
    assert not leases.spend("client:k", "report:k")  # no report token: nothing spent
    assert leases.left("client:k") == 2
    leases.keep("report:k", 1)
    assert leases.spend("client:k", "report:k")
    assert not leases.spend("client:k", "report:k")
    assert (leases.left("client:k"), leases.left("report:k")) == (1, 0)


def test_a_revoked_keys_tokens_are_forgotten() -> None:
    leases = TokenLeases()
    leases.keep("client:k", 3)
    leases.keep("report:k", 3)
    leases.keep("report:other", 3)
    leases.keep("report:none", 0)
    leases.forget("client:k", "report:k")
    assert not leases.spend("client:k", "report:k")
    assert (leases.left("report:other"), leases.left("report:none")) == (3, 0)


class FakeTake:
    """Answers the take statement with the rows given, and records what it was asked."""

    def __init__(self, *rows: dict[str, Any]) -> None:
        self.rows = list(rows)
        self.asked: list[tuple[int, int]] = []

    async def __call__(self, parameters: dict[str, Any]) -> dict[str, Any]:
        self.asked.append((parameters["first_take"], parameters["second_take"]))
        return self.rows.pop(0)


def _row(first: bool, second: bool | None, *, live: bool = True) -> dict[str, Any]:
    return {
        "key_live": live,
        "first_allowed": first,
        "first_tokens": 5.0 if first else 0.5,
        "second_allowed": second,
        "second_tokens": 0.0 if second is False else 7.0,
    }


async def _take(leases: TokenLeases, run: FakeTake) -> Refused | str | None:
    return await take_leased(
        leases,
        run,
        api_key_id="k",
        first=Bucket.of(KEYS, "k"),
        second=Bucket.of(PROJECTS, "project:1"),
        now=NOW,
    )


async def test_a_take_leases_ahead_and_later_requests_spend_without_a_statement() -> None:
    leases, run = TokenLeases(), FakeTake(_row(True, True))
    assert await _take(leases, run) is None
    assert run.asked == [(12, 3)]  # a sixteenth of each burst
    for _ in range(2):  # the project's lease of 3 lasts this request and two more
        assert await _take(leases, run) is None
    assert run.asked == [(12, 3)]
    assert (leases.left("report:k"), leases.left("ingest:project:1")) == (9, 0)


async def test_a_bucket_short_of_a_lease_falls_back_to_one_token_then_refuses() -> None:
    leases, run = TokenLeases(), FakeTake(_row(True, False), _row(True, False))
    refused = await _take(leases, run)
    assert run.asked == [(12, 3), (1, 1)]
    assert isinstance(refused, Refused)
    assert refused.bucket == Bucket.of(PROJECTS, "project:1")
    assert refused.retry_after == 0.5  # one whole token at 2 per second
    # The key's lease was taken from its shared row: kept here for later requests (the
    # single token of the second try is spent on the refused request, as without leases).
    assert leases.left("report:k") == 12


async def test_a_key_gone_is_answered_and_its_leases_forgotten() -> None:
    leases = TokenLeases()
    leases.keep("report:k", 4)
    assert await _take(leases, FakeTake(_row(False, None, live=False))) == KEY_GONE
    assert leases.left("report:k") == 0
