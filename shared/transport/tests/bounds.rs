//! The transport's bounds over real loopback HTTP (the simulators' fault
//! layer): body limits, redirects, and the address policy at connect time.

mod support;

use std::str::FromStr;
use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use domain::UrlPolicy;
use reqwest::dns::{Name, Resolve};
use simulators::faults::{FaultKind, Faults};
use support::{PlainFaults, once};
use transport::guard::{Forbidden, GuardedResolver};
use transport::{HttpClient, Idempotency, RetryPolicy, TransportError};

async fn server() -> (simulators::RunningSimulator, Faults) {
    let faults = Faults::new(PlainFaults);
    let api = Router::new().route("/thing", get(|| async { "ok" })).route("/other", get(|| async { "moved here" }));
    let sim = simulators::spawn(faults.clone().wrap(api), 0).await.unwrap();
    (sim, faults)
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn a_50_mb_body_is_refused_while_streaming() {
    let (sim, faults) = server().await;
    faults.inject(once(FaultKind::HugeBody { bytes: 50 * 1024 * 1024 })).unwrap();
    let http = HttpClient::for_deployment(retry(), UrlPolicy::AllowLoopbackHttp);
    let url = format!("{}/thing", sim.base_url());
    let response = http.send("test-api", Idempotency::Safe, |c| c.get(&url)).await.unwrap();
    let e = transport::read_body("test-api", response).await.unwrap_err();
    assert!(matches!(e, TransportError::TooLarge { limit: transport::MAX_BODY_BYTES, .. }), "{e}");
    assert!(e.to_string().contains("larger than"), "{e}");
    assert!(!e.to_failure("reading").is_retryable(), "a body that is too large is too large next time too");

    // Error bodies are read only as far as a message needs.
    faults.inject(once(FaultKind::HugeBody { bytes: 50 * 1024 * 1024 })).unwrap();
    let response = http.send("test-api", Idempotency::Safe, |c| c.get(&url)).await.unwrap();
    assert_eq!(transport::bounded_text(response).await.len(), transport::ERROR_BODY_BYTES);
}

#[tokio::test]
async fn a_redirect_to_another_server_is_not_followed() {
    let (sim, faults) = server().await;
    let (elsewhere, elsewhere_faults) = server().await;
    let http = HttpClient::for_deployment(retry(), UrlPolicy::AllowLoopbackHttp);
    let url = format!("{}/thing", sim.base_url());

    let away = format!("{}/thing", elsewhere.base_url());
    faults.inject(once(FaultKind::Location { status: 307, location: away })).unwrap();
    let e = http
        .send("test-api", Idempotency::Safe, |c| c.post(&url).bearer_auth("tok-secret").body("client_secret=s"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, TransportError::Forbidden { ref forbidden, .. } if matches!(**forbidden, Forbidden::Redirect { .. })),
        "{e}"
    );
    assert!(e.to_string().contains(&elsewhere.base_url()), "{e}");
    assert!(elsewhere_faults.requests().is_empty(), "the other server must receive nothing");

    // On the same origin a redirect is followed.
    faults.inject(once(FaultKind::Location { status: 302, location: "/other".into() })).unwrap();
    let response = http.send("test-api", Idempotency::Safe, |c| c.get(&url)).await.unwrap();
    assert_eq!(response.text().await.unwrap(), "moved here");
}

#[tokio::test]
async fn the_production_policy_refuses_loopback_and_private_addresses_when_connecting() {
    let (sim, faults) = server().await;
    let production = HttpClient::for_deployment(retry(), UrlPolicy::PublicHttpsOnly);
    let port = sim.addr.port();
    // A real server listens there: only the policy stops the call.
    for url in [format!("http://localhost:{port}/thing"), format!("http://127.0.0.1:{port}/thing")] {
        let started = Instant::now();
        let e = production.send("test-api", Idempotency::Safe, |c| c.get(&url)).await.unwrap_err();
        assert!(
            matches!(e, TransportError::Forbidden { ref forbidden, .. } if matches!(**forbidden, Forbidden::Address { .. })),
            "{url}: {e}"
        );
        assert!(e.to_string().contains("loopback"), "{e}");
        assert!(!e.to_failure("posting").is_retryable(), "{e}");
        assert!(started.elapsed() < Duration::from_secs(1), "refused without retrying");
    }
    assert!(faults.requests().is_empty(), "nothing reached the server");

    // Address literals never reach a resolver: judged before connecting.
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
    ] {
        let e = production.send("test-api", Idempotency::Safe, |c| c.get(url)).await.unwrap_err();
        assert!(matches!(e, TransportError::Forbidden { .. }), "{url}: {e}");
    }

    // The local stack's policy allows loopback only.
    let local = HttpClient::for_deployment(retry(), UrlPolicy::AllowLoopbackHttp);
    let url = format!("http://localhost:{port}/thing");
    assert_eq!(local.send("test-api", Idempotency::Safe, |c| c.get(&url)).await.unwrap().status(), 200);
    let e = local.send("test-api", Idempotency::Safe, |c| c.get("http://169.254.169.254/")).await.unwrap_err();
    assert!(matches!(e, TransportError::Forbidden { .. }), "{e}");
}

#[tokio::test]
async fn the_resolver_refuses_every_non_public_answer_in_production() {
    let production = GuardedResolver::new(UrlPolicy::PublicHttpsOnly);
    for name in ["localhost", "169.254.169.254", "100.64.0.1", "10.0.0.1", "::1", "fd00::1", "::ffff:10.0.0.1"] {
        let e = match production.resolve(Name::from_str(name).unwrap()).await {
            Ok(addrs) => panic!("{name} resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        let forbidden = e.downcast_ref::<Forbidden>().unwrap_or_else(|| panic!("{name}: {e}"));
        assert!(matches!(forbidden, Forbidden::Address { .. }), "{name}: {forbidden}");
    }
    let local = GuardedResolver::new(UrlPolicy::AllowLoopbackHttp);
    let addrs: Vec<_> = local.resolve(Name::from_str("localhost").unwrap()).await.unwrap().collect();
    assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    assert!(local.resolve(Name::from_str("169.254.169.254").unwrap()).await.is_err());
}
