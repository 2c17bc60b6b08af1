//! A read-only connection (IFS Cloud's flow: nothing is acknowledged, so
//! posted documents stay READY in Concur forever) with a backlog of
//! hundreds of READY expense reports: every tick finishes within its page
//! budget, invoices and cash advances are reached at once instead of
//! waiting behind the expenses, and what the ledger already knows is not
//! queued again. On the real stack: moto, the Concur and IFS simulators.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use domain::{DocumentType, ErpKind, QueueMessage, WorkSource};
use erp_poster::Processed;
use integration::posting::{COMPANY, POSTER, PostingWorld, example_work_items};
use platform::ledger::{LedgerKey, LedgerStatus};
use scheduled_poller::{PollOutcome, Poller, PollerOptions, TickReport};
use serde_json::json;
use time::OffsetDateTime;

const POLLER: &str = "ScheduledPollerFunction";
const SYNTHETIC: usize = 300;

/// Copies of one example report under new report ids: a backlog.
fn add_backlog(world: &PostingWorld) -> Vec<String> {
    integration::posting::add_expense_copies(&world.concur, COMPANY, "syn", SYNTHETIC)
        .into_iter()
        .map(|(report_id, _)| report_id)
        .collect()
}

async fn tick(
    world: &PostingWorld,
    poller: &Poller<platform::concur_grants::ConcurGrantStore>,
    now: OffsetDateTime,
) -> TickReport {
    let started = Instant::now();
    let report = scheduled_poller::handle(poller, now, Instant::now() + Duration::from_secs(120)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(60), "a tick finishes well within its deadline");
    assert!(report.poll_of(world.connection.as_str()).is_some(), "{report:?}");
    report
}

/// Every queued work item, drained from the queue (the scheduled
/// reference syncs a tick also queues are not what these tests count).
async fn drain(world: &PostingWorld) -> Vec<domain::WorkItem> {
    world
        .stack
        .drain_messages("WorkQueue")
        .await
        .into_iter()
        .filter_map(|m| match QueueMessage::from_json(&m.body).unwrap() {
            QueueMessage::Document(item) => Some(item),
            QueueMessage::ReferenceSync(_) => None,
            other => panic!("unexpected message {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn a_read_only_backlog_never_starves_invoices_or_cash_advances_and_known_documents_are_not_queued_again() {
    let world = PostingWorld::with_erp("acme-backlog", ErpKind::IfsCloud).await;
    world.load_examples();
    let backlog = add_backlog(&world);
    world.concur.add_fi_document(
        COMPANY,
        "invoice",
        "invfi00000000000000000000000001",
        json!({"requestHeader": {"requestId": "INV0001"}}),
    );
    let options = PollerOptions { page_budget: 4, ..PollerOptions::default() };
    let poller = Poller::from_env(&world.stack.env_of(POLLER), &world.stack.aws(), options).await.unwrap();
    let now = OffsetDateTime::now_utc();

    // Tick 1: expenses come first and use the whole page budget.
    let first = tick(&world, &poller, now).await;
    assert_eq!(first.poll_of(world.connection.as_str()).unwrap().outcome, PollOutcome::Stopped);
    let queued = drain(&world).await;
    assert!(queued.iter().all(|i| i.document_type == DocumentType::Expense));
    assert_eq!(queued.len(), 4 * 25);

    // Tick 2 starts with the other types: the invoice and both cash advances are queued.
    tick(&world, &poller, now).await;
    let queued = drain(&world).await;
    let types: BTreeSet<DocumentType> = queued.iter().map(|i| i.document_type).collect();
    assert!(types.contains(&DocumentType::Invoice) && types.contains(&DocumentType::CashAdvance), "{types:?}");

    // The cash advances post (read-only: confirmed without a word to Concur).
    let poster = world.poster().await;
    for item in queued.iter().filter(|i| i.document_type == DocumentType::CashAdvance) {
        let processed = poster.process_item(item).await.unwrap();
        assert!(matches!(processed, Processed::Posted { .. }), "{processed:?}");
        let key = LedgerKey::new(item.connection_id.clone(), item.document_type, item.document_id.clone());
        assert_eq!(world.stack.ledger(POSTER).get(&key).await.unwrap().unwrap().status, LedgerStatus::Confirmed);
    }

    // The pass goes on where it stopped, tick after tick, until it completes.
    let mut ticks = 2;
    loop {
        ticks += 1;
        let report = tick(&world, &poller, now).await;
        drain(&world).await;
        if report.poll_of(world.connection.as_str()).unwrap().outcome == PollOutcome::Completed {
            break;
        }
        assert!(ticks < 20, "the pass completes");
    }

    // Everything READY is now in the ledger (here: parked as if posted
    // earlier); the next pass reads the pages but queues nothing.
    let ledger = world.stack.ledger(POSTER);
    let mut all: Vec<LedgerKey> = backlog
        .iter()
        .map(|id| LedgerKey::new(world.connection.clone(), DocumentType::Expense, id.parse().unwrap()))
        .collect();
    all.extend(
        example_work_items(&world.connection, WorkSource::Poll)
            .into_iter()
            .map(|(_, i)| LedgerKey::new(i.connection_id.clone(), i.document_type, i.document_id.clone())),
    );
    all.push(LedgerKey::new(world.connection.clone(), DocumentType::Invoice, "INV0001".parse().unwrap()));
    let far = OffsetDateTime::now_utc() + Duration::from_secs(86_400 * 30);
    for key in &all {
        ledger.park(key, "known", far, OffsetDateTime::now_utc()).await.unwrap();
    }
    let next_day = now + Duration::from_secs(86_400);
    let (mut queued, mut known) = (0, 0);
    for _ in 0..20 {
        let report = tick(&world, &poller, next_day).await;
        let poll = report.poll_of(world.connection.as_str()).unwrap();
        queued += poll.queued();
        known += poll.known;
        if poll.outcome == PollOutcome::Completed {
            break;
        }
    }
    assert_eq!(queued, 0, "nothing the ledger knows is queued again");
    assert!(known >= SYNTHETIC, "the backlog was read and skipped: {known}");
    assert!(drain(&world).await.is_empty());
}
