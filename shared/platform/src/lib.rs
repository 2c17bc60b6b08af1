//! Everything that knows AWS: the cold start every function shares
//! ([`startup`]), typed settings from the environment ([`config`]), the
//! stores built from one AWS configuration ([`Aws`]): DynamoDB repositories,
//! Secrets Manager with a TTL cache, the SQS work queue; and logging.
//! Functions build their stores once per cold start and hand them to their
//! handlers; no crate outside this one names an AWS SDK type.

pub mod audit;
pub mod aws;
pub mod aws_calls;
pub mod concur_grants;
pub mod config;
pub mod connections;
pub mod digest;
pub mod files;
pub mod http_api;
pub mod ledger;
pub mod mappings;
pub mod queue;
pub mod reference;
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

/// Our own storage failing is never the document's fault: the work is retried.
impl From<&StoreError> for domain::Failure {
    fn from(e: &StoreError) -> Self {
        domain::Failure::retryable(format!("the connector's own storage failed: {e}"), None)
    }
}

impl From<StoreError> for domain::Failure {
    fn from(e: StoreError) -> Self {
        Self::from(&e)
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

/// A DynamoDB item, as the SDK gives it.
pub(crate) type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// Puts `items` with BatchWriteItem, 25 per call, sending back what
/// DynamoDB left unprocessed (with a short pause) a few times.
pub(crate) async fn batch_put(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<Item>,
    action: &(dyn Fn() -> String + Sync),
) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    for chunk in items.chunks(25) {
        let mut pending = Vec::with_capacity(chunk.len());
        for item in chunk {
            let put = PutRequest::builder().set_item(Some(item.clone())).build();
            pending.push(WriteRequest::builder().put_request(put.map_err(|e| StoreError::new(action(), e))?).build());
        }
        for attempt in 0..5u32 {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            let out = client
                .batch_write_item()
                .request_items(table, std::mem::take(&mut pending))
                .send()
                .await
                .map_err(|e| StoreError::new(action(), sdk_error_message(&e)))?;
            pending = out.unprocessed_items.and_then(|mut u| u.remove(table)).unwrap_or_default();
        }
        if !pending.is_empty() {
            return Err(StoreError::new(action(), "DynamoDB kept writes unprocessed; the next run tries again"));
        }
    }
    Ok(())
}

/// Reads `keys` of `table` with BatchGetItem (100 keys a call; the keys
/// DynamoDB leaves unprocessed under load are asked for again, a few
/// rounds, then an error): the items found, in no particular order.
pub(crate) async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<Item>,
    projection: Option<&str>,
    action: &(dyn Fn() -> String + Sync),
) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(100) {
        let mut pending: Vec<Item> = chunk.to_vec();
        for _ in 0..5 {
            if pending.is_empty() {
                break;
            }
            let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .set_projection_expression(projection.map(str::to_owned))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::new(action(), e.to_string()))?;
            let out = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| StoreError::new(action(), sdk_error_message(&e)))?;
            found.extend(out.responses.unwrap_or_default().remove(table).unwrap_or_default());
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(table)).map(|k| k.keys).unwrap_or_default();
        }
        if !pending.is_empty() {
            return Err(StoreError::new(action(), "DynamoDB kept keys unprocessed; the next run tries again"));
        }
    }
    Ok(found)
}
