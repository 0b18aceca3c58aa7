//! paywire._wire: the hot paths of the gateway, exposed to Python.
use pyo3::prelude::*;

#[pymodule]
fn _wire(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
