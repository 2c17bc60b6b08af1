//! A connection: one Concur company linked to one ERP, with the settings that
//! shape how its documents flow.

use serde::{Deserialize, Serialize};

use crate::erp_url::ErpUrl;
use crate::ids::{CompanyUuid, ConcurrencyLevel, ConnectionId, DocumentType};
use crate::schedule::PollSchedule;

/// Lifecycle of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Created by an operator; Concur not connected yet.
    Pending,
    /// Concur connected; documents flow.
    Active,
    /// Documents still flow, but the Concur refresh token expires soon: an
    /// admin must click Connect again before `concur_refresh_expires_at`.
    ReconnectSoon,
    /// The Concur refresh token was refused or is about to expire: an admin
    /// must click Connect again.
    NeedsReauth,
    /// Switched off by an operator.
    Disabled,
}

impl ConnectionStatus {
    /// As stored and as operators see it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Pending => "pending",
            ConnectionStatus::Active => "active",
            ConnectionStatus::ReconnectSoon => "reconnect_soon",
            ConnectionStatus::NeedsReauth => "needs_reauth",
            ConnectionStatus::Disabled => "disabled",
        }
    }
}

/// Concur edition, from `/profile/v1/me` `marketingName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edition {
    Professional,
    Standard,
    /// The profile named an edition we do not recognise: surfaced, not guessed.
    Unknown,
}

impl Edition {
    /// `CTE`/`Enterprise` → Professional; `Standard…` → Standard; else Unknown.
    pub fn from_marketing_name(name: Option<&str>) -> Self {
        let Some(name) = name.map(|n| n.trim().to_ascii_lowercase()) else {
            return Edition::Unknown;
        };
        if name.starts_with("standard") {
            Edition::Standard
        } else if name == "cte" || name.starts_with("enterprise") {
            Edition::Professional
        } else {
            Edition::Unknown
        }
    }
}

/// Which ERP a connection posts into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErpKind {
    Acumatica,
    IfsCloud,
    Infor,
}

impl ErpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErpKind::Acumatica => "acumatica",
            ErpKind::IfsCloud => "ifs_cloud",
            ErpKind::Infor => "infor",
        }
    }
}

impl std::fmt::Display for ErpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ErpKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "acumatica" => Ok(ErpKind::Acumatica),
            "ifs" | "ifs_cloud" => Ok(ErpKind::IfsCloud),
            "infor" => Ok(ErpKind::Infor),
            _ => Err(format!("unknown ERP kind `{s}` (expected acumatica, ifs_cloud or infor)")),
        }
    }
}

/// Acumatica instance settings (not secret). Credentials live in the
/// connection's ERP secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcumaticaSettings {
    /// Everything before `/entity`, e.g. `https://acme.acumatica.com` or `https://erp.example.com/AcumaticaERP`.
    pub base_url: ErpUrl,
    /// Tenant login name; the OAuth client id is sent as `<client_id>@<tenant>`.
    pub tenant: String,
    #[serde(default = "default_acumatica_endpoint")]
    pub endpoint_name: String,
    #[serde(default = "default_acumatica_version")]
    pub endpoint_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

/// [DEFAULT] endpoint of the Acumatica reference: the system contract.
pub fn default_acumatica_endpoint() -> String {
    "Default".to_owned()
}

/// [DEFAULT] contract version of the Acumatica reference.
pub fn default_acumatica_version() -> String {
    "24.200.001".to_owned()
}

/// IFS Cloud tenant settings (not secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfsCloudSettings {
    pub base_url: ErpUrl,
    /// Keycloak realm: the token URL is `<base_url>/auth/realms/<namespace>/protocol/openid-connect/token`.
    pub namespace: String,
    /// The IFS company every query and write is filtered by.
    pub company: String,
    /// Projection, entity-set and attribute names (ifs-cloud.md marks most
    /// finance names [DEFAULT]: each tenant's API Explorer is the truth).
    #[serde(default)]
    pub api: IfsApiNames,
}

/// Where the IFS adapter finds things. Every field defaults to the name in
/// the IFS reference; a tenant that differs overrides only what differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IfsApiNames {
    /// `main` (projections) or `int`.
    pub path_prefix: String,
    pub invoice_projection: String,
    pub invoice_set: String,
    /// Navigation from an invoice to its posting rows.
    pub invoice_postings: String,
    pub voucher_projection: String,
    pub voucher_set: String,
    /// Navigation from a voucher to its rows.
    pub voucher_rows: String,
    /// Voucher type of the vouchers the connector creates (e.g. `M`).
    pub voucher_type: String,
    /// User group the vouchers are created under.
    pub user_group: String,
    pub supplier_projection: String,
    pub supplier_set: String,
    /// Navigation from a supplier to its company-specific invoice data.
    pub supplier_invoice_companies: String,
    /// Navigation from a supplier to its addresses.
    pub supplier_addresses: String,
    pub account_projection: String,
    pub account_set: String,
    pub code_part_projection: String,
    pub code_part_value_set: String,
    /// The code part (`B`…`J`) a mapping dimension named `cost_center` posts on.
    pub cost_center_code_part: String,
    pub purchase_order_projection: String,
    pub purchase_order_set: String,
    /// Navigation from a purchase order to its lines.
    pub purchase_order_lines: String,
    /// The purchase order line attribute holding the GL account the line is
    /// coded to, which Concur takes as the line's `AccountCode`. [DEFAULT
    /// `CodeA`, the account code part as IFS code strings name it: the
    /// reference leaves the PO line's code-string attributes open.]
    pub purchase_order_line_account: String,
    /// Goods receipts of purchase order lines (`PURCHASE_RECEIPT_TAB`): the
    /// reference found no OData set for them [DEFAULT names].
    pub purchase_receipt_projection: String,
    pub purchase_receipt_set: String,
}

impl Default for IfsApiNames {
    fn default() -> Self {
        let s = |v: &str| v.to_owned();
        Self {
            path_prefix: s("main"),
            invoice_projection: s("ManualSupplierInvoiceHandling"),
            invoice_set: s("ManSuppInvoiceSet"),
            invoice_postings: s("ManSuppInvoicePostings"),
            voucher_projection: s("VoucherEntryHandling"),
            voucher_set: s("VoucherSet"),
            voucher_rows: s("VoucherRowArray"),
            voucher_type: s("M"),
            user_group: s("AC"),
            supplier_projection: s("SupplierHandling"),
            supplier_set: s("SupplierInfoGeneralSet"),
            supplier_invoice_companies: s("SupplierInvoiceCompanies"),
            supplier_addresses: s("SupplierInfoAddresses"),
            account_projection: s("AccountsHandling"),
            account_set: s("AccountSet"),
            code_part_projection: s("CodePartValuesHandling"),
            code_part_value_set: s("CodePartValueSet"),
            cost_center_code_part: s("B"),
            purchase_order_projection: s("PurchaseOrderHandling"),
            purchase_order_set: s("PurchaseOrderSet"),
            purchase_order_lines: s("PurchaseOrderLineArray"),
            purchase_order_line_account: s("CodeA"),
            purchase_receipt_projection: s("PurchaseReceiptHandling"),
            purchase_receipt_set: s("PurchaseReceiptSet"),
        }
    }
}

/// Infor CloudSuite settings (not secret). The ION API endpoints come from
/// the customer's `.ionapi` file, which is a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InforSettings {
    /// Our IMS connection point (`fromLogicalId`), e.g. `lid://infor.ims.concurconnector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_id: Option<String>,
    /// The accounting entity the BODs post into (`AccountingEntityID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounting_entity: Option<String>,
    /// The accounting entity's functional currency: every journal line also
    /// carries its amount in it (`FunctionalAmount`). Unset: journals are
    /// refused, since nothing sensible can be posted without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functional_currency: Option<String>,
    /// Rate per document currency: units of the functional currency for one
    /// unit of that currency (`GBP: "1.25"` with functional USD). A journal in
    /// a currency with no rate (other than the functional one) is refused.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub functional_rates: std::collections::BTreeMap<String, rust_decimal::Decimal>,
    /// How a debit adjustment (the supplier owes the company) is sent.
    #[serde(default)]
    pub debit_adjustment_form: DebitAdjustmentForm,
    /// Document names and limits (infor-ion.md marks most [DEFAULT]).
    #[serde(default)]
    pub api: InforApiNames,
    /// What a supplier created from Concur gets where Concur has nothing.
    #[serde(default, skip_serializing_if = "InforSupplierDefaults::is_default")]
    pub supplier: InforSupplierDefaults,
}

/// The values M3's `CRS620MI/AddSupplier` requires that a Concur vendor
/// does not carry (reference-data-from-erp.md §3.5). Every one is a
/// [DEFAULT] code: set the tenant's own where its M3 lacks these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InforSupplierDefaults {
    /// Supplier type (`SUTY`) [DEFAULT `0`, an ordinary supplier].
    pub supplier_type: String,
    /// Language (`LNCD`) [DEFAULT `GB`].
    pub language: String,
    /// Payment terms (`TEPY`) [DEFAULT `30`].
    pub payment_terms: String,
    /// Payment method (`PYME`) [DEFAULT `TRF`, bank transfer].
    pub payment_method: String,
    /// Country (`CSCD`) of a vendor Concur gives none [DEFAULT `US`].
    pub country: String,
    /// Currency (`CUCD`) of a vendor Concur gives none; unset: the
    /// connection's `functional_currency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl InforSupplierDefaults {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl Default for InforSupplierDefaults {
    fn default() -> Self {
        Self {
            supplier_type: "0".to_owned(),
            language: "GB".to_owned(),
            payment_terms: "30".to_owned(),
            payment_method: "TRF".to_owned(),
            country: "US".to_owned(),
            currency: None,
        }
    }
}

/// How a supplier invoice with a negative total is sent to Infor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DebitAdjustmentForm {
    /// [DEFAULT] A `Process.SupplierInvoice` whose amounts are negative: what
    /// the connector always sent, and the one form the reference's §5.2
    /// template can express without a new element.
    #[default]
    NegativeTotal,
    /// A `Process.SupplierInvoice` with positive amounts and
    /// `SupplierInvoiceHeader/TypeCode` `CreditNote` (OAGIS 9.2), for ledgers
    /// that refuse negative invoices.
    CreditNote,
}

impl std::str::FromStr for DebitAdjustmentForm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "negative_total" => Ok(DebitAdjustmentForm::NegativeTotal),
            "credit_note" => Ok(DebitAdjustmentForm::CreditNote),
            _ => Err(format!("unknown debit adjustment form `{s}` (expected negative_total or credit_note)")),
        }
    }
}

/// How the Infor adapter talks ION. Every field defaults to the reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InforApiNames {
    /// ION document name of AP invoices.
    pub supplier_invoice_document: String,
    /// ION document name of GL journals.
    pub journal_document: String,
    pub to_logical_id: String,
    /// Infor BOD library version (`versionID`).
    pub bod_version: String,
    /// `Never`, `OnError` or `Always`.
    pub confirmation_code: String,
    /// Largest BOD sent in one message; bigger documents are sent in chunks.
    pub max_message_bytes: usize,
    /// The GL account that carries the balance between chunks of a journal
    /// too large for one message (nets to zero once every chunk is posted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_clearing_account: Option<String>,
    /// Ledger id of journals (`LedgerID`).
    pub ledger_id: String,
    /// Accounting journal reference (`AccountingJournalReference/ID`).
    pub journal_reference: String,
    /// How long validated GL accounts and dimension values are trusted.
    pub master_data_ttl_seconds: u64,
    /// How long a document sent to ION may wait for the ERP's verdict
    /// before the same BODs are sent again (reference §7: "if none within
    /// the window, resend unchanged") [DEFAULT 1 hour].
    pub verdict_wait_seconds: u64,
    /// How many times the same BODs are sent again for want of a verdict;
    /// after that the document is stopped for an operator (check ION
    /// OneView, then replay) [DEFAULT 3].
    pub verdict_resends: u32,
    /// Whether the ERP replaces a document it holds when a higher
    /// variation of it arrives (reference §7). Then a replay sends every
    /// part again; otherwise [DEFAULT false] parts the ERP already accepted
    /// are never sent again, so a refusal of one part cannot double the
    /// others in a ledger that would post them anew.
    pub replaces_on_higher_variation: bool,
}

impl Default for InforApiNames {
    fn default() -> Self {
        Self {
            supplier_invoice_document: "Process.SupplierInvoice".to_owned(),
            journal_document: "Process.SourceSystemJournalEntry".to_owned(),
            to_logical_id: "lid://default".to_owned(),
            bod_version: "2.14.0".to_owned(),
            confirmation_code: "Always".to_owned(),
            max_message_bytes: 5 * 1024 * 1024,
            chunk_clearing_account: None,
            ledger_id: "A".to_owned(),
            journal_reference: "TE".to_owned(),
            master_data_ttl_seconds: 300,
            verdict_wait_seconds: 3600,
            verdict_resends: 3,
            replaces_on_higher_variation: false,
        }
    }
}

/// The ERP side of a connection.
// Read once per connection per invocation: boxing the larger variants would
// only add noise at every construction site.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErpSettings {
    Acumatica(AcumaticaSettings),
    IfsCloud(IfsCloudSettings),
    Infor(InforSettings),
}

impl ErpSettings {
    pub fn kind(&self) -> ErpKind {
        match self {
            ErpSettings::Acumatica(_) => ErpKind::Acumatica,
            ErpSettings::IfsCloud(_) => ErpKind::IfsCloud,
            ErpSettings::Infor(_) => ErpKind::Infor,
        }
    }

    /// The instance URL the credentials are sent to, where the settings hold it.
    pub fn base_url(&self) -> Option<&ErpUrl> {
        match self {
            ErpSettings::Acumatica(a) => Some(&a.base_url),
            ErpSettings::IfsCloud(i) => Some(&i.base_url),
            ErpSettings::Infor(_) => None,
        }
    }
}

/// What a Concur document becomes in the ERP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostingForm {
    /// An AP bill / supplier invoice on the employee's or supplier's vendor.
    ApBill,
    /// A balanced journal entry.
    Journal,
}

impl std::str::FromStr for PostingForm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "ap_bill" | "bill" => Ok(PostingForm::ApBill),
            "journal" => Ok(PostingForm::Journal),
            _ => Err(format!("unknown posting form `{s}` (expected ap_bill or journal)")),
        }
    }
}

/// The Concur → ERP flow options of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowOptions {
    /// Send a Financial Integration posting confirmation back to Concur once
    /// the ERP accepted (or permanently refused) a document. On for
    /// Acumatica and Infor; off for IFS Cloud, whose customers keep Concur
    /// documents read-only.
    pub confirm_postings: bool,
    pub expense_report_as: PostingForm,
    pub invoice_as: PostingForm,
    pub cash_advance_as: PostingForm,
}

impl FlowOptions {
    /// How this flow posts a document type.
    pub fn form_for(&self, doc_type: DocumentType) -> PostingForm {
        match doc_type {
            DocumentType::Expense => self.expense_report_as,
            DocumentType::Invoice => self.invoice_as,
            DocumentType::CashAdvance => self.cash_advance_as,
        }
    }

    pub fn default_for(kind: Option<ErpKind>) -> Self {
        Self {
            confirm_postings: kind != Some(ErpKind::IfsCloud),
            expense_report_as: PostingForm::ApBill,
            invoice_as: PostingForm::ApBill,
            cash_advance_as: PostingForm::Journal,
        }
    }
}

impl Default for FlowOptions {
    fn default() -> Self {
        Self::default_for(None)
    }
}

/// Where the next poll of a connection starts: which type first (the
/// order rotates, so a type with a large backlog never keeps the others
/// waiting) and, per type whose pass was cut off, the page to continue from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_type: Option<DocumentType>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub pages: std::collections::BTreeMap<DocumentType, u32>,
}

impl PollCursor {
    /// The enabled types in the order the next poll reads them.
    pub fn order(&self, enabled: &[DocumentType]) -> Vec<DocumentType> {
        let types: Vec<DocumentType> = DocumentType::ALL.into_iter().filter(|t| enabled.contains(t)).collect();
        let start = self.first_type.and_then(|first| types.iter().position(|t| *t == first)).unwrap_or(0);
        types.iter().cycle().skip(start).take(types.len()).copied().collect()
    }

    /// The type after `doc_type` among `enabled` (wrapping).
    pub fn next_after(doc_type: DocumentType, enabled: &[DocumentType]) -> Option<DocumentType> {
        let cursor = PollCursor { first_type: Some(doc_type), pages: Default::default() };
        cursor.order(enabled).get(1).copied().or(Some(doc_type))
    }
}

/// Why a connection's ERP side is not posting: its credentials were
/// refused, or its posts keep failing (an outage). While a hold holds, the
/// connection's documents wait in the ledger without calling the ERP; the
/// first document after the recheck time probes it, and the first posting
/// that works clears the hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErpHold {
    /// RFC 3339 UTC of the failure that set (or last renewed) the hold.
    pub since: String,
    pub reason: String,
    /// Holds stored before kinds existed were refusals.
    #[serde(default)]
    pub kind: ErpHoldKind,
    /// `Unavailable`: posts that failed through every retry since the
    /// last one that worked.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErpHoldKind {
    /// The ERP refused the connection's credentials (a dead grant):
    /// repeated refused logins can lock the service account.
    #[default]
    Refused,
    /// The ERP failed posts (5xx, timeouts, throttling) through every
    /// retry: until it answers again, trying each document is wasted time
    /// for us and load on an ERP that is down.
    Unavailable,
}

impl ErpHoldKind {
    /// The failure class an operator triages it under.
    pub fn failure_class(self) -> crate::FailureClass {
        match self {
            ErpHoldKind::Refused => crate::FailureClass::Auth,
            ErpHoldKind::Unavailable => crate::FailureClass::ErpUnavailable,
        }
    }
}

/// Failed posts in a row that put a connection's ERP on hold, unless the
/// poster is tuned otherwise [DEFAULT 3].
pub const ERP_OUTAGE_AFTER: u32 = 3;

/// How long each kind of hold keeps documents away from the ERP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErpHoldRules {
    pub refused_recheck: std::time::Duration,
    pub unavailable_recheck: std::time::Duration,
    /// Failed posts in a row that make an `Unavailable` hold hold: one
    /// document the ERP cannot take (or one unlucky retry) never stops
    /// the others.
    pub unavailable_after: u32,
}

impl ErpHold {
    /// The ERP refused the credentials at `now`.
    pub fn refused(reason: &str, now: time::OffsetDateTime) -> Self {
        Self {
            since: crate::clock::rfc3339(now),
            reason: crate::text::truncate(reason, 500).to_owned(),
            kind: ErpHoldKind::Refused,
            failures: 0,
        }
    }

    /// A post failed through every retry at `now`, after `previous` (the
    /// hold the connection had, if any): one more failure in a row.
    pub fn unavailable(previous: Option<&ErpHold>, reason: &str, now: time::OffsetDateTime) -> Self {
        let before = previous.filter(|h| h.kind == ErpHoldKind::Unavailable).map_or(0, |h| h.failures);
        Self {
            since: crate::clock::rfc3339(now),
            reason: crate::text::truncate(reason, 500).to_owned(),
            kind: ErpHoldKind::Unavailable,
            failures: before.saturating_add(1),
        }
    }

    /// Until when documents wait instead of calling the ERP; `None` when
    /// the hold does not hold (yet).
    pub fn holds_until(&self, rules: &ErpHoldRules) -> Option<time::OffsetDateTime> {
        let wait = match self.kind {
            ErpHoldKind::Refused => rules.refused_recheck,
            ErpHoldKind::Unavailable if self.failures >= rules.unavailable_after => rules.unavailable_recheck,
            ErpHoldKind::Unavailable => return None,
        };
        crate::clock::parse_rfc3339(&self.since).map(|since| since + wait)
    }

    /// Whether documents wait for it under the default count: a refusal at
    /// once, an outage after [`ERP_OUTAGE_AFTER`] failed posts. What people
    /// are told of (one failed post is no outage).
    pub fn holds_by_default(&self) -> bool {
        match self.kind {
            ErpHoldKind::Refused => true,
            ErpHoldKind::Unavailable => self.failures >= ERP_OUTAGE_AFTER,
        }
    }

    /// Whether this hold makes documents wait (as [`Self::holds_until`]).
    pub fn holds(&self, rules: &ErpHoldRules) -> bool {
        self.holds_until(rules).is_some()
    }
}

/// The stored connection (the `settings` item of the connections table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub connection_id: ConnectionId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_uuid: Option<CompanyUuid>,
    pub status: ConnectionStatus,
    /// Why the status is what it is, when it needs someone's attention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// `None` until an operator configures the ERP side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp: Option<ErpSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition: Option<Edition>,
    /// The profile's raw `marketingName`, kept when the edition is Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition_name: Option<String>,
    /// Base URL of the company's Concur datacenter, from the token response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geolocation: Option<String>,
    /// The Concur user who clicked Connect last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_by: Option<String>,
    /// RFC 3339 UTC of the last successful Quick Connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<String>,
    /// RFC 3339 UTC expiry of the Concur refresh token (not secret: only its date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concur_refresh_expires_at: Option<String>,
    #[serde(default)]
    pub schedule: PollSchedule,
    /// RFC 3339 UTC of the last poll that read every page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll_at: Option<String>,
    /// Why the last poll did not finish (RFC 3339 time first), until one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll_error: Option<String>,
    /// RFC 3339 UTC of the last reference sync the schedule queued
    /// (written by the poller only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_queued_at: Option<String>,
    /// Where the next poll starts (written by the poller only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_cursor: Option<PollCursor>,
    pub concurrency_level: ConcurrencyLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borrow_concurrency_from: Option<ConnectionId>,
    pub enabled_document_types: Vec<DocumentType>,
    #[serde(default)]
    pub flow: FlowOptions,
    /// The ERP refused the connection's credentials or keeps failing its
    /// posts: set by the poster, cleared by its next successful posting.
    /// Documents wait in the ledger meanwhile (see [`ErpHold`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp_hold: Option<ErpHold>,
    /// Which reference data the connection keeps in step with Concur.
    #[serde(default, skip_serializing_if = "crate::reference::ReferenceSettings::is_empty")]
    pub reference: crate::reference::ReferenceSettings,
    /// Where its documents come from: Financial Integration, extract or payment batch files, or `auto`.
    #[serde(default, skip_serializing_if = "crate::posting_source::PostingSource::is_default")]
    pub posting_source: crate::posting_source::PostingSource,
    /// Its OpenPGP keys by fingerprint (what is not secret about them: expiry, last use).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub pgp_keys: std::collections::BTreeMap<String, crate::posting_source::PgpKey>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

impl Connection {
    /// A connection with default settings: 15-minute polls, level 1, all
    /// document types, flow options for its ERP (or none yet).
    pub fn new(connection_id: ConnectionId, name: impl Into<String>, erp: Option<ErpSettings>, now: &str) -> Self {
        let flow = FlowOptions::default_for(erp.as_ref().map(ErpSettings::kind));
        Self {
            connection_id,
            name: name.into(),
            company_uuid: None,
            status: ConnectionStatus::Pending,
            status_reason: None,
            erp,
            edition: None,
            edition_name: None,
            geolocation: None,
            connected_by: None,
            connected_at: None,
            concur_refresh_expires_at: None,
            schedule: PollSchedule::default(),
            last_poll_at: None,
            last_sync_queued_at: None,
            last_poll_error: None,
            poll_cursor: None,
            concurrency_level: ConcurrencyLevel::lowest(),
            borrow_concurrency_from: None,
            enabled_document_types: DocumentType::ALL.to_vec(),
            flow,
            erp_hold: None,
            reference: crate::reference::ReferenceSettings::default(),
            posting_source: crate::posting_source::PostingSource::default(),
            pgp_keys: std::collections::BTreeMap::new(),
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
        }
    }

    /// Whether documents flow for this connection (on the Concur side).
    pub fn is_flowing(&self) -> bool {
        matches!(self.status, ConnectionStatus::Active | ConnectionStatus::ReconnectSoon)
    }

    /// Why the connection takes no documents now, of `document_type` (a
    /// webhook's) or of any type (a poll); `None` when it takes them. The
    /// document stays READY in Concur, so waiting loses nothing.
    pub fn not_taking_documents(&self, document_type: Option<DocumentType>) -> Option<&'static str> {
        match self.status {
            ConnectionStatus::Pending => Some("Concur is not connected yet"),
            ConnectionStatus::NeedsReauth => Some("the Concur connection needs a reconnect by an admin"),
            ConnectionStatus::Disabled => Some("disabled by an operator"),
            ConnectionStatus::Active | ConnectionStatus::ReconnectSoon => {
                if self.enabled_document_types.is_empty() {
                    Some("no document type is enabled")
                } else if self.geolocation.is_none() {
                    Some("Concur is not connected yet")
                } else if self.erp.is_none() {
                    Some("no ERP is configured yet (connections update)")
                } else if document_type.is_some_and(|t| !self.enabled_document_types.contains(&t)) {
                    Some("this document type is not enabled for the connection")
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold_rules() -> ErpHoldRules {
        ErpHoldRules {
            refused_recheck: std::time::Duration::from_secs(1800),
            unavailable_recheck: std::time::Duration::from_secs(120),
            unavailable_after: 3,
        }
    }

    #[test]
    fn an_outage_holds_only_after_failures_in_a_row_and_a_refusal_at_once() {
        let now = time::macros::datetime!(2026-12-06 10:00 UTC);
        let rules = hold_rules();
        let refused = ErpHold::refused("401 invalid_grant", now);
        assert_eq!(refused.holds_until(&rules), Some(now + std::time::Duration::from_secs(1800)));

        let first = ErpHold::unavailable(None, "503", now);
        let second = ErpHold::unavailable(Some(&first), "503", now);
        assert!(!first.holds(&rules) && !second.holds(&rules), "two failures are not an outage");
        let third = ErpHold::unavailable(Some(&second), "503 again", now);
        assert_eq!(third.failures, 3);
        assert_eq!(third.holds_until(&rules), Some(now + std::time::Duration::from_secs(120)));
        // A refusal's probe that meets an outage starts counting afresh.
        assert_eq!(ErpHold::unavailable(Some(&refused), "503", now).failures, 1);
    }

    #[test]
    fn a_hold_stored_before_kinds_is_a_refusal() {
        let stored: ErpHold =
            serde_json::from_str(r#"{"since":"2026-12-06T10:00:00Z","reason":"invalid_grant"}"#).unwrap();
        assert_eq!((stored.kind, stored.failures), (ErpHoldKind::Refused, 0));
        assert!(stored.holds(&hold_rules()));
    }

    #[test]
    fn the_poll_order_rotates_over_the_enabled_types() {
        use DocumentType::*;
        let all = DocumentType::ALL;
        assert_eq!(PollCursor::default().order(&all), [Expense, Invoice, CashAdvance]);
        let from_invoice = PollCursor { first_type: Some(Invoice), ..Default::default() };
        assert_eq!(from_invoice.order(&all), [Invoice, CashAdvance, Expense]);
        assert_eq!(from_invoice.order(&[Expense, CashAdvance]), [Expense, CashAdvance], "a disabled first type");
        assert_eq!(PollCursor::next_after(CashAdvance, &all), Some(Expense));
        assert_eq!(PollCursor::next_after(Expense, &[Expense]), Some(Expense));
    }

    #[test]
    fn edition_from_marketing_name() {
        assert_eq!(Edition::from_marketing_name(Some("CTE")), Edition::Professional);
        assert_eq!(Edition::from_marketing_name(Some("Enterprise")), Edition::Professional);
        assert_eq!(Edition::from_marketing_name(Some("Standard Edition")), Edition::Standard);
        assert_eq!(Edition::from_marketing_name(Some("Premium")), Edition::Unknown);
        assert_eq!(Edition::from_marketing_name(None), Edition::Unknown);
    }
}
