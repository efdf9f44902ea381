"""``Idempotency-Key`` on intake's creating requests (``POST /v1/reports``, ``POST /v1/tickets``).

A retried request under the same key gets the first answer again, and nothing is filed
twice: the key is claimed in the request's own transaction, so a concurrent retry blocks
on the claim until the first commits, then reads its stored answer. The same key with a
different request (another body, or another route) is a 422 ``idempotency-key-reused``,
as Stripe and the IETF ``Idempotency-Key`` draft answer it. Answers are kept for
``INTAKE_IDEMPOTENCY_TTL_HOURS``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import repository
from aftercare_intake.errors import IdempotencyKeyReusedError
from aftercare_shared.auth import Principal
from aftercare_shared.clock import utc_now

# Answers are replayed with this header, so a client can tell a replay from a new answer.
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


def request_hash(route: str, body: dict[str, Any]) -> str:
    """The request's identity: its route and its body in canonical JSON."""
    canonical = orjson.dumps({"route": route, "body": body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def owner_of(principal: Principal) -> str:
    """Whose keys these are: a client's (its systems share one key space) or one staff
    member's, named apart so a staff key can never meet a client's."""
    if principal.is_staff:
        return f"staff:{principal.subject}"
    assert principal.client_id is not None
    return principal.client_id


async def claim(
    session: AsyncSession, *, owner: str, key: str, request: str, ttl: timedelta
) -> StoredAnswer | None:
    """Claim ``key`` for this request, or the answer already given under it.

    None means the key is now ours and the request goes ahead in this transaction, which
    must :func:`remember` its answer before it commits.
    """
    earlier = await repository.claim_idempotency_key(
        session, client_id=owner, key=key, request_hash=request, expired_before=utc_now() - ttl
    )
    if earlier is None:
        return None
    stored_hash = earlier.request_hash
    status_code, body = earlier.response_status, earlier.response_body
    await session.rollback()
    if stored_hash != request:
        raise IdempotencyKeyReusedError(
            "This Idempotency-Key was already used with a different request."
        )
    # The claim waited for the first request to commit, and it committed with its answer.
    assert status_code is not None
    assert body is not None
    return StoredAnswer(status_code, body)


async def remember(session: AsyncSession, *, owner: str, key: str, answer: StoredAnswer) -> None:
    """Store the answer with the claimed key, in the transaction that did the work."""
    await repository.store_idempotent_response(
        session, client_id=owner, key=key, status=answer.status_code, body=answer.body
    )
