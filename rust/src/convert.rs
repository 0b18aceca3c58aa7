//! Conversions at the Python boundary: arguments into the core's plain values, results back.
//!
//! Wrong Python types stay `TypeError` (a programming mistake); values of the right type that
//! cannot go on the wire become `InvalidMessage` with the parameter name in `field`.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyDate, PyDateAccess, PyDateTime, PyString, PyTimeAccess, PyType, PyTzInfo, PyTzInfoAccess,
};

use crate::dates::{IsoDate, UtcDateTime};
use crate::error::FieldError;

/// The UTF-8 of a Python `str`; lone surrogates cannot be encoded and are refused.
pub fn text<'a>(
    field: &'static str,
    value: &'a Bound<'_, PyString>,
) -> Result<&'a str, FieldError> {
    value.to_str().map_err(|_| {
        FieldError::new(
            field,
            "contains a lone surrogate, which is not Unicode text",
        )
    })
}

/// Like [`text`] for an optional argument.
pub fn optional_text<'a>(
    field: &'static str,
    value: Option<&'a Bound<'_, PyString>>,
) -> Result<Option<&'a str>, FieldError> {
    value.map(|v| text(field, v)).transpose()
}

fn iso_date(value: &impl PyDateAccess) -> IsoDate {
    IsoDate {
        // datetime.MINYEAR..=MAXYEAR is 1..=9999, so the conversion cannot fail.
        year: u16::try_from(value.get_year()).unwrap_or_default(),
        month: value.get_month(),
        day: value.get_day(),
    }
}

/// An aware `datetime` as an instant in UTC. Naive datetimes are refused: guessing the zone
/// would put a wrong creation time on a payment message.
pub fn utc_datetime(field: &'static str, value: &Bound<'_, PyDateTime>) -> PyResult<UtcDateTime> {
    let py = value.py();
    let not_aware = || FieldError::new(field, "must be a timezone-aware datetime");
    let tzinfo = value.get_tzinfo().ok_or_else(not_aware)?;
    let utc = PyTzInfo::utc(py)?;
    let converted;
    let in_utc = if tzinfo.is(&*utc) {
        value
    } else {
        // A tzinfo may still answer "no offset": astimezone would then assume local time.
        if value.call_method0(intern!(py, "utcoffset"))?.is_none() {
            return Err(not_aware().into());
        }
        converted = value
            .call_method1(intern!(py, "astimezone"), (utc,))
            .map_err(|_| FieldError::new(field, "cannot be expressed in UTC"))?
            .cast_into::<PyDateTime>()?;
        &converted
    };
    Ok(UtcDateTime {
        date: iso_date(in_utc),
        hour: in_utc.get_hour(),
        minute: in_utc.get_minute(),
        second: in_utc.get_second(),
        microsecond: in_utc.get_microsecond(),
    })
}

/// A calendar `date`. A `datetime` (a subclass of `date`) is refused: its time and zone would
/// be dropped silently.
pub fn date(field: &'static str, value: &Bound<'_, PyDate>) -> Result<IsoDate, FieldError> {
    if value.is_instance_of::<PyDateTime>() {
        return Err(FieldError::new(field, "must be a date, not a datetime"));
    }
    Ok(iso_date(value))
}

/// The decimal text of an amount given as `str` or `decimal.Decimal`. Anything else (a float
/// above all) is refused: binary floating point cannot hold money exactly.
pub fn decimal_text<'py>(
    field: &'static str,
    value: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyString>> {
    static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(text.clone());
    }
    let decimal = DECIMAL.import(value.py(), "decimal", "Decimal")?;
    if value.is_instance(decimal)? {
        return value.str();
    }
    Err(FieldError::new(
        field,
        format!(
            "must be a str or decimal.Decimal, not {}",
            value.get_type().name()?
        ),
    )
    .into())
}

/// A Python `str` from Rust text, owned by the object that will expose it.
pub fn py_str(py: Python<'_>, value: &str) -> Py<PyString> {
    PyString::new(py, value).unbind()
}

pub fn py_optional(py: Python<'_>, value: Option<&str>) -> Option<Py<PyString>> {
    value.map(|v| py_str(py, v))
}

/// `Name(field='value', other=None)`, with Python's own quoting.
pub fn repr(
    py: Python<'_>,
    class: &str,
    fields: &[(&str, Option<&Py<PyString>>)],
) -> PyResult<String> {
    let mut out = format!("{class}(");
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push('=');
        match value {
            Some(v) => out.push_str(v.bind(py).repr()?.to_str()?),
            None => out.push_str("None"),
        }
    }
    out.push(')');
    Ok(out)
}

/// A constant Python `str`, created and interned on first use.
pub fn cached_str(py: Python<'_>, cell: &PyOnceLock<Py<PyString>>, value: &str) -> Py<PyString> {
    cell.get_or_init(py, || PyString::intern(py, value).unbind())
        .clone_ref(py)
}
