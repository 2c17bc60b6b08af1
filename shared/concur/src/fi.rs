//! Financial Integration v4 document pages.
//!
//! Concur documents one envelope (`content` / `page` / `links`) and its own
//! example files use another (`fIDocuments` / `nextPage`); `document` may be a
//! JSON object or a JSON-encoded string. [`DocumentPage::parse`] accepts all
//! of these so the rest of the code sees one shape.
//!
//! Listing ([`ConcurClient::fi_ready_page`]) asks for pages by number and
//! uses the envelope's `next` only as the "there is more" signal: the
//! documented links point at an internal host (`https://fiserviceurlhere/…`),
//! and the bearer token must only ever go to the token's own geolocation.

use domain::{ConcurDocumentId, DocumentType};
use serde::Deserialize;
use serde_json::Value;

use crate::client::{ConcurClient, ConcurError};
use crate::tokens::AccessToken;

/// Documents per GET page: the documented default (the maximum is not
/// documented, so we do not ask for more).
pub const PAGE_SIZE: u32 = 25;

/// The GET path of one page of READY documents of a type (financial-integration-v4.md §3).
pub fn ready_page_path(doc_type: DocumentType, page: u32, limit: u32) -> String {
    format!("/financialintegration/fi/v4/companies/transactiontypes/{doc_type}/transactions?limit={limit}&page={page}")
}

/// One FI document as queued in Concur.
#[derive(Debug, Clone, PartialEq)]
pub struct FiDocument {
    pub id: String,
    pub doc_type: String,
    pub doc_status: Option<String>,
    pub company_uuid: Option<String>,
    /// The ERP system that acknowledged the document (`erpSystemId`), if
    /// any; a confirmation must name the same system.
    pub erp_system_id: Option<String>,
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
    #[serde(default)]
    erp_system_id: Option<String>,
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

/// Why an FI page cannot be read. Concur sent it; nothing of it was used.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("FI page is not the expected JSON: {source}")]
    NotExpectedJson {
        #[source]
        source: serde_json::Error,
    },
    #[error("FI page has neither `content` nor `fIDocuments`")]
    NoDocuments,
    #[error("document {id} holds a string that is not JSON: {source}")]
    DocumentTextNotJson {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("document {id} is not a JSON object")]
    DocumentNotObject { id: String },
}

/// A document that can be keyed by neither its business id nor its FI id.
#[derive(Debug, thiserror::Error)]
#[error(
    "FI {doc_type} document {fi_id} has no usable business id and its FI id is unusable too ({source}); report it \
     to SAP Concur support"
)]
pub struct UnusableIdError {
    pub doc_type: String,
    /// The FI id, cut to 80 characters.
    pub fi_id: String,
    #[source]
    pub source: domain::ids::ParseError,
}

impl DocumentPage {
    /// Parses a GET response body in either envelope.
    pub fn parse(body: &[u8]) -> Result<Self, PageError> {
        let raw: RawPage = serde_json::from_slice(body).map_err(|source| PageError::NotExpectedJson { source })?;
        Self::from_raw(raw)
    }

    /// [`DocumentPage::parse`] for a body already read as JSON.
    pub fn from_value(body: Value) -> Result<Self, PageError> {
        let raw: RawPage = serde_json::from_value(body).map_err(|source| PageError::NotExpectedJson { source })?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawPage) -> Result<Self, PageError> {
        let (docs, next) = match (raw.content, raw.fi_documents) {
            (Some(docs), _) => {
                let next = raw.links.unwrap_or_default().into_iter().find(|l| l.rel == "next").map(|l| l.href);
                (docs, next)
            }
            (None, Some(docs)) => (docs, raw.next_page.filter(|n| !n.is_empty())),
            (None, None) => return Err(PageError::NoDocuments),
        };
        let documents = docs
            .into_iter()
            .map(|d| {
                let document = match d.document {
                    Value::String(text) => serde_json::from_str(&text)
                        .map_err(|source| PageError::DocumentTextNotJson { id: d.id.clone(), source })?,
                    other => other,
                };
                if !document.is_object() {
                    return Err(PageError::DocumentNotObject { id: d.id });
                }
                Ok(FiDocument {
                    id: d.id,
                    doc_type: d.doc_type,
                    doc_status: d.doc_status,
                    company_uuid: d.company_uuid,
                    erp_system_id: d.erp_system_id.filter(|s| !s.trim().is_empty()),
                    document,
                })
            })
            .collect::<Result<_, PageError>>()?;
        Ok(Self { documents, next })
    }
}

/// Which id a document is keyed by (see [`FiDocument::work_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkIdSource {
    /// The business id: `reportId`, `requestId` or `cashAdvanceId`.
    Business,
    /// The FI document id, because the business id is missing or unusable.
    FiDocument,
}

impl FiDocument {
    /// The business id inside the document: `report.reportId` (expense),
    /// `requestHeader.requestId` (invoice), `cashAdvanceData.cashAdvanceId`
    /// (cash advance); blanks around it trimmed (Concur pads some codes).
    pub fn business_id(&self) -> Option<&str> {
        let pointer = match self.doc_type.parse::<DocumentType>().ok()? {
            DocumentType::Expense => "/report/reportId",
            DocumentType::Invoice => "/requestHeader/requestId",
            DocumentType::CashAdvance => "/cashAdvanceData/cashAdvanceId",
        };
        self.document.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|id| !id.is_empty())
    }

    /// The id the connector keys this document by. The business id comes
    /// first: webhooks name only the report, and FI's `docId` query accepts
    /// it, so a document has one key whichever way it arrives. The FI id is
    /// the fallback for a document without a usable business id.
    pub fn work_id(&self) -> Result<(ConcurDocumentId, WorkIdSource), UnusableIdError> {
        if let Some(id) = self.business_id().and_then(|b| ConcurDocumentId::parse(b).ok()) {
            return Ok((id, WorkIdSource::Business));
        }
        ConcurDocumentId::parse(self.id.trim()).map(|id| (id, WorkIdSource::FiDocument)).map_err(|source| {
            UnusableIdError {
                doc_type: self.doc_type.clone(),
                fi_id: domain::text::truncate(&self.id, 80).to_owned(),
                source,
            }
        })
    }
}

impl ConcurClient {
    /// One page (0-based) of the company's READY documents of `doc_type`,
    /// [`PAGE_SIZE`] at a time, from the token's geolocation. Nothing is
    /// acknowledged: a READY document stays listed until the poster does.
    pub async fn fi_ready_page(
        &self,
        token: &AccessToken,
        doc_type: DocumentType,
        page: u32,
    ) -> Result<DocumentPage, ConcurError> {
        let body: Value = self.get_json(token, &ready_page_path(doc_type, page, PAGE_SIZE)).await?;
        DocumentPage::from_value(body)
            .map_err(|e| ConcurError::Malformed(format!("page {page} of the READY {doc_type} documents: {e}")))
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

    fn document(doc_type: &str, id: &str, document: Value) -> FiDocument {
        FiDocument {
            id: id.into(),
            doc_type: doc_type.into(),
            doc_status: None,
            company_uuid: None,
            erp_system_id: None,
            document,
        }
    }

    #[test]
    fn documents_are_keyed_by_their_business_id() {
        use serde_json::json;
        let fi = "e7f810cabc8348cdb051dd9431c8cfbb";
        let cases = [
            ("expense", json!({"report": {"reportId": "B1041655B4CE4171BDAA"}}), "B1041655B4CE4171BDAA"),
            ("invoice", json!({"requestHeader": {"requestId": "1D7E2C9A0B5F4E8D"}}), "1D7E2C9A0B5F4E8D"),
            (
                "cashadvance",
                json!({"cashAdvanceData": {"cashAdvanceId": " E2A086D30B88AE4683BC48ADE47B8116  "}}),
                "E2A086D30B88AE4683BC48ADE47B8116",
            ),
        ];
        for (doc_type, body, expected) in cases {
            let (id, source) = document(doc_type, fi, body).work_id().unwrap();
            assert_eq!((id.as_str(), source), (expected, WorkIdSource::Business), "{doc_type}");
        }
    }

    #[test]
    fn without_a_usable_business_id_the_fi_id_is_the_key() {
        use serde_json::json;
        let fi = "e7f810cabc8348cdb051dd9431c8cfbb";
        for body in [
            json!({}),
            json!({"report": {"reportId": null}}),
            json!({"report": {"reportId": ""}}),
            json!({"report": {"reportId": "has/slash"}}),
            json!({"report": {"reportId": "X".repeat(33)}}),
            // The invoice's id under another type's field does not count.
            json!({"requestHeader": {"requestId": "ABC"}}),
        ] {
            let (id, source) = document("expense", fi, body.clone()).work_id().unwrap();
            assert_eq!((id.as_str(), source), (fi, WorkIdSource::FiDocument), "{body}");
        }
        let err = document("payroll", "not/an/id", json!({})).work_id().unwrap_err().to_string();
        assert!(err.contains("not/an/id") && err.contains("SAP Concur"), "{err}");
    }

    #[test]
    fn every_shipped_example_has_a_business_id() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/fi-examples");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let page = DocumentPage::parse(&std::fs::read(&path).unwrap()).unwrap();
                let (id, source) = page.documents[0].work_id().unwrap();
                assert_eq!(source, WorkIdSource::Business, "{path:?}");
                // The file names carry the business id.
                assert!(path.to_string_lossy().contains(id.as_str()), "{path:?} {id}");
            }
        }
    }

    #[test]
    fn pages_are_asked_for_by_number_and_size() {
        assert_eq!(
            ready_page_path(DocumentType::CashAdvance, 2, PAGE_SIZE),
            "/financialintegration/fi/v4/companies/transactiontypes/cashadvance/transactions?limit=25&page=2"
        );
        let page = DocumentPage::from_value(serde_json::json!({"content": [], "links": []})).unwrap();
        assert_eq!((page.documents.len(), page.next), (0, None));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(DocumentPage::parse(b"{}").is_err());
        assert!(DocumentPage::parse(b"[1,2]").is_err());
        assert!(DocumentPage::parse(br#"{"content":[{"id":"a","docType":"expense","document":"not json"}]}"#).is_err());
    }
}
