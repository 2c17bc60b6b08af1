//! Cold start: build what the handler needs once, then serve deliveries.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use event_intake::LiveIntake;
use lambda_runtime::{LambdaEvent, service_fn};
use platform::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    platform::telemetry::init();
    let sdk = platform::aws::sdk_config().await;
    // A missing or invalid key must stop the cold start: an intake that
    // cannot verify would refuse (or worse, accept) every delivery.
    let intake = LiveIntake::from_env(&Env::process(), &sdk).map_err(|e| {
        tracing::error!(error = %e, "event-intake cannot start");
        e
    })?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let intake = &intake;
        async move { Ok::<_, lambda_runtime::Error>(event_intake::handle(intake, event.payload).await) }
    }))
    .await
}
