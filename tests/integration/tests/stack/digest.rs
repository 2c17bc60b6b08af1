//! The failure digest on moto: scheduled-poller's `{"run":"digest"}` run
//! publishes one message to the stack's alarm topic (read here through an
//! SQS queue subscribed to it, as a team's chat or e-mail would be) with
//! what failed since the last digest, and nothing when nothing is new.

use std::time::Duration;

use domain::{ConcurDocumentId, Connection, ConnectionId, ConnectionStatus, DocumentType};
use integration::TestStack;
use platform::ledger::{LedgerKey, LedgerStore};
use scheduled_poller::{Poller, PollerOptions};
use serde_json::Value;
use time::OffsetDateTime;

const POLLER: &str = "ScheduledPollerFunction";
const HOLDER: &str = "erp-poster-test";

async fn failed(ledger: &LedgerStore, connection: &str, id: &str, step: &str, at: OffsetDateTime) {
    let key = LedgerKey::new(
        ConnectionId::parse(connection).unwrap(),
        DocumentType::Expense,
        ConcurDocumentId::parse(id).unwrap(),
    );
    let outcome = ledger.claim(&key, HOLDER, Duration::from_secs(300), at).await.unwrap();
    assert!(matches!(outcome, platform::ledger::ClaimOutcome::Claimed(_)), "{outcome:?}");
    ledger.record_failed(&key, HOLDER, step, &format!("{id} went wrong at {step}"), at).await.unwrap();
}

/// An SQS queue subscribed to the alarm topic; returns its URL.
async fn subscribe(stack: &TestStack) -> String {
    let topic = &stack.provisioned.topics["AlarmTopic"];
    let sqs = stack.sqs();
    let name = format!("{}-digest-reader", stack.stack_name());
    let url = sqs.create_queue().queue_name(&name).send().await.unwrap().queue_url.unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let sns = aws_sdk_sns::Client::new(&stack.sdk);
    sns.subscribe().topic_arn(topic).protocol("sqs").endpoint(arn).send().await.unwrap();
    url
}

/// The (subject, message) of every notification the queue holds now.
async fn notifications(stack: &TestStack, url: &str) -> Vec<(String, String)> {
    let sqs = stack.sqs();
    let mut all = Vec::new();
    loop {
        let out = sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(1).send().await;
        let messages = out.unwrap().messages.unwrap_or_default();
        if messages.is_empty() {
            return all;
        }
        for m in messages {
            let envelope: Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            all.push((
                envelope["Subject"].as_str().unwrap_or_default().to_owned(),
                envelope["Message"].as_str().unwrap().to_owned(),
            ));
            sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle.unwrap()).send().await.unwrap();
        }
    }
}

#[tokio::test]
async fn the_digest_tells_what_failed_since_the_last_one_once_and_nothing_when_nothing_is_new() {
    let stack = TestStack::new().await;
    let reader = subscribe(&stack).await;
    let connections = stack.connections(POLLER);
    let ledger = stack.ledger(POLLER);
    let now = OffsetDateTime::now_utc();
    let mut acme = Connection::new(ConnectionId::parse("acme").unwrap(), "Acme", None, "2026-11-23T10:00:00Z");
    acme.status = ConnectionStatus::Active;
    connections.create(&acme).await.unwrap();
    let mut globex = Connection::new(ConnectionId::parse("globex").unwrap(), "Globex", None, "2026-11-23T10:00:00Z");
    globex.status = ConnectionStatus::NeedsReauth;
    globex.status_reason = Some("Concur refused the refresh token (invalid_grant)".into());
    connections.create(&globex).await.unwrap();
    failed(&ledger, "acme", "UNMAPPED", "map", now - time::Duration::minutes(5)).await;
    // Before the first digest's window (a day): told by no digest.
    failed(&ledger, "acme", "ANCIENT", "post", now - time::Duration::days(2)).await;

    let poller = Poller::from_env(&stack.env_of(POLLER), &stack.aws(), PollerOptions::default()).await.unwrap();
    let first = scheduled_poller::digest::run(&poller.digest, now).await.unwrap();
    assert!(first.sent.is_some(), "{first:?}");
    let told = notifications(&stack, &reader).await;
    assert_eq!(told.len(), 1, "one message: {told:?}");
    let (subject, body) = &told[0];
    assert_eq!(subject, "Concur connector: 1 document failed, 1 connection needs attention");
    for expected in [
        "acme (Acme, no ERP)",
        "  1 failed: mapping",
        "    expense:UNMAPPED at map: UNMAPPED went wrong at map",
        "    fix: add the missing codes to the mapping",
        "`connector documents replay acme --failed`",
        "globex (Globex, no ERP)",
        "  now needs_reauth: Concur refused the refresh token (invalid_grant)",
        "the company's admin clicks Connect again",
    ] {
        assert!(body.contains(expected), "`{expected}` in:\n{body}");
    }
    assert!(!body.contains("ANCIENT"), "a failure before the window is not told:\n{body}");

    // Nothing new: nothing sent.
    let later = now + time::Duration::minutes(15);
    let quiet = scheduled_poller::digest::run(&poller.digest, later).await.unwrap();
    assert_eq!(quiet.sent, None);
    assert_eq!(notifications(&stack, &reader).await, []);

    // One new failure: only it is told; globex's status was told already.
    failed(&ledger, "acme", "REFUSED", "post", later + time::Duration::minutes(1)).await;
    let third = scheduled_poller::digest::run(&poller.digest, later + time::Duration::minutes(15)).await.unwrap();
    assert!(third.sent.is_some());
    let told = notifications(&stack, &reader).await;
    assert_eq!(told.len(), 1, "{told:?}");
    let (subject, body) = &told[0];
    assert_eq!(subject, "Concur connector: 1 document failed");
    assert!(body.contains("expense:REFUSED at post") && body.contains("  1 failed: ERP refusal"), "{body}");
    assert!(!body.contains("UNMAPPED") && !body.contains("globex"), "told before:\n{body}");
}

/// An ERP outage renews the connection's hold with every failed post: the
/// digest tells the hold once when it starts holding, not at each renewal,
/// and not while too few posts failed for it to hold.
#[tokio::test]
async fn an_erp_hold_is_told_once_when_it_holds_not_at_each_renewal() {
    let stack = TestStack::new().await;
    let reader = subscribe(&stack).await;
    let connections = stack.connections(POLLER);
    let now = OffsetDateTime::now_utc();
    let id = ConnectionId::parse("acme").unwrap();
    let mut acme = Connection::new(id.clone(), "Acme", None, "2026-11-23T10:00:00Z");
    acme.status = ConnectionStatus::Active;
    connections.create(&acme).await.unwrap();
    let poller = Poller::from_env(&stack.env_of(POLLER), &stack.aws(), PollerOptions::default()).await.unwrap();
    let outage = |failures: u32, at: OffsetDateTime| {
        let mut hold = domain::ErpHold::unavailable(None, "Acumatica answered 503 through every retry", at);
        hold.failures = failures;
        hold
    };

    // One failed post: the ERP is not held yet (documents still try it).
    connections.record_erp_hold(&id, Some(&outage(1, now - time::Duration::minutes(10)))).await.unwrap();
    let first = scheduled_poller::digest::run(&poller.digest, now).await.unwrap();
    assert_eq!(first.sent, None, "one failed post is no hold to tell");
    assert_eq!(notifications(&stack, &reader).await, []);

    // The third failure in a row makes it hold: told.
    let later = now + time::Duration::minutes(15);
    connections.record_erp_hold(&id, Some(&outage(3, later - time::Duration::minutes(1)))).await.unwrap();
    scheduled_poller::digest::run(&poller.digest, later).await.unwrap();
    let told = notifications(&stack, &reader).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].1.contains("ERP held since") && told[0].1.contains("ERP unavailable"), "{}", told[0].1);

    // Renewed by the next failed probe: the same hold, nothing new to tell.
    let later = later + time::Duration::minutes(15);
    connections.record_erp_hold(&id, Some(&outage(4, later - time::Duration::minutes(1)))).await.unwrap();
    let renewed = scheduled_poller::digest::run(&poller.digest, later).await.unwrap();
    assert_eq!(renewed.sent, None, "a renewed hold is told once");
    assert_eq!(notifications(&stack, &reader).await, []);
}
