"""parse_answer and the receiver's builders: samples, round trips, and hostile input."""

from __future__ import annotations

import contextlib
import datetime
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paywire.wire import (
    Answer,
    AnswerError,
    InvalidMessage,
    build_admi002,
    build_pacs002,
    parse_answer,
)
from tests.wire.conftest import PACS002_NS, Schemas, assert_valid, sample
from tests.wire.strategies import texts, uetrs

UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 26, 16, 30, 0, 123456, tzinfo=UTC)
UETR = "8a562c67-ca16-48ba-b074-65581be6f011"
SAMPLES = [
    "pacs.002-accept-sample.xml",
    "pacs.002-reject-sample.xml",
    "admi.002-sample.xml",
    "pacs.008-sample.xml",
]


def trimmed(value: str | None) -> str | None:
    """What the reader makes of a value: XML whitespace trimmed at both ends, empty as absent.

    Only spaces can occur here, as the builders refuse tabs and line breaks.
    """
    return (value or "").strip(" ") or None


def fields(answer: Answer) -> tuple[str | None, ...]:
    return (
        answer.kind,
        answer.msg_id,
        answer.uetr,
        answer.status,
        answer.reason_code,
        answer.reason_text,
    )


def pacs002(body: str, prefix: str = "") -> bytes:
    """A pacs.002 around `body`; with `prefix`, every element is written with it."""
    p = f"{prefix}:" if prefix else ""
    declaration = f'xmlns{":" + prefix if prefix else ""}="{PACS002_NS}"'
    if prefix:
        body = re.sub(r"<(/?)(\w)", rf"<\1{p}\2", body)
    return (
        f"<{p}Document {declaration}><{p}FIToFIPmtStsRpt><{p}GrpHdr><{p}MsgId>S1</{p}MsgId>"
        f"<{p}CreDtTm>2026-11-26T16:30:00Z</{p}CreDtTm></{p}GrpHdr>{body}"
        f"</{p}FIToFIPmtStsRpt></{p}Document>"
    ).encode()


GROUP = "<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pacs.008.001.08</OrgnlMsgNmId>"


def test_accept_sample() -> None:
    answer = parse_answer(sample("pacs.002-accept-sample.xml"))
    assert fields(answer) == ("ACK", "MSG-20250115-0001", UETR, "ACSP", None, None)


def test_reject_sample() -> None:
    answer = parse_answer(sample("pacs.002-reject-sample.xml"))
    assert fields(answer) == (
        "NACK",
        "MSG-20250115-0001",
        UETR,
        "RJCT",
        "AC01",
        "Incorrect account number: creditor IBAN unknown",
    )


def test_admi002_sample_is_always_a_nack() -> None:
    answer = parse_answer(sample("admi.002-sample.xml"))
    assert fields(answer) == (
        "NACK",
        "MSG-20250115-0001",
        None,
        "RJCT",
        "SCHEMA",
        "Message failed schema validation",
    )


def test_a_pacs008_is_not_an_answer() -> None:
    with pytest.raises(AnswerError, match="unexpected namespace"):
        parse_answer(sample("pacs.008-sample.xml"))


@pytest.mark.parametrize("status", ["ACTC", "ACCP", "ACSP", "ACSC", "ACWC"])
def test_accepting_statuses_are_acks(status: str) -> None:
    answer = parse_answer(
        pacs002(f"{GROUP}</OrgnlGrpInfAndSts><TxInfAndSts><TxSts>{status}</TxSts></TxInfAndSts>")
    )
    assert (answer.kind, answer.status, answer.msg_id) == ("ACK", status, "M1")


@pytest.mark.parametrize("status", ["PDNG", "RCVD", "PART", "ACFC", "rjct", "RJCTX"])
def test_other_statuses_are_anomalies(status: str) -> None:
    with pytest.raises(AnswerError, match="unsupported status"):
        parse_answer(
            pacs002(
                f"{GROUP}</OrgnlGrpInfAndSts><TxInfAndSts><TxSts>{status}</TxSts></TxInfAndSts>"
            )
        )


def test_group_reject_without_transactions_is_a_nack() -> None:
    body = (
        f"{GROUP}<GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Prtry>DUPL</Prtry></Rsn>"
        "<AddtlInf>duplicate</AddtlInf></StsRsnInf></OrgnlGrpInfAndSts>"
    )
    answer = parse_answer(pacs002(body))
    assert fields(answer) == ("NACK", "M1", None, "RJCT", "DUPL", "duplicate")


def test_transaction_reason_wins_over_group_reason() -> None:
    body = (
        f"{GROUP}<GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Cd>FF01</Cd></Rsn></StsRsnInf>"
        "</OrgnlGrpInfAndSts><TxInfAndSts><TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AC04</Cd>"
        "</Rsn></StsRsnInf></TxInfAndSts>"
    )
    assert parse_answer(pacs002(body)).reason_code == "AC04"


@pytest.mark.parametrize("prefix", ["", "p", "pacs002", "ns0"])
def test_prefixes_and_whitespace_do_not_matter(prefix: str) -> None:
    body = (
        f"\n  {GROUP}\n  </OrgnlGrpInfAndSts>\n  <TxInfAndSts >\n    <OrgnlUETR>\n      {UETR}\n"
        "    </OrgnlUETR>\n    <TxSts>  RJCT\t</TxSts>\n    <StsRsnInf><Rsn><Cd>AM04</Cd></Rsn>"
        "<AddtlInf>Funds &amp; limits &lt;exceeded&gt; &#233;&#x263A;</AddtlInf>"
        "<AddtlInf><![CDATA[1 < 2 & 3]]></AddtlInf></StsRsnInf>\n  </TxInfAndSts>\n"
    )
    answer = parse_answer(pacs002(body, prefix))
    assert fields(answer) == (
        "NACK",
        "M1",
        UETR,
        "RJCT",
        "AM04",
        "Funds & limits <exceeded> é☺ 1 < 2 & 3",
    )


def test_default_namespace_redeclared_on_an_inner_element_still_counts() -> None:
    body = (
        f'{GROUP}</OrgnlGrpInfAndSts><TxInfAndSts xmlns="{PACS002_NS}">'
        "<TxSts>ACCP</TxSts></TxInfAndSts>"
    )
    assert parse_answer(pacs002(body)).status == "ACCP"


def test_elements_in_another_namespace_are_ignored() -> None:
    body = (
        f'{GROUP}</OrgnlGrpInfAndSts><TxInfAndSts><x:TxSts xmlns:x="urn:other">RJCT</x:TxSts>'
        "<TxSts>ACSC</TxSts></TxInfAndSts>"
    )
    assert parse_answer(pacs002(body)).status == "ACSC"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "no complete Document"),
        (b"not xml", "outside the root"),
        (b"<Document/>", "no namespace"),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.12"/>',
            "unexpected namespace",
        ),
        (b'<Doc xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"/>', "not Document"),
        (pacs002(""), "without OrgnlGrpInfAndSts/OrgnlMsgId"),
        (pacs002(f"{GROUP}</OrgnlGrpInfAndSts>"), "without TxInfAndSts/TxSts"),
        (pacs002("<TxInfAndSts><TxSts>ACSP</TxSts></TxInfAndSts>"), "OrgnlMsgId"),
        (
            pacs002(
                f"{GROUP}</OrgnlGrpInfAndSts><TxInfAndSts><TxSts>ACSP</TxSts></TxInfAndSts>"
                "<TxInfAndSts><TxSts>RJCT</TxSts></TxInfAndSts>"
            ),
            "more than one",
        ),
        (
            # One transaction's UETR and another's status, which read as one NACK of M1.
            pacs002(
                f"{GROUP}</OrgnlGrpInfAndSts><TxInfAndSts><OrgnlUETR>{UETR}</OrgnlUETR>"
                "</TxInfAndSts><TxInfAndSts><TxSts>RJCT</TxSts></TxInfAndSts>"
            ),
            'more than one "TxInfAndSts"',
        ),
        (
            pacs002(
                f"{GROUP}</OrgnlGrpInfAndSts><OrgnlGrpInfAndSts><GrpSts>RJCT</GrpSts>"
                "</OrgnlGrpInfAndSts>"
            ),
            'more than one "OrgnlGrpInfAndSts"',
        ),
        (
            pacs002(f"{GROUP}</OrgnlGrpInfAndSts><TxInfAndSts><TxSts>ACSP</TxSts>"),
            "not well-formed",
        ),
        (
            pacs002(f"{GROUP}</OrgnlGrpInfAndSts>").replace(b"</Document>", b"</Documen>"),
            "not well-formed",
        ),
        (
            # SPEC §4: the group's OrgnlMsgId names the message; a transaction's alone does not.
            pacs002(
                "<TxInfAndSts><OrgnlGrpInf><OrgnlMsgId>M1</OrgnlMsgId>"
                "<OrgnlMsgNmId>pacs.008.001.08</OrgnlMsgNmId></OrgnlGrpInf><TxSts>ACSP</TxSts>"
                "</TxInfAndSts>"
            ),
            "pacs.002 without OrgnlGrpInfAndSts/OrgnlMsgId",
        ),
        (
            # SPEC §4: any other status is an anomaly; beside an accepting TxSts, a reject
            # written otherwise was passed over and the answer read as an ACK.
            pacs002(
                f"{GROUP}<GrpSts>RJCT&#x200B;</GrpSts></OrgnlGrpInfAndSts>"
                "<TxInfAndSts><TxSts>ACSC</TxSts></TxInfAndSts>"
            ),
            "pacs.002 with unsupported GrpSts",
        ),
        (
            # SPEC §4: a group's status settles alone only as a rejection; acceptance is TxSts.
            pacs002(f"{GROUP}<GrpSts>ACSC</GrpSts></OrgnlGrpInfAndSts>"),
            "accepting by GrpSts ACSC alone, without TxInfAndSts/TxSts",
        ),
        (pacs002(f"{GROUP}<X>&#0;</X></OrgnlGrpInfAndSts>"), "not an XML character"),
        (pacs002(f"{GROUP}<X>\x01</X></OrgnlGrpInfAndSts>"), "does not allow"),
        (b"\xff\xfe<\x00D\x00", "not valid UTF-8"),
        (
            b'<?xml version="1.0" encoding="ISO-8859-1"?>'
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:admi.002.001.01"/>',
            "not UTF-8",
        ),
        (
            pacs002("").replace(b"<FIToFIPmtStsRpt>", b"<q:FIToFIPmtStsRpt>"),
            "undeclared namespace prefix",
        ),
        (pacs002("") + b"<Document/>", "after the root"),
    ],
)
def test_unusable_payloads_raise_answer_error(payload: bytes, message: str) -> None:
    with pytest.raises(AnswerError, match=re.escape(message)):
        parse_answer(payload)


ACCEPTED = f"{GROUP}</OrgnlGrpInfAndSts><TxInfAndSts><TxSts>ACSP</TxSts></TxInfAndSts>"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XMLNS_NS = "http://www.w3.org/2000/xmlns/"


def with_attributes(attributes: str) -> bytes:
    """An answer that reads as an ACK but for `attributes` on its TxInfAndSts."""
    return pacs002(ACCEPTED.replace("<TxInfAndSts>", f"<TxInfAndSts {attributes}>"))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param(
            with_attributes('xmlns:xml="urn:other"'),
            'reserved namespace declaration "xmlns:xml"="urn:other": the prefix xml may only',
            id="xml-prefix-rebound",
        ),
        pytest.param(
            with_attributes(f'xmlns:x="{XML_NS}"'),
            "only the prefix xml may be bound to the XML namespace",
            id="xml-namespace-under-another-prefix",
        ),
        pytest.param(
            with_attributes(f'xmlns="{XML_NS}"'),
            "only the prefix xml may be bound to the XML namespace",
            id="xml-namespace-as-default",
        ),
        pytest.param(
            with_attributes('xmlns:xmlns="urn:other"'),
            "the prefix xmlns may not be declared",
            id="xmlns-prefix-declared",
        ),
        pytest.param(
            with_attributes(f'xmlns:x="{XMLNS_NS}"'),
            "may be bound to the xmlns namespace",
            id="xmlns-namespace-under-a-prefix",
        ),
        pytest.param(
            with_attributes(f'xmlns="{XMLNS_NS}"'),
            "may be bound to the xmlns namespace",
            id="xmlns-namespace-as-default",
        ),
        pytest.param(
            with_attributes('b:c="1"'),
            'undeclared namespace prefix "b" on attribute "b:c"',
            id="undeclared-attribute-prefix",
        ),
        pytest.param(
            with_attributes('xmlns:p="urn:u" xmlns:q="urn:u" p:x="1" q:x="2"'),
            'duplicate attribute: "p:x" and "q:x" are both "x" in namespace "urn:u"',
            id="one-attribute-under-two-prefixes",
        ),
        pytest.param(
            pacs002(ACCEPTED.replace("<TxInfAndSts>", "<TxInfAndSts><?a:b data?>")),
            'processing instruction target "a:b" holds a `:`',
            id="pi-target-with-colon",
        ),
        pytest.param(
            # The group's acceptance in one report and the transaction's in another: one ACK
            # that neither report gives alone.
            pacs002(
                f"{GROUP}<GrpSts>ACCP</GrpSts></OrgnlGrpInfAndSts></FIToFIPmtStsRpt>"
                f"<FIToFIPmtStsRpt><TxInfAndSts><OrgnlUETR>{UETR}</OrgnlUETR><TxSts>ACSC</TxSts>"
                "</TxInfAndSts>"
            ),
            'more than one "FIToFIPmtStsRpt"',
            id="pacs002-split-over-two-reports",
        ),
        pytest.param(
            sample("admi.002-sample.xml").replace(
                b"</RltdRef>", b"</RltdRef></admi.002.001.01><admi.002.001.01>"
            ),
            'more than one "admi.002.001.01"',
            id="admi002-split-over-two-reports",
        ),
        pytest.param(
            # The schema has one Rsn: a second one's code and text would be read into the first.
            sample("admi.002-sample.xml").replace(
                b"</Rsn>", b"</Rsn><Rsn><RjctgPtyRsn>OTHER</RjctgPtyRsn></Rsn>"
            ),
            'more than one "Rsn"',
            id="admi002-two-reasons",
        ),
    ],
)
def test_namespace_violations_and_split_answers_are_refused(payload: bytes, message: str) -> None:
    """What the Namespaces recommendation forbids, one answer spread over two reports, and an
    admi.002 giving two reasons."""
    with pytest.raises(AnswerError, match=re.escape(message)):
        parse_answer(payload)


def admi002(related_ref: str) -> bytes:
    return sample("admi.002-sample.xml").replace(b"MSG-20250115-0001", related_ref.encode())


def group_level(msg_id: str) -> bytes:
    return pacs002(GROUP.replace("M1", msg_id) + "<GrpSts>RJCT</GrpSts></OrgnlGrpInfAndSts>")


@pytest.mark.parametrize("document", [group_level, admi002])
def test_message_ids_are_max35text(document: Callable[[str], bytes]) -> None:
    """Every MsgId paywire sends has 1 to 35 characters; an answer naming a longer one names no
    message of ours and must not reach the settler, whose indexes cannot hold it."""
    assert parse_answer(document("é" * 35)).msg_id == "é" * 35
    for msg_id, message in [
        ("M" * 36, "at most 35 characters, got 36"),
        ("0" * 8000, "at most 35 characters, got 8000"),
        ("a&#9;b", "control character U+0009"),
    ]:
        with pytest.raises(AnswerError, match=re.escape(message)):
            parse_answer(document(msg_id))


def test_uetr_is_handed_over_in_lower_case() -> None:
    accept = sample("pacs.002-accept-sample.xml")
    for written in (UETR.upper(), UETR[:9] + UETR[9:].upper()):
        assert parse_answer(accept.replace(UETR.encode(), written.encode())).uetr == UETR


@pytest.mark.parametrize(
    "uetr",
    [
        "not-a-uuid",
        UETR.replace("-", ""),
        f"{{{UETR}}}",
        f"urn:uuid:{UETR}",
        UETR.replace("-48ba-", "-18ba-"),
        UETR + "0",
        "a" * 8000,
    ],
)
def test_malformed_uetr_is_refused(uetr: str) -> None:
    accept = sample("pacs.002-accept-sample.xml")
    with pytest.raises(AnswerError, match="OrgnlUETR") as raised:
        parse_answer(accept.replace(UETR.encode(), uetr.encode()))
    assert len(str(raised.value)) < 100, "a long value is not echoed into the logs"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:admi.002.001.01"><admi.002.001.01>
<RltdRef><Ref>&lol3;</Ref></RltdRef><Rsn><RjctgPtyRsn>X</RjctgPtyRsn></Rsn></admi.002.001.01></Document>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:admi.002.001.01"><admi.002.001.01>
<RltdRef><Ref>&xxe;</Ref></RltdRef><Rsn><RjctgPtyRsn>X</RjctgPtyRsn></Rsn></admi.002.001.01></Document>"""


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_doctype_is_refused_outright(payload: bytes) -> None:
    with pytest.raises(AnswerError, match="DOCTYPE is not allowed"):
        parse_answer(payload)


def test_undeclared_entities_are_refused_without_a_doctype() -> None:
    with pytest.raises(AnswerError, match='undeclared entity "&xxe;"'):
        parse_answer(pacs002(f"{GROUP}<GrpSts>&xxe;</GrpSts></OrgnlGrpInfAndSts>"))


def test_size_and_depth_are_bounded() -> None:
    padding = b"<!--" + b"x" * (1 << 20) + b"-->"
    with pytest.raises(AnswerError, match="limit"):
        parse_answer(sample("pacs.002-accept-sample.xml") + padding)
    deep = f"{GROUP}{'<a>' * 40}{'</a>' * 40}</OrgnlGrpInfAndSts>"
    with pytest.raises(AnswerError, match="deeper than 32"):
        parse_answer(pacs002(deep))


def test_answer_is_frozen() -> None:
    answer = parse_answer(sample("pacs.002-accept-sample.xml"))
    with pytest.raises(AttributeError):
        answer.kind = "NACK"  # type: ignore[misc]
    assert repr(answer).startswith("Answer(kind='ACK', msg_id='MSG-20250115-0001'")


@settings(max_examples=500)
@given(payload=st.binary(max_size=600))
def test_random_bytes_never_crash(payload: bytes) -> None:
    with contextlib.suppress(AnswerError):
        parse_answer(payload)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A sample answer with a few byte ranges deleted, duplicated or overwritten."""
    document = bytearray(sample(draw(st.sampled_from(SAMPLES[:3]))))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        start = draw(st.integers(min_value=0, max_value=len(document)))
        end = draw(st.integers(min_value=start, max_value=min(len(document), start + 40)))
        action = draw(st.sampled_from(["delete", "duplicate", "overwrite"]))
        if action == "delete":
            del document[start:end]
        elif action == "duplicate":
            document[start:start] = document[start:end]
        else:
            document[start:end] = draw(st.binary(min_size=end - start, max_size=end - start))
    return bytes(document)


@settings(max_examples=1000)
@given(payload=mutated())
def test_mutated_documents_never_crash(payload: bytes) -> None:
    try:
        answer = parse_answer(payload)
    except AnswerError:
        return
    assert answer.kind in ("ACK", "NACK")
    assert answer.msg_id


@settings(max_examples=150)
@given(
    msg_id=texts(35),
    original_msg_id=texts(35),
    original_uetr=st.none() | uetrs,
    status=st.sampled_from(["ACTC", "ACCP", "ACSP", "ACSC", "ACWC", "RJCT"]),
    reason_code=st.none() | texts(35),
    reason_text=st.none() | texts(105),
)
def test_built_status_reports_validate_and_read_back(
    schemas: Schemas,
    msg_id: str,
    original_msg_id: str,
    original_uetr: str | None,
    status: str,
    reason_code: str | None,
    reason_text: str | None,
) -> None:
    document = build_pacs002(
        msg_id=msg_id,
        created_at=NOW,
        original_msg_id=original_msg_id,
        original_uetr=original_uetr,
        status=status,
        reason_code=reason_code,
        reason_text=reason_text,
    )
    assert_valid(schemas.pacs002, document)
    if trimmed(original_msg_id) is None:
        with pytest.raises(AnswerError, match="OrgnlMsgId"):
            parse_answer(document)
        return
    assert fields(parse_answer(document)) == (
        "NACK" if status == "RJCT" else "ACK",
        trimmed(original_msg_id),
        original_uetr,
        status,
        trimmed(reason_code),
        trimmed(reason_text),
    )


@settings(max_examples=150)
@given(related_ref=texts(35), reason_code=texts(35), reason_text=st.none() | texts(350))
def test_built_message_rejects_validate_and_read_back(
    schemas: Schemas, related_ref: str, reason_code: str, reason_text: str | None
) -> None:
    document = build_admi002(
        related_ref=related_ref, created_at=NOW, reason_code=reason_code, reason_text=reason_text
    )
    root = assert_valid(schemas.admi002, document)
    assert root.findtext(".//{*}RjctnDtTm") == "2026-11-26T16:30:00.123456Z"
    if trimmed(related_ref) is None:
        with pytest.raises(AnswerError, match="RltdRef"):
            parse_answer(document)
        return
    assert fields(parse_answer(document)) == (
        "NACK",
        trimmed(related_ref),
        None,
        "RJCT",
        trimmed(reason_code),
        trimmed(reason_text),
    )


def test_long_reason_codes_are_proprietary(schemas: Schemas) -> None:
    document = build_pacs002(
        msg_id="S1",
        created_at=NOW,
        original_msg_id="M1",
        original_uetr=UETR,
        status="RJCT",
        reason_code="DUPLICATE",
        reason_text=None,
    )
    assert b"<Rsn><Prtry>DUPLICATE</Prtry></Rsn>" in document
    assert_valid(schemas.pacs002, document)
    assert parse_answer(document).reason_code == "DUPLICATE"


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("msg_id", {"msg_id": ""}),
        ("original_msg_id", {"original_msg_id": "x" * 36}),
        ("original_uetr", {"original_uetr": UETR.upper()}),
        ("status", {"status": "REJECT"}),
        ("reason_code", {"reason_code": "c" * 36}),
        ("reason_text", {"reason_text": "t" * 106}),
        ("created_at", {"created_at": NOW.replace(tzinfo=None)}),
    ],
)
def test_pacs002_refusals_name_their_field(field: str, changes: dict[str, object]) -> None:
    arguments: dict[str, object] = {
        "msg_id": "S1",
        "created_at": NOW,
        "original_msg_id": "M1",
        "original_uetr": UETR,
        "status": "RJCT",
    }
    arguments.update(changes)
    with pytest.raises(InvalidMessage) as raised:
        build_pacs002(**arguments)  # type: ignore[arg-type]
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("related_ref", {"related_ref": "r" * 36}),
        ("reason_code", {"reason_code": ""}),
        ("reason_text", {"reason_text": "t" * 351}),
        ("created_at", {"created_at": NOW.replace(tzinfo=None)}),
    ],
)
def test_admi002_refusals_name_their_field(field: str, changes: dict[str, object]) -> None:
    arguments: dict[str, object] = {"related_ref": "M1", "created_at": NOW, "reason_code": "X"}
    arguments.update(changes)
    with pytest.raises(InvalidMessage) as raised:
        build_admi002(**arguments)  # type: ignore[arg-type]
    assert raised.value.field == field
