//! paywire._wire: the hot paths of the gateway, exposed to Python.
//!
//! This file only registers; each concern lives in its own module, with its core in plain
//! Rust (tested by `cargo test`) and a thin `#[pyfunction]` wrapper beside it.

use pyo3::prelude::*;

mod answer;
mod answer_book;
mod convert;
mod currency;
mod dates;
mod error;
mod fields;
mod framing;
mod pacs008;
mod scan;
mod status;
mod summary;
mod tokenizer;
mod xml;

/// The pure-Rust cores behind the Python functions, for the fuzz targets in `rust/fuzz`; not an
/// interface of the extension, which Python reaches only through the module below.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::answer::{parse as parse_answer, Kind, Parsed, Status, REASON_MAX_BYTES};
    pub use crate::answer_book::Book as AnswerBook;
    pub use crate::dates::{IsoDate, UtcDateTime};
    pub use crate::error::{FieldError, FrameError, ReadError};
    pub use crate::framing::{Decoder, Framing};
    pub use crate::pacs008::{build as build_pacs008, Payment};
    pub use crate::status::{
        build_message_reject, build_status_report, MessageReject, StatusReport,
    };
    pub use crate::summary::{parse as parse_pacs008_summary, Summary};
}

#[pymodule]
fn _wire(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FramingError", py.get_type::<error::FramingError>())?;
    m.add("InvalidMessage", py.get_type::<error::InvalidMessage>())?;
    m.add("AnswerError", py.get_type::<error::AnswerError>())?;

    m.add_function(wrap_pyfunction!(framing::encode_frame, m)?)?;
    m.add_function(wrap_pyfunction!(framing::encode_frames, m)?)?;
    m.add_class::<framing::FrameDecoder>()?;

    m.add_function(wrap_pyfunction!(pacs008::build_pacs008, m)?)?;
    m.add_class::<answer::Answer>()?;
    m.add_function(wrap_pyfunction!(answer::parse_answer, m)?)?;
    m.add_class::<summary::Pacs008Summary>()?;
    m.add_function(wrap_pyfunction!(summary::parse_pacs008_summary, m)?)?;
    m.add_function(wrap_pyfunction!(status::build_pacs002, m)?)?;
    m.add_function(wrap_pyfunction!(status::build_admi002, m)?)?;
    m.add_class::<answer_book::AnswerBook>()?;
    m.add_function(wrap_pyfunction!(currency::minor_digits, m)?)?;
    Ok(())
}
