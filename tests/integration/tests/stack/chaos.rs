//! The chaos run: many documents of three tenants — one on each ERP
//! (Acumatica, IFS Cloud read-only, Infor through ION and ion-inbox) — run
//! at once through the real pipeline: moto's FIFO queue with the template's
//! receive limit, the ledger, the sweeper, the Concur and ERP simulators,
//! while everything goes wrong at once: 10 % of ERP calls throttled or
//! failing, creates that commit after the client gave up (and, on ION,
//! messages lost or answered 504 after the ERP took them), Concur's tokens
//! expiring mid-run, every document delivered three times out of order, the
//! poster killed at random points (between the ERP's accept and the ledger
//! write among them), and an outage of each ERP longer than the queue's
//! retries. At the end, per tenant: exactly one ERP record per document,
//! none lost, and Concur's status matches the ledger for each.
//!
//! CI size by default (`CHAOS_DOCS` per tenant, 30); the full run is
//! `CHAOS_DOCS=3334 tests/run -- -E 'test(chaos)'` (10,002 documents;
//! docs/performance.md has the figures). `CHAOS_ERPS` (for example
//! `acumatica` or `ifs,infor`) runs only those tenants: the local stack serves
//! one call at a time, so the large run goes faster as one process per
//! tenant, each under its own `with-stack.sh` (its own moto).

use std::time::{Duration, Instant};

use domain::{DocumentType, ErpKind, ErpSettings, WorkItem, WorkSource};
use erp_poster::Poster;
use integration::expected::ErpPosting;
use integration::posting::{
    COMPANY, IFS_COMPANY, INFOR_CHUNK_CLEARING, INFOR_TENANT, POSTER, PostingWorld, TENANT, example_work_items,
    sqs_event, test_options,
};
use platform::concur_grants::ConcurGrantStore;
use platform::ledger::{LedgerKey, LedgerStatus};
use platform::queue::Outgoing;
use scheduled_poller::{Poller, PollerOptions};
use simulators::acumatica::AfterCommit;
use simulators::concur::DocStatus;
use simulators::faults::Faults;
use simulators::faults::{FaultKind, FaultSpec};
use time::OffsetDateTime;

const POLLER: &str = "ScheduledPollerFunction";

/// A small deterministic generator: the same run every time.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

fn docs_wanted() -> usize {
    std::env::var("CHAOS_DOCS").ok().and_then(|n| n.parse().ok()).unwrap_or(30)
}

/// The tenants this run takes (`CHAOS_ERPS`, comma-separated; all three by default).
fn erps_wanted() -> Vec<ErpKind> {
    let all = [ErpKind::Acumatica, ErpKind::IfsCloud, ErpKind::Infor];
    match std::env::var("CHAOS_ERPS") {
        Ok(list) => {
            let names: Vec<String> = list.split(',').map(|n| n.trim().to_ascii_lowercase()).collect();
            let wanted: Vec<ErpKind> =
                all.into_iter().filter(|kind| names.iter().any(|n| erp_name(*kind).starts_with(n.as_str()))).collect();
            assert!(!wanted.is_empty(), "CHAOS_ERPS={list}: name acumatica, ifs and/or infor");
            wanted
        }
        Err(_) => all.to_vec(),
    }
}

fn erp_name(kind: ErpKind) -> &'static str {
    match kind {
        ErpKind::Acumatica => "acumatica",
        ErpKind::IfsCloud => "ifs cloud",
        ErpKind::Infor => "infor",
    }
}

/// The examples plus copies of one report under new ids, up to `n` documents.
/// Returns each document's work item and FI id.
fn load(world: &PostingWorld, n: usize) -> Vec<(WorkItem, String)> {
    let loaded = world.load_examples();
    let mut documents: Vec<(WorkItem, String)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (file, item) in example_work_items(&world.connection, WorkSource::Webhook) {
        let fi_id = loaded.iter().find(|(path, _)| path.to_string_lossy().contains(&file)).unwrap().1[0].clone();
        if seen.insert(item.document_key()) {
            documents.push((item, fi_id));
        }
    }
    let copies = n.saturating_sub(documents.len());
    for (report_id, fi_id) in integration::posting::add_expense_copies(&world.concur, COMPANY, "chaos", copies) {
        let item = WorkItem::new(
            world.connection.clone(),
            DocumentType::Expense,
            report_id.parse().unwrap(),
            WorkSource::Webhook,
            OffsetDateTime::now_utc(),
        );
        documents.push((item, fi_id));
    }
    documents
}

/// Every document delivered three times (as ESS retries do), out of order,
/// each delivery past SQS's deduplication (its own deduplication id).
async fn deliver_three_times(world: &PostingWorld, documents: &[(WorkItem, String)], dice: &mut Dice) {
    let mut deliveries: Vec<(u64, &WorkItem, u64)> = Vec::new();
    for (item, _) in documents {
        for copy in 0..3 {
            deliveries.push((dice.next(), item, copy));
        }
    }
    deliveries.sort_by_key(|(order, _, _)| *order);
    let level = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap().concurrency_level;
    let queue = world.stack.work_queue(POSTER);
    for chunk in deliveries.chunks(10) {
        let batch: Vec<Outgoing> = chunk
            .iter()
            .map(|(_, item, copy)| Outgoing::replay((*item).clone(), &world.connection, level, 1_000 + copy))
            .collect();
        assert!(queue.send_batch(&batch).await.unwrap().is_empty());
    }
}

/// One receive from the work queue, handled as Lambda does — or the poster
/// killed part-way (the messages then come back, as after a visibility timeout).
async fn one_batch(world: &PostingWorld, poster: &Poster<ConcurGrantStore>, dice: &mut Dice) -> usize {
    if world.erp_kind() == ErpKind::Infor {
        // ION's verdicts reach ion-inbox, which queues them for the poster.
        world.infor().flush_callbacks().await;
    }
    let sqs = world.stack.sqs();
    let url = world.stack.work_queue_url(POSTER);
    let out = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let messages = out.messages.unwrap_or_default();
    let event = sqs_event(&messages);
    if messages.is_empty() {
        return 0;
    }
    let killed_after = dice.one_in(8).then(|| Duration::from_millis(dice.next() % 400));
    let handled = match killed_after {
        Some(after) => tokio::time::timeout(after, erp_poster::handle(poster, event, &poster.rules, None)).await.ok(),
        None => Some(erp_poster::handle(poster, event, &poster.rules, None).await),
    };
    match handled {
        Some((response, _)) => {
            let retry: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
            for m in &messages {
                if !retry.contains(&m.message_id.as_deref().unwrap_or_default()) {
                    sqs.delete_message()
                        .queue_url(&url)
                        .set_receipt_handle(m.receipt_handle.clone())
                        .send()
                        .await
                        .unwrap();
                }
            }
        }
        None => {
            // Killed: the batch's messages reappear when their visibility ends.
            for m in &messages {
                let _ = sqs
                    .change_message_visibility()
                    .queue_url(&url)
                    .set_receipt_handle(m.receipt_handle.clone())
                    .visibility_timeout(0)
                    .send()
                    .await;
            }
        }
    }
    messages.len()
}

/// Documents not yet CONFIRMED in the ledger (read 100 at a time).
async fn open_documents(world: &PostingWorld, documents: &[(WorkItem, String)]) -> usize {
    let keys: Vec<LedgerKey> = documents
        .iter()
        .map(|(item, _)| LedgerKey::new(item.connection_id.clone(), item.document_type, item.document_id.clone()))
        .collect();
    let records = world.stack.ledger(POSTER).get_many(&keys).await.unwrap();
    documents.len() - records.iter().filter(|r| r.status == LedgerStatus::Confirmed).count()
}

fn fault(kind: FaultKind, fraction: f64, method: Option<&str>) -> FaultSpec {
    FaultSpec {
        fault: kind,
        count: None,
        fraction: Some(fraction),
        path_prefix: None,
        method: method.map(str::to_owned),
    }
}

/// The ERP simulator's fault rules.
fn erp_faults(world: &PostingWorld) -> Faults {
    match world.erp_kind() {
        ErpKind::Acumatica => world.acumatica().faults(),
        ErpKind::IfsCloud => world.ifs().faults(),
        ErpKind::Infor => world.infor().faults(),
    }
}

/// The ERP is back but flaky: 5 % throttled, 5 % failing, and some writes
/// that land after the client gave up (on ION: lost messages too).
fn flaky(world: &PostingWorld) {
    let faults = erp_faults(world);
    faults.clear();
    faults.inject(fault(FaultKind::TooManyRequests { retry_after_seconds: None }, 0.05, None)).unwrap();
    faults.inject(fault(FaultKind::ServerError { status: 503 }, 0.05, None)).unwrap();
    match world.erp_kind() {
        ErpKind::Acumatica => {
            world.acumatica().after_commit(3, AfterCommit::ServerError { status: 500 });
            world.acumatica().after_commit(2, AfterCommit::Delay { ms: 3500 });
        }
        ErpKind::IfsCloud => {
            world.ifs().after_commit(3, simulators::ifs::AfterCommit::ServerError { status: 500 });
            world.ifs().after_commit(2, simulators::ifs::AfterCommit::Delay { ms: 3500 });
        }
        ErpKind::Infor => {
            world.infor().fail_after_commit(INFOR_TENANT, &[504; 6]);
            world.infor().lose_next(INFOR_TENANT, 3);
        }
    }
}

/// What the ERP holds, per Concur key.
fn erp_records(world: &PostingWorld) -> std::collections::BTreeMap<String, ErpPosting> {
    match world.erp_kind() {
        ErpKind::Acumatica => integration::expected::erp_postings(world.acumatica(), TENANT),
        ErpKind::IfsCloud => integration::expected::ifs_postings(world.ifs(), IFS_COMPANY),
        ErpKind::Infor => {
            integration::expected::infor_postings(world.infor(), INFOR_TENANT, Some(INFOR_CHUNK_CLEARING))
        }
    }
}

/// The counts one tenant's run ends with.
#[derive(Debug, Default)]
struct ChaosCounts {
    documents: usize,
    received: usize,
    dead_lettered: usize,
    requeued: usize,
    rounds: usize,
    erp_records: usize,
    duplicates: usize,
    lost: usize,
    mismatched: usize,
    /// Seconds in the outage (phase 1) and in the recovery (phase 2).
    outage_seconds: f64,
    recovery_seconds: f64,
}

async fn chaos_run(kind: ErpKind, connection: &str, seed: u64) -> ChaosCounts {
    let world = PostingWorld::with_erp(connection, kind).await;
    if kind == ErpKind::Infor {
        // Verdicts are overdue after a second here (the run's clock jumps).
        let connections = world.stack.connections(POSTER);
        let mut stored = connections.get(&world.connection).await.unwrap().unwrap();
        if let Some(ErpSettings::Infor(settings)) = stored.erp.as_mut() {
            settings.api.verdict_wait_seconds = 1;
        }
        connections.replace(&stored).await.unwrap();
    }
    let documents = load(&world, docs_wanted());
    let mut dice = Dice(seed);
    let mut options = test_options();
    options.claim_ttl = Duration::from_secs(1);
    // The outage holds the connection's ERP; the rounds outlast the hold.
    options.batch.erp_outage_recheck = Duration::from_secs(1);
    let poster = Poster::from_env(&world.stack.env_of(POSTER), &world.stack.aws(), options).await.unwrap();
    let poller =
        Poller::from_env(&world.stack.env_of(POLLER), &world.stack.aws(), PollerOptions::default()).await.unwrap();
    let mut counts = ChaosCounts { documents: documents.len(), ..ChaosCounts::default() };

    // Phase 1: an ERP outage longer than the queue's five receives.
    let phase = Instant::now();
    erp_faults(&world).inject(fault(FaultKind::ServerError { status: 503 }, 1.0, None)).unwrap();
    deliver_three_times(&world, &documents, &mut dice).await;
    for _ in 0..2_000 {
        let n = one_batch(&world, &poster, &mut dice).await;
        counts.received += n;
        if n == 0 {
            break;
        }
    }
    // A delivery whose poster was killed on its last receive is dead-lettered
    // (crashes are what the dead-letter queue is for); the ledger and the
    // poll still bring its document home.

    // Phase 2: the ERP is back but flaky; Concur's tokens expire; the
    // sweeper and the poll bring everything home.
    counts.outage_seconds = phase.elapsed().as_secs_f64();
    let phase = Instant::now();
    flaky(&world);
    let mut now = OffsetDateTime::now_utc();
    println!(
        "chaos {kind:?}: outage over after {:.0} s, {} deliveries received",
        counts.outage_seconds, counts.received
    );
    loop {
        let open = open_documents(&world, &documents).await;
        if open == 0 {
            break;
        }
        counts.rounds += 1;
        assert!(counts.rounds <= 60, "{kind:?}: the run converges ({open} open)");
        println!("chaos {kind:?}: round {}, {open} open, {:.0} s", counts.rounds, phase.elapsed().as_secs_f64());
        if counts.rounds == 3 {
            world.concur.expire_access_tokens(COMPANY);
        }
        now += Duration::from_secs(3 * 3600);
        // A scheduler tick: the poll (the guarantee behind webhooks) and the sweep.
        // A tick with room to sweep thousands (the local stack serves one
        // call at a time; a Lambda tick sweeps what its deadline allows).
        let tick = scheduled_poller::handle(&poller, now, Instant::now() + Duration::from_secs(900)).await.unwrap();
        counts.requeued += tick.requeued();
        for _ in 0..2_000 {
            let n = one_batch(&world, &poster, &mut dice).await;
            counts.received += n;
            if n == 0 {
                break;
            }
        }
        // Claims of killed posters lapse (1 s) before the next sweep.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }

    counts.recovery_seconds = phase.elapsed().as_secs_f64();

    // Exactly one ERP record per document, none lost.
    let posted = erp_records(&world);
    let ledger = world.stack.ledger(POSTER);
    let confirms = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap().flow.confirm_postings;
    for (item, fi_id) in &documents {
        let key = LedgerKey::new(item.connection_id.clone(), item.document_type, item.document_id.clone());
        let record = ledger.get(&key).await.unwrap().unwrap();
        // The same ERP documents as the ledger names, in any order.
        let mut in_erp = posted.get(item.document_id.as_str()).map(|p| p.documents.clone()).unwrap_or_default();
        let mut in_ledger: Vec<String> =
            record.erp_reference.as_deref().unwrap_or_default().split(", ").map(str::to_owned).collect();
        in_erp.sort();
        in_ledger.sort();
        if in_erp != in_ledger {
            counts.duplicates += 1;
            println!("chaos {kind:?}: {} is {in_ledger:?} in the ledger, {in_erp:?} in the ERP", item.document_key());
        }
        // Concur shows what the ledger says (read-only connections leave it READY).
        let shown = world.concur.document_status(COMPANY, fi_id);
        let expected = if confirms { DocStatus::PostingConfirmedSuccess } else { DocStatus::Ready };
        if shown != Some(expected) || record.status != LedgerStatus::Confirmed {
            counts.mismatched += 1;
        }
    }
    counts.lost = documents.len() - posted.len().min(documents.len());
    counts.dead_lettered = world.stack.peek_queue("WorkDeadLetterQueue").await.len();
    counts.erp_records = posted.values().map(|p| p.documents.len()).sum::<usize>();
    assert_eq!(posted.len(), documents.len(), "{kind:?}: nothing else in the ERP");
    counts
}

#[tokio::test]
async fn chaos_every_document_of_three_tenants_on_three_erps_posts_exactly_once_and_concur_matches_the_ledger() {
    let started = Instant::now();
    let runs = erps_wanted().into_iter().map(|kind| async move {
        let (connection, seed) = match kind {
            ErpKind::Acumatica => ("chaos-acumatica", 12),
            ErpKind::IfsCloud => ("chaos-ifs", 13),
            ErpKind::Infor => ("chaos-infor", 14),
        };
        (kind, chaos_run(kind, connection, seed).await)
    });
    let finished = futures_util::future::join_all(runs).await;
    let mut total = (0, 0, 0, 0);
    for (erp, c) in &finished {
        println!(
            "chaos {erp:?}: {} documents, {} deliveries received, {} dead-lettered (killed on a last receive), \
             {} re-queued by the sweeper, {} rounds, {} ERP records, {} duplicates, {} lost, \
             {} Concur/ledger mismatches; {:.0} s outage, {:.0} s recovery",
            c.documents,
            c.received,
            c.dead_lettered,
            c.requeued,
            c.rounds,
            c.erp_records,
            c.duplicates,
            c.lost,
            c.mismatched,
            c.outage_seconds,
            c.recovery_seconds
        );
        total = (total.0 + c.documents, total.1 + c.duplicates, total.2 + c.lost, total.3 + c.mismatched);
    }
    println!(
        "chaos total: {} documents, {} duplicates, {} lost, {} mismatches, {:.1} s",
        total.0,
        total.1,
        total.2,
        total.3,
        started.elapsed().as_secs_f64()
    );
    assert_eq!((total.1, total.2, total.3), (0, 0, 0));
}
