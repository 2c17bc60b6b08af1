//! The Concur token manager against real stores (Secrets Manager and the
//! connections table in moto, through `platform::concur_grants`) and the
//! strict Concur simulator, served as two datacenters whose requests are
//! logged per datacenter.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use axum::{
    Router,
    extract::Request,
    middleware::{self, Next},
    response::Response,
};
use concur::{
    AccessToken, AppCredentials, CompanyProfile, ConcurClient, ConcurError, GrantStore, GrantStoreError, RefreshHealth,
    StoredGrant, TokenManager, TokenOptions, tokens::epoch_date,
};
use domain::{CompanyUuid, Connection, ConnectionId, ConnectionStatus, FailureKind, Secret};
use integration::TestStack;
use platform::concur_grants::ConcurGrantStore;
use simulators::RunningSimulator;
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim, Grant};
use simulators::faults::{FaultKind, FaultSpec};
use transport::{HttpClient, RetryPolicy};

const POSTER: &str = "ErpPosterFunction";
const CLIENT_ID: &str = "6b4b4c4e-1d2a-4f51-9a55-0c1f7b7f3a01";
const CLIENT_SECRET: &str = "0f5d8f2e-8c3b-4a6e-b0a1-3e2f6c9d7b02";
const US_COMPANY: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";
const EMEA_COMPANY: &str = "2fbfd79f-90e7-4f2a-b950-680a107c9f93";
const FI_EXPENSE: &str = "/financialintegration/fi/v4/companies/transactiontypes/expense/transactions";
const LEASE_ITEM: &str = "lease#concur-refresh";

/// One request as a datacenter instance saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    datacenter: &'static str,
    method: String,
    path: String,
    status: u16,
}

type SeenLog = Arc<Mutex<Vec<Seen>>>;

/// The simulated Concur (us + emea), a fresh stack whose app secret points
/// at `us`, and what it takes to build token managers over the real stores.
struct World {
    sim: ConcurSim,
    seen: SeenLog,
    _us: RunningSimulator,
    _emea: RunningSimulator,
    stack: TestStack,
    app: AppCredentials,
}

fn logged(router: Router, datacenter: &'static str, seen: SeenLog) -> Router {
    router.layer(middleware::from_fn(move |request: Request, next: Next| {
        let seen = seen.clone();
        async move {
            let (method, path) = (request.method().to_string(), request.uri().path().to_owned());
            let response: Response = next.run(request).await;
            let status = response.status().as_u16();
            seen.lock().unwrap().push(Seen { datacenter, method, path, status });
            response
        }
    }))
}

impl World {
    async fn new(app: ConcurApp) -> Self {
        let sim = ConcurSim::new(app);
        let seen = SeenLog::default();
        let us = simulators::spawn(logged(sim.router("us"), "us", seen.clone()), 0).await.unwrap();
        let emea = simulators::spawn(logged(sim.router("emea"), "emea", seen.clone()), 0).await.unwrap();
        sim.set_datacenter_url("us", &us.base_url());
        sim.set_datacenter_url("emea", &emea.base_url());
        for (uuid, name, datacenter, marketing_name) in
            [(US_COMPANY, "Acme Corp", "us", "CTE"), (EMEA_COMPANY, "Euro GmbH", "emea", "Standard Edition")]
        {
            sim.add_company(CompanySpec {
                uuid: uuid.into(),
                name: name.into(),
                datacenter: datacenter.into(),
                marketing_name: marketing_name.into(),
            });
        }
        let stack = TestStack::with_concur_app(CLIENT_ID, CLIENT_SECRET, &us.base_url()).await;
        // The functions read the app credentials from the operator's secret: so does the test.
        let app_secret_id = stack.env_of(POSTER).required("CONCUR_APP_SECRET_ID").unwrap();
        let app: AppCredentials = stack.secrets().get_json(&app_secret_id).await.unwrap().unwrap();
        Self { sim, seen, _us: us, _emea: emea, stack, app }
    }

    /// A grant store as one Lambda container has it (its own secret cache).
    fn store(&self) -> ConcurGrantStore {
        self.stack.grant_store(POSTER)
    }

    fn manager<S: GrantStore>(&self, store: S, options: TokenOptions) -> TokenManager<S> {
        TokenManager::new(client(), self.app.clone(), store, options)
    }

    /// Creates an active connection for `company` and stores the grant of a
    /// real Quick Connect exchange (as oauth-callback does).
    async fn connect(&self, id: &str, company: &str, status: ConnectionStatus) -> ConnectionId {
        let connection = ConnectionId::parse(id).unwrap();
        let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
        let mut settings = Connection::new(connection.clone(), format!("{id} corp"), None, &now);
        settings.company_uuid = Some(CompanyUuid::parse(company).unwrap());
        settings.status = status;
        self.stack.connections(POSTER).create(&settings).await.unwrap();
        let request_token = Secret::new(self.sim.issue_request_token(company));
        let token = client()
            .exchange_request_token(&self.app, &CompanyUuid::parse(company).unwrap(), &request_token)
            .await
            .unwrap();
        self.store().save(&connection, &StoredGrant::from_token(&token).unwrap()).await.unwrap();
        connection
    }

    async fn settings(&self, connection: &ConnectionId) -> Connection {
        self.stack.connections(POSTER).get(connection).await.unwrap().unwrap()
    }

    /// The refresh token stored now, read without any cache.
    async fn stored_refresh_token(&self, connection: &ConnectionId) -> String {
        self.store().load_fresh(connection).await.unwrap().unwrap().refresh_token.expose().to_owned()
    }

    async fn secret_versions(&self, connection: &ConnectionId) -> usize {
        let out = aws_sdk_secretsmanager::Client::new(&self.stack.sdk)
            .list_secret_version_ids()
            .secret_id(self.store().secret_id(connection))
            .include_deprecated(true)
            .send()
            .await
            .unwrap();
        out.versions.unwrap_or_default().len()
    }

    async fn lease_item(&self, connection: &ConnectionId) -> Option<String> {
        let table = self.stack.env_of(POSTER).required("CONNECTIONS_TABLE").unwrap();
        let out = self
            .stack
            .dynamodb()
            .get_item()
            .table_name(table)
            .key("connection_id", AttributeValue::S(connection.to_string()))
            .key("item", AttributeValue::S(LEASE_ITEM.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        out.item.map(|item| item["holder"].as_s().unwrap().clone())
    }

    fn refreshes(&self, company: &str) -> usize {
        self.sim.token_calls(company, Grant::RefreshToken)
    }

    fn refused_token_calls(&self) -> Vec<String> {
        self.sim
            .token_call_log()
            .into_iter()
            .filter(|c| c.status != 200)
            .map(|c| format!("{} at {}: {} {:?}", c.grant_type, c.datacenter, c.status, c.error_code))
            .collect()
    }

    fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn client() -> ConcurClient {
    let policy = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        request_timeout: Duration::from_secs(10),
    };
    ConcurClient::new(HttpClient::new(transport::build_client(policy.request_timeout), policy))
}

async fn profile<S: GrantStore>(
    manager: &TokenManager<S>,
    connection: &ConnectionId,
) -> Result<CompanyProfile, ConcurError> {
    let client = manager.client();
    manager.with_token(connection, |t: AccessToken| async move { client.company_profile(&t).await }).await
}

/// (holder, "took" | "released", when).
type LeaseEvent = (String, &'static str, Instant);
type Events = Arc<Mutex<Vec<LeaseEvent>>>;

/// A store that logs when each holder took and released the lease.
#[derive(Clone)]
struct LeaseLog<S> {
    inner: S,
    events: Events,
    saves: Arc<Mutex<usize>>,
}

impl<S> LeaseLog<S> {
    fn new(inner: S, events: Events) -> Self {
        Self { inner, events, saves: Arc::default() }
    }
}

impl<S: GrantStore> GrantStore for LeaseLog<S> {
    async fn load(&self, connection: &ConnectionId) -> Result<Option<StoredGrant>, GrantStoreError> {
        self.inner.load(connection).await
    }

    async fn load_fresh(&self, connection: &ConnectionId) -> Result<Option<StoredGrant>, GrantStoreError> {
        self.inner.load_fresh(connection).await
    }

    async fn save(&self, connection: &ConnectionId, grant: &StoredGrant) -> Result<(), GrantStoreError> {
        *self.saves.lock().unwrap() += 1;
        self.inner.save(connection, grant).await
    }

    async fn try_lock(&self, connection: &ConnectionId, holder: &str, ttl: Duration) -> Result<bool, GrantStoreError> {
        let taken = self.inner.try_lock(connection, holder, ttl).await?;
        if taken {
            self.events.lock().unwrap().push((holder.to_owned(), "took", Instant::now()));
        }
        Ok(taken)
    }

    async fn unlock(&self, connection: &ConnectionId, holder: &str) -> Result<(), GrantStoreError> {
        // Logged before the release: the next holder can only take it after.
        self.events.lock().unwrap().push((holder.to_owned(), "released", Instant::now()));
        self.inner.unlock(connection, holder).await
    }

    async fn record_refresh(&self, connection: &ConnectionId, health: &RefreshHealth) -> Result<(), GrantStoreError> {
        self.inner.record_refresh(connection, health).await
    }

    async fn mark_needs_reconnect(&self, connection: &ConnectionId, reason: &str) -> Result<(), GrantStoreError> {
        self.inner.mark_needs_reconnect(connection, reason).await
    }
}

/// Every "took" is followed by the same holder's "released" before anyone
/// else takes the lease.
fn assert_leases_never_overlap(events: &[LeaseEvent]) {
    let mut holder: Option<&str> = None;
    for (who, what, _) in events {
        match (*what, holder) {
            ("took", None) => holder = Some(who),
            ("released", Some(h)) if h == who => holder = None,
            _ => panic!("lease events interleave: {events:?}"),
        }
    }
    assert_eq!(holder, None, "a lease was never released: {events:?}");
}

#[tokio::test]
async fn an_emea_company_is_refreshed_and_called_only_at_its_datacenter() {
    let world = World::new(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let connection = world.connect("euro", EMEA_COMPANY, ConnectionStatus::Active).await;
    let connect: Vec<(&str, String)> = world.take_seen().into_iter().map(|s| (s.datacenter, s.path)).collect();
    assert_eq!(connect, [("us", "/oauth2/v0/token".to_owned())], "Quick Connect goes to the app's base URL");

    let manager = world.manager(world.store(), TokenOptions::default());
    let token = manager.access_token(&connection).await.unwrap();
    assert_eq!(token.geolocation, world.sim.datacenter_url("emea"));
    let company = profile(&manager, &connection).await.unwrap();
    assert_eq!(company.id.as_deref(), Some(EMEA_COMPANY));
    let client = manager.client();
    let page: serde_json::Value =
        manager.with_token(&connection, |t| async move { client.get_json(&t, FI_EXPENSE).await }).await.unwrap();
    assert!(page["content"].is_array(), "{page}");

    // A rejected token mid-call: the refresh and the retry stay in EMEA too.
    world.sim.expire_access_tokens(EMEA_COMPANY);
    profile(&manager, &connection).await.unwrap();

    let seen = world.take_seen();
    let calls: Vec<(&str, &str, &str, u16)> =
        seen.iter().map(|s| (s.datacenter, s.method.as_str(), s.path.as_str(), s.status)).collect();
    assert_eq!(
        calls,
        [
            ("emea", "POST", "/oauth2/v0/token", 200),
            ("emea", "GET", "/profile/v1/me", 200),
            ("emea", "GET", FI_EXPENSE, 200),
            ("emea", "GET", "/profile/v1/me", 401),
            ("emea", "POST", "/oauth2/v0/token", 200),
            ("emea", "GET", "/profile/v1/me", 200),
        ]
    );
    assert!(world.refused_token_calls().is_empty(), "{:?}", world.refused_token_calls());
}

#[tokio::test]
async fn a_401_mid_call_costs_one_refresh_and_the_call_succeeds() {
    let world = World::new(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let connection = world.connect("acme", US_COMPANY, ConnectionStatus::Active).await;
    let manager = world.manager(world.store(), TokenOptions::default());
    manager.access_token(&connection).await.unwrap();
    assert_eq!(world.refreshes(US_COMPANY), 1);
    world
        .sim
        .faults()
        .inject(FaultSpec {
            fault: FaultKind::ExpiredToken,
            count: Some(1),
            fraction: None,
            path_prefix: Some("/profile".into()),
            method: None,
        })
        .unwrap();
    let company = profile(&manager, &connection).await.unwrap();
    assert_eq!(company.id.as_deref(), Some(US_COMPANY));
    assert_eq!(world.refreshes(US_COMPANY), 2, "exactly one refresh for the 401");
    assert_eq!(world.lease_item(&connection).await, None, "the lease is released");
}

#[tokio::test]
async fn a_rotated_refresh_token_is_persisted_exactly_once() {
    let world = World::new(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let connection = world.connect("acme", US_COMPANY, ConnectionStatus::Active).await;
    let original = world.stored_refresh_token(&connection).await;
    let versions = world.secret_versions(&connection).await;

    let store = LeaseLog::new(world.store(), Arc::default());
    let manager = world.manager(store.clone(), TokenOptions::default());
    manager.access_token(&connection).await.unwrap();
    assert_eq!(*store.saves.lock().unwrap(), 0, "an unchanged refresh token is not written");
    assert_eq!(world.secret_versions(&connection).await, versions);

    world.sim.rotate_refresh_tokens_on_next_refresh(US_COMPANY);
    world.sim.expire_access_tokens(US_COMPANY);
    profile(&manager, &connection).await.unwrap();
    let rotated = world.stored_refresh_token(&connection).await;
    assert_ne!(rotated, original);
    assert_eq!(world.sim.valid_refresh_tokens(US_COMPANY), [rotated], "the stored token is the live one");
    assert_eq!(*store.saves.lock().unwrap(), 1);
    assert_eq!(world.secret_versions(&connection).await, versions + 1, "one PutSecretValue");

    // The next refresh returns the same token: no write.
    world.sim.expire_access_tokens(US_COMPANY);
    profile(&manager, &connection).await.unwrap();
    assert_eq!(world.refreshes(US_COMPANY), 3);
    assert_eq!(*store.saves.lock().unwrap(), 1);
    assert_eq!(world.secret_versions(&connection).await, versions + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_containers_serialise_refreshes_through_the_lease_and_never_hit_invalid_grant() {
    let mut app = ConcurApp::new(CLIENT_ID, CLIENT_SECRET);
    // Every refresh rotates: a worker presenting a consumed token gets invalid_grant.
    app.rotate_refresh_tokens = true;
    let world = World::new(app).await;
    let connection = world.connect("acme", US_COMPANY, ConnectionStatus::Active).await;
    let events = Events::default();
    // Two Lambda containers: separate managers, separate secret caches, same AWS stores.
    let first = world.manager(LeaseLog::new(world.store(), Arc::clone(&events)), TokenOptions::default());
    let second = world.manager(LeaseLog::new(world.store(), Arc::clone(&events)), TokenOptions::default());
    let slow_tokens = || FaultSpec {
        fault: FaultKind::Slow { delay_ms: 300 },
        count: Some(2),
        fraction: None,
        path_prefix: Some("/oauth2".into()),
        method: None,
    };

    // Cold start of both at once.
    world.sim.faults().inject(slow_tokens()).unwrap();
    let (a, b) = tokio::join!(first.access_token(&connection), second.access_token(&connection));
    assert_ne!(a.unwrap().value, b.unwrap().value, "containers keep their own access tokens");

    // Both caches now hold a refresh token the other container has since
    // consumed; Concur rejects both access tokens at once.
    world.sim.expire_access_tokens(US_COMPANY);
    world.sim.faults().inject(slow_tokens()).unwrap();
    let (a, b) = tokio::join!(profile(&first, &connection), profile(&second, &connection));
    assert_eq!((a.unwrap().id, b.unwrap().id), (Some(US_COMPANY.to_owned()), Some(US_COMPANY.to_owned())));

    assert!(world.refused_token_calls().is_empty(), "no refused grant: {:?}", world.refused_token_calls());
    assert_eq!(world.refreshes(US_COMPANY), 4);
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 8, "four leases taken and released: {events:?}");
    assert_leases_never_overlap(&events);
    let stored = world.stored_refresh_token(&connection).await;
    assert_eq!(world.sim.valid_refresh_tokens(US_COMPANY), [stored]);
    assert_eq!(world.lease_item(&connection).await, None);
    assert_eq!(world.settings(&connection).await.status, ConnectionStatus::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_tasks_in_one_container_make_one_refresh() {
    let world = World::new(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let connection = world.connect("acme", US_COMPANY, ConnectionStatus::Active).await;
    let manager = Arc::new(world.manager(world.store(), TokenOptions::default()));
    world
        .sim
        .faults()
        .inject(FaultSpec {
            fault: FaultKind::Slow { delay_ms: 200 },
            count: Some(1),
            fraction: None,
            path_prefix: Some("/oauth2".into()),
            method: None,
        })
        .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (manager, connection) = (Arc::clone(&manager), connection.clone());
            tokio::spawn(async move { profile(&manager, &connection).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().id.as_deref(), Some(US_COMPANY));
    }
    assert_eq!(world.refreshes(US_COMPANY), 1);
}

#[tokio::test]
async fn a_lease_held_by_another_container_is_respected() {
    let world = World::new(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let connection = world.connect("acme", US_COMPANY, ConnectionStatus::Active).await;
    let store = world.store();
    assert!(store.try_lock(&connection, "other-container", Duration::from_secs(60)).await.unwrap());
    assert!(!store.try_lock(&connection, "third-container", Duration::from_secs(60)).await.unwrap());

    let options = TokenOptions { lease_wait: Duration::from_millis(600), ..TokenOptions::default() };
    let manager = world.manager(world.store(), options);
    let err = manager.access_token(&connection).await.unwrap_err();
    assert!(matches!(err, ConcurError::Store(_)), "{err:?}");
    let failure = err.to_failure("refreshing the Concur token of connection acme");
    assert!(failure.is_retryable(), "{failure:?}");
    assert_eq!(world.refreshes(US_COMPANY), 0, "no refresh without the lease");
    assert_eq!(world.lease_item(&connection).await.as_deref(), Some("other-container"));

    // Another holder's release is not ours to make.
    store.unlock(&connection, "third-container").await.unwrap();
    assert_eq!(world.lease_item(&connection).await.as_deref(), Some("other-container"));
    store.unlock(&connection, "other-container").await.unwrap();
    manager.access_token(&connection).await.unwrap();
    assert_eq!(world.refreshes(US_COMPANY), 1);

    // A lease whose holder died lapses after its TTL.
    assert!(store.try_lock(&connection, "crashed-container", Duration::from_millis(1)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    world.sim.expire_access_tokens(US_COMPANY);
    profile(&manager, &connection).await.unwrap();
    assert_eq!(world.refreshes(US_COMPANY), 2);
    assert_eq!(world.lease_item(&connection).await, None);
}

#[tokio::test]
async fn a_refresh_token_near_expiry_flags_the_connection_reconnect_soon() {
    let world = World::new(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let connection = world.connect("acme", US_COMPANY, ConnectionStatus::Active).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let soon = now + 12 * 24 * 3600;
    world.sim.set_refresh_expiry(US_COMPANY, soon);
    let manager = world.manager(world.store(), TokenOptions::default());
    manager.access_token(&connection).await.unwrap();

    let settings = world.settings(&connection).await;
    assert_eq!(settings.status, ConnectionStatus::ReconnectSoon);
    assert!(settings.is_flowing(), "documents still flow");
    let reason = settings.status_reason.unwrap();
    assert!(reason.contains(&epoch_date(soon)) && reason.contains("click Connect"), "{reason}");
    let expected = time::OffsetDateTime::from_unix_timestamp(soon)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(settings.concur_refresh_expires_at.as_deref(), Some(expected.as_str()));

    // The admin reconnected (a new refresh token, six months out): back to active.
    let later = now + 180 * 24 * 3600;
    world.sim.set_refresh_expiry(US_COMPANY, later);
    world.sim.expire_access_tokens(US_COMPANY);
    profile(&manager, &connection).await.unwrap();
    let settings = world.settings(&connection).await;
    assert_eq!(settings.status, ConnectionStatus::Active);
    assert_eq!(settings.status_reason, None);
    assert!(settings.concur_refresh_expires_at.unwrap().starts_with(&epoch_date(later)));
}

#[tokio::test]
async fn a_revoked_refresh_token_marks_the_connection_needs_reauth() {
    let world = World::new(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let connection = world.connect("acme", US_COMPANY, ConnectionStatus::Active).await;
    let refresh_token = world.stored_refresh_token(&connection).await;
    world.sim.revoke_refresh_tokens(US_COMPANY);
    let manager = world.manager(world.store(), TokenOptions::default());
    let err = profile(&manager, &connection).await.unwrap_err();
    assert!(matches!(err, ConcurError::NeedsReconnect { .. }), "{err:?}");
    let failure = err.to_failure("polling connection acme");
    assert_eq!(failure.kind, FailureKind::NeedsReauth);
    assert!(!failure.reason.contains(&refresh_token) && !failure.reason.contains(CLIENT_SECRET), "{failure:?}");

    let settings = world.settings(&connection).await;
    assert_eq!(settings.status, ConnectionStatus::NeedsReauth);
    let reason = settings.status_reason.unwrap();
    assert!(reason.contains("refresh token") && reason.contains("click Connect"), "{reason}");
    assert_eq!(world.lease_item(&connection).await, None);
}

#[tokio::test]
async fn a_disabled_connection_keeps_its_status_whatever_the_token_says() {
    let world = World::new(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    let connection = world.connect("acme", US_COMPANY, ConnectionStatus::Disabled).await;
    world.sim.set_refresh_expiry(US_COMPANY, time::OffsetDateTime::now_utc().unix_timestamp() + 24 * 3600);
    let manager = world.manager(world.store(), TokenOptions::default());
    manager.access_token(&connection).await.unwrap();
    let settings = world.settings(&connection).await;
    assert_eq!((settings.status, settings.status_reason), (ConnectionStatus::Disabled, None));
    assert!(settings.concur_refresh_expires_at.is_some(), "the expiry date is still recorded");

    world.sim.revoke_refresh_tokens(US_COMPANY);
    world.sim.expire_access_tokens(US_COMPANY);
    assert!(matches!(profile(&manager, &connection).await, Err(ConcurError::NeedsReconnect { .. })));
    assert_eq!(world.settings(&connection).await.status, ConnectionStatus::Disabled);
}
