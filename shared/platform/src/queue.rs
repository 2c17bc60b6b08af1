//! The FIFO work queue: producers send work items with a message group per
//! connection slot and an explicit deduplication id.

use aws_sdk_sqs::{
    Client,
    types::{MessageSystemAttributeName, SendMessageBatchRequestEntry},
};
use domain::{MessageGroupId, ReferenceSyncRequest, WorkItem};

use crate::StoreError;

/// SQS takes at most ten messages per batch (and per receive).
pub const MAX_BATCH: usize = 10;

/// Longest FIFO deduplication id SQS accepts.
pub const MAX_DEDUP_ID: usize = 128;

/// How long a message received for a redrive stays invisible in the
/// dead-letter queue: plenty for one send and one delete.
const REDRIVE_VISIBILITY_SECS: i32 = 60;

/// A work item ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub item: WorkItem,
    pub group: MessageGroupId,
    /// FIFO deduplication id (≤128 chars of `[A-Za-z0-9!-~]`): the webhook
    /// event id, or connection + document for polls.
    pub dedup_id: String,
}

impl Outgoing {
    /// A document's work item in its slot's message group, deduplicated by
    /// connection + document: every delivery of the same document within
    /// SQS's 5-minute window — webhook repeats, out-of-order events, a poll
    /// racing a webhook — becomes one message. Later repeats are harmless:
    /// the poster's ledger claim posts each document once.
    pub fn document(item: WorkItem, slot_owner: &domain::ConnectionId, level: domain::ConcurrencyLevel) -> Self {
        let group = MessageGroupId::for_document(slot_owner, level, &item.document_key());
        let dedup_id = format!("{}#{}", item.connection_id, item.document_key());
        Self { item, group, dedup_id }
    }

    /// An operator's replay of a document: the same message group as
    /// [`Outgoing::document`] (so it never runs beside another delivery of
    /// the same document), but a deduplication id of its own,
    /// `connection#doctype#id#replay-<n>`, so SQS does not swallow it when
    /// the document was queued within the last five minutes.
    /// `replay_number` is the ledger's replay count after the reset (or, for
    /// a document that was not FAILED, a timestamp): each replay differs.
    /// Ids that would exceed [`MAX_DEDUP_ID`] (long connection ids) name
    /// the document by a hash of its key instead.
    pub fn replay(
        item: WorkItem,
        slot_owner: &domain::ConnectionId,
        level: domain::ConcurrencyLevel,
        replay_number: u64,
    ) -> Self {
        Self::with_suffix(item, slot_owner, level, &format!("#replay-{replay_number}"))
    }

    /// The ledger's sweeper re-queueing a document that nothing else moved
    /// by its due time: like [`Outgoing::replay`], a deduplication id of its
    /// own (`…#sweep-<due epoch>`), so SQS does not swallow it as a repeat
    /// of a message sent less than five minutes ago.
    pub fn sweep(
        item: WorkItem,
        slot_owner: &domain::ConnectionId,
        level: domain::ConcurrencyLevel,
        due_epoch: i64,
    ) -> Self {
        Self::with_suffix(item, slot_owner, level, &format!("#sweep-{due_epoch}"))
    }

    fn with_suffix(
        item: WorkItem,
        slot_owner: &domain::ConnectionId,
        level: domain::ConcurrencyLevel,
        suffix: &str,
    ) -> Self {
        let group = MessageGroupId::for_document(slot_owner, level, &item.document_key());
        let mut dedup_id = format!("{}#{}{suffix}", item.connection_id, item.document_key());
        if dedup_id.len() > MAX_DEDUP_ID {
            dedup_id = format!("{}#h{:016x}{suffix}", item.connection_id, fnv1a(item.document_key().as_bytes()));
        }
        Self { item, group, dedup_id }
    }
}

/// FNV-1a, 64 bit: stable across processes; only shortens over-long
/// deduplication ids.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A [`WorkQueue::redrive_from`] round that stopped part-way.
#[derive(Debug)]
pub struct RedriveError {
    /// Messages moved (sent and deleted from the dead-letter queue) before it stopped.
    pub moved: usize,
    pub error: StoreError,
}

#[derive(Clone)]
pub struct WorkQueue {
    client: Client,
    url: String,
}

impl WorkQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    /// The URL of the queue named `name` in this account and region;
    /// `None` when there is no such queue.
    pub async fn url_of(client: &Client, name: &str) -> Result<Option<String>, StoreError> {
        match client.get_queue_url().queue_name(name).send().await {
            Ok(out) => match out.queue_url {
                Some(url) => Ok(Some(url)),
                None => Err(StoreError::new(format!("looking up queue {name}"), "SQS returned no queue URL")),
            },
            Err(e) if e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist()) => Ok(None),
            Err(e) => Err(StoreError::new(format!("looking up queue {name}"), sqs_message(&e))),
        }
    }

    /// Brings a received message back after `after` (its visibility timeout,
    /// at most SQS's 12 hours) rather than after the queue's own timeout.
    /// A failure is only logged: the queue's timeout brings it back anyway.
    pub async fn defer(&self, receipt_handle: &str, after: std::time::Duration) {
        const MAX_VISIBILITY_SECS: i32 = 43_200;
        let seconds = i32::try_from(after.as_secs()).unwrap_or(i32::MAX).min(MAX_VISIBILITY_SECS);
        if let Err(e) = self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
        {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "could not shorten the retry wait");
        }
    }

    /// Moves up to `max` (at most [`MAX_BATCH`]) messages from the FIFO
    /// dead-letter queue at `dlq_url` back to this queue, in order: each
    /// keeps its body and message group and gets a fresh deduplication id,
    /// `redrive-<dead-letter message id>` (so a repeat of the same move
    /// within five minutes, after a failed delete, is deduplicated). A
    /// message is deleted from the dead-letter queue only after it was
    /// sent. Returns how many moved; 0 means no message was visible.
    /// Stops at the first failure: the messages not moved stay in the
    /// dead-letter queue (visible again after a minute).
    pub async fn redrive_from(&self, dlq_url: &str, max: usize) -> Result<usize, RedriveError> {
        let stop =
            |moved, action: String, message: String| RedriveError { moved, error: StoreError::new(action, message) };
        let received = self
            .client
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(i32::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(1))
            .visibility_timeout(REDRIVE_VISIBILITY_SECS)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .map_err(|e| stop(0, format!("receiving from {dlq_url}"), sqs_message(&e)))?;
        let mut moved = 0;
        for message in received.messages.unwrap_or_default() {
            let id = message.message_id.clone().unwrap_or_default();
            let action = format!("moving message {id} from {dlq_url} to {}", self.url);
            let group = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned()
                .ok_or_else(|| {
                    stop(moved, action.clone(), "it has no message group id (is the dead-letter queue FIFO?)".into())
                })?;
            let handle = message
                .receipt_handle
                .as_deref()
                .ok_or_else(|| stop(moved, action.clone(), "SQS returned no receipt handle".into()))?;
            self.client
                .send_message()
                .queue_url(&self.url)
                .message_body(message.body.as_deref().unwrap_or_default())
                .message_group_id(group)
                .message_deduplication_id(format!("redrive-{id}"))
                .send()
                .await
                .map_err(|e| stop(moved, action.clone(), format!("sending failed: {}", sqs_message(&e))))?;
            self.client.delete_message().queue_url(dlq_url).receipt_handle(handle).send().await.map_err(|e| {
                let why = format!(
                    "it was sent, but deleting it from the dead-letter queue failed: {} (a redrive within five \
                     minutes does not send it twice)",
                    sqs_message(&e)
                );
                stop(moved, action.clone(), why)
            })?;
            moved += 1;
        }
        Ok(moved)
    }

    pub async fn send(&self, message: &Outgoing) -> Result<(), StoreError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(message.item.to_json())
            .message_group_id(message.group.as_str())
            .message_deduplication_id(&message.dedup_id)
            .send()
            .await
            .map_err(|e| StoreError::new(format!("queueing {}", describe(&message.item)), sqs_message(&e)))?;
        Ok(())
    }

    /// Queues an asynchronous ERP's verdict in its document's own message
    /// group (so it is handled after the posting it answers), deduplicated
    /// by the answered message, part and verdict: ION delivering the same
    /// acknowledgement twice becomes one message.
    pub async fn send_outcome(
        &self,
        outcome: &domain::ErpOutcome,
        slot_owner: &domain::ConnectionId,
        level: domain::ConcurrencyLevel,
    ) -> Result<(), StoreError> {
        let group = MessageGroupId::for_document(slot_owner, level, &outcome.document_key());
        let fingerprint = format!("{}|{}|{}", outcome.answers, outcome.part, outcome.accepted);
        let dedup_id = format!("verdict#{:016x}#{}", fnv1a(fingerprint.as_bytes()), u8::from(outcome.accepted));
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(outcome.to_json())
            .message_group_id(group.as_str())
            .message_deduplication_id(dedup_id)
            .send()
            .await
            .map_err(|e| {
                StoreError::new(
                    format!(
                        "queueing the ERP verdict on {} of connection {}",
                        outcome.document_key(),
                        outcome.connection_id
                    ),
                    sqs_message(&e),
                )
            })?;
        Ok(())
    }

    /// Queues a reference-data sync for one connection.
    pub async fn send_reference_sync(&self, request: &ReferenceSyncRequest) -> Result<(), StoreError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(request.to_json())
            .message_group_id(request.group())
            .message_deduplication_id(request.dedup_id())
            .send()
            .await
            .map_err(|e| {
                StoreError::new(
                    format!("queueing a reference sync for connection {}", request.connection_id),
                    sqs_message(&e),
                )
            })?;
        Ok(())
    }

    /// Sends up to ten messages; returns the ones SQS refused so the caller
    /// can retry or report them (a batch can partly fail).
    pub async fn send_batch(&self, messages: &[Outgoing]) -> Result<Vec<(Outgoing, String)>, StoreError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        if messages.len() > MAX_BATCH {
            return Err(StoreError::new(
                "queueing a batch",
                format!("{} messages given; SQS takes at most {MAX_BATCH}", messages.len()),
            ));
        }
        let entries = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(m.item.to_json())
                    .message_group_id(m.group.as_str())
                    .message_deduplication_id(&m.dedup_id)
                    .build()
                    .map_err(|e| StoreError::new("queueing a batch", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| StoreError::new("queueing a batch", sqs_message(&e)))?;
        Ok(out
            .failed
            .into_iter()
            .filter_map(|f| {
                let index: usize = f.id.parse().ok()?;
                Some((messages.get(index)?.clone(), f.message.unwrap_or(f.code)))
            })
            .collect())
    }
}

fn describe(item: &WorkItem) -> String {
    format!("{} {} of connection {}", item.document_type, item.document_id, item.connection_id)
}

fn sqs_message<E, R>(err: &aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(s) => format!("{}: {}", s.code().unwrap_or("ServiceError"), s.message().unwrap_or("no message")),
        None => format!("{}", aws_sdk_sqs::error::DisplayErrorContext(err)),
    }
}

#[cfg(test)]
mod tests {
    use domain::{ConcurDocumentId, ConcurrencyLevel, ConnectionId, DocumentType, WorkSource};

    use super::*;

    fn item(connection: &str, id: &str) -> WorkItem {
        WorkItem::new(
            ConnectionId::parse(connection).unwrap(),
            DocumentType::CashAdvance,
            ConcurDocumentId::parse(id).unwrap(),
            WorkSource::Replay,
            time::macros::datetime!(2026-11-23 10:00 UTC),
        )
    }

    fn valid_dedup_id(id: &str) -> bool {
        !id.is_empty() && id.len() <= MAX_DEDUP_ID && id.bytes().all(|b| (b'!'..=b'~').contains(&b))
    }

    #[test]
    fn a_replay_keeps_the_group_and_gets_its_own_dedup_id() {
        let owner = ConnectionId::parse("lender").unwrap();
        let level = ConcurrencyLevel::new(7).unwrap();
        let normal = Outgoing::document(item("acme", "E7F810CA"), &owner, level);
        let first = Outgoing::replay(item("acme", "E7F810CA"), &owner, level, 1);
        let second = Outgoing::replay(item("acme", "E7F810CA"), &owner, level, 2);
        assert_eq!(first.group, normal.group);
        assert_eq!(first.dedup_id, "acme#cashadvance#E7F810CA#replay-1");
        assert_ne!(first.dedup_id, normal.dedup_id);
        assert_ne!(first.dedup_id, second.dedup_id);
    }

    #[test]
    fn replay_dedup_ids_stay_within_what_sqs_takes() {
        let longest = "c".repeat(64);
        let owner = ConnectionId::parse(&longest).unwrap();
        let level = ConcurrencyLevel::lowest();
        let a = Outgoing::replay(item(&longest, &"A".repeat(32)), &owner, level, u64::MAX);
        let b = Outgoing::replay(item(&longest, &"B".repeat(32)), &owner, level, u64::MAX);
        assert!(valid_dedup_id(&a.dedup_id) && valid_dedup_id(&b.dedup_id), "{} / {}", a.dedup_id, b.dedup_id);
        assert_ne!(a.dedup_id, b.dedup_id, "different documents keep different ids");
        assert!(a.dedup_id.ends_with(&format!("#replay-{}", u64::MAX)));
        let usual = Outgoing::replay(item("acme", &"A".repeat(32)), &owner, level, 1_763_942_813_123_456);
        assert!(valid_dedup_id(&usual.dedup_id) && usual.dedup_id.starts_with("acme#cashadvance#AAAA"));
    }
}

/// The inbox queue (issue 15): a standard queue (S3 notifies no FIFO queue) that `file-intake` consumes. The
/// poller asks it to take a connection's new files; S3 notices of dropped files arrive on it by themselves.
#[derive(Clone)]
pub struct InboxQueue {
    client: Client,
    url: String,
}

impl InboxQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    /// Asks `file-intake` to take a connection's new files. Sent twice, the second run finds the lease or
    /// the files already taken.
    pub async fn send_files_request(&self, request: &domain::inbox::FilesRequest) -> Result<(), StoreError> {
        self.client.send_message().queue_url(&self.url).message_body(request.to_json()).send().await.map_err(|e| {
            StoreError::new(format!("asking for connection {}'s files", request.connection_id), sqs_message(&e))
        })?;
        Ok(())
    }
}
