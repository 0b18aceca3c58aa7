"""The receiver's answer book: what it writes is exactly what `build_pacs002` writes."""

from __future__ import annotations

import datetime

import pytest

from paywire.receiver.rules import ACCEPTED
from paywire.wire import (
    AnswerBook,
    FrameDecoder,
    InvalidMessage,
    build_pacs002,
    parse_answer,
    parse_pacs008_summary,
)
from tests.fixtures.tls import pacs008

NOW = datetime.datetime(2026, 11, 26, 21, 40, 7, 250_000, tzinfo=datetime.UTC)
MSG_IDS = ["M1", "PAYW-20261126-000000001", "X" * 35, "ünïcödé-€", "A&B", "<tag>", "q\"u'o"]


def decoded(data: bytes, framing: str = "u32be") -> list[bytes]:
    return FrameDecoder(framing).feed(data)


@pytest.mark.parametrize("framing", ["u32be", "u16be", "ascii4"])
def test_acceptances_are_what_build_pacs002_writes(framing: str) -> None:
    book = AnswerBook("PWRTEST", 100, framing)
    messages = [pacs008(m) for m in MSG_IDS]
    data, again, refused = book.accept(messages, NOW)
    assert (again, refused) == (0, [])
    answers = decoded(data, framing)
    assert len(answers) == len(MSG_IDS)
    for seq, (message, answer) in enumerate(zip(messages, answers, strict=True), start=1):
        summary = parse_pacs008_summary(message)
        assert answer == build_pacs002(
            msg_id=f"PWRTEST{seq:012d}",
            created_at=NOW,
            original_msg_id=summary.msg_id,
            original_uetr=summary.uetr,
            status=ACCEPTED.status,
        )
        read = parse_answer(answer)
        assert (read.msg_id, read.uetr, read.kind) == (summary.msg_id, summary.uetr, "ACK")
        assert book.known(summary.msg_id) == answer


def test_resends_get_the_same_answer_and_no_new_number() -> None:
    book = AnswerBook("PWR", 100)
    first, _, _ = book.accept([pacs008("M1")], NOW)
    later = NOW + datetime.timedelta(seconds=5)
    again, duplicates, _ = book.accept([pacs008("M1")] * 2, later)
    assert duplicates == 2
    assert decoded(again) == decoded(first) * 2
    assert book.next_msg_id() == "PWR000000000002"


def test_heartbeats_are_left_to_the_caller() -> None:
    book = AnswerBook("PWR", 100)
    data, again, refused = book.accept([b"", pacs008("M1"), b""], NOW)
    assert (len(decoded(data)), again, refused) == (1, 0, [])


def test_unreadable_payloads_are_returned_with_the_summary_reason() -> None:
    book = AnswerBook("PWR", 100)
    junk = b"\x00this is not XML"
    no_msg_id = pacs008("M2").replace(b"<MsgId>M2</MsgId>", b"")
    data, _, refused = book.accept([pacs008("M1"), junk, no_msg_id], NOW)
    assert len(decoded(data)) == 1
    assert [payload for payload, _ in refused] == [junk, no_msg_id]
    for payload, why in refused:
        with pytest.raises(InvalidMessage) as raised:
            parse_pacs008_summary(payload)
        assert why == str(raised.value)
    assert book.known("M2") is None


def test_answers_are_remembered_for_two_generations() -> None:
    book = AnswerBook("PWR", 2)
    for msg_id in "abcd":
        book.remember(msg_id, msg_id.encode())
    assert book.known("a") is None
    assert book.known("c") == b"c"
    book.remember("e", b"e")
    assert book.known("d") == b"d", "the current generation becomes the older one"


@pytest.mark.parametrize(
    ("prefix", "framing", "error"),
    [("", "u32be", "prefix"), ("P" * 24, "u32be", "prefix"), ("P", "x", "unknown framing")],
)
def test_bad_construction_is_refused(prefix: str, framing: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        AnswerBook(prefix, 10, framing)


def test_naive_time_stamps_are_refused() -> None:
    with pytest.raises(InvalidMessage, match="created_at"):
        AnswerBook("PWR", 10).accept([pacs008("M1")], NOW.replace(tzinfo=None))


def test_a_large_frame_among_many_heartbeats_is_answered_without_a_huge_reservation() -> None:
    """One read of a frame of a megabyte and 30,000 heartbeats: the output was once reserved at
    their product (31 GB), and the failed allocation aborted the reference receiver."""
    book = AnswerBook("PWR", 100)
    data, again, refused = book.accept([b"x" * 1_048_576] + [b""] * 30_000, NOW)
    assert (data, again, len(refused)) == (b"", 0, 1)
