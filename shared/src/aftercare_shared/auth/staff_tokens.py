"""Signed staff tokens every service verifies on its own, with no call to another service.

Format: ``ast_<base64url(json claims)>.<base64url(HMAC-SHA256)>``. The key comes from
``AFTERCARE_TOKEN_SIGNING_KEY`` or, when unset, is derived from the admin token, so a
single secret is enough to run the system.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson

from aftercare_shared.clock import utc_now

STAFF_TOKEN_PREFIX = "ast_"  # noqa: S105 - a format marker, not a secret


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

    def issue(self, *, subject: str, ttl_seconds: int, now: float | None = None) -> str:
        issued_at = int(now if now is not None else utc_now().timestamp())
        claims = {"sub": subject, "iat": issued_at, "exp": issued_at + ttl_seconds}
        body = _b64encode(orjson.dumps(claims))
        return f"{STAFF_TOKEN_PREFIX}{body}.{self._sign(body)}"

    def verify(self, token: str, *, now: float | None = None) -> str | None:
        """The token's subject when it is genuine and unexpired, else None."""
        if not token.startswith(STAFF_TOKEN_PREFIX):
            return None
        body, _, signature = token[len(STAFF_TOKEN_PREFIX) :].partition(".")
        if not body or not signature or not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            claims = orjson.loads(_b64decode(body))
        except (ValueError, orjson.JSONDecodeError):
            return None
        current = now if now is not None else utc_now().timestamp()
        if not isinstance(claims, dict) or int(claims.get("exp", 0)) <= current:
            return None
        subject = claims.get("sub")
        return subject if isinstance(subject, str) and subject else None

    def _sign(self, body: str) -> str:
        return _b64encode(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())
