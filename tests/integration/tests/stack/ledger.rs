//! The ledger against moto: every transition conditional, concurrent
//! deliveries resolved to one worker, and replay never posting twice.

use std::time::Duration;

use domain::{ConcurDocumentId, ConnectionId, DocumentType, PostingForm, WorkItem, WorkSource};
use integration::TestStack;
use platform::ledger::{ClaimOutcome, Confirmation, LedgerKey, LedgerRecord, LedgerStatus, LedgerStore};
use time::OffsetDateTime;
use time::macros::datetime;

const POSTER: &str = "ErpPosterFunction";
const TTL: Duration = Duration::from_secs(300);
const T0: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

fn key(id: &str) -> LedgerKey {
    let item = WorkItem::new(
        ConnectionId::parse("acme").unwrap(),
        DocumentType::Expense,
        ConcurDocumentId::parse(id).unwrap(),
        WorkSource::Webhook,
        T0,
    );
    LedgerKey::from(&item)
}

fn at(seconds: i64) -> OffsetDateTime {
    T0 + time::Duration::seconds(seconds)
}

async fn claimed(ledger: &LedgerStore, key: &LedgerKey, holder: &str, now: OffsetDateTime) -> LedgerRecord {
    match ledger.claim(key, holder, TTL, now).await.unwrap() {
        ClaimOutcome::Claimed(record) => record,
        other => panic!("{holder} expected to claim {key}, got {other:?}"),
    }
}

#[tokio::test]
async fn claim_post_confirm_happy_path_and_repeats_are_harmless() {
    let stack = TestStack::new().await;
    let ledger = stack.ledger(POSTER);
    let doc = key("A1");
    assert_eq!(ledger.get(&doc).await.unwrap(), None);

    let record = claimed(&ledger, &doc, "worker-1", at(0)).await;
    assert_eq!(record.status, LedgerStatus::Claimed);
    assert_eq!(record.holder.as_deref(), Some("worker-1"));
    assert_eq!(record.claim_expires_at, Some(at(300)));
    assert_eq!((record.claims, record.attempts), (1, 0));
    assert_eq!(record.created_at, "2026-11-23T10:00:00.000Z");

    let posted = ledger.record_posted(&doc, "worker-1", "AP-000123", PostingForm::ApBill, at(5)).await.unwrap();
    assert_eq!(posted.status, LedgerStatus::Posted);
    assert_eq!(posted.erp_reference.as_deref(), Some("AP-000123"));
    assert_eq!(posted.posting_form, Some(PostingForm::ApBill));
    assert_eq!(posted.holder.as_deref(), Some("worker-1"), "the poster keeps the claim to confirm");
    // A repeat of the same fact is answered with the record; another
    // reference for the same document is a loud conflict.
    let again = ledger.record_posted(&doc, "worker-1", "AP-000123", PostingForm::ApBill, at(6)).await.unwrap();
    assert_eq!(again.updated_at, posted.updated_at, "a repeat writes nothing");
    let other = ledger.record_posted(&doc, "worker-1", "AP-999", PostingForm::ApBill, at(6)).await.unwrap_err();
    assert!(other.conflict && other.to_string().contains("AP-000123"), "{other}");

    let confirmed = ledger.record_confirmed(&doc, "worker-1", Confirmation::Sent, at(7)).await.unwrap();
    assert_eq!(confirmed.status, LedgerStatus::Confirmed);
    assert_eq!(confirmed.confirmation, Some(Confirmation::Sent));
    assert_eq!((confirmed.holder, confirmed.claim_expires_at), (None, None));
    assert_eq!(confirmed.created_at, record.created_at);
    assert!(ledger.record_confirmed(&doc, "worker-1", Confirmation::Sent, at(8)).await.is_ok(), "repeat");

    // A later delivery of the same document is a duplicate.
    assert!(matches!(
        ledger.claim(&doc, "worker-2", TTL, at(60)).await.unwrap(),
        ClaimOutcome::AlreadyConfirmed(r) if r.erp_reference.as_deref() == Some("AP-000123")
    ));
    // Nothing but identifiers, states and the reference is stored.
    let items = stack.scan_table("LedgerTable").await;
    assert_eq!(items.len(), 1);
    assert!(items[0].contains("acme#CONFIRMED"), "{}", items[0]);

    // A flow without confirmation finishes as not_required.
    let journal = key("J1");
    claimed(&ledger, &journal, "worker-1", at(0)).await;
    ledger.record_posted(&journal, "worker-1", "GL-7", PostingForm::Journal, at(1)).await.unwrap();
    let done = ledger.record_confirmed(&journal, "worker-1", Confirmation::NotRequired, at(2)).await.unwrap();
    assert_eq!(done.confirmation, Some(Confirmation::NotRequired));
}

// Several runtime threads, so the three claims really are in flight at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn three_concurrent_claims_yield_exactly_one_worker() {
    let stack = TestStack::new().await;
    for round in 0..5 {
        let doc = key(&format!("C{round}"));
        let claims = (0..3).map(|i| {
            let (ledger, doc) = (stack.ledger(POSTER), doc.clone());
            tokio::spawn(async move { ledger.claim(&doc, &format!("worker-{i}"), TTL, at(0)).await })
        });
        let mut outcomes = Vec::new();
        for claim in claims.collect::<Vec<_>>() {
            outcomes.push(claim.await.unwrap().unwrap());
        }
        let winners: Vec<_> = outcomes.iter().filter(|o| matches!(o, ClaimOutcome::Claimed(_))).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        let ClaimOutcome::Claimed(winner) = winners[0] else { unreachable!() };
        for outcome in &outcomes {
            if let ClaimOutcome::HeldByOther { holder, until } = outcome {
                assert_eq!(Some(holder), winner.holder.as_ref());
                assert_eq!(*until, at(300));
            } else {
                assert!(matches!(outcome, ClaimOutcome::Claimed(_)), "round {round}: {outcome:?}");
            }
        }
        let stored = stack.ledger(POSTER).get(&doc).await.unwrap().unwrap();
        assert_eq!((stored.holder, stored.claims), (winner.holder.clone(), 1));
    }
}

#[tokio::test]
async fn a_lapsed_claim_is_taken_over_and_a_live_one_is_not() {
    let stack = TestStack::new().await;
    let ledger = stack.ledger(POSTER);
    let doc = key("L1");
    claimed(&ledger, &doc, "crashed", at(0)).await;

    assert_eq!(
        ledger.claim(&doc, "second", TTL, at(299)).await.unwrap(),
        ClaimOutcome::HeldByOther { holder: "crashed".into(), until: at(300) }
    );
    // The holder itself may claim again (a repeat) and extends its claim.
    let extended = claimed(&ledger, &doc, "crashed", at(100)).await;
    assert_eq!(extended.claim_expires_at, Some(at(400)));

    let taken = claimed(&ledger, &doc, "second", at(400)).await;
    assert_eq!(taken.holder.as_deref(), Some("second"));
    assert_eq!(taken.claims, 3, "more claims than attempts + 1: someone crashed holding it");
}

#[tokio::test]
async fn a_holder_that_lost_its_claim_cannot_record_anything() {
    let stack = TestStack::new().await;
    let ledger = stack.ledger(POSTER);
    let doc = key("H1");
    claimed(&ledger, &doc, "slow", at(0)).await;
    claimed(&ledger, &doc, "fast", at(301)).await;

    let posted = ledger.record_posted(&doc, "slow", "AP-1", PostingForm::ApBill, at(302)).await.unwrap_err();
    assert!(posted.conflict, "{posted}");
    assert!(posted.to_string().contains("`fast`"), "{posted}");
    assert!(posted.to_string().contains("slow"), "names the worker that lost it: {posted}");
    assert!(ledger.record_failed(&doc, "slow", "post", "boom", at(302)).await.unwrap_err().conflict);
    assert!(ledger.release(&doc, "slow", "timeout", at(302)).await.unwrap_err().conflict);
    assert!(ledger.record_confirmed(&doc, "slow", Confirmation::Sent, at(302)).await.unwrap_err().conflict);
    let stored = ledger.get(&doc).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.holder.as_deref(), stored.attempts), (LedgerStatus::Claimed, Some("fast"), 0));

    // An expired claim nobody took over still records the post: the ERP has it.
    let late = key("H2");
    claimed(&ledger, &late, "slow", at(0)).await;
    let record = ledger.record_posted(&late, "slow", "AP-2", PostingForm::ApBill, at(900)).await.unwrap();
    assert_eq!(record.status, LedgerStatus::Posted);

    // A document never claimed cannot be recorded at all.
    let ghost = ledger.record_posted(&key("H3"), "slow", "AP-3", PostingForm::ApBill, at(0)).await.unwrap_err();
    assert!(ghost.conflict && ghost.to_string().contains("not in the ledger"), "{ghost}");
    assert_eq!(ledger.get(&key("H3")).await.unwrap(), None);
}

#[tokio::test]
async fn posted_documents_are_only_ever_handed_out_for_confirming() {
    let stack = TestStack::new().await;
    let ledger = stack.ledger(POSTER);
    let doc = key("P1");
    claimed(&ledger, &doc, "poster", at(0)).await;
    ledger.record_posted(&doc, "poster", "AP-55", PostingForm::ApBill, at(1)).await.unwrap();

    // The poster still holds it (to confirm): a second delivery waits.
    assert!(matches!(
        ledger.claim(&doc, "second", TTL, at(2)).await.unwrap(),
        ClaimOutcome::HeldByOther { holder, .. } if holder == "poster"
    ));
    // Confirming fails retryably: the claim is dropped, the document stays POSTED.
    let released = ledger.release(&doc, "poster", "Concur answered 503", at(3)).await.unwrap();
    assert_eq!((released.status, released.holder.clone(), released.attempts), (LedgerStatus::Posted, None, 1));

    for (i, now) in [(0, at(4)), (1, at(400))] {
        let holder = format!("redelivery-{i}");
        match ledger.claim(&doc, &holder, TTL, now).await.unwrap() {
            ClaimOutcome::AlreadyPosted(record) => {
                assert_eq!(record.status, LedgerStatus::Posted);
                assert_eq!(record.erp_reference.as_deref(), Some("AP-55"));
                assert_eq!(record.holder.as_deref(), Some(holder.as_str()));
            }
            other => panic!("a posted document must not be claimed for posting: {other:?}"),
        }
    }
    // Posting it "again" is refused even for the current holder.
    let again = ledger.record_posted(&doc, "redelivery-1", "AP-56", PostingForm::ApBill, at(401)).await.unwrap_err();
    assert!(again.conflict, "{again}");
    let done = ledger.record_confirmed(&doc, "redelivery-1", Confirmation::Sent, at(402)).await.unwrap();
    assert_eq!((done.status, done.erp_reference.as_deref()), (LedgerStatus::Confirmed, Some("AP-55")));
}

#[tokio::test]
async fn failed_documents_are_listed_replayed_and_claimable_again() {
    let stack = TestStack::new().await;
    let ledger = stack.ledger(POSTER);
    let acme = ConnectionId::parse("acme").unwrap();
    let ids = ["F1", "F2", "F3"];
    for (i, id) in ids.iter().enumerate() {
        let doc = key(id);
        claimed(&ledger, &doc, "poster", at(0)).await;
        let reason = format!("account 6100-{i} is inactive in the ERP; fix the mapping and replay");
        let failed = ledger.record_failed(&doc, "poster", "map", &reason, at(10 + i as i64)).await.unwrap();
        assert_eq!(failed.failed_step.as_deref(), Some("map"));
        assert_eq!((failed.holder, failed.claim_expires_at), (None, None));
    }
    let long = "x".repeat(10_000);
    let doc = key("F4");
    claimed(&ledger, &doc, "poster", at(0)).await;
    let failed = ledger.record_failed(&doc, "poster", "fetch", &long, at(20)).await.unwrap();
    assert!(failed.failure_reason.unwrap().len() <= platform::ledger::REASON_LIMIT + 3, "reasons are bounded");
    assert!(matches!(ledger.claim(&doc, "again", TTL, at(30)).await.unwrap(), ClaimOutcome::Failed(_)));

    // Listed oldest first, page by page.
    let mut listed = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = ledger.list_by_status(&acme, LedgerStatus::Failed, 2, cursor.as_deref()).await.unwrap();
        pages += 1;
        listed.extend(page.records.into_iter().map(|r| r.key.document_id.to_string()));
        cursor = page.cursor;
        if cursor.is_none() || pages > 10 {
            break;
        }
    }
    assert_eq!(listed, ["F1", "F2", "F3", "F4"]);
    assert!(ledger.list_by_status(&acme, LedgerStatus::Claimed, 10, None).await.unwrap().records.is_empty());
    let other = ConnectionId::parse("other").unwrap();
    assert!(ledger.list_by_status(&other, LedgerStatus::Failed, 10, None).await.unwrap().records.is_empty());
    let bad = ledger.list_by_status(&acme, LedgerStatus::Failed, 10, Some("garbage")).await.unwrap_err();
    assert!(bad.to_string().contains("cursor"), "{bad}");

    let replayed = ledger.reset_for_replay(&key("F2"), at(40)).await.unwrap();
    assert_eq!((replayed.status, replayed.replays, replayed.attempts), (LedgerStatus::Received, 1, 0));
    assert!(replayed.last_error.as_deref().is_some_and(|e| e.contains("6100-1")), "{replayed:?}");
    assert_eq!((replayed.failed_step, replayed.failure_reason), (None, None));
    let twice = ledger.reset_for_replay(&key("F2"), at(41)).await.unwrap_err();
    assert!(twice.conflict, "{twice}");

    let page = ledger.list_by_status(&acme, LedgerStatus::Failed, 10, None).await.unwrap();
    let still: Vec<_> = page.records.iter().map(|r| r.key.document_id.to_string()).collect();
    assert_eq!(still, ["F1", "F3", "F4"]);
    let received = ledger.list_by_status(&acme, LedgerStatus::Received, 10, None).await.unwrap();
    assert_eq!(received.records.len(), 1);

    let record = claimed(&ledger, &key("F2"), "after-fix", at(50)).await;
    assert_eq!(record.replays, 1);
}

#[tokio::test]
async fn replay_refuses_posted_and_confirmed_and_never_reposts() {
    let stack = TestStack::new().await;
    let ledger = stack.ledger(POSTER);

    let posted = key("R1");
    claimed(&ledger, &posted, "poster", at(0)).await;
    ledger.record_posted(&posted, "poster", "AP-1", PostingForm::ApBill, at(1)).await.unwrap();
    let err = ledger.reset_for_replay(&posted, at(2)).await.unwrap_err();
    assert!(err.conflict && err.to_string().contains("never posted again"), "{err}");

    let confirmed = key("R2");
    claimed(&ledger, &confirmed, "poster", at(0)).await;
    ledger.record_posted(&confirmed, "poster", "AP-2", PostingForm::ApBill, at(1)).await.unwrap();
    ledger.record_confirmed(&confirmed, "poster", Confirmation::Sent, at(2)).await.unwrap();
    let err = ledger.reset_for_replay(&confirmed, at(3)).await.unwrap_err();
    assert!(err.conflict && err.to_string().contains("CONFIRMED"), "{err}");

    let claimed_doc = key("R3");
    claimed(&ledger, &claimed_doc, "poster", at(0)).await;
    assert!(ledger.reset_for_replay(&claimed_doc, at(1)).await.unwrap_err().conflict);
    assert!(ledger.reset_for_replay(&key("R4"), at(1)).await.unwrap_err().conflict, "unknown document");

    // Posted, then the confirmation was refused for good: the replay
    // goes back to POSTED, so the next worker only confirms.
    let refused = key("R5");
    claimed(&ledger, &refused, "poster", at(0)).await;
    ledger.record_posted(&refused, "poster", "AP-5", PostingForm::ApBill, at(1)).await.unwrap();
    let failed = ledger.record_failed(&refused, "poster", "confirm", "Concur refused the confirmation", at(2)).await;
    assert_eq!(failed.unwrap().erp_reference.as_deref(), Some("AP-5"));
    let replayed = ledger.reset_for_replay(&refused, at(3)).await.unwrap();
    assert_eq!(replayed.status, LedgerStatus::Posted);
    assert!(matches!(
        ledger.claim(&refused, "replayer", TTL, at(4)).await.unwrap(),
        ClaimOutcome::AlreadyPosted(r) if r.erp_reference.as_deref() == Some("AP-5")
    ));
}

#[tokio::test]
async fn release_counts_attempts_and_keeps_the_last_error() {
    let stack = TestStack::new().await;
    let ledger = stack.ledger(POSTER);
    let doc = key("T1");
    for attempt in 1..=3 {
        let holder = format!("worker-{attempt}");
        let record = claimed(&ledger, &doc, &holder, at(attempt * 10)).await;
        assert_eq!(record.attempts, u32::try_from(attempt - 1).unwrap());
        let error = format!("ERP answered 503 (attempt {attempt})");
        let released = ledger.release(&doc, &holder, &error, at(attempt * 10 + 1)).await.unwrap();
        assert_eq!(released.status, LedgerStatus::Received);
        assert_eq!((released.holder, released.claim_expires_at), (None, None));
        assert_eq!(released.attempts, u32::try_from(attempt).unwrap());
        assert_eq!(released.last_error.as_deref(), Some(error.as_str()));
        // A repeat of the same release counts nothing more.
        let again = ledger.release(&doc, &holder, &error, at(attempt * 10 + 2)).await.unwrap();
        assert_eq!(again.attempts, released.attempts);
    }
    let acme = ConnectionId::parse("acme").unwrap();
    let received = ledger.list_by_status(&acme, LedgerStatus::Received, 10, None).await.unwrap();
    assert_eq!(received.records.len(), 1);
    // Posting clears the last error; the count stays as history.
    claimed(&ledger, &doc, "worker-4", at(100)).await;
    let posted = ledger.record_posted(&doc, "worker-4", "AP-9", PostingForm::ApBill, at(101)).await.unwrap();
    assert_eq!((posted.attempts, posted.last_error), (3, None));
}

#[tokio::test]
async fn an_asynchronous_erp_accepts_parts_once_each_or_refuses_the_document() {
    let stack = TestStack::new().await;
    let ledger = stack.ledger(POSTER);
    let doc = key("ION1");
    claimed(&ledger, &doc, "worker-1", at(0)).await;
    ledger
        .record_posted(&doc, "worker-1", "ion:ION1-1of2:7, ion:ION1-2of2:7", PostingForm::Journal, at(1))
        .await
        .unwrap();

    // The acknowledgements arrive later; each is stored on the record, once,
    // whoever holds the document.
    let one = ledger.record_verdict(&doc, "ION1-1of2", Ok(()), at(401)).await.unwrap().unwrap();
    assert_eq!(one.accepted_parts, ["ION1-1of2"]);
    let repeat = ledger.record_verdict(&doc, "ION1-1of2", Ok(()), at(402)).await.unwrap().unwrap();
    assert_eq!(repeat.accepted_parts, ["ION1-1of2"], "a repeated acknowledgement adds nothing");
    let both = ledger.record_verdict(&doc, "ION1-2of2", Ok(()), at(403)).await.unwrap().unwrap();
    assert_eq!(both.accepted_parts, ["ION1-1of2", "ION1-2of2"]);
    assert_eq!(both.status, LedgerStatus::Posted, "a verdict moves no status: the holder acts on it");
    let unknown = ledger.record_verdict(&key("NEVERSEEN"), "NEVERSEEN", Ok(()), at(404)).await.unwrap();
    assert!(unknown.is_none(), "a verdict on a document the ledger does not know is not stored");

    // A verdict that comes before the posting is recorded waits on the record.
    let early = key("ION3");
    claimed(&ledger, &early, "worker-1", at(0)).await;
    let stored = ledger.record_verdict(&early, "ION3", Err("account 9999 unknown"), at(1)).await.unwrap().unwrap();
    assert_eq!(stored.erp_refusal.as_deref(), Some("account 9999 unknown"));
    let posted = ledger.record_posted(&early, "worker-1", "ion:ION3:1", PostingForm::Journal, at(2)).await.unwrap();
    assert_eq!(posted.erp_refusal.as_deref(), Some("account 9999 unknown"), "the poster finds it when it records");

    // Another document: the ERP accepts one part and refuses the other; the
    // replay sends it again (RECEIVED, not POSTED) and knows the accepted part.
    let refused = key("ION2");
    claimed(&ledger, &refused, "worker-1", at(0)).await;
    ledger
        .record_posted(&refused, "worker-1", "ion:ION2-1of2:1, ion:ION2-2of2:1", PostingForm::Journal, at(1))
        .await
        .unwrap();
    ledger.record_verdict(&refused, "ION2-1of2", Ok(()), at(2)).await.unwrap();
    let ClaimOutcome::AlreadyPosted(_) = ledger.claim(&refused, "worker-2", TTL, at(400)).await.unwrap() else {
        panic!("a POSTED document is handed out to act on its verdicts")
    };
    let kept = ["ion:ION2-1of2:1".to_owned()];
    let failed = ledger
        .record_rejected_by_erp(&refused, "worker-2", "erp", "account 9999 unknown", &kept, at(401))
        .await
        .unwrap();
    assert_eq!((failed.status, failed.failed_step.as_deref()), (LedgerStatus::Failed, Some("erp")));
    assert_eq!(failed.erp_reference, None, "not (wholly) in the ERP");
    let replayed = ledger.reset_for_replay(&refused, at(402)).await.unwrap();
    assert_eq!(replayed.status, LedgerStatus::Received, "a replay posts it again");
    assert_eq!(replayed.accepted_parts, ["ION2-1of2"], "the part the ERP accepted stays known");
    assert_eq!(replayed.earlier_references, kept);
}
