//! Grouping detail rows into documents: an expense report (SAE Report Key), a cash advance (SAE issuance rows,
//! Cash Advance Key) or a payment request (PRAE Request Key).
//!
//! The reference does not say the rows are sorted by document (§4, §5 [docs silent]); the workbooks only say
//! there is one row per journal. We take the rows of a document to be consecutive, as an extract written report
//! by report is, and hold one document at a time. A document whose rows come back after another document's
//! refuses the file ([`ExtractError::SplitDocument`]): grouping it in memory would hold an unbounded part of the
//! file, and posting it in pieces would post one report as two.

use std::collections::HashMap;
use std::io::BufRead;

use super::error::{Cell, ExtractError};
use super::reader::{ExtractHeader, ExtractReader};
use super::row::OwnedRow;
use crate::ids::DocumentType;

/// Most rows one document may have (one row per journal line; a report of 10 000 allocated lines is already
/// far beyond what Concur lets a user submit).
pub const MAX_DOCUMENT_ROWS: usize = 10_000;

/// The rows of one document, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Expense report, cash advance (SAE issuance rows) or payment request.
    pub doc_type: DocumentType,
    /// The document key shared by its rows (SAE column 20 or 187, PRAE column 2).
    pub key: String,
    /// Its detail rows (at least one).
    pub rows: Vec<OwnedRow>,
}

/// The documents of a file, one at a time.
///
/// Like the reader it wraps, it yields documents before it knows the file adds up: the iteration has ended
/// with no error only once the record count and journal total matched. Post nothing until then (collect, or
/// run [`ExtractReader::verify`] first). Memory: one document's rows plus one key per document seen.
#[derive(Debug)]
pub struct Documents<R> {
    reader: ExtractReader<R>,
    /// The first row of the next document, read while ending the current one.
    pending: Option<OwnedRow>,
    /// Every key already grouped, with the row its document started on.
    seen: HashMap<(DocumentType, String), u64>,
    done: bool,
}

impl<R: BufRead> Documents<R> {
    /// Groups the rows of `reader` (whose header is already read).
    pub fn new(reader: ExtractReader<R>) -> Self {
        Documents { reader, pending: None, seen: HashMap::new(), done: false }
    }

    /// The file's header.
    pub fn header(&self) -> &ExtractHeader {
        self.reader.header()
    }

    /// The next document; `Ok(None)` once the file is read and adds up.
    pub fn next_document(&mut self) -> Result<Option<Document>, ExtractError> {
        let first = match self.pending.take() {
            Some(row) => row,
            None => match self.reader.next_row()? {
                Some(row) => row.to_owned_row(),
                None => return Ok(None),
            },
        };
        let (doc_type, column, key) = {
            let key = first.view().document_key();
            (key.doc_type, key.column, key.value.to_owned())
        };
        let start = first.view().number();
        if let Some(&first_row) = self.seen.get(&(doc_type, key.clone())) {
            return Err(ExtractError::SplitDocument { at: self.key_cell(start, column), key, first_row });
        }
        let mut rows = vec![first];
        while let Some(row) = self.reader.next_row()? {
            let next = row.document_key();
            if (next.doc_type, next.value) != (doc_type, key.as_str()) {
                self.pending = Some(row.to_owned_row());
                break;
            }
            if rows.len() == MAX_DOCUMENT_ROWS {
                let number = row.number();
                let at = self.key_cell(number, column);
                return Err(ExtractError::DocumentTooLarge { at, key, limit: MAX_DOCUMENT_ROWS });
            }
            rows.push(row.to_owned_row());
        }
        self.seen.insert((doc_type, key.clone()), start);
        Ok(Some(Document { doc_type, key, rows }))
    }

    fn key_cell(&self, row: u64, column: u16) -> Cell {
        Cell::new(row, usize::from(column), self.reader.layout().detail)
    }
}

impl<R: BufRead> Iterator for Documents<R> {
    type Item = Result<Document, ExtractError>;

    /// Ends after the last document or after the first error.
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_document().transpose();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}
