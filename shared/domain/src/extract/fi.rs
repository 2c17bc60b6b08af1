//! A document of an extract file as the FI document FIS would have sent, so it goes through the one normalizer
//! (`docs/extract-files.md` holds the column ↔ member table this follows, and the choices the reference leaves
//! open).
//!
//! Only the members the normalizer reads are built. Values stay text (the normalizer reads amounts from text
//! exactly); an amount or key column that does not hold a number refuses the file naming its row and column, as
//! the reader does, because a file with a broken cell is refused whole.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::error::{Cell, ExtractError, excerpt};
use super::group::Document;
use super::reader::parse_amount;
use super::row::Row;
use crate::ids::{ConcurDocumentId, DocumentType};
use crate::journal::JournalEntry;
use crate::normalize::{NormalizeError, NormalizeOptions, Problem, normalize};

/// What a document type's builder returns: the ledger key and the FI document.
type Built = Result<(ConcurDocumentId, Value), ExtractError>;

/// The file row of each journal object a builder made, by JSON path.
type Sources = Vec<(String, u64)>;

/// Prefix of the ledger key of a cash advance read from an SAE: the SAE carries its numeric key, not the FIS
/// `cashAdvanceId` (a letter outside hex keeps it apart from every FIS id).
pub const CASH_ADVANCE_KEY_PREFIX: &str = "CAKEY";

/// One document of a file, as an FI document.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileDocument {
    /// Expense report, cash advance or payment request.
    pub doc_type: DocumentType,
    /// The ledger key: Report ID (SAE 19), Request ID (PRAE 51) or `CAKEY<n>` (SAE 187).
    pub business_id: ConcurDocumentId,
    /// First and last row of the document in the file.
    pub rows: (u64, u64),
    /// The FI document (the `document` member of an FI envelope).
    pub document: Value,
    /// The file row each journal object of `document` was read from, by JSON path.
    sources: Sources,
}

impl FileDocument {
    /// The FI document of a file document's rows.
    pub fn from_rows(document: &Document) -> Result<Self, ExtractError> {
        let rows: Vec<Row<'_>> = document.rows.iter().map(|row| row.view()).collect();
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Err(ExtractError::Empty);
        };
        let mut sources = Vec::new();
        let (business_id, fi) = match document.doc_type {
            DocumentType::Expense => expense::document(&rows, &mut sources)?,
            DocumentType::CashAdvance => cash_advance::document(&rows, &mut sources)?,
            DocumentType::Invoice => invoice::document(&rows, &mut sources)?,
        };
        let span = (first.number(), last.number());
        Ok(FileDocument { doc_type: document.doc_type, business_id, rows: span, document: fi, sources })
    }

    /// The balanced entry, as FIS's document would give it; each line's source names its file row.
    pub fn normalize(&self, options: &NormalizeOptions) -> Result<JournalEntry, NormalizeError> {
        let refuse = |mut error: NormalizeError| {
            error.problem = self.locate(error.problem);
            error
        };
        let (header, mut lines) =
            normalize(self.doc_type, &self.business_id, &self.document, options).map_err(refuse)?.into_parts();
        for line in &mut lines {
            let path = match line.source.tax_guid.as_deref().and_then(tax_row) {
                Some(row) => format!("row {row} (tax)"),
                None => self.row_of(&line.source.path),
            };
            std::sync::Arc::make_mut(&mut line.source).path = path;
        }
        // Only the sources changed: the lines balance as they did.
        JournalEntry::new(header, lines).map_err(|e| {
            refuse(NormalizeError { doc_type: self.doc_type, document_id: self.business_id.clone(), problem: e.into() })
        })
    }

    /// `row N` for a JSON path within a journal object read from row N, else the rows of the document.
    fn row_of(&self, path: &str) -> String {
        let row = self
            .sources
            .iter()
            .filter(|(prefix, _)| path.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len());
        match row {
            Some((prefix, row)) => format!("row {row} ({})", &path[prefix.len()..].trim_start_matches('.')),
            None => format!("rows {}–{} ({path})", self.rows.0, self.rows.1),
        }
        .replace(" ()", "")
    }

    /// A refusal whose path is turned into the file rows it came from.
    fn locate(&self, problem: Problem) -> Problem {
        match problem {
            Problem::Missing { path } => Problem::Missing { path: self.row_of(&path) },
            Problem::Invalid { path, expected, found } => {
                Problem::Invalid { path: self.row_of(&path), expected, found }
            }
            Problem::Inconsistent { path, detail } => Problem::Inconsistent { path: self.row_of(&path), detail },
            other @ Problem::Entry(_) => other,
        }
    }
}

/// The `taxGuid` of the tax read from file row `row`: a file has no tax ids, so the row is the id.
fn tax_guid(row: u64) -> String {
    format!("T{row}")
}

/// The file row of a tax id made by [`tax_guid`].
fn tax_row(guid: &str) -> Option<u64> {
    guid.strip_prefix('T')?.parse().ok()
}

/// Reads the cells of one row.
#[derive(Clone, Copy)]
struct Cells<'r>(&'r Row<'r>);

impl<'r> Cells<'r> {
    /// The trimmed value of a column; `None` when empty.
    fn text(self, column: u16) -> Option<&'r str> {
        self.0.get(usize::from(column)).map(str::trim).filter(|value| !value.is_empty())
    }

    fn cell(self, column: u16) -> Cell {
        Cell::new(self.0.number(), usize::from(column), self.0.layout().detail)
    }

    /// An amount column (`+50.00`, `-50.00`, `0`), exact; `None` when empty.
    fn amount(self, column: u16) -> Result<Option<Decimal>, ExtractError> {
        self.text(column).map(|value| parse_amount(value, &self.cell(column))).transpose()
    }

    /// A key column: digits only; `None` when empty.
    fn key(self, column: u16) -> Result<Option<&'r str>, ExtractError> {
        match self.text(column) {
            Some(value) if !value.bytes().all(|byte| byte.is_ascii_digit()) => {
                Err(ExtractError::NotANumber { at: self.cell(column), value: excerpt(value) })
            }
            value => Ok(value),
        }
    }

    /// The document's ledger key from a column that must hold it.
    fn business_id(self, column: u16, prefix: &str) -> Result<ConcurDocumentId, ExtractError> {
        let value = self.text(column).unwrap_or("");
        ConcurDocumentId::parse(&format!("{prefix}{value}")).map_err(|e| ExtractError::BadDocumentId {
            at: self.cell(column),
            value: excerpt(value),
            reason: e.to_string(),
        })
    }
}

/// An FI object being built: members are set only from non-empty cells.
#[derive(Default)]
struct Object(Map<String, Value>);

impl Object {
    fn text(&mut self, member: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.0.insert(member.to_owned(), Value::String(value.to_owned()));
        }
        self
    }

    fn amount(&mut self, member: &str, value: Option<Decimal>) -> &mut Self {
        self.text(member, value.map(|amount| amount.to_string()).as_deref())
    }

    fn value(&mut self, member: &str, value: Value) -> &mut Self {
        self.0.insert(member.to_owned(), value);
        self
    }

    /// `{prefix}{n}Code` from columns `first..first + count`. Most are empty: a member name is made only
    /// for a cell that holds a code.
    fn codes(&mut self, cells: Cells<'_>, prefix: &str, first: u16, count: u16) -> &mut Self {
        for n in 0..count {
            if let Some(code) = cells.text(first + n) {
                self.text(&format!("{prefix}{}Code", n + 1), Some(code));
            }
        }
        self
    }

    fn build(&mut self) -> Value {
        Value::Object(std::mem::take(&mut self.0))
    }
}

/// Groups consecutive-or-not rows by a key, keeping first-seen order.
struct Groups<K, V> {
    index: HashMap<K, usize>,
    items: Vec<V>,
}

impl<K: std::hash::Hash + Eq, V> Groups<K, V> {
    fn new() -> Self {
        Groups { index: HashMap::new(), items: Vec::new() }
    }

    /// The group of `key` (a fresh one from `make` the first time; always fresh for no key).
    fn entry(&mut self, key: Option<K>, make: impl FnOnce() -> V) -> (&mut V, bool) {
        let fresh = |groups: &mut Self| {
            groups.items.push(make());
            groups.items.len() - 1
        };
        let (index, new) = match key {
            Some(key) => match self.index.get(&key) {
                Some(&index) => (index, false),
                None => {
                    let index = fresh(self);
                    self.index.insert(key, index);
                    (index, true)
                }
            },
            None => (fresh(self), true),
        };
        (&mut self.items[index], new)
    }
}

/// The `employee` / `employeeData` object of an SAE row (§4 Employee Data).
fn sae_employee(cells: Cells<'_>) -> Value {
    Object::default()
        .text("employeeId", cells.text(5))
        .text("employeeLastName", cells.text(6))
        .text("employeeFirstName", cells.text(7))
        .text("employeeMI", cells.text(8))
        .text("employeeCustom21Code", cells.text(9))
        .codes(cells, "employeeOrgUnit", 10, 6)
        .codes(cells, "employeeCustom", 266, 20)
        .build()
}

mod cash_advance;
mod expense;
mod invoice;
