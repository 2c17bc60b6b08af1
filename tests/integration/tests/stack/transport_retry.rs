//! The retrying HTTP transport against the simulators' fault layer, over
//! real loopback HTTP.

use std::time::{Duration, Instant};

use axum::{Router, http::StatusCode, response::IntoResponse, routing::get};
use simulators::faults::{FaultKind, FaultResponses, FaultSpec, Faults};
use transport::{HttpClient, Idempotency, RetryPolicy, TransportError};

struct PlainFaults;

impl FaultResponses for PlainFaults {
    fn too_many_requests(&self, retry_after: Option<u64>) -> axum::response::Response {
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
        if let Some(s) = retry_after {
            r.headers_mut().insert("retry-after", s.to_string().parse().unwrap());
        }
        r
    }
    fn server_error(&self, status: StatusCode) -> axum::response::Response {
        (status, "boom").into_response()
    }
    fn expired_token(&self) -> axum::response::Response {
        (StatusCode::UNAUTHORIZED, "expired").into_response()
    }
}

async fn server() -> (simulators::RunningSimulator, Faults) {
    let faults = Faults::new(PlainFaults);
    let api = Router::new().route("/thing", get(|| async { "ok" }).put(|| async { "created" }));
    let sim = simulators::spawn(faults.clone().wrap(api), 0).await.unwrap();
    (sim, faults)
}

fn client(max_attempts: u32) -> HttpClient {
    let policy = RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(2),
        request_timeout: Duration::from_millis(300),
    };
    HttpClient::new(transport::build_client(policy.request_timeout), policy)
}

fn rule(fault: FaultKind, count: u32) -> FaultSpec {
    FaultSpec { fault, count: Some(count), fraction: None, path_prefix: None, method: None }
}

#[tokio::test]
async fn a_429_storm_is_ridden_out_and_retry_after_is_honoured() {
    let (sim, faults) = server().await;
    faults.inject(rule(FaultKind::TooManyRequests { retry_after_seconds: Some(1) }, 1)).unwrap();
    faults.inject(rule(FaultKind::TooManyRequests { retry_after_seconds: None }, 2)).unwrap();
    let url = format!("{}/thing", sim.base_url());
    let started = Instant::now();
    let response = client(5).send("test-api", Idempotency::Safe, |c| c.get(&url)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was not waited for");
    let statuses: Vec<u16> = faults.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 429, 200]);
}

#[tokio::test]
async fn server_errors_are_retried_only_when_the_request_is_safe_to_repeat() {
    let (sim, faults) = server().await;
    let url = format!("{}/thing", sim.base_url());
    faults.inject(rule(FaultKind::ServerError { status: 503 }, 1)).unwrap();
    let ok = client(3).send("test-api", Idempotency::Safe, |c| c.get(&url)).await.unwrap();
    assert_eq!(ok.status(), 200);

    faults.inject(rule(FaultKind::ServerError { status: 500 }, 1)).unwrap();
    let err = client(3).send("test-api", Idempotency::Unsafe, |c| c.put(&url)).await.unwrap_err();
    assert!(matches!(err, TransportError::Status { status: 500, .. }), "{err}");
    let puts = faults.requests().iter().filter(|r| r.method == "PUT").count();
    assert_eq!(puts, 1, "a create that may have committed must not be sent again");
    assert!(err.to_failure("posting bill").is_retryable());
}

#[tokio::test]
async fn attempts_run_out_with_the_last_answer() {
    let (sim, faults) = server().await;
    faults.inject(rule(FaultKind::ServerError { status: 502 }, 10)).unwrap();
    let url = format!("{}/thing", sim.base_url());
    let err = client(3).send("test-api", Idempotency::Safe, |c| c.get(&url)).await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert_eq!(faults.requests().len(), 3);
}

#[tokio::test]
async fn a_slow_answer_times_out_and_a_safe_request_is_tried_again() {
    let (sim, faults) = server().await;
    faults.inject(rule(FaultKind::Slow { delay_ms: 1_000 }, 1)).unwrap();
    let url = format!("{}/thing", sim.base_url());
    let ok = client(2).send("test-api", Idempotency::Safe, |c| c.get(&url)).await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "ok");

    faults.inject(rule(FaultKind::Slow { delay_ms: 1_000 }, 1)).unwrap();
    let err = client(2).send("test-api", Idempotency::Unsafe, |c| c.put(&url)).await.unwrap_err();
    assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn an_unreachable_host_is_reported_with_its_cause() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/");
    let err = client(2).send("nowhere", Idempotency::Unsafe, |c| c.get(&url)).await.unwrap_err();
    match &err {
        TransportError::Connect { message, .. } => {
            assert!(message.to_lowercase().contains("refused"), "the cause is in the message: {message}");
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
}
