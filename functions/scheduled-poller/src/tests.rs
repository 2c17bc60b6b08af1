use std::sync::atomic::{AtomicUsize, Ordering};

use domain::clock::rfc3339_seconds;
use domain::{AcumaticaSettings, ConnectionStatus, DocumentType, ErpSettings, ErpUrl};
use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-11-23 10:16 UTC);

fn connection(id: &str, status: ConnectionStatus, types: Vec<DocumentType>) -> Connection {
    let erp = ErpSettings::Acumatica(AcumaticaSettings {
        base_url: ErpUrl::parse("https://acme.acumatica.com").unwrap(),
        tenant: "Acme".into(),
        endpoint_name: "Default".into(),
        endpoint_version: "24.200.001".into(),
        branch: None,
    });
    let mut c = Connection::new(ConnectionId::parse(id).unwrap(), id, Some(erp), "2026-11-23T10:00:00Z");
    c.status = status;
    c.geolocation = Some("https://us.api.concursolutions.com".into());
    c.enabled_document_types = types;
    c
}

fn polled(mut c: Connection, schedule: &str, last: Option<&str>) -> Connection {
    c.schedule = schedule.parse().unwrap();
    c.last_poll_at = last.map(str::to_owned);
    c
}

fn ids(connections: &[Connection]) -> Vec<&str> {
    connections.iter().map(|c| c.connection_id.as_str()).collect()
}

#[test]
fn only_flowing_connections_with_work_are_due() {
    let selection = select_due(
        vec![
            connection("a", ConnectionStatus::Active, vec![DocumentType::Expense]),
            connection("b", ConnectionStatus::Active, vec![]),
            connection("c", ConnectionStatus::NeedsReauth, vec![DocumentType::Expense]),
            connection("d", ConnectionStatus::Disabled, vec![DocumentType::Invoice]),
            connection("e", ConnectionStatus::ReconnectSoon, vec![DocumentType::Invoice]),
            Connection { erp: None, ..connection("f", ConnectionStatus::Active, vec![DocumentType::Invoice]) },
            Connection { geolocation: None, ..connection("g", ConnectionStatus::Active, DocumentType::ALL.to_vec()) },
            connection("h", ConnectionStatus::Pending, DocumentType::ALL.to_vec()),
        ],
        NOW,
    );
    assert_eq!(ids(&selection.due), ["a", "e"]);
    assert!(selection.not_due.is_empty());
    assert_eq!(
        selection.skipped.iter().map(|s| (s.connection_id.as_str(), s.reason.as_str())).collect::<Vec<_>>(),
        [
            ("b", "no document type is enabled"),
            ("c", "the Concur connection needs a reconnect by an admin"),
            ("d", "disabled by an operator"),
            ("f", "no ERP is configured yet (connections update)"),
            ("g", "Concur is not connected yet"),
            ("h", "Concur is not connected yet"),
        ]
    );
}

#[test]
fn each_connection_follows_its_own_schedule() {
    let active = |id| connection(id, ConnectionStatus::Active, DocumentType::ALL.to_vec());
    // NOW is Monday 2026-11-23 10:16 UTC.
    let selection = select_due(
        vec![
            polled(active("never"), "every 15m", None),
            polled(active("this-slot"), "every 15m", Some("2026-11-23T10:15:00Z")),
            polled(active("last-slot"), "every 15m", Some("2026-11-23T10:14:59Z")),
            polled(active("hourly-done"), "every 1h", Some("2026-11-23T10:00:03Z")),
            polled(active("daily-done"), "daily 06:00", Some("2026-11-23T06:00:10Z")),
            polled(active("daily-missed"), "daily 06:00", Some("2026-11-22T06:00:10Z")),
            polled(active("weekly-done"), "weekly mon 09:00", Some("2026-11-23T09:00:05Z")),
            polled(active("weekly-due"), "weekly mon 10:00", Some("2026-11-16T10:00:05Z")),
            polled(active("unreadable-time"), "daily 06:00", Some("yesterday")),
        ],
        NOW,
    );
    assert_eq!(ids(&selection.due), ["never", "last-slot", "daily-missed", "weekly-due", "unreadable-time"]);
    assert_eq!(selection.not_due, ["this-slot", "hourly-done", "daily-done", "weekly-done"]);
    assert!(selection.skipped.is_empty());
}

#[test]
fn last_poll_at_is_recorded_to_the_second_and_stays_within_its_slot() {
    let stamp = rfc3339_seconds(datetime!(2026-11-23 10:15:00.734 +01:00));
    assert_eq!(stamp, "2026-11-23T09:15:00Z");
    // Truncating never moves a poll into an earlier slot: polled at 10:15:00.7
    // for "every 15m", the 10:15 run counts as done.
    let c = polled(
        connection("a", ConnectionStatus::Active, vec![DocumentType::Expense]),
        "every 15m",
        Some(&rfc3339_seconds(datetime!(2026-11-23 10:15:00.7 UTC))),
    );
    assert!(select_due(vec![c], NOW).due.is_empty());
}

#[tokio::test]
async fn connections_are_polled_a_bounded_number_at_a_time() {
    let items: Vec<usize> = (0..10).collect();
    let active = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    let done = Mutex::new(Vec::new());
    for_each_concurrently(&items, 3, |i| {
        let (active, most, done) = (&active, &most, &done);
        async move {
            let now = active.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            active.fetch_sub(1, Ordering::SeqCst);
            lock(done).push(*i);
        }
    })
    .await;
    assert_eq!(most.load(Ordering::SeqCst), 3);
    let mut done = lock(&done).clone();
    done.sort();
    assert_eq!(done, items);
    // Nothing to do is fine too.
    for_each_concurrently(&[] as &[usize], 4, |_| async {}).await;
}

#[test]
fn the_deadline_leaves_the_margin() {
    let deadline = deadline_before(SystemTime::now() + Duration::from_secs(240), Duration::from_secs(30));
    let left = deadline.saturating_duration_since(Instant::now());
    assert!(left <= Duration::from_secs(210) && left > Duration::from_secs(205), "{left:?}");
    // A deadline already past (or inside the margin) means: start nothing.
    let past = deadline_before(SystemTime::now() + Duration::from_secs(10), Duration::from_secs(30));
    assert!(past <= Instant::now());
}

#[test]
fn the_report_counts_outcomes() {
    let poll = |id: &str, outcome, queued| ConnectionPoll {
        connection_id: id.into(),
        outcome,
        read: queued,
        known: 0,
        queued_documents: (0..queued).map(|i| format!("expense#R{i}")).collect(),
    };
    let report = TickReport {
        due: vec!["a".into(), "b".into(), "c".into(), "d".into()],
        polls: vec![
            poll("a", PollOutcome::Completed, 30),
            poll("b", PollOutcome::Stopped, 25),
            poll("c", PollOutcome::Failed { reason: "Concur answered HTTP 500".into() }, 0),
        ],
        deferred: vec!["d".into()],
        ..TickReport::default()
    };
    assert_eq!((report.completed(), report.stopped(), report.failed().len(), report.queued()), (1, 1, 1, 55));
    assert_eq!(report.poll_of("b").map(|p| p.queued()), Some(25));
    report.log();
}
