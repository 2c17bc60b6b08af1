//! `connector documents history | failed | replay` and `connector queue
//! redrive` against a fresh stack in moto: what the ledger and the audit
//! trail show, which documents a replay selects, what it writes and what it
//! queues, and moving dead letters back. Each test runs the CLI the way
//! `main` does (`operator::main_with`).

use std::time::Duration;

use domain::{
    ConcurDocumentId, ConcurrencyLevel, Connection, ConnectionId, DocumentType, PostingForm, WorkItem, WorkSource,
};
use integration::{CliRun, QueuedMessage, TestStack};
use platform::audit::AuditEvent;
use platform::ledger::{Confirmation, LedgerKey, LedgerRecord, LedgerStatus, LedgerStore};
use platform::queue::Outgoing;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

const POSTER: &str = "ErpPosterFunction";
const HOLDER: &str = "erp-poster-test";

async fn cli(stack: &TestStack, args: &[&str]) -> CliRun {
    cli_on(stack.stack_name(), args).await
}

async fn cli_on(stack_name: &str, args: &[&str]) -> CliRun {
    integration::connector(stack_name, args).await
}

fn id(raw: &str) -> ConnectionId {
    ConnectionId::parse(raw).unwrap()
}

fn key(connection: &str, document_type: DocumentType, document_id: &str) -> LedgerKey {
    LedgerKey::new(id(connection), document_type, ConcurDocumentId::parse(document_id).unwrap())
}

/// A connection with its own slots at `level`, or borrowing `lender`'s.
async fn connection(stack: &TestStack, name: &str, level: u8, lender: Option<&str>) {
    let mut c = Connection::new(id(name), name, None, "2026-11-23T10:00:00Z");
    c.concurrency_level = ConcurrencyLevel::new(level).unwrap();
    c.borrow_concurrency_from = lender.map(id);
    stack.connections(POSTER).create(&c).await.unwrap();
}

fn ledger(stack: &TestStack) -> LedgerStore {
    stack.ledger(POSTER)
}

async fn claim(stack: &TestStack, key: &LedgerKey, at: OffsetDateTime) {
    let outcome = ledger(stack).claim(key, HOLDER, Duration::from_secs(300), at).await.unwrap();
    assert!(matches!(outcome, platform::ledger::ClaimOutcome::Claimed(_)), "{outcome:?}");
}

async fn failed(stack: &TestStack, key: &LedgerKey, at: OffsetDateTime) -> LedgerRecord {
    claim(stack, key, at).await;
    ledger(stack).record_failed(key, HOLDER, "post", "Acumatica refused: account 61000 is inactive", at).await.unwrap()
}

async fn confirmed(stack: &TestStack, key: &LedgerKey, at: OffsetDateTime) -> LedgerRecord {
    claim(stack, key, at).await;
    ledger(stack).record_posted(key, HOLDER, "AP000123", PostingForm::ApBill, at).await.unwrap();
    ledger(stack).record_confirmed(key, HOLDER, Confirmation::Sent, at).await.unwrap()
}

async fn received(stack: &TestStack, key: &LedgerKey, at: OffsetDateTime) -> LedgerRecord {
    claim(stack, key, at).await;
    ledger(stack).release(key, HOLDER, "Acumatica answered 503", at).await.unwrap()
}

async fn record_of(stack: &TestStack, key: &LedgerKey) -> LedgerRecord {
    ledger(stack).get(key).await.unwrap().expect("the record exists")
}

/// An audit event of the document at a fixed time (so the order is known).
async fn audit(stack: &TestStack, key: &LedgerKey, at: &str, step: &str, outcome: &str, detail: Option<&str>) {
    let log = stack.audit(POSTER);
    let mut event: AuditEvent = log.event(key.connection_id.as_str(), &key.document_key(), step, outcome);
    event.event_key = format!("{at}#{step}");
    event.detail = detail.map(str::to_owned);
    log.record(&event).await.unwrap();
}

fn work_item(message: &QueuedMessage) -> WorkItem {
    WorkItem::from_json(&message.body).unwrap_or_else(|e| panic!("{e}: {}", message.body))
}

/// The group `Outgoing::document` gives the document: a replay must use the same.
fn usual_group(key: &LedgerKey, owner: &str, level: u8) -> String {
    let item = WorkItem::new(
        key.connection_id.clone(),
        key.document_type,
        key.document_id.clone(),
        WorkSource::Poll,
        OffsetDateTime::now_utc(),
    );
    Outgoing::document(item, &id(owner), ConcurrencyLevel::new(level).unwrap()).group.as_str().to_owned()
}

#[tokio::test]
async fn history_shows_the_ledger_record_and_the_audit_events_oldest_first() {
    let stack = TestStack::new().await;
    connection(&stack, "acme", 2, None).await;
    let doc = key("acme", DocumentType::Expense, "0EE74C75C9344DEA942F");
    failed(&stack, &doc, datetime!(2026-11-23 10:00 UTC)).await;
    // Recorded out of order: the history sorts by event time.
    audit(&stack, &doc, "2026-11-23T10:00:02.000Z", "failed", "failed", Some("account 61000 is inactive")).await;
    audit(&stack, &doc, "2026-11-23T10:00:00.000Z", "received", "ok", Some("webhook event 1b5a")).await;
    audit(&stack, &doc, "2026-11-23T10:00:01.000Z", "claimed", "ok", None).await;

    let run = cli(&stack, &["documents", "history", "acme", "expense", "0EE74C75C9344DEA942F"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let out = &run.out;
    assert!(out.contains("document expense#0EE74C75C9344DEA942F of connection acme"), "{out}");
    assert!(out.contains("status                FAILED"), "{out}");
    assert!(out.contains("failed at             post"), "{out}");
    assert!(out.contains("failure reason        Acumatica refused: account 61000 is inactive"), "{out}");
    assert!(out.contains("claims                1"), "{out}");
    assert!(out.contains("replays               0"), "{out}");
    assert!(out.contains("updated               2026-11-23T10:00:00.000Z"), "{out}");
    let at = |needle: &str| out.find(needle).unwrap_or_else(|| panic!("{needle} missing: {out}"));
    assert!(at("webhook event 1b5a") < at("10:00:01.000Z") && at("10:00:01.000Z") < at("10:00:02.000Z"), "{out}");

    let run = cli(&stack, &["documents", "history", "acme", "expense", "0EE74C75C9344DEA942F", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let json: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(json["ledger"]["status"], "FAILED");
    assert_eq!(json["ledger"]["failed_step"], "post");
    assert_eq!(json["ledger"]["claims"], 1);
    let steps: Vec<&str> = json["events"].as_array().unwrap().iter().map(|e| e["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["received", "claimed", "failed"]);
    assert_eq!(json["events"][0]["function"], POSTER);

    // Known to the audit trail only (not claimed yet): shown, without a record.
    let fresh = key("acme", DocumentType::Invoice, "ABC123");
    audit(&stack, &fresh, "2026-11-23T11:00:00.000Z", "received", "ok", None).await;
    let run = cli(&stack, &["documents", "history", "acme", "invoice", "ABC123"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.out.contains("no record: not claimed by the poster yet"), "{}", run.out);

    for (args, expected) in [
        (["documents", "history", "acme", "expense", "NOSUCHDOC"], "neither in the ledger nor in the audit trail"),
        (["documents", "history", "ghost", "expense", "0EE74C75C9344DEA942F"], "connection ghost does not exist"),
        (["documents", "history", "acme", "payroll", "0EE74C75C9344DEA942F"], "use expense, invoice or cashadvance"),
    ] {
        let run = cli(&stack, &args).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.all());
        assert!(run.err.contains(expected), "{args:?}: {}", run.err);
    }
}

#[tokio::test]
async fn failed_lists_only_the_failed_documents_of_the_connection() {
    let stack = TestStack::new().await;
    connection(&stack, "acme", 1, None).await;
    connection(&stack, "other", 1, None).await;
    let at = datetime!(2026-11-23 10:00 UTC);
    failed(&stack, &key("acme", DocumentType::Expense, "FAILEDONE"), at).await;
    failed(&stack, &key("acme", DocumentType::CashAdvance, "FAILEDTWO"), at + time::Duration::minutes(1)).await;
    confirmed(&stack, &key("acme", DocumentType::Expense, "COMPLETE"), at).await;
    received(&stack, &key("acme", DocumentType::Invoice, "WAITING"), at).await;
    failed(&stack, &key("other", DocumentType::Expense, "NOTACME"), at).await;

    let run = cli(&stack, &["documents", "failed", "acme"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.out.contains("FAILEDONE") && run.out.contains("FAILEDTWO"), "{}", run.out);
    assert!(run.out.contains("cashadvance") && run.out.contains("account 61000 is inactive"), "{}", run.out);
    for absent in ["COMPLETE", "WAITING", "NOTACME"] {
        assert!(!run.out.contains(absent), "{absent}: {}", run.out);
    }
    assert!(run.out.contains("2 failed"), "{}", run.out);
    assert!(run.out.find("FAILEDONE") < run.out.find("FAILEDTWO"), "least recently changed first: {}", run.out);

    let run = cli(&stack, &["documents", "failed", "acme", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let json: Value = serde_json::from_str(&run.out).unwrap();
    let listed: Vec<(&str, &str)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["document_id"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, [("FAILEDONE", "FAILED"), ("FAILEDTWO", "FAILED")]);

    connection(&stack, "empty", 1, None).await;
    let run = cli(&stack, &["documents", "failed", "empty"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.out.contains("connection empty has no FAILED documents"), "{}", run.out);
}

#[tokio::test]
async fn replaying_a_failed_document_resets_it_and_queues_one_replay_message_in_its_usual_group() {
    let stack = TestStack::new().await;
    // acme borrows lender's four slots: the replay goes to lender's groups.
    connection(&stack, "lender", 4, None).await;
    connection(&stack, "acme", 1, Some("lender")).await;
    let doc = key("acme", DocumentType::Expense, "0EE74C75C9344DEA942F");
    let before = failed(&stack, &doc, datetime!(2026-11-23 10:00 UTC)).await;

    let run = cli(&stack, &["documents", "replay", "acme", "--document", "expense:0EE74C75C9344DEA942F"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.out.contains("replayed expense#0EE74C75C9344DEA942F: FAILED at post → RECEIVED (replay 1)"),
        "{}",
        run.out
    );
    assert!(run.out.contains("replayed 1, skipped 0"), "{}", run.out);

    let after = record_of(&stack, &doc).await;
    assert_eq!(after.status, LedgerStatus::Received);
    assert_eq!((after.replays, after.attempts, after.failed_step.as_deref()), (1, 0, None));
    assert!(after.last_error.as_deref().unwrap_or("").contains("account 61000 is inactive"), "{after:?}");

    let queued = stack.drain_messages("WorkQueue").await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    let item = work_item(&queued[0]);
    assert_eq!(item.source, WorkSource::Replay);
    assert_eq!((item.connection_id.as_str(), item.document_key()), ("acme", doc.document_key()));
    assert_eq!(item.received_at, before.created_at.replace(".000Z", "Z"), "first seen when the ledger first saw it");
    assert_eq!(queued[0].group, usual_group(&doc, "lender", 4));
    assert_eq!(queued[0].dedup_id, "acme#expense#0EE74C75C9344DEA942F#replay-1");

    // The replay is in the document's audit trail.
    let run = cli(&stack, &["documents", "history", "acme", "expense", "0EE74C75C9344DEA942F", "--json"]).await;
    let json: Value = serde_json::from_str(&run.out).unwrap();
    let event = &json["events"][0];
    assert_eq!((event["step"].as_str(), event["function"].as_str()), (Some("replay"), Some("operator")));
    assert!(event["detail"].as_str().unwrap().contains("#replay-1"), "{event}");
    assert_eq!(json["ledger"]["replays"], 1);
}

#[tokio::test]
async fn replaying_a_confirmed_document_changes_nothing_in_the_ledger_but_queues_it() {
    let stack = TestStack::new().await;
    connection(&stack, "acme", 3, None).await;
    let doc = key("acme", DocumentType::Invoice, "B1041655B4CE4171BDAA");
    let before = confirmed(&stack, &doc, datetime!(2026-11-23 10:00 UTC)).await;

    let run = cli(&stack, &["documents", "replay", "acme", "--document", "invoice:B1041655B4CE4171BDAA"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.out.contains(
            "replayed invoice#B1041655B4CE4171BDAA: CONFIRMED, left as it is (already in the ERP: never posted again)"
        ),
        "{}",
        run.out
    );
    assert_eq!(record_of(&stack, &doc).await, before, "the ledger record is untouched");

    let queued = stack.drain_messages("WorkQueue").await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(work_item(&queued[0]).source, WorkSource::Replay);
    assert_eq!(queued[0].group, usual_group(&doc, "acme", 3));
    assert!(queued[0].dedup_id.starts_with("acme#invoice#B1041655B4CE4171BDAA#replay-"), "{:?}", queued[0]);
}

#[tokio::test]
async fn replaying_twice_in_a_row_queues_twice() {
    let stack = TestStack::new().await;
    connection(&stack, "acme", 1, None).await;
    let failing = key("acme", DocumentType::Expense, "FAILING");
    let done = key("acme", DocumentType::Expense, "DONE");
    failed(&stack, &failing, datetime!(2026-11-23 10:00 UTC)).await;
    confirmed(&stack, &done, datetime!(2026-11-23 10:00 UTC)).await;

    for _ in 0..2 {
        let run = cli(
            &stack,
            &["documents", "replay", "acme", "--document", "expense:FAILING", "--document", "expense:DONE"],
        )
        .await;
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(run.out.contains("replayed 2, skipped 0"), "{}", run.out);
    }
    // The first replay reset FAILING; the second found it RECEIVED and queued it as it was.
    assert_eq!(record_of(&stack, &failing).await.status, LedgerStatus::Received);
    assert_eq!(record_of(&stack, &failing).await.replays, 1);

    let queued = stack.drain_messages("WorkQueue").await;
    assert_eq!(queued.len(), 4, "{queued:?}");
    let mut dedup_ids: Vec<&str> = queued.iter().map(|m| m.dedup_id.as_str()).collect();
    dedup_ids.sort_unstable();
    dedup_ids.dedup();
    assert_eq!(dedup_ids.len(), 4, "every replay has its own deduplication id: {queued:?}");
    for document in ["FAILING", "DONE"] {
        let n = queued.iter().filter(|m| work_item(m).document_id.as_str() == document).count();
        assert_eq!(n, 2, "{document}: {queued:?}");
    }
}

#[tokio::test]
async fn since_and_until_select_documents_by_when_their_record_changed() {
    let stack = TestStack::new().await;
    connection(&stack, "acme", 1, None).await;
    let monday = key("acme", DocumentType::Expense, "MONDAY");
    let tuesday = key("acme", DocumentType::Invoice, "TUESDAY");
    let wednesday = key("acme", DocumentType::CashAdvance, "WEDNESDAY");
    failed(&stack, &monday, datetime!(2026-01-05 10:00 UTC)).await;
    confirmed(&stack, &tuesday, datetime!(2026-01-06 10:00 UTC)).await;
    received(&stack, &wednesday, datetime!(2026-01-07 10:00 UTC)).await;

    let queued_ids = |queued: &[QueuedMessage]| {
        let mut ids: Vec<String> = queued.iter().map(|m| work_item(m).document_id.to_string()).collect();
        ids.sort();
        ids
    };

    let run = cli(
        &stack,
        &["documents", "replay", "acme", "--since", "2026-01-06T00:00:00Z", "--until", "2026-01-06T23:59:59Z"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.out.contains("replayed 1, skipped 0"), "{}", run.out);
    assert_eq!(queued_ids(&stack.drain_messages("WorkQueue").await), ["TUESDAY"]);

    // Without --until: up to now; both ends are included; an offset is understood.
    let run = cli(&stack, &["documents", "replay", "acme", "--since", "2026-01-06T11:00:00+01:00"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(queued_ids(&stack.drain_messages("WorkQueue").await), ["TUESDAY", "WEDNESDAY"]);
    assert_eq!(record_of(&stack, &monday).await.status, LedgerStatus::Failed, "outside the range: untouched");

    let run = cli(&stack, &["documents", "replay", "acme", "--since", "2026-01-08T00:00:00Z"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.out.contains("nothing to replay: connection acme has no documents changed from"), "{}", run.out);

    for (args, expected) in [
        (vec!["--since", "2026-01-07T00:00:00Z", "--until", "2026-01-06T00:00:00Z"], "is before --since"),
        (vec!["--since", "2999-01-01T00:00:00Z"], "is in the future"),
        (vec!["--since", "yesterday"], "not an RFC 3339 time"),
    ] {
        let mut full = vec!["documents", "replay", "acme"];
        full.extend(args);
        let run = cli(&stack, &full).await;
        assert_eq!(run.code, 2, "{}", run.all());
        assert!(run.err.contains(expected), "{}", run.err);
    }
    assert!(stack.drain_messages("WorkQueue").await.is_empty());
}

#[tokio::test]
async fn failed_replays_every_failed_document_of_the_connection() {
    let stack = TestStack::new().await;
    connection(&stack, "acme", 2, None).await;
    connection(&stack, "other", 2, None).await;
    let at = datetime!(2026-11-23 10:00 UTC);
    failed(&stack, &key("acme", DocumentType::Expense, "ONE"), at).await;
    failed(&stack, &key("acme", DocumentType::Invoice, "TWO"), at).await;
    confirmed(&stack, &key("acme", DocumentType::Expense, "DONE"), at).await;
    failed(&stack, &key("other", DocumentType::Expense, "THEIRS"), at).await;

    let run = cli(&stack, &["documents", "replay", "acme", "--failed"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.out.contains("replayed 2, skipped 0"), "{}", run.out);
    let mut ids: Vec<String> =
        stack.drain_messages("WorkQueue").await.iter().map(|m| work_item(m).document_id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["ONE", "TWO"]);
    assert_eq!(record_of(&stack, &key("other", DocumentType::Expense, "THEIRS")).await.status, LedgerStatus::Failed);

    let run = cli(&stack, &["documents", "replay", "acme", "--failed"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.out.contains("nothing to replay: connection acme has no FAILED documents"), "{}", run.out);
}

#[tokio::test]
async fn an_unknown_connection_or_document_is_refused_and_nothing_is_queued() {
    let stack = TestStack::new().await;
    connection(&stack, "acme", 1, None).await;
    let doc = key("acme", DocumentType::Expense, "KNOWN");
    let before = failed(&stack, &doc, datetime!(2026-11-23 10:00 UTC)).await;

    let run = cli(&stack, &["documents", "replay", "ghost", "--failed"]).await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.err.contains("connection ghost does not exist: see `connector connections list`"), "{}", run.err);

    // One unknown document refuses the whole request: KNOWN is not reset either.
    let run =
        cli(&stack, &["documents", "replay", "acme", "--document", "expense:KNOWN", "--document", "expense:NOPE"])
            .await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.err.contains("not in the ledger of connection acme: expense:NOPE"), "{}", run.err);
    assert!(run.err.contains("nothing was replayed"), "{}", run.err);

    for bad in ["KNOWN", "payroll:KNOWN", "expense:not-an-id"] {
        let run = cli(&stack, &["documents", "replay", "acme", "--document", bad]).await;
        assert_eq!(run.code, 2, "{bad}: {}", run.all());
        assert!(run.err.contains("refused, nothing was changed"), "{bad}: {}", run.err);
    }

    assert_eq!(record_of(&stack, &doc).await, before);
    assert!(stack.drain_messages("WorkQueue").await.is_empty());
}

#[tokio::test]
async fn redrive_moves_dead_letters_back_with_their_groups_and_empties_the_dead_letter_queue() {
    let stack = TestStack::new().await;
    let sqs = stack.sqs();
    let dlq = stack.provisioned.queue_url("WorkDeadLetterQueue").to_owned();
    let letters = [("acme#0", r#"{"n":1}"#), ("acme#1", r#"{"n":2}"#), ("acme#0", r#"{"n":3}"#)];
    for (i, (group, body)) in letters.iter().enumerate() {
        sqs.send_message()
            .queue_url(&dlq)
            .message_body(*body)
            .message_group_id(*group)
            .message_deduplication_id(format!("acme#expense#DOC{i}"))
            .send()
            .await
            .unwrap();
    }

    let run = cli(&stack, &["queue", "redrive", "--max", "2"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let (dlq_name, work_name) =
        (format!("{}-work-dlq.fifo", stack.stack_name()), format!("{}-work.fifo", stack.stack_name()));
    assert!(run.out.contains(&format!("moved 2 message(s) from {dlq_name} to {work_name}")), "{}", run.out);
    assert!(run.out.contains("stopped at --max 2"), "{}", run.out);

    let run = cli(&stack, &["queue", "redrive"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.out.contains("moved 1 message(s)"), "{}", run.out);

    let run = cli(&stack, &["queue", "redrive"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.out.contains("has no visible message: nothing to move"), "{}", run.out);
    assert!(stack.drain_messages("WorkDeadLetterQueue").await.is_empty());

    let moved = stack.drain_messages("WorkQueue").await;
    let mut got: Vec<(&str, &str)> = moved.iter().map(|m| (m.group.as_str(), m.body.as_str())).collect();
    got.sort_unstable();
    assert_eq!(got, [("acme#0", r#"{"n":1}"#), ("acme#0", r#"{"n":3}"#), ("acme#1", r#"{"n":2}"#)]);
    let group0: Vec<&str> = moved.iter().filter(|m| m.group == "acme#0").map(|m| m.body.as_str()).collect();
    assert_eq!(group0, [r#"{"n":1}"#, r#"{"n":3}"#], "order within a group is kept");
    assert!(moved.iter().all(|m| m.dedup_id.starts_with("redrive-")), "{moved:?}");

    let run = cli(&stack, &["queue", "redrive", "--max", "0"]).await;
    assert_eq!(run.code, 2, "{}", run.all());
    let run = cli_on("nosuchstack", &["queue", "redrive"]).await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.err.contains("queue nosuchstack-work-dlq.fifo does not exist"), "{}", run.err);
}

#[tokio::test]
async fn the_cli_names_what_the_local_stack_provisions() {
    let stack = TestStack::new().await;
    let names = operator::stack::StackNames::new(stack.stack_name(), None).unwrap();
    assert_eq!(stack.provisioned.table("ConnectionsTable"), names.connections_table);
    assert_eq!(stack.provisioned.table("LedgerTable"), names.ledger_table);
    assert_eq!(stack.provisioned.table("AuditTable"), names.audit_table);
    assert!(stack.provisioned.queue_url("WorkQueue").ends_with(&format!("/{}", names.work_queue)));
    let dlq = stack.provisioned.queue_url("WorkDeadLetterQueue");
    assert!(dlq.ends_with(&format!("/{}", names.work_dead_letter_queue)), "{dlq}");
}
