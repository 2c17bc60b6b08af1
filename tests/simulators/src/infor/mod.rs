//! Strict simulator of Infor OS as the connector sees it: the ION API
//! Gateway with its OAuth authorization server, the ION Messaging Service
//! (IMS), and "the Infor instance" (the ERP) that processes the BODs ION
//! routes to it — following `shared/reference/erp/infor-ion.md`.
//!
//! One [`InforSim`] hosts any number of tenants ([`InforSim::add_tenant`]);
//! the sim issues each tenant's authorized-app and service-account secrets
//! and hands them out as a complete `.ionapi` file ([`InforSim::ionapi_file`]).
//! Gateway (`iu`) and authorization server (`pu`) share one base URL.
//!
//! Routes (`{ti}` = tenant):
//! - `POST /{ti}/as/token.oauth2` — password grant (`username` = `saak`
//!   exactly, refusing a doubled `ti#ti#` prefix), refresh_token grant
//!   (rotating) when enabled; client auth in the body or HTTP Basic, not
//!   both. `POST /{ti}/as/revoke_token.oauth2`.
//! - `/{ti}/IONSERVICES/api/ion/messaging/service/`: `GET ping`,
//!   `POST v2/message` (JSON, base64 document), `POST v2/multipartMessage`
//!   and `POST v3/multipartMessage` (parts `ParameterRequest` +
//!   `MessagePayload`), `POST v3/message/multipart` (`X-Infor-ION-<param>`
//!   headers or query parameters + one part `MessagePayload`). Success is
//!   **201 with an empty body [DEFAULT]**.
//! - `GET /{ti}/M3/m3api-rest/v2/execute/{GLS040MI/LstAccounts|CRS630MI/LstDimValues|CRS620MI/LstSuppliers}`
//!   — master data for validation, and `CRS620MI/{GetBasicData|AddSupplier|UpdSupplier}` — suppliers
//!   written from Concur, and `PPS200MI/{LstHead|LstLine}`, `PPS300MI/LstReceipts` — purchase
//!   orders and their receipts for Concur (see [`m3`]; **[DEFAULT]**: nothing public
//!   settles how the connector should read GL accounts and dimensions
//!   synchronously, this models the M3 API REST form).
//! - `/_sim/faults`, `/_sim/requests` — fault injection (see [`crate::faults`]).
//!
//! Gateway behaviour: every `IONSERVICES`/`M3` call needs a valid bearer
//! token of the same tenant (else 401 + `WWW-Authenticate: Bearer`), then
//! passes the per-client rate limit (default 120/min → 429 + `Retry-After`).
//! Errors use `{"errors":["..."]}` (token endpoint: `{"error","error_description"}`).
//!
//! IMS checks `documentName` and `fromLogicalId` (400 if missing), that the
//! connection point exists and lists the document (400 "Document '…' is not
//! configured for connection point '…'"), `encoding` NONE | DEFLATE (zlib),
//! `characterSet` UTF-8, and the payload size as sent (after base64, before
//! inflating) against [`InforSim::set_max_message_bytes`] (413). Unknown
//! parameter names are refused (400) so a typo cannot go unnoticed.
//!
//! Once accepted, the ERP processes the BOD synchronously (before the 201):
//! - envelope: root `<Verb><Noun>` = `documentName`, namespace
//!   [`BOD_NAMESPACE`], `releaseID="9.2"`, `Sender/LogicalID` =
//!   `fromLogicalId`, ISO `CreationDateTime`, `BODID` =
//!   `infor-nid:<ti>:<entity>:<location>:<docid>:<variation>?<Noun>&verb=<Verb>`
//!   (empty segments allowed, non-empty ones must agree), `TenantID` = ti,
//!   `AccountingEntityID`, and the noun's id with a numeric `variationID`.
//!   Anything wrong here → [`ReceivedStatus::Failed`] and only a failure
//!   `ConfirmBOD` (whatever the `ConfirmationCode`).
//! - dedup by (noun, document id, entity) against documents the ERP holds:
//!   same-or-lower variation → [`ReceivedStatus::Duplicate`], no outcome;
//!   higher → replaces (same ERP id). Rejected documents are not held, so a
//!   corrected resend is processed again **[DEFAULT]**.
//! - content and master data: journals balanced per currency (positive
//!   amounts, `D`/`C`), invoice lines summing to `TotalAmount` in one
//!   currency, known entity, GL accounts, dimension values and supplier.
//! - outcomes: `Acknowledge<Noun>` for every processed Process BOD
//!   (`Accepted` with the ERP id in `DisplayID`, or `Rejected` with
//!   `ChangeStatus/Description` = reason) and a `ConfirmBOD` when
//!   `ConfirmationCode` is `Always`, or `OnError` and it failed (missing =
//!   `Never` **[DEFAULT]**). `Sync.SupplierPartyMaster` adds/updates a supplier
//!   (no Acknowledge). Outcomes are kept in the outbox ([`InforSim::outbox`])
//!   and, with a callback ([`InforSim::set_callback`]), pushed as ION calls
//!   an IMS application (see [`callback`]).

mod bod;
pub mod callback;
mod erp;
mod errors;
mod gateway;
mod ims;
pub mod m3;
mod m3_purchase;
mod m3_supplier;
pub mod multipart;
mod state;
mod token;
mod xml;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::{Router, extract::DefaultBodyLimit, http::Uri, response::Response, routing::any};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::RunningSimulator;
use crate::faults::{Faults, SeenRequest};
use state::Supplier;

pub use bod::{BOD_NAMESPACE, BOD_RELEASE_ID};
pub use ims::{IMS_PARAMETERS, IMS_SERVICE_PATH};
pub use m3::{
    M3_ADD_SUPPLIER_PATH, M3_DEFAULT_MAXRECS, M3_EXECUTE_PATH, M3_GET_SUPPLIER_PATH, M3_LIST_ACCOUNTS_PATH,
    M3_LIST_DIMENSION_VALUES_PATH, M3_LIST_PO_HEADS_PATH, M3_LIST_PO_LINES_PATH, M3_LIST_PO_RECEIPTS_PATH,
    M3_LIST_SUPPLIERS_PATH, M3_UPDATE_SUPPLIER_PATH,
};
pub use state::{
    CallbackDelivery, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_RATE_LIMIT_PER_MINUTE, DEFAULT_TOKEN_LIFETIME_SECONDS,
    DebitCredit, DeliveryState, Dimension, Distribution, Journal, JournalLine, M3PoLine, M3PurchaseOrder, M3Receipt,
    OutboundMessage, ReceivedMessage, ReceivedStatus, SupplierInvoice, SupplierInvoiceLine, TokenCall,
};

/// Logical id the simulated ERP sends its outcomes from (change per tenant
/// with [`InforSim::set_erp_logical_id`]).
pub const DEFAULT_ERP_LOGICAL_ID: &str = "lid://infor.erp.cloudsuite";
/// Authorized-app name written as `cn` in the `.ionapi` file.
pub const DEFAULT_CLIENT_NAME: &str = "ConcurConnector";

/// The simulated Infor OS; cheap to clone (shared state).
#[derive(Clone)]
pub struct InforSim {
    state: Arc<Mutex<state::State>>,
    faults: Faults,
    pending: Arc<Mutex<Vec<JoinHandle<()>>>>,
    http: reqwest::Client,
}

impl Default for InforSim {
    fn default() -> Self {
        Self::new()
    }
}

impl InforSim {
    /// No tenants; 7200 s tokens, no refresh tokens, 5 MiB messages, 120 calls/min per client.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("build the Infor simulator's callback HTTP client");
        Self {
            state: Arc::new(Mutex::new(state::State::new())),
            faults: Faults::new(errors::InforFaults),
            pending: Arc::default(),
            http,
        }
    }

    fn lock(&self) -> MutexGuard<'_, state::State> {
        // A panicking handler must not wedge the simulator for the rest of a test run.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn pending_pushes(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Registers tenant `ti` with a Backend Service authorized app and its
    /// service account (fresh random secrets; see [`Self::ionapi_file`]).
    /// Panics if the tenant exists or `ti` is not a plain identifier.
    pub fn add_tenant(&self, ti: &str) {
        assert!(
            !ti.is_empty() && ti.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "Infor tenant id {ti:?} must be letters, digits, '_' or '-'"
        );
        let mut state = self.lock();
        assert!(!state.tenants.contains_key(ti), "Infor tenant {ti} added twice");
        let tenant = state::Tenant {
            ti: ti.to_owned(),
            client_name: DEFAULT_CLIENT_NAME.to_owned(),
            client_id: format!("{ti}~{}", token::new_secret(43)),
            client_secret: token::new_secret(86),
            saak: format!("{ti}#{}", token::new_secret(86)),
            sask: token::new_secret(86),
            ev: format!("U{}", 100_000_000 + rand::random::<u32>() % 900_000_000),
            connection_points: Default::default(),
            erp_logical_id: DEFAULT_ERP_LOGICAL_ID.to_owned(),
            entities: Default::default(),
            held: Default::default(),
            journals: Vec::new(),
            supplier_invoices: Vec::new(),
            received: Vec::new(),
            outbox: Vec::new(),
            callback: None,
            callback_token: None,
            deliveries: Vec::new(),
            last_journal_number: 0,
            last_invoice_number: 0,
            lose_next: 0,
            fail_after_commit: Vec::new(),
            refusals: BTreeMap::new(),
        };
        state.tenants.insert(ti.to_owned(), tenant);
    }

    /// The tenant's complete `.ionapi` credential file (reference §1) for a
    /// simulator served at `base_url` (no trailing slash): `iu` = `base_url`,
    /// `pu` = `<base_url>/<ti>/as/`.
    pub fn ionapi_file(&self, base_url: &str, tenant: &str) -> Value {
        let state = self.lock();
        let t = state.tenant(tenant);
        let base = base_url.trim_end_matches('/');
        json!({
            "ti": t.ti,
            "cn": t.client_name,
            "dt": "12",
            "ci": t.client_id,
            "cs": t.client_secret,
            "iu": base,
            "pu": format!("{base}/{}/as/", t.ti),
            "oa": "authorization.oauth2",
            "ot": "token.oauth2",
            "or": "revoke_token.oauth2",
            "ev": t.ev,
            "v": "1.0",
            "saak": t.saak,
            "sask": t.sask,
        })
    }

    /// Declares an IMS connection point (`logical_id`, e.g.
    /// `lid://infor.ims.concurconnector`) and the documents (`Process.SupplierInvoice`…)
    /// it may send. Calling again adds documents.
    pub fn add_connection_point(&self, ti: &str, logical_id: &str, documents: &[&str]) {
        assert!(logical_id.starts_with("lid://"), "a logical id starts with lid://, got {logical_id}");
        let mut state = self.lock();
        let set: &mut BTreeSet<String> =
            state.tenant_mut(ti).connection_points.entry(logical_id.to_owned()).or_default();
        set.extend(documents.iter().map(|d| (*d).to_owned()));
    }

    /// Logical id the ERP sends outcomes from (default [`DEFAULT_ERP_LOGICAL_ID`]).
    pub fn set_erp_logical_id(&self, ti: &str, logical_id: &str) {
        self.lock().tenant_mut(ti).erp_logical_id = logical_id.to_owned();
    }

    /// Declares an accounting entity without master data.
    pub fn add_accounting_entity(&self, ti: &str, entity: &str) {
        self.lock().tenant_mut(ti).entity_mut(entity);
    }

    /// Adds a GL account to an accounting entity (created if new).
    pub fn add_account(&self, ti: &str, entity: &str, account: &str) {
        self.add_account_named(ti, entity, account, "");
    }

    /// Adds a GL account with its description (`TX40`).
    pub fn add_account_named(&self, ti: &str, entity: &str, account: &str, description: &str) {
        self.lock().tenant_mut(ti).entity_mut(entity).accounts.insert(account.to_owned(), description.to_owned());
    }

    /// Adds a value of an accounting dimension (`list_id` e.g. `CostCenter`).
    pub fn add_dimension_value(&self, ti: &str, entity: &str, list_id: &str, value: &str) {
        let mut state = self.lock();
        let entity = state.tenant_mut(ti).entity_mut(entity);
        entity.dimensions.entry(list_id.to_owned()).or_default().insert(value.to_owned());
    }

    /// Removes a value of an accounting dimension (deleted in CRS630); `false` when there was none.
    pub fn remove_dimension_value(&self, ti: &str, entity: &str, list_id: &str, value: &str) -> bool {
        let mut state = self.lock();
        let entity = state.tenant_mut(ti).entity_mut(entity);
        entity.dimensions.get_mut(list_id).is_some_and(|values| values.remove(value))
    }

    /// The values of an accounting dimension.
    pub fn dimension_values(&self, ti: &str, entity: &str, list_id: &str) -> Vec<String> {
        let mut state = self.lock();
        let entity = state.tenant_mut(ti).entity_mut(entity);
        entity.dimensions.get(list_id).map(|values| values.iter().cloned().collect()).unwrap_or_default()
    }

    /// Adds a supplier (name = id).
    pub fn add_supplier(&self, ti: &str, entity: &str, supplier_id: &str) {
        self.add_supplier_named(ti, entity, supplier_id, supplier_id);
    }

    /// Adds a supplier with its name.
    pub fn add_supplier_named(&self, ti: &str, entity: &str, supplier_id: &str, name: &str) {
        self.lock().tenant_mut(ti).entity_mut(entity).suppliers.insert(supplier_id.to_owned(), Supplier::named(name));
    }

    /// Blocks a supplier for use (M3 status 90), as CRS620 does.
    pub fn block_supplier(&self, ti: &str, entity: &str, supplier_id: &str) {
        self.lock().tenant_mut(ti).entity_mut(entity).blocked_suppliers.insert(supplier_id.to_owned());
    }

    /// Adds a purchase order with its lines to an accounting entity.
    /// Panics on what M3 would refuse: a number held, an unknown supplier
    /// or currency, a line number twice.
    pub fn add_purchase_order(&self, ti: &str, entity: &str, order: M3PurchaseOrder) {
        let mut state = self.lock();
        let held = state.tenant_mut(ti).entity_mut(entity);
        assert!(!held.purchase_orders.contains_key(&order.number), "purchase order {} added twice", order.number);
        assert!(held.suppliers.contains_key(&order.supplier), "supplier {} is not in entity {entity}", order.supplier);
        assert!(m3_supplier::CURRENCIES.contains(&order.currency.as_str()), "unknown currency {}", order.currency);
        let lines: BTreeSet<(u32, u32)> = order.lines.iter().map(|l| (l.line, l.subline)).collect();
        assert_eq!(lines.len(), order.lines.len(), "purchase order {} has a line number twice", order.number);
        held.purchase_orders.insert(order.number.clone(), order);
    }

    /// Adds a goods receipt of a released line. Panics on what M3 would
    /// refuse: an unknown order or line, a line not released.
    pub fn add_purchase_receipt(&self, ti: &str, entity: &str, receipt: M3Receipt) {
        let mut state = self.lock();
        let held = state.tenant_mut(ti).entity_mut(entity);
        let line = held
            .purchase_orders
            .get(&receipt.order)
            .and_then(|o| o.lines.iter().find(|l| (l.line, l.subline) == (receipt.line, receipt.subline)));
        let line =
            line.unwrap_or_else(|| panic!("no line {}-{} of order {}", receipt.line, receipt.subline, receipt.order));
        assert!(line.status >= 20, "line {}-{} of order {} is not released", line.line, line.subline, receipt.order);
        held.receipts.push(receipt);
    }

    /// Supplier ids of an accounting entity (seeded or received by `Sync.SupplierPartyMaster`).
    pub fn suppliers(&self, ti: &str, entity: &str) -> Vec<String> {
        self.lock().tenant(ti).entities.get(entity).map(|e| e.suppliers.keys().cloned().collect()).unwrap_or_default()
    }

    /// A supplier's M3 fields as `CRS620MI` stored them (`SUNM`, `CSCD`, …;
    /// not `SUNO` and `STAT`), `None` when the accounting entity has none.
    pub fn supplier(&self, ti: &str, entity: &str, supplier_id: &str) -> Option<BTreeMap<String, String>> {
        let state = self.lock();
        state.tenant(ti).entities.get(entity)?.suppliers.get(supplier_id).map(|s| s.fields.clone())
    }

    /// Journals the ERP holds (accepted, latest variation), in arrival order.
    pub fn journals(&self, ti: &str) -> Vec<Journal> {
        self.lock().tenant(ti).journals.clone()
    }

    /// Supplier invoices the ERP holds (accepted, latest variation), in arrival order.
    pub fn supplier_invoices(&self, ti: &str) -> Vec<SupplierInvoice> {
        self.lock().tenant(ti).supplier_invoices.clone()
    }

    /// Every message IMS accepted for the tenant (duplicates and failures included).
    pub fn received(&self, ti: &str) -> Vec<ReceivedMessage> {
        self.lock().tenant(ti).received.clone()
    }

    /// Outcome BODs produced so far and not taken.
    pub fn outbox(&self, ti: &str) -> Vec<OutboundMessage> {
        self.lock().tenant(ti).outbox.clone()
    }

    /// Drains the outbox.
    pub fn take_outbox(&self, ti: &str) -> Vec<OutboundMessage> {
        std::mem::take(&mut self.lock().tenant_mut(ti).outbox)
    }

    /// IMS answers 201 for the next `count` messages but loses them before
    /// the ERP sees them (no verdict ever comes).
    pub fn lose_next(&self, ti: &str, count: u32) {
        self.lock().tenant_mut(ti).lose_next = count;
    }

    /// The next messages are taken and processed by the ERP (verdicts
    /// pushed as usual), then the gateway answers `status` (e.g. 504): a
    /// client that gave up cannot tell they landed.
    pub fn fail_after_commit(&self, ti: &str, statuses: &[u16]) {
        self.lock().tenant_mut(ti).fail_after_commit = statuses.iter().rev().copied().collect();
    }

    /// The ERP refuses every document whose DocumentID contains `pattern`
    /// (any variation) with `reason`, until [`Self::stop_refusing`]: a
    /// business refusal the client's master-data check cannot see.
    pub fn refuse(&self, ti: &str, pattern: &str, reason: &str) {
        self.lock().tenant_mut(ti).refusals.insert(pattern.to_owned(), reason.to_owned());
    }

    pub fn stop_refusing(&self, ti: &str, pattern: &str) {
        self.lock().tenant_mut(ti).refusals.remove(pattern);
    }

    /// Where outcomes are pushed, if anywhere.
    pub fn callback(&self, ti: &str) -> Option<String> {
        self.lock().tenant(ti).callback.clone()
    }

    /// Pushes every outcome from now on to `url` (`POST {url}/v3/multipartMessage`).
    pub fn set_callback(&self, ti: &str, url: &str) {
        self.lock().tenant_mut(ti).callback = Some(url.trim_end_matches('/').to_owned());
    }

    /// The bearer token every push presents (the application endpoint's
    /// credential configured on ION's side).
    pub fn set_callback_token(&self, ti: &str, token: &str) {
        self.lock().tenant_mut(ti).callback_token = Some(token.to_owned());
    }

    /// Stops pushing outcomes (they stay in the outbox).
    pub fn clear_callback(&self, ti: &str) {
        self.lock().tenant_mut(ti).callback = None;
    }

    /// Every push to the callback and its state.
    pub fn deliveries(&self, ti: &str) -> Vec<CallbackDelivery> {
        self.lock().tenant(ti).deliveries.clone()
    }

    /// Waits until every push started so far has finished (delivered or given up).
    pub async fn flush_callbacks(&self) {
        loop {
            let handles = std::mem::take(&mut *self.pending_pushes());
            if handles.is_empty() {
                return;
            }
            for handle in handles {
                let _ = handle.await;
            }
        }
    }

    /// `expires_in` of access tokens issued from now on (default 7200 s).
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.lock().token_lifetime = Duration::from_secs(seconds);
    }

    /// Whether the authorized app has "Issue Refresh Tokens" on (default off).
    pub fn issue_refresh_tokens(&self, on: bool) {
        self.lock().issue_refresh_tokens = on;
    }

    /// Expires every access token issued so far (refresh tokens stay valid).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for token in self.lock().access_tokens.values_mut() {
            token.expires_at = now;
        }
    }

    /// Calls to the token endpoint so far (successful or not).
    pub fn token_calls(&self) -> usize {
        self.lock().token_calls.len()
    }

    /// Calls to the token endpoint with this `grant_type`.
    pub fn token_calls_with(&self, grant_type: &str) -> usize {
        self.lock().token_calls.iter().filter(|c| c.grant_type == grant_type).count()
    }

    /// Every token-endpoint call with its outcome.
    pub fn token_call_log(&self) -> Vec<TokenCall> {
        self.lock().token_calls.clone()
    }

    /// Maximum payload bytes per message (default [`DEFAULT_MAX_MESSAGE_BYTES`]).
    pub fn set_max_message_bytes(&self, bytes: usize) {
        self.lock().max_message_bytes = bytes;
    }

    /// Gateway calls per minute per client id (`None` = unlimited; default 120).
    pub fn set_rate_limit(&self, per_minute: Option<u32>) {
        let mut state = self.lock();
        state.rate_limit_per_minute = per_minute;
        state.recent_calls.clear();
    }

    /// The fault-injection handle (same rules as `POST /_sim/faults`).
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    /// Every request the simulator saw (oldest first).
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.faults.requests()
    }

    /// The full router: API routes wrapped by the fault layer, plus `/_sim/*`.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/{ti}/as/{endpoint}", any(token::handle))
            .route("/{ti}/IONSERVICES/{*rest}", any(ims::handle))
            .route("/{ti}/M3/{*rest}", any(m3::handle))
            .fallback(fallback)
            // Sizes are IMS's to judge (413 in the API's shape), not axum's 2 MB default.
            .layer(DefaultBodyLimit::disable())
            .with_state(self.clone());
        self.faults.clone().wrap(api)
    }

    /// Serves on 127.0.0.1 at `port` (0 = any free port).
    pub async fn serve(self, port: u16) -> std::io::Result<RunningSimulator> {
        crate::spawn(self.router(), port).await
    }

    /// Serves on an ephemeral loopback port; panics if no port can be bound.
    pub async fn start(self) -> RunningSimulator {
        self.serve(0).await.expect("bind a loopback port for the Infor simulator")
    }
}

async fn fallback(uri: Uri) -> Response {
    errors::not_found(uri.path())
}
