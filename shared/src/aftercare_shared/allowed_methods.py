"""The ``Allow`` header of a 405: every method the resource has, not one route's.

FastAPI keeps one route per method, and Starlette answers a method no route has with the
methods of the first route whose path matched, so ``PUT /v1/endpoints`` said
``Allow: POST`` although ``GET`` works too (RFC 9110 §15.5.6: the header lists the
resource's methods; clients and fuzzers read it). The methods come from the service's
OpenAPI document — the same list its clients read — matched by path template, joined with
what Starlette named (routes left out of the document, and ``HEAD`` beside ``GET``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# "{name}" is one path segment; "{name:path}" (Starlette's convertor) any rest of the path.
_PARAMETER = re.compile(r"\{([^}:]+)(:path)?\}")


@dataclass(frozen=True, slots=True)
class DocumentedResource:
    pattern: re.Pattern[str]
    methods: frozenset[str]


def _template_pattern(template: str) -> re.Pattern[str]:
    parts, position = [], 0
    for match in _PARAMETER.finditer(template):
        parts.append(re.escape(template[position : match.start()]))
        parts.append(".+" if match.group(2) else "[^/]+")
        position = match.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts))


def documented_resources(paths: Mapping[str, Mapping[str, Any]]) -> list[DocumentedResource]:
    """One entry per path of an OpenAPI document's ``paths``, with its methods."""
    return [
        DocumentedResource(
            _template_pattern(template),
            frozenset(method.upper() for method in operations if method in _HTTP_METHODS),
        )
        for template, operations in paths.items()
    ]


def allowed_methods(
    resources: Iterable[DocumentedResource], path: str, named: Iterable[str]
) -> str:
    """The ``Allow`` value for ``path``: documented methods and those already ``named``."""
    methods = {method.strip().upper() for method in named if method.strip()}
    for resource in resources:
        if resource.pattern.fullmatch(path):
            methods |= resource.methods
    if "GET" in methods:
        methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
    return ", ".join(sorted(methods))


def allow_header(app: FastAPI, path: str, starlette_allow: str | None) -> str:
    """``Allow`` for a 405 on ``path`` (the document's paths are read once per app)."""
    resources: list[DocumentedResource] | None = getattr(app.state, "documented_resources", None)
    if resources is None:
        resources = documented_resources(app.openapi().get("paths", {}))
        app.state.documented_resources = resources
    return allowed_methods(resources, path, (starlette_allow or "").split(","))
