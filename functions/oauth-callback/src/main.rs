//! Cold start: build what the handler needs once, then serve requests.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use oauth_callback::{ConnectOutcome, ConnectRequest, Connector};

/// Until the Concur exchange is deployed (issue 3) a valid link gets the
/// "not available yet" page and nothing is stored.
struct ExchangeNotDeployed;

impl Connector for ExchangeNotDeployed {
    async fn connect(&self, _request: ConnectRequest) -> ConnectOutcome {
        ConnectOutcome::NotAvailable
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    platform::telemetry::init();
    let connector = ExchangeNotDeployed;
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let connector = &connector;
        async move { Ok::<_, lambda_runtime::Error>(oauth_callback::handle(connector, event.payload).await) }
    }))
    .await
}
