"""build_pacs008: every generated payment validates against the XSD and round-trips every field."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from paywire.wire import InvalidMessage, build_pacs008, minor_digits
from tests.wire.conftest import PACS008_NS, Schemas, assert_valid, sample
from tests.wire.strategies import payments

UTC = datetime.UTC
NS = {"p": PACS008_NS}


def valid_payment(**changes: Any) -> dict[str, Any]:
    payment: dict[str, Any] = {
        "msg_id": "MSG-20250115-0001",
        "created_at": datetime.datetime(2025, 1, 15, 10, 30, tzinfo=UTC),
        "instr_id": "INSTR-20250115-0001",
        "end_to_end_id": "E2E-20250115-0001",
        "uetr": "8a562c67-ca16-48ba-b074-65581be6f011",
        "amount": "1250.00",
        "currency": "EUR",
        "value_date": datetime.date(2025, 1, 15),
        "instructing_bic": "COBADEFFXXX",
        "instructed_bic": "NWBKGB2L",
        "debtor_name": "Alice Example",
        "debtor_account": "DE89370400440532013000",
        "debtor_agent_bic": "COBADEFFXXX",
        "creditor_name": "Bob Example Ltd",
        "creditor_account": "GB29NWBK60161331926819",
        "creditor_agent_bic": "NWBKGB2L",
        "remittance_info": "Invoice 2025-0042",
    }
    payment.update(changes)
    return payment


def text(root: etree._Element, path: str) -> str | None:
    found: str | None = root.findtext(path, namespaces=NS)
    return found


def account_of(root: etree._Element, tag: str) -> str | None:
    return text(root, f".//p:{tag}/p:Id/p:IBAN") or text(root, f".//p:{tag}/p:Id/p:Othr/p:Id")


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(payment=payments())
def test_generated_payments_are_valid_and_round_trip(
    schemas: Schemas, payment: dict[str, Any]
) -> None:
    document = build_pacs008(**payment)
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = assert_valid(schemas.pacs008, document)
    tx = "p:FIToFICstmrCdtTrf/p:CdtTrfTxInf"
    assert len(root.findall(tx, namespaces=NS)) == 1

    assert text(root, "p:FIToFICstmrCdtTrf/p:GrpHdr/p:MsgId") == payment["msg_id"]
    created = datetime.datetime.fromisoformat(
        text(root, "p:FIToFICstmrCdtTrf/p:GrpHdr/p:CreDtTm") or ""
    )
    assert created == payment["created_at"]
    assert created.utcoffset() == datetime.timedelta(0)
    assert text(root, "p:FIToFICstmrCdtTrf/p:GrpHdr/p:NbOfTxs") == "1"
    assert text(root, "p:FIToFICstmrCdtTrf/p:GrpHdr/p:SttlmInf/p:SttlmMtd") == "CLRG"
    assert text(root, f"{tx}/p:PmtId/p:InstrId") == payment["instr_id"]
    assert text(root, f"{tx}/p:PmtId/p:EndToEndId") == payment["end_to_end_id"]
    assert text(root, f"{tx}/p:PmtId/p:UETR") == payment["uetr"]

    amount = root.find(f"{tx}/p:IntrBkSttlmAmt", namespaces=NS)
    assert amount is not None
    assert amount.get("Ccy") == payment["currency"]
    minor = minor_digits(payment["currency"])
    assert amount.text == f"{Decimal(payment['amount']):.{minor}f}"

    assert text(root, f"{tx}/p:IntrBkSttlmDt") == payment["value_date"].isoformat()
    assert text(root, f"{tx}/p:ChrgBr") == "SLEV"
    for tag, key in [
        ("InstgAgt", "instructing_bic"),
        ("InstdAgt", "instructed_bic"),
        ("DbtrAgt", "debtor_agent_bic"),
        ("CdtrAgt", "creditor_agent_bic"),
    ]:
        assert text(root, f"{tx}/p:{tag}/p:FinInstnId/p:BICFI") == payment[key]
    assert text(root, f"{tx}/p:Dbtr/p:Nm") == payment["debtor_name"]
    assert text(root, f"{tx}/p:Cdtr/p:Nm") == payment["creditor_name"]
    assert account_of(root, "DbtrAcct") == payment["debtor_account"]
    assert account_of(root, "CdtrAcct") == payment["creditor_account"]
    assert text(root, f"{tx}/p:RmtInf/p:Ustrd") == payment["remittance_info"]
    assert build_pacs008(**payment) == document


def test_sample_payment_matches_the_official_sample_where_the_mapping_agrees(
    schemas: Schemas,
) -> None:
    ours = assert_valid(schemas.pacs008, build_pacs008(**valid_payment()))
    theirs = etree.fromstring(sample("pacs.008-sample.xml"))
    for path in [
        ".//p:MsgId",
        ".//p:CreDtTm",
        ".//p:UETR",
        ".//p:IntrBkSttlmAmt",
        ".//p:Dbtr/p:Nm",
        ".//p:CdtrAcct//p:IBAN",
        ".//p:Ustrd",
    ]:
        assert text(ours, path) == text(theirs, path), path


@pytest.mark.parametrize(
    ("given", "currency", "wire"),
    [
        ("12.5", "EUR", "12.50"),
        (Decimal("12.5"), "EUR", "12.50"),
        (Decimal("1.25E+3"), "EUR", "1250.00"),
        ("1250", "JPY", "1250"),
        ("1.5", "BHD", "1.500"),
        ("0.01", "EUR", "0.01"),
        ("12.500", "EUR", "12.50"),
    ],
)
def test_amounts_carry_exactly_the_minor_digits(
    given: str | Decimal, currency: str, wire: str
) -> None:
    document = build_pacs008(**valid_payment(amount=given, currency=currency))
    assert f'<IntrBkSttlmAmt Ccy="{currency}">{wire}</IntrBkSttlmAmt>'.encode() in document


def test_creation_time_is_rendered_in_utc() -> None:
    paris = datetime.timezone(datetime.timedelta(hours=1))
    created = datetime.datetime(2026, 11, 26, 17, 30, 0, 123000, tzinfo=paris)
    document = build_pacs008(**valid_payment(created_at=created))
    assert b"<CreDtTm>2026-11-26T16:30:00.123Z</CreDtTm>" in document


def test_optional_remittance_is_left_out() -> None:
    document = build_pacs008(**valid_payment(remittance_info=None))
    assert b"RmtInf" not in document


def test_non_iban_accounts_use_other_id(schemas: Schemas) -> None:
    document = build_pacs008(**valid_payment(debtor_account="0532013000"))
    root = assert_valid(schemas.pacs008, document)
    assert text(root, ".//p:DbtrAcct/p:Id/p:Othr/p:Id") == "0532013000"


class NoOffset(datetime.tzinfo):
    """A tzinfo that declines to give an offset: the datetime is naive in all but name."""

    def utcoffset(self, dt: datetime.datetime | None) -> None:
        return None

    def dst(self, dt: datetime.datetime | None) -> None:
        return None

    def tzname(self, dt: datetime.datetime | None) -> None:
        return None


LONG_35 = "x" * 36
LONG_140 = "é" * 141


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("msg_id", ""),
        ("msg_id", LONG_35),
        ("msg_id", "a\nb"),
        ("msg_id", "bell\a"),
        ("msg_id", "\ud800"),
        ("created_at", datetime.datetime(2026, 11, 26, 16, 30)),
        ("created_at", datetime.datetime(2026, 11, 26, 16, 30, tzinfo=NoOffset())),
        ("instr_id", LONG_35),
        ("instr_id", "\x85"),
        ("end_to_end_id", ""),
        ("uetr", "8A562C67-CA16-48BA-B074-65581BE6F011"),
        ("uetr", "8a562c67-ca16-18ba-b074-65581be6f011"),
        ("uetr", "not-a-uuid"),
        ("amount", "12.345"),
        ("amount", "0"),
        ("amount", "-1.00"),
        ("amount", "1234567890123456789"),
        ("amount", "1,50"),
        ("amount", Decimal("NaN")),
        ("amount", 12.5),
        ("currency", "EURO"),
        ("currency", "eur"),
        ("currency", "XAU"),
        ("value_date", datetime.datetime(2026, 11, 27, tzinfo=UTC)),
        ("instructing_bic", "cobadeff"),
        ("instructed_bic", "NWBKGB2"),
        ("debtor_name", LONG_140),
        ("debtor_name", "tab\there"),
        ("debtor_account", ""),
        ("debtor_account", "1" * 35),
        ("debtor_agent_bic", "COBADEFFXXXX"),
        ("creditor_name", ""),
        ("creditor_account", "\x00"),
        ("creditor_agent_bic", "NWBK GB2L"),
        ("remittance_info", ""),
        ("remittance_info", "r" * 141),
    ],
)
def test_every_refusal_names_its_field(field: str, value: object) -> None:
    with pytest.raises(InvalidMessage) as raised:
        build_pacs008(**valid_payment(**{field: value}))
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert isinstance(raised.value, ValueError)


def test_amount_precision_is_never_rounded_away() -> None:
    with pytest.raises(InvalidMessage, match="more than 0 decimal places for JPY"):
        build_pacs008(**valid_payment(amount="100.5", currency="JPY"))


def test_wrong_python_types_are_type_errors() -> None:
    with pytest.raises(TypeError):
        build_pacs008(**valid_payment(msg_id=None))
    with pytest.raises(TypeError):
        build_pacs008(**valid_payment(created_at="2026-11-26T16:30:00Z"))
    with pytest.raises(TypeError):
        build_pacs008("positional", **valid_payment())  # type: ignore[call-arg]
