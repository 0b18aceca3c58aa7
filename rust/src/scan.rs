//! Eight bytes at a time: the word tests behind escaping and text checks.
//!
//! Most text paywire writes is short, clean ASCII; testing a whole `u64` per step skips it
//! without a branch per byte. These are the classic SWAR bit tricks, in safe code.

/// `byte` in all eight lanes of a word.
pub const fn repeat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// A word holding `bytes[at..min(at + 8, len)]`: the eight bytes from `at` when there are
/// eight; else the last eight, re-reading some bytes before `at`; else all of `bytes`, padded
/// with `pad`. Callers must accept the re-read bytes, which they have already looked at.
pub fn word_at(bytes: &[u8], at: usize, pad: u8) -> u64 {
    if let Some(chunk) = bytes[at..].first_chunk::<8>() {
        return u64::from_le_bytes(*chunk);
    }
    if let Some(chunk) = bytes.last_chunk::<8>() {
        return u64::from_le_bytes(*chunk);
    }
    let mut padded = [pad; 8];
    padded[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(padded)
}

/// Whether any lane is zero.
pub fn has_zero_byte(word: u64) -> bool {
    word.wrapping_sub(repeat(0x01)) & !word & repeat(0x80) != 0
}

/// Whether every lane is printable ASCII, 0x20..=0x7E.
pub fn is_printable_ascii(word: u64) -> bool {
    let below_space = word.wrapping_sub(repeat(0x20)) & !word & repeat(0x80) != 0;
    let high = word & repeat(0x80) != 0;
    !(below_space || high || has_zero_byte(word ^ repeat(0x7F)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(bytes: [u8; 8]) -> u64 {
        u64::from_le_bytes(bytes)
    }

    #[test]
    fn printable_ascii_is_exactly_space_to_tilde() {
        for byte in 0..=255u8 {
            for lane in 0..8 {
                let mut bytes = [b'a'; 8];
                bytes[lane] = byte;
                assert_eq!(
                    is_printable_ascii(word(bytes)),
                    (0x20..=0x7E).contains(&byte),
                    "{byte:#x} in lane {lane}"
                );
            }
        }
    }

    #[test]
    fn zero_lanes_are_found_in_any_position() {
        assert!(!has_zero_byte(word(*b"abcdefgh")));
        for lane in 0..8 {
            let mut bytes = [0xFF; 8];
            bytes[lane] = 0;
            assert!(has_zero_byte(word(bytes)));
        }
    }

    #[test]
    fn tails_reread_or_pad() {
        assert_eq!(word_at(b"abc", 0, b' '), word(*b"abc     "));
        assert_eq!(word_at(b"abc", 2, 0), word(*b"abc\0\0\0\0\0"));
        assert_eq!(word_at(b"abcdefghij", 0, 0), word(*b"abcdefgh"));
        assert_eq!(word_at(b"abcdefghij", 8, 0), word(*b"cdefghij"));
    }
}
