//! Why an extract file is refused. Every refusal refuses the whole file (issue 15: nothing from a file that
//! does not add up is posted) and names where: the row and, where there is one, the column.

use std::fmt;
use std::io;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::schema::Column;

/// A place in the file: 1-based record number (the header is row 1; a quoted line break does not start a new
/// row) and 1-based column position with the workbook's name for it, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// 1-based record number.
    pub row: u64,
    /// 1-based column position.
    pub position: usize,
    /// The layout's name for the column; empty when the layout is not known yet or has no such column.
    pub name: &'static str,
}

impl Cell {
    /// The cell at `position` of `row`, named from `columns` (position 1 first).
    pub(crate) fn new(row: u64, position: usize, columns: &'static [Column]) -> Self {
        let name = position.checked_sub(1).and_then(|index| columns.get(index)).map_or("", |column| column.name);
        Cell { row, position, name }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}, column {}", self.row, self.position)?;
        if !self.name.is_empty() {
            write!(f, " `{}`", self.name)?;
        }
        Ok(())
    }
}

/// Why an SAE or PRAE file was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExtractError {
    /// The input could not be read.
    #[error("reading row {row}: {source}")]
    Io {
        /// The row being read.
        row: u64,
        /// The I/O error (shared so the error can be repeated to a caller that keeps reading).
        #[source]
        source: Arc<io::Error>,
    },
    /// No header record at all (§4: a file always has one, even with no reports).
    #[error("the file is empty: no `EXTRACT` / `Extract` header record")]
    Empty,
    /// The first record is neither an SAE nor a PRAE header.
    #[error("{at}: not an extract header (expected `EXTRACT` or `Extract`, found {found:?})")]
    UnknownHeader {
        /// Where.
        at: Cell,
        /// The start of what was there.
        found: String,
    },
    /// A quoted field is never closed.
    #[error("{at}: quoted field is never closed")]
    UnterminatedQuote {
        /// Where the field starts.
        at: Cell,
    },
    /// Something other than a delimiter or a line break follows a closing quote.
    #[error("{at}: characters after the closing quote")]
    BrokenQuote {
        /// Where.
        at: Cell,
    },
    /// A record longer than [`super::MAX_RECORD_BYTES`].
    #[error("row {row}: longer than {limit} bytes")]
    RecordTooLong {
        /// Which row.
        row: u64,
        /// The limit.
        limit: usize,
    },
    /// A record with more columns than its layout has.
    #[error("row {row}: more than the {max} columns the layout has")]
    TooManyColumns {
        /// Which row.
        row: u64,
        /// The layout's column count.
        max: usize,
    },
    /// Bytes that are not UTF-8.
    #[error("{at}: not valid UTF-8")]
    InvalidUtf8 {
        /// Where.
        at: Cell,
    },
    /// A detail record that does not start with the detail marker (`DETAIL` / `Detail`).
    #[error("{at}: expected {expected:?}, found {found:?}")]
    WrongMarker {
        /// Where.
        at: Cell,
        /// The marker the layout wants.
        expected: &'static str,
        /// The start of what was there.
        found: String,
    },
    /// A count or amount that is not a number.
    #[error("{at}: not a number: {value:?}")]
    NotANumber {
        /// Where.
        at: Cell,
        /// The start of what was there.
        value: String,
    },
    /// A date not in the extract's format.
    #[error("{at}: not a date in the extract's format: {value:?}")]
    NotADate {
        /// Where.
        at: Cell,
        /// The start of what was there.
        value: String,
    },
    /// The header's record count differs from the detail rows read.
    #[error("{at}: the header counts {header} detail rows, the file has {rows}")]
    CountMismatch {
        /// The header's count field.
        at: Cell,
        /// The header's count.
        header: u64,
        /// The detail rows read.
        rows: u64,
    },
    /// The header's journal total differs from the sum of the detail journal amounts.
    #[error("{at}: the header's journal total is {header}, the detail rows add up to {rows}")]
    TotalMismatch {
        /// The header's total field.
        at: Cell,
        /// The header's total.
        header: Decimal,
        /// The sum of the rows.
        rows: Decimal,
    },
    /// The running sum of journal amounts left `Decimal`'s range.
    #[error("{at}: the journal amounts add up beyond the largest amount we can hold")]
    TotalOverflow {
        /// The amount that overflowed the sum.
        at: Cell,
    },
    /// A document's rows are not together (the reference does not promise they are; we refuse rather than
    /// post a document in pieces).
    #[error("{at}: document {key:?} continues here after another document (it started on row {first_row})")]
    SplitDocument {
        /// The document key of the stray row.
        at: Cell,
        /// The document key.
        key: String,
        /// Where the document started.
        first_row: u64,
    },
    /// A document whose key column cannot be a Concur document id (the ledger key).
    #[error("{at}: {value:?} cannot identify a document: {reason}")]
    BadDocumentId {
        /// Where.
        at: Cell,
        /// The start of what was there.
        value: String,
        /// Why not.
        reason: String,
    },
    /// Rows of one document that contradict each other.
    #[error("{at}: {detail}")]
    Inconsistent {
        /// The cell that contradicts the document's earlier rows.
        at: Cell,
        /// What is wrong.
        detail: String,
    },
    /// A document with more rows than [`super::MAX_DOCUMENT_ROWS`].
    #[error("{at}: document {key:?} has more than {limit} rows")]
    DocumentTooLarge {
        /// The first row past the limit.
        at: Cell,
        /// The document key.
        key: String,
        /// The limit.
        limit: usize,
    },
}

impl ExtractError {
    /// The cell the error names, when it names one.
    pub fn cell(&self) -> Option<&Cell> {
        use ExtractError as E;
        match self {
            E::UnknownHeader { at, .. }
            | E::UnterminatedQuote { at }
            | E::BrokenQuote { at }
            | E::InvalidUtf8 { at }
            | E::WrongMarker { at, .. }
            | E::NotANumber { at, .. }
            | E::NotADate { at, .. }
            | E::CountMismatch { at, .. }
            | E::TotalMismatch { at, .. }
            | E::TotalOverflow { at }
            | E::SplitDocument { at, .. }
            | E::DocumentTooLarge { at, .. }
            | E::BadDocumentId { at, .. }
            | E::Inconsistent { at, .. } => Some(at),
            E::Io { .. } | E::Empty | E::RecordTooLong { .. } | E::TooManyColumns { .. } => None,
        }
    }
}

/// At most this many characters of a refused value go into an error (a log line, not a copy of the file).
const EXCERPT_CHARS: usize = 40;

/// The start of a refused value, for an error message.
pub(crate) fn excerpt(value: &str) -> String {
    value.chars().take(EXCERPT_CHARS).collect()
}
