"""intake on the platform's conventions: names, problem types, PATCH bodies, the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from pydantic import ValidationError
from sqlalchemy import Table

from aftercare_intake import errors, use_cases
from aftercare_intake.api.schemas import ClientUpdate, TicketUpdate
from aftercare_intake.models import OPEN_FINGERPRINT_PREDICATE, SCHEMA, Ticket
from aftercare_intake.settings import IntakeSettings
from aftercare_shared.auth import Principal, StaffTokens
from aftercare_shared.clock import FrozenClock, use_clock
from aftercare_shared.errors import PROBLEM_BASE_URI, DomainError, NotFoundError
from aftercare_shared.settings import CommonSettings

AT = datetime(2026, 12, 1, 9, 0, 0, 750_000, tzinfo=UTC)
ADMIN = Principal(kind="staff", subject="admin")


def test_schema_and_the_open_ticket_predicate_read_as_the_migration_wrote_them() -> None:
    assert SCHEMA == "intake"
    # The dedup upsert's conflict target is this partial index: same text as the migration.
    assert OPEN_FINGERPRINT_PREDICATE == (
        "status IN ('new', 'triaged', 'in_progress', 'waiting_on_client')"
    )
    index = next(
        index
        for index in cast(Table, Ticket.__table__).indexes
        if index.name == "uq_tickets_open_fingerprint"
    )
    assert str(index.dialect_options["postgresql"]["where"]) == OPEN_FINGERPRINT_PREDICATE


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
        TicketUpdate.model_validate({"assignee": "bob"})


def test_a_staff_token_expires_ttl_whole_seconds_after_the_clock_says() -> None:
    tokens = StaffTokens(admin_token="test-admin-token")
    with use_clock(FrozenClock(AT)):
        issued = use_cases.issue_staff_token(
            tokens, requested_by=ADMIN, subject="alice", ttl_seconds=600
        )
        assert tokens.verify(issued.token) == "alice"
    assert issued.subject == "alice"
    assert issued.expires_at == AT.replace(microsecond=0) + timedelta(seconds=600)
    with use_clock(FrozenClock(issued.expires_at)):
        assert tokens.verify(issued.token) is None


def test_only_the_admin_credential_mints_staff_tokens() -> None:
    tokens = StaffTokens(admin_token="test-admin-token")
    with pytest.raises(errors.AdminOnlyError):
        use_cases.issue_staff_token(
            tokens,
            requested_by=Principal(kind="staff", subject="alice"),
            subject="mallory",
            ttl_seconds=600,
        )


def test_the_idempotency_window_comes_from_the_settings() -> None:
    settings = IntakeSettings(
        common=CommonSettings(admin_token="test-admin-token-0123456789"),
        idempotency_ttl_hours=36,
    )
    assert settings.idempotency_ttl == timedelta(hours=36)
