"""The channels an endpoint can use, and why a requested one cannot be used (yet)."""

from __future__ import annotations

from typing import Literal, get_args

Channel = Literal["webhook"]
SUPPORTED_CHANNELS: tuple[Channel, ...] = get_args(Channel)
# Named so a caller asking for one learns it is coming rather than that it is a typo.
PLANNED_CHANNELS: tuple[str, ...] = ("email", "chat")


def unsupported_channel_reason(channel: str) -> str | None:
    """Why ``channel`` cannot be used, written for the caller; None when it can."""
    if channel in SUPPORTED_CHANNELS:
        return None
    supported = ", ".join(repr(name) for name in SUPPORTED_CHANNELS)
    if channel in PLANNED_CHANNELS:
        return f"Channel {channel!r} is not supported yet; supported: {supported}."
    return f"Unknown channel {channel!r}; supported: {supported}."
