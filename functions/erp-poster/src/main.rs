//! Cold start: build the clients once (stores, the Concur token manager,
//! the per-connection ERP clients), then serve SQS batches.

// The handler's future (pipeline → token manager → refresh → stores) is deeper than the compiler's default
// layout depth.
#![recursion_limit = "256"]

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use erp_poster::{Poster, PosterOptions};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (env, aws) = platform::startup::start(env!("CARGO_CRATE_NAME")).await;
    let poster = platform::startup::ready(Poster::from_env(&env, &aws, PosterOptions::default()).await)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let poster = &poster;
        async move {
            let deadline = erp_poster::deadline_instant(event.context.deadline);
            let (response, outcome) = erp_poster::handle(poster, event.payload, &poster.rules, Some(deadline)).await;
            tracing::info!(?outcome, "batch handled");
            Ok::<SqsBatchResponse, lambda_runtime::Error>(response)
        }
    }))
    .await
}
