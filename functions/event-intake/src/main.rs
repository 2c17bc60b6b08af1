//! Cold start: build what the handler needs once, then serve deliveries.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use event_intake::{Intake, IntakeOutcome};
use lambda_runtime::{LambdaEvent, service_fn};

/// Until verification and queueing are deployed (issue 4), ESS is asked to
/// retry (503), so every event is delivered again once they are.
struct IntakeNotDeployed;

impl Intake for IntakeNotDeployed {
    async fn accept(&self, _: &[u8], _: &serde_json::Value, _: &ApiGatewayV2httpRequest) -> IntakeOutcome {
        IntakeOutcome::NotAvailable
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    platform::telemetry::init();
    let intake = IntakeNotDeployed;
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let intake = &intake;
        async move { Ok::<_, lambda_runtime::Error>(event_intake::handle(intake, event.payload).await) }
    }))
    .await
}
