//! XML tokens for the guarded reader: start and end tags, text, CDATA and references.
//!
//! One pass over a document already known to be UTF-8, each token borrowed from it, nothing
//! allocated. It enforces what makes a document well-formed (matching tags, names, attribute
//! syntax, references, comments, processing instructions, the declaration, the characters XML
//! allows) and refuses DOCTYPE and every other `<!` construct. Where elements and text may go
//! in the document as a whole (one root, nothing after it) is the reader's part, in xml.rs.
//!
//! It is written for the closed set of documents paywire reads rather than for XML at large,
//! to be several times faster than a general reader: the input is `&str`, so no piece is
//! validated as UTF-8 again, and it is cut only at ASCII delimiters, so a cut never splits a
//! character. `xml/differential.rs` checks the reader against quick-xml on many thousands of
//! mutated documents.

use std::borrow::Cow;

use crate::error::{shown, ReadError, MAX_SHOWN};
use crate::scan::repeat;

/// Deeper nesting is refused: the deepest path paywire reads is 7 levels below the root.
pub const MAX_DEPTH: usize = 32;
/// Open elements at once: the root and `MAX_DEPTH` levels below it.
const MAX_OPEN: usize = MAX_DEPTH + 1;
/// Attributes on one element; ISO 20022 elements carry at most a namespace and a currency.
pub const MAX_ATTRIBUTES: usize = 16;

/// What one byte can be, as bit flags in `CLASS`.
const NAME: u8 = 1 << 0;
const NAME_START: u8 = 1 << 1;
const SPACE: u8 = 1 << 2;
/// Ends a run of plain text: markup, a reference, a carriage return (line ends are normalized),
/// `>` (which must not end `]]>`), a control character or the lead byte of U+FFFE/U+FFFF.
const TEXT_STOP: u8 = 1 << 3;
/// Ends a run of plain attribute value: as in text, plus the quotes; `>` and `\r` are plain.
const VALUE_STOP: u8 = 1 << 4;

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut class = 0;
        // Non-ASCII bytes are let into a name here, so a name always ends at an ASCII byte;
        // `is_xml_name` then checks the characters they make.
        if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 {
            class |= NAME_START | NAME;
        }
        // `:` is not among them: a name is split at its colon, into prefix and local part.
        if b.is_ascii_digit() || matches!(b, b'-' | b'.') {
            class |= NAME;
        }
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            class |= SPACE;
        }
        let forbidden = b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r');
        if forbidden || matches!(b, b'<' | b'&' | 0xEF) {
            class |= TEXT_STOP | VALUE_STOP;
        }
        if matches!(b, b'\r' | b'>') {
            class |= TEXT_STOP;
        }
        if matches!(b, b'"' | b'\'') {
            class |= VALUE_STOP;
        }
        table[i] = class;
        i += 1;
    }
    table
}

static CLASS: [u8; 256] = classes();

#[inline(always)]
fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

pub fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The XML 1.0 `Char` production: anything else makes a document not well-formed.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether every non-ASCII character of a name is one XML allows there (XML 1.0, fifth edition,
/// productions 4 and 4a): the byte table lets any non-ASCII byte into a name, to keep the scan
/// of the ASCII names of real documents a table lookup; the rare other names are checked here.
/// `name` is `local` or `prefix:local`, each part checked for its first character.
fn is_xml_name(name: &str) -> bool {
    fn starts(c: char) -> bool {
        c.is_ascii()
            || matches!(c,
                '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
                | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
                | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
                | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
    }
    fn continues(c: char) -> bool {
        starts(c) || matches!(c, '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
    }
    name.split(':').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(starts) && chars.all(continues)
    })
}

fn forbidden_character() -> ReadError {
    ReadError::new("text holds a character XML does not allow")
}

/// Whether the byte at `at`, a control character or 0xEF, starts a character XML forbids. In
/// valid UTF-8 those are the C0 controls other than tab, line feed and carriage return, and
/// U+FFFE/U+FFFF (EF BF BE/BF).
#[inline]
fn is_forbidden_at(bytes: &[u8], at: usize) -> bool {
    match bytes.get(at) {
        Some(0xEF) => {
            bytes.get(at + 1) == Some(&0xBF) && matches!(bytes.get(at + 2), Some(0xBE | 0xBF))
        }
        Some(&b) => b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'),
        None => false,
    }
}

/// Refuses text with a character XML does not allow (comments, PIs and CDATA, checked whole).
pub fn check_chars(text: &str) -> Result<(), ReadError> {
    let bytes = text.as_bytes();
    for (at, &b) in bytes.iter().enumerate() {
        if (b < 0x20 || b == 0xEF) && is_forbidden_at(bytes, at) {
            return Err(forbidden_character());
        }
    }
    Ok(())
}

/// The character a reference's body (between `&` and `;`) stands for: one of the five
/// predefined entities or a character reference; there is no DTD to declare any other.
pub fn resolve_reference(reference: &str) -> Result<char, ReadError> {
    if let Some(number) = reference.strip_prefix('#') {
        let code = match number.strip_prefix('x') {
            Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).ok()
            }
            None if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                number.parse().ok()
            }
            _ => None,
        };
        return match code.and_then(char::from_u32) {
            Some(c) if is_xml_char(c) => Ok(c),
            _ => Err(ReadError::new(format!(
                "character reference {} is not an XML character",
                shown(&format!("&{reference};"), MAX_SHOWN)
            ))),
        };
    }
    match reference {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(ReadError::new(format!(
            "undeclared entity {}",
            shown(&format!("&{other};"), MAX_SHOWN)
        ))),
    }
}

/// `a == b` for the short names of a document, without a call to `memcmp`: eight bytes at a
/// time, the last word overlapping, and bytes below eight.
#[inline(always)]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .and_then(|w| w.first_chunk::<8>())
            .copied()
    };
    let len = a.len();
    if len < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let mut at = 0;
    while at + 8 < len {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    word(a, len - 8) == word(b, len - 8)
}

fn malformed(what: &str, at: usize) -> ReadError {
    ReadError::new(format!("not well-formed XML: {what} at byte {at}"))
}

/// A piece of character data, as written: between markup, or a CDATA section's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text<'i> {
    /// As written: line ends not normalized, no references (they are events of their own).
    pub raw: &'i str,
    /// Whether it holds a carriage return, so its line ends need normalizing.
    pub cr: bool,
}

impl<'i> Text<'i> {
    /// The text with its line ends normalized to `\n`, as XML 1.0 requires.
    pub fn content(self) -> Cow<'i, str> {
        if self.cr {
            Cow::Owned(self.raw.replace("\r\n", "\n").replace('\r', "\n"))
        } else {
            Cow::Borrowed(self.raw)
        }
    }

    /// The text with XML whitespace trimmed at both ends, then line ends normalized (which
    /// gives the same as the other way round, and allocates only if a `\r` is left inside).
    pub fn trimmed_content(self) -> Cow<'i, str> {
        let trimmed = self.raw.trim_matches(is_xml_space);
        Text {
            raw: trimmed,
            cr: self.cr && trimmed.contains('\r'),
        }
        .content()
    }
}

/// The attributes of a start tag, already checked, as written: `name="value"` pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attributes<'i>(&'i str);

impl<'i> Attributes<'i> {
    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    /// Each attribute's qualified name and raw value (references not resolved), in order.
    pub fn iter(self) -> impl Iterator<Item = (&'i str, &'i str)> {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            // The tokenizer has checked the syntax: `name S? = S? quote value quote S?`, where
            // a name holds no `=` and a value no quote of the kind around it.
            let bytes = rest.as_bytes();
            let equals = bytes.iter().position(|&b| b == b'=')?;
            let name_end = bytes
                .get(..equals)?
                .iter()
                .rposition(|&b| class(b) & SPACE == 0)?;
            let quote_at = equals + 1 + spaces(bytes.get(equals + 1..)?);
            let quote = *bytes.get(quote_at)?;
            let value_end = scan(bytes, quote_at + 1, value_stops, |b| b == quote);
            let item = (rest.get(..=name_end)?, rest.get(quote_at + 1..value_end)?);
            let next = value_end + 1 + spaces(bytes.get(value_end + 1..)?);
            rest = rest.get(next..)?;
            Some(item)
        })
    }
}

const HIGH: u64 = repeat(0x80);

/// Lanes of `x` (seven-bit lanes) that are at least `n` (at most 0x80), as their high bit. The
/// sum stays within each lane, so every lane is exact.
#[inline(always)]
fn at_least(x: u64, n: u8) -> u64 {
    x.wrapping_add(repeat(0x80 - n)) & HIGH
}

#[inline(always)]
fn within(x: u64, lo: u8, hi: u8) -> u64 {
    at_least(x, lo) & !at_least(x, hi + 1)
}

/// The lanes of eight bytes that end a name: exactly the bytes outside `NAME`.
#[inline(always)]
fn name_stops(word: u64) -> u64 {
    let high = word & HIGH;
    let x = word & !HIGH;
    let name = high
        | within(x | repeat(0x20), b'a', b'z')
        | within(x, b'0', b'9')
        | within(x, b'-', b'.')
        | within(x, b'_', b'_');
    !name & HIGH
}

/// The lanes of eight bytes that may end a run of text: every `TEXT_STOP` byte, and also tab,
/// line feed and non-ASCII bytes, which the caller passes over after a look at the table.
#[inline(always)]
fn text_stops(word: u64) -> u64 {
    let high = word & HIGH;
    let x = word & !HIGH;
    high | (!at_least(x, 0x20) & HIGH)
        | within(x, b'<', b'<')
        | within(x, b'>', b'>')
        | within(x, b'&', b'&')
}

/// The lanes of eight bytes that may end a run of attribute value: every `VALUE_STOP` byte,
/// and also tab, line feed, carriage return and non-ASCII bytes.
#[inline(always)]
fn value_stops(word: u64) -> u64 {
    let high = word & HIGH;
    let x = word & !HIGH;
    high | (!at_least(x, 0x20) & HIGH)
        | within(x, b'<', b'<')
        | within(x, b'"', b'"')
        | within(x, b'&', b'\'')
}

/// The first byte from `at` for which `ends` holds, or the end of `bytes`. Eight bytes at a
/// time: `word_stops` flags the lanes that may end the run (at least those that do), and the
/// first flagged lane is found by counting zero bits, not by a branch per byte. It executes
/// more instructions than a byte loop on short runs, but its branches are predictable: the
/// 1,084-byte pacs.008 parses about 10 % faster.
#[inline(always)]
fn scan(
    bytes: &[u8],
    mut at: usize,
    word_stops: impl Fn(u64) -> u64,
    ends: impl Fn(u8) -> bool,
) -> usize {
    while let Some(word) = bytes.get(at..).and_then(|rest| rest.first_chunk::<8>()) {
        let stops = word_stops(u64::from_le_bytes(*word));
        if stops == 0 {
            at += 8;
            continue;
        }
        let lane = (stops.trailing_zeros() / 8) as usize;
        at += lane;
        if word.get(lane).is_some_and(|&b| ends(b)) {
            return at;
        }
        at += 1;
    }
    while at < bytes.len() && !ends(bytes[at]) {
        at += 1;
    }
    at
}

/// Where the run of name characters from `at` ends.
#[inline(always)]
fn name_end(bytes: &[u8], at: usize) -> usize {
    scan(bytes, at, name_stops, |b| class(b) & NAME == 0)
}

/// The first byte from `at` that ends a run of text, or the end.
#[inline(always)]
fn text_end(bytes: &[u8], at: usize) -> usize {
    scan(bytes, at, text_stops, |b| class(b) & TEXT_STOP != 0)
}

/// How many XML whitespace bytes `bytes` starts with.
#[inline(always)]
fn spaces(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| class(b) & SPACE == 0)
        .unwrap_or(bytes.len())
}

/// An element's start; `<a/>` comes as a `Start` directly followed by an `End`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start<'i> {
    /// The prefix before `:`, or empty.
    pub prefix: &'i str,
    pub local: &'i str,
    pub attributes: Attributes<'i>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'i> {
    Start(Start<'i>),
    /// The end of the innermost open element; its name has been checked against the start.
    End,
    Text(Text<'i>),
    CData(Text<'i>),
    /// A character or predefined entity reference, resolved.
    Reference(char),
    /// The end of the input, outside markup; elements may still be open, which the caller
    /// tells apart by counting starts and ends.
    Eof,
}

/// Turns a document into `Event`s; comments, processing instructions and the XML declaration
/// are checked and passed over.
pub struct Tokenizer<'i> {
    input: &'i str,
    pos: usize,
    /// Where an XML declaration may stand: the start, after a byte order mark if there is one.
    declaration_at: usize,
    /// Qualified names of the open elements, outermost first.
    open: [&'i str; MAX_OPEN],
    level: usize,
    /// The last start tag was `<a/>`: its `End` comes next.
    empty_pending: bool,
}

impl<'i> Tokenizer<'i> {
    pub fn new(input: &'i str) -> Self {
        let declaration_at = if input.starts_with('\u{FEFF}') { 3 } else { 0 };
        Self {
            input,
            pos: declaration_at,
            declaration_at,
            open: [""; MAX_OPEN],
            level: 0,
            empty_pending: false,
        }
    }

    #[inline(always)]
    fn byte(&self, at: usize) -> Option<u8> {
        self.input.as_bytes().get(at).copied()
    }

    /// `input[from..to]`; both ends are at ASCII bytes (or the end), so on char boundaries.
    #[inline(always)]
    fn slice(&self, from: usize, to: usize) -> Result<&'i str, ReadError> {
        self.input
            .get(from..to)
            .ok_or_else(|| ReadError::new("internal error: a token outside the input"))
    }

    #[inline(always)]
    fn skip_spaces(&self, at: usize) -> usize {
        at + spaces(self.input.as_bytes().get(at..).unwrap_or_default())
    }

    /// The next event.
    #[inline(always)]
    pub fn next_event(&mut self) -> Result<Event<'i>, ReadError> {
        if self.empty_pending {
            self.empty_pending = false;
            self.level -= 1;
            return Ok(Event::End);
        }
        loop {
            let Some(b) = self.byte(self.pos) else {
                return Ok(Event::Eof);
            };
            if b != b'<' {
                return if b == b'&' {
                    let (c, end) = self.reference(self.pos)?;
                    self.pos = end;
                    Ok(Event::Reference(c))
                } else {
                    self.text()
                };
            }
            match self.byte(self.pos + 1) {
                Some(b'/') => return self.end_tag(),
                Some(b'!') => {
                    if let Some(event) = self.bang()? {
                        return Ok(event);
                    }
                }
                Some(b'?') => self.processing_instruction()?,
                _ => return self.start_tag(),
            }
        }
    }

    /// Text up to the next `<` or `&`, or the end of the input.
    #[inline(always)]
    fn text(&mut self) -> Result<Event<'i>, ReadError> {
        let bytes = self.input.as_bytes();
        let start = self.pos;
        let mut at = start;
        let mut cr = false;
        loop {
            at = text_end(bytes, at);
            match bytes.get(at) {
                None | Some(b'<' | b'&') => break,
                Some(b'\r') => cr = true,
                Some(b'>') => {
                    if at >= start + 2 && bytes.get(at - 2..at) == Some(b"]]") {
                        return Err(malformed("`]]>` in text", at - 2));
                    }
                }
                Some(_) => {
                    if is_forbidden_at(bytes, at) {
                        return Err(forbidden_character());
                    }
                }
            }
            at += 1;
        }
        self.pos = at;
        Ok(Event::Text(Text {
            raw: self.slice(start, at)?,
            cr,
        }))
    }

    /// A reference starting with the `&` at `at`: its character, and where it ends.
    fn reference(&self, at: usize) -> Result<(char, usize), ReadError> {
        let body = at + 1;
        let not_a_reference = || malformed("`&` that does not start a reference like &amp;", at);
        let end = if self.byte(body) == Some(b'#') {
            let hex = self.byte(body + 1) == Some(b'x');
            let digits = body + 1 + usize::from(hex);
            let mut end = digits;
            while self.byte(end).is_some_and(|b| {
                if hex {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            }) {
                end += 1;
            }
            if end == digits {
                return Err(not_a_reference());
            }
            end
        } else if self.byte(body).is_some_and(|b| class(b) & NAME_START != 0) {
            let mut end = body + 1;
            while self.byte(end).is_some_and(|b| class(b) & NAME != 0) {
                end += 1;
            }
            end
        } else {
            return Err(not_a_reference());
        };
        if self.byte(end) != Some(b';') {
            return Err(not_a_reference());
        }
        let c = resolve_reference(self.slice(body, end)?)?;
        Ok((c, end + 1))
    }

    /// Where the run of name characters from `at` ends.
    #[inline(always)]
    fn name_chars(&self, at: usize) -> usize {
        name_end(self.input.as_bytes(), at)
    }

    /// A name at `at`: `local` or `prefix:local`, each part starting with a letter, `_` or a
    /// non-ASCII character XML allows to start a name (`is_xml_name`). Returns the name and where its colon is (0 for none).
    #[inline(always)]
    fn name(&self, at: usize) -> Result<(&'i str, usize), ReadError> {
        let starts_name = |at: usize| self.byte(at).is_some_and(|b| class(b) & NAME_START != 0);
        if !starts_name(at) {
            return Err(malformed("a name expected", at));
        }
        let mut end = self.name_chars(at + 1);
        let mut colon = 0;
        if self.byte(end) == Some(b':') {
            colon = end - at;
            if !starts_name(end + 1) {
                return Err(malformed("a name with a misplaced `:`", at));
            }
            end = self.name_chars(end + 2);
            if self.byte(end) == Some(b':') {
                return Err(malformed("a name with a misplaced `:`", at));
            }
        }
        let name = self.slice(at, end)?;
        if !name.is_ascii() && !is_xml_name(name) {
            return Err(malformed(
                "a name holding a character XML names may not",
                at,
            ));
        }
        Ok((name, colon))
    }

    /// `<name attributes>` or `<name attributes/>`, starting at the `<`.
    #[inline(always)]
    fn start_tag(&mut self) -> Result<Event<'i>, ReadError> {
        let (name, colon) = self.name(self.pos + 1)?;
        let name_end = self.pos + 1 + name.len();
        // `<name>` is by far the most common start tag: no attributes, not empty.
        let (attributes, at, empty) = if self.byte(name_end) == Some(b'>') {
            (Attributes::default(), name_end, false)
        } else {
            self.rest_of_start_tag(name_end)?
        };
        self.pos = at + 1 + usize::from(empty);
        let Some(slot) = self.open.get_mut(self.level) else {
            return Err(ReadError::new(format!(
                "elements nested deeper than {MAX_DEPTH}"
            )));
        };
        *slot = name;
        self.level += 1;
        self.empty_pending = empty;
        let (prefix, local) = match colon {
            0 => ("", name),
            _ => (
                name.get(..colon).unwrap_or_default(),
                name.get(colon + 1..).unwrap_or_default(),
            ),
        };
        Ok(Event::Start(Start {
            prefix,
            local,
            attributes,
        }))
    }

    /// The attributes and the end of a start tag from `name_end`: the attributes, where the
    /// closing `>` or `/>` is, and whether it is `/>`.
    fn rest_of_start_tag(
        &self,
        name_end: usize,
    ) -> Result<(Attributes<'i>, usize, bool), ReadError> {
        let attributes_end = self.attributes(name_end)?;
        let at = self.skip_spaces(attributes_end);
        let empty = match (self.byte(at), self.byte(at + 1)) {
            (Some(b'>'), _) => false,
            (Some(b'/'), Some(b'>')) => true,
            (None, _) | (Some(b'/'), None) => return Err(malformed("the input ends in a tag", at)),
            _ => return Err(malformed("unexpected character in a tag", at)),
        };
        let attributes = self
            .slice(name_end, attributes_end)?
            .trim_start_matches(is_xml_space);
        Ok((Attributes(attributes), at, empty))
    }

    /// Checks the attributes from `at` (just after the element name); returns where the last
    /// one ends. Names must be unique.
    fn attributes(&self, mut at: usize) -> Result<usize, ReadError> {
        let mut names = [""; MAX_ATTRIBUTES];
        let mut count = 0;
        let mut end = at;
        loop {
            let spaced = self.skip_spaces(at);
            match self.byte(spaced) {
                Some(b'>' | b'/') | None => return Ok(end),
                Some(_) if spaced == at => {
                    return Err(malformed("attributes not separated by whitespace", at))
                }
                Some(_) => {}
            }
            let (name, _, after) = self.attribute(spaced)?;
            if names[..count].contains(&name) {
                return Err(malformed("a duplicate attribute", spaced));
            }
            let Some(slot) = names.get_mut(count) else {
                return Err(malformed("too many attributes", spaced));
            };
            *slot = name;
            count += 1;
            at = after;
            end = after;
        }
    }

    /// One `name = "value"` (or with `'`) at `at`: the name, the raw value, and where it ends.
    fn attribute(&self, at: usize) -> Result<(&'i str, &'i str, usize), ReadError> {
        let (name, _) = self.name(at)?;
        let mut next = self.skip_spaces(at + name.len());
        if self.byte(next) != Some(b'=') {
            return Err(malformed("an attribute without `=`", next));
        }
        next = self.skip_spaces(next + 1);
        let quote = match self.byte(next) {
            Some(q @ (b'"' | b'\'')) => q,
            _ => return Err(malformed("an attribute value without quotes", next)),
        };
        let start = next + 1;
        let mut end = start;
        loop {
            end = scan(self.input.as_bytes(), end, value_stops, |b| {
                class(b) & VALUE_STOP != 0
            });
            match self.byte(end) {
                Some(b) if b == quote => break,
                Some(b'\'' | b'"') => end += 1,
                Some(b'&') => end = self.reference(end)?.1,
                Some(b'<') => return Err(malformed("`<` in an attribute value", end)),
                Some(_) if is_forbidden_at(self.input.as_bytes(), end) => {
                    return Err(forbidden_character())
                }
                Some(_) => end += 1,
                None => return Err(malformed("the input ends in an attribute value", end)),
            }
        }
        Ok((name, self.slice(start, end)?, end + 1))
    }

    /// `</name>`, which must close the innermost open element.
    #[inline(always)]
    fn end_tag(&mut self) -> Result<Event<'i>, ReadError> {
        let name_at = self.pos + 2;
        let Some(&open) = self.level.checked_sub(1).and_then(|l| self.open.get(l)) else {
            return Err(malformed("an end tag without a start tag", self.pos));
        };
        let name_end = name_at + open.len();
        let same_name = self
            .input
            .as_bytes()
            .get(name_at..name_end)
            .is_some_and(|name| same_bytes(name, open.as_bytes()));
        let at = match self.byte(name_end) {
            Some(b'>') => name_end,
            _ => self.skip_spaces(name_end),
        };
        if !same_name || self.byte(at) != Some(b'>') {
            return Err(malformed(
                &format!("expected the end tag of {}", shown(open, MAX_SHOWN)),
                self.pos,
            ));
        }
        self.pos = at + 1;
        self.level -= 1;
        Ok(Event::End)
    }

    /// After `<!`: a comment (passed over, `None`), a CDATA section, or an error.
    fn bang(&mut self) -> Result<Option<Event<'i>>, ReadError> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        if let Some(comment) = rest.strip_prefix("<!--") {
            let Some(dashes) = comment.find("--") else {
                return Err(malformed("a comment without its end", self.pos));
            };
            if comment.as_bytes().get(dashes + 2) != Some(&b'>') {
                return Err(malformed("`--` inside a comment", self.pos + 4 + dashes));
            }
            check_chars(comment.get(..dashes).unwrap_or_default())?;
            self.pos += 4 + dashes + 3;
            return Ok(None);
        }
        if let Some(section) = rest.strip_prefix("<![CDATA[") {
            let Some(len) = section.find("]]>") else {
                return Err(malformed("a CDATA section without its end", self.pos));
            };
            let raw = self.slice(self.pos + 9, self.pos + 9 + len)?;
            check_chars(raw)?;
            self.pos += 9 + len + 3;
            return Ok(Some(Event::CData(Text {
                raw,
                cr: raw.contains('\r'),
            })));
        }
        if rest
            .get(..9)
            .is_some_and(|s| s.eq_ignore_ascii_case("<!DOCTYPE"))
        {
            return Err(ReadError::new("DOCTYPE is not allowed"));
        }
        Err(malformed(
            "markup after `<!` that is neither a comment nor CDATA",
            self.pos,
        ))
    }

    /// `<?target content?>`, passed over, or the XML declaration at the very start.
    fn processing_instruction(&mut self) -> Result<(), ReadError> {
        // What paywire and nearly every sender write, known good: skipped without parsing.
        const USUAL_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
        if self.pos == self.declaration_at
            && self
                .input
                .get(self.pos..)
                .is_some_and(|rest| rest.starts_with(USUAL_DECLARATION))
        {
            self.pos += USUAL_DECLARATION.len();
            return Ok(());
        }
        let (target, colon) = self.name(self.pos + 2)?;
        if colon != 0 {
            // Well-formed XML 1.0, but not in a namespace-aware document (Namespaces, §7).
            return Err(ReadError::new(format!(
                "processing instruction target {} holds a `:`, which XML namespaces forbid",
                shown(target, MAX_SHOWN)
            )));
        }
        let after_target = self.pos + 2 + target.len();
        if target.eq_ignore_ascii_case("xml") {
            if target != "xml" || self.pos != self.declaration_at {
                return Err(malformed("an XML declaration not at the start", self.pos));
            }
            return self.declaration(after_target);
        }
        let rest = self.input.get(after_target..).unwrap_or_default();
        let Some(len) = rest.find("?>") else {
            return Err(malformed(
                "a processing instruction without its end",
                self.pos,
            ));
        };
        if len > 0 && !rest.starts_with(is_xml_space) {
            return Err(malformed("a processing instruction target", self.pos + 2));
        }
        check_chars(rest.get(..len).unwrap_or_default())?;
        self.pos = after_target + len + 2;
        Ok(())
    }

    /// The pseudo-attributes of `<?xml ...?>` from `at`: version, then optionally encoding
    /// (which must be UTF-8, as the document is read as UTF-8) and standalone.
    fn declaration(&mut self, mut at: usize) -> Result<(), ReadError> {
        let mut next_index = 0;
        loop {
            let spaced = self.skip_spaces(at);
            if next_index > 0
                && self
                    .input
                    .get(spaced..)
                    .is_some_and(|s| s.starts_with("?>"))
            {
                self.pos = spaced + 2;
                return Ok(());
            }
            if spaced == at {
                return Err(malformed("a malformed XML declaration", self.pos));
            }
            let (name, value, end) = self.attribute(spaced)?;
            // In this order, version required: `XMLDecl` in the XML 1.0 grammar.
            let index = match name {
                "version" => 0,
                "encoding" => 1,
                "standalone" => 2,
                _ => 3,
            };
            if index < next_index || index == 3 || (next_index == 0 && index != 0) {
                return Err(malformed("a malformed XML declaration", self.pos));
            }
            next_index = index + 1;
            let valid = match index {
                // `1.` and digits.
                0 => value.strip_prefix("1.").is_some_and(|minor| {
                    !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit())
                }),
                1 => {
                    if !value.eq_ignore_ascii_case("utf-8") {
                        return Err(ReadError::new(format!(
                            "encoding {} is not UTF-8",
                            shown(value, MAX_SHOWN)
                        )));
                    }
                    true
                }
                _ => matches!(value, "yes" | "no"),
            };
            if !valid {
                return Err(malformed("a malformed XML declaration", self.pos));
            }
            at = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events of `input` in a compact notation, or the error.
    fn events(input: &str) -> Result<Vec<String>, String> {
        let mut tokens = Tokenizer::new(input);
        let mut out = Vec::new();
        loop {
            let event = tokens.next_event().map_err(|e| e.0)?;
            out.push(match event {
                Event::Start(s) => {
                    let attributes: Vec<String> = s
                        .attributes
                        .iter()
                        .map(|(n, v)| format!(" {n}={v}"))
                        .collect();
                    format!("<{}|{}{}>", s.prefix, s.local, attributes.concat())
                }
                Event::End => "</>".to_owned(),
                Event::Text(t) => format!("{:?}", t.content()),
                Event::CData(t) => format!("cdata{:?}", t.content()),
                Event::Reference(c) => format!("&{c}"),
                Event::Eof => return Ok(out),
            });
        }
    }

    fn refused(input: &str) -> String {
        match events(input) {
            Ok(events) => panic!("{input:?} was accepted: {events:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn tags_text_and_references() {
        assert_eq!(
            events("<?xml version='1.0' encoding=\"utf-8\"?>\n<p:a x='1' y = \"2\"><b/>t&amp;&#x41;&#66;<!-- c -->u<?pi data?><![CDATA[<&]]></p:a >").unwrap(),
            [
                "\"\\n\"", "<p|a x=1 y=2>", "<|b>", "</>", "\"t\"", "&&", "&A", "&B", "\"u\"",
                "cdata\"<&\"", "</>",
            ]
        );
    }

    #[test]
    fn line_ends_are_normalized_per_piece() {
        assert_eq!(
            events("<a>x\r\ny\rz\r&amp;\n</a>").unwrap(),
            ["<|a>", "\"x\\ny\\nz\\n\"", "&&", "\"\\n\"", "</>"]
        );
        let text = Text {
            raw: " \r\n a\r\nb \r",
            cr: true,
        };
        assert_eq!(text.trimmed_content(), "a\nb");
    }

    #[test]
    fn a_byte_order_mark_may_precede_the_declaration() {
        assert!(events("\u{FEFF}<?xml version='1.0'?><a/>").is_ok());
        assert!(refused(" <?xml version='1.0'?><a/>").contains("not at the start"));
        assert!(refused("<a><?xml version='1.0'?></a>").contains("not at the start"));
        assert!(refused("<?XML version='1.0'?><a/>").contains("not at the start"));
    }

    #[test]
    fn malformed_markup_is_refused() {
        let cases = [
            ("<a></b>", "expected the end tag of \"a\""),
            ("<a></ab>", "expected the end tag of \"a\""),
            ("<ab></a>", "expected the end tag of \"ab\""),
            ("</a>", "end tag without"),
            ("<a", "ends in a tag"),
            ("<a/", "ends in a tag"),
            ("<a x='1'", "ends in a tag"),
            ("<a x='1", "ends in an attribute value"),
            ("<a x>", "without `=`"),
            ("<a x=1>", "without quotes"),
            ("<a x='1'y='2'>", "not separated"),
            ("<a x='1' x='2'>", "duplicate"),
            ("<a x='<'>", "`<` in an attribute value"),
            ("<a x='&'>", "does not start a reference"),
            ("<a x='&e;'>", "undeclared entity \"&e;\""),
            ("<a x='\u{1}'>", "does not allow"),
            ("<1a>", "name expected"),
            ("<>", "name expected"),
            ("< a>", "name expected"),
            ("<:a>", "name expected"),
            ("<a:>", "misplaced `:`"),
            ("<a:b:c>", "misplaced `:`"),
            ("<a/ >", "unexpected character"),
            ("<a b='1'/ >", "unexpected character"),
            ("<a\"b>", "not separated"),
            ("<?xml encoding='UTF-8'?>", "malformed XML declaration"),
            (
                "<?xml version='1.0' standalone='no' encoding='UTF-8'?>",
                "malformed XML declaration",
            ),
            ("a & b", "does not start a reference"),
            ("&amp", "does not start a reference"),
            ("&#;", "does not start a reference"),
            ("&#x;", "does not start a reference"),
            ("&#+65;", "does not start a reference"),
            ("&#X41;", "does not start a reference"),
            ("&#0;", "not an XML character"),
            ("&#xD800;", "not an XML character"),
            ("&#99999999999;", "not an XML character"),
            ("x]]>", "`]]>` in text"),
            ("\u{FFFE}", "does not allow"),
            ("a\u{0}", "does not allow"),
            ("<!-- a -- b -->", "`--` inside"),
            ("<!-- a --->", "`--` inside"),
            ("<!-- a ", "without its end"),
            ("<!-- \u{1} -->", "does not allow"),
            ("<![CDATA[ a ", "without its end"),
            ("<![CDATA[\u{1}]]>", "does not allow"),
            ("<![cdata[x]]>", "neither a comment"),
            ("<!ELEMENT a ANY>", "neither a comment"),
            ("<!DOCTYPE a>", "DOCTYPE is not allowed"),
            ("<!doctype a>", "DOCTYPE is not allowed"),
            ("<?pi", "without its end"),
            ("<?pi\u{1}?>", "target"),
            ("<?pi \u{1}?>", "does not allow"),
            ("<??>", "name expected"),
            ("<?xml?>", "malformed XML declaration"),
            (
                "<?xml version='1.0' version='1.0'?>",
                "malformed XML declaration",
            ),
            ("<?xml version='1.0' foo='1'?>", "malformed XML declaration"),
            (
                "<?xml version='1.0'encoding='UTF-8'?>",
                "malformed XML declaration",
            ),
            (
                "<?xml version='1.0' encoding='latin1'?>",
                "encoding \"latin1\" is not UTF-8",
            ),
            ("<?xml version='?>1.0'?>", "malformed XML declaration"),
            ("<?xml version='2.0'?>", "malformed XML declaration"),
            (
                "<?xml version='1.0' standalone='maybe'?>",
                "malformed XML declaration",
            ),
        ];
        for (input, expected) in cases {
            let err = refused(input);
            assert!(err.contains(expected), "{input:?}: {err}");
        }
    }

    #[test]
    fn text_stops_at_its_ends_in_any_position() {
        for len in 0..20 {
            for at in 0..len {
                for (special, expected) in [("<b/>", "<|b>"), ("&lt;", "&<")] {
                    let mut text: Vec<String> = "é=?%;ab01\t\n3456789xyz"
                        .chars()
                        .take(len)
                        .map(String::from)
                        .collect();
                    text[at] = special.to_owned();
                    let events = events(&format!("<a>{}</a>", text.concat())).unwrap();
                    assert!(
                        events.contains(&expected.to_owned()),
                        "{text:?}: {events:?}"
                    );
                }
                let mut text: Vec<char> = "abcdefghijklmnopqrst".chars().take(len).collect();
                for (special, expected) in [('\u{1}', "does not allow"), ('>', "]]>")] {
                    text[at] = special;
                    let mut doc: String = text.iter().collect();
                    if special == '>' {
                        doc.insert_str(at, "]]");
                    }
                    assert!(refused(&doc).contains(expected), "{doc:?}");
                }
            }
        }
    }

    #[test]
    fn word_scans_agree_with_the_table() {
        for byte in 0..=255u8 {
            for lane in 0..8 {
                let mut bytes = [b'a'; 8];
                bytes[lane] = byte;
                let word = u64::from_le_bytes(bytes);
                let flagged = |stops: u64| stops == 0x80 << (8 * lane);
                assert_eq!(
                    flagged(name_stops(word)),
                    class(byte) & NAME == 0,
                    "{byte:#x} in lane {lane}"
                );
                let value_stop = class(byte) & VALUE_STOP != 0;
                assert!(
                    flagged(value_stops(word)) || !value_stop,
                    "{byte:#x} in lane {lane}"
                );
                let text_stop = class(byte) & TEXT_STOP != 0;
                assert!(
                    flagged(text_stops(word)) || !text_stop,
                    "{byte:#x} in lane {lane}"
                );
                assert_eq!(
                    text_stops(word) == 0,
                    !text_stop && (0x20..0x80).contains(&byte)
                );
                for (at, len) in [(0, 8), (0, lane), (lane, 8 - lane)] {
                    let ends = |b: u8| class(b) & NAME == 0;
                    let expected = (at..at + len).find(|&i| ends(bytes[i])).unwrap_or(at + len);
                    assert_eq!(name_end(&bytes[..at + len], at), expected);
                }
            }
        }
    }

    #[test]
    fn well_formed_corners_are_accepted() {
        for input in [
            "<a x='\"' y=\"'\" z='>'/>",
            "<a\n\tx = '1'\r\n/>",
            "<a>]]</a><b>]></b>",
            "<é:ü ß='1'/>",
            "<a-b.c_d/>",
            "<!---->",
            "<!-- - -->",
            "<?pi?><?pi ?><?xml-stylesheet x?>",
            "<a x='&amp;&#60;'/>",
            "\u{FFFD}\u{10FFFF}",
        ] {
            assert!(events(input).is_ok(), "{input:?}: {:?}", events(input));
        }
    }

    #[test]
    fn processing_instruction_targets_hold_no_colon() {
        // XML 1.0 allows `:` in a PI target; the Namespaces recommendation (section 7) does not.
        for input in ["<?a:b data?><a/>", "<?a:b?><a/>", "<a><?xml:x y?></a>"] {
            let err = refused(input);
            assert!(
                err.contains("processing instruction target") && err.contains("`:`"),
                "{input:?}: {err}"
            );
        }
        let long = format!("<?a:{}?><a/>", "b".repeat(200_000));
        assert!(refused(&long).contains("-byte value"));
        assert!(events("<?a-b.c data?><a/>").is_ok());
    }

    #[test]
    fn nesting_is_bounded() {
        let at_limit = format!("{}{}", "<a>".repeat(MAX_OPEN), "</a>".repeat(MAX_OPEN));
        assert!(events(&at_limit).is_ok());
        let deeper = format!("{}<b/>{}", "<a>".repeat(MAX_OPEN), "</a>".repeat(MAX_OPEN));
        assert!(refused(&deeper).contains("deeper than 32"));
    }

    #[test]
    fn attributes_read_back_as_written() {
        let mut tokens = Tokenizer::new("<a x = '1' p:y=\"a&amp;'b\"\n z=''>");
        let Ok(Event::Start(start)) = tokens.next_event() else {
            panic!("no start");
        };
        assert_eq!(
            start.attributes.iter().collect::<Vec<_>>(),
            [("x", "1"), ("p:y", "a&amp;'b"), ("z", "")]
        );
        assert!(Attributes::default().is_empty());
    }

    #[test]
    fn names_hold_only_the_characters_xml_allows_in_names() {
        for input in [
            "<caf\u{E9}/>",
            "<\u{E9}t\u{E9}\u{B7}\u{300}/>",
            "<\u{6F22}\u{5B57} \u{E9}='1'/>",
            "<p\u{E9}:\u{10000}/>",
            "<?p\u{E9} x?><a/>",
        ] {
            assert!(events(input).is_ok(), "{input:?}: {:?}", events(input));
        }
        for input in [
            "<X\u{FFFE}/>",
            "<X\u{A0}Y/>",
            "<X\u{202E}Y/>",
            "<\u{B7}a/>",
            "<a:\u{300}b/>",
            "<\u{D7}/>",
            "<a x\u{FFFE}='1'/>",
            "<?p\u{2028} x?><a/>",
        ] {
            assert!(
                refused(input).contains("character XML names may not"),
                "{input:?}"
            );
        }
    }

    #[test]
    fn long_names_and_references_are_shown_by_their_length() {
        let name = "A".repeat(200_000);
        for input in [
            format!("<{name}></B>"),
            format!("<a>&{name};</a>"),
            format!("<a>&#x{name};</a>"),
            format!("<?xml version='1.0' encoding='{name}'?><a/>"),
        ] {
            let err = refused(&input);
            assert!(err.len() < 200, "{} bytes: {}", err.len(), &err[..200]);
            assert!(err.contains("-byte value"), "{err}");
        }
    }
}
