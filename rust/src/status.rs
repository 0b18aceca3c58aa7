//! The reference receiver's answers: pacs.002.001.10 status reports and admi.002.001.01 rejects.
//!
//! Built with the same writer and field checks as the pacs.008, so what the receiver sends is
//! exactly what `parse_answer` expects to read.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDateTime, PyString};

use crate::answer::{ADMI002_NAMESPACE, PACS002_NAMESPACE};
use crate::convert;
use crate::dates::UtcDateTime;
use crate::error::FieldError;
use crate::fields;
use crate::xml::{end, leaf, start, XmlWriter};

/// Tags plus the unescaped values (UETR, date) at their longest; the
/// `capacity_covers_the_worst_case` test keeps it honest.
const MARKUP_BYTES: usize = 512;

fn capacity(texts: &[&str]) -> usize {
    XmlWriter::worst_case(MARKUP_BYTES, texts)
}

/// A FIToFIPaymentStatusReport about one pacs.008.
#[derive(Debug, Clone, Copy)]
pub struct StatusReport<'a> {
    pub msg_id: &'a str,
    pub created_at: UtcDateTime,
    pub original_msg_id: &'a str,
    pub original_uetr: Option<&'a str>,
    pub status: &'a str,
    pub reason_code: Option<&'a str>,
    pub reason_text: Option<&'a str>,
}

/// `Cd` holds an external code of at most 4 characters; longer codes go in `Prtry`.
const MAX_CODE_CHARS: usize = 4;

pub fn build_status_report(r: &StatusReport<'_>) -> Result<Vec<u8>, FieldError> {
    let msg_id = fields::text("msg_id", r.msg_id, 35)?;
    let original_msg_id = fields::text("original_msg_id", r.original_msg_id, 35)?;
    let original_uetr = r
        .original_uetr
        .map(|u| fields::uetr("original_uetr", u))
        .transpose()?;
    let status = fields::text("status", r.status, MAX_CODE_CHARS)?;
    let reason_code = r
        .reason_code
        .map(|c| fields::text("reason_code", c, 35))
        .transpose()?;
    let reason_text = r
        .reason_text
        .map(|t| fields::text("reason_text", t, 105))
        .transpose()?;

    let mut stamp = [0u8; 27];
    let mut w = XmlWriter::document(
        capacity(&[
            msg_id,
            original_msg_id,
            status,
            reason_code.unwrap_or_default(),
            reason_text.unwrap_or_default(),
        ]),
        PACS002_NAMESPACE,
    );
    start!(w, "FIToFIPmtStsRpt");
    start!(w, "GrpHdr");
    leaf!(w, "MsgId", msg_id);
    leaf!(w, "CreDtTm", r.created_at.render(&mut stamp));
    end!(w, "GrpHdr");
    start!(w, "OrgnlGrpInfAndSts");
    leaf!(w, "OrgnlMsgId", original_msg_id);
    leaf!(w, "OrgnlMsgNmId", "pacs.008.001.08");
    end!(w, "OrgnlGrpInfAndSts");
    start!(w, "TxInfAndSts");
    if let Some(uetr) = original_uetr {
        leaf!(w, "OrgnlUETR", uetr);
    }
    leaf!(w, "TxSts", status);
    if reason_code.is_some() || reason_text.is_some() {
        start!(w, "StsRsnInf");
        if let Some(code) = reason_code {
            start!(w, "Rsn");
            if code.chars().count() <= MAX_CODE_CHARS {
                leaf!(w, "Cd", code);
            } else {
                leaf!(w, "Prtry", code);
            }
            end!(w, "Rsn");
        }
        if let Some(text) = reason_text {
            leaf!(w, "AddtlInf", text);
        }
        end!(w, "StsRsnInf");
    }
    end!(w, "TxInfAndSts");
    end!(w, "FIToFIPmtStsRpt");
    Ok(w.finish())
}

/// A MessageReject of a message that could not be processed at all.
#[derive(Debug, Clone, Copy)]
pub struct MessageReject<'a> {
    pub related_ref: &'a str,
    pub created_at: UtcDateTime,
    pub reason_code: &'a str,
    pub reason_text: Option<&'a str>,
}

pub fn build_message_reject(r: &MessageReject<'_>) -> Result<Vec<u8>, FieldError> {
    let related_ref = fields::text("related_ref", r.related_ref, 35)?;
    let reason_code = fields::text("reason_code", r.reason_code, 35)?;
    let reason_text = r
        .reason_text
        .map(|t| fields::text("reason_text", t, 350))
        .transpose()?;

    let mut stamp = [0u8; 27];
    let mut w = XmlWriter::document(
        capacity(&[related_ref, reason_code, reason_text.unwrap_or_default()]),
        ADMI002_NAMESPACE,
    );
    start!(w, "admi.002.001.01");
    start!(w, "RltdRef");
    leaf!(w, "Ref", related_ref);
    end!(w, "RltdRef");
    start!(w, "Rsn");
    leaf!(w, "RjctgPtyRsn", reason_code);
    leaf!(w, "RjctnDtTm", r.created_at.render(&mut stamp));
    if let Some(text) = reason_text {
        leaf!(w, "RsnDesc", text);
    }
    end!(w, "Rsn");
    end!(w, "admi.002.001.01");
    Ok(w.finish())
}

/// Builds a pacs.002.001.10 answering one pacs.008.
#[pyfunction]
#[pyo3(signature = (*, msg_id, created_at, original_msg_id, original_uetr, status, reason_code = None, reason_text = None))]
#[allow(clippy::too_many_arguments)] // The keyword-only Python signature is the contract.
pub fn build_pacs002<'py>(
    py: Python<'py>,
    msg_id: &Bound<'py, PyString>,
    created_at: &Bound<'py, PyDateTime>,
    original_msg_id: &Bound<'py, PyString>,
    original_uetr: Option<&Bound<'py, PyString>>,
    status: &Bound<'py, PyString>,
    reason_code: Option<&Bound<'py, PyString>>,
    reason_text: Option<&Bound<'py, PyString>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let report = StatusReport {
        msg_id: convert::text("msg_id", msg_id)?,
        created_at: convert::utc_datetime("created_at", created_at)?,
        original_msg_id: convert::text("original_msg_id", original_msg_id)?,
        original_uetr: convert::optional_text("original_uetr", original_uetr)?,
        status: convert::text("status", status)?,
        reason_code: convert::optional_text("reason_code", reason_code)?,
        reason_text: convert::optional_text("reason_text", reason_text)?,
    };
    Ok(PyBytes::new(py, &build_status_report(&report)?))
}

/// Builds an admi.002.001.01 rejecting a message that could not be read.
#[pyfunction]
#[pyo3(signature = (*, related_ref, created_at, reason_code, reason_text = None))]
pub fn build_admi002<'py>(
    py: Python<'py>,
    related_ref: &Bound<'py, PyString>,
    created_at: &Bound<'py, PyDateTime>,
    reason_code: &Bound<'py, PyString>,
    reason_text: Option<&Bound<'py, PyString>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let reject = MessageReject {
        related_ref: convert::text("related_ref", related_ref)?,
        created_at: convert::utc_datetime("created_at", created_at)?,
        reason_code: convert::text("reason_code", reason_code)?,
        reason_text: convert::optional_text("reason_text", reason_text)?,
    };
    Ok(PyBytes::new(py, &build_message_reject(&reject)?))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::answer::{self, Kind, Status};
    use crate::dates::IsoDate;

    /// The creation time of the test documents, shared by the modules that build answers.
    pub(crate) const NOW: UtcDateTime = UtcDateTime {
        date: IsoDate {
            year: 2026,
            month: 11,
            day: 26,
        },
        hour: 16,
        minute: 30,
        second: 0,
        microsecond: 123_456,
    };
    const UETR: &str = "8a562c67-ca16-48ba-b074-65581be6f011";

    fn report() -> StatusReport<'static> {
        StatusReport {
            msg_id: "STS-1",
            created_at: NOW,
            original_msg_id: "MSG-1",
            original_uetr: Some(UETR),
            status: "RJCT",
            reason_code: Some("AC01"),
            reason_text: Some("Unknown <account> & more"),
        }
    }

    #[test]
    fn status_reports_read_back() {
        let doc = build_status_report(&report()).unwrap();
        let parsed = answer::parse(&doc).unwrap();
        assert_eq!((parsed.kind, parsed.status), (Kind::Nack, Status::Rjct));
        assert_eq!(parsed.msg_id, "MSG-1");
        assert_eq!(parsed.uetr.as_deref(), Some(UETR));
        assert_eq!(parsed.reason_code.as_deref(), Some("AC01"));
        assert_eq!(
            parsed.reason_text.as_deref(),
            Some("Unknown <account> & more")
        );

        let ack = StatusReport {
            status: "ACSC",
            original_uetr: None,
            reason_code: None,
            reason_text: None,
            ..report()
        };
        let doc = build_status_report(&ack).unwrap();
        assert!(!String::from_utf8_lossy(&doc).contains("StsRsnInf"));
        let parsed = answer::parse(&doc).unwrap();
        assert_eq!((parsed.kind, parsed.uetr), (Kind::Ack, None));
    }

    #[test]
    fn long_reason_codes_are_proprietary() {
        let doc = build_status_report(&StatusReport {
            reason_code: Some("DUPLICATE"),
            ..report()
        })
        .unwrap();
        assert!(String::from_utf8_lossy(&doc).contains("<Rsn><Prtry>DUPLICATE</Prtry></Rsn>"));
    }

    #[test]
    fn message_rejects_read_back() {
        let reject = MessageReject {
            related_ref: "MSG-1",
            created_at: NOW,
            reason_code: "SCHEMA",
            reason_text: Some("bad"),
        };
        let doc = build_message_reject(&reject).unwrap();
        assert!(String::from_utf8_lossy(&doc)
            .contains("<RjctnDtTm>2026-11-26T16:30:00.123456Z</RjctnDtTm>"));
        let parsed = answer::parse(&doc).unwrap();
        assert_eq!((parsed.kind, parsed.msg_id.as_ref()), (Kind::Nack, "MSG-1"));
        assert_eq!(parsed.reason_code.as_deref(), Some("SCHEMA"));
    }

    #[test]
    fn bad_fields_are_named() {
        let long = "x".repeat(106);
        let cases = [
            (
                "msg_id",
                StatusReport {
                    msg_id: "",
                    ..report()
                },
            ),
            (
                "original_msg_id",
                StatusReport {
                    original_msg_id: "\n",
                    ..report()
                },
            ),
            (
                "original_uetr",
                StatusReport {
                    original_uetr: Some("x"),
                    ..report()
                },
            ),
            (
                "status",
                StatusReport {
                    status: "REJECT",
                    ..report()
                },
            ),
            (
                "reason_code",
                StatusReport {
                    reason_code: Some(""),
                    ..report()
                },
            ),
            (
                "reason_text",
                StatusReport {
                    reason_text: Some(&long),
                    ..report()
                },
            ),
        ];
        for (field, r) in cases {
            assert_eq!(build_status_report(&r).unwrap_err().field, field);
        }
        let reject = MessageReject {
            related_ref: "",
            created_at: NOW,
            reason_code: "X",
            reason_text: None,
        };
        assert_eq!(
            build_message_reject(&reject).unwrap_err().field,
            "related_ref"
        );
    }

    #[test]
    fn capacity_covers_the_worst_case() {
        let id = "\"".repeat(35);
        let text = "\"".repeat(105);
        let r = StatusReport {
            msg_id: &id,
            original_msg_id: &id,
            status: "\"\"\"\"",
            reason_code: Some(&id),
            reason_text: Some(&text),
            ..report()
        };
        let doc = build_status_report(&r).unwrap();
        assert!(doc.len() <= capacity(&[&id, &id, "\"\"\"\"", &id, &text]));
        let long = "\"".repeat(350);
        let reject = MessageReject {
            related_ref: &id,
            created_at: NOW,
            reason_code: &id,
            reason_text: Some(&long),
        };
        assert!(build_message_reject(&reject).unwrap().len() <= capacity(&[&id, &id, &long]));
    }
}
