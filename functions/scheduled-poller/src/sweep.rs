//! The ledger's sweeper: on every tick, every document that is not final
//! and whose due time has come is queued again. That is what makes "nothing
//! lost" independent of the queue: a message that used up its receives, a
//! document parked while its connection could not take it, a claim whose
//! worker died, a posting whose confirmation never happened or whose ERP
//! verdict is overdue — each has a `due_at` in the ledger, and the sweeper
//! finds it through the `by-status` index (one query per status and
//! connection, filtered on `due_at`), never by scanning the table.
//!
//! Only flowing connections are swept: a connection that needs a reconnect
//! or is disabled keeps its documents parked (they are visible in the
//! ledger with their reason) until it is active again; then the next tick
//! re-queues them.
//!
//! Before a document is queued its `due_at` moves on by the ledger's safety
//! net (a conditional write on the value read), so two ticks never queue it
//! twice and a send that fails costs one more wait, not the document.

use std::time::Instant;

use concur::GrantStore;
use domain::{Connection, WorkItem, WorkSource};
use platform::ledger::{LedgerRecord, LedgerStatus, PAGE_LIMIT, SAFETY_NET};
use platform::queue::{MAX_BATCH, Outgoing};
use time::OffsetDateTime;

use crate::Poller;

/// Most documents one tick re-queues per connection and status (the tick's
/// deadline stops it sooner); the rest are due still and the next tick
/// takes them. After a long outage a connection may hold thousands: one
/// tick re-queues them all, and the poster drains them at its own pace.
pub const SWEEP_LIMIT: usize = 5_000;

/// The statuses that are not final.
pub(crate) const OPEN: [LedgerStatus; 3] = [LedgerStatus::Received, LedgerStatus::Claimed, LedgerStatus::Posted];

/// What one connection's sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionSweep {
    pub connection_id: String,
    /// Documents queued again.
    pub requeued: usize,
    /// Why the sweep of this connection stopped early, if it did.
    pub error: Option<String>,
}

/// Sweeps every flowing connection, one after the other, until `deadline`.
pub async fn sweep<S: GrantStore>(
    poller: &Poller<S>,
    connections: &[Connection],
    now: OffsetDateTime,
    deadline: Instant,
) -> Vec<ConnectionSweep> {
    let mut swept = Vec::new();
    for connection in connections.iter().filter(|c| c.is_flowing() && c.erp.is_some()) {
        if Instant::now() >= deadline {
            break;
        }
        let result = sweep_connection(poller, connection, now, deadline).await;
        if result.requeued > 0 || result.error.is_some() {
            tracing::info!(connection = %connection.connection_id, requeued = result.requeued,
                error = ?result.error, "ledger sweep");
            platform::telemetry::metric("DocumentsRequeued", result.requeued as f64, connection.connection_id.as_str());
        }
        swept.push(result);
    }
    swept
}

async fn sweep_connection<S: GrantStore>(
    poller: &Poller<S>,
    connection: &Connection,
    now: OffsetDateTime,
    deadline: Instant,
) -> ConnectionSweep {
    let id = &connection.connection_id;
    let mut result = ConnectionSweep { connection_id: id.to_string(), ..ConnectionSweep::default() };
    let (slot_owner, level) = match poller.connections.slot_owner(connection).await {
        Ok(slot) => slot,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    for status in OPEN {
        let mut cursor: Option<String> = None;
        let mut listed = 0;
        while Instant::now() < deadline && listed < SWEEP_LIMIT {
            let limit = u32::try_from(SWEEP_LIMIT - listed).unwrap_or(PAGE_LIMIT).min(PAGE_LIMIT);
            let page = match poller.ledger.list_due(id, status, now, limit, cursor.as_deref()).await {
                Ok(page) => page,
                Err(e) => {
                    result.error = Some(e.to_string());
                    return result;
                }
            };
            listed += page.records.len();
            requeue(poller, id, page.records, now, (&slot_owner, level), &mut result).await;
            match page.cursor {
                Some(next) if result.error.is_none() => cursor = Some(next),
                _ => break,
            }
        }
    }
    result
}

/// Takes each due record for this tick and queues it again, in batches.
async fn requeue<S: GrantStore>(
    poller: &Poller<S>,
    id: &domain::ConnectionId,
    due: Vec<LedgerRecord>,
    now: OffsetDateTime,
    (slot_owner, level): (&domain::ConnectionId, domain::ConcurrencyLevel),
    result: &mut ConnectionSweep,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    for record in due {
        let Some(seen) = record.due_at else { continue };
        // Take it for this tick; a concurrent tick (or a worker that
        // moved it meanwhile) makes this a no-op.
        match poller.ledger.reschedule(&record.key, seen, now + SAFETY_NET).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                result.error = Some(e.to_string());
                break;
            }
        }
        audit_requeue(poller, &record).await;
        let item =
            WorkItem::new(id.clone(), record.key.document_type, record.key.document_id.clone(), WorkSource::Sweep, now);
        batch.push(Outgoing::sweep(item, slot_owner, level, seen.unix_timestamp()));
        if batch.len() == MAX_BATCH {
            result.requeued += send(poller, std::mem::take(&mut batch), &mut result.error).await;
        }
    }
    result.requeued += send(poller, batch, &mut result.error).await;
}

/// Sends a batch; a document SQS refused is due again after the safety
/// net (its `due_at` already moved), so it is only late, not lost.
async fn send<S: GrantStore>(poller: &Poller<S>, batch: Vec<Outgoing>, error: &mut Option<String>) -> usize {
    let sent = batch.len();
    match poller.queue.send_batch(&batch).await {
        Ok(refused) => {
            if let Some((_, why)) = refused.first() {
                *error = Some(format!("SQS refused {} re-queued documents: {why}", refused.len()));
            }
            sent - refused.len()
        }
        Err(e) => {
            *error = Some(e.to_string());
            0
        }
    }
}

async fn audit_requeue<S: GrantStore>(poller: &Poller<S>, record: &LedgerRecord) {
    let subject = record.key.document_key();
    let mut event = poller.audit.event(record.key.connection_id.as_str(), &subject, "swept", "requeued");
    event.detail = Some(
        format!(
            "{} and not moved by its due time; queued again{}",
            record.status,
            record.last_error.as_deref().map(|e| format!(" (last: {e})")).unwrap_or_default()
        )
        .chars()
        .take(1000)
        .collect(),
    );
    event.erp_reference = record.erp_reference.clone();
    if let Err(e) = poller.audit.record(&event).await {
        tracing::warn!(document = %record.key, error = %e, "audit event not recorded");
    }
}
