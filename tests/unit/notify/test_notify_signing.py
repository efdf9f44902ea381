"""Our Standard Webhooks signer, checked against the official ``standardwebhooks`` package."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from aftercare_notify.domain.signing import (
    InvalidSecret,
    generate_secret,
    secret_key,
    sign,
    webhook_headers,
)

BODY = (
    b'{"specversion":"1.0","id":"evt-1","type":"aftercare.ticket.created.v1",'
    b'"data":{"a":"\xc3\xa9"}}'
)


def test_generated_secret_is_whsec_base64_of_enough_random_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    assert 24 <= len(key) <= 64
    assert generate_secret() != secret


def test_signature_verifies_with_the_official_library() -> None:
    secret = generate_secret()
    timestamp = int(time.time())
    headers = webhook_headers(
        secrets_in_use=[secret], message_id="evt-1", timestamp=timestamp, body=BODY
    )
    assert headers["webhook-id"] == "evt-1"
    assert headers["webhook-timestamp"] == str(timestamp)
    assert headers["webhook-signature"].startswith("v1,")
    payload = Webhook(secret).verify(BODY, headers)
    assert payload["id"] == "evt-1"


def test_signature_matches_the_official_signer_byte_for_byte() -> None:
    secret = generate_secret()
    timestamp = 1_767_225_600
    ours = sign(secret=secret, message_id="msg_1", timestamp=timestamp, body=BODY)
    theirs = Webhook(secret).sign(
        "msg_1", datetime.fromtimestamp(timestamp, tz=UTC), BODY.decode("utf-8")
    )
    assert ours == theirs


def test_rotation_sends_both_signatures_and_each_secret_verifies() -> None:
    old_secret, new_secret = generate_secret(), generate_secret()
    headers = webhook_headers(
        secrets_in_use=[new_secret, old_secret],
        message_id="evt-2",
        timestamp=int(time.time()),
        body=BODY,
    )
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(signature.startswith("v1,") for signature in signatures)
    Webhook(old_secret).verify(BODY, headers)  # a receiver not yet updated
    Webhook(new_secret).verify(BODY, headers)  # a receiver already on the new secret


def test_a_tampered_body_or_other_secret_fails_verification() -> None:
    secret = generate_secret()
    headers = webhook_headers(
        secrets_in_use=[secret], message_id="evt-3", timestamp=int(time.time()), body=BODY
    )
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


@pytest.mark.parametrize("bad", ["", "whsec_", "sk_abc", "whsec_not base64!"])
def test_malformed_secrets_are_refused(bad: str) -> None:
    with pytest.raises(InvalidSecret):
        secret_key(bad)


def test_signing_needs_at_least_one_secret() -> None:
    with pytest.raises(InvalidSecret):
        webhook_headers(secrets_in_use=[], message_id="m", timestamp=1, body=b"{}")
