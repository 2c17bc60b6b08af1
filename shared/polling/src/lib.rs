//! The Financial Integration poll of one connection: read its READY
//! documents and queue one work item each. Shared by `scheduled-poller`
//! (every due connection, every tick) and the operator CLI
//! (`connector poll ID --now`), so an on-demand poll is the same poll.
//!
//! Nothing is acknowledged here: the poster does that when it takes a
//! document on, so a document seen but not queued simply stays READY for
//! the next poll. Queuing a document twice is harmless (FIFO deduplication
//! within 5 minutes, and the poster's ledger after that), which is why a
//! poll run by hand may overlap a scheduled one.
//!
//! - `last_poll_at` moves only when every enabled type was read to its
//!   last page and every document was queued.
//! - A failure (Concur refusing, a dead refresh token, our own stores) is
//!   recorded in `last_poll_error` and as an audit event.
//! - Where the poll stopped (deadline, page budget) is kept as the
//!   connection's poll cursor, so a type with a large backlog never keeps
//!   the others waiting.

use std::collections::HashSet;
use std::time::Instant;

use concur::fi::{DocumentPage, FiDocument, WorkIdSource};
use concur::{ConcurError, GrantStore, TokenManager};
use domain::clock::rfc3339_seconds;
use domain::{ConcurrencyLevel, Connection, ConnectionId, DocumentType, WorkItem, WorkSource};
use platform::StoreError;
use platform::audit::AuditLog;
use platform::connections::ConnectionStore;
use platform::ledger::{LedgerKey, LedgerStore};
use platform::queue::{InboxQueue, MAX_BATCH, Outgoing, WorkQueue};
use time::OffsetDateTime;

/// What a poll reads and writes, borrowed from its owner (the poller's
/// cold start, or the CLI's).
pub struct ConnectionPoller<'a, S> {
    pub connections: &'a ConnectionStore,
    /// Asked which READY documents it already knows (read-only flows).
    pub ledger: &'a LedgerStore,
    pub audit: &'a AuditLog,
    pub queue: &'a WorkQueue,
    /// Where the connections that take extract files have them taken (`file-intake`).
    pub inbox: &'a InboxQueue,
    pub tokens: &'a TokenManager<S>,
    /// Most FI pages one poll reads; the poll cursor continues from there.
    pub page_budget: u32,
}

/// How one connection's poll ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// Every enabled type read to its last page, every document queued.
    Completed,
    /// The deadline or the page budget came first; still due, the next
    /// poll goes on from where this one stopped.
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
    /// READY documents skipped because the ledger knows them (read-only flows).
    pub known: usize,
    /// The keys (`<type>#<id>`) of the documents the queue accepted, in the order read.
    pub queued_documents: Vec<String>,
}

impl ConnectionPoll {
    /// Work items the queue accepted.
    pub fn queued(&self) -> usize {
        self.queued_documents.len()
    }
}

/// What one connection's poll has done so far.
#[derive(Default)]
struct Progress {
    read: usize,
    /// READY documents read per type, for the audit.
    read_by_type: Vec<(DocumentType, usize)>,
    /// The keys of the documents the queue accepted.
    queued_documents: Vec<String>,
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

/// Polls `connection` once, whatever its schedule (the caller decides that):
/// reads its READY documents from where its last poll stopped and queues
/// them, until the last page, `deadline` or the page budget. Records the
/// result on the connection and in the audit; never fails as a whole.
pub async fn poll_connection<S: GrantStore>(
    poller: &ConnectionPoller<'_, S>,
    connection: &Connection,
    now: OffsetDateTime,
    deadline: Instant,
) -> ConnectionPoll {
    let id = &connection.connection_id;
    let mut progress = Progress::default();
    let outcome = match read_and_queue(poller, connection, now, deadline, &mut progress).await {
        Ok(Reached::Deadline) => PollOutcome::Stopped,
        Ok(Reached::LastPage) if progress.problems.is_empty() => PollOutcome::Completed,
        Ok(Reached::LastPage) => PollOutcome::Failed {
            reason: format!(
                "{} of the {} READY documents read could not be queued ({}); they stay READY in Concur and the next \
                 poll tries again",
                progress.problems.len(),
                progress.read,
                first_problems(&progress.problems)
            ),
        },
        Err(failure) => PollOutcome::Failed { reason: failure.to_string() },
    };

    let outcome = record(poller, id, outcome, &progress, now).await;
    match &outcome {
        PollOutcome::Failed { reason } => {
            tracing::warn!(connection = %id, read = progress.read, queued = progress.queued_documents.len(), %reason, "poll failed");
        }
        other => tracing::info!(connection = %id, read = progress.read, queued = progress.queued_documents.len(),
            outcome = ?other, "polled"),
    }
    ConnectionPoll {
        connection_id: id.to_string(),
        outcome,
        read: progress.read,
        known: progress.known,
        queued_documents: progress.queued_documents,
    }
}

/// Records how the poll ended: on the connection (`last_poll_at` on
/// success, `last_poll_error` on failure) and as the poll's audit event.
/// A success that cannot be recorded is a failure: the next poll reads again.
async fn record<S: GrantStore>(
    poller: &ConnectionPoller<'_, S>,
    id: &ConnectionId,
    mut outcome: PollOutcome,
    progress: &Progress,
    now: OffsetDateTime,
) -> PollOutcome {
    let stamp = rfc3339_seconds(now);
    let (audit_outcome, detail) = match &outcome {
        PollOutcome::Completed => match poller.connections.record_poll_success(id, &stamp).await {
            Ok(()) => (
                "ok",
                format!(
                    "read {}; queued {} work items{}",
                    read_summary(progress),
                    progress.queued_documents.len(),
                    known_note(progress.known)
                ),
            ),
            Err(e) => {
                let reason = format!("the documents were queued, but {e}; the next poll reads them again");
                outcome = PollOutcome::Failed { reason: reason.clone() };
                ("failed", reason)
            }
        },
        PollOutcome::Failed { reason } => {
            if let Err(e) = poller.connections.record_poll_failure(id, &format!("{stamp}: {reason}")).await {
                tracing::error!(connection = %id, error = %e, "recording the poll failure on the connection failed");
            }
            (
                "failed",
                format!("{reason} (read {}; queued {})", read_summary(progress), progress.queued_documents.len()),
            )
        }
        PollOutcome::Stopped => (
            "skipped",
            format!(
                "stopped at the deadline or the page budget after reading {} and queuing {} work items{}; still \
                 due, the next poll goes on from there",
                read_summary(progress),
                progress.queued_documents.len(),
                known_note(progress.known)
            ),
        ),
    };
    let mut event = poller.audit.event(id.as_str(), "connection", "poll", audit_outcome);
    event.detail = Some(detail);
    if let Err(e) = poller.audit.record(&event).await {
        tracing::warn!(connection = %id, error = %e, "recording the poll's audit event failed");
    }
    outcome
}

/// Asks `file-intake` to take the connection's new extract or payment batch files (its posting source
/// reads files).
async fn request_files<S: GrantStore>(
    poller: &ConnectionPoller<'_, S>,
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
    poller: &ConnectionPoller<'_, S>,
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
            progress.queued_documents.extend(sent.queued);
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
    poller: &ConnectionPoller<'_, S>,
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
    poller: &ConnectionPoller<'_, S>,
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
    /// The keys of the documents the queue accepted.
    queued: Vec<String>,
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
        let mut refused = match send(batch.to_vec()).await {
            Ok(refused) => refused,
            Err(e) => {
                sent.error = Some(e);
                return sent;
            }
        };
        if !refused.is_empty() {
            let again: Vec<Outgoing> = refused.into_iter().map(|(m, _)| m).collect();
            refused = match send(again).await {
                Ok(still) => still,
                Err(e) => {
                    sent.error = Some(e);
                    return sent;
                }
            };
        }
        let still: HashSet<&str> = refused.iter().map(|(m, _)| m.dedup_id.as_str()).collect();
        sent.queued
            .extend(batch.iter().filter(|m| !still.contains(m.dedup_id.as_str())).map(|m| m.item.document_key()));
        sent.refused
            .extend(refused.iter().map(|(m, why)| format!("{} {}: {why}", m.item.document_type, m.item.document_id)));
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
