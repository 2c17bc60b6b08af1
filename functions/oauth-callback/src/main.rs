//! Cold start: build what the handler needs once, then serve requests.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use oauth_callback::quick_connect::QuickConnect;
use platform::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    platform::telemetry::init();
    let sdk = platform::aws::sdk_config().await;
    let connector = QuickConnect::from_env(&Env::process(), &sdk)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let connector = &connector;
        async move { Ok::<_, lambda_runtime::Error>(oauth_callback::handle(connector, event.payload).await) }
    }))
    .await
}
