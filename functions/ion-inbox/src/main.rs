//! Cold start: build the stores once, then serve ION's calls.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use ion_inbox::Inbox;
use lambda_runtime::{LambdaEvent, service_fn};
use platform::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    platform::telemetry::init();
    let sdk = platform::aws::sdk_config().await;
    let inbox = Inbox::from_env(&Env::process(), &sdk)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let inbox = &inbox;
        async move { Ok::<_, lambda_runtime::Error>(ion_inbox::handle(inbox, event.payload).await) }
    }))
    .await
}
