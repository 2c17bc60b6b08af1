//! Infor never waits forever (issue 12, item 4), on the real stack: moto,
//! the Concur simulator, the strict Infor ION simulator and ion-inbox.
//!
//! - ION loses a message: once the verdict is overdue the same BOD goes
//!   again and the document is confirmed.
//! - The ERP's verdict is lost: the same BOD goes again a bounded number of
//!   times (ION drops the repeats), then the document stops visibly for an
//!   operator, whose replay (a higher variation) brings it home — one
//!   document in the ERP, never two.
//! - A verdict that arrives before the poster recorded the posting is kept.
//! - A partial refusal: the parts the ERP accepted are not sent again when
//!   the fixed document comes back.

use std::time::Duration;

use domain::{ErpKind, ErpSettings, InforApiNames, WorkItem, WorkSource};
use erp_poster::{Poster, Processed};
use integration::posting::{COMPANY, INFOR_TENANT, POSTER, PostingWorld, consume_queue, example_work_items};
use platform::concur_grants::ConcurGrantStore;
use platform::ledger::{LedgerKey, LedgerRecord, LedgerStatus};
use simulators::concur::DocStatus;
use simulators::infor::ReceivedStatus;

fn ledger_key(item: &WorkItem) -> LedgerKey {
    LedgerKey::new(item.connection_id.clone(), item.document_type, item.document_id.clone())
}

/// The connection's Infor settings, changed by `change`.
async fn set_api(world: &PostingWorld, change: impl FnOnce(&mut InforApiNames)) {
    let connections = world.stack.connections(POSTER);
    let mut connection = connections.get(&world.connection).await.unwrap().unwrap();
    let Some(ErpSettings::Infor(settings)) = connection.erp.as_mut() else { panic!("an Infor connection") };
    change(&mut settings.api);
    connections.replace(&connection).await.unwrap();
}

fn example(world: &PostingWorld, name: &str) -> WorkItem {
    example_work_items(&world.connection, WorkSource::Webhook)
        .into_iter()
        .find(|(file, _)| file.contains(name))
        .map(|(_, item)| item)
        .unwrap_or_else(|| panic!("example {name}"))
}

/// Lets ION push its verdicts to ion-inbox, then feeds the work queue to the poster.
async fn deliver_verdicts(world: &PostingWorld, poster: &Poster<ConcurGrantStore>) -> erp_poster::BatchOutcome {
    world.infor().flush_callbacks().await;
    let queue_url = world.stack.work_queue_url(POSTER);
    consume_queue(&world.stack, poster, &queue_url).await.expect("the verdicts are handled").outcome
}

async fn record(world: &PostingWorld, item: &WorkItem) -> LedgerRecord {
    world.stack.ledger(POSTER).get(&ledger_key(item)).await.unwrap().unwrap()
}

/// The Concur key an ION DocumentID carries.
fn key_of(document_id: &str) -> String {
    erp::infor::parse_document_id(document_id).map_or_else(|| document_id.to_owned(), |p| p.key)
}

/// What ION received for the document's BODs, as (DocumentID, variation, status).
fn received_for(world: &PostingWorld, business_id: &str) -> Vec<(String, u64, ReceivedStatus)> {
    world
        .infor()
        .received(INFOR_TENANT)
        .into_iter()
        .filter(|m| match &m.document_id {
            Some(id) => key_of(id) == business_id,
            // Lost before the ERP read it.
            None => m.xml.contains(business_id),
        })
        .map(|m| {
            let variation = m.variation_id.unwrap_or_else(|| variation_in(&m.xml));
            (m.document_id.unwrap_or_default(), variation, m.status)
        })
        .collect()
}

/// The `variationID` of a BOD the simulator did not read.
fn variation_in(xml: &str) -> u64 {
    xml.split("variationID=\"").nth(1).and_then(|rest| rest.split('"').next()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// ERP documents (journals and supplier invoices) held for the Concur key.
fn held_in_erp(world: &PostingWorld, business_id: &str) -> usize {
    let infor = world.infor();
    infor.journals(INFOR_TENANT).iter().filter(|j| key_of(&j.document_id) == business_id).count()
        + infor.supplier_invoices(INFOR_TENANT).iter().filter(|i| key_of(&i.document_id) == business_id).count()
}

/// Verdicts overdue after two seconds (one was too short for a loaded
/// machine to make the "not yet due" step in time), two resends; Example
/// 2.1 loaded; the poster.
async fn overdue_after_two_seconds(world: &PostingWorld) -> (WorkItem, Poster<ConcurGrantStore>) {
    set_api(world, |api| {
        api.verdict_wait_seconds = 2;
        api.verdict_resends = 2;
    })
    .await;
    world.load_examples();
    (example(world, "Example-2.1"), world.poster().await)
}

fn is_lost(status: &ReceivedStatus) -> bool {
    matches!(status, ReceivedStatus::Lost)
}

#[tokio::test]
async fn a_message_ion_lost_is_sent_again_unchanged_once_its_verdict_is_overdue() {
    let world = PostingWorld::with_erp("acme-infor-lost", ErpKind::Infor).await;
    let (item, poster) = overdue_after_two_seconds(&world).await;
    world.infor().lose_next(INFOR_TENANT, 1);

    let first = poster.process_item(&item).await.unwrap();
    assert!(matches!(first, Processed::AwaitingErp { .. }), "{first:?}");
    assert_eq!(deliver_verdicts(&world, &poster).await.done, 0, "no verdict: ION lost the message");
    // A repeat delivery before the verdict is due changes nothing.
    assert_eq!(poster.process_item(&item).await.unwrap(), Processed::Duplicate);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Overdue: the sweeper's delivery sends the very same BOD again.
    let swept = WorkItem { source: WorkSource::Sweep, ..item.clone() };
    assert!(matches!(poster.process_item(&swept).await.unwrap(), Processed::AwaitingErp { .. }));
    deliver_verdicts(&world, &poster).await;

    let received = received_for(&world, item.document_id.as_str());
    assert_eq!(received.len(), 2, "{received:?}");
    assert!(is_lost(&received[0].2) && matches!(received[1].2, ReceivedStatus::Accepted { .. }), "{received:?}");
    let record = record(&world, &item).await;
    assert_eq!((record.status, record.resends), (LedgerStatus::Confirmed, 1), "{record:?}");
    let history =
        world.stack.audit(POSTER).history(&format!("{}#{}", item.connection_id, item.document_key())).await.unwrap();
    assert!(history.iter().any(|e| e.step == "erp verdict overdue" && e.outcome == "resent"), "{history:?}");
    let confirmations = world.concur.posting_confirmations(COMPANY);
    assert_eq!(confirmations.len(), 1);
    assert_eq!(confirmations[0].overall_posting_status_code, "success");
}

#[tokio::test]
async fn a_lost_verdict_stops_the_document_after_the_resends_and_a_replay_brings_it_home_once() {
    let captured = platform::telemetry::capture();
    let world = PostingWorld::with_erp("acme-infor-silent", ErpKind::Infor).await;
    let (item, poster) = overdue_after_two_seconds(&world).await;
    // The ERP posts, but its verdicts never reach us.
    let callback = world.infor().callback(INFOR_TENANT).unwrap();
    world.infor().clear_callback(INFOR_TENANT);

    assert!(matches!(poster.process_item(&item).await.unwrap(), Processed::AwaitingErp { .. }));
    let swept = WorkItem { source: WorkSource::Sweep, ..item.clone() };
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert!(matches!(poster.process_item(&swept).await.unwrap(), Processed::AwaitingErp { .. }));
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let stopped = poster.process_item(&swept).await.unwrap_err();
    assert!(!stopped.is_retryable() && stopped.reason.contains("no verdict"), "{stopped:?}");

    let received = received_for(&world, item.document_id.as_str());
    assert_eq!(received.len(), 3, "sent once and again twice: {received:?}");
    assert!(received.iter().all(|(_, variation, _)| *variation == 1), "the same BOD each time: {received:?}");
    assert_eq!(received.iter().filter(|(_, _, s)| matches!(s, ReceivedStatus::Duplicate { .. })).count(), 2);
    let stopped = record(&world, &item).await;
    assert_eq!((stopped.status, stopped.failed_step.as_deref()), (LedgerStatus::Failed, Some("verdict")));
    assert!(stopped.failure_reason.as_deref().unwrap().contains("OneView"), "{stopped:?}");
    // Counted as failed, with the ERP unavailable (not refusing) as the reason: the documents-failed alarm fires.
    let failed: Vec<_> = captured.lines().into_iter().filter(|l| l.get("DocumentsFailed").is_some()).collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        (failed[0]["Reason"].as_str(), failed[0]["ConnectionId"].as_str()),
        (Some("erp_unavailable"), Some(world.connection.as_str()))
    );
    assert!(world.concur.posting_confirmations(COMPANY).is_empty(), "Concur is not told what nobody knows");

    // The operator replays it: a higher variation, which the ERP takes as a
    // replacement of what it holds, and answers.
    world.infor().set_callback(INFOR_TENANT, &callback);
    world.stack.ledger(POSTER).reset_for_replay(&ledger_key(&item), time::OffsetDateTime::now_utc()).await.unwrap();
    let replay = WorkItem { source: WorkSource::Replay, ..item.clone() };
    assert!(matches!(poster.process_item(&replay).await.unwrap(), Processed::AwaitingErp { .. }));
    deliver_verdicts(&world, &poster).await;
    assert_eq!(record(&world, &item).await.status, LedgerStatus::Confirmed);
    let last = received_for(&world, item.document_id.as_str()).pop().unwrap();
    assert!(matches!(last.2, ReceivedStatus::Accepted { replaced: true, .. }), "{last:?}");
    assert_eq!(held_in_erp(&world, item.document_id.as_str()), 1, "one document in the ERP, replaced, not doubled");
}

#[tokio::test]
async fn a_verdict_that_arrives_before_the_posting_is_recorded_is_kept() {
    let world = PostingWorld::with_erp("acme-infor-early", ErpKind::Infor).await;
    world.load_examples();
    let item = example(&world, "Example-2.1");
    let poster = world.poster().await;
    // ION takes the message and the ERP posts it, but every answer the
    // poster gets is a gateway timeout: it gives up before recording.
    world.infor().fail_after_commit(INFOR_TENANT, &[504; 8]);
    let gave_up = poster.process_item(&item).await.unwrap_err();
    assert!(gave_up.is_retryable(), "{gave_up:?}");
    assert_eq!(record(&world, &item).await.status, LedgerStatus::Received);

    // The verdict comes first: it is kept on the record, not dead-lettered.
    let handled = deliver_verdicts(&world, &poster).await;
    assert_eq!((handled.done, handled.retry, handled.stopped), (1, 0, 0), "{handled:?}");
    assert!(!record(&world, &item).await.accepted_parts.is_empty(), "the acceptance waits on the record");

    // The redelivery sends the same BOD (ION drops it) and finds it accepted.
    world.infor().fail_after_commit(INFOR_TENANT, &[]);
    let done = poster.process_item(&item).await.unwrap();
    assert!(matches!(done, Processed::Confirmed { .. }), "{done:?}");
    assert_eq!(record(&world, &item).await.status, LedgerStatus::Confirmed);
    let confirmations = world.concur.posting_confirmations(COMPANY);
    assert_eq!(confirmations.len(), 1);
    assert_eq!(confirmations[0].overall_posting_status_code, "success");
}

#[tokio::test]
async fn a_partial_refusal_keeps_the_accepted_parts_out_of_the_resubmitted_document() {
    let world = PostingWorld::with_erp("acme-infor-partial", ErpKind::Infor).await;
    set_api(&world, |api| api.max_message_bytes = 4096).await;
    let loaded = world.load_examples();
    let item = example(&world, "Example-6.2.2");
    let poster = world.poster().await;
    world.infor().refuse(INFOR_TENANT, "-2of", "period 2026-12 is closed for this cost center");

    assert!(matches!(poster.process_item(&item).await.unwrap(), Processed::AwaitingErp { .. }));
    deliver_verdicts(&world, &poster).await;
    let stopped = record(&world, &item).await;
    assert_eq!((stopped.status, stopped.failed_step.as_deref()), (LedgerStatus::Failed, Some("erp")), "{stopped:?}");
    let first = received_for(&world, item.document_id.as_str());
    assert!(first.len() >= 3, "the document goes in several parts: {first:?}");
    let accepted: Vec<String> = first
        .iter()
        .filter(|(_, _, s)| matches!(s, ReceivedStatus::Accepted { .. }))
        .map(|(id, _, _)| id.clone())
        .collect();
    assert_eq!(accepted.len(), first.len() - 1, "one part refused: {first:?}");

    // The cause is fixed in the ERP and the processor resubmits the report.
    world.infor().stop_refusing(INFOR_TENANT, "-2of");
    let file_key = item.document_id.as_str();
    let fi_id = loaded
        .iter()
        .find(|(path, _)| path.to_string_lossy().contains("Example-6.2.2"))
        .map(|(_, ids)| ids[0].clone())
        .unwrap_or_else(|| panic!("FI id of {file_key}"));
    world.concur.recall(COMPANY, &fi_id);
    world.concur.set_document_status(COMPANY, &fi_id, DocStatus::Ready);
    let resubmitted = poster.process_item(&item).await.unwrap();
    let (parts, kept) = (first.len(), accepted.len());
    assert_eq!(
        resubmitted,
        Processed::PartAccepted { accepted: kept, parts: u32::try_from(parts).unwrap() },
        "the accepted parts count as accepted; the one sent again is awaited"
    );
    deliver_verdicts(&world, &poster).await;

    let all = received_for(&world, item.document_id.as_str());
    let again: Vec<&(String, u64, ReceivedStatus)> = all.iter().skip(first.len()).collect();
    assert_eq!(again.len(), 1, "only the refused part goes again: {again:?}");
    assert!(again[0].0.contains("-2of") && again[0].1 == 2, "{again:?}");
    assert!(matches!(again[0].2, ReceivedStatus::Accepted { .. }), "{again:?}");
    for part in &accepted {
        assert_eq!(all.iter().filter(|(id, _, _)| id == part).count(), 1, "{part} was sent once");
    }
    let done = record(&world, &item).await;
    assert_eq!(done.status, LedgerStatus::Confirmed, "{done:?}");
    assert_eq!(world.concur.document_status(COMPANY, &fi_id), Some(DocStatus::PostingConfirmedSuccess));
}
