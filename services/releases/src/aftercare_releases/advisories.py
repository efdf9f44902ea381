"""Security advisories in the OSV schema, free of frameworks: parse, judge versions, score.

An OSV document (https://ossf.github.io/osv-schema/) names affected packages by ecosystem
and name (and maybe a Package URL), with ``ranges`` of ``introduced`` / ``fixed`` /
``last_affected`` / ``limit`` events and explicit ``versions``. Versions are compared by
``univers`` with each ecosystem's own rules (PEP 440 for PyPI, node-semver for npm,
Maven's ordering, Go's…); this module only turns events into ``univers`` ranges.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError
from packageurl import PackageURL
from univers.version_constraint import VersionConstraint
from univers.version_range import RANGE_CLASS_BY_SCHEMES, NpmVersionRange, VersionRange
from univers.versions import Version

ADVISORY_ID_MAX_LENGTH: Final = 100
_ADVISORY_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")

# OSV ecosystem → Package URL type; the univers scheme is the purl type too.
PURL_TYPE_BY_ECOSYSTEM: Final[dict[str, str]] = {
    "pypi": "pypi",
    "npm": "npm",
    "maven": "maven",
    "go": "golang",
    "crates.io": "cargo",
    "rubygems": "gem",
    "nuget": "nuget",
    "packagist": "composer",
    "hex": "hex",
}
# Versions of the agency's own products are SemVer 2.0, whatever the advisory's ecosystem.
SEMVER_RANGE: Final = NpmVersionRange
_PEP503_SEPARATORS: Final = re.compile(r"[-_.]+")
_STATED_SEVERITIES: Final = {"CRITICAL", "HIGH", "MODERATE", "MEDIUM", "LOW"}


class AdvisoryRuleError(ValueError):
    """An OSV document this service cannot use; the message says why."""


@dataclass(frozen=True, slots=True)
class OsvRange:
    type: str
    events: tuple[tuple[str, str], ...]
    """(kind, version) in document order: introduced, fixed, last_affected or limit."""


@dataclass(frozen=True, slots=True)
class AffectedPackage:
    ecosystem: str
    name: str
    package: str | None
    """``<purl type>/<namespace>/<name>``, normalised; None for an unknown ecosystem."""
    ranges: tuple[OsvRange, ...]
    versions: tuple[str, ...]

    def fixed_versions(self) -> list[str]:
        return [version for r in self.ranges for kind, version in r.events if kind == "fixed"]

    def as_json(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "name": self.name,
            "package": self.package,
            "ranges": [
                {"type": r.type, "events": [list(e) for e in r.events]} for r in self.ranges
            ],
            "versions": list(self.versions),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AffectedPackage:
        return cls(
            ecosystem=data["ecosystem"],
            name=data["name"],
            package=data["package"],
            ranges=tuple(
                OsvRange(r["type"], tuple((k, v) for k, v in r["events"])) for r in data["ranges"]
            ),
            versions=tuple(data["versions"]),
        )


@dataclass(frozen=True, slots=True)
class ParsedAdvisory:
    id: str
    aliases: list[str]
    summary: str | None
    modified_at: datetime
    withdrawn_at: datetime | None
    severity: str | None
    cvss_score: float | None
    affected: list[AffectedPackage]


def package_key(purl_type: str, namespace: str | None, name: str) -> str:
    """The normalised identity of a package across SBOMs and advisories."""
    purl_type = purl_type.lower()
    if purl_type == "pypi":
        name = _PEP503_SEPARATORS.sub("-", name).lower()
    elif purl_type in {"npm", "cargo", "gem", "composer", "hex", "nuget"}:
        name = name.lower()
        namespace = namespace.lower() if namespace else namespace
    return f"{purl_type}/{namespace or ''}/{name}"


def package_key_of_purl(purl: PackageURL) -> str:
    return package_key(purl.type, purl.namespace, purl.name)


def _package_of(ecosystem: str, name: str, purl: str | None) -> str | None:
    if purl:
        try:
            return package_key_of_purl(PackageURL.from_string(purl))
        except ValueError as error:
            raise AdvisoryRuleError(f"package.purl is not a Package URL: {error}") from error
    purl_type = PURL_TYPE_BY_ECOSYSTEM.get(ecosystem.split(":", 1)[0].lower())
    if purl_type is None:
        return None
    namespace: str | None = None
    if purl_type == "maven" and ":" in name:
        namespace, name = name.split(":", 1)
    elif "/" in name and purl_type in {"npm", "golang", "composer"}:
        namespace, name = name.rsplit("/", 1)
    return package_key(purl_type, namespace, name)


def _version_class(cls: type[VersionRange]) -> type[Version]:
    """The range's version type (univers declares the attribute on subclasses only)."""
    version_class: type[Version] = cls.version_class  # type: ignore[assignment]
    return version_class


def range_class(
    package: AffectedPackage, range_type: str, *, own_product: bool
) -> type[VersionRange]:
    """The univers range class whose versions order like this package's versions."""
    if own_product or range_type == "SEMVER":
        return SEMVER_RANGE
    purl_type = (package.package or "").split("/", 1)[0]
    found = RANGE_CLASS_BY_SCHEMES.get(purl_type)
    if found is None:
        raise AdvisoryRuleError(f"versions of ecosystem {package.ecosystem!r} cannot be compared")
    return found


def _intervals(
    events: Sequence[tuple[str, str]], cls: type[VersionRange]
) -> list[list[VersionConstraint]]:
    """The events as intervals of ``univers`` constraints (OSV's evaluation, in order)."""
    version_class = _version_class(cls)
    intervals: list[list[VersionConstraint]] = []
    lower: list[VersionConstraint] | None = None
    for kind, raw in events:
        if kind == "introduced":
            lower = [] if raw == "0" else [VersionConstraint(">=", version_class(raw))]
        elif lower is not None and kind in {"fixed", "limit", "last_affected"}:
            comparator = "<=" if kind == "last_affected" else "<"
            intervals.append([*lower, VersionConstraint(comparator, version_class(raw))])
            lower = None
    if lower is not None:
        intervals.append(lower)
    return intervals


def is_affected(package: AffectedPackage, installed: str, *, own_product: bool = False) -> bool:
    """Whether ``installed`` falls in one of the package's ranges or explicit versions."""
    for osv_range in package.ranges:
        if osv_range.type not in {"SEMVER", "ECOSYSTEM"}:
            continue  # GIT ranges name commits, not versions; explicit versions cover them
        cls = range_class(package, osv_range.type, own_product=own_product)
        try:
            version = _version_class(cls)(installed)
        except (ValueError, TypeError):
            continue  # not a version of this ecosystem: nothing to compare
        for constraints in _intervals(osv_range.events, cls):
            if not constraints or version in cls(constraints=tuple(constraints)):
                return True
    if package.versions:
        cls = range_class(package, "ECOSYSTEM", own_product=own_product)
        try:
            version = _version_class(cls)(installed)
            return any(version == _version_class(cls)(v) for v in package.versions)
        except (ValueError, TypeError):
            return installed in package.versions
    return False


def _check_versions(package: AffectedPackage, position: int) -> None:
    """Every event version must parse in its ecosystem, or the advisory could never match."""
    for osv_range in package.ranges:
        if osv_range.type not in {"SEMVER", "ECOSYSTEM"}:
            continue
        cls = range_class(package, osv_range.type, own_product=False)
        for kind, version in osv_range.events:
            if kind == "introduced" and version == "0":
                continue
            try:
                _version_class(cls)(version)
            except (ValueError, TypeError) as error:
                raise AdvisoryRuleError(
                    f"affected[{position}]: {kind} {version!r} is not a {package.ecosystem} version"
                ) from error


def cvss_base_score(severities: Sequence[Mapping[str, Any]]) -> float | None:
    """The highest CVSS v4/v3 base score among the advisory's vectors."""
    scores: list[float] = []
    for entry in severities:
        vector = str(entry.get("score", ""))
        try:
            if entry.get("type") == "CVSS_V4":
                scores.append(float(CVSS4(vector).base_score))
            elif entry.get("type") == "CVSS_V3":
                scores.append(float(CVSS3(vector).base_score))
        except CVSSError as error:
            raise AdvisoryRuleError(f"severity: {vector!r} is not a CVSS vector") from error
    return max(scores) if scores else None


def stated_severity(document: Mapping[str, Any]) -> str | None:
    """The severity the advisory states in words (GitHub's ``database_specific.severity``)."""
    candidates: list[Any] = [(document.get("database_specific") or {}).get("severity")]
    for affected in document.get("affected") or []:
        if isinstance(affected, Mapping):
            for field in ("ecosystem_specific", "database_specific"):
                candidates.append((affected.get(field) or {}).get("severity"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip().upper() in _STATED_SEVERITIES:
            return candidate.strip().upper()
    return None


def _text(document: Mapping[str, Any], field: str, *, required: bool = False) -> str | None:
    value = document.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise AdvisoryRuleError(f"{field} must be a{' non-empty' if required else ''} string")
    return value


def _timestamp(document: Mapping[str, Any], field: str) -> datetime | None:
    raw = document.get(field)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as error:
        raise AdvisoryRuleError(f"{field} must be an RFC 3339 timestamp") from error
    if parsed.tzinfo is None:
        raise AdvisoryRuleError(f"{field} must carry a time zone")
    return parsed


def _affected_package(entry: Any, position: int) -> AffectedPackage:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("package"), Mapping):
        raise AdvisoryRuleError(f"affected[{position}] must have a package")
    package = entry["package"]
    ecosystem, name = package.get("ecosystem"), package.get("name")
    if not isinstance(ecosystem, str) or not isinstance(name, str) or not name.strip():
        raise AdvisoryRuleError(f"affected[{position}].package needs ecosystem and name")
    ranges: list[OsvRange] = []
    for r in entry.get("ranges") or []:
        if not isinstance(r, Mapping) or r.get("type") not in {"SEMVER", "ECOSYSTEM", "GIT"}:
            raise AdvisoryRuleError(
                f"affected[{position}].ranges: type must be SEMVER, ECOSYSTEM or GIT"
            )
        events: list[tuple[str, str]] = []
        for event in r.get("events") or []:
            if not isinstance(event, Mapping) or len(event) != 1:
                raise AdvisoryRuleError(f"affected[{position}].ranges: each event has one key")
            ((kind, version),) = event.items()
            if kind not in {"introduced", "fixed", "last_affected", "limit"} or not isinstance(
                version, str
            ):
                raise AdvisoryRuleError(f"affected[{position}].ranges: unknown event {kind!r}")
            events.append((kind, version))
        if not any(kind == "introduced" for kind, _ in events):
            raise AdvisoryRuleError(
                f"affected[{position}].ranges: a range needs an introduced event"
            )
        ranges.append(OsvRange(r["type"], tuple(events)))
    versions = entry.get("versions") or []
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        raise AdvisoryRuleError(f"affected[{position}].versions must be a list of strings")
    if not ranges and not versions:
        raise AdvisoryRuleError(f"affected[{position}] needs ranges or versions")
    affected = AffectedPackage(
        ecosystem=ecosystem,
        name=name.strip(),
        package=_package_of(ecosystem, name.strip(), package.get("purl")),
        ranges=tuple(ranges),
        versions=tuple(versions),
    )
    _check_versions(affected, position)
    return affected


def parse_osv(document: Any) -> ParsedAdvisory:
    """Validate an OSV document; :class:`AdvisoryRuleError` names the first problem."""
    if not isinstance(document, Mapping):
        raise AdvisoryRuleError("an advisory must be a JSON object")
    advisory_id = _text(document, "id", required=True)
    assert advisory_id is not None
    if len(advisory_id) > ADVISORY_ID_MAX_LENGTH or not _ADVISORY_ID.fullmatch(advisory_id):
        raise AdvisoryRuleError("id must be an OSV id such as GHSA-xxxx-xxxx-xxxx or PYSEC-2024-1")
    modified = _timestamp(document, "modified")
    if modified is None:
        raise AdvisoryRuleError("modified is required")
    aliases = document.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise AdvisoryRuleError("aliases must be a list of strings")
    severities = document.get("severity") or []
    if not isinstance(severities, list) or not all(isinstance(s, Mapping) for s in severities):
        raise AdvisoryRuleError("severity must be a list of {type, score} objects")
    affected_entries = document.get("affected") or []
    if not isinstance(affected_entries, list) or not affected_entries:
        raise AdvisoryRuleError("affected must list at least one package")
    return ParsedAdvisory(
        id=advisory_id,
        aliases=list(aliases),
        summary=_text(document, "summary"),
        modified_at=modified,
        withdrawn_at=_timestamp(document, "withdrawn"),
        severity=stated_severity(document),
        cvss_score=cvss_base_score(severities),
        affected=[_affected_package(entry, i) for i, entry in enumerate(affected_entries)],
    )
