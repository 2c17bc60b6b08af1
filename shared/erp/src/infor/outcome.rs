//! Outcomes coming back through ION (reference §5.5): `Acknowledge<Noun>`
//! answering a Process BOD, and `ConfirmBOD` (requested by the
//! `ConfirmationCode`). Read by local element names, so any namespace
//! prefix (or none) works.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::InforError;

/// What the ERP said about one BOD we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InforOutcome {
    /// The BODID of the BOD it answers (ours), for correlation.
    pub bod_id: String,
    /// Our DocumentID (from the answered BODID, or the ConfirmBOD's `NounID`).
    pub document_id: String,
    /// The noun answered (`SupplierInvoice`, `SourceSystemJournalEntry`).
    pub noun: String,
    /// Accepted (`Accepted`/`Modified`, or a `BODSuccessMessage`) or refused.
    pub accepted: bool,
    /// The ERP's own id of the document (an Acknowledge's `DisplayID`), if given.
    pub erp_id: Option<String>,
    /// The ERP's explanation (error descriptions, the response's text), if any.
    pub message: Option<String>,
}

/// Reads an `Acknowledge<Noun>` or `ConfirmBOD`.
pub fn parse_outcome(xml: &str) -> Result<InforOutcome, InforError> {
    let root = parse(xml).map_err(|detail| malformed(format!("it is not well-formed XML: {detail}")))?;
    if root.name == "ConfirmBOD" {
        confirm(&root)
    } else if let Some(noun) = root.name.strip_prefix("Acknowledge").filter(|n| !n.is_empty()) {
        acknowledge(&root, noun)
    } else {
        Err(malformed(format!("<{}> is neither an Acknowledge<Noun> nor a ConfirmBOD", root.name)))
    }
}

fn malformed(detail: String) -> InforError {
    InforError::Malformed { what: "an ION outcome BOD", detail }
}

/// The BODID of the BOD an outcome answers: `OriginalApplicationArea/BODID`
/// (`outcome` names the outcome BOD for the message).
fn original_bod_id(root: &Element, outcome: &str) -> Result<String, InforError> {
    root.find("OriginalApplicationArea")
        .and_then(|a| a.child("BODID"))
        .map(Element::text)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| malformed(format!("the {outcome} has no OriginalApplicationArea/BODID")))
}

/// `DataArea/Acknowledge/OriginalApplicationArea/BODID`, then the response code.
fn acknowledge(root: &Element, noun: &str) -> Result<InforOutcome, InforError> {
    let original = original_bod_id(root, "Acknowledge")?;
    let expression = root
        .find("ResponseExpression")
        .ok_or_else(|| malformed("the Acknowledge has no ResponseCriteria/ResponseExpression".into()))?;
    let accepted = match expression.attribute("actionCode") {
        Some("Accepted" | "Modified") => true,
        Some("Rejected") => false,
        other => {
            return Err(malformed(format!(
                "ResponseExpression@actionCode is `{}`, expected Accepted, Modified or Rejected",
                other.unwrap_or("")
            )));
        }
    };
    let identity = parse_bod_id(&original);
    let document_id = identity.as_ref().map(|i| i.document_id.clone()).unwrap_or_default();
    let answered = root.child("DataArea").and_then(|d| d.child(noun));
    // The ERP's id: a DisplayID, else an id differing from ours.
    let erp_id = answered.and_then(|n| {
        n.find("DisplayID").map(Element::text).filter(|t| !t.is_empty() && *t != document_id).or_else(|| {
            n.descendants()
                .filter(|e| e.name == "JournalID" || (e.name == "ID" && e.parent_is_document_id))
                .map(Element::text)
                .find(|t| !t.is_empty() && *t != document_id)
        })
    });
    let mut messages = vec![expression.text()];
    if let Some(criteria) = root.find("ResponseCriteria") {
        messages.extend(
            criteria.descendants().filter(|e| matches!(e.name.as_str(), "Description" | "Reason")).map(Element::text),
        );
    }
    Ok(InforOutcome {
        noun: identity.map(|i| i.noun).unwrap_or_else(|| noun.to_owned()),
        bod_id: original,
        document_id,
        accepted,
        erp_id,
        message: join(messages),
    })
}

/// `DataArea/Confirm/OriginalApplicationArea/BODID` and `DataArea/BOD/BODSuccessMessage|BODFailureMessage`.
fn confirm(root: &Element) -> Result<InforOutcome, InforError> {
    let original = original_bod_id(root, "ConfirmBOD")?;
    let failure = root.find("BODFailureMessage");
    let success = root.find("BODSuccessMessage");
    let Some(outcome) = failure.or(success) else {
        return Err(malformed("the ConfirmBOD has neither a BODSuccessMessage nor a BODFailureMessage".into()));
    };
    let identity = parse_bod_id(&original);
    let noun_id = outcome.find("NounID").map(Element::text).filter(|t| !t.is_empty());
    let document_id = noun_id.or_else(|| identity.as_ref().map(|i| i.document_id.clone())).unwrap_or_default();
    let messages = outcome
        .descendants()
        .filter(|e| matches!(e.name.as_str(), "ErrorProcessMessage" | "WarningProcessMessage"))
        .filter_map(|m| m.child("Description").map(Element::text));
    Ok(InforOutcome {
        bod_id: original,
        document_id,
        noun: identity.map(|i| i.noun).unwrap_or_default(),
        accepted: failure.is_none(),
        // A success may name the ERP's id next to ours.
        erp_id: outcome.find("DisplayID").map(Element::text).filter(|t| !t.is_empty()),
        message: join(messages),
    })
}

fn join(messages: impl IntoIterator<Item = String>) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for m in messages.into_iter().map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()) {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    if seen.is_empty() { None } else { Some(seen.join("; ")) }
}

/// The parts of our BODID that correlate an outcome.
struct BodIdentity {
    document_id: String,
    noun: String,
}

/// `infor-nid:<ti>:<entity>:<location>:<documentId>:<variation>?<Noun>&verb=<Verb>`.
fn parse_bod_id(text: &str) -> Option<BodIdentity> {
    let rest = text.strip_prefix("infor-nid:")?;
    let (nid, query) = rest.split_once('?')?;
    let mut head = nid.splitn(4, ':');
    let (_tenant, _entity, _location, tail) = (head.next()?, head.next()?, head.next()?, head.next()?);
    let (document_id, _variation) = tail.rsplit_once(':')?;
    let noun = query.split('&').next()?;
    Some(BodIdentity { document_id: document_id.to_owned(), noun: noun.to_owned() })
}

/// A parsed element: local names only.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
    /// Whether the parent is a `DocumentID` (for `DocumentID/ID`).
    parent_is_document_id: bool,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first descendant named `name`, depth first.
    fn find(&self, name: &str) -> Option<&Element> {
        self.descendants().find(|e| e.name == name)
    }

    fn descendants(&self) -> impl Iterator<Item = &Element> {
        let mut stack: Vec<&Element> = self.children.iter().rev().collect();
        std::iter::from_fn(move || {
            let next = stack.pop()?;
            stack.extend(next.children.iter().rev());
            Some(next)
        })
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        self.text.trim().to_owned()
    }
}

fn local(name: &[u8]) -> String {
    let local = name.rsplit(|b| *b == b':').next().unwrap_or(name);
    String::from_utf8_lossy(local).into_owned()
}

/// Why an outcome BOD is not well-formed XML.
#[derive(Debug, thiserror::Error)]
enum NotWellFormed {
    #[error("{source} at byte {position}")]
    Syntax {
        #[source]
        source: quick_xml::Error,
        position: u64,
    },
    /// An attribute, escape or encoding the reader refused.
    #[error(transparent)]
    Content(#[from] quick_xml::Error),
    #[error("elements nest deeper than {} levels", MAX_DEPTH)]
    TooDeep,
    #[error("more than one root element")]
    TwoRoots,
    #[error("an end tag without a start")]
    EndWithoutStart,
    #[error("unknown entity `&{0};`")]
    UnknownEntity(String),
    #[error("the document ends inside an element")]
    Unclosed,
    #[error("there is no root element")]
    NoRoot,
}

fn element(start: &BytesStart<'_>, parent: Option<&Element>) -> Result<Element, NotWellFormed> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(quick_xml::Error::from)?;
        let key = local(attribute.key.as_ref());
        if attribute.key.as_ref().starts_with(b"xmlns") {
            continue;
        }
        let value = attribute.unescape_value()?.into_owned();
        attributes.push((key, value));
    }
    Ok(Element {
        name: local(start.name().as_ref()),
        attributes,
        children: Vec::new(),
        text: String::new(),
        parent_is_document_id: parent.is_some_and(|p| p.name == "DocumentID"),
    })
}

/// How deep an outcome BOD may nest. Real ones nest about ten levels; the
/// limit keeps a hostile document from building a tree so deep that
/// dropping it overflows the stack (about 50 000 levels abort the process).
const MAX_DEPTH: usize = 64;

/// Puts a finished element under its parent, or makes it the root.
fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), NotWellFormed> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => return Err(NotWellFormed::TwoRoots),
    }
    Ok(())
}

/// The text of a character or predefined entity reference.
fn entity(reference: &quick_xml::events::BytesRef<'_>) -> Result<String, NotWellFormed> {
    if let Some(c) = reference.resolve_char_ref()? {
        return Ok(c.to_string());
    }
    let name = reference.decode().map_err(quick_xml::Error::from)?;
    Ok(match name.as_ref() {
        "amp" => "&".into(),
        "lt" => "<".into(),
        "gt" => ">".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        other => return Err(NotWellFormed::UnknownEntity(other.to_owned())),
    })
}

/// A small tree of the document (outcome BODs are small).
fn parse(xml: &str) -> Result<Element, NotWellFormed> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|source| NotWellFormed::Syntax { source, position: reader.error_position() })?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(NotWellFormed::TooDeep);
                }
                let el = element(&start, stack.last())?;
                stack.push(el);
            }
            Event::Empty(start) => {
                let el = element(&start, stack.last())?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::End(_) => {
                let el = stack.pop().ok_or(NotWellFormed::EndWithoutStart)?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text.decode().map_err(quick_xml::Error::from)?);
                }
            }
            Event::CData(data) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&data.decode().map_err(quick_xml::Error::from)?);
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = entity(&reference)?;
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(NotWellFormed::Unclosed);
    }
    root.ok_or(NotWellFormed::NoRoot)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOD_ID: &str = "infor-nid:ACME_TST:1000::CNQ-8842:7?SupplierInvoice&amp;verb=Process";

    #[test]
    fn an_accepted_acknowledge_carries_the_erp_id() {
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <AcknowledgeSupplierInvoice xmlns="http://schema.infor.com/InforOAGIS/2" releaseID="9.2">
              <ApplicationArea><BODID>infor-nid:ACME_TST:1000::SI-1:1?SupplierInvoice&amp;verb=Acknowledge</BODID></ApplicationArea>
              <DataArea>
                <Acknowledge>
                  <TenantID>ACME_TST</TenantID>
                  <OriginalApplicationArea><BODID>{BOD_ID}</BODID></OriginalApplicationArea>
                  <ResponseCriteria><ResponseExpression actionCode="Accepted"/></ResponseCriteria>
                </Acknowledge>
                <SupplierInvoice><SupplierInvoiceHeader>
                  <DocumentID><ID accountingEntity="1000" variationID="7">CNQ-8842</ID></DocumentID>
                  <DisplayID>SI-000042</DisplayID>
                </SupplierInvoiceHeader></SupplierInvoice>
              </DataArea>
            </AcknowledgeSupplierInvoice>"#
        );
        let outcome = parse_outcome(&xml).unwrap();
        assert_eq!(
            outcome,
            InforOutcome {
                bod_id: "infor-nid:ACME_TST:1000::CNQ-8842:7?SupplierInvoice&verb=Process".into(),
                document_id: "CNQ-8842".into(),
                noun: "SupplierInvoice".into(),
                accepted: true,
                erp_id: Some("SI-000042".into()),
                message: None,
            }
        );
    }

    #[test]
    fn a_rejected_acknowledge_with_prefixes_carries_the_reason() {
        let xml = r#"<oa:AcknowledgeSourceSystemJournalEntry xmlns:oa="http://schema.infor.com/InforOAGIS/2">
              <oa:DataArea><oa:Acknowledge>
                <oa:OriginalApplicationArea><oa:BODID>infor-nid:ACME_TST:1000::CNQ-1-2of3:3?SourceSystemJournalEntry&amp;verb=Process</oa:BODID></oa:OriginalApplicationArea>
                <oa:ResponseCriteria>
                  <oa:ResponseExpression actionCode="Rejected">GL account 9999 &lt;unknown&gt;</oa:ResponseExpression>
                  <oa:ChangeStatus><oa:Reason>Account &#x27;9999&#x27; is closed</oa:Reason></oa:ChangeStatus>
                </oa:ResponseCriteria>
              </oa:Acknowledge></oa:DataArea>
            </oa:AcknowledgeSourceSystemJournalEntry>"#;
        let outcome = parse_outcome(xml).unwrap();
        assert!(!outcome.accepted);
        assert_eq!(outcome.document_id, "CNQ-1-2of3");
        assert_eq!(outcome.noun, "SourceSystemJournalEntry");
        assert_eq!(outcome.erp_id, None);
        assert_eq!(outcome.message.as_deref(), Some("GL account 9999 <unknown>; Account '9999' is closed"));
    }

    #[test]
    fn confirm_bods_report_failure_and_success() {
        let failure = r#"<ConfirmBOD xmlns="http://schema.infor.com/InforOAGIS/2" releaseID="9.2">
              <DataArea>
                <Confirm><OriginalApplicationArea><BODID>infor-nid:ACME_TST:1000::CNQ-8842:7?SupplierInvoice&amp;verb=Process</BODID></OriginalApplicationArea></Confirm>
                <BOD><BODFailureMessage>
                  <ErrorProcessMessage><Description>Supplier EMPX is unknown</Description></ErrorProcessMessage>
                  <ErrorProcessMessage><Description>Account 9999 is unknown</Description></ErrorProcessMessage>
                  <NounOutcome><NounID>CNQ-8842</NounID></NounOutcome>
                </BODFailureMessage></BOD>
              </DataArea>
            </ConfirmBOD>"#;
        let outcome = parse_outcome(failure).unwrap();
        assert!(!outcome.accepted);
        assert_eq!((outcome.document_id.as_str(), outcome.noun.as_str()), ("CNQ-8842", "SupplierInvoice"));
        assert_eq!(outcome.message.as_deref(), Some("Supplier EMPX is unknown; Account 9999 is unknown"));

        let success = failure
            .replace("BODFailureMessage", "BODSuccessMessage")
            .replace("<NounID>CNQ-8842</NounID>", "<NounID>CNQ-8842</NounID><DisplayID>SI-000042</DisplayID>")
            .replace(
                "<ErrorProcessMessage><Description>Supplier EMPX is unknown</Description></ErrorProcessMessage>",
                "",
            )
            .replace(
                "<ErrorProcessMessage><Description>Account 9999 is unknown</Description></ErrorProcessMessage>",
                "",
            );
        let outcome = parse_outcome(&success).unwrap();
        assert!(outcome.accepted);
        assert_eq!(outcome.erp_id.as_deref(), Some("SI-000042"));
        assert_eq!(outcome.message, None);
    }

    #[test]
    fn anything_else_is_malformed() {
        for xml in [
            "<SyncSupplierPartyMaster/>",
            "<ConfirmBOD><DataArea/></ConfirmBOD>",
            "<AcknowledgeSupplierInvoice><DataArea><Acknowledge><OriginalApplicationArea><BODID>x</BODID></OriginalApplicationArea><ResponseCriteria><ResponseExpression actionCode=\"Maybe\"/></ResponseCriteria></Acknowledge></DataArea></AcknowledgeSupplierInvoice>",
            "<ConfirmBOD><DataArea>",
            "not xml at all <",
        ] {
            let e = parse_outcome(xml).unwrap_err();
            assert!(matches!(e, InforError::Malformed { .. }), "{xml}: {e}");
        }
    }

    #[test]
    fn a_deeply_nested_document_is_refused_not_a_stack_overflow() {
        let depth = 100_000;
        let xml = format!("<ConfirmBOD>{}{}</ConfirmBOD>", "<a>".repeat(depth), "</a>".repeat(depth));
        let e = parse_outcome(&xml).unwrap_err();
        assert!(e.to_string().contains("deeper than 64 levels"), "{e}");
        // Self-closing elements at the limit are no way around it either.
        let xml = format!("<ConfirmBOD>{}<b/>{}</ConfirmBOD>", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(parse_outcome(&xml).is_err());
    }
}
