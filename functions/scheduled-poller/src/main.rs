//! Cold start: build the clients once, then serve scheduler ticks.

use lambda_runtime::{LambdaEvent, service_fn};
use platform::{Env, connections::ConnectionStore};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    platform::telemetry::init();
    let env = Env::process();
    let sdk = platform::aws::sdk_config().await;
    let connections = ConnectionStore::new(aws_sdk_dynamodb::Client::new(&sdk), env.required("CONNECTIONS_TABLE")?);
    lambda_runtime::run(service_fn(|_tick: LambdaEvent<serde_json::Value>| {
        let connections = &connections;
        async move {
            let report = scheduled_poller::handle(connections).await?;
            tracing::info!(due = report.due.len(), skipped = report.skipped.len(), "tick handled");
            Ok::<(), lambda_runtime::Error>(())
        }
    }))
    .await
}
