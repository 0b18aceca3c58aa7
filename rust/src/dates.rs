//! `ISODate` and `ISODateTime` rendering, into stack buffers.
//!
//! Times are always rendered in UTC with a `Z`, so a message never depends on the sender's
//! zone; the fraction is trimmed rather than rounded, so no instant is ever moved.

use crate::xml::Token;

/// A calendar date, as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsoDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// An instant in UTC, as `YYYY-MM-DDThh:mm:ss[.f{1,6}]Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub date: IsoDate,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub microsecond: u32,
}

/// Room for the longest rendering: `2026-11-26T16:30:00.123456Z`.
pub type Rendered = [u8; 27];

fn put(out: &mut [u8], value: u32) {
    let mut rest = value;
    for byte in out.iter_mut().rev() {
        *byte = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
}

impl IsoDate {
    fn write(&self, out: &mut [u8]) {
        put(&mut out[0..4], u32::from(self.year));
        out[4] = b'-';
        put(&mut out[5..7], u32::from(self.month));
        out[7] = b'-';
        put(&mut out[8..10], u32::from(self.day));
    }

    pub fn render<'a>(&self, out: &'a mut Rendered) -> Token<'a> {
        self.write(out);
        ascii(&out[..10])
    }
}

impl UtcDateTime {
    pub fn render<'a>(&self, out: &'a mut Rendered) -> Token<'a> {
        self.date.write(out);
        out[10] = b'T';
        put(&mut out[11..13], u32::from(self.hour));
        out[13] = b':';
        put(&mut out[14..16], u32::from(self.minute));
        out[16] = b':';
        put(&mut out[17..19], u32::from(self.second));
        let mut len = 19;
        if self.microsecond > 0 {
            out[19] = b'.';
            put(&mut out[20..26], self.microsecond);
            len = 26;
            while out[len - 1] == b'0' {
                len -= 1;
            }
        }
        out[len] = b'Z';
        ascii(&out[..=len])
    }
}

fn ascii(bytes: &[u8]) -> Token<'_> {
    // Only ASCII digits and separators are written above.
    Token::new(std::str::from_utf8(bytes).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: IsoDate = IsoDate {
        year: 2026,
        month: 11,
        day: 6,
    };

    fn at(microsecond: u32) -> String {
        let instant = UtcDateTime {
            date: DAY,
            hour: 6,
            minute: 5,
            second: 4,
            microsecond,
        };
        instant.render(&mut [0; 27]).as_str().to_owned()
    }

    #[test]
    fn dates_are_zero_padded() {
        assert_eq!(DAY.render(&mut [0; 27]).as_str(), "2026-11-06");
        let early = IsoDate {
            year: 1,
            month: 1,
            day: 1,
        };
        assert_eq!(early.render(&mut [0; 27]).as_str(), "0001-01-01");
    }

    #[test]
    fn fractions_are_trimmed_not_rounded() {
        assert_eq!(at(0), "2026-11-06T06:05:04Z");
        assert_eq!(at(123_000), "2026-11-06T06:05:04.123Z");
        assert_eq!(at(500_000), "2026-11-06T06:05:04.5Z");
        assert_eq!(at(1), "2026-11-06T06:05:04.000001Z");
        assert_eq!(at(999_999), "2026-11-06T06:05:04.999999Z");
    }
}
