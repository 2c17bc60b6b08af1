//! The erp-poster pipeline into Infor CloudSuite through ION on the real
//! stack: moto, the Concur simulator with the official FI examples, the
//! strict Infor ION simulator, and ion-inbox receiving ION's verdicts. Every
//! example posts balanced exactly once (also delivered twice, in chunks,
//! under 429s and an expired token), is confirmed to Concur only once ION
//! accepted every message, and an account unknown to Infor stops the
//! document before anything is sent.

use std::collections::BTreeSet;

use domain::{ErpKind, FlowOptions, WorkItem, WorkSource};
use erp_poster::{Poster, Processed};
use integration::expected::{compare, expected_by_file, infor_postings};
use integration::posting::{
    COMPANY, INFOR_CHUNK_CLEARING, INFOR_TENANT, POSTER, PostingWorld, consume_queue, example_work_items,
};
use platform::concur_grants::ConcurGrantStore;
use platform::ledger::{LedgerKey, LedgerStatus};
use simulators::faults::{FaultKind, FaultSpec};

fn key_of(item: &WorkItem) -> LedgerKey {
    LedgerKey::new(item.connection_id.clone(), item.document_type, item.document_id.clone())
}

fn unique_items(world: &PostingWorld) -> Vec<(String, WorkItem)> {
    let mut seen = BTreeSet::new();
    example_work_items(&world.connection, WorkSource::Webhook)
        .into_iter()
        .filter(|(_, item)| seen.insert(item.document_key()))
        .collect()
}

/// Delivers every document twice (a webhook repeated), retrying what fails
/// retryably as SQS would, then lets ION's verdicts come back through
/// ion-inbox and the work queue.
async fn post_all_twice(world: &PostingWorld, poster: &Poster<ConcurGrantStore>) {
    for (file, item) in unique_items(world) {
        for delivery in 1..=2 {
            let mut outcome = poster.process_item(&item).await;
            for _ in 0..20 {
                match &outcome {
                    Err(failure) if failure.is_retryable() => outcome = poster.process_item(&item).await,
                    _ => break,
                }
            }
            let processed = outcome.unwrap_or_else(|f| panic!("{file} delivery {delivery}: {}", f.reason));
            match delivery {
                1 => assert!(matches!(processed, Processed::AwaitingErp { .. }), "{file}: {processed:?}"),
                _ => assert_eq!(processed, Processed::Duplicate, "{file}: the repeat posts nothing"),
            }
        }
    }
    world.infor().flush_callbacks().await;
    let queue_url = world.stack.work_queue_url(POSTER);
    let consumed = consume_queue(&world.stack, poster, &queue_url).await.expect("the verdicts are handled");
    assert_eq!(consumed.outcome.stopped + consumed.outcome.malformed, 0, "{:?}", consumed.outcome);
}

async fn assert_all_posted_and_confirmed(world: &PostingWorld) {
    let flow = FlowOptions::default_for(Some(ErpKind::Infor));
    let expected = expected_by_file();
    let posted = infor_postings(world.infor(), INFOR_TENANT, Some(INFOR_CHUNK_CLEARING));
    let mapping = world.mapping();
    let mut problems = Vec::new();
    for (file, item) in example_work_items(&world.connection, WorkSource::Webhook) {
        let Some(got) = posted.get(item.document_id.as_str()) else {
            problems.push(format!("{file}: nothing posted"));
            continue;
        };
        for problem in compare(&expected[&file], got, &mapping, flow.form_for(item.document_type)) {
            problems.push(format!("{file} ({:?}): {problem}", got.documents));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let ledger = world.stack.ledger(POSTER);
    let items = unique_items(world);
    for (file, item) in &items {
        let record = ledger.get(&key_of(item)).await.unwrap().unwrap();
        assert_eq!(record.status, LedgerStatus::Confirmed, "{file}: {record:?}");
    }
    let confirmations = world.concur.posting_confirmations(COMPANY);
    assert_eq!(confirmations.len(), items.len(), "one confirmation per document, after ION accepted it");
    assert!(confirmations.iter().all(|c| c.overall_posting_status_code == "success"));
    // ION dropped nothing and processed nothing twice.
    let received = world.infor().received(INFOR_TENANT);
    let duplicates =
        received.iter().filter(|m| matches!(m.status, simulators::infor::ReceivedStatus::Duplicate { .. }));
    assert_eq!(duplicates.count(), 0, "every BOD was sent once");
}

#[tokio::test]
async fn every_example_posts_through_ion_once_even_when_every_webhook_comes_twice() {
    let captured = platform::telemetry::capture();
    let world = PostingWorld::with_erp("acme-infor", ErpKind::Infor).await;
    world.load_examples();
    let poster = world.poster().await;
    post_all_twice(&world, &poster).await;
    assert_all_posted_and_confirmed(&world).await;
    // A queued verdict costs ion-inbox no audit write; the poster's "erp verdict" event tells it.
    let audit = world.stack.scan_table("AuditTable").await.join("\n");
    assert!(!audit.contains("erp verdict received"), "ion-inbox audited a queued verdict");
    assert!(audit.contains("received by ion-inbox at"), "the poster's verdict event says when it arrived");
    // ION's verdicts came through ion-inbox: each queued, none refused.
    let counted = integration::inbound_calls(&captured.lines(), "ion_inbox");
    assert_eq!(counted.keys().collect::<Vec<_>>(), ["queued"], "{counted:?}");
    assert!(counted["queued"] >= unique_items(&world).len() as f64, "a verdict per document at least: {counted:?}");
}

#[tokio::test]
async fn chunks_429s_and_an_expired_token_still_post_each_document_once() {
    let world = PostingWorld::with_erp("acme-infor-faults", ErpKind::Infor).await;
    // A small message limit: the larger examples go in several balanced chunks.
    let connections = world.stack.connections(POSTER);
    let mut connection = connections.get(&world.connection).await.unwrap().unwrap();
    if let Some(domain::ErpSettings::Infor(settings)) = connection.erp.as_mut() {
        settings.api.max_message_bytes = 4096;
    }
    connections.replace(&connection).await.unwrap();
    world.load_examples();
    for (count, fraction) in [(Some(8), None), (None, Some(0.3))] {
        world
            .infor()
            .faults()
            .inject(FaultSpec {
                fault: FaultKind::TooManyRequests { retry_after_seconds: None },
                count,
                fraction,
                path_prefix: Some(format!("/{INFOR_TENANT}/IONSERVICES")),
                method: None,
            })
            .unwrap();
    }
    let poster = world.poster().await;
    let items = unique_items(&world);
    // Half way, every token the gateway issued expires.
    let (first, rest) = items.split_at(items.len() / 2);
    for (file, item) in first {
        let mut outcome = poster.process_item(item).await;
        for _ in 0..20 {
            match &outcome {
                Err(failure) if failure.is_retryable() => outcome = poster.process_item(item).await,
                _ => break,
            }
        }
        assert!(matches!(outcome, Ok(Processed::AwaitingErp { .. })), "{file}: {outcome:?}");
    }
    world.infor().expire_tokens();
    for (file, item) in rest {
        let mut outcome = poster.process_item(item).await;
        for _ in 0..20 {
            match &outcome {
                Err(failure) if failure.is_retryable() => outcome = poster.process_item(item).await,
                _ => break,
            }
        }
        assert!(matches!(outcome, Ok(Processed::AwaitingErp { .. })), "{file}: {outcome:?}");
    }
    world.infor().flush_callbacks().await;
    let queue_url = world.stack.work_queue_url(POSTER);
    consume_queue(&world.stack, &poster, &queue_url).await.unwrap();
    assert_all_posted_and_confirmed(&world).await;

    let chunked: BTreeSet<String> = world
        .infor()
        .received(INFOR_TENANT)
        .iter()
        .filter_map(|m| m.document_id.clone())
        .filter(|id| erp::infor::parse_document_id(id).is_some_and(|p| p.parts > 1))
        .collect();
    assert!(!chunked.is_empty(), "some documents went in chunks");
    let throttled = world.infor().requests().iter().filter(|r| r.status == 429).count();
    assert!(throttled >= 8, "the 429s were met ({throttled})");
}

#[tokio::test]
async fn an_account_unknown_to_infor_stops_the_document_before_anything_is_sent() {
    let world = PostingWorld::with_erp("acme-infor-unknown", ErpKind::Infor).await;
    let mut mapping = world.mapping();
    mapping.accounts.insert("37".into(), "6999".into());
    world.import_mapping(&mapping).await;
    world.load_examples();
    let (_, item) = unique_items(&world).into_iter().find(|(f, _)| f.contains("Example-2.1")).unwrap();
    let failure = world.poster().await.process_item(&item).await.unwrap_err();
    assert!(!failure.is_retryable());
    assert!(failure.reason.contains("6999"), "{}", failure.reason);
    assert!(world.infor().received(INFOR_TENANT).is_empty(), "nothing was sent to ION");
    let record = world.stack.ledger(POSTER).get(&key_of(&item)).await.unwrap().unwrap();
    assert_eq!((record.status, record.failed_step.as_deref()), (LedgerStatus::Failed, Some("post")));
    let history =
        world.stack.audit(POSTER).history(&format!("{}#{}", item.connection_id, item.document_key())).await.unwrap();
    let stopped = history.iter().find(|e| e.step == "failed").expect("a failed audit event");
    assert!(stopped.detail.as_deref().unwrap_or_default().contains("6999"), "{stopped:?}");
}

/// A `MakeWriter` that keeps every log line in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_log_line_of_a_document_names_its_connection_document_and_step() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber =
        platform::telemetry::subscriber(platform::telemetry::filter_for("info", "erp_poster"), move || writer.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let world = PostingWorld::with_erp("acme-infor-spans", ErpKind::Infor).await;
    world.load_examples();
    let (_, item) = unique_items(&world).into_iter().find(|(f, _)| f.contains("Example-2.1")).unwrap();
    let processed = world.poster().await.process_item(&item).await.unwrap();
    assert!(matches!(processed, Processed::AwaitingErp { .. }), "{processed:?}");

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let published: serde_json::Value = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["fields"]["message"] == "published to ION")
        .unwrap_or_else(|| panic!("the ERP adapter logged the send: {text}"));
    let spans = published["spans"].as_array().expect("the line lists its spans");
    let document = spans.iter().find(|s| s["name"] == "document").expect("a document span");
    assert_eq!(document["connection"], item.connection_id.as_str());
    assert_eq!(document["document"], item.document_key());
    assert!(spans.iter().any(|s| s["name"] == "step" && s["step"] == "post"), "{spans:?}");
}
