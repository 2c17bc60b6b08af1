//! What a column and a layout are, and the two layouts the parser knows (SAE §4, PRAE §5).

use super::layouts::{PRAE_DETAIL, PRAE_HEADER, SAE_DETAIL, SAE_HEADER};
use crate::ids::DocumentType;

/// The two accounting extracts. The header's first field tells them apart: `EXTRACT` (SAE, §4) or `Extract`
/// (PRAE, §5) — the reference gives them with that exact casing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtractKind {
    /// Standard Accounting Extract: expense reports.
    Sae,
    /// Payment Request Accounting Extract: invoices.
    Prae,
}

impl ExtractKind {
    /// The layout of this extract's records.
    pub fn layout(self) -> &'static Layout {
        match self {
            ExtractKind::Sae => &SAE,
            ExtractKind::Prae => &PRAE,
        }
    }
}

/// The workbook's data type, reduced to what the parser and the mapping care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Alphanumeric / String / VarChar / Text.
    Text,
    /// Integer-like values (keys, counts).
    Numeric,
    /// Signed decimal amounts: at most 23 digits left of the point and 8 right (§4).
    Money,
    /// `yyyy-MM-dd` in SAE, `yyyy/mm/dd` in PRAE (§5).
    Date,
    /// A client-defined custom field.
    Custom,
}

/// One column of a layout, as the workbook describes it (generated into [`super::layouts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// 1-based position in the record.
    pub position: u16,
    /// The workbook's field name (not unique: "Future Use" and "Reserved" repeat).
    pub name: &'static str,
    /// The workbook's section (SAE only; empty for PRAE, whose workbook has none).
    pub section: &'static str,
    /// The data type.
    pub kind: ColumnKind,
    /// The maximum length the workbook gives, when it gives one.
    pub length: Option<u16>,
    /// The Financial Integration field(s) carrying the same value (`+`-joined), or empty.
    pub fi_equivalent: &'static str,
}

/// Everything the parser needs to know about one extract: its markers, header and detail columns, and which
/// columns it checks and groups by.
#[derive(Debug)]
pub struct Layout {
    /// Which extract this is.
    pub kind: ExtractKind,
    /// First field of the header record.
    pub header_marker: &'static str,
    /// First field of every detail record.
    pub detail_marker: &'static str,
    /// The header record's fields, in file order.
    pub header: &'static [Column],
    /// The detail record's columns, position 1 first.
    pub detail: &'static [Column],
    /// The `time` format of every date in this extract.
    pub date_format: &'static [time::format_description::BorrowedFormatItem<'static>],
    /// Where the header fields sit (their order differs between SAE and PRAE, §5 [contradiction]).
    pub header_fields: HeaderFields,
    /// The detail column summed into the header's journal total.
    pub journal_amount: u16,
    /// The detail column that identifies a document (report / payment request).
    pub document_key: u16,
    /// The document type of the rows grouped by [`Layout::document_key`].
    pub doc_type: DocumentType,
    /// Rows that are a document of another type, keyed by another column (SAE cash advance issuance).
    pub other_documents: Option<OtherDocumentRows>,
}

/// Rows of a layout that form documents of their own type: those whose `type_column` holds `type_value` are
/// grouped by `key_column` into documents of `doc_type` (SAE: Cash Advance Transaction Type `1`, issuance,
/// grouped by Cash Advance Key into cash advances; §4 "cash advance issuance rows appear in the SAE").
#[derive(Debug, Clone, Copy)]
pub struct OtherDocumentRows {
    /// The column telling such rows apart.
    pub type_column: u16,
    /// Its value on such rows.
    pub type_value: &'static str,
    /// The column their documents are keyed by.
    pub key_column: u16,
    /// Their documents' type.
    pub doc_type: DocumentType,
}

/// 1-based positions of the header fields the parser reads.
#[derive(Debug, Clone, Copy)]
pub struct HeaderFields {
    /// The batch date.
    pub batch_date: u16,
    /// The count of detail records.
    pub record_count: u16,
    /// The sum of the detail journal amounts.
    pub journal_amount_total: u16,
    /// The batch id.
    pub batch_id: u16,
}

impl Layout {
    /// The detail column at a 1-based position.
    pub fn column(&self, position: usize) -> Option<&'static Column> {
        position.checked_sub(1).and_then(|index| self.detail.get(index))
    }

    /// The first detail column with this workbook name (names repeat only for unused columns).
    pub fn column_named(&self, name: &str) -> Option<&'static Column> {
        self.detail.iter().find(|column| column.name == name)
    }

    /// The header field at a 1-based position.
    pub fn header_column(&self, position: usize) -> Option<&'static Column> {
        position.checked_sub(1).and_then(|index| self.header.get(index))
    }
}

/// Two layouts are the same when they describe the same extract (there is one static layout per kind).
impl PartialEq for Layout {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Eq for Layout {}

/// SAE: header `EXTRACT, Batch_Date, Record_Count, Journal Amount Total, Batch ID`; 400 detail columns; the
/// journal amount is column 169 and the report key column 20 (§4).
pub static SAE: Layout = Layout {
    kind: ExtractKind::Sae,
    header_marker: "EXTRACT",
    detail_marker: "DETAIL",
    header: SAE_HEADER,
    detail: SAE_DETAIL,
    date_format: time::macros::format_description!("[year]-[month]-[day]"),
    header_fields: HeaderFields { batch_date: 2, record_count: 3, journal_amount_total: 4, batch_id: 5 },
    journal_amount: 169,
    document_key: 20,
    doc_type: DocumentType::Expense,
    other_documents: Some(OtherDocumentRows {
        type_column: 185,
        type_value: "1",
        key_column: 187,
        doc_type: DocumentType::CashAdvance,
    }),
};

/// PRAE: header `Extract, BatchID, BatchDate, RecordCount, JournalAmountTotal`; 256 detail columns; dates
/// `yyyy/mm/dd`; the journal amount is column 62 and the request key column 2 (§5).
pub static PRAE: Layout = Layout {
    kind: ExtractKind::Prae,
    header_marker: "Extract",
    detail_marker: "Detail",
    header: PRAE_HEADER,
    detail: PRAE_DETAIL,
    date_format: time::macros::format_description!("[year]/[month]/[day]"),
    header_fields: HeaderFields { batch_id: 2, batch_date: 3, record_count: 4, journal_amount_total: 5 },
    journal_amount: 62,
    document_key: 2,
    doc_type: DocumentType::Invoice,
    other_documents: None,
};
