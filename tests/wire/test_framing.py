"""Frames: header forms, limits, and a decoder that is right for any chunking of the stream."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paywire.wire import FrameDecoder, FramingError, encode_frame, encode_frames

FRAMINGS = ["u32be", "u16be", "ascii4"]


def header(payload: bytes, framing: str) -> bytes:
    """The header written independently of the code under test, from SPEC §4."""
    if framing == "u32be":
        return struct.pack(">I", len(payload))
    if framing == "u16be":
        return struct.pack(">H", len(payload))
    return b"%04d" % len(payload)


def feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> list[bytes]:
    frames: list[bytes] = []
    for chunk in chunks:
        frames.extend(decoder.feed(chunk))
    return frames


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("payload", [b"", b"x", b"<Document/>" * 50])
def test_headers_follow_the_spec(framing: str, payload: bytes) -> None:
    assert encode_frame(payload, framing) == header(payload, framing) + payload


def test_default_framing_is_u32be() -> None:
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert encode_frames([b"abc"]) == b"\x00\x00\x00\x03abc"
    assert FrameDecoder().feed(b"\x00\x00\x00\x03abc") == [b"abc"]


@pytest.mark.parametrize(("framing", "limit"), [("u16be", 65535), ("ascii4", 9999)])
def test_payloads_beyond_the_header_range_are_refused(framing: str, limit: int) -> None:
    assert len(encode_frame(b"x" * limit, framing)) == limit + len(header(b"", framing))
    with pytest.raises(FramingError, match="exceeds"):
        encode_frame(b"x" * (limit + 1), framing)
    with pytest.raises(FramingError):
        encode_frames([b"ok", b"x" * (limit + 1)], framing)


def test_unknown_framing_is_a_plain_value_error() -> None:
    for call in (
        lambda: encode_frame(b"x", "u64be"),
        lambda: encode_frames([b"x"], "U32BE"),
        lambda: FrameDecoder("netstring"),
    ):
        with pytest.raises(ValueError, match="unknown framing") as raised:
            call()
        assert not isinstance(raised.value, FramingError)


def test_encode_frames_accepts_any_iterable_of_bytes() -> None:
    generator = (p for p in [b"a", b""])
    assert encode_frames(generator, "ascii4") == b"0001a0000"  # type: ignore[arg-type]
    assert encode_frames([], "u16be") == b""
    with pytest.raises(TypeError):
        encode_frames(["text"], "u16be")  # type: ignore[list-item]


payload_lists = st.lists(st.one_of(st.just(b""), st.binary(max_size=300)), min_size=1, max_size=8)


@settings(max_examples=60)
@given(payloads=payload_lists, framing=st.sampled_from(FRAMINGS))
def test_every_split_point_decodes_identically(payloads: list[bytes], framing: str) -> None:
    stream = encode_frames(payloads, framing)
    assert stream == b"".join(encode_frame(p, framing) for p in payloads)
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder(framing)
        assert feed_all(decoder, [stream[:cut], stream[cut:]]) == payloads
        assert decoder.buffered == 0


@settings(max_examples=200)
@given(
    payloads=payload_lists,
    framing=st.sampled_from(FRAMINGS),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=20),
)
def test_any_chunking_decodes_identically(
    payloads: list[bytes], framing: str, cuts: list[int]
) -> None:
    stream = encode_frames(payloads, framing)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    decoder = FrameDecoder(framing)
    frames: list[bytes] = []
    for chunk in chunks:
        frames.extend(decoder.feed(chunk))
        assert decoder.buffered < len(header(b"", framing)) + 301
    assert frames == payloads
    assert decoder.buffered == 0


def test_byte_by_byte_feeding_reports_what_is_held() -> None:
    stream = encode_frame(b"hello", "u16be")
    decoder = FrameDecoder("u16be")
    for i, byte in enumerate(stream[:-1]):
        assert decoder.feed(bytes([byte])) == []
        assert decoder.buffered == i + 1
    assert decoder.feed(stream[-1:]) == [b"hello"]
    assert decoder.buffered == 0


def test_heartbeats_are_empty_frames() -> None:
    decoder = FrameDecoder("ascii4")
    assert decoder.feed(b"00000000" + b"0002ok" + b"0000") == [b"", b"", b"ok", b""]


def assert_poisoned(decoder: FrameDecoder) -> None:
    for data in (b"", encode_frame(b"fine", "u32be"), encode_frame(b"fine", "ascii4")):
        with pytest.raises(FramingError, match="refused earlier input"):
            decoder.feed(data)
    assert decoder.buffered == 0


def test_oversize_header_raises_and_poisons() -> None:
    decoder = FrameDecoder("u32be", max_frame_bytes=100)
    assert decoder.feed(encode_frame(b"x" * 100)) == [b"x" * 100]
    with pytest.raises(FramingError, match="announces 101 bytes"):
        decoder.feed(struct.pack(">I", 101))
    assert_poisoned(decoder)


def test_frames_completed_before_a_bad_header_come_with_the_error() -> None:
    """They are answers the receiver really sent: the connection settles them, then closes."""
    decoder = FrameDecoder("u32be")
    with pytest.raises(FramingError) as refused:
        decoder.feed(encode_frames([b"<a/>", b"", b"<b/>"]) + b"\xff\xff\xff\xff")
    assert refused.value.frames == [b"<a/>", b"", b"<b/>"]
    with pytest.raises(FramingError) as again:
        decoder.feed(encode_frame(b"<c/>"))
    assert again.value.frames == []


def test_huge_u32_header_is_refused_before_anything_is_buffered() -> None:
    decoder = FrameDecoder("u32be")
    with pytest.raises(FramingError):
        decoder.feed(b"\xff\xff\xff\xff" + b"x" * 10)
    assert_poisoned(decoder)


def test_oversize_header_split_across_chunks_is_caught() -> None:
    decoder = FrameDecoder("u16be", max_frame_bytes=1000)
    assert decoder.feed(b"\x10") == []
    with pytest.raises(FramingError):
        decoder.feed(b"\x00rest")
    assert_poisoned(decoder)


@pytest.mark.parametrize("bad", [b"00a1", b" 001", b"-001", b"+001", b"0x10", b"\x00\x00\x00\x01"])
def test_non_digit_ascii4_header_raises_and_poisons(bad: bytes) -> None:
    decoder = FrameDecoder("ascii4")
    assert decoder.feed(b"0002ok") == [b"ok"]
    with pytest.raises(FramingError, match="not four decimal digits"):
        decoder.feed(bad + b"payload")
    assert_poisoned(decoder)


def test_an_ascii4_frame_before_a_bad_header_in_the_same_chunk_comes_with_the_error() -> None:
    decoder = FrameDecoder("ascii4")
    with pytest.raises(FramingError) as refused:
        decoder.feed(b"0002okXXXX")
    assert refused.value.frames == [b"ok"]
    assert_poisoned(decoder)


def test_negative_limit_is_refused() -> None:
    with pytest.raises(OverflowError):
        FrameDecoder("u32be", max_frame_bytes=-1)
