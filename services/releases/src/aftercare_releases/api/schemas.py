"""HTTP request and response bodies of the releases API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from aftercare_releases.changelog import (
    ChangelogEntry,
    ReleaseChangelog,
    render_release_markdown,
    sections_of,
)
from aftercare_releases.domain import (
    MAX_TICKETS_PER_RELEASE,
    NOTES_MAX_LENGTH,
    PRODUCT_MAX_LENGTH,
    ROLLBACK_REASON_MAX_LENGTH,
    VERSION_MAX_LENGTH,
    ReleaseStatus,
    normalize_notes,
    normalize_product,
    normalize_rollback_reason,
    normalize_ticket_ids,
)
from aftercare_releases.use_cases import ReleaseView
from aftercare_releases.versions import normalize_version
from aftercare_shared.events.catalog import ChangeType, Priority, ReleaseKind, TicketStatus
from aftercare_shared.patch import PatchBody

# Raw bounds stop absurd input before the rules run; the rules give the precise message.
# A little slack over the rule limits lets surrounding whitespace be trimmed, not refused.
Product = Annotated[
    str, Field(min_length=1, max_length=PRODUCT_MAX_LENGTH + 20), AfterValidator(normalize_product)
]
Version = Annotated[
    str,
    Field(
        min_length=1,
        max_length=VERSION_MAX_LENGTH + 120,
        examples=["1.4.2", "v2.0.0-rc.1", "shop@1.4.2"],
        description=(
            "A Semantic Versioning 2.0 version; a leading v and a package@ prefix are "
            "accepted and dropped."
        ),
    ),
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
ChangeTypes = Annotated[
    dict[Annotated[str, Field(max_length=64)], ChangeType],
    Field(
        max_length=MAX_TICKETS_PER_RELEASE,
        description=(
            "The changelog section of listed tickets (ticket id → change type). Tickets not "
            "named here follow their kind: bug → fixed, security → security, "
            "feature_request → added, anything else → fixed."
        ),
    ),
]


def _lower_keys(change_types: dict[str, ChangeType] | None) -> dict[str, ChangeType] | None:
    if change_types is None:
        return None
    return {ticket_id.strip().lower(): kind for ticket_id, kind in change_types.items()}


class ReleaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product: Product
    version: Version
    kind: ReleaseKind
    notes: Notes = Field(default=None, description="Release notes (Markdown).")
    ticket_ids: TicketIds = Field(default_factory=list)
    change_types: Annotated[ChangeTypes | None, AfterValidator(_lower_keys)] = None


class ReleaseUpdate(PatchBody):
    """Fields left out stay as they are; ``notes: null`` clears the notes."""

    clearable: ClassVar[frozenset[str]] = frozenset({"notes"})

    kind: ReleaseKind | None = None
    notes: Notes = None
    ticket_ids: TicketIds | None = None
    change_types: Annotated[ChangeTypes | None, AfterValidator(_lower_keys)] = None


class ReleaseSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    publish_at: AwareDatetime = Field(
        description="When the release publishes itself (a time in the past: at once)."
    )


class ReleaseRollback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str,
        Field(min_length=1, max_length=ROLLBACK_REASON_MAX_LENGTH + 20),
        AfterValidator(normalize_rollback_reason),
    ]


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
    change_types: dict[str, ChangeType] = Field(
        description="The changelog section of each listed ticket (explicit or from its kind)."
    )
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    publish_at: datetime | None = Field(description="When a scheduled release publishes itself.")
    cancelled_at: datetime | None
    rolled_back_at: datetime | None
    rollback_reason: str | None

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
            change_types=view.change_types,
            publish_at=view.publish_at,
            cancelled_at=view.cancelled_at,
            rolled_back_at=view.rolled_back_at,
            rollback_reason=view.rollback_reason,
        )


class ChangelogEntryOut(BaseModel):
    ticket_id: str
    title: str | None = Field(description="Null while the ticket is not known yet.")
    priority: Priority | None
    status: TicketStatus | None
    change_type: ChangeType


class ChangelogSectionOut(BaseModel):
    change_type: ChangeType
    entries: list[ChangelogEntryOut]


class ChangelogOut(BaseModel):
    """One release's changelog: its Keep a Changelog sections, and the same as Markdown."""

    release_id: str
    product: str
    version: str
    kind: ReleaseKind
    status: ReleaseStatus
    published_at: datetime | None
    notes: str | None
    entries: list[ChangelogEntryOut]
    sections: list[ChangelogSectionOut]
    markdown: str

    @classmethod
    def of(cls, changelog: ReleaseChangelog) -> ChangelogOut:
        header = changelog.header
        return cls(
            release_id=header.release_id,
            product=header.product,
            version=header.version,
            kind=header.kind,
            status=header.status,
            published_at=header.published_at,
            notes=header.notes,
            entries=[_entry_out(entry) for entry in changelog.entries],
            sections=[
                ChangelogSectionOut(
                    change_type=change_type, entries=[_entry_out(entry) for entry in entries]
                )
                for change_type, entries in sections_of(changelog.entries)
            ],
            markdown=render_release_markdown(changelog),
        )


def _entry_out(entry: ChangelogEntry) -> ChangelogEntryOut:
    return ChangelogEntryOut(
        ticket_id=entry.ticket_id,
        title=entry.title,
        priority=entry.priority,
        status=entry.status,
        change_type=entry.change_type,
    )


class ChangelogRangeOut(BaseModel):
    """Several releases' changelogs, newest first, and the whole as Markdown."""

    title: str
    releases: list[ChangelogOut]
    markdown: str
