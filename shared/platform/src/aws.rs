//! The AWS side of a function's startup: one SDK configuration, and every
//! store and queue built from it here, so no crate outside `platform` (and
//! the functions' `main.rs`) names an AWS SDK type.
//!
//! The configuration is the normal provider chain everywhere. Locally and
//! in tests the only difference is `AWS_ENDPOINT_URL` (moto), which the
//! chain itself reads.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use domain::UrlPolicy;

use crate::audit::AuditLog;
use crate::aws_calls::AwsCalls;
use crate::concur_grants::ConcurGrantStore;
use crate::config::{AuditSettings, ConcurSettings};
use crate::connections::ConnectionStore;
use crate::ledger::LedgerStore;
use crate::mappings::MappingStore;
use crate::queue::WorkQueue;
use crate::secrets::SecretStore;

/// How long a function keeps a secret it read (connection credentials,
/// inbox tokens): a warm Lambda reads each once per this time.
pub const SECRET_TTL: Duration = Duration::from_secs(300);

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A service's client configuration builder, counting its calls when `$aws` has a counter (the builders of
/// the SDK crates share no trait).
macro_rules! counted {
    ($aws:ident, $builder:expr) => {
        match &$aws.calls {
            Some(calls) => $builder.interceptor(calls.clone()),
            None => $builder,
        }
    };
}

/// One AWS configuration, and the stores built from it.
#[derive(Clone, Debug)]
pub struct Aws {
    sdk: aws_config::SdkConfig,
    /// Counts every call of the clients built from here, when set (tests and benchmarks).
    calls: Option<AwsCalls>,
    /// One DynamoDB client for every store (clones share it): building one is a measurable part of a cold
    /// start, and a function has up to six stores.
    dynamodb: Arc<OnceLock<aws_sdk_dynamodb::Client>>,
}

impl From<aws_config::SdkConfig> for Aws {
    fn from(sdk: aws_config::SdkConfig) -> Self {
        Self { sdk, calls: None, dynamodb: Arc::default() }
    }
}

impl Aws {
    /// The configuration from the provider chain (the function's role).
    pub async fn load() -> Self {
        Self::from(sdk_config().await)
    }

    /// The same configuration, its clients counting their calls into `calls`.
    pub fn counting(&self, calls: &AwsCalls) -> Self {
        Self { sdk: self.sdk.clone(), calls: Some(calls.clone()), dynamodb: Arc::default() }
    }

    /// The address policy every outbound call of the deployment is judged
    /// by: production unless the AWS endpoint is on loopback (a local stack).
    pub fn url_policy(&self) -> UrlPolicy {
        UrlPolicy::for_aws_endpoint(self.sdk.endpoint_url())
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let build = || {
            aws_sdk_dynamodb::Client::from_conf(
                counted!(self, aws_sdk_dynamodb::config::Builder::from(&self.sdk)).build(),
            )
        };
        self.dynamodb.get_or_init(build).clone()
    }

    pub fn connections(&self, table: impl Into<String>) -> ConnectionStore {
        ConnectionStore::new(self.dynamodb(), table)
    }

    pub fn mappings(&self, connections_table: impl Into<String>) -> MappingStore {
        MappingStore::new(self.dynamodb(), connections_table)
    }

    pub fn ledger(&self, table: impl Into<String>) -> LedgerStore {
        LedgerStore::new(self.dynamodb(), table)
    }

    /// The inbox queue `file-intake` consumes (issue 15).
    pub fn inbox_queue(&self, url: impl Into<String>) -> crate::queue::InboxQueue {
        crate::queue::InboxQueue::new(self.sqs(), url)
    }

    /// The files bucket: documents of extract files staged for the poster (issue 15). Path-style addressing
    /// on a local endpoint (moto), where bucket host names do not resolve.
    pub fn files(&self, bucket: impl Into<String>) -> crate::files::FileStore {
        let local = self.sdk.endpoint_url().is_some();
        let config = counted!(self, aws_sdk_s3::config::Builder::from(&self.sdk).force_path_style(local));
        crate::files::FileStore::new(aws_sdk_s3::Client::from_conf(config.build()), bucket)
    }

    /// The state of the reference syncs (issue 14).
    pub fn reference(&self, table: impl Into<String>) -> crate::reference::ReferenceStore {
        crate::reference::ReferenceStore::new(self.dynamodb(), table)
    }

    /// The audit trail, its events stamped with `function`.
    pub fn audit(&self, settings: &AuditSettings, function: impl Into<String>) -> AuditLog {
        AuditLog::new(self.dynamodb(), settings.table.clone(), settings.retention_days, function)
    }

    /// What the failure digest already told (an item of the connections table).
    pub fn digest_state(&self, connections_table: impl Into<String>) -> crate::digest::DigestStore {
        crate::digest::DigestStore::new(self.dynamodb(), connections_table)
    }

    /// The SNS topic people subscribe to (the alarm topic).
    pub fn notifier(&self, topic_arn: impl Into<String>) -> crate::digest::Notifier {
        let config = counted!(self, aws_sdk_sns::config::Builder::from(&self.sdk));
        crate::digest::Notifier::new(aws_sdk_sns::Client::from_conf(config.build()), topic_arn)
    }

    pub fn work_queue(&self, url: impl Into<String>) -> WorkQueue {
        WorkQueue::new(self.sqs(), url)
    }

    /// The URL of the queue named `name`; `None` when there is no such queue.
    pub async fn queue_url(&self, name: &str) -> Result<Option<String>, crate::StoreError> {
        WorkQueue::url_of(&self.sqs(), name).await
    }

    fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::from_conf(counted!(self, aws_sdk_sqs::config::Builder::from(&self.sdk)).build())
    }

    /// Secrets Manager, each secret cached for `ttl` (zero: always read).
    pub fn secrets(&self, ttl: Duration) -> SecretStore {
        let config = counted!(self, aws_sdk_secretsmanager::config::Builder::from(&self.sdk));
        SecretStore::new(aws_sdk_secretsmanager::Client::from_conf(config.build()), ttl)
    }

    /// The store of the companies' grants and of the Concur application's own credentials, read when a token
    /// refresh first needs them (`TokenManager::app_on_demand`): a secret read is not on the cold start.
    pub fn concur(&self, settings: &ConcurSettings, connections_table: &str, secrets: SecretStore) -> ConcurGrantStore {
        self.concur_grants(secrets, connections_table, &settings.secret_prefix).with_app_secret(&settings.app_secret_id)
    }

    /// The companies' Concur grants: secrets under `secret_prefix`, their
    /// health on the connection items.
    pub fn concur_grants(
        &self,
        secrets: SecretStore,
        connections_table: &str,
        secret_prefix: &str,
    ) -> ConcurGrantStore {
        ConcurGrantStore::new(secrets, self.dynamodb(), connections_table, secret_prefix)
    }
}
