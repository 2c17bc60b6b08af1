//! erp-poster: consumes the FIFO work queue and reports partial batch
//! failures, so one document's transient failure never redelivers the rest.
//!
//! Per work item the pipeline is: claim in the ledger → fetch → acknowledge →
//! normalize → map → validate → post → record → confirm (see README, "How a
//! document flows"). The steps arrive behind [`DocumentPipeline`]; this
//! module owns the batch semantics that do not change with the pipeline:
//! malformed messages are recorded and dropped (they would fail forever and
//! block their FIFO group), permanent failures are recorded and dropped,
//! retryable ones are reported back to SQS for redelivery.

pub mod erp_clients;
pub mod pipeline;
mod setup;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use domain::{ErpOutcome, Failure, FailureKind, QueueMessage, ReferenceSyncRequest, WorkItem};

pub use pipeline::{FUNCTION, Poster, Processed};
pub use setup::{PosterOptions, SetupError};

/// The posting pipeline for one work item, and the reference-data sync that
/// shares its queue.
pub trait DocumentPipeline {
    fn process(&self, item: &WorkItem) -> impl std::future::Future<Output = Result<(), Failure>> + Send;

    fn reference_sync(
        &self,
        request: &ReferenceSyncRequest,
    ) -> impl std::future::Future<Output = Result<(), Failure>> + Send;

    /// An asynchronous ERP's verdict on a document it accepted for routing.
    fn erp_outcome(&self, outcome: &ErpOutcome) -> impl std::future::Future<Output = Result<(), Failure>> + Send;

    /// Makes a message that failed retryably visible again after `after`
    /// (SQS otherwise waits the queue's whole visibility timeout). Best effort.
    fn defer(
        &self,
        _receipt_handle: &str,
        _after: std::time::Duration,
    ) -> impl std::future::Future<Output = ()> + Send {
        async {}
    }
}

/// What happened to each message, for logs and tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub done: usize,
    pub malformed: usize,
    pub stopped: usize,
    pub retry: usize,
}

/// Handles one SQS batch.
pub async fn handle(pipeline: &impl DocumentPipeline, event: SqsEvent) -> (SqsBatchResponse, BatchOutcome) {
    let mut response = SqsBatchResponse::default();
    let mut outcome = BatchOutcome::default();
    for record in event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let (result, subject) = match record.body.as_deref().map(QueueMessage::from_json) {
            Some(Ok(QueueMessage::Document(item))) => {
                let subject = format!("{} of connection {}", item.document_key(), item.connection_id);
                (pipeline.process(&item).await, subject)
            }
            Some(Ok(QueueMessage::ReferenceSync(request))) => {
                let subject = format!("reference sync of connection {}", request.connection_id);
                (pipeline.reference_sync(&request).await, subject)
            }
            Some(Ok(QueueMessage::ErpOutcome(verdict))) => {
                let subject =
                    format!("ERP verdict on {} of connection {}", verdict.document_key(), verdict.connection_id);
                (pipeline.erp_outcome(&verdict).await, subject)
            }
            Some(Err(reason)) => {
                tracing::error!(message_id, %reason, "dropping a malformed work item");
                outcome.malformed += 1;
                continue;
            }
            None => {
                tracing::error!(message_id, "dropping a work item without a body");
                outcome.malformed += 1;
                continue;
            }
        };
        match result {
            Ok(()) => outcome.done += 1,
            Err(Failure { kind: FailureKind::Retryable { after }, reason }) => {
                tracing::warn!(message_id, subject, %reason, "will retry");
                if let Some(receipt) = record.receipt_handle.as_deref() {
                    pipeline.defer(receipt, backoff(after, record.attributes.get("ApproximateReceiveCount"))).await;
                }
                outcome.retry += 1;
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message_id;
                response.batch_item_failures.push(failure);
            }
            Err(failure) => {
                tracing::error!(message_id, subject, reason = %failure.reason, "stopped");
                outcome.stopped += 1;
            }
        }
    }
    (response, outcome)
}

/// When a retryable failure is looked at again: what the other side asked
/// for (Retry-After), else exponential in the delivery count with full
/// jitter — 30 s, 60 s, 120 s … capped at 15 minutes.
pub fn backoff(after: Option<std::time::Duration>, receive_count: Option<&String>) -> std::time::Duration {
    const CAP: u64 = 900;
    if let Some(after) = after {
        return after.min(std::time::Duration::from_secs(CAP));
    }
    let count: u32 = receive_count.and_then(|c| c.parse().ok()).unwrap_or(1).clamp(1, 10);
    let ceiling = (30_u64 << (count - 1)).min(CAP);
    let jittered = ceiling / 2 + rand::Rng::random_range(&mut rand::rng(), 0..=ceiling / 2);
    std::time::Duration::from_secs(jittered)
}

impl<S: concur::GrantStore> DocumentPipeline for Poster<S> {
    async fn process(&self, item: &WorkItem) -> Result<(), Failure> {
        match self.process_item(item).await {
            Ok(processed) => {
                tracing::info!(connection = %item.connection_id, document = %item.document_key(), ?processed, "done");
                Ok(())
            }
            Err(failure) => Err(pipeline::waits_for_reauth(failure)),
        }
    }

    /// The reference sync (ERP → Concur vendors and lists) is a later piece
    /// of work. Its requests are safe to acknowledge: a sync always brings
    /// the whole reference state in step, so the next request loses nothing.
    async fn reference_sync(&self, request: &ReferenceSyncRequest) -> Result<(), Failure> {
        tracing::info!(
            connection = %request.connection_id,
            reason = ?request.reason,
            "reference sync requested; this build does not sync reference data yet"
        );
        Ok(())
    }

    async fn erp_outcome(&self, outcome: &ErpOutcome) -> Result<(), Failure> {
        match self.process_outcome(outcome).await {
            Ok(processed) => {
                tracing::info!(connection = %outcome.connection_id, document = %outcome.document_key(), ?processed, "ERP verdict handled");
                Ok(())
            }
            Err(failure) => Err(pipeline::waits_for_reauth(failure)),
        }
    }

    async fn defer(&self, receipt_handle: &str, after: std::time::Duration) {
        self.defer_message(receipt_handle, after).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::SqsMessage;
    use domain::{ConcurDocumentId, ConnectionId, DocumentType, WorkSource};

    struct Scripted;

    impl DocumentPipeline for Scripted {
        async fn process(&self, item: &WorkItem) -> Result<(), Failure> {
            match item.document_id.as_str() {
                "retry" => Err(Failure::retryable("ERP answered 429", None)),
                "stop" => Err(Failure::permanent("account 9999 is not mapped")),
                _ => Ok(()),
            }
        }

        async fn reference_sync(&self, request: &ReferenceSyncRequest) -> Result<(), Failure> {
            match request.connection_id.as_str() {
                "busy" => Err(Failure::retryable("ERP answered 503", None)),
                _ => Ok(()),
            }
        }

        async fn erp_outcome(&self, _outcome: &ErpOutcome) -> Result<(), Failure> {
            Ok(())
        }
    }

    fn sync(connection: &str) -> Option<String> {
        Some(
            ReferenceSyncRequest::new(
                ConnectionId::parse(connection).unwrap(),
                domain::SyncReason::Connected,
                time::OffsetDateTime::UNIX_EPOCH,
            )
            .to_json(),
        )
    }

    fn message(id: &str, body: Option<String>) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.body = body;
        m
    }

    fn body(doc: &str) -> Option<String> {
        Some(
            WorkItem::new(
                ConnectionId::parse("acme").unwrap(),
                DocumentType::Expense,
                ConcurDocumentId::parse(doc).unwrap(),
                WorkSource::Poll,
                time::OffsetDateTime::UNIX_EPOCH,
            )
            .to_json(),
        )
    }

    #[tokio::test]
    async fn only_retryable_failures_are_reported_back() {
        let mut event = SqsEvent::default();
        event.records = vec![
            message("m1", body("ok")),
            message("m2", body("retry")),
            message("m3", body("stop")),
            message("m4", Some("{not json".into())),
            message("m5", None),
            message("m6", sync("acme")),
            message("m7", sync("busy")),
        ];
        let (response, outcome) = handle(&Scripted, event).await;
        let ids: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(ids, ["m2", "m7"]);
        assert_eq!(outcome, BatchOutcome { done: 2, malformed: 2, stopped: 1, retry: 2 });
    }
}
