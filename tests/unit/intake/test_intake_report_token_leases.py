"""The report fast path's token leases: how many tokens it takes at once, and how it
spends them (the shared buckets' side is in the fast path's integration tests)."""

from __future__ import annotations

from aftercare_intake.report_token_leases import MAX_LEASE, TokenLeases, lease_size


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
