"""parse_pacs008_summary (the reference receiver's reader) and the ISO 4217 table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings

from paywire.wire import (
    AnswerError,
    InvalidMessage,
    Pacs008Summary,
    build_pacs008,
    minor_digits,
    parse_pacs008_summary,
)
from tests.wire.conftest import sample
from tests.wire.strategies import CURRENCIES, payments

SAMPLE = sample("pacs.008-sample.xml")


def test_sample_is_summarised() -> None:
    summary = parse_pacs008_summary(SAMPLE)
    assert (
        summary.msg_id,
        summary.uetr,
        summary.end_to_end_id,
        summary.amount,
        summary.currency,
        summary.creditor_agent_bic,
    ) == (
        "MSG-20250115-0001",
        "8a562c67-ca16-48ba-b074-65581be6f011",
        "E2E-20250115-0001",
        "1250.00",
        "EUR",
        "NWBKGB2L",
    )
    assert repr(summary).startswith("Pacs008Summary(msg_id='MSG-20250115-0001'")
    assert isinstance(summary, Pacs008Summary)


@settings(max_examples=100)
@given(payment=payments())
def test_built_payments_read_back(payment: dict[str, Any]) -> None:
    document = build_pacs008(**payment)
    # The reader trims spaces around every value, so an all-space id reads back as empty.
    msg_id, end_to_end_id = payment["msg_id"].strip(" "), payment["end_to_end_id"].strip(" ")
    if not (msg_id and end_to_end_id):
        with pytest.raises(InvalidMessage, match="must not be empty"):
            parse_pacs008_summary(document)
        return
    summary = parse_pacs008_summary(document)
    assert (summary.msg_id, summary.end_to_end_id) == (msg_id, end_to_end_id)
    assert summary.uetr == payment["uetr"]
    # The field the receiver's NACK rule reads: the amount as written, the currency's digits.
    digits = minor_digits(payment["currency"])
    assert summary.amount == f"{Decimal(str(payment['amount'])):.{digits}f}"
    assert summary.currency == payment["currency"]
    assert summary.creditor_agent_bic == payment["creditor_agent_bic"]


def replaced(old: bytes, new: bytes) -> bytes:
    assert old in SAMPLE
    return SAMPLE.replace(old, new)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (replaced(b"<MsgId>MSG-20250115-0001</MsgId>", b""), "msg_id"),
        (
            replaced(b"<MsgId>MSG-20250115-0001</MsgId>", b"<MsgId>" + b"m" * 36 + b"</MsgId>"),
            "msg_id",
        ),
        (replaced(b"8a562c67-ca16-48ba", b"8A562C67-CA16-48BA"), "uetr"),
        (replaced(b"<EndToEndId>E2E-20250115-0001</EndToEndId>", b""), "end_to_end_id"),
        (replaced(b">1250.00<", b">1250.000001<"), "amount"),
        (replaced(b">1250.00<", b">-5<"), "amount"),
        (replaced(b">1250.00<", b">1e3<"), "amount"),
        (replaced(b'Ccy="EUR"', b'Ccy="eur"'), "currency"),
        (replaced(b' Ccy="EUR"', b""), "currency"),
        (replaced(b"<BICFI>NWBKGB2L</BICFI>", b"<BICFI>nwbk</BICFI>"), "creditor_agent_bic"),
        (
            replaced(
                b"</CdtTrfTxInf>",
                b"</CdtTrfTxInf><CdtTrfTxInf><PmtId><EndToEndId>X</EndToEndId></PmtId></CdtTrfTxInf>",
            ),
            "document",
        ),
        (replaced(b"pacs.008.001.08", b"pacs.008.001.09"), "document"),
        (b"<!DOCTYPE d [<!ENTITY e 'x'>]>" + SAMPLE.split(b"?>", 1)[1], "document"),
        (b"garbage", "document"),
    ],
)
def test_problems_name_their_field(payload: bytes, field: str) -> None:
    with pytest.raises(InvalidMessage) as raised:
        parse_pacs008_summary(payload)
    assert raised.value.field == field
    assert not isinstance(raised.value, AnswerError)


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("CLF", 4),
        ("XCG", 2),
    ],
)
def test_minor_digits(currency: str, digits: int) -> None:
    assert minor_digits(currency) == digits


@pytest.mark.parametrize("code", ["", "eur", "EURO", "XAU", "XXX", "ANG", "BGN", "HRK", "ZWL"])
def test_unknown_or_withdrawn_codes_are_value_errors(code: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        minor_digits(code)


def test_generated_currencies_are_all_known() -> None:
    assert all(minor_digits(code) in (0, 2, 3, 4) for code in CURRENCIES)
