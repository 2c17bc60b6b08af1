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

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use concur::fi::{DocumentPage, FiDocument, WorkIdSource};
use concur::{ConcurClient, ConcurError, GrantStore, TokenManager, TokenOptions};
use domain::clock::rfc3339_seconds;
use domain::{ConcurrencyLevel, Connection, ConnectionId, ConnectionStatus, DocumentType, WorkItem, WorkSource};
use futures_util::stream::{self, StreamExt};
use platform::audit::AuditLog;
use platform::aws::SECRET_TTL;
use platform::concur_grants::ConcurGrantStore;
use platform::connections::ConnectionStore;
use platform::ledger::{LedgerKey, LedgerStore};
use platform::queue::{InboxQueue, MAX_BATCH, Outgoing, WorkQueue};
use platform::{Aws, Env, StoreError};
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
        let reason = match c.status {
            ConnectionStatus::Pending => Some("Concur is not connected yet"),
            ConnectionStatus::NeedsReauth => Some("the Concur connection needs a reconnect by an admin"),
            ConnectionStatus::Disabled => Some("disabled by an operator"),
            ConnectionStatus::Active | ConnectionStatus::ReconnectSoon => {
                if c.enabled_document_types.is_empty() {
                    Some("no document type is enabled")
                } else if c.geolocation.is_none() {
                    Some("Concur is not connected yet")
                } else if c.erp.is_none() {
                    Some("no ERP is configured yet (connections update)")
                } else {
                    None
                }
            }
        };
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

/// How one connection's poll ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// Every enabled type read to its last page, every document queued.
    Completed,
    /// The deadline came first; still due, the next tick polls it again.
    Stopped,
    /// Recorded on the connection (`last_poll_error`) and in the audit.
    Failed { reason: String },
}

/// One connection's poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionPoll {
    pub connection_id: String,
    pub outcome: PollOutcome,
    /// READY documents read from Concur.
    pub read: usize,
    /// Work items the queue accepted.
    pub queued: usize,
    /// READY documents skipped because the ledger knows them (read-only flows).
    pub known: usize,
}

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
        self.polls.iter().map(|p| p.queued).sum()
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
            let poll = poll_connection(poller, connection, now, deadline).await;
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

/// What one connection's poll has done so far.
#[derive(Default)]
struct Progress {
    read: usize,
    queued: usize,
    /// READY documents read per type, for the audit.
    read_by_type: Vec<(DocumentType, usize)>,
    /// Document keys already queued this poll (a business id may repeat).
    keys: HashSet<String>,
    /// READY documents not queued because the ledger knows them (read-only flows).
    known: usize,
    /// Documents that could not be queued, in words.
    problems: Vec<String>,
}

enum Reached {
    LastPage,
    Deadline,
}

async fn poll_connection<S: GrantStore>(
    poller: &Poller<S>,
    connection: &Connection,
    now: OffsetDateTime,
    deadline: Instant,
) -> ConnectionPoll {
    let id = &connection.connection_id;
    let mut progress = Progress::default();
    let mut outcome = match read_and_queue(poller, connection, now, deadline, &mut progress).await {
        Ok(Reached::Deadline) => PollOutcome::Stopped,
        Ok(Reached::LastPage) if progress.problems.is_empty() => PollOutcome::Completed,
        Ok(Reached::LastPage) => PollOutcome::Failed {
            reason: format!(
                "{} of the {} READY documents read could not be queued ({}); they stay READY in Concur and the next \
                 tick tries again",
                progress.problems.len(),
                progress.read,
                first_problems(&progress.problems)
            ),
        },
        Err(failure) => PollOutcome::Failed { reason: failure.to_string() },
    };

    let stamp = rfc3339_seconds(now);
    let (audit_outcome, detail) = match &outcome {
        PollOutcome::Completed => match poller.connections.record_poll_success(id, &stamp).await {
            Ok(()) => (
                "ok",
                format!(
                    "read {}; queued {} work items{}",
                    read_summary(&progress),
                    progress.queued,
                    known_note(progress.known)
                ),
            ),
            Err(e) => {
                let reason = format!("the documents were queued, but {e}; the next tick polls again");
                outcome = PollOutcome::Failed { reason: reason.clone() };
                ("failed", reason)
            }
        },
        PollOutcome::Failed { reason } => {
            if let Err(e) = poller.connections.record_poll_failure(id, &format!("{stamp}: {reason}")).await {
                tracing::error!(connection = %id, error = %e, "recording the poll failure on the connection failed");
            }
            ("failed", format!("{reason} (read {}; queued {})", read_summary(&progress), progress.queued))
        }
        PollOutcome::Stopped => (
            "skipped",
            format!(
                "stopped at the tick's deadline or page budget after reading {} and queuing {} work items{}; still \
                 due, the next tick goes on from there",
                read_summary(&progress),
                progress.queued,
                known_note(progress.known)
            ),
        ),
    };
    let mut event = poller.audit.event(id.as_str(), "connection", "poll", audit_outcome);
    event.detail = Some(detail);
    if let Err(e) = poller.audit.record(&event).await {
        tracing::warn!(connection = %id, error = %e, "recording the poll's audit event failed");
    }
    metrics::poll(connection, &outcome, now);
    match &outcome {
        PollOutcome::Failed { reason } => {
            tracing::warn!(connection = %id, read = progress.read, queued = progress.queued, %reason, "poll failed");
        }
        other => tracing::info!(connection = %id, read = progress.read, queued = progress.queued,
            outcome = ?other, "polled"),
    }
    ConnectionPoll {
        connection_id: id.to_string(),
        outcome,
        read: progress.read,
        queued: progress.queued,
        known: progress.known,
    }
}

/// Asks `file-intake` to take the connection's new extract or payment batch files (its posting source
/// reads files).
async fn request_files<S: GrantStore>(
    poller: &Poller<S>,
    id: &ConnectionId,
    now: OffsetDateTime,
) -> Result<(), PollFailure> {
    let request = domain::inbox::FilesRequest::new(id.clone(), now);
    poller.inbox.send_files_request(&request).await.map_err(PollFailure::Files)
}

/// Why one connection's poll failed: its text is the connection's
/// `last_poll_error` and the audit event's reason. `context` says which
/// page of which type was being read.
#[derive(Debug, thiserror::Error)]
enum PollFailure {
    /// Finding whose concurrency slots the connection uses.
    #[error(transparent)]
    SlotOwner(#[from] StoreError),
    /// Concur refused or failed; `reason` carries the context and Concur's advice.
    #[error("{reason}")]
    Concur {
        reason: String,
        #[source]
        source: ConcurError,
    },
    #[error("{context}: checking the ledger failed: {source}")]
    Ledger {
        context: String,
        #[source]
        source: StoreError,
    },
    #[error("{context}: queueing its documents failed: {source}")]
    Queue {
        context: String,
        #[source]
        source: StoreError,
    },
    /// The request to take the connection's files could not be queued.
    #[error("{0}; the next tick asks again")]
    Files(#[source] StoreError),
    #[error("{context}: too many pages")]
    TooManyPages { context: String },
}

/// Reads the enabled types' pages, in the connection's rotating order and
/// from where its last poll stopped, and queues each page's documents as
/// soon as it is read. Stops at the deadline or the page budget; where it
/// stopped is kept as the connection's poll cursor, and the next poll
/// starts with the next type, so a type with a large backlog never keeps
/// the others waiting. `Err` is why the poll failed. A connection whose posting source reads files has
/// them asked of `file-intake` first; one that reads no Financial Integration stops there.
async fn read_and_queue<S: GrantStore>(
    poller: &Poller<S>,
    connection: &Connection,
    now: OffsetDateTime,
    deadline: Instant,
    progress: &mut Progress,
) -> Result<Reached, PollFailure> {
    let id = &connection.connection_id;
    let source = connection.posting_source.resolve(connection.edition);
    if source.files.is_some() {
        request_files(poller, id, now).await?;
    }
    if !source.fis {
        return Ok(Reached::LastPage);
    }
    let (slot_owner, level) = poller.connections.slot_owner(connection).await?;
    let enabled = &connection.enabled_document_types;
    let mut cursor = connection.poll_cursor.clone().unwrap_or_default();
    let order = cursor.order(enabled);
    let mut pages_read = 0_u32;
    let mut reached = Reached::LastPage;
    for doc_type in order.iter().copied() {
        let mut page_number = cursor.pages.get(&doc_type).copied().unwrap_or(0);
        let mut read_of_type = 0;
        let type_reached = loop {
            if Instant::now() >= deadline || pages_read >= poller.page_budget {
                break Reached::Deadline;
            }
            let context =
                format!("polling connection {id}: reading page {page_number} of the READY {doc_type} documents");
            let page = match read_page(poller, id, doc_type, page_number, deadline).await {
                Ok(Some(page)) => page,
                Ok(None) => break Reached::Deadline,
                Err(source) => return Err(PollFailure::Concur { reason: source.to_failure(&context).reason, source }),
            };
            pages_read += 1;
            // An empty page ends the type even if it claims a next one.
            let more = page.next.is_some() && !page.documents.is_empty();
            read_of_type += page.documents.len();
            progress.read += page.documents.len();
            let messages = work_items(id, doc_type, page.documents, now, (&slot_owner, level), progress);
            let messages = unknown_only(poller, connection, messages, progress)
                .await
                .map_err(|source| PollFailure::Ledger { context: context.clone(), source })?;
            let sent = send_all(messages, |batch| async move { poller.queue.send_batch(&batch).await }).await;
            progress.queued += sent.queued;
            progress.problems.extend(sent.refused);
            if let Some(source) = sent.error {
                return Err(PollFailure::Queue { context, source });
            }
            if !more {
                break Reached::LastPage;
            }
            page_number = page_number.checked_add(1).ok_or(PollFailure::TooManyPages { context })?;
        };
        progress.read_by_type.push((doc_type, read_of_type));
        if let Reached::Deadline = type_reached {
            cursor.pages.insert(doc_type, page_number);
            cursor.first_type = domain::PollCursor::next_after(doc_type, enabled);
            reached = Reached::Deadline;
            break;
        }
        cursor.pages.remove(&doc_type);
    }
    if let Reached::LastPage = reached {
        cursor.first_type = order.first().and_then(|first| domain::PollCursor::next_after(*first, enabled));
    }
    if connection.poll_cursor.as_ref() != Some(&cursor)
        && let Err(e) = poller.connections.record_poll_cursor(id, &cursor).await
    {
        // Only fairness is at stake: the next poll starts from the old cursor.
        tracing::warn!(connection = %id, error = %e, "could not record where the poll stopped");
    }
    Ok(reached)
}

/// For a connection that keeps Concur read-only (no acknowledgement, so
/// posted documents stay READY forever), the documents the ledger already
/// knows are not queued again: one key lookup per page instead of a queue
/// message and a ledger claim per document on every poll. Connections that
/// acknowledge queue every READY document (READY there means not taken yet,
/// or resubmitted after a reported failure).
async fn unknown_only<S: GrantStore>(
    poller: &Poller<S>,
    connection: &Connection,
    messages: Vec<Outgoing>,
    progress: &mut Progress,
) -> Result<Vec<Outgoing>, StoreError> {
    if connection.flow.confirm_postings || messages.is_empty() {
        return Ok(messages);
    }
    let keys: Vec<LedgerKey> = messages
        .iter()
        .map(|m| LedgerKey::new(m.item.connection_id.clone(), m.item.document_type, m.item.document_id.clone()))
        .collect();
    let known = poller.ledger.known(&keys).await?;
    let before = messages.len();
    let unknown: Vec<Outgoing> =
        messages.into_iter().zip(keys).filter(|(_, key)| !known.contains(key)).map(|(m, _)| m).collect();
    progress.known += before - unknown.len();
    Ok(unknown)
}

/// One page through the token manager (a 401 costs one refresh). Only the
/// GET is abandoned at the deadline (`None`): a token refresh is never cut
/// short, because Concur may have rotated the refresh token and the new
/// one must be saved.
async fn read_page<S: GrantStore>(
    poller: &Poller<S>,
    id: &ConnectionId,
    doc_type: DocumentType,
    page: u32,
    deadline: Instant,
) -> Result<Option<DocumentPage>, ConcurError> {
    let client = poller.tokens.client();
    poller
        .tokens
        .with_token(id, |token| async move {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, client.fi_ready_page(&token, doc_type, page)).await {
                Ok(result) => result.map(Some),
                Err(_) => Ok(None),
            }
        })
        .await
}

/// The work items of one page, each document once per poll, keyed by its
/// business id (the FI id when it has none usable).
fn work_items(
    connection: &ConnectionId,
    doc_type: DocumentType,
    documents: Vec<FiDocument>,
    now: OffsetDateTime,
    (slot_owner, level): (&ConnectionId, ConcurrencyLevel),
    progress: &mut Progress,
) -> Vec<Outgoing> {
    let mut messages = Vec::with_capacity(documents.len());
    for document in documents {
        if document.doc_type != doc_type.as_str() {
            tracing::warn!(%connection, fi_document = %document.id, listed_as = %doc_type, doc_type = %document.doc_type,
                "Concur listed a document under another type; queued as the type it was listed under");
        }
        let document_id = match document.work_id() {
            Ok((id, WorkIdSource::Business)) => id,
            Ok((id, WorkIdSource::FiDocument)) => {
                tracing::warn!(%connection, fi_document = %document.id, %doc_type,
                    "the document has no usable business id (reportId / requestId / cashAdvanceId); keyed by its FI \
                     document id, so a webhook for it would not be recognised as the same document");
                id
            }
            Err(problem) => {
                tracing::error!(%connection, %problem, "a READY document cannot be queued");
                progress.problems.push(problem.to_string());
                continue;
            }
        };
        let item = WorkItem::new(connection.clone(), doc_type, document_id, WorkSource::Poll, now);
        if progress.keys.insert(item.document_key()) {
            messages.push(Outgoing::document(item, slot_owner, level));
        }
    }
    messages
}

/// What [`send_all`] managed.
#[derive(Debug, Default)]
struct Sent {
    queued: usize,
    /// Documents SQS refused twice, in words.
    refused: Vec<String>,
    /// A batch call failed as a whole: the rest was not sent.
    error: Option<StoreError>,
}

/// Sends in batches of at most ten. Entries SQS refuses are sent once more
/// (the same deduplication id makes that harmless); still refused, they
/// are reported. A batch call that fails as a whole stops the sending.
async fn send_all<F, Fut>(messages: Vec<Outgoing>, send: F) -> Sent
where
    F: Fn(Vec<Outgoing>) -> Fut,
    Fut: Future<Output = Result<Vec<(Outgoing, String)>, StoreError>>,
{
    let mut sent = Sent::default();
    for batch in messages.chunks(MAX_BATCH) {
        let refused = match send(batch.to_vec()).await {
            Ok(refused) => refused,
            Err(e) => {
                sent.error = Some(e);
                return sent;
            }
        };
        sent.queued += batch.len() - refused.len();
        if refused.is_empty() {
            continue;
        }
        let again: Vec<Outgoing> = refused.into_iter().map(|(m, _)| m).collect();
        let tried = again.len();
        match send(again).await {
            Ok(still) => {
                sent.queued += tried - still.len();
                sent.refused.extend(
                    still.into_iter().map(|(m, why)| format!("{} {}: {why}", m.item.document_type, m.item.document_id)),
                );
            }
            Err(e) => {
                sent.error = Some(e);
                return sent;
            }
        }
    }
    sent
}

fn known_note(known: usize) -> String {
    if known == 0 { String::new() } else { format!(" ({known} READY documents already in the ledger were skipped)") }
}

fn first_problems(problems: &[String]) -> String {
    let mut text = problems.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
    if problems.len() > 3 {
        text.push_str(&format!("; and {} more", problems.len() - 3));
    }
    text
}

fn read_summary(progress: &Progress) -> String {
    let per_type: Vec<String> = progress.read_by_type.iter().map(|(t, n)| format!("{t} {n}")).collect();
    if per_type.is_empty() {
        format!("{} READY documents", progress.read)
    } else {
        format!("{} READY documents ({})", progress.read, per_type.join(", "))
    }
}

#[cfg(test)]
mod tests;
