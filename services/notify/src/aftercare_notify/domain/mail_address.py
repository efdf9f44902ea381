"""Is an e-mail address usable as a recipient? A deliberately small, strict check.

Full RFC 5321 syntax is not the point: the address goes into a ``To`` header and an
SMTP ``RCPT TO``, so what matters is that it cannot smuggle a header or a second
recipient in (no whitespace, no control characters, no commas or angle brackets) and
that it names a domain.
"""

from __future__ import annotations

import re

_FORBIDDEN = re.compile(r"[\s,;<>()\[\]\\\"\x00-\x1f\x7f]")
MAX_LOCAL_PART = 64


def mail_address_problem(address: str) -> str | None:
    """What is wrong with ``address`` for a reader; None when it is usable."""
    if _FORBIDDEN.search(address):
        return 'it contains whitespace, control characters or one of , ; < > ( ) [ ] \\ "'
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return "it must be local-part@domain"
    if len(local) > MAX_LOCAL_PART:
        return f"the local part is longer than {MAX_LOCAL_PART} characters"
    if "@" in local:
        return "it contains more than one @"
    labels = domain.split(".")
    if len(labels) < 2 or any(not label for label in labels):
        return "the domain must have at least two labels (example.com)"
    return None
