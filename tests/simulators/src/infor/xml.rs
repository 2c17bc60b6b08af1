//! A small namespace-aware element tree over quick-xml, enough to read BODs
//! strictly, and XML escaping for the outcome BODs the simulator writes.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

/// One element: resolved namespace, local name, attributes (local names), children, text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    text: String,
}

impl Element {
    /// The first child with this local name in namespace `ns`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name && c.ns.as_deref() == Some(ns))
    }

    /// Every child with this local name in namespace `ns`.
    pub fn children_named<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name && c.ns.as_deref() == Some(ns))
    }

    /// Follows child names (all in `ns`).
    pub fn path(&self, ns: &str, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |el, name| el.child(ns, name))
    }

    /// Trimmed text of the descendant at `names`, if present and non-empty.
    pub fn text_at(&self, ns: &str, names: &[&str]) -> Option<String> {
        self.path(ns, names).map(Element::text).filter(|t| !t.is_empty())
    }

    /// An unprefixed attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The element's own text, trimmed.
    pub fn text(&self) -> String {
        self.text.trim().to_owned()
    }
}

fn start(resolved: ResolveResult<'_>, e: &BytesStart<'_>) -> Result<Element, String> {
    let ns = match resolved {
        ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.0).into_owned()),
        ResolveResult::Unbound => None,
        ResolveResult::Unknown(prefix) => {
            return Err(format!("undeclared namespace prefix '{}'", String::from_utf8_lossy(&prefix)));
        }
    };
    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|err| format!("bad attribute on <{name}>: {err}"))?;
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        // Prefixed attributes (xsi:…) are kept under their qualified name.
        let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
        let value = attr.unescape_value().map_err(|err| format!("bad value of {key} on <{name}>: {err}"))?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element { ns, name, attrs, children: Vec::new(), text: String::new() })
}

/// Parses a whole document into its root element; any well-formedness error is refused.
pub(crate) fn parse(xml: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(xml).map_err(|e| format!("the document is not UTF-8: {e}"))?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (resolved, event) = match reader.read_resolved_event() {
            Ok((resolved, event)) => (resolved, event),
            Err(e) => {
                let message = e.to_string();
                return Err(format!("XML is not well-formed at byte {}: {message}", reader.error_position()));
            }
        };
        match event {
            Event::Start(e) => {
                let el = start(resolved, &e)?;
                if root.is_some() && stack.is_empty() {
                    return Err("XML has more than one root element".into());
                }
                stack.push(el);
            }
            Event::Empty(e) => {
                let el = start(resolved, &e)?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("XML has an unexpected end tag")?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| format!("bad text: {e}"))?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err("XML has text outside the root element".into()),
                }
            }
            Event::CData(c) => {
                let s = c.decode().map_err(|e| format!("bad CDATA: {e}"))?;
                let top = stack.last_mut().ok_or("XML has CDATA outside the root element")?;
                top.text.push_str(&s);
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref().map_err(|e| format!("bad character reference: {e}"))? {
                    Some(ch) => ch,
                    None => match r.decode().map_err(|e| format!("bad entity: {e}"))?.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(format!("undefined entity '&{other};'")),
                    },
                };
                let top = stack.last_mut().ok_or("XML has a reference outside the root element")?;
                top.text.push(ch);
            }
            Event::DocType(_) => return Err("DOCTYPE declarations are not accepted".into()),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(format!("XML ends inside <{}>", stack.last().map(|e| e.name.as_str()).unwrap_or("?")));
    }
    root.ok_or_else(|| "the document has no root element".into())
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_some() => return Err("XML has more than one root element".into()),
        None => *root = Some(el),
    }
    Ok(())
}

/// Escapes text or an attribute value.
pub(crate) fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "urn:x";

    #[test]
    fn reads_namespaces_entities_and_attributes() {
        let root = parse(
            br#"<?xml version="1.0"?><a:Root xmlns:a="urn:x" v="1&amp;2"><a:B>x &amp; y&#65;</a:B><C/></a:Root>"#,
        )
        .unwrap();
        assert_eq!(root.ns.as_deref(), Some(NS));
        assert_eq!(root.attr("v"), Some("1&2"));
        assert_eq!(root.text_at(NS, &["B"]).as_deref(), Some("x & yA"));
        assert!(root.child(NS, "C").is_none(), "C is in no namespace");
    }

    #[test]
    fn refuses_malformed_documents() {
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<a/><b/>").is_err());
        assert!(parse(b"<p:a/>").is_err());
        assert!(parse(b"<a>&nbsp;</a>").is_err());
    }
}
