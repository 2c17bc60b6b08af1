//! One record's fields, indexed by a bitmap of where each field ends.
//!
//! A detail row has 400 (SAE) or 256 (PRAE) columns of which the connector reads a few dozen, and most rows
//! hold no quote. So a record is kept as its text plus one bit per byte marking the separator after each
//! field, in 64-byte blocks that also count the fields ended before them: building the index is a
//! compare-and-mask per 64 bytes (no per-field work, no branch per delimiter), and a field is found when it is
//! read — a rank/select over the blocks. This is what lets the reader stream at a good fraction of a plain line
//! scan (docs/performance.md, `cargo bench -p domain --bench extract`).
//!
//! Two ways to fill a [`Record`]:
//!
//! * [`Record::index_line`], the common case: the raw line is the text. A quoted field (RFC 4180, as
//!   [`super::record`] reads them) keeps its raw bytes in the line, its delimiters are not separators, and its
//!   unescaped value is written after the line and found through [`Quoted`]. Anything unusual — a quote that
//!   does not close on this line, a closing quote not followed by a delimiter, invalid UTF-8, too many fields —
//!   is declined, and the caller reads the record with the general state machine, which names the fault.
//! * [`Record::set_decoded`], after that state machine: the text is already unescaped (each field followed by
//!   one separator byte) and the bitmap is built from the field ends.

use std::ops::Range;

/// 64 bytes of a record's text: which of them end a field, and how many fields ended in the blocks before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Block {
    ends: u64,
    before: u32,
}

/// A quoted field of a raw line: where its opening quote is, and where its unescaped value was written (in
/// the same text, after the line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quoted {
    start: u32,
    value_start: u32,
    value_end: u32,
}

/// One record's text and index, owned; reused from record to record by the reader.
#[derive(Debug, Clone, Default)]
pub(crate) struct Record {
    text: String,
    blocks: Vec<Block>,
    quoted: Vec<Quoted>,
    count: usize,
    /// Scratch: positions of the quotes in the line being indexed.
    quotes: Vec<u32>,
}

impl Record {
    /// The fields, to read them.
    pub(crate) fn view(&self) -> Fields<'_> {
        Fields { text: &self.text, index: Index::Blocks(&self.blocks), quoted: &self.quoted, count: self.count }
    }

    /// Forgets the record (no fields).
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.blocks.clear();
        self.quoted.clear();
        self.count = 0;
    }

    /// Indexes one raw line (without its line break) split by `delimiter`; false when the line needs the
    /// general reader (see the module doc), leaving the record empty.
    pub(crate) fn index_line(&mut self, line: &[u8], delimiter: u8, max_fields: usize) -> bool {
        self.clear();
        // A line that is not UTF-8 is declined: the general reader names the field at fault.
        let Ok(line) = simdutf8::basic::from_utf8(line) else { return false };
        self.text.push_str(line);
        // The separator after the last field, as the general reader writes it.
        self.text.push(char::from(delimiter));
        self.quotes.clear();
        self.count = index(self.text.as_bytes(), delimiter, &mut self.blocks, &mut self.quotes);
        if !self.quotes.is_empty() {
            let quotes = std::mem::take(&mut self.quotes);
            let unquoted = self.unquote(&quotes, delimiter);
            self.quotes = quotes;
            if !unquoted {
                self.clear();
                return false;
            }
            self.count = rank(&mut self.blocks);
        }
        if self.count > max_fields {
            self.clear();
            return false;
        }
        true
    }

    /// Replaces the record with fields the general reader decoded: `text` holds each field followed by one
    /// separator byte, `ends[i]` is where field `i` ends.
    pub(crate) fn set_decoded(&mut self, text: String, ends: &[usize]) {
        self.clear();
        self.blocks.resize(text.len().div_ceil(64), Block::default());
        for &end in ends {
            if let Some(block) = self.blocks.get_mut(end / 64) {
                block.ends |= 1 << (end % 64);
            }
        }
        self.count = rank(&mut self.blocks);
        self.text = text;
    }

    /// The text's buffer, to reuse for the next record.
    pub(crate) fn take_buffer(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.text).into_bytes();
        bytes.clear();
        self.clear();
        bytes
    }

    /// Follows each quoted field of the line from its opening quote to its closing one: its delimiters stop
    /// being separators and its unescaped value is appended to the text. False when the line is not one whole
    /// well-formed record (a quote left open, something after a closing quote).
    fn unquote(&mut self, quotes: &[u32], delimiter: u8) -> bool {
        let text = &mut self.text;
        let mut next = 0;
        while let Some(&open) = quotes.get(next) {
            next += 1;
            let open = open as usize;
            // A quote inside an unquoted field is an ordinary character. Quotes inside quoted fields are
            // skipped below, so a delimiter just before this one is a separator.
            if open != 0 && text.as_bytes()[open - 1] != delimiter {
                continue;
            }
            let value_start = text.len();
            let mut from = open + 1;
            let close = loop {
                let Some(&quote) = quotes.get(next) else { return false };
                let quote = quote as usize;
                next += 1;
                if quotes.get(next).is_some_and(|&following| following as usize == quote + 1) {
                    // `""`: one quote of the value.
                    text.extend_from_within(from..=quote);
                    from = quote + 2;
                    next += 1;
                    continue;
                }
                break quote;
            };
            // The line ends with a delimiter (pushed after it), so a closing quote is never the last byte.
            if text.as_bytes()[close + 1] != delimiter {
                return false;
            }
            text.extend_from_within(from..close);
            clear_ends(&mut self.blocks, open + 1..close);
            let position = |at: usize| u32::try_from(at).unwrap_or(u32::MAX);
            self.quoted.push(Quoted {
                start: position(open),
                value_start: position(value_start),
                value_end: position(text.len()),
            });
        }
        true
    }
}

/// The fields of one record, borrowed from a [`Record`] or an [`OwnedFields`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    text: &'a str,
    index: Index<'a>,
    quoted: &'a [Quoted],
    count: usize,
}

/// Where the fields end.
#[derive(Debug, Clone, Copy)]
enum Index<'a> {
    /// The reader's bitmap: cheap to build, a rank/select to read.
    Blocks(&'a [Block]),
    /// Each field's end, listed: built once when a row is kept, so that reading its many columns (a row
    /// becoming part of a document) is a plain lookup.
    Ends(&'a [u32]),
}

/// A row's fields, owned: the text as read (raw line and unescaped quoted values) and each field's end.
#[derive(Debug, Clone)]
pub(crate) struct OwnedFields {
    text: String,
    ends: Vec<u32>,
    quoted: Vec<Quoted>,
}

impl OwnedFields {
    /// The fields, to read them.
    pub(crate) fn view(&self) -> Fields<'_> {
        Fields { text: &self.text, index: Index::Ends(&self.ends), quoted: &self.quoted, count: self.ends.len() }
    }
}

impl<'a> Fields<'a> {
    /// The field at a 0-based index, if the record has it.
    pub(crate) fn get(self, index: usize) -> Option<&'a str> {
        if index >= self.count {
            return None;
        }
        let (start, end) = match self.index {
            Index::Blocks(blocks) => {
                let end = select(blocks, self.count, index);
                (if index == 0 { 0 } else { end_before(blocks, end) + 1 }, end)
            }
            Index::Ends(ends) => {
                let end = *ends.get(index)? as usize;
                (index.checked_sub(1).and_then(|before| ends.get(before)).map_or(0, |&before| before as usize + 1), end)
            }
        };
        self.value(start..end)
    }

    pub(crate) fn len(self) -> usize {
        self.count
    }

    /// An empty line: one empty field.
    pub(crate) fn is_blank(self) -> bool {
        self.count == 1 && self.get(0) == Some("")
    }

    /// Every field, in order.
    pub(crate) fn iter(self) -> impl Iterator<Item = &'a str> + 'a {
        let mut start = 0;
        self.ends().map(move |end| {
            let value = self.value(start..end).unwrap_or("");
            start = end + 1;
            value
        })
    }

    /// Where each field ends, in order.
    fn ends(self) -> impl Iterator<Item = usize> + 'a {
        let (blocks, ends) = match self.index {
            Index::Blocks(blocks) => (blocks, &[][..]),
            Index::Ends(ends) => (&[][..], ends),
        };
        let in_blocks = blocks.iter().enumerate().flat_map(|(at, block)| {
            std::iter::successors(Some(block.ends).filter(|&ends| ends != 0), |&ends| {
                Some(ends & (ends - 1)).filter(|&rest| rest != 0)
            })
            .map(move |ends| at * 64 + ends.trailing_zeros() as usize)
        });
        in_blocks.chain(ends.iter().map(|&end| end as usize))
    }

    /// An owned copy, with each field's end listed.
    pub(crate) fn to_owned_fields(self) -> OwnedFields {
        let mut ends = Vec::with_capacity(self.count);
        ends.extend(self.ends().map(|end| u32::try_from(end).unwrap_or(u32::MAX)));
        OwnedFields { text: self.text.to_owned(), ends, quoted: self.quoted.to_vec() }
    }

    /// The value of the field spanning `raw` in the text: the raw bytes, or the unescaped value of a quoted
    /// field.
    fn value(self, raw: Range<usize>) -> Option<&'a str> {
        if !self.quoted.is_empty() && self.text.as_bytes().get(raw.start) == Some(&b'"') {
            let start = u32::try_from(raw.start).ok()?;
            if let Ok(found) = self.quoted.binary_search_by_key(&start, |quoted| quoted.start) {
                let quoted = self.quoted[found];
                return self.text.get(quoted.value_start as usize..quoted.value_end as usize);
            }
        }
        self.text.get(raw)
    }
}

/// Where field `index` ends (`index < count`, the number of fields in `blocks`).
fn select(blocks: &[Block], count: usize, index: usize) -> usize {
    let index = u32::try_from(index).unwrap_or(u32::MAX);
    // Fields are spread fairly evenly over a record: start from the block where an even spread puts the
    // field, then step to the one that holds it (the first block has `before == 0`).
    let last = blocks.len() - 1;
    let mut at = (index as usize * blocks.len() / count.max(1)).min(last);
    while blocks[at].before > index {
        at -= 1;
    }
    while at < last && blocks[at + 1].before <= index {
        at += 1;
    }
    let block = blocks[at];
    at * 64 + select_bit(block.ends, index - block.before)
}

/// Where the field ending before `end` ends (a field does end before it).
fn end_before(blocks: &[Block], end: usize) -> usize {
    let mut at = end / 64;
    let mut ends = blocks[at].ends & ((1u64 << (end % 64)) - 1);
    while ends == 0 && at > 0 {
        at -= 1;
        ends = blocks[at].ends;
    }
    at * 64 + (63 - ends.leading_zeros() as usize)
}

/// Makes `blocks` one block per 64 bytes of `bytes` marking its delimiters, and adds the position of every
/// quote to `quotes`; the number of delimiters.
fn index(bytes: &[u8], delimiter: u8, blocks: &mut Vec<Block>, quotes: &mut Vec<u32>) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 and POPCNT (every AVX2 CPU has POPCNT), checked just above.
        return unsafe { index_avx2(bytes, delimiter, blocks, quotes) };
    }
    index_with(bytes, delimiter, blocks, quotes, masks)
}

/// [`index`] compiled for AVX2 (most x86_64 servers, Lambda's included): twice the bytes per compare, and a
/// hardware popcount.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn index_avx2(bytes: &[u8], delimiter: u8, blocks: &mut Vec<Block>, quotes: &mut Vec<u32>) -> usize {
    index_with(bytes, delimiter, blocks, quotes, |block, delimiter| masks_avx2(block, delimiter))
}

#[inline(always)]
fn index_with(
    bytes: &[u8],
    delimiter: u8,
    blocks: &mut Vec<Block>,
    quotes: &mut Vec<u32>,
    masks: impl Fn(&[u8; 64], u8) -> (u64, u64),
) -> usize {
    let mut count = 0u32;
    let mut add = |at: usize, block: &mut Block, (ends, mut quote_bits): (u64, u64)| {
        *block = Block { ends, before: count };
        count += ends.count_ones();
        while quote_bits != 0 {
            quotes.push((at * 64) as u32 + quote_bits.trailing_zeros());
            quote_bits &= quote_bits - 1;
        }
    };
    blocks.clear();
    blocks.resize(bytes.len().div_ceil(64), Block::default());
    let mut slots = blocks.iter_mut().enumerate();
    let mut chunks = bytes.chunks_exact(64);
    for (chunk, (at, block)) in (&mut chunks).zip(&mut slots) {
        add(at, block, masks(chunk.try_into().unwrap_or(&[0; 64]), delimiter));
    }
    let rest = chunks.remainder();
    if let Some((at, block)) = slots.next() {
        // Zero padding: never a delimiter (always a printable byte or tab) nor a quote.
        let mut last = [0u8; 64];
        last[..rest.len()].copy_from_slice(rest);
        add(at, block, masks(&last, delimiter));
    }
    count as usize
}

/// Fills each block's count of fields ended before it; the record's field count.
fn rank(blocks: &mut [Block]) -> usize {
    let mut count = 0;
    for block in blocks {
        block.before = count;
        count += block.ends.count_ones();
    }
    count as usize
}

/// Unmarks the separators in `range` (the inside of a quoted field).
fn clear_ends(blocks: &mut [Block], range: Range<usize>) {
    for at in range.start / 64..range.end.div_ceil(64) {
        let from = range.start.max(at * 64) - at * 64;
        let to = range.end.min(at * 64 + 64) - at * 64;
        let bits = if to - from == 64 { u64::MAX } else { ((1u64 << (to - from)) - 1) << from };
        if let Some(block) = blocks.get_mut(at) {
            block.ends &= !bits;
        }
    }
}

/// The position of the `rank`-th (0-based) set bit of `word` (which has more than `rank` set bits), without a
/// loop over bytes: the byte holding it is found from the bytes' running popcounts, then the bit within it.
fn select_bit(word: u64, rank: u32) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Popcount of each byte, then the running sum: byte i of `running` counts the set bits of bytes 0..=i.
    let pairs = word - ((word >> 1) & 0x5555_5555_5555_5555);
    let nibbles = (pairs & 0x3333_3333_3333_3333) + ((pairs >> 2) & 0x3333_3333_3333_3333);
    let bytes = (nibbles + (nibbles >> 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    let running = bytes.wrapping_mul(ONES);
    // The bytes whose running count is at most `rank` come before the byte holding the bit (counts ≤ 64,
    // so the high bit of each byte of the difference is a borrow-free comparison).
    let rank = u64::from(rank.min(63));
    let before = (((rank * ONES) | (0x80 * ONES)) - running) & (0x80 * ONES);
    let byte = before.count_ones() as usize;
    let skipped = if byte == 0 { 0 } else { (running >> (8 * byte - 8)) & 0xff };
    let mut bits = (word >> (8 * byte.min(7))) & 0xff;
    for _ in 0..rank.saturating_sub(skipped) {
        bits &= bits.wrapping_sub(1);
    }
    8 * byte + bits.trailing_zeros() as usize
}

/// [`masks`] with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn masks_avx2(block: &[u8; 64], delimiter: u8) -> (u64, u64) {
    use std::arch::x86_64::{__m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8};
    let delimiters = _mm256_set1_epi8(delimiter as i8);
    let quotes = _mm256_set1_epi8(b'"' as i8);
    let (mut delimiter_bits, mut quote_bits) = (0u64, 0u64);
    for (at, lane) in block.chunks_exact(32).enumerate() {
        // SAFETY: `lane` is 32 readable bytes and `loadu` has no alignment requirement.
        let bytes = unsafe { _mm256_loadu_si256(lane.as_ptr().cast::<__m256i>()) };
        delimiter_bits |= u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(bytes, delimiters)) as u32) << (32 * at);
        quote_bits |= u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(bytes, quotes)) as u32) << (32 * at);
    }
    (delimiter_bits, quote_bits)
}

/// Which bytes of a 64-byte block are `delimiter`, and which are `"`, as bit masks (bit `i` for byte `i`).
#[cfg(target_arch = "x86_64")]
fn masks(block: &[u8; 64], delimiter: u8) -> (u64, u64) {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let (mut delimiter_bits, mut quote_bits) = (0u64, 0u64);
    // SAFETY: SSE2 is part of the x86_64 baseline (every such CPU has it; the compiler assumes it too), and
    // each load reads 16 bytes of `block`, with no alignment requirement (`loadu`).
    unsafe {
        let delimiters = _mm_set1_epi8(delimiter as i8);
        let quotes = _mm_set1_epi8(b'"' as i8);
        for (at, lane) in block.chunks_exact(16).enumerate() {
            let bytes = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            delimiter_bits |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, delimiters)) as u16) << (16 * at);
            quote_bits |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, quotes)) as u16) << (16 * at);
        }
    }
    (delimiter_bits, quote_bits)
}

/// Which bytes of a 64-byte block are `delimiter`, and which are `"`, as bit masks (bit `i` for byte `i`).
///
/// Portable: the compares vectorise, then each 8 bytes' flags are gathered into one byte by a multiply.
#[cfg(not(target_arch = "x86_64"))]
fn masks(block: &[u8; 64], delimiter: u8) -> (u64, u64) {
    portable_masks(block, delimiter)
}

#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn portable_masks(block: &[u8; 64], delimiter: u8) -> (u64, u64) {
    let mut delimiter_flags = [0u8; 64];
    let mut quote_flags = [0u8; 64];
    for ((byte, is_delimiter), is_quote) in block.iter().zip(&mut delimiter_flags).zip(&mut quote_flags) {
        *is_delimiter = u8::from(*byte == delimiter);
        *is_quote = u8::from(*byte == b'"');
    }
    // Each flag is 0 or 1 in the low bit of its byte; the multiply moves byte k's flag to bit 56 + k.
    let gather = |flags: &[u8; 64]| {
        flags.chunks_exact(8).enumerate().fold(0u64, |bits, (at, eight)| {
            let word = u64::from_le_bytes(eight.try_into().unwrap_or([0; 8]));
            bits | ((word.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * at))
        })
    };
    (gather(&delimiter_flags), gather(&quote_flags))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The vector masks find exactly the bytes a byte-by-byte comparison finds.
        #[test]
        fn extract_block_masks_match_a_byte_comparison(block in proptest::array::uniform32(
            prop::sample::select(vec![b',', b'|', b'"', b'a', 0u8, 0x80, 0xff, b',' + 0x80]))) {
            let mut bytes = [0u8; 64];
            bytes[..32].copy_from_slice(&block);
            bytes[32..].copy_from_slice(&block.map(|b| b.rotate_left(1)));
            for delimiter in [b',', b'|'] {
                let slow = |wanted: u8| bytes.iter().enumerate()
                    .filter(|(_, b)| **b == wanted).fold(0u64, |bits, (i, _)| bits | 1 << i);
                prop_assert_eq!(masks(&bytes, delimiter), (slow(delimiter), slow(b'"')));
                prop_assert_eq!(portable_masks(&bytes, delimiter), (slow(delimiter), slow(b'"')));
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, checked just above.
                    prop_assert_eq!(unsafe { masks_avx2(&bytes, delimiter) }, (slow(delimiter), slow(b'"')));
                }
            }
        }

        /// Select finds the n-th set bit.
        #[test]
        fn extract_select_finds_the_nth_set_bit(word in any::<u64>()) {
            let positions: Vec<usize> = (0..64).filter(|i| word & (1 << i) != 0).collect();
            for (rank, position) in positions.iter().enumerate() {
                prop_assert_eq!(select_bit(word, rank as u32), *position);
            }
        }
    }
}
