//! `sync status`, `sync run` and `sync lists`: the reference syncs of a connection (issue
//! 14). The state is what the poster's runs leave in `<stack>-reference`;
//! a run is asked for through the work queue, as Quick Connect asks for
//! the first one.

use std::io::Write;

use domain::reference::{ListFeed, ReferenceKind};
use domain::{ReferenceSyncRequest, SyncReason};
use serde_json::json;

use crate::commands::{load, parse_id};
use crate::documents::queue_url;
use crate::{CliError, Deps, Outcome};

/// `sync status ID [--json]`: per kind, the last run, its counts, the
/// cursor and the records Concur could not hold.
pub async fn status(deps: &Deps, raw_id: &str, as_json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let connection = load(deps, &id).await?;
    let next_run = next_scheduled(&connection);
    let store = deps.aws.reference(&deps.names.reference_table);
    let mut kinds = Vec::new();
    for kind in ReferenceKind::ALL {
        kinds.push((kind, store.state(&id, kind).await?));
    }
    if as_json {
        let value: serde_json::Map<String, serde_json::Value> =
            kinds.iter().map(|(kind, state)| (kind.as_str().to_owned(), json!(state))).collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({"connection": id.as_str(), "next_run": next_run, "syncs": value}))
                .unwrap_or_default()
        )?;
        return Ok(Outcome::Done);
    }
    writeln!(out, "{:<16}{}", "next run", next_run.as_deref().unwrap_or("at the next scheduler tick"))?;
    for (kind, state) in &kinds {
        let Some(state) = state else {
            writeln!(out, "{:<16}never run", kind.as_str())?;
            continue;
        };
        let counts = state.last_run.as_ref().map_or("no run finished".to_owned(), |c| {
            format!(
                "read {}, written {}, deactivated {}, unchanged {}, refused {}",
                c.read, c.written, c.deactivated, c.unchanged, c.refused
            )
        });
        writeln!(out, "{:<16}last run {}: {counts}", kind.as_str(), state.last_run_at.as_deref().unwrap_or("-"))?;
        writeln!(out, "{:<16}cursor {}", "", state.cursor.as_deref().unwrap_or("- (the next run reads everything)"))?;
        if let Some(error) = &state.last_error {
            writeln!(out, "{:<16}last error {error}", "")?;
        }
        for refusal in &state.refused {
            // Keys join their parts with a unit separator: show them as `A/B`.
            writeln!(out, "{:<16}refused {}: {}", "", refusal.key.replace('\u{1f}', "/"), refusal.reason)?;
        }
        if let Some(dry) = &state.last_dry_run {
            let c = &dry.would;
            writeln!(
                out,
                "{:<16}dry run {}: would write {}, deactivate {}, refuse {} (read {}, unchanged {})",
                "", dry.at, c.written, c.deactivated, c.refused, c.read, c.unchanged
            )?;
            for refusal in &dry.refused {
                writeln!(out, "{:<16}would refuse {}: {}", "", refusal.key.replace('\u{1f}', "/"), refusal.reason)?;
            }
        }
    }
    Ok(Outcome::Done)
}

/// When the schedule queues the connection's next sync (RFC 3339), if known.
fn next_scheduled(connection: &domain::Connection) -> Option<String> {
    let last = connection.last_sync_queued_at.as_deref().or(connection.connected_at.as_deref());
    let at = last.and_then(domain::clock::parse_rfc3339)?;
    Some(domain::clock::rfc3339(at + domain::reference::SYNC_EVERY))
}

/// `sync run ID [--kind K]`: queues a full sync of the connection (every
/// kind it keeps, or only `K`; records deleted in the ERP and refusals are
/// looked at again).
pub async fn run(
    deps: &Deps,
    raw_id: &str,
    kind: Option<&str>,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let refused = |e: domain::reference::CannotHold| CliError::Refused(crate::settings::Refusal(e.0));
    let only = kind.map(ReferenceKind::parse).transpose().map_err(refused)?;
    let connection = load(deps, &id).await?;
    if !connection.is_flowing() {
        return Err(CliError::Refused(crate::settings::Refusal(format!(
            "connection {id} is {:?}: a sync runs once it is active (reconnect it in Concur first)",
            connection.status
        ))));
    }
    let queue = deps.aws.work_queue(queue_url(deps, &deps.names.work_queue).await?);
    let mut request = ReferenceSyncRequest::new(id.clone(), SyncReason::Operator, time::OffsetDateTime::now_utc());
    request.only = only;
    request.dry_run = dry_run;
    queue.send_reference_sync(&request).await?;
    let what = only.map_or("reference".to_owned(), |k| k.as_str().to_owned());
    let how = if dry_run { "dry run of a full" } else { "full" };
    writeln!(out, "queued a {how} {what} sync of {id}; `connector sync status {id}` shows its result")?;
    Ok(Outcome::Done)
}

/// `sync lists ID [--feed LIST=SOURCE]… [--clear]`: prints the lists the
/// connection feeds, or replaces them. The next sync writes the new feeds;
/// a list no longer fed is left as it is in Concur (its items are neither
/// updated nor removed), so dropping a feed never empties a list.
pub async fn lists(
    deps: &Deps,
    raw_id: &str,
    feeds: &[String],
    clear: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let current = load(deps, &id).await?;
    if feeds.is_empty() && !clear {
        if current.reference.lists.is_empty() {
            writeln!(out, "connection {id} feeds no Concur list (`connector sync lists {id} --feed LIST=SOURCE`)")?;
        }
        for feed in &current.reference.lists {
            writeln!(out, "{} <- {}", feed.list, feed.source)?;
        }
        return Ok(Outcome::Done);
    }
    let refused = |e: domain::reference::CannotHold| CliError::Refused(crate::settings::Refusal(e.0));
    let parsed: Vec<ListFeed> = feeds.iter().map(|f| ListFeed::parse(f)).collect::<Result<_, _>>().map_err(refused)?;
    let mut names: Vec<&str> = parsed.iter().map(|f| f.list.as_str()).collect();
    names.sort_unstable();
    if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(CliError::Refused(crate::settings::Refusal(format!(
            "list `{}` is named twice: one source per Concur list",
            twice[0]
        ))));
    }
    let mut next = current.clone();
    next.reference.lists = parsed;
    if next.reference == current.reference {
        writeln!(out, "connection {id}: nothing to change")?;
        return Ok(Outcome::Done);
    }
    next.updated_at = domain::clock::now_rfc3339();
    deps.connections.replace_if_unchanged(&next, &current.updated_at).await?;
    match next.reference.lists.len() {
        0 => writeln!(out, "connection {id} feeds no Concur list now")?,
        n => writeln!(out, "connection {id} feeds {n} Concur list(s); `connector sync run {id}` writes them now")?,
    }
    Ok(Outcome::Done)
}
