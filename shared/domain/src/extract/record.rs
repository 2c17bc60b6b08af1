//! Splitting a delimited byte stream into records and fields, with bounded memory.
//!
//! The reference is silent on the delimiter, quoting and encoding (§4 [docs silent]); its advice is a
//! configurable delimiter and optional quoting. We read RFC 4180 style: a field that starts with `"` is quoted,
//! may hold delimiters, line breaks and doubled quotes (`""`), and must be followed by a delimiter or the end
//! of the record; a `"` inside an unquoted field is kept as it is (an inch mark in a description is not a
//! reason to refuse a file). Records end with LF or CRLF. Text is UTF-8.
//!
//! Hand-written rather than the `csv` crate: `csv` grows its record buffer without limit (one unterminated
//! quote swallows the rest of the file into memory) and silently accepts broken quotes, while we must refuse
//! them naming the row and column. One record's bytes live in a reused buffer; nothing else is kept.
//!
//! Two paths, one meaning: a line that is whole in the read buffer (or gathered across a refill) is indexed
//! as it is by [`Record::index_line`] (a bitmap of field ends, `fields.rs`), which is most lines; whatever it
//! declines — a quote that spans lines, a broken quote, invalid UTF-8, too many fields, the first row with its
//! byte order mark — goes through the field state machine below, which names the fault. A property test
//! reads random files both ways and requires the same rows.

use std::io::{self, BufRead};

use super::fields::{Fields, Record};

/// Longest record accepted, in raw bytes (quotes and line break included). The widest layout's lengths add up
/// to about 13 000 characters (§6 CSVs); this leaves room for UTF-8 and quoting.
pub const MAX_RECORD_BYTES: usize = 128 * 1024;

/// The UTF-8 byte order mark some Windows tools put in front of a CSV file.
const BOM: &str = "\u{feff}";

/// The field separator. The reference names comma (its one example) and pipe (§4 [derived]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delimiter {
    /// `,`
    #[default]
    Comma,
    /// `|`
    Pipe,
    /// Tab.
    Tab,
    /// `;`
    Semicolon,
}

impl Delimiter {
    /// The separator byte (always ASCII, never a quote or line break).
    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Pipe => b'|',
            Delimiter::Tab => b'\t',
            Delimiter::Semicolon => b';',
        }
    }
}

/// Why a record could not be split; the caller adds the row and the column name.
#[derive(Debug)]
pub(crate) enum RecordError {
    Io(io::Error),
    /// A quoted field (0-based index) runs to the end of the file.
    UnterminatedQuote {
        field: usize,
    },
    /// Something other than a delimiter or line break follows a closing quote.
    BrokenQuote {
        field: usize,
    },
    TooLong,
    TooManyFields,
    InvalidUtf8 {
        field: usize,
    },
}

/// Where the scanner is within the current record; kept across buffer refills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// A `"` was seen inside a quoted field: either the first of `""` or the closing quote.
    QuotedQuote,
    /// A closing quote then `\r`: only `\n` may follow.
    ClosedCr,
}

/// One record being split: the state machine plus the output it writes.
struct Scan<'o> {
    state: State,
    delimiter: u8,
    max_fields: usize,
    bytes: &'o mut Vec<u8>,
    ends: &'o mut Vec<usize>,
}

impl Scan<'_> {
    fn end_field(&mut self) -> Result<(), RecordError> {
        if self.ends.len() == self.max_fields {
            return Err(RecordError::TooManyFields);
        }
        self.ends.push(self.bytes.len());
        self.bytes.push(self.delimiter);
        Ok(())
    }

    /// Keeps `rest` up to `stop` (the next byte that matters), or all of it
    /// when the chunk ends first (`None`: read on).
    fn keep_until(&mut self, rest: &[u8], stop: Option<usize>) -> Option<usize> {
        self.bytes.extend_from_slice(&rest[..stop.unwrap_or(rest.len())]);
        stop
    }

    /// Ends an unquoted field at a line break, dropping the `\r` of a CRLF.
    fn end_line(&mut self) -> Result<(), RecordError> {
        let field_start = self.ends.last().map_or(0, |end| end + 1);
        if self.state == State::Unquoted && self.bytes.len() > field_start && self.bytes.last() == Some(&b'\r') {
            self.bytes.pop();
        }
        self.end_field()
    }

    /// Consumes bytes of `chunk`; returns how many and whether the record ended.
    fn feed(&mut self, chunk: &[u8]) -> Result<(usize, bool), RecordError> {
        let mut at = 0;
        while at < chunk.len() {
            let rest = &chunk[at..];
            match self.state {
                State::FieldStart if rest[0] == b'"' => {
                    self.state = State::Quoted;
                    at += 1;
                }
                State::FieldStart | State::Unquoted => {
                    self.state = State::Unquoted;
                    let Some(stop) = self.keep_until(rest, memchr::memchr2(self.delimiter, b'\n', rest)) else {
                        return Ok((chunk.len(), false));
                    };
                    at += stop + 1;
                    if rest[stop] == b'\n' {
                        self.end_line()?;
                        return Ok((at, true));
                    }
                    self.end_field()?;
                    self.state = State::FieldStart;
                }
                State::Quoted => {
                    let Some(stop) = self.keep_until(rest, memchr::memchr(b'"', rest)) else {
                        return Ok((chunk.len(), false));
                    };
                    at += stop + 1;
                    self.state = State::QuotedQuote;
                }
                State::QuotedQuote | State::ClosedCr => {
                    at += 1;
                    if self.after_quote(rest[0])? {
                        return Ok((at, true));
                    }
                }
            }
        }
        Ok((at, false))
    }

    /// One byte after a quote inside a quoted field (or after its closing `"\r`); true at the end of the record.
    fn after_quote(&mut self, byte: u8) -> Result<bool, RecordError> {
        let broken = RecordError::BrokenQuote { field: self.ends.len() };
        match (self.state, byte) {
            (State::QuotedQuote, b'"') => {
                self.bytes.push(b'"');
                self.state = State::Quoted;
            }
            (State::QuotedQuote, b'\r') => self.state = State::ClosedCr,
            (State::QuotedQuote | State::ClosedCr, b'\n') => {
                self.end_field()?;
                return Ok(true);
            }
            (State::QuotedQuote, byte) if byte == self.delimiter => {
                self.end_field()?;
                self.state = State::FieldStart;
            }
            _ => return Err(broken),
        }
        Ok(false)
    }

    /// The input ended inside this record.
    fn end_of_input(&mut self) -> Result<(), RecordError> {
        match self.state {
            State::Quoted => Err(RecordError::UnterminatedQuote { field: self.ends.len() }),
            _ => self.end_line(),
        }
    }
}

/// What [`RecordReader::read_line`] did.
enum Line {
    /// The record is read.
    Indexed,
    /// Nothing was taken from the input: the general path reads the record.
    Declined,
    /// The line was taken from the input into `line` but needs the general path.
    Gathered,
}

/// A line without the `\r` of a CRLF.
fn without_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads records one at a time from a buffered stream, reusing one buffer.
#[derive(Debug)]
pub(crate) struct RecordReader<R> {
    input: R,
    delimiter: u8,
    /// The current record.
    record: Record,
    /// A line that ran past the input's buffer, gathered to be indexed.
    line: Vec<u8>,
    /// Scratch of the general path: where each decoded field ends.
    ends: Vec<usize>,
    /// 1-based number of the current record in the file (blank lines count).
    row: u64,
    /// Whether lines are indexed in place (always, but for tests comparing with the general path).
    index_lines: bool,
}

impl<R: BufRead> RecordReader<R> {
    pub(crate) fn new(input: R, delimiter: Delimiter) -> Self {
        let (record, line, ends) = (Record::default(), Vec::new(), Vec::new());
        RecordReader { input, delimiter: delimiter.byte(), record, line, ends, row: 0, index_lines: true }
    }

    /// A reader that reads every record with the general path, for tests.
    #[cfg(test)]
    fn general_only(mut self) -> Self {
        self.index_lines = false;
        self
    }

    /// The number of the record last read (or being read, after an error).
    pub(crate) fn row(&self) -> u64 {
        self.row
    }

    pub(crate) fn fields(&self) -> Fields<'_> {
        self.record.view()
    }

    /// Reads the next record, allowing at most `max_fields` fields; false at the end of the input.
    pub(crate) fn read(&mut self, max_fields: usize) -> Result<bool, RecordError> {
        self.row += 1;
        let gathered = match self.read_line(max_fields)? {
            Line::Indexed => return Ok(true),
            Line::Declined => 0,
            Line::Gathered => self.line.len(),
        };
        let mut bytes = self.record.take_buffer();
        self.ends.clear();
        let line = std::mem::take(&mut self.line);
        let scanned = self.read_scanning(&mut bytes, max_fields, &line[..gathered]);
        self.line = line;
        scanned?;
        if self.ends.is_empty() {
            // The input had ended: no record.
            return Ok(false);
        }
        if self.row == 1 && bytes.starts_with(BOM.as_bytes()) {
            bytes.drain(..BOM.len());
            self.ends.iter_mut().for_each(|end| *end = end.saturating_sub(BOM.len()));
        }
        let text = self.decode(bytes)?;
        self.record.set_decoded(text, &self.ends);
        Ok(true)
    }

    /// The fast path, for the common record: one line that is one well-formed record
    /// ([`Record::index_line`]), copied once and indexed in one vectorised pass, with no per-field work. A line
    /// within the buffer is indexed where it lies; one that runs past it is gathered into `self.line` first.
    /// The first record (it may start with a byte order mark) is left to [`Self::read_scanning`].
    fn read_line(&mut self, max_fields: usize) -> Result<Line, RecordError> {
        if self.row == 1 || !self.index_lines {
            return Ok(Line::Declined);
        }
        let chunk = self.input.fill_buf().map_err(RecordError::Io)?;
        if let Some(end) = memchr::memchr(b'\n', chunk) {
            let indexed = end <= MAX_RECORD_BYTES
                && self.record.index_line(without_cr(&chunk[..end]), self.delimiter, max_fields);
            if indexed {
                self.input.consume(end + 1);
            }
            return Ok(if indexed { Line::Indexed } else { Line::Declined });
        }
        if chunk.is_empty() {
            return Ok(Line::Declined);
        }
        self.line.clear();
        while self.line.len() <= MAX_RECORD_BYTES {
            let chunk = self.input.fill_buf().map_err(RecordError::Io)?;
            let Some(end) = memchr::memchr(b'\n', chunk) else {
                let read = chunk.len();
                self.line.extend_from_slice(chunk);
                self.input.consume(read);
                if read == 0 {
                    // The last line, without a line break.
                    break;
                }
                continue;
            };
            self.line.extend_from_slice(&chunk[..=end]);
            self.input.consume(end + 1);
            let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
            if line.len() <= MAX_RECORD_BYTES && self.record.index_line(without_cr(line), self.delimiter, max_fields) {
                return Ok(Line::Indexed);
            }
            break;
        }
        Ok(Line::Gathered)
    }

    /// The general path: the field state machine over `gathered` (bytes of this record already taken from the
    /// input), then over as many buffer refills as the record needs (quoted fields, line breaks inside quotes,
    /// a record longer than the buffer). Leaves `ends` empty at the end of the input.
    fn read_scanning(&mut self, bytes: &mut Vec<u8>, max_fields: usize, gathered: &[u8]) -> Result<(), RecordError> {
        let mut scan =
            Scan { state: State::FieldStart, delimiter: self.delimiter, max_fields, bytes, ends: &mut self.ends };
        let mut gathered = gathered;
        let mut consumed = 0;
        loop {
            let from_gathered = !gathered.is_empty();
            let chunk = if from_gathered { gathered } else { self.input.fill_buf().map_err(RecordError::Io)? };
            if chunk.is_empty() {
                if consumed == 0 {
                    return Ok(());
                }
                return scan.end_of_input();
            }
            // Never look past the limit, whatever the caller's buffer size.
            let window = &chunk[..chunk.len().min(MAX_RECORD_BYTES + 1 - consumed)];
            let (used, done) = scan.feed(window)?;
            if from_gathered {
                gathered = &gathered[used..];
            } else {
                self.input.consume(used);
            }
            consumed += used;
            if done {
                // A gathered line holds one line break, at its end: the record cannot end before it.
                debug_assert!(gathered.is_empty(), "the record ended inside the line gathered for it");
                return Ok(());
            }
            if consumed > MAX_RECORD_BYTES {
                return Err(RecordError::TooLong);
            }
        }
    }

    /// Validates the record as UTF-8, naming the first field that is not.
    fn decode(&self, bytes: Vec<u8>) -> Result<String, RecordError> {
        String::from_utf8(bytes).map_err(|error| {
            let offset = error.utf8_error().valid_up_to();
            let field = self.ends.iter().position(|&end| end > offset).unwrap_or(self.ends.len());
            RecordError::InvalidUtf8 { field }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use proptest::prelude::*;

    use super::{Delimiter, RecordReader};

    /// Every record of `bytes` as its fields, or the first error, read through a buffer of `capacity` bytes.
    fn records(bytes: &[u8], capacity: usize, delimiter: Delimiter) -> Vec<Result<Vec<String>, String>> {
        let reader = RecordReader::new(BufReader::with_capacity(capacity.max(1), bytes), delimiter);
        // Capacity 0 stands for the general path alone.
        let mut reader = if capacity == 0 { reader.general_only() } else { reader };
        let mut records = Vec::new();
        loop {
            match reader.read(6) {
                Ok(false) => return records,
                Ok(true) => {
                    let fields = reader.fields();
                    let by_index: Vec<String> =
                        (0..fields.len()).filter_map(|i| fields.get(i)).map(str::to_owned).collect();
                    let in_order: Vec<String> = fields.iter().map(str::to_owned).collect();
                    assert_eq!(by_index, in_order, "get and iter agree");
                    let owned = fields.to_owned_fields();
                    let kept = owned.view();
                    let kept: Vec<String> = (0..kept.len()).filter_map(|i| kept.get(i)).map(str::to_owned).collect();
                    assert_eq!(by_index, kept, "an owned copy reads the same");
                    records.push(Ok(by_index));
                }
                Err(error) => {
                    records.push(Err(format!("row {}: {error:?}", reader.row())));
                    return records;
                }
            }
        }
    }

    fn token() -> impl Strategy<Value = Vec<u8>> {
        prop::sample::select(vec![
            b",".to_vec(),
            b"|".to_vec(),
            b"\"".to_vec(),
            b"\"\"".to_vec(),
            b"ab".to_vec(),
            "é".as_bytes().to_vec(),
            b"\xff".to_vec(),
            b"\r".to_vec(),
            b"\n".to_vec(),
            b"\r\n".to_vec(),
            b",\"x,y\",".to_vec(),
            b"z".repeat(70),
        ])
    }

    proptest! {
        /// A line indexed in place (the fast path: within the buffer, or gathered across refills of a small
        /// one) reads exactly as the field-by-field state machine reads it: the same fields, the same error
        /// at the same row.
        #[test]
        fn extract_indexed_lines_read_as_the_state_machine_reads_them(
            tokens in proptest::collection::vec(token(), 0..48),
        ) {
            let bytes = tokens.concat();
            for delimiter in [Delimiter::Comma, Delimiter::Pipe] {
                let general = records(&bytes, 0, delimiter);
                for capacity in [1, 5, 64, 64 * 1024] {
                    prop_assert_eq!(&records(&bytes, capacity, delimiter), &general, "buffer of {}", capacity);
                }
            }
        }
    }
}
