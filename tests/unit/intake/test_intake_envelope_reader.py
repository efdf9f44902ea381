"""The envelope reader: what SDKs send, each malformed form, every limit, every encoding."""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import AsyncIterator

import brotli
import orjson
import pytest

from aftercare_intake.errors import (
    EnvelopeTooLargeError,
    MalformedEnvelopeError,
    UnsupportedEncodingError,
)
from aftercare_intake.sentry import decompression
from aftercare_intake.sentry.envelope import (
    MIB,
    Envelope,
    EnvelopeLimits,
    EnvelopeReader,
    read_body,
    read_event_body,
)
from devkit.sentry_payloads import gzip_bomb

EVENT = {"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "message": "hello", "level": "error"}
EVENT_BYTES = orjson.dumps(EVENT)


def envelope(
    *items: bytes, headers: bytes = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}'
) -> bytes:
    return headers + b"\n" + b"".join(items)


def item(
    item_type: str, payload: bytes, *, with_length: bool = True, newline: bool = True
) -> bytes:
    header = {"type": item_type, **({"length": len(payload)} if with_length else {})}
    return orjson.dumps(header) + b"\n" + payload + (b"\n" if newline else b"")


async def _chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def read(
    body: bytes,
    *,
    encoding: str | None = None,
    chunk_size: int = 7,
    limits: EnvelopeLimits | None = None,
) -> Envelope:
    """Read as the route does: chunks (small ones, to cross every boundary) through the decoder."""
    reader = EnvelopeReader(limits=limits) if limits else EnvelopeReader()
    await read_body(
        _chunks(body, chunk_size),
        content_encoding=encoding,
        reader=reader,
        max_body_bytes=(limits or EnvelopeLimits()).max_envelope_bytes,
    )
    return reader.finish()


# --- what SDKs send -------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
async def test_an_event_with_a_length_is_read_whatever_the_chunking(chunk_size: int) -> None:
    parsed = await read(envelope(item("event", EVENT_BYTES)), chunk_size=chunk_size)
    assert parsed.event_id == EVENT["event_id"]
    assert [(i.type, i.payload) for i in parsed.items] == [("event", EVENT)]


async def test_items_without_length_end_at_their_newline_or_at_the_end() -> None:
    body = envelope(
        item("event", EVENT_BYTES, with_length=False),
        item("check_in", b'{"check_in_id":"c1","status":"ok"}', with_length=False, newline=False),
    )
    parsed = await read(body)
    assert [i.type for i in parsed.items] == ["event", "check_in"]
    assert parsed.items[1].payload == {"check_in_id": "c1", "status": "ok"}


async def test_other_item_types_are_read_past_and_not_kept() -> None:
    attachment = b"\x00\x01binary\nwith newlines\n" * 1000
    body = envelope(
        item("session", b'{"sid":"s"}'),
        item("attachment", attachment),
        item("client_report", b'{"discarded_events":[]}', with_length=False),
        item("transaction", b'{"type":"transaction"}'),
        item("replay_recording", b"\xff" * 10),
        item("event", EVENT_BYTES),
    )
    parsed = await read(body, chunk_size=100)
    assert [i.type for i in parsed.items] == [
        "session",
        "attachment",
        "client_report",
        "transaction",
        "replay_recording",
        "event",
    ]
    assert [i.payload for i in parsed.items[:-1]] == [None] * 5
    assert parsed.items[1].length == len(attachment)
    assert parsed.of_type("event")[0].payload == EVENT


async def test_an_envelope_with_only_headers_or_an_empty_item_is_fine() -> None:
    assert (await read(b'{"sent_at":"2026-12-01T00:00:00Z"}')).items == ()
    zero = await read(envelope(b'{"type":"client_report","length":0}\n\n'))
    assert zero.items[0].length == 0


# --- each malformed form is a 400 naming the fault ------------------------------------------


@pytest.mark.parametrize(
    ("body", "fault"),
    [
        (b"", "no header line"),
        (b"not json\n" + item("event", EVENT_BYTES), "envelope header line is not valid JSON"),
        (b"[1,2]\n" + item("event", EVENT_BYTES), "envelope header line is not a JSON object"),
        (envelope(b"{broken\n" + EVENT_BYTES + b"\n"), "header of item 1 is not valid JSON"),
        (envelope(b'{"length":5}\nhello\n'), "Item 1 has no type"),
        (envelope(b'{"type":"event","length":-1}\n'), "not a whole number"),
        (envelope(b'{"type":"event","length":"12"}\n'), "not a whole number"),
        (
            envelope(b'{"type":"event","length":500}\n' + EVENT_BYTES),
            "Item 1 (event) declares 500 bytes but the envelope ends after",
        ),
        (
            envelope(b'{"type":"event","length":10}\n' + EVENT_BYTES + b"\n"),
            "Item 1 (event) goes on past the 10 bytes",
        ),
        (envelope(item("event", b'{"message": "cut')), "payload of item 1 (event) is not valid"),
        (envelope(item("event", b"[1, 2, 3]")), "payload of item 1 (event) is not a JSON object"),
        (
            envelope(item("session", b"{}"), item("event", b"\xff\xfe")),
            "payload of item 2 (event) is not valid JSON",
        ),
    ],
    ids=[
        "empty",
        "bad-header-line",
        "header-not-object",
        "bad-item-header",
        "item-without-type",
        "negative-length",
        "length-not-a-number",
        "payload-shorter-than-length",
        "payload-longer-than-length",
        "invalid-json-item",
        "item-not-an-object",
        "invalid-json-after-a-valid-item",
    ],
)
async def test_malformed_envelopes_are_refused_naming_the_fault(body: bytes, fault: str) -> None:
    with pytest.raises(MalformedEnvelopeError, match=re.escape(fault)) as refused:
        await read(body)
    assert refused.value.status == 400


# --- limits ---------------------------------------------------------------------------------


async def test_more_than_100_items_is_too_large() -> None:
    hundred = envelope(*(item("session", b"{}") for _ in range(100)))
    assert len((await read(hundred, chunk_size=4096)).items) == 100
    with pytest.raises(EnvelopeTooLargeError, match="more than 100 items"):
        await read(hundred + item("session", b"{}"), chunk_size=4096)


async def test_an_event_over_1_mib_is_too_large_with_or_without_a_length() -> None:
    big = orjson.dumps({"message": "x" * MIB})
    with pytest.raises(EnvelopeTooLargeError, match="larger than 1048576"):
        await read(envelope(item("event", big)), chunk_size=65536)
    with pytest.raises(EnvelopeTooLargeError, match="larger than 1048576"):
        await read(envelope(item("event", big, with_length=False)), chunk_size=65536)


async def test_an_attachment_may_be_large_but_the_envelope_stops_at_20_mib() -> None:
    fits = envelope(item("attachment", b"a" * (10 * MIB)))
    assert (await read(fits, chunk_size=65536)).items[0].length == 10 * MIB
    # Uncompressed, the body limit says it; compressed, the decompressed limit does.
    over = envelope(item("attachment", b"a" * (21 * MIB)))
    with pytest.raises(EnvelopeTooLargeError, match="larger than 20971520 bytes"):
        await read(over, chunk_size=65536)
    with pytest.raises(EnvelopeTooLargeError, match="20971520 bytes once decompressed"):
        await read(gzip.compress(over), encoding="gzip", chunk_size=65536)


async def test_a_zip_bomb_is_stopped_at_the_limit_not_inflated_whole() -> None:
    # 1 GiB of zeros compresses to about 1 MiB; the reader must give up near 20 MiB.
    header = envelope(b'{"type":"attachment","length":1073741824}\n')
    bomb = gzip_bomb(header, inflated_mib=1024)
    assert len(bomb) < 2 * MIB

    pulled = 0
    original_feed = EnvelopeReader.feed

    def counting_feed(self: EnvelopeReader, data: bytes) -> None:
        nonlocal pulled
        pulled += len(data)
        original_feed(self, data)

    EnvelopeReader.feed = counting_feed  # type: ignore[method-assign]
    try:
        with pytest.raises(EnvelopeTooLargeError):
            await read(bomb, encoding="gzip", chunk_size=65536)
    finally:
        EnvelopeReader.feed = original_feed  # type: ignore[method-assign]
    assert pulled <= 20 * MIB + decompression.PIECE_BYTES


async def test_the_raw_body_is_limited_too() -> None:
    with pytest.raises(EnvelopeTooLargeError, match="request body is larger than 100 bytes"):
        await read(
            envelope(item("session", b"x" * 200)), limits=EnvelopeLimits(max_envelope_bytes=100)
        )


# --- encodings --------------------------------------------------------------------------------

BODY = envelope(item("event", EVENT_BYTES))


@pytest.mark.parametrize(
    ("encoding", "compressed"),
    [
        ("gzip", gzip.compress(BODY)),
        ("x-gzip", gzip.compress(BODY)),
        ("deflate", zlib.compress(BODY)),
        ("deflate", zlib.compress(BODY)[2:-4]),  # raw DEFLATE, as some clients send it
        ("br", brotli.compress(BODY)),
        ("identity", BODY),
        (None, BODY),
    ],
    ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw", "br", "identity", "none"],
)
async def test_every_encoding_sdks_use_is_read(encoding: str | None, compressed: bytes) -> None:
    for chunk_size in (1, 3, 65536):
        parsed = await read(compressed, encoding=encoding, chunk_size=chunk_size)
        assert parsed.of_type("event")[0].payload == EVENT


@pytest.mark.parametrize(
    ("encoding", "body", "fault"),
    [
        ("gzip", BODY, "not valid gzip"),
        ("gzip", gzip.compress(BODY)[:-12], "gzip body is cut short"),
        ("gzip", gzip.compress(BODY) + b"trailing", "data after the end of its gzip stream"),
        ("deflate", b"\x78\x9c" + b"\xff" * 20, "not valid deflate"),
        ("br", b"definitely not brotli at all", "not valid br"),
        ("br", brotli.compress(BODY * 50)[:-9], "br body is cut short"),
        ("gzip", b"", "cut short"),
    ],
    ids=[
        "not-gzip",
        "truncated-gzip",
        "trailing-garbage",
        "bad-deflate",
        "not-brotli",
        "truncated-brotli",
        "empty-gzip",
    ],
)
async def test_wrong_or_truncated_compression_is_a_400(
    encoding: str, body: bytes, fault: str
) -> None:
    with pytest.raises(MalformedEnvelopeError, match=fault):
        await read(body, encoding=encoding)


async def test_an_encoding_we_do_not_read_is_a_415() -> None:
    with pytest.raises(UnsupportedEncodingError) as refused:
        await read(BODY, encoding="zstd")
    assert refused.value.status == 415


async def test_a_brotli_bomb_is_stopped_at_the_limit() -> None:
    bomb = brotli.compress(envelope(item("attachment", b"\0" * (64 * MIB))), quality=5)
    assert len(bomb) < MIB
    with pytest.raises(EnvelopeTooLargeError):
        await read(bomb, encoding="br", chunk_size=65536)


# --- the legacy /store/ body ----------------------------------------------------------------


async def test_a_store_body_is_json_or_the_old_base64_zlib_form() -> None:
    import base64

    assert await read_event_body(_chunks(EVENT_BYTES, 5), content_encoding=None) == EVENT
    legacy = base64.b64encode(zlib.compress(EVENT_BYTES))
    assert await read_event_body(_chunks(legacy, 5), content_encoding=None) == EVENT
    with pytest.raises(MalformedEnvelopeError, match="neither JSON nor base64"):
        await read_event_body(_chunks(b"<<nope>>", 5), content_encoding=None)
    with pytest.raises(EnvelopeTooLargeError, match="event is larger"):
        await read_event_body(
            _chunks(gzip.compress(b" " * (2 * MIB)), 65536), content_encoding="gzip"
        )


@pytest.mark.parametrize(("lgwin", "accepted"), [(10, True), (16, True), (22, True), (24, False)])
async def test_a_br_window_over_4_mib_is_refused_before_any_is_allocated(
    lgwin: int, accepted: bool
) -> None:
    body = brotli.compress(BODY, lgwin=lgwin)
    assert decompression.brotli_window_bits(body[0]) == lgwin
    if accepted:
        assert (await read(body, encoding="br")).of_type("event")[0].payload == EVENT
    else:
        with pytest.raises(MalformedEnvelopeError, match="window larger than 4 MiB"):
            await read(body, encoding="br")
