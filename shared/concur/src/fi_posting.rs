//! The three Financial Integration v4 calls of the posting pipeline
//! (financial-integration-v4.md §3–§5, §7): fetch one document by id,
//! acknowledge documents, confirm their posting.
//!
//! Per-document outcomes come back inside HTTP 200 bodies as FI service
//! codes; they are typed as [`FiOutcome`] and never turned into errors, so
//! one bad document never hides the others of a batch. A `ConcurError` means
//! the whole call failed (401 → `Unauthorized`, other 4xx → `Rejected`,
//! 429/5xx retried by the transport, then `Transport`).
//!
//! Both POSTs are idempotent on Concur's side: acknowledging again answers
//! 101 "previously acknowledged" and confirming again answers 113
//! "confirmation has been posted", and both count as done. That is why they
//! are sent with `Idempotency::Safe` (retried on 429/5xx and timeouts).
//!
//! Items that would make Concur refuse the whole request (400 for a `docId`
//! over 32 characters, a `companyId` over 32, …) are refused here, before
//! sending, as [`FiOutcome::RefusedLocally`]; the rest of the batch is sent.

use std::collections::HashMap;

use domain::text::truncate;
use domain::{ConcurDocumentId, DocumentType, NormalizeOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::{ConcurClient, ConcurError};
use crate::fi::{DocumentPage, FiDocument, Reading};
use crate::tokens::AccessToken;

/// `docId` is a string ≤32 (§4, §5).
pub const MAX_DOC_ID: usize = 32;
/// `systemId` is a string ≤50 (§3–§5).
pub const MAX_SYSTEM_ID: usize = 50;
/// `postingDocs[].companyId` ≤32 (§5).
pub const MAX_COMPANY_ID: usize = 32;
/// `postingDocs[].documentNumber` ≤80 (§5).
pub const MAX_DOCUMENT_NUMBER: usize = 80;
/// `systemMessages[].messageShortText` ≤1300 (§5).
pub const MAX_MESSAGE: usize = 1300;
/// Documents per acknowledgement / confirmation request. Concur documents no
/// maximum; 25 is the documented GET page size, so one page of documents is
/// acknowledged (or confirmed) in one call and no request is larger than
/// anything Concur's own flow produces.
pub const BATCH_SIZE: usize = 25;

/// Message id put on the failure message shown on the report's audit trail.
const FAILURE_MESSAGE_ID: &str = "CONNECTOR-POSTING";

fn base_path(doc_type: DocumentType) -> String {
    format!("/financialintegration/fi/v4/companies/transactiontypes/{doc_type}/transactions")
}

/// GET path of one document by FI id or business id (§3). `docId` is
/// URL-encoded; paging does not apply to it.
pub fn document_path(doc_type: DocumentType, doc_id: &str, ignore_document_status: bool) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("docId", doc_id)
        .append_pair("ignoreDocumentStatus", if ignore_document_status { "yes" } else { "no" })
        .finish();
    format!("{}?{query}", base_path(doc_type))
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// A documented Concur limit an item breaks: it is not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokenLimit {
    #[error("the document id is empty")]
    EmptyDocId,
    #[error("the document id is longer than Concur's {} characters", MAX_DOC_ID)]
    DocIdTooLong,
    #[error("the system id is longer than Concur's {} characters; configure a shorter ERP system id", MAX_SYSTEM_ID)]
    SystemIdTooLong,
    #[error("a successful posting names no ERP document")]
    NoErpDocument,
    #[error("a failed posting gives no reason")]
    NoFailureReason,
    #[error("the ERP company id must have 1 to {} characters", MAX_COMPANY_ID)]
    CompanyIdLength,
    #[error("the ERP document number is longer than Concur's {} characters", MAX_DOCUMENT_NUMBER)]
    DocumentNumberTooLong,
}

/// A document id checked before it goes into a URL or body.
fn check_doc_id(doc_id: &str) -> Result<(), BrokenLimit> {
    if doc_id.trim().is_empty() {
        return Err(BrokenLimit::EmptyDocId);
    }
    if chars(doc_id) > MAX_DOC_ID {
        return Err(BrokenLimit::DocIdTooLong);
    }
    Ok(())
}

fn check_system_id(system_id: &str) -> Result<(), BrokenLimit> {
    if chars(system_id) > MAX_SYSTEM_ID {
        return Err(BrokenLimit::SystemIdTooLong);
    }
    Ok(())
}

// ------------------------------------------------------------------ outcomes

/// What Concur (or the local check) said about one document (§7). Client
/// logic keys on the numeric code; Concur's text is kept for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FiOutcome {
    /// 0: processed.
    Accepted,
    /// 101: already acknowledged (done).
    AlreadyAcknowledged,
    /// 113: a posting confirmation was already accepted (done).
    AlreadyConfirmed,
    /// 99: the document belongs to another ERP system id.
    SystemIdMismatch,
    /// 102 / 112: the processor recalled the document; it will come back READY if resubmitted.
    Recalled,
    /// 103: not READY, so it cannot be acknowledged.
    NotReady,
    /// 111: confirmed before being acknowledged: acknowledge first.
    NotAcknowledged,
    /// 114: Concur does not know the document's state.
    UnknownState,
    /// 104 / 116: Concur has no such document.
    NotFound,
    /// 105 / 115: the document is not of the docType called.
    WrongType,
    /// 198: invalid request; the same request will not work again.
    InvalidRequest,
    /// 199: unknown error on Concur's side; try again later.
    TryLater,
    /// Any other code.
    Other(i64),
    /// Concur's answer held no item for this document: its state is unknown.
    NoAnswer,
    /// Not sent: the item breaks a documented limit (the text says which).
    RefusedLocally(String),
}

impl FiOutcome {
    fn acknowledgement(code: i64) -> Self {
        match code {
            0 => Self::Accepted,
            99 => Self::SystemIdMismatch,
            101 => Self::AlreadyAcknowledged,
            102 => Self::Recalled,
            103 => Self::NotReady,
            104 => Self::NotFound,
            105 => Self::WrongType,
            198 => Self::InvalidRequest,
            199 => Self::TryLater,
            other => Self::Other(other),
        }
    }

    fn posting(code: i64) -> Self {
        match code {
            0 => Self::Accepted,
            99 => Self::SystemIdMismatch,
            111 => Self::NotAcknowledged,
            112 => Self::Recalled,
            113 => Self::AlreadyConfirmed,
            114 => Self::UnknownState,
            115 => Self::WrongType,
            116 => Self::NotFound,
            198 => Self::InvalidRequest,
            199 => Self::TryLater,
            other => Self::Other(other),
        }
    }

    /// Worth sending again later unchanged (Concur's transient code, or no answer).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::TryLater | Self::NoAnswer)
    }

    /// What an operator should do about a document left in this state.
    pub fn advice(&self) -> &'static str {
        match self {
            Self::Accepted | Self::AlreadyAcknowledged | Self::AlreadyConfirmed => "nothing to do",
            Self::SystemIdMismatch => {
                "the document is assigned to another ERP system id in Concur; check the connection's system id"
            }
            Self::Recalled => "the processor recalled it; it is picked up again when resubmitted",
            Self::NotReady => "it is not READY in Concur; fetch it again to see its status",
            Self::NotAcknowledged => "acknowledge it before confirming its posting",
            Self::UnknownState | Self::Other(_) => {
                "report the code and the concur-correlationid from the log to SAP Concur"
            }
            Self::NotFound => "Concur has no such document of this type; check the id",
            Self::WrongType => "the document is of another type; call with its own docType",
            Self::InvalidRequest | Self::RefusedLocally(_) => {
                "fix the data named in the message; resending it unchanged fails again"
            }
            Self::TryLater | Self::NoAnswer => "retried automatically later",
        }
    }
}

/// Raw result item of both POSTs (§4, §5).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResult {
    code: i64,
    #[serde(default)]
    doc_id: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default)]
    detail_message: Option<String>,
    #[serde(default)]
    acknowledge_result: Option<String>,
    #[serde(default)]
    posting_confirmation_result: Option<String>,
}

impl RawResult {
    fn message(&self) -> String {
        let parts: Vec<&str> = [self.error_message.as_deref(), self.detail_message.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect();
        truncate(&parts.join(" "), 600).to_owned()
    }
}

/// One document's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckResult {
    pub doc_id: String,
    pub outcome: FiOutcome,
    /// Concur's service code, when it answered for this document.
    pub code: Option<i64>,
    /// `acknowledgeResult` (`SUCCESS` / `FAILURE`), for logs only.
    pub result: Option<String>,
    /// Concur's (or the local check's) message; empty on success.
    pub message: String,
}

impl AckResult {
    /// Acknowledged: 0 now, or 101 earlier (by this or a previous run).
    pub fn is_done(&self) -> bool {
        matches!(self.outcome, FiOutcome::Accepted | FiOutcome::AlreadyAcknowledged)
    }

    /// A sentence for the log / the document's failure record.
    pub fn describe(&self) -> String {
        describe("acknowledging", &self.doc_id, &self.outcome, self.code, &self.message)
    }
}

/// One document's posting confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmResult {
    pub doc_id: String,
    pub outcome: FiOutcome,
    pub code: Option<i64>,
    /// `postingConfirmationResult`, for logs only (the code decides).
    pub result: Option<String>,
    pub message: String,
}

impl ConfirmResult {
    /// Confirmed: 0 now, or 113 earlier.
    pub fn is_done(&self) -> bool {
        matches!(self.outcome, FiOutcome::Accepted | FiOutcome::AlreadyConfirmed)
    }

    pub fn describe(&self) -> String {
        describe("confirming the posting of", &self.doc_id, &self.outcome, self.code, &self.message)
    }
}

fn describe(what: &str, doc_id: &str, outcome: &FiOutcome, code: Option<i64>, message: &str) -> String {
    let code = code.map(|c| format!("code {c}")).unwrap_or_else(|| "no code".into());
    let message = if message.is_empty() { String::new() } else { format!(": {message}") };
    format!("{what} FI document {doc_id}: {outcome:?} ({code}){message}; {}", outcome.advice())
}

// ------------------------------------------------------------------ requests

/// A document to acknowledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckItem {
    /// The FI document id (`FiDocument::id`), not the business id.
    pub doc_id: String,
    /// The ERP system id; `None` sends `""` (the field is required by the swagger).
    pub system_id: Option<String>,
}

/// An ERP document created by a successful posting (`postingDocs[]`, §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErpPostingDoc {
    /// ERP company code / organisational unit (required, ≤32).
    pub company_id: String,
    /// The ERP document number (≤80).
    pub document_number: Option<String>,
    /// Sent as a string, as the swagger and the example do.
    pub fiscal_year: Option<i32>,
    pub posting_date: Option<time::Date>,
}

/// How posting went in the ERP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostingOutcome {
    /// `success` with the ERP documents created (at least one reference expected).
    Posted(Vec<ErpPostingDoc>),
    /// `error`; the reason goes on the report's audit trail, cut to
    /// [`MAX_MESSAGE`] characters.
    Failed { reason: String },
}

/// A posting confirmation for one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingConfirmation {
    /// The FI document id (`FiDocument::id`).
    pub doc_id: String,
    /// Must be the system id the document was acknowledged with (else 99).
    pub system_id: Option<String>,
    pub outcome: PostingOutcome,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AckRequest<'a> {
    ids: Vec<&'a str>,
    system_id: &'a str,
}

fn posting_body(confirmation: &PostingConfirmation) -> Result<Value, BrokenLimit> {
    check_doc_id(&confirmation.doc_id)?;
    match &confirmation.outcome {
        PostingOutcome::Posted(docs) => {
            if docs.is_empty() {
                return Err(BrokenLimit::NoErpDocument);
            }
            let docs = docs.iter().map(posting_doc).collect::<Result<Vec<_>, _>>()?;
            Ok(json!({
                "docId": confirmation.doc_id,
                "overallPostingStatusCode": "success",
                "postingDocs": docs,
                "systemMessages": [],
            }))
        }
        PostingOutcome::Failed { reason } => {
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(BrokenLimit::NoFailureReason);
            }
            Ok(json!({
                "docId": confirmation.doc_id,
                "overallPostingStatusCode": "error",
                "postingDocs": [],
                "systemMessages": [{
                    "concurTransactionLineItemId": "",
                    "messageId": FAILURE_MESSAGE_ID,
                    "messageLanguage": "EN",
                    "messageLongText": "",
                    "messageShortText": truncate(reason, MAX_MESSAGE),
                }],
            }))
        }
    }
}

fn posting_doc(doc: &ErpPostingDoc) -> Result<Value, BrokenLimit> {
    let company_id = doc.company_id.trim();
    if company_id.is_empty() || chars(company_id) > MAX_COMPANY_ID {
        return Err(BrokenLimit::CompanyIdLength);
    }
    let mut value = json!({"companyId": company_id, "paymentRelevantLineItems": []});
    if let Some(number) = &doc.document_number {
        if chars(number) > MAX_DOCUMENT_NUMBER {
            return Err(BrokenLimit::DocumentNumberTooLong);
        }
        value["documentNumber"] = json!(number);
    }
    if let Some(year) = doc.fiscal_year {
        value["fiscalYear"] = json!(year.to_string());
    }
    if let Some(date) = doc.posting_date {
        value["postingDate"] = json!(format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day()));
    }
    Ok(value)
}

/// Indices of `items` grouped by system id (first-seen order), in chunks of [`BATCH_SIZE`].
fn batches(system_ids: &[&str]) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, system_id) in system_ids.iter().enumerate() {
        match groups.iter_mut().find(|(s, _)| s == system_id) {
            Some((_, indices)) => indices.push(i),
            None => groups.push(((*system_id).to_owned(), vec![i])),
        }
    }
    groups
        .into_iter()
        .flat_map(|(s, indices)| indices.chunks(BATCH_SIZE).map(|c| (s.clone(), c.to_vec())).collect::<Vec<_>>())
        .collect()
}

/// Assigns answer items to the sent documents by `docId` (each answer used once).
fn match_answers(sent: &[(usize, &str)], answers: Vec<RawResult>) -> HashMap<usize, RawResult> {
    let mut matched = HashMap::new();
    let mut unmatched = Vec::new();
    for answer in answers {
        let slot = sent.iter().find(|(i, id)| {
            !matched.contains_key(i) && answer.doc_id.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(id))
        });
        match slot {
            Some((i, _)) => {
                matched.insert(*i, answer);
            }
            None => unmatched.push(answer),
        }
    }
    // Answers without a usable docId, in order, for the documents still unanswered
    // (Concur answers one item per id, in request order).
    let mut rest = unmatched.into_iter().filter(|a| a.doc_id.as_deref().is_none_or(str::is_empty));
    for (i, _) in sent {
        if !matched.contains_key(i)
            && let Some(answer) = rest.next()
        {
            matched.insert(*i, answer);
        }
    }
    matched
}

impl ConcurClient {
    /// Every document Concur returns for `docId = business_or_fi_id` (§3):
    /// the report / payment-request / cash-advance id or the FI id.
    /// `ignore_document_status`: `true` returns documents in any status
    /// (re-fetching one already acknowledged), `false` only READY ones.
    ///
    /// A Vec because a business id may name several FI documents (a report
    /// resubmitted after a posting failure; whether it keeps its FI id is
    /// undocumented); only documents whose FI id or business id is the one
    /// asked for are kept. [`ConcurClient::fi_document`] picks one.
    pub async fn fi_documents(
        &self,
        token: &AccessToken,
        doc_type: DocumentType,
        business_or_fi_id: &str,
        ignore_document_status: bool,
    ) -> Result<Vec<FiDocument>, ConcurError> {
        let id = business_or_fi_id.trim();
        if let Err(problem) = check_doc_id(id) {
            return Err(ConcurError::Rejected {
                status: 400,
                message: format!("not sent: fetching {doc_type} document `{}`: {problem}", truncate(id, 80)),
            });
        }
        let body = self.get_body(token, &document_path(doc_type, id, ignore_document_status)).await?;
        // The entry's key: a work item's id always parses.
        let key = ConcurDocumentId::parse(id).map_err(|e| ConcurError::Rejected {
            status: 400,
            message: format!("not sent: fetching {doc_type} document `{}`: {e}", truncate(id, 80)),
        })?;
        let reading = Reading::EntriesAs { doc_type, key: &key, options: &NormalizeOptions::default() };
        let page = DocumentPage::read(&body, reading)
            .map_err(|e| ConcurError::Malformed(format!("the {doc_type} document `{id}`: {e}")))?;
        Ok(page.documents.into_iter().filter(|d| d.id == id || d.business_id() == Some(id)).collect())
    }

    /// The one document for `business_or_fi_id`, `None` when Concur has none
    /// (in the status asked for). Several candidates are picked from
    /// deterministically: the one whose FI id is `business_or_fi_id`, else a
    /// READY one (the submission waiting to be posted), else the first in
    /// Concur's order. Callers that must see every resubmission use
    /// [`ConcurClient::fi_documents`].
    pub async fn fi_document(
        &self,
        token: &AccessToken,
        doc_type: DocumentType,
        business_or_fi_id: &str,
        ignore_document_status: bool,
    ) -> Result<Option<FiDocument>, ConcurError> {
        let id = business_or_fi_id.trim();
        let mut documents = self.fi_documents(token, doc_type, id, ignore_document_status).await?;
        let pick = documents
            .iter()
            .position(|d| d.id == id)
            .or_else(|| documents.iter().position(|d| d.doc_status.as_deref() == Some("READY")))
            .or(if documents.is_empty() { None } else { Some(0) });
        Ok(pick.map(|i| documents.swap_remove(i)))
    }

    /// Acknowledges documents (§4): one result per item, in the items' order.
    /// Items are sent grouped by system id, [`BATCH_SIZE`] per request.
    pub async fn acknowledge(
        &self,
        token: &AccessToken,
        doc_type: DocumentType,
        items: &[AckItem],
    ) -> Result<Vec<AckResult>, ConcurError> {
        let path = format!("{}/acknowledgements", base_path(doc_type));
        let mut results: Vec<Option<AckResult>> = vec![None; items.len()];
        let refuse = |item: &AckItem, problem: BrokenLimit| AckResult {
            doc_id: item.doc_id.clone(),
            outcome: FiOutcome::RefusedLocally(problem.to_string()),
            code: None,
            result: None,
            message: problem.to_string(),
        };
        let system_ids: Vec<&str> = items.iter().map(|i| i.system_id.as_deref().unwrap_or("")).collect();
        for (system_id, indices) in batches(&system_ids) {
            let mut sent = Vec::new();
            for i in indices {
                let item = &items[i];
                match check_doc_id(&item.doc_id).and_then(|()| check_system_id(&system_id)) {
                    Ok(()) => sent.push((i, item.doc_id.as_str())),
                    Err(problem) => results[i] = Some(refuse(item, problem)),
                }
            }
            if sent.is_empty() {
                continue;
            }
            let request = AckRequest { ids: sent.iter().map(|(_, id)| *id).collect(), system_id: &system_id };
            let answers: Vec<RawResult> = self.post_json(token, &path, &request).await?;
            let mut matched = match_answers(&sent, answers);
            for (i, id) in &sent {
                results[*i] = Some(match matched.remove(i) {
                    Some(raw) => AckResult {
                        doc_id: (*id).to_owned(),
                        outcome: FiOutcome::acknowledgement(raw.code),
                        code: Some(raw.code),
                        message: raw.message(),
                        result: raw.acknowledge_result,
                    },
                    None => no_answer_ack(id),
                });
            }
        }
        Ok(results.into_iter().zip(items).map(|(r, item)| r.unwrap_or_else(|| no_answer_ack(&item.doc_id))).collect())
    }

    /// Confirms postings (§5): one result per confirmation, in order. A
    /// confirmation that breaks a documented limit is not sent
    /// ([`FiOutcome::RefusedLocally`]); a failure reason is cut to
    /// [`MAX_MESSAGE`] characters.
    pub async fn confirm_posting(
        &self,
        token: &AccessToken,
        doc_type: DocumentType,
        confirmations: &[PostingConfirmation],
    ) -> Result<Vec<ConfirmResult>, ConcurError> {
        let path = format!("{}/postingconfirmations", base_path(doc_type));
        let mut results: Vec<Option<ConfirmResult>> = vec![None; confirmations.len()];
        let system_ids: Vec<&str> = confirmations.iter().map(|c| c.system_id.as_deref().unwrap_or("")).collect();
        for (system_id, indices) in batches(&system_ids) {
            let mut sent = Vec::new();
            let mut bodies = Vec::new();
            for i in indices {
                let confirmation = &confirmations[i];
                match check_system_id(&system_id).and_then(|()| posting_body(confirmation)) {
                    Ok(body) => {
                        sent.push((i, confirmation.doc_id.as_str()));
                        bodies.push(body);
                    }
                    Err(problem) => {
                        results[i] = Some(ConfirmResult {
                            doc_id: confirmation.doc_id.clone(),
                            outcome: FiOutcome::RefusedLocally(problem.to_string()),
                            code: None,
                            result: None,
                            message: problem.to_string(),
                        });
                    }
                }
            }
            if sent.is_empty() {
                continue;
            }
            let request = json!({"systemId": system_id, "postingConfirmations": bodies});
            let answers: Vec<RawResult> = self.post_json(token, &path, &request).await?;
            let mut matched = match_answers(&sent, answers);
            for (i, id) in &sent {
                results[*i] = Some(match matched.remove(i) {
                    Some(raw) => ConfirmResult {
                        doc_id: (*id).to_owned(),
                        outcome: FiOutcome::posting(raw.code),
                        code: Some(raw.code),
                        message: raw.message(),
                        result: raw.posting_confirmation_result,
                    },
                    None => no_answer_confirm(id),
                });
            }
        }
        Ok(results
            .into_iter()
            .zip(confirmations)
            .map(|(r, c)| r.unwrap_or_else(|| no_answer_confirm(&c.doc_id)))
            .collect())
    }
}

const NO_ANSWER: &str = "Concur's answer held no item for this document";

fn no_answer_ack(doc_id: &str) -> AckResult {
    AckResult {
        doc_id: doc_id.to_owned(),
        outcome: FiOutcome::NoAnswer,
        code: None,
        result: None,
        message: NO_ANSWER.into(),
    }
}

fn no_answer_confirm(doc_id: &str) -> ConfirmResult {
    ConfirmResult {
        doc_id: doc_id.to_owned(),
        outcome: FiOutcome::NoAnswer,
        code: None,
        result: None,
        message: NO_ANSWER.into(),
    }
}
