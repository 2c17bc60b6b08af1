//! Cold start: build the stores and clients once, then serve inbox queue batches.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use file_intake::{FileIntake, IntakeOptions};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (env, aws) = platform::startup::start(env!("CARGO_CRATE_NAME")).await;
    let intake = platform::startup::ready(FileIntake::from_env(&env, &aws, IntakeOptions::default()).await)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let intake = &intake;
        async move { Ok::<SqsBatchResponse, lambda_runtime::Error>(file_intake::handle(intake, event.payload).await) }
    }))
    .await
}
