"""HTTP request and response bodies of the releases API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from aftercare_releases.domain import (
    MAX_TICKETS_PER_RELEASE,
    NOTES_MAX_LENGTH,
    PRODUCT_MAX_LENGTH,
    VERSION_MAX_LENGTH,
    ReleaseStatus,
    normalize_notes,
    normalize_product,
    normalize_ticket_ids,
    normalize_version,
)
from aftercare_releases.use_cases import ReleaseView
from aftercare_shared.events.catalog import Priority, ReleaseKind, TicketStatus
from aftercare_shared.patch import PatchBody

# Raw bounds stop absurd input before the rules run; the rules give the precise message.
# A little slack over the rule limits lets surrounding whitespace be trimmed, not refused.
Product = Annotated[
    str, Field(min_length=1, max_length=PRODUCT_MAX_LENGTH + 20), AfterValidator(normalize_product)
]
Version = Annotated[
    str,
    Field(min_length=1, max_length=VERSION_MAX_LENGTH + 20, examples=["1.4.2"]),
    AfterValidator(normalize_version),
]
Notes = Annotated[str | None, Field(max_length=NOTES_MAX_LENGTH), AfterValidator(normalize_notes)]
TicketIds = Annotated[
    list[Annotated[str, Field(max_length=64)]],
    Field(
        max_length=MAX_TICKETS_PER_RELEASE * 2,
        description=(
            "Ids of the tickets the release fixes (UUIDs). Duplicates are dropped; at most "
            f"{MAX_TICKETS_PER_RELEASE} distinct ids. Ids this service has not heard of yet "
            "are accepted and reported in unknown_ticket_ids."
        ),
    ),
    AfterValidator(normalize_ticket_ids),
]


class ReleaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product: Product
    version: Version
    kind: ReleaseKind
    notes: Notes = Field(default=None, description="Release notes (Markdown).")
    ticket_ids: TicketIds = Field(default_factory=list)


class ReleaseUpdate(PatchBody):
    """Fields left out stay as they are; ``notes: null`` clears the notes."""

    clearable: ClassVar[frozenset[str]] = frozenset({"notes"})

    kind: ReleaseKind | None = None
    notes: Notes = None
    ticket_ids: TicketIds | None = None


class ReleaseOut(BaseModel):
    id: str
    product: str
    version: str
    kind: ReleaseKind
    notes: str | None
    status: ReleaseStatus
    ticket_ids: list[str] = Field(
        description="Tickets the release fixes; a client key sees only its own tickets."
    )
    unknown_ticket_ids: list[str] = Field(
        description=(
            "Listed ids not (yet) known from aftercare.tickets events — usually events that "
            "lag, sometimes a typo. Always empty for a client key."
        )
    )
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None

    @classmethod
    def of(cls, view: ReleaseView) -> ReleaseOut:
        return cls(
            id=view.id,
            product=view.product,
            version=view.version,
            kind=view.kind,
            notes=view.notes,
            status=view.status,
            ticket_ids=view.ticket_ids,
            unknown_ticket_ids=view.unknown_ticket_ids,
            created_at=view.created_at,
            updated_at=view.updated_at,
            published_at=view.published_at,
        )


class ChangelogEntryOut(BaseModel):
    ticket_id: str
    title: str | None = Field(description="Null while the ticket is not known yet.")
    priority: Priority | None
    status: TicketStatus | None


class ChangelogOut(BaseModel):
    release_id: str
    product: str
    version: str
    kind: ReleaseKind
    status: ReleaseStatus
    published_at: datetime | None
    notes: str | None
    entries: list[ChangelogEntryOut]
    markdown: str
