"""Product versions: Semantic Versioning 2.0, normalised, and a key Postgres sorts by.

Versions are parsed by the ``semver`` library (strict SemVer 2.0). A leading ``v``
(``v1.2.3``) and a package prefix (``shop@1.2.3``, as npm and changesets tag releases)
are accepted and dropped. The sort key is a text that compares byte-wise (``COLLATE
"C"``) exactly as SemVer precedence does, so lists sort and page by precedence in SQL:

- major, minor and patch are zero-padded to 20 digits;
- a release sorts after its pre-releases (``~`` after ``!``, the pre-release marker);
- pre-release identifiers compare one by one: numeric ones numerically and below
  alphanumeric ones, alphanumeric ones byte-wise; a shorter list of equal identifiers
  sorts first (the space separator is below every identifier character);
- build metadata takes no part in precedence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import semver

from aftercare_releases.domain import VERSION_MAX_LENGTH, ReleaseRuleError

_NUMBER_WIDTH: Final = 20
_PRERELEASE_MARK: Final = "!"
_RELEASE_MARK: Final = "~"


@dataclass(frozen=True, slots=True)
class ProductVersion:
    """A parsed, normalised version and its precedence key."""

    text: str
    key: str
    parsed: semver.Version


def parse_version(raw: str) -> ProductVersion:
    """``raw`` as a SemVer 2.0 version; a message naming the problem otherwise."""
    text = raw.strip()
    if "@" in text:
        # "shop@1.2.3" and "@scope/shop@1.2.3": the version follows the last "@".
        text = text.rsplit("@", 1)[1]
    if text[:1] in {"v", "V"}:
        text = text[1:]
    if not text:
        raise ReleaseRuleError("version must not be empty")
    if len(text) > VERSION_MAX_LENGTH:
        raise ReleaseRuleError(f"version must be at most {VERSION_MAX_LENGTH} characters")
    try:
        parsed = semver.Version.parse(text)
    except ValueError as error:
        raise ReleaseRuleError(
            "version must be a Semantic Versioning 2.0 version such as 1.4.2, "
            "2.0.0-rc.1 or 1.0.0+build.7 (a leading v is accepted)"
        ) from error
    numbers = [str(parsed.major), str(parsed.minor), str(parsed.patch)]
    numbers += [part for part in (parsed.prerelease or "").split(".") if part.isdigit()]
    if any(len(number) > _NUMBER_WIDTH for number in numbers):
        raise ReleaseRuleError(f"version numbers must have at most {_NUMBER_WIDTH} digits")
    return ProductVersion(text=str(parsed), key=precedence_key(parsed), parsed=parsed)


def normalize_version(raw: str) -> str:
    """The normalised text of ``raw`` (for request validation)."""
    return parse_version(raw).text


def precedence_key(version: semver.Version) -> str:
    core = "".join(
        str(part).zfill(_NUMBER_WIDTH) for part in (version.major, version.minor, version.patch)
    )
    if version.prerelease is None:
        return core + _RELEASE_MARK
    identifiers = [
        ("0" + identifier.zfill(_NUMBER_WIDTH)) if identifier.isdigit() else ("1" + identifier)
        for identifier in version.prerelease.split(".")
    ]
    return core + _PRERELEASE_MARK + " ".join(identifiers)
