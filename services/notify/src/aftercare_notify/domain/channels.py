"""The channels an endpoint can use, and what each one needs to know where to send."""

from __future__ import annotations

from typing import Literal, get_args

Channel = Literal["webhook", "slack", "email"]
SUPPORTED_CHANNELS: tuple[Channel, ...] = get_args(Channel)
# Channels that POST to a URL (SSRF-checked); the others name an address instead.
URL_CHANNELS: tuple[Channel, ...] = ("webhook", "slack")
ADDRESS_CHANNELS: tuple[Channel, ...] = ("email",)


def unsupported_channel_reason(channel: str) -> str | None:
    """Why ``channel`` cannot be used, written for the caller; None when it can."""
    if channel in SUPPORTED_CHANNELS:
        return None
    supported = ", ".join(repr(name) for name in SUPPORTED_CHANNELS)
    return f"Unknown channel {channel!r}; supported: {supported}."
