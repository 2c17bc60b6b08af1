//! Test support: a fresh, uniquely named copy of the stack's AWS resources in
//! the local moto server, provisioned from infra/template.yaml, and the
//! platform stores pointed at it.
//!
//! The tests run under `infra/local/with-stack.sh`, which starts moto and
//! exports `AWS_ENDPOINT_URL`. Without it they fail with instructions rather
//! than skip: a skipped integration test proves nothing.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use localstack::ProvisionedStack;
use platform::{Env, audit::AuditLog, connections::ConnectionStore, queue::WorkQueue, secrets::SecretStore};

/// One test's resources and the clients that reach them.
pub struct TestStack {
    pub sdk: aws_config::SdkConfig,
    pub provisioned: ProvisionedStack,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestStack {
    /// Provisions a fresh stack named after the test process and a counter,
    /// whose Concur app points nowhere (tests that do not call Concur).
    pub async fn new() -> Self {
        Self::with_concur_app("test-client", "test-client-secret", "http://127.0.0.1:9").await
    }

    /// Provisions a fresh stack whose Concur app secret names this client and
    /// base URL (a Concur simulator's `us_url()`, typically).
    pub async fn with_concur_app(client_id: &str, client_secret: &str, app_base_url: &str) -> Self {
        assert!(
            std::env::var("AWS_ENDPOINT_URL").is_ok(),
            "AWS_ENDPOINT_URL is not set: run the tests with `tests/run` or `infra/local/with-stack.sh -- cargo nextest run`"
        );
        let sdk = platform::aws::sdk_config().await;
        let name = format!("it-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let app_secret = serde_json::json!({
            "client_id": client_id,
            "client_secret": client_secret,
            "app_base_url": app_base_url,
        });
        let provisioned = localstack::provision(&sdk, &name, &app_secret)
            .await
            .unwrap_or_else(|e| panic!("provisioning {name} in moto failed: {e}"));
        Self { sdk, provisioned }
    }

    /// The environment the template gives a function (by logical id).
    pub fn env_of(&self, function: &str) -> Env {
        Env::from_map(self.provisioned.function_env(function).clone())
    }

    fn var(&self, function: &str, name: &'static str) -> String {
        self.env_of(function).required(name).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn connections(&self, function: &str) -> ConnectionStore {
        ConnectionStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), self.var(function, "CONNECTIONS_TABLE"))
    }

    pub fn audit(&self, function: &str) -> AuditLog {
        AuditLog::new(aws_sdk_dynamodb::Client::new(&self.sdk), self.var(function, "AUDIT_TABLE"), 30, function)
    }

    pub fn work_queue(&self, function: &str) -> WorkQueue {
        WorkQueue::new(aws_sdk_sqs::Client::new(&self.sdk), self.var(function, "WORK_QUEUE_URL"))
    }

    pub fn work_queue_url(&self, function: &str) -> String {
        self.var(function, "WORK_QUEUE_URL")
    }

    pub fn secrets(&self) -> SecretStore {
        SecretStore::new(aws_sdk_secretsmanager::Client::new(&self.sdk), Duration::from_secs(60))
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    pub fn stack_name(&self) -> &str {
        &self.provisioned.stack_name
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }
}
