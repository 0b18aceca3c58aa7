//! The receiver's answers (SPEC §4): pacs.002.001.10 and admi.002.001.01 read into an `Answer`.
//!
//! Values are borrowed from the payload until the last step, which makes the Python strings;
//! anything that is not one of the two documents with a known status, a `Max35Text` original
//! MsgId and (when present) a version-4 `OrgnlUETR` is an `AnswerError`. The UETR is handed over
//! in lower case, the form paywire writes and compares.

use std::borrow::Cow;
use std::panic::catch_unwind;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyString};

use crate::convert;
use crate::error::{shown, ReadError};
use crate::fields;
use crate::xml::{read_fields, set_once, Schema};

pub const PACS002_NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10";
pub const ADMI002_NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:admi.002.001.01";

/// Every MsgId paywire sends is an ISO 20022 `Max35Text`; an answer naming anything else names
/// no message of ours, and is refused like any other malformed answer rather than carried on to
/// the settler (and the database's indexes) as an orphan.
const MSG_ID_MAX_CHARS: usize = 35;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ack,
    Nack,
}

/// The statuses paywire understands; anything else is a protocol anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Rjct,
    Actc,
    Accp,
    Acsp,
    Acsc,
    Acwc,
}

impl Status {
    const ALL: [Self; 6] = [
        Self::Rjct,
        Self::Actc,
        Self::Accp,
        Self::Acsp,
        Self::Acsc,
        Self::Acwc,
    ];

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rjct => "RJCT",
            Self::Actc => "ACTC",
            Self::Accp => "ACCP",
            Self::Acsp => "ACSP",
            Self::Acsc => "ACSC",
            Self::Acwc => "ACWC",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Self::Rjct => Kind::Nack,
            _ => Kind::Ack,
        }
    }
}

/// What an answer says about one of our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'i> {
    pub kind: Kind,
    pub msg_id: Cow<'i, str>,
    pub uetr: Option<Cow<'i, str>>,
    pub status: Status,
    pub reason_code: Option<Cow<'i, str>>,
    pub reason_text: Option<Cow<'i, str>>,
}

/// How much of a reason code or text is kept, in bytes (cut at a character boundary). The
/// answer itself is stored as received; what an operator reads of it need not be longer, and a
/// receiver sending thousands of `AddtlInf` lines in one frame must cost a linear read, not a
/// quadratic join, on the gateway's event loop.
pub const REASON_MAX_BYTES: usize = 1024;

/// The status reason: the first code (`Cd` or `Prtry`) and the `AddtlInf` lines, joined by
/// spaces, each at most `REASON_MAX_BYTES`.
#[derive(Default)]
struct Reason<'i> {
    code: Option<Cow<'i, str>>,
    text: Option<Cow<'i, str>>,
}

impl<'i> Reason<'i> {
    fn set_code(&mut self, code: Cow<'i, str>) {
        if self.code.is_none() && !code.is_empty() {
            self.code = Some(cut(code, REASON_MAX_BYTES));
        }
    }

    fn add_text(&mut self, line: Cow<'i, str>) {
        if line.is_empty() {
            return;
        }
        match &mut self.text {
            None => self.text = Some(cut(line, REASON_MAX_BYTES)),
            Some(text) => {
                let room = REASON_MAX_BYTES.saturating_sub(text.len() + 1);
                if room > 0 {
                    let text = text.to_mut();
                    text.push(' ');
                    text.push_str(prefix(&line, room));
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.code.is_none() && self.text.is_none()
    }
}

/// The longest start of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn cut(value: Cow<'_, str>, max: usize) -> Cow<'_, str> {
    match value {
        Cow::Borrowed(s) => Cow::Borrowed(prefix(s, max)),
        Cow::Owned(s) if s.len() > max => Cow::Owned(prefix(&s, max).to_owned()),
        owned => owned,
    }
}

/// Leaf values gathered from either document.
#[derive(Default)]
struct Gathered<'i> {
    msg_id: Option<Cow<'i, str>>,
    tx_msg_id: Option<Cow<'i, str>>,
    group_status: Option<Cow<'i, str>>,
    group_reason: Reason<'i>,
    uetr: Option<Cow<'i, str>>,
    tx_status: Option<Cow<'i, str>>,
    tx_reason: Reason<'i>,
}

/// A field's value as read: every field set once has a minimum length in the schemas (message
/// ids, UETR and status codes), so an empty element is refused rather than read as absent, which
/// would skip the check it is there for (an empty OrgnlUETR would settle without the UETR match).
fn filled<'i>(text: Cow<'i, str>, element: &str) -> Result<Cow<'i, str>, ReadError> {
    if text.is_empty() {
        return Err(ReadError::new(format!("an empty {element}")));
    }
    Ok(text)
}

/// The leaves an answer is read for; admi.002 fills the same slots as a group-level reject.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field {
    MsgId,
    GroupStatus,
    GroupReasonCode,
    GroupReasonText,
    TxMsgId,
    Uetr,
    TxStatus,
    TxReasonCode,
    TxReasonText,
}

pub(crate) const PACS002: Schema<Field> = Schema {
    namespace: PACS002_NAMESPACE,
    fields: &[
        (
            &["FIToFIPmtStsRpt", "OrgnlGrpInfAndSts", "GrpSts"],
            Field::GroupStatus,
        ),
        (
            &["FIToFIPmtStsRpt", "OrgnlGrpInfAndSts", "OrgnlMsgId"],
            Field::MsgId,
        ),
        (
            &[
                "FIToFIPmtStsRpt",
                "OrgnlGrpInfAndSts",
                "StsRsnInf",
                "AddtlInf",
            ],
            Field::GroupReasonText,
        ),
        (
            &[
                "FIToFIPmtStsRpt",
                "OrgnlGrpInfAndSts",
                "StsRsnInf",
                "Rsn",
                "Cd",
            ],
            Field::GroupReasonCode,
        ),
        (
            &[
                "FIToFIPmtStsRpt",
                "OrgnlGrpInfAndSts",
                "StsRsnInf",
                "Rsn",
                "Prtry",
            ],
            Field::GroupReasonCode,
        ),
        (
            &[
                "FIToFIPmtStsRpt",
                "TxInfAndSts",
                "OrgnlGrpInf",
                "OrgnlMsgId",
            ],
            Field::TxMsgId,
        ),
        (
            &["FIToFIPmtStsRpt", "TxInfAndSts", "OrgnlUETR"],
            Field::Uetr,
        ),
        (
            &["FIToFIPmtStsRpt", "TxInfAndSts", "StsRsnInf", "AddtlInf"],
            Field::TxReasonText,
        ),
        (
            &["FIToFIPmtStsRpt", "TxInfAndSts", "StsRsnInf", "Rsn", "Cd"],
            Field::TxReasonCode,
        ),
        (
            &[
                "FIToFIPmtStsRpt",
                "TxInfAndSts",
                "StsRsnInf",
                "Rsn",
                "Prtry",
            ],
            Field::TxReasonCode,
        ),
        (
            &["FIToFIPmtStsRpt", "TxInfAndSts", "TxSts"],
            Field::TxStatus,
        ),
    ],
    // One answer is one report, about one message and its one transaction.
    once: &[
        &["FIToFIPmtStsRpt"],
        &["FIToFIPmtStsRpt", "OrgnlGrpInfAndSts"],
        &["FIToFIPmtStsRpt", "TxInfAndSts"],
    ],
};

pub(crate) const ADMI002: Schema<Field> = Schema {
    namespace: ADMI002_NAMESPACE,
    fields: &[
        (&["admi.002.001.01", "RltdRef", "Ref"], Field::MsgId),
        (
            &["admi.002.001.01", "Rsn", "RjctgPtyRsn"],
            Field::GroupReasonCode,
        ),
        (
            &["admi.002.001.01", "Rsn", "RsnDesc"],
            Field::GroupReasonText,
        ),
    ],
    // One answer is one report, about one message, for one reason.
    once: &[
        &["admi.002.001.01"],
        &["admi.002.001.01", "RltdRef"],
        &["admi.002.001.01", "Rsn"],
    ],
};

/// Reads a pacs.002.001.10 or admi.002.001.01 payload.
pub fn parse(payload: &[u8]) -> Result<Parsed<'_>, ReadError> {
    let mut g = Gathered::default();
    let document = read_fields(payload, &[PACS002, ADMI002], |field, leaf| {
        let text = leaf.text;
        match field {
            Field::MsgId => set_once(
                &mut g.msg_id,
                filled(
                    text,
                    "original message id (OrgnlMsgId, or RltdRef/Ref of an admi.002)",
                )?,
                "original message id",
            )?,
            Field::GroupStatus => set_once(&mut g.group_status, filled(text, "GrpSts")?, "GrpSts")?,
            Field::GroupReasonCode => g.group_reason.set_code(text),
            Field::GroupReasonText => g.group_reason.add_text(text),
            Field::TxMsgId => set_once(
                &mut g.tx_msg_id,
                filled(text, "TxInfAndSts/OrgnlGrpInf/OrgnlMsgId")?,
                "TxInfAndSts",
            )?,
            Field::Uetr => set_once(&mut g.uetr, filled(text, "OrgnlUETR")?, "TxInfAndSts")?,
            Field::TxStatus => set_once(&mut g.tx_status, filled(text, "TxSts")?, "TxInfAndSts")?,
            Field::TxReasonCode => g.tx_reason.set_code(text),
            Field::TxReasonText => g.tx_reason.add_text(text),
        }
        Ok(())
    })?;

    if document == 1 {
        let msg_id = g
            .msg_id
            .ok_or_else(|| ReadError::new("admi.002 without RltdRef/Ref"))?;
        fields::text("RltdRef/Ref", &msg_id, MSG_ID_MAX_CHARS)?;
        return Ok(Parsed {
            kind: Kind::Nack,
            msg_id,
            uetr: None,
            status: Status::Rjct,
            reason_code: g.group_reason.code,
            reason_text: g.group_reason.text,
        });
    }
    let (group_msg_id, tx_msg_id) = (g.msg_id, g.tx_msg_id);
    if let (Some(group), Some(tx)) = (&group_msg_id, &tx_msg_id) {
        // The answer would name two messages; settling either could settle the wrong one.
        if group != tx {
            return Err(ReadError::new(format!(
                "pacs.002 naming two messages: OrgnlGrpInfAndSts/OrgnlMsgId {} and \
                 TxInfAndSts/OrgnlGrpInf/OrgnlMsgId {}",
                shown(group, 35),
                shown(tx, 35)
            )));
        }
    }
    // SPEC §4: the group's OrgnlMsgId names the message (ISO makes the block mandatory); a
    // transaction's own reference is only checked against it.
    let msg_id = group_msg_id
        .ok_or_else(|| ReadError::new("pacs.002 without OrgnlGrpInfAndSts/OrgnlMsgId"))?;
    fields::text("OrgnlMsgId", &msg_id, MSG_ID_MAX_CHARS)?;
    let uetr = g
        .uetr
        .map(|uetr| fields::read_uetr("OrgnlUETR", uetr))
        .transpose()?;
    let (tx_status, group_status) = (g.tx_status, g.group_status);
    if let (Some(tx), Some(group)) = (&tx_status, &group_status) {
        // SPEC §4: any other status is an anomaly, the group's too. Passed over beside a TxSts,
        // a reject the receiver wrote otherwise (`rjct`, `RJCT` with a zero-width space) left
        // an accepting TxSts to settle the payment.
        let group = Status::parse(group).ok_or_else(|| {
            ReadError::new(format!(
                "pacs.002 with unsupported GrpSts {}",
                shown(group, 35)
            ))
        })?;
        // A group rejected whose one transaction was accepted, or the other way round: the
        // receiver contradicts itself, and neither reading may settle the payment.
        if let Some(tx) = Status::parse(tx) {
            if tx.kind() != group.kind() {
                return Err(ReadError::new(format!(
                    "pacs.002 whose TxSts {} contradicts its GrpSts {}",
                    tx.as_str(),
                    group.as_str()
                )));
            }
        }
    }
    let of_group = tx_status.is_none();
    let status = tx_status.or(group_status).ok_or_else(|| {
        ReadError::new("pacs.002 without TxInfAndSts/TxSts or OrgnlGrpInfAndSts/GrpSts")
    })?;
    let status = Status::parse(&status).ok_or_else(|| {
        // Status codes are four letters (ExternalPaymentTransactionStatus1Code); a longer value
        // is shown by its length only.
        ReadError::new(format!(
            "pacs.002 with unsupported status {}",
            shown(&status, 35)
        ))
    })?;
    if of_group && status.kind() == Kind::Ack {
        // SPEC §4: a group's status alone settles only as a rejection. An acceptance names its
        // transaction (TxSts), and a payment completed on less could be one never accepted.
        return Err(ReadError::new(format!(
            "pacs.002 accepting by GrpSts {} alone, without TxInfAndSts/TxSts",
            status.as_str()
        )));
    }
    let reason = if g.tx_reason.is_empty() {
        g.group_reason
    } else {
        g.tx_reason
    };
    Ok(Parsed {
        kind: status.kind(),
        msg_id,
        uetr,
        status,
        reason_code: reason.code,
        reason_text: reason.text,
    })
}

/// A receiver's verdict on one message.
#[pyclass(frozen, module = "paywire._wire", name = "Answer")]
pub struct Answer {
    /// `"ACK"` or `"NACK"`.
    #[pyo3(get)]
    kind: Py<PyString>,
    /// The `MsgId` of the pacs.008 this answer is about.
    #[pyo3(get)]
    msg_id: Py<PyString>,
    /// `OrgnlUETR` when the answer carries one, in lower case.
    #[pyo3(get)]
    uetr: Option<Py<PyString>>,
    /// The ISO 20022 status code (`RJCT` for every NACK).
    #[pyo3(get)]
    status: Py<PyString>,
    #[pyo3(get)]
    reason_code: Option<Py<PyString>>,
    #[pyo3(get)]
    reason_text: Option<Py<PyString>>,
    /// The frame's payload as received: kept beside the verdict, because the answer is
    /// stored exactly as the receiver sent it.
    #[pyo3(get)]
    payload: Py<PyBytes>,
}

#[pymethods]
impl Answer {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        convert::repr(
            py,
            "Answer",
            &[
                ("kind", Some(&self.kind)),
                ("msg_id", Some(&self.msg_id)),
                ("uetr", self.uetr.as_ref()),
                ("status", Some(&self.status)),
                ("reason_code", self.reason_code.as_ref()),
                ("reason_text", self.reason_text.as_ref()),
            ],
        )
    }
}

impl Answer {
    fn from_parsed(py: Python<'_>, parsed: &Parsed<'_>, payload: Py<PyBytes>) -> Self {
        // Interned once: every answer shares the same few kind and status strings.
        static KINDS: [PyOnceLock<Py<PyString>>; 2] = [const { PyOnceLock::new() }; 2];
        static STATUSES: [PyOnceLock<Py<PyString>>; 6] = [const { PyOnceLock::new() }; 6];
        let kind = match parsed.kind {
            Kind::Ack => "ACK",
            Kind::Nack => "NACK",
        };
        Self {
            kind: convert::cached_str(py, &KINDS[parsed.kind as usize], kind),
            msg_id: convert::py_str(py, &parsed.msg_id),
            uetr: convert::py_optional(py, parsed.uetr.as_deref()),
            status: convert::cached_str(
                py,
                &STATUSES[parsed.status as usize],
                parsed.status.as_str(),
            ),
            reason_code: convert::py_optional(py, parsed.reason_code.as_deref()),
            reason_text: convert::py_optional(py, parsed.reason_text.as_deref()),
            payload,
        }
    }
}

/// Reads an answer frame; `AnswerError` for anything that is not a usable pacs.002/admi.002.
#[pyfunction]
pub fn parse_answer(py: Python<'_>, payload: Bound<'_, PyBytes>) -> PyResult<Answer> {
    // The reader is written not to panic; this keeps a bug from reaching Python as a
    // PanicException, which callers catching ValueError would not expect.
    let bytes = payload.as_bytes();
    let parsed = catch_unwind(|| parse(bytes))
        .unwrap_or_else(|_| Err(ReadError::new("internal error while reading the answer")))?;
    Ok(Answer::from_parsed(py, &parsed, payload.clone().unbind()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCEPT: &str = include_str!("../../tests/data/iso20022/pacs.002-accept-sample.xml");
    const REJECT: &str = include_str!("../../tests/data/iso20022/pacs.002-reject-sample.xml");
    const ADMI: &str = include_str!("../../tests/data/iso20022/admi.002-sample.xml");

    fn pacs002(body: &str) -> String {
        format!("<Document xmlns=\"{PACS002_NAMESPACE}\"><FIToFIPmtStsRpt><GrpHdr><MsgId>S</MsgId></GrpHdr>{body}</FIToFIPmtStsRpt></Document>")
    }

    #[test]
    fn schemas_are_sorted() {
        assert!(PACS002.is_sorted() && ADMI002.is_sorted());
    }

    #[test]
    fn accept_sample_is_an_ack() {
        let parsed = parse(ACCEPT.as_bytes()).unwrap();
        assert_eq!(parsed.kind, Kind::Ack);
        assert_eq!(parsed.msg_id, "MSG-20250115-0001");
        assert_eq!(
            parsed.uetr.as_deref(),
            Some("8a562c67-ca16-48ba-b074-65581be6f011")
        );
        assert_eq!(parsed.status, Status::Acsp);
        assert_eq!((parsed.reason_code, parsed.reason_text), (None, None));
    }

    #[test]
    fn reject_sample_is_a_nack_with_reason() {
        let parsed = parse(REJECT.as_bytes()).unwrap();
        assert_eq!(parsed.kind, Kind::Nack);
        assert_eq!(parsed.status, Status::Rjct);
        assert_eq!(parsed.reason_code.as_deref(), Some("AC01"));
        assert_eq!(
            parsed.reason_text.as_deref(),
            Some("Incorrect account number: creditor IBAN unknown")
        );
    }

    #[test]
    fn reason_text_and_code_are_cut_at_a_character_boundary() {
        // Thousands of lines, each of three-byte characters: joined up to the limit, no more.
        let lines = "<AddtlInf>ééé</AddtlInf>".repeat(20_000);
        let code = "X".repeat(5_000);
        let doc = pacs002(&format!(
            "<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pacs.008.001.08</OrgnlMsgNmId><GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Prtry>{code}</Prtry></Rsn>{lines}</StsRsnInf></OrgnlGrpInfAndSts>"
        ));
        let parsed = parse(doc.as_bytes()).unwrap();
        let text = parsed.reason_text.unwrap();
        assert!(text.len() <= REASON_MAX_BYTES && text.len() > REASON_MAX_BYTES - 8);
        assert!(text.starts_with("ééé ééé "));
        assert!(text.split(' ').all(|w| "ééé".starts_with(w)));
        assert_eq!(parsed.reason_code.unwrap().len(), REASON_MAX_BYTES);
    }

    #[test]
    fn an_answer_that_contradicts_itself_is_refused() {
        let group = |grp: &str, tx: &str, tx_msg_id: &str| {
            pacs002(&format!(
                "<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pacs.008.001.08</OrgnlMsgNmId><GrpSts>{grp}</GrpSts></OrgnlGrpInfAndSts><TxInfAndSts><OrgnlGrpInf><OrgnlMsgId>{tx_msg_id}</OrgnlMsgId><OrgnlMsgNmId>pacs.008.001.08</OrgnlMsgNmId></OrgnlGrpInf><TxSts>{tx}</TxSts></TxInfAndSts>"
            ))
        };
        let refused = parse(group("RJCT", "ACSC", "M1").as_bytes()).unwrap_err();
        assert!(refused
            .to_string()
            .contains("TxSts ACSC contradicts its GrpSts RJCT"));
        assert!(parse(group("ACCP", "RJCT", "M1").as_bytes()).is_err());
        let two = parse(group("ACCP", "ACSC", "M2").as_bytes()).unwrap_err();
        assert!(two.to_string().contains("naming two messages"));
        // A group status that is none of SPEC §4's is no status to pass over.
        for unknown in ["PDNG", "rjct", "RJCT&#x200B;"] {
            let refused = parse(group(unknown, "ACSC", "M1").as_bytes()).unwrap_err();
            assert!(
                refused.to_string().contains("unsupported GrpSts"),
                "{unknown}: {refused}"
            );
        }
        // Agreeing statuses of the same kind, and one message named twice, are an answer.
        let agreeing = group("ACCP", "ACSC", "M1");
        let parsed = parse(agreeing.as_bytes()).unwrap();
        assert_eq!((parsed.kind, parsed.status), (Kind::Ack, Status::Acsc));
    }

    #[test]
    fn a_status_holding_an_element_is_refused_not_skipped() {
        // Skipped, the transaction's RJCT would leave the group's ACCP to decide: an ACK.
        let doc = pacs002("<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pacs.008.001.08</OrgnlMsgNmId><GrpSts>ACCP</GrpSts></OrgnlGrpInfAndSts><TxInfAndSts><TxSts>RJCT<x:y xmlns:x=\"urn:x\"/></TxSts></TxInfAndSts>");
        let refused = parse(doc.as_bytes()).unwrap_err();
        assert!(refused
            .to_string()
            .contains("inside a value that must be text"));
    }

    #[test]
    fn a_second_block_is_refused_not_read_into_the_first() {
        // The UETR of one transaction and the status of another would read as one NACK of M1.
        let group = "<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pacs.008.001.08</OrgnlMsgNmId></OrgnlGrpInfAndSts>";
        let transactions = "<TxInfAndSts><OrgnlUETR>8a562c67-ca16-48ba-b074-65581be6f011</OrgnlUETR></TxInfAndSts><TxInfAndSts><TxSts>RJCT</TxSts></TxInfAndSts>";
        let groups = "<OrgnlGrpInfAndSts><GrpSts>RJCT</GrpSts></OrgnlGrpInfAndSts>";
        for (body, block) in [
            (format!("{group}{transactions}"), "TxInfAndSts"),
            (format!("{group}{groups}"), "OrgnlGrpInfAndSts"),
        ] {
            let refused = parse(pacs002(&body).as_bytes()).unwrap_err();
            assert!(
                refused
                    .to_string()
                    .contains(&format!("more than one \"{block}\"")),
                "{refused}"
            );
        }
    }

    #[test]
    fn an_answer_split_over_two_reports_is_refused() {
        // The group's acceptance in one report, the transaction's status in the other: read
        // together they would be one ACK of M1, which neither report gives alone.
        let doc = format!(
            "<Document xmlns=\"{PACS002_NAMESPACE}\"><FIToFIPmtStsRpt><GrpHdr><MsgId>S</MsgId></GrpHdr>\
             <OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><GrpSts>ACCP</GrpSts></OrgnlGrpInfAndSts>\
             </FIToFIPmtStsRpt><FIToFIPmtStsRpt><GrpHdr><MsgId>S</MsgId></GrpHdr><TxInfAndSts>\
             <OrgnlUETR>8a562c67-ca16-48ba-b074-65581be6f011</OrgnlUETR><TxSts>ACSC</TxSts>\
             </TxInfAndSts></FIToFIPmtStsRpt></Document>"
        );
        // The reference of one admi.002 and the reason of another.
        let admi = ADMI.replace(
            "</RltdRef>",
            "</RltdRef></admi.002.001.01><admi.002.001.01>",
        );
        for (doc, report) in [(doc, "FIToFIPmtStsRpt"), (admi, "admi.002.001.01")] {
            let refused = parse(doc.as_bytes()).unwrap_err();
            assert!(
                refused
                    .to_string()
                    .contains(&format!("more than one \"{report}\"")),
                "{refused}"
            );
        }
    }

    #[test]
    fn admi002_is_always_a_nack() {
        let parsed = parse(ADMI.as_bytes()).unwrap();
        assert_eq!(parsed.kind, Kind::Nack);
        assert_eq!(parsed.msg_id, "MSG-20250115-0001");
        assert_eq!(parsed.status, Status::Rjct);
        assert_eq!(parsed.uetr, None);
        assert_eq!(parsed.reason_code.as_deref(), Some("SCHEMA"));
        assert_eq!(
            parsed.reason_text.as_deref(),
            Some("Message failed schema validation")
        );
    }

    #[test]
    fn group_reject_without_transactions_is_a_nack() {
        let doc = pacs002("<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pacs.008.001.08</OrgnlMsgNmId><GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Prtry>DUPLICATE</Prtry></Rsn><AddtlInf>seen</AddtlInf><AddtlInf>before</AddtlInf></StsRsnInf></OrgnlGrpInfAndSts>");
        let parsed = parse(doc.as_bytes()).unwrap();
        assert_eq!((parsed.kind, parsed.status), (Kind::Nack, Status::Rjct));
        assert_eq!(parsed.msg_id, "M1");
        assert_eq!(parsed.reason_code.as_deref(), Some("DUPLICATE"));
        assert_eq!(parsed.reason_text.as_deref(), Some("seen before"));
    }

    #[test]
    fn prefixed_documents_parse_the_same() {
        let doc = format!(
            "<p:Document xmlns:p='{PACS002_NAMESPACE}'>\n <p:FIToFIPmtStsRpt>\n  <p:OrgnlGrpInfAndSts>\n   \
             <p:OrgnlMsgId>\n MSG-20250115-0001\n </p:OrgnlMsgId>\n  </p:OrgnlGrpInfAndSts>\n  <p:TxInfAndSts>\n   \
             <p:OrgnlUETR>8a562c67-ca16-48ba-b074-65581be6f011</p:OrgnlUETR><p:TxSts >ACSP</p:TxSts>\n  \
             </p:TxInfAndSts>\n </p:FIToFIPmtStsRpt>\n</p:Document>"
        );
        assert_eq!(
            parse(doc.as_bytes()).unwrap(),
            parse(ACCEPT.as_bytes()).unwrap()
        );
    }

    #[test]
    fn message_ids_are_max35text() {
        let ack = |group: &str, tx: &str| {
            pacs002(&format!(
                "{group}<TxInfAndSts>{tx}<TxSts>ACSP</TxSts></TxInfAndSts>"
            ))
        };
        let in_group = |id: &str| {
            ack(
                &format!("<OrgnlGrpInfAndSts><OrgnlMsgId>{id}</OrgnlMsgId></OrgnlGrpInfAndSts>"),
                "",
            )
        };
        let in_admi = |id: &str| ADMI.replace("MSG-20250115-0001", id);
        let documents: [&dyn Fn(&str) -> String; 2] = [&in_group, &in_admi];
        for document in documents {
            for id in [
                "M".repeat(35),
                "é".repeat(35),
                format!(" {} ", "😀".repeat(35)),
            ] {
                let doc = document(&id);
                assert_eq!(parse(doc.as_bytes()).unwrap().msg_id, id.trim(), "{id}");
            }
            for (id, expected) in [
                ("M".repeat(36), "at most 35 characters, got 36"),
                ("é".repeat(36), "at most 35 characters, got 36"),
                ("0".repeat(8000), "at most 35 characters, got 8000"),
                ("a&#9;b".to_owned(), "control character U+0009"),
                ("a&#x85;b".to_owned(), "control character U+0085"),
            ] {
                let err = parse(document(&id).as_bytes()).unwrap_err();
                assert!(err.0.contains(expected), "{id}: {err}");
                assert!(err.0.len() < 100, "the error does not echo the id: {err}");
            }
        }
    }

    #[test]
    fn uetrs_are_read_in_lower_case() {
        const LOWER: &str = "8a562c67-ca16-48ba-b074-65581be6f011";
        let parsed = parse(ACCEPT.as_bytes()).unwrap();
        assert!(
            matches!(parsed.uetr, Some(Cow::Borrowed(LOWER))),
            "no copy when the UETR is lower case already"
        );
        for written in [
            LOWER.to_ascii_uppercase(),
            "8A562c67-Ca16-48bA-B074-65581be6F011".to_owned(),
        ] {
            let doc = ACCEPT.replace(LOWER, &written);
            let parsed = parse(doc.as_bytes()).unwrap();
            assert_eq!(parsed.uetr.as_deref(), Some(LOWER), "{written}");
        }
        for bad in [
            "not-a-uuid",
            "8a562c67ca1648bab07465581be6f011",
            "{8a562c67-ca16-48ba-b074-65581be6f011}",
            "urn:uuid:8a562c67-ca16-48ba-b074-65581be6f011",
            "8a562c67-ca16-18ba-b074-65581be6f011",
            "8a562c67-ca16-48ba-c074-65581be6f011",
            "8a562c67-ca16-48ba-b074-65581be6f0111",
            "8a562c67-ca16-48ba-b074-65581be6f01g",
            "8a562c67-ca16-48ba-b074-65581be6f01\u{e9}",
        ] {
            let err = parse(ACCEPT.replace(LOWER, bad).as_bytes()).unwrap_err();
            assert!(err.0.contains("OrgnlUETR"), "{bad}: {err}");
        }
        let err = parse(ACCEPT.replace(LOWER, &"a".repeat(8000)).as_bytes()).unwrap_err();
        assert!(
            err.0.len() < 100,
            "the error does not echo a long value: {err}"
        );
    }

    #[test]
    fn anomalies_are_errors() {
        let cases = [
            (pacs002("<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId></OrgnlGrpInfAndSts><TxInfAndSts><TxSts>PDNG</TxSts></TxInfAndSts>"), "unsupported status \"PDNG\""),
            (pacs002(&format!("<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId></OrgnlGrpInfAndSts><TxInfAndSts><TxSts>{}</TxSts></TxInfAndSts>", "X".repeat(8000))), "unsupported status a 8000-byte value"),
            (pacs002("<TxInfAndSts><TxSts>ACSP</TxSts></TxInfAndSts>"), "without OrgnlGrpInfAndSts/OrgnlMsgId"),
            (pacs002("<TxInfAndSts><OrgnlGrpInf><OrgnlMsgId>M</OrgnlMsgId></OrgnlGrpInf><TxSts>ACSP</TxSts></TxInfAndSts>"), "without OrgnlGrpInfAndSts/OrgnlMsgId"),
            (pacs002("<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId><GrpSts>ACCP</GrpSts></OrgnlGrpInfAndSts>"), "accepting by GrpSts ACCP alone"),
            (pacs002("<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId><GrpSts>ACSC</GrpSts></OrgnlGrpInfAndSts><TxInfAndSts><OrgnlUETR>8a562c67-ca16-48ba-b074-65581be6f011</OrgnlUETR></TxInfAndSts>"), "accepting by GrpSts ACSC alone"),
            (pacs002("<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId></OrgnlGrpInfAndSts>"), "without TxInfAndSts/TxSts"),
            (pacs002("<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId></OrgnlGrpInfAndSts><TxInfAndSts><TxSts>ACSP</TxSts></TxInfAndSts><TxInfAndSts><TxSts>ACSP</TxSts></TxInfAndSts>"), "more than one"),
            (ACCEPT.replace("pacs.002.001.10", "pacs.002.001.12"), "unexpected namespace"),
            (ACCEPT.replace("pacs.002.001.10", &"9".repeat(8000)), "unexpected namespace a 8031-byte value"),
            ("not xml at all".to_owned(), "outside the root"),
            (ACCEPT.replace("8a562c67-ca16-48ba-b074-65581be6f011", ""), "an empty OrgnlUETR"),
            (ACCEPT.replace("8a562c67-ca16-48ba-b074-65581be6f011", " \n "), "an empty OrgnlUETR"),
            (pacs002("<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId></OrgnlGrpInfAndSts><TxInfAndSts><OrgnlGrpInf><OrgnlMsgId/></OrgnlGrpInf><TxSts>ACSP</TxSts></TxInfAndSts>"), "an empty TxInfAndSts/OrgnlGrpInf/OrgnlMsgId"),
            (pacs002("<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId><GrpSts>RJCT</GrpSts></OrgnlGrpInfAndSts><TxInfAndSts><TxSts></TxSts></TxInfAndSts>"), "an empty TxSts"),
            (pacs002("<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId><GrpSts/></OrgnlGrpInfAndSts><TxInfAndSts><TxSts>ACSP</TxSts></TxInfAndSts>"), "an empty GrpSts"),
            (pacs002("<OrgnlGrpInfAndSts><OrgnlMsgId> </OrgnlMsgId></OrgnlGrpInfAndSts><TxInfAndSts><TxSts>ACSP</TxSts></TxInfAndSts>"), "an empty original message id"),
        ];
        for (doc, expected) in cases {
            let err = parse(doc.as_bytes()).unwrap_err();
            assert!(err.0.contains(expected), "{doc}: {err}");
        }
    }
}
