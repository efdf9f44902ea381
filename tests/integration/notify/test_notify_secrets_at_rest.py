"""Endpoint signing secrets and URLs (a Slack webhook URL is a credential) are sealed in the
database, resealed after a key rotation, and sealed by the migrations for rows written
before encryption."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from aftercare_notify.secret_sealing import reencrypt_endpoint_secrets
from aftercare_shared.migrations import downgrade, upgrade
from aftercare_shared.secrets_at_rest import (
    MARKER,
    Keyring,
    new_key_entry,
    use_keyring,
)
from devkit.databases import create_database, drop_database
from tests.integration.notify.notify_support import (
    STAFF,
    migrated_notify_database,
    notify_settings_for,
    running_notify,
    unique_client_id,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def _stored_secrets(database_url: str) -> list[tuple[str, str | None]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                sa.text("SELECT secret, previous_secret FROM notify.endpoints ORDER BY id")
            )
            return [(row[0], row[1]) for row in rows]
    finally:
        await engine.dispose()


async def test_the_database_holds_only_sealed_secrets_and_a_rotation_reseals_them() -> None:
    old_entry, new_entry = new_key_entry("old"), new_key_entry("new")
    async with (
        migrated_notify_database() as url,
        running_notify(notify_settings_for(url)) as notify,
    ):
        with use_keyring(Keyring.parse(old_entry)):
            endpoint = await notify.create_endpoint(
                url="http://127.0.0.1:9/hook",
                event_types=["ticket.*"],
                client_id=unique_client_id(),
            )
            rotated = await notify.client.post(
                f"/v1/endpoints/{endpoint['id']}/rotate-secret", headers=STAFF
            )
            assert rotated.status_code == 200, rotated.text
        current, previous = rotated.json()["secret"], endpoint["secret"]

        ((stored, stored_previous),) = await _stored_secrets(url)
        assert stored_previous is not None
        assert stored.startswith(f"{MARKER}old:")
        assert stored_previous.startswith(f"{MARKER}old:")
        for plaintext in (current, previous):
            assert plaintext not in stored + stored_previous

        # A new key first, the old one kept to open what it sealed: the job reseals.
        with use_keyring(Keyring.parse(f"{new_entry},{old_entry}")):
            assert await reencrypt_endpoint_secrets(notify.session_factory) == 1
            assert await reencrypt_endpoint_secrets(notify.session_factory) == 0
        ((stored, stored_previous),) = await _stored_secrets(url)
        assert stored_previous is not None
        assert stored.startswith(f"{MARKER}new:")
        assert stored_previous.startswith(f"{MARKER}new:")

        # The old key dropped from the ring: every secret still reads the same.
        with use_keyring(Keyring.parse(new_entry)):
            read = await notify.client.get(f"/v1/endpoints/{endpoint['id']}/secret", headers=STAFF)
        assert read.json()["secret"] == current


async def test_the_migration_seals_secrets_stored_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = new_key_entry("m1")
    monkeypatch.setenv("AFTERCARE_SECRET_KEYS", entry)
    url = await create_database()
    engine = create_async_engine(url)
    try:
        await asyncio.to_thread(upgrade, "notify", url, "0006_staff_token_revocation")
        async with engine.begin() as connection:
            await connection.execute(
                sa.text(
                    "INSERT INTO notify.endpoints (id, url, channel, event_types, status, "
                    "secret, previous_secret, created_at, updated_at) VALUES ('e1', "
                    "'https://example.com/h', 'webhook', ARRAY['ticket.*'], 'enabled', "
                    "'whsec_plain', NULL, now(), now())"
                )
            )
        await asyncio.to_thread(upgrade, "notify", url)
        ((stored, previous),) = await _stored_secrets(url)
        assert stored.startswith(f"{MARKER}m1:")
        assert previous is None
        assert Keyring.parse(entry).decrypt(stored) == "whsec_plain"
        await asyncio.to_thread(downgrade, "notify", url, "0006_staff_token_revocation")
        assert await _stored_secrets(url) == [("whsec_plain", None)]
    finally:
        await engine.dispose()
        await drop_database(url)


SLACK_URL = "http://127.0.0.1:9/services/T000/B000/XXXXsecretXXXX"


async def _stored_urls(database_url: str) -> list[str | None]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(sa.text("SELECT url FROM notify.endpoints ORDER BY id"))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


async def test_a_slack_url_is_sealed_in_the_database_and_a_rotation_reseals_it() -> None:
    old_entry, new_entry = new_key_entry("old"), new_key_entry("new")
    async with (
        migrated_notify_database() as url,
        running_notify(notify_settings_for(url)) as notify,
    ):
        with use_keyring(Keyring.parse(old_entry)):
            endpoint = await notify.create_endpoint(
                url=SLACK_URL,
                channel="slack",
                event_types=["ticket.*"],
                client_id=unique_client_id(),
            )
        assert endpoint["url"] == SLACK_URL
        (stored,) = await _stored_urls(url)
        assert stored is not None
        assert stored.startswith(f"{MARKER}old:")
        assert "/services/" not in stored
        assert "XXXXsecretXXXX" not in stored

        with use_keyring(Keyring.parse(f"{new_entry},{old_entry}")):
            assert await reencrypt_endpoint_secrets(notify.session_factory) == 1
            assert await reencrypt_endpoint_secrets(notify.session_factory) == 0
        (stored,) = await _stored_urls(url)
        assert stored is not None
        assert stored.startswith(f"{MARKER}new:")

        # Only the new key left: the API still shows the URL it was given.
        with use_keyring(Keyring.parse(new_entry)):
            read = await notify.client.get(f"/v1/endpoints/{endpoint['id']}", headers=STAFF)
        assert read.status_code == 200, read.text
        assert read.json()["url"] == SLACK_URL


async def test_the_migration_seals_urls_stored_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = new_key_entry("m2")
    monkeypatch.setenv("AFTERCARE_SECRET_KEYS", entry)
    url = await create_database()
    engine = create_async_engine(url)
    try:
        await asyncio.to_thread(upgrade, "notify", url, "0008_digest_groups")
        sealed_secret = Keyring.parse(entry).encrypt("whsec_plain")
        async with engine.begin() as connection:
            await connection.execute(
                sa.text(
                    "INSERT INTO notify.endpoints (id, url, channel, event_types, status, "
                    "secret, previous_secret, created_at, updated_at) VALUES ('e1', "
                    ":url, 'slack', ARRAY['ticket.*'], 'enabled', :secret, NULL, now(), now())"
                ),
                {"url": SLACK_URL, "secret": sealed_secret},
            )
        await asyncio.to_thread(upgrade, "notify", url, "0009_seal_endpoint_urls")
        (stored,) = await _stored_urls(url)
        assert stored is not None
        assert stored.startswith(f"{MARKER}m2:")
        assert Keyring.parse(entry).decrypt(stored) == SLACK_URL
        await asyncio.to_thread(downgrade, "notify", url, "0008_digest_groups")
        assert await _stored_urls(url) == [SLACK_URL]
    finally:
        await engine.dispose()
        await drop_database(url)
