"""Read CycloneDX JSON SBOMs (1.4-1.6) with the CycloneDX library; keep components by purl.

The document is validated against its CycloneDX JSON schema first (strict: what the
specification does not allow is refused), then deserialised into the library's ``Bom``.
Components are walked recursively; those without a Package URL cannot be matched against
advisories and are left out.

The library (and its schemas, ~26 MiB resident) is imported on the first SBOM upload, not
at start-up: most of the service's life never reads one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from aftercare_releases.advisories import package_key_of_purl

if TYPE_CHECKING:
    from cyclonedx.model.component import Component

SUPPORTED_SPEC_VERSIONS: Final[dict[str, str]] = {
    "1.4": "V1_4",
    "1.5": "V1_5",
    "1.6": "V1_6",
}
"""specVersion → the library's ``SchemaVersion`` member."""


class SbomRuleError(ValueError):
    """Not a CycloneDX document this service reads; the message says why."""


class TooManyComponentsError(ValueError):
    """More components than allowed."""


@dataclass(frozen=True, slots=True)
class SbomComponentEntry:
    purl: str
    package: str
    version: str


@dataclass(frozen=True, slots=True)
class ParsedSbom:
    spec_version: str
    components: list[SbomComponentEntry]


def _walk(components: Iterable[Component]) -> Iterator[Component]:
    for component in components:
        yield component
        yield from _walk(component.components)


def parse_cyclonedx_json(raw: bytes, *, max_components: int) -> ParsedSbom:
    from cyclonedx.model.bom import Bom
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    try:
        document: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise SbomRuleError("the body is not JSON") from error
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise SbomRuleError('the document is not a CycloneDX BOM (bomFormat "CycloneDX")')
    spec_version = document.get("specVersion")
    member = SUPPORTED_SPEC_VERSIONS.get(str(spec_version))
    if member is None:
        raise SbomRuleError("specVersion must be 1.4, 1.5 or 1.6")
    schema = SchemaVersion[member]
    problem = JsonStrictValidator(schema).validate_str(raw.decode("utf-8"))
    if problem is not None:
        first_line = str(problem).splitlines()[0][:300]
        raise SbomRuleError(
            f"the document breaks the CycloneDX {spec_version} schema: {first_line}"
        )
    try:
        bom = Bom.from_json(document)  # type: ignore[attr-defined]
    except Exception as error:  # the library raises many kinds for bad documents
        raise SbomRuleError(f"the CycloneDX library cannot read the document: {error}") from error
    entries: dict[str, SbomComponentEntry] = {}
    for count, component in enumerate(_walk(bom.components), start=1):
        if count > max_components:
            raise TooManyComponentsError(f"the SBOM lists more than {max_components} components")
        purl = component.purl
        version = (purl.version if purl is not None else None) or component.version
        if purl is None or not version:
            continue
        text = purl.to_string()
        entries[text] = SbomComponentEntry(
            purl=text, package=package_key_of_purl(purl), version=str(version)
        )
    return ParsedSbom(spec_version=str(spec_version), components=list(entries.values()))
