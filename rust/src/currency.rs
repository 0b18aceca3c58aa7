//! ISO 4217 minor units, and amounts rendered with exactly that many fraction digits.
//!
//! This is the one currency table in paywire: the Python domain layer asks `minor_digits`
//! rather than keeping its own copy, so entry validation and the wire can never disagree.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::FieldError;
use crate::xml::Token;

/// ISO 4217 List One (currencies and funds), as published 2026-01-01, sorted by code.
///
/// Withdrawn by then and so absent: ANG (now XCG), BGN (Bulgaria joined the euro), CUC, HRK,
/// SLL (now SLE), ZWL (now ZWG). Codes whose minor unit is "N.A." (precious metals, SDR,
/// bond-market units, XSU, XUA, XTS, XXX) are absent too: no amount can be written in them
/// "with exactly the currency's minor digits".
const MINOR_DIGITS: [(&str, u8); 165] = [
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAD", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// Position of a three-letter code in a table of all 26³ codes.
const fn slot(code: &[u8]) -> usize {
    (code[0] - b'A') as usize * 676 + (code[1] - b'A') as usize * 26 + (code[2] - b'A') as usize
}

const UNKNOWN: u8 = u8::MAX;

/// `MINOR_DIGITS` spread over every possible code, built at compile time: a lookup is one
/// index, with no search and no string comparison.
static BY_CODE: [u8; 26 * 26 * 26] = {
    let mut table = [UNKNOWN; 26 * 26 * 26];
    let mut i = 0;
    while i < MINOR_DIGITS.len() {
        table[slot(MINOR_DIGITS[i].0.as_bytes())] = MINOR_DIGITS[i].1;
        i += 1;
    }
    table
};

/// The number of fraction digits ISO 4217 gives `code`, or `None` for an unknown code.
pub fn minor_digits_of(code: &str) -> Option<u8> {
    let code = code.as_bytes();
    if code.len() != 3 || !code.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    Some(BY_CODE[slot(code)]).filter(|digits| *digits != UNKNOWN)
}

/// `ActiveCurrencyAndAmount` allows 18 digits in all.
const MAX_TOTAL_DIGITS: usize = 18;
/// Longer input cannot be a sensible amount; refusing it bounds the work below.
const MAX_INPUT_LEN: usize = 64;

/// An amount rendered for the wire: no sign, no exponent, exactly the minor digits.
pub struct Amount {
    buf: [u8; MAX_TOTAL_DIGITS + 2],
    len: usize,
}

impl Amount {
    pub fn as_token(&self) -> Token<'_> {
        // Only ASCII digits and '.' are ever written into `buf`.
        Token::new(std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default())
    }
}

/// Renders a positive decimal string (plain or with an exponent, as `str(Decimal)` may give)
/// with exactly `minor` fraction digits. Extra fraction digits are accepted only when they
/// are zeros: rounding money silently is never right.
pub fn render_amount(
    field: &'static str,
    value: &str,
    currency: &str,
    minor: u8,
) -> Result<Amount, FieldError> {
    let invalid = || FieldError::new(field, format!("{value:?} is not a decimal amount"));
    if value.len() > MAX_INPUT_LEN {
        return Err(invalid());
    }
    if value.starts_with('-') {
        return Err(FieldError::new(field, "must be greater than zero"));
    }
    let (mantissa, exponent) = match value.find(['e', 'E']) {
        Some(at) => {
            let exp = &value[at + 1..];
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 4
            {
                return Err(invalid());
            }
            let exp: i32 = exp.parse().map_err(|_| invalid())?;
            (&value[..at], exp)
        }
        None => (value, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
        || (mantissa.contains('.') && frac_part.is_empty())
    {
        return Err(invalid());
    }

    // value = digits × 10^scale; we want digits × 10^(scale + minor) as an integer.
    let digits = int_part
        .bytes()
        .chain(frac_part.bytes())
        .skip_while(|b| *b == b'0');
    let mut units = [0u8; MAX_INPUT_LEN];
    let mut count = 0usize;
    for d in digits {
        units[count] = d;
        count += 1;
    }
    let shift = exponent - frac_part.len() as i32 + i32::from(minor);
    if shift < 0 {
        let dropped = shift.unsigned_abs() as usize;
        let kept = count.saturating_sub(dropped);
        if units[kept..count].iter().any(|d| *d != b'0') {
            return Err(FieldError::new(
                field,
                format!("{value:?} has more than {minor} decimal places for {currency}"),
            ));
        }
        count = kept;
    }
    if count == 0 {
        return Err(FieldError::new(field, "must be greater than zero"));
    }
    let zeros = shift.max(0) as usize;
    if count + zeros > MAX_TOTAL_DIGITS {
        return Err(FieldError::new(
            field,
            format!("{value:?} has more than {MAX_TOTAL_DIGITS} digits"),
        ));
    }
    units[count..count + zeros].fill(b'0');
    count += zeros;

    let minor = usize::from(minor);
    let int_digits = count.saturating_sub(minor);
    let mut amount = Amount {
        buf: [b'0'; MAX_TOTAL_DIGITS + 2],
        len: 0,
    };
    // Integer part, a single "0" when the amount is below one unit; `buf` starts as zeros.
    let mut at = int_digits.max(1);
    amount.buf[at - int_digits..at].copy_from_slice(&units[..int_digits]);
    if minor > 0 {
        amount.buf[at] = b'.';
        at += 1 + minor;
        amount.buf[at - (count - int_digits)..at].copy_from_slice(&units[int_digits..count]);
    }
    amount.len = at;
    Ok(amount)
}

/// The number of fraction digits ISO 4217 gives a currency; `ValueError` for unknown codes.
#[pyfunction]
pub fn minor_digits(currency: &str) -> PyResult<u8> {
    minor_digits_of(currency).ok_or_else(|| {
        PyValueError::new_err(format!("{currency:?} is not an ISO 4217 currency code"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(value: &str, currency: &str) -> Result<String, FieldError> {
        let minor = minor_digits_of(currency).unwrap();
        render_amount("amount", value, currency, minor).map(|a| a.as_token().as_str().to_owned())
    }

    #[test]
    fn table_is_sorted_unique_and_well_formed() {
        for pair in MINOR_DIGITS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{:?} before {:?}", pair[0], pair[1]);
        }
        for (code, digits) in MINOR_DIGITS {
            assert!(
                code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{code}"
            );
            assert!(digits <= 4, "{code}");
        }
    }

    #[test]
    fn known_minor_units() {
        for (code, digits) in [
            ("EUR", 2),
            ("JPY", 0),
            ("BHD", 3),
            ("CLF", 4),
            ("XCG", 2),
            ("ZWG", 2),
        ] {
            assert_eq!(minor_digits_of(code), Some(digits), "{code}");
        }
        for gone in ["ANG", "BGN", "HRK", "XAU", "XXX", "eur", "", "EURO"] {
            assert_eq!(minor_digits_of(gone), None, "{gone}");
        }
    }

    #[test]
    fn amounts_get_exactly_the_minor_digits() {
        let cases = [
            ("12.5", "EUR", "12.50"),
            ("12", "EUR", "12.00"),
            ("12.500", "EUR", "12.50"),
            ("0.01", "EUR", "0.01"),
            ("000123.40", "EUR", "123.40"),
            ("1250", "JPY", "1250"),
            ("1250.000", "JPY", "1250"),
            ("1.5", "BHD", "1.500"),
            ("0.001", "BHD", "0.001"),
            ("1.25E+3", "EUR", "1250.00"),
            ("125E-2", "EUR", "1.25"),
            ("1E+2", "JPY", "100"),
            ("9999999999999999.99", "EUR", "9999999999999999.99"),
        ];
        for (value, currency, expected) in cases {
            assert_eq!(
                render(value, currency).unwrap(),
                expected,
                "{value} {currency}"
            );
        }
    }

    #[test]
    fn unrepresentable_amounts_are_refused() {
        let cases = [
            ("12.345", "EUR", "decimal places"),
            ("0.5", "JPY", "decimal places"),
            ("1E-3", "EUR", "decimal places"),
            ("0", "EUR", "greater than zero"),
            ("0.00", "EUR", "greater than zero"),
            ("-1", "EUR", "greater than zero"),
            ("99999999999999999.99", "EUR", "18 digits"),
            ("1E+17", "EUR", "18 digits"),
            ("1E+9999", "EUR", "18 digits"),
            ("", "EUR", "not a decimal"),
            ("1.", "EUR", "not a decimal"),
            (".5", "EUR", "not a decimal"),
            ("1,5", "EUR", "not a decimal"),
            (" 1", "EUR", "not a decimal"),
            ("+1", "EUR", "not a decimal"),
            ("NaN", "EUR", "not a decimal"),
            ("Infinity", "EUR", "not a decimal"),
            ("1E", "EUR", "not a decimal"),
            ("1E+99999", "EUR", "not a decimal"),
        ];
        for (value, currency, expected) in cases {
            let err = render(value, currency).unwrap_err();
            assert_eq!(err.field, "amount");
            assert!(err.reason.contains(expected), "{value}: {err}");
        }
    }
}
