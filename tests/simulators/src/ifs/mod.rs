//! Strict simulator of IFS Cloud's OData v4 projection API and its IAM
//! (Keycloak) token endpoint, following `shared/reference/erp/ifs-cloud.md`
//! (§8 is the checklist). One [`IfsSim`] is one IFS environment (one
//! database) holding any number of companies.
//!
//! Routes:
//! - `POST /auth/realms/{namespace}/protocol/openid-connect/token` —
//!   `client_credentials`, `password`, `refresh_token`; scope must contain
//!   `openid`; Keycloak error JSON (`invalid_client` 401, `unauthorized_client`,
//!   `invalid_grant`, `invalid_scope`, `unsupported_grant_type`).
//! - `GET /auth/realms/{namespace}/.well-known/openid-configuration`.
//! - `/{main|int}/ifsapplications/projection/v1/{Projection}.svc/{EntitySet}[({keys})][/{Navigation}[({keys})]]`
//!   — `GET` (collection or entity), `POST` (collection), `PATCH`/`DELETE`
//!   (entity); `{Projection}.svc/` service document, `/$metadata` CSDL;
//!   `$batch` answers 501 `ODP_NOT_IMPLEMENTED` (not simulated).
//! - `/_sim/faults`, `/_sim/requests` — fault injection (see [`crate::faults`]).
//!
//! Projections and entity sets (names exactly as in the reference):
//! - `SupplierHandling.svc/SupplierInfoGeneralSet` (key `SupplierId`), navigations
//!   `SupplierInvoiceCompanies` (keys `SupplierId`, `Company`) and
//!   `SupplierInfoAddresses` (keys `SupplierId`, `AddressId`, client-chosen;
//!   `Address1`, `Address2`, `City`, `State`, `ZipCode`, `Country`); the
//!   supplier's tax data (`SupplierDocumentTaxInfo`, whose OData names the
//!   reference does not give) is not simulated;
//! - `ManualSupplierInvoiceHandling.svc/ManSuppInvoiceSet` (keys `Company`,
//!   `InvoiceId` assigned), navigation `ManSuppInvoicePostings` (+ `RowNo` assigned);
//! - `VoucherEntryHandling.svc/VoucherSet` (keys `Company`, `AccountingYear`,
//!   `VoucherType`, `VoucherNo` assigned), navigation `VoucherRowArray` (+ `RowNo`);
//! - `AccountsHandling.svc/AccountSet` (`Company`, `Account`), read-only;
//! - `CodePartValuesHandling.svc/CodePartValueSet` (`Company`, `CodePart`,
//!   `CodeValue`) and `CodePartSet` (`Company`, `CodePart`), read-only;
//! - `PurchaseOrderHandling.svc/PurchaseOrderSet` — see [DEFAULT] below;
//! - `PurchaseReceiptHandling.svc/PurchaseReceiptSet` — see [DEFAULT] below, read-only.
//!
//! Company isolation: every finance/procurement row carries `Company`. A
//! collection `GET` on a company set without a top-level `Company eq '<c>'`
//! term in `$filter` is 400 `DATABASE_ERROR` ("Company must be given"); a
//! `POST` body without `Company` is 400; an unknown company is 400
//! `DATABASE_ERROR`; a company the calling IAM client (or user) may not access
//! is 403 `ODP_FORBIDDEN` — in keys, filters, bodies and on rows reached by
//! key. Navigation collections only list rows of accessible companies.
//!
//! Entities carry `@odata.etag` (`W/"<base64 of W/"objid:objversion">"`,
//! exactly how the reference's sample decodes; objversion changes on every
//! update), `luname`, `keyref`, `Objgrants` (null) and, for types with a state
//! machine, `Objstate`. POST → 201 + entity + `ETag` + `Location`. PATCH/DELETE:
//! current `If-Match` → 200 entity (204 with `Prefer: return=minimal`) / 204;
//! stale → 412 `ODP_PRECONDITION_FAILED`; `*` → no check; no `If-Match` →
//! PATCH is an upsert (23R2+; insert → 201, keys from the URL, fails for
//! server-numbered keys) and DELETE proceeds, unless
//! [`IfsSim::require_if_match`] is on (→ 428 `ODP_MISSING_PRECONDITION`).
//! Every PATCH/DELETE that reaches the projection routes is logged in
//! [`IfsSim::writes`] (requests answered by the fault layer are not).
//!
//! **[DEFAULT]** choices (the reference leaves them open):
//! - Purchase orders: `PurchaseOrderHandling.svc/PurchaseOrderSet`, key
//!   `OrderNo` (string, client-supplied), header attributes `OrderNo`,
//!   `Company` (required), `VendorNo` (required; a supplier linked to the
//!   company), `Contract`, `CurrencyCode` (default: company currency),
//!   `OrderDate` (default: today), `BuyerCode`, `Cf_Concur_Po` (the Concur PO
//!   number), `Objstate` (`PurchaseOrderState`, `Planned`); navigation
//!   `PurchaseOrderLineArray` (keys `OrderNo`, `LineNo`, `ReleaseNo`; `LineNo`
//!   numbered `"1"`, `"2"`… when not sent, `ReleaseNo` default `"1"`) with
//!   `PartNo` or `Description`, `BuyQtyDue` (> 0), `BuyUnitMeas`,
//!   `FbuyUnitPrice`, `BuyUnitPrice`, `CodeA` (the GL account),
//!   `WantedDeliveryDate`, `Objstate` (`PurchaseOrderLinePartState`). Order
//!   and line states: `Planned`, `Released`, `Confirmed`, `Arrived`,
//!   `Received`, `Stopped`, `Closed`, `Cancelled`. Tests seed released
//!   orders with [`IfsSim::add_purchase_order`] and friends.
//! - Goods receipts (the reference found no OData set; `PURCHASE_RECEIPT_TAB`'s
//!   columns): `PurchaseReceiptHandling.svc/PurchaseReceiptSet`, keys
//!   `OrderNo`, `LineNo`, `ReleaseNo`, `ReceiptNo` (`Edm.Int32`), with the
//!   order's `Company` (so a collection `GET` needs the company filter like
//!   any company set), `ArrivalDate`, `QtyArrived`, `QtyInvoiced`,
//!   `Objstate` (`PurchaseReceiptState`: `Arrived`, `Received`, `Returned`,
//!   `Cancelled`); seeded with [`IfsSim::add_purchase_receipt`] on a line of
//!   a released order.
//! - Custom fields: `Cf_Concur_Id` on suppliers, invoices and vouchers;
//!   `Cf_Concur_Po` on purchase orders. Other attributes are refused.
//! - Enumerations: `PartyType`, `AccountTypeValue` (`LogicalAccountType`:
//!   Asset, Liability, Cost, Revenue, Stat) and `Objstate` types named
//!   `{EntityType}State` (`ManSuppInvoiceState`, `VoucherState`, …). In
//!   `$filter` an enumeration attribute compares only with a typed literal of
//!   the request's projection: `PartyType eq IfsApp.ManualSupplierInvoiceHandling.PartyType'Supplier'`.
//! - `luname`s: `SupplierInfoGeneral`, `IdentityInvoiceInfo`, `SupplierInfoAddress`, `ManSuppInvoice`,
//!   `ManSuppInvoicePosting`, `Voucher`, `VoucherRow`, `Account`,
//!   `AccountingCodePartValue`, `AccountingCodeParts`, `PurchaseOrder`,
//!   `PurchaseOrderLinePart`, `PurchaseReceipt`.
//! - Integers (`InvoiceId`, `VoucherNo` = `{year}{serial:06}`, `RowNo`,
//!   `AccountingYear`) are `Edm.Int32` and never stringified; only
//!   `Edm.Decimal` follows `IEEE754Compatible=true`.
//! - Text comparison in `$filter` is case-sensitive (Oracle binary collation).
//! - Error codes where the reference has none: see [`errors`]; `DATABASE_ERROR`
//!   messages read `Lu.KEY: text`; 401 has an empty body and `WWW-Authenticate: Bearer`.
//! - The rate limit ([`IfsSim::set_rate_limit`]) is off by default (the
//!   reference's simulator value is 60/min per client id); 429 carries
//!   `Retry-After: 10`. Bodies over 10 MB → 413. Page size 100.
//! - `AccountSet`, `CodePartValueSet`, `CodePartSet`, `PurchaseReceiptSet` are read-only (405 on writes);
//!   tests seed them with [`IfsSim::add_account`] and friends.

mod auth;
mod errors;
mod metadata;
mod odata;
mod router;
mod schema;
mod state;
mod validate;
mod wire;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::{
    Router,
    routing::{any, get, post},
};
use rust_decimal::Decimal;
use serde_json::Value;
use time::macros::date;

use crate::RunningSimulator;
use crate::faults::{Faults, SeenRequest};
use schema::{EntityType, Nav};
use state::{Company, IamClient, IamUser, Ifs, Row, Val};
use wire::RenderOpts;

/// One simulated IFS Cloud environment; cheap to clone (shared state).
#[derive(Clone)]
pub struct IfsSim {
    ifs: Arc<Mutex<Ifs>>,
    faults: Faults,
    /// Misbehaviour of the next successful POSTs *after* they saved.
    after_commit: Arc<Mutex<VecDeque<AfterCommit>>>,
}

/// What a successful `POST` does after its row was saved: the "it committed
/// but the caller never heard" case the generic fault layer cannot produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCommit {
    /// Answer this 5xx instead of the created entity (500/503 render as
    /// `MI_MODIFIED_ERROR`).
    ServerError { status: u16 },
    /// Answer normally, but only after this delay.
    Delay { ms: u64 },
}

/// One PATCH or DELETE as the projection routes saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRecord {
    /// `PATCH` or `DELETE`.
    pub method: String,
    /// The request path, percent-decoded (`/main/…/ManSuppInvoiceSet(Company='10',InvoiceId=104233)`).
    pub path: String,
    /// The `If-Match` header as sent.
    pub if_match: Option<String>,
    /// `If-Match` equalled the addressed entity's ETag when the request arrived.
    pub was_current: bool,
    /// The status answered.
    pub status: u16,
}

impl Default for IfsSim {
    fn default() -> Self {
        Self::new()
    }
}

fn panic_unknown_company(company: &str) -> ! {
    panic!("unknown company {company}: call add_company first")
}

impl IfsSim {
    /// An empty environment: no realm, client or company yet.
    pub fn new() -> Self {
        IfsSim {
            ifs: Arc::new(Mutex::new(Ifs::new())),
            faults: Faults::new(errors::IfsFaults),
            after_commit: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ifs> {
        // A panicking handler must not wedge the simulator for the rest of a test run.
        self.ifs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // ---- IAM ---------------------------------------------------------------

    /// Adds an IAM realm (the environment's namespace).
    pub fn add_realm(&self, namespace: &str) {
        self.lock().realms.insert(namespace.to_owned());
    }

    /// Adds a confidential IAM client with service account and direct access
    /// grants enabled; its service user may access `companies`.
    pub fn add_client(&self, namespace: &str, client_id: &str, client_secret: &str, companies: &[&str]) {
        let mut ifs = self.lock();
        assert!(ifs.realms.contains(namespace), "unknown realm {namespace}: call add_realm first");
        ifs.clients.retain(|c| !(c.realm == namespace && c.client_id == client_id));
        ifs.clients.push(IamClient {
            realm: namespace.to_owned(),
            client_id: client_id.to_owned(),
            secret: client_secret.to_owned(),
            companies: companies.iter().map(|c| (*c).to_owned()).collect(),
            service_accounts: true,
            direct_access: true,
        });
    }

    /// Turns the client's "Service Accounts" (client_credentials) and
    /// "Direct Access Grants" (password) switches on or off.
    pub fn set_client_grants(&self, namespace: &str, client_id: &str, service_accounts: bool, direct_access: bool) {
        let mut ifs = self.lock();
        let client = ifs
            .clients
            .iter_mut()
            .find(|c| c.realm == namespace && c.client_id == client_id)
            .unwrap_or_else(|| panic!("unknown client {client_id} in realm {namespace}"));
        client.service_accounts = service_accounts;
        client.direct_access = direct_access;
    }

    /// Adds a user for the password grant; it may access `companies`.
    pub fn add_user(&self, namespace: &str, username: &str, password: &str, companies: &[&str]) {
        let mut ifs = self.lock();
        assert!(ifs.realms.contains(namespace), "unknown realm {namespace}: call add_realm first");
        ifs.users.push(IamUser {
            realm: namespace.to_owned(),
            username: username.to_owned(),
            password: password.to_owned(),
            companies: companies.iter().map(|c| (*c).to_owned()).collect(),
        });
    }

    /// `expires_in` of access tokens issued from now on (default 180 s).
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.lock().token_lifetime = Duration::from_secs(seconds);
    }

    /// Makes every access token issued so far expired (→ 401 on the API).
    /// Refresh tokens stay valid.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for token in self.lock().access_tokens.values_mut() {
            token.expires_at = now;
        }
    }

    /// Calls to the token endpoint so far (any realm, grant or outcome).
    pub fn token_calls(&self) -> usize {
        self.lock().token_calls
    }

    // ---- knobs ---------------------------------------------------------------

    /// `true`: PATCH/DELETE without `If-Match` → 428 `ODP_MISSING_PRECONDITION`
    /// (releases before 23R2). Default `false`: PATCH without it is an upsert.
    pub fn require_if_match(&self, required: bool) {
        self.lock().require_if_match = required;
    }

    /// The next `count` PATCH/DELETE that carry the *current* ETag get 412, as
    /// if another user had updated the entity just before (its objversion,
    /// hence its ETag, changes).
    pub fn stale_etag_next(&self, count: usize) {
        self.lock().stale_etag_next += count;
    }

    /// The next `count` successful POSTs (any entity set or navigation) save
    /// their row and then misbehave as `how` says.
    pub fn after_commit(&self, count: usize, how: AfterCommit) {
        let mut queue = self.after_commit.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        queue.extend(std::iter::repeat_n(how, count));
    }

    fn take_after_commit(&self) -> Option<AfterCommit> {
        self.after_commit.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop_front()
    }

    /// Per-minute limit of projection calls per client id; `None` = off (default).
    pub fn set_rate_limit(&self, per_minute: Option<u32>) {
        let mut ifs = self.lock();
        ifs.rate_limit_per_minute = per_minute;
        ifs.recent_requests.clear();
    }

    /// Server page size of collections (default 100).
    pub fn set_page_size(&self, rows: usize) {
        assert!(rows > 0, "page size must be positive");
        self.lock().page_size = rows;
    }

    /// The fault-injection handle (same rules as `POST /_sim/faults`).
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    /// Every request seen (auth and projections), oldest first.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.faults.requests()
    }

    /// Every PATCH/DELETE seen by the projection routes, oldest first.
    pub fn writes(&self) -> Vec<WriteRecord> {
        self.lock().writes.clone()
    }

    /// Forgets the write log.
    pub fn clear_writes(&self) {
        self.lock().writes.clear();
    }

    // ---- basic data -----------------------------------------------------------

    /// Adds a company with its accounting currency; code part A (`Account`) is in use.
    pub fn add_company(&self, company: &str, currency: &str) {
        let mut ifs = self.lock();
        assert!(!ifs.companies.contains_key(company), "company {company} added twice");
        ifs.companies.insert(company.to_owned(), Company { currency: currency.to_owned() });
        let row = seed_row(&[
            ("Company", Val::Str(company.into())),
            ("CodePart", Val::Str("A".into())),
            ("CodeName", Val::Str("Account".into())),
            ("CodePartUsed", Val::Bool(true)),
        ]);
        ifs.insert(&schema::CODE_PART, row);
    }

    /// Adds a supplier and its invoice data (`SupplierInvoiceCompanies`) in each company.
    pub fn add_supplier(&self, supplier_id: &str, name: &str, companies: &[&str]) {
        let mut ifs = self.lock();
        let today = time::OffsetDateTime::now_utc().date();
        let row = seed_row(&[
            ("SupplierId", Val::Str(supplier_id.into())),
            ("Name", Val::Str(name.into())),
            ("PartyType", Val::Str("Supplier".into())),
            ("DefaultLanguage", Val::Str("en".into())),
            ("CreationDate", Val::Date(today)),
            ("DefaultDomain", Val::Bool(true)),
        ]);
        ifs.insert(&schema::SUPPLIER, row);
        for company in companies {
            let Some(currency) = ifs.companies.get(*company).map(|c| c.currency.clone()) else {
                panic_unknown_company(company)
            };
            let row = seed_row(&[
                ("SupplierId", Val::Str(supplier_id.into())),
                ("Company", Val::Str((*company).into())),
                ("Currency", Val::Str(currency)),
                ("PartyType", Val::Str("Supplier".into())),
            ]);
            ifs.insert(&schema::SUPPLIER_INVOICE_COMPANY, row);
        }
    }

    /// Adds a GL account (`logical_type`: Asset, Liability, Cost, Revenue, Stat).
    pub fn add_account(&self, company: &str, account: &str, logical_type: &str, blocked: bool) {
        assert!(
            schema::ACCOUNT_TYPE_VALUE.values.contains(&logical_type),
            "logical account type {logical_type} is not one of {:?}",
            schema::ACCOUNT_TYPE_VALUE.values
        );
        let mut ifs = self.lock();
        if !ifs.companies.contains_key(company) {
            panic_unknown_company(company)
        }
        let row = seed_row(&[
            ("Company", Val::Str(company.into())),
            ("Account", Val::Str(account.into())),
            ("Description", Val::Str(format!("Account {account}"))),
            ("AccntType", Val::Str(logical_type.to_uppercase())),
            ("LogicalAccountType", Val::Str(logical_type.into())),
            ("ValidFrom", Val::Date(date!(2000 - 01 - 01))),
            ("ValidUntil", Val::Date(date!(2049 - 12 - 31))),
            ("BlockedForDirectPosting", Val::Bool(blocked)),
        ]);
        ifs.insert(&schema::ACCOUNT, row);
    }

    /// Puts code part `letter` (`B`…`J`) to use in `company` under `name` (e.g. "Cost Center").
    pub fn add_code_part(&self, company: &str, letter: &str, name: &str) {
        assert!(letter.len() == 1 && ("B"..="J").contains(&letter), "code part letter must be B…J, got {letter}");
        let mut ifs = self.lock();
        if !ifs.companies.contains_key(company) {
            panic_unknown_company(company)
        }
        let row = seed_row(&[
            ("Company", Val::Str(company.into())),
            ("CodePart", Val::Str(letter.into())),
            ("CodeName", Val::Str(name.into())),
            ("CodePartUsed", Val::Bool(true)),
        ]);
        ifs.insert(&schema::CODE_PART, row);
    }

    /// Adds a value of code part `letter` (added with [`Self::add_code_part`]).
    pub fn add_code_part_value(&self, company: &str, letter: &str, value: &str) {
        let mut ifs = self.lock();
        let defined = ifs
            .rows(&schema::CODE_PART)
            .iter()
            .any(|r| r.str("Company") == Some(company) && r.str("CodePart") == Some(letter));
        assert!(defined, "code part {letter} of company {company} is not defined: call add_code_part first");
        let row = seed_row(&[
            ("Company", Val::Str(company.into())),
            ("CodePart", Val::Str(letter.into())),
            ("CodeValue", Val::Str(value.into())),
            ("Description", Val::Str(format!("{letter} {value}"))),
            ("ValidFrom", Val::Date(date!(2000 - 01 - 01))),
            ("ValidUntil", Val::Date(date!(2049 - 12 - 31))),
        ]);
        ifs.insert(&schema::CODE_PART_VALUE, row);
    }

    /// Ends a code part value's validity on `until` (as closing a cost
    /// center in IFS does); false when there is no such value.
    pub fn set_code_part_value_valid_until(&self, company: &str, letter: &str, value: &str, until: time::Date) -> bool {
        let mut ifs = self.lock();
        let rows = ifs.rows_mut(&schema::CODE_PART_VALUE);
        let found = rows.iter_mut().find(|r| {
            r.str("Company") == Some(company) && r.str("CodePart") == Some(letter) && r.str("CodeValue") == Some(value)
        });
        match found {
            Some(row) => {
                row.values.insert("ValidUntil", Val::Date(until));
                true
            }
            None => false,
        }
    }

    /// Adds purchase order `order_no` of `company` from supplier `vendor`
    /// (linked to the company) in `currency`, `Planned` as IFS enters it:
    /// add its lines ([`Self::add_purchase_order_line`]), then release it
    /// ([`Self::set_purchase_order_state`]). Panics on what IFS would refuse.
    pub fn add_purchase_order(
        &self,
        company: &str,
        order_no: &str,
        vendor: &str,
        currency: &str,
        order_date: time::Date,
    ) {
        let row = seed_row(&[
            ("OrderNo", Val::Str(order_no.into())),
            ("Company", Val::Str(company.into())),
            ("VendorNo", Val::Str(vendor.into())),
            ("CurrencyCode", Val::Str(currency.into())),
            ("OrderDate", Val::Date(order_date)),
        ]);
        self.seed(&schema::PURCHASE_ORDER, row, None);
    }

    /// Adds a line to `Planned` order `order_no`. Panics on what IFS would refuse.
    pub fn add_purchase_order_line(&self, order_no: &str, line: &PoLineSeed) {
        let mut values = vec![
            ("OrderNo", Val::Str(order_no.into())),
            ("LineNo", Val::Str(line.line_no.clone())),
            ("ReleaseNo", Val::Str(line.release_no.clone())),
            ("BuyQtyDue", Val::Dec(line.quantity)),
        ];
        let texts = [
            ("Description", &line.description),
            ("PartNo", &line.part_no),
            ("BuyUnitMeas", &line.unit),
            ("CodeA", &line.account),
        ];
        values.extend(texts.into_iter().filter_map(|(attr, v)| Some((attr, Val::Str(v.clone()?)))));
        let prices = [("FbuyUnitPrice", line.unit_price), ("BuyUnitPrice", line.base_unit_price)];
        values.extend(prices.into_iter().filter_map(|(attr, v)| Some((attr, Val::Dec(v?)))));
        let order = self.row_of(&schema::PURCHASE_ORDER, &[("OrderNo", Val::Str(order_no.into()))]);
        self.seed(&schema::PURCHASE_ORDER_LINE, seed_row(&values), Some(&order));
    }

    /// Adds receipt `receipt_no` of line `line_no`-`release_no` of a released
    /// order, in the order's company, `Received`. Panics on what IFS would refuse.
    pub fn add_purchase_receipt(
        &self,
        order_no: &str,
        line_no: &str,
        release_no: &str,
        receipt_no: i64,
        arrival_date: time::Date,
        quantity: Decimal,
    ) {
        let order = self.row_of(&schema::PURCHASE_ORDER, &[("OrderNo", Val::Str(order_no.into()))]);
        let company = order.get("Company").cloned().unwrap_or(Val::Str(String::new()));
        let row = seed_row(&[
            ("OrderNo", Val::Str(order_no.into())),
            ("LineNo", Val::Str(line_no.into())),
            ("ReleaseNo", Val::Str(release_no.into())),
            ("ReceiptNo", Val::Int(receipt_no)),
            ("Company", company),
            ("ArrivalDate", Val::Date(arrival_date)),
            ("QtyArrived", Val::Dec(quantity)),
        ]);
        self.seed(&schema::PURCHASE_RECEIPT, row, None);
    }

    /// Fills a seeded row's defaults, checks it as a create would be, and stores it.
    fn seed(&self, ty: &'static EntityType, mut row: Row, parent: Option<&Row>) {
        let mut ifs = self.lock();
        validate::defaults(&ifs, ty, &mut row, parent);
        if let Some(attr) = ty.attrs.iter().find(|a| a.required && !a.assigned && row.get(a.name).is_none()) {
            panic!("seeding {}: {} is mandatory", ty.name, attr.name);
        }
        let keys: Vec<(&'static str, Val)> = ty.keys.iter().filter_map(|k| Some((*k, row.get(k)?.clone()))).collect();
        assert!(ifs.find(ty, &keys).is_none(), "seeding {}: {keys:?} exists", ty.name);
        if let Err(e) = validate::check(&ifs, ty, &row, parent, None) {
            panic!("seeding {}: {e}", ty.name);
        }
        ifs.insert(ty, row);
    }

    /// The row of `ty` with `keys`, panicking when there is none (a setup error).
    fn row_of(&self, ty: &'static EntityType, keys: &[(&'static str, Val)]) -> Row {
        let ifs = self.lock();
        let index = ifs.find(ty, keys).unwrap_or_else(|| panic!("no {} with keys {keys:?}", ty.name));
        ifs.rows(ty)[index].clone()
    }

    // ---- state changes IFS users would make ------------------------------------

    fn set_state(&self, ty: &'static EntityType, keys: &[(&'static str, Val)], state: &str) {
        let e = ty.state().unwrap_or_else(|| panic!("{} has no Objstate", ty.name));
        assert!(e.values.contains(&state), "{state} is not a {} (one of {:?})", e.name, e.values);
        let mut ifs = self.lock();
        let index = ifs.find(ty, keys).unwrap_or_else(|| panic!("no {} with keys {keys:?}", ty.name));
        ifs.rows_mut(ty)[index].values.insert("Objstate", Val::Str(state.to_owned()));
        ifs.bump(ty, index);
    }

    /// Moves an invoice to another state (e.g. `Authorized`), as an IFS user would.
    pub fn set_invoice_state(&self, company: &str, invoice_id: i64, state: &str) {
        let keys = [("Company", Val::Str(company.into())), ("InvoiceId", Val::Int(invoice_id))];
        self.set_state(&schema::MAN_SUPP_INVOICE, &keys, state);
    }

    /// Moves a voucher to another state (e.g. `Posted`).
    pub fn set_voucher_state(
        &self,
        company: &str,
        accounting_year: i64,
        voucher_type: &str,
        voucher_no: i64,
        state: &str,
    ) {
        let keys = [
            ("Company", Val::Str(company.into())),
            ("AccountingYear", Val::Int(accounting_year)),
            ("VoucherType", Val::Str(voucher_type.into())),
            ("VoucherNo", Val::Int(voucher_no)),
        ];
        self.set_state(&schema::VOUCHER, &keys, state);
    }

    /// Moves a purchase order to another state (e.g. `Released`).
    pub fn set_purchase_order_state(&self, order_no: &str, state: &str) {
        self.set_state(&schema::PURCHASE_ORDER, &[("OrderNo", Val::Str(order_no.into()))], state);
    }

    /// Moves one line of a purchase order to another state (e.g. `Cancelled`).
    pub fn set_purchase_order_line_state(&self, order_no: &str, line_no: &str, release_no: &str, state: &str) {
        let keys = [
            ("OrderNo", Val::Str(order_no.into())),
            ("LineNo", Val::Str(line_no.into())),
            ("ReleaseNo", Val::Str(release_no.into())),
        ];
        self.set_state(&schema::PURCHASE_ORDER_LINE, &keys, state);
    }

    /// Moves a goods receipt to another state (e.g. `Cancelled`).
    pub fn set_purchase_receipt_state(
        &self,
        order_no: &str,
        line_no: &str,
        release_no: &str,
        receipt_no: i64,
        state: &str,
    ) {
        let keys = [
            ("OrderNo", Val::Str(order_no.into())),
            ("LineNo", Val::Str(line_no.into())),
            ("ReleaseNo", Val::Str(release_no.into())),
            ("ReceiptNo", Val::Int(receipt_no)),
        ];
        self.set_state(&schema::PURCHASE_RECEIPT, &keys, state);
    }

    // ---- read-back for assertions ------------------------------------------------

    fn read_back(&self, ty: &'static EntityType, navs: &[&str], company: Option<&str>) -> Vec<Value> {
        let ifs = self.lock();
        let expand: Vec<&'static Nav> = navs.iter().filter_map(|nav| ty.nav(nav)).collect();
        let mut rows: Vec<&Row> =
            ifs.rows(ty).iter().filter(|r| company.is_none_or(|c| r.str("Company") == Some(c))).collect();
        rows.sort_by(|a, b| wire::key_order(ty, a, b));
        rows.into_iter()
            .map(|r| Value::Object(wire::render(&ifs, ty, r, RenderOpts { expand: &expand, ..RenderOpts::default() })))
            .collect()
    }

    /// The company's supplier invoices as the API renders them, each with
    /// `ManSuppInvoicePostings` expanded.
    pub fn invoices(&self, company: &str) -> Vec<Value> {
        self.read_back(&schema::MAN_SUPP_INVOICE, &["ManSuppInvoicePostings"], Some(company))
    }

    /// The company's vouchers, each with `VoucherRowArray` expanded.
    pub fn vouchers(&self, company: &str) -> Vec<Value> {
        self.read_back(&schema::VOUCHER, &["VoucherRowArray"], Some(company))
    }

    /// The company's purchase orders, each with `PurchaseOrderLineArray` expanded.
    pub fn purchase_orders(&self, company: &str) -> Vec<Value> {
        self.read_back(&schema::PURCHASE_ORDER, &["PurchaseOrderLineArray"], Some(company))
    }

    /// Every supplier, each with `SupplierInvoiceCompanies` and
    /// `SupplierInfoAddresses` expanded.
    pub fn suppliers(&self) -> Vec<Value> {
        self.read_back(&schema::SUPPLIER, &["SupplierInvoiceCompanies", "SupplierInfoAddresses"], None)
    }

    // ---- serving -------------------------------------------------------------------

    /// The full router: IAM and projection routes wrapped by the fault layer, plus `/_sim/*`.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/auth/realms/{realm}/protocol/openid-connect/token", post(auth::token))
            .route("/auth/realms/{realm}/.well-known/openid-configuration", get(auth::discovery))
            .route("/main/ifsapplications/projection/v1/{*rest}", any(router::handle))
            .route("/int/ifsapplications/projection/v1/{*rest}", any(router::handle))
            .fallback(|| async { errors::not_found() })
            .with_state(self.clone());
        self.faults.clone().wrap(api)
    }

    /// Serves on 127.0.0.1 at `port` (0 = any free port).
    pub async fn serve(self, port: u16) -> std::io::Result<RunningSimulator> {
        crate::spawn(self.router(), port).await
    }

    /// Serves on an ephemeral loopback port; panics if no port can be bound.
    pub async fn start(self) -> RunningSimulator {
        self.serve(0).await.expect("bind a loopback port for the IFS simulator")
    }
}

fn seed_row(values: &[(&'static str, Val)]) -> Row {
    Row { values: values.iter().cloned().collect(), ..Row::default() }
}

/// A purchase order line as [`IfsSim::add_purchase_order_line`] seeds it;
/// [`PoLineSeed::new`] fills release `1` and leaves the optional attributes out.
#[derive(Debug, Clone, PartialEq)]
pub struct PoLineSeed {
    pub line_no: String,
    pub release_no: String,
    pub description: Option<String>,
    pub part_no: Option<String>,
    /// `BuyQtyDue`.
    pub quantity: Decimal,
    /// `BuyUnitMeas`.
    pub unit: Option<String>,
    /// `FbuyUnitPrice`, in the order's currency.
    pub unit_price: Option<Decimal>,
    /// `BuyUnitPrice`, in the company's currency.
    pub base_unit_price: Option<Decimal>,
    /// `CodeA`, the GL account the line is coded to.
    pub account: Option<String>,
}

impl PoLineSeed {
    /// Line `line_no` (release `1`) of `quantity` × `unit_price` (`FbuyUnitPrice`), described.
    pub fn new(line_no: &str, description: &str, quantity: Decimal, unit_price: Decimal) -> Self {
        Self {
            line_no: line_no.into(),
            release_no: "1".into(),
            description: Some(description.into()),
            part_no: None,
            quantity,
            unit: None,
            unit_price: Some(unit_price),
            base_unit_price: None,
            account: None,
        }
    }
}
