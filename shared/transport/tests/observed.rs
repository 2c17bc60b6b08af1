//! The call observer (the layer platform counts `ErpCalls` / `ConcurCalls`
//! with): every attempt on the wire is reported once with its outcome, and
//! a request our own address policy refuses is not a call.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use axum::{Router, routing::get};
use domain::UrlPolicy;
use simulators::faults::{FaultKind, FaultSpec, Faults};
use support::{PlainFaults, once};
use transport::{CallOutcome, HttpClient, Idempotency, RetryPolicy};

static CALLS: Mutex<Vec<(&'static str, CallOutcome)>> = Mutex::new(Vec::new());

fn record(service: &'static str, outcome: CallOutcome) {
    CALLS.lock().unwrap().push((service, outcome));
}

fn taken() -> Vec<(&'static str, CallOutcome)> {
    std::mem::take(&mut *CALLS.lock().unwrap())
}

#[tokio::test]
async fn every_attempt_is_observed_once_with_its_outcome() {
    assert!(transport::observe_calls(record), "the first observer is installed");
    let faults = Faults::new(PlainFaults);
    let sim =
        simulators::spawn(faults.clone().wrap(Router::new().route("/thing", get(|| async { "ok" }))), 0).await.unwrap();
    let policy = |request_timeout| RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        request_timeout,
    };
    let http = HttpClient::for_deployment(policy(Duration::from_secs(5)), UrlPolicy::AllowLoopbackHttp);
    let url = format!("{}/thing", sim.base_url());

    faults.inject(once(FaultKind::ServerError { status: 503 })).unwrap();
    faults.inject(once(FaultKind::TooManyRequests { retry_after_seconds: None })).unwrap();
    assert_eq!(http.send("acumatica", Idempotency::Safe, |c| c.get(&url)).await.unwrap().status(), 200);
    assert_eq!(
        taken(),
        [
            ("acumatica", CallOutcome::ServerError),
            ("acumatica", CallOutcome::Throttled),
            ("acumatica", CallOutcome::Success)
        ]
    );

    faults.inject(once(FaultKind::ExpiredToken)).unwrap();
    assert_eq!(http.send("concur-api", Idempotency::Safe, |c| c.get(&url)).await.unwrap().status(), 401);
    assert_eq!(taken(), [("concur-api", CallOutcome::Refused)]);

    // No answer in time: a timeout, once per attempt.
    let impatient = HttpClient::for_deployment(policy(Duration::from_millis(100)), UrlPolicy::AllowLoopbackHttp);
    faults.inject(FaultSpec { count: Some(3), ..once(FaultKind::Slow { delay_ms: 1_000 }) }).unwrap();
    assert!(impatient.send("ifs", Idempotency::Safe, |c| c.get(&url)).await.is_err());
    assert_eq!(taken(), [("ifs", CallOutcome::NoAnswer); 3]);

    // Refused by our own address policy before anything was sent: no call.
    let production = HttpClient::for_deployment(policy(Duration::from_secs(5)), UrlPolicy::PublicHttpsOnly);
    let by_name = format!("http://localhost:{}/thing", sim.addr.port());
    for refused in ["http://169.254.169.254/", by_name.as_str()] {
        assert!(production.send("infor", Idempotency::Safe, |c| c.get(refused)).await.is_err(), "{refused}");
    }
    assert_eq!(taken(), []);

    assert!(!transport::observe_calls(record), "one observer per process");
}
