//! Cold start: build what the handler needs once, then serve deliveries.
//! A missing or invalid key stops the cold start: an intake that cannot
//! verify would refuse (or worse, accept) every delivery.

use event_intake::LiveIntake;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (env, aws) = platform::startup::start(env!("CARGO_CRATE_NAME")).await;
    let intake = platform::startup::ready(LiveIntake::from_env(&env, &aws))?;
    platform::http_api::serve(|request| event_intake::handle(&intake, request)).await
}
