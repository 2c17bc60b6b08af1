//! What the HTTP tests of this crate share: one US company in the strict
//! Concur simulator, connected through a real Quick Connect exchange.

use std::time::Duration;

use concur::{AccessToken, AppCredentials, ConcurClient};
use domain::{CompanyUuid, Secret};
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim, StartedConcur};
use transport::{HttpClient, RetryPolicy};

pub const CLIENT_ID: &str = "6b4b4c4e-1d2a-4f51-9a55-0c1f7b7f3a01";
pub const CLIENT_SECRET: &str = "0f5d8f2e-8c3b-4a6e-b0a1-3e2f6c9d7b02";
pub const COMPANY: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";

/// A client with fast retries (`max_attempts` per call).
pub fn client(max_attempts: u32) -> ConcurClient {
    let policy = RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        request_timeout: Duration::from_secs(5),
    };
    ConcurClient::new(HttpClient::new(transport::build_client(policy.request_timeout), policy))
}

/// The simulator with `COMPANY` (US), a client, and the company's token.
pub async fn connected(max_attempts: u32) -> (StartedConcur, ConcurClient, AccessToken) {
    let concur = ConcurSim::start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    concur.sim.add_company(CompanySpec {
        uuid: COMPANY.into(),
        name: "Acme Corp".into(),
        datacenter: "us".into(),
        marketing_name: "CTE".into(),
    });
    let app = AppCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(CLIENT_SECRET),
        app_base_url: concur.us_url(),
    };
    let client = client(max_attempts);
    let request_token = Secret::new(concur.sim.issue_request_token(COMPANY));
    let token = client
        .exchange_request_token(&app, &CompanyUuid::parse(COMPANY).unwrap(), &request_token)
        .await
        .expect("the Quick Connect exchange succeeds");
    (concur, client, AccessToken::from_response(&token))
}
