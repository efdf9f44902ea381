"""Streaming request-body decoders that never produce more than their caller can take.

Each decoder turns compressed chunks into decompressed pieces of at most
:data:`PIECE_BYTES`, lazily: the caller counts what it receives and stops pulling once a
limit is crossed, so a zip bomb (a few KiB inflating to gigabytes) costs only the bytes
the limit allows, never the whole expansion.

``Content-Encoding`` values: ``gzip``, ``deflate`` (zlib-wrapped as RFC 9110 says, or raw
DEFLATE, which some clients send), ``br`` and ``identity`` (or none).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli

from aftercare_intake.errors import MalformedEnvelopeError, UnsupportedEncodingError

PIECE_BYTES = 64 * 1024
"""Largest decompressed piece handed out at once: the granularity of the limit checks."""

MAX_BROTLI_WINDOW_BITS = 22
"""A br stream names its window (the decoder's ring buffer, up to 16 MiB); intake decodes
windows up to 4 MiB, what encoders use by default, so one stream's memory stays bounded."""


class StreamDecoder(Protocol):
    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """Decompressed pieces of ``chunk`` (pull them all before feeding the next chunk)."""
        ...

    def finish(self) -> Iterator[bytes]:
        """What is left once the body ended; raises when the compressed stream is cut short."""
        ...


class _Identity:
    def feed(self, chunk: bytes) -> Iterator[bytes]:
        for start in range(0, len(chunk), PIECE_BYTES):
            yield chunk[start : start + PIECE_BYTES]

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    """gzip (``wbits`` 31) or deflate; for deflate the first bytes say which framing."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._decompressor: zlib._Decompress | None = (
            zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
        )
        self._head = b""

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        if self._decompressor is None:
            # A zlib stream starts with a two-byte header (CMF, FLG) whose value is a
            # multiple of 31 and whose method is 8; anything else is raw DEFLATE.
            self._head += chunk
            if len(self._head) < 2:
                return
            chunk, self._head = self._head, b""
            cmf, flg = chunk[0], chunk[1]
            zlib_wrapped = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
            self._decompressor = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -15)
        yield from self._inflate(chunk)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        decompressor = self._decompressor
        assert decompressor is not None
        while True:
            if decompressor.eof:
                if data or decompressor.unused_data:
                    raise MalformedEnvelopeError(
                        f"The body has data after the end of its {self._encoding} stream."
                    )
                return
            try:
                piece = decompressor.decompress(data, PIECE_BYTES)
            except zlib.error as error:
                raise MalformedEnvelopeError(
                    f"The body is not valid {self._encoding} data ({error})."
                ) from error
            if piece:
                yield piece
            data = decompressor.unconsumed_tail
            # Output stopped at the piece size: more may be pending even with no input left.
            if not data and len(piece) < PIECE_BYTES:
                return

    def finish(self) -> Iterator[bytes]:
        if self._decompressor is None:
            raise MalformedEnvelopeError(f"The {self._encoding} body is cut short.")
        yield from self._inflate(b"")
        if not self._decompressor.eof:
            raise MalformedEnvelopeError(f"The {self._encoding} body is cut short.")


def brotli_window_bits(first_byte: int) -> int | None:
    """WBITS from a br stream's first byte (RFC 7932, 9.1); None for a large-window stream."""
    if first_byte & 1 == 0:
        return 16
    if (bits := (first_byte >> 1) & 7) != 0:
        return 17 + bits
    bits = (first_byte >> 4) & 7
    if bits == 1:
        return None
    return 8 + bits if bits else 17


class _Brotli:
    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()
        self._window_checked = False

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        if not self._window_checked and chunk:
            self._window_checked = True
            bits = brotli_window_bits(chunk[0])
            if bits is None or bits > MAX_BROTLI_WINDOW_BITS:
                raise MalformedEnvelopeError(
                    "The br body uses a window larger than 4 MiB; compress with lgwin 22 or less."
                )
        yield from self._process(chunk)

    def _process(self, data: bytes) -> Iterator[bytes]:
        decompressor = self._decompressor
        try:
            if decompressor.is_finished():
                if data:
                    raise MalformedEnvelopeError(
                        "The body has data after the end of its br stream."
                    )
                return
            piece = decompressor.process(data, output_buffer_limit=PIECE_BYTES)
            if piece:
                yield piece
            # Once output hit the limit, brotli wants empty input until it has drained.
            while not decompressor.can_accept_more_data():
                piece = decompressor.process(b"", output_buffer_limit=PIECE_BYTES)
                if not piece:
                    break
                yield piece
        except brotli.error as error:
            raise MalformedEnvelopeError(f"The body is not valid br data ({error}).") from error

    def finish(self) -> Iterator[bytes]:
        yield from self._process(b"")
        if not self._decompressor.is_finished():
            raise MalformedEnvelopeError("The br body is cut short.")


def decoder_for(content_encoding: str | None) -> StreamDecoder:
    """The decoder for a ``Content-Encoding`` header; 415 for an encoding we do not read."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return _Identity()
    if encoding in ("gzip", "x-gzip"):
        return _Zlib("gzip")
    if encoding == "deflate":
        return _Zlib("deflate")
    if encoding == "br":
        return _Brotli()
    raise UnsupportedEncodingError(
        f"Content-Encoding {content_encoding!r} is not supported; send gzip, deflate, br or none."
    )
