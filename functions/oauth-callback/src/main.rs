//! Cold start: build what the handler needs once, then serve requests.

use oauth_callback::quick_connect::QuickConnect;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (env, aws) = platform::startup::start(env!("CARGO_CRATE_NAME")).await;
    let connector = platform::startup::ready(QuickConnect::from_env(&env, &aws))?;
    platform::http_api::serve(|request| oauth_callback::handle(&connector, request)).await
}
