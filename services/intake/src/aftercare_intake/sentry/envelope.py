"""Read a Sentry envelope from a (possibly compressed) body, under hard limits.

An envelope is a header line (a JSON object) followed by items; each item is a header
line (a JSON object with ``type`` and optionally ``length``) and a payload: exactly
``length`` bytes then an optional newline, or, with no ``length``, everything up to the
next newline or the end. See https://develop.sentry.dev/sdk/data-model/envelopes/.

:class:`EnvelopeReader` is a push parser: feed it decompressed pieces as they arrive and it
keeps only the payloads of the item types its caller asked for (``event``, ``check_in``);
the payloads of other items (attachments, sessions, replays…) are counted and dropped as
they stream past. Whatever the input, memory stays within the limits:

- the decompressed envelope: ``max_envelope_bytes`` (20 MiB), else 413;
- one kept item payload: ``max_item_bytes`` (1 MiB), else 413;
- items: ``max_items`` (100), else 413;
- a header line: ``max_header_bytes`` (64 KiB), else 400.

Any structural fault (a header line that is not a JSON object, an item without a type, a
payload shorter than its ``length`` or not followed by a newline, a kept payload that is
not a JSON object) is a 400 that names the fault. Nothing is applied before the whole
envelope has been read, so a fault in the last item leaves nothing half-stored.

Routine checks (``check_in`` items) will read envelopes with this same module.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from aftercare_intake.errors import EnvelopeTooLargeError, MalformedEnvelopeError
from aftercare_intake.sentry.decompression import decoder_for

MIB = 1024 * 1024

EVENT_ITEM = "event"
CHECK_IN_ITEM = "check_in"


@dataclass(frozen=True, slots=True)
class EnvelopeLimits:
    max_envelope_bytes: int = 20 * MIB
    max_item_bytes: int = 1 * MIB
    max_items: int = 100
    max_header_bytes: int = 64 * 1024


DEFAULT_LIMITS = EnvelopeLimits()


@dataclass(frozen=True, slots=True)
class EnvelopeItem:
    type: str
    headers: dict[str, Any]
    length: int
    payload: dict[str, Any] | None
    """The parsed JSON object for kept item types; None for items read past."""


@dataclass(frozen=True, slots=True)
class Envelope:
    headers: dict[str, Any]
    items: tuple[EnvelopeItem, ...]

    def of_type(self, item_type: str) -> list[EnvelopeItem]:
        return [item for item in self.items if item.type == item_type]

    @property
    def event_id(self) -> str | None:
        value = self.headers.get("event_id")
        return value if isinstance(value, str) and value else None


@dataclass(slots=True)
class _ItemInProgress:
    number: int
    type: str
    headers: dict[str, Any]
    length: int | None
    keep: bool
    received: int = 0
    payload: bytearray = field(default_factory=bytearray)


class EnvelopeReader:
    """Push parser: :meth:`feed` decompressed bytes, then :meth:`finish` for the envelope."""

    def __init__(
        self,
        *,
        limits: EnvelopeLimits = DEFAULT_LIMITS,
        kept_types: Iterable[str] = (EVENT_ITEM, CHECK_IN_ITEM),
    ) -> None:
        self._limits = limits
        self._kept_types = frozenset(kept_types)
        self._total = 0
        self._line = bytearray()  # a header line, or a length-less payload, being read
        self._headers: dict[str, Any] | None = None
        self._items: list[EnvelopeItem] = []
        self._item: _ItemInProgress | None = None
        # A payload read by its length, held until what follows shows the length was right:
        # only a newline (or the end) may follow it.
        self._sized_item_ended: tuple[_ItemInProgress, bytes | bytearray] | None = None

    # --- input ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self._total += len(data)
        if self._total > self._limits.max_envelope_bytes:
            raise EnvelopeTooLargeError(
                f"The envelope is larger than {self._limits.max_envelope_bytes} bytes "
                "once decompressed."
            )
        position = 0
        while position < len(data):
            position = self._consume(data, position)

    def finish(self) -> Envelope:
        if self._sized_item_ended is not None:
            self._close_item(*self._sized_item_ended)
            self._sized_item_ended = None
        item = self._item
        if item is not None and item.length is not None:
            raise MalformedEnvelopeError(
                f"Item {item.number} ({item.type}) declares {item.length} bytes but the "
                f"envelope ends after {item.received}."
            )
        if item is not None:  # a length-less payload ends where the envelope ends
            self._close_item(item, bytes(self._line))
        elif self._line:
            self._header_line_complete(bytes(self._line))
            item = self._item
            if item is not None:  # an item header as the very last line
                if item.length:
                    raise MalformedEnvelopeError(
                        f"Item {item.number} ({item.type}) declares {item.length} bytes but "
                        "the envelope ends after its header."
                    )
                self._close_item(item, b"")
        if self._headers is None:
            raise MalformedEnvelopeError("The envelope is empty: it has no header line.")
        return Envelope(headers=self._headers, items=tuple(self._items))

    # --- states ----------------------------------------------------------------------

    def _consume(self, data: bytes, position: int) -> int:
        """Read from ``data[position:]`` as far as the current state goes; the new position."""
        item = self._item
        if item is not None and item.length is not None:
            return self._consume_sized_payload(item, data, position)
        ended, self._sized_item_ended = self._sized_item_ended, None
        if ended is not None:
            ended_item, payload = ended
            if data[position : position + 1] != b"\n":
                raise MalformedEnvelopeError(
                    f"Item {ended_item.number} ({ended_item.type}) goes on past the "
                    f"{ended_item.length} bytes its header declares."
                )
            self._close_item(ended_item, payload)
            return position + 1
        end = data.find(b"\n", position)
        if end < 0:
            self._append_line(data, position, len(data))
            return len(data)
        self._append_line(data, position, end)
        line = bytes(self._line)
        self._line.clear()
        if item is not None:
            self._close_item(item, line)
        else:
            self._header_line_complete(line)
        return end + 1

    def _append_line(self, data: bytes, start: int, end: int) -> None:
        """Part of a header line, or of a length-less payload, up to (not with) its newline."""
        item = self._item
        size = end - start
        if item is not None:
            item.received += size
            if not item.keep:
                return  # read past: counted, not kept
            if item.received > self._limits.max_item_bytes:
                raise _item_too_large(item, self._limits)
        elif len(self._line) + size > self._limits.max_header_bytes:
            raise MalformedEnvelopeError(
                f"A header line is longer than {self._limits.max_header_bytes} bytes: "
                "this is not an envelope."
            )
        self._line += data[start:end]

    def _consume_sized_payload(self, item: _ItemInProgress, data: bytes, position: int) -> int:
        assert item.length is not None
        take = min(len(data) - position, item.length - item.received)
        if item.keep:
            item.payload += data[position : position + take]
        item.received += take
        if item.received == item.length:
            self._item = None
            self._sized_item_ended = (item, item.payload)
        return position + take

    def _header_line_complete(self, line: bytes) -> None:
        if self._headers is None:
            self._headers = _json_object(line, what="The envelope header line")
            return
        if not line.strip():
            return  # a blank line between items carries nothing
        number = len(self._items) + 1
        if number > self._limits.max_items:
            raise EnvelopeTooLargeError(
                f"The envelope has more than {self._limits.max_items} items."
            )
        headers = _json_object(line, what=f"The header of item {number}")
        item_type = headers.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise MalformedEnvelopeError(f"Item {number} has no type in its header.")
        length = headers.get("length")
        if length is not None and (type(length) is not int or length < 0):
            raise MalformedEnvelopeError(
                f"Item {number} ({item_type}) has a length that is not a whole number of bytes."
            )
        item = _ItemInProgress(
            number=number,
            type=item_type,
            headers=headers,
            length=length,
            keep=item_type in self._kept_types,
        )
        if item.keep and length is not None and length > self._limits.max_item_bytes:
            raise _item_too_large(item, self._limits)
        self._item = item
        if length == 0:
            self._item = None
            self._sized_item_ended = (item, b"")

    def _close_item(self, item: _ItemInProgress, payload: bytes | bytearray) -> None:
        parsed = (
            _json_object(payload, what=f"The payload of item {item.number} ({item.type})")
            if item.keep
            else None
        )
        self._items.append(
            EnvelopeItem(type=item.type, headers=item.headers, length=item.received, payload=parsed)
        )
        self._item = None


def _item_too_large(item: _ItemInProgress, limits: EnvelopeLimits) -> EnvelopeTooLargeError:
    return EnvelopeTooLargeError(
        f"Item {item.number} ({item.type}) is larger than {limits.max_item_bytes} bytes."
    )


def _json_object(raw: bytes | bytearray, *, what: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise MalformedEnvelopeError(f"{what} is not valid JSON ({error.msg}).") from error
    if not isinstance(parsed, dict):
        raise MalformedEnvelopeError(f"{what} is not a JSON object.")
    return parsed


async def read_body(
    chunks: AsyncIterable[bytes],
    *,
    content_encoding: str | None,
    reader: EnvelopeReader,
    max_body_bytes: int,
) -> None:
    """Pour a request body through its decoder into ``reader``, enforcing every limit."""
    decoder = decoder_for(content_encoding)
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > max_body_bytes:
            raise EnvelopeTooLargeError(f"The request body is larger than {max_body_bytes} bytes.")
        for piece in decoder.feed(chunk):
            reader.feed(piece)
    for piece in decoder.finish():
        reader.feed(piece)


async def read_event_body(
    chunks: AsyncIterable[bytes],
    *,
    content_encoding: str | None,
    limits: EnvelopeLimits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """The one JSON event of a legacy ``/store/`` request, under the event limit.

    Old SDKs (raven) sent the event base64-encoded and zlib-compressed in the body; that
    form is read too, under the same limit.
    """
    decoder = decoder_for(content_encoding)
    body = bytearray()
    received = 0

    def take(piece: bytes) -> None:
        body.extend(piece)
        if len(body) > limits.max_item_bytes:
            raise EnvelopeTooLargeError(f"The event is larger than {limits.max_item_bytes} bytes.")

    async for chunk in chunks:
        received += len(chunk)
        if received > limits.max_envelope_bytes:
            raise EnvelopeTooLargeError(
                f"The request body is larger than {limits.max_envelope_bytes} bytes."
            )
        for piece in decoder.feed(chunk):
            take(piece)
    for piece in decoder.finish():
        take(piece)
    raw = bytes(body).strip()
    if raw[:1] not in (b"{", b"["):
        raw = _legacy_event(raw, limits)
    return _json_object(raw, what="The event")


def _legacy_event(raw: bytes, limits: EnvelopeLimits) -> bytes:
    try:
        compressed = base64.b64decode(raw, validate=True)
    except binascii.Error as error:
        raise MalformedEnvelopeError("The event is neither JSON nor base64 data.") from error
    inflater = decoder_for("deflate")
    out = bytearray()
    for piece in itertools.chain(inflater.feed(compressed), inflater.finish()):  # lazily
        out.extend(piece)
        if len(out) > limits.max_item_bytes:
            raise EnvelopeTooLargeError(f"The event is larger than {limits.max_item_bytes} bytes.")
    return bytes(out)
