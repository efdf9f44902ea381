"""Staff manage clients and their API keys."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from aftercare_intake import use_cases
from aftercare_intake.models import ApiKey, Client
from aftercare_intake.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    ClientCreate,
    ClientOut,
    ClientUpdate,
)
from aftercare_shared.auth.dependencies import StaffPrincipal
from aftercare_shared.sessions import SessionDep

router = APIRouter(prefix="/v1", tags=["clients"])


def _client_out(client: Client) -> ClientOut:
    return ClientOut.model_validate(client, from_attributes=True)


def _key_out(api_key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(api_key, from_attributes=True)


@router.post("/clients", status_code=201)
async def create_client(body: ClientCreate, _: StaffPrincipal, session: SessionDep) -> ClientOut:
    return _client_out(await use_cases.create_client(session, name=body.name))


@router.get("/clients")
async def list_clients(_: StaffPrincipal, session: SessionDep) -> list[ClientOut]:
    clients = await session.scalars(select(Client).order_by(Client.created_at, Client.id))
    return [_client_out(client) for client in clients]


@router.get("/clients/{client_id}")
async def get_client(client_id: str, _: StaffPrincipal, session: SessionDep) -> ClientOut:
    client = await session.get(Client, client_id)
    if client is None:
        raise use_cases.not_found("client")
    return _client_out(client)


@router.patch("/clients/{client_id}")
async def rename_client(
    client_id: str, body: ClientUpdate, _: StaffPrincipal, session: SessionDep
) -> ClientOut:
    return _client_out(await use_cases.rename_client(session, client_id=client_id, name=body.name))


@router.post("/clients/{client_id}/api-keys", status_code=201)
async def issue_api_key(
    client_id: str, _: StaffPrincipal, session: SessionDep, body: ApiKeyCreate | None = None
) -> ApiKeyCreated:
    api_key, generated = await use_cases.issue_api_key(
        session, client_id=client_id, name=body.name if body else None
    )
    return ApiKeyCreated(**_key_out(api_key).model_dump(), key=generated.key)


@router.get("/clients/{client_id}/api-keys")
async def list_api_keys(client_id: str, _: StaffPrincipal, session: SessionDep) -> list[ApiKeyOut]:
    if await session.get(Client, client_id) is None:
        raise use_cases.not_found("client")
    keys = await session.scalars(
        select(ApiKey).where(ApiKey.client_id == client_id).order_by(ApiKey.created_at)
    )
    return [_key_out(api_key) for api_key in keys]


@router.delete("/api-keys/{api_key_id}", status_code=204)
async def revoke_api_key(api_key_id: str, _: StaffPrincipal, session: SessionDep) -> Response:
    await use_cases.revoke_api_key(session, api_key_id=api_key_id)
    return Response(status_code=204)
