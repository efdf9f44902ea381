"""Version order and regressions: an old deployment still running is not a regression."""

from __future__ import annotations

import pytest

from aftercare_intake.versions import (
    FixedIn,
    ReleaseName,
    compare_versions,
    is_regression,
    parse_release,
)


@pytest.mark.parametrize(
    ("release", "parsed"),
    [
        ("shop@1.2.3", ReleaseName("shop", "1.2.3")),
        ("shop-web@2.0.0-rc.1+build.7", ReleaseName("shop-web", "2.0.0-rc.1+build.7")),
        ("@acme/app@1.0.0", ReleaseName("@acme/app", "1.0.0")),
        ("1.2.3", ReleaseName(None, "1.2.3")),
        ("4c1a9f2e", ReleaseName(None, "4c1a9f2e")),
    ],
)
def test_releases_split_into_product_and_version(release: str, parsed: ReleaseName) -> None:
    assert parse_release(release) == parsed


@pytest.mark.parametrize(
    ("left", "right", "order"),
    [
        ("1.2.3", "1.2.3", 0),
        ("1.2.10", "1.2.9", 1),
        ("1.10.0", "1.9.9", 1),
        ("2.0.0-rc.1", "2.0.0", -1),
        ("2.0.0-alpha", "2.0.0-beta", -1),
        ("2.0.0-rc.2", "2.0.0-rc.10", -1),
        ("1.2.3+build.1", "1.2.3+build.2", 0),
        ("v1.2.3", "1.2.3", 0),
        ("1.2", "1.2.0", 0),
        ("1.2.3.4", "1.2.3.5", -1),
        ("2024.10.1", "2024.9.30", 1),
        ("1.0.0rc1", "1.0.0", -1),
        ("4c1a9f2e", "1.0.0", None),
        ("", "1.0.0", None),
    ],
)
def test_versions_compare_in_semantic_order(left: str, right: str, order: int | None) -> None:
    assert compare_versions(left, right) == order
    if order is not None:
        assert compare_versions(right, left) == -order


FIX = FixedIn(product="shop", version="1.4.0")


@pytest.mark.parametrize(
    ("seen_in", "regression"),
    [
        ("shop@1.4.0", True),  # the fixed version itself: the fix did not work
        ("shop@1.4.1", True),
        ("shop@2.0.0", True),
        ("shop@1.3.9", False),  # an old deployment still running
        ("shop@1.4.0-rc.1", False),  # a pre-release of the fix comes before it
        ("SHOP@1.3.0", False),
        ("1.3.0", False),  # a bare version is the app's own
        ("1.4.0", True),
        ("other@1.0.0", True),  # another product: nothing to compare with
        ("shop@4c1a9f2e", True),  # a commit hash is no version
        (None, True),  # no release at all
        ("", True),
    ],
)
def test_an_occurrence_reopens_only_from_the_fixed_version_on(
    seen_in: str | None, regression: bool
) -> None:
    assert is_regression(FIX, seen_in) is regression


def test_a_ticket_without_a_fix_version_reopens_on_any_occurrence() -> None:
    assert is_regression(None, "shop@0.1.0") is True
