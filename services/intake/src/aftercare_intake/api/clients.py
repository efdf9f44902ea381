"""Staff manage clients and their API keys."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response

from aftercare_intake import use_cases
from aftercare_intake.api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    ClientCreate,
    ClientOut,
    ClientUpdate,
)
from aftercare_intake.models import ApiKey, Client
from aftercare_shared.auth.dependencies import StaffPrincipal
from aftercare_shared.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    PageCursor,
    PageLimit,
    decode_cursor,
    page_of,
)
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

router = APIRouter(
    prefix="/v1",
    tags=["clients"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            403: "The call needs a staff token.",
            404: "No client (or API key) with that id.",
            422: "The request is not valid (a bad cursor too); nothing was changed.",
        }
    ),
)


def _client_out(client: Client) -> ClientOut:
    return ClientOut.model_validate(client, from_attributes=True)


def _key_out(api_key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(api_key, from_attributes=True)


def _position(row: Client | ApiKey) -> tuple[datetime, str]:
    return (row.created_at, row.id)


@router.post("/clients", status_code=201)
async def create_client(body: ClientCreate, _: StaffPrincipal, session: SessionDep) -> ClientOut:
    return _client_out(await use_cases.create_client(session, name=body.name))


@router.get("/clients")
async def list_clients(
    _: StaffPrincipal,
    session: SessionDep,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[ClientOut]:
    """Oldest first."""
    clients = await use_cases.list_clients(
        session,
        after=decode_cursor(cursor, datetime, str) if cursor else None,
        limit=limit + 1,
    )
    return page_of(clients, limit=limit, key=_position, item=_client_out)


@router.get("/clients/{client_id}")
async def get_client(client_id: str, _: StaffPrincipal, session: SessionDep) -> ClientOut:
    return _client_out(await use_cases.get_client(session, client_id=client_id))


@router.patch("/clients/{client_id}")
async def rename_client(
    client_id: str, body: ClientUpdate, _: StaffPrincipal, session: SessionDep
) -> ClientOut:
    client = await use_cases.update_client(
        session, client_id=client_id, changes=use_cases.ClientChanges(**body.changes())
    )
    return _client_out(client)


@router.post("/clients/{client_id}/api-keys", status_code=201)
async def issue_api_key(
    client_id: str, _: StaffPrincipal, session: SessionDep, body: ApiKeyCreate | None = None
) -> ApiKeyCreated:
    api_key, generated = await use_cases.issue_api_key(
        session, client_id=client_id, name=body.name if body else None
    )
    return ApiKeyCreated(**_key_out(api_key).model_dump(), key=generated.key)


@router.get("/clients/{client_id}/api-keys")
async def list_api_keys(
    client_id: str,
    _: StaffPrincipal,
    session: SessionDep,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[ApiKeyOut]:
    """Oldest first, revoked keys included; never the secret."""
    keys = await use_cases.list_api_keys(
        session,
        client_id=client_id,
        after=decode_cursor(cursor, datetime, str) if cursor else None,
        limit=limit + 1,
    )
    return page_of(keys, limit=limit, key=_position, item=_key_out)


@router.delete("/api-keys/{api_key_id}", status_code=204)
async def revoke_api_key(api_key_id: str, _: StaffPrincipal, session: SessionDep) -> Response:
    await use_cases.revoke_api_key(session, api_key_id=api_key_id)
    return Response(status_code=204)
