//! The poster's typed settings (the template's variables, read once) and
//! the one place its stores and clients are built: the same for `main.rs`
//! and the tests on the local stack.

use std::time::Duration;

use concur::{ConcurClient, TokenManager, TokenOptions};
use platform::aws::SECRET_TTL;
use platform::concur_grants::ConcurGrantStore;
use platform::{Aws, ConfigError, DocumentFlowSettings, Env};
use transport::{HttpClient, RetryPolicy};

use crate::erp_clients::ErpClients;
use crate::pipeline::{FUNCTION, Poster};

/// Tuning of the poster (production values by default).
#[derive(Debug, Clone)]
pub struct PosterOptions {
    /// Retries of one HTTP call (Concur, the ERP) inside one delivery; a
    /// failure that outlasts them goes back to the queue with a backoff.
    pub retry: RetryPolicy,
    pub tokens: TokenOptions,
    /// How long a document's claim and a reference sync's lease hold:
    /// longer than one invocation (120 s), shorter than the queue's
    /// visibility timeout (720 s), so a redelivery after a crash or a
    /// timeout takes over.
    pub claim_ttl: Duration,
    /// Retry waits and the per-document time budget; `max_receives` is
    /// replaced by the template's `WORK_QUEUE_MAX_RECEIVES`.
    pub batch: crate::BatchRules,
}

impl Default for PosterOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(10),
                request_timeout: Duration::from_secs(20),
            },
            tokens: TokenOptions::default(),
            claim_ttl: Duration::from_secs(300),
            batch: crate::BatchRules::default(),
        }
    }
}

pub use platform::SetupError;

/// What the poster reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub flow: DocumentFlowSettings,
    /// The queue's `maxReceiveCount`; `None`: the options' value.
    pub max_receives: Option<u32>,
    /// The reference sync state (issue 14).
    pub reference_table: String,
    /// The files bucket: documents staged by extract files (issue 15).
    pub files_bucket: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            flow: DocumentFlowSettings::from_env(env)?,
            max_receives: env.parsed_if_set("WORK_QUEUE_MAX_RECEIVES")?,
            reference_table: env.required("REFERENCE_TABLE")?,
            files_bucket: env.required("FILES_BUCKET")?,
        })
    }
}

impl Poster<ConcurGrantStore> {
    /// Reads the settings from `env` and builds the poster.
    pub async fn from_env(env: &Env, aws: &Aws, options: PosterOptions) -> Result<Self, SetupError> {
        Self::build(&Settings::from_env(env)?, aws, options).await
    }

    /// Builds the stores and clients (once per cold start).
    pub async fn build(settings: &Settings, aws: &Aws, options: PosterOptions) -> Result<Self, SetupError> {
        let flow = &settings.flow;
        let common = &flow.common;
        let secrets = aws.secrets(SECRET_TTL);
        let grants = aws.concur(&flow.concur, &common.connections_table, secrets.clone());
        // Every connection (Concur and the ERPs) judged by the deployment's
        // address policy: production unless the AWS endpoint is on loopback.
        let url_policy = aws.url_policy();
        let http = HttpClient::for_deployment(options.retry.clone(), url_policy);
        let rules = crate::BatchRules {
            max_receives: settings.max_receives.unwrap_or(options.batch.max_receives),
            ..options.batch
        };
        Ok(Self {
            connections: aws.connections(&common.connections_table),
            mappings: aws.mappings(&common.connections_table),
            ledger: aws.ledger(&flow.ledger_table),
            reference: aws.reference(&settings.reference_table),
            files: aws.files(&settings.files_bucket),
            audit: aws.audit(&common.audit, FUNCTION),
            tokens: TokenManager::app_on_demand(ConcurClient::new(http.clone()), grants, options.tokens),
            erp: ErpClients::new(http, secrets, flow.concur.secret_prefix.clone(), url_policy),
            queue: Some(aws.work_queue(&common.work_queue_url)),
            claim_ttl: options.claim_ttl,
            rules,
        })
    }
}
