//! A small, bounded element tree over quick-xml for the legacy XML answers
//! of Extract v1 and Payment Batch v1. Elements are matched by **local name,
//! case-insensitively**: Concur's own examples declare the namespace in
//! full, abbreviated or with an extra `xmlns:i`, and vary element casing
//! (extracts-and-payment-batches.md §2, §3). The answers are small (a job
//! list holds at most 100 jobs), so a tree is simpler than a streaming
//! state machine and the bounds keep it cheap.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};

use super::{ExtractXmlError, Link, MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_ELEMENTS};

/// One element: its local name as written, its own text (entities
/// resolved, not trimmed), its children and its path for error messages
/// (`BatchList/BatchSummary[2]`).
#[derive(Debug)]
pub(super) struct Element {
    name: String,
    path: String,
    text: String,
    children: Vec<Element>,
}

impl Element {
    pub(super) fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The children called `name`, in document order.
    pub(super) fn children_named<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s Element> {
        self.children.iter().filter(move |child| child.is(name))
    }

    /// The single child called `name`, if any. Two of them is an error: a
    /// field that says two things cannot be trusted to say either.
    pub(super) fn child(&self, name: &str) -> Result<Option<&Element>, ExtractXmlError> {
        let mut found = self.children_named(name);
        let first = found.next();
        if found.next().is_some() {
            return Err(ExtractXmlError::Repeated { path: self.field_path(name) });
        }
        Ok(first)
    }

    /// The trimmed text of the child `name`; `None` when absent or blank.
    pub(super) fn text(&self, name: &str) -> Result<Option<String>, ExtractXmlError> {
        Ok(self.child(name)?.map(|c| c.text.trim().to_owned()).filter(|t| !t.is_empty()))
    }

    /// As [`Self::text`], refusing an absent or blank child.
    pub(super) fn required_text(&self, name: &str) -> Result<String, ExtractXmlError> {
        self.text(name)?.ok_or_else(|| ExtractXmlError::Missing { path: self.field_path(name) })
    }

    /// The child `name` read as a link (whitespace inside removed, §3).
    pub(super) fn link(&self, name: &str) -> Result<Option<Link>, ExtractXmlError> {
        let Some(child) = self.child(name)? else {
            return Ok(None);
        };
        Link::parse(&child.text).map_err(|_| self.invalid(name, &child.text, "an absolute http(s) URL"))
    }

    /// As [`Self::link`], refusing an absent or blank child.
    pub(super) fn required_link(&self, name: &str) -> Result<Link, ExtractXmlError> {
        self.link(name)?.ok_or_else(|| ExtractXmlError::Missing { path: self.field_path(name) })
    }

    /// The path of a (possibly absent) child field, for error messages.
    pub(super) fn field_path(&self, name: &str) -> String {
        format!("{}/{name}", self.path)
    }

    /// An [`ExtractXmlError::Invalid`] for the child `name` holding `value`.
    pub(super) fn invalid(&self, name: &str, value: &str, expected: &'static str) -> ExtractXmlError {
        ExtractXmlError::Invalid { path: self.field_path(name), value: transport::short_reason(value), expected }
    }
}

/// Parses `body` into its root element, which must be called `root`
/// (case-insensitively, any namespace). Refuses, without panicking, a body
/// over [`MAX_DOCUMENT_BYTES`], nested deeper than [`MAX_DEPTH`], with more
/// than [`MAX_ELEMENTS`] elements, not UTF-8, not well-formed, or truncated.
pub(super) fn parse_root(body: &[u8], root: &'static str) -> Result<Element, ExtractXmlError> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(ExtractXmlError::TooLarge { bytes: body.len(), limit: MAX_DOCUMENT_BYTES });
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|e| ExtractXmlError::NotUtf8 { at_byte: e.valid_up_to() })?;
    let element = TreeBuilder::default().build(text)?;
    if !element.is(root) {
        return Err(ExtractXmlError::UnexpectedRoot { expected: root, found: transport::short_reason(&element.name) });
    }
    Ok(element)
}

fn syntax(at_byte: u64, source: impl Into<quick_xml::Error>) -> ExtractXmlError {
    ExtractXmlError::Syntax { at_byte, source: source.into() }
}

/// The open elements while reading, innermost last, and the finished root.
/// `seen[i]` counts the children of `open[i]` by lower-cased name, so a
/// child's position costs one lookup instead of a scan of its siblings
/// (a scan would make a crowded document quadratic).
#[derive(Default)]
struct TreeBuilder {
    open: Vec<Element>,
    seen: Vec<HashMap<String, usize>>,
    root: Option<Element>,
    elements: usize,
}

impl TreeBuilder {
    fn build(mut self, text: &str) -> Result<Element, ExtractXmlError> {
        let mut reader = Reader::from_str(text);
        loop {
            let event = reader.read_event().map_err(|e| syntax(reader.error_position(), e))?;
            match event {
                Event::Start(start) => {
                    let element = self.open_element(&start)?;
                    self.open.push(element);
                    self.seen.push(HashMap::new());
                }
                Event::Empty(start) => {
                    let element = self.open_element(&start)?;
                    self.close(element)?;
                }
                Event::End(_) => match self.open.pop() {
                    Some(element) => {
                        self.seen.pop();
                        self.close(element)?;
                    }
                    None => return Err(ExtractXmlError::Truncated { path: "(document)".to_owned() }),
                },
                Event::Text(content) => {
                    self.push_text(&content.decode().map_err(|e| syntax(reader.buffer_position(), e))?);
                }
                Event::CData(content) => {
                    self.push_text(&content.decode().map_err(|e| syntax(reader.buffer_position(), e))?);
                }
                Event::GeneralRef(reference) => {
                    let resolved = self.entity(&reference)?;
                    self.push_text(&resolved.to_string());
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if let Some(unclosed) = self.open.last() {
            return Err(ExtractXmlError::Truncated { path: unclosed.path.clone() });
        }
        self.root.ok_or(ExtractXmlError::Truncated { path: "(document)".to_owned() })
    }

    /// A new element under the innermost open one, within the bounds.
    fn open_element(&mut self, start: &BytesStart<'_>) -> Result<Element, ExtractXmlError> {
        let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        let path = match (self.open.last(), self.seen.last_mut()) {
            (Some(parent), Some(seen)) => {
                let nth = seen.entry(name.to_ascii_lowercase()).or_default();
                *nth += 1;
                format!("{}/{name}[{nth}]", parent.path)
            }
            _ => name.clone(),
        };
        if self.open.len() >= MAX_DEPTH {
            return Err(ExtractXmlError::TooDeep { path: transport::sanitized(&path, 200), limit: MAX_DEPTH });
        }
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(ExtractXmlError::TooManyElements { limit: MAX_ELEMENTS });
        }
        Ok(Element { name, path, text: String::new(), children: Vec::new() })
    }

    /// Puts a finished element under its parent, or makes it the root.
    fn close(&mut self, element: Element) -> Result<(), ExtractXmlError> {
        match self.open.last_mut() {
            Some(parent) => parent.children.push(element),
            None if self.root.is_none() => self.root = Some(element),
            None => return Err(ExtractXmlError::SecondRoot { path: element.path }),
        }
        Ok(())
    }

    /// Text belongs to the innermost open element; text outside the root is
    /// whitespace or junk quick-xml already accepted, and is ignored.
    fn push_text(&mut self, text: &str) {
        if let Some(current) = self.open.last_mut() {
            current.text.push_str(text);
        }
    }

    /// A character reference or one of XML's five predefined entities.
    /// Anything else would need a DTD, which these answers never carry, so
    /// it is refused rather than expanded.
    fn entity(&self, reference: &BytesRef<'_>) -> Result<char, ExtractXmlError> {
        let path = || self.open.last().map_or_else(|| "(document)".to_owned(), |e| e.path.clone());
        let unknown =
            |name: &str| ExtractXmlError::UnknownEntity { name: transport::sanitized(name, 40), path: path() };
        match reference.resolve_char_ref() {
            Ok(Some(c)) => return Ok(c),
            Ok(None) => {}
            Err(_) => return Err(unknown(&String::from_utf8_lossy(reference))),
        }
        match &*String::from_utf8_lossy(reference) {
            "amp" => Ok('&'),
            "lt" => Ok('<'),
            "gt" => Ok('>'),
            "quot" => Ok('"'),
            "apos" => Ok('\''),
            other => Err(unknown(other)),
        }
    }
}
