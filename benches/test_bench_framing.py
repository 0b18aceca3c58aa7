"""Framing a ~15 MB stream of 1.5 KB frames: paywire against struct + bytearray in Python.

Decoding feeds the stream in 64 KiB chunks, as a socket would deliver it; encoding frames
the whole burst into one buffer for one write.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from paywire.wire import FrameDecoder, encode_frames
from wire_inputs import implementation

FRAME_BYTES = 1500
FRAMES = 10_000
CHUNK = 64 * 1024
HEADER = struct.Struct(">I")

PAYLOADS = [bytes([i % 251]) * FRAME_BYTES for i in range(FRAMES)]
STREAM = encode_frames(PAYLOADS, "u32be")
CHUNKS = [STREAM[at : at + CHUNK] for at in range(0, len(STREAM), CHUNK)]


class PythonDecoder:
    """What a careful Python developer writes: one bytearray, an offset, compaction per feed."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self.buffer
        buffer += data
        frames = []
        at = 0
        end = len(buffer)
        while end - at >= 4:
            (length,) = HEADER.unpack_from(buffer, at)
            if end - at - 4 < length:
                break
            frames.append(bytes(buffer[at + 4 : at + 4 + length]))
            at += 4 + length
        del buffer[:at]
        return frames


def decode_paywire() -> int:
    decoder = FrameDecoder("u32be")
    return sum(len(decoder.feed(chunk)) for chunk in CHUNKS)


def decode_python() -> int:
    decoder = PythonDecoder()
    return sum(len(decoder.feed(chunk)) for chunk in CHUNKS)


def encode_paywire() -> bytes:
    return encode_frames(PAYLOADS, "u32be")


def encode_python() -> bytes:
    pack = HEADER.pack
    return b"".join(pack(len(p)) + p for p in PAYLOADS)


@pytest.mark.parametrize(
    ("name", "decode"), [("paywire", decode_paywire), ("struct + bytearray", decode_python)]
)
def test_decode_stream(benchmark: Any, name: str, decode: Any) -> None:
    assert decode() == FRAMES
    implementation(benchmark, "decode 15 MB in 64 KiB chunks", name)
    benchmark(decode)


@pytest.mark.parametrize(
    ("name", "encode"), [("paywire", encode_paywire), ("struct + bytes.join", encode_python)]
)
def test_encode_stream(benchmark: Any, name: str, encode: Any) -> None:
    assert encode() == STREAM
    implementation(benchmark, "encode 10,000 frames of 1.5 KB", name)
    benchmark(encode)
