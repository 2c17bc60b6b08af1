//! `coldstart`: how long each function takes from a cold spawn to its first answer, next to reference Lambdas
//! built with the same profile in the same run (issue 16, docs/performance.md).
//!
//! ```text
//! coldstart --bin-dir target/release [--rounds N]
//! ```
//!
//! Run under `infra/local/with-stack.sh` (it needs `AWS_ENDPOINT_URL`): it provisions a fresh copy of the
//! template's resources in moto, then for every function binary and the references serves a fake Lambda
//! Runtime API on loopback (`/runtime/invocation/next`, `…/response`, `…/error`, `/runtime/init/error`),
//! spawns the binary with the environment the template gives it, and measures
//!
//! * **init**: spawn → the first `GET …/next` (what Lambda bills as Init Duration),
//! * **first invoke**: that event handed over → its response (or error) posted,
//! * **peak RSS**: `VmHWM` of the process once it answered.
//!
//! Each binary runs `--rounds` times (fresh process each time), interleaved with the others; the median is
//! kept. The references: `hello-lambda` (lambda_runtime only), `hello-lambda-sdk` (plus the AWS configuration
//! and the three SDK clients every function builds), and `hello-lambda-sdk` again reading a secret at init
//! and one DynamoDB item per event (what a function that reads its secret at init costs on the cold path).

#[path = "../../../shared/domain/benches/support/summary.rs"]
mod summary;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::Notify;

const RUNTIME: &str = "/2018-06-01/runtime";
/// Longest a binary may take to ask for its first event, or to answer it.
const PATIENCE: Duration = Duration::from_secs(30);

/// What the fake Runtime API saw of one process.
#[derive(Default)]
struct Seen {
    first_next: Option<Instant>,
    answered: Option<(Instant, &'static str)>,
    init_error: Option<String>,
}

#[derive(Clone)]
struct Api {
    event: Arc<Value>,
    seen: Arc<Mutex<Seen>>,
    changed: Arc<Notify>,
}

impl Api {
    fn note(&self, f: impl FnOnce(&mut Seen)) {
        if let Ok(mut seen) = self.seen.lock() {
            f(&mut seen);
        }
        self.changed.notify_waiters();
    }
}

async fn next(State(api): State<Api>) -> impl IntoResponse {
    let first = api.seen.lock().map(|seen| seen.first_next.is_none()).unwrap_or(false);
    if !first {
        // The process asks for its second event: it has none (it is killed once measured).
        std::future::pending::<()>().await;
    }
    api.note(|seen| seen.first_next = Some(Instant::now()));
    let deadline = std::time::SystemTime::now() + Duration::from_secs(30);
    let deadline_ms = deadline.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", "coldstart-1".into());
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:coldstart".into());
    set("lambda-runtime-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0".into());
    (headers, api.event.to_string())
}

async fn response(State(api): State<Api>) -> StatusCode {
    api.note(|seen| seen.answered = Some((Instant::now(), "response")));
    StatusCode::ACCEPTED
}

async fn error(State(api): State<Api>) -> StatusCode {
    api.note(|seen| seen.answered = Some((Instant::now(), "error")));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Api>, body: String) -> StatusCode {
    api.note(|seen| seen.init_error = Some(body));
    StatusCode::ACCEPTED
}

/// One binary to start, as Lambda would.
struct Subject {
    label: String,
    binary: PathBuf,
    env: BTreeMap<String, String>,
    event: Value,
}

/// One cold start.
struct Measured {
    init: Duration,
    first_invoke: Duration,
    peak_rss_kib: u64,
    answer: &'static str,
}

async fn cold_start(subject: &Subject, log: &Path) -> Result<Measured, String> {
    let api = Api { event: Arc::new(subject.event.clone()), seen: Arc::default(), changed: Arc::new(Notify::new()) };
    let router = Router::new()
        .route(&format!("{RUNTIME}/invocation/next"), get(next))
        .route(&format!("{RUNTIME}/invocation/{{id}}/response"), post(response))
        .route(&format!("{RUNTIME}/invocation/{{id}}/error"), post(error))
        .route(&format!("{RUNTIME}/init/error"), post(init_error))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("binding: {e}"))?;
    let address: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&subject.binary)
        .env_clear()
        .envs(&subject.env)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(log_file)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", subject.binary.display()))?;
    let pid = child.id().unwrap_or_default();

    let outcome = tokio::time::timeout(PATIENCE, async {
        loop {
            let changed = api.changed.notified();
            if let Ok(seen) = api.seen.lock() {
                if let Some(error) = &seen.init_error {
                    return Err(format!("init error: {error}"));
                }
                if let (Some(next), Some((answered, answer))) = (seen.first_next, seen.answered) {
                    return Ok((next, answered, answer));
                }
            }
            tokio::select! {
                () = changed => {}
                status = child.wait() => return Err(format!("exited before answering: {status:?}")),
            }
        }
    })
    .await;
    let peak_rss_kib = peak_rss_kib(pid);
    let _ = child.kill().await;
    server.abort();
    let (next, answered, answer) = outcome
        .map_err(|_| format!("no answer within {PATIENCE:?} (log: {})", log.display()))?
        .map_err(|e| format!("{e} (log: {})", log.display()))?;
    Ok(Measured { init: next - started, first_invoke: answered - next, peak_rss_kib, answer })
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.split_whitespace().next()?.parse().ok())
        .unwrap_or_default()
}

/// An API Gateway HTTP API (payload 2.0) request.
fn http_request(method: &str, path: &str, headers: Value, body: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "coldstart", "domainName": "coldstart.example",
            "domainPrefix": "coldstart", "requestId": "coldstart-1", "routeKey": format!("{method} {path}"),
            "stage": "$default", "time": "07/Dec/2026:12:00:00 +0000", "timeEpoch": 1_796_644_800_000_u64,
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "coldstart" }
        },
        "body": body,
        "isBase64Encoded": false
    })
}

fn sqs_event(bodies: &[String]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({
                "messageId": format!("m{i}"), "receiptHandle": format!("r{i}"), "body": body,
                "attributes": { "ApproximateReceiveCount": "1", "SentTimestamp": "1796644800000",
                    "MessageGroupId": "coldstart#0", "MessageDeduplicationId": format!("d{i}") },
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work.fifo", "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// Each function's first event: a realistic one that reaches AWS where the function's first work would.
fn first_event(function: &str) -> Value {
    match function {
        "OAuthCallbackFunction" => http_request("GET", "/concur/callback", json!({}), ""),
        "EventIntakeFunction" => {
            // A signed event for a company with no connection: verified, looked up, refused (404) and audited.
            let signer = simulators::concur::webhook::EssSigner::test_key();
            let event = simulators::concur::webhook::ExpenseStatusChanged::approved(
                "0ffa9ce0-f00b-408a-8344-8eaad502b0d7",
                "1B5A6194DFB047DAB0BD",
            );
            let (body, signature) = event.signed(&signer);
            let headers = json!({ "content-type": "application/json", "concur-signature": signature });
            http_request("POST", "/concur/events", headers, &String::from_utf8_lossy(&body))
        }
        "ScheduledPollerFunction" => json!({
            "version": "0", "id": "coldstart", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-12-07T12:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/coldstart"], "detail": {}
        }),
        "IonInboxFunction" => {
            http_request("POST", "/ion/coldstart", json!({ "content-type": "application/xml" }), "<x/>")
        }
        "ErpPosterFunction" => {
            // A document of a connection that does not exist: read, found missing, reported.
            let item = json!({ "v": 1, "connection_id": "coldstart", "document_type": "expense",
                "document_id": "1B5A6194DFB047DAB0BD", "source": "webhook", "received_at": "2026-12-07T12:00:00Z" });
            sqs_event(&[item.to_string()])
        }
        _ => sqs_event(&[]),
    }
}

/// The template's functions and the binaries cargo-lambda builds for them.
const FUNCTIONS: [(&str, &str); 6] = [
    ("OAuthCallbackFunction", "oauth-callback"),
    ("EventIntakeFunction", "event-intake"),
    ("ScheduledPollerFunction", "scheduled-poller"),
    ("IonInboxFunction", "ion-inbox"),
    ("ErpPosterFunction", "erp-poster"),
    ("FileIntakeFunction", "file-intake"),
];

/// What Lambda sets in every function's environment (the ones `lambda_runtime` reads), and the local stack's
/// endpoint and credentials.
fn lambda_env(name: &str, memory_mb: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for (key, value) in [
        ("AWS_LAMBDA_FUNCTION_NAME", name),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/coldstart"),
    ] {
        env.insert(key.to_owned(), value.to_owned());
    }
    for key in ["AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        if let Ok(value) = std::env::var(key) {
            env.insert(key.to_owned(), value);
        }
    }
    env
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

struct Args {
    bin_dir: PathBuf,
    rounds: usize,
}

fn args() -> Result<Args, String> {
    let mut bin_dir = None;
    let mut rounds = 5;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bin-dir" => bin_dir = Some(PathBuf::from(value()?)),
            "--rounds" => rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            other => return Err(format!("unknown argument {other}\nusage: coldstart --bin-dir DIR [--rounds N]")),
        }
    }
    Ok(Args { bin_dir: bin_dir.ok_or("--bin-dir DIR is required (the profile's binaries)")?, rounds })
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = args()?;
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        return Err("AWS_ENDPOINT_URL is not set: run under infra/local/with-stack.sh".into());
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let stack_name = format!("coldstart-{}", std::process::id());
    let app_secret =
        json!({ "client_id": "coldstart", "client_secret": "coldstart-secret", "app_base_url": "http://127.0.0.1:9" });
    let stack =
        localstack::provision(&sdk, &stack_name, &app_secret).await.map_err(|e| format!("provisioning: {e}"))?;
    let logs = PathBuf::from("target/bench/coldstart");
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;

    let mut subjects = Vec::new();
    for (logical_id, binary) in FUNCTIONS {
        let mut env = lambda_env(binary, "256");
        env.extend(stack.function_env(logical_id).clone());
        if logical_id == "EventIntakeFunction" {
            // The test key, so that the first event is one the function verifies and takes further.
            env.insert(
                "CONCUR_WEBHOOK_PUBLIC_KEY".into(),
                simulators::concur::webhook::test_public_key_base64().into(),
            );
        }
        subjects.push(Subject {
            label: binary.into(),
            binary: args.bin_dir.join(binary),
            env,
            event: first_event(logical_id),
        });
    }
    let hello_event = json!({ "hello": "world" });
    let sdk_env = lambda_env("hello-lambda-sdk", "256");
    let mut calls_env = sdk_env.clone();
    let poster_env = stack.function_env("ErpPosterFunction");
    calls_env.insert("HELLO_SECRET_ID".into(), poster_env.get("CONCUR_APP_SECRET_ID").cloned().unwrap_or_default());
    calls_env.insert("HELLO_TABLE".into(), stack.table("ConnectionsTable").to_owned());
    subjects.push(Subject {
        label: "reference: hello-lambda".into(),
        binary: args.bin_dir.join("hello-lambda"),
        env: lambda_env("hello-lambda", "256"),
        event: hello_event.clone(),
    });
    subjects.push(Subject {
        label: "reference: + AWS config and 3 SDK clients".into(),
        binary: args.bin_dir.join("hello-lambda-sdk"),
        env: sdk_env,
        event: hello_event.clone(),
    });
    subjects.push(Subject {
        label: "reference: + a secret read at init, a GetItem per event".into(),
        binary: args.bin_dir.join("hello-lambda-sdk"),
        env: calls_env,
        event: hello_event,
    });

    let mut results: Vec<Vec<Measured>> = subjects.iter().map(|_| Vec::new()).collect();
    // Warm-up: the binaries' pages in the cache, as on a Lambda host that has the image.
    for (i, subject) in subjects.iter().enumerate() {
        cold_start(subject, &logs.join(format!("{i}.log"))).await?;
    }
    for _ in 0..args.rounds {
        for (i, subject) in subjects.iter().enumerate() {
            results[i].push(cold_start(subject, &logs.join(format!("{i}.log"))).await?);
        }
    }

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let summarize = |runs: &[Measured]| {
        (
            median(runs.iter().map(|r| ms(r.init)).collect()),
            median(runs.iter().map(|r| ms(r.first_invoke)).collect()),
            median(runs.iter().map(|r| r.peak_rss_kib as f64).collect()),
            runs.first().map_or("", |r| r.answer),
        )
    };
    let figures: Vec<_> = results.iter().map(|runs| summarize(runs)).collect();
    let floor = figures[FUNCTIONS.len() + 1].0;
    let with_calls = figures[FUNCTIONS.len() + 2];
    let with_calls_total = with_calls.0 + with_calls.1;
    println!(
        "cold starts, median of {} rounds (binaries from {}); reference floor (SDK clients) init {floor:.1} ms",
        args.rounds,
        args.bin_dir.display()
    );
    println!(
        "{:<58} {:>9} {:>13} {:>10} {:>9} {:>11} {:>17}",
        "binary", "init ms", "first inv. ms", "answer", "peak RSS", "init/floor", "total/with calls"
    );
    for (subject, (init, invoke, rss, answer)) in subjects.iter().zip(&figures) {
        println!(
            "{:<58} {init:>9.1} {invoke:>13.1} {answer:>10} {:>6.1} MiB {:>10.2}× {:>16.2}×",
            subject.label,
            rss / 1024.0,
            init / floor,
            (init + invoke) / with_calls_total,
        );
    }
    for ((_, binary), (init, invoke, _, _)) in FUNCTIONS.iter().zip(&figures) {
        summary::record(
            "coldstart",
            &format!("{binary} init, ms"),
            *init,
            "ms",
            Some(("hello-lambda-sdk init, ms", floor)),
            Some(summary::Goal::AtMost(1.2)),
        );
        summary::record(
            "coldstart",
            &format!("{binary} init + first invoke, ms"),
            init + invoke,
            "ms",
            Some(("hello-lambda-sdk with a secret read and a GetItem, ms", with_calls_total)),
            Some(summary::Goal::AtMost(1.2)),
        );
    }
    Ok(())
}
