//! FI document → one balanced [`JournalEntry`] (issue 5, "Normalization").
//!
//! The rules are those of financial-integration-v4.md §9 (checked against
//! every official example in `tests/fixtures/fi-examples/EXPECTED.md`):
//!
//! * **Expense report** — per `expenseEntry[].allocation[].journal[]` row with
//!   gross g on account A (fallback: the entry's `clearingAccountCode`):
//!   the account side gets g, split into `amountNetOfTax` plus one line per
//!   referenced tax row (`amountReclaim` reclaimable, `amountTax −
//!   amountReclaim` non-deductible); the counter side gets −g against
//!   `journalPayee` when `journalPayer` is the company, else against
//!   `journalPayer` (`EMPL` → the employee, any other code → that payment
//!   type). Each `cashAdvanceApplication[]` amount (negative = recovered) goes
//!   to its clearing account, the opposite to the employee.
//! * **Cash advance** — each `journalData[]` row on its account (DR/CR), the
//!   opposite against the payee (the employee).
//! * **Invoice** — no Concur use case or example exists (§9.3 "docs silent");
//!   the shape follows §8.2: per `lineItem[].allocation[].journal` DR account
//!   `amountGross − tax`, DR one tax line per tax row, one CR to the vendor for
//!   the total, which must equal `requestTotal`.
//!
//! Zero lines are dropped (a 0 reclaim posts nothing). Nothing is rounded or
//! netted. Any missing or contradictory input refuses the whole document with
//! a [`NormalizeError`] naming the JSON path; there is no partial result.

mod cash_advance;
mod document;
mod expense;
mod invoice;
mod json;

use std::borrow::Cow;

use serde_json::Value;

use crate::ids::{ConcurDocumentId, DocumentType};
use crate::journal::{CostObject, EntryError, EntryHeader, JournalEntry, JournalLine};
pub use document::Key as MemberName;
use document::{Numbered, Typed};
use json::{At, Raw};

/// Per-connection choices that shape normalization (not the mapping itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// The payment code that means "the company" (`COMP` in every example).
    pub company_code: String,
    /// The payment code that means "the employee" (`EMPL` in every example).
    pub employee_code: String,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        Self { company_code: "COMP".to_owned(), employee_code: "EMPL".to_owned() }
    }
}

/// What is wrong with the document, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{path} is missing, null or empty")]
    Missing { path: String },
    #[error("{path} should be {expected} but is {found}")]
    Invalid { path: String, expected: &'static str, found: String },
    #[error("{path}: {detail}")]
    Inconsistent { path: String, detail: String },
    #[error(transparent)]
    Entry(#[from] EntryError),
}

impl Problem {
    pub(crate) fn missing(path: impl Into<String>) -> Self {
        Problem::Missing { path: path.into() }
    }

    pub(crate) fn invalid(path: &str, expected: &'static str, found: &str) -> Self {
        let found = crate::text::ellipsized_bytes(found, 60);
        Problem::Invalid { path: path.to_owned(), expected, found }
    }

    pub(crate) fn inconsistent(path: impl Into<String>, detail: impl Into<String>) -> Self {
        Problem::Inconsistent { path: path.into(), detail: detail.into() }
    }

    /// The JSON path concerned, when there is one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Problem::Missing { path } | Problem::Invalid { path, .. } | Problem::Inconsistent { path, .. } => {
                Some(path)
            }
            Problem::Entry(_) => None,
        }
    }

    fn advice(&self) -> &'static str {
        match self {
            Problem::Entry(EntryError::Empty) => {
                "the document carries no amount; if that is expected, confirm it to Concur without an ERP document"
            }
            _ => {
                "the document is incomplete or contradictory as Concur sent it: send an error posting \
                 confirmation so the processor can recall, fix and resubmit it, or raise it with Concur support"
            }
        }
    }
}

/// A document refused by the normalizer; nothing of it may be posted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot post {doc_type} document {document_id}: {problem}. Nothing was posted; {}", .problem.advice())]
pub struct NormalizeError {
    pub doc_type: DocumentType,
    pub document_id: ConcurDocumentId,
    pub problem: Problem,
}

/// JSON path prefix of the financial document inside the FI envelope.
pub const DOCUMENT_PATH: &str = "document";

/// Normalizes one FI document (`FiDocument.document`) into a balanced entry.
pub fn normalize(
    doc_type: DocumentType,
    document_id: &ConcurDocumentId,
    document: &Value,
    options: &NormalizeOptions,
) -> Result<JournalEntry, NormalizeError> {
    let typed = match doc_type {
        DocumentType::Expense => document::parse_value(document, DOCUMENT_PATH).map(Typed::Expense),
        DocumentType::CashAdvance => document::parse_value(document, DOCUMENT_PATH).map(Typed::CashAdvance),
        DocumentType::Invoice => document::parse_value(document, DOCUMENT_PATH).map(Typed::Invoice),
    };
    finish(doc_type, document_id, typed.and_then(|typed| draft(&typed, options)))
}

/// Like [`normalize`], from the document's JSON text (as the FI API's
/// `DocumentFormatAs: text` returns it).
pub fn normalize_json(
    doc_type: DocumentType,
    document_id: &ConcurDocumentId,
    document_json: &str,
    options: &NormalizeOptions,
) -> Result<JournalEntry, NormalizeError> {
    let typed = match doc_type {
        DocumentType::Expense => document::parse(document_json, DOCUMENT_PATH).map(Typed::Expense),
        DocumentType::CashAdvance => document::parse(document_json, DOCUMENT_PATH).map(Typed::CashAdvance),
        DocumentType::Invoice => document::parse(document_json, DOCUMENT_PATH).map(Typed::Invoice),
    };
    match typed {
        Ok(typed) => finish(doc_type, document_id, draft(&typed, options)),
        Err(_) => explain_refusal(doc_type, document_id, document_json, options),
    }
}

/// A document of a known type read into its typed structs, borrowed from
/// the input: see [`DocumentSeed`].
pub struct TypedDocument<'a>(Typed<'a>);

impl TypedDocument<'_> {
    pub fn doc_type(&self) -> DocumentType {
        match self.0 {
            Typed::Expense(_) => DocumentType::Expense,
            Typed::CashAdvance(_) => DocumentType::CashAdvance,
            Typed::Invoice(_) => DocumentType::Invoice,
        }
    }

    /// The business id as Concur sent it: `report.reportId`,
    /// `requestHeader.requestId` or `cashAdvanceData.cashAdvanceId`, blanks
    /// around it trimmed (Concur pads some codes); `None` unless it is a
    /// non-empty string.
    pub fn business_id(&self) -> Option<&str> {
        let raw = match &self.0 {
            Typed::Expense(doc) => &doc.report.as_ref()?.report_id,
            Typed::CashAdvance(doc) => &doc.cash_advance_data.as_ref()?.cash_advance_id,
            Typed::Invoice(doc) => &doc.request_header.as_ref()?.request_id,
        };
        match raw {
            Some(json::Scalar::Text(text)) => Some(text.trim()).filter(|id| !id.is_empty()),
            _ => None,
        }
    }
}

/// Reads the document of a known type where it stands, e.g. as the
/// `document` member of an FI envelope whose `docType` came first: the
/// envelope and the document are then parsed in one pass.
///
/// It fails on a document whose objects or arrays are not where they belong;
/// [`normalize_json`] of the document's text explains such a refusal.
#[derive(Debug, Clone, Copy)]
pub struct DocumentSeed(pub DocumentType);

impl<'de> serde::de::DeserializeSeed<'de> for DocumentSeed {
    type Value = TypedDocument<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        use serde::Deserialize;
        Ok(TypedDocument(match self.0 {
            DocumentType::Expense => Typed::Expense(Deserialize::deserialize(deserializer)?),
            DocumentType::CashAdvance => Typed::CashAdvance(Deserialize::deserialize(deserializer)?),
            DocumentType::Invoice => Typed::Invoice(Deserialize::deserialize(deserializer)?),
        }))
    }
}

/// Like [`normalize_json`], from a document read with [`DocumentSeed`].
pub fn normalize_typed(
    document_id: &ConcurDocumentId,
    document: &TypedDocument<'_>,
    options: &NormalizeOptions,
) -> Result<JournalEntry, NormalizeError> {
    finish(document.doc_type(), document_id, draft(&document.0, options))
}

/// A text the typed structs cannot read is explained from the document read
/// as a JSON value, as it always was: text that is not JSON is named as
/// such, and of a repeated member the last one counts (a derived typed
/// struct refuses the repetition).
fn explain_refusal(
    doc_type: DocumentType,
    document_id: &ConcurDocumentId,
    document_json: &str,
    options: &NormalizeOptions,
) -> Result<JournalEntry, NormalizeError> {
    let document: Value = serde_json::from_str(document_json).map_err(|e| NormalizeError {
        doc_type,
        document_id: document_id.clone(),
        problem: Problem::Invalid { path: DOCUMENT_PATH.to_owned(), expected: "JSON", found: e.to_string() },
    })?;
    normalize(doc_type, document_id, &document, options)
}

/// Normalizes a typed document into the lines of its entry.
fn draft(document: &Typed<'_>, options: &NormalizeOptions) -> Result<Draft, Problem> {
    match document {
        Typed::Expense(doc) => expense::normalize(doc, options),
        Typed::CashAdvance(doc) => cash_advance::normalize(doc, options),
        Typed::Invoice(doc) => invoice::normalize(doc),
    }
}

/// The checked entry of a draft, or the refusal naming the document.
fn finish(
    doc_type: DocumentType,
    document_id: &ConcurDocumentId,
    draft: Result<Draft, Problem>,
) -> Result<JournalEntry, NormalizeError> {
    let refuse = |problem: Problem| NormalizeError { doc_type, document_id: document_id.clone(), problem };
    let draft = draft.map_err(refuse)?;
    let header = EntryHeader {
        doc_type,
        document_id: document_id.clone(),
        business_id: draft.business_id,
        revision: draft.revision,
        name: draft.name,
        currency: draft.currency,
        ledger_code: draft.ledger_code,
        employee_id: draft.employee_id,
        vendor_code: draft.vendor_code,
        vendor_remit_to: draft.vendor_remit_to,
        cash_advance_returns: draft.cash_advance_returns,
        purchase_orders: draft.purchase_orders,
    };
    let lines = draft.lines.into_iter().filter(|l| !l.amount.is_zero()).collect();
    JournalEntry::new(header, lines).map_err(|e| refuse(e.into()))
}

/// What a document-type normalizer hands back before the entry is checked.
#[derive(Default)]
pub(crate) struct Draft {
    pub business_id: String,
    pub revision: Option<String>,
    pub name: Option<String>,
    pub currency: String,
    pub ledger_code: Option<String>,
    pub employee_id: Option<String>,
    pub vendor_code: Option<String>,
    pub vendor_remit_to: Option<String>,
    pub cash_advance_returns: Option<rust_decimal::Decimal>,
    pub purchase_orders: Vec<String>,
    pub lines: Vec<JournalLine>,
}

/// An ISO 4217 alphabetic code: three ASCII letters.
pub(crate) fn currency(at: At<'_>, raw: &Raw<'_>, key: &str) -> Result<String, Problem> {
    let code = at.text(raw, key)?.ok_or_else(|| Problem::missing(at.child_path(key)))?;
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(code.to_ascii_uppercase())
    } else {
        Err(Problem::invalid(
            &at.child_path(key),
            "an ISO 4217 currency code",
            &Value::String(code.to_owned()).to_string(),
        ))
    }
}

/// The numbered custom fields `{prefix}{n}Code` / `{prefix}{n}Value` that
/// carry a code, appended to `out` in field order.
pub(crate) fn cost_objects<const N: usize>(
    at: At<'_>,
    fields: &Numbered<'_, N>,
    out: &mut Vec<CostObject>,
) -> Result<(), Problem> {
    for ((code, name), field) in fields.fields.iter().zip(fields.names) {
        if code.is_none() {
            continue;
        }
        if let Some(code) = at.string(code, JoinedName(field, "Code"))? {
            let name = at.string(name, JoinedName(field, "Value"))?;
            out.push(CostObject { field: Cow::Borrowed(field), code, name });
        }
    }
    Ok(())
}

/// A member name in two parts (`allocationCustom3` + `Code`), joined only
/// when a refusal names it.
#[derive(Clone, Copy)]
struct JoinedName(&'static str, &'static str);

impl std::fmt::Display for JoinedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.0, self.1)
    }
}

/// `a + b` without panicking on overflow.
pub(crate) fn add(
    a: rust_decimal::Decimal,
    b: rust_decimal::Decimal,
    path: &str,
) -> Result<rust_decimal::Decimal, Problem> {
    a.checked_add(b).ok_or_else(|| Problem::inconsistent(path, "amounts too large to add up exactly"))
}

/// `a - b` without panicking on overflow.
pub(crate) fn sub(
    a: rust_decimal::Decimal,
    b: rust_decimal::Decimal,
    path: &str,
) -> Result<rust_decimal::Decimal, Problem> {
    a.checked_sub(b).ok_or_else(|| Problem::inconsistent(path, "amounts too large to subtract exactly"))
}

#[cfg(test)]
mod tests;
