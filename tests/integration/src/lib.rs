//! Test support: a fresh, uniquely named copy of the stack's AWS resources in
//! the local moto server, provisioned from infra/template.yaml, and the
//! platform stores pointed at it.
//!
//! The tests run under `infra/local/with-stack.sh`, which starts moto and
//! exports `AWS_ENDPOINT_URL`. Without it they fail with instructions rather
//! than skip: a skipped integration test proves nothing.

pub mod expected;
pub mod ion;
pub mod posting;

/// Holds a function's AWS calls (counted by `platform::aws_calls::AwsCalls`)
/// to the actions its role in infra/template.yaml allows: moto does not
/// check IAM, so a call the role lacks would fail only on AWS.
pub fn assert_allowed_by_the_template(function: &str, calls: &platform::aws_calls::AwsCalls) {
    let template = localstack::template::Template::bundled().expect("the bundled template parses");
    let spec = template.functions.get(function).unwrap_or_else(|| panic!("no function {function} in the template"));
    for (service, operation) in calls.snapshot().keys() {
        let prefix = match service.as_str() {
            "DynamoDB" => "dynamodb",
            "SQS" => "sqs",
            "Secrets Manager" => "secretsmanager",
            "S3" => "s3",
            other => panic!("{function} calls {other} {operation}: name its IAM prefix here"),
        };
        // SQS authorizes a batch call by its single-message action (SendMessageBatch needs
        // sqs:SendMessage); DynamoDB's batch calls are actions of their own.
        let operation = match prefix {
            "sqs" => operation.strip_suffix("Batch").unwrap_or(operation),
            _ => operation,
        };
        let action = format!("{prefix}:{operation}");
        assert!(
            spec.allows(&action),
            "{function} calls {action}, which its role in infra/template.yaml does not allow (it allows {:?})",
            spec.granted_actions
        );
    }
}

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use localstack::ProvisionedStack;
use platform::{
    Env, audit::AuditLog, connections::ConnectionStore, ledger::LedgerStore, queue::WorkQueue, secrets::SecretStore,
};

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
        self.aws().connections(self.var(function, "CONNECTIONS_TABLE"))
    }

    pub fn ledger(&self, function: &str) -> LedgerStore {
        self.aws().ledger(self.var(function, "LEDGER_TABLE"))
    }

    pub fn reference(&self, function: &str) -> platform::reference::ReferenceStore {
        self.aws().reference(self.var(function, "REFERENCE_TABLE"))
    }

    pub fn audit(&self, function: &str) -> AuditLog {
        let settings = platform::AuditSettings { table: self.var(function, "AUDIT_TABLE"), retention_days: 30 };
        self.aws().audit(&settings, function)
    }

    pub fn work_queue(&self, function: &str) -> WorkQueue {
        self.aws().work_queue(self.var(function, "WORK_QUEUE_URL"))
    }

    pub fn work_queue_url(&self, function: &str) -> String {
        self.var(function, "WORK_QUEUE_URL")
    }

    /// The Concur grant store (secrets + refresh lease) as a function's
    /// environment wires it; each call is a fresh "container" (own cache).
    pub fn grant_store(&self, function: &str) -> platform::concur_grants::ConcurGrantStore {
        self.aws().concur_grants(
            self.secrets(),
            &self.var(function, "CONNECTIONS_TABLE"),
            &self.var(function, "CONNECTION_SECRET_PREFIX"),
        )
    }

    pub fn secrets(&self) -> SecretStore {
        self.aws().secrets(Duration::from_secs(60))
    }

    /// The stack's AWS configuration as the functions take it.
    pub fn aws(&self) -> platform::Aws {
        platform::Aws::from(self.sdk.clone())
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

    /// Every item of a table (by the template's logical id), each rendered
    /// as text: for "nothing was stored" and "no secret leaked" checks.
    pub async fn scan_table(&self, logical_id: &str) -> Vec<String> {
        let table = self.provisioned.table(logical_id).to_owned();
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .dynamodb()
                .scan()
                .table_name(&table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap_or_else(|e| panic!("scanning {table}: {e:?}"));
            items.extend(out.items.unwrap_or_default().into_iter().map(|item| format!("{item:?}")));
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// Receives every message currently visible on a queue (by logical id),
    /// deleting none: bodies and attributes as text. A FIFO queue hides a
    /// group's later messages while an earlier one is in flight: use
    /// [`TestStack::drain_queue`] to see them all.
    pub async fn peek_queue(&self, logical_id: &str) -> Vec<String> {
        self.receive_all(logical_id, false).await
    }

    /// Receives and deletes every message of a queue (by logical id), in
    /// FIFO order per group.
    pub async fn drain_queue(&self, logical_id: &str) -> Vec<String> {
        self.receive_all(logical_id, true).await
    }

    /// Like [`TestStack::drain_queue`], each message's body, group and
    /// deduplication id apart.
    pub async fn drain_messages(&self, logical_id: &str) -> Vec<QueuedMessage> {
        self.receive_messages(logical_id, true).await.into_iter().map(QueuedMessage::from).collect()
    }

    async fn receive_all(&self, logical_id: &str, delete: bool) -> Vec<String> {
        self.receive_messages(logical_id, delete).await.into_iter().map(describe_message).collect()
    }

    async fn receive_messages(&self, logical_id: &str, delete: bool) -> Vec<aws_sdk_sqs::types::Message> {
        let url = self.provisioned.queue_url(logical_id).to_owned();
        let mut received = Vec::new();
        for _ in 0..200 {
            let out = self
                .sqs()
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap_or_else(|e| panic!("receiving from {url}: {e:?}"));
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                if let (true, Some(handle)) = (delete, &m.receipt_handle) {
                    self.sqs()
                        .delete_message()
                        .queue_url(&url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("deleting from {url}: {e:?}"));
                }
                received.push(m);
            }
        }
        received
    }

    /// Names of the secrets under this stack's per-connection prefix.
    pub async fn connection_secret_names(&self) -> Vec<String> {
        let prefix = format!("{}/connections/", self.provisioned.stack_name);
        let client = aws_sdk_secretsmanager::Client::new(&self.sdk);
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = client
                .list_secrets()
                .set_next_token(token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("listing secrets: {e:?}"));
            names.extend(
                out.secret_list
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|s| s.name)
                    .filter(|n| n.starts_with(&prefix)),
            );
            token = out.next_token;
            if token.is_none() {
                names.sort();
                return names;
            }
        }
    }
}

/// A message received from a queue: what tests check of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub body: String,
    pub group: String,
    pub dedup_id: String,
}

impl From<aws_sdk_sqs::types::Message> for QueuedMessage {
    fn from(m: aws_sdk_sqs::types::Message) -> Self {
        use aws_sdk_sqs::types::MessageSystemAttributeName as Name;
        let attributes = m.attributes.unwrap_or_default();
        let attribute = |name| attributes.get(&name).cloned().unwrap_or_default();
        Self {
            body: m.body.unwrap_or_default(),
            group: attribute(Name::MessageGroupId),
            dedup_id: attribute(Name::MessageDeduplicationId),
        }
    }
}

/// `body [group …, dedup …]`: what a test or the demo needs of a message.
fn describe_message(m: aws_sdk_sqs::types::Message) -> String {
    let attributes = m.attributes.unwrap_or_default();
    let attribute = |name| attributes.get(&name).map(String::as_str).unwrap_or("-").to_owned();
    format!(
        "{} [group {}, dedup {}]",
        m.body.unwrap_or_default(),
        attribute(aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId),
        attribute(aws_sdk_sqs::types::MessageSystemAttributeName::MessageDeduplicationId)
    )
}

/// An API Gateway HTTP API request with this query string (what the
/// browser's redirect from the App Center becomes).
pub fn get_request(query: &[(&str, &str)]) -> aws_lambda_events::apigw::ApiGatewayV2httpRequest {
    let mut request = aws_lambda_events::apigw::ApiGatewayV2httpRequest::default();
    let map: std::collections::HashMap<String, String> =
        query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    request.query_string_parameters = map.into();
    request.raw_query_string = Some(query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"));
    request
}

/// The text body of a handler's response.
pub fn body_text(response: &aws_lambda_events::apigw::ApiGatewayV2httpResponse) -> String {
    match &response.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => t.clone(),
        Some(aws_lambda_events::encodings::Body::Binary(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

/// What one run of the operator CLI printed and returned.
pub struct CliRun {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl CliRun {
    pub fn all(&self) -> String {
        format!("{}{}", self.out, self.err)
    }
}

/// Runs `connector --stack STACK ARGS…` in-process, as `main` does.
pub async fn connector(stack_name: &str, args: &[&str]) -> CliRun {
    let mut full = vec!["connector", "--stack", stack_name];
    full.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = operator::main_with(full, &mut out, &mut err).await;
    CliRun { code, out: String::from_utf8_lossy(&out).into_owned(), err: String::from_utf8_lossy(&err).into_owned() }
}

/// The `InboundCalls` EMF lines of `endpoint` among `lines` (a
/// [`platform::telemetry::capture`]), summed by `Outcome`; each line is
/// checked against the contract (docs/metrics.md): one count, unit
/// `Count`, the one dimension set `[Endpoint, Outcome]`.
pub fn inbound_calls(lines: &[serde_json::Value], endpoint: &str) -> std::collections::BTreeMap<String, f64> {
    let mut counts = std::collections::BTreeMap::new();
    for line in lines.iter().filter(|l| l.get("InboundCalls").is_some() && l["Endpoint"] == endpoint) {
        let metric = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metric["Dimensions"], serde_json::json!([["Endpoint", "Outcome"]]), "{line}");
        assert_eq!(metric["Metrics"], serde_json::json!([{"Name": "InboundCalls", "Unit": "Count"}]), "{line}");
        assert_eq!(line["InboundCalls"], 1.0, "{line}");
        let outcome = line["Outcome"].as_str().unwrap_or_else(|| panic!("no Outcome: {line}"));
        *counts.entry(outcome.to_owned()).or_default() += 1.0;
    }
    counts
}
