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

use std::io::{self, BufRead};

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

/// The decoded fields of one record: unquoted, unescaped text and where each field ends. One separator
/// byte follows each field in `text` (the delimiter), so a record without quotes is its own line, copied
/// once; `ends[i]` is the end of field `i`, and field `i + 1` starts one byte later.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub(crate) text: &'a str,
    pub(crate) ends: &'a [usize],
}

impl<'a> Fields<'a> {
    /// The field at a 0-based index, if the record has it.
    pub(crate) fn get(self, index: usize) -> Option<&'a str> {
        let end = *self.ends.get(index)?;
        let start = if index == 0 { 0 } else { self.ends[index - 1] + 1 };
        self.text.get(start..end)
    }

    pub(crate) fn len(self) -> usize {
        self.ends.len()
    }

    /// An empty line: one empty field.
    pub(crate) fn is_blank(self) -> bool {
        self.ends == [0]
    }
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

/// Appends the position of every `byte` in `line` to `out`, eight bytes at a time.
///
/// A detail row has a delimiter every two or three bytes, so a search that restarts after each match (as
/// `memchr_iter` does) pays its start-up cost hundreds of times a row; a word-at-a-time mask finds them all
/// in one pass, portably (x86 and Graviton alike).
fn positions_of(byte: u8, line: &[u8], out: &mut Vec<usize>) {
    const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let pattern = u64::from_le_bytes([byte; 8]);
    let mut words = line.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes) ^ pattern;
        // The high bit of each byte of `x` that is zero, exactly (no carry between bytes).
        let mut found = !(((x & LOW_SEVEN) + LOW_SEVEN) | x | LOW_SEVEN);
        while found != 0 {
            out.push(base + found.trailing_zeros() as usize / 8);
            found &= found - 1;
        }
        base += 8;
    }
    out.extend(words.remainder().iter().enumerate().filter(|(_, b)| **b == byte).map(|(i, _)| base + i));
}

/// Reads records one at a time from a buffered stream, reusing one buffer.
#[derive(Debug)]
pub(crate) struct RecordReader<R> {
    input: R,
    delimiter: u8,
    /// The current record's decoded text (valid UTF-8) and field ends.
    text: String,
    ends: Vec<usize>,
    /// 1-based number of the current record in the file (blank lines count).
    row: u64,
}

impl<R: BufRead> RecordReader<R> {
    pub(crate) fn new(input: R, delimiter: Delimiter) -> Self {
        RecordReader { input, delimiter: delimiter.byte(), text: String::new(), ends: Vec::new(), row: 0 }
    }

    /// The number of the record last read (or being read, after an error).
    pub(crate) fn row(&self) -> u64 {
        self.row
    }

    pub(crate) fn fields(&self) -> Fields<'_> {
        Fields { text: &self.text, ends: &self.ends }
    }

    /// Reads the next record, allowing at most `max_fields` fields; false at the end of the input.
    pub(crate) fn read(&mut self, max_fields: usize) -> Result<bool, RecordError> {
        let mut bytes = std::mem::take(&mut self.text).into_bytes();
        bytes.clear();
        self.ends.clear();
        self.row += 1;
        if !self.read_plain_line(&mut bytes, max_fields)? {
            self.read_scanning(&mut bytes, max_fields)?;
        }
        if self.ends.is_empty() {
            // The input had ended: no record.
            self.text = String::from_utf8(bytes).unwrap_or_default();
            return Ok(false);
        }
        if self.row == 1 && bytes.starts_with(BOM.as_bytes()) {
            bytes.drain(..BOM.len());
            self.ends.iter_mut().for_each(|end| *end = end.saturating_sub(BOM.len()));
        }
        self.text = self.decode(bytes)?;
        Ok(true)
    }

    /// The fast path, for the common record: the whole line is in the buffer and holds no quote, so it is
    /// copied once and its field ends found in one vectorised pass (no per-field state machine). `false`
    /// leaves the input untouched for [`Self::read_scanning`].
    fn read_plain_line(&mut self, bytes: &mut Vec<u8>, max_fields: usize) -> Result<bool, RecordError> {
        let chunk = self.input.fill_buf().map_err(RecordError::Io)?;
        let Some(end) = memchr::memchr(b'\n', chunk).filter(|&end| end <= MAX_RECORD_BYTES) else {
            return Ok(false);
        };
        let line = &chunk[..end];
        if memchr::memchr(b'"', line).is_some() {
            return Ok(false);
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        positions_of(self.delimiter, line, &mut self.ends);
        if self.ends.len() >= max_fields {
            return Err(RecordError::TooManyFields);
        }
        self.ends.push(line.len());
        bytes.extend_from_slice(line);
        // The separator after the last field, as the general path writes it: one text for one record.
        bytes.push(self.delimiter);
        self.input.consume(end + 1);
        Ok(true)
    }

    /// The general path: the field state machine over as many buffer refills as the record needs (quoted
    /// fields, line breaks inside quotes, a record longer than the buffer). Leaves `ends` empty at the end
    /// of the input.
    fn read_scanning(&mut self, bytes: &mut Vec<u8>, max_fields: usize) -> Result<(), RecordError> {
        let mut scan =
            Scan { state: State::FieldStart, delimiter: self.delimiter, max_fields, bytes, ends: &mut self.ends };
        let mut consumed = 0;
        loop {
            let chunk = self.input.fill_buf().map_err(RecordError::Io)?;
            if chunk.is_empty() {
                if consumed == 0 {
                    return Ok(());
                }
                return scan.end_of_input();
            }
            // Never look past the limit, whatever the caller's buffer size.
            let window = &chunk[..chunk.len().min(MAX_RECORD_BYTES + 1 - consumed)];
            let (used, done) = scan.feed(window)?;
            self.input.consume(used);
            consumed += used;
            if done {
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
    use proptest::prelude::*;

    proptest! {
        /// The word-at-a-time search finds exactly what a byte-by-byte one finds, at any alignment.
        #[test]
        fn extract_positions_of_finds_every_delimiter(line in proptest::collection::vec(
            prop::sample::select(vec![b',', b'|', b'a', 0u8, 0x80, 0xff, b',' + 0x80]), 0..80)) {
            for byte in [b',', b'|', 0u8, 0xff] {
                let mut fast = Vec::new();
                super::positions_of(byte, &line, &mut fast);
                let slow: Vec<usize> = line.iter().enumerate().filter(|(_, b)| **b == byte).map(|(i, _)| i).collect();
                prop_assert_eq!(fast, slow);
            }
        }
    }
}
