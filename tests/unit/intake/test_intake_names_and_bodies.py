"""intake on the platform's conventions: names, problem types, PATCH bodies, the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from pydantic import ValidationError
from sqlalchemy import CheckConstraint, Table
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare_intake import errors, use_cases
from aftercare_intake.api.schemas import ClientUpdate, TicketUpdate
from aftercare_intake.models import (
    API_KEY_SCOPE_CHECK,
    CLOSE_REASON_CHECK,
    HISTORY_ACTION_CHECK,
    SCHEMA,
    TALLY_DIMENSION_CHECK,
    ApiKey,
    TicketHistory,
)
from aftercare_intake.settings import IntakeSettings
from aftercare_shared.auth import Principal, StaffTokens
from aftercare_shared.clock import FrozenClock, use_clock
from aftercare_shared.errors import PROBLEM_BASE_URI, DomainError, NotFoundError
from aftercare_shared.settings import CommonSettings

AT = datetime(2026, 12, 1, 9, 0, 0, 750_000, tzinfo=UTC)


def test_schema_and_check_constraints_are_built_from_the_names_written_once() -> None:
    assert SCHEMA == "intake"
    assert API_KEY_SCOPE_CHECK == "scope IN ('client', 'ingest')"
    assert CLOSE_REASON_CHECK == "close_reason IN ('merged')"
    assert TALLY_DIMENSION_CHECK == "dimension IN ('release', 'environment')"
    assert HISTORY_ACTION_CHECK.startswith("action IN ('status_changed', 'priority_changed'")
    checks = {
        str(constraint.sqltext)
        for table in (ApiKey, TicketHistory)
        for constraint in cast(Table, table.__table__).constraints
        if isinstance(constraint, CheckConstraint)
    }
    assert {API_KEY_SCOPE_CHECK, HISTORY_ACTION_CHECK} <= checks


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (errors.ClientNotFoundError("x"), 404, "not-found"),
        (errors.ApiKeyNotFoundError("x"), 404, "not-found"),
        (errors.TicketNotFoundError("x"), 404, "not-found"),
        (errors.TransitionNotAllowedError("x"), 409, "transition-not-allowed"),
        (errors.IdempotencyKeyReusedError("x"), 422, "idempotency-key-reused"),
        (errors.ClientKeyRequiredError("x"), 403, "forbidden"),
        (errors.AdminOnlyError("x"), 403, "forbidden"),
        (errors.ProjectNotFoundError("x"), 404, "not-found"),
        (errors.TicketMergeError("x"), 409, "merge-not-allowed"),
        (errors.FingerprintNotOnTicketError("x"), 409, "unmerge-not-allowed"),
        (errors.MergedTicketReopenError("x"), 409, "transition-not-allowed"),
        (errors.MalformedEnvelopeError("x"), 400, "malformed-envelope"),
        (errors.EnvelopeTooLargeError("x"), 413, "payload-too-large"),
        (errors.UnsupportedEncodingError("x"), 415, "unsupported-encoding"),
        (errors.IngestCredentialsMissingError("x"), 401, "unauthenticated"),
        (errors.IngestCredentialsConflictError("x"), 401, "unauthenticated"),
        (errors.ProjectMismatchError("x"), 403, "forbidden"),
        (errors.OriginNotAllowedError("x"), 403, "forbidden"),
    ],
)
def test_each_refusal_keeps_its_status_and_problem_type(
    error: DomainError, status: int, slug: str
) -> None:
    assert error.status == status
    assert errors.PROBLEM_TYPES.for_error(error).uri == PROBLEM_BASE_URI + slug


def test_not_found_refusals_are_the_generic_kind() -> None:
    assert issubclass(errors.TicketNotFoundError, NotFoundError)


@pytest.mark.parametrize(
    ("body_type", "field"),
    [(TicketUpdate, "status"), (TicketUpdate, "priority"), (ClientUpdate, "name")],
)
def test_patch_null_is_refused_for_fields_that_cannot_be_cleared(
    body_type: type[TicketUpdate] | type[ClientUpdate], field: str
) -> None:
    with pytest.raises(ValidationError, match="cannot be null"):
        body_type.model_validate({field: None})


def test_patch_changes_hold_only_what_was_sent() -> None:
    assert TicketUpdate.model_validate({"priority": "P1"}).changes() == {"priority": "P1"}
    assert use_cases.TicketChanges(**TicketUpdate.model_validate({}).changes()) == (
        use_cases.TicketChanges()
    )
    assert ClientUpdate.model_validate({"name": "  Acme  "}).changes() == {"name": "Acme"}
    with pytest.raises(ValidationError):
        TicketUpdate.model_validate({"owner": "bob"})
    with pytest.raises(ValidationError):
        TicketUpdate.model_validate({"kind": "KeyError"})  # not one of the closed set
    assert TicketUpdate.model_validate({"assignee": None}).changes() == {"assignee": None}
    with pytest.raises(ValidationError):
        TicketUpdate.model_validate({"priority": None})


def test_a_staff_token_expires_ttl_whole_seconds_after_the_clock_says() -> None:
    tokens = StaffTokens(admin_token="test-admin-token")
    with use_clock(FrozenClock(AT)):
        token = tokens.issue(token_id="t1", subject="alice", role="staff", ttl_seconds=600)
        verified = tokens.verify(token)
    assert verified is not None
    assert (verified.subject, verified.role, verified.token_id) == ("alice", "staff", "t1")
    assert verified.expires_at == AT.replace(microsecond=0) + timedelta(seconds=600)
    with use_clock(FrozenClock(verified.expires_at)):
        assert tokens.verify(token) is None


@pytest.mark.parametrize(
    "requested_by",
    [
        # The subject is a name: a staff- or viewer-role token called "admin" is no admin.
        Principal(kind="staff", subject="admin", role="staff"),
        Principal(kind="staff", subject="admin", role="viewer"),
        Principal(kind="client", subject="api-key:k1", client_id="c1", api_key_id="k1"),
    ],
)
async def test_only_an_admin_role_mints_lists_or_revokes_staff_tokens(
    requested_by: Principal,
) -> None:
    tokens = StaffTokens(admin_token="test-admin-token")
    # Refused before any database work, so no session is needed.
    no_session = cast(AsyncSession, None)
    with pytest.raises(errors.AdminOnlyError):
        await use_cases.issue_staff_token(
            no_session,
            tokens,
            requested_by=requested_by,
            subject="mallory",
            role="admin",
            ttl_seconds=600,
        )
    with pytest.raises(errors.AdminOnlyError):
        await use_cases.list_staff_tokens(
            no_session, requested_by=requested_by, after=None, limit=5
        )
    with pytest.raises(errors.AdminOnlyError):
        await use_cases.revoke_staff_token(no_session, requested_by=requested_by, token_id="t1")


def test_the_idempotency_window_comes_from_the_settings() -> None:
    settings = IntakeSettings(
        common=CommonSettings(admin_token="test-admin-token-0123456789"),
        idempotency_ttl_hours=36,
    )
    assert settings.idempotency_ttl == timedelta(hours=36)


def test_the_occurrence_policy_comes_from_the_settings() -> None:
    defaults = IntakeSettings(common=CommonSettings(admin_token="test-admin-token-0123456789"))
    assert defaults.occurrence_policy.samples == 100
    assert defaults.occurrence_policy.announce_interval == timedelta(seconds=60)
    assert defaults.public_url is None
    tuned = IntakeSettings(
        common=CommonSettings(admin_token="test-admin-token-0123456789"),
        occurrence_samples=5,
        occurrence_event_interval_seconds=2.5,
    )
    assert tuned.occurrence_policy.samples == 5
    assert tuned.occurrence_policy.announce_before(AT) == AT - timedelta(seconds=2.5)


def test_a_401_for_a_bad_dsn_key_says_how_to_authenticate() -> None:
    assert errors.IngestCredentialsMissingError.headers == {
        "WWW-Authenticate": 'Sentry realm="aftercare"'
    }
