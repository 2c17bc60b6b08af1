//! The month-end burst (issue 16): thousands of approved reports across many
//! connections drain into ERPs that answer slowly, and the drain is timed
//! against the bound the ERPs set.
//!
//! Each connection is a Concur company with its own Acumatica simulator
//! (every API call answered after a fixed latency, under a per-minute rate
//! limit) and its own concurrency level. The documents are queued as
//! event-intake queues them (one FIFO message group per concurrency slot),
//! then the real poster (its stores on the local stack) drains the queue
//! the way the Lambda SQS FIFO event source mapping drives it: up to
//! `--invocations` at once (the template's `PosterMaxConcurrency`), each a
//! batch of up to ten messages of free groups, a group locked while its
//! batch runs, the failures back in their place (see [`FifoQueue`]).
//!
//! The bound: a connection cannot drain faster than its ERP answers, so it
//! takes at least (its ERP calls × latency ÷ its concurrency level), or its
//! ERP calls ÷ the rate limit if that is slower; the burst takes at least
//! the longest of those. The ERP calls are counted by each simulator during
//! the run. Figures: drain time, bound, their ratio (goal ≥ 0.9), 429s,
//! process memory while draining, and the Lambda invocations and GB-s the
//! drain would bill.
//!
//! `tests/bench` runs it under `infra/local/with-stack.sh --dynalite`:
//! DynamoDB on dynalite, the rest on moto, which serves one call at a time
//! (about 6 ms a conditional write), so 10,000 documents' 70,000 DynamoDB
//! calls would measure moto, not the poster (docs/design.md). Options:
//! `--connections N --documents N --latency-ms N --level N
//! --rate-per-minute N --invocations N --batch-size N` (defaults: 20,
//! 10,000, 150, 4, 3,000, one invocation per concurrency slot of the fleet,
//! and the template's batch size).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use domain::{ConcurrencyLevel, ConnectionId, DocumentType, WorkItem, WorkSource};
use erp_poster::{Poster, PosterOptions};
use integration::TestStack;
use integration::posting::{self, CLIENT_ID, CLIENT_SECRET, POSTER};
use platform::concur_grants::ConcurGrantStore;
use platform::queue::Outgoing;
use simulators::RunningSimulator;
use simulators::acumatica::AcumaticaSim;
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim};
use simulators::faults::{FaultKind, FaultSpec};
use time::OffsetDateTime;

#[path = "../../../../shared/domain/benches/support/summary.rs"]
mod summary;

/// The burst's shape.
struct Shape {
    connections: usize,
    documents: usize,
    latency: Duration,
    level: u8,
    rate_per_minute: u32,
    /// Concurrent poster invocations (the template's `PosterMaxConcurrency`).
    invocations: usize,
    /// Messages per invocation at most (the event source's `BatchSize`).
    batch_size: usize,
}

impl Shape {
    fn from_args() -> Result<Self, String> {
        let mut shape = Shape {
            connections: 20,
            documents: 10_000,
            latency: Duration::from_millis(150),
            level: 4,
            rate_per_minute: 3_000,
            invocations: 0,
            batch_size: 10,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number: u64 = value.parse().map_err(|_| format!("{flag} {value}: not a number"))?;
            let too_big = |_| format!("{flag} {value}: too large");
            match flag.as_str() {
                "--connections" => shape.connections = usize::try_from(number).map_err(too_big)?,
                "--documents" => shape.documents = usize::try_from(number).map_err(too_big)?,
                "--latency-ms" => shape.latency = Duration::from_millis(number),
                "--level" => shape.level = u8::try_from(number).map_err(too_big)?,
                "--rate-per-minute" => shape.rate_per_minute = u32::try_from(number).map_err(too_big)?,
                "--invocations" => shape.invocations = usize::try_from(number).map_err(too_big)?,
                "--batch-size" => shape.batch_size = usize::try_from(number).map_err(too_big)?.clamp(1, 10),
                other => return Err(format!("unknown option {other}")),
            }
        }
        if shape.connections == 0 || shape.documents < shape.connections {
            return Err("give at least one connection and one document per connection".into());
        }
        if shape.invocations == 0 {
            // One per concurrency slot of the fleet: what the template's
            // PosterMaxConcurrency must allow for the ERPs to be used fully.
            shape.invocations = shape.connections * usize::from(shape.level);
        }
        ConcurrencyLevel::new(shape.level).map_err(|e| format!("--level {}: {e}", shape.level))?;
        Ok(shape)
    }
}

/// One connection of the burst and the ERP it posts into.
struct Tenant {
    connection: ConnectionId,
    erp: AcumaticaSim,
    _server: RunningSimulator,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shape = Shape::from_args()?;
    let concur = ConcurSim::new(ConcurApp::new(CLIENT_ID, CLIENT_SECRET));
    let concur_server = simulators::spawn(concur.router("us"), 0).await?;
    concur.set_datacenter_url("us", &concur_server.base_url());
    let stack = TestStack::with_concur_app(CLIENT_ID, CLIENT_SECRET, &concur_server.base_url()).await;

    eprintln!(
        "burst: {} documents across {} connections, ERP latency {} ms, level {}, rate limit {}/min, {} invocations at once, batches of {}",
        shape.documents,
        shape.connections,
        shape.latency.as_millis(),
        shape.level,
        shape.rate_per_minute,
        shape.invocations,
        shape.batch_size
    );
    let setup = Instant::now();
    let mut tenants = Vec::with_capacity(shape.connections);
    let mut queued = Vec::with_capacity(shape.documents);
    for t in 0..shape.connections {
        let tenant = tenant(&stack, &concur, t, &shape).await;
        let share = shape.documents / shape.connections + usize::from(t < shape.documents % shape.connections);
        queued.extend(documents(&concur, &tenant.connection, &company(t), share));
        tenants.push(tenant);
    }
    let queue = Arc::new(FifoQueue::default());
    queue.send(&queued, ConcurrencyLevel::new(shape.level)?);
    // Counted from here: the setup's own calls are not the burst's.
    let counted_from: Vec<usize> = tenants.iter().map(|t| t.erp.faults().requests().len()).collect();
    eprintln!("burst: set up in {:.1} s; draining", setup.elapsed().as_secs_f64());

    let poster = Arc::new(
        Poster::from_env(&stack.env_of(POSTER), &stack.aws(), PosterOptions::default())
            .await
            .map_err(|e| format!("the poster does not wire: {e}"))?,
    );
    let memory = MemorySampler::start();
    let (drained, elapsed) = drain(queue, poster, shape.documents, shape.invocations, shape.batch_size).await?;
    let rss = memory.stop().await;

    report(&shape, &tenants, &counted_from, &drained, elapsed, &rss);
    let not_posted = shape.documents.saturating_sub(drained.posted.load(Ordering::Relaxed));
    if not_posted > 0 {
        return Err(format!("{not_posted} documents were not posted").into());
    }
    Ok(())
}

fn company(t: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", 0xb0_0000 + t, t)
}

/// Connection `t`: a Concur company, its Acumatica simulator (slow, rate
/// limited, seeded with the example mapping's records) and the active
/// connection with the example mapping at the burst's concurrency level.
async fn tenant(stack: &TestStack, concur: &ConcurSim, t: usize, shape: &Shape) -> Tenant {
    let company = company(t);
    concur.add_company(CompanySpec {
        uuid: company.clone(),
        name: format!("Burst Company {t}"),
        datacenter: "us".into(),
        marketing_name: "CTE".into(),
    });
    let erp = AcumaticaSim::new();
    posting::seed_acumatica(&erp);
    erp.set_rate_limit(Some(shape.rate_per_minute));
    let latency = u64::try_from(shape.latency.as_millis()).unwrap_or(u64::MAX);
    erp.faults()
        .inject(FaultSpec {
            fault: FaultKind::Slow { delay_ms: latency },
            count: None,
            fraction: Some(1.0),
            path_prefix: Some("/entity".into()),
            method: None,
        })
        .expect("a valid latency rule");
    let server = erp.clone().start().await;
    let connection = ConnectionId::parse(&format!("burst-{t:02}")).expect("a valid connection id");
    let (settings, credentials) = posting::acumatica_settings(&server.base_url());
    posting::connect(stack, concur, &connection, &company, settings, &credentials, shape.level).await;
    posting::import_mapping(stack, &connection, &posting::example_mapping_for(domain::ErpKind::Acumatica)).await;
    Tenant { connection, erp, _server: server }
}

/// `n` READY expense reports of `company` in Concur (copies of an official
/// example with their own report ids), as the work items intake queues.
fn documents(concur: &ConcurSim, connection: &ConnectionId, company: &str, n: usize) -> Vec<WorkItem> {
    let prefix = connection.as_str().replace('-', "");
    posting::add_expense_copies(concur, company, &prefix, n)
        .into_iter()
        .map(|(report_id, _)| {
            WorkItem::new(
                connection.clone(),
                DocumentType::Expense,
                report_id.parse().expect("a valid report id"),
                WorkSource::Webhook,
                OffsetDateTime::now_utc(),
            )
        })
        .collect()
}

/// The work queue as Lambda's SQS FIFO event source mapping hands it to
/// the poster: messages in arrival order; a batch takes up to ten messages
/// of groups that have none in flight (several of one group in order); a
/// group is locked until its batch is done; a failed message goes back in
/// its place with one more receive.
///
/// In process rather than on moto: moto serves one request at a time and
/// scans the whole queue on every receive, so at 10,000 messages the
/// receives and deletes alone take longer than the ERPs' bound. The
/// messages are what intake queues ([`Outgoing::document`]: body and
/// message group).
#[derive(Default)]
struct FifoQueue {
    state: std::sync::Mutex<FifoState>,
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct FifoState {
    /// Waiting messages by arrival number.
    waiting: std::collections::BTreeMap<u64, Queued>,
    arrivals: u64,
    busy_groups: std::collections::HashSet<String>,
    in_flight: std::collections::HashMap<String, (u64, Queued)>,
}

#[derive(Clone)]
struct Queued {
    group: String,
    body: String,
    receives: u32,
}

impl FifoQueue {
    fn send(&self, items: &[WorkItem], level: ConcurrencyLevel) {
        let mut state = self.lock();
        for item in items {
            let outgoing = Outgoing::document(item.clone(), &item.connection_id, level);
            let arrival = state.arrivals;
            state.arrivals += 1;
            let queued =
                Queued { group: outgoing.group.as_str().to_owned(), body: outgoing.item.to_json(), receives: 0 };
            state.waiting.insert(arrival, queued);
        }
    }

    /// Up to ten messages of free groups, as one event; `None` when every
    /// waiting message's group is busy (or nothing waits).
    fn receive(&self, batch_size: usize) -> Option<SqsEvent> {
        let mut state = self.lock();
        let mut taken: Vec<u64> = Vec::new();
        let mut groups = std::collections::HashSet::new();
        for (arrival, queued) in &state.waiting {
            if taken.len() == batch_size {
                break;
            }
            if !state.busy_groups.contains(&queued.group) {
                taken.push(*arrival);
                groups.insert(queued.group.clone());
            }
        }
        if taken.is_empty() {
            return None;
        }
        state.busy_groups.extend(groups);
        let mut event = SqsEvent::default();
        for arrival in taken {
            let Some(mut queued) = state.waiting.remove(&arrival) else { continue };
            queued.receives += 1;
            let mut record = SqsMessage::default();
            let id = format!("m{arrival}");
            record.message_id = Some(id.clone());
            record.body = Some(queued.body.clone());
            record.attributes.insert("MessageGroupId".into(), queued.group.clone());
            record.attributes.insert("ApproximateReceiveCount".into(), queued.receives.to_string());
            event.records.push(record);
            state.in_flight.insert(id, (arrival, queued));
        }
        Some(event)
    }

    /// The batch is done: its failed messages wait again in their place,
    /// the others are deleted; its groups are free again.
    fn complete(&self, event: &SqsEvent, response: &SqsBatchResponse) {
        let mut state = self.lock();
        for record in &event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let Some((arrival, queued)) = state.in_flight.remove(&id) else { continue };
            state.busy_groups.remove(&queued.group);
            if response.batch_item_failures.iter().any(|f| f.item_identifier == id) {
                state.waiting.insert(arrival, queued);
            }
        }
        drop(state);
        self.changed.notify_waiters();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FifoState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What the drain did, counted by its invocations.
#[derive(Default)]
struct Counters {
    /// Messages settled (posted, stopped, parked or unreadable), and posted.
    settled: AtomicUsize,
    posted: AtomicUsize,
    invocations: AtomicU64,
    /// Σ invocation durations (what Lambda bills), in milliseconds.
    billed_ms: AtomicU64,
    stop: AtomicBool,
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Hands the queue to the poster as the event source mapping does, with up
/// to `invocations` poster invocations at once, until `documents` are
/// settled. Returns the counters and the drain time.
async fn drain(
    queue: Arc<FifoQueue>,
    poster: Arc<Poster<ConcurGrantStore>>,
    documents: usize,
    invocations: usize,
    batch_size: usize,
) -> Result<(Arc<Counters>, Duration), Box<dyn std::error::Error>> {
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..invocations {
        let (queue, poster, counters) = (queue.clone(), poster.clone(), counters.clone());
        workers.spawn(async move {
            while !counters.stop.load(Ordering::Relaxed) {
                let changed = queue.changed.notified();
                let Some(event) = queue.receive(batch_size) else {
                    // Every waiting message's group is busy: wait for a batch to end.
                    let _ = tokio::time::timeout(Duration::from_millis(100), changed).await;
                    continue;
                };
                let invoked = Instant::now();
                let deadline = invoked + Duration::from_secs(120);
                let (response, outcome) =
                    erp_poster::handle(poster.as_ref(), event.clone(), &poster.rules, Some(deadline)).await;
                counters.invocations.fetch_add(1, Ordering::Relaxed);
                counters.billed_ms.fetch_add(millis(invoked), Ordering::Relaxed);
                queue.complete(&event, &response);
                counters.posted.fetch_add(outcome.done, Ordering::Relaxed);
                let settled = outcome.done + outcome.stopped + outcome.parked + outcome.malformed;
                if counters.settled.fetch_add(settled, Ordering::Relaxed) + settled >= documents {
                    counters.stop.store(true, Ordering::Relaxed);
                    queue.changed.notify_waiters();
                }
            }
        });
    }
    while let Some(worker) = workers.join_next().await {
        worker?;
    }
    Ok((counters, started.elapsed()))
}

/// The process's resident memory, sampled every 250 ms while draining.
struct MemorySampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<u64>>,
}

impl MemorySampler {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                samples.extend(rss_kib());
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            samples.extend(rss_kib());
            samples
        });
        Self { stop, task }
    }

    async fn stop(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

/// `VmRSS` of this process, in KiB (Linux; `None` elsewhere).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Memory billed per poster invocation: the template's `Globals.Function.MemorySize` (256 MB).
const POSTER_MEMORY_GB: f64 = 0.25;

/// Prints the figures and records them for `tests/bench`'s table.
fn report(
    shape: &Shape,
    tenants: &[Tenant],
    counted_from: &[usize],
    drained: &Counters,
    elapsed: Duration,
    rss: &[u64],
) {
    let latency = shape.latency.as_secs_f64();
    let mut bound = 0.0_f64;
    let (mut erp_calls, mut throttled) = (0_usize, 0_usize);
    for (tenant, from) in tenants.iter().zip(counted_from) {
        let seen = tenant.erp.faults().requests();
        let calls: Vec<_> = seen.iter().skip(*from).filter(|r| r.path.starts_with("/entity")).collect();
        let by_latency = calls.len() as f64 * latency / f64::from(shape.level);
        let by_rate = calls.len() as f64 * 60.0 / f64::from(shape.rate_per_minute);
        bound = bound.max(by_latency.max(by_rate));
        erp_calls += calls.len();
        throttled += calls.iter().filter(|r| r.status == 429).count();
    }
    let elapsed = elapsed.as_secs_f64();
    let documents = shape.documents as f64;
    let count = |n: &AtomicU64| n.load(Ordering::Relaxed);
    let posted = drained.posted.load(Ordering::Relaxed);
    let invocations = count(&drained.invocations);
    let gb_seconds = count(&drained.billed_ms) as f64 / 1000.0 * POSTER_MEMORY_GB;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let (first, half, last) = (
        rss.first().copied().unwrap_or(0),
        rss.get(rss.len() / 2).copied().unwrap_or(0),
        rss.last().copied().unwrap_or(0),
    );
    let peak = rss.iter().copied().max().unwrap_or(0);
    println!("documents posted        {posted} of {}", shape.documents);
    println!("drain time              {elapsed:.1} s ({:.1} documents/s)", documents / elapsed);
    println!(
        "ERP-limited bound       {bound:.1} s (ERP calls × {} ms ÷ level {}, or ÷ {}/min, of the slowest connection)",
        shape.latency.as_millis(),
        shape.level,
        shape.rate_per_minute
    );
    println!("bound ÷ drain           {:.2} (goal ≥ 0.9)", bound / elapsed);
    println!("ERP calls per document  {:.2}", erp_calls as f64 / documents);
    println!("ERP 429 answers         {throttled} of {erp_calls} calls");
    println!(
        "process RSS             {:.0} MiB at the start, {:.0} MiB half-way, {:.0} MiB at the end, peak {:.0} MiB \
         (the simulators' records of every document included)",
        mib(first),
        mib(half),
        mib(last),
        mib(peak)
    );
    println!(
        "Lambda                  {invocations} invocations, {:.0} GB-s at {} MB ({:.3} GB-s per document)",
        gb_seconds,
        POSTER_MEMORY_GB * 1024.0,
        gb_seconds / documents
    );
    let shape_name = format!("{} docs, {} connections, level {}", shape.documents, shape.connections, shape.level);
    summary::record(
        "burst",
        &format!("documents/s drained ({shape_name})"),
        documents / elapsed,
        "docs/s",
        Some(("ERP-limited bound", documents / bound)),
        Some(summary::Goal::AtLeast(0.9)),
    );
    summary::record(
        "burst",
        &format!("ERP 429 answers per 1,000 calls ({shape_name})"),
        throttled as f64 * 1000.0 / erp_calls.max(1) as f64,
        "",
        None,
        None,
    );
    summary::record(
        "burst",
        &format!("process RSS at the end of the drain ({shape_name})"),
        mib(last),
        "MiB",
        Some(("half-way", mib(half))),
        None,
    );
    summary::record(
        "burst",
        &format!("poster GB-s per 1,000 documents ({shape_name})"),
        gb_seconds * 1000.0 / documents,
        "GB-s",
        None,
        None,
    );
}
