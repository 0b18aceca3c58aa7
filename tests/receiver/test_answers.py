"""The receiver's pacs.002 answers: filled-in templates give exactly what the wire core writes."""

from __future__ import annotations

import datetime

import pytest

from paywire.receiver.answers import StatusReports
from paywire.receiver.rules import (
    ACCEPTED,
    AMOUNT_REFUSED,
    CREDITOR_BIC_REFUSED,
    RANDOMLY_REFUSED,
    Decision,
)
from paywire.wire import build_pacs002, parse_answer

UETR = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
DECISIONS = [
    ACCEPTED,
    AMOUNT_REFUSED,
    CREDITOR_BIC_REFUSED,
    RANDOMLY_REFUSED,
    Decision("ACCP"),
    Decision("RJCT", "NARR", "free text with & < > \" ' in it"),
    Decision("RJCT", "PROPRIETARY-REASON-LONGER-THAN-4"),
]
MSG_IDS = [
    "M1",
    "PAYW-20261126-000000001",
    "X" * 35,
    "ünïcödé-€",
    "with space",
    # Characters the writer escapes: these take the wire core's own path.
    "A&B",
    "<tag>",
    'quote"d',
    "apo'strophe",
]


def written(
    reports: StatusReports, now: datetime.datetime, msg_id: str, decision: Decision
) -> bytes:
    """What build_pacs002 writes for the answer MsgId `reports` just gave out."""
    answer_msg_id = f"{reports._prefix}{reports._seq:012d}"
    return build_pacs002(
        msg_id=answer_msg_id,
        created_at=now,
        original_msg_id=msg_id,
        original_uetr=UETR,
        status=decision.status,
        reason_code=decision.reason_code,
        reason_text=decision.reason_text,
    )


@pytest.mark.parametrize("decision", DECISIONS, ids=lambda d: f"{d.status}-{d.reason_code}")
def test_build_is_what_the_wire_core_writes(decision: Decision) -> None:
    reports = StatusReports()
    for read in range(3):
        now = datetime.datetime(2026, 11, 26, 19, 0, read, 123_456 * read, tzinfo=datetime.UTC)
        for msg_id in MSG_IDS:
            built = reports.build(now, msg_id, UETR, decision)
            assert built == written(reports, now, msg_id, decision)
            answer = parse_answer(built)
            assert (answer.msg_id, answer.uetr, answer.status) == (msg_id, UETR, decision.status)


def test_decisions_mixed_within_one_read() -> None:
    reports = StatusReports()
    now = datetime.datetime.now(datetime.UTC)
    for i in range(40):
        decision = DECISIONS[i * 7 % len(DECISIONS)]
        msg_id = MSG_IDS[i % len(MSG_IDS)]
        assert reports.build(now, msg_id, UETR, decision) == written(reports, now, msg_id, decision)


def test_answer_msg_ids_are_distinct_and_numbered() -> None:
    reports = StatusReports()
    now = datetime.datetime.now(datetime.UTC)
    ids = [parse_answer(reports.build(now, f"M{i}", UETR, ACCEPTED)) for i in range(3)]
    assert len({a.payload for a in ids}) == 3
    orphan_id = reports.next_msg_id()
    assert orphan_id.startswith("PWR")
    assert orphan_id.endswith("000000000004")
    assert len(orphan_id) == 23
