//! The function's typed settings (the template's variables, read once) and the one place its stores and
//! clients are built: the same for `main.rs` and the tests on the local stack.

use std::time::Duration;

use concur::{ConcurClient, TokenManager, TokenOptions};
use platform::aws::SECRET_TTL;
use platform::concur_grants::ConcurGrantStore;
use platform::{Aws, ConfigError, DocumentFlowSettings, Env, SetupError};
use transport::{HttpClient, RetryPolicy};

use crate::{FUNCTION, FileIntake};

/// Tuning (production values by default).
#[derive(Debug, Clone)]
pub struct IntakeOptions {
    pub retry: RetryPolicy,
    pub tokens: TokenOptions,
    /// How long a connection's file run holds its lease: longer than one invocation (900 s), shorter than
    /// the inbox queue's visibility timeout, so a retry after a crash takes over.
    pub lease_ttl: Duration,
}

impl Default for IntakeOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(10),
                // A file of hundreds of MB takes a while to download.
                request_timeout: Duration::from_secs(300),
            },
            tokens: TokenOptions::default(),
            lease_ttl: Duration::from_secs(1000),
        }
    }
}

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub flow: DocumentFlowSettings,
    /// The sync state table (the `files` partitions).
    pub reference_table: String,
    /// The files bucket (inbox and staged documents).
    pub files_bucket: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            flow: DocumentFlowSettings::from_env(env)?,
            reference_table: env.required("REFERENCE_TABLE")?,
            files_bucket: env.required("FILES_BUCKET")?,
        })
    }
}

impl FileIntake<ConcurGrantStore> {
    /// Reads the settings from `env` and builds the function's dependencies.
    pub async fn from_env(env: &Env, aws: &Aws, options: IntakeOptions) -> Result<Self, SetupError> {
        Self::build(&Settings::from_env(env)?, aws, options).await
    }

    /// Builds the stores and clients (once per cold start).
    pub async fn build(settings: &Settings, aws: &Aws, options: IntakeOptions) -> Result<Self, SetupError> {
        let flow = &settings.flow;
        let common = &flow.common;
        let secrets = aws.secrets(SECRET_TTL);
        let grants = aws.concur(&flow.concur, &common.connections_table, secrets.clone());
        let http = HttpClient::for_deployment(options.retry.clone(), aws.url_policy());
        Ok(Self {
            connections: aws.connections(&common.connections_table),
            reference: aws.reference(&settings.reference_table),
            files: aws.files(&settings.files_bucket),
            secrets,
            secret_prefix: flow.concur.secret_prefix.clone(),
            tokens: TokenManager::app_on_demand(ConcurClient::new(http), grants, options.tokens),
            queue: aws.work_queue(&common.work_queue_url),
            audit: aws.audit(&common.audit, FUNCTION),
            lease_ttl: options.lease_ttl,
        })
    }
}
