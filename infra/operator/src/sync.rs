//! `sync status` and `sync run`: the reference syncs of a connection (issue
//! 14). The state is what the poster's runs leave in `<stack>-reference`;
//! a run is asked for through the work queue, as Quick Connect asks for
//! the first one.

use std::io::Write;

use domain::reference::ReferenceKind;
use domain::{ReferenceSyncRequest, SyncReason};
use serde_json::json;

use crate::commands::{load, parse_id};
use crate::documents::queue_url;
use crate::{CliError, Deps, Outcome};

/// `sync status ID [--json]`: per kind, the last run, its counts, the
/// cursor and the records Concur could not hold.
pub async fn status(deps: &Deps, raw_id: &str, as_json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    load(deps, &id).await?;
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
            serde_json::to_string_pretty(&json!({"connection": id.as_str(), "syncs": value})).unwrap_or_default()
        )?;
        return Ok(Outcome::Done);
    }
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
    }
    Ok(Outcome::Done)
}

/// `sync run ID`: queues a full sync of the connection (every kind it
/// keeps; records deleted in the ERP and refusals are looked at again).
pub async fn run(deps: &Deps, raw_id: &str, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let connection = load(deps, &id).await?;
    if !connection.is_flowing() {
        return Err(CliError::Refused(crate::settings::Refusal(format!(
            "connection {id} is {:?}: a sync runs once it is active (reconnect it in Concur first)",
            connection.status
        ))));
    }
    let queue = deps.aws.work_queue(queue_url(deps, &deps.names.work_queue).await?);
    let request = ReferenceSyncRequest::new(id.clone(), SyncReason::Operator, time::OffsetDateTime::now_utc());
    queue.send_reference_sync(&request).await?;
    writeln!(out, "queued a full reference sync of {id}; `connector sync status {id}` shows its result")?;
    Ok(Outcome::Done)
}
