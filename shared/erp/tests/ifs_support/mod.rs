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

/// Companies 10 (USD) and 20 (EUR); supplier `EMPJDOE` already in both.
pub async fn site() -> (IfsSim, RunningSimulator) {
    let sim = IfsSim::new();
    sim.add_realm(NAMESPACE);
    sim.add_company("10", "USD");
    sim.add_company("20", "EUR");
    sim.add_client(NAMESPACE, CLIENT_ID, SECRET, &["10", "20"]);
    sim.add_supplier("EMPJDOE", "Jane Doe (employee)", &["10", "20"]);
    let running = sim.clone().start().await;
    (sim, running)
}

/// A client of company 10 with the default API names.
pub fn client(base: &str) -> IfsClient {
    client_with(base, IfsApiNames::default())
}

/// A client of company 10 with the API names `api`.
pub fn client_with(base: &str, api: IfsApiNames) -> IfsClient {
    let settings = IfsCloudSettings {
        base_url: ErpUrl::parse_with(base, UrlPolicy::AllowLoopbackHttp).unwrap(),
        namespace: NAMESPACE.into(),
        company: "10".into(),
        api,
    };
    let credentials: IfsCredentials =
        serde_json::from_value(serde_json::json!({"client_id": CLIENT_ID, "client_secret": SECRET})).unwrap();
    let timeout = Duration::from_secs(5);
    let policy = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        request_timeout: timeout,
    };
    let http = HttpClient::new(transport::build_client(timeout), policy);
    IfsClient::new(http, settings, credentials).unwrap()
}
