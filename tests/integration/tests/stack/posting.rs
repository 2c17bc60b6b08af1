//! The erp-poster pipeline on the real stack: moto (ledger, audit,
//! connections, secrets, queue), the Concur simulator serving the official
//! FI example documents, the Acumatica simulator. Every example posts
//! balanced and exactly as EXPECTED.md derives it; exactly once under a
//! crash after the ERP accepted, concurrent deliveries and a 429 storm; an
//! unmappable document is stopped, listed and, once the mapping is fixed,
//! replayed into one posting.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use domain::mapping::Mapping;
use domain::{FailureKind, FlowOptions, PostingForm, WorkItem, WorkSource};
use erp_poster::{Poster, Processed};
use integration::expected::{compare, erp_postings, expected_by_file};
use integration::posting::{
    COMPANY, POSTER, PostingWorld, TENANT, example_mapping, example_work_items, stop_once_saved, test_options,
};
use platform::concur_grants::ConcurGrantStore;
use platform::ledger::{LedgerKey, LedgerStatus};
use simulators::acumatica::AfterCommit;
use simulators::concur::DocStatus;
use simulators::faults::{FaultKind, FaultSpec};

fn key_of(item: &WorkItem) -> LedgerKey {
    LedgerKey::new(item.connection_id.clone(), item.document_type, item.document_id.clone())
}

/// Work items of the examples, one per document (two files repeat a document).
fn unique_items(world: &PostingWorld) -> Vec<(String, WorkItem)> {
    let mut seen = BTreeSet::new();
    example_work_items(&world.connection, WorkSource::Poll)
        .into_iter()
        .filter(|(_, item)| seen.insert(item.document_key()))
        .collect()
}

fn puts(world: &PostingWorld) -> Vec<u16> {
    world.acumatica().faults().requests().iter().filter(|r| r.method == "PUT").map(|r| r.status).collect()
}

/// Posts every example and compares each with EXPECTED.md, line by line.
async fn post_all_and_compare(world: &PostingWorld, flow: &FlowOptions) {
    world.load_examples();
    let poster = world.poster().await;
    let items = unique_items(world);
    for (file, item) in &items {
        let processed = poster.process_item(item).await.unwrap_or_else(|f| panic!("{file}: {}", f.reason));
        assert!(matches!(processed, Processed::Posted { .. }), "{file}: {processed:?}");
    }
    let expected = expected_by_file();
    let posted = erp_postings(world.acumatica(), TENANT);
    let mapping = example_mapping();
    let mut problems = Vec::new();
    for (file, item) in example_work_items(&world.connection, WorkSource::Poll) {
        let want = expected.get(&file).unwrap_or_else(|| panic!("EXPECTED.md has no entries for {file}"));
        let got = posted.get(item.document_id.as_str()).unwrap_or_else(|| panic!("{file}: nothing posted"));
        for problem in compare(want, got, &mapping, flow.form_for(item.document_type)) {
            problems.push(format!("{file} ({:?}): {problem}", got.documents));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(posted.len(), items.len(), "one posting per document, nothing else: {:?}", posted.keys());

    // Recorded, confirmed back to Concur with the ERP references.
    let ledger = world.stack.ledger(POSTER);
    for (file, item) in &items {
        let record = ledger.get(&key_of(item)).await.unwrap().unwrap();
        assert_eq!(record.status, LedgerStatus::Confirmed, "{file}");
        let reference = record.erp_reference.unwrap();
        assert_eq!(
            posted[item.document_id.as_str()].documents.join(", "),
            reference,
            "{file}: the ledger holds every ERP document's reference"
        );
    }
    let confirmations = world.concur.posting_confirmations(COMPANY);
    assert_eq!(confirmations.len(), items.len(), "one confirmation per document");
    assert!(confirmations.iter().all(|c| c.overall_posting_status_code == "success"), "{confirmations:?}");
}

#[tokio::test]
async fn every_example_posts_balanced_as_expected_bills_and_journals() {
    let world = PostingWorld::new("acme-bills").await;
    let flow = FlowOptions::default();
    assert_eq!((flow.expense_report_as, flow.cash_advance_as), (PostingForm::ApBill, PostingForm::Journal));
    post_all_and_compare(&world, &flow).await;
    // Reports became bills (and debit adjustments) on the employees' and the
    // card issuer's vendors, card clearing went into journals.
    let bills = world.acumatica().bills(TENANT);
    let types: BTreeSet<String> = bills.iter().map(|b| b["Type"]["value"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, BTreeSet::from(["Bill".to_owned(), "Debit Adj.".to_owned()]));
    assert!(bills.iter().any(|b| b["Vendor"]["value"] == "AMEXCORP"), "IBCP charges are billed to the card issuer");
}

#[tokio::test]
async fn every_example_posts_as_one_journal_when_the_flow_says_so() {
    let world = PostingWorld::new("acme-journals").await;
    let connections = world.stack.connections(POSTER);
    let mut connection = connections.get(&world.connection).await.unwrap().unwrap();
    connection.flow.expense_report_as = PostingForm::Journal;
    connection.flow.cash_advance_as = PostingForm::Journal;
    connection.flow.invoice_as = PostingForm::Journal;
    connections.replace(&connection).await.unwrap();
    post_all_and_compare(&world, &connection.flow).await;
    assert!(world.acumatica().bills(TENANT).is_empty(), "no bills in the journal flow");
}

#[tokio::test]
async fn a_crash_after_acumatica_accepted_posts_nothing_twice() {
    let world = PostingWorld::new("acme-crash").await;
    world.load_examples();
    let (_, item) = unique_items(&world).into_iter().find(|(f, _)| f.contains("Example-2.1")).unwrap();

    // The bill is saved, but its answer comes late: the poster is stopped
    // (its Lambda times out) before the ledger records anything.
    world.acumatica().after_commit(1, AfterCommit::Delay { ms: 1500 });
    let mut options = test_options();
    options.claim_ttl = Duration::from_secs(1);
    let crashing = Poster::from_env(&world.stack.env_of(POSTER), &world.stack.aws(), options).await.unwrap();
    stop_once_saved(crashing.process_item(&item), || !world.acumatica().bills(TENANT).is_empty()).await;
    // The stopped run's claim (1 s) lapses.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(world.acumatica().bills(TENANT).len(), 1, "Acumatica holds the bill");
    let record = world.stack.ledger(POSTER).get(&key_of(&item)).await.unwrap().unwrap();
    assert_eq!(record.status, LedgerStatus::Claimed, "the ledger never heard of it");
    // The stopped run's audit events are written all the same: its trail is flushed when the run is dropped.
    let document_ref = format!("{}#{}", item.connection_id, item.document_key());
    let history = world.stack.audit(POSTER).history(&document_ref).await.unwrap();
    let steps: Vec<&str> = history.iter().map(|e| e.step.as_str()).collect();
    assert!(["received", "claimed", "mapped"].iter().all(|s| steps.contains(s)), "{steps:?}");

    // Redelivery to a fresh container: the claim has lapsed, the bill is found by its key.
    let puts_before = puts(&world).len();
    let processed = world.poster().await.process_item(&item).await.unwrap();
    assert!(
        matches!(processed, Processed::Posted { ref erp_reference } if erp_reference == "Bill/Bill/000001"),
        "{processed:?}"
    );
    assert_eq!(world.acumatica().bills(TENANT).len(), 1, "nothing posted twice");
    assert_eq!(puts(&world).len(), puts_before, "the redelivery sent no PUT");
    let record = world.stack.ledger(POSTER).get(&key_of(&item)).await.unwrap().unwrap();
    assert_eq!((record.status, record.claims), (LedgerStatus::Confirmed, 2));
}

#[tokio::test]
async fn a_vendor_mapped_anew_between_attempts_gets_no_second_bill() {
    let world = PostingWorld::new("acme-remapped").await;
    world.load_examples();
    let (_, item) = unique_items(&world).into_iter().find(|(f, _)| f.contains("Example-2.1")).unwrap();

    // The first attempt's bill to the employee's vendor is saved, but the
    // poster is stopped before the ledger hears of it.
    world.acumatica().after_commit(1, AfterCommit::Delay { ms: 1500 });
    let mut options = test_options();
    options.claim_ttl = Duration::from_secs(1);
    let crashing = Poster::from_env(&world.stack.env_of(POSTER), &world.stack.aws(), options).await.unwrap();
    stop_once_saved(crashing.process_item(&item), || !world.acumatica().bills(TENANT).is_empty()).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let bills = world.acumatica().bills(TENANT);
    assert_eq!(bills.len(), 1);
    assert_eq!(bills[0]["Vendor"]["value"], "EMP49038128");

    // Meanwhile the operator maps the employee to another vendor.
    world.acumatica().add_vendor(TENANT, "EMPNEW", "Vendor EMPNEW", "Active");
    let mut mapping = world.mapping();
    mapping.employees.insert("49038128".into(), "EMPNEW".into());
    world.import_mapping(&mapping).await;

    // The redelivery finds the earlier bill under its key, whatever its vendor.
    let processed = world.poster().await.process_item(&item).await.unwrap();
    assert!(
        matches!(processed, Processed::Posted { ref erp_reference } if erp_reference == "Bill/Bill/000001"),
        "{processed:?}"
    );
    assert_eq!(world.acumatica().bills(TENANT).len(), 1, "no second bill to the new vendor");
    let history =
        world.stack.audit(POSTER).history(&format!("{}#{}", item.connection_id, item.document_key())).await.unwrap();
    let reported = history.iter().find(|e| e.step == "posted under an earlier mapping").expect("reported");
    assert_eq!(reported.outcome, "warning");
    assert!(reported.detail.as_deref().unwrap_or_default().contains("EMP49038128"), "{reported:?}");
}

#[tokio::test]
async fn three_concurrent_deliveries_make_one_bill() {
    let world = PostingWorld::new("acme-concurrent").await;
    world.load_examples();
    let (_, item) = unique_items(&world).into_iter().find(|(f, _)| f.contains("Example-6.1.2")).unwrap();
    let posters = [world.poster().await, world.poster().await, world.poster().await];
    let (a, b, c) =
        tokio::join!(posters[0].process_item(&item), posters[1].process_item(&item), posters[2].process_item(&item));
    let outcomes = [a, b, c];
    let posted = outcomes.iter().filter(|o| matches!(o, Ok(Processed::Posted { .. }))).count();
    assert_eq!(posted, 1, "exactly one delivery posts: {outcomes:?}");
    for other in outcomes.iter().filter(|o| !matches!(o, Ok(Processed::Posted { .. }))) {
        match other {
            Err(failure) => assert!(failure.is_retryable(), "the others back off: {}", failure.reason),
            Ok(processed) => assert!(matches!(processed, Processed::Duplicate), "{processed:?}"),
        }
    }
    // 6.1.2: a bill to the employee (postage) and one to the card issuer (car rental).
    let bills = world.acumatica().bills(TENANT);
    assert_eq!(bills.len(), 2, "{bills:?}");
    assert_eq!(puts(&world).len(), 2, "one PUT per ERP document");
    // A later redelivery is a duplicate.
    assert_eq!(world.poster().await.process_item(&item).await.unwrap(), Processed::Duplicate);
    let history =
        world.stack.audit(POSTER).history(&format!("{}#{}", item.connection_id, item.document_key())).await.unwrap();
    assert!(history.iter().any(|e| e.step == "duplicate detected" && e.outcome == "duplicate"), "{history:?}");
}

/// Delivers `items` as SQS batches until none is left for retry, like the
/// event source mapping does; returns the number of rounds.
async fn deliver_until_done(poster: &Poster<ConcurGrantStore>, items: &[WorkItem]) -> usize {
    let mut pending: Vec<WorkItem> = items.to_vec();
    for round in 1..=30 {
        let mut event = SqsEvent::default();
        event.records = pending
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let mut m = SqsMessage::default();
                m.message_id = Some(i.to_string());
                m.body = Some(item.to_json());
                m
            })
            .collect();
        let (response, _) = erp_poster::handle(poster, event, &poster.rules, None).await;
        let retry: BTreeSet<usize> =
            response.batch_item_failures.iter().map(|f| f.item_identifier.parse().unwrap()).collect();
        pending = pending.into_iter().enumerate().filter(|(i, _)| retry.contains(i)).map(|(_, item)| item).collect();
        if pending.is_empty() {
            return round;
        }
    }
    panic!("{} documents still pending after 30 rounds", pending.len());
}

#[tokio::test]
async fn a_429_storm_posts_everything_once_later() {
    let world = PostingWorld::new("acme-storm").await;
    world.load_examples();
    let items: Vec<WorkItem> = unique_items(&world).into_iter().map(|(_, item)| item).collect();
    // A storm: the next 40 Acumatica calls and 12 Concur FI calls are
    // throttled, then a steady 30 % of both.
    for (faults, path, storm) in
        [(world.acumatica().faults(), "/entity", 40), (world.concur.faults().clone(), "/financialintegration", 12)]
    {
        for (count, fraction) in [(Some(storm), None), (None, Some(0.3))] {
            faults
                .inject(FaultSpec {
                    fault: FaultKind::TooManyRequests { retry_after_seconds: None },
                    count,
                    fraction,
                    path_prefix: Some(path.into()),
                    method: None,
                })
                .unwrap();
        }
    }
    let poster = world.poster().await;
    let rounds = deliver_until_done(&poster, &items).await;
    assert!(rounds > 1, "the storm outlasted one delivery's retries at least once");
    let throttled = world.acumatica().faults().requests().iter().filter(|r| r.status == 429).count();
    assert!(throttled > 10, "the storm hit Acumatica ({throttled} × 429)");

    let posted = erp_postings(world.acumatica(), TENANT);
    assert_eq!(posted.len(), items.len(), "every document posted");
    let per_key: BTreeMap<&str, usize> = posted.iter().map(|(k, p)| (k.as_str(), p.documents.len())).collect();
    let bills = world.acumatica().bills(TENANT);
    let unique: BTreeSet<(String, String)> = bills
        .iter()
        .map(|b| {
            (b["Vendor"]["value"].as_str().unwrap().to_owned(), b["VendorRef"]["value"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(unique.len(), bills.len(), "no bill twice: {per_key:?}");
    let ledger = world.stack.ledger(POSTER);
    for item in &items {
        assert_eq!(ledger.get(&key_of(item)).await.unwrap().unwrap().status, LedgerStatus::Confirmed);
    }
}

#[tokio::test]
async fn an_unmappable_account_stops_the_document_until_a_replay_after_the_fix() {
    let world = PostingWorld::new("acme-unmapped").await;
    world.load_examples();
    let (_, item) = unique_items(&world).into_iter().find(|(f, _)| f.contains("Example-2.1")).unwrap();
    let mut broken = example_mapping();
    broken.accounts.remove("37");
    world.import_mapping(&broken).await;

    let poster = world.poster().await;
    let failure = poster.process_item(&item).await.unwrap_err();
    assert!(!failure.is_retryable());
    assert!(failure.reason.contains("`37` is not mapped"), "{}", failure.reason);
    assert!(world.acumatica().bills(TENANT).is_empty() && puts(&world).is_empty(), "nothing posted");

    let ledger = world.stack.ledger(POSTER);
    let failed = ledger.list_by_status(&world.connection, LedgerStatus::Failed, 100, None).await.unwrap();
    assert_eq!(failed.records.len(), 1, "listed as failed");
    assert_eq!(failed.records[0].failed_step.as_deref(), Some("map"));
    let history =
        world.stack.audit(POSTER).history(&format!("{}#{}", item.connection_id, item.document_key())).await.unwrap();
    let stopped = history.iter().find(|e| e.step == "failed").expect("a failed audit event");
    assert!(stopped.detail.as_deref().unwrap().contains("`37` is not mapped"), "{stopped:?}");
    let confirmations = world.concur.posting_confirmations(COMPANY);
    assert_eq!(confirmations.len(), 1);
    assert_eq!(confirmations[0].overall_posting_status_code, "error", "Concur is told why");

    // A redelivery does not post a stopped document.
    assert_eq!(poster.process_item(&item).await.unwrap(), Processed::StoppedEarlier);
    assert!(puts(&world).is_empty());

    // Fix the mapping, replay: posted once. Concur already shows "posting
    // failed" and cannot be told success now (a second confirmation is
    // answered 113): the document stays POSTED, visibly unconfirmed.
    let fi_id = confirmations[0].doc_id.clone();
    let fixed: Mapping = example_mapping();
    world.import_mapping(&fixed).await;
    ledger.reset_for_replay(&key_of(&item), time::OffsetDateTime::now_utc()).await.unwrap();
    let waits = poster.process_item(&item).await.unwrap_err();
    assert_eq!(waits.kind, FailureKind::Parked, "{waits:?}");
    assert!(waits.reason.contains("cannot change it to success"), "{}", waits.reason);
    assert_eq!(world.acumatica().bills(TENANT).len(), 1);
    assert_eq!(puts(&world), [200]);
    let record = ledger.get(&key_of(&item)).await.unwrap().unwrap();
    assert_eq!((record.status, record.replays), (LedgerStatus::Posted, 1), "never CONFIRMED while Concur says failed");
    assert!(record.erp_reference.is_some() && record.last_error.as_deref().unwrap().contains("resubmit"));
    assert_eq!(world.concur.document_status(COMPANY, &fi_id), Some(DocStatus::PostingConfirmedFailure));

    // The processor recalls and resubmits it: READY again. The next poll's
    // delivery acknowledges and confirms success, and posts nothing.
    world.concur.recall(COMPANY, &fi_id);
    world.concur.set_document_status(COMPANY, &fi_id, DocStatus::Ready);
    let processed = poster.process_item(&item).await.unwrap();
    assert!(matches!(processed, Processed::Confirmed { .. }), "{processed:?}");
    assert_eq!(puts(&world), [200], "not posted again");
    assert_eq!(world.concur.document_status(COMPANY, &fi_id), Some(DocStatus::PostingConfirmedSuccess));
    let record = ledger.get(&key_of(&item)).await.unwrap().unwrap();
    assert_eq!(record.status, LedgerStatus::Confirmed);
    assert_eq!(poster.process_item(&item).await.unwrap(), Processed::Duplicate, "a second replay posts nothing");
}

#[tokio::test]
async fn a_report_resubmitted_after_a_reported_failure_is_taken_up_again_on_its_own() {
    let world = PostingWorld::new("acme-resubmit").await;
    world.load_examples();
    let (_, item) = unique_items(&world).into_iter().find(|(f, _)| f.contains("Example-2.1")).unwrap();
    let mut broken = example_mapping();
    broken.accounts.remove("37");
    world.import_mapping(&broken).await;
    let poster = world.poster().await;
    assert!(!poster.process_item(&item).await.unwrap_err().is_retryable());
    let fi_id = world.concur.posting_confirmations(COMPANY)[0].doc_id.clone();
    assert_eq!(world.concur.document_status(COMPANY, &fi_id), Some(DocStatus::PostingConfirmedFailure));

    // Still stopped while Concur shows the failure: a redelivery changes nothing.
    assert_eq!(poster.process_item(&item).await.unwrap(), Processed::StoppedEarlier);

    // The fix is made (here the mapping) and the processor resubmits the
    // report: the poll finds it READY and it posts, with no operator replay.
    world.import_mapping(&example_mapping()).await;
    world.concur.recall(COMPANY, &fi_id);
    world.concur.set_document_status(COMPANY, &fi_id, DocStatus::Ready);
    let processed = poster.process_item(&item).await.unwrap();
    assert!(matches!(processed, Processed::Posted { .. }), "{processed:?}");
    assert_eq!(world.concur.document_status(COMPANY, &fi_id), Some(DocStatus::PostingConfirmedSuccess));
    assert_eq!(puts(&world), [200]);
    let record = world.stack.ledger(POSTER).get(&key_of(&item)).await.unwrap().unwrap();
    assert_eq!(record.status, LedgerStatus::Confirmed);
}

#[tokio::test]
async fn a_report_recalled_before_its_acknowledgement_is_posted_when_it_comes_back_ready() {
    let world = PostingWorld::new("acme-recalled").await;
    let loaded = world.load_examples();
    let (file, item) = unique_items(&world).into_iter().find(|(f, _)| f.contains("Example-2.1")).unwrap();
    let fi_id = loaded.iter().find(|(path, _)| path.to_string_lossy().contains(&file)).unwrap().1[0].clone();
    world.concur.recall(COMPANY, &fi_id);
    let poster = world.poster().await;

    // 102 at acknowledge: not a failure of the document; it waits.
    let waits = poster.process_item(&item).await.unwrap_err();
    assert_eq!(waits.kind, FailureKind::Parked, "{waits:?}");
    let ledger = world.stack.ledger(POSTER);
    let record = ledger.get(&key_of(&item)).await.unwrap().unwrap();
    assert_eq!(record.status, LedgerStatus::Received, "not FAILED: {record:?}");
    assert!(puts(&world).is_empty());

    // Resubmitted: READY again; the poll's delivery posts it.
    world.concur.set_document_status(COMPANY, &fi_id, DocStatus::Ready);
    let processed = poster.process_item(&item).await.unwrap();
    assert!(matches!(processed, Processed::Posted { .. }), "{processed:?}");
    assert_eq!(world.concur.document_status(COMPANY, &fi_id), Some(DocStatus::PostingConfirmedSuccess));
    assert_eq!(puts(&world), [200]);
}

/// A poster with test options changed by `change`.
async fn poster_with(
    world: &PostingWorld,
    change: impl FnOnce(&mut erp_poster::PosterOptions),
) -> Poster<ConcurGrantStore> {
    let mut options = test_options();
    change(&mut options);
    Poster::from_env(&world.stack.env_of(POSTER), &world.stack.aws(), options).await.unwrap()
}

#[tokio::test]
async fn a_create_that_commits_after_the_client_gave_up_is_never_created_twice() {
    let world = PostingWorld::new("acme-slow-commit").await;
    world.load_examples();
    let (_, item) = unique_items(&world).into_iter().find(|(f, _)| f.contains("Example-2.1")).unwrap();
    // The bill is saved 4 s after its PUT arrived; the client gives up at 3 s.
    world.acumatica().after_commit(1, AfterCommit::CommitLate { ms: 4000 });
    let poster = poster_with(&world, |o| o.batch.settle_window = Duration::from_secs(6)).await;

    let first = poster.process_item(&item).await.unwrap_err();
    let failed_at = std::time::Instant::now();
    assert!(first.is_retryable(), "{first:?}");
    assert!(puts(&world).is_empty(), "no blind second PUT after the lookup (the first is still in the server)");

    // A redelivery (or a repeated webhook) while the first save may still land:
    // it waits instead of looking up and creating again.
    let early = poster.process_item(&item).await.unwrap_err();
    assert!(early.reason.contains("may still commit"), "{early:?}");
    assert!(puts(&world).is_empty());

    // After the settle window the lookup finds the late bill: recorded, not created.
    tokio::time::sleep(Duration::from_secs(6).saturating_sub(failed_at.elapsed()) + Duration::from_millis(1100)).await;
    let processed = poster.process_item(&item).await.unwrap();
    assert!(matches!(processed, Processed::Posted { .. }), "{processed:?}");
    assert_eq!(world.acumatica().bills(TENANT).len(), 1, "one bill");
    assert!(puts(&world).is_empty(), "no PUT but the first, slow one (cut off, so never logged as answered)");
}
