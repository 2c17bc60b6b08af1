//! `connector status [ID] [--json]` against a fresh stack in moto: the
//! fleet's counts come from the ledger's index as it stands, and one
//! connection's FAILED documents are grouped by what fixes them.

use std::time::Duration;

use domain::{ConcurDocumentId, Connection, ConnectionId, ConnectionStatus, DocumentType, ErpHold, PostingForm};
use integration::TestStack;
use platform::ledger::{Confirmation, LedgerKey, LedgerStore};
use serde_json::Value;
use time::OffsetDateTime;

const POSTER: &str = "ErpPosterFunction";
const HOLDER: &str = "erp-poster-test";

fn key(connection: &str, document_id: &str) -> LedgerKey {
    LedgerKey::new(
        ConnectionId::parse(connection).unwrap(),
        DocumentType::Expense,
        ConcurDocumentId::parse(document_id).unwrap(),
    )
}

async fn claim(ledger: &LedgerStore, key: &LedgerKey, at: OffsetDateTime) {
    let outcome = ledger.claim(key, HOLDER, Duration::from_secs(300), at).await.unwrap();
    assert!(matches!(outcome, platform::ledger::ClaimOutcome::Claimed(_)), "{outcome:?}");
}

async fn confirmed(ledger: &LedgerStore, key: &LedgerKey, at: OffsetDateTime) {
    claim(ledger, key, at).await;
    ledger.record_posted(key, HOLDER, "AP000123", PostingForm::ApBill, at).await.unwrap();
    ledger.record_confirmed(key, HOLDER, Confirmation::Sent, at).await.unwrap();
}

async fn failed(ledger: &LedgerStore, key: &LedgerKey, step: &str, at: OffsetDateTime) {
    claim(ledger, key, at).await;
    ledger.record_failed(key, HOLDER, step, &format!("{step}: it went wrong"), at).await.unwrap();
}

async fn waiting(ledger: &LedgerStore, key: &LedgerKey, at: OffsetDateTime) {
    claim(ledger, key, at).await;
    ledger.release(key, HOLDER, "Acumatica answered 503", at).await.unwrap();
}

/// `acme`: two documents done today, one stopped at the mapping today, one
/// refused by the ERP yesterday, one waiting for three hours, and an ERP
/// outage hold; `globex`: connected, nothing yet.
async fn fleet(stack: &TestStack, now: OffsetDateTime) {
    let connections = stack.connections(POSTER);
    let mut acme = Connection::new(ConnectionId::parse("acme").unwrap(), "Acme", None, "2026-11-23T10:00:00Z");
    acme.status = ConnectionStatus::Active;
    acme.concur_refresh_expires_at = Some(domain::clock::rfc3339(now + time::Duration::days(100)));
    acme.last_poll_at = Some(domain::clock::rfc3339(now));
    acme.erp_hold = Some(ErpHold::unavailable(None, "Acumatica answered 503 through every retry", now));
    connections.create(&acme).await.unwrap();
    let globex = Connection::new(ConnectionId::parse("globex").unwrap(), "Globex", None, "2026-11-23T10:00:00Z");
    connections.create(&globex).await.unwrap();

    let ledger = stack.ledger(POSTER);
    // Documents changed a few seconds ago, so they stay "today" unless the test runs across midnight.
    let just_now = now - time::Duration::seconds(5);
    confirmed(&ledger, &key("acme", "DONE1"), just_now).await;
    confirmed(&ledger, &key("acme", "DONE2"), just_now).await;
    failed(&ledger, &key("acme", "UNMAPPED"), "map", just_now).await;
    failed(&ledger, &key("acme", "REFUSED"), "post", now - time::Duration::days(1)).await;
    waiting(&ledger, &key("acme", "SLOW"), now - time::Duration::hours(3) - time::Duration::minutes(1)).await;
}

#[tokio::test]
async fn status_shows_the_fleet_and_one_connection_s_failures_by_what_fixes_them() {
    let stack = TestStack::new().await;
    let now = OffsetDateTime::now_utc();
    if now.hour() == 0 && now.minute() < 1 {
        // "Today" starts at 00:00 UTC: the documents written just now would straddle it.
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    fleet(&stack, OffsetDateTime::now_utc()).await;

    let run = integration::connector(stack.stack_name(), &["status"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let acme_row = run.out.lines().find(|l| l.starts_with("acme ")).unwrap_or_else(|| panic!("{}", run.out));
    let cells: Vec<&str> = acme_row.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(cells[1], "active", "{acme_row}");
    assert_eq!(&cells[4..7], ["2", "1", "1"], "posted today, failed today, waiting: {acme_row}");
    assert!(cells[7].starts_with("3 h (expense:SLOW)"), "{acme_row}");
    assert!(cells[8].starts_with("99 days left") || cells[8].starts_with("100 days left"), "{acme_row}");
    assert!(run.out.lines().any(|l| l.starts_with("globex ") && l.contains("pending")), "{}", run.out);
    assert!(
        run.out.contains("acme: 2 failed, ERP unavailable — `connector status acme`"),
        "what needs someone is named: {}",
        run.out
    );
    assert!(!run.out.contains("globex:"), "nothing to say about globex: {}", run.out);

    let run = integration::connector(stack.stack_name(), &["status", "acme", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let state: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(state["today"]["posted"], 2);
    assert_eq!(state["today"]["failed"], 1);
    assert_eq!(state["failed"], 2, "every FAILED document, yesterday's too");
    assert_eq!(state["waiting"], 1);
    assert_eq!(state["oldest_not_final"]["document"], "expense:SLOW");
    assert_eq!(state["oldest_not_final"]["hours"], 3);
    assert_eq!(state["attention"][0]["class"], "erp_unavailable");
    let groups = state["failures"].as_array().unwrap();
    let summary: Vec<(&str, u64, &str)> = groups
        .iter()
        .map(|g| {
            (
                g["class"].as_str().unwrap(),
                g["count"].as_u64().unwrap(),
                g["documents"][0]["document"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, [("mapping", 1, "expense:UNMAPPED"), ("erp_refusal", 1, "expense:REFUSED")]);
    assert!(groups[0]["fix"].as_str().unwrap().contains("connector mapping import acme"), "{}", groups[0]["fix"]);
    assert!(groups[1]["fix"].as_str().unwrap().ends_with("`connector documents replay acme --failed`"));
    assert_eq!(groups[0]["documents"][0]["history"], "connector documents history acme expense UNMAPPED");

    let run = integration::connector(stack.stack_name(), &["status", "acme"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    for expected in [
        "today:            2 posted, 1 failed",
        "oldest not final: expense:SLOW RECEIVED since",
        "attention (ERP unavailable): ERP hold since",
        "mapping (1):",
        "ERP refusal (1):",
        "expense:UNMAPPED  at map: map: it went wrong",
    ] {
        assert!(run.out.contains(expected), "`{expected}` in:\n{}", run.out);
    }

    let run = integration::connector(stack.stack_name(), &["status", "nobody"]).await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.err.contains("connection nobody does not exist"), "{}", run.err);
}
