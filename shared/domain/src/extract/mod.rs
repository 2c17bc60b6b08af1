//! SAP Concur's accounting extract files, read streaming and exactly: the Standard Accounting Extract (SAE,
//! expense reports) and the Payment Request Accounting Extract (PRAE, invoices). Reference:
//! `reference/concur/extracts-and-payment-batches.md` §4 (SAE), §5 (PRAE), §6 (column CSVs).
//!
//! A file is one header record, then detail records:
//!
//! * SAE: header `EXTRACT, Batch_Date (yyyy-MM-dd), Record_Count, Journal Amount Total, Batch ID`; detail rows
//!   start with `DETAIL` and have 400 columns.
//! * PRAE: header `Extract, BatchID, BatchDate (yyyy/mm/dd), RecordCount, JournalAmountTotal` (its own order,
//!   §5 [contradiction]); detail rows start with `Detail` and have 256 columns.
//!
//! [`ExtractReader`] reads the header, then one [`Row`] at a time from a reused buffer (bounded by
//! [`MAX_RECORD_BYTES`] and the layout's column count), and refuses the whole file with an [`ExtractError`]
//! naming the row and column when a record is malformed, a journal amount is not a number, or the record count
//! or journal total disagrees with the header. [`Documents`] groups the rows into documents by report / request
//! key. Turning them into journal entries is not done here.
//!
//! Pure code: it reads any [`std::io::BufRead`] and touches no file system or network.

mod error;
mod fi;
mod fields;
mod group;
pub mod layouts;
mod reader;
mod record;
mod row;
mod schema;

pub use error::{Cell, ExtractError};
pub use fi::{CASH_ADVANCE_KEY_PREFIX, FileDocument};
pub use group::{Document, Documents, MAX_DOCUMENT_ROWS};
pub use reader::{ExtractHeader, ExtractOptions, ExtractReader, ExtractSummary};
pub use record::{Delimiter, MAX_RECORD_BYTES};
pub use row::{DocumentKey, OwnedRow, Row};
pub use schema::{Column, ColumnKind, ExtractKind, HeaderFields, Layout, OtherDocumentRows, PRAE, SAE};

#[cfg(test)]
mod fi_tests;
#[cfg(test)]
mod tests;
