//! The client against the Acumatica simulator over HTTP.

use std::time::Duration;

use domain::{AcumaticaSettings, ErpUrl, FailureKind, UrlPolicy};
use simulators::RunningSimulator;
use simulators::acumatica::{AcumaticaSim, TenantSpec};
use transport::{HttpClient, RetryPolicy};

use super::*;
use crate::ErpAdapter;

const GUID: &str = "88358B02-A48D-A50E-F710-39C1636C30F6";
const CLIENT_SECRET: &str = "client-s3cret";
const PASSWORD: &str = "p@ss-w0rd";

async fn site() -> (AcumaticaSim, RunningSimulator) {
    let sim = AcumaticaSim::new();
    sim.add_tenant(TenantSpec {
        name: "Acme".into(),
        client_id: GUID.into(),
        client_secret: CLIENT_SECRET.into(),
        users: vec![("concur_int".into(), PASSWORD.into())],
        branches: vec!["HQ".into()],
    });
    sim.add_vendor("Acme", "V000123", "Acme Travel", "Active");
    let running = sim.clone().start().await;
    (sim, running)
}

fn http() -> HttpClient {
    let policy = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        request_timeout: Duration::from_secs(5),
    };
    HttpClient::new(transport::build_client(Duration::from_secs(5)), policy)
}

fn settings(base: &str, tenant: &str, version: &str) -> AcumaticaSettings {
    AcumaticaSettings {
        base_url: ErpUrl::parse_with(base, UrlPolicy::AllowLoopbackHttp).unwrap(),
        tenant: tenant.into(),
        endpoint_name: "Default".into(),
        endpoint_version: version.into(),
        branch: None,
    }
}

fn credentials(client_secret: &str, password: &str) -> AcumaticaCredentials {
    serde_json::from_value(serde_json::json!({
        "client_id": GUID, "client_secret": client_secret, "username": "concur_int", "password": password
    }))
    .unwrap()
}

fn client(base: &str, tenant: &str, client_secret: &str, password: &str) -> AcumaticaClient {
    AcumaticaClient::new(http(), settings(base, tenant, "24.200.001"), credentials(client_secret, password))
}

#[tokio::test]
async fn check_signs_in_once_and_reads_a_vendor() {
    let (sim, running) = site().await;
    let c = client(&running.base_url(), "Acme", CLIENT_SECRET, PASSWORD);
    c.check().await.unwrap();
    c.check().await.unwrap();
    assert_eq!(sim.token_calls("password"), 1, "the access token is cached between calls");
    assert_eq!(sim.token_calls("refresh_token"), 0);
}

#[tokio::test]
async fn the_client_id_carries_the_tenant_suffix_once() {
    let creds = credentials("s", "p");
    assert_eq!(creds.oauth_client_id("Acme"), format!("{GUID}@Acme"));
    let full: AcumaticaCredentials = serde_json::from_value(serde_json::json!({
        "client_id": format!("{GUID}@Acme"), "client_secret": "s", "username": "u", "password": "p"
    }))
    .unwrap();
    assert_eq!(full.oauth_client_id("Acme"), format!("{GUID}@Acme"));
    let shown = format!("{creds:?}");
    assert!(!shown.contains("\"s\"") && !shown.contains("\"p\""), "{shown}");
}

#[tokio::test]
async fn a_wrong_client_secret_names_the_credentials_file_and_the_tenant() {
    let (_sim, running) = site().await;
    let e = client(&running.base_url(), "Acme", "wrong", PASSWORD).check_access().await.unwrap_err();
    assert!(matches!(e, AcumaticaError::InvalidClient { .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains("Acumatica refused the client credentials: check client_id/client_secret"), "{text}");
    assert!(text.contains("exists in tenant Acme"), "{text}");
    assert_eq!(e.to_failure("checking").kind, FailureKind::NeedsReauth);
}

#[tokio::test]
async fn an_unknown_tenant_is_refused_as_client_credentials_of_that_tenant() {
    let (_sim, running) = site().await;
    let e = client(&running.base_url(), "Globex", CLIENT_SECRET, PASSWORD).check_access().await.unwrap_err();
    assert!(matches!(e, AcumaticaError::InvalidClient { .. }), "{e}");
    assert!(e.to_string().contains("tenant Globex"), "{e}");
}

#[tokio::test]
async fn a_wrong_password_names_the_user() {
    let (_sim, running) = site().await;
    let e = client(&running.base_url(), "Acme", CLIENT_SECRET, "wrong").check_access().await.unwrap_err();
    assert!(matches!(e, AcumaticaError::InvalidUser { .. }), "{e}");
    assert!(e.to_string().contains("user `concur_int` in tenant Acme"), "{e}");
    assert!(!e.to_string().contains("wrong"), "never echo the password: {e}");
}

#[tokio::test]
async fn an_unpublished_endpoint_version_says_which_ones_are_published() {
    let (_sim, running) = site().await;
    let c = AcumaticaClient::new(
        http(),
        settings(&running.base_url(), "Acme", "23.200.001"),
        credentials(CLIENT_SECRET, PASSWORD),
    );
    let e = c.check_access().await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("endpoint Default/23.200.001 is not published on this instance"), "{text}");
    assert!(text.contains("published: Default/24.200.001"), "{text}");
    assert_eq!(e.to_failure("checking").kind, FailureKind::Permanent);
}

#[tokio::test]
async fn a_base_url_without_acumatica_says_to_check_the_url() {
    let (_sim, running) = site().await;
    let base = format!("{}/AcumaticaERP", running.base_url());
    let e = client(&base, "Acme", CLIENT_SECRET, PASSWORD).check_access().await.unwrap_err();
    assert!(matches!(e, AcumaticaError::NoTokenEndpoint { .. }), "{e}");
    assert!(e.to_string().contains("check the ERP URL"), "{e}");
}

#[tokio::test]
async fn an_unreachable_instance_is_retryable() {
    // Bind then drop a listener: the port is free and refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let e = client(&base, "Acme", CLIENT_SECRET, PASSWORD).check_access().await.unwrap_err();
    assert!(matches!(e, AcumaticaError::Unreachable { .. }), "{e}");
    assert!(e.to_string().contains("could not reach Acumatica"), "{e}");
    assert!(e.to_failure("checking").is_retryable());
}

#[tokio::test]
async fn an_expiring_token_is_renewed_with_the_refresh_token() {
    let (sim, running) = site().await;
    // 2 s lifetime: renewed after 1 s (half the lifetime is the margin).
    sim.set_token_lifetime(2);
    let c = client(&running.base_url(), "Acme", CLIENT_SECRET, PASSWORD);
    c.check_access().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.check_access().await.unwrap();
    assert_eq!((sim.token_calls("password"), sim.token_calls("refresh_token")), (1, 1));
}

#[tokio::test]
async fn a_revoked_access_token_is_replaced_once() {
    let (sim, running) = site().await;
    let c = client(&running.base_url(), "Acme", CLIENT_SECRET, PASSWORD);
    c.check_access().await.unwrap();
    sim.expire_access_tokens();
    c.check_access().await.unwrap();
    assert_eq!((sim.token_calls("password"), sim.token_calls("refresh_token")), (1, 1));
}

#[tokio::test]
async fn a_refused_refresh_token_falls_back_to_the_password_grant() {
    let (sim, running) = site().await;
    let c = client(&running.base_url(), "Acme", CLIENT_SECRET, PASSWORD);
    c.check_access().await.unwrap();
    c.auth.reset(Some(Secret::new("spent-elsewhere")));
    c.check_access().await.unwrap();
    assert_eq!((sim.token_calls("password"), sim.token_calls("refresh_token")), (2, 1));
}

#[tokio::test]
async fn an_unknown_key_is_not_found() {
    let (_sim, running) = site().await;
    let c = client(&running.base_url(), "Acme", CLIENT_SECRET, PASSWORD);
    assert_eq!(c.find_by_external_key("expense#ABC").await.unwrap(), None);
}
