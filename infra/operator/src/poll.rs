//! `poll ID [--now]`: a connection's Financial Integration poll. Without
//! `--now`, where its schedule stands; with it, the poll itself, at once and
//! outside the schedule ("post now", as Concur's guides ask of a connector),
//! then what it queued.
//!
//! It is the poll `scheduled-poller` runs (the `polling` crate), run here
//! with the operator's AWS credentials: it reads the READY documents, queues
//! them on the work queue for the poster, and records the poll on the
//! connection and in the audit like a scheduled one. A scheduled tick that
//! overlaps it queues the same documents again, which costs nothing (FIFO
//! deduplication, then the ledger).

use std::io::Write;
use std::time::{Duration, Instant};

use concur::{ConcurClient, TokenManager, TokenOptions};
use domain::Connection;
use polling::{ConnectionPoll, ConnectionPoller, PollOutcome};
use serde_json::json;
use time::OffsetDateTime;

use crate::commands::{load, parse_id};
use crate::documents::{audit, queue_url};
use crate::settings::Refusal;
use crate::{CliError, Deps, Outcome};

/// How long an on-demand poll may read: whatever is left is read by the
/// next poll, from where this one stopped (its cursor).
const POLL_FOR: Duration = Duration::from_secs(300);

/// The pages one on-demand poll reads at most (25 documents a page).
const PAGE_BUDGET: u32 = 2000;

/// Queued documents named one by one; the rest are counted.
const SHOWN: usize = 50;

/// `poll ID [--now] [--json]`
pub async fn poll(
    deps: &Deps,
    raw_id: &str,
    now: bool,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let connection = load(deps, &id).await?;
    let at = OffsetDateTime::now_utc();
    if !now {
        schedule(&connection, at, as_json, out)?;
        return Ok(Outcome::Done);
    }
    if let Some(reason) = connection.not_taking_documents(None) {
        return Err(CliError::Refused(Refusal(format!(
            "connection {id} cannot be polled: {reason}; `connector status {id}` says what holds it"
        ))));
    }
    let names = &deps.names;
    let (work_queue, inbox_queue) =
        (queue_url(deps, &names.work_queue).await?, queue_url(deps, &names.inbox_queue).await?);
    let grants = deps
        .aws
        .concur_grants(deps.secrets.clone(), &names.connections_table, &names.secret_prefix)
        .with_app_secret(&names.concur_app_secret);
    let tokens = TokenManager::app_on_demand(ConcurClient::new(deps.http.clone()), grants, TokenOptions::default());
    let (ledger, audit, queue, inbox) = (
        deps.aws.ledger(&names.ledger_table),
        audit(deps),
        deps.aws.work_queue(work_queue),
        deps.aws.inbox_queue(inbox_queue),
    );
    let poller = ConnectionPoller {
        connections: &deps.connections,
        ledger: &ledger,
        audit: &audit,
        queue: &queue,
        inbox: &inbox,
        tokens: &tokens,
        page_budget: PAGE_BUDGET,
    };
    let poll = polling::poll_connection(&poller, &connection, at, Instant::now() + POLL_FOR).await;
    report(&connection, &poll, as_json, out)?;
    Ok(match poll.outcome {
        PollOutcome::Failed { .. } => Outcome::Failed,
        PollOutcome::Completed | PollOutcome::Stopped => Outcome::Done,
    })
}

/// Where the connection's schedule stands, and how to poll at once.
fn schedule(c: &Connection, at: OffsetDateTime, as_json: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let id = &c.connection_id;
    let last = c.last_poll_at.as_deref().and_then(domain::clock::parse_rfc3339);
    let blocked = c.not_taking_documents(None);
    let due = blocked.is_none() && c.schedule.is_due(last, at);
    if as_json {
        let value = json!({
            "connection": id.as_str(),
            "schedule": c.schedule.to_string(),
            "last_poll_at": c.last_poll_at,
            "last_poll_error": c.last_poll_error,
            "not_pollable": blocked,
            "due": due,
        });
        return writeln!(out, "{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    }
    writeln!(out, "schedule    {} (UTC)", c.schedule)?;
    writeln!(out, "last poll   {}", c.last_poll_at.as_deref().unwrap_or("never"))?;
    if let Some(error) = &c.last_poll_error {
        writeln!(out, "last error  {error}")?;
    }
    match blocked {
        Some(reason) => writeln!(out, "not polled  {reason}"),
        None if due => writeln!(
            out,
            "due         at the poller's next tick (within a minute); `connector poll {id} --now` polls at once"
        ),
        None => writeln!(out, "not due     until the schedule's next run; `connector poll {id} --now` polls at once"),
    }
}

fn documents(n: usize) -> String {
    if n == 1 { "1 READY document".to_owned() } else { format!("{n} READY documents") }
}

fn report(c: &Connection, poll: &ConnectionPoll, as_json: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let id = &c.connection_id;
    let (outcome, reason) = match &poll.outcome {
        PollOutcome::Completed => ("completed", None),
        PollOutcome::Stopped => ("stopped", None),
        PollOutcome::Failed { reason } => ("failed", Some(reason.as_str())),
    };
    if as_json {
        let value = json!({
            "connection": id.as_str(),
            "outcome": outcome,
            "reason": reason,
            "read": poll.read,
            "queued": poll.queued(),
            "already_in_ledger": poll.known,
            "queued_documents": poll.queued_documents,
        });
        return writeln!(out, "{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    }
    match &poll.outcome {
        PollOutcome::Completed => writeln!(out, "polled {id}: every enabled type read to its last page")?,
        PollOutcome::Stopped => writeln!(
            out,
            "polled {id} and stopped at its limit ({} minutes or {PAGE_BUDGET} pages); the next poll reads the rest, \
             from where this one stopped",
            POLL_FOR.as_secs() / 60
        )?,
        PollOutcome::Failed { reason } => writeln!(out, "the poll of {id} failed: {reason}")?,
    }
    writeln!(out, "read {}; queued {} for the poster", documents(poll.read), poll.queued())?;
    if poll.known > 0 {
        writeln!(
            out,
            "skipped {} the ledger already holds (this connection leaves posted documents READY)",
            poll.known
        )?;
    }
    for key in poll.queued_documents.iter().take(SHOWN) {
        let (doc_type, document) = key.split_once('#').unwrap_or(("", key));
        writeln!(out, "  queued  {doc_type:<12} {document}")?;
    }
    if poll.queued_documents.len() > SHOWN {
        writeln!(out, "  and {} more (--json lists them all)", poll.queued_documents.len() - SHOWN)?;
    }
    if poll.queued() > 0 {
        writeln!(out, "next: `connector status {id}`, or `connector documents history {id} TYPE ID` for one document")?;
    }
    Ok(())
}
