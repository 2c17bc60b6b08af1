//! The floor of a cold start that talks to AWS: the AWS configuration loaded and the DynamoDB, SQS and Secrets
//! Manager clients built at init, as every function does. With `HELLO_SECRET_ID` it also reads that secret at
//! init, and with `HELLO_TABLE` each invocation reads one item of that table: the AWS calls a function makes on
//! its cold path, so that they are measured in the reference too.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let _sqs = aws_sdk_sqs::Client::new(&sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    if let Ok(secret) = std::env::var("HELLO_SECRET_ID") {
        secrets.get_secret_value().secret_id(secret).send().await?;
    }
    let table = std::env::var("HELLO_TABLE").ok();
    let dynamodb = &dynamodb;
    let table = &table;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        if let Some(table) = table {
            let text = |s: &str| aws_sdk_dynamodb::types::AttributeValue::S(s.into());
            dynamodb
                .get_item()
                .table_name(table)
                .key("connection_id", text("hello"))
                .key("item", text("settings"))
                .send()
                .await?;
        }
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
