"""Every saved fuzz input (rust/fuzz/regressions) replayed through the Python API.

The Rust tests replay them against the pure cores; this checks the PyO3 wrappers on top: each
input ends in a result or in the module's own error, never in a panic crossing into Python
(pyo3's PanicException is a BaseException and would escape an `except Exception`).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from paywire.wire import (
    AnswerError,
    FrameDecoder,
    FramingError,
    InvalidMessage,
    parse_answer,
    parse_pacs008_summary,
)

REGRESSIONS = Path(__file__).resolve().parents[2] / "rust" / "fuzz" / "regressions"
FRAMINGS = ("u32be", "u16be", "ascii4")


def inputs(target: str) -> list[Path]:
    return sorted(p for p in (REGRESSIONS / target).iterdir() if p.is_file())


def names(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_every_target_has_regressions() -> None:
    for target in ("frame_decoder", "parse_answer", "parse_pacs008_summary"):
        assert inputs(target), target


@pytest.mark.parametrize("path", inputs("parse_answer"), ids=names(inputs("parse_answer")))
def test_answer_inputs_read_or_refuse(path: Path) -> None:
    payload = path.read_bytes()
    for candidate in (payload, payload[: len(payload) // 2]):
        try:
            answer = parse_answer(candidate)
        except AnswerError:
            continue
        assert answer.msg_id
        assert answer.kind in ("ACK", "NACK")


@pytest.mark.parametrize(
    "path", inputs("parse_pacs008_summary"), ids=names(inputs("parse_pacs008_summary"))
)
def test_pacs008_inputs_summarise_or_refuse(path: Path) -> None:
    payload = path.read_bytes()
    for candidate in (payload, payload[: len(payload) // 2]):
        try:
            summary = parse_pacs008_summary(candidate)
        except InvalidMessage:
            continue
        assert 1 <= len(summary.msg_id) <= 35


@pytest.mark.parametrize("path", inputs("frame_decoder"), ids=names(inputs("frame_decoder")))
@pytest.mark.parametrize("framing", FRAMINGS)
def test_frame_inputs_decode_the_same_in_any_chunks(path: Path, framing: str) -> None:
    stream = path.read_bytes()
    frames, refused = _decode(framing, [stream])
    rng = random.Random(path.name)
    for _ in range(20):
        cuts = sorted(rng.sample(range(len(stream) + 1), k=min(4, len(stream) + 1)))
        chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        pieces, chunked_refused = _decode(framing, chunks)
        assert chunked_refused == refused
        # A refused read still hands over the frames completed before the bad header (on the
        # error, as `FramingError.frames`), so every chunking yields the same frames.
        assert pieces == frames


def _decode(framing: str, chunks: list[bytes]) -> tuple[list[bytes], bool]:
    """The frames decoded (with 64 as the frame limit), those the refusing read carried
    included, and whether the stream was refused."""
    decoder = FrameDecoder(framing, 64)
    frames: list[bytes] = []
    for chunk in chunks:
        try:
            frames += decoder.feed(chunk)
        except FramingError as err:
            return frames + list(err.frames), True
    return frames, False
