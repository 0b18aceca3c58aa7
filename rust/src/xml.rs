//! XML on both sides of the wire: an escaping writer into one buffer, and a guarded reader.
//!
//! The reader walks untrusted bytes with quick-xml and hands over leaf values by element path;
//! it refuses DTDs, undeclared entities, oversize input and deep nesting before anything else.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::error::ReadError;

/// Appends `text` to `out` with the five XML special characters escaped.
pub fn escape_into(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut copied = 0;
    for (i, byte) in bytes.iter().enumerate() {
        let replacement: &[u8] = match byte {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\'' => b"&apos;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[copied..i]);
        out.extend_from_slice(replacement);
        copied = i + 1;
    }
    out.extend_from_slice(&bytes[copied..]);
}

/// `&quot;` is the longest escape: six bytes for one.
const ESCAPE_GROWTH: usize = 6;

/// Writes one document, compact, straight into a buffer sized by the caller.
pub struct XmlWriter {
    buf: Vec<u8>,
}

impl XmlWriter {
    /// A buffer size no document can outgrow: `markup` bytes of tags and unescaped values,
    /// plus the escapable `texts` at their worst-case escaped length.
    pub fn worst_case(markup: usize, texts: &[&str]) -> usize {
        markup + ESCAPE_GROWTH * texts.iter().map(|t| t.len()).sum::<usize>()
    }

    /// Starts a document with its XML declaration and the root `Document` in `namespace`.
    pub fn document(capacity: usize, namespace: &str) -> Self {
        let mut writer = Self {
            buf: Vec::with_capacity(capacity),
        };
        writer
            .buf
            .extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        writer.start_with_attr("Document", "xmlns", namespace);
        writer
    }

    pub fn start(&mut self, tag: &str) {
        self.buf.push(b'<');
        self.buf.extend_from_slice(tag.as_bytes());
        self.buf.push(b'>');
    }

    pub fn start_with_attr(&mut self, tag: &str, name: &str, value: &str) {
        self.buf.push(b'<');
        self.buf.extend_from_slice(tag.as_bytes());
        self.buf.push(b' ');
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b"=\"");
        escape_into(&mut self.buf, value);
        self.buf.extend_from_slice(b"\">");
    }

    pub fn end(&mut self, tag: &str) {
        self.buf.extend_from_slice(b"</");
        self.buf.extend_from_slice(tag.as_bytes());
        self.buf.push(b'>');
    }

    pub fn text(&mut self, text: &str) {
        escape_into(&mut self.buf, text);
    }

    /// `<tag>text</tag>`, the shape of every value in an ISO 20022 message.
    pub fn leaf(&mut self, tag: &str, text: &str) {
        self.start(tag);
        self.text(text);
        self.end(tag);
    }

    /// Closes the root element and returns the document.
    pub fn finish(mut self) -> Vec<u8> {
        self.end("Document");
        self.buf
    }
}

/// Documents larger than this are refused unread: answers are a few hundred bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Deeper nesting is refused: the deepest path paywire reads is 7 levels.
pub const MAX_DEPTH: usize = 32;

/// A leaf element (no child elements) as the reader hands it over.
pub struct Leaf<'i, 'w> {
    /// Local names from the message root (the child of `Document`) down to this element.
    pub path: &'w [&'w str],
    /// The text content, entities resolved, XML whitespace trimmed at both ends.
    pub text: Cow<'i, str>,
    start: &'w BytesStart<'i>,
}

impl Leaf<'_, '_> {
    /// An unprefixed attribute's raw value; callers check it against a pattern, so entity
    /// references in it simply fail that check.
    pub fn attribute(&self, name: &str) -> Option<Cow<'_, str>> {
        self.start
            .try_get_attribute(name)
            .ok()
            .flatten()
            .map(|attr| attr.value)
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

/// Text gathered for the current element; borrowed unless entities or comments split it.
enum Gathered<'i> {
    Nothing,
    Borrowed(Cow<'i, str>),
    Owned(String),
}

impl<'i> Gathered<'i> {
    fn push(&mut self, piece: Cow<'i, str>) {
        *self = match std::mem::replace(self, Self::Nothing) {
            Self::Nothing => Self::Borrowed(piece),
            Self::Borrowed(first) => Self::Owned(first.into_owned() + &piece),
            Self::Owned(mut text) => {
                text.push_str(&piece);
                Self::Owned(text)
            }
        };
    }

    fn take_trimmed(&mut self) -> Cow<'i, str> {
        match std::mem::replace(self, Self::Nothing) {
            Self::Nothing => Cow::Borrowed(""),
            Self::Borrowed(Cow::Borrowed(text)) => Cow::Borrowed(text.trim_matches(is_xml_space)),
            Self::Borrowed(Cow::Owned(text)) | Self::Owned(text) => {
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

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The XML 1.0 `Char` production: anything else makes a document not well-formed.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn check_chars(text: &str) -> Result<(), ReadError> {
    // Control bytes are the only illegal characters that can appear raw in valid UTF-8 input
    // apart from U+FFFE/U+FFFF, so the byte scan is enough for the common case.
    if text
        .bytes()
        .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        || text.contains(['\u{FFFE}', '\u{FFFF}'])
    {
        return Err(ReadError::new("text holds a character XML does not allow"));
    }
    Ok(())
}

fn malformed(err: impl std::fmt::Display) -> ReadError {
    ReadError::new(format!("not well-formed XML: {err}"))
}

/// Walks `input` and calls `visit` for every leaf element in the document's namespace.
///
/// The root must be `Document` in one of `namespaces`; its index is passed to `visit` and
/// returned. Elements in other namespaces are skipped with everything below them.
pub fn read_leaves<'i>(
    input: &'i [u8],
    namespaces: &[&str],
    mut visit: impl FnMut(usize, Leaf<'i, '_>) -> Result<(), ReadError>,
) -> Result<usize, ReadError> {
    if input.len() > MAX_DOCUMENT_BYTES {
        return Err(ReadError::new(format!(
            "document of {} bytes exceeds the {MAX_DOCUMENT_BYTES}-byte limit",
            input.len()
        )));
    }
    let text =
        std::str::from_utf8(input).map_err(|_| ReadError::new("document is not valid UTF-8"))?;
    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;

    // Open elements below the root; `None` marks an element outside the document namespace.
    let mut open: [Option<BytesStart<'i>>; MAX_DEPTH] = [const { None }; MAX_DEPTH];
    let mut depth = 0usize;
    let mut foreign_depth: Option<usize> = None;
    let mut document: Option<usize> = None;
    let mut root_closed = false;
    // True while the innermost open element has had no child element yet.
    let mut is_leaf = false;
    let mut gathered = Gathered::Nothing;

    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(malformed)?;
        let outside_root = document.is_none() || root_closed;
        match event {
            Event::Start(start) => {
                if root_closed {
                    return Err(ReadError::new("content after the root element"));
                }
                let Some(doc) = document else {
                    if start.local_name().as_ref() != "Document" {
                        return Err(ReadError::new("the root element is not Document"));
                    }
                    let ResolveResult::Bound(ns) = resolved else {
                        return Err(ReadError::new("the root element has no namespace"));
                    };
                    let index = namespaces.iter().position(|expected| *expected == ns.0);
                    document = Some(index.ok_or_else(|| {
                        ReadError::new(format!("unexpected namespace {:?}", ns.0))
                    })?);
                    continue;
                };
                if depth == MAX_DEPTH {
                    return Err(ReadError::new(format!(
                        "elements nested deeper than {MAX_DEPTH}"
                    )));
                }
                let in_document = foreign_depth.is_none()
                    && matches!(resolved, ResolveResult::Bound(ns) if ns.0 == namespaces[doc]);
                if !in_document && foreign_depth.is_none() {
                    foreign_depth = Some(depth);
                }
                open[depth] = in_document.then_some(start);
                depth += 1;
                is_leaf = true;
                gathered = Gathered::Nothing;
            }
            Event::End(_) => {
                if depth == 0 {
                    root_closed = true;
                    continue;
                }
                if let (true, Some(doc), Some(start)) = (is_leaf, document, &open[depth - 1]) {
                    let text = gathered.take_trimmed();
                    check_chars(&text)?;
                    let mut names = [""; MAX_DEPTH];
                    for (name, element) in names.iter_mut().zip(&open[..depth]) {
                        *name = element.as_ref().map_or("", |e| e.local_name().into_inner());
                    }
                    visit(
                        doc,
                        Leaf {
                            path: &names[..depth],
                            text,
                            start,
                        },
                    )?;
                }
                depth -= 1;
                open[depth] = None;
                if foreign_depth == Some(depth) {
                    foreign_depth = None;
                }
                is_leaf = false;
                gathered = Gathered::Nothing;
            }
            Event::Text(text) => {
                if is_leaf {
                    gathered.push(text.xml10_content());
                } else if outside_root && !text.trim_matches(is_xml_space).is_empty() {
                    return Err(ReadError::new("text outside the root element"));
                }
            }
            Event::CData(cdata) => {
                if outside_root {
                    return Err(ReadError::new("text outside the root element"));
                }
                if is_leaf {
                    gathered.push(cdata.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                let c = match reference.resolve_char_ref().map_err(malformed)? {
                    Some(c) if is_xml_char(c) => c,
                    Some(c) => {
                        return Err(ReadError::new(format!(
                            "character reference to U+{:04X}, which XML does not allow",
                            u32::from(c)
                        )))
                    }
                    None => match reference.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => {
                            return Err(ReadError::new(format!("undeclared entity &{other};")))
                        }
                    },
                };
                if outside_root {
                    return Err(ReadError::new("text outside the root element"));
                }
                if is_leaf {
                    gathered.push(Cow::Owned(c.to_string()));
                }
            }
            Event::DocType(_) => return Err(ReadError::new("DOCTYPE is not allowed")),
            Event::Decl(decl) => {
                if let Some(encoding) = decl.encoding() {
                    let encoding = encoding.map_err(malformed)?;
                    if !encoding.eq_ignore_ascii_case("utf-8") {
                        return Err(ReadError::new(format!(
                            "encoding {encoding:?} is not UTF-8"
                        )));
                    }
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            // `expand_empty_elements` turns `<a/>` into Start and End, so this never arrives.
            Event::Empty(_) => return Err(ReadError::new("unexpected empty-element event")),
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

    fn leaves(input: &str) -> Result<Vec<(String, String)>, ReadError> {
        let mut out = Vec::new();
        read_leaves(input.as_bytes(), &[NS], |_, leaf| {
            out.push((leaf.path.join("/"), leaf.text.into_owned()));
            Ok(())
        })?;
        Ok(out)
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn escape_covers_the_five_specials() {
        let mut out = Vec::new();
        escape_into(&mut out, r#"a&b<c>d"e'f"#);
        assert_eq!(out, b"a&amp;b&lt;c&gt;d&quot;e&apos;f");
    }

    #[test]
    fn writer_produces_a_declared_namespaced_document() {
        let mut w = XmlWriter::document(64, NS);
        w.start("A");
        w.leaf("B", "x&y");
        w.end("A");
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
        let doc = "<Document xmlns='urn:example' xmlns:o='urn:other'><A><o:B>1</o:B><o:X><C>2</C></o:X><D>3</D></A></Document>";
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
                "U+0001",
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

    #[test]
    fn depth_and_size_are_bounded() {
        let deep = format!(
            "<Document xmlns='urn:example'>{}{}</Document>",
            "<a>".repeat(40),
            "</a>".repeat(40)
        );
        assert!(leaves(&deep).unwrap_err().0.contains("deeper"));
        let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert!(read_leaves(&big, &[NS], |_, _| Ok(()))
            .unwrap_err()
            .0
            .contains("limit"));
        assert!(read_leaves(b"\xff", &[NS], |_, _| Ok(()))
            .unwrap_err()
            .0
            .contains("UTF-8"));
    }

    #[test]
    fn attributes_are_available_on_leaves() {
        let doc = "<Document xmlns='urn:example'><Amt Ccy='EUR'>1.00</Amt></Document>";
        let mut ccy = None;
        read_leaves(doc.as_bytes(), &[NS], |_, leaf| {
            ccy = leaf.attribute("Ccy").map(Cow::into_owned);
            Ok(())
        })
        .unwrap();
        assert_eq!(ccy.as_deref(), Some("EUR"));
    }
}
