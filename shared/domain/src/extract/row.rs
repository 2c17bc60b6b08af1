//! A detail row, read by column position or workbook name.

use rust_decimal::Decimal;

use super::fields::{Fields, OwnedFields};
use super::schema::{Column, Layout};
use crate::ids::DocumentType;

/// Which document a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentKey<'a> {
    /// The document's type.
    pub doc_type: DocumentType,
    /// The 1-based column holding the key.
    pub column: u16,
    /// The key.
    pub value: &'a str,
}

/// One detail row, borrowed from the reader's buffer until the next row is read.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    layout: &'static Layout,
    number: u64,
    journal_amount: Decimal,
    fields: Fields<'a>,
}

impl<'a> Row<'a> {
    pub(crate) fn new(layout: &'static Layout, number: u64, journal_amount: Decimal, fields: Fields<'a>) -> Self {
        Row { layout, number, journal_amount, fields }
    }

    /// The layout the row follows.
    pub fn layout(&self) -> &'static Layout {
        self.layout
    }

    /// 1-based record number in the file (the header is row 1).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The journal amount (SAE column 169, PRAE column 62), already checked to be a number.
    pub fn journal_amount(&self) -> Decimal {
        self.journal_amount
    }

    /// How many columns the row carries (trailing empty columns may be left out, so often fewer than the
    /// layout has).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the row carries no columns (never true for a row the reader returns: it has its marker).
    pub fn is_empty(&self) -> bool {
        self.fields.len() == 0
    }

    /// The value at a 1-based position: empty for a layout column the row leaves out, `None` outside the
    /// layout.
    pub fn get(&self, position: usize) -> Option<&'a str> {
        self.layout.column(position)?;
        Some(self.fields.get(position - 1).unwrap_or(""))
    }

    /// The value of the first column with this workbook name, `None` if the layout has no such column.
    pub fn named(&self, name: &str) -> Option<&'a str> {
        self.get(usize::from(self.layout.column_named(name)?.position))
    }

    /// The document the row belongs to: SAE Report Key (column 20) or, on a cash advance issuance row, Cash
    /// Advance Key (column 187); PRAE Request Key (column 2).
    pub fn document_key(&self) -> DocumentKey<'a> {
        let value = |column: u16| self.get(usize::from(column)).unwrap_or("");
        match self.layout.other_documents {
            Some(other) if value(other.type_column) == other.type_value => {
                DocumentKey { doc_type: other.doc_type, column: other.key_column, value: value(other.key_column) }
            }
            _ => DocumentKey {
                doc_type: self.layout.doc_type,
                column: self.layout.document_key,
                value: value(self.layout.document_key),
            },
        }
    }

    /// Every layout column the row carries, with its value.
    pub fn columns(&self) -> impl Iterator<Item = (&'static Column, &'a str)> + 'a {
        self.layout.detail.iter().zip(self.fields.iter())
    }

    /// An owned copy, to keep past the next read.
    pub fn to_owned_row(&self) -> OwnedRow {
        OwnedRow {
            layout: self.layout,
            number: self.number,
            journal_amount: self.journal_amount,
            fields: self.fields.to_owned_fields(),
        }
    }
}

/// A detail row that owns its text and field ends (an allocation for each).
#[derive(Debug, Clone)]
pub struct OwnedRow {
    layout: &'static Layout,
    number: u64,
    journal_amount: Decimal,
    fields: OwnedFields,
}

/// Rows are equal when they hold the same values, however they were read (a line indexed in place or decoded
/// field by field).
impl PartialEq for OwnedRow {
    fn eq(&self, other: &Self) -> bool {
        let (one, two) = (self.fields.view(), other.fields.view());
        std::ptr::eq(self.layout, other.layout)
            && (self.number, self.journal_amount) == (other.number, other.journal_amount)
            && one.len() == two.len()
            && one.iter().eq(two.iter())
    }
}

impl Eq for OwnedRow {}

impl OwnedRow {
    /// The row, to read it.
    pub fn view(&self) -> Row<'_> {
        Row::new(self.layout, self.number, self.journal_amount, self.fields.view())
    }
}
