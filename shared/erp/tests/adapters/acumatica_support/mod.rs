//! Shared set-up of the Acumatica client tests: one simulated site with
//! tenant `Acme` (branch HQ, vendor V000123, accounts 60100, 60200 and
//! 20500, subaccounts 000-110 and 000-000), and clients of it.
#![allow(dead_code)]

use std::time::Duration;

use domain::{AcumaticaSettings, ErpUrl, UrlPolicy};
use erp::acumatica::{AcumaticaClient, AcumaticaCredentials, PostingOptions};
use simulators::RunningSimulator;
use simulators::acumatica::{AcumaticaSim, TenantSpec};
use transport::{HttpClient, RetryPolicy};

pub const GUID: &str = "88358B02-A48D-A50E-F710-39C1636C30F6";

pub async fn site() -> (AcumaticaSim, RunningSimulator) {
    let sim = AcumaticaSim::new();
    sim.add_tenant(TenantSpec {
        name: "Acme".into(),
        client_id: GUID.into(),
        client_secret: "s3cr3t".into(),
        users: vec![("concur_int".into(), "p@ss".into())],
        branches: vec!["HQ".into()],
    });
    sim.add_vendor("Acme", "V000123", "Acme Travel", "Active");
    sim.add_account("Acme", "60100", "Travel", "Expense", true);
    sim.add_account("Acme", "60200", "Local transport", "Expense", true);
    sim.add_account("Acme", "20500", "Employee payable", "Liability", true);
    sim.add_subaccount("Acme", "000-110", "Sales", true);
    sim.add_subaccount("Acme", "000-000", "Default", true);
    let running = sim.clone().start().await;
    (sim, running)
}

pub fn client_with(base: &str, timeout: Duration, posting: PostingOptions) -> AcumaticaClient {
    let policy = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        request_timeout: timeout,
    };
    let http = HttpClient::new(transport::build_client(timeout), policy);
    let settings = AcumaticaSettings {
        base_url: ErpUrl::parse_with(base, UrlPolicy::AllowLoopbackHttp).unwrap(),
        tenant: "Acme".into(),
        endpoint_name: "Default".into(),
        endpoint_version: "24.200.001".into(),
        branch: None,
    };
    let credentials: AcumaticaCredentials = serde_json::from_value(serde_json::json!({
        "client_id": GUID, "client_secret": "s3cr3t", "username": "concur_int", "password": "p@ss"
    }))
    .unwrap();
    AcumaticaClient::new(http, settings, credentials).with_posting(posting)
}

pub fn client(base: &str) -> AcumaticaClient {
    client_with(base, Duration::from_secs(5), PostingOptions::default())
}
