//! Strict simulator of Acumatica's contract-based REST API (endpoint
//! `Default`, version `24.200.001` by default), following
//! `shared/reference/erp/acumatica.md`.
//!
//! One [`AcumaticaSim`] is one Acumatica site hosting any number of tenants.
//! Routes:
//! - `POST /identity/connect/token` — OAuth password / refresh_token grants;
//!   `client_id` must be `<guid>@<TenantLoginName>`.
//! - `POST /entity/auth/login`, `POST /entity/auth/logout` — cookie sessions.
//! - `GET  /entity` — discovery.
//! - `/entity/Default/{version}/{Bill|JournalTransaction|Vendor|Account|Subaccount}`:
//!   `GET` list (`$filter $select $expand $custom $top $skip`), `PUT` upsert,
//!   `GET`/`DELETE` `/{keys…}` or `/{id}`, `POST /{Action}` → 202 + `Location`
//!   (poll: 202 once, then 204), `PUT /{keys…}/files/{name}`, `GET /$adHocSchema`.
//! - `/entity/Default/{version}/{PurchaseOrder|PurchaseReceipt|Project|ProjectTask}`:
//!   the same reads; seeded by tests ([`purchasing`], [`project`]), any
//!   write answers 501.
//! - `GET /entity/Default/{version}/files/{id}` — attachment bytes.
//! - `/_sim/faults`, `/_sim/requests` — fault injection (see [`crate::faults`]).
//!
//! Error shapes: request-binding failures (bare `"Vendor": "V1"`, unknown or
//! wrong-case field, malformed JSON) → 400 `{"message":"The request is
//! invalid.","modelState":{...}}`; malformed query options → 400 `HttpError`;
//! business validation → 422 with the record echoed and `error` members;
//! missing record by key/id → 500 `NoEntitySatisfiesTheConditionException`.

mod account;
mod auth;
mod bill;
mod entity;
mod errors;
mod filter;
mod journal;
mod project;
mod purchasing;
mod query;
mod schema;
mod state;
mod validate;
mod vendor;
mod wire;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::{
    Router,
    http::Uri,
    response::Response,
    routing::{any, get, post},
};
use serde_json::{Value, json};

pub use project::{PROJECT_STATUSES, PROJECT_TASK_STATUSES};
pub use purchasing::{
    ORDER_STATUSES, ORDER_TYPES, PurchaseOrderLineSpec, PurchaseOrderSpec, PurchaseReceiptSpec, RECEIPT_STATUSES,
    RECEIPT_TYPES, ReceiptLineSpec,
};

use crate::RunningSimulator;
use crate::faults::Faults;
use schema::Kind;
use state::{Record, Site, Tenant, Val};

/// A tenant to host on the simulated site.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    /// Tenant login name (the `@suffix` of the OAuth client id, `tenant` at cookie login).
    pub name: String,
    /// GUID part of the OAuth client id (e.g. `88358B02-A48D-A50E-F710-39C1636C30F6`).
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
    /// `(username, password)` pairs allowed to sign in.
    pub users: Vec<(String, String)>,
    /// Branch IDs; the first is the default branch of new documents.
    pub branches: Vec<String>,
}

/// One simulated Acumatica site; cheap to clone (shared state).
#[derive(Clone)]
pub struct AcumaticaSim {
    site: Arc<Mutex<Site>>,
    faults: Faults,
    /// Misbehaviour of the next entity PUTs *after* they saved (see [`AfterCommit`]).
    after_commit: Arc<Mutex<Vec<AfterCommit>>>,
}

/// What an entity `PUT` does after its record was saved: the "it committed
/// but the caller never heard" case that the generic fault layer cannot
/// produce (its faults answer before the handler runs, or delay it before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCommit {
    /// Answer this 5xx (500..=599) instead of the saved record.
    ServerError { status: u16 },
    /// Answer normally, but only after this delay (longer than the client's
    /// timeout, the caller gives up while the record already exists).
    Delay { ms: u64 },
    /// Save only after this delay (a slow server: the caller gives up
    /// first, and a lookup it makes meanwhile finds nothing), then answer.
    /// The save happens even when the caller has hung up.
    CommitLate { ms: u64 },
}

impl Default for AcumaticaSim {
    fn default() -> Self {
        Self::new()
    }
}

impl AcumaticaSim {
    /// A site publishing endpoint `Default` version `24.200.001`.
    pub fn new() -> Self {
        Self::with_versions(&["24.200.001"])
    }

    /// A site publishing endpoint `Default` in the given versions.
    pub fn with_versions(versions: &[&str]) -> Self {
        let site = Site::new(versions.iter().map(|v| (*v).to_owned()).collect());
        AcumaticaSim {
            site: Arc::new(Mutex::new(site)),
            faults: Faults::new(errors::AcumaticaFaults),
            after_commit: Arc::default(),
        }
    }

    /// The next `count` successful entity `PUT`s (creates or updates, any
    /// entity, any tenant) save their record and then misbehave as `how` says.
    pub fn after_commit(&self, count: usize, how: AfterCommit) {
        let mut queue = self.after_commit.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        queue.extend(std::iter::repeat_n(how, count));
    }

    /// Takes the next after-commit misbehaviour, if one is queued.
    fn take_after_commit(&self) -> Option<AfterCommit> {
        let mut queue = self.after_commit.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if queue.is_empty() { None } else { Some(queue.remove(0)) }
    }

    /// Takes the next misbehaviour when it is a late commit (decided before the save).
    fn take_commit_late(&self) -> Option<u64> {
        let mut queue = self.after_commit.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match queue.first() {
            Some(AfterCommit::CommitLate { ms }) => {
                let ms = *ms;
                queue.remove(0);
                Some(ms)
            }
            _ => None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Site> {
        // A panicking handler must not wedge the simulator for the rest of a test run.
        self.site.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a tenant (panics if one with the same name exists — a test setup error).
    pub fn add_tenant(&self, spec: TenantSpec) {
        let mut site = self.lock();
        assert!(site.tenant_index(&spec.name).is_none(), "tenant {} added twice", spec.name);
        site.tenants.push(Tenant {
            name: spec.name,
            client_guid: spec.client_id.to_uppercase(),
            client_secret: spec.client_secret,
            users: spec.users,
            branches: spec.branches,
            records: Default::default(),
            files: Default::default(),
            last_bill_nbr: 0,
            last_batch_nbr: 0,
            last_account_id: 0,
            last_subaccount_id: 0,
        });
    }

    fn seed(&self, tenant: &str, kind: Kind, build: impl FnOnce(&mut Tenant, &mut Record)) {
        let mut site = self.lock();
        let index = site.tenant_index(tenant).unwrap_or_else(|| panic!("unknown tenant {tenant}"));
        let t = &mut site.tenants[index];
        let mut rec = Record::with_new_id();
        build(t, &mut rec);
        let now = time::OffsetDateTime::now_utc();
        rec.set("LastModifiedDateTime", Val::Date(now));
        t.records_mut(kind).push(rec);
    }

    /// Seeds a vendor (`status`: Active, On Hold, Hold Payments, Inactive, One-Time).
    pub fn add_vendor(&self, tenant: &str, id: &str, name: &str, status: &str) {
        self.seed(tenant, Kind::Vendor, |_, rec| {
            rec.set_str("VendorID", id);
            rec.set_str("VendorName", name);
            rec.set_str("Status", status);
            rec.set("F1099Vendor", Val::Bool(false));
        });
    }

    /// Changes a vendor's name and status as a user would on screen AP303000
    /// (its `LastModifiedDateTime` moves); `false` when there is no such vendor.
    pub fn update_vendor(&self, tenant: &str, id: &str, name: &str, status: &str) -> bool {
        let mut site = self.lock();
        let Some(index) = site.tenant_index(tenant) else { return false };
        let vendors = site.tenants[index].records_mut(Kind::Vendor);
        let Some(rec) = vendors.iter_mut().find(|r| r.str("VendorID") == Some(id)) else { return false };
        rec.set_str("VendorName", name);
        rec.set_str("Status", status);
        rec.set("LastModifiedDateTime", Val::Date(time::OffsetDateTime::now_utc()));
        true
    }

    /// Seeds a GL account (`account_type`: Asset, Liability, Income, Expense).
    pub fn add_account(&self, tenant: &str, cd: &str, description: &str, account_type: &str, active: bool) {
        self.seed(tenant, Kind::Account, |t, rec| {
            t.last_account_id += 1;
            rec.set_str("AccountCD", cd);
            rec.set("AccountID", Val::Int(t.last_account_id));
            rec.set_str("Description", description);
            rec.set_str("Type", account_type);
            rec.set("Active", Val::Bool(active));
            for flag in ["CashAccount", "RequireUnits", "Secured", "UseDefaultSubaccount"] {
                rec.set(flag, Val::Bool(false));
            }
        });
    }

    /// Seeds a subaccount.
    pub fn add_subaccount(&self, tenant: &str, cd: &str, description: &str, active: bool) {
        self.seed(tenant, Kind::Subaccount, |t, rec| {
            t.last_subaccount_id += 1;
            rec.set_str("SubaccountCD", cd);
            rec.set("SubaccountID", Val::Int(t.last_subaccount_id));
            rec.set_str("Description", description);
            rec.set("Active", Val::Bool(active));
            rec.set("Secured", Val::Bool(false));
        });
    }

    /// The tenant's bills as the API returns them with `$expand=Details` (plus all custom fields).
    pub fn bills(&self, tenant: &str) -> Vec<Value> {
        entity::read_back(&self.lock(), tenant, Kind::Bill)
    }

    /// The tenant's journal transactions, expanded like [`Self::bills`].
    pub fn journal_transactions(&self, tenant: &str) -> Vec<Value> {
        entity::read_back(&self.lock(), tenant, Kind::Journal)
    }

    /// The tenant's vendors with every linked entity expanded.
    pub fn vendors(&self, tenant: &str) -> Vec<Value> {
        entity::read_back(&self.lock(), tenant, Kind::Vendor)
    }

    /// Sets every vendor's `LastModifiedDateTime` to `at` (vendors that
    /// have not changed for a while, for changed-since reads).
    pub fn backdate_vendors(&self, tenant: &str, at: time::OffsetDateTime) {
        let mut site = self.lock();
        let Some(index) = site.tenant_index(tenant) else { return };
        for rec in site.tenants[index].records_mut(Kind::Vendor).iter_mut() {
            rec.set("LastModifiedDateTime", Val::Date(at));
        }
    }

    /// The tenant's subaccounts as the API returns them.
    pub fn subaccounts(&self, tenant: &str) -> Vec<Value> {
        entity::read_back(&self.lock(), tenant, Kind::Subaccount)
    }

    /// Changes a seeded subaccount's description and active flag, as the
    /// GL203000 screen does; false when the tenant or subaccount is unknown.
    pub fn update_subaccount(&self, tenant: &str, cd: &str, description: &str, active: bool) -> bool {
        let mut site = self.lock();
        let Some(index) = site.tenant_index(tenant) else { return false };
        let subaccounts = site.tenants[index].records_mut(Kind::Subaccount);
        let Some(rec) = subaccounts.iter_mut().find(|r| r.str("SubaccountCD") == Some(cd)) else { return false };
        rec.set_str("Description", description);
        rec.set("Active", Val::Bool(active));
        rec.set("LastModifiedDateTime", Val::Date(time::OffsetDateTime::now_utc()));
        true
    }

    /// Sets `expires_in` of access tokens issued from now on (default 3600 s).
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.lock().token_lifetime = Duration::from_secs(seconds);
    }

    /// Makes every access token issued so far expired (refresh tokens stay valid).
    pub fn expire_access_tokens(&self) {
        let mut site = self.lock();
        let past = Instant::now();
        for token in site.access_tokens.values_mut() {
            token.expires_at = past;
        }
    }

    /// Calls to the token endpoint with this `grant_type` (successful or not).
    pub fn token_calls(&self, grant_type: &str) -> usize {
        self.lock().token_calls.get(grant_type).copied().unwrap_or(0)
    }

    /// Per-minute limit on `/entity` requests (site-wide); `None` = off (default).
    pub fn set_rate_limit(&self, per_minute: Option<u32>) {
        let mut site = self.lock();
        site.rate_limit_per_minute = per_minute;
        site.recent_requests.clear();
    }

    /// Maximum concurrent cookie sessions (API-user seats; default 2).
    pub fn set_max_sessions(&self, sessions: usize) {
        self.lock().max_sessions = sessions;
    }

    /// Cookie sessions currently holding a seat.
    pub fn active_sessions(&self) -> usize {
        let mut site = self.lock();
        site.expire_idle_sessions(Instant::now());
        site.sessions.len()
    }

    /// The fault-injection handle (same rules as `POST /_sim/faults`).
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    /// The full router: API routes wrapped by the fault layer, plus `/_sim/*`.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/identity/connect/token", post(auth::token))
            .route("/identity/.well-known/openid-configuration", get(openid_configuration))
            .route("/entity", get(entity::discovery))
            .route("/entity/auth/login", post(auth::login))
            .route("/entity/auth/logout", post(auth::logout))
            .route("/entity/{*rest}", any(entity::handle))
            .fallback(fallback)
            .with_state(self.clone());
        self.faults.clone().wrap(api)
    }

    /// Serves on 127.0.0.1 at `port` (0 = any free port).
    pub async fn serve(self, port: u16) -> std::io::Result<RunningSimulator> {
        crate::spawn(self.router(), port).await
    }

    /// Serves on an ephemeral loopback port; panics if no port can be bound
    /// (a test environment failure, not request input).
    pub async fn start(self) -> RunningSimulator {
        self.serve(0).await.expect("bind a loopback port for the Acumatica simulator")
    }
}

async fn openid_configuration() -> axum::Json<Value> {
    axum::Json(json!({
        "issuer": "/identity",
        "token_endpoint": "/identity/connect/token",
        "authorization_endpoint": "/identity/connect/authorize",
        "grant_types_supported": ["password", "refresh_token"],
        "scopes_supported": ["api", "offline_access", "api:concurrent_access", "openid", "email", "profile"],
    }))
}

async fn fallback(uri: Uri) -> Response {
    errors::not_found(uri.path())
}
