"""Releases and the order of versions, for telling a regression from an old deployment.

A Sentry release is ``package@version`` (``shop-web@2.4.1``, ``@acme/app@1.0.0+build7``)
or a bare version. Versions compare in semantic-version order (pre-releases below their
release, build metadata ignored); what semver cannot read is tried as a PEP 440 version
(``1.2.3.4``, ``2024.10``); anything else (a commit hash) is no version at all.
Framework-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import semver
from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version


@dataclass(frozen=True, slots=True)
class ReleaseName:
    product: str | None
    version: str


def parse_release(release: str) -> ReleaseName:
    """``package@version`` → (package, version); the ``@`` of an npm scope is not a separator."""
    text = release.strip()
    at = text.rfind("@")
    if at > 0:
        return ReleaseName(product=text[:at], version=text[at + 1 :])
    return ReleaseName(product=None, version=text)


def _semver(version: str) -> semver.Version | None:
    text = version.strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    try:
        return semver.Version.parse(text, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        return None


def _pep440(version: str) -> Pep440Version | None:
    try:
        return Pep440Version(version.strip())
    except InvalidVersion:
        return None


def compare_versions(left: str, right: str) -> Literal[-1, 0, 1] | None:
    """-1, 0 or 1 as ``left`` is older, the same or newer; None when either is no version."""
    left_semver, right_semver = _semver(left), _semver(right)
    if left_semver is not None and right_semver is not None:
        order = left_semver.compare(right_semver)
    else:
        left_pep, right_pep = _pep440(left), _pep440(right)
        if left_pep is None or right_pep is None:
            return None
        order = (left_pep > right_pep) - (left_pep < right_pep)
    return 1 if order > 0 else -1 if order < 0 else 0


@dataclass(frozen=True, slots=True)
class FixedIn:
    """The release that resolved a ticket."""

    product: str
    version: str


def is_regression(fixed_in: FixedIn | None, seen_in_release: str | None) -> bool:
    """Does an occurrence from ``seen_in_release`` reopen a ticket fixed in ``fixed_in``?

    Only an occurrence that provably runs an older version of the fixed product is an old
    deployment still running (it counts, the ticket stays resolved). Without a fix
    version, without a release, with another product or with versions that do not
    compare, it reopens: a recurrence nobody can explain is news.
    """
    if fixed_in is None or not seen_in_release:
        return True
    seen = parse_release(seen_in_release)
    if seen.product is not None and seen.product.casefold() != fixed_in.product.casefold():
        return True
    order = compare_versions(seen.version, fixed_in.version)
    return order is None or order >= 0
