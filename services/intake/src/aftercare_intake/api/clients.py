"""Staff manage clients, their projects and their API keys (with each key's DSNs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fastapi import APIRouter, Request, Response

from aftercare_intake import use_cases
from aftercare_intake.api.dependencies import SettingsDep
from aftercare_intake.api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    ClientCreate,
    ClientOut,
    ClientUpdate,
    ProjectCreate,
    ProjectDsn,
    ProjectId,
    ProjectOut,
    ProjectUpdate,
)
from aftercare_intake.models import ApiKey, Client, Project
from aftercare_intake.sentry.credentials import format_dsn
from aftercare_intake.settings import IntakeSettings
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
            404: "No client (or API key, or project) with that id.",
            422: "The request is not valid (a bad cursor too); nothing was changed.",
        }
    ),
)


def _client_out(client: Client) -> ClientOut:
    return ClientOut.model_validate(client, from_attributes=True)


def public_base_url(settings: IntakeSettings, request: Request) -> str:
    """Where client systems reach intake: ``INTAKE_PUBLIC_URL``, else this request's address."""
    return str(settings.public_url) if settings.public_url else str(request.base_url)


def _key_out(api_key: ApiKey, projects: Sequence[Project], base_url: str) -> ApiKeyOut:
    dsns = [
        ProjectDsn(
            project_id=project.id,
            project_name=project.name,
            dsn=format_dsn(base_url, public_key=api_key.public_key, project_id=project.id),
        )
        for project in projects
    ]
    return ApiKeyOut(
        id=api_key.id,
        client_id=api_key.client_id,
        name=api_key.name,
        prefix=api_key.prefix,
        scope=api_key.scope,
        public_key=api_key.public_key,
        dsn=dsns[0].dsn if dsns else None,
        dsns=dsns,
        created_at=api_key.created_at,
        revoked_at=api_key.revoked_at,
        expires_at=api_key.expires_at,
    )


def _project_out(project: Project) -> ProjectOut:
    return ProjectOut.model_validate(project, from_attributes=True)


def _position(row: Client | ApiKey) -> tuple[datetime, str]:
    return (row.created_at, row.id)


def _project_position(project: Project) -> tuple[datetime, int]:
    return (project.created_at, project.id)


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
        after=decode_cursor(cursor, datetime, str),
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


@router.post("/clients/{client_id}/projects", status_code=201)
async def create_project(
    client_id: str, body: ProjectCreate, _: StaffPrincipal, session: SessionDep
) -> ProjectOut:
    """One of the client's apps; its id is the project id of the DSNs that report for it."""
    project = await use_cases.create_project(
        session, client_id=client_id, name=body.name, allowed_origins=body.allowed_origins
    )
    return _project_out(project)


@router.get("/clients/{client_id}/projects")
async def list_projects(
    client_id: str,
    _: StaffPrincipal,
    session: SessionDep,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[ProjectOut]:
    """Oldest first."""
    projects = await use_cases.list_projects(
        session,
        client_id=client_id,
        after=decode_cursor(cursor, datetime, int),
        limit=limit + 1,
    )
    return page_of(projects, limit=limit, key=_project_position, item=_project_out)


@router.patch("/projects/{project_id}")
async def update_project(
    project_id: ProjectId, body: ProjectUpdate, _: StaffPrincipal, session: SessionDep
) -> ProjectOut:
    project = await use_cases.update_project(
        session, project_id=project_id, changes=use_cases.ProjectChanges(**body.changes())
    )
    return _project_out(project)


@router.post("/clients/{client_id}/api-keys", status_code=201)
async def issue_api_key(
    client_id: str,
    request: Request,
    _: StaffPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    body: ApiKeyCreate | None = None,
) -> ApiKeyCreated:
    """A new key, shown once, with its DSN for each of the client's projects.

    A client without a project gets one (``default``) with its first key, so every key
    has a DSN.
    """
    body = body or ApiKeyCreate()
    issued = await use_cases.issue_api_key(
        session,
        client_id=client_id,
        name=body.name,
        scope=body.scope,
        expires_at=body.expires_at,
    )
    out = _key_out(issued.api_key, issued.projects, public_base_url(settings, request))
    return ApiKeyCreated(**out.model_dump(), key=issued.generated.key)


@router.get("/clients/{client_id}/api-keys")
async def list_api_keys(
    client_id: str,
    request: Request,
    _: StaffPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[ApiKeyOut]:
    """Oldest first, revoked keys included; never the secret."""
    keys, projects = await use_cases.list_api_keys(
        session,
        client_id=client_id,
        after=decode_cursor(cursor, datetime, str),
        limit=limit + 1,
    )
    base_url = public_base_url(settings, request)
    return page_of(
        keys, limit=limit, key=_position, item=lambda key: _key_out(key, projects, base_url)
    )


@router.delete("/api-keys/{api_key_id}", status_code=204)
async def revoke_api_key(api_key_id: str, _: StaffPrincipal, session: SessionDep) -> Response:
    await use_cases.revoke_api_key(session, api_key_id=api_key_id)
    return Response(status_code=204)
