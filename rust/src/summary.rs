//! What the reference receiver needs from a pacs.008: ids, amount, currency, creditor agent.
//!
//! Same guarded reader as the answers; failures are `InvalidMessage` naming the summary field
//! (or `document` for the document as a whole), so the receiver can turn them into a NACK.

use std::borrow::Cow;
use std::panic::catch_unwind;

use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::convert;
use crate::error::{FieldError, ReadError};
use crate::fields;
use crate::pacs008::NAMESPACE;
use crate::xml::{read_fields, set_once, Schema};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary<'i> {
    pub msg_id: Cow<'i, str>,
    pub uetr: Cow<'i, str>,
    pub end_to_end_id: Cow<'i, str>,
    pub amount: Cow<'i, str>,
    pub currency: &'i str,
    pub creditor_agent_bic: Cow<'i, str>,
}

#[derive(Default)]
struct Gathered<'i> {
    msg_id: Option<Cow<'i, str>>,
    uetr: Option<Cow<'i, str>>,
    end_to_end_id: Option<Cow<'i, str>>,
    amount: Option<Cow<'i, str>>,
    currency: Option<&'i str>,
    creditor_agent_bic: Option<Cow<'i, str>>,
}

/// Each of these appears once per transaction, so a repeat means a second `CdtTrfTxInf`.
fn once<T>(slot: &mut Option<T>, value: T) -> Result<(), ReadError> {
    set_once(slot, value, "CdtTrfTxInf")
}

fn required<T>(field: &'static str, value: Option<T>) -> Result<T, FieldError> {
    value.ok_or_else(|| FieldError::new(field, "is missing"))
}

/// `ActiveCurrencyAndAmount`: a non-negative decimal, at most 5 fraction and 18 digits in all.
fn check_amount(value: &str) -> Result<(), FieldError> {
    let (int_part, frac_part) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let significant = int_part.trim_start_matches('0').len() + frac_part.len();
    if int_part.is_empty()
        || !digits(int_part)
        || !digits(frac_part)
        || (value.contains('.') && frac_part.is_empty())
    {
        return Err(FieldError::new(
            "amount",
            format!("{value:?} is not a decimal amount"),
        ));
    }
    if frac_part.len() > 5 || significant > 18 {
        return Err(FieldError::new(
            "amount",
            format!("{value:?} has too many digits"),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Field {
    MsgId,
    EndToEndId,
    Uetr,
    Amount,
    CreditorAgentBic,
}

pub(crate) const PACS008: Schema<Field> = Schema {
    namespace: NAMESPACE,
    fields: &[
        (
            &[
                "FIToFICstmrCdtTrf",
                "CdtTrfTxInf",
                "CdtrAgt",
                "FinInstnId",
                "BICFI",
            ],
            Field::CreditorAgentBic,
        ),
        (
            &["FIToFICstmrCdtTrf", "CdtTrfTxInf", "IntrBkSttlmAmt"],
            Field::Amount,
        ),
        (
            &["FIToFICstmrCdtTrf", "CdtTrfTxInf", "PmtId", "EndToEndId"],
            Field::EndToEndId,
        ),
        (
            &["FIToFICstmrCdtTrf", "CdtTrfTxInf", "PmtId", "UETR"],
            Field::Uetr,
        ),
        (&["FIToFICstmrCdtTrf", "GrpHdr", "MsgId"], Field::MsgId),
    ],
    // paywire sends one transaction per message: a second is refused, not read into the first.
    once: &[&["FIToFICstmrCdtTrf", "CdtTrfTxInf"]],
};

/// Reads the fields of a pacs.008.001.08 that the receiver acts on.
pub fn parse(payload: &[u8]) -> Result<Summary<'_>, FieldError> {
    let mut g = Gathered::default();
    read_fields(payload, &[PACS008], |field, leaf| {
        match field {
            Field::MsgId => set_once(&mut g.msg_id, leaf.text, "GrpHdr/MsgId")?,
            Field::Uetr => once(&mut g.uetr, leaf.text)?,
            Field::EndToEndId => once(&mut g.end_to_end_id, leaf.text)?,
            Field::Amount => {
                once(&mut g.currency, leaf.attribute("Ccy").unwrap_or_default())?;
                once(&mut g.amount, leaf.text)?;
            }
            Field::CreditorAgentBic => once(&mut g.creditor_agent_bic, leaf.text)?,
        }
        Ok(())
    })
    .map_err(|err| FieldError::new("document", err.0))?;

    let summary = Summary {
        msg_id: required("msg_id", g.msg_id)?,
        uetr: required("uetr", g.uetr)?,
        end_to_end_id: required("end_to_end_id", g.end_to_end_id)?,
        amount: required("amount", g.amount)?,
        currency: required("currency", g.currency)?,
        creditor_agent_bic: required("creditor_agent_bic", g.creditor_agent_bic)?,
    };
    fields::text("msg_id", &summary.msg_id, 35)?;
    fields::uetr("uetr", &summary.uetr)?;
    fields::text("end_to_end_id", &summary.end_to_end_id, 35)?;
    check_amount(&summary.amount)?;
    if !(summary.currency.len() == 3 && summary.currency.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(FieldError::new(
            "currency",
            format!("{:?} is not three upper-case letters", summary.currency),
        ));
    }
    fields::bic("creditor_agent_bic", &summary.creditor_agent_bic)?;
    Ok(summary)
}

/// The reference receiver's view of one pacs.008.
#[pyclass(frozen, module = "paywire._wire", name = "Pacs008Summary")]
pub struct Pacs008Summary {
    #[pyo3(get)]
    msg_id: Py<PyString>,
    #[pyo3(get)]
    uetr: Py<PyString>,
    #[pyo3(get)]
    end_to_end_id: Py<PyString>,
    /// `IntrBkSttlmAmt` exactly as written, a decimal string.
    #[pyo3(get)]
    amount: Py<PyString>,
    /// `IntrBkSttlmAmt/@Ccy`.
    #[pyo3(get)]
    currency: Py<PyString>,
    #[pyo3(get)]
    creditor_agent_bic: Py<PyString>,
}

#[pymethods]
impl Pacs008Summary {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        convert::repr(
            py,
            "Pacs008Summary",
            &[
                ("msg_id", Some(&self.msg_id)),
                ("uetr", Some(&self.uetr)),
                ("end_to_end_id", Some(&self.end_to_end_id)),
                ("amount", Some(&self.amount)),
                ("currency", Some(&self.currency)),
                ("creditor_agent_bic", Some(&self.creditor_agent_bic)),
            ],
        )
    }
}

/// `parse` for input from the network: a reader bug must surface as a field error (and so as
/// `InvalidMessage` and an admi.002), never as a panic, as in `parse_answer`.
pub fn parse_guarded(payload: &[u8]) -> Result<Summary<'_>, FieldError> {
    catch_unwind(|| parse(payload)).unwrap_or_else(|_| {
        Err(FieldError::new(
            "document",
            "internal error while reading the document",
        ))
    })
}

/// Reads a pacs.008.001.08 for the reference receiver; `InvalidMessage` names what is wrong.
#[pyfunction]
pub fn parse_pacs008_summary(py: Python<'_>, payload: &[u8]) -> PyResult<Pacs008Summary> {
    let summary = parse_guarded(payload)?;
    Ok(Pacs008Summary {
        msg_id: convert::py_str(py, &summary.msg_id),
        uetr: convert::py_str(py, &summary.uetr),
        end_to_end_id: convert::py_str(py, &summary.end_to_end_id),
        amount: convert::py_str(py, &summary.amount),
        currency: convert::py_str(py, summary.currency),
        creditor_agent_bic: convert::py_str(py, &summary.creditor_agent_bic),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pacs008;

    const SAMPLE: &str = include_str!("../../tests/data/iso20022/pacs.008-sample.xml");

    #[test]
    fn schema_is_sorted() {
        assert!(PACS008.is_sorted());
    }

    #[test]
    fn sample_is_summarised() {
        let summary = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(summary.msg_id, "MSG-20250115-0001");
        assert_eq!(summary.uetr, "8a562c67-ca16-48ba-b074-65581be6f011");
        assert_eq!(summary.end_to_end_id, "E2E-20250115-0001");
        assert_eq!(summary.amount, "1250.00");
        assert_eq!(summary.currency, "EUR");
        assert_eq!(summary.creditor_agent_bic, "NWBKGB2L");
    }

    #[test]
    fn built_messages_read_back() {
        let doc = pacs008::build(&pacs008::tests::sample()).unwrap();
        let summary = parse(&doc).unwrap();
        assert_eq!(summary.amount, "1250.00");
        assert_eq!(summary.uetr, pacs008::tests::UETR);
    }

    #[test]
    fn problems_name_their_field() {
        let cases = [
            (SAMPLE.replace("<MsgId>MSG-20250115-0001</MsgId>", ""), "msg_id"),
            (SAMPLE.replace("8a562c67-ca16-48ba", "8A562C67-CA16-48BA"), "uetr"),
            (SAMPLE.replace("1250.00", "1250.000001"), "amount"),
            (SAMPLE.replace("1250.00", "-5"), "amount"),
            (SAMPLE.replace("Ccy=\"EUR\"", "Ccy=\"eur\""), "currency"),
            (SAMPLE.replace("Ccy=\"EUR\"", ""), "currency"),
            (SAMPLE.replace("NWBKGB2L", "nwbk"), "creditor_agent_bic"),
            (SAMPLE.replace("</CdtTrfTxInf>", "</CdtTrfTxInf><CdtTrfTxInf><PmtId><EndToEndId>X</EndToEndId></PmtId></CdtTrfTxInf>"), "document"),
            (SAMPLE.replace("pacs.008.001.08", "pacs.008.001.09"), "document"),
            ("<!DOCTYPE x><x/>".to_owned(), "document"),
        ];
        for (doc, field) in cases {
            assert_eq!(parse(doc.as_bytes()).unwrap_err().field, field, "{doc}");
        }
    }
}
