//! Wiring from the function's environment (the template's variables): the
//! same for `main.rs` and the tests on the local stack.

use std::time::Duration;

use concur::{AppCredentials, ConcurClient, TokenManager, TokenOptions};
use domain::UrlPolicy;
use platform::audit::AuditLog;
use platform::concur_grants::ConcurGrantStore;
use platform::connections::ConnectionStore;
use platform::ledger::LedgerStore;
use platform::mappings::MappingStore;
use platform::secrets::SecretStore;
use platform::{ConfigError, Env, StoreError};
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
    /// Longer than one invocation (120 s), shorter than the queue's
    /// visibility timeout (720 s): a redelivery after a crash takes over.
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

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the Concur application secret {0} does not exist; create it with the client_id, client_secret and \
         app_base_url SAP Concur issued (README, Deploy step 1)"
    )]
    NoAppSecret(String),
}

impl Poster<ConcurGrantStore> {
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig, options: PosterOptions) -> Result<Self, SetupError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let connections_table = env.required("CONNECTIONS_TABLE")?;
        let secret_prefix = env.required("CONNECTION_SECRET_PREFIX")?;
        let secrets = SecretStore::new(aws_sdk_secretsmanager::Client::new(sdk), Duration::from_secs(300));
        let app_secret_id = env.required("CONCUR_APP_SECRET_ID")?;
        let app: AppCredentials =
            secrets.get_json(&app_secret_id).await?.ok_or_else(|| SetupError::NoAppSecret(app_secret_id.clone()))?;
        let grants =
            ConcurGrantStore::new(secrets.clone(), dynamodb.clone(), connections_table.clone(), secret_prefix.clone());
        // Every connection (Concur and the ERPs) judged by the deployment's
        // address policy: production unless the AWS endpoint is on loopback.
        let url_policy = UrlPolicy::for_aws_endpoint(sdk.endpoint_url());
        let http = HttpClient::for_deployment(options.retry.clone(), url_policy);
        let rules = crate::BatchRules {
            max_receives: env.parsed("WORK_QUEUE_MAX_RECEIVES", options.batch.max_receives)?,
            ..options.batch
        };
        Ok(Self {
            connections: ConnectionStore::new(dynamodb.clone(), connections_table.clone()),
            mappings: MappingStore::new(dynamodb.clone(), connections_table),
            ledger: LedgerStore::new(dynamodb.clone(), env.required("LEDGER_TABLE")?),
            audit: AuditLog::new(
                dynamodb,
                env.required("AUDIT_TABLE")?,
                env.parsed("AUDIT_RETENTION_DAYS", 400_i64)?,
                FUNCTION,
            ),
            tokens: TokenManager::new(ConcurClient::new(http.clone()), app, grants, options.tokens),
            erp: ErpClients::new(http, secrets, secret_prefix, url_policy),
            queue: Some((aws_sdk_sqs::Client::new(sdk), env.required("WORK_QUEUE_URL")?)),
            claim_ttl: options.claim_ttl,
            rules,
        })
    }
}
