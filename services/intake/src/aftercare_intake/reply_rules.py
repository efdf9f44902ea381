"""How a reply moves a ticket: the support desk's status rules, free of frameworks.

- A public staff reply may ask for ``waiting_on_client`` (the question is the client's now).
- A client's public reply on a ``waiting_on_client`` ticket hands it back: ``in_progress``.
- A client's public reply on a ``resolved`` ticket within the reopen window reopens it.
- An internal note never moves anything: the client cannot see why it would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from aftercare_intake import domain
from aftercare_shared.events.catalog import CommentAuthorKind, CommentVisibility, TicketStatus

WAITING_ON_CLIENT: Final[TicketStatus] = "waiting_on_client"
BACK_WITH_STAFF: Final[TicketStatus] = "in_progress"
"""Where a client's answer to a waiting ticket puts it."""


@dataclass(frozen=True, slots=True)
class Reply:
    author_kind: CommentAuthorKind
    visibility: CommentVisibility
    requested_status: TicketStatus | None = None
    """What a staff reply asks the ticket to become (``waiting_on_client`` only)."""


@dataclass(frozen=True, slots=True)
class StatusMove:
    to: TicketStatus
    reopens: bool


def status_after_reply(
    status: TicketStatus,
    resolved_at: datetime | None,
    reply: Reply,
    *,
    now: datetime,
    reopen_window: timedelta,
) -> StatusMove | None:
    """The status the reply moves the ticket to, or None when it stays as it is.

    A staff request for a move the ticket cannot make raises ``TransitionNotAllowedError``.
    """
    if reply.visibility == "internal":
        return None
    if reply.author_kind == "staff":
        wanted = reply.requested_status
        if wanted is None or wanted == status:
            return None
        domain.check_transition(status, wanted)
        return StatusMove(to=wanted, reopens=False)
    if status == WAITING_ON_CLIENT:
        return StatusMove(to=BACK_WITH_STAFF, reopens=False)
    if (
        status == domain.RESOLVED_STATUS
        and resolved_at is not None
        and now - resolved_at <= reopen_window
    ):
        return StatusMove(to=domain.REOPENED_STATUS, reopens=True)
    return None
