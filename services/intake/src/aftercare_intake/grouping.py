"""Which ticket an occurrence belongs to: its fingerprint, per client.

The rules, in order:

1. An explicit fingerprint wins: the REST ``fingerprint`` field or the SDK's
   ``fingerprint`` list. The token ``{{ default }}`` in it stands for the default grouping
   below, so ``["{{ default }}", "tenant-a"]`` splits the default group by tenant.
2. Otherwise the exception chain: each exception's type and the module (or, without one,
   the file's name) and function of its in-app frames — all frames when none is in-app.
   Never line numbers, columns or paths, which change with every deploy.
3. Otherwise the message, with numbers, UUIDs, hex, e-mail addresses, IP addresses and
   quoted strings masked, so "order 1234 failed" and "order 98 failed" are one fault.

A single explicit fingerprint is stored as given (``checkout-500``); anything else is a
hash (``auto:…`` for the default, ``fp:…`` for a composed one). Framework-free.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence

from aftercare_intake.occurrence import ExceptionRecord, Frame

DEFAULT_TOKEN = re.compile(r"^\{\{\s*default\s*\}\}$", re.IGNORECASE)
MAX_VERBATIM_FINGERPRINT = 200

# --- message normalisation -------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_UUID = re.compile(
    r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.IGNORECASE
)
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b")
_IPV6_CANDIDATE = re.compile(r"(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?![\w:])", re.I)
_HEX = re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.IGNORECASE)
_QUOTED = re.compile(r"(?<!\w)(?:'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`)(?!\w)")
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)*")
_SPACES = re.compile(r"\s+")


def _ipv6_or_same(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv6Address(match.group(0))
    except ValueError:
        return match.group(0)
    return "<ip>"


def normalise_message(message: str) -> str:
    """The message with what varies between occurrences of one fault masked."""
    text = _EMAIL.sub("<email>", message.strip())
    text = _UUID.sub("<uuid>", text)
    text = _IPV4.sub("<ip>", text)
    text = _IPV6_CANDIDATE.sub(_ipv6_or_same, text)
    text = _QUOTED.sub("<str>", text)
    text = _HEX.sub("<hex>", text)
    text = _NUMBER.sub("<n>", text)
    return _SPACES.sub(" ", text).lower()


# --- frames ------------------------------------------------------------------------------

_HASHED_FILE_PART = re.compile(r"(?<=[.\-_])[0-9a-f]{6,}(?=[.\-_])", re.IGNORECASE)


def _file_identity(filename: str) -> str:
    """A file's name without its folders, query or build hash: ``main.3f2a1b.js`` → ``main..js``."""
    path = filename.split("?", 1)[0].split("#", 1)[0].replace("\\", "/")
    return _HASHED_FILE_PART.sub("", path.rsplit("/", 1)[-1])


def _frame_identity(frame: Frame) -> str | None:
    where = frame.module or (_file_identity(frame.filename) if frame.filename else "")
    function = frame.function if frame.function not in (None, "", "?") else ""
    if not where and not function:
        return None
    return f"{where}:{function}"


def grouping_frames(frames: Sequence[Frame]) -> list[Frame]:
    """The in-app frames, or every frame when the reporter marked none as in-app."""
    in_app = [frame for frame in frames if frame.in_app is True]
    if in_app:
        return in_app
    # Frames explicitly outside the app only count when nothing says what the app is.
    return [frame for frame in frames if frame.in_app is not False] or list(frames)


def exception_components(exception: ExceptionRecord) -> list[str]:
    kind = exception.type or "Error"
    frames = [
        identity
        for identity in map(_frame_identity, grouping_frames(exception.frames))
        if identity is not None
    ]
    if frames:
        return [f"exception:{kind}", *frames]
    # No stack at all: the type and the normalised value are all there is to go on.
    return [f"exception:{kind}", "value:" + normalise_message(exception.value or "")]


def default_components(
    *, exceptions: Sequence[ExceptionRecord], message: str | None, kind: str | None = None
) -> list[str]:
    if exceptions:
        return [part for exception in exceptions for part in exception_components(exception)]
    return [f"kind:{kind or ''}", "message:" + normalise_message(message or "")]


def _digest(parts: Sequence[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def fingerprint(
    *,
    explicit: Sequence[str] | None,
    exceptions: Sequence[ExceptionRecord],
    message: str | None,
    kind: str | None = None,
) -> str:
    """The grouping key of an occurrence (see the module's rules)."""
    default = "auto:" + _digest(
        default_components(exceptions=exceptions, message=message, kind=kind)
    )
    parts = [part.strip() for part in explicit or () if part.strip()]
    if not parts:
        return default
    expanded = [default if DEFAULT_TOKEN.match(part) else part for part in parts]
    if len(expanded) == 1:
        only = expanded[0]
        return only if len(only) <= MAX_VERBATIM_FINGERPRINT else "fp:" + _digest(expanded)
    return "fp:" + _digest(expanded)


# --- stack traces sent as text (REST reports) -----------------------------------------------

_TEXT_FRAME_PATTERNS = (
    # Python: File "/srv/app/shop/checkout.py", line 42, in pay
    re.compile(r'File "(?P<file>[^"]+)", line \d+, in (?P<function>[^\s]+)'),
    # JVM / .NET: at com.shop.Checkout.pay(Checkout.java:42)
    #             at Shop.Checkout.Pay() in C:\x.cs:line 42
    re.compile(r"^\s*at (?P<function>[\w$.<>`\[\]]+)\((?P<file>[^:)]*)[^)]*\)", re.MULTILINE),
    # V8: at pay (https://shop.example/static/main.3f2a.js:1:2345) / at https://…/x.js:1:2
    re.compile(
        r"^\s*at (?:(?:async )?(?P<function>[^\s(]+) \()?(?P<file>[^\s()]+?):\d+(?::\d+)?\)?$",
        re.MULTILINE,
    ),
    # Firefox / Safari: pay@https://shop.example/static/main.js:1:2345
    re.compile(r"^(?P<function>[^@\s]*)@(?P<file>\S+?):\d+(?::\d+)?$", re.MULTILINE),
    # Ruby: /srv/app/models/order.rb:42:in `pay' (or 'Order#pay')
    re.compile(r"(?P<file>[^\s:]+\.rb):\d+:in [`'](?P<function>[^'`]+)'"),
    # PHP: #0 /srv/app/src/Checkout.php(42): Shop\Checkout->pay()
    re.compile(r"^#\d+ (?P<file>[^(\s]+)\(\d+\): (?P<function>[^(\s]+)\(", re.MULTILINE),
    # Go: main.(*Checkout).Pay(...) followed by a tab-indented file line
    re.compile(r"^(?P<function>[\w./*()\-]+)\([^\n]*\)\n\t(?P<file>[^:\n]+):\d+", re.MULTILINE),
)

_LIBRARY_PATH = re.compile(
    r"site-packages|dist-packages|node_modules|/usr/lib/|/vendor/|<frozen |webpack/bootstrap"
)
_LIBRARY_FUNCTION = re.compile(r"^(?:java|javax|jdk|sun|kotlin|scala|System|Microsoft)\.")


def frames_from_text(stacktrace: str) -> list[Frame]:
    """Frames recognised in a stack trace pasted as text, library frames marked not in-app."""
    for pattern in _TEXT_FRAME_PATTERNS:
        frames = [
            Frame(
                function=match.group("function") or None,
                filename=match.group("file") or None,
                in_app=not (
                    _LIBRARY_PATH.search(match.group("file") or "")
                    or _LIBRARY_FUNCTION.match(match.group("function") or "")
                ),
            )
            for match in pattern.finditer(stacktrace)
        ]
        if frames:
            return frames
    return []
