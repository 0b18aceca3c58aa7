//! The reference receiver's book of answers: numbers its pacs.002s, remembers the one sent for
//! each MsgId so a resend gets the same bytes, and accepts a whole read of messages in one call.
//!
//! The receiver decides in Python when rules, faults or a log are in play; without them every
//! message is accepted, and this is the path a pipelining client drives at full rate, so no
//! Python object is made per message.

use std::collections::HashMap;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDateTime, PyList};

use crate::dates::UtcDateTime;
use crate::error::FieldError;
use crate::framing::Framing;
use crate::status::{build_status_report, StatusReport};
use crate::summary;

/// `TxSts` of an acceptance: settlement in process, the receiver's plain ACK.
pub const ACCEPTED: &str = "ACSP";
/// Digits of the sequence number after the prefix in an answer's MsgId.
const SEQ_DIGITS: usize = 12;
/// `Max35Text`, the limit of a MsgId.
const MAX_MSG_ID: usize = 35;
/// Room reserved per answer in a read's output: a framed pacs.002 runs to about 700 bytes.
const ANSWER_BYTES: usize = 1024;
/// Answers reserved for up front; a read with more grows its buffer as it goes.
const MAX_RESERVED_ANSWERS: usize = 4096;

/// What became of one message given to [`Book::accept`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Answered for the first time.
    New,
    /// Answered before: the same answer went out again.
    Again,
}

/// Answers by MsgId in two generations: at least `capacity` remembered, at most twice that,
/// with no per-entry bookkeeping (the same scheme as the gateway's `RecentlySettled`).
///
/// The map keeps std's keyed SipHash on purpose: its keys come from the network.
pub struct Book {
    prefix: String,
    seq: u64,
    capacity: usize,
    current: HashMap<Box<str>, Box<[u8]>>,
    older: HashMap<Box<str>, Box<[u8]>>,
}

impl Book {
    /// `prefix` starts every answer's MsgId; 12 digits of sequence follow within 35 characters.
    pub fn new(prefix: &str, capacity: usize) -> Result<Self, FieldError> {
        if prefix.is_empty() || prefix.chars().count() + SEQ_DIGITS > MAX_MSG_ID {
            return Err(FieldError::new(
                "prefix",
                format!("must be 1 to {} characters", MAX_MSG_ID - SEQ_DIGITS),
            ));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            seq: 0,
            capacity,
            current: HashMap::new(),
            older: HashMap::new(),
        })
    }

    /// The MsgId of the next answer.
    pub fn next_msg_id(&mut self) -> String {
        self.seq += 1;
        format!("{}{:0width$}", self.prefix, self.seq, width = SEQ_DIGITS)
    }

    /// The answer already sent for `msg_id`, while it is remembered.
    pub fn known(&self, msg_id: &str) -> Option<&[u8]> {
        self.current
            .get(msg_id)
            .or_else(|| self.older.get(msg_id))
            .map(|answer| &answer[..])
    }

    pub fn remember(&mut self, msg_id: &str, answer: Box<[u8]>) {
        self.current.insert(msg_id.into(), answer);
        if self.current.len() >= self.capacity {
            self.older = std::mem::take(&mut self.current);
        }
    }

    /// Accepts one pacs.008 (or answers it again) and frames the answer onto `out`. A payload
    /// that is not a readable pacs.008 is refused untouched, for the caller's admi.002.
    pub fn accept(
        &mut self,
        payload: &[u8],
        created_at: UtcDateTime,
        framing: Framing,
        out: &mut Vec<u8>,
    ) -> Result<Accepted, FieldError> {
        let message = summary::parse_guarded(payload)?;
        if let Some(answer) = self.known(&message.msg_id) {
            framing.append(answer, out).map_err(answer_too_large)?;
            return Ok(Accepted::Again);
        }
        let msg_id = self.next_msg_id();
        let answer = build_status_report(&StatusReport {
            msg_id: &msg_id,
            created_at,
            original_msg_id: &message.msg_id,
            original_uetr: Some(&message.uetr),
            status: ACCEPTED,
            reason_code: None,
            reason_text: None,
        })?;
        framing.append(&answer, out).map_err(answer_too_large)?;
        self.remember(&message.msg_id, answer.into_boxed_slice());
        Ok(Accepted::New)
    }
}

/// Answers are a few hundred bytes, under every framing's limit; should one not be, the message
/// is refused rather than the read lost.
fn answer_too_large(err: impl std::fmt::Display) -> FieldError {
    FieldError::new("document", format!("its answer cannot be framed: {err}"))
}

/// Python face of [`Book`].
#[pyclass(module = "paywire._wire", name = "AnswerBook")]
pub struct AnswerBook {
    book: Book,
    framing: Framing,
}

#[pymethods]
impl AnswerBook {
    #[new]
    #[pyo3(signature = (prefix, capacity, framing = "u32be"))]
    fn new(prefix: &str, capacity: usize, framing: &str) -> PyResult<Self> {
        let book = Book::new(prefix, capacity).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Self {
            book,
            framing: Framing::parse(framing)?,
        })
    }

    fn next_msg_id(&mut self) -> String {
        self.book.next_msg_id()
    }

    fn known<'py>(&self, py: Python<'py>, msg_id: &str) -> Option<Bound<'py, PyBytes>> {
        self.book
            .known(msg_id)
            .map(|answer| PyBytes::new(py, answer))
    }

    fn remember(&mut self, msg_id: &str, answer: &[u8]) {
        self.book.remember(msg_id, answer.into());
    }

    /// Accepts the messages of one read; returns the framed answers, how many of them were
    /// sent before, and each refused payload with the reason.
    #[allow(clippy::type_complexity)] // The tuple is the Python return value.
    fn accept<'py>(
        &mut self,
        payloads: &Bound<'py, PyList>,
        created_at: &Bound<'py, PyDateTime>,
    ) -> PyResult<(
        Bound<'py, PyBytes>,
        usize,
        Vec<(Bound<'py, PyBytes>, String)>,
    )> {
        let py = payloads.py();
        let created_at = crate::convert::utc_datetime("created_at", created_at)?;
        let mut out = Vec::new();
        let mut again = 0;
        let mut refused = Vec::new();
        for item in payloads.iter() {
            let payload = item.cast_into::<PyBytes>()?;
            let bytes = payload.as_bytes();
            if bytes.is_empty() {
                continue; // a heartbeat: the caller answers those
            }
            if out.is_empty() {
                // An answer is a fixed shape of under a kilobyte, whatever it answers: reserve
                // for this read's items at that size (never from the size of what a client
                // sent, which with many heartbeats beside one large frame asked for gigabytes).
                out.reserve(payloads.len().min(MAX_RESERVED_ANSWERS) * ANSWER_BYTES);
            }
            match self.book.accept(bytes, created_at, self.framing, &mut out) {
                Ok(Accepted::New) => {}
                Ok(Accepted::Again) => again += 1,
                Err(err) => refused.push((payload, err.to_string())),
            }
        }
        Ok((PyBytes::new(py, &out), again, refused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer;
    use crate::framing::Decoder;
    use crate::pacs008;
    use crate::status::tests::NOW;

    fn message(msg_id: &'static str) -> Vec<u8> {
        let mut payment = pacs008::tests::sample();
        payment.msg_id = msg_id;
        pacs008::build(&payment).unwrap()
    }

    fn frames(framing: Framing, data: &[u8]) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        Decoder::new(framing, 1 << 20)
            .feed(data, |frame| frames.push(frame.to_vec()))
            .unwrap();
        frames
    }

    #[test]
    fn acceptances_are_what_the_status_writer_builds() {
        for framing in [Framing::U32Be, Framing::U16Be, Framing::Ascii4] {
            let mut book = Book::new("PWRTEST", 10).unwrap();
            let mut out = Vec::new();
            for msg_id in ["M1", "A&B<'\">", "ünïcödé-€"] {
                let accepted = book.accept(&message(msg_id), NOW, framing, &mut out);
                assert_eq!(accepted, Ok(Accepted::New));
            }
            let answers = frames(framing, &out);
            assert_eq!(answers.len(), 3, "one answer per message, in {framing:?}");
            for (i, (msg_id, sent)) in ["M1", "A&B<'\">", "ünïcödé-€"]
                .iter()
                .zip(&answers)
                .enumerate()
            {
                let expected = build_status_report(&StatusReport {
                    msg_id: &format!("PWRTEST{:012}", i + 1),
                    created_at: NOW,
                    original_msg_id: msg_id,
                    original_uetr: Some(pacs008::tests::UETR),
                    status: ACCEPTED,
                    reason_code: None,
                    reason_text: None,
                })
                .unwrap();
                assert_eq!(sent, &expected);
                assert_eq!(answer::parse(sent).unwrap().msg_id, *msg_id);
            }
        }
    }

    #[test]
    fn a_resend_gets_the_same_answer() {
        let mut book = Book::new("PWR", 10).unwrap();
        let mut out = Vec::new();
        let m = message("M1");
        assert_eq!(
            book.accept(&m, NOW, Framing::U32Be, &mut out),
            Ok(Accepted::New)
        );
        assert_eq!(
            book.accept(&m, NOW, Framing::U32Be, &mut out),
            Ok(Accepted::Again)
        );
        let answers = frames(Framing::U32Be, &out);
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0], answers[1]);
        assert_eq!(
            book.next_msg_id(),
            "PWR000000000002",
            "a resend takes no number"
        );
    }

    #[test]
    fn unreadable_messages_are_refused_and_write_nothing() {
        let mut book = Book::new("PWR", 10).unwrap();
        let mut out = Vec::new();
        let err = book
            .accept(b"<x/>", NOW, Framing::U32Be, &mut out)
            .unwrap_err();
        assert_eq!(err.field, "document");
        assert!(out.is_empty());
    }

    #[test]
    fn memory_holds_two_generations() {
        let mut book = Book::new("PWR", 2).unwrap();
        for id in ["a", "b", "c", "d"] {
            book.remember(id, Box::from(id.as_bytes()));
        }
        assert_eq!(book.known("a"), None, "two rotations ago");
        assert_eq!(book.known("c"), Some(&b"c"[..]));
        book.remember("e", Box::from(&b"e"[..]));
        assert_eq!(book.known("d"), Some(&b"d"[..]));
    }

    #[test]
    fn prefixes_leave_room_for_the_sequence() {
        assert!(Book::new(&"P".repeat(23), 1).is_ok());
        assert_eq!(Book::new(&"P".repeat(24), 1).err().unwrap().field, "prefix");
        assert!(Book::new("", 1).is_err());
    }
}
