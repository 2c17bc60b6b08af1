//! Strict SAP Concur simulator: OAuth2 token endpoint (company password grant,
//! refresh, client credentials), Company Profile, Financial Integration
//! Service v4, the Event Subscription Service management API and the
//! reference data an ERP pushes into Concur (Invoice Vendor v3, List v4,
//! List Item v4).
//!
//! One [`ConcurSim`] holds the whole simulated Concur (companies, tokens, FI
//! queues, subscriptions, vendors, lists). It is served once per datacenter: each
//! [`ConcurSim::router`] knows which datacenter it is, so a company token works
//! only at its company's datacenter, exactly as geolocation does in production.
//! Tests register each instance's base URL with
//! [`ConcurSim::set_datacenter_url`]; [`ConcurSim::start`] does all of it for
//! `us` and `emea`.
//!
//! The simulator answers in the documented status codes and body shapes and
//! refuses what Concur refuses (see `shared/reference/concur/*.md`). Where the
//! documented error body is terse, a simulator-only `x-sim-reason` header says
//! why a call was refused.
//!
//! Routes (every datacenter):
//! - `POST /oauth2/v0/token`
//! - `GET  /profile/v1/me`
//! - `GET  /financialintegration/fi/v4/companies/transactiontypes/{docType}/transactions`
//! - `POST …/transactions/acknowledgements`, `…/postingconfirmations`, `…/paymentconfirmations`
//! - `GET  /events/v4/topics`, `GET /events/v4/subscriptions[/{id}]`,
//!   `PUT /events/v4/subscriptions/webhook`, `DELETE /events/v4/subscriptions/{id}`
//! - `GET|POST|PUT|DELETE /api/v3.0/invoice/vendors` (Vendor v3, see *Reference data* below)
//! - `POST|PUT /api/v3.0/invoice/purchaseorders`, `GET …/purchaseorders/{id}` (Purchase Order v3,
//!   one order per call, in `purchase_order.rs`); `GET|POST|PUT|DELETE
//!   /api/v3.0/invoice/purchaseorderreceipts` (PO Receipt v3, the same file)
//! - Extract v1 (`extract.rs`): `GET /api/expense/extract/v1.0/`, `GET …/{definition}`,
//!   `GET|POST …/{definition}/job`, `GET …/{definition}/job/{job}`, `GET …/job/{job}/status`,
//!   `GET …/job/{job}/file`
//! - Payment Batch v1 (`payment_batch.rs`): `GET /api/expense/paymentbatch/v1.1/batchlist/[OPEN|CLOSED]`,
//!   `POST …/v1.2/batch/{id}/close` (scheduled), `POST …/v1.1/batch/{id}/close` (now),
//!   `GET …/v1.1/batch/{key}/file`
//! - `GET|POST /list/v4/lists`, `GET /list/v4/lists/{listId}`,
//!   `GET /list/v4/lists/{listId}/children`,
//!   `GET /list/v4/lists/{listId}/items/{itemId}/children`,
//!   `DELETE /list/v4/lists/{listId}/items/{itemId}`
//! - `POST /list/v4/items`, `GET|PUT|DELETE /list/v4/items/{itemId}`,
//!   `GET /list/v4/items/{itemId}/children`
//! - fault control: `/_sim/faults`, `/_sim/requests` (see [`crate::faults`])
//!
//! ESS *deliveries* (signed webhook bodies) are built by [`webhook`].
//!
//! # Extract files
//!
//! The file-based APIs serve the company's FI documents as SAE and PRAE
//! files, rendered by [`render_sae`] / [`render_prae`] (the inverse of
//! `docs/extract-files.md`). Each READY document goes into one file only.
//! Tests configure definitions, timing, delimiter and a file transform,
//! run Concur's scheduled jobs and close batches by hand through the
//! methods in `file_inspect.rs` ([`ConcurSim::run_scheduled_job`],
//! [`ConcurSim::close_batch_manually`], …).
//!
//! # Reference data
//!
//! Vendor v3 needs `INVVEN` and a company offered the API (not the China
//! datacenter `cn`; [`ConcurSim::set_vendor_api_available`] switches it per
//! company, else 404). Batches answer 200 with a per-record `StatusList`
//! (codes in [`vendor_status_code`]); empty or over-1000-record batches are a
//! 400. Lists and items follow the documented v4 shapes and error body. Tests
//! read and seed both through [`ConcurSim::vendors`], [`ConcurSim::add_vendor`],
//! [`ConcurSim::create_list`], [`ConcurSim::list_items`] and friends; records
//! carry a last-modified time no API exposes ([`ConcurSim::vendors_changed_since`]).

mod ess;
mod extract;
mod extract_render;
mod fi;
mod file_inspect;
mod file_store;
mod http;
mod inspect;
mod legacy;
mod list;
mod list_store;
mod payment_batch;
mod profile;
mod purchase_order;
mod state;
mod token;
mod vendor;
mod vendor_store;
pub mod webhook;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::{
    Router, middleware,
    routing::{delete, get, post, put},
};
use serde_json::Value;

use crate::RunningSimulator;
use crate::faults::{Faults, SeenRequest};
use state::{FiDoc, Principal, State};

pub use extract_render::{
    CashAdvanceKeys, Delimiter, FileSpec, PRAE_COLUMNS, SAE_COLUMNS, exact_decimal, quote_field, render_prae,
    render_sae, render_sae_keyed,
};
pub use file_inspect::{ExtractJobRecord, PaymentBatchRecord, PaymentBatchStatus};
pub use file_store::{
    Completion, DefinitionKind, ExtractDefinition, ExtractDefinitionSpec, ExtractJobStatus, FileApiError, FileTransform,
};
pub use list_store::{
    LIST_CATEGORIES, LIST_PAGE_SIZE, ListItemRecord, ListRecord, MAX_ITEM_VALUE_CHARS, MAX_LIST_LEVELS,
    MAX_SHORT_CODE_CHARS,
};
pub use state::{
    DocStatus, Grant, PaymentConfirmationRecord, PostingConfirmationRecord, ReferenceWrite, ReferenceWriteKind,
    Subscription, TokenCall,
};
pub use vendor_store::{
    DEFAULT_VENDOR_PAGE, MAX_ADDRESS_CODE_CHARS, MAX_VENDOR_BATCH, MAX_VENDOR_CODE_CHARS, MAX_VENDOR_NAME_CHARS,
    MAX_VENDOR_PAGE, VendorRecord, status_code as vendor_status_code,
};
pub use webhook::{EssSigner, ExpenseStatusChanged, ReportStatusChange};

/// Scopes a connector application gets by default (auth.md §7).
pub const DEFAULT_SCOPES: &[&str] = &[
    "openid",
    "FISVC",
    "company.read",
    "events.topic.read",
    "expense.report.read",
    "spend.list.read",
    "spend.listitem.read",
    "spend.listitem.write",
    "spend.listitem.delete",
    "INVVEN",
    "INVPO",
    "EXTRCT",
    "PAYBAT",
];

/// The partner application registered with SAP Concur.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcurApp {
    /// OAuth2 `client_id`.
    pub client_id: String,
    /// OAuth2 `client_secret`.
    pub client_secret: String,
    /// Application UUID (`applicationId` of its ESS subscriptions).
    pub application_id: String,
    /// Datacenter the application is registered in; client-credentials tokens come from here.
    pub datacenter: String,
    /// Scopes SAP Concur granted the application.
    pub scopes: Vec<String>,
    /// Rotate the refresh token on every refresh grant (default false: the same value comes back).
    pub rotate_refresh_tokens: bool,
}

impl ConcurApp {
    /// An application in `us` with [`DEFAULT_SCOPES`].
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            application_id: uuid::Uuid::new_v4().to_string(),
            datacenter: "us".into(),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            rotate_refresh_tokens: false,
        }
    }
}

/// A customer company that connected the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanySpec {
    /// Company UUID (`id` of the App Center redirect, `username` of the password grant).
    pub uuid: String,
    /// Company name shown by the Profile API.
    pub name: String,
    /// Datacenter the company lives in: `us`, `emea`, …
    pub datacenter: String,
    /// Edition: `CTE` (Professional), `Standard Edition`, …
    pub marketing_name: String,
}

/// The simulated SAP Concur; cheap to clone (shared state).
#[derive(Clone)]
pub struct ConcurSim {
    state: Arc<Mutex<State>>,
    faults: Faults,
}

/// Per-router context: the shared sim and the datacenter this instance is.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub sim: ConcurSim,
    pub datacenter: Arc<str>,
}

/// A simulator serving `us` and `emea` on loopback; stops when dropped.
pub struct StartedConcur {
    /// The shared simulated Concur.
    pub sim: ConcurSim,
    /// The `us` datacenter instance.
    pub us: RunningSimulator,
    /// The `emea` datacenter instance.
    pub emea: RunningSimulator,
}

impl StartedConcur {
    /// Base URL of the `us` instance.
    pub fn us_url(&self) -> String {
        self.us.base_url()
    }

    /// Base URL of the `emea` instance.
    pub fn emea_url(&self) -> String {
        self.emea.base_url()
    }
}

const FI_TRANSACTIONS: &str = "/financialintegration/fi/v4/companies/transactiontypes/{doc_type}/transactions";

/// The Extract v1 and Payment Batch v1 routes.
fn file_routes(router: Router<Ctx>) -> Router<Ctx> {
    const EXTRACT: &str = extract::EXTRACT_PATH;
    const BATCH: &str = payment_batch::BATCH_PATH;
    router
        .route(EXTRACT, get(extract::definitions))
        .route(&format!("{EXTRACT}/"), get(extract::definitions))
        .route(&format!("{EXTRACT}/{{definition}}"), get(extract::definition))
        .route(&format!("{EXTRACT}/{{definition}}/job"), get(extract::jobs).post(extract::start_job))
        .route(&format!("{EXTRACT}/{{definition}}/job/{{job}}"), get(extract::job))
        .route(&format!("{EXTRACT}/{{definition}}/job/{{job}}/status"), get(extract::job))
        .route(&format!("{EXTRACT}/{{definition}}/job/{{job}}/file"), get(extract::job_file))
        .route(&format!("{BATCH}/v1.1/batchlist"), get(payment_batch::list))
        .route(&format!("{BATCH}/v1.1/batchlist/"), get(payment_batch::list))
        .route(&format!("{BATCH}/v1.1/batchlist/{{status}}"), get(payment_batch::list_by_status))
        .route(&format!("{BATCH}/v1.2/batch/{{id}}/close"), post(payment_batch::close_async))
        .route(&format!("{BATCH}/v1.1/batch/{{id}}/close"), post(payment_batch::close_sync))
        .route(&format!("{BATCH}/v1.1/batch/{{key}}/file"), get(payment_batch::batch_file))
}

impl ConcurSim {
    /// A simulated Concur knowing one application and no companies.
    pub fn new(app: ConcurApp) -> Self {
        Self { state: Arc::new(Mutex::new(State::new(app))), faults: Faults::new(http::ConcurFaultResponses) }
    }

    /// Spawns `us` and `emea` on free loopback ports and registers their URLs.
    ///
    /// Panics if loopback ports cannot be bound (see [`ConcurSim::try_start`]).
    pub async fn start(app: ConcurApp) -> StartedConcur {
        match Self::try_start(app).await {
            Ok(started) => started,
            Err(e) => panic!("cannot start the Concur simulator on loopback: {e}"),
        }
    }

    /// [`ConcurSim::start`], returning bind errors.
    pub async fn try_start(app: ConcurApp) -> std::io::Result<StartedConcur> {
        let sim = Self::new(app);
        let us = crate::spawn(sim.router("us"), 0).await?;
        let emea = crate::spawn(sim.router("emea"), 0).await?;
        sim.set_datacenter_url("us", &us.base_url());
        sim.set_datacenter_url("emea", &emea.base_url());
        Ok(StartedConcur { sim, us, emea })
    }

    /// The API router of one datacenter instance (with fault control and correlation ids).
    pub fn router(&self, datacenter: &str) -> Router {
        let ctx = Ctx { sim: self.clone(), datacenter: Arc::from(datacenter) };
        let api = Router::new()
            .route("/oauth2/v0/token", post(token::token))
            .route("/profile/v1/me", get(profile::me))
            .route(FI_TRANSACTIONS, get(fi::get_documents))
            .route(&format!("{FI_TRANSACTIONS}/acknowledgements"), post(fi::acknowledge))
            .route(&format!("{FI_TRANSACTIONS}/postingconfirmations"), post(fi::posting_confirmations))
            .route(&format!("{FI_TRANSACTIONS}/paymentconfirmations"), post(fi::payment_confirmations))
            .route("/events/v4/topics", get(ess::topics))
            .route("/events/v4/subscriptions", get(ess::list))
            .route(
                "/events/v4/subscriptions/webhook",
                put(ess::put_webhook).get(ess::get_named_webhook).delete(ess::delete_named_webhook),
            )
            .route("/events/v4/subscriptions/{id}", get(ess::get_one).delete(ess::delete))
            .route(
                vendor::VENDORS_PATH,
                get(vendor::search).post(vendor::create).put(vendor::update).delete(vendor::delete),
            )
            .route(purchase_order::PURCHASE_ORDERS_PATH, post(purchase_order::create).put(purchase_order::update))
            .route(&format!("{}/{{id}}", purchase_order::PURCHASE_ORDERS_PATH), get(purchase_order::get_one))
            .route(
                purchase_order::RECEIPTS_PATH,
                get(purchase_order::read_receipts)
                    .post(purchase_order::create_receipt)
                    .put(purchase_order::update_receipt)
                    .delete(purchase_order::delete_receipt),
            )
            .route("/list/v4/lists", get(list::lists).post(list::create_list))
            .route("/list/v4/lists/{list_id}", get(list::get_list))
            .route("/list/v4/lists/{list_id}/children", get(list::list_children))
            .route("/list/v4/lists/{list_id}/items/{item_id}", delete(list::delete_from_list))
            .route("/list/v4/lists/{list_id}/items/{item_id}/children", get(list::list_item_children))
            .route("/list/v4/items", post(list::create_item))
            .route("/list/v4/items/{item_id}", get(list::get_item).put(list::update_item).delete(list::delete_item))
            .route("/list/v4/items/{item_id}/children", get(list::item_children));
        let api = file_routes(api).fallback(http::not_found).with_state(ctx);
        self.faults.clone().wrap(api).layer(middleware::from_fn(http::correlation_id))
    }

    /// The fault-injection state shared by all datacenter instances.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Every request seen by any instance (method, path, status, injected fault).
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.faults.requests()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking handler must not wedge the simulator for the rest of a test run.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers the base URL a datacenter instance is served at (its `geolocation`).
    pub fn set_datacenter_url(&self, datacenter: &str, base_url: &str) {
        self.lock().datacenter_urls.insert(datacenter.to_owned(), base_url.trim_end_matches('/').to_owned());
    }

    /// The `geolocation` of a datacenter (registered URL, else Concur's production host).
    pub fn datacenter_url(&self, datacenter: &str) -> String {
        self.lock().geolocation(datacenter)
    }

    /// Adds (or replaces) a company.
    pub fn add_company(&self, spec: CompanySpec) {
        let mut state = self.lock();
        let company_id = (700_001 + state.companies.len()).to_string();
        let company_id = state.companies.get(&spec.uuid).map(|c| c.company_id.clone()).unwrap_or(company_id);
        state.companies.insert(spec.uuid.clone(), state::Company { spec, company_id });
    }

    /// What App Center hands the admin: a request token for `company`, valid 24 h.
    pub fn issue_request_token(&self, company: &str) -> String {
        self.issue_request_token_with_age(company, Duration::ZERO)
    }

    /// A request token issued `age` ago (older than 24 h = expired).
    pub fn issue_request_token_with_age(&self, company: &str, age: Duration) -> String {
        let token = uuid::Uuid::new_v4().to_string();
        let age = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
        self.lock().request_tokens.insert(
            token.clone(),
            state::RequestToken { company: company.to_owned(), issued_at: state::now().saturating_sub(age) },
        );
        token
    }

    /// Makes a request token expired (issued more than 24 h ago).
    pub fn expire_request_token(&self, token: &str) {
        if let Some(t) = self.lock().request_tokens.get_mut(token) {
            t.issued_at = state::now() - state::REQUEST_TOKEN_SECONDS - 1;
        }
    }

    /// The company's next refresh grant returns a new refresh token (the old one stops working).
    pub fn rotate_refresh_tokens_on_next_refresh(&self, company: &str) {
        self.lock().rotate_next_refresh.insert(company.to_owned());
    }

    /// Revokes every refresh token of the company (as a disconnect in App Center does).
    pub fn revoke_refresh_tokens(&self, company: &str) {
        for t in self.lock().refresh_tokens.values_mut().filter(|t| t.company == company) {
            t.revoked = true;
        }
    }

    /// Sets the absolute expiry (epoch seconds) of the company's current refresh tokens.
    pub fn set_refresh_expiry(&self, company: &str, epoch_seconds: i64) {
        for t in self.lock().refresh_tokens.values_mut().filter(|t| t.company == company) {
            t.expires_at = epoch_seconds;
        }
    }

    /// Refresh tokens of the company that still work.
    pub fn valid_refresh_tokens(&self, company: &str) -> Vec<String> {
        let now = state::now();
        let mut tokens: Vec<String> = self
            .lock()
            .refresh_tokens
            .iter()
            .filter(|(_, t)| t.company == company && !t.revoked && now < t.expires_at)
            .map(|(token, _)| token.clone())
            .collect();
        tokens.sort();
        tokens
    }

    /// Every access token issued for the company expires now.
    pub fn expire_access_tokens(&self, company: &str) {
        let now = state::now();
        for t in self.lock().access_tokens.values_mut() {
            if t.principal == Principal::Company(company.to_owned()) {
                t.expires_at = now;
            }
        }
    }

    /// Every application (client-credentials) token expires now.
    pub fn expire_app_tokens(&self) {
        let now = state::now();
        for t in self.lock().access_tokens.values_mut().filter(|t| t.principal == Principal::App) {
            t.expires_at = now;
        }
    }

    /// Token calls of `grant` about `company` (successful or not).
    pub fn token_calls(&self, company: &str, grant: Grant) -> usize {
        self.lock()
            .token_calls
            .iter()
            .filter(|c| c.grant_type == grant.as_str() && c.company.as_deref() == Some(company))
            .count()
    }

    /// Client-credentials calls (successful or not).
    pub fn app_token_calls(&self) -> usize {
        self.lock().token_calls.iter().filter(|c| c.grant_type == Grant::ClientCredentials.as_str()).count()
    }

    /// Every token call, oldest first.
    pub fn token_call_log(&self) -> Vec<TokenCall> {
        self.lock().token_calls.clone()
    }

    /// Companies that completed a password grant.
    pub fn connected_companies(&self) -> Vec<String> {
        self.lock().connected.iter().cloned().collect()
    }

    /// Queues the FIDocument(s) of an example file READY under `company`.
    ///
    /// Accepts the example files' `{"fIDocuments": [...]}` envelope, the v4
    /// `{"content": [...]}` envelope or a single FIDocument. `companyUuid` is
    /// overwritten and `erpSystemId` cleared (no system has processed a READY
    /// document); a document with an id already queued replaces it.
    /// Returns the ids queued.
    pub fn load_fi_example(&self, company: &str, raw_json: &str) -> Result<Vec<String>, String> {
        let parsed: Value = serde_json::from_str(raw_json).map_err(|e| format!("not JSON: {e}"))?;
        let items: Vec<Value> = match (parsed.get("fIDocuments"), parsed.get("content")) {
            (Some(Value::Array(docs)), _) | (None, Some(Value::Array(docs))) => docs.clone(),
            _ if parsed.get("id").is_some() && parsed.get("document").is_some() => vec![parsed],
            _ => return Err("neither an fIDocuments/content envelope nor an FIDocument".into()),
        };
        let mut docs = Vec::with_capacity(items.len());
        for item in items {
            let field = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_owned);
            let id = field("id").ok_or("FIDocument without a string `id`")?;
            let doc_type = field("docType").ok_or_else(|| format!("FIDocument {id} without a string `docType`"))?;
            let mut document = item.get("document").cloned().unwrap_or(Value::Null);
            // Some sources carry `document` as a JSON-encoded string.
            if let Value::String(text) = &document {
                document = serde_json::from_str(text).map_err(|e| format!("FIDocument {id}: document: {e}"))?;
            }
            docs.push(FiDoc {
                id,
                doc_type,
                company_id: item.get("companyId").cloned().unwrap_or(Value::Null),
                entity_id: item.get("entityId").cloned().unwrap_or(Value::Null),
                erp_system_id: Value::String(String::new()),
                document,
                status: DocStatus::Ready,
                ack_system_id: None,
                payment_refs: Vec::new(),
            });
        }
        let mut state = self.lock();
        let ids = docs.iter().map(|d| d.id.clone()).collect();
        for doc in docs {
            state.queue_doc(company, doc);
        }
        Ok(ids)
    }

    /// Queues a generated financial document (`document` = the inner document object) READY.
    pub fn add_fi_document(&self, company: &str, doc_type: &str, id: &str, document: Value) {
        let mut state = self.lock();
        let company_id = state.companies.get(company).map(|c| c.company_id.clone());
        let doc = FiDoc {
            id: id.to_owned(),
            doc_type: doc_type.to_owned(),
            company_id: company_id.map(Value::String).unwrap_or(Value::Null),
            entity_id: Value::String("p0000000sim".into()),
            erp_system_id: Value::String(String::new()),
            document,
            status: DocStatus::Ready,
            ack_system_id: None,
            payment_refs: Vec::new(),
        };
        state.queue_doc(company, doc);
    }

    /// Assigns a queued document to an ERP system (`erpSystemId`); other systems then get 99.
    pub fn set_erp_system_id(&self, company: &str, id: &str, system_id: &str) -> bool {
        match self.lock().find_doc_mut(company, id) {
            Some(doc) => {
                doc.erp_system_id = Value::String(system_id.to_owned());
                true
            }
            None => false,
        }
    }

    /// Status of a document, if the company has it.
    pub fn document_status(&self, company: &str, id: &str) -> Option<DocStatus> {
        self.lock().find_doc_mut(company, id).map(|d| d.status)
    }

    /// Forces a document's status (e.g. READY again after a resubmission). False if unknown.
    pub fn set_document_status(&self, company: &str, id: &str, status: DocStatus) -> bool {
        match self.lock().find_doc_mut(company, id) {
            Some(doc) => {
                doc.status = status;
                true
            }
            None => false,
        }
    }

    /// The processor recalls a document (RECALLED). False if unknown.
    pub fn recall(&self, company: &str, id: &str) -> bool {
        self.set_document_status(company, id, DocStatus::Recalled)
    }

    /// Posting confirmation items received for the company, oldest first (all outcomes).
    pub fn posting_confirmations(&self, company: &str) -> Vec<PostingConfirmationRecord> {
        self.lock().postings.get(company).cloned().unwrap_or_default()
    }

    /// Payment confirmation items received for the company, oldest first (all outcomes).
    pub fn payment_confirmations(&self, company: &str) -> Vec<PaymentConfirmationRecord> {
        self.lock().payments.get(company).cloned().unwrap_or_default()
    }

    /// Every ESS subscription (this application's and foreign ones).
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.lock().subscriptions.values().cloned().collect()
    }

    /// Concur deletes a subscription whose deliveries failed for 30 days:
    /// this one is gone (`true` when it existed).
    pub fn drop_subscription(&self, id: &str) -> bool {
        self.lock().subscriptions.remove(id).is_some()
    }

    /// A subscription owned by another application (its id is then taken).
    pub fn add_foreign_subscription(&self, id: &str, topic: &str, application_id: &str) {
        self.lock().subscriptions.insert(
            id.to_owned(),
            Subscription {
                id: id.to_owned(),
                topic: topic.to_owned(),
                filter: ".*".into(),
                endpoint: "https://elsewhere.example.com/events".into(),
                application_id: application_id.to_owned(),
            },
        );
    }
}
