//! `documents history | failed | replay` and `queue redrive`: what the
//! ledger and the audit trail say about a connection's documents, and
//! sending documents through the pipeline again.
//!
//! A replay checks everything it can (the flags, the connection, every
//! named document, the work queue) before its first write. It resets a
//! FAILED record ([`LedgerStore::reset_for_replay`]: to RECEIVED, or to
//! POSTED when the ERP already has the document, so it is only confirmed)
//! and queues a work item with source `replay` in the document's usual
//! message group. Documents in other states are queued as they are: the
//! poster's ledger claim never posts a POSTED or CONFIRMED document again.

use std::io::{IsTerminal, Write};

use domain::{ConcurDocumentId, ConcurrencyLevel, ConnectionId, DocumentType, WorkItem, WorkSource};
use indicatif::{ProgressBar, ProgressStyle};
use platform::audit::AuditLog;
use platform::ledger::{LedgerKey, LedgerRecord, LedgerStatus, LedgerStore};
use platform::queue::{MAX_BATCH, Outgoing, WorkQueue};
use platform::{AuditSettings, StoreError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::ReplayArgs;
use crate::commands::{load, parse_id};
use crate::render;
use crate::settings::{Refusal, shown};
use crate::{CliError, Deps, Outcome};

/// The `function` of the audit events the CLI records.
const AUDIT_FUNCTION: &str = "operator";
/// The template's default `AuditRetentionDays`: the CLI cannot see the
/// deployed value, and it only decides when DynamoDB may drop the event.
const AUDIT_RETENTION_DAYS: i64 = 400;

pub(crate) fn ledger(deps: &Deps) -> LedgerStore {
    deps.aws.ledger(&deps.names.ledger_table)
}

pub(crate) fn audit(deps: &Deps) -> AuditLog {
    deps.aws.audit(
        &AuditSettings { table: deps.names.audit_table.clone(), retention_days: AUDIT_RETENTION_DAYS },
        AUDIT_FUNCTION,
    )
}

fn parse_type(raw: &str) -> Result<DocumentType, CliError> {
    raw.trim().to_ascii_lowercase().parse().map_err(|_| {
        Refusal(format!("document type `{}` is unknown: use expense, invoice or cashadvance", shown(raw))).into()
    })
}

fn parse_document_id(raw: &str) -> Result<ConcurDocumentId, CliError> {
    ConcurDocumentId::parse(raw.trim()).map_err(|e| Refusal(e.to_string()).into())
}

/// `--document TYPE:DOCID`.
fn parse_document_flag(raw: &str) -> Result<(DocumentType, ConcurDocumentId), CliError> {
    let Some((doc_type, id)) = raw.split_once(':') else {
        return Err(Refusal(format!(
            "--document `{}` is not TYPE:DOCID: write e.g. expense:0EE74C75C9344DEA942F (TYPE is expense, invoice \
             or cashadvance)",
            shown(raw)
        ))
        .into());
    };
    Ok((parse_type(doc_type)?, parse_document_id(id)?))
}

/// UTC, millisecond precision: as the ledger's `updated_at` is written.
fn stamp(at: OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset(time::UtcOffset::UTC).format(FORMAT).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

fn parse_time(flag: &str, raw: &str) -> Result<OffsetDateTime, CliError> {
    OffsetDateTime::parse(raw.trim(), &Rfc3339).map_err(|_| {
        Refusal(format!(
            "{flag} `{}` is not an RFC 3339 time: write e.g. 2026-11-23T10:00:00Z or 2026-11-23T11:00:00+01:00",
            shown(raw)
        ))
        .into()
    })
}

/// `documents history CONNECTION TYPE DOCID`
pub async fn history(
    deps: &Deps,
    raw_connection: &str,
    raw_type: &str,
    raw_id: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let id = parse_id(raw_connection)?;
    let key = LedgerKey::new(id.clone(), parse_type(raw_type)?, parse_document_id(raw_id)?);
    load(deps, &id).await?;
    let record = ledger(deps).get(&key).await?;
    let events = audit(deps).history(&format!("{id}#{}", key.document_key())).await?;
    if record.is_none() && events.is_empty() {
        return Err(CliError::Absent(format!(
            "{key} is neither in the ledger nor in the audit trail: check the type and id (`connector documents \
             failed {id}` lists the failed ones)"
        )));
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, &render::history_json(&key, record.as_ref(), &events))
            .map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        render::history(&key, record.as_ref(), &events, out)?;
    }
    Ok(Outcome::Done)
}

/// `documents failed CONNECTION`
pub async fn failed(deps: &Deps, raw_connection: &str, json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_connection)?;
    load(deps, &id).await?;
    let records = ledger(deps).all_by_status(&id, LedgerStatus::Failed, None).await?;
    if json {
        let all: Vec<_> = records.iter().map(render::ledger_json).collect();
        serde_json::to_writer_pretty(&mut *out, &all).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        render::failed(&id, &records, out)?;
    }
    Ok(Outcome::Done)
}

/// What `replay` does with one document.
enum Step {
    /// Queued; how the record stood and stands.
    Replayed(String),
    /// Left alone, and why.
    Skipped(String),
}

/// The queue a replay sends to, and the slots of the connection.
struct Target<'a> {
    ledger: &'a LedgerStore,
    queue: &'a WorkQueue,
    audit: AuditLog,
    slot_owner: ConnectionId,
    level: ConcurrencyLevel,
}

/// `documents replay CONNECTION (--document TYPE:DOCID… | --failed | --since T [--until T])`
pub async fn replay(deps: &Deps, args: &ReplayArgs, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(&args.connection)?;
    let documents = args.document.iter().map(|raw| parse_document_flag(raw)).collect::<Result<Vec<_>, _>>()?;
    let range = replay_range(args, OffsetDateTime::now_utc())?;
    let connection = load(deps, &id).await?;
    let (slot_owner, level) = deps.connections.slot_owner(&connection).await?;
    let queue = deps.aws.work_queue(queue_url(deps, &deps.names.work_queue).await?);
    let ledger = ledger(deps);

    // The selection is complete before the first write: resetting a record
    // moves it in the index being read.
    let (selected, what) = if !documents.is_empty() {
        (named_documents(&ledger, &id, documents).await?, "the named documents".to_owned())
    } else if args.failed {
        (ledger.all_by_status(&id, LedgerStatus::Failed, None).await?, "FAILED documents".to_owned())
    } else if let Some((since, until)) = range {
        let mut all = Vec::new();
        for status in LedgerStatus::ALL {
            all.extend(ledger.all_by_status(&id, status, Some((since, until))).await?);
        }
        all.sort_by(|a, b| (&a.updated_at, a.key.document_key()).cmp(&(&b.updated_at, b.key.document_key())));
        (all, format!("documents changed from {} to {}", stamp(since), stamp(until)))
    } else {
        return Err(Refusal("choose the documents: --document TYPE:DOCID, --failed or --since TIME".into()).into());
    };
    if selected.is_empty() {
        writeln!(out, "nothing to replay: connection {id} has no {what}")?;
        return Ok(Outcome::Done);
    }

    let target = Target { ledger: &ledger, queue: &queue, audit: audit(deps), slot_owner, level };
    let bar = progress_bar(selected.len());
    let (mut replayed, mut skipped) = (0_usize, Vec::new());
    for record in &selected {
        let document = record.key.document_key();
        bar.set_message(document.clone());
        match replay_one(&target, record).await {
            Ok(Step::Replayed(how)) => {
                replayed += 1;
                bar.suspend(|| writeln!(out, "replayed {document}: {how}"))?;
            }
            Ok(Step::Skipped(why)) => skipped.push(format!("{document}: {why}")),
            Err(why) => {
                bar.finish_and_clear();
                summary(out, replayed, &skipped)?;
                return Err(CliError::Partial(format!(
                    "stopped at {document} ({} of {} not done): {why}",
                    selected.len() - replayed - skipped.len(),
                    selected.len()
                )));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    summary(out, replayed, &skipped)?;
    Ok(Outcome::Done)
}

/// The `--since`/`--until` range of a replay (`until` defaults to
/// `started`); `None` without `--since`.
fn replay_range(
    args: &ReplayArgs,
    started: OffsetDateTime,
) -> Result<Option<(OffsetDateTime, OffsetDateTime)>, CliError> {
    let Some(since) = &args.since else { return Ok(None) };
    let since = parse_time("--since", since)?;
    let until = args.until.as_deref().map(|u| parse_time("--until", u)).transpose()?;
    if until.is_none() && since > started {
        let refusal = format!("--since ({}) is in the future: no record has changed since then", stamp(since));
        return Err(Refusal(refusal).into());
    }
    let until = until.unwrap_or(started);
    if until < since {
        return Err(Refusal(format!(
            "--until ({}) is before --since ({}): nothing would be selected",
            stamp(until),
            stamp(since)
        ))
        .into());
    }
    Ok(Some((since, until)))
}

fn summary(out: &mut dyn Write, replayed: usize, skipped: &[String]) -> std::io::Result<()> {
    if skipped.is_empty() {
        return writeln!(out, "replayed {replayed}, skipped 0");
    }
    writeln!(out, "replayed {replayed}, skipped {}:", skipped.len())?;
    for line in skipped {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

/// The records of `--document` flags, each once; refused as a whole when
/// one is not in the ledger.
async fn named_documents(
    ledger: &LedgerStore,
    id: &ConnectionId,
    documents: Vec<(DocumentType, ConcurDocumentId)>,
) -> Result<Vec<LedgerRecord>, CliError> {
    let (mut found, mut missing): (Vec<LedgerRecord>, Vec<String>) = (Vec::new(), Vec::new());
    for (document_type, document_id) in documents {
        let key = LedgerKey::new(id.clone(), document_type, document_id);
        if found.iter().any(|r| r.key == key) {
            continue;
        }
        match ledger.get(&key).await? {
            Some(record) => found.push(record),
            None => missing.push(format!("{}:{}", key.document_type, key.document_id)),
        }
    }
    if !missing.is_empty() {
        return Err(CliError::Absent(format!(
            "not in the ledger of connection {id}: {} (never received, or a wrong type or id); nothing was replayed",
            missing.join(", ")
        )));
    }
    Ok(found)
}

/// Why a replay stopped at one document: what state it was left in and how
/// to finish.
#[derive(Debug, thiserror::Error)]
enum ReplayStop {
    #[error("{0}; nothing was changed or queued for it")]
    Unchanged(#[source] StoreError),
    #[error("it was reset to {status}, but queueing it failed: {source}. Queue it with {finish}")]
    ResetNotQueued {
        status: LedgerStatus,
        /// The command that finishes the job.
        finish: String,
        #[source]
        source: StoreError,
    },
    #[error("queueing it failed: {source}. Try again with {finish}")]
    NotQueued {
        finish: String,
        #[source]
        source: StoreError,
    },
}

/// Resets (when FAILED) and queues one document. `Err` stops the replay:
/// it says what state the document was left in and how to finish.
async fn replay_one(target: &Target<'_>, selected: &LedgerRecord) -> Result<Step, ReplayStop> {
    let key = &selected.key;
    // Listings come from an index that lags writes: decide on the record as it is now.
    let record = match target.ledger.get(key).await {
        Ok(Some(record)) => record,
        Ok(None) => return Ok(Step::Skipped("it is no longer in the ledger".into())),
        Err(e) => return Err(ReplayStop::Unchanged(e)),
    };
    let record = &record;
    let now = OffsetDateTime::now_utc();
    let (replay_number, how, reset_to) = if record.status == LedgerStatus::Failed {
        match target.ledger.reset_for_replay(key, now).await {
            Ok(after) => {
                let step = record.failed_step.as_deref().unwrap_or("?");
                let how = format!("FAILED at {step} → {} (replay {})", after.status, after.replays);
                (u64::from(after.replays), how, Some(after.status))
            }
            Err(e) if e.conflict => {
                return Ok(Step::Skipped(format!("it changed since it was selected: {}", e.message)));
            }
            Err(e) => return Err(ReplayStop::Unchanged(e)),
        }
    } else {
        // Not reset: a timestamp tells this replay from earlier ones.
        let micros = u64::try_from(now.unix_timestamp_nanos() / 1000).unwrap_or_default();
        let how = match record.status {
            LedgerStatus::Posted | LedgerStatus::Confirmed => {
                format!("{}, left as it is (already in the ERP: never posted again)", record.status)
            }
            _ => format!("{}, left as it is", record.status),
        };
        (micros, how, None)
    };
    let received_at = domain::clock::parse_rfc3339(&record.created_at).unwrap_or(now);
    let item = WorkItem::new(
        key.connection_id.clone(),
        key.document_type,
        key.document_id.clone(),
        WorkSource::Replay,
        received_at,
    );
    let message = Outgoing::replay(item, &target.slot_owner, target.level, replay_number);
    if let Err(source) = target.queue.send(&message).await {
        let finish = format!(
            "`connector documents replay {} --document {}:{}`",
            key.connection_id, key.document_type, key.document_id
        );
        return Err(match reset_to {
            Some(status) => ReplayStop::ResetNotQueued { status, finish, source },
            None => ReplayStop::NotQueued { finish, source },
        });
    }
    let mut event = target.audit.event(key.connection_id.as_str(), &key.document_key(), "replay", "ok");
    event.detail = Some(format!("queued again by an operator: {how}; deduplication id {}", message.dedup_id));
    event.erp_reference = record.erp_reference.clone();
    let how = match target.audit.record(&event).await {
        Ok(()) => how,
        Err(e) => format!("{how} (the audit event was not recorded: {e})"),
    };
    Ok(Step::Replayed(how))
}

/// A bar on stderr while documents are replayed; none when stderr is not a
/// terminal (a pipe or a log file gets the summary only).
fn progress_bar(len: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(u64::try_from(len).unwrap_or(u64::MAX));
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}

pub(crate) async fn queue_url(deps: &Deps, name: &str) -> Result<String, CliError> {
    deps.aws.queue_url(name).await?.ok_or_else(|| {
        CliError::Absent(format!(
            "queue {name} does not exist in this account and region: check --stack (or CONNECTOR_STACK) and your AWS \
             region"
        ))
    })
}

/// `queue redrive [--max N]`
pub async fn redrive(deps: &Deps, raw_max: Option<&str>, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let max = match raw_max {
        None => None,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Some(n),
            _ => return Err(Refusal(format!("--max `{}` must be a whole number, at least 1", shown(raw))).into()),
        },
    };
    let (dlq_name, work_name) = (&deps.names.work_dead_letter_queue, &deps.names.work_queue);
    let dlq = queue_url(deps, dlq_name).await?;
    let work = deps.aws.work_queue(queue_url(deps, work_name).await?);
    let limit = max.unwrap_or(usize::MAX);
    let mut moved = 0;
    while moved < limit {
        match work.redrive_from(&dlq, (limit - moved).min(MAX_BATCH)).await {
            Ok(0) => break,
            Ok(n) => moved += n,
            Err(e) => {
                moved += e.moved;
                writeln!(out, "moved {moved} message(s) from {dlq_name} to {work_name}")?;
                return Err(CliError::Partial(format!(
                    "{}; the rest stays in {dlq_name}: run `connector queue redrive` again once the cause is fixed",
                    e.error
                )));
            }
        }
    }
    if moved == 0 {
        writeln!(out, "{dlq_name} has no visible message: nothing to move")?;
    } else {
        writeln!(out, "moved {moved} message(s) from {dlq_name} to {work_name}")?;
        if max == Some(moved) {
            writeln!(out, "stopped at --max {moved}: run it again for more")?;
        }
    }
    Ok(Outcome::Done)
}
