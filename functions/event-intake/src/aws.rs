//! The handler's ports over the platform stores, and the wiring from the
//! function's environment (`main.rs`, the integration tests and the demo all
//! build the intake this way).

use aws_sdk_dynamodb::Client as DynamoDb;
use concur::events::{KeyError, WebhookVerifier};
use domain::{CompanyUuid, ConcurrencyLevel, Connection, ConnectionId};
use platform::audit::AuditLog;
use platform::connections::ConnectionStore;
use platform::queue::{Outgoing, WorkQueue};
use platform::{ConfigError, Env, StoreError};

use crate::{AuditEntry, AuditSink, ConnectionLookup, Intake, WorkSender};

/// The intake over DynamoDB and SQS.
pub type LiveIntake = Intake<ConnectionStore, WorkQueue, AuditLog>;

/// The function cannot start: its configuration is incomplete or wrong.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "environment variable CONCUR_WEBHOOK_PUBLIC_KEY is not a usable public key: {0}; set the stack \
         parameter ConcurWebhookPublicKey to Concur's webhook signing key as base64 DER on one line (the \
         PEM body without header, footer or line breaks; the template's default is the key Concur publishes)"
    )]
    WebhookKey(#[from] KeyError),
}

impl LiveIntake {
    /// Wires the intake from a function environment (the template's variables).
    pub fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, SetupError> {
        let verifier = WebhookVerifier::from_public_key(&env.required("CONCUR_WEBHOOK_PUBLIC_KEY")?)?;
        let retention = env.parsed("AUDIT_RETENTION_DAYS", 400_i64)?;
        Ok(Self {
            verifier,
            connections: ConnectionStore::new(DynamoDb::new(sdk), env.required("CONNECTIONS_TABLE")?),
            queue: WorkQueue::new(aws_sdk_sqs::Client::new(sdk), env.required("WORK_QUEUE_URL")?),
            audit: AuditLog::new(DynamoDb::new(sdk), env.required("AUDIT_TABLE")?, retention, "event-intake"),
        })
    }
}

impl ConnectionLookup for ConnectionStore {
    async fn find_by_company(&self, company: &CompanyUuid) -> Result<Option<Connection>, StoreError> {
        ConnectionStore::find_by_company(self, company).await
    }

    async fn slot_owner(&self, connection: &Connection) -> Result<(ConnectionId, ConcurrencyLevel), StoreError> {
        ConnectionStore::slot_owner(self, connection).await
    }
}

impl WorkSender for WorkQueue {
    async fn send(&self, message: &Outgoing) -> Result<(), StoreError> {
        WorkQueue::send(self, message).await
    }
}

impl AuditSink for AuditLog {
    async fn record(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let mut event = self.event(&entry.connection_id, &entry.subject, entry.step, entry.outcome);
        event.detail = Some(entry.detail);
        AuditLog::record(self, &event).await
    }
}
