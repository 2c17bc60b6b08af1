//! The failure digest: on its own schedule (EventBridge, `{"run":"digest"}`),
//! one short message to the alarm topic about what went wrong since the
//! last digest: documents that failed, per connection and class with the
//! fix, and connections that now need a reconnect or whose ERP is held.
//! Nothing is sent when nothing is new.
//!
//! The window runs from the last digest's end to now; the state (the end
//! and each connection's status then) is stored after the message is
//! published, so a failed publish is told again next time rather than
//! lost, and two digests run at once store one window (the other gets a
//! conflict and its message may repeat the first: told twice, never lost).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use domain::clock::{parse_rfc3339, rfc3339, rfc3339_seconds};
use domain::{Connection, ConnectionStatus, ErpHoldKind, FailureClass};
use platform::StoreError;
use platform::connections::ConnectionStore;
use platform::digest::{DigestState, DigestStore, Notifier};
use platform::ledger::{LedgerRecord, LedgerStatus, LedgerStore};
use time::{Duration, OffsetDateTime};

/// The first digest looks back this far.
pub const FIRST_WINDOW: Duration = Duration::hours(24);
/// Documents a class lists by name in one connection's part; the rest are counted.
const NAMED_PER_CLASS: usize = 5;

/// What the digest reads and where it writes.
pub struct Digest {
    pub connections: ConnectionStore,
    pub ledger: LedgerStore,
    pub state: DigestStore,
    pub notifier: Notifier,
}

/// One digest message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestMessage {
    pub subject: String,
    pub body: String,
}

/// What one run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DigestReport {
    pub since: String,
    pub until: String,
    /// `None`: nothing new, nothing sent.
    pub sent: Option<DigestMessage>,
}

/// What is new for one connection in the window.
struct News<'a> {
    connection: &'a Connection,
    failed: Vec<&'a LedgerRecord>,
    /// Its status changed to one that needs a person.
    status_changed: bool,
    /// Its ERP is held, and was not (so) at the last digest.
    hold_began: bool,
}

/// Runs one digest at `now`.
pub async fn run(digest: &Digest, now: OffsetDateTime) -> Result<DigestReport, StoreError> {
    let previous = digest.state.load().await?;
    let since = previous.as_ref().and_then(|s| parse_rfc3339(&s.until)).unwrap_or(now - FIRST_WINDOW);
    // One unreadable connection does not silence the others (each tick logs it).
    let (connections, _unreadable) = digest.connections.list_readable().await?;
    let mut failed = BTreeMap::new();
    for c in &connections {
        // The window's start was told last time: one millisecond after it (the stored precision).
        let window = (since + Duration::milliseconds(1), now);
        let records = digest.ledger.all_by_status(&c.connection_id, LedgerStatus::Failed, Some(window)).await?;
        failed.insert(c.connection_id.to_string(), records);
    }
    let message = compose(&connections, &failed, previous.as_ref(), since, now);
    if let Some(message) = &message {
        digest.notifier.publish(&message.subject, &message.body).await?;
    }
    let state = DigestState {
        until: rfc3339(now),
        statuses: connections.iter().map(|c| (c.connection_id.to_string(), c.status)).collect(),
        holds: connections.iter().filter_map(|c| holding(c).map(|kind| (c.connection_id.to_string(), kind))).collect(),
    };
    digest.state.save(&state, previous.as_ref().map(|s| s.until.as_str())).await?;
    Ok(DigestReport { since: rfc3339(since), until: state.until, sent: message })
}

/// The message for what is new between `since` and `now`, if anything is.
pub fn compose(
    connections: &[Connection],
    failed: &BTreeMap<String, Vec<LedgerRecord>>,
    previous: Option<&DigestState>,
    since: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<DigestMessage> {
    let news: Vec<News> = connections
        .iter()
        .map(|c| {
            let id = c.connection_id.as_str();
            let needs_person = matches!(c.status, ConnectionStatus::NeedsReauth | ConnectionStatus::ReconnectSoon);
            News {
                connection: c,
                failed: failed.get(id).map(|records| records.iter().collect()).unwrap_or_default(),
                status_changed: needs_person && previous.and_then(|p| p.statuses.get(id)) != Some(&c.status),
                hold_began: holding(c).is_some_and(|kind| previous.and_then(|p| p.holds.get(id)) != Some(&kind)),
            }
        })
        .filter(|n| !n.failed.is_empty() || n.status_changed || n.hold_began)
        .collect();
    if news.is_empty() {
        return None;
    }
    let documents: usize = news.iter().map(|n| n.failed.len()).sum();
    let needing = news.iter().filter(|n| n.status_changed || n.hold_began).count();
    let mut said = Vec::new();
    if documents > 0 {
        said.push(format!("{documents} document{} failed", plural(documents)));
    }
    if needing > 0 {
        said.push(format!(
            "{needing} connection{} need{} attention",
            plural(needing),
            if needing == 1 { "s" } else { "" }
        ));
    }
    let subject = format!("Concur connector: {}", said.join(", "));
    let mut body = format!(
        "What went wrong from {} to {} (UTC). Each part names the fix; `connector status ID` shows the \
         connection now.\n",
        rfc3339_seconds(since),
        rfc3339_seconds(now)
    );
    for n in &news {
        connection_part(n, &mut body);
    }
    Some(DigestMessage { subject, body })
}

fn connection_part(n: &News, body: &mut String) {
    let c = n.connection;
    let id = c.connection_id.as_str();
    let erp = c.erp.as_ref().map_or_else(|| "no ERP".to_owned(), |e| e.kind().to_string());
    let _ = writeln!(body, "\n{id} ({}, {erp})", c.name);
    if n.status_changed {
        let reason = c.status_reason.as_deref().unwrap_or("the Concur refresh token expires or was refused");
        let _ = writeln!(body, "  now {}: {reason}", c.status.as_str());
        let _ = writeln!(body, "    fix: {}", FailureClass::Auth.fix(id));
    }
    if let Some(hold) = c.erp_hold.as_ref().filter(|_| n.hold_began) {
        let class = hold.kind.failure_class();
        let _ = writeln!(body, "  ERP held since {} ({}): {}", hold.since, class.title(), hold.reason);
        let _ = writeln!(body, "    fix: {}", class.fix(id));
    }
    let mut by_class: BTreeMap<FailureClass, Vec<&LedgerRecord>> = BTreeMap::new();
    for record in &n.failed {
        by_class.entry(record.failure_class().unwrap_or(FailureClass::Other)).or_default().push(record);
    }
    for (class, records) in by_class {
        let _ = writeln!(body, "  {} failed: {}", records.len(), class.title());
        for r in records.iter().take(NAMED_PER_CLASS) {
            let step = r.failed_step.as_deref().unwrap_or("?");
            let reason = domain::text::truncate(r.failure_reason.as_deref().unwrap_or("-"), 300);
            let _ = writeln!(body, "    {}:{} at {step}: {reason}", r.key.document_type, r.key.document_id);
        }
        if records.len() > NAMED_PER_CLASS {
            let _ =
                writeln!(body, "    … and {} more: `connector documents failed {id}`", records.len() - NAMED_PER_CLASS);
        }
        let _ = writeln!(body, "    fix: {}", class.fix(id));
    }
}

/// The kind of the connection's ERP hold, if it holds.
fn holding(c: &Connection) -> Option<ErpHoldKind> {
    c.erp_hold.as_ref().filter(|h| h.holds_by_default()).map(|h| h.kind)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
