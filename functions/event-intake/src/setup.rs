//! The intake's typed settings, the one place its stores are built (from
//! `main.rs`, the integration tests and the demo alike), and the handler's
//! ports over the platform stores.

use concur::events::{KeyError, WebhookVerifier};
use domain::{CompanyUuid, ConcurrencyLevel, Connection, ConnectionId};
use platform::audit::AuditLog;
use platform::connections::ConnectionStore;
use platform::queue::{Outgoing, WorkQueue};
use platform::{Aws, CommonSettings, ConfigError, Env, StoreError};

use crate::{AuditEntry, AuditSink, ConnectionLookup, Intake, WorkSender};

/// The function's name in audit events.
const FUNCTION: &str = "event-intake";

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

/// What the intake reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    /// Concur's webhook signing key, base64 DER.
    pub webhook_public_key: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            webhook_public_key: env.required("CONCUR_WEBHOOK_PUBLIC_KEY")?,
            common: CommonSettings::from_env(env)?,
        })
    }
}

impl LiveIntake {
    /// Reads the settings from `env` and builds the intake.
    pub fn from_env(env: &Env, aws: &Aws) -> Result<Self, SetupError> {
        Self::build(&Settings::from_env(env)?, aws)
    }

    /// Builds the verifier and the stores (once per cold start).
    pub fn build(settings: &Settings, aws: &Aws) -> Result<Self, SetupError> {
        let common = &settings.common;
        Ok(Self {
            verifier: WebhookVerifier::from_public_key(&settings.webhook_public_key)?,
            connections: aws.connections(&common.connections_table),
            queue: aws.work_queue(&common.work_queue_url),
            audit: aws.audit(&common.audit, FUNCTION),
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
