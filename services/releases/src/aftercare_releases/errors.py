"""Why the releases service refuses a request, and the problem type each refusal answers with.

Use cases and domain rules raise these; the platform turns them into RFC 9457 problems
through :data:`PROBLEM_TYPES`. The ``release-exists`` and ``release-published`` types are
the ones clients branch on (retry with another version, or stop editing).
"""

from __future__ import annotations

from typing import ClassVar

from aftercare_shared.errors import (
    ConflictError,
    DomainError,
    InvalidError,
    NotFoundError,
    ProblemType,
    ProblemTypes,
)


class ReleaseNotFoundError(NotFoundError):
    """No such release, or none the caller may see: both answer alike, nothing leaks."""


class TicketNotFoundError(NotFoundError):
    """A client asked about a ticket that is not (known to be) its own."""


class DuplicateReleaseError(ConflictError):
    """``(product, version)`` is taken.

    Carries the ``existing_release_id`` extension when the existing release is known
    (not when a concurrent create won the race between our check and our insert).
    """


class ReleaseNotEditableError(ConflictError):
    """A published release was asked to change: others have already acted on it."""


class ReleaseTransitionError(ConflictError):
    """A lifecycle step from a status it does not start from (rollback a draft…)."""


class ProductNotFoundError(NotFoundError):
    """No such product."""


class DuplicateProductError(ConflictError):
    """A product of that name is registered already."""


class UnknownProductError(InvalidError):
    """A deployment named a product nobody registered (``POST /v1/products`` first)."""


class DeploymentNotFoundError(NotFoundError):
    """No such deployment, or not one of this client key's own."""


class DeploymentTransitionError(ConflictError):
    """A deployment status change that is not allowed (a failed one cannot succeed later)."""


class ClientNotFoundError(NotFoundError):
    """A client key asked about another client."""


class InvalidSbomError(InvalidError):
    """The document is not a CycloneDX 1.4-1.6 JSON SBOM this service can read."""


class SbomTooLargeError(DomainError):
    """The SBOM lists more components than ``RELEASES_SBOM_MAX_COMPONENTS``."""

    status: ClassVar[int] = 413
    default_slug: ClassVar[str] = "payload-too-large"
    default_title: ClassVar[str] = "Payload too large"


class AdvisoryNotFoundError(NotFoundError):
    """No such advisory."""


class InvalidAdvisoryError(InvalidError):
    """The document is not an OSV advisory this service can match."""


PROBLEM_TYPES = ProblemTypes(
    {
        ReleaseNotFoundError: ProblemType("not-found", "Release not found"),
        TicketNotFoundError: ProblemType("not-found", "Ticket not found"),
        DuplicateReleaseError: ProblemType("release-exists", "Release already exists"),
        ReleaseNotEditableError: ProblemType("release-published", "Release is published"),
        ReleaseTransitionError: ProblemType("release-transition", "Release cannot move so"),
        ProductNotFoundError: ProblemType("not-found", "Product not found"),
        DuplicateProductError: ProblemType("product-exists", "Product already exists"),
        UnknownProductError: ProblemType("unknown-product", "Unknown product"),
        DeploymentNotFoundError: ProblemType("not-found", "Deployment not found"),
        DeploymentTransitionError: ProblemType(
            "deployment-transition", "Deployment cannot move so"
        ),
        ClientNotFoundError: ProblemType("not-found", "Client not found"),
        InvalidSbomError: ProblemType("invalid-sbom", "Not a readable CycloneDX SBOM"),
        SbomTooLargeError: ProblemType("sbom-too-large", "SBOM too large"),
        AdvisoryNotFoundError: ProblemType("not-found", "Advisory not found"),
        InvalidAdvisoryError: ProblemType("invalid-advisory", "Not a usable OSV advisory"),
    }
)
