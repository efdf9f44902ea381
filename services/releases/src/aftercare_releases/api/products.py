"""``/v1/products``: the products the agency maintains, and a product's changelog."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator
from starlette.responses import PlainTextResponse

from aftercare_releases import patch_use_cases, use_cases
from aftercare_releases.api.patch_schemas import ProductCreate, ProductOut
from aftercare_releases.api.schemas import ChangelogOut, ChangelogRangeOut
from aftercare_releases.changelog import render_markdown
from aftercare_releases.domain import VERSION_MAX_LENGTH
from aftercare_releases.versions import normalize_version
from aftercare_shared.auth.dependencies import StaffPrincipal
from aftercare_shared.pagination import DEFAULT_PAGE_SIZE, Page, PageCursor, PageLimit
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep

VersionQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=VERSION_MAX_LENGTH + 120),
    AfterValidator(lambda value: None if value is None else normalize_version(value)),
]

router = APIRouter(
    prefix="/v1/products",
    tags=["products"],
    responses=problem_responses(
        {
            401: "No valid credential.",
            403: "The call needs a staff token.",
            404: "No such product.",
            409: "A product of that name exists already (`product-exists`).",
            422: "The request is not valid; nothing was changed.",
            429: "Too many calls with this client key; retry after Retry-After seconds.",
        }
    ),
)


@router.post("", status_code=201, response_model=ProductOut)
async def create_product(
    body: ProductCreate, session: SessionDep, principal: StaffPrincipal, response: Response
) -> ProductOut:
    """Register a product; its name is what releases, deployments and advisories name."""
    product = await patch_use_cases.create_product(
        session=session,
        name=body.name,
        ecosystem=body.ecosystem,
        repository_url=None if body.repository_url is None else str(body.repository_url),
    )
    # A product name may be any Unicode text: a header carries it percent-encoded.
    response.headers["Location"] = f"/v1/products/{quote(product.name, safe='')}"
    return ProductOut.of(product)


@router.get("", response_model=Page[ProductOut])
async def list_products(
    session: SessionDep,
    principal: StaffPrincipal,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> Page[ProductOut]:
    """Products by name, one page at a time."""
    page = await patch_use_cases.list_products(session=session, cursor=cursor, limit=limit)
    return Page[ProductOut](
        items=[ProductOut.of(p) for p in page.items], next_cursor=page.next_cursor
    )


@router.get("/{name}", response_model=ProductOut)
async def get_product(name: str, session: SessionDep, principal: StaffPrincipal) -> ProductOut:
    return ProductOut.of(await patch_use_cases.get_product(session=session, name=name))


@router.get(
    "/{name}/changelog",
    response_model=ChangelogRangeOut,
    responses={200: {"content": {"text/markdown": {}}}},
)
async def product_changelog(
    name: str,
    session: SessionDep,
    principal: StaffPrincipal,
    from_version: Annotated[VersionQuery, Query(alias="from")] = None,
    to_version: Annotated[VersionQuery, Query(alias="to")] = None,
    output_format: Annotated[Literal["json", "markdown"], Query(alias="format")] = "json",
) -> ChangelogRangeOut | PlainTextResponse:
    """Published releases after ``from`` up to and including ``to``, newest first."""
    changelogs = await use_cases.product_changelog(
        session=session, product=name, from_version=from_version, to_version=to_version
    )
    documents = [changelog.document for changelog in changelogs]
    markdown = render_markdown(f"Changelog of {name}", documents)
    if output_format == "markdown":
        return PlainTextResponse(markdown, media_type="text/markdown; charset=utf-8")
    return ChangelogRangeOut(
        title=f"Changelog of {name}",
        releases=[ChangelogOut.of(document) for document in documents],
        markdown=markdown,
    )
