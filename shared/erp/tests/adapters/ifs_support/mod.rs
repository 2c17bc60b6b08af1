//! The IFS Cloud simulator the IFS reference-sync tests run against, and a
//! client of it: one environment (realm `acmeprod`) with companies 10 (USD)
//! and 20 (EUR), an IAM client that may use both, and one supplier in both.
#![allow(dead_code)]

use std::time::Duration;

use domain::{ErpUrl, IfsApiNames, IfsCloudSettings, UrlPolicy};
use erp::ifs::{IfsClient, IfsCredentials};
use simulators::RunningSimulator;
use simulators::ifs::IfsSim;
use transport::{HttpClient, RetryPolicy};

pub const NAMESPACE: &str = "acmeprod";
pub const CLIENT_ID: &str = "CONCUR_INT";
pub const SECRET: &str = "8f0c-s3cret";

/// Companies 10 (USD) and 20 (EUR); supplier `EMPJDOE` already in both;
/// not started yet (a test adds what it needs first).
pub fn seeded() -> IfsSim {
    let sim = IfsSim::new();
    sim.add_realm(NAMESPACE);
    sim.add_company("10", "USD");
    sim.add_company("20", "EUR");
    sim.add_client(NAMESPACE, CLIENT_ID, SECRET, &["10", "20"]);
    sim.add_supplier("EMPJDOE", "Jane Doe (employee)", &["10", "20"]);
    sim
}

/// [`seeded`], started.
pub async fn site() -> (IfsSim, RunningSimulator) {
    let sim = seeded();
    let running = sim.clone().start().await;
    (sim, running)
}

/// The settings of a connection to `company` at `base`.
pub fn settings(base: &str, company: &str, api: IfsApiNames) -> IfsCloudSettings {
    IfsCloudSettings {
        base_url: ErpUrl::parse_with(base, UrlPolicy::AllowLoopbackHttp).unwrap(),
        namespace: NAMESPACE.into(),
        company: company.into(),
        api,
    }
}

/// The IAM client's credentials with `secret`.
pub fn credentials(secret: &str) -> IfsCredentials {
    serde_json::from_value(serde_json::json!({"client_id": CLIENT_ID, "client_secret": secret})).unwrap()
}

/// Fast retries, each call bounded by `timeout`.
pub fn http(timeout: Duration) -> HttpClient {
    let policy = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        request_timeout: timeout,
    };
    HttpClient::new(transport::build_client(timeout), policy)
}

/// A client of `company` with the default API names.
pub fn client_for(base: &str, company: &str) -> IfsClient {
    let settings = settings(base, company, IfsApiNames::default());
    IfsClient::new(http(Duration::from_secs(5)), settings, credentials(SECRET)).unwrap()
}

/// A client of company 10 with the default API names.
pub fn client(base: &str) -> IfsClient {
    client_for(base, "10")
}

/// A client of company 10 with the API names `api`.
pub fn client_with(base: &str, api: IfsApiNames) -> IfsClient {
    IfsClient::new(http(Duration::from_secs(5)), settings(base, "10", api), credentials(SECRET)).unwrap()
}
