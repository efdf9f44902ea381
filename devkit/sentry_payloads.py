"""Sentry payloads for tests and the bench: envelopes as SDKs frame them, realistic events,
and zip bombs built in milliseconds.
"""

from __future__ import annotations

import random
import uuid
import zlib
from typing import Any

import orjson

MIB = 1024 * 1024


def envelope_of(*events: dict[str, Any], dsn: str | None = None, extra: bytes = b"") -> bytes:
    """An envelope with these events (each with its length), as SDKs frame it."""
    headers: dict[str, Any] = {"sent_at": "2026-12-01T09:00:00Z"}
    if events:
        headers["event_id"] = events[0]["event_id"]
    if dsn is not None:
        headers["dsn"] = dsn
    body = orjson.dumps(headers) + b"\n"
    for event in events:
        payload = orjson.dumps(event)
        body += orjson.dumps({"type": "event", "length": len(payload)}) + b"\n" + payload + b"\n"
    return body + extra


def gzip_bomb(prefix: bytes, *, inflated_mib: int) -> bytes:
    """``prefix`` then ``inflated_mib`` MiB of zeros, gzip-compressed to about 1/1000.

    Every MiB of zeros is flushed on its own, so its compressed block is the same bytes each
    time and is repeated instead of compressed again: a 4 GiB bomb takes milliseconds to
    build. The trailer's checksum is wrong, but no reader that respects a limit gets there.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    zeros = b"\0" * MIB
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head + block * inflated_mib + compressor.flush()


_MODULES = ["shop.checkout", "shop.pricing", "shop.stock", "shop.accounts", "shop.mail"]
_FUNCTIONS = ["pay", "price_for", "reserve", "login", "send_receipt", "apply_voucher"]


def realistic_event(number: int, *, target_bytes: int = 3_500, seed: int = 0) -> dict[str, Any]:
    """A Python SDK error event of about ``target_bytes`` (2 to 5 KiB as real ones are), whose
    fingerprint is its own (``number`` picks the failing function's name)."""
    rng = random.Random(seed * 1_000_003 + number)  # noqa: S311 - test data, not secrets
    frames = [
        {
            "filename": f"django/core/handlers/{name}.py",
            "abs_path": f"/usr/lib/python3.11/site-packages/django/core/handlers/{name}.py",
            "module": f"django.core.handlers.{name}",
            "function": function,
            "lineno": rng.randint(10, 400),
            "in_app": False,
            "context_line": "    response = wrapped_callback(request, *args, **kwargs)",
        }
        for name, function in (("base", "_get_response"), ("exception", "inner"))
    ] + [
        {
            "filename": f"{module.replace('.', '/')}.py",
            "abs_path": f"/srv/shop/releases/r{rng.randint(1, 90)}/{module.replace('.', '/')}.py",
            "module": module,
            "function": f"{rng.choice(_FUNCTIONS)}_{number}"
            if depth == 2
            else rng.choice(_FUNCTIONS),
            "lineno": rng.randint(10, 400),
            "in_app": True,
            "context_line": "    total = sum(line.price * line.quantity for line in basket)",
        }
        for depth, module in enumerate(rng.sample(_MODULES, 3))
    ]
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": 1_764_579_600.0 + number,
        "level": "error",
        "platform": "python",
        "logger": "django.request",
        "server_name": f"web-{rng.randint(1, 6)}",
        "release": f"shop@1.{rng.randint(0, 9)}.{rng.randint(0, 20)}",
        "environment": rng.choice(["production", "staging"]),
        "transaction": "/checkout/",
        "tags": {"region": rng.choice(["eu", "us"]), "customer_tier": rng.choice(["gold", "free"])},
        "user": {"id": str(rng.randint(1, 10**6)), "ip_address": "192.0.2.10"},
        "contexts": {
            "runtime": {"name": "CPython", "version": "3.11.7"},
            "os": {"name": "Linux", "version": "6.1"},
            "trace": {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16]},
        },
        "sdk": {"name": "sentry.python.django", "version": "2.75.0"},
        "request": {"method": "POST", "url": "https://shop.example/checkout/"},
        "exception": {
            "values": [
                {
                    "type": "KeyError",
                    "value": f"'sku-{rng.randint(1, 10**6)}'",
                    "mechanism": {"type": "django", "handled": False},
                    "stacktrace": {"frames": frames},
                }
            ]
        },
    }
    padding = target_bytes - len(orjson.dumps(event))
    if padding > 0:
        event["extra"] = {"basket": "x" * padding}
    return event
