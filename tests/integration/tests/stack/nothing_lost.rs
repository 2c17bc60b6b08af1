//! Nothing is lost when the queue gives up: documents whose retries outlast
//! the work queue's real receive limit (the template's `maxReceiveCount`,
//! 5), or whose Concur or ERP grant died, wait in the ledger with a reason
//! and come back through the poller's sweeper once they can be posted. On
//! the real stack: moto's FIFO queue with the template's redrive policy,
//! the Concur and Acumatica simulators.

use std::time::{Duration, Instant};

use domain::{ConnectionStatus, WorkItem, WorkSource};
use erp_poster::{Poster, PosterOptions};
use integration::TestStack;
use integration::posting::{COMPANY, POSTER, PostingWorld, TENANT, consume_queue, example_work_items, test_options};
use platform::concur_grants::ConcurGrantStore;
use platform::ledger::{LedgerKey, LedgerStatus};
use platform::queue::Outgoing;
use scheduled_poller::{Poller, PollerOptions};
use simulators::faults::{FaultKind, FaultSpec};
use time::OffsetDateTime;

const POLLER: &str = "ScheduledPollerFunction";

fn key_of(item: &WorkItem) -> LedgerKey {
    LedgerKey::new(item.connection_id.clone(), item.document_type, item.document_id.clone())
}

/// `n` distinct example documents of the world, as the poll queues them.
fn items(world: &PostingWorld, n: usize) -> Vec<WorkItem> {
    let mut seen = std::collections::BTreeSet::new();
    example_work_items(&world.connection, WorkSource::Poll)
        .into_iter()
        .map(|(_, item)| item)
        .filter(|item| seen.insert(item.document_key()))
        .take(n)
        .collect()
}

async fn queue(world: &PostingWorld, items: &[WorkItem]) {
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let queue = world.stack.work_queue(POSTER);
    for item in items {
        queue.send(&Outgoing::document(item.clone(), &world.connection, connection.concurrency_level)).await.unwrap();
    }
}

async fn poller(stack: &TestStack) -> Poller<ConcurGrantStore> {
    Poller::from_env(&stack.env_of(POLLER), &stack.aws(), PollerOptions::default()).await.unwrap()
}

/// One sweep of the world's connection as the tick runs it, at `now`.
async fn sweep(world: &PostingWorld, now: OffsetDateTime) -> usize {
    let poller = poller(&world.stack).await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let swept =
        scheduled_poller::sweep::sweep(&poller, &[connection], now, Instant::now() + Duration::from_secs(60)).await;
    swept.iter().map(|s| s.requeued).sum()
}

async fn poster_with(world: &PostingWorld, options: PosterOptions) -> Poster<ConcurGrantStore> {
    Poster::from_env(&world.stack.env_of(POSTER), &world.stack.aws(), options).await.unwrap()
}

async fn statuses(world: &PostingWorld, items: &[WorkItem]) -> Vec<LedgerStatus> {
    let ledger = world.stack.ledger(POSTER);
    let mut statuses = Vec::new();
    for item in items {
        statuses.push(ledger.get(&key_of(item)).await.unwrap().map_or(LedgerStatus::Received, |r| r.status));
    }
    statuses
}

/// Each document is in the ERP exactly as the ledger records it: the same
/// ERP documents, none more (a duplicate would be an extra one).
async fn assert_posted_once(world: &PostingWorld, items: &[WorkItem]) {
    let posted = integration::expected::erp_postings(world.acumatica(), TENANT);
    assert_eq!(posted.len(), items.len(), "every document, nothing else: {:?}", posted.keys());
    let ledger = world.stack.ledger(POSTER);
    for item in items {
        let record = ledger.get(&key_of(item)).await.unwrap().unwrap();
        let in_erp = posted[item.document_id.as_str()].documents.join(", ");
        assert_eq!(record.erp_reference.as_deref(), Some(in_erp.as_str()), "{}", item.document_key());
    }
}

#[tokio::test]
async fn an_erp_outage_longer_than_the_queues_receives_loses_nothing_and_dead_letters_nothing() {
    let world = PostingWorld::new("acme-outage").await;
    world.load_examples();
    let items = items(&world, 6);
    queue(&world, &items).await;
    // Every Acumatica call fails, for longer than the queue's 5 receives.
    world
        .acumatica()
        .faults()
        .inject(FaultSpec {
            fault: FaultKind::ServerError { status: 503 },
            count: None,
            fraction: Some(1.0),
            path_prefix: None,
            method: None,
        })
        .unwrap();
    let mut options = test_options();
    options.batch.erp_outage_recheck = Duration::from_secs(3);
    let poster = poster_with(&world, options).await;
    assert_eq!(poster.rules.max_receives, 5, "the template's receive limit, not a test loop's");
    assert_eq!(poster.rules.erp_outage_after, 3, "the default");
    let url = world.stack.work_queue_url(POSTER);
    let during = consume_queue(&world.stack, &poster, &url).await.unwrap();
    assert_eq!(during.outcome.done, 0);
    assert_eq!(during.outcome.parked, items.len(), "{:?}", during.outcome);
    assert!(world.stack.peek_queue("WorkQueue").await.is_empty(), "the queue let go of them");
    assert!(world.stack.peek_queue("WorkDeadLetterQueue").await.is_empty(), "and dead-lettered none");
    let ledger = world.stack.ledger(POSTER);
    let mut tries = 0;
    for item in &items {
        let record = ledger.get(&key_of(item)).await.unwrap().expect("the ledger holds every document");
        assert_eq!(record.status, LedgerStatus::Received, "{record:?}");
        assert!(record.due_at.is_some(), "the sweeper knows when: {record:?}");
        tries += record.attempts;
    }
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    // One document per concurrency slot runs at once: the ones in flight
    // when the third failure set the hold finish their try, no other starts.
    let in_flight = u32::from(connection.concurrency_level.get()) - 1;
    assert!(
        (3..=3 + in_flight).contains(&tries),
        "three posts failed in a row, and at most the others then in flight; then the documents waited: {tries}"
    );
    let hold = connection.erp_hold.expect("the connection shows its ERP is on hold");
    assert_eq!((hold.kind, hold.failures), (domain::ErpHoldKind::Unavailable, tries), "every failed post counted");
    assert!(hold.reason.contains("503"), "{hold:?}");
    assert!(world.acumatica().bills(TENANT).is_empty());

    // While it is down, a sweep brings them back and they wait again,
    // without a call to the ERP until the hold's recheck time.
    let calls = world.acumatica().faults().requests().len();
    let later = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    assert_eq!(sweep(&world, later).await, items.len());
    let waiting = consume_queue(&world.stack, &poster, &url).await.unwrap();
    assert_eq!(waiting.outcome.parked, items.len(), "{:?}", waiting.outcome);
    assert_eq!(world.acumatica().faults().requests().len(), calls, "nobody called the ERP that is down");
    assert!(world.stack.peek_queue("WorkDeadLetterQueue").await.is_empty());

    // The ERP is back: after the hold's recheck time the next sweep
    // re-queues every document and each posts once.
    world.acumatica().faults().clear();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let much_later = OffsetDateTime::now_utc() + Duration::from_secs(6 * 3600);
    assert_eq!(sweep(&world, much_later).await, items.len(), "every document not final is re-queued");
    let after = consume_queue(&world.stack, &poster, &url).await.unwrap();
    assert_eq!(after.outcome.done, items.len());
    assert!(statuses(&world, &items).await.iter().all(|s| *s == LedgerStatus::Confirmed));
    assert_posted_once(&world, &items).await;
    assert!(world.stack.peek_queue("WorkDeadLetterQueue").await.is_empty());
    let history = world
        .stack
        .audit(POSTER)
        .history(&format!("{}#{}", items[0].connection_id, items[0].document_key()))
        .await
        .unwrap();
    assert!(history.iter().any(|e| e.step == "swept"), "the re-queue is in the audit trail");
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    assert!(connection.erp_hold.is_none(), "cleared by the first posting that worked");

    // Done documents are never swept again.
    assert_eq!(sweep(&world, much_later + Duration::from_secs(86_400)).await, 0);
}

#[tokio::test]
async fn a_dead_concur_grant_parks_documents_until_the_company_reconnects() {
    let world = PostingWorld::new("acme-revoked").await;
    world.load_examples();
    let items = items(&world, 3);
    queue(&world, &items).await;
    world.concur.revoke_refresh_tokens(COMPANY);
    world.concur.expire_access_tokens(COMPANY);
    let poster = world.poster().await;
    let url = world.stack.work_queue_url(POSTER);

    let during = consume_queue(&world.stack, &poster, &url).await.unwrap();
    assert_eq!(during.outcome.parked, items.len(), "{:?}", during.outcome);
    assert_eq!(during.outcome.retry, 0, "no document bounces through the queue waiting for a person");
    assert!(world.stack.peek_queue("WorkQueue").await.is_empty());
    assert!(world.stack.peek_queue("WorkDeadLetterQueue").await.is_empty());
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    assert_eq!(connection.status, ConnectionStatus::NeedsReauth, "visible on the connection");
    assert!(connection.status_reason.is_some());
    let ledger = world.stack.ledger(POSTER);
    for item in &items {
        let record = ledger.get(&key_of(item)).await.unwrap().expect("each document is in the ledger");
        assert_eq!(record.status, LedgerStatus::Received);
        assert!(
            record.last_error.as_deref().is_some_and(|e| e.contains("active again") || e.contains("grant")),
            "{record:?}"
        );
    }
    // Not swept while nobody reconnected: they would only park again.
    let later = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    assert_eq!(sweep(&world, later).await, 0);

    // An admin clicks Connect: the next sweep brings every document home.
    world.reconnect_concur().await;
    assert_eq!(sweep(&world, later).await, items.len());
    let after = consume_queue(&world.stack, &poster, &url).await.unwrap();
    assert_eq!(after.outcome.done, items.len(), "{:?}", after.outcome);
    assert!(statuses(&world, &items).await.iter().all(|s| *s == LedgerStatus::Confirmed));
    assert_posted_once(&world, &items).await;
}

#[tokio::test]
async fn a_dead_erp_grant_holds_the_connection_without_hammering_the_login_and_resumes_with_new_credentials() {
    let world = PostingWorld::new("acme-erp-login").await;
    world.load_examples();
    let items = items(&world, 8);
    let secret = format!("{}/connections/{}/erp", world.stack.stack_name(), world.connection);
    let secrets = world.stack.secrets();
    let good: serde_json::Value = secrets.get_json(&secret).await.unwrap().unwrap();
    let mut bad = good.clone();
    bad["password"] = serde_json::json!("changed-by-someone");
    secrets.put_json(&secret, &bad, "test").await.unwrap();

    let mut options = test_options();
    options.batch.erp_hold_recheck = Duration::from_secs(3);
    let poster = poster_with(&world, options).await;
    let logins =
        || world.acumatica().faults().requests().iter().filter(|r| r.path.contains("/identity/connect/token")).count();
    queue(&world, &items).await;
    let url = world.stack.work_queue_url(POSTER);
    let during = consume_queue(&world.stack, &poster, &url).await.unwrap();
    assert_eq!(during.outcome.parked, items.len(), "{:?}", during.outcome);
    let refused_logins = logins();
    let level = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap().concurrency_level;
    assert!(refused_logins >= 1);
    // The documents in flight at once (one per concurrency slot) may each
    // try it before the hold is recorded; no document after them does.
    assert!(
        refused_logins <= usize::from(level.get()),
        "the documents that started after the refusal did not try the dead login: {refused_logins}"
    );
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let hold = connection.erp_hold.expect("the connection shows why its ERP is not posting");
    assert!(!hold.reason.is_empty());
    assert!(world.stack.peek_queue("WorkDeadLetterQueue").await.is_empty());

    // The operator stores working credentials; the same warm poster picks
    // them up after the hold's recheck time, and the hold clears.
    secrets.put_json(&secret, &good, "test").await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    assert_eq!(sweep(&world, later).await, items.len());
    let after = consume_queue(&world.stack, &poster, &url).await.unwrap();
    assert_eq!(after.outcome.done, items.len(), "{:?}", after.outcome);
    assert!(statuses(&world, &items).await.iter().all(|s| *s == LedgerStatus::Confirmed));
    assert_posted_once(&world, &items).await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    assert!(connection.erp_hold.is_none(), "cleared by the first posting that worked");
}

#[tokio::test]
async fn one_tick_requeues_every_document_an_outage_left_behind_not_only_the_first_page() {
    let world = PostingWorld::new("acme-backlog").await;
    let ledger = world.stack.ledger(POSTER);
    let now = OffsetDateTime::now_utc();
    let parked = 520; // more than one index page (500), more than the old per-tick cap (200)
    for n in 0..parked {
        let item = WorkItem::new(
            world.connection.clone(),
            domain::DocumentType::Expense,
            domain::ConcurDocumentId::parse(&format!("BACKLOG{n:05}")).unwrap(),
            WorkSource::Poll,
            now,
        );
        ledger.park(&key_of(&item), "the ERP was down", now, now).await.unwrap();
    }
    let later = now + Duration::from_secs(3600);
    assert_eq!(sweep(&world, later).await, parked, "one tick re-queues the whole backlog");
    assert_eq!(sweep(&world, later).await, 0, "and takes each once");
}
