//! The three exception types Python sees, and the plain-Rust errors the core returns.
//!
//! Core functions never touch Python, so they can be tested with `cargo test` alone; their
//! errors become exceptions only at the boundary, through the `From` impls below.

use std::borrow::Cow;
use std::fmt;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::{create_exception, intern};

create_exception!(
    paywire._wire,
    FramingError,
    PyValueError,
    "A frame header that is oversize or malformed: the stream cannot be trusted any more."
);
create_exception!(
    paywire._wire,
    InvalidMessage,
    PyValueError,
    "A field that cannot be represented in a valid ISO 20022 message; `field` names it."
);
create_exception!(
    paywire._wire,
    AnswerError,
    PyValueError,
    "A payload that is neither a usable pacs.002.001.10 nor an admi.002.001.01."
);

/// A value that cannot go on the wire (or, for the receiver's summary, a field that cannot be
/// read back). `field` is the Python parameter or attribute name, so callers can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub reason: Cow<'static, str>,
}

impl FieldError {
    pub fn new(field: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl From<FieldError> for PyErr {
    fn from(err: FieldError) -> PyErr {
        Python::attach(|py| {
            let exc = InvalidMessage::new_err(err.to_string());
            // The attribute is what callers branch on; the message is for humans and logs.
            match exc.value(py).setattr(intern!(py, "field"), err.field) {
                Ok(()) => exc,
                Err(setattr_failed) => setattr_failed,
            }
        })
    }
}

/// Why a byte stream cannot be framed or de-framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A payload longer than the header form can announce.
    PayloadTooLarge { len: usize, max: usize },
    /// A header announcing more than the decoder accepts.
    Oversize { announced: usize, max: usize },
    /// An `ascii4` header holding something other than four decimal digits.
    BadAsciiHeader([u8; 4]),
    /// Input after an earlier error: the stream position is lost for good.
    Poisoned,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PayloadTooLarge { len, max } => {
                write!(
                    f,
                    "payload of {len} bytes exceeds the framing's maximum of {max}"
                )
            }
            Self::Oversize { announced, max } => {
                write!(
                    f,
                    "frame header announces {announced} bytes, more than the maximum of {max}"
                )
            }
            Self::BadAsciiHeader(header) => {
                write!(
                    f,
                    "ascii4 frame header {:?} is not four decimal digits",
                    header.escape_ascii().to_string()
                )
            }
            Self::Poisoned => {
                f.write_str("the decoder refused earlier input; the stream must be closed")
            }
        }
    }
}

impl From<FrameError> for PyErr {
    fn from(err: FrameError) -> PyErr {
        FramingError::new_err(err.to_string())
    }
}

/// A framing name that is not one of `u32be`, `u16be`, `ascii4`: a configuration mistake, so a
/// plain `ValueError` rather than a stream error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFraming(pub String);

impl fmt::Display for UnknownFraming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown framing {:?}: expected 'u32be', 'u16be' or 'ascii4'",
            self.0
        )
    }
}

impl From<UnknownFraming> for PyErr {
    fn from(err: UnknownFraming) -> PyErr {
        PyValueError::new_err(err.to_string())
    }
}

/// A document that cannot be read: not XML, unsafe, or not the message we expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub Cow<'static, str>);

impl ReadError {
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        Self(reason.into())
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest value from the network an error quotes: a schema's namespace is 46 bytes, names and
/// references of real documents are shorter.
pub const MAX_SHOWN: usize = 100;

/// A value read from the network, for an error message: quoted while it is at most `max_bytes`
/// long, else only its length, so a hostile peer cannot fill the log through our errors.
pub fn shown(value: &str, max_bytes: usize) -> String {
    if value.len() <= max_bytes {
        format!("{value:?}")
    } else {
        format!("a {}-byte value", value.len())
    }
}

/// A field of a document that was read but holds a value paywire cannot use.
impl From<FieldError> for ReadError {
    fn from(err: FieldError) -> Self {
        Self::new(err.to_string())
    }
}

impl From<ReadError> for PyErr {
    fn from(err: ReadError) -> PyErr {
        AnswerError::new_err(err.0.into_owned())
    }
}
