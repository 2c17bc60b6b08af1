//! Throughput of the posting pipeline's pure part on Concur's official FI
//! example documents (`tests/fixtures/fi-examples/*.json`) with their mapping
//! (`tests/fixtures/mappings/fi-examples.yaml`): plain JSON parsing of the
//! files' bytes into a `serde_json::Value` (the reference), then parse +
//! normalize as erp-poster reads a fetched document (`concur::fi::DocumentPage::read`:
//! one pass, each document into the typed structs of its type, normalized
//! from them), then parse + normalize + map/plan. Also normalize alone (from a parsed `Value`, as `normalize`
//! takes it) and map/plan alone (from the normalized entry). Prints documents/s and MB/s of each, the full
//! pipeline's ratio to plain parsing, heap use from a counting global
//! allocator and the process's peak RSS (`VmHWM`).
//!
//! `cargo bench -p concur --bench posting` (optionally `-- <seconds per stage>`,
//! default 2, spent in 5 rounds interleaved with the other stages).

use std::hint::black_box;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use concur::fi::{DocumentPage, Reading};
use domain::mapping::Mapping;
use domain::{ConcurDocumentId, DocumentType, FlowOptions, JournalEntry, NormalizeOptions, PostingPlan, normalize};
use serde_json::Value;

#[path = "../../domain/benches/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "../../domain/benches/support/summary.rs"]
mod summary;
use counting_alloc::{ALLOCATED, ALLOCATIONS, LIVE, PEAK, PROCESS_PEAK};

/// One example file: its name and raw bytes (an `fIDocuments` page).
struct Example {
    name: String,
    bytes: Vec<u8>,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The official example files, sorted by name.
fn examples() -> Vec<Example> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("fi-examples"))
        .expect("tests/fixtures/fi-examples is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| Example {
            name: path.file_name().expect("a file name").to_string_lossy().into_owned(),
            bytes: std::fs::read(&path).expect("example file is readable"),
        })
        .collect()
}

/// Stage 1: the bytes as a JSON value, nothing else.
fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("example file is JSON")
}

/// What the poster knows of a document before it fetches it: its work
/// item's type and key.
struct WorkItem {
    doc_type: DocumentType,
    key: ConcurDocumentId,
}

/// Stage 2: the page read as erp-poster reads a fetched document
/// (`ConcurClient::fi_documents`): one pass, each document into the typed
/// structs of its type and normalized from them.
fn parse_normalize(bytes: &[u8], item: &WorkItem, options: &NormalizeOptions) -> JournalEntry {
    let reading = Reading::EntriesAs { doc_type: item.doc_type, key: &item.key, options };
    let mut page = DocumentPage::read(bytes, reading).expect("an FI page");
    page.documents.swap_remove(0).normalized.expect("read with its entry").expect("example normalizes")
}

/// Stage 3: stage 2, then map the entry and plan its ERP documents.
fn parse_normalize_plan(
    bytes: &[u8],
    item: &WorkItem,
    options: &NormalizeOptions,
    (mapping, flow, date): (&Mapping, &FlowOptions, time::Date),
) -> PostingPlan {
    let entry = parse_normalize(bytes, item, options);
    let form = flow.form_for(entry.header().doc_type);
    domain::posting::plan(mapping, &entry, form, date).expect("example plans")
}

struct Throughput {
    documents: usize,
    bytes: usize,
    elapsed: Duration,
}

impl Throughput {
    fn per_second(&self) -> f64 {
        self.documents as f64 / self.elapsed.as_secs_f64()
    }

    fn mb_per_second(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }

    fn micros_per_document(&self) -> f64 {
        self.elapsed.as_secs_f64() * 1e6 / self.documents as f64
    }
}

/// Interleaved measurement rounds per stage.
const ROUNDS: u32 = 20;

/// Runs `work` over every example (by index), pass after pass, until
/// `budget` is spent. MB/s count the examples' file bytes.
fn measure(examples: &[Example], budget: Duration, mut work: impl FnMut(usize)) -> Throughput {
    // Warm-up: one pass (caches, lazily built statics).
    for i in 0..examples.len() {
        work(i);
    }
    let pass_bytes: usize = examples.iter().map(|e| e.bytes.len()).sum();
    let mut passes = 0;
    let started = Instant::now();
    loop {
        for i in 0..examples.len() {
            work(black_box(i));
        }
        passes += 1;
        let elapsed = started.elapsed();
        if elapsed >= budget {
            return Throughput { documents: passes * examples.len(), bytes: passes * pass_bytes, elapsed };
        }
    }
}

struct Heap {
    allocations: usize,
    allocated: usize,
    peak_above_start: usize,
}

/// Heap use of `work`, counted by the global allocator.
fn heap<T>(work: impl FnOnce() -> T) -> Heap {
    let start_live = LIVE.load(Ordering::Relaxed);
    PEAK.store(start_live, Ordering::Relaxed);
    let (allocations, allocated) = (ALLOCATIONS.load(Ordering::Relaxed), ALLOCATED.load(Ordering::Relaxed));
    drop(black_box(work()));
    Heap {
        allocations: ALLOCATIONS.load(Ordering::Relaxed) - allocations,
        allocated: ALLOCATED.load(Ordering::Relaxed) - allocated,
        peak_above_start: PEAK.load(Ordering::Relaxed).saturating_sub(start_live),
    }
}

/// The process's peak resident set size (`VmHWM`), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    // `cargo bench` passes `--bench`; a number sets the seconds per stage.
    let seconds: f64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);

    let examples = examples();
    assert_eq!(examples.len(), 15, "the 15 official FI example files");
    let mapping_text =
        std::fs::read_to_string(fixtures().join("mappings/fi-examples.yaml")).expect("the example mapping is readable");
    let loading = Instant::now();
    let mapping = Mapping::from_yaml(&mapping_text).expect("the example mapping is valid");
    let mapping_load = loading.elapsed();
    let flow = FlowOptions::default();
    let date = time::macros::date!(2026 - 11 - 23);

    // Outside timing: every example normalizes and plans, so the timed loops
    // measure successes (they also `expect` every result).
    // They also give the inputs of the stage-alone measurements: the parsed
    // documents and the normalized entries.
    let mut lines = 0;
    let mut erp_documents = 0;
    let mut documents = Vec::new();
    let mut entries = Vec::new();
    let mut items = Vec::new();
    let options = NormalizeOptions::default();
    for e in &examples {
        let mut page = parse(&e.bytes);
        let fi = &mut page["fIDocuments"][0];
        let listed = &DocumentPage::parse(&e.bytes).expect("an FI page").documents[0];
        let doc_type = DocumentType::from_str(&listed.doc_type).expect("known docType");
        let (id, _) = listed.work_id().expect("a work id");
        let entry = normalize(doc_type, &id, &fi["document"], &options)
            .unwrap_or_else(|err| panic!("{} must normalize: {err}", e.name));
        let item = WorkItem { doc_type, key: id.clone() };
        assert_eq!(parse_normalize(&e.bytes, &item, &options), entry, "{}: the page read normalizes alike", e.name);
        items.push(item);
        let plan = domain::posting::plan(&mapping, &entry, flow.form_for(doc_type), date)
            .unwrap_or_else(|err| panic!("{} must plan: {err}", e.name));
        assert!(!plan.documents.is_empty(), "{} plans no ERP document", e.name);
        lines += entry.lines().len();
        erp_documents += plan.documents.len();
        documents.push((doc_type, id, fi["document"].take()));
        entries.push(entry);
    }
    let total_bytes: usize = examples.iter().map(|e| e.bytes.len()).sum();
    let held = LIVE.load(Ordering::Relaxed);
    let largest = examples.iter().max_by_key(|e| e.bytes.len()).expect("at least one example");

    println!(
        "domain posting pipeline on the {} FI example files ({} bytes, {:.1} KB average; {} journal lines → {} ERP documents), {seconds} s per stage in {ROUNDS} interleaved rounds",
        examples.len(),
        total_bytes,
        total_bytes as f64 / examples.len() as f64 / 1e3,
        lines,
        erp_documents,
    );
    println!(
        "mapping load (YAML parse + validate, once per mapping, measured once cold): {:.1} µs",
        mapping_load.as_secs_f64() * 1e6
    );

    // Interleaved rounds, so a burst of load from elsewhere on the machine
    // hits every stage alike; the table shows each stage's median round.
    let round = budget / ROUNDS;
    let bytes = |i: usize| examples[i].bytes.as_slice();
    let stages: [(&str, &dyn Fn(usize)); 5] = [
        ("plain JSON parse (serde_json::Value)", &|i| drop(black_box(parse(bytes(i))))),
        ("parse + normalize", &|i| drop(black_box(parse_normalize(bytes(i), &items[i], &options)))),
        ("parse + normalize + map/plan", &|i| {
            drop(black_box(parse_normalize_plan(bytes(i), &items[i], &options, (&mapping, &flow, date))));
        }),
        ("  normalize alone (from a Value)", &|i| {
            let (doc_type, id, document) = &documents[i];
            drop(black_box(normalize(*doc_type, id, document, &NormalizeOptions::default()).expect("normalizes")));
        }),
        ("  map/plan alone (normalized entry)", &|i| {
            let entry = &entries[i];
            let form = flow.form_for(entry.header().doc_type);
            drop(black_box(domain::posting::plan(&mapping, entry, form, date).expect("plans")));
        }),
    ];
    let mut rounds: [Vec<Throughput>; 5] = Default::default();
    for _ in 0..ROUNDS {
        for ((_, work), measured) in stages.iter().zip(&mut rounds) {
            measured.push(measure(&examples, round, work));
        }
    }
    let results = rounds.map(|mut r| {
        r.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
        let spread = (r[0].per_second(), r[r.len() - 1].per_second());
        (r.swap_remove(r.len() / 2), spread)
    });

    let heaps = stages.map(|(_, work)| {
        heap(|| {
            for i in 0..examples.len() {
                work(i);
            }
        })
    });

    println!(
        "{:<36} {:>10} {:>15} {:>8} {:>9} {:>11} {:>15}",
        "stage", "docs/s", "(rounds min–max)", "MB/s", "µs/doc", "allocs/doc", "bytes alloc/doc"
    );
    let n = examples.len();
    for (((name, _), (t, (slowest, fastest))), h) in stages.iter().zip(&results).zip(&heaps) {
        println!(
            "{name:<36} {:>10.0} {:>15} {:>8.1} {:>9.1} {:>11} {:>15}",
            t.per_second(),
            format!("{slowest:.0}–{fastest:.0}"),
            t.mb_per_second(),
            t.micros_per_document(),
            h.allocations / n,
            h.allocated / n,
        );
    }
    println!("(MB/s count the example files' bytes for every stage; the indented stages start from parsed input)");
    // The headline ratio is of the fastest rounds: on a shared machine a
    // round is only ever slowed down (other work, a noisy neighbour), so each
    // stage's fastest round is its least disturbed measure; the rounds are
    // interleaved, so both stages had the same chances.
    println!(
        "parse + normalize + map/plan runs at {:.2}× the plain-parse rate (fastest rounds; median rounds: {:.2}×, i.e. \
         {:.2}× its time); normalize + map/plan add {:.1} µs/doc on top of parsing (measured alone: {:.1} + {:.1} µs/doc)",
        results[2].1.1 / results[0].1.1,
        results[2].0.per_second() / results[0].0.per_second(),
        results[2].0.micros_per_document() / results[0].0.micros_per_document(),
        results[2].0.micros_per_document() - results[0].0.micros_per_document(),
        results[3].0.micros_per_document(),
        results[4].0.micros_per_document(),
    );

    let plain = ("plain serde_json::Value parse, documents/s, fastest round", results[0].1.1);
    summary::record(
        "posting",
        "FI parse + normalize + map/plan, documents/s, fastest round",
        results[2].1.1,
        "docs/s",
        Some(plain),
        Some(summary::Goal::AtLeast(2.5)),
    );
    summary::record(
        "posting",
        "FI allocations per document (parse + normalize + plan)",
        (heaps[2].allocations / n) as f64,
        "allocs",
        Some(("plain Value parse, allocations per document", (heaps[0].allocations / n) as f64)),
        None,
    );

    let largest_parse = heap(|| parse(&largest.bytes));
    let largest_at = examples.iter().position(|e| std::ptr::eq(e, largest)).expect("the largest is an example");
    let largest_full =
        heap(|| parse_normalize_plan(&largest.bytes, &items[largest_at], &options, (&mapping, &flow, date)));
    println!(
        "largest example {} ({} bytes): parse + normalize + map/plan peak heap {} bytes ({:.1}× the file), {} allocations; plain parse peak heap {} bytes, {} allocations",
        largest.name,
        largest.bytes.len(),
        largest_full.peak_above_start,
        largest_full.peak_above_start as f64 / largest.bytes.len() as f64,
        largest_full.allocations,
        largest_parse.peak_above_start,
        largest_parse.allocations,
    );
    println!(
        "process: heap peak {} KiB (of which the inputs held throughout: {} KiB — files, mapping, parsed documents, entries); peak RSS (VmHWM) {}",
        PROCESS_PEAK.load(Ordering::Relaxed) / 1024,
        held / 1024,
        peak_rss_kib().map_or_else(|| "unavailable".to_owned(), |k| format!("{k} KiB")),
    );
}
