//! `connector status [ID]`: did everything post? The fleet at a glance, or
//! one connection with its failures grouped by what fixes them.
//!
//! Everything comes from the stores as they are now: the connection items
//! (status, last poll, token expiry, ERP hold) and the ledger's `by-status`
//! index (counts of today's documents, what is not final yet, the FAILED
//! records). "Today" is the UTC day. Nothing is written.

use std::collections::BTreeMap;
use std::io::Write;

use domain::clock::{parse_rfc3339, rfc3339_seconds};
use domain::{Connection, ConnectionId, ConnectionStatus, ErpHoldKind, FailureClass};
use platform::StoreError;
use platform::ledger::{LedgerRecord, LedgerStatus, LedgerStore};
use serde::Serialize;
use time::OffsetDateTime;

use crate::commands::{load, parse_id};
use crate::render;
use crate::{CliError, Deps, Outcome};

/// Documents a failure group lists by name; the rest are counted.
const NAMED_PER_GROUP: usize = 5;

/// One connection's state, as `status` shows it.
#[derive(Debug, Serialize)]
pub struct ConnectionState {
    pub connection_id: String,
    pub name: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub erp: Option<String>,
    pub last_poll: LastPoll,
    pub today: Today,
    /// Not in the ERP yet (RECEIVED or CLAIMED), whatever their age.
    pub waiting: u64,
    /// In the ERP, the confirmation to Concur (or Infor's verdict) still to come.
    pub awaiting_confirmation: u64,
    /// FAILED now, whenever they failed: each waits for an operator's replay.
    pub failed: u64,
    pub oldest_not_final: Option<NotFinal>,
    pub concur_token_expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concur_token_days_left: Option<i64>,
    /// Why the connection's documents wait instead of reaching the ERP.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attention: Vec<Attention>,
    /// `status ID` only: the FAILED documents by class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<Vec<FailureGroup>>,
}

#[derive(Debug, Serialize)]
pub struct LastPoll {
    /// The last poll that read every page (RFC 3339), if any.
    pub at: Option<String>,
    /// Why polls have failed since, if they have.
    pub error: Option<String>,
}

/// Documents whose ledger record reached a state today (UTC).
#[derive(Debug, Serialize)]
pub struct Today {
    /// In the ERP (POSTED or CONFIRMED).
    pub posted: u64,
    pub failed: u64,
}

/// The document that has waited longest without becoming final.
#[derive(Debug, Serialize)]
pub struct NotFinal {
    pub document: String,
    pub status: String,
    /// When its record last changed (RFC 3339).
    pub since: String,
    pub hours: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A condition of the connection that holds its documents back.
#[derive(Debug, Serialize)]
pub struct Attention {
    pub class: FailureClass,
    pub reason: String,
    pub fix: String,
}

/// The FAILED documents of one class.
#[derive(Debug, Serialize)]
pub struct FailureGroup {
    pub class: FailureClass,
    pub count: usize,
    pub fix: String,
    /// The most recent few.
    pub documents: Vec<FailedDocument>,
}

#[derive(Debug, Serialize)]
pub struct FailedDocument {
    pub document: String,
    pub step: String,
    pub reason: String,
    pub at: String,
    pub history: String,
}

/// `status [ID] [--json]`
pub async fn status(deps: &Deps, id: Option<&str>, json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let ledger = crate::documents::ledger(deps);
    let now = OffsetDateTime::now_utc();
    let states = match id {
        Some(raw) => {
            let connection = load(deps, &parse_id(raw)?).await?;
            // Boxed: seven index queries joined make a future too large for a small stack.
            let mut state = Box::pin(state_of(&ledger, &connection, now)).await?;
            let failed = ledger.all_by_status(&connection.connection_id, LedgerStatus::Failed, None).await?;
            state.failures = Some(failure_groups(&connection.connection_id, &failed));
            vec![state]
        }
        None => {
            let mut states = Vec::new();
            for connection in deps.connections.list().await? {
                states.push(Box::pin(state_of(&ledger, &connection, now)).await?);
            }
            states
        }
    };
    if json {
        let value = match (id, states.as_slice()) {
            (Some(_), [one]) => serde_json::to_value(one),
            _ => serde_json::to_value(&states),
        }
        .map_err(std::io::Error::from)?;
        serde_json::to_writer_pretty(&mut *out, &value).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else if id.is_some() {
        states.iter().try_for_each(|state| one(state, out))?;
    } else {
        fleet(&states, now, out)?;
    }
    Ok(Outcome::Done)
}

/// What the stores say of `connection` at `now`.
async fn state_of(ledger: &LedgerStore, c: &Connection, now: OffsetDateTime) -> Result<ConnectionState, StoreError> {
    let id = &c.connection_id;
    let today = Some((now.replace_time(time::Time::MIDNIGHT), now));
    let count = |status, changed| ledger.count_by_status(id, status, changed);
    let (posted, confirmed, failed_today, received, claimed, posted_now, failed) = tokio::try_join!(
        count(LedgerStatus::Posted, today),
        count(LedgerStatus::Confirmed, today),
        count(LedgerStatus::Failed, today),
        count(LedgerStatus::Received, None),
        count(LedgerStatus::Claimed, None),
        count(LedgerStatus::Posted, None),
        count(LedgerStatus::Failed, None),
    )?;
    let oldest = |status| async move { ledger.list_by_status(id, status, 1, None).await.map(|p| p.records) };
    let (a, b, d) =
        tokio::try_join!(oldest(LedgerStatus::Received), oldest(LedgerStatus::Claimed), oldest(LedgerStatus::Posted))?;
    let oldest_not_final = a.into_iter().chain(b).chain(d).min_by(|x, y| x.updated_at.cmp(&y.updated_at));
    let expires = c.concur_refresh_expires_at.as_deref().and_then(parse_rfc3339);
    Ok(ConnectionState {
        connection_id: id.to_string(),
        name: c.name.clone(),
        status: c.status.as_str(),
        status_reason: c.status_reason.clone(),
        erp: c.erp.as_ref().map(|e| e.kind().to_string()),
        last_poll: LastPoll { at: c.last_poll_at.clone(), error: c.last_poll_error.clone() },
        today: Today { posted: posted + confirmed, failed: failed_today },
        waiting: received + claimed,
        awaiting_confirmation: posted_now,
        failed,
        oldest_not_final: oldest_not_final.map(|r| not_final(&r, now)),
        concur_token_expires_at: c.concur_refresh_expires_at.clone(),
        concur_token_days_left: expires.map(|at| (at - now).whole_days()),
        attention: attention(c, now),
        failures: None,
    })
}

fn not_final(r: &LedgerRecord, now: OffsetDateTime) -> NotFinal {
    let since = parse_rfc3339(&r.updated_at).unwrap_or(now);
    NotFinal {
        document: format!("{}:{}", r.key.document_type, r.key.document_id),
        status: r.status.to_string(),
        since: r.updated_at.clone(),
        hours: (now - since).whole_hours(),
        last_error: r.last_error.clone(),
    }
}

/// Why documents of `c` wait: its Concur grant, or an ERP hold.
fn attention(c: &Connection, now: OffsetDateTime) -> Vec<Attention> {
    let id = c.connection_id.as_str();
    let mut all = Vec::new();
    if matches!(c.status, ConnectionStatus::NeedsReauth | ConnectionStatus::ReconnectSoon) {
        let reason = c.status_reason.clone().unwrap_or_else(|| format!("the Concur grant is {}", c.status.as_str()));
        all.push(Attention { class: FailureClass::Auth, reason, fix: FailureClass::Auth.fix(id) });
    }
    if let Some(hold) = &c.erp_hold {
        let class = hold.kind.failure_class();
        let reason = match hold.kind {
            ErpHoldKind::Unavailable => {
                format!("ERP hold since {} ({} failed posts in a row): {}", hold.since, hold.failures, hold.reason)
            }
            ErpHoldKind::Refused => format!("ERP hold since {}: {}", hold.since, hold.reason),
        };
        all.push(Attention { class, reason, fix: class.fix(id) });
    }
    if c.pgp_keys.values().any(|k| k.expires_soon(now)) {
        let reason = format!(
            "an OpenPGP key expires within {} days (`connector keys list {id}`)",
            domain::posting_source::KEY_EXPIRY_WARNING_DAYS
        );
        let fix = format!("add its successor: `connector keys add {id} --file NEW.asc`, give Concur its public key");
        all.push(Attention { class: FailureClass::Auth, reason, fix });
    }
    all
}

/// FAILED records by class (classes in their fixed order), the most recent first in each.
fn failure_groups(connection: &ConnectionId, failed: &[LedgerRecord]) -> Vec<FailureGroup> {
    let mut by_class: BTreeMap<FailureClass, Vec<&LedgerRecord>> = BTreeMap::new();
    for record in failed {
        by_class.entry(record.failure_class().unwrap_or(FailureClass::Other)).or_default().push(record);
    }
    by_class
        .into_iter()
        .map(|(class, records)| FailureGroup {
            class,
            count: records.len(),
            fix: class.fix(connection.as_str()),
            documents: records
                .iter()
                .rev()
                .take(NAMED_PER_GROUP)
                .map(|r| FailedDocument {
                    document: format!("{}:{}", r.key.document_type, r.key.document_id),
                    step: r.failed_step.clone().unwrap_or_default(),
                    reason: r.failure_reason.clone().unwrap_or_default(),
                    at: r.updated_at.clone(),
                    history: format!(
                        "connector documents history {connection} {} {}",
                        r.key.document_type, r.key.document_id
                    ),
                })
                .collect(),
        })
        .collect()
}

/// The fleet: one line per connection, then what needs someone.
fn fleet(states: &[ConnectionState], now: OffsetDateTime, out: &mut dyn Write) -> std::io::Result<()> {
    if states.is_empty() {
        return writeln!(out, "no connections yet: create one with `connector connections create ID --name NAME …`");
    }
    writeln!(out, "as of {} (today = since 00:00 UTC)", rfc3339_seconds(now))?;
    let header = [
        "ID",
        "STATUS",
        "ERP",
        "LAST POLL",
        "POSTED TODAY",
        "FAILED TODAY",
        "WAITING",
        "OLDEST NOT FINAL",
        "CONCUR TOKEN",
    ];
    let rows: Vec<Vec<String>> = states
        .iter()
        .map(|s| {
            vec![
                s.connection_id.clone(),
                s.status.to_owned(),
                s.erp.clone().unwrap_or_else(|| "-".to_owned()),
                last_poll(&s.last_poll),
                s.today.posted.to_string(),
                s.today.failed.to_string(),
                (s.waiting + s.awaiting_confirmation).to_string(),
                s.oldest_not_final
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |o| format!("{} h ({})", o.hours, o.document)),
                token(s),
            ]
        })
        .collect();
    render::columns(&header, &rows, out)?;
    let needy: Vec<&ConnectionState> =
        states.iter().filter(|s| s.failed > 0 || !s.attention.is_empty() || s.last_poll.error.is_some()).collect();
    for s in &needy {
        let mut why = Vec::new();
        if s.failed > 0 {
            why.push(format!("{} failed", s.failed));
        }
        why.extend(s.attention.iter().map(|a| a.class.title().to_owned()));
        if s.last_poll.error.is_some() {
            why.push("polls failing".to_owned());
        }
        writeln!(out, "{}: {} — `connector status {}`", s.connection_id, why.join(", "), s.connection_id)?;
    }
    if needy.is_empty() {
        writeln!(out, "nothing needs attention")?;
    }
    Ok(())
}

/// One connection: its state, then its failures grouped with their fixes.
fn one(s: &ConnectionState, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{} ({}): {}", s.connection_id, s.name, s.status)?;
    if let Some(reason) = &s.status_reason {
        writeln!(out, "  {reason}")?;
    }
    writeln!(out, "  ERP:              {}", s.erp.as_deref().unwrap_or("not configured"))?;
    writeln!(out, "  last poll:        {}", last_poll(&s.last_poll))?;
    if let Some(error) = &s.last_poll.error {
        writeln!(out, "                    {error}")?;
    }
    writeln!(out, "  today:            {} posted, {} failed", s.today.posted, s.today.failed)?;
    writeln!(
        out,
        "  not final:        {} waiting for the ERP, {} awaiting confirmation",
        s.waiting, s.awaiting_confirmation
    )?;
    if let Some(o) = &s.oldest_not_final {
        writeln!(out, "  oldest not final: {} {} since {} ({} h)", o.document, o.status, o.since, o.hours)?;
        if let Some(error) = &o.last_error {
            writeln!(out, "                    last error: {error}")?;
        }
    }
    writeln!(out, "  Concur token:     {}", token(s))?;
    for a in &s.attention {
        writeln!(out, "  attention ({}): {}", a.class.title(), a.reason)?;
        writeln!(out, "    fix: {}", a.fix)?;
    }
    let groups = s.failures.as_deref().unwrap_or_default();
    if groups.is_empty() {
        return writeln!(out, "  no FAILED documents");
    }
    writeln!(out, "  FAILED documents: {}", s.failed)?;
    for group in groups {
        writeln!(out, "  {} ({}):", group.class.title(), group.count)?;
        for d in &group.documents {
            let reason = domain::text::ellipsized_to_width(&d.reason, 100);
            writeln!(out, "    {}  {}  at {}: {}", d.at, d.document, d.step, reason)?;
        }
        if group.count > group.documents.len() {
            writeln!(
                out,
                "    … and {} more (`connector documents failed {}`)",
                group.count - group.documents.len(),
                s.connection_id
            )?;
        }
        writeln!(out, "    fix: {}", group.fix)?;
    }
    Ok(())
}

fn last_poll(p: &LastPoll) -> String {
    match (&p.at, &p.error) {
        (Some(at), None) => format!("{at} ok"),
        (Some(at), Some(_)) => format!("{at}, failing since"),
        (None, Some(_)) => "failing".to_owned(),
        (None, None) => "never".to_owned(),
    }
}

fn token(s: &ConnectionState) -> String {
    match (&s.concur_token_expires_at, s.concur_token_days_left) {
        (Some(_), Some(days)) if days < 0 => "expired".to_owned(),
        (Some(_), Some(days)) => format!("{days} days left"),
        (Some(at), None) => at.clone(),
        _ => "-".to_owned(),
    }
}
