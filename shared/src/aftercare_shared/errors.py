"""Domain exceptions and the one table that turns them into RFC 9457 problems.

Use cases raise these (never HTTP responses); each service's ``errors.py`` subclasses
them for its own cases and lists its problem types in a :class:`ProblemTypes` table that
the app factory registers once. Routes need no ``try``/``except``.

The four kinds fix the status code; a service's table names the problem ``type`` and
``title`` that clients may branch on. An exception the table does not name answers with
its kind's generic type (``not-found``, ``conflict``, ``validation-failed``, ``forbidden``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

PROBLEM_BASE_URI = "https://aftercare.dev/problems/"


class DomainError(Exception):
    """A use case refused the request. ``detail`` is written for the caller to read.

    ``extensions`` become extra members of the problem document (e.g. the id of the
    existing resource a conflict is about); keep them free of secrets.
    """

    status: ClassVar[int] = 400
    default_slug: ClassVar[str] = "bad-request"
    default_title: ClassVar[str] = "Bad Request"
    headers: ClassVar[dict[str, str]] = {}
    """Response headers the refusal needs (``WWW-Authenticate`` on a 401)."""

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFoundError(DomainError):
    """No such resource, or one the caller may not see (existence must not leak)."""

    status = 404
    default_slug = "not-found"
    default_title = "Not Found"


class ConflictError(DomainError):
    """The request contradicts the resource's current state."""

    status = 409
    default_slug = "conflict"
    default_title = "Conflict"


class InvalidError(DomainError):
    """The request is well-formed but its values break a rule; nothing was changed."""

    status = 422
    default_slug = "validation-failed"
    default_title = "Validation failed"


class ForbiddenError(DomainError):
    """The caller is known but may not do this."""

    status = 403
    default_slug = "forbidden"
    default_title = "Forbidden"


@dataclass(frozen=True)
class ProblemType:
    """The ``type`` (a slug under :data:`PROBLEM_BASE_URI`) and ``title`` of a problem."""

    slug: str
    title: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE_URI + self.slug


@dataclass(frozen=True)
class ProblemTypes:
    """A service's domain exceptions → problem types; looked up along the class's MRO."""

    by_error: Mapping[type[DomainError], ProblemType] = field(default_factory=dict)

    def for_error(self, error: DomainError) -> ProblemType:
        for cls in type(error).__mro__:
            if issubclass(cls, DomainError) and cls in self.by_error:
                return self.by_error[cls]
        return ProblemType(type(error).default_slug, type(error).default_title)
