"""Domain exceptions become RFC 9457 problems through the service's one table."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, FastAPI
from fastapi.routing import APIRouter

from aftercare_shared.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    ProblemType,
    ProblemTypes,
)
from aftercare_shared.pagination import PageCursor, decode_cursor
from aftercare_shared.problems import (
    document_platform_answers,
    install_problem_handlers,
    problem_responses,
)
from aftercare_shared.service import provided
from tests.support.asgi import asgi_client


class WidgetNotFoundError(NotFoundError):
    pass


class WidgetLockedError(ConflictError):
    pass


class FrozenWidgetLockedError(WidgetLockedError):
    pass


class Greeting:
    def __init__(self, text: str) -> None:
        self.text = text


PROBLEM_TYPES = ProblemTypes(
    {
        WidgetNotFoundError: ProblemType("not-found", "Widget not found"),
        WidgetLockedError: ProblemType("widget-locked", "Widget is locked"),
    }
)

router = APIRouter(responses=problem_responses({404: "No such widget.", 409: "Locked."}))


@router.get("/widgets/{name}")
async def get_widget(name: str, cursor: PageCursor = None) -> dict[str, str]:
    if cursor is not None:
        decode_cursor(cursor, str)
    errors = {
        "missing": WidgetNotFoundError("No such widget."),
        "locked": WidgetLockedError("The widget is locked.", locked_by="ops"),
        "frozen": FrozenWidgetLockedError("Frozen and locked."),
        "bad": InvalidError("Name is not allowed."),
        "secret": ForbiddenError("Staff only."),
    }
    if name in errors:
        raise errors[name]
    return {"name": name}


@router.get("/greeting")
async def greeting(value: Annotated[Greeting, Depends(provided(Greeting))]) -> dict[str, str]:
    return {"text": value.text}


def _app() -> FastAPI:
    app = FastAPI()
    app.state.provided = {Greeting: Greeting("hello")}
    install_problem_handlers(app, PROBLEM_TYPES)
    app.include_router(router)
    return app


async def _get(path: str) -> httpx.Response:
    async with asgi_client(_app()) as client:
        return await client.get(path)


async def test_a_named_error_answers_with_its_problem_type_and_extensions() -> None:
    response = await _get("/widgets/locked")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://aftercare.dev/problems/widget-locked",
        "title": "Widget is locked",
        "status": 409,
        "detail": "The widget is locked.",
        "instance": "/widgets/locked",
        "locked_by": "ops",
    }


async def test_a_subclass_inherits_its_parents_problem_type() -> None:
    response = await _get("/widgets/frozen")
    assert response.status_code == 409
    assert response.json()["type"].endswith("/widget-locked")


async def test_an_error_the_table_does_not_name_gets_its_kinds_generic_type() -> None:
    invalid = await _get("/widgets/bad")
    assert (invalid.status_code, invalid.json()["type"]) == (
        422,
        "https://aftercare.dev/problems/validation-failed",
    )
    forbidden = await _get("/widgets/secret")
    assert (forbidden.status_code, forbidden.json()["title"]) == (403, "Forbidden")
    missing = await _get("/widgets/missing")
    assert (missing.status_code, missing.json()["title"]) == (404, "Widget not found")


async def test_a_bad_cursor_is_the_one_422_answer() -> None:
    response = await _get("/widgets/ok?cursor=garbage")
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("/validation-failed")
    assert body["errors"][0]["kind"] == "invalid_cursor"


async def test_problem_answers_are_in_the_openapi_document() -> None:
    responses = _app().openapi()["paths"]["/widgets/{name}"]["get"]["responses"]
    assert "application/problem+json" in responses["404"]["content"]
    assert responses["409"]["description"] == "Locked."


async def test_the_platform_documents_its_own_answers_on_every_route() -> None:
    app = _app()
    document_platform_answers(app)
    paths = app.openapi()["paths"]
    widget = paths["/widgets/{name}"]["get"]["responses"]
    # Its own descriptions kept; the platform's answers added, all problem+json.
    assert widget["409"]["description"] == "Locked."
    assert {"422", "431", "503"} <= widget.keys()
    assert "413" not in widget  # no body
    for status in ("422", "431", "503"):
        assert set(widget[status]["content"]) == {"application/problem+json"}, status
    assert {"431", "503"} <= paths["/greeting"]["get"]["responses"].keys()


async def test_routes_receive_provided_objects_by_type() -> None:
    response = await _get("/greeting")
    assert response.json() == {"text": "hello"}
