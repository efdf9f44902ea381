"""Stored credentials sealed with AES-GCM under a keyring: round trips, rotation, tampering."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import ValidationError

from aftercare_shared.secrets_at_rest import MARKER, Keyring, SecretKeyError, new_key_entry
from aftercare_shared.settings import CommonSettings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ADMIN = "admin-token-for-unit-tests-0123456789"


def test_a_sealed_value_opens_again_and_hides_the_secret() -> None:
    keyring = Keyring.parse(new_key_entry("k1"))
    first, second = keyring.encrypt(SECRET), keyring.encrypt(SECRET)
    assert first.startswith(f"{MARKER}k1:")
    assert first != second  # a fresh nonce each time: equal secrets do not look equal
    assert SECRET not in first
    assert SECRET[6:] not in first
    assert keyring.decrypt(first) == keyring.decrypt(second) == SECRET


def test_rotation_new_key_seals_old_keys_still_open() -> None:
    old_entry, new_entry = new_key_entry("old"), new_key_entry("new")
    before = Keyring.parse(old_entry)
    sealed_before = before.encrypt(SECRET)
    rotated = Keyring.parse(f"{new_entry},{old_entry}")
    assert rotated.decrypt(sealed_before) == SECRET
    assert rotated.needs_reencryption(sealed_before)
    resealed = rotated.encrypt(rotated.decrypt(sealed_before))
    assert resealed.startswith(f"{MARKER}new:")
    assert not rotated.needs_reencryption(resealed)
    # Once everything is resealed the old key can go.
    assert Keyring.parse(new_entry).decrypt(resealed) == SECRET
    with pytest.raises(SecretKeyError, match="no key 'old'"):
        Keyring.parse(new_entry).decrypt(sealed_before)


def test_tampering_or_relabelling_a_sealed_value_is_detected() -> None:
    entry = new_key_entry("a")
    same_key_other_id = "b:" + entry.split(":", 1)[1]
    keyring = Keyring.parse(f"{entry},{same_key_other_id}")
    sealed = keyring.encrypt(SECRET)
    body = sealed[len(f"{MARKER}a:") :]
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(InvalidTag):
        keyring.decrypt(f"{MARKER}a:{flipped}")
    # The key id is authenticated: the same bytes under another id's label do not open.
    with pytest.raises(InvalidTag):
        keyring.decrypt(f"{MARKER}b:{body}")


def test_values_from_before_encryption_read_as_they_are_and_need_sealing() -> None:
    keyring = Keyring.derived_from(ADMIN)
    assert keyring.decrypt(SECRET) == SECRET
    assert keyring.needs_reencryption(SECRET)
    assert not keyring.needs_reencryption(None)


def test_without_keys_one_is_derived_from_the_admin_token() -> None:
    derived = Keyring.from_settings(secret_keys=None, admin_token=ADMIN)
    assert derived.active_key_id == "derived"
    sealed = derived.encrypt(SECRET)
    assert Keyring.derived_from(ADMIN).decrypt(sealed) == SECRET
    with pytest.raises(InvalidTag):
        Keyring.derived_from(ADMIN + "x").decrypt(sealed)


@pytest.mark.parametrize(
    "setting",
    [
        "k1:short",
        "bad id!:" + new_key_entry("x").split(":", 1)[1],
        "k1:@@@",
        "dup:" + "A" * 43 + ",dup:" + "A" * 43,
    ],
)
def test_unusable_key_settings_are_refused_at_start(setting: str) -> None:
    with pytest.raises(ValidationError):
        CommonSettings(admin_token=ADMIN, secret_keys=setting)
