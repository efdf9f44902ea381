"""Client API keys: 256 random bits, shown once, stored only as a SHA-256 digest.

A fast hash is right here (unlike passwords): the key is random and long, so there is
nothing to brute-force, and every request must verify it cheaply.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal, get_args

API_KEY_PREFIX = "ak_"
DISPLAY_PREFIX_LENGTH = 11  # "ak_" + 8 characters: enough to recognise a key in a list

ApiKeyScope = Literal["client", "ingest"]
"""``client``: submit and read its own client's data. ``ingest``: submit only (reports,
Sentry envelopes, check-ins) and read nothing, so it may ship inside a browser app."""
API_KEY_SCOPES: tuple[ApiKeyScope, ...] = get_args(ApiKeyScope)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: str
    prefix: str
    key_hash: str


@dataclass(frozen=True, slots=True)
class ResolvedApiKey:
    api_key_id: str
    client_id: str
    scope: ApiKeyScope = "client"


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_api_key() -> NewApiKey:
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return NewApiKey(key=key, prefix=key[:DISPLAY_PREFIX_LENGTH], key_hash=hash_api_key(key))


def looks_like_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX) and len(token) > DISPLAY_PREFIX_LENGTH
