//! The streaming extract reader: the header, then detail rows, then the checks against the header.

use std::io::BufRead;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::error::{Cell, ExtractError, excerpt};
use super::fields::Fields;
use super::layouts::SAE_HEADER;
use super::record::{Delimiter, RecordError, RecordReader};
use super::row::Row;
use super::schema::{ExtractKind, Layout, PRAE, SAE};

/// How to read a file.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractOptions {
    /// The field separator (the reference does not fix one, §4).
    pub delimiter: Delimiter,
}

/// The header record (§4 SAE, §5 PRAE), whichever order the file gave the fields in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractHeader {
    /// SAE or PRAE, from the header marker.
    pub kind: ExtractKind,
    /// The batch id (digits; up to 20 of them in PRAE, so kept as text).
    pub batch_id: String,
    /// The batch date.
    pub batch_date: time::Date,
    /// The count of detail records the file says it holds.
    pub record_count: u64,
    /// The sum of the detail journal amounts the file says it holds.
    pub journal_amount_total: Decimal,
}

/// What a file that adds up held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractSummary {
    /// The header.
    pub header: ExtractHeader,
    /// Detail rows read (equal to the header's count).
    pub rows: u64,
    /// Their journal amounts summed (equal to the header's total).
    pub journal_amount_sum: Decimal,
}

/// Where the reader is.
#[derive(Debug)]
enum Progress {
    Reading,
    /// The end was reached and the file adds up.
    Verified,
    /// The file was refused; every later read repeats why.
    Refused(ExtractError),
}

/// Reads an SAE or PRAE file one detail row at a time, in constant memory.
///
/// [`ExtractReader::next_row`] returns `Ok(None)` only once the whole file has been read **and** its record
/// count and journal total match the header; until then a row is not known to belong to a file that adds up.
/// A caller that must post nothing from a refused file either reads to the end before posting or calls
/// [`ExtractReader::verify`] on a first pass.
#[derive(Debug)]
pub struct ExtractReader<R> {
    records: RecordReader<R>,
    layout: &'static Layout,
    header: ExtractHeader,
    header_row: u64,
    rows: u64,
    journal_amount_sum: Decimal,
    progress: Progress,
}

impl<R: BufRead> ExtractReader<R> {
    /// Reads the header record (blank lines before it are skipped) and recognises the extract by its marker.
    pub fn new(input: R, options: ExtractOptions) -> Result<Self, ExtractError> {
        let mut records = RecordReader::new(input, options.delimiter);
        loop {
            let more = records.read(SAE_HEADER.len()).map_err(|error| record_error(error, records.row(), &[]))?;
            if !more {
                return Err(ExtractError::Empty);
            }
            if !records.fields().is_blank() {
                break;
            }
        }
        let header_row = records.row();
        let (layout, header) = parse_header(records.fields(), header_row)?;
        let progress = Progress::Reading;
        Ok(ExtractReader { records, layout, header, header_row, rows: 0, journal_amount_sum: Decimal::ZERO, progress })
    }

    /// Reads the whole file and checks it against the header.
    pub fn verify(input: R, options: ExtractOptions) -> Result<ExtractSummary, ExtractError> {
        Self::new(input, options)?.finish()
    }

    /// The header record.
    pub fn header(&self) -> &ExtractHeader {
        &self.header
    }

    /// The layout of the detail rows.
    pub fn layout(&self) -> &'static Layout {
        self.layout
    }

    /// The next detail row; `Ok(None)` once the file is read and adds up. After an error every call returns
    /// the same error.
    pub fn next_row(&mut self) -> Result<Option<Row<'_>>, ExtractError> {
        match &self.progress {
            Progress::Refused(error) => return Err(error.clone()),
            Progress::Verified => return Ok(None),
            Progress::Reading => {}
        }
        match self.advance() {
            Ok(Some(journal_amount)) => {
                Ok(Some(Row::new(self.layout, self.records.row(), journal_amount, self.records.fields())))
            }
            Ok(None) => {
                self.progress = Progress::Verified;
                Ok(None)
            }
            Err(error) => {
                self.progress = Progress::Refused(error.clone());
                Err(error)
            }
        }
    }

    /// Reads the rest of the file and checks it against the header.
    pub fn finish(mut self) -> Result<ExtractSummary, ExtractError> {
        while self.next_row()?.is_some() {}
        Ok(ExtractSummary { header: self.header, rows: self.rows, journal_amount_sum: self.journal_amount_sum })
    }

    /// Reads and checks the next detail record; its journal amount, or `None` at the end once the totals match.
    fn advance(&mut self) -> Result<Option<Decimal>, ExtractError> {
        let layout = self.layout;
        loop {
            let row = self.records.row() + 1;
            let more =
                self.records.read(layout.detail.len()).map_err(|error| record_error(error, row, layout.detail))?;
            if !more {
                self.check_totals()?;
                return Ok(None);
            }
            let fields = self.records.fields();
            if fields.is_blank() {
                continue;
            }
            let marker = fields.get(0).unwrap_or("");
            if marker != layout.detail_marker {
                let at = Cell::new(row, 1, layout.detail);
                return Err(ExtractError::WrongMarker { at, expected: layout.detail_marker, found: excerpt(marker) });
            }
            let position = usize::from(layout.journal_amount);
            let at = Cell::new(row, position, layout.detail);
            let amount = parse_amount(fields.get(position - 1).unwrap_or(""), &at)?;
            self.journal_amount_sum =
                self.journal_amount_sum.checked_add(amount).ok_or(ExtractError::TotalOverflow { at })?;
            self.rows += 1;
            return Ok(Some(amount));
        }
    }

    /// The checks at the end of the file (§4: Record_Count counts the detail rows, the total sums their
    /// journal amounts).
    fn check_totals(&self) -> Result<(), ExtractError> {
        let fields = self.layout.header_fields;
        let cell = |position: u16| Cell::new(self.header_row, usize::from(position), self.layout.header);
        if self.rows != self.header.record_count {
            let at = cell(fields.record_count);
            return Err(ExtractError::CountMismatch { at, header: self.header.record_count, rows: self.rows });
        }
        if self.journal_amount_sum != self.header.journal_amount_total {
            let at = cell(fields.journal_amount_total);
            let (header, rows) = (self.header.journal_amount_total, self.journal_amount_sum);
            return Err(ExtractError::TotalMismatch { at, header, rows });
        }
        Ok(())
    }
}

/// Names the row and column of a record-level failure.
fn record_error(error: RecordError, row: u64, columns: &'static [super::schema::Column]) -> ExtractError {
    let cell = |field: usize| Cell::new(row, field + 1, columns);
    match error {
        RecordError::Io(source) => ExtractError::Io { row, source: Arc::new(source) },
        RecordError::UnterminatedQuote { field } => ExtractError::UnterminatedQuote { at: cell(field) },
        RecordError::BrokenQuote { field } => ExtractError::BrokenQuote { at: cell(field) },
        RecordError::InvalidUtf8 { field } => ExtractError::InvalidUtf8 { at: cell(field) },
        RecordError::TooLong => ExtractError::RecordTooLong { row, limit: super::MAX_RECORD_BYTES },
        RecordError::TooManyFields => ExtractError::TooManyColumns { row, max: columns.len().max(SAE_HEADER.len()) },
    }
}

/// Recognises the extract by the header's first field and reads its fields where that extract puts them.
fn parse_header(fields: Fields<'_>, row: u64) -> Result<(&'static Layout, ExtractHeader), ExtractError> {
    let marker = fields.get(0).unwrap_or("");
    let layout = [&SAE, &PRAE].into_iter().find(|layout| layout.header_marker == marker).ok_or_else(|| {
        ExtractError::UnknownHeader { at: Cell { row, position: 1, name: "" }, found: excerpt(marker) }
    })?;
    let positions = layout.header_fields;
    let field = |position: u16| {
        let at = Cell::new(row, usize::from(position), layout.header);
        (fields.get(usize::from(position) - 1).unwrap_or(""), at)
    };
    let (batch_id, at) = field(positions.batch_id);
    if batch_id.is_empty() || !batch_id.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(ExtractError::NotANumber { at, value: excerpt(batch_id) });
    }
    let (date, at) = field(positions.batch_date);
    let batch_date =
        time::Date::parse(date, layout.date_format).map_err(|_| ExtractError::NotADate { at, value: excerpt(date) })?;
    let (count, at) = field(positions.record_count);
    let record_count = parse_count(count).ok_or_else(|| ExtractError::NotANumber { at, value: excerpt(count) })?;
    let (total, at) = field(positions.journal_amount_total);
    let journal_amount_total = parse_amount(total, &at)?;
    let header = ExtractHeader {
        kind: layout.kind,
        batch_id: batch_id.to_owned(),
        batch_date,
        record_count,
        journal_amount_total,
    };
    Ok((layout, header))
}

/// A count: digits only.
fn parse_count(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// An amount: optional sign, digits, optional decimal point (§4: `+50.00`, `-50.00`, `0`). Exact: a value
/// `Decimal` cannot hold without rounding is refused, never rounded. `rust_decimal` alone would also accept
/// `_` separators, hence the character check.
pub(super) fn parse_amount(value: &str, at: &Cell) -> Result<Decimal, ExtractError> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    let well_formed = digits.bytes().any(|byte| byte.is_ascii_digit())
        && digits.bytes().all(|byte| byte.is_ascii_digit() || byte == b'.');
    well_formed
        .then(|| Decimal::from_str_exact(value).ok())
        .flatten()
        .ok_or_else(|| ExtractError::NotANumber { at: at.clone(), value: excerpt(value) })
}
