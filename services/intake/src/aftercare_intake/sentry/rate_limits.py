"""The rate-limit answer Sentry SDKs obey: they stop sending, and drop, until it expires.

``X-Sentry-Rate-Limits: <seconds>:<categories>:<scope>`` — an empty category list means
every category; the scope says whose quota ran out (``key`` or ``project``). SDKs read
the header on any answer and, on a 429 without it, ``Retry-After``; we send both.
"""

from __future__ import annotations

import math
from typing import Literal

RateLimitScope = Literal["key", "project"]


def rate_limit_headers(retry_after_seconds: float, scope: RateLimitScope) -> dict[str, str]:
    seconds = max(1, math.ceil(retry_after_seconds))
    return {"Retry-After": str(seconds), "X-Sentry-Rate-Limits": f"{seconds}::{scope}"}
