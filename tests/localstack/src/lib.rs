//! The local AWS stack, provisioned from `infra/template.yaml` (one source of
//! truth): the template's DynamoDB tables, SQS queues, S3 buckets (with their
//! queue notifications) and the Concur app secret are created through the AWS SDK (against moto, started by
//! `infra/local/with-stack.sh`), and every function's environment is resolved
//! the way CloudFormation would resolve it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), localstack::ProvisionError> {
//! let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let app = serde_json::json!({"client_id": "id", "client_secret": "s", "app_base_url": "http://127.0.0.1:1"});
//! let stack = localstack::provision(&sdk, "demo", &app).await?;
//! let env = stack.function_env("ErpPosterFunction"); // LEDGER_TABLE, WORK_QUEUE_URL, …
//! # let _ = env; Ok(()) }
//! ```

pub mod provision;
pub mod resolve;
pub mod template;

pub use provision::{
    APP_SECRET_METADATA, APP_SECRET_PARAMETER, ProvisionError, ProvisionOptions, ProvisionedStack, check_app_secret,
    provision, provision_with, resolve_function_env, s3_client,
};
pub use resolve::{MOTO_ACCOUNT_ID, ResolveError, ResourceValue, StackValues, stack_uuid};
pub use template::{
    BUNDLED_TEMPLATE, BucketSpec, FunctionSpec, IndexSpec, KeyAttribute, Projection, QueueNotificationSpec, QueueSpec,
    RedriveSpec, SecretKeys, SecretSpec, TableSpec, Template, TemplateError,
};
