"""CORS for browser SDKs: a project answers only the origins it allows."""

from __future__ import annotations

ANY_ORIGIN = "*"
# What browser SDKs send and must be able to read back (the rate-limit answer above all).
ALLOWED_HEADERS = (
    "content-type, content-encoding, x-sentry-auth, authorization, sentry-trace, baggage"
)
EXPOSED_HEADERS = "x-sentry-rate-limits, retry-after, x-sentry-error"
ALLOWED_METHODS = "POST, OPTIONS"
PREFLIGHT_MAX_AGE_SECONDS = "3600"


def origin_allowed(origin: str, allowed_origins: list[str]) -> bool:
    wanted = origin.strip().rstrip("/").lower()
    return any(allowed in (ANY_ORIGIN, wanted) for allowed in allowed_origins)


def response_headers(origin: str) -> dict[str, str]:
    """Headers on every answer to an allowed origin, errors and 429s included."""
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Vary": "Origin",
    }


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        **response_headers(origin),
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE_SECONDS,
    }
