//! IFS Cloud's OData projections (reference `ifs-cloud.md`): IAM sign-in,
//! supplier invoices and GL vouchers created exactly once ([`posting`]),
//! purchase orders, and the reference reads mapping validation needs.
//!
//! Every projection, entity-set and navigation name, the voucher type, the
//! user group and the cost-center code part come from the connection's
//! [`IfsApiNames`] (the reference marks most finance names [DEFAULT]; each
//! tenant's API Explorer is the truth). The design decisions:
//!
//! 1. **Auth.** The client-credentials grant at
//!    `{base}/auth/realms/{namespace}/protocol/openid-connect/token` with
//!    `scope=openid microprofile-jwt` (§2). The access token is cached and
//!    renewed when less than 30 s remain (IFS tokens may live only 180 s);
//!    no refresh token is kept (§2 [DEFAULT]: with client credentials a new
//!    grant is as good and leaves no state). A 401 on an API call drops the
//!    token, gets a new one and retries once. `invalid_client` /
//!    `unauthorized_client` need new credentials (needs-reauth). Retries are
//!    the shared [`transport::HttpClient`]'s: 429 (honouring `Retry-After`)
//!    and 5xx with full jitter, the latter only for reads; writes are
//!    `Idempotency::Unsafe`, so the transport resends them only when they
//!    certainly were not processed (429, connection refused).
//! 2. **One company.** A client is built for the settings' company and has
//!    no way to name another: filters, keys and create bodies are all made
//!    by one private type (`odata::Company`) that puts `Company eq '<c>'`
//!    first in every `$filter` and `Company` into every key and body; a
//!    record read back with another `Company` is refused as malformed. The
//!    public documents ([`IfsInvoice`], [`IfsVoucher`], [`IfsPurchaseOrder`])
//!    have no company field. Two IFS facts bend the rule: suppliers are
//!    environment-wide master data (read without a company filter, flagged
//!    with whether they have invoice data in the company), and a purchase
//!    order is keyed by `OrderNo` alone (its lookup filters by company, its
//!    body carries it, and the GET before any PATCH/DELETE refuses an order
//!    of another company).
//! 3. **OData.** Keys quoted (`'` doubled), numbers bare, then URL-encoded;
//!    errors read from `{"error":{"code","message","details","innererror"}}`.
//!    `MI_MODIFIED_ERROR` (500 or 503) and other 5xx are retried for reads;
//!    a write with such an answer is looked up (or re-read) before it is sent
//!    again. 400 (`DATABASE_ERROR`) and 409 are permanent with IFS's
//!    message; 403 names the projection whose permission set to grant; 404
//!    on an entity set names the projection/set and the `api` setting to
//!    fix. Collections follow `@odata.nextLink` (same origin only: the link
//!    gets the bearer token). Bodies are built from our fields only, never
//!    from a record read back, so `@odata.*`, `luname`, `keyref` and `Obj*`
//!    are never sent.
//! 4. **ETags.** Every PATCH and DELETE is preceded by a GET of the record
//!    and carries its `@odata.etag` in `If-Match` (never `*`, never none); a
//!    412 re-reads and retries once.
//! 5. **Supplier invoices** (bills; debit adjustments as credit notes with
//!    negated amounts): looked up by `Company`, `Identity`, `InvoiceNo` (=
//!    the Concur key); created as header (`OurReference` =
//!    `Concur <key> (incomplete)`), one POST per posting row, then a PATCH of
//!    `OurReference` to `Concur <key>`, the completeness marker. An invoice
//!    found still marked incomplete (a crash mid-way) is deleted and created
//!    again, and is never reported as posted; a row refused for good deletes
//!    the header before the error is returned. A header POST whose outcome is
//!    unknown (timeout, 5xx) is never resent before a new lookup; a row POST
//!    whose outcome is unknown deletes the header and starts over.
//! 6. **Vouchers** (journals), the same way with the header `Text`
//!    `Concur <key> (incomplete) <description>` → `Concur <key> <description>`,
//!    looked up with `startswith(Text,'Concur <key> ')` and the key checked
//!    exactly client-side. Rows carry the amount once, in
//!    `CurrencyDebitAmount` or `CurrencyCreditAmount`, and the same amount
//!    as `DebitAmount`/`CreditAmount` ([DEFAULT] rate 1: the connector has
//!    no exchange rate; IFS recalculates per the company's rate types).
//!    `AccountingYear` is the voucher date's calendar year [DEFAULT]. An
//!    unbalanced journal is refused before any request.
//! 7. **References**: `<invoice_set>/<Company>/<InvoiceId>` and
//!    `<voucher_set>/<Company>/<AccountingYear>/<VoucherType>/<VoucherNo>`.
//! 8. **Reference reads** ([`IfsClient::suppliers`], [`IfsClient::accounts`],
//!    [`IfsClient::code_part_values`]) page through `@odata.nextLink`;
//!    [`crate::ErpAdapter::check`] is a token plus a one-row read of the company's
//!    GL accounts.
//! 9. **Purchase orders** ([`IfsClient::create_purchase_order`]): exactly
//!    once by `Cf_Concur_Po`, with the marker `Cf_Concur_Status`
//!    `incomplete` → `complete`.
//! 10. **Money** is [`rust_decimal::Decimal`] end to end and travels as
//!     JSON numbers carrying the decimal's exact text (serde_json's
//!     `arbitrary_precision`), as in the reference's examples; IFS parses
//!     `Edm.Decimal` from that text without a binary float in between, so
//!     `IEEE754Compatible=true` (strings) is not needed; the adapter reads
//!     no amounts back.
//! 11. **Vendors from Concur** ([`IfsClient::write_supplier`], module
//!     `vendors`): a vendor of the company is the supplier, its address
//!     `AddressId` = the Concur address code, and its invoice data in the
//!     company (`SupplierInvoiceCompanies`, created last: it is what makes
//!     the supplier active for the vendor read). Records that exist are
//!     kept (a duplicate key is not an error), so a create interrupted
//!     between POSTs is completed by the next write; updates PATCH only the
//!     attributes that differ, with ETags as in 4. The tax id is not
//!     carried. The navigation names are the settings
//!     `api.supplier_invoice_companies` and `api.supplier_addresses`.
//! 12. **Purchase orders and receipts for Concur**
//!     ([`IfsClient::purchase_orders_page`], [`IfsClient::po_receipts_page`],
//!     module `po_read`): the company's released orders with their lines
//!     and the goods receipts of them, paged by offset over a key order;
//!     unreleased orders and the connector's own (`CNQ-`) are left out by
//!     the `$filter`, so every row read is a record.

mod documents;
mod error;
mod odata;
mod po_read;
mod posting;
mod purchase_order;
mod reference;
mod vendors;

use std::future::Future;
use std::time::Duration;

use domain::{ErpDocument, ErpDocumentKind, IfsApiNames, IfsCloudSettings, Secret};
use serde::Deserialize;
use serde_json::Value;
use transport::{
    BearerAuth, Grant, HttpClient, Idempotency, Issued, RenewMargin, TokenRequestError, TokenSource, TransportError,
    sanitized, short_reason,
};

pub use documents::{
    CODE_PARTS, CodeParts, Completeness, INCOMPLETE, IfsInvoice, IfsVoucher, InvoiceKind, KEY_PREFIX, PostingRow,
    VOUCHER_TEXT_MAX, code_parts, invoice_completeness, invoice_marker, voucher_completeness, voucher_text,
};
pub use error::{IfsError, SettingsProblem};
pub use purchase_order::{IfsPurchaseOrder, IfsPurchaseOrderLine, PO_ORDER_NO_PREFIX};
pub use reference::{IfsAccount, IfsCodePartValue, IfsSupplier};

use self::odata::{Company, Key, ODataError, query};
use crate::DocumentProblem;

const SERVICE: &str = "ifs";
const SCOPE: &str = "openid microprofile-jwt";
/// Renew this long before the token expires (at most half its lifetime).
const RENEW_MARGIN: RenewMargin = RenewMargin::AtMostHalf(Duration::from_secs(30));
/// Used when a token answer omits `expires_in` (the reference's sample value).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(180);

/// The connection's ERP secret for IFS Cloud (keys listed in
/// [`crate::credentials::CredentialKeys`]): an IAM client with a service account.
#[derive(Debug, Clone, Deserialize)]
pub struct IfsCredentials {
    pub client_id: String,
    pub client_secret: Secret,
}

/// The entity sets the connector uses, with the settings that name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Set {
    Invoice,
    Voucher,
    Supplier,
    /// A supplier's invoice data per company (its rows are children of
    /// [`Set::Supplier`] and carry `Company`).
    SupplierCompany,
    /// A supplier's addresses (children of [`Set::Supplier`]).
    SupplierAddress,
    Account,
    CodePartValue,
    PurchaseOrder,
    /// Goods receipts of purchase order lines (read only).
    PurchaseReceipt,
}

impl Set {
    fn projection(self, api: &IfsApiNames) -> &str {
        match self {
            Set::Invoice => &api.invoice_projection,
            Set::Voucher => &api.voucher_projection,
            Set::Supplier | Set::SupplierCompany | Set::SupplierAddress => &api.supplier_projection,
            Set::Account => &api.account_projection,
            Set::CodePartValue => &api.code_part_projection,
            Set::PurchaseOrder => &api.purchase_order_projection,
            Set::PurchaseReceipt => &api.purchase_receipt_projection,
        }
    }

    fn name(self, api: &IfsApiNames) -> &str {
        match self {
            Set::Invoice => &api.invoice_set,
            Set::Voucher => &api.voucher_set,
            Set::Supplier | Set::SupplierCompany | Set::SupplierAddress => &api.supplier_set,
            Set::Account => &api.account_set,
            Set::CodePartValue => &api.code_part_value_set,
            Set::PurchaseOrder => &api.purchase_order_set,
            Set::PurchaseReceipt => &api.purchase_receipt_set,
        }
    }

    /// The navigation to the set's rows, if the connector creates rows.
    fn rows(self, api: &IfsApiNames) -> Option<&str> {
        match self {
            Set::Invoice => Some(&api.invoice_postings),
            Set::Voucher => Some(&api.voucher_rows),
            Set::PurchaseOrder => Some(&api.purchase_order_lines),
            Set::SupplierCompany => Some(&api.supplier_invoice_companies),
            Set::SupplierAddress => Some(&api.supplier_addresses),
            _ => None,
        }
    }

    /// The settings fields naming projection, set and rows.
    fn settings(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Set::Invoice => ("api.invoice_projection", "api.invoice_set", Some("api.invoice_postings")),
            Set::Voucher => ("api.voucher_projection", "api.voucher_set", Some("api.voucher_rows")),
            Set::Supplier => ("api.supplier_projection", "api.supplier_set", None),
            Set::SupplierCompany => {
                ("api.supplier_projection", "api.supplier_set", Some("api.supplier_invoice_companies"))
            }
            Set::SupplierAddress => ("api.supplier_projection", "api.supplier_set", Some("api.supplier_addresses")),
            Set::Account => ("api.account_projection", "api.account_set", None),
            Set::CodePartValue => ("api.code_part_projection", "api.code_part_value_set", None),
            Set::PurchaseOrder => {
                ("api.purchase_order_projection", "api.purchase_order_set", Some("api.purchase_order_lines"))
            }
            Set::PurchaseReceipt => ("api.purchase_receipt_projection", "api.purchase_receipt_set", None),
        }
    }

    /// What the set holds, for messages.
    fn what(self) -> &'static str {
        match self {
            Set::Invoice => "supplier invoices",
            Set::Voucher => "GL vouchers",
            Set::Supplier => "suppliers",
            Set::SupplierCompany => "supplier invoice data",
            Set::SupplierAddress => "supplier addresses",
            Set::Account => "GL accounts",
            Set::CodePartValue => "code part values",
            Set::PurchaseOrder => "purchase orders",
            Set::PurchaseReceipt => "purchase receipts",
        }
    }

    /// Whether records at `target` carry `Company` (suppliers and their
    /// addresses are global in IFS, §5a; purchase order lines are keyed by
    /// their order alone).
    fn company_scoped(self, target: Target) -> bool {
        match self {
            Set::Supplier | Set::SupplierAddress => false,
            // A supplier's invoice data rows carry the company; the supplier does not.
            Set::SupplierCompany => target == Target::Rows,
            Set::PurchaseOrder => target != Target::Rows,
            _ => true,
        }
    }

    /// Whether the set holds supplier master data (written by the vendor
    /// sync) rather than documents (written by the poster).
    fn is_supplier_data(self) -> bool {
        matches!(self, Set::Supplier | Set::SupplierCompany | Set::SupplierAddress)
    }

    /// What the operator does after IFS refused a write to this set.
    fn refusal_fix(self) -> &'static str {
        if self.is_supplier_data() {
            "Correct the vendor in Concur (or the supplier's basic data in IFS), then sync the vendors again \
             (`connector sync run <connection> --kind vendors`)"
        } else {
            "Correct the mapping or the record in IFS (e.g. the supplier, account or code part value), then post \
             the document again"
        }
    }

    /// How a write lost to a concurrent change is tried again.
    fn try_again(self) -> &'static str {
        if self.is_supplier_data() {
            "sync the vendors again (`connector sync run <connection> --kind vendors`)"
        } else {
            "post the document again"
        }
    }
}

/// Which URL of a set a call went to (for 404 messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Set,
    Entity,
    Rows,
}

/// A record read by key, with the ETag to update or delete it.
pub(crate) struct Entity {
    pub(crate) etag: String,
    pub(crate) record: Value,
}

/// The answer to a create.
pub(crate) enum Sent {
    Created(Value),
    /// Timeout, 5xx (incl. `MI_MODIFIED_ERROR`), throttling that outlasted
    /// the retries: it may or may not have committed.
    Unknown(IfsError),
}

/// One IFS Cloud environment's projections, for one company, signed in as
/// an IAM client's service account.
pub struct IfsClient {
    http: HttpClient,
    settings: IfsCloudSettings,
    credentials: IfsCredentials,
    company: Company,
    cost_center: char,
    /// The access token from the client-credentials grant.
    auth: BearerAuth,
}

impl IfsClient {
    /// A client for the settings' company. Refuses settings that cannot
    /// work (empty company, a name that is not an identifier, a cost-center
    /// code part outside `B`…`J`) before anything is sent.
    pub fn new(http: HttpClient, settings: IfsCloudSettings, credentials: IfsCredentials) -> Result<Self, IfsError> {
        let cost_center = check_settings(&settings).map_err(|problem| IfsError::Settings { problem })?;
        let company = Company::new(&settings.company);
        Ok(Self { http, settings, credentials, company, cost_center, auth: BearerAuth::new(RENEW_MARGIN) })
    }

    pub fn settings(&self) -> &IfsCloudSettings {
        &self.settings
    }

    /// The one company this client reads and writes.
    pub fn company(&self) -> &str {
        self.company.as_str()
    }

    fn api(&self) -> &IfsApiNames {
        &self.settings.api
    }

    fn base(&self) -> &str {
        self.settings.base_url.as_str().trim_end_matches('/')
    }

    fn token_url(&self) -> String {
        format!("{}/auth/realms/{}/protocol/openid-connect/token", self.base(), self.settings.namespace)
    }

    /// `{base}/{main|int}/ifsapplications/projection/v1/{Projection}.svc/{EntitySet}`.
    pub(crate) fn set_url(&self, set: Set) -> String {
        format!(
            "{}/{}/ifsapplications/projection/v1/{}.svc/{}",
            self.base(),
            self.api().path_prefix,
            set.projection(self.api()),
            set.name(self.api())
        )
    }

    /// `…/{EntitySet}({keys})`.
    pub(crate) fn entity_url(&self, set: Set, key: &Key) -> String {
        format!("{}({})", self.set_url(set), key.to_path())
    }

    /// `…/{EntitySet}({keys})/{Navigation}`.
    pub(crate) fn rows_url(&self, set: Set, key: &Key) -> String {
        format!("{}/{}", self.entity_url(set, key), set.rows(self.api()).unwrap_or_default())
    }

    /// `…/{EntitySet}({keys})/{Navigation}({row keys})`: one row of a record.
    pub(crate) fn row_url(&self, set: Set, key: &Key, row: &Key) -> String {
        format!("{}({})", self.rows_url(set, key), row.to_path())
    }

    /// Gets a token (or reuses the cached one): proves the IAM client.
    pub async fn authenticate(&self) -> Result<(), IfsError> {
        self.auth.token(self).await.map(drop)
    }

    /// `GET AccountSet?$filter=Company eq '<c>'&$top=1`: proves URL,
    /// projection names, the permission sets and the company with one row.
    pub async fn read_probe(&self) -> Result<(), IfsError> {
        let filter = self.company.filter(&[]);
        let url = format!(
            "{}{}",
            self.set_url(Set::Account),
            query(&[("$filter", &filter), ("$select", "Company,Account"), ("$top", "1")])
        );
        let rows = self.list_page(Set::Account, Target::Set, &url, "a GL account read").await?.0;
        if rows.is_empty() {
            return Err(IfsError::Settings {
                problem: SettingsProblem::NoAccounts {
                    company: self.company().to_owned(),
                    projection: Set::Account.projection(self.api()).to_owned(),
                    set: Set::Account.name(self.api()).to_owned(),
                },
            });
        }
        Ok(())
    }

    /// A token plus one cheap authenticated read.
    pub async fn check_access(&self) -> Result<(), IfsError> {
        self.authenticate().await?;
        self.read_probe().await
    }

    /// A request with the bearer token `build` adds (and `Accept:
    /// application/json`); a 401 drops the token and retries once with a new
    /// one. A 401 means nothing was processed, so this holds for writes too.
    pub(crate) async fn send_authorized(
        &self,
        idempotency: Idempotency,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, IfsError> {
        let authorized = |c: &reqwest::Client, token: &str| {
            build(c).bearer_auth(token).header(reqwest::header::ACCEPT, "application/json")
        };
        self.auth
            .send(self, &self.http, idempotency, authorized)
            .await
            .map_err(|e| e.into_error(|e| self.transport_error(e)))
    }

    async fn token_call(&self) -> Result<Issued, IfsError> {
        let url = self.token_url();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.credentials.client_id.as_str()),
            ("client_secret", self.credentials.client_secret.expose()),
            ("scope", SCOPE),
        ];
        let answer = transport::request_token(&self.http, SERVICE, &url, &form, DEFAULT_LIFETIME).await;
        let (status, refusal, body) = match answer {
            // A new grant is as good as a refresh and leaves no state: no refresh token is kept.
            Ok(issued) => return Ok(Issued { refresh_token: None, ..issued }),
            Err(TokenRequestError::Transport(e)) => return Err(self.transport_error(e)),
            Err(TokenRequestError::Unusable(e)) => return Err(self.malformed("the token request", e.to_string())),
            Err(TokenRequestError::NoEndpoint { url }) => return Err(IfsError::NoRealm { url }),
            Err(TokenRequestError::Refused { status, refusal, body }) => (status, refusal, body),
        };
        let namespace = self.settings.namespace.clone();
        let client_id = self.credentials.client_id.clone();
        let code = refusal.error;
        let description = refusal.error_description.map(|d| short_reason(&d));
        tracing::warn!(service = SERVICE, status, error = %code, namespace = %namespace, "IFS IAM refused a token grant");
        Err(match code.as_str() {
            "invalid_client" => IfsError::InvalidClient { namespace, client_id },
            "unauthorized_client" => IfsError::ServiceAccountDisabled {
                namespace,
                client_id,
                description: description.unwrap_or_else(|| "unauthorized_client".into()),
            },
            "invalid_scope" => IfsError::InvalidScope { namespace, client_id, scope: SCOPE },
            "" => IfsError::TokenRefused { namespace, client_id, status, error: format!("`{}`", short_reason(&body)) },
            other => IfsError::TokenRefused {
                namespace,
                client_id,
                status,
                error: match description {
                    Some(d) => format!("`{}`: {d}", sanitized(other, 80)),
                    None => format!("`{}`", sanitized(other, 80)),
                },
            },
        })
    }

    pub(crate) fn transport_error(&self, e: TransportError) -> IfsError {
        let base_url = self.base().to_owned();
        match &e {
            TransportError::Status { status, body, .. } => {
                let error = ODataError::parse(body);
                let detail = if error.is_metadata_modified() {
                    format!(
                        "HTTP {status} MI_MODIFIED_ERROR: IFS was refreshing its projection metadata, e.g. after a \
                         configuration deploy"
                    )
                } else if error.message.is_empty() {
                    format!("HTTP {status}{}", error.code_suffix())
                } else {
                    format!("HTTP {status}{}: {}", error.code_suffix(), error.message)
                };
                IfsError::Unavailable { base_url, detail, source: e }
            }
            _ => IfsError::Unreachable { base_url, source: e },
        }
    }

    /// 412 twice in a row on `what`.
    fn conflict(&self, set: Set, what: &str) -> IfsError {
        IfsError::Conflict { company: self.company().to_owned(), document: what.to_owned(), again: set.try_again() }
    }

    pub(crate) fn malformed(&self, what: &str, detail: String) -> IfsError {
        IfsError::Malformed { company: self.company().to_owned(), what: what.to_owned(), detail }
    }

    /// A non-2xx answer (other than 429/5xx, which the transport reports).
    /// `write`: a create, update or delete (a 400/409 then refuses a document).
    pub(crate) fn api_error(
        &self,
        set: Set,
        target: Target,
        write: bool,
        status: u16,
        body: &str,
        what: &str,
    ) -> IfsError {
        let error = ODataError::parse(body);
        let company = self.company().to_owned();
        let message = if error.message.is_empty() { "(no message)".to_owned() } else { error.message.clone() };
        match status {
            400 | 409 | 422 if write => IfsError::Refused {
                company,
                document: what.to_owned(),
                status,
                code: if error.code.is_empty() { "(no code)".into() } else { error.code.clone() },
                message,
                fix: set.refusal_fix(),
            },
            401 => {
                IfsError::Unauthorized { client_id: self.credentials.client_id.clone(), company, what: what.to_owned() }
            }
            403 => IfsError::Forbidden {
                client_id: self.credentials.client_id.clone(),
                company,
                projection: set.projection(self.api()).to_owned(),
                what: what.to_owned(),
                code: error.code_suffix(),
            },
            404 | 405 => {
                let (projection_setting, set_setting, rows_setting) = set.settings();
                let mut set_path = set.name(self.api()).to_owned();
                let mut setting = format!("{projection_setting}` / `{set_setting}");
                if target == Target::Rows {
                    set_path = format!("{set_path}(…)/{}", set.rows(self.api()).unwrap_or_default());
                    setting = format!("{setting}` / `{}", rows_setting.unwrap_or_default());
                }
                IfsError::NotConfigured {
                    what: set.what().to_owned(),
                    projection: set.projection(self.api()).to_owned(),
                    set: set_path,
                    status,
                    code: error.code_suffix(),
                    setting,
                }
            }
            _ => IfsError::Rejected { company, status, code: error.code_suffix(), what: what.to_owned(), message },
        }
    }

    async fn json_body(&self, response: reqwest::Response, what: &str) -> Result<Value, IfsError> {
        let bytes = transport::read_body(SERVICE, response)
            .await
            .map_err(|e| self.malformed(what, format!("the body could not be read: {e}")))?;
        serde_json::from_slice(&bytes).map_err(|e| self.malformed(what, format!("the body is not JSON: {e}")))
    }

    /// Refuses a record of another company (company-scoped sets only).
    fn check_company(&self, set: Set, target: Target, record: &Value, what: &str) -> Result<(), IfsError> {
        if !set.company_scoped(target) {
            return Ok(());
        }
        self.company.check(record).map_err(|found| {
            self.malformed(what, format!("IFS returned {found} to a request for company `{}`", self.company()))
        })
    }

    /// One page of a collection at `target` of `set` (the set, or the rows
    /// of one of its records): its rows (company-checked) and its nextLink.
    async fn list_page(
        &self,
        set: Set,
        target: Target,
        url: &str,
        what: &str,
    ) -> Result<(Vec<Value>, Option<String>), IfsError> {
        let response = self.send_authorized(Idempotency::Safe, |c| c.get(url)).await?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let body = transport::bounded_text(response).await;
            return Err(self.api_error(set, target, false, status, &body, what));
        }
        let mut page = self.json_body(response, what).await?;
        let Some(Value::Array(rows)) = page.get_mut("value").map(Value::take) else {
            return Err(self.malformed(what, "expected an OData collection (`value` array)".into()));
        };
        for row in &rows {
            self.check_company(set, target, row, what)?;
        }
        let next = page.get("@odata.nextLink").and_then(Value::as_str).map(str::to_owned);
        Ok((rows, next))
    }

    /// Every row of a collection of `set`, following `@odata.nextLink`
    /// verbatim. A link to another origin is refused: it would receive the
    /// bearer token.
    pub(crate) async fn list(&self, set: Set, url: &str, what: &str) -> Result<Vec<Value>, IfsError> {
        self.list_at(set, Target::Set, url, what).await
    }

    /// [`Self::list`] of the collection at `target` (the set, or the rows
    /// of one of its records).
    pub(crate) async fn list_at(
        &self,
        set: Set,
        target: Target,
        url: &str,
        what: &str,
    ) -> Result<Vec<Value>, IfsError> {
        /// Guards against a server that links in a circle.
        const MAX_PAGES: usize = 10_000;
        let mut rows = Vec::new();
        let mut url = url.to_owned();
        for _ in 0..MAX_PAGES {
            let (page, next) = self.list_page(set, target, &url, what).await?;
            rows.extend(page);
            match next {
                None => return Ok(rows),
                Some(next) => url = self.follow(&url, &next, what)?,
            }
        }
        Err(self.malformed(what, format!("more than {MAX_PAGES} pages; stopped following @odata.nextLink")))
    }

    /// The absolute URL of a nextLink, on the same origin as `current`.
    fn follow(&self, current: &str, next: &str, what: &str) -> Result<String, IfsError> {
        let refuse = |why: &str| self.malformed(what, format!("its @odata.nextLink `{}` {why}", sanitized(next, 200)));
        let base = reqwest::Url::parse(current).map_err(|_| refuse("cannot be resolved"))?;
        let link = base.join(next).map_err(|_| refuse("is not a URL"))?;
        if link.origin() != base.origin() {
            return Err(refuse("points at another server; it is not followed with the access token"));
        }
        Ok(link.to_string())
    }

    /// The record with `key`, with its ETag; `None` when IFS has no such record.
    pub(crate) async fn read(&self, set: Set, key: &Key, what: &str) -> Result<Option<Entity>, IfsError> {
        self.read_at(set, Target::Entity, &self.entity_url(set, key), what).await
    }

    /// The record at `url` (an entity of `set`, or one of its rows), with its
    /// ETag; `None` when IFS has no such record.
    pub(crate) async fn read_at(
        &self,
        set: Set,
        target: Target,
        url: &str,
        what: &str,
    ) -> Result<Option<Entity>, IfsError> {
        let response = self.send_authorized(Idempotency::Safe, |c| c.get(url)).await?;
        let status = response.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if !response.status().is_success() {
            let body = transport::bounded_text(response).await;
            return Err(self.api_error(set, target, false, status, &body, what));
        }
        let header_etag =
            response.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let record = self.json_body(response, what).await?;
        self.check_company(set, target, &record, what)?;
        let etag = record.get("@odata.etag").and_then(Value::as_str).map(str::to_owned).or(header_etag);
        match etag.filter(|e| !e.trim().is_empty()) {
            Some(etag) => Ok(Some(Entity { etag, record })),
            None => Err(self.malformed(
                what,
                "the record carries no @odata.etag; the connector never updates or deletes a record without its \
                 current ETag"
                    .into(),
            )),
        }
    }

    /// `POST url` with `body`; errors that leave the outcome unknown are
    /// returned as [`Sent::Unknown`] for the caller to look up.
    pub(crate) async fn create(
        &self,
        set: Set,
        target: Target,
        url: &str,
        body: &Value,
        what: &str,
    ) -> Result<Sent, IfsError> {
        let body = odata::without_system_members(body.clone());
        let sent = self.send_authorized(Idempotency::Unsafe, |c| c.post(url).json(&body)).await;
        let response = match sent {
            Ok(response) => response,
            Err(e) if e.outcome_unknown() => {
                tracing::warn!(service = SERVICE, what, error = %e, "create outcome unknown");
                return Ok(Sent::Unknown(e));
            }
            Err(e) => return Err(e),
        };
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let body = transport::bounded_text(response).await;
            return Err(self.api_error(set, target, true, status, &body, what));
        }
        let record = self.json_body(response, what).await?;
        self.check_company(set, target, &record, what)?;
        Ok(Sent::Created(record))
    }

    /// PATCHes `body` onto the record with `key`: reads it first for its
    /// ETag (unless `applied` says the change is already there) and sends
    /// that in `If-Match`; a 412 re-reads and retries once, as does an
    /// answer that leaves the outcome unknown.
    pub(crate) async fn update(
        &self,
        set: Set,
        key: &Key,
        body: &Value,
        what: &str,
        applied: impl Fn(&Value) -> bool,
    ) -> Result<(), IfsError> {
        self.update_at(set, Target::Entity, &self.entity_url(set, key), body, what, applied).await
    }

    /// [`Self::update`] of the record at `url` (an entity of `set`, or one
    /// of its rows).
    pub(crate) async fn update_at(
        &self,
        set: Set,
        target: Target,
        url: &str,
        body: &Value,
        what: &str,
        applied: impl Fn(&Value) -> bool,
    ) -> Result<(), IfsError> {
        let body = odata::without_system_members(body.clone());
        let (mut stale, mut unknown) = (false, false);
        loop {
            let Some(entity) = self.read_at(set, target, url, what).await? else {
                return Err(IfsError::Vanished {
                    company: self.company().to_owned(),
                    document: what.to_owned(),
                    again: set.try_again(),
                });
            };
            if applied(&entity.record) {
                return Ok(());
            }
            let sent = self
                .send_authorized(Idempotency::Unsafe, |c| {
                    c.patch(url).header(reqwest::header::IF_MATCH, entity.etag.as_str()).json(&body)
                })
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(e) if e.outcome_unknown() && !unknown => {
                    tracing::warn!(service = SERVICE, what, error = %e, "update outcome unknown; reading the record again");
                    unknown = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let status = response.status().as_u16();
            if response.status().is_success() {
                return Ok(());
            }
            if status == 412 {
                if stale {
                    return Err(self.conflict(set, what));
                }
                tracing::info!(service = SERVICE, what, "stale ETag (412); reading the record again");
                stale = true;
                continue;
            }
            let body = transport::bounded_text(response).await;
            return Err(self.api_error(set, target, true, status, &body, what));
        }
    }

    /// Deletes the record with `key` (read first for its ETag, sent in
    /// `If-Match`); a record already gone is fine.
    pub(crate) async fn delete(&self, set: Set, key: &Key, what: &str) -> Result<(), IfsError> {
        let url = self.entity_url(set, key);
        let (mut stale, mut unknown) = (false, false);
        loop {
            let Some(entity) = self.read(set, key, what).await? else { return Ok(()) };
            let sent = self
                .send_authorized(Idempotency::Unsafe, |c| {
                    c.delete(&url).header(reqwest::header::IF_MATCH, entity.etag.as_str())
                })
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(e) if e.outcome_unknown() && !unknown => {
                    unknown = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let status = response.status().as_u16();
            if response.status().is_success() || status == 404 {
                return Ok(());
            }
            if status == 412 && !stale {
                stale = true;
                continue;
            }
            if status == 412 {
                return Err(self.conflict(set, what));
            }
            let body = transport::bounded_text(response).await;
            return Err(self.api_error(set, Target::Entity, true, status, &body, what));
        }
    }
}

/// The checks of [`IfsClient::new`]; returns the cost-center code part.
fn check_settings(settings: &IfsCloudSettings) -> Result<char, SettingsProblem> {
    let company = settings.company.trim();
    if company.is_empty() || company != settings.company || company.chars().any(char::is_control) {
        return Err(SettingsProblem::Company { company: sanitized(&settings.company, 40) });
    }
    let namespace = &settings.namespace;
    if namespace.is_empty() || !namespace.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(SettingsProblem::Namespace { namespace: sanitized(namespace, 60) });
    }
    let api = &settings.api;
    if !matches!(api.path_prefix.as_str(), "main" | "int") {
        return Err(SettingsProblem::PathPrefix { value: sanitized(&api.path_prefix, 20) });
    }
    let names = [
        ("api.invoice_projection", &api.invoice_projection),
        ("api.invoice_set", &api.invoice_set),
        ("api.invoice_postings", &api.invoice_postings),
        ("api.voucher_projection", &api.voucher_projection),
        ("api.voucher_set", &api.voucher_set),
        ("api.voucher_rows", &api.voucher_rows),
        ("api.supplier_projection", &api.supplier_projection),
        ("api.supplier_set", &api.supplier_set),
        ("api.supplier_invoice_companies", &api.supplier_invoice_companies),
        ("api.supplier_addresses", &api.supplier_addresses),
        ("api.account_projection", &api.account_projection),
        ("api.account_set", &api.account_set),
        ("api.code_part_projection", &api.code_part_projection),
        ("api.code_part_value_set", &api.code_part_value_set),
        ("api.purchase_order_projection", &api.purchase_order_projection),
        ("api.purchase_order_set", &api.purchase_order_set),
        ("api.purchase_order_lines", &api.purchase_order_lines),
        ("api.purchase_order_line_account", &api.purchase_order_line_account),
        ("api.purchase_receipt_projection", &api.purchase_receipt_projection),
        ("api.purchase_receipt_set", &api.purchase_receipt_set),
    ];
    for (setting, name) in names {
        if !odata::is_identifier(name) {
            return Err(SettingsProblem::NotAName { setting, value: sanitized(name, 60) });
        }
    }
    for (setting, value) in [("api.voucher_type", &api.voucher_type), ("api.user_group", &api.user_group)] {
        if value.trim().is_empty() {
            return Err(SettingsProblem::Empty { setting });
        }
    }
    let part = api.cost_center_code_part.trim().to_ascii_uppercase();
    match part.chars().collect::<Vec<_>>()[..] {
        [letter] if CODE_PARTS.contains(&letter) => Ok(letter),
        _ => Err(SettingsProblem::CostCenterCodePart { value: sanitized(&api.cost_center_code_part, 20) }),
    }
}

/// IFS IAM's client-credentials grant (it issues no refresh token).
impl TokenSource for IfsClient {
    type Error = IfsError;
    const SERVICE: &'static str = SERVICE;

    fn issue(&self, _grant: Grant<'_>) -> impl Future<Output = Result<Issued, IfsError>> + Send {
        self.token_call()
    }

    /// Never asked: there is no refresh token to refuse.
    fn refused(&self, _error: &IfsError) -> bool {
        false
    }
}

impl IfsClient {
    /// The supplier invoice (bill) or credit note (debit adjustment) for
    /// `document`, with its dimensions on the company's code parts.
    pub fn invoice_for(&self, document: &ErpDocument) -> Result<IfsInvoice, IfsError> {
        let (kind, supplier) = match &document.kind {
            ErpDocumentKind::Bill { vendor } => (InvoiceKind::Invoice, vendor),
            ErpDocumentKind::DebitAdjustment { vendor } => (InvoiceKind::CreditNote, vendor),
            ErpDocumentKind::Journal => {
                return Err(self.invalid(document, DocumentProblem::JournalAsInvoice));
            }
        };
        Ok(IfsInvoice {
            kind,
            supplier: supplier.clone(),
            invoice_no: document.key.clone(),
            date: document.date,
            currency: document.currency.clone(),
            rows: self.rows_for(document)?,
        })
    }

    /// The GL voucher for a journal `document`.
    pub fn voucher_for(&self, document: &ErpDocument) -> Result<IfsVoucher, IfsError> {
        if !matches!(document.kind, ErpDocumentKind::Journal) {
            return Err(self.invalid(document, DocumentProblem::ApDocumentAsVoucher));
        }
        Ok(IfsVoucher {
            key: document.key.clone(),
            date: document.date,
            voucher_type: self.api().voucher_type.clone(),
            user_group: self.api().user_group.clone(),
            currency: document.currency.clone(),
            description: document.description.clone(),
            rows: self.rows_for(document)?,
        })
    }

    fn rows_for(&self, document: &ErpDocument) -> Result<Vec<PostingRow>, IfsError> {
        document
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let code_parts = code_parts(&line.dimensions, self.cost_center).map_err(|problem| {
                    self.invalid(document, DocumentProblem::Line { line: i + 1, problem: Box::new(problem) })
                })?;
                Ok(PostingRow {
                    account: line.account.clone(),
                    code_parts,
                    amount: line.amount,
                    text: line.description.clone(),
                })
            })
            .collect()
    }

    fn invalid(&self, document: &ErpDocument, problem: DocumentProblem) -> IfsError {
        IfsError::Invalid {
            company: self.company().to_owned(),
            document: format!("the {} for Concur key `{}`", document.label(), document.key),
            problem: Box::new(problem),
        }
    }
}

mod adapter;
pub(crate) use adapter::{CHECKS, fix};

#[cfg(test)]
mod tests;
