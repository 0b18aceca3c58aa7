//! XML on both sides of the wire: an escaping writer into one buffer, and a guarded reader.
//!
//! The reader walks untrusted bytes with the tokenizer (tokenizer.rs) and hands over the leaf
//! values a schema asks for; it refuses DTDs, undeclared entities, oversize input, deep
//! nesting, and what the Namespaces recommendation forbids (undeclared prefixes, rebound `xml`
//! and `xmlns`, one attribute under two prefixes).

use std::borrow::Cow;

use crate::error::{shown, ReadError, MAX_SHOWN};
use crate::scan::{has_zero_byte, repeat, word_at};
pub use crate::tokenizer::MAX_DEPTH;
use crate::tokenizer::{
    is_xml_space, same_bytes, Attributes, Event, Text, Tokenizer, MAX_ATTRIBUTES,
};

#[cfg(test)]
mod differential;

/// Whether any of eight bytes is `"`, `&`, `'`, `<` or `>`. Setting one low bit first folds
/// `&`/`'` (0x26/0x27) and `<`/`>` (0x3C/0x3E) together, so three tests cover all five.
fn has_special(word: u64) -> bool {
    has_zero_byte(word ^ repeat(b'"'))
        || has_zero_byte((word | repeat(0x01)) ^ repeat(b'\''))
        || has_zero_byte((word | repeat(0x02)) ^ repeat(b'>'))
}

/// `&quot;` is the longest escape: six bytes for one.
const ESCAPE_GROWTH: usize = 6;

/// Text that cannot hold an XML special character, because the check or formatter that made
/// it allows none: a BIC, a UETR, an IBAN, a currency code, an amount, a date. The writer
/// copies it without the escaping scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a>(&'a str);

impl<'a> Token<'a> {
    /// Wraps text from an alphabet without `&`, `<`, `>`, `"` and `'`; only the pattern
    /// checks and formatters call this.
    pub fn new(text: &'a str) -> Self {
        debug_assert!(
            !text.contains(['&', '<', '>', '"', '\'']),
            "{text:?} needs escaping"
        );
        Self(text)
    }

    #[cfg(test)]
    pub fn as_str(self) -> &'a str {
        self.0
    }
}

/// What may go between tags: free text, escaped, or a token, copied as is.
pub trait Content {
    fn write_to(self, w: &mut XmlWriter);
}

impl Content for &str {
    #[inline(always)]
    fn write_to(self, w: &mut XmlWriter) {
        w.escape(self);
    }
}

impl Content for Token<'_> {
    #[inline(always)]
    fn write_to(self, w: &mut XmlWriter) {
        w.put(self.0.as_bytes());
    }
}

/// Writes one document, compact, straight into a buffer sized by the caller.
///
/// Markup is only ever `'static` text, composed at compile time by the `start!`, `end!` and
/// `leaf!` macros, so each tag costs one copy of a constant length, which the compiler turns
/// into a few stores; everything else goes through `content`. The buffer is allocated at its
/// worst-case size up front, so a write is a bounds check and a copy, never a reallocation.
pub struct XmlWriter {
    buf: Vec<u8>,
    len: usize,
}

impl XmlWriter {
    /// A buffer size no document can outgrow: `markup` bytes of tags and unescaped values,
    /// plus the escapable `texts` at their worst-case escaped length.
    pub fn worst_case(markup: usize, texts: &[&str]) -> usize {
        markup + ESCAPE_GROWTH * texts.iter().map(|t| t.len()).sum::<usize>()
    }

    fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: vec![0; capacity],
            len: 0,
        }
    }

    /// Starts a document with its XML declaration and the root `Document` in `namespace`.
    pub fn document(capacity: usize, namespace: &str) -> Self {
        let mut writer = Self::with_capacity(capacity);
        writer.markup("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"");
        writer.content(namespace);
        writer.markup("\">");
        writer
    }

    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if end > self.buf.len() {
            self.grow(end);
        }
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
    }

    /// Only reached if a caller's size estimate was wrong: slower, never incorrect.
    #[cold]
    fn grow(&mut self, end: usize) {
        self.buf.resize(end.max(2 * self.buf.len()), 0);
    }

    #[inline(always)]
    pub fn markup(&mut self, markup: &'static str) {
        self.put(markup.as_bytes());
    }

    #[inline(always)]
    pub fn content(&mut self, content: impl Content) {
        content.write_to(self);
    }

    /// Writes `text` with the five XML special characters escaped. Clean text, the common
    /// case, is checked eight bytes at a time and copied in one piece.
    fn escape(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut copied = 0;
        let mut at = 0;
        while at < bytes.len() {
            // Zero padding is not special; bytes re-read before `at` have been dealt with and
            // at worst send this word through the byte loop, which starts at `at`.
            if !has_special(word_at(bytes, at, 0)) {
                at += 8;
                continue;
            }
            let end = (at + 8).min(bytes.len());
            for i in at..end {
                let replacement: &[u8] = match bytes[i] {
                    b'&' => b"&amp;",
                    b'<' => b"&lt;",
                    b'>' => b"&gt;",
                    b'"' => b"&quot;",
                    b'\'' => b"&apos;",
                    _ => continue,
                };
                self.put(&bytes[copied..i]);
                self.put(replacement);
                copied = i + 1;
            }
            at = end;
        }
        self.put(&bytes[copied..]);
    }

    /// Closes the root element and returns the document.
    pub fn finish(mut self) -> Vec<u8> {
        self.markup("</Document>");
        self.buf.truncate(self.len);
        self.buf
    }
}

/// `<tag>`.
macro_rules! start {
    ($w:expr, $tag:literal) => {
        $w.markup(concat!("<", $tag, ">"))
    };
}

/// `</tag>`.
macro_rules! end {
    ($w:expr, $tag:literal) => {
        $w.markup(concat!("</", $tag, ">"))
    };
}

/// `<tag>text</tag>`, the shape of every value in an ISO 20022 message.
macro_rules! leaf {
    ($w:expr, $tag:literal, $text:expr) => {{
        $w.markup(concat!("<", $tag, ">"));
        $w.content($text);
        $w.markup(concat!("</", $tag, ">"));
    }};
}

pub(crate) use {end, leaf, start};

/// Documents larger than this are refused unread: answers are a few hundred bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Namespace declarations in scope at once; real messages have one or two.
const MAX_BINDINGS: usize = 16;

/// One document kind to read: its namespace and the leaves wanted from it.
pub struct Schema<F: 'static> {
    pub namespace: &'static str,
    /// Paths of local names from the message root (the child of `Document`), each with the
    /// field it fills. Sorted by path, so the candidates for a prefix are contiguous.
    pub fields: &'static [(&'static [&'static str], F)],
    /// Paths of elements that may appear at most once (at most `MAX_ONCE`), each holding
    /// fields: a second one is refused, not read as part of the first. Its fields' own
    /// `set_once` cannot see it when the two carry different fields (an UETR in one block, a
    /// status in the other, read as one answer).
    pub once: &'static [&'static [&'static str]],
}

/// How many `Schema::once` paths a schema may have.
const MAX_ONCE: usize = 4;

#[cfg(test)]
impl<F> Schema<F> {
    /// Whether `fields` is sorted; the reader relies on it and each schema's tests check it.
    pub fn is_sorted(&self) -> bool {
        self.fields.windows(2).all(|pair| pair[0].0 < pair[1].0)
    }
}

/// A wanted leaf element (no child elements) as the reader hands it over.
pub struct Leaf<'i> {
    /// The text content, entities resolved, XML whitespace trimmed at both ends.
    pub text: Cow<'i, str>,
    attributes: Attributes<'i>,
}

impl<'i> Leaf<'i> {
    /// An unprefixed attribute's raw value; callers check it against a pattern, so entity
    /// references in it simply fail that check.
    pub fn attribute(&self, name: &str) -> Option<&'i str> {
        self.attributes
            .iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    }
}

/// Stores a value that may appear once in a document; a second one is an error naming `what`.
pub fn set_once<T>(slot: &mut Option<T>, value: T, what: &str) -> Result<(), ReadError> {
    if slot.is_some() {
        return Err(ReadError::new(format!(
            "more than one {what}: exactly one expected"
        )));
    }
    *slot = Some(value);
    Ok(())
}

/// Indices into a schema's `fields` whose paths run through the current element.
#[derive(Clone, Copy, Default)]
struct Candidates {
    start: u16,
    end: u16,
}

impl Candidates {
    const NONE: Self = Self { start: 0, end: 0 };

    /// The candidates that continue with `name` at `depth`: a contiguous run, as paths are
    /// sorted and all candidates share the path so far. Compares only against that run.
    fn child<F>(self, fields: &[(&[&str], F)], depth: usize, name: &str) -> Self {
        let mut found = Self::NONE;
        for i in self.start..self.end {
            let step = fields[usize::from(i)].0.get(depth);
            if step.is_some_and(|step| same_bytes(step.as_bytes(), name.as_bytes())) {
                if found.end == 0 {
                    found.start = i;
                }
                found.end = i + 1;
            } else if found.end != 0 {
                break;
            }
        }
        found
    }

    /// The path down to the element at `depth` these candidates are below, if any.
    fn path<'f, F>(self, fields: &[(&'f [&'f str], F)], depth: usize) -> Option<&'f [&'f str]> {
        let (path, _) = fields
            .get(usize::from(self.start))
            .filter(|_| self.start < self.end)?;
        path.get(..=depth)
    }

    /// The field whose path ends exactly at `depth`: the first candidate, if any, since a
    /// path sorts before its extensions.
    fn exact<F: Copy>(self, fields: &[(&[&str], F)], depth: usize) -> Option<F> {
        let (path, field) = fields
            .get(usize::from(self.start))
            .filter(|_| self.start < self.end)?;
        (path.len() == depth + 1).then_some(*field)
    }
}

/// The namespace of the `xml` prefix, which is bound to it whether declared or not.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of the `xmlns` attributes, which no declaration may name.
const XMLNS_NAMESPACE: &str = "http://www.w3.org/2000/xmlns/";

/// Why binding `prefix` (empty for the default namespace) to `uri` breaks the Namespaces
/// recommendation (section 3), if it does. `xml` and `xmlns` are bound once and for all and
/// their namespaces are theirs alone: a document that rebinds either reads differently in
/// every namespace-aware reader, and no sender writes one on purpose.
fn reserved_binding(prefix: &str, uri: &str) -> Option<&'static str> {
    match (prefix, uri) {
        ("xmlns", _) => Some("the prefix xmlns may not be declared"),
        (_, XMLNS_NAMESPACE) => {
            Some("no prefix, nor the default namespace, may be bound to the xmlns namespace")
        }
        ("xml", XML_NAMESPACE) => None,
        ("xml", _) => Some("the prefix xml may only be bound to the XML namespace"),
        (_, XML_NAMESPACE) => Some("only the prefix xml may be bound to the XML namespace"),
        _ => None,
    }
}

/// The prefixed attributes of a start tag as (qualified name, prefix, local name), namespace
/// declarations aside.
fn prefixed_names<'i>(
    attributes: Attributes<'i>,
) -> impl Iterator<Item = (&'i str, &'i str, &'i str)> {
    attributes.iter().filter_map(|(key, _)| {
        let (prefix, local) = key.split_once(':')?;
        (prefix != "xmlns").then_some((key, prefix, local))
    })
}

#[derive(Clone, Copy, Default)]
struct Binding<'i> {
    /// Nesting level of the element that declared it; the binding ends with that element.
    level: usize,
    prefix: &'i str,
    uri: &'i str,
    /// Which schema's namespace `uri` is, worked out once here rather than per element.
    schema: Option<usize>,
}

/// The namespace declarations in scope, innermost last. A fixed array: no allocation.
#[derive(Default)]
struct Scope<'i> {
    bindings: [Binding<'i>; MAX_BINDINGS],
    len: usize,
    /// What `resolve("")` gives, kept up to date: nearly every element has no prefix.
    default: Option<usize>,
}

impl<'i> Scope<'i> {
    /// Records the `xmlns` and `xmlns:p` attributes of an element opened at `level`, and
    /// checks its other prefixed attributes against them. `namespace_of` tells which schema
    /// (if any) a URI belongs to.
    fn declare(
        &mut self,
        attributes: Attributes<'i>,
        level: usize,
        namespace_of: impl Fn(&str) -> Option<usize>,
    ) -> Result<(), ReadError> {
        // Whether the element has prefixed attributes other than declarations: they are checked
        // once its own declarations are in scope, which count for the whole tag, in any order.
        let mut prefixed = false;
        for (key, uri) in attributes.iter() {
            let declared = match key.strip_prefix("xmlns") {
                Some("") => Some(""),
                Some(rest) => rest.strip_prefix(':'),
                None => None,
            };
            let Some(prefix) = declared else {
                prefixed |= key.bytes().any(|b| b == b':');
                continue;
            };
            if uri.contains('&') || (uri.is_empty() && !prefix.is_empty()) {
                return Err(ReadError::new(format!(
                    "unsupported namespace declaration {}={}",
                    shown(key, MAX_SHOWN),
                    shown(uri, MAX_SHOWN)
                )));
            }
            if let Some(why) = reserved_binding(prefix, uri) {
                return Err(ReadError::new(format!(
                    "reserved namespace declaration {}={}: {why}",
                    shown(key, MAX_SHOWN),
                    shown(uri, MAX_SHOWN)
                )));
            }
            if self.len == MAX_BINDINGS {
                return Err(ReadError::new("too many namespace declarations"));
            }
            self.bindings[self.len] = Binding {
                level,
                prefix,
                uri,
                schema: namespace_of(uri),
            };
            self.len += 1;
        }
        self.default = self.lookup("").and_then(|b| b.schema);
        if prefixed {
            self.check_prefixed_attributes(attributes)?;
        }
        Ok(())
    }

    /// Refuses a prefixed attribute whose prefix is not in scope, and two attributes that are
    /// one: the same local name under two prefixes bound to one namespace, which the
    /// tokenizer's check of the names as written cannot see. Real answers carry no prefixed
    /// attribute but an occasional `xsi:schemaLocation`; the names are kept on the stack, each
    /// compared with those before it, at most `MAX_ATTRIBUTES` of them.
    fn check_prefixed_attributes(&self, attributes: Attributes<'i>) -> Result<(), ReadError> {
        // (qualified name, local name, namespace) of each prefixed attribute so far.
        let mut seen = [("", "", ""); MAX_ATTRIBUTES];
        let mut len = 0;
        for (key, prefix, local) in prefixed_names(attributes) {
            let Some(uri) = self.attribute_namespace(prefix) else {
                return Err(ReadError::new(format!(
                    "undeclared namespace prefix {} on attribute {}",
                    shown(prefix, MAX_SHOWN),
                    shown(key, MAX_SHOWN)
                )));
            };
            let earlier = seen.get(..len).unwrap_or_default();
            if let Some((first, ..)) = earlier.iter().find(|(_, l, u)| *l == local && *u == uri) {
                return Err(ReadError::new(format!(
                    "duplicate attribute: {} and {} are both {} in namespace {}",
                    shown(first, MAX_SHOWN),
                    shown(key, MAX_SHOWN),
                    shown(local, MAX_SHOWN),
                    shown(uri, MAX_SHOWN)
                )));
            }
            if let Some(slot) = seen.get_mut(len) {
                *slot = (key, local, uri);
                len += 1;
            }
        }
        Ok(())
    }

    /// The namespace an attribute's prefix stands for; `xml` is bound without a declaration.
    fn attribute_namespace(&self, prefix: &str) -> Option<&'i str> {
        match self.lookup(prefix) {
            Some(binding) => Some(binding.uri),
            None => (prefix == "xml").then_some(XML_NAMESPACE),
        }
    }

    /// Drops the declarations of the element closing at `level`.
    #[inline(always)]
    fn leave(&mut self, level: usize) {
        if self.len > 0 && self.bindings[self.len - 1].level == level {
            while self.len > 0 && self.bindings[self.len - 1].level == level {
                self.len -= 1;
            }
            self.default = self.lookup("").and_then(|b| b.schema);
        }
    }

    /// The innermost binding of `prefix`. Most documents use one default namespace, so the
    /// common case is an empty prefix, checked without a `memcmp` call.
    fn lookup(&self, prefix: &str) -> Option<&Binding<'i>> {
        self.bindings[..self.len]
            .iter()
            .rev()
            .find(|b| b.prefix.len() == prefix.len() && (prefix.is_empty() || b.prefix == prefix))
    }

    /// The namespace URI a prefix is bound to, for error messages.
    fn uri(&self, prefix: &str) -> Option<&'i str> {
        Some(self.lookup(prefix)?.uri).filter(|uri| !uri.is_empty())
    }

    /// The schema whose namespace an element with `prefix` is in, if any.
    #[inline(always)]
    fn resolve(&self, prefix: &str) -> Result<Option<usize>, ReadError> {
        if prefix.is_empty() {
            return Ok(self.default);
        }
        match (self.lookup(prefix), prefix) {
            (Some(binding), _) => Ok(binding.schema),
            // No default namespace, or the predefined `xml` one: not a schema's.
            (None, "" | "xml") => Ok(None),
            (None, _) => Err(ReadError::new(format!(
                "undeclared namespace prefix {}",
                shown(prefix, MAX_SHOWN)
            ))),
        }
    }
}

/// Text gathered for the current element; borrowed unless references, comments or CDATA
/// split it.
enum LeafText<'i> {
    Nothing,
    /// A `Text`'s fields, stored one by one: copying the `Text` whole made the compiler read
    /// it back as one wide load right after writing it as narrow ones, a store-forwarding
    /// stall that cost as much as the rest of the text handling.
    One {
        raw: &'i str,
        cr: bool,
    },
    Many(String),
}

impl<'i> LeafText<'i> {
    /// Line ends are normalized piece by piece, as each piece is its own text.
    #[inline(always)]
    fn push(&mut self, piece: Text<'i>) {
        match self {
            Self::Nothing => {
                *self = Self::One {
                    raw: piece.raw,
                    cr: piece.cr,
                }
            }
            Self::One { raw, cr } => {
                let first = Text { raw, cr: *cr };
                *self = Self::Many(first.content().into_owned() + &piece.content());
            }
            Self::Many(text) => text.push_str(&piece.content()),
        }
    }

    fn push_char(&mut self, c: char) {
        match self {
            Self::Nothing => *self = Self::Many(c.to_string()),
            Self::One { raw, cr } => {
                let mut text = Text { raw, cr: *cr }.content().into_owned();
                text.push(c);
                *self = Self::Many(text);
            }
            Self::Many(text) => text.push(c),
        }
    }

    fn take_trimmed(&mut self) -> Cow<'i, str> {
        match std::mem::replace(self, Self::Nothing) {
            Self::Nothing => Cow::Borrowed(""),
            Self::One { raw, cr } => Text { raw, cr }.trimmed_content(),
            Self::Many(text) => {
                let trimmed = text.trim_matches(is_xml_space);
                if trimmed.len() == text.len() {
                    Cow::Owned(text)
                } else {
                    Cow::Owned(trimmed.to_owned())
                }
            }
        }
    }
}

fn outside_root() -> ReadError {
    ReadError::new("text outside the root element")
}

/// Walks `input` and calls `visit` for every leaf that one of the schemas' fields names.
///
/// The root must be `Document` in one of the schemas' namespaces; that schema's index is
/// returned. Elements in other namespaces are skipped with everything below them.
pub fn read_fields<'i, F: Copy>(
    input: &'i [u8],
    schemas: &[Schema<F>],
    mut visit: impl FnMut(F, Leaf<'i>) -> Result<(), ReadError>,
) -> Result<usize, ReadError> {
    if input.len() > MAX_DOCUMENT_BYTES {
        return Err(ReadError::new(format!(
            "document of {} bytes exceeds the {MAX_DOCUMENT_BYTES}-byte limit",
            input.len()
        )));
    }
    let source =
        std::str::from_utf8(input).map_err(|_| ReadError::new("document is not valid UTF-8"))?;
    let mut tokens = Tokenizer::new(source);
    let namespace_of = |uri: &str| schemas.iter().position(|schema| schema.namespace == uri);

    let mut scope = Scope::default();
    // Candidate fields for each open element below the root.
    let mut open = [Candidates::NONE; MAX_DEPTH];
    // Open elements including the root.
    let mut level = 0usize;
    let mut document: Option<usize> = None;
    let mut root_closed = false;
    // The attributes of the innermost open element, while it has no child element.
    let mut leaf: Option<Attributes<'i>> = None;
    let mut gathered = LeafText::Nothing;
    // Which of the schema's `once` elements have been seen.
    let mut seen = [false; MAX_ONCE];

    loop {
        match tokens.next_event()? {
            Event::Start(start) => {
                if root_closed {
                    return Err(ReadError::new("content after the root element"));
                }
                level += 1;
                if !start.attributes.is_empty() {
                    scope.declare(start.attributes, level, namespace_of)?;
                }
                let schema = scope.resolve(start.prefix)?;
                let Some(doc) = document else {
                    if start.local != "Document" {
                        return Err(ReadError::new("the root element is not Document"));
                    }
                    document = Some(schema.ok_or_else(|| match scope.uri(start.prefix) {
                        Some(uri) => ReadError::new(format!(
                            "unexpected namespace {}",
                            shown(uri, MAX_SHOWN)
                        )),
                        None => ReadError::new("the root element has no namespace"),
                    })?);
                    continue;
                };
                // The tokenizer refuses more than MAX_DEPTH levels below the root.
                let depth = level - 2;
                let fields = schemas[doc].fields;
                let parent = match depth {
                    0 => Candidates {
                        start: 0,
                        end: u16::try_from(fields.len()).unwrap_or(u16::MAX),
                    },
                    _ => open[depth - 1],
                };
                // A value read for holds an element: skipping it would read the document as if
                // the value were absent (a TxSts "RJCT<x/>" left the group status to decide).
                if depth > 0 && parent.exact(fields, depth - 1).is_some() {
                    return Err(ReadError::new(format!(
                        "element {} inside a value that must be text",
                        shown(start.local, MAX_SHOWN)
                    )));
                }
                open[depth] = if schema == Some(doc) {
                    parent.child(fields, depth, start.local)
                } else {
                    Candidates::NONE
                };
                if let Some(path) = open[depth].path(fields, depth) {
                    let once = schemas[doc].once;
                    if let Some(i) = once.iter().take(MAX_ONCE).position(|p| *p == path) {
                        if seen[i] {
                            return Err(ReadError::new(format!(
                                "more than one {}: exactly one expected",
                                shown(start.local, MAX_SHOWN)
                            )));
                        }
                        seen[i] = true;
                    }
                }
                leaf = Some(start.attributes);
                gathered = LeafText::Nothing;
            }
            Event::End => {
                if let (Some(attributes), Some(doc)) = (leaf.take(), document) {
                    let depth = level - 2;
                    if let Some(field) = open[depth].exact(schemas[doc].fields, depth) {
                        let text = gathered.take_trimmed();
                        visit(field, Leaf { text, attributes })?;
                    }
                }
                scope.leave(level);
                level -= 1;
                root_closed = level == 0;
                gathered = LeafText::Nothing;
            }
            Event::Text(piece) => {
                if leaf.is_some() {
                    gathered.push(piece);
                } else if level == 0 && !piece.raw.trim_matches(is_xml_space).is_empty() {
                    return Err(outside_root());
                }
            }
            Event::CData(piece) => {
                if level == 0 {
                    return Err(outside_root());
                }
                if leaf.is_some() {
                    gathered.push(piece);
                }
            }
            Event::Reference(c) => {
                if level == 0 {
                    return Err(outside_root());
                }
                if leaf.is_some() {
                    gathered.push_char(c);
                }
            }
            Event::Eof => break,
        }
    }
    match document {
        Some(doc) if root_closed => Ok(doc),
        _ => Err(ReadError::new("no complete Document element")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "urn:example";
    const SCHEMA: Schema<&str> = Schema {
        namespace: NS,
        fields: &[
            (&["A", "B"], "A/B"),
            (&["A", "C"], "A/C"),
            (&["A", "D"], "A/D"),
            (&["A", "X", "C"], "A/X/C"),
            (&["Amt"], "Amt"),
        ],
        once: &[&["A", "X"]],
    };

    fn leaves(input: &str) -> Result<Vec<(String, String)>, ReadError> {
        let mut out = Vec::new();
        read_fields(input.as_bytes(), &[SCHEMA], |field, leaf| {
            out.push((field.to_owned(), leaf.text.into_owned()));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn schema_is_sorted() {
        assert!(SCHEMA.is_sorted());
    }

    #[test]
    fn only_wanted_leaves_are_visited() {
        let doc = "<Document xmlns='urn:example'><A><B>1</B><Q>no</Q><X><C>2</C><B>no</B></X><C>3</C></A><B>no</B><A><D>4</D></A></Document>";
        assert_eq!(
            leaves(doc).unwrap(),
            pairs(&[("A/B", "1"), ("A/X/C", "2"), ("A/C", "3"), ("A/D", "4")])
        );
    }

    #[test]
    fn an_element_read_once_is_refused_the_second_time_whatever_it_holds() {
        // Each X holds a different leaf: `set_once` on the leaves alone would read both as one.
        let doc = "<Document xmlns='urn:example'><A><X><C>1</C></X><X><Q>2</Q></X></A></Document>";
        let refused = leaves(doc).unwrap_err();
        assert!(
            refused.to_string().contains("more than one \"X\""),
            "{refused}"
        );
        // Elements not read once may repeat, and X below another parent is another element.
        let doc = "<Document xmlns='urn:example'><A><X><C>1</C></X><B>2</B></A><A><B>3</B></A></Document>";
        assert_eq!(
            leaves(doc).unwrap(),
            pairs(&[("A/X/C", "1"), ("A/B", "2"), ("A/B", "3")])
        );
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// Escapes through a writer with no room at all, so every write takes the growth path.
    fn escaped(text: &str) -> String {
        let mut w = XmlWriter::with_capacity(0);
        w.content(text);
        String::from_utf8(w.buf[..w.len].to_vec()).unwrap()
    }

    #[test]
    fn escape_covers_the_five_specials() {
        assert_eq!(escaped(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    }

    #[test]
    fn escape_finds_specials_at_every_offset_and_only_them() {
        for len in 0..20 {
            for at in 0..len {
                for (special, replacement) in [
                    ('&', "&amp;"),
                    ('<', "&lt;"),
                    ('>', "&gt;"),
                    ('"', "&quot;"),
                    ('\'', "&apos;"),
                ] {
                    let mut text: Vec<char> = "é=?%;ab0123456789xyz".chars().take(len).collect();
                    text[at] = special;
                    let text: String = text.into_iter().collect();
                    assert_eq!(
                        escaped(&text),
                        text.replace(special, replacement),
                        "{text:?}"
                    );
                }
            }
        }
        let neighbours: String = (0x20u8..0x7f)
            .map(char::from)
            .filter(|c| !"&<>\"'".contains(*c))
            .collect();
        assert_eq!(escaped(&neighbours), neighbours);
    }

    #[test]
    fn writer_produces_a_declared_namespaced_document() {
        let mut w = XmlWriter::document(64, NS);
        start!(w, "A");
        leaf!(w, "B", "x&y");
        end!(w, "A");
        assert_eq!(
            String::from_utf8(w.finish()).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:example\"><A><B>x&amp;y</B></A></Document>"
        );
    }

    #[test]
    fn prefixes_whitespace_and_entities_are_understood() {
        let doc = "<?xml version='1.0'?>\n<p:Document xmlns:p='urn:example'>\n <p:A >\n  <p:B> x &amp; &#x41;&#66; </p:B>\n  <p:C/>\n </p:A>\n</p:Document >\n";
        assert_eq!(
            leaves(doc).unwrap(),
            pairs(&[("A/B", "x & AB"), ("A/C", "")])
        );
    }

    #[test]
    fn foreign_elements_are_skipped() {
        let doc = "<Document xmlns='urn:example' xmlns:o='urn:other'><A><o:B>1</o:B><o:X><C>2</C></o:X><X xmlns='urn:other'><C>2</C></X><D>3</D></A></Document>";
        assert_eq!(leaves(doc).unwrap(), pairs(&[("A/D", "3")]));
    }

    #[test]
    fn unsafe_or_broken_documents_are_refused() {
        let cases = [
            (
                "<!DOCTYPE d [<!ENTITY e 'x'>]><Document xmlns='urn:example'/>",
                "DOCTYPE",
            ),
            (
                "<Document xmlns='urn:example'><A>&e;</A></Document>",
                "undeclared entity",
            ),
            (
                "<Document xmlns='urn:example'><A>&#1;</A></Document>",
                "&#1;",
            ),
            ("<Document xmlns='urn:other'/>", "unexpected namespace"),
            ("<Document/>", "no namespace"),
            ("<Doc xmlns='urn:example'/>", "not Document"),
            ("<Document xmlns='urn:example'><A>", "Document"),
            (
                "<Document xmlns='urn:example'/><Document xmlns='urn:example'/>",
                "after the root",
            ),
            ("junk<Document xmlns='urn:example'/>", "outside the root"),
            (
                "<Document xmlns='urn:example'><A>\u{1}</A></Document>",
                "does not allow",
            ),
            (
                "<?xml version='1.0' encoding='latin1'?><Document xmlns='urn:example'/>",
                "not UTF-8",
            ),
            ("", "no complete Document"),
        ];
        for (doc, expected) in cases {
            let err = leaves(doc).unwrap_err();
            assert!(err.0.contains(expected), "{doc:?}: {err}");
        }
    }

    /// Whether `leaves` refuses `doc` with an error holding `expected`.
    fn refuses(doc: &str, expected: &str) {
        match leaves(doc) {
            Ok(read) => panic!("{doc:?} was accepted: {read:?}"),
            Err(err) => assert!(err.0.contains(expected), "{doc:?}: {err}"),
        }
    }

    #[test]
    fn the_reserved_prefixes_and_namespaces_keep_their_bindings() {
        const XML: &str = "http://www.w3.org/XML/1998/namespace";
        const XMLNS: &str = "http://www.w3.org/2000/xmlns/";
        for (declaration, expected) in [
            (
                "xmlns:xml='urn:other'".to_owned(),
                "prefix xml may only be bound to",
            ),
            (
                format!("xmlns:x='{XML}'"),
                "only the prefix xml may be bound",
            ),
            (format!("xmlns='{XML}'"), "only the prefix xml may be bound"),
            (
                format!("xmlns:xmlns='{XMLNS}'"),
                "prefix xmlns may not be declared",
            ),
            (
                "xmlns:xmlns='urn:other'".to_owned(),
                "prefix xmlns may not be declared",
            ),
            (
                format!("xmlns:x='{XMLNS}'"),
                "may be bound to the xmlns namespace",
            ),
            (
                format!("xmlns='{XMLNS}'"),
                "may be bound to the xmlns namespace",
            ),
        ] {
            let doc = format!("<Document xmlns='urn:example'><A {declaration}/></Document>");
            refuses(
                &doc,
                &format!(
                    "reserved namespace declaration {:?}",
                    declaration.split('=').next().unwrap()
                ),
            );
            refuses(&doc, expected);
        }
        let long = format!(
            "<Document xmlns='urn:example'><A xmlns:xml='{}'/></Document>",
            "u".repeat(200_000)
        );
        refuses(&long, "a 200000-byte value");
        // The xml prefix may be declared, to its own namespace.
        let doc = format!("<Document xmlns='urn:example' xmlns:xml='{XML}' xml:lang='en'><A><B>1</B></A></Document>");
        assert_eq!(leaves(&doc).unwrap(), pairs(&[("A/B", "1")]));
    }

    #[test]
    fn prefixes_must_be_declared_on_attributes_as_on_elements() {
        refuses(
            "<Document xmlns='urn:example'><q:A/></Document>",
            "undeclared namespace prefix \"q\"",
        );
        for doc in [
            "<Document xmlns='urn:example'><A b:c='1'/></Document>",
            "<Document xmlns='urn:example'><A><B xmlns:b='urn:other'/><B b:c='1'>2</B></A></Document>",
            "<Document xmlns='urn:example'><A xmlnsb:c='1'/></Document>",
        ] {
            refuses(doc, "undeclared namespace prefix");
            refuses(doc, "on attribute");
        }
        // Declared on the element itself (before or after the attribute), or on an ancestor;
        // `xml` needs no declaration.
        let doc = "<Document xmlns='urn:example' xmlns:o='urn:other'><A p:x='1' xmlns:p='urn:p'><B o:y='2' xml:lang='en' xml:space='preserve'>3</B></A></Document>";
        assert_eq!(leaves(doc).unwrap(), pairs(&[("A/B", "3")]));
    }

    #[test]
    fn attributes_are_unique_by_namespace_and_local_name() {
        for doc in [
            "<Document xmlns='urn:example'><A xmlns:p='urn:u' xmlns:q='urn:u' p:x='1' q:x='2'/></Document>",
            "<Document xmlns='urn:example' xmlns:p='urn:u'><A xmlns:q='urn:u'><B q:x='1' y='2' p:x='3'/></A></Document>",
        ] {
            refuses(doc, "duplicate attribute");
            refuses(doc, "\"urn:u\"");
        }
        // The same local name in different namespaces, or in none, is another attribute; a
        // prefix redeclared on an inner element names the inner namespace.
        for doc in [
            "<Document xmlns='urn:example'><A xmlns:p='urn:u' xmlns:q='urn:v' p:x='1' q:x='2' x='3'/></Document>",
            "<Document xmlns='urn:example' xmlns:p='urn:u'><A xmlns:p='urn:v' xmlns:q='urn:u' p:x='1' q:x='2'/></Document>",
        ] {
            assert!(leaves(doc).is_ok(), "{doc:?}: {:?}", leaves(doc));
        }
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let deep = format!(
            "<Document xmlns='urn:example'>{}{}</Document>",
            "<a>".repeat(40),
            "</a>".repeat(40)
        );
        assert!(leaves(&deep).unwrap_err().0.contains("deeper"));
        let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert!(read_fields(&big, &[SCHEMA], |_, _| Ok(()))
            .unwrap_err()
            .0
            .contains("limit"));
        assert!(read_fields(b"\xff", &[SCHEMA], |_, _| Ok(()))
            .unwrap_err()
            .0
            .contains("UTF-8"));
    }

    #[test]
    fn attributes_are_available_on_leaves() {
        let doc = "<Document xmlns='urn:example'><Amt Ccy='EUR'>1.00</Amt></Document>";
        let mut ccy = None;
        read_fields(doc.as_bytes(), &[SCHEMA], |_, leaf| {
            ccy = leaf.attribute("Ccy");
            Ok(())
        })
        .unwrap();
        assert_eq!(ccy, Some("EUR"));
    }
}
