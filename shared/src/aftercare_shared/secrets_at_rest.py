"""Stored credentials encrypted with AES-256-GCM (AEAD, ``cryptography``) under a keyring.

A column typed :class:`EncryptedText` holds ``aead:v1:<key id>:<base64url(nonce|ciphertext)>``
in the database and its plaintext in Python, so the database alone (a dump, a replica, a
backup) reveals no secret. The key id is bound into the ciphertext as associated data:
a value cannot be passed off as encrypted under another key.

Keys come from ``AFTERCARE_SECRET_KEYS``: ``id:base64url(32 bytes)`` entries separated by
commas, the first one encrypting, every one decrypting. Rotation: put a new key first and
keep the old ones; each service's re-encryption job moves every stored value to the new key
(values under the active key are left alone), after which the old key may be dropped.
When the setting is unset, one key is derived from the admin token (HKDF), so a single
secret is still enough to run the system, and the database still reveals nothing alone.

Values without the ``aead:v1:`` marker are read as they are: they are rows written before
encryption, which the migration and the re-encryption job encrypt.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

MARKER = "aead:v1:"
KEY_BYTES = 32
NONCE_BYTES = 12
DERIVED_KEY_ID = "derived"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Opened values a keyring keeps (see Keyring.decrypt).
_OPENED_KEPT = 10_000


class SecretKeyError(ValueError):
    """A key setting that cannot be used, or a stored value no key in the ring opens."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key_entry(key_id: str) -> str:
    """A fresh ``id:key`` entry for ``AFTERCARE_SECRET_KEYS``."""
    return f"{key_id}:{_b64encode(AESGCM.generate_key(bit_length=256))}"


@dataclass(frozen=True)
class Keyring:
    keys: tuple[tuple[str, bytes], ...]
    """(key id, 32-byte key); the first one encrypts."""
    _opened: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Sealed text → plaintext: a sealed value (random nonce) only ever opens to one
    plaintext, and notify opens the same endpoint URL and secret for every delivery it
    claims (AES-GCM per row was 4 % of its CPU under a fan-out burst)."""

    def __post_init__(self) -> None:
        if not self.keys:
            raise SecretKeyError("a keyring needs at least one key")

    @classmethod
    def parse(cls, setting: str) -> Keyring:
        keys: list[tuple[str, bytes]] = []
        for entry in (part.strip() for part in setting.split(",")):
            if not entry:
                continue
            key_id, _, encoded = entry.partition(":")
            if not _KEY_ID.match(key_id):
                raise SecretKeyError(f"secret key id {key_id!r}: letters, digits, - and _ only")
            try:
                key = _b64decode(encoded)
            except ValueError as error:
                raise SecretKeyError(f"secret key {key_id!r} is not base64url") from error
            if len(key) != KEY_BYTES:
                raise SecretKeyError(f"secret key {key_id!r} must be {KEY_BYTES} bytes")
            keys.append((key_id, key))
        if len({key_id for key_id, _ in keys}) != len(keys):
            raise SecretKeyError("secret key ids must be unique")
        return cls(tuple(keys))

    @classmethod
    def derived_from(cls, admin_token: str) -> Keyring:
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=None,
            info=b"aftercare secrets at rest v1",
        ).derive(admin_token.encode("utf-8"))
        return cls(((DERIVED_KEY_ID, key),))

    @classmethod
    def from_settings(cls, *, secret_keys: str | None, admin_token: str) -> Keyring:
        return cls.parse(secret_keys) if secret_keys else cls.derived_from(admin_token)

    @classmethod
    def from_environment(cls) -> Keyring:
        """For migrations, which run without the services' settings objects."""
        secret_keys = os.environ.get("AFTERCARE_SECRET_KEYS")
        admin_token = os.environ.get("AFTERCARE_ADMIN_TOKEN")
        if not secret_keys and not admin_token:
            raise SecretKeyError(
                "encrypting stored secrets needs AFTERCARE_SECRET_KEYS or AFTERCARE_ADMIN_TOKEN"
            )
        return cls.from_settings(secret_keys=secret_keys, admin_token=admin_token or "")

    @property
    def active_key_id(self) -> str:
        return self.keys[0][0]

    @property
    def active_prefix(self) -> str:
        """What every value encrypted under the active key starts with."""
        return f"{MARKER}{self.active_key_id}:"

    def encrypt(self, plaintext: str) -> str:
        key_id, key = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), key_id.encode("ascii"))
        return f"{MARKER}{key_id}:{_b64encode(nonce + sealed)}"

    def decrypt(self, stored: str) -> str:
        opened = self._opened
        plaintext = opened.get(stored)
        if plaintext is None:
            plaintext = self._open(stored)
            if len(opened) >= _OPENED_KEPT:
                opened.clear()  # a bound, not an LRU: endpoints number in the hundreds
            opened[stored] = plaintext
        return plaintext

    def _open(self, stored: str) -> str:
        if not stored.startswith(MARKER):
            return stored  # written before encryption; the re-encryption job seals it
        key_id, _, encoded = stored[len(MARKER) :].partition(":")
        key = dict(self.keys).get(key_id)
        if key is None:
            raise SecretKeyError(f"no key {key_id!r} in AFTERCARE_SECRET_KEYS to open a secret")
        raw = _b64decode(encoded)
        plaintext = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], key_id.encode())
        return plaintext.decode("utf-8")

    def needs_reencryption(self, stored: str | None) -> bool:
        return stored is not None and not stored.startswith(self.active_prefix)


_keyring: Keyring | None = None


def install_keyring(keyring: Keyring) -> None:
    """The process's keyring (the platform installs it from the settings at app creation)."""
    global _keyring
    _keyring = keyring


@contextmanager
def use_keyring(keyring: Keyring) -> Iterator[Keyring]:
    """Install ``keyring`` for a block (tests rotating keys), then put the previous one back."""
    global _keyring
    previous = _keyring
    _keyring = keyring
    try:
        yield keyring
    finally:
        _keyring = previous


def current_keyring() -> Keyring:
    if _keyring is None:
        raise SecretKeyError("no keyring installed: the service app installs it at creation")
    return _keyring


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted under the process's keyring."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current_keyring().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current_keyring().decrypt(value)
