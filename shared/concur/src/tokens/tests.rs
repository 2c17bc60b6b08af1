//! The token manager against the strict Concur simulator, with an in-memory
//! grant store that behaves like the AWS one (lease with TTL, cache-free
//! fresh reads) and records what was written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::{CompanyUuid, ConnectionId, FailureKind, Secret};
use serde_json::json;
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim, Grant, StartedConcur};
use simulators::faults::{FaultKind, FaultSpec};
use transport::{HttpClient, RetryPolicy};

use super::*;
use crate::client::WebhookSubscription;

const CLIENT_ID: &str = "6b4b4c4e-1d2a-4f51-9a55-0c1f7b7f3a01";
const CLIENT_SECRET: &str = "0f5d8f2e-8c3b-4a6e-b0a1-3e2f6c9d7b02";
const US_COMPANY: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";
const EMEA_COMPANY: &str = "2fbfd79f-90e7-4f2a-b950-680a107c9f93";
const FI_EXPENSE: &str = "/financialintegration/fi/v4/companies/transactiontypes/expense/transactions";

// ---- an in-memory GrantStore -------------------------------------------------

#[derive(Default)]
struct Memory {
    grants: HashMap<ConnectionId, StoredGrant>,
    leases: HashMap<ConnectionId, (String, Instant)>,
    saves: Vec<StoredGrant>,
    health: Vec<RefreshHealth>,
    reconnect: Vec<String>,
    /// Successful lease acquisitions, by holder.
    lease_takers: Vec<String>,
    /// The app's credentials, for a manager that reads them on demand; and how often they were read.
    app: Option<AppCredentials>,
    app_reads: usize,
}

#[derive(Clone, Default)]
struct MemoryStore(Arc<Mutex<Memory>>);

impl MemoryStore {
    fn mem(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.0.lock().unwrap()
    }

    fn put(&self, connection: &ConnectionId, grant: StoredGrant) {
        self.mem().grants.insert(connection.clone(), grant);
    }
}

impl GrantStore for MemoryStore {
    async fn app_credentials(&self) -> Result<Option<AppCredentials>, GrantStoreError> {
        let mut mem = self.mem();
        mem.app_reads += 1;
        Ok(mem.app.clone())
    }

    async fn load(&self, connection: &ConnectionId) -> Result<Option<StoredGrant>, GrantStoreError> {
        Ok(self.mem().grants.get(connection).cloned())
    }

    async fn load_fresh(&self, connection: &ConnectionId) -> Result<Option<StoredGrant>, GrantStoreError> {
        Ok(self.mem().grants.get(connection).cloned())
    }

    async fn save(&self, connection: &ConnectionId, grant: &StoredGrant) -> Result<(), GrantStoreError> {
        let mut mem = self.mem();
        mem.saves.push(grant.clone());
        mem.grants.insert(connection.clone(), grant.clone());
        Ok(())
    }

    async fn try_lock(&self, connection: &ConnectionId, holder: &str, ttl: Duration) -> Result<bool, GrantStoreError> {
        let mut mem = self.mem();
        let now = Instant::now();
        let free = mem.leases.get(connection).is_none_or(|(h, until)| *until < now || h == holder);
        if free {
            mem.leases.insert(connection.clone(), (holder.to_owned(), now + ttl));
            mem.lease_takers.push(holder.to_owned());
        }
        Ok(free)
    }

    async fn unlock(&self, connection: &ConnectionId, holder: &str) -> Result<(), GrantStoreError> {
        let mut mem = self.mem();
        if mem.leases.get(connection).is_some_and(|(h, _)| h == holder) {
            mem.leases.remove(connection);
        }
        Ok(())
    }

    async fn record_refresh(&self, _connection: &ConnectionId, health: &RefreshHealth) -> Result<(), GrantStoreError> {
        self.mem().health.push(health.clone());
        Ok(())
    }

    async fn mark_needs_reconnect(&self, _connection: &ConnectionId, reason: &str) -> Result<(), GrantStoreError> {
        self.mem().reconnect.push(reason.to_owned());
        Ok(())
    }
}

// ---- harness -----------------------------------------------------------------

async fn start(app: ConcurApp) -> StartedConcur {
    let concur = ConcurSim::start(app).await;
    concur.sim.add_company(CompanySpec {
        uuid: US_COMPANY.into(),
        name: "Acme Corp".into(),
        datacenter: "us".into(),
        marketing_name: "CTE".into(),
    });
    concur.sim.add_company(CompanySpec {
        uuid: EMEA_COMPANY.into(),
        name: "Euro GmbH".into(),
        datacenter: "emea".into(),
        marketing_name: "Standard Edition".into(),
    });
    concur
}

fn client() -> ConcurClient {
    let policy = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        request_timeout: Duration::from_secs(5),
    };
    ConcurClient::new(HttpClient::new(transport::build_client(policy.request_timeout), policy))
}

fn app_of(concur: &StartedConcur) -> AppCredentials {
    AppCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(CLIENT_SECRET),
        app_base_url: concur.us_url(),
    }
}

fn conn(id: &str) -> ConnectionId {
    ConnectionId::parse(id).unwrap()
}

/// A Quick Connect exchange; returns the token response.
async fn quick_connect(concur: &StartedConcur, company: &str) -> TokenResponse {
    let request_token = Secret::new(concur.sim.issue_request_token(company));
    client()
        .exchange_request_token(&app_of(concur), &CompanyUuid::parse(company).unwrap(), &request_token)
        .await
        .expect("the Quick Connect exchange succeeds")
}

/// A manager over a store holding a connected grant for `company`.
async fn connected(
    concur: &StartedConcur,
    company: &str,
    options: TokenOptions,
) -> (TokenManager<MemoryStore>, MemoryStore, ConnectionId) {
    let store = MemoryStore::default();
    let connection = conn("acme");
    let token = quick_connect(concur, company).await;
    store.put(&connection, StoredGrant::from_token(&token).unwrap());
    (TokenManager::new(client(), app_of(concur), store.clone(), options), store, connection)
}

fn fault(kind: FaultKind, count: u32, path_prefix: &str) -> FaultSpec {
    FaultSpec { fault: kind, count: Some(count), fraction: None, path_prefix: Some(path_prefix.into()), method: None }
}

/// The company profile through `with_token` (401 → one refresh → one retry).
async fn profile(
    manager: &TokenManager<MemoryStore>,
    connection: &ConnectionId,
) -> Result<crate::client::CompanyProfile, ConcurError> {
    let client = manager.client();
    manager.with_token(connection, |t| async move { client.company_profile(&t).await }).await
}

fn refreshes(concur: &StartedConcur, company: &str) -> usize {
    concur.sim.token_calls(company, Grant::RefreshToken)
}

// ---- the app's credentials, read on demand -------------------------------------

#[tokio::test]
async fn a_manager_reads_the_app_credentials_once_and_only_when_a_refresh_needs_them() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let (_, store, connection) = connected(&concur, US_COMPANY, TokenOptions::default()).await;
    store.mem().app = Some(app_of(&concur));
    let manager = TokenManager::app_on_demand(client(), store.clone(), TokenOptions::default());
    assert_eq!(store.mem().app_reads, 0, "building the manager reads nothing");
    profile(&manager, &connection).await.expect("the first call refreshes with the app read from the store");
    concur.sim.expire_access_tokens(US_COMPANY);
    profile(&manager, &connection).await.expect("a second refresh uses the credentials already read");
    assert_eq!(refreshes(&concur, US_COMPANY), 2);
    assert_eq!(store.mem().app_reads, 1);
}

#[tokio::test]
async fn app_credentials_the_store_does_not_hold_are_a_clear_retryable_error() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let (_, store, connection) = connected(&concur, US_COMPANY, TokenOptions::default()).await;
    let manager = TokenManager::app_on_demand(client(), store.clone(), TokenOptions::default());
    let err = profile(&manager, &connection).await.unwrap_err();
    assert!(err.to_string().contains("app credentials") && err.to_string().contains("not configured"), "{err}");
    assert!(err.to_failure("posting").is_retryable(), "{err:?}");
    assert_eq!(refreshes(&concur, US_COMPANY), 0, "nothing is sent to Concur without the app's credentials");
    // Once the secret exists, the same manager refreshes (a failed read is not kept).
    store.mem().app = Some(app_of(&concur));
    profile(&manager, &connection).await.expect("the next attempt reads the credentials");
}

// ---- the client --------------------------------------------------------------

#[tokio::test]
async fn quick_connect_exchange_gets_the_company_datacenter_from_the_app_base_url() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let token = quick_connect(&concur, EMEA_COMPANY).await;
    assert_eq!(token.geolocation, concur.emea_url());
    assert!(token.refresh_token.is_some());
    let log = concur.sim.token_call_log();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].grant_type.as_str(), log[0].datacenter.as_str(), log[0].status), ("password", "us", 200));
}

#[tokio::test]
async fn a_wrong_request_token_is_a_grant_error_without_secrets_in_its_text() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let wrong = Secret::new("5l85ae5a-426f-4d6f-8af4-08648c4b696b");
    let err = client()
        .exchange_request_token(&app_of(&concur), &CompanyUuid::parse(US_COMPANY).unwrap(), &wrong)
        .await
        .unwrap_err();
    assert!(matches!(&err, ConcurError::Grant(e) if e.error == "invalid_grant"), "{err:?}");
    let text = format!("{err} {err:?} {}", err.to_failure("connecting acme"));
    assert!(!text.contains(wrong.expose()) && !text.contains(CLIENT_SECRET), "{text}");
    assert_eq!(err.to_failure("connecting acme").kind, FailureKind::NeedsReauth);
}

#[tokio::test]
async fn a_token_call_at_the_wrong_datacenter_follows_code_16_once() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let grant = StoredGrant::from_token(&quick_connect(&concur, EMEA_COMPANY).await).unwrap();
    // A refresh sent to the US instance for an EMEA company.
    let token = client().refresh(&app_of(&concur), &concur.us_url(), &grant.refresh_token).await.unwrap();
    assert_eq!(token.geolocation, concur.emea_url());
    let refreshes: Vec<(String, u16, Option<u32>)> = concur
        .sim
        .token_call_log()
        .into_iter()
        .filter(|c| c.grant_type == "refresh_token")
        .map(|c| (c.datacenter, c.status, c.error_code))
        .collect();
    assert_eq!(refreshes, [("us".to_owned(), 400, Some(16)), ("emea".to_owned(), 200, None)]);
}

#[tokio::test]
async fn application_token_lists_topics_and_puts_a_webhook_idempotently() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let client = client();
    let app = app_of(&concur);
    let token = client.app_token(&app).await.unwrap();
    assert!(token.refresh_token.is_none());
    let topics = client.event_topics(&app, &token.access_token).await.unwrap();
    assert!(topics.iter().any(|t| t == "public.concur.expense.report"), "{topics:?}");
    let subscription = WebhookSubscription {
        id: "acme-connector.expense.dev.v1".into(),
        topic: "public.concur.expense.report".into(),
        endpoint: "https://hooks.example.com/concur/events".into(),
        filter: ".*".into(),
    };
    client.put_webhook_subscription(&app, &token.access_token, &subscription).await.unwrap();
    client.put_webhook_subscription(&app, &token.access_token, &subscription).await.unwrap();
    let saved = concur.sim.subscriptions();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].endpoint, subscription.endpoint);

    let bad = WebhookSubscription { id: "Not Valid".into(), ..subscription };
    let err = client.put_webhook_subscription(&app, &token.access_token, &bad).await.unwrap_err();
    assert!(matches!(err, ConcurError::Rejected { status: 400, .. }), "{err:?}");
    concur.sim.expire_app_tokens();
    let err = client.event_topics(&app, &token.access_token).await.unwrap_err();
    assert!(matches!(err, ConcurError::Unauthorized), "{err:?}");
}

// ---- the manager -------------------------------------------------------------

#[tokio::test]
async fn every_call_of_an_emea_company_goes_to_its_geolocation() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let (manager, _store, connection) = connected(&concur, EMEA_COMPANY, TokenOptions::default()).await;
    let token = manager.access_token(&connection).await.unwrap();
    assert_eq!(token.geolocation, concur.emea_url());
    let profile = profile(&manager, &connection).await.unwrap();
    assert_eq!(profile.id.as_deref(), Some(EMEA_COMPANY));
    assert_eq!(profile.edition(), domain::Edition::Standard);
    let client = manager.client();
    let page: serde_json::Value =
        manager.with_token(&connection, |t| async move { client.get_json(&t, FI_EXPENSE).await }).await.unwrap();
    assert!(page.get("content").is_some(), "{page}");
    let refresh_datacenters: Vec<String> = concur
        .sim
        .token_call_log()
        .into_iter()
        .filter(|c| c.grant_type == "refresh_token")
        .map(|c| c.datacenter)
        .collect();
    assert_eq!(refresh_datacenters, ["emea"]);
}

#[tokio::test]
async fn a_seeded_token_is_used_without_a_refresh() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let store = MemoryStore::default();
    let manager = TokenManager::new(client(), app_of(&concur), store.clone(), TokenOptions::default());
    let connection = conn("acme");
    let token = quick_connect(&concur, US_COMPANY).await;
    manager.seed(&connection, &token);
    let got = manager.access_token(&connection).await.unwrap();
    assert_eq!(got.value, token.access_token);
    assert_eq!(refreshes(&concur, US_COMPANY), 0);
    assert!(store.mem().lease_takers.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_of_one_process_share_one_refresh() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let (manager, store, connection) = connected(&concur, US_COMPANY, TokenOptions::default()).await;
    let manager = Arc::new(manager);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (manager, connection) = (manager.clone(), connection.clone());
            tokio::spawn(async move { manager.access_token(&connection).await })
        })
        .collect();
    let mut values = Vec::new();
    for task in tasks {
        values.push(task.await.unwrap().unwrap().value.expose().to_owned());
    }
    values.dedup();
    assert_eq!(values.len(), 1, "every task got the same token");
    assert_eq!(refreshes(&concur, US_COMPANY), 1);
    assert_eq!(store.mem().lease_takers.len(), 1);
    assert!(store.mem().leases.is_empty(), "the lease is released");
    assert!(store.mem().saves.is_empty(), "an unchanged refresh token is not written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_replaced_by_one_refresh_for_all_tasks() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let (manager, _store, connection) = connected(&concur, US_COMPANY, TokenOptions::default()).await;
    manager.access_token(&connection).await.unwrap();
    assert_eq!(refreshes(&concur, US_COMPANY), 1);
    // Concur stops accepting the cached token although our clock says it is fresh.
    concur.sim.expire_access_tokens(US_COMPANY);
    let manager = Arc::new(manager);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (manager, connection) = (manager.clone(), connection.clone());
            tokio::spawn(async move { profile(&manager, &connection).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().id.as_deref(), Some(US_COMPANY));
    }
    assert_eq!(refreshes(&concur, US_COMPANY), 2, "one refresh for the rejected token, shared by all");
}

#[tokio::test]
async fn a_second_401_after_the_refresh_is_returned_not_looped() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let (manager, _store, connection) = connected(&concur, US_COMPANY, TokenOptions::default()).await;
    manager.access_token(&connection).await.unwrap();
    concur.sim.faults().inject(fault(FaultKind::ExpiredToken, 2, "/profile")).unwrap();
    let err = profile(&manager, &connection).await.unwrap_err();
    assert!(matches!(err, ConcurError::Unauthorized), "{err:?}");
    assert_eq!(refreshes(&concur, US_COMPANY), 2, "the first refresh plus exactly one for the 401");
}

#[tokio::test]
async fn a_rotated_refresh_token_is_saved_once_and_an_unchanged_one_never() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let (manager, store, connection) = connected(&concur, US_COMPANY, TokenOptions::default()).await;
    manager.access_token(&connection).await.unwrap();
    assert!(store.mem().saves.is_empty());

    concur.sim.rotate_refresh_tokens_on_next_refresh(US_COMPANY);
    concur.sim.expire_access_tokens(US_COMPANY);
    profile(&manager, &connection).await.unwrap();
    let saves = store.mem().saves.clone();
    assert_eq!(saves.len(), 1);
    assert_eq!(concur.sim.valid_refresh_tokens(US_COMPANY), [saves[0].refresh_token.expose().to_owned()]);
    assert_eq!(saves[0].geolocation, concur.us_url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_serialise_refreshes_and_never_hit_invalid_grant() {
    let mut app = ConcurApp::new(CLIENT_ID, CLIENT_SECRET);
    app.rotate_refresh_tokens = true;
    let concur = start(app).await;
    let (first, store, connection) = connected(&concur, US_COMPANY, TokenOptions::default()).await;
    // A second container: its own manager (own memory, own lease holder), same store.
    let second = TokenManager::new(client(), app_of(&concur), store.clone(), TokenOptions::default());
    // Widen the window in which the two would race.
    concur.sim.faults().inject(fault(FaultKind::Slow { delay_ms: 300 }, 2, "/oauth2")).unwrap();
    let (a, b) = tokio::join!(first.access_token(&connection), second.access_token(&connection));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.value, b.value, "containers do not share access tokens");
    let log = concur.sim.token_call_log();
    assert!(log.iter().all(|c| c.error_code.is_none()), "no refused grant: {log:?}");
    assert_eq!(refreshes(&concur, US_COMPANY), 2);
    let mem = store.mem();
    assert_eq!(mem.saves.len(), 2, "each rotation saved once");
    assert_eq!(
        concur.sim.valid_refresh_tokens(US_COMPANY),
        [mem.grants[&connection].refresh_token.expose().to_owned()],
        "the stored token is the live one"
    );
    assert_eq!(mem.lease_takers.len(), 2);
    assert_ne!(mem.lease_takers[0], mem.lease_takers[1]);
}

#[tokio::test]
async fn a_lease_held_elsewhere_is_waited_for_then_gives_a_retryable_error() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let options = TokenOptions { lease_wait: Duration::from_millis(500), ..TokenOptions::default() };
    let (manager, store, connection) = connected(&concur, US_COMPANY, options).await;
    assert!(store.try_lock(&connection, "another-container", Duration::from_secs(60)).await.unwrap());
    let started = Instant::now();
    let err = manager.access_token(&connection).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(matches!(err, ConcurError::Store(_)), "{err:?}");
    assert!(err.to_failure("refreshing acme").is_retryable());
    assert!(err.to_string().contains("acme"), "{err}");
    assert_eq!(refreshes(&concur, US_COMPANY), 0, "no refresh without the lease");

    // Released while we wait: the refresh proceeds.
    let releaser = {
        let (store, connection) = (store.clone(), connection.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            store.unlock(&connection, "another-container").await.unwrap();
        })
    };
    assert!(store.try_lock(&connection, "another-container", Duration::from_secs(60)).await.unwrap());
    manager.access_token(&connection).await.unwrap();
    releaser.await.unwrap();
    assert_eq!(refreshes(&concur, US_COMPANY), 1);
}

#[tokio::test]
async fn a_refresh_token_near_expiry_is_flagged_and_a_renewed_one_is_healthy() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let (manager, store, connection) = connected(&concur, US_COMPANY, TokenOptions::default()).await;
    let soon = epoch_now() + 10 * 24 * 3600;
    concur.sim.set_refresh_expiry(US_COMPANY, soon);
    manager.access_token(&connection).await.unwrap();
    assert_eq!(store.mem().health, [RefreshHealth::ExpiresSoon { expires_at: soon }]);

    let later = epoch_now() + 150 * 24 * 3600;
    concur.sim.set_refresh_expiry(US_COMPANY, later);
    concur.sim.expire_access_tokens(US_COMPANY);
    profile(&manager, &connection).await.unwrap();
    assert_eq!(store.mem().health[1], RefreshHealth::Healthy { expires_at: Some(later) });
}

#[tokio::test]
async fn a_revoked_refresh_token_needs_a_reconnect() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let (manager, store, connection) = connected(&concur, US_COMPANY, TokenOptions::default()).await;
    let refresh_token = store.mem().grants[&connection].refresh_token.expose().to_owned();
    concur.sim.revoke_refresh_tokens(US_COMPANY);
    let err = manager.access_token(&connection).await.unwrap_err();
    assert!(matches!(&err, ConcurError::NeedsReconnect { connection, .. } if connection == "acme"), "{err:?}");
    assert_eq!(err.to_failure("polling acme").kind, FailureKind::NeedsReauth);
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&refresh_token) && !text.contains(CLIENT_SECRET), "{text}");
    let reasons = store.mem().reconnect.clone();
    assert_eq!(reasons.len(), 1);
    assert!(reasons[0].contains("bad or expired refresh token") && reasons[0].contains("Connect"), "{reasons:?}");
    assert!(store.mem().leases.is_empty(), "the lease is released on failure too");
}

#[tokio::test]
async fn a_connection_without_a_grant_is_not_connected() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let store = MemoryStore::default();
    let manager = TokenManager::new(client(), app_of(&concur), store.clone(), TokenOptions::default());
    let err = manager.access_token(&conn("ghost")).await.unwrap_err();
    assert!(matches!(&err, ConcurError::NotConnected { connection } if connection == "ghost"), "{err:?}");
    assert!(err.advice().contains("Connect"));
    assert!(store.mem().lease_takers.is_empty());
    assert!(concur.sim.token_call_log().is_empty());
}

#[tokio::test]
async fn a_transient_token_failure_is_retryable_and_releases_the_lease() {
    let concur = start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let (manager, store, connection) = connected(&concur, US_COMPANY, TokenOptions::default()).await;
    concur.sim.faults().inject(fault(FaultKind::ServerError { status: 503 }, 5, "/oauth2")).unwrap();
    let err = manager.access_token(&connection).await.unwrap_err();
    assert!(matches!(err, ConcurError::Transport(_)), "{err:?}");
    assert!(err.to_failure("acme").is_retryable());
    assert!(store.mem().leases.is_empty());
    assert!(store.mem().reconnect.is_empty());
    concur.sim.faults().clear();
    manager.access_token(&connection).await.unwrap();
}

// ---- pure parts --------------------------------------------------------------

#[test]
fn stored_grant_round_trips_through_the_secret_json() {
    let grant = StoredGrant {
        refresh_token: Secret::new("r-1"),
        refresh_expires_at: Some(1_800_000_000),
        geolocation: "https://emea.api.concursolutions.com".into(),
    };
    let value = grant.to_secret_json();
    assert_eq!(value["refresh_token"], "r-1");
    let back = StoredGrant::from_secret_json(&value).unwrap();
    assert_eq!(back.refresh_token, grant.refresh_token);
    assert_eq!(back.refresh_expires_at, Some(1_800_000_000));
    let no_expiry = StoredGrant::from_secret_json(&json!({"refresh_token": "r", "geolocation": "https://x/"})).unwrap();
    assert_eq!((no_expiry.refresh_expires_at, no_expiry.geolocation.as_str()), (None, "https://x"));
    let missing = StoredGrant::from_secret_json(&json!({"geolocation": "https://x"})).unwrap_err().to_string();
    assert!(missing.contains("refresh_token"), "{missing}");
    let wrong =
        StoredGrant::from_secret_json(&json!({"refresh_token": "SECRET-R", "geolocation": 5})).unwrap_err().to_string();
    assert!(!wrong.contains("SECRET-R"), "{wrong}");
    assert!(!format!("{grant:?}").contains("r-1"));
}

#[test]
fn a_refresh_changes_the_grant_only_by_token_or_datacenter() {
    let stored = StoredGrant {
        refresh_token: Secret::new("r-1"),
        refresh_expires_at: Some(100),
        geolocation: "https://us.api.concursolutions.com".into(),
    };
    let answer = |refresh: Option<&str>, expires: Option<u64>, geo: &str| -> TokenResponse {
        serde_json::from_value(json!({
            "access_token": "a", "expires_in": "3600", "refresh_token": refresh,
            "refresh_expires_in": expires, "geolocation": geo,
        }))
        .unwrap()
    };
    let same_case_insensitive =
        stored.after_refresh(&answer(Some("r-1"), Some(200), "https://us.api.Concursolutions.com"));
    assert!(!same_case_insensitive.differs_from(&stored));
    assert_eq!(same_case_insensitive.refresh_expires_at, Some(200));
    assert!(
        stored.after_refresh(&answer(Some("r-2"), None, "https://us.api.concursolutions.com")).differs_from(&stored)
    );
    let moved = stored.after_refresh(&answer(None, None, "https://emea.api.concursolutions.com/"));
    assert!(moved.differs_from(&stored));
    assert_eq!(moved.refresh_token, stored.refresh_token, "an answer without a refresh token keeps ours");
    assert_eq!(moved.refresh_expires_at, Some(100));
}

#[test]
fn health_is_flagged_within_the_window() {
    let window = time::Duration::days(30);
    let now = 1_800_000_000;
    assert_eq!(health_of(None, now, window), RefreshHealth::Healthy { expires_at: None });
    let edge = now + 30 * 24 * 3600;
    assert_eq!(health_of(Some(edge), now, window), RefreshHealth::ExpiresSoon { expires_at: edge });
    assert_eq!(health_of(Some(edge + 1), now, window), RefreshHealth::Healthy { expires_at: Some(edge + 1) });
    assert_eq!(epoch_date(1_809_129_600), "2027-05-01");
}
