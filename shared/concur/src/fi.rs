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

use std::fmt;

use domain::normalize::MemberName;
use domain::{
    ConcurDocumentId, DocumentType, JournalEntry, NormalizeError, NormalizeOptions, normalize_json, normalize_typed,
};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

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
    /// The business id inside the document (see [`FiDocument::business_id`]).
    pub business_id: Option<String>,
    /// The document turned into its balanced entry as it was read, for a
    /// read that asked for it ([`Reading::Entries`], [`Reading::EntriesAs`]); the entry or the
    /// refusal that names the JSON path.
    pub normalized: Option<Result<JournalEntry, NormalizeError>>,
}

/// A page of documents and where the next one is.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentPage {
    pub documents: Vec<FiDocument>,
    /// Absolute URL of the next page, when there is one.
    pub next: Option<String>,
}

/// What a page read makes of each document.
#[derive(Debug, Clone, Copy)]
pub enum Reading<'r> {
    /// The envelope and the business id (listing a queue).
    Ids,
    /// Also each document normalized as its `docType`, keyed by its
    /// [`FiDocument::work_id`] (a preview of a page).
    Entries(&'r NormalizeOptions),
    /// Also each document normalized as `doc_type`, keyed by `key`: the
    /// document fetched to be posted as a work item.
    EntriesAs { doc_type: DocumentType, key: &'r ConcurDocumentId, options: &'r NormalizeOptions },
}

impl Reading<'_> {
    /// The type to read a document as, once known.
    fn doc_type(&self, listed_as: Option<&str>) -> Option<DocumentType> {
        match self {
            Reading::EntriesAs { doc_type, .. } => Some(*doc_type),
            Reading::Ids | Reading::Entries(_) => listed_as?.parse().ok(),
        }
    }

    /// What `document` is normalized as, when this reading normalizes it:
    /// its type, its key and the options.
    fn normalizing(&self, document: &FiDocument) -> Option<(DocumentType, ConcurDocumentId, &NormalizeOptions)> {
        match *self {
            Reading::Ids => None,
            Reading::Entries(options) => Some((document.doc_type.parse().ok()?, document.work_id().ok()?.0, options)),
            Reading::EntriesAs { doc_type, key, options } => Some((doc_type, key.clone(), options)),
        }
    }
}

/// Why an FI page cannot be read. Concur sent it; nothing of it was used.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("FI page is not UTF-8 text: {source}")]
    NotUtf8 {
        #[source]
        source: std::str::Utf8Error,
    },
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
    /// Reads a GET response body in either envelope: the envelopes and the
    /// business ids ([`Reading::Ids`]).
    pub fn parse(body: &[u8]) -> Result<Self, PageError> {
        Self::read(body, Reading::Ids)
    }

    /// Reads a GET response body in either envelope, each document as
    /// `reading` asks.
    ///
    /// One pass: each `document` is read into the typed structs of its type
    /// where it stands, and normalized from them (nothing of it is built
    /// that the normalizer does not read). A page that pass cannot take (a
    /// document sent as a JSON-encoded string, or one whose objects and
    /// arrays are not where they belong) is read again member by member, so
    /// that one bad document is refused alone, naming its JSON path.
    pub fn read(body: &[u8], reading: Reading<'_>) -> Result<Self, PageError> {
        let text = std::str::from_utf8(body).map_err(|source| PageError::NotUtf8 { source })?;
        let mut json = serde_json::Deserializer::from_str(text);
        match PageSeed(reading).deserialize(&mut json).and_then(|page| json.end().map(|()| page)) {
            Ok(page) => page.finish(),
            Err(_) => Self::read_slowly(text, reading),
        }
    }

    /// [`DocumentPage::read`] member by member: each document kept as its
    /// JSON text, then read on its own.
    fn read_slowly(text: &str, reading: Reading<'_>) -> Result<Self, PageError> {
        let raw: RawPage<RawDocument<'_>> =
            serde_json::from_str(text).map_err(|source| PageError::NotExpectedJson { source })?;
        let documents = |docs: Vec<RawDocument<'_>>| -> Result<Vec<FiDocument>, PageError> {
            docs.into_iter().map(|d| d.read(reading)).collect()
        };
        let page = RawPage {
            content: raw.content.map(documents).transpose()?,
            fi_documents: raw.fi_documents.map(documents).transpose()?,
            links: raw.links,
            next_page: raw.next_page,
        };
        page.finish()
    }
}

/// A page's members, whichever envelope it comes in.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "D: Deserialize<'de>"))]
struct RawPage<D> {
    #[serde(default)]
    content: Option<Vec<D>>,
    #[serde(default)]
    links: Option<Vec<Link>>,
    #[serde(default, rename = "fIDocuments")]
    fi_documents: Option<Vec<D>>,
    #[serde(default)]
    next_page: Option<String>,
}

#[derive(Deserialize)]
struct Link {
    rel: String,
    href: String,
}

impl RawPage<FiDocument> {
    fn finish(self) -> Result<DocumentPage, PageError> {
        match (self.content, self.fi_documents) {
            (Some(documents), _) => {
                let next = self.links.unwrap_or_default().into_iter().find(|l| l.rel == "next").map(|l| l.href);
                Ok(DocumentPage { documents, next })
            }
            (None, Some(documents)) => Ok(DocumentPage { documents, next: self.next_page.filter(|n| !n.is_empty()) }),
            (None, None) => Err(PageError::NoDocuments),
        }
    }
}

/// The envelope of one document with its document as JSON text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDocument<'a> {
    id: String,
    doc_type: String,
    #[serde(default)]
    doc_status: Option<String>,
    #[serde(default)]
    company_uuid: Option<String>,
    #[serde(default)]
    erp_system_id: Option<String>,
    #[serde(borrow)]
    document: &'a RawValue,
}

impl RawDocument<'_> {
    fn read(self, reading: Reading<'_>) -> Result<FiDocument, PageError> {
        let decoded: String;
        let mut json = self.document.get();
        if json.starts_with('"') {
            decoded = serde_json::from_str(json)
                .map_err(|source| PageError::DocumentTextNotJson { id: self.id.clone(), source })?;
            json = decoded.trim();
        }
        let value: Value = serde_json::from_str(json)
            .map_err(|source| PageError::DocumentTextNotJson { id: self.id.clone(), source })?;
        if !value.is_object() {
            return Err(PageError::DocumentNotObject { id: self.id });
        }
        let business_id = business_id_in(&self.doc_type, &value).map(str::to_owned);
        let mut document = Envelope {
            id: Some(self.id),
            doc_type: Some(self.doc_type),
            doc_status: self.doc_status,
            company_uuid: self.company_uuid,
            erp_system_id: self.erp_system_id,
        }
        .document(business_id);
        document.normalized = reading
            .normalizing(&document)
            .map(|(doc_type, key, options)| normalize_json(doc_type, &key, json, options));
        Ok(document)
    }
}

/// The business id inside a document read as a JSON value.
fn business_id_in<'v>(doc_type: &str, document: &'v Value) -> Option<&'v str> {
    let pointer = match doc_type.parse::<DocumentType>().ok()? {
        DocumentType::Expense => "/report/reportId",
        DocumentType::Invoice => "/requestHeader/requestId",
        DocumentType::CashAdvance => "/cashAdvanceData/cashAdvanceId",
    };
    document.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|id| !id.is_empty())
}

/// The envelope members of one document, as read so far.
#[derive(Default)]
struct Envelope {
    id: Option<String>,
    doc_type: Option<String>,
    doc_status: Option<String>,
    company_uuid: Option<String>,
    erp_system_id: Option<String>,
}

impl Envelope {
    fn document(self, business_id: Option<String>) -> FiDocument {
        FiDocument {
            id: self.id.unwrap_or_default(),
            doc_type: self.doc_type.unwrap_or_default(),
            doc_status: self.doc_status,
            company_uuid: self.company_uuid,
            erp_system_id: self.erp_system_id.filter(|s| !s.trim().is_empty()),
            business_id,
            normalized: None,
        }
    }
}

/// The one-pass read of a page (see [`DocumentPage::read`]). Any error
/// sends the page to the member-by-member read, which words it.
#[derive(Clone, Copy)]
struct PageSeed<'r>(Reading<'r>);

impl<'de> DeserializeSeed<'de> for PageSeed<'_> {
    type Value = RawPage<FiDocument>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_> {
    type Value = RawPage<FiDocument>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an FI page")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut page = RawPage { content: None, links: None, fi_documents: None, next_page: None };
        while let Some(MemberName(key)) = map.next_key()? {
            match key.as_ref() {
                "content" => page.content = Some(map.next_value_seed(DocumentsSeed(self.0))?),
                "fIDocuments" => page.fi_documents = Some(map.next_value_seed(DocumentsSeed(self.0))?),
                "links" => page.links = map.next_value()?,
                "nextPage" => page.next_page = map.next_value()?,
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(page)
    }
}

struct DocumentsSeed<'r>(Reading<'r>);

impl<'de> DeserializeSeed<'de> for DocumentsSeed<'_> {
    type Value = Vec<FiDocument>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for DocumentsSeed<'_> {
    type Value = Vec<FiDocument>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of FI documents")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut documents = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(PAGE_SIZE as usize));
        while let Some(document) = seq.next_element_seed(DocumentSeed(self.0))? {
            documents.push(document);
        }
        Ok(documents)
    }
}

/// One document of a page, its `document` read into typed structs where it
/// stands: as the type it is fetched as, or as its `docType` when that came
/// first; otherwise kept as text and read once the envelope is complete.
struct DocumentSeed<'r>(Reading<'r>);

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = FiDocument;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = FiDocument;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an FI document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FiDocument, A::Error> {
        let mut envelope = Envelope::default();
        let (mut typed, mut text) = (None, None);
        while let Some(MemberName(key)) = map.next_key()? {
            match key.as_ref() {
                "id" => envelope.id = Some(map.next_value()?),
                "docType" => envelope.doc_type = Some(map.next_value()?),
                "docStatus" => envelope.doc_status = map.next_value()?,
                "companyUuid" => envelope.company_uuid = map.next_value()?,
                "erpSystemId" => envelope.erp_system_id = map.next_value()?,
                "document" => match self.0.doc_type(envelope.doc_type.as_deref()) {
                    Some(doc_type) => typed = Some(map.next_value_seed(domain::DocumentSeed(doc_type))?),
                    None => text = Some(map.next_value::<&'de RawValue>()?),
                },
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        if envelope.id.is_none() || envelope.doc_type.is_none() {
            return Err(de::Error::custom("an FI document without its id or docType"));
        }
        let typed = match (typed, text, self.0.doc_type(envelope.doc_type.as_deref())) {
            (Some(typed), _, _) => typed,
            (None, Some(text), Some(doc_type)) => domain::DocumentSeed(doc_type)
                .deserialize(&mut serde_json::Deserializer::from_str(text.get()))
                .map_err(de::Error::custom)?,
            // No document, or one of a type this connector does not read.
            _ => return Err(de::Error::custom("an FI document without a document of a known type")),
        };
        let business_id = match envelope.doc_type.as_deref().map(str::parse::<DocumentType>) {
            Some(Ok(listed)) if listed == typed.doc_type() => typed.business_id().map(str::to_owned),
            _ => None,
        };
        let mut document = envelope.document(business_id);
        document.normalized =
            self.0.normalizing(&document).map(|(_, key, options)| normalize_typed(&key, &typed, options));
        Ok(document)
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
        self.business_id.as_deref()
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
        let body = self.get_body(token, &ready_page_path(doc_type, page, PAGE_SIZE)).await?;
        DocumentPage::parse(&body)
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
        assert_eq!((page.documents[0].id.as_str(), page.documents[0].business_id()), ("e7f8", None));
    }

    #[test]
    fn every_shipped_example_file_parses() {
        let files = example_files();
        for (path, bytes) in &files {
            let page = DocumentPage::parse(bytes).unwrap();
            assert_eq!(page.documents.len(), 1, "{path:?}");
            assert_eq!(page.next, None);
        }
        assert_eq!(files.len(), 15);
    }

    /// The document as a page read gives it.
    fn document(doc_type: &str, id: &str, document: Value) -> FiDocument {
        let page = serde_json::json!({"fIDocuments": [{"id": id, "docType": doc_type, "document": document}]});
        DocumentPage::parse(page.to_string().as_bytes()).unwrap().documents.remove(0)
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
        for (path, bytes) in example_files() {
            let page = DocumentPage::parse(&bytes).unwrap();
            let (id, source) = page.documents[0].work_id().unwrap();
            assert_eq!(source, WorkIdSource::Business, "{path:?}");
            // The file names carry the business id.
            assert!(path.to_string_lossy().contains(id.as_str()), "{path:?} {id}");
        }
    }

    #[test]
    fn pages_are_asked_for_by_number_and_size() {
        assert_eq!(
            ready_page_path(DocumentType::CashAdvance, 2, PAGE_SIZE),
            "/financialintegration/fi/v4/companies/transactiontypes/cashadvance/transactions?limit=25&page=2"
        );
        let page = DocumentPage::parse(br#"{"content": [], "links": []}"#).unwrap();
        assert_eq!((page.documents.len(), page.next), (0, None));
    }

    /// The first official example expense report's page.
    fn expense_example() -> Vec<u8> {
        example_files().into_iter().find(|(p, _)| p.to_string_lossy().contains("ReportID")).unwrap().1
    }

    /// The official example files (path, bytes), sorted by name.
    fn example_files() -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/fi-examples");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn the_examples_are_read_in_one_pass_as_member_by_member() {
        let options = NormalizeOptions::default();
        for (path, bytes) in example_files() {
            let text = std::str::from_utf8(&bytes).unwrap();
            for reading in [Reading::Ids, Reading::Entries(&options)] {
                let mut json = serde_json::Deserializer::from_str(text);
                let one_pass = PageSeed(reading).deserialize(&mut json).expect("one pass").finish().unwrap();
                let slowly = DocumentPage::read_slowly(text, reading).unwrap();
                assert_eq!(one_pass, slowly, "{path:?}");
            }
            // The entry is the normalizer's, from the document's own text.
            let page = DocumentPage::read(&bytes, Reading::Entries(&options)).unwrap();
            let d = &page.documents[0];
            let value: Value = serde_json::from_slice(&bytes).unwrap();
            let document = value["fIDocuments"][0]["document"].to_string();
            let expected = normalize_json(d.doc_type.parse().unwrap(), &d.work_id().unwrap().0, &document, &options);
            assert_eq!(d.normalized.as_ref(), Some(&expected), "{path:?}");
            assert!(expected.is_ok(), "{path:?}");
        }
    }

    #[test]
    fn a_document_fetched_to_post_is_normalized_as_its_work_item_says() {
        let options = NormalizeOptions::default();
        let bytes = &expense_example();
        let key = ConcurDocumentId::parse("KEYOFTHEWORKITEM").unwrap();
        let reading = Reading::EntriesAs { doc_type: DocumentType::Expense, key: &key, options: &options };
        let page = DocumentPage::read(bytes, reading).unwrap();
        let entry = page.documents[0].normalized.clone().unwrap().unwrap();
        assert_eq!(entry.header().document_id, key);
        // Ids only: nothing normalized.
        assert_eq!(DocumentPage::parse(bytes).unwrap().documents[0].normalized, None);
    }

    #[test]
    fn a_malformed_document_is_refused_alone_with_its_path() {
        let options = NormalizeOptions::default();
        let bytes = &expense_example();
        let good: Value = serde_json::from_slice(bytes).unwrap();
        let good = &good["fIDocuments"][0];
        let bad = serde_json::json!({"id": "f1", "docType": "expense",
            "document": {"report": {"reportId": "R1BAD"}, "expenseEntry": {"entryId": "1"}}});
        let page = serde_json::json!({"content": [bad, good]}).to_string();
        let page = DocumentPage::read(page.as_bytes(), Reading::Entries(&options)).unwrap();
        assert_eq!(page.documents.len(), 2);
        let refused = page.documents[0].normalized.clone().unwrap().unwrap_err();
        assert_eq!(refused.problem.path(), Some("document.expenseEntry"), "{refused}");
        assert_eq!(page.documents[0].business_id(), Some("R1BAD"));
        assert!(matches!(page.documents[1].normalized, Some(Ok(_))));
    }

    #[test]
    fn a_document_before_its_type_or_as_a_string_is_read_too() {
        let options = NormalizeOptions::default();
        let bytes = &expense_example();
        let file: Value = serde_json::from_slice(bytes).unwrap();
        let document = &file["fIDocuments"][0]["document"];
        let before_type =
            format!(r#"{{"fIDocuments": [{{"document": {document}, "id": "f1", "docType": "expense"}}]}}"#);
        let as_string =
            serde_json::json!({"fIDocuments": [{"id": "f1", "docType": "expense", "document": document.to_string()}]});
        for page in [before_type, as_string.to_string()] {
            let page = DocumentPage::read(page.as_bytes(), Reading::Entries(&options)).unwrap();
            let d = &page.documents[0];
            assert_eq!(d.business_id(), document["report"]["reportId"].as_str());
            assert!(matches!(d.normalized, Some(Ok(_))), "{:?}", d.normalized);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(DocumentPage::parse(b"{}").is_err());
        assert!(DocumentPage::parse(b"[1,2]").is_err());
        assert!(DocumentPage::parse(br#"{"content":[{"id":"a","docType":"expense","document":"not json"}]}"#).is_err());
    }
}
