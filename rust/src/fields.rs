//! Checks for the ISO 20022 simple types paywire writes and reads back: texts, BIC, UETR, ids.
//!
//! Each check refuses what the schema (or SPEC §5) would refuse and names the field, so bad
//! input is caught at entry instead of producing a message the receiver rejects, and an answer
//! naming an id paywire could never have written is refused as malformed.

use std::borrow::Cow;

use crate::error::{shown, FieldError};
use crate::scan::{is_printable_ascii, word_at};
use crate::xml::Token;

/// `MaxNText`: 1 to `max_chars` characters (code points, as XSD counts them), printable.
///
/// Control characters (C0, DEL, C1) are refused outright: CR/LF/TAB would not survive the
/// receiver's XML whitespace handling unchanged, and the rest are not text. U+FFFE/U+FFFF are
/// not XML characters at all.
pub fn text<'a>(
    field: &'static str,
    value: &'a str,
    max_chars: usize,
) -> Result<&'a str, FieldError> {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    let mut chars = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        let end = (at + 8).min(bytes.len());
        // Printable ASCII, by far the most common, is one character a byte and never refused.
        // Space padding lets short values take this path too; bytes re-read before `at` were
        // counted already and at worst send the word through the byte loop from `at`.
        if is_printable_ascii(word_at(bytes, at, b' ')) {
            chars += end - at;
            at = end;
            continue;
        }
        for i in at..end {
            let byte = bytes[i];
            // UTF-8 continuation bytes do not start a character.
            chars += usize::from(byte & 0xC0 != 0x80);
            let refused = match byte {
                0x00..=0x1F | 0x7F => true,
                // U+0080..U+009F encode as C2 80..C2 9F.
                0xC2 => matches!(bytes.get(i + 1), Some(0x80..=0x9F)),
                // U+FFFE and U+FFFF encode as EF BF BE and EF BF BF.
                0xEF => {
                    bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF))
                }
                _ => false,
            };
            if refused {
                let c = value[i..].chars().next().unwrap_or_default();
                return Err(FieldError::new(
                    field,
                    format!("contains the control character U+{:04X}", u32::from(c)),
                ));
            }
        }
        at = end;
    }
    if chars > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters, got {chars}"),
        ));
    }
    Ok(value)
}

/// `BICFIDec2014Identifier`: `[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?`.
pub fn bic<'a>(field: &'static str, value: &'a str) -> Result<Token<'a>, FieldError> {
    let b = value.as_bytes();
    let upper_alnum = |c: &u8| c.is_ascii_uppercase() || c.is_ascii_digit();
    let valid = matches!(b.len(), 8 | 11)
        && b[..4].iter().all(upper_alnum)
        && b[4..6].iter().all(u8::is_ascii_uppercase)
        && b[6..].iter().all(upper_alnum);
    if !valid {
        return Err(FieldError::new(
            field,
            format!("{value:?} is not a BIC (8 or 11 upper-case letters and digits)"),
        ));
    }
    Ok(Token::new(value))
}

/// `UUIDv4Identifier`'s shape, `xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`, with the hex digits
/// `hex` allows.
fn is_uuid_v4(b: &[u8], hex: impl Fn(u8) -> bool) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            14 => c == b'4',
            19 => hex(c) && matches!(c.to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b'),
            _ => hex(c),
        })
}

/// `UUIDv4Identifier`: lower-case `xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`.
pub fn uetr<'a>(field: &'static str, value: &'a str) -> Result<Token<'a>, FieldError> {
    if !is_uuid_v4(value.as_bytes(), |c| {
        c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
    }) {
        return Err(FieldError::new(
            field,
            format!("{value:?} is not a lower-case version-4 UUID"),
        ));
    }
    Ok(Token::new(value))
}

/// A UETR read back from the receiver, in the one form paywire writes and compares it in:
/// lower case. Hex digits are case-insensitive (RFC 9562), so an upper-case UETR names the same
/// payment and is lowered, the only case that copies; anything else is refused, its value
/// echoed only while short, since it comes from the network.
pub fn read_uetr<'a>(field: &'static str, value: Cow<'a, str>) -> Result<Cow<'a, str>, FieldError> {
    if !is_uuid_v4(value.as_bytes(), |c| c.is_ascii_hexdigit()) {
        return Err(FieldError::new(
            field,
            format!("{} is not a version-4 UUID", shown(&value, 36)),
        ));
    }
    if value.bytes().any(|c| c.is_ascii_uppercase()) {
        return Ok(Cow::Owned(value.to_ascii_lowercase()));
    }
    Ok(value)
}

/// How an account is identified in `CashAccount38/Id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account<'a> {
    /// Matches `IBAN2007Identifier`; the check sum is the domain layer's business.
    Iban(Token<'a>),
    /// Anything else: `Othr/Id`, a `Max34Text`.
    Other(&'a str),
}

pub fn account<'a>(field: &'static str, value: &'a str) -> Result<Account<'a>, FieldError> {
    let b = value.as_bytes();
    let is_iban = (5..=34).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4..].iter().all(u8::is_ascii_alphanumeric);
    if is_iban {
        Ok(Account::Iban(Token::new(value)))
    } else {
        text(field, value, 34).map(Account::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_counts_characters_not_bytes() {
        assert!(text("f", &"é".repeat(35), 35).is_ok());
        assert!(text("f", &"😀".repeat(35), 35).is_ok());
        let err = text("f", &"é".repeat(36), 35).unwrap_err();
        assert_eq!(err.field, "f");
        assert!(err.reason.contains("got 36"));
    }

    #[test]
    fn text_refuses_empty_and_control_characters() {
        assert!(text("f", "", 35).is_err());
        for bad in [
            "a\nb", "a\tb", "\r", "a\u{0}", "\u{7f}", "x\u{85}", "\u{9f}", "\u{FFFE}", "\u{FFFF}",
        ] {
            assert!(text("f", bad, 35).is_err(), "{bad:?}");
        }
        for good in ["a&b<c>\"'", "Ünïcödé", "\u{A0}", "\u{FFFD}", "\u{2028}"] {
            assert!(text("f", good, 35).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn bic_follows_the_schema_pattern() {
        for good in ["COBADEFF", "COBADEFFXXX", "1234DE12", "NWBKGB2L"] {
            assert!(bic("b", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "cobadeff",
            "COBA1EFF",
            "COBADEFFX",
            "COBADEFFXXXX",
            "COBADEF",
        ] {
            assert!(bic("b", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uetr_must_be_lower_case_v4() {
        assert!(uetr("u", "8a562c67-ca16-48ba-b074-65581be6f011").is_ok());
        for bad in [
            "8A562C67-CA16-48BA-B074-65581BE6F011",
            "8a562c67-ca16-38ba-b074-65581be6f011",
            "8a562c67-ca16-48ba-c074-65581be6f011",
            "8a562c67ca1648bab07465581be6f011",
            "8a562c67-ca16-48ba-b074-65581be6f01",
        ] {
            assert!(uetr("u", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn account_prefers_iban_then_other_id() {
        assert_eq!(
            account("a", "DE89370400440532013000"),
            Ok(Account::Iban(Token::new("DE89370400440532013000")))
        );
        assert_eq!(account("a", "12345678"), Ok(Account::Other("12345678")));
        assert_eq!(account("a", "de89 3704"), Ok(Account::Other("de89 3704")));
        assert!(account("a", &"1".repeat(35)).is_err());
        assert!(account("a", "").is_err());
    }
}
