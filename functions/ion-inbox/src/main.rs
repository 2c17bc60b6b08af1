//! Cold start: build the stores once, then serve ION's calls.

use ion_inbox::Inbox;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (env, aws) = platform::startup::start(env!("CARGO_CRATE_NAME")).await;
    let inbox = platform::startup::ready(Inbox::from_env(&env, &aws))?;
    platform::http_api::serve(|request| ion_inbox::handle(&inbox, request)).await
}
