"""Builds the channel senders a delivery worker uses, from notify's settings."""

from __future__ import annotations

import ssl

from aftercare_notify.channels import ChannelSender, ChannelSenders
from aftercare_notify.channels.email import EmailChannel
from aftercare_notify.channels.http_client import GuardedHttpClient
from aftercare_notify.channels.slack import SlackChannel
from aftercare_notify.channels.smtp_url import parse_smtp_url
from aftercare_notify.channels.webhook import WebhookChannel
from aftercare_notify.settings import NotifySettings
from aftercare_shared.url_guard import UrlGuard


def new_http_client(settings: NotifySettings, guard: UrlGuard) -> GuardedHttpClient:
    return GuardedHttpClient(
        guard=guard,
        timeout_seconds=settings.delivery_timeout_seconds,
        connect_timeout_seconds=settings.delivery_connect_timeout_seconds,
        response_body_max_bytes=settings.response_body_max_bytes,
        connections_per_host=settings.delivery_connections_per_host,
    )


def build_channel_senders(settings: NotifySettings, http: GuardedHttpClient) -> ChannelSenders:
    senders: dict[str, ChannelSender] = {
        "webhook": WebhookChannel(http),
        "slack": SlackChannel(http),
    }
    if settings.smtp_url:
        senders["email"] = EmailChannel(
            server=parse_smtp_url(settings.smtp_url),
            starttls=settings.smtp_starttls,
            mail_from=settings.mail_from,
            timeout_seconds=settings.smtp_timeout_seconds,
            tls_context=ssl.create_default_context(cafile=settings.smtp_ca_file or None),
        )
    return ChannelSenders(senders)
