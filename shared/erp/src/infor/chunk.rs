//! Splitting a document too large for one ION message (reference §6:
//! `max_message_bytes`, [DEFAULT] 5 MiB, and at most [`MAX_LINES`] lines per
//! BOD) into chunks that each balance on their own.
//!
//! * Supplier invoices: each chunk is an invoice of its lines, its
//!   `TotalAmount` their sum, so it balances by construction.
//! * Journals: at each boundary the running balance moves through the
//!   connection's `chunk_clearing_account`: chunk *i* gets a line offsetting
//!   everything so far (a credit when the lines so far are debit-heavy), and
//!   chunk *i+1* opens with the opposite line. Every chunk balances, and the
//!   clearing account nets to zero once all chunks are posted.
//!
//! Every chunk carries the Concur key (in `AlternateDocumentID` or each
//! line's `TransactionReferenceText`) and its own DocumentID
//! `<DocumentID>-<i>of<n>` (see [`bod::document_id`]); its description names
//! the part. Pure and deterministic:
//! the same document and limit give the same chunks, so a resend is the
//! same set of BODs.

use domain::{ErpDocument, ErpDocumentKind, PlannedLine};
use rust_decimal::Decimal;

use super::InforError;
use super::bod::{self, BodSettings, Variation};
use crate::DocumentProblem;

/// [DEFAULT client] Most lines in one BOD (reference §6).
pub const MAX_LINES: usize = 1000;

/// One message's worth of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// 1-based.
    pub part: usize,
    pub parts: usize,
    /// The BOD's DocumentID: the document's ([`bod::document_id`]), or
    /// `<DocumentID>-<i>of<n>` for a part.
    pub document_id: String,
    /// The part as a document of its own (key unchanged; clearing lines included).
    pub document: ErpDocument,
    /// Journals: each line's amount in the functional currency (see
    /// [`super::functional`]), balanced like the lines; empty otherwise.
    pub functional: Vec<Decimal>,
}

impl Chunk {
    /// The whole document as one chunk.
    pub fn whole(document: &ErpDocument, functional: &[Decimal]) -> Self {
        Self {
            part: 1,
            parts: 1,
            document_id: bod::document_id(document),
            document: document.clone(),
            functional: functional.to_vec(),
        }
    }
}

/// The widest variation: chunks are sized for it, so every real one fits.
const WIDEST: Variation = Variation(u64::MAX);

fn part_id(base: &str, part: usize, parts: usize) -> String {
    format!("{base}-{part}of{parts}")
}

fn part_description(description: &str, part: usize, parts: usize) -> String {
    format!("{description} (part {part} of {parts})")
}

fn clearing_line(account: &str, key: &str, amount: Decimal, from: usize, parts: usize) -> PlannedLine {
    PlannedLine {
        account: account.to_owned(),
        dimensions: Default::default(),
        amount,
        description: format!("Chunk clearing {key} part {from} to {} of {parts}", from + 1),
        source: usize::MAX,
    }
}

/// The rendered size of `chunk` (widest variation).
fn rendered(settings: &BodSettings, chunk: &Chunk) -> usize {
    bod::envelope_bytes(settings, chunk, WIDEST)
        + chunk
            .document
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| bod::line_bytes(settings, &chunk.document, l, chunk.functional.get(i).copied(), i + 1))
            .sum::<usize>()
}

/// Splits `document` into chunks of at most `max_bytes` rendered bytes
/// (one chunk under the document's own DocumentID when it fits).
/// `functional`: the functional amount of each line of a journal (empty for
/// other documents), carried and balanced per part like the amounts.
pub fn chunk(
    document: &ErpDocument,
    functional: &[Decimal],
    settings: &BodSettings,
    max_bytes: usize,
) -> Result<Vec<Chunk>, InforError> {
    let split = Split {
        document,
        functional,
        settings,
        max_bytes,
        journal: matches!(document.kind, ErpDocumentKind::Journal),
        label: format!("the {} for Concur key `{}`", document.label(), document.key),
    };
    split.check()?;
    let functional_magnitude = split.functional_magnitude()?;
    let whole = Chunk::whole(document, functional);
    let size = rendered(settings, &whole);
    if size <= max_bytes && document.lines.len() <= MAX_LINES {
        return Ok(vec![whole]);
    }
    let budget = split.budget(functional_magnitude)?;
    let groups = split.groups(&budget)?;
    if split.journal && groups.len() > 1 && settings.chunk_clearing_account.is_none() {
        return Err(InforError::NeedsClearingAccount {
            document: split.label,
            lines: document.lines.len(),
            bytes: size,
            max_lines: MAX_LINES,
            max: max_bytes,
            parts: groups.len(),
        });
    }
    let chunks = split.parts(groups)?;
    if let Some(over) = chunks.iter().find(|c| rendered(settings, c) > max_bytes) {
        // The budget above is an upper bound; this guards the arithmetic.
        return Err(split.invalid(DocumentProblem::PartTooLarge { part: over.part, max: max_bytes }));
    }
    Ok(chunks)
}

/// One document being split, with what every step needs.
struct Split<'a> {
    document: &'a ErpDocument,
    functional: &'a [Decimal],
    settings: &'a BodSettings,
    max_bytes: usize,
    journal: bool,
    /// How messages name the document.
    label: String,
}

/// The bytes each part may spend on the document's own lines.
struct Budget {
    /// The envelope of the widest part (ids, description, total).
    overhead: usize,
    /// Two clearing lines of the widest amount (journals).
    reserve: usize,
    /// What is left for the lines of one part.
    lines: usize,
    /// Most of the document's lines in one part.
    line_limit: usize,
}

impl Split<'_> {
    fn invalid(&self, problem: DocumentProblem) -> InforError {
        InforError::Invalid { document: self.label.clone(), problem: Box::new(problem) }
    }

    fn overflow(&self) -> InforError {
        self.invalid(DocumentProblem::AmountsTooLarge)
    }

    /// The document's rules, and functional amounts that match its lines.
    fn check(&self) -> Result<(), InforError> {
        bod::check_document(self.document).map_err(|problem| self.invalid(problem))?;
        if self.journal && self.functional.len() != self.document.lines.len() {
            return Err(self.invalid(DocumentProblem::FunctionalMismatch {
                lines: self.document.lines.len(),
                amounts: self.functional.len(),
            }));
        }
        Ok(())
    }

    /// Σ|functional amount|: bounds every functional sum of a part.
    fn functional_magnitude(&self) -> Result<Decimal, InforError> {
        self.functional.iter().try_fold(Decimal::ZERO, |s, a| s.checked_add(a.abs())).ok_or_else(|| self.overflow())
    }

    /// Budgets with the widest part numbers, totals and clearing amounts possible.
    fn budget(&self, functional_magnitude: Decimal) -> Result<Budget, InforError> {
        let (document, settings) = (self.document, self.settings);
        let count = document.lines.len();
        let widest_id = part_id(&bod::document_id(document), count, count);
        bod::check_document_id("the chunk DocumentID", &widest_id).map_err(|problem| self.invalid(problem))?;
        let magnitude = document
            .lines
            .iter()
            .try_fold(Decimal::ZERO, |s, l| s.checked_add(l.amount.abs()))
            .ok_or_else(|| self.overflow())?;
        let mut frame = document.clone();
        frame.lines.clear();
        frame.description = part_description(&document.description, count, count);
        let frame =
            Chunk { part: count, parts: count, document_id: widest_id, document: frame, functional: Vec::new() };
        let mut overhead = bod::envelope_bytes(settings, &frame, WIDEST);
        if !self.journal {
            // The empty frame's total is `0`; a part's total is at most this wide.
            overhead += format!("-{magnitude}").len();
        }
        let mut reserve = 0;
        let mut line_limit = MAX_LINES;
        if self.journal {
            // Without a clearing account the document is refused later anyway.
            let account = settings.chunk_clearing_account.as_deref().unwrap_or_default();
            let widest = clearing_line(account, &document.key, -magnitude, count, count);
            reserve = 2 * bod::line_bytes(settings, &frame.document, &widest, Some(-functional_magnitude), count + 2);
            line_limit -= 2;
        }
        let lines = self.max_bytes.saturating_sub(overhead + reserve);
        Ok(Budget { overhead, reserve, lines, line_limit })
    }

    /// The document's line indices in groups that each fit the budget.
    fn groups(&self, budget: &Budget) -> Result<Vec<Vec<usize>>, InforError> {
        let mut groups: Vec<Vec<usize>> = vec![Vec::new()];
        let mut used = 0;
        for (i, line) in self.document.lines.iter().enumerate() {
            let bytes = bod::line_bytes(self.settings, self.document, line, self.functional.get(i).copied(), i + 2);
            if bytes > budget.lines {
                return Err(InforError::LimitTooSmall {
                    document: self.label.clone(),
                    max: self.max_bytes,
                    line: i + 1,
                    needed: bytes + budget.overhead + budget.reserve,
                });
            }
            let current = groups.last_mut().expect("there is always a current group");
            if !current.is_empty() && (used + bytes > budget.lines || current.len() == budget.line_limit) {
                groups.push(Vec::new());
                used = 0;
            }
            groups.last_mut().expect("there is always a current group").push(i);
            used += bytes;
        }
        Ok(groups)
    }

    /// One chunk per group; a journal's parts carry the balance between
    /// them on clearing lines.
    fn parts(&self, groups: Vec<Vec<usize>>) -> Result<Vec<Chunk>, InforError> {
        let document = self.document;
        let parts = groups.len();
        let base = bod::document_id(document);
        let mut chunks = Vec::with_capacity(parts);
        // The balance carried so far, in the document's and the functional currency.
        let mut carried = (Decimal::ZERO, Decimal::ZERO);
        for (i, group) in groups.into_iter().enumerate() {
            let part = i + 1;
            let (lines, part_functional) = if self.journal {
                self.journal_part(&group, part, parts, &mut carried)?
            } else {
                (group.iter().map(|&index| document.lines[index].clone()).collect(), Vec::new())
            };
            let mut part_document = document.clone();
            part_document.lines = lines;
            part_document.description = part_description(&document.description, part, parts);
            chunks.push(Chunk {
                part,
                parts,
                document_id: part_id(&base, part, parts),
                document: part_document,
                functional: part_functional,
            });
        }
        Ok(chunks)
    }

    /// A journal part's lines and functional amounts: the balance carried
    /// in, the group's lines, the balance carried out (not after the last).
    fn journal_part(
        &self,
        group: &[usize],
        part: usize,
        parts: usize,
        carried: &mut (Decimal, Decimal),
    ) -> Result<(Vec<PlannedLine>, Vec<Decimal>), InforError> {
        let (document, key) = (self.document, &self.document.key);
        let account = self.settings.chunk_clearing_account.as_deref().unwrap_or_default();
        let mut lines: Vec<PlannedLine> = Vec::with_capacity(group.len() + 2);
        let mut functional: Vec<Decimal> = Vec::new();
        let open = |c: &(Decimal, Decimal)| !c.0.is_zero() || !c.1.is_zero();
        // A clearing line is needed when either balance is open (rounding
        // can leave one open without the other).
        if open(carried) {
            lines.push(clearing_line(account, key, carried.0, part - 1, parts));
            functional.push(carried.1);
        }
        for &index in group {
            carried.0 = carried.0.checked_add(document.lines[index].amount).ok_or_else(|| self.overflow())?;
            carried.1 = carried.1.checked_add(self.functional[index]).ok_or_else(|| self.overflow())?;
            lines.push(document.lines[index].clone());
            functional.push(self.functional[index]);
        }
        if part < parts && open(carried) {
            lines.push(clearing_line(account, key, -carried.0, part, parts));
            functional.push(-carried.1);
        }
        Ok((lines, functional))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::str::FromStr;

    use domain::InforSettings;
    use time::macros::date;

    use super::*;

    fn settings(clearing: Option<&str>) -> BodSettings {
        let mut s = InforSettings {
            logical_id: Some("lid://infor.ims.concurconnector".into()),
            accounting_entity: Some("1000".into()),
            functional_currency: Some("USD".into()),
            functional_rates: [("GBP".to_owned(), Decimal::from_str("1.2345").unwrap())].into(),
            ..Default::default()
        };
        s.api.chunk_clearing_account = clearing.map(str::to_owned);
        BodSettings::new("ACME_TST", &s).unwrap()
    }

    fn line(account: &str, amount: &str, i: usize) -> PlannedLine {
        let mut dimensions = BTreeMap::new();
        dimensions.insert("CostCenter".to_owned(), format!("{}", 100 + i % 7));
        PlannedLine {
            account: account.into(),
            dimensions,
            amount: Decimal::from_str(amount).unwrap(),
            description: format!("Expense line {i} & more"),
            source: i,
        }
    }

    /// 200 × (two debits, one credit of their sum): 600 lines whose pairs
    /// do not line up with chunk boundaries.
    fn big_journal() -> ErpDocument {
        let mut lines = Vec::new();
        for i in 0..200 {
            let a = Decimal::from_str(&format!("{}.{:02}", 10 + i * 7 % 913, i % 100)).unwrap();
            let b = Decimal::from_str(&format!("{}.5", i % 13)).unwrap();
            lines.push(line("6100", &a.to_string(), 3 * i));
            lines.push(line("6200", &b.to_string(), 3 * i + 1));
            lines.push(line("2440", &(-(a + b)).to_string(), 3 * i + 2));
        }
        ErpDocument {
            kind: ErpDocumentKind::Journal,
            key: "CNQ-8842".into(),
            date: date!(2024 - 03 - 15),
            currency: "USD".into(),
            description: "Concur expense report CNQ-8842".into(),
            lines,
        }
    }

    fn big_bill() -> ErpDocument {
        let lines = (0..600).map(|i| line("6100", &format!("{}.5", i % 50 + 1), i)).collect();
        ErpDocument { kind: ErpDocumentKind::Bill { vendor: "EMPJDOE".into() }, lines, ..big_journal() }
    }

    fn functional(document: &ErpDocument, settings: &BodSettings) -> Vec<Decimal> {
        crate::infor::functional::functional_amounts(document, settings).unwrap()
    }

    fn sum(lines: &[PlannedLine]) -> Decimal {
        lines.iter().map(|l| l.amount).sum()
    }

    #[test]
    fn a_small_document_is_one_chunk_under_its_key() {
        let mut document = big_journal();
        document.lines.truncate(3);
        let settings = settings(None);
        let amounts = functional(&document, &settings);
        let chunks = chunk(&document, &amounts, &settings, 5 * 1024 * 1024).unwrap();
        assert_eq!(chunks, vec![Chunk::whole(&document, &amounts)]);
        assert_eq!(chunks[0].document_id, "CNQ-8842");
    }

    #[test]
    fn a_large_journal_splits_into_balanced_chunks_through_the_clearing_account() {
        let document = big_journal();
        let settings = settings(Some("1999"));
        let amounts = functional(&document, &settings);
        let chunks = chunk(&document, &amounts, &settings, 4096).unwrap();
        let parts = chunks.len();
        assert!(parts > 50, "{parts} chunks");
        let mut clearing = Decimal::ZERO;
        let mut original = Vec::new();
        let mut carried = Decimal::ZERO;
        let mut boundaries_with_clearing = 0;
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!((c.part, c.parts), (i + 1, parts));
            assert_eq!(c.document_id, format!("CNQ-8842-{}of{parts}", i + 1));
            assert!(c.document.description.ends_with(&format!("(part {} of {parts})", i + 1)));
            assert_eq!(c.document.key, "CNQ-8842", "each chunk is tied to the document");
            assert_eq!(sum(&c.document.lines), Decimal::ZERO, "part {} balances", c.part);
            let bod = bod::render(&settings, c, Variation(20240315140211), time::OffsetDateTime::UNIX_EPOCH);
            assert!(bod.xml.len() <= 4096, "part {} has {} bytes", c.part, bod.xml.len());
            let lines = &c.document.lines;
            if !carried.is_zero() {
                assert_eq!((lines[0].account.as_str(), lines[0].amount), ("1999", carried), "part {} opens", c.part);
            }
            let own: Vec<&PlannedLine> = lines.iter().filter(|l| l.account != "1999").collect();
            carried += own.iter().map(|l| l.amount).sum::<Decimal>();
            if c.part < parts && !carried.is_zero() {
                let last = lines.last().unwrap();
                assert_eq!((last.account.as_str(), last.amount), ("1999", -carried), "part {} closes", c.part);
                boundaries_with_clearing += 1;
            }
            clearing += lines.iter().filter(|l| l.account == "1999").map(|l| l.amount).sum::<Decimal>();
            original.extend(own.into_iter().cloned());
        }
        assert!(boundaries_with_clearing > parts / 2, "{boundaries_with_clearing} of {parts}");
        assert_eq!(carried, Decimal::ZERO);
        assert_eq!(clearing, Decimal::ZERO, "the clearing account nets to zero");
        assert_eq!(original, document.lines, "every line once, in order");
        assert_eq!(chunk(&document, &amounts, &settings, 4096).unwrap(), chunks, "deterministic");
    }

    #[test]
    fn a_journal_needing_chunks_without_a_clearing_account_is_refused() {
        let settings = settings(None);
        let e = chunk(&big_journal(), &functional(&big_journal(), &settings), &settings, 4096).unwrap_err();
        assert!(matches!(e, InforError::NeedsClearingAccount { .. }), "{e}");
        assert!(e.to_string().contains("set `chunk_clearing_account`"), "{e}");
    }

    #[test]
    fn a_large_bill_splits_into_invoices_of_their_own_lines() {
        let document = big_bill();
        let settings = settings(None);
        let chunks = chunk(&document, &[], &settings, 2048).unwrap();
        assert!(chunks.len() > 50);
        let all: Vec<PlannedLine> = chunks.iter().flat_map(|c| c.document.lines.clone()).collect();
        assert_eq!(all, document.lines);
        assert_eq!(chunks.iter().map(|c| sum(&c.document.lines)).sum::<Decimal>(), document.total());
        for c in &chunks {
            let bod = bod::render(&settings, c, Variation(7), time::OffsetDateTime::UNIX_EPOCH);
            assert!(bod.xml.len() <= 2048);
            let total = format!("<TotalAmount currencyID=\"USD\">{}</TotalAmount>", sum(&c.document.lines));
            assert!(bod.xml.contains(&total), "part {} carries its own total", c.part);
        }
    }

    #[test]
    fn more_than_a_thousand_lines_split_even_when_small_enough() {
        let mut document = big_bill();
        document.lines = (0..2500).map(|i| line("6100", "1", i)).collect();
        let chunks = chunk(&document, &[], &settings(None), usize::MAX).unwrap();
        assert_eq!(chunks.iter().map(|c| c.document.lines.len()).collect::<Vec<_>>(), vec![1000, 1000, 500]);
    }

    #[test]
    fn a_limit_below_one_line_says_to_raise_it() {
        let e = chunk(&big_bill(), &[], &settings(None), 1100).unwrap_err();
        assert!(matches!(e, InforError::LimitTooSmall { line: 1, .. }), "{e}");
    }

    /// A GBP journal booked in USD at 1.2345: the converted lines are rounded,
    /// and still every part balances in both currencies, the clearing
    /// account nets to zero in both, and the whole matches the conversion.
    #[test]
    fn functional_amounts_balance_per_part_too() {
        let mut document = big_journal();
        document.currency = "GBP".into();
        let settings = settings(Some("1999"));
        let amounts = functional(&document, &settings);
        assert_eq!(amounts.iter().sum::<Decimal>(), Decimal::ZERO);
        let chunks = chunk(&document, &amounts, &settings, 4096).unwrap();
        assert!(chunks.len() > 10);
        let mut clearing = Decimal::ZERO;
        let mut own = Vec::new();
        for c in &chunks {
            assert_eq!(c.functional.len(), c.document.lines.len());
            assert_eq!(c.functional.iter().sum::<Decimal>(), Decimal::ZERO, "part {} balances in USD", c.part);
            for (line, f) in c.document.lines.iter().zip(&c.functional) {
                if line.account == "1999" {
                    clearing += f;
                } else {
                    own.push(*f);
                }
            }
            let bod = bod::render(&settings, c, Variation(1), time::OffsetDateTime::UNIX_EPOCH);
            let lines = bod.xml.matches("<JournalEntryLine ").count();
            assert_eq!(bod.xml.matches("<FunctionalAmount currencyID=\"USD\">").count(), lines, "every line");
        }
        assert_eq!(clearing, Decimal::ZERO, "the clearing account nets to zero in USD");
        assert_eq!(own, amounts, "every line's functional amount once, in order");
    }

    /// Σ|amount| beyond a decimal used to panic while budgeting the parts.
    #[test]
    fn amounts_too_large_to_add_are_refused_not_panicked() {
        let a = "30000000000000000000000000000";
        let mut document = big_journal();
        document.lines = vec![
            line("6100", a, 0),
            line("6100", a, 1),
            line("2440", &format!("-{a}"), 2),
            line("2440", &format!("-{a}"), 3),
        ];
        let settings = settings(Some("1999"));
        // (functional_amounts itself refuses amounts this large in cents)
        let amounts: Vec<Decimal> = document.lines.iter().map(|l| l.amount).collect();
        let e = chunk(&document, &amounts, &settings, 1500).unwrap_err();
        assert!(e.to_string().contains("too large to add up"), "{e}");
    }
}
