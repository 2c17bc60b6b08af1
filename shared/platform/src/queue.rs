//! The FIFO work queue: producers send work items with a message group per
//! connection slot and an explicit deduplication id.

use aws_sdk_sqs::{Client, types::SendMessageBatchRequestEntry};
use domain::{MessageGroupId, ReferenceSyncRequest, WorkItem};

use crate::StoreError;

/// SQS takes at most ten messages per batch.
pub const MAX_BATCH: usize = 10;

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
