//! Cold start: build the stores and clients once, then serve inbox queue batches.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (env, aws) = platform::startup::start(env!("CARGO_CRATE_NAME")).await;
    let options = file_intake::IntakeOptions::default();
    let intake = platform::startup::ready(file_intake::FileIntake::from_env(&env, &aws, options).await)?;
    let intake = &intake;
    // One inbox message at a time (the template's BatchSize 1): a file can take minutes.
    let serve = |event: lambda_runtime::LambdaEvent<aws_lambda_events::sqs::SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(file_intake::handle(intake, event.payload).await)
    };
    lambda_runtime::run(lambda_runtime::service_fn(serve)).await
}
