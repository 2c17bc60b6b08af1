//! Throughput and memory of reading a large SAE (issue 15): a deterministic, realistic Standard Accounting
//! Extract of about 100 MB is generated into a temporary file, then read three ways, each next to a plain line
//! scan of the same bytes measured in the same run:
//!
//! * (a) the reference: `BufReader::with_capacity(64 KiB)` + `read_until(b'\n')`, counting lines, no parsing;
//! * (b) the streaming reader: `ExtractReader` over the same kind of `BufReader<File>`, every row read with
//!   `next_row` (its journal amount touched), then `finish` (the count and total checked against the header);
//! * (c) the full path, what the connector does per file: `Documents` grouping, `FileDocument::from_rows` and
//!   `FileDocument::normalize` of every document (each dropped before the next, as a streaming caller would).
//!
//! The file: reports of 1–40 rows (about 10 on average) by 2,000 employees; one expense entry per allocation
//! (one entry in six split 60/40 between two cost centres), one journal row per allocation; a quarter of the
//! journals with VAT (reclaimable in full, in half or not at all), one in ten of those with a second authority
//! on a continuation row of amount 0; three entries in ten on the company card (payee CBCP, the card columns
//! filled), one in twenty a credit. About 130 of the 400 columns are filled and all 400 are written (the
//! reference's detail row has 400 columns, many blank); about one row in five holds a quoted field (commas,
//! doubled quotes). The header's record count and journal total (summed with `rust_decimal`) come from a dry
//! pass of the same deterministic generator, so neither pass holds more than one report.
//!
//! Goal: (b) at least half the line scan's MB/s. Memory: a counting global allocator tracks live and peak heap
//! bytes, and `VmHWM` (reset through `/proc/self/clear_refs`) the peak RSS; (b) and (c) also run on a file a
//! tenth the size, so the two peaks stand side by side: flat memory is shown, not claimed.
//!
//! `cargo bench -p domain --bench extract` (default 100 MB; `SAE_MB=20 cargo bench …` sets the size;
//! `-- --smoke` runs 5 MB and 1 MB files). The files are deleted at the end, on a panic too; a file left by a
//! killed run (its process gone) is removed by the next run.

use std::fmt::Write as _;
use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use domain::NormalizeOptions;
use domain::extract::{Documents, ExtractOptions, ExtractReader, FileDocument, SAE};
use rust_decimal::Decimal;

// ---------------------------------------------------------------------------------------------------------------
// Heap accounting (as in benches/posting.rs).

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/summary.rs"]
mod summary;
use counting_alloc::{ALLOCATIONS, LIVE, PEAK};

/// A field of `/proc/self/status` in KiB (`VmHWM`: peak resident set size, `VmRSS`: current).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0) and returns that RSS; `None` where that is not possible.
fn reset_peak_rss() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    status_kib("VmRSS:")
}

/// What a stage counted.
#[derive(Clone, Copy, Default)]
struct Counts {
    /// Lines (a), rows (b) or documents (c).
    items: u64,
    /// Journal lines of the normalized entries (c).
    lines: u64,
    /// Rows of the largest document (c).
    largest_rows: usize,
    /// Heap `Documents` holds at the end beyond what it held after the first document (c): what it keeps
    /// across documents (a key per document seen, to refuse a split document).
    retained: usize,
}

/// What one run of a stage measured.
#[derive(Clone, Copy)]
struct Run {
    elapsed: Duration,
    counts: Counts,
    /// Peak live heap above the live heap at the start.
    peak_heap: usize,
    /// Live heap left behind (should be 0).
    leaked: isize,
    allocations: usize,
    /// Peak RSS growth: `VmHWM` after the run minus `VmRSS` before it (the peak reset to it); `None` if the
    /// peak could not be reset.
    rss_growth_kib: Option<u64>,
}

impl Run {
    fn mb_per_second(&self, bytes: u64) -> f64 {
        bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }

    fn per_second(&self) -> f64 {
        self.counts.items as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `work` once, timing it and watching the heap and RSS.
fn run(work: impl FnOnce() -> Counts) -> Run {
    let rss_before = reset_peak_rss();
    let start_live = LIVE.load(Ordering::Relaxed);
    PEAK.store(start_live, Ordering::Relaxed);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    let started = Instant::now();
    let counts = work();
    let elapsed = started.elapsed();
    Run {
        elapsed,
        counts,
        peak_heap: PEAK.load(Ordering::Relaxed).saturating_sub(start_live),
        leaked: LIVE.load(Ordering::Relaxed) as isize - start_live as isize,
        allocations: ALLOCATIONS.load(Ordering::Relaxed) - allocations,
        rss_growth_kib: rss_before.and_then(|before| Some(status_kib("VmHWM:")?.saturating_sub(before))),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The three stages.

/// Read buffer of every stage, so they differ only in what they do with the bytes.
const BUFFER: usize = 64 * 1024;

fn open(path: &Path) -> BufReader<File> {
    BufReader::with_capacity(BUFFER, File::open(path).expect("the generated file opens"))
}

/// (a) The reference: lines, no parsing.
fn line_scan(path: &Path) -> Counts {
    let mut input = open(path);
    let mut line = Vec::with_capacity(4096);
    let mut lines = 0;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).expect("the file reads") == 0 {
            return Counts { items: lines, ..Counts::default() };
        }
        lines += 1;
        black_box(&line);
    }
}

/// (b) Every row through the streaming reader, then the checks against the header.
fn stream_rows(path: &Path) -> Counts {
    let mut reader = ExtractReader::new(open(path), ExtractOptions::default()).expect("the header reads");
    let mut rows = 0;
    while let Some(row) = reader.next_row().expect("every row reads") {
        black_box(row.journal_amount());
        rows += 1;
    }
    let summary = reader.finish().expect("the file adds up");
    assert_eq!(summary.rows, rows);
    Counts { items: rows, ..Counts::default() }
}

/// (c) Documents, their FI documents and balanced entries, one at a time.
fn full_path(path: &Path) -> Counts {
    let reader = ExtractReader::new(open(path), ExtractOptions::default()).expect("the header reads");
    let options = NormalizeOptions::default();
    let mut counts = Counts::default();
    let mut documents = Documents::new(reader);
    let mut after_first = None;
    while let Some(document) = documents.next_document().expect("every document groups") {
        counts.largest_rows = counts.largest_rows.max(document.rows.len());
        let file_document = FileDocument::from_rows(&document).expect("every document reads");
        let entry = file_document
            .normalize(&options)
            .unwrap_or_else(|e| panic!("document of rows {:?} must normalize: {e}", file_document.rows));
        counts.items += 1;
        counts.lines += entry.lines().len() as u64;
        black_box(entry);
        drop((file_document, document));
        after_first.get_or_insert(LIVE.load(Ordering::Relaxed));
    }
    counts.retained = LIVE.load(Ordering::Relaxed).saturating_sub(after_first.unwrap_or(0));
    counts
}

// ---------------------------------------------------------------------------------------------------------------
// The generated file.

/// splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// 0..n
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Cents as `12.34` / `-12.34`.
struct Money(i64);

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:02}", self.0.unsigned_abs() / 100, self.0.unsigned_abs() % 100)
    }
}

/// Cents as the journal amount is written, always signed: `+12.34` / `-12.34`.
struct Signed(i64);

impl std::fmt::Display for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 >= 0 { write!(f, "+{}", Money(self.0)) } else { write!(f, "{}", Money(self.0)) }
    }
}

/// A UUID-shaped text derived from a number.
struct Uuid(u64);

impl std::fmt::Display for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let u = Rng(self.0).next();
        write!(f, "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", u >> 32, u & 0xffff, (u >> 16) % 4096, self.0 % 4096, self.0)
    }
}

/// `a * n / d`, rounded half away from zero.
fn share(a: i64, n: i64, d: i64) -> i64 {
    let x = a * n;
    if x >= 0 { (x + d / 2) / d } else { (x - d / 2) / d }
}

const LAST_NAMES: &[&str] = &["Miller", "Schmidt", "Okafor", "García", "Nguyen", "O'Brien", "Kowalski", "Rossi"];
const FIRST_NAMES: &[&str] = &["Anna", "Ben", "Chiara", "David", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas"];
const DEPARTMENTS: &[&str] = &["SALES", "ENG", "FIN", "HR", "OPS", "MKT"];
const CITIES: &[(&str, &str, &str)] = &[
    ("Berlin", "DE", "DE-BE"),
    ("Munich", "DE", "DE-BY"),
    ("New York", "US", "US-NY"),
    ("Chicago", "US", "US-IL"),
    ("Toronto", "CA", "CA-ON"),
    ("London", "GB", "GB-LND"),
];
/// Expense type name, account code.
const EXPENSE_TYPES: &[(&str, &str)] = &[
    ("Hotel", "6110"),
    ("Airfare", "6120"),
    ("Business Meals (attendees)", "6130"),
    ("Taxi", "6140"),
    ("Car Rental", "6150"),
    ("Office Supplies", "6200"),
    ("Mileage", "6160"),
    ("Parking", "6170"),
];
const VENDORS: &[&str] = &["Hilton", "Lufthansa", "Uber", "Hertz", "Staples", "Café Zur Post", "Marriott", "Delta"];
/// Vendors whose names need quoting, used now and then.
const QUOTED_VENDORS: &[&str] = &["Hertz, Inc.", "Marriott, Berlin Mitte", "Café \"Zur Post\""];
const DESCRIPTIONS: &[&str] = &[
    "Customer visit",
    "Dinner with client",
    "Trade fair booth setup",
    "Team offsite",
    "Flight to HQ",
    "Taxi airport \u{2192} hotel",
    "Printer paper and toner",
    "Training",
];
/// Descriptions that need quoting, used now and then.
const QUOTED_DESCRIPTIONS: &[&str] =
    &["Dinner with client, 4 attendees", "Trade fair, booth setup", "Training \"Advanced Excel\""];

/// One SAE detail record being filled: 400 columns, written comma-separated with RFC 4180 quoting.
struct Record {
    columns: Vec<String>,
}

impl Record {
    fn new() -> Self {
        Record { columns: vec![String::new(); SAE.detail.len()] }
    }

    fn clear(&mut self) {
        self.columns.iter_mut().for_each(String::clear);
    }

    /// Sets the 1-based column `position`.
    fn set(&mut self, position: usize, value: impl std::fmt::Display) {
        let column = &mut self.columns[position - 1];
        column.clear();
        write!(column, "{value}").expect("writing to a String");
    }

    /// Appends the record, all 400 columns (trailing empty ones too), and a line feed;
    /// true if a field had to be quoted.
    fn write(&self, out: &mut String) -> bool {
        let mut quoted = false;
        for (i, value) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if value.contains([',', '"', '\n', '\r']) {
                quoted = true;
                out.push('"');
                out.push_str(&value.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(value);
            }
        }
        out.push('\n');
        quoted
    }
}

/// A tax authority's row of a journal.
#[derive(Clone, Copy)]
struct Tax {
    name: &'static str,
    label: &'static str,
    code: &'static str,
    amount: i64,
    reclaim: i64,
}

/// One journal (one row; a second tax authority continues it on a row of its own with amount 0).
struct Journal {
    key: u64,
    allocation: u64,
    percent: u32,
    gross: i64,
    taxes: Vec<Tax>,
}

struct Entry {
    id: u64,
    expense_type: usize,
    card: bool,
    day: u64,
    city: usize,
    vendor: &'static str,
    description: &'static str,
    journals: Vec<Journal>,
}

impl Entry {
    fn amount(&self) -> i64 {
        self.journals.iter().map(|j| j.gross).sum()
    }

    fn rows(&self) -> usize {
        self.journals.iter().map(|j| j.taxes.len().max(1)).sum()
    }
}

/// Writes reports one after the other, deterministically from the seed.
struct Generator {
    rng: Rng,
    report_key: u64,
    entry_id: u64,
    journal_key: u64,
    allocation_key: u64,
    sequence: u64,
    record: Record,
}

const BATCH_ID: &str = "4711";
const BATCH_DATE: &str = "2026-12-01";

impl Generator {
    fn new(seed: u64) -> Self {
        Generator {
            rng: Rng(seed),
            report_key: 100_000,
            entry_id: 5_000_000,
            journal_key: 9_000_000,
            allocation_key: 7_000_000,
            sequence: 0,
            record: Record::new(),
        }
    }

    /// Appends the rows of the next report to `out`; returns how many, how many hold a quoted field, and the sum
    /// of their journal amounts.
    fn report(&mut self, out: &mut String) -> (u64, u64, Decimal) {
        // 1–40 rows, most reports small (the product of two uniforms: about 11 on average).
        let target = 1 + (self.rng.below(40) * self.rng.below(40) / 39) as usize;
        let mut entries: Vec<Entry> = Vec::new();
        let mut rows = 0;
        while rows < target {
            let room = target - rows;
            let entry = self.entry(room);
            rows += entry.rows();
            entries.push(entry);
        }
        self.report_key += 1;
        let key = self.report_key;
        let employee = self.rng.below(2_000);
        let (city, country, _) = CITIES[(employee % CITIES.len() as u64) as usize];
        let currency = match country {
            "US" => "USD",
            "CA" => "CAD",
            "GB" => "GBP",
            _ => "EUR",
        };
        let department = DEPARTMENTS[(employee % DEPARTMENTS.len() as u64) as usize];
        let total: i64 = entries.iter().map(Entry::amount).sum();
        let card_total: i64 = entries.iter().filter(|e| e.card).map(Entry::amount).sum();
        let report_id = format!("{:020X}", Rng(key).next() as u128 * 0x1_0000 + u128::from(key & 0xFFFF));
        let report_name = match key % 20 {
            0 => format!("{city} trip, week {}", 40 + key % 10),
            1 => format!("Customer visit \"{}\"", DEPARTMENTS[(key % 6) as usize]),
            2..10 => format!("{city} trip week {}", 40 + key % 10),
            _ => format!("Expenses {BATCH_DATE} {department}"),
        };
        let last = LAST_NAMES[(employee % 8) as usize];
        let first = FIRST_NAMES[(employee % 10) as usize];
        let has_vat = entries.iter().any(|e| e.journals.iter().any(|j| !j.taxes.is_empty()));
        let mut sum = Decimal::ZERO;
        let mut count = 0;
        let mut quoted = 0;
        for entry in &entries {
            let (entry_city, entry_country, entry_region) = CITIES[entry.city];
            let (expense_type, account) = EXPENSE_TYPES[entry.expense_type];
            for journal in &entry.journals {
                // A journal with no tax still takes one row.
                let taxes: Vec<Option<Tax>> = if journal.taxes.is_empty() {
                    vec![None]
                } else {
                    journal.taxes.iter().copied().map(Some).collect()
                };
                let tax_total: i64 = journal.taxes.iter().map(|t| t.amount).sum();
                let reclaim_total: i64 = journal.taxes.iter().map(|t| t.reclaim).sum();
                for (t, tax) in taxes.iter().enumerate() {
                    let amount = if t == 0 { journal.gross } else { 0 };
                    let r = &mut self.record;
                    r.clear();
                    self.sequence += 1;
                    // Batch and employee.
                    r.set(1, "DETAIL");
                    r.set(2, BATCH_ID);
                    r.set(3, BATCH_DATE);
                    r.set(4, self.sequence);
                    r.set(5, format_args!("E{employee:05}"));
                    r.set(6, last);
                    r.set(7, first);
                    r.set(8, (b'A' + (employee % 26) as u8) as char);
                    r.set(9, format_args!("{country}-{department}"));
                    r.set(10, "ACME");
                    r.set(11, country);
                    r.set(12, department);
                    // Report.
                    r.set(19, &report_id);
                    r.set(20, key);
                    r.set(21, "DEFAULT");
                    r.set(22, currency);
                    r.set(23, country);
                    r.set(24, "2026-11-28");
                    r.set(27, &report_name);
                    r.set(28, "N");
                    r.set(29, if has_vat { "Y" } else { "N" });
                    r.set(30, "N");
                    r.set(31, Money(total));
                    r.set(32, Money(total));
                    r.set(33, "Standard Travel Policy");
                    r.set(35, "ACME");
                    r.set(36, department);
                    r.set(41, format_args!("PRJ-{:04}", key % 997));
                    // Entry.
                    r.set(61, entry.id);
                    r.set(62, "REG");
                    r.set(63, expense_type);
                    r.set(64, format_args!("2026-11-{:02}", entry.day));
                    r.set(65, currency);
                    r.set(66, "1.00000000");
                    r.set(67, "M");
                    r.set(68, "N");
                    r.set(69, entry.description);
                    r.set(70, entry.vendor);
                    r.set(72, "Y");
                    r.set(73, "T");
                    r.set(77, department);
                    r.set(83, format_args!("CC{}", 1000 + employee % 40));
                    r.set(123, Money(entry.amount()));
                    r.set(124, Money(entry.amount()));
                    r.set(125, Money(entry.amount()));
                    r.set(126, if entry.card { "CBCP" } else { "CASH" });
                    r.set(127, if entry.card { "Company Billed" } else { "Cash" });
                    r.set(128, "1");
                    if entry.card {
                        r.set(129, "2026-11-30");
                        r.set(130, format_args!("XXXXXXXXXXXX{:04}", employee % 10_000));
                        r.set(131, "Corporate Card AMEX");
                        r.set(132, entry.id + 11);
                        r.set(133, format_args!("{:016}", Rng(entry.id).next() % 10_000_000_000_000_000));
                        r.set(134, entry.id + 13);
                        r.set(135, "CHG");
                        r.set(136, format_args!("T{:08X}", entry.id));
                        r.set(137, Money(entry.amount()));
                        r.set(139, currency);
                        r.set(140, Money(entry.amount()));
                        r.set(141, currency);
                        r.set(142, format_args!("2026-11-{:02}", entry.day));
                        r.set(143, format_args!("2026-11-{:02}", entry.day + 1));
                        r.set(144, entry.vendor);
                        r.set(146, entry.vendor);
                        r.set(147, entry_city);
                        r.set(148, entry_region);
                        r.set(149, entry_country);
                        r.set(151, "C");
                        r.set(152, "1.00000000");
                        r.set(153, Money(entry.amount()));
                        r.set(155, format_args!("{first} {last}"));
                    }
                    r.set(158, entry_country);
                    r.set(159, entry_region);
                    r.set(160, if entry_country == country { "HOME" } else { "FRGN" });
                    // Journal.
                    r.set(163, "Company");
                    r.set(164, "COMP");
                    r.set(165, if entry.card { "Company Card" } else { "Employee" });
                    r.set(166, if entry.card { "CBCP" } else { "EMPL" });
                    r.set(167, account);
                    r.set(168, if journal.gross < 0 { "CR" } else { "DR" });
                    r.set(169, Signed(amount));
                    r.set(170, journal.key);
                    r.set(189, journal.allocation);
                    r.set(190, format_args!("{}.00", journal.percent));
                    r.set(191, format_args!("CC{}", 1000 + (journal.allocation % 40)));
                    r.set(192, format_args!("PRJ-{:04}", key % 997));
                    r.set(18, Money(journal.gross - reclaim_total));
                    r.set(211, Money(journal.gross - tax_total));
                    if let Some(tax) = tax {
                        r.set(225, tax.name);
                        r.set(226, tax.label);
                        r.set(227, Money(tax.amount));
                        r.set(228, Money(tax.amount));
                        r.set(229, "SYS");
                        r.set(230, Money(tax.reclaim));
                        r.set(231, Money(tax.reclaim));
                        r.set(232, tax.code);
                        r.set(233, "Y");
                        r.set(236, "FULL");
                        r.set(238, "TM");
                        r.set(246, Money(tax_total));
                        r.set(247, Money(journal.gross - tax_total));
                    }
                    r.set(250, if entry.card { "Company Billed" } else { "Cash" });
                    r.set(254, "1000");
                    r.set(255, if entry.card { "2010" } else { "2000" });
                    r.set(264, format_args!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()));
                    r.set(265, format_args!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()));
                    r.set(266, format_args!("GRADE-{}", employee % 7));
                    r.set(267, department);
                    // Report amounts and entry location.
                    r.set(311, "0.00");
                    r.set(312, Money(total));
                    r.set(313, Money(total - card_total));
                    r.set(314, Money(card_total));
                    r.set(315, "0.00");
                    r.set(316, Money(card_total));
                    r.set(317, "0.00");
                    r.set(321, "1");
                    r.set(324, "2026-11-01");
                    r.set(325, "2026-11-27");
                    r.set(334, entry_city);
                    r.set(335, "N");
                    r.set(339, entry_country);
                    r.set(340, entry_region);
                    r.set(341, Uuid(journal.key));
                    quoted += u64::from(r.write(out));
                    sum += Decimal::new(amount, 2);
                    count += 1;
                }
            }
        }
        (count, quoted, sum)
    }

    /// An expense entry of at most `room` rows (at least one).
    fn entry(&mut self, room: usize) -> Entry {
        self.entry_id += 1;
        let rng = &mut self.rng;
        let expense_type = rng.below(EXPENSE_TYPES.len() as u64) as usize;
        // 5.00 – 1,200.00; one entry in twenty is a credit.
        let mut amount = 500 + rng.below(119_500) as i64;
        if rng.chance(5) {
            amount = -amount;
        }
        let mut entry = Entry {
            id: self.entry_id,
            expense_type,
            card: rng.chance(30),
            day: 1 + rng.below(27),
            city: rng.below(CITIES.len() as u64) as usize,
            // About one row in five carries a quoted field (these, and one report name in ten).
            vendor: if rng.chance(4) { rng.pick(QUOTED_VENDORS) } else { rng.pick(VENDORS) },
            description: if rng.chance(6) { rng.pick(QUOTED_DESCRIPTIONS) } else { rng.pick(DESCRIPTIONS) },
            journals: Vec::new(),
        };
        // One allocation in six is split 60/40 between two cost centres.
        let split = room >= 2 && rng.chance(16);
        let parts: Vec<(i64, u32)> = if split {
            vec![(share(amount, 60, 100), 60), (amount - share(amount, 60, 100), 40)]
        } else {
            vec![(amount, 100)]
        };
        let mut used = 0;
        let count = parts.len();
        for (part, (gross, percent)) in parts.into_iter().enumerate() {
            // Rows left for this part once the later parts have one each.
            let free = room - used - (count - part - 1);
            self.allocation_key += 1;
            self.journal_key += 1;
            let rng = &mut self.rng;
            let mut taxes = Vec::new();
            // A quarter of the journals carry VAT; one in ten of those a second authority (GST + PST) on a row
            // of its own.
            if rng.chance(25) {
                let amount = share(gross, 19, 119);
                let reclaim = match rng.below(3) {
                    0 => 0,
                    1 => share(amount, 1, 2),
                    _ => amount,
                };
                taxes.push(Tax { name: "Federal VAT", label: "VAT", code: "V19", amount, reclaim });
                if free >= 2 && rng.chance(10) {
                    let amount = share(gross, 7, 119);
                    taxes.push(Tax { name: "Provincial Sales Tax", label: "PST", code: "P7", amount, reclaim: 0 });
                }
            }
            used += taxes.len().max(1);
            entry.journals.push(Journal {
                key: self.journal_key,
                allocation: self.allocation_key,
                percent,
                gross,
                taxes,
            });
        }
        entry
    }
}

/// The SAE header record.
fn header(rows: u64, total: Decimal) -> String {
    format!("EXTRACT,{BATCH_DATE},{rows},{total},{BATCH_ID}\n")
}

/// Prefix of the temporary files; the process id follows.
const TEMP_PREFIX: &str = "domain-extract-bench-";

/// A generated file, deleted when dropped (on a panic too).
struct TempFile {
    path: PathBuf,
    bytes: u64,
    rows: u64,
    /// Rows holding a quoted field.
    quoted: u64,
    reports: u64,
    total: Decimal,
    generated_in: Duration,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes files left behind by runs that were killed (their process is gone).
fn remove_stale_files() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(TEMP_PREFIX).and_then(|rest| rest.split('-').next()) else { continue };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Generates an SAE of about `target` bytes (whole reports) into a temporary file, streaming: the header needs
/// the record count and journal total first, so a dry pass of the same deterministic generator counts them,
/// and a second pass writes the rows. Neither pass holds more than one report.
fn generate(target: u64, label: &str) -> TempFile {
    let started = Instant::now();
    let path = std::env::temp_dir().join(format!("{TEMP_PREFIX}{}-{label}.sae", std::process::id()));
    const SEED: u64 = 15;
    let mut out = String::new();
    let (mut bytes, mut rows, mut quoted, mut reports, mut total) = (0u64, 0u64, 0u64, 0u64, Decimal::ZERO);
    let mut dry = Generator::new(SEED);
    while bytes < target {
        out.clear();
        let (count, with_quotes, sum) = dry.report(&mut out);
        bytes += out.len() as u64;
        rows += count;
        quoted += with_quotes;
        total += sum;
        reports += 1;
    }
    let head = header(rows, total);
    // Owned from here on: a panic while writing still deletes the file.
    let mut file =
        TempFile { path, bytes: bytes + head.len() as u64, rows, quoted, reports, total, generated_in: Duration::ZERO };
    let mut writer = BufWriter::with_capacity(BUFFER, File::create(&file.path).expect("the temporary file is created"));
    writer.write_all(head.as_bytes()).expect("the temporary file is written");
    let mut generator = Generator::new(SEED);
    for _ in 0..reports {
        out.clear();
        generator.report(&mut out);
        writer.write_all(out.as_bytes()).expect("the temporary file is written");
    }
    let written = writer.into_inner().expect("the temporary file is flushed");
    // On disk before timing starts, so write-back does not run during the measurements.
    written.sync_all().expect("the temporary file is synced");
    assert_eq!(written.metadata().expect("metadata").len(), file.bytes, "both passes generate the same bytes");
    file.generated_in = started.elapsed();
    file
}

/// A stage's rounds: the fastest, the range of rates, the largest memory figures.
struct Stage {
    best: Run,
    /// Slowest and fastest round, MB/s.
    range: (f64, f64),
    peak_heap: usize,
    rss_growth_kib: Option<u64>,
}

impl Stage {
    fn of(mut runs: Vec<Run>, bytes: u64) -> Self {
        runs.sort_by_key(|run| run.elapsed);
        Stage {
            best: runs[0],
            range: (runs[runs.len() - 1].mb_per_second(bytes), runs[0].mb_per_second(bytes)),
            peak_heap: runs.iter().map(|r| r.peak_heap).max().unwrap_or(0),
            rss_growth_kib: runs.iter().map(|r| r.rss_growth_kib).max().flatten(),
        }
    }
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let megabytes: f64 = match std::env::var("SAE_MB") {
        Ok(mb) => mb.parse().expect("SAE_MB is a number of megabytes"),
        Err(_) if smoke => 5.0,
        Err(_) => 100.0,
    };
    let large_target = (megabytes * 1e6) as u64;
    let small_target = (large_target / 10).max(1_000_000);
    remove_stale_files();

    // The small file first: it checks the generator (every document normalizes) and gives the memory figures
    // to compare the large file's with.
    let small = generate(small_target, "small");
    let small_b = run(|| stream_rows(&small.path));
    let small_c = run(|| full_path(&small.path));
    assert_eq!(small_b.counts.items, small.rows);
    assert_eq!(small_c.counts.items, small.reports);
    let (small_bytes, small_rows) = (small.bytes, small.rows);
    drop(small);

    let large = generate(large_target, "large");
    println!(
        "SAE of {:.1} MB ({} bytes): {} reports, {} detail rows of 400 columns ({:.0} bytes per row, {:.1} rows per \
         report, {:.0} % of the rows with a quoted field), journal total {}; generated in {:.1} s into {} (deleted \
         at the end)",
        large.bytes as f64 / 1e6,
        large.bytes,
        large.reports,
        large.rows,
        large.bytes as f64 / large.rows as f64,
        large.rows as f64 / large.reports as f64,
        large.quoted as f64 * 100.0 / large.rows as f64,
        large.total,
        large.generated_in.as_secs_f64(),
        large.path.display(),
    );
    // Warm-up: the file's pages in the cache and the code paths run once.
    black_box(line_scan(&large.path));

    // Interleaved rounds, so load from elsewhere on the machine hits every stage alike; best of each.
    const ROUNDS: usize = 3;
    let mut rounds: [Vec<Run>; 3] = Default::default();
    for _ in 0..ROUNDS {
        rounds[0].push(run(|| line_scan(&large.path)));
        rounds[1].push(run(|| stream_rows(&large.path)));
        rounds[2].push(run(|| full_path(&large.path)));
    }
    let [scan, rows, full] = rounds.map(|r| Stage::of(r, large.bytes));
    assert_eq!(scan.best.counts.items, large.rows + 1, "one line per record (no line break inside a quoted field)");
    assert_eq!(rows.best.counts.items, large.rows);
    assert_eq!(full.best.counts.items, large.reports);

    let reference = scan.best.mb_per_second(large.bytes);
    let ratio = |r: &Run| r.mb_per_second(large.bytes) / reference;
    let rate = |stage: &Stage| {
        format!("{:.0} MB/s ({:.0}–{:.0})", stage.best.mb_per_second(large.bytes), stage.range.0, stage.range.1)
    };
    let line = |figure: &str, value: &str, reference: &str, ratio: &str| {
        println!("{figure:<52} {value:>24} {reference:>22} {ratio:>7}");
    };
    println!("best of {ROUNDS} interleaved rounds (MB = 10^6 bytes; the rounds' range in brackets)");
    line("figure", "value", "reference", "ratio");
    line("(a) plain line scan (read_until, 64 KiB buffer)", &rate(&scan), "", "1.00×");
    line("      lines/s", &format!("{:.0}", scan.best.per_second()), "", "");
    let reference_rate = format!("{reference:.0} MB/s");
    line(
        "(b) ExtractReader::next_row, every row, + finish",
        &rate(&rows),
        &reference_rate,
        &format!("{:.2}×", ratio(&rows.best)),
    );
    line("      rows/s", &format!("{:.0}", rows.best.per_second()), "", "");
    line(
        "(c) Documents + from_rows + normalize, per document",
        &rate(&full),
        &reference_rate,
        &format!("{:.3}×", ratio(&full.best)),
    );
    line(
        "      documents/s (journal lines/s)",
        &format!(
            "{:.0} ({:.0})",
            full.best.per_second(),
            full.best.counts.lines as f64 / full.best.elapsed.as_secs_f64()
        ),
        "",
        "",
    );
    println!(
        "goal: (b) at least 0.50× the line scan's MB/s: {} ({:.2}×, i.e. {:.1}× its time)",
        if ratio(&rows.best) >= 0.5 { "met" } else { "NOT met" },
        ratio(&rows.best),
        rows.best.elapsed.as_secs_f64() / scan.best.elapsed.as_secs_f64(),
    );

    let scan_rate = ("plain line scan of the same bytes, MB/s", reference);
    summary::record(
        "extract",
        "SAE streaming reader, MB/s",
        rows.best.mb_per_second(large.bytes),
        "MB/s",
        Some(scan_rate),
        Some(summary::Goal::AtLeast(0.5)),
    );
    summary::record(
        "extract",
        "SAE full path (group + normalize), MB/s",
        full.best.mb_per_second(large.bytes),
        "MB/s",
        Some(scan_rate),
        None,
    );
    summary::record(
        "extract",
        "SAE reader peak heap, large file vs a tenth of it",
        rows.peak_heap as f64 / 1024.0,
        "KiB",
        Some(("the same on the small file, KiB", small_b.peak_heap as f64 / 1024.0)),
        Some(summary::Goal::AtMost(1.1)),
    );

    // Memory, side by side.
    let kib = |bytes: usize| format!("{:.1} KiB", bytes as f64 / 1024.0);
    let rss = |kib: Option<u64>| kib.map_or_else(|| "n/a".to_owned(), |k| format!("+{k} KiB"));
    let times = |small: usize, large: usize| {
        if small < 1024 { "".to_owned() } else { format!("{:.2}×", large as f64 / small as f64) }
    };
    println!();
    line(
        "memory (the large file: max of the rounds)",
        &format!("{:.0} MB file", small_bytes as f64 / 1e6),
        &format!("{:.0} MB file", large.bytes as f64 / 1e6),
        "ratio",
    );
    line("peak heap above start: (a) line scan", "", &kib(scan.peak_heap), "");
    line(
        "                       (b) streaming reader",
        &kib(small_b.peak_heap),
        &kib(rows.peak_heap),
        &times(small_b.peak_heap, rows.peak_heap),
    );
    line(
        "                       (c) documents + normalize",
        &kib(small_c.peak_heap),
        &kib(full.peak_heap),
        &times(small_c.peak_heap, full.peak_heap),
    );
    let (small_kept, large_kept) = (small_c.counts.retained, full.best.counts.retained);
    line(
        "    of which growth kept across documents (keys)",
        &kib(small_kept),
        &kib(large_kept),
        &times(small_kept, large_kept),
    );
    line(
        "    the rest (buffers, one document at a time)",
        &kib(small_c.peak_heap - small_kept.min(small_c.peak_heap)),
        &kib(full.peak_heap - large_kept.min(full.peak_heap)),
        "",
    );
    line(
        "largest document (rows) / documents",
        &format!("{} / {}", small_c.counts.largest_rows, small_c.counts.items),
        &format!("{} / {}", full.best.counts.largest_rows, full.best.counts.items),
        "",
    );
    line("peak RSS growth (VmHWM − VmRSS before): (b)", &rss(small_b.rss_growth_kib), &rss(rows.rss_growth_kib), "");
    line("                                         (c)", &rss(small_c.rss_growth_kib), &rss(full.rss_growth_kib), "");
    let per_row = |run: &Run, rows: u64| run.allocations as f64 / rows as f64;
    line(
        "allocations per row: (b) / (c)",
        &format!("{:.3} / {:.0}", per_row(&small_b, small_rows), per_row(&small_c, small_rows)),
        &format!("{:.3} / {:.0}", per_row(&rows.best, large.rows), per_row(&full.best, large.rows)),
        "",
    );
    println!(
        "heap left behind by the best runs: {} / {} / {} bytes (a / b / c)",
        scan.best.leaked, rows.best.leaked, full.best.leaked
    );
}
