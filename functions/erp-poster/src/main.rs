//! Cold start: build the clients once, then serve SQS batches.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use domain::{Failure, ReferenceSyncRequest, WorkItem};
use erp_poster::DocumentPipeline;
use lambda_runtime::{LambdaEvent, service_fn};

/// Until the posting steps are deployed (issue 5), every document is left on
/// the queue: retried, then parked in the dead-letter queue for redrive.
/// Nothing is acknowledged in Concur and nothing is lost.
struct PipelineNotDeployed;

impl DocumentPipeline for PipelineNotDeployed {
    async fn process(&self, item: &WorkItem) -> Result<(), Failure> {
        Err(Failure::retryable(
            format!(
                "{} {} of connection {} waits: the posting pipeline is not deployed in this build",
                item.document_type, item.document_id, item.connection_id
            ),
            None,
        ))
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
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    platform::telemetry::init();
    let pipeline = PipelineNotDeployed;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let pipeline = &pipeline;
        async move {
            let (response, outcome) = erp_poster::handle(pipeline, event.payload).await;
            tracing::info!(?outcome, "batch handled");
            Ok::<SqsBatchResponse, lambda_runtime::Error>(response)
        }
    }))
    .await
}
