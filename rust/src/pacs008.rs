//! The pacs.008.001.08 builder: one payment, one `CdtTrfTxInf`, valid against the XSD.
//!
//! Every field is checked before the first byte is written, then the document goes straight
//! into one buffer sized for the worst case, so building never reallocates.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDate, PyDateTime, PyString};

use crate::convert;
use crate::currency::{minor_digits_of, render_amount};
use crate::dates::{IsoDate, UtcDateTime};
use crate::error::FieldError;
use crate::fields::{self, Account};
use crate::xml::{end, leaf, start, Token, XmlWriter};

pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08";

/// Everything one pacs.008 carries, as the caller gave it (unchecked).
#[derive(Debug, Clone, Copy)]
pub struct Payment<'a> {
    pub msg_id: &'a str,
    pub created_at: UtcDateTime,
    pub instr_id: &'a str,
    pub end_to_end_id: &'a str,
    pub uetr: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub value_date: IsoDate,
    pub instructing_bic: &'a str,
    pub instructed_bic: &'a str,
    pub debtor_name: &'a str,
    pub debtor_account: &'a str,
    pub debtor_agent_bic: &'a str,
    pub creditor_name: &'a str,
    pub creditor_account: &'a str,
    pub creditor_agent_bic: &'a str,
    pub remittance_info: Option<&'a str>,
}

/// Tags plus the unescaped values (BICs, UETR, amount, dates) at their longest; the
/// `capacity_covers_the_worst_case` test keeps it honest.
const MARKUP_BYTES: usize = 1_024;

/// `<tag><FinInstnId><BICFI>bic</BICFI></FinInstnId></tag>`.
macro_rules! agent {
    ($w:expr, $tag:literal, $bic:expr) => {{
        $w.markup(concat!("<", $tag, "><FinInstnId><BICFI>"));
        $w.content($bic);
        $w.markup(concat!("</BICFI></FinInstnId></", $tag, ">"));
    }};
}

/// `<tag><Nm>name</Nm></tag>`.
macro_rules! party {
    ($w:expr, $tag:literal, $name:expr) => {{
        $w.markup(concat!("<", $tag, "><Nm>"));
        $w.content($name);
        $w.markup(concat!("</Nm></", $tag, ">"));
    }};
}

/// `<tag><Id><IBAN>…</IBAN></Id></tag>` or `<tag><Id><Othr><Id>…</Id></Othr></Id></tag>`.
macro_rules! account {
    ($w:expr, $tag:literal, $account:expr) => {{
        match $account {
            Account::Iban(iban) => {
                $w.markup(concat!("<", $tag, "><Id><IBAN>"));
                $w.content(iban);
                $w.markup(concat!("</IBAN></Id></", $tag, ">"));
            }
            Account::Other(id) => {
                $w.markup(concat!("<", $tag, "><Id><Othr><Id>"));
                $w.content(id);
                $w.markup(concat!("</Id></Othr></Id></", $tag, ">"));
            }
        }
    }};
}

/// Checks every field, then writes the document.
pub fn build(p: &Payment<'_>) -> Result<Vec<u8>, FieldError> {
    let msg_id = fields::text("msg_id", p.msg_id, 35)?;
    let instr_id = fields::text("instr_id", p.instr_id, 35)?;
    let end_to_end_id = fields::text("end_to_end_id", p.end_to_end_id, 35)?;
    let uetr = fields::uetr("uetr", p.uetr)?;
    let minor = minor_digits_of(p.currency).ok_or_else(|| {
        FieldError::new(
            "currency",
            format!("{:?} is not an ISO 4217 currency code", p.currency),
        )
    })?;
    let amount = render_amount("amount", p.amount, p.currency, minor)?;
    let instructing_bic = fields::bic("instructing_bic", p.instructing_bic)?;
    let instructed_bic = fields::bic("instructed_bic", p.instructed_bic)?;
    let debtor_name = fields::text("debtor_name", p.debtor_name, 140)?;
    let debtor_account = fields::account("debtor_account", p.debtor_account)?;
    let debtor_agent_bic = fields::bic("debtor_agent_bic", p.debtor_agent_bic)?;
    let creditor_name = fields::text("creditor_name", p.creditor_name, 140)?;
    let creditor_account = fields::account("creditor_account", p.creditor_account)?;
    let creditor_agent_bic = fields::bic("creditor_agent_bic", p.creditor_agent_bic)?;
    let remittance_info = p
        .remittance_info
        .map(|info| fields::text("remittance_info", info, 140))
        .transpose()?;

    let escapable = [
        msg_id,
        instr_id,
        end_to_end_id,
        debtor_name,
        p.debtor_account,
        creditor_name,
        p.creditor_account,
        remittance_info.unwrap_or_default(),
    ];
    let mut stamp = [0u8; 27];
    let mut w = XmlWriter::document(XmlWriter::worst_case(MARKUP_BYTES, &escapable), NAMESPACE);
    start!(w, "FIToFICstmrCdtTrf");
    start!(w, "GrpHdr");
    leaf!(w, "MsgId", msg_id);
    leaf!(w, "CreDtTm", p.created_at.render(&mut stamp));
    leaf!(w, "NbOfTxs", "1");
    w.markup("<SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf>");
    end!(w, "GrpHdr");

    start!(w, "CdtTrfTxInf");
    start!(w, "PmtId");
    leaf!(w, "InstrId", instr_id);
    leaf!(w, "EndToEndId", end_to_end_id);
    leaf!(w, "UETR", uetr);
    end!(w, "PmtId");
    w.markup("<IntrBkSttlmAmt Ccy=\"");
    // A known ISO 4217 code, so three upper-case letters.
    w.content(Token::new(p.currency));
    w.markup("\">");
    w.content(amount.as_token());
    end!(w, "IntrBkSttlmAmt");
    leaf!(w, "IntrBkSttlmDt", p.value_date.render(&mut stamp));
    leaf!(w, "ChrgBr", "SLEV");
    agent!(w, "InstgAgt", instructing_bic);
    agent!(w, "InstdAgt", instructed_bic);
    party!(w, "Dbtr", debtor_name);
    account!(w, "DbtrAcct", debtor_account);
    agent!(w, "DbtrAgt", debtor_agent_bic);
    agent!(w, "CdtrAgt", creditor_agent_bic);
    party!(w, "Cdtr", creditor_name);
    account!(w, "CdtrAcct", creditor_account);
    if let Some(info) = remittance_info {
        start!(w, "RmtInf");
        leaf!(w, "Ustrd", info);
        end!(w, "RmtInf");
    }
    end!(w, "CdtTrfTxInf");
    end!(w, "FIToFICstmrCdtTrf");
    Ok(w.finish())
}

/// Builds one pacs.008.001.08 document (SPEC §4 mapping); `InvalidMessage` names the field
/// that cannot be represented.
#[pyfunction]
#[pyo3(signature = (
    *,
    msg_id,
    created_at,
    instr_id,
    end_to_end_id,
    uetr,
    amount,
    currency,
    value_date,
    instructing_bic,
    instructed_bic,
    debtor_name,
    debtor_account,
    debtor_agent_bic,
    creditor_name,
    creditor_account,
    creditor_agent_bic,
    remittance_info = None,
))]
#[allow(clippy::too_many_arguments)] // The keyword-only Python signature is the contract.
pub fn build_pacs008<'py>(
    py: Python<'py>,
    msg_id: &Bound<'py, PyString>,
    created_at: &Bound<'py, PyDateTime>,
    instr_id: &Bound<'py, PyString>,
    end_to_end_id: &Bound<'py, PyString>,
    uetr: &Bound<'py, PyString>,
    amount: &Bound<'py, PyAny>,
    currency: &Bound<'py, PyString>,
    value_date: &Bound<'py, PyDate>,
    instructing_bic: &Bound<'py, PyString>,
    instructed_bic: &Bound<'py, PyString>,
    debtor_name: &Bound<'py, PyString>,
    debtor_account: &Bound<'py, PyString>,
    debtor_agent_bic: &Bound<'py, PyString>,
    creditor_name: &Bound<'py, PyString>,
    creditor_account: &Bound<'py, PyString>,
    creditor_agent_bic: &Bound<'py, PyString>,
    remittance_info: Option<&Bound<'py, PyString>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let amount = convert::decimal_text("amount", amount)?;
    let payment = Payment {
        msg_id: convert::text("msg_id", msg_id)?,
        created_at: convert::utc_datetime("created_at", created_at)?,
        instr_id: convert::text("instr_id", instr_id)?,
        end_to_end_id: convert::text("end_to_end_id", end_to_end_id)?,
        uetr: convert::text("uetr", uetr)?,
        amount: convert::text("amount", &amount)?,
        currency: convert::text("currency", currency)?,
        value_date: convert::date("value_date", value_date)?,
        instructing_bic: convert::text("instructing_bic", instructing_bic)?,
        instructed_bic: convert::text("instructed_bic", instructed_bic)?,
        debtor_name: convert::text("debtor_name", debtor_name)?,
        debtor_account: convert::text("debtor_account", debtor_account)?,
        debtor_agent_bic: convert::text("debtor_agent_bic", debtor_agent_bic)?,
        creditor_name: convert::text("creditor_name", creditor_name)?,
        creditor_account: convert::text("creditor_account", creditor_account)?,
        creditor_agent_bic: convert::text("creditor_agent_bic", creditor_agent_bic)?,
        remittance_info: convert::optional_text("remittance_info", remittance_info)?,
    };
    let document = build(&payment)?;
    Ok(PyBytes::new(py, &document))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const UETR: &str = "8a562c67-ca16-48ba-b074-65581be6f011";

    pub fn sample() -> Payment<'static> {
        Payment {
            msg_id: "MSG-20250115-0001",
            created_at: UtcDateTime {
                date: IsoDate {
                    year: 2025,
                    month: 1,
                    day: 15,
                },
                hour: 10,
                minute: 30,
                second: 0,
                microsecond: 0,
            },
            instr_id: "INSTR-20250115-0001",
            end_to_end_id: "E2E-20250115-0001",
            uetr: UETR,
            amount: "1250",
            currency: "EUR",
            value_date: IsoDate {
                year: 2025,
                month: 1,
                day: 15,
            },
            instructing_bic: "COBADEFFXXX",
            instructed_bic: "NWBKGB2L",
            debtor_name: "Alice Example",
            debtor_account: "DE89370400440532013000",
            debtor_agent_bic: "COBADEFFXXX",
            creditor_name: "Bob Example Ltd",
            creditor_account: "GB29NWBK60161331926819",
            creditor_agent_bic: "NWBKGB2L",
            remittance_info: Some("Invoice 2025-0042"),
        }
    }

    fn build_str(p: &Payment<'_>) -> String {
        String::from_utf8(build(p).unwrap()).unwrap()
    }

    #[test]
    fn elements_come_in_schema_order() {
        let doc = build_str(&sample());
        let order = [
            "<MsgId>MSG-20250115-0001</MsgId>",
            "<CreDtTm>2025-01-15T10:30:00Z</CreDtTm>",
            "<NbOfTxs>1</NbOfTxs>",
            "<SttlmMtd>CLRG</SttlmMtd>",
            "<InstrId>",
            "<EndToEndId>",
            "<UETR>8a562c67-ca16-48ba-b074-65581be6f011</UETR>",
            "<IntrBkSttlmAmt Ccy=\"EUR\">1250.00</IntrBkSttlmAmt>",
            "<IntrBkSttlmDt>2025-01-15</IntrBkSttlmDt>",
            "<ChrgBr>SLEV</ChrgBr>",
            "<InstgAgt><FinInstnId><BICFI>COBADEFFXXX</BICFI>",
            "<InstdAgt><FinInstnId><BICFI>NWBKGB2L</BICFI>",
            "<Dbtr><Nm>Alice Example</Nm></Dbtr>",
            "<DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN>",
            "<DbtrAgt>",
            "<CdtrAgt>",
            "<Cdtr><Nm>Bob Example Ltd</Nm></Cdtr>",
            "<CdtrAcct><Id><IBAN>GB29NWBK60161331926819</IBAN>",
            "<RmtInf><Ustrd>Invoice 2025-0042</Ustrd></RmtInf>",
        ];
        let mut from = 0;
        for piece in order {
            let at = doc[from..]
                .find(piece)
                .unwrap_or_else(|| panic!("{piece} missing or out of order"));
            from += at + piece.len();
        }
        assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">"));
        assert!(doc.ends_with("</FIToFICstmrCdtTrf></Document>"));
        assert_eq!(doc.matches("<CdtTrfTxInf>").count(), 1);
    }

    #[test]
    fn text_is_escaped_and_other_accounts_use_othr() {
        let p = Payment {
            debtor_name: "Tom & Jerry <\"Ltd\"> 'x'",
            creditor_account: "ACC-42",
            remittance_info: None,
            ..sample()
        };
        let doc = build_str(&p);
        assert!(doc.contains("<Nm>Tom &amp; Jerry &lt;&quot;Ltd&quot;&gt; &apos;x&apos;</Nm>"));
        assert!(doc.contains("<CdtrAcct><Id><Othr><Id>ACC-42</Id></Othr></Id></CdtrAcct>"));
        assert!(!doc.contains("RmtInf"));
    }

    #[test]
    fn every_bad_field_is_named() {
        let long35 = "x".repeat(36);
        let long140 = "é".repeat(141);
        let cases: [(&str, Payment<'_>); 17] = [
            (
                "msg_id",
                Payment {
                    msg_id: "",
                    ..sample()
                },
            ),
            (
                "msg_id",
                Payment {
                    msg_id: &long35,
                    ..sample()
                },
            ),
            (
                "instr_id",
                Payment {
                    instr_id: "a\nb",
                    ..sample()
                },
            ),
            (
                "end_to_end_id",
                Payment {
                    end_to_end_id: &long35,
                    ..sample()
                },
            ),
            (
                "uetr",
                Payment {
                    uetr: "8A562C67-CA16-48BA-B074-65581BE6F011",
                    ..sample()
                },
            ),
            (
                "currency",
                Payment {
                    currency: "EURO",
                    ..sample()
                },
            ),
            (
                "amount",
                Payment {
                    amount: "12.345",
                    ..sample()
                },
            ),
            (
                "amount",
                Payment {
                    amount: "0",
                    ..sample()
                },
            ),
            (
                "instructing_bic",
                Payment {
                    instructing_bic: "cobadeff",
                    ..sample()
                },
            ),
            (
                "instructed_bic",
                Payment {
                    instructed_bic: "NWBK",
                    ..sample()
                },
            ),
            (
                "debtor_name",
                Payment {
                    debtor_name: &long140,
                    ..sample()
                },
            ),
            (
                "debtor_account",
                Payment {
                    debtor_account: "",
                    ..sample()
                },
            ),
            (
                "debtor_agent_bic",
                Payment {
                    debtor_agent_bic: "",
                    ..sample()
                },
            ),
            (
                "creditor_name",
                Payment {
                    creditor_name: "\u{7}",
                    ..sample()
                },
            ),
            (
                "creditor_account",
                Payment {
                    creditor_account: &long35,
                    ..sample()
                },
            ),
            (
                "creditor_agent_bic",
                Payment {
                    creditor_agent_bic: "NWBKGB2LX",
                    ..sample()
                },
            ),
            (
                "remittance_info",
                Payment {
                    remittance_info: Some(""),
                    ..sample()
                },
            ),
        ];
        for (field, payment) in cases {
            assert_eq!(build(&payment).unwrap_err().field, field);
        }
    }

    #[test]
    fn capacity_covers_the_worst_case() {
        let long = "\"".repeat(140);
        let id = "\"".repeat(35);
        let other = "\"".repeat(34);
        let p = Payment {
            msg_id: &id,
            instr_id: &id,
            end_to_end_id: &id,
            debtor_name: &long,
            creditor_name: &long,
            debtor_account: &other,
            creditor_account: &other,
            remittance_info: Some(&long),
            amount: "9999999999999.9999",
            currency: "CLF",
            created_at: UtcDateTime {
                microsecond: 123_456,
                ..sample().created_at
            },
            ..sample()
        };
        let escapable: [&str; 8] = [&id, &id, &id, &long, &long, &other, &other, &long];
        let doc = build(&p).unwrap();
        let bound = XmlWriter::worst_case(MARKUP_BYTES, &escapable);
        assert!(doc.len() <= bound, "{} > {bound}", doc.len());
    }
}
