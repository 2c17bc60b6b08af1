//! Everything that knows AWS: the cold start every function shares
//! ([`startup`]), typed settings from the environment ([`config`]), the
//! stores built from one AWS configuration ([`Aws`]): DynamoDB repositories,
//! Secrets Manager with a TTL cache, the SQS work queue; and logging.
//! Functions build their stores once per cold start and hand them to their
//! handlers; no crate outside this one names an AWS SDK type.

pub mod audit;
pub mod aws;
pub mod concur_grants;
pub mod config;
pub mod connections;
pub mod http_api;
pub mod ledger;
pub mod mappings;
pub mod queue;
pub mod secrets;
pub mod startup;
pub mod telemetry;

pub use aws::Aws;
pub use config::{AuditSettings, CommonSettings, ConcurSettings, ConfigError, DocumentFlowSettings, Env, SetupError};

/// A failed AWS call, with what was being done in words an operator can act on.
#[derive(Debug, thiserror::Error)]
#[error("{action}: {message}")]
pub struct StoreError {
    pub action: String,
    pub message: String,
    /// A conditional write found the item in another state than required
    /// (it exists / does not exist / changed): callers may re-read and decide.
    pub conflict: bool,
}

impl StoreError {
    pub fn new(action: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Self { action: action.into(), message: err.to_string(), conflict: false }
    }

    pub fn conflict(action: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Self { conflict: true, ..Self::new(action, err) }
    }
}

/// SDK errors print only "service error" by default; this digs out the code
/// and message so logs and the audit trail say what AWS said.
pub fn sdk_error_message<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(service) => {
            format!("{}: {}", service.code().unwrap_or("ServiceError"), service.message().unwrap_or("no message"))
        }
        None => format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(err)),
    }
}
