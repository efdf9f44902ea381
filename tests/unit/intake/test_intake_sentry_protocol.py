"""Sentry's protocol pieces: credentials and DSNs, the event mapping, rate-limit headers, CORS."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aftercare_intake.errors import (
    IngestCredentialsConflictError,
    IngestCredentialsMissingError,
    ProjectMismatchError,
)
from aftercare_intake.sentry import cors
from aftercare_intake.sentry.credentials import (
    agreed_key,
    format_dsn,
    key_from_auth_header,
    key_from_query,
    parse_dsn,
)
from aftercare_intake.sentry.events import occurrence_from_event
from aftercare_intake.sentry.rate_limits import rate_limit_headers

KEY = "da8651a70cacd339dc2ef0e597252393"
OTHER = "0123456789abcdef0123456789abcdef"


# --- credentials --------------------------------------------------------------------------------


def test_the_key_is_read_from_the_header_sdks_send() -> None:
    header = f"Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.75.0"
    assert key_from_auth_header(header) == KEY
    assert key_from_auth_header(f"sentry sentry_version=7,sentry_key={KEY}") == KEY
    assert key_from_auth_header(None) is None
    assert key_from_auth_header("Bearer ak_x") is None
    with pytest.raises(IngestCredentialsMissingError, match="no sentry_key"):
        key_from_auth_header("Sentry sentry_version=7")
    with pytest.raises(IngestCredentialsMissingError, match="not a DSN key"):
        key_from_auth_header("Sentry sentry_key=ak_with-dash_and_underscore")


def test_a_dsn_names_a_public_key_and_a_positive_project_id() -> None:
    parsed = parse_dsn(f"https://{KEY}@intake.example.com:8443/sub/path/42")
    assert (parsed.public_key, parsed.project_id) == (KEY, 42)
    for broken in ("not a url", f"ftp://{KEY}@host/1", "https://host/1", f"https://{KEY}@host/x"):
        with pytest.raises(IngestCredentialsMissingError):
            parse_dsn(broken)
    with pytest.raises(IngestCredentialsMissingError):
        parse_dsn(42)


def test_every_credential_present_must_name_the_same_key_and_project() -> None:
    dsn = f"http://{KEY}@127.0.0.1:8001/7"
    assert agreed_key(project_id=7, header=KEY, query=None, dsn=None) == KEY
    assert agreed_key(project_id=7, header=None, query=key_from_query(KEY), dsn=None) == KEY
    assert agreed_key(project_id=7, header=None, query=None, dsn=dsn) == KEY
    assert agreed_key(project_id=7, header=KEY, query=KEY, dsn=dsn) == KEY
    with pytest.raises(IngestCredentialsMissingError, match="Send the DSN's public key"):
        agreed_key(project_id=7, header=None, query=None, dsn=None)
    with pytest.raises(IngestCredentialsConflictError):
        agreed_key(project_id=7, header=KEY, query=OTHER, dsn=None)
    with pytest.raises(IngestCredentialsConflictError):
        agreed_key(project_id=7, header=KEY, query=None, dsn=f"http://{OTHER}@127.0.0.1:8001/7")
    with pytest.raises(ProjectMismatchError):
        agreed_key(project_id=8, header=KEY, query=None, dsn=dsn)


@pytest.mark.parametrize(
    ("base", "dsn"),
    [
        ("http://127.0.0.1:8001/", f"http://{KEY}@127.0.0.1:8001/3"),
        ("https://intake.example.com", f"https://{KEY}@intake.example.com/3"),
        ("https://example.com/ingest/", f"https://{KEY}@example.com/ingest/3"),
    ],
)
def test_the_dsn_is_built_from_intakes_public_address(base: str, dsn: str) -> None:
    assert format_dsn(base, public_key=KEY, project_id=3) == dsn
    assert parse_dsn(dsn).project_id == 3


# --- the event mapping ------------------------------------------------------------------------


def _event(**fields: Any) -> dict[str, Any]:
    return {"event_id": "9ec79c33-ec99-42ab-8353-589fcb2e04dc", **fields}


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("fatal", "critical"),
        ("error", "high"),
        ("warning", "medium"),
        ("info", "low"),
        ("debug", "low"),
        (None, "high"),
        ("surprising", "high"),
    ],
)
def test_levels_map_to_severities(level: str | None, severity: str) -> None:
    event = _event(message="x") if level is None else _event(message="x", level=level)
    assert occurrence_from_event(event, project_id=1).severity == severity


def test_the_title_is_what_sentry_shows() -> None:
    chain = _event(
        exception={
            "values": [
                {"type": "ConnectionError", "value": "db down"},
                {"type": "CheckoutFailed", "value": "could not charge\nsecond line"},
            ]
        }
    )
    mapped = occurrence_from_event(chain, project_id=1)
    assert mapped.title == "CheckoutFailed: could not charge"
    assert mapped.kind == "CheckoutFailed"
    assert occurrence_from_event(_event(exception=[{"type": "Oops"}]), project_id=1).title == "Oops"
    assert (
        occurrence_from_event(
            _event(
                logentry={"message": "Login failed for %s", "formatted": "Login failed for bob"}
            ),
            project_id=1,
        ).title
        == "Login failed for bob"
    )
    assert occurrence_from_event(_event(), project_id=1).title == "<no message>"
    assert len(occurrence_from_event(_event(message="m" * 2000), project_id=1).title) == 500


def test_every_mapped_field_lands_where_the_table_says() -> None:
    event = _event(
        level="warning",
        platform="python",
        environment="production",
        release="shop-web@2.4.1",
        server_name="web-3",
        timestamp=1764547200.5,
        tags=[["region", "eu"], ["tier", 2], ["broken"]],
        user={"id": "42", "email": "bob@example.com"},
        contexts={"os": {"name": "Linux"}},
        sdk={"name": "sentry.python", "version": "2.75.0", "integrations": ["django"]},
        request={"method": "POST", "url": "https://shop.example/checkout", "data": "secret"},
        transaction="/checkout",
        fingerprint=["{{ default }}", "eu"],
        exception={
            "values": [
                {
                    "type": "KeyError",
                    "value": "'sku'",
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "shop.pricing",
                                "function": "price_for",
                                "filename": "shop/pricing.py",
                                "lineno": 42,
                                "in_app": True,
                                "vars": {"card": "4111 1111 1111 1111"},
                            }
                        ]
                    },
                }
            ]
        },
    )
    mapped = occurrence_from_event(event, project_id=9)
    assert (mapped.environment, mapped.release, mapped.platform) == (
        "production",
        "shop-web@2.4.1",
        "python",
    )
    assert (mapped.server_name, mapped.level, mapped.project_id) == ("web-3", "warning", 9)
    assert mapped.event_id == "9ec79c33ec9942ab8353589fcb2e04dc"
    assert mapped.occurred_at == datetime(2025, 12, 1, 0, 0, 0, 500000, tzinfo=UTC)
    assert mapped.fingerprint.startswith("fp:")
    details = mapped.details
    assert details["tags"] == {"region": "eu", "tier": "2"}
    assert details["user"] == {"id": "42", "email": "bob@example.com"}
    assert details["contexts"] == {"os": {"name": "Linux"}}
    assert details["sdk"] == {"name": "sentry.python", "version": "2.75.0"}
    assert details["request"] == {"method": "POST", "url": "https://shop.example/checkout"}
    assert details["transaction"] == "/checkout"
    assert details["fingerprint"] == ["{{ default }}", "eu"]
    assert details["exceptions"] == [
        {
            "type": "KeyError",
            "value": "'sku'",
            "module": None,
            "frames": [
                {
                    "function": "price_for",
                    "module": "shop.pricing",
                    "filename": "shop/pricing.py",
                    "lineno": 42,
                    "in_app": True,
                }
            ],
        }
    ]
    # Local variables are never kept: they carry whatever the process held.
    assert "4111" not in str(details)
    assert mapped.stacktrace == "  shop.pricing:42 in price_for\nKeyError: 'sku'"


def test_odd_fields_are_ignored_not_refused() -> None:
    odd = _event(
        level=5,
        tags="not tags",
        user=[1],
        exception={"values": "nope"},
        timestamp="yesterday",
        event_id="not-an-id",
        message={"formatted": 12},
    )
    mapped = occurrence_from_event(odd, project_id=1)
    assert mapped.severity == "high"
    assert mapped.occurred_at is None
    assert len(mapped.event_id or "") == 32
    assert mapped.title == "12"


# --- rate-limit answer and CORS -----------------------------------------------------------------


def test_the_rate_limit_answer_is_one_sdks_parse() -> None:
    assert rate_limit_headers(0.2, "key") == {
        "Retry-After": "1",
        "X-Sentry-Rate-Limits": "1::key",
    }
    assert rate_limit_headers(59.01, "project")["X-Sentry-Rate-Limits"] == "60::project"


def test_an_origin_is_allowed_only_when_the_project_lists_it() -> None:
    assert cors.origin_allowed("https://shop.example", ["https://shop.example"])
    assert cors.origin_allowed("https://SHOP.example/", ["https://shop.example"])
    assert cors.origin_allowed("https://anything.example", ["*"])
    assert not cors.origin_allowed("https://evil.example", ["https://shop.example"])
    assert not cors.origin_allowed("https://shop.example", [])
    assert cors.preflight_headers("https://shop.example")["Access-Control-Allow-Origin"] == (
        "https://shop.example"
    )
    assert (
        "x-sentry-rate-limits"
        in cors.response_headers("https://x")["Access-Control-Expose-Headers"]
    )
