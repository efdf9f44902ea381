"""E-mail over SMTP (``aiosmtplib``): multipart plain text + HTML per event or digest.

``Message-ID`` is derived from the event id, so a retried or replayed message is
recognisably the same one. SMTP answers decide the outcome: a 5xx is permanent (the
delivery fails at once, the endpoint stays), a 4xx or a network failure is retried on
the schedule.
"""

from __future__ import annotations

import ssl
import time
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from aftercare_notify.channels.rendering import (
    digest_view,
    event_view,
    is_digest,
    render_email,
    render_email_digest,
)
from aftercare_notify.channels.smtp_url import SmtpServer
from aftercare_notify.domain.delivery_policy import AttemptResult
from aftercare_notify.repository import ClaimedDelivery


def message_id_for(event_id: str, endpoint_id: str, mail_from: str) -> str:
    domain = mail_from.rpartition("@")[2] or "aftercare.invalid"
    return f"<{event_id}.{endpoint_id}@{domain}>"


class EmailChannel:
    def __init__(
        self,
        *,
        server: SmtpServer,
        starttls: bool,
        mail_from: str,
        timeout_seconds: float,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._server = server
        self._starttls = starttls
        self._mail_from = mail_from
        self._timeout_seconds = timeout_seconds
        self._tls_context = tls_context or ssl.create_default_context()

    def build_message(self, delivery: ClaimedDelivery) -> EmailMessage:
        assert delivery.address is not None, "an email endpoint always has an address"
        if is_digest(delivery.event_type):
            digest = digest_view(delivery.body)
            subject, text, html = render_email_digest(digest)
            time, event_type = digest.time, "digest"
        else:
            view = event_view(delivery.body)
            subject, text, html = render_email(view)
            time, event_type = view.time, view.event_type
        message = EmailMessage()
        message["From"] = self._mail_from
        message["To"] = delivery.address
        message["Subject"] = subject
        message["Date"] = format_datetime(time)
        message["Message-ID"] = message_id_for(
            delivery.message_id, delivery.endpoint_id, self._mail_from
        )
        message["X-Aftercare-Event-Type"] = event_type
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message

    async def send(self, delivery: ClaimedDelivery) -> AttemptResult:
        message = self.build_message(delivery)
        started = time.perf_counter()
        try:
            _refused, answer = await aiosmtplib.send(
                message,
                hostname=self._server.host,
                port=self._server.port,
                username=self._server.username,
                password=self._server.password,
                use_tls=self._server.implicit_tls,
                start_tls=self._starttls and not self._server.implicit_tls,
                tls_context=self._tls_context,
                timeout=self._timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            first = refused.recipients[0]
            return _smtp_failure(first.code, first.message, started)
        except aiosmtplib.SMTPResponseException as refusal:
            return _smtp_failure(refusal.code, refusal.message, started)
        except (aiosmtplib.SMTPException, OSError) as error:
            return AttemptResult(
                None, _elapsed_ms(started), None, f"smtp: {type(error).__name__}: {error}"
            )
        return AttemptResult(250, _elapsed_ms(started), answer[:1024], None, accepted=True)


def _smtp_failure(code: int, text: str, started: float) -> AttemptResult:
    return AttemptResult(
        code,
        _elapsed_ms(started),
        text[:1024],
        f"smtp: {code} {text[:200]}",
        accepted=False,
        # 5xx: the server refuses for good; 4xx: try again later.
        permanent=500 <= code < 600,
    )


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
