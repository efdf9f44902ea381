"""SemVer 2.0 parsing, normalisation and the precedence key Postgres sorts by."""

from __future__ import annotations

import random

import pytest
import semver

from aftercare_releases.domain import ReleaseRuleError
from aftercare_releases.versions import normalize_version, parse_version

# SemVer 2.0 section 11's example, plus build metadata and numeric-vs-text cases.
PRECEDENCE = [
    "0.9.0",
    "1.0.0-0",
    "1.0.0-2",
    "1.0.0-10",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-alpha-x",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.2.0",
    "1.10.0",
    "2.0.0",
    "10.0.0",
]


def test_keys_sort_byte_wise_in_semver_precedence() -> None:
    shuffled = PRECEDENCE[:]
    random.Random(7).shuffle(shuffled)
    by_key = sorted(shuffled, key=lambda v: parse_version(v).key.encode())
    assert by_key == PRECEDENCE
    # The library agrees: the key is the precedence the semver package computes.
    assert sorted(shuffled, key=semver.Version.parse) == PRECEDENCE


def test_build_metadata_takes_no_part_in_precedence() -> None:
    assert parse_version("1.0.0+build.1").key == parse_version("1.0.0+zzz").key
    assert parse_version("1.0.0-rc.1+b7").key == parse_version("1.0.0-rc.1").key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.4.2", "1.4.2"),
        ("  v2.0.0-rc.1+build.7 ", "2.0.0-rc.1+build.7"),
        ("V1.0.0", "1.0.0"),
        ("shop@1.2.3", "1.2.3"),
        ("@acme/shop@v1.2.3", "1.2.3"),
        ("2026.11.27", "2026.11.27"),
    ],
)
def test_versions_are_normalised(raw: str, expected: str) -> None:
    assert normalize_version(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "1.0", "v3", "1.0 beta", "01.0.0", "1.0.0-", "1.0.0-01", "build_512", "x" * 65],
)
def test_what_is_not_semver_is_refused(raw: str) -> None:
    with pytest.raises(ReleaseRuleError):
        parse_version(raw)


def test_numbers_longer_than_the_key_can_order_are_refused() -> None:
    with pytest.raises(ReleaseRuleError, match="digits"):
        parse_version("1" * 21 + ".0.0")
