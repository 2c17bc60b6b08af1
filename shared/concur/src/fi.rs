//! Financial Integration v4 document pages.
//!
//! Concur documents one envelope (`content` / `page` / `links`) and its own
//! example files use another (`fIDocuments` / `nextPage`); `document` may be a
//! JSON object or a JSON-encoded string. [`DocumentPage::parse`] accepts all
//! of these so the rest of the code sees one shape.

use serde::Deserialize;
use serde_json::Value;

/// One FI document as queued in Concur.
#[derive(Debug, Clone, PartialEq)]
pub struct FiDocument {
    pub id: String,
    pub doc_type: String,
    pub doc_status: Option<String>,
    pub company_uuid: Option<String>,
    /// The financial document itself, always as a JSON object.
    pub document: Value,
}

/// A page of documents and where the next one is.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentPage {
    pub documents: Vec<FiDocument>,
    /// Absolute URL of the next page, when there is one.
    pub next: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDocument {
    id: String,
    doc_type: String,
    #[serde(default)]
    doc_status: Option<String>,
    #[serde(default)]
    company_uuid: Option<String>,
    document: Value,
}

#[derive(Deserialize)]
struct Link {
    rel: String,
    href: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPage {
    #[serde(default)]
    content: Option<Vec<RawDocument>>,
    #[serde(default)]
    links: Option<Vec<Link>>,
    #[serde(default, rename = "fIDocuments")]
    fi_documents: Option<Vec<RawDocument>>,
    #[serde(default)]
    next_page: Option<String>,
}

impl DocumentPage {
    /// Parses a GET response body in either envelope.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let raw: RawPage =
            serde_json::from_slice(body).map_err(|e| format!("FI page is not the expected JSON: {e}"))?;
        let (docs, next) = match (raw.content, raw.fi_documents) {
            (Some(docs), _) => {
                let next = raw.links.unwrap_or_default().into_iter().find(|l| l.rel == "next").map(|l| l.href);
                (docs, next)
            }
            (None, Some(docs)) => (docs, raw.next_page.filter(|n| !n.is_empty())),
            (None, None) => return Err("FI page has neither `content` nor `fIDocuments`".into()),
        };
        let documents = docs
            .into_iter()
            .map(|d| {
                let document = match d.document {
                    Value::String(text) => serde_json::from_str(&text)
                        .map_err(|e| format!("document {} holds a string that is not JSON: {e}", d.id))?,
                    other => other,
                };
                if !document.is_object() {
                    return Err(format!("document {} is not a JSON object", d.id));
                }
                Ok(FiDocument {
                    id: d.id,
                    doc_type: d.doc_type,
                    doc_status: d.doc_status,
                    company_uuid: d.company_uuid,
                    document,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { documents, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_envelope_with_string_document() {
        let body = br#"{"links":[{"rel":"self","href":"https://x/p0"},{"rel":"next","href":"https://x/p1"}],
            "content":[{"id":"e7f8","docType":"expense","companyUuid":"c","document":"{\"report\":{}}","docStatus":"READY","links":[]}],
            "page":{"size":1,"totalElements":2,"totalPages":2,"number":0}}"#;
        let page = DocumentPage::parse(body).unwrap();
        assert_eq!(page.next.as_deref(), Some("https://x/p1"));
        assert_eq!(page.documents[0].document, serde_json::json!({"report": {}}));
    }

    #[test]
    fn every_shipped_example_file_parses() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/fi-examples");
        let mut parsed = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let page = DocumentPage::parse(&std::fs::read(&path).unwrap()).unwrap();
                assert_eq!(page.documents.len(), 1, "{path:?}");
                assert_eq!(page.next, None);
                parsed += 1;
            }
        }
        assert_eq!(parsed, 15);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(DocumentPage::parse(b"{}").is_err());
        assert!(DocumentPage::parse(b"[1,2]").is_err());
        assert!(DocumentPage::parse(br#"{"content":[{"id":"a","docType":"expense","document":"not json"}]}"#).is_err());
    }
}
