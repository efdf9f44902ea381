"""The problem+json errors notify answers with (RFC 9457), in one place."""

from __future__ import annotations

from collections.abc import Sequence

from aftercare_shared.problems import PROBLEM_BASE_URI, Problem

SUPPORTED_CHANNELS = ("webhook",)
PLANNED_CHANNELS = ("email", "chat")


def endpoint_not_found(endpoint_id: str) -> Problem:
    # Also the answer for another tenant's endpoint: existence must not leak.
    return Problem(
        404, f"No endpoint {endpoint_id!r}.", problem_type=PROBLEM_BASE_URI + "not-found"
    )


def delivery_not_found(delivery_id: str) -> Problem:
    return Problem(
        404, f"No delivery {delivery_id!r}.", problem_type=PROBLEM_BASE_URI + "not-found"
    )


def invalid_event_types(detail: str, known: Sequence[str]) -> Problem:
    return Problem(
        422,
        detail,
        problem_type=PROBLEM_BASE_URI + "invalid-event-types",
        title="Invalid event types",
        known_event_types=list(known),
    )


def url_not_allowed(detail: str) -> Problem:
    return Problem(
        422,
        f"The endpoint URL is not allowed: {detail}.",
        problem_type=PROBLEM_BASE_URI + "url-not-allowed",
        title="URL not allowed",
    )


def url_unresolvable(detail: str) -> Problem:
    return Problem(
        422,
        f"The endpoint URL's host cannot be resolved: {detail}.",
        problem_type=PROBLEM_BASE_URI + "url-unresolvable",
        title="URL host does not resolve",
    )


def channel_not_supported(channel: str) -> Problem:
    supported = ", ".join(repr(name) for name in SUPPORTED_CHANNELS)
    if channel in PLANNED_CHANNELS:
        detail = f"Channel {channel!r} is not supported yet; supported: {supported}."
    else:
        detail = f"Unknown channel {channel!r}; supported: {supported}."
    return Problem(
        422,
        detail,
        problem_type=PROBLEM_BASE_URI + "channel-not-supported",
        title="Channel not supported",
        supported_channels=list(SUPPORTED_CHANNELS),
    )


def conflict(detail: str) -> Problem:
    return Problem(409, detail, problem_type=PROBLEM_BASE_URI + "conflict")
