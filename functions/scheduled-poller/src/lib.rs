//! scheduled-poller: on every EventBridge Scheduler tick, find the
//! connections that are due and queue one work item per READY Financial
//! Integration document. Nothing is acknowledged here: the poster does that
//! when it takes a document on, so a document the poller saw but could not
//! queue simply stays READY for the next tick.
//!
//! - **Which connections**: flowing (active / reconnect_soon), Concur
//!   connected, an ERP configured, at least one document type enabled, and
//!   due by their own schedule since `last_poll_at`. The rest are skipped
//!   with a reason an operator can act on, or are simply not due yet.
//! - **Per tenant**: connections are polled a few at a time; one that fails
//!   (Concur refusing, a dead refresh token, our own stores) gets the reason
//!   in `last_poll_error` and an audit event, and the tick goes on.
//!   `last_poll_at` moves only when every enabled type was read to its last
//!   page and every document was queued.
//! - **Deadline**: checked before each connection and each page; a page
//!   read is abandoned at the deadline. Work not reached stays due and the
//!   next tick does it; queuing a document twice is harmless (FIFO dedup
//!   within 5 minutes, and the poster's ledger after that).

pub mod digest;
mod metrics;
pub mod sweep;
pub mod webhooks;

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use concur::{ConcurClient, GrantStore, TokenManager, TokenOptions};
use domain::{Connection, ConnectionId};
use futures_util::stream::{self, StreamExt};
use platform::audit::AuditLog;
use platform::aws::SECRET_TTL;
use platform::concur_grants::ConcurGrantStore;
use platform::connections::ConnectionStore;
use platform::ledger::LedgerStore;
use platform::queue::{InboxQueue, WorkQueue};
use platform::{Aws, Env, StoreError};
use polling::ConnectionPoller;
use time::OffsetDateTime;
use transport::{HttpClient, RetryPolicy};

/// The function's name in audit events.
pub const FUNCTION: &str = "scheduled-poller";

/// Everything a tick needs, built once per cold start.
pub struct Poller<S> {
    pub connections: ConnectionStore,
    /// Read (the `by-status` index) and rescheduled by the sweeper only.
    pub ledger: LedgerStore,
    pub audit: AuditLog,
    pub queue: WorkQueue,
    /// Where the connections that take extract files have them taken (`file-intake`, issue 15).
    pub inbox: InboxQueue,
    pub tokens: TokenManager<S>,
    /// Connections polled at the same time.
    pub concurrency: usize,
    /// Most FI pages one connection's poll reads per tick; the poll cursor
    /// continues from there next tick.
    pub page_budget: u32,
    /// The failure digest, run on its own schedule.
    pub digest: digest::Digest,
    /// A document not final this long after its last change counts as
    /// stuck (`DocumentsNotFinal`, the documents-not-final alarm).
    pub not_final_after: Duration,
    /// The webhook subscriptions the daily run re-asserts.
    pub webhooks: concur::webhooks::WebhookPlan,
}

/// Tuning of the poller (production values by default).
#[derive(Debug, Clone)]
pub struct PollerOptions {
    pub retry: RetryPolicy,
    pub tokens: TokenOptions,
    pub concurrency: usize,
    pub page_budget: u32,
}

impl Default for PollerOptions {
    fn default() -> Self {
        Self {
            // A 429 storm or 5xx that outlasts these retries fails the
            // connection for this tick only; the next tick tries again.
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(10),
                request_timeout: Duration::from_secs(15),
            },
            // Another container (the poster) refreshing the same connection
            // is not worth a long wait here: the connection fails this tick
            // with a retryable reason, and the refresh itself stays short
            // enough to finish inside the deadline margin.
            tokens: TokenOptions { lease_wait: Duration::from_secs(5), ..TokenOptions::default() },
            concurrency: 4,
            // 25 documents a page: 50,000 documents per connection and tick,
            // more than the deadline usually allows.
            page_budget: 2000,
        }
    }
}

/// The poller could not be built (cold start).
pub use platform::SetupError;

/// What the poller reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub flow: platform::DocumentFlowSettings,
    /// The inbox queue of `file-intake`.
    pub inbox_queue_url: String,
    /// Where the failure digest goes (the stack's alarm topic).
    pub digest_topic_arn: String,
    /// `NOT_FINAL_AFTER_HOURS`: when a document not final counts as stuck.
    pub not_final_after: Duration,
    pub webhooks: concur::webhooks::WebhookPlan,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, platform::ConfigError> {
        Ok(Self {
            flow: platform::DocumentFlowSettings::from_env(env)?,
            inbox_queue_url: env.required("INBOX_QUEUE_URL")?,
            digest_topic_arn: env.required("DIGEST_TOPIC_ARN")?,
            not_final_after: Duration::from_secs(3600 * env.parsed::<u64>("NOT_FINAL_AFTER_HOURS", 4)?),
            webhooks: platform::config::webhook_plan(env)?,
        })
    }
}

impl Poller<ConcurGrantStore> {
    /// Reads the settings from `env` and builds the poller: `main.rs` and
    /// the tests both build it this way.
    pub async fn from_env(env: &Env, aws: &Aws, options: PollerOptions) -> Result<Self, SetupError> {
        Self::build(&Settings::from_env(env)?, aws, options).await
    }

    /// Builds the stores and clients (once per cold start).
    pub async fn build(settings: &Settings, aws: &Aws, options: PollerOptions) -> Result<Self, SetupError> {
        let (flow, common) = (&settings.flow, &settings.flow.common);
        let grants = aws.concur(&flow.concur, &common.connections_table, aws.secrets(SECRET_TTL));
        let http = HttpClient::for_deployment(options.retry.clone(), aws.url_policy());
        Ok(Self {
            connections: aws.connections(&common.connections_table),
            ledger: aws.ledger(&flow.ledger_table),
            audit: aws.audit(&common.audit, FUNCTION),
            queue: aws.work_queue(&common.work_queue_url),
            inbox: aws.inbox_queue(&settings.inbox_queue_url),
            tokens: TokenManager::app_on_demand(ConcurClient::new(http), grants, options.tokens),
            concurrency: options.concurrency.max(1),
            page_budget: options.page_budget.max(1),
            digest: digest::Digest {
                connections: aws.connections(&common.connections_table),
                ledger: aws.ledger(&flow.ledger_table),
                state: aws.digest_state(&common.connections_table),
                notifier: aws.notifier(&settings.digest_topic_arn),
            },
            not_final_after: settings.not_final_after,
            webhooks: settings.webhooks.clone(),
        })
    }
}

impl<S> Poller<S> {
    /// What one connection's poll reads and writes.
    pub fn connection_poller(&self) -> ConnectionPoller<'_, S> {
        ConnectionPoller {
            connections: &self.connections,
            ledger: &self.ledger,
            audit: &self.audit,
            queue: &self.queue,
            inbox: &self.inbox,
            tokens: &self.tokens,
            page_budget: self.page_budget,
        }
    }
}

/// The moment to stop starting work: the Lambda's deadline minus `margin`
/// (room for a token refresh in flight and the final writes).
pub fn deadline_before(lambda_deadline: SystemTime, margin: Duration) -> Instant {
    let left = lambda_deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
    Instant::now() + left.saturating_sub(margin)
}

// ------------------------------------------------------------ which connections

/// A connection this tick skips, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub connection_id: String,
    pub reason: String,
}

/// The connections of one tick, sorted into three.
#[derive(Debug, Default)]
pub struct Selection {
    pub due: Vec<Connection>,
    /// Pollable, but their schedule has no run due since their last poll.
    pub not_due: Vec<String>,
    /// Not pollable as they stand.
    pub skipped: Vec<Skipped>,
}

/// Sorts connections into due, not due yet and skipped (with the reason).
pub fn select_due(connections: Vec<Connection>, now: OffsetDateTime) -> Selection {
    let mut selection = Selection::default();
    for c in connections {
        let reason = c.not_taking_documents(None);
        if let Some(reason) = reason {
            selection.skipped.push(Skipped { connection_id: c.connection_id.to_string(), reason: reason.to_owned() });
        } else if is_due(&c, now) {
            selection.due.push(c);
        } else {
            selection.not_due.push(c.connection_id.to_string());
        }
    }
    selection
}

fn is_due(c: &Connection, now: OffsetDateTime) -> bool {
    let last = match c.last_poll_at.as_deref().map(|t| domain::clock::parse_rfc3339(t).ok_or(())) {
        None => None,
        Some(Ok(at)) => Some(at),
        Some(Err(())) => {
            // Only the poller writes it; a value it cannot read is treated
            // as "never polled" rather than as "never again".
            tracing::warn!(connection = %c.connection_id, last_poll_at = ?c.last_poll_at,
                "last_poll_at is not an RFC 3339 time; polling as if never polled");
            None
        }
    };
    c.schedule.is_due(last, now)
}

// ------------------------------------------------------------------- the report

pub use polling::{ConnectionPoll, PollOutcome};

/// What a tick did: for the log line and the tests.
#[derive(Debug, Default)]
pub struct TickReport {
    pub due: Vec<String>,
    pub not_due: Vec<String>,
    pub skipped: Vec<Skipped>,
    /// One per due connection that was started.
    pub polls: Vec<ConnectionPoll>,
    /// Due, but not started before the deadline (still due next tick).
    pub deferred: Vec<String>,
    /// The ledger sweep of every flowing connection.
    pub swept: Vec<sweep::ConnectionSweep>,
    /// Connections whose scheduled reference sync this tick queued.
    pub syncs_queued: Vec<String>,
    /// Documents of every connection not final past the stuck threshold
    /// (`None`: the ledger could not be counted this tick).
    pub not_final: Option<u64>,
}

impl TickReport {
    pub fn completed(&self) -> usize {
        self.polls.iter().filter(|p| p.outcome == PollOutcome::Completed).count()
    }

    pub fn stopped(&self) -> usize {
        self.polls.iter().filter(|p| p.outcome == PollOutcome::Stopped).count()
    }

    pub fn failed(&self) -> Vec<&ConnectionPoll> {
        self.polls.iter().filter(|p| matches!(p.outcome, PollOutcome::Failed { .. })).collect()
    }

    /// Documents the sweeper queued again.
    pub fn requeued(&self) -> usize {
        self.swept.iter().map(|s| s.requeued).sum()
    }

    pub fn queued(&self) -> usize {
        self.polls.iter().map(|p| p.queued()).sum()
    }

    pub fn poll_of(&self, connection: &str) -> Option<&ConnectionPoll> {
        self.polls.iter().find(|p| p.connection_id == connection)
    }

    /// The one summary line per tick.
    pub fn log(&self) {
        let skipped: Vec<String> = self.skipped.iter().map(|s| format!("{}: {}", s.connection_id, s.reason)).collect();
        let failed: Vec<&str> = self.failed().iter().map(|p| p.connection_id.as_str()).collect();
        tracing::info!(
            due = self.due.len(),
            polled = self.completed(),
            queued = self.queued(),
            failed = failed.len(),
            failed_connections = ?failed,
            stopped = self.stopped(),
            deferred = self.deferred.len(),
            not_due = self.not_due.len(),
            skipped = self.skipped.len(),
            skipped_reasons = ?skipped,
            requeued = self.requeued(),
            not_final = ?self.not_final,
            "tick handled"
        );
    }
}

// ------------------------------------------------------------------- the tick

/// One tick at `now`, starting no work after `deadline`. Fails only when the
/// connections cannot be listed at all; a connection's own failure is in
/// the report, on the connection and in the audit.
pub async fn handle<S: GrantStore>(
    poller: &Poller<S>,
    now: OffsetDateTime,
    deadline: Instant,
) -> Result<TickReport, StoreError> {
    let (connections, unreadable) = poller.connections.list_readable().await?;
    let flowing: Vec<Connection> = connections.iter().filter(|c| c.is_flowing()).cloned().collect();
    let all_ids: Vec<ConnectionId> = connections.iter().map(|c| c.connection_id.clone()).collect();
    let selection = select_due(connections, now);
    let mut report = TickReport {
        due: selection.due.iter().map(|c| c.connection_id.to_string()).collect(),
        not_due: selection.not_due,
        skipped: selection.skipped,
        ..TickReport::default()
    };
    for u in unreadable {
        tracing::error!(connection = %u.connection_id, error = %u.error,
            "skipped: its stored settings cannot be read; fix or recreate them with the operator CLI");
        report.skipped.push(Skipped {
            connection_id: u.connection_id,
            reason: format!("its stored settings cannot be read ({})", u.error),
        });
    }
    for s in &report.skipped {
        tracing::info!(connection = %s.connection_id, reason = %s.reason, "skipped this tick");
    }
    for id in &report.not_due {
        tracing::debug!(connection = %id, "not due yet");
    }

    let results = Mutex::new((Vec::new(), Vec::new()));
    for_each_concurrently(&selection.due, poller.concurrency, |connection| {
        let results = &results;
        async move {
            if Instant::now() >= deadline {
                lock(results).1.push(connection.connection_id.to_string());
                return;
            }
            let poll = polling::poll_connection(&poller.connection_poller(), connection, now, deadline).await;
            metrics::poll(connection, &poll.outcome, now);
            lock(results).0.push(poll);
        }
    })
    .await;
    let (mut polls, mut deferred) = results.into_inner().unwrap_or_else(|p| p.into_inner());
    polls.sort_by(|a: &ConnectionPoll, b| a.connection_id.cmp(&b.connection_id));
    deferred.sort();
    if !deferred.is_empty() {
        tracing::warn!(connections = ?deferred, "the tick's deadline came before these were started; they stay due");
    }
    report.polls = polls;
    report.deferred = deferred;
    // After the polls: a document a poll just queued is not due anyway.
    report.swept = sweep::sweep(poller, &flowing, now, deadline).await;
    report.syncs_queued = queue_due_syncs(poller, &flowing, now).await;
    report.not_final = count_not_final(poller, &all_ids, now).await;
    Ok(report)
}

/// Counts the documents of `connections` (flowing or not: a connection
/// that waits for a reconnect holds stuck documents too) that are not final
/// and unchanged for the poller's `not_final_after`, and reports the count
/// as `DocumentsNotFinal`. Three index counts per connection.
async fn count_not_final<S: GrantStore>(
    poller: &Poller<S>,
    connections: &[ConnectionId],
    now: OffsetDateTime,
) -> Option<u64> {
    let before = now - poller.not_final_after;
    let mut total = 0;
    for id in connections {
        for status in sweep::OPEN {
            match poller.ledger.count_by_status(id, status, Some((OffsetDateTime::UNIX_EPOCH, before))).await {
                Ok(count) => total += count,
                Err(e) => {
                    // Nothing emitted rather than a count too low: the alarm treats missing data as OK.
                    tracing::warn!(connection = %id, error = %e, "counting the documents not final failed");
                    return None;
                }
            }
        }
    }
    metrics::not_final(total);
    Some(total)
}

/// Queues the reference sync of each flowing connection whose schedule
/// says so ([`domain::reference::SYNC_EVERY`] after the last one queued,
/// or after the connect, which queues the first). The poster's run decides
/// what to read; its lease makes a sync queued twice run once.
async fn queue_due_syncs<S: GrantStore>(
    poller: &Poller<S>,
    flowing: &[Connection],
    now: OffsetDateTime,
) -> Vec<String> {
    let at = |text: &Option<String>| text.as_deref().and_then(domain::clock::parse_rfc3339);
    let mut queued = Vec::new();
    for connection in flowing {
        let (last, connected) = (at(&connection.last_sync_queued_at), at(&connection.connected_at));
        if !domain::reference::sync_due(last, connected, now, domain::reference::SYNC_EVERY) {
            continue;
        }
        let id = &connection.connection_id;
        let request = domain::ReferenceSyncRequest::new(id.clone(), domain::SyncReason::Scheduled, now);
        let sent = poller.queue.send_reference_sync(&request).await;
        let recorded = match sent {
            Ok(()) => poller.connections.record_sync_queued(id, &domain::clock::rfc3339(now)).await,
            Err(e) => Err(e),
        };
        match recorded {
            Ok(()) => queued.push(id.to_string()),
            // Due again next tick; at worst a sync queued twice runs twice.
            Err(e) => tracing::warn!(connection = %id, error = %e, "the scheduled reference sync was not queued"),
        }
    }
    queued
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Results are only ever pushed whole: a poisoned lock still holds valid data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` over `items` in order, at most `limit` at a time, on this task
/// (the futures borrow the poller, so nothing is spawned). At least one at
/// a time: `for_each_concurrent` reads a limit of 0 as "no limit".
async fn for_each_concurrently<'a, T, F, Fut>(items: &'a [T], limit: usize, f: F)
where
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = ()>,
{
    stream::iter(items).for_each_concurrent(limit.max(1), f).await;
}

#[cfg(test)]
mod tests;
