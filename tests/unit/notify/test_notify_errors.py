"""notify's refusals keep the problem types (slugs) and members clients rely on."""

from __future__ import annotations

import pytest

from aftercare_notify.domain.channels import SUPPORTED_CHANNELS, unsupported_channel_reason
from aftercare_notify.errors import (
    PROBLEM_TYPES,
    ChannelNotSupportedError,
    DeliveryInFlightError,
    DeliveryNotFoundError,
    EndpointDisabledError,
    EndpointNotFoundError,
    InvalidEventTypesError,
    InvalidGroupingError,
    UrlNotAllowedError,
    UrlUnresolvableError,
)
from aftercare_shared.errors import DomainError


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (EndpointNotFoundError("No endpoint 'e'."), 404, "not-found"),
        (DeliveryNotFoundError("No delivery 'd'."), 404, "not-found"),
        (InvalidEventTypesError("x", known_event_types=["a.b"]), 422, "invalid-event-types"),
        (UrlNotAllowedError("refused"), 422, "url-not-allowed"),
        (UrlUnresolvableError("no such host"), 422, "url-unresolvable"),
        (
            ChannelNotSupportedError("no", supported_channels=["webhook"]),
            422,
            "channel-not-supported",
        ),
        (InvalidGroupingError("twice", field="group_by"), 422, "invalid-grouping"),
        (EndpointDisabledError("disabled"), 409, "conflict"),
        (DeliveryInFlightError("in flight"), 409, "conflict"),
    ],
)
def test_each_refusal_has_its_status_and_problem_type(
    error: DomainError, status: int, slug: str
) -> None:
    assert error.status == status
    assert PROBLEM_TYPES.for_error(error).uri == f"https://aftercare.dev/problems/{slug}"


def test_refusals_carry_what_the_caller_needs_to_fix_the_request() -> None:
    known = InvalidEventTypesError("Unknown", known_event_types=("sla.breached", "ticket.created"))
    assert known.extensions == {"known_event_types": ["sla.breached", "ticket.created"]}
    channel = ChannelNotSupportedError("no", supported_channels=SUPPORTED_CHANNELS)
    assert channel.extensions == {"supported_channels": ["webhook", "slack", "email"]}


def test_every_supported_channel_is_accepted_and_an_unknown_one_named() -> None:
    for channel in ("webhook", "slack", "email"):
        assert unsupported_channel_reason(channel) is None
    unknown = unsupported_channel_reason("pigeon")
    assert unknown is not None
    assert unknown.startswith("Unknown channel 'pigeon'")
    assert "'slack'" in unknown
