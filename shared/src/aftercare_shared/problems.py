"""RFC 9457 problem details: every error any service returns has this one shape.

Two things become problems: the platform's own HTTP refusals (:class:`Problem`, raised by
authentication, rate limits and body limits) and use-case refusals
(:class:`~aftercare_shared.errors.DomainError`, mapped through the service's
:class:`~aftercare_shared.errors.ProblemTypes`). Services raise only the latter.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from aftercare_shared.allowed_methods import allow_header
from aftercare_shared.errors import PROBLEM_BASE_URI, DomainError, ProblemTypes

PROBLEM_CONTENT_TYPE = "application/problem+json"

logger = structlog.get_logger(__name__)


class Problem(Exception):  # noqa: N818 - it is the RFC's name for the thing
    """An HTTP-level refusal raised by the platform (credentials, rate limits).

    Use cases raise :class:`~aftercare_shared.errors.DomainError` subclasses instead.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        problem_type: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problem_type = problem_type or _default_type(status)
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extensions = extensions


def _default_type(status: int) -> str:
    return PROBLEM_BASE_URI + HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    problem_type: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": problem_type or _default_type(status),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers
    )


def _validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    # Say where and what, never echo the (possibly huge or secret) input back.
    return [
        {
            "location": ".".join(str(part) for part in item.get("loc", ())),
            "message": item.get("msg", "invalid"),
            "kind": item.get("type", "invalid"),
        }
        for item in error.errors()
    ]


def problem_responses(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting the problem+json answers a router gives."""
    return {
        status: {"description": description, "content": {PROBLEM_CONTENT_TYPE: {}}}
        for status, description in sorted(descriptions.items())
    }


# What the platform itself may answer on a route, whatever the route documents: its
# middleware and its principal dependency run before (or around) every handler.
_EVERY_ROUTE = {
    431: "The request headers are too large (`AFTERCARE_MAX_HEADER_BYTES`).",
    503: "The database or the broker is unreachable for now; retry after `Retry-After`.",
}
_WITH_A_BODY = {
    400: "The body is not well-formed (not JSON, or not UTF-8).",
    413: "The request body is too large (`AFTERCARE_MAX_BODY_BYTES`).",
}
_AUTHENTICATED = {
    429: "Too many calls with this client API key; see Retry-After.",
}
_VALIDATED = {422: "The request is not valid; nothing was changed."}


def document_platform_answers(app: FastAPI) -> None:
    """Complete the app's OpenAPI document with the problems the platform answers itself.

    Every route may answer 431 (header limit) and 503 (an outage); one with a body 400
    (malformed) and 413 (body limit); one taking a credential 429 (client keys are
    rate-limited before any role check); one with parameters or a body 422 (validation),
    always problem+json.
    A route's own description of a status is kept.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                responses: dict[str, Any] = operation.setdefault("responses", {})
                answers = dict(_EVERY_ROUTE)
                if "requestBody" in operation:
                    answers |= _WITH_A_BODY
                if "401" in responses:
                    answers |= _AUTHENTICATED
                if "requestBody" in operation or operation.get("parameters"):
                    answers |= _VALIDATED
                for status, description in problem_responses(answers).items():
                    documented = responses.setdefault(str(status), description)
                    if PROBLEM_CONTENT_TYPE not in documented.get("content", {}):
                        # FastAPI's default 422 is application/json; ours is problem+json.
                        documented["content"] = description["content"]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(app: FastAPI, problem_types: ProblemTypes | None = None) -> None:
    """Answer every error with problem+json; ``problem_types`` names the service's own."""
    types = problem_types or ProblemTypes()

    async def on_domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        problem = types.for_error(exc)
        return problem_response(
            exc.status,
            exc.detail,
            instance=request.url.path,
            problem_type=problem.uri,
            title=problem.title,
            headers=dict(exc.headers) or None,
            **exc.extensions,
        )

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status,
            exc.detail,
            instance=request.url.path,
            problem_type=exc.problem_type,
            title=exc.title,
            headers=exc.headers,
            **exc.extensions,
        )

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(
            422,
            "The request is not valid; see errors.",
            instance=request.url.path,
            problem_type=PROBLEM_BASE_URI + "validation-failed",
            title="Validation failed",
            errors=_validation_errors(exc),
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
            headers["Allow"] = allow_header(request.app, request.url.path, headers.get("Allow"))
        return problem_response(
            exc.status_code,
            str(exc.detail) if exc.detail else HTTPStatus(exc.status_code).phrase,
            instance=request.url.path,
            headers=headers or None,
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error", path=request.url.path)
        return problem_response(
            500, "An unexpected error occurred; it has been logged.", instance=request.url.path
        )

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
