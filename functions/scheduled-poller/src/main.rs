//! Cold start: build the clients once (stores, queue, the Concur token
//! manager with the app credentials), then serve scheduler ticks.

use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use scheduled_poller::{Poller, PollerOptions};

/// Stop starting work this long before the Lambda's own timeout: room for
/// a token refresh already under way (≤5 s lease wait + ≤25 s of token
/// calls) and the connection and audit writes that close each poll.
const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (env, aws) = platform::startup::start(env!("CARGO_CRATE_NAME")).await;
    let poller = platform::startup::ready(Poller::from_env(&env, &aws, PollerOptions::default()).await)?;
    lambda_runtime::run(service_fn(|tick: LambdaEvent<serde_json::Value>| {
        let poller = &poller;
        async move {
            // The digest's and the webhook check's schedules name their run; the poll's sends its own event.
            match tick.payload.get("run").and_then(serde_json::Value::as_str) {
                Some("digest") => {
                    let report = scheduled_poller::digest::run(&poller.digest, time::OffsetDateTime::now_utc()).await?;
                    tracing::info!(since = %report.since, until = %report.until, sent = report.sent.is_some(), "digest handled");
                    return Ok(());
                }
                Some("webhooks") => {
                    scheduled_poller::webhooks::reassert(poller).await?;
                    return Ok(());
                }
                _ => {}
            }
            let deadline = scheduled_poller::deadline_before(tick.context.deadline(), DEADLINE_MARGIN);
            let report = scheduled_poller::handle(poller, time::OffsetDateTime::now_utc(), deadline).await?;
            report.log();
            Ok::<(), lambda_runtime::Error>(())
        }
    }))
    .await
}
