"""Signed staff tokens every service verifies on its own, with no call to another service.

Format: ``ast_<base64url(json claims)>.<base64url(HMAC-SHA256)>``; the claims carry the
token's id (``jti``, what revocation names), its subject, its role and its expiry. The key
comes from ``AFTERCARE_TOKEN_SIGNING_KEY`` or, when unset, is derived from the admin token,
so a single secret is enough to run the system.

The signature proves a token was minted here; whether it has been revoked since is a
question for the service's read model of staff tokens (see
:mod:`aftercare_shared.staff_token_registry`), asked by the authenticator.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from aftercare_shared.clock import utc_now
from aftercare_shared.events.catalog import STAFF_ROLES, StaffRole

STAFF_TOKEN_PREFIX = "ast_"  # noqa: S105 - a format marker, not a secret

# Roles (names in the event catalog): ``admin`` does everything, minting and revoking staff
# tokens included; ``staff`` everything else; ``viewer`` reads only (GET and HEAD),
# enforced by the platform for every route.
__all__ = ["STAFF_ROLES", "StaffRole", "StaffTokens", "VerifiedStaffToken"]


@dataclass(frozen=True, slots=True)
class VerifiedStaffToken:
    token_id: str
    subject: str
    role: StaffRole
    expires_at: datetime


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StaffTokens:
    def __init__(self, *, admin_token: str, signing_key: str | None = None) -> None:
        self._admin_token = admin_token.encode("utf-8")
        key_material = signing_key.encode("utf-8") if signing_key else self._admin_token
        # Domain-separate the derived key so the admin token itself never signs anything.
        self._key = hmac.new(key_material, b"aftercare staff token v1", hashlib.sha256).digest()

    def is_admin_token(self, token: str) -> bool:
        return hmac.compare_digest(token.encode("utf-8"), self._admin_token)

    def issue(
        self,
        *,
        token_id: str,
        subject: str,
        role: StaffRole,
        ttl_seconds: int,
        now: float | None = None,
    ) -> str:
        issued_at = int(now if now is not None else utc_now().timestamp())
        claims = {
            "jti": token_id,
            "sub": subject,
            "role": role,
            "iat": issued_at,
            "exp": issued_at + ttl_seconds,
        }
        body = _b64encode(orjson.dumps(claims))
        return f"{STAFF_TOKEN_PREFIX}{body}.{self._sign(body)}"

    def verify(self, token: str, *, now: float | None = None) -> VerifiedStaffToken | None:
        """The token's claims when it is genuine, unexpired and complete, else None.

        Tokens minted before tokens had ids and roles are refused: nothing could revoke them.
        """
        if not token.startswith(STAFF_TOKEN_PREFIX):
            return None
        body, _, signature = token[len(STAFF_TOKEN_PREFIX) :].partition(".")
        if not body or not signature or not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            claims = orjson.loads(_b64decode(body))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(claims, dict):
            return None
        current = now if now is not None else utc_now().timestamp()
        expires = claims.get("exp")
        if not isinstance(expires, int) or expires <= current:
            return None
        token_id, subject, role = claims.get("jti"), claims.get("sub"), claims.get("role")
        if not (isinstance(token_id, str) and token_id and isinstance(subject, str) and subject):
            return None
        if role not in STAFF_ROLES:
            return None
        return VerifiedStaffToken(
            token_id=token_id,
            subject=subject,
            role=role,
            expires_at=datetime.fromtimestamp(expires, tz=UTC),
        )

    def _sign(self, body: str) -> str:
        return _b64encode(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())
