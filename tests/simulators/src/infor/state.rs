//! The simulated Infor OS: tenants with their authorized app and service
//! account, tokens, IMS connection points, and "the Infor instance" behind
//! ION (accounting entities, master data, processed documents, outcomes).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde::Serialize;

/// One refused or successful call to the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenCall {
    /// Tenant from the URL (`/{ti}/as/token.oauth2`).
    pub tenant: String,
    /// `grant_type` as sent (empty if absent).
    pub grant_type: String,
    /// HTTP status answered.
    pub status: u16,
    /// OAuth `error` code of a refusal.
    pub error: Option<String>,
}

/// Debit or credit side of a journal line (`DebitCreditFlag` `D` / `C`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DebitCredit {
    Debit,
    Credit,
}

/// `DimensionCode` of a line: `listID` (dimension name) and the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dimension {
    pub list_id: String,
    pub sequence: Option<u32>,
    pub value: String,
}

/// A `JournalEntryLine` of an accepted `SourceSystemJournalEntry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalLine {
    /// `sequence` attribute.
    pub sequence: Option<u32>,
    /// `Amount` (positive; the side is [`Self::debit_credit`]).
    pub amount: Decimal,
    /// `Amount@currencyID`.
    pub currency: String,
    /// `FunctionalAmount` (positive; same side), the accounting entity's currency.
    pub functional_amount: Decimal,
    /// `FunctionalAmount@currencyID`.
    pub functional_currency: String,
    /// `GLAccount/GLNominalAccount`.
    pub account: String,
    pub dimensions: Vec<Dimension>,
    pub debit_credit: DebitCredit,
    pub description: Option<String>,
    /// `TransactionReferenceText`.
    pub reference: Option<String>,
    /// `SourceAccountingDate/PostDateTime`.
    pub post_date: Option<String>,
}

/// A journal the Infor instance holds (accepted `Process.SourceSystemJournalEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Journal {
    /// `JournalEntryHeader/JournalID` (the sender's document id).
    pub document_id: String,
    /// `JournalID@variationID` of the version held.
    pub variation_id: u64,
    /// `DataArea/<Verb>/AccountingEntityID`.
    pub accounting_entity: String,
    /// Id the ERP assigned (`JE-000001`…), echoed in the Acknowledge's `DisplayID`.
    pub erp_id: String,
    /// `BODID` of the BOD that carried the version held.
    pub bod_id: String,
    /// IMS `messageId` of that BOD.
    pub message_id: String,
    /// `JournalEntryHeader/DisplayID` as sent.
    pub display_id: Option<String>,
    /// `BaseJournalEntryHeader/LedgerID`.
    pub ledger_id: Option<String>,
    pub lines: Vec<JournalLine>,
    /// How many times a higher variation replaced this document.
    pub replaced: u32,
}

/// One `Distribution` of a supplier-invoice line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distribution {
    /// `Distribution/TotalAmount` if sent.
    pub amount: Option<Decimal>,
    /// `GLAccount/GLNominalAccount`.
    pub account: String,
    pub dimensions: Vec<Dimension>,
}

/// A `SupplierInvoiceLine`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupplierInvoiceLine {
    pub line_number: u32,
    pub description: Option<String>,
    /// `ExtendedAmount`.
    pub extended_amount: Decimal,
    /// `ExtendedAmount@currencyID`.
    pub currency: String,
    pub distributions: Vec<Distribution>,
}

/// A supplier invoice the Infor instance holds (accepted `Process.SupplierInvoice`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupplierInvoice {
    /// `SupplierInvoiceHeader/DocumentID/ID`.
    pub document_id: String,
    /// `DocumentID/ID@variationID` of the version held.
    pub variation_id: u64,
    pub accounting_entity: String,
    /// Id the ERP assigned (`SI-000001`…).
    pub erp_id: String,
    pub bod_id: String,
    pub message_id: String,
    /// `SupplierParty/PartyIDs/ID`.
    pub supplier_id: String,
    /// `TotalAmount`.
    pub total_amount: Decimal,
    /// `SupplierInvoiceHeader/TypeCode`: `CreditNote` when the supplier owes.
    pub type_code: Option<String>,
    /// `TotalAmount@currencyID`.
    pub currency: String,
    pub description: Option<String>,
    /// `DocumentDateTime`.
    pub document_date: Option<String>,
    /// `AlternateDocumentID/ID` as `(schemeName, value)`.
    pub alternate_ids: Vec<(String, String)>,
    /// `PaymentTerm/PaymentTermCode`.
    pub payment_term: Option<String>,
    pub lines: Vec<SupplierInvoiceLine>,
    /// How many times a higher variation replaced this document.
    pub replaced: u32,
}

/// What became of a message IMS accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReceivedStatus {
    /// The ERP accepted the document (`replaced`: a higher variation replaced the one held).
    Accepted { erp_id: String, replaced: bool },
    /// The ERP identified the document but refused it (unbalanced, unknown account, …).
    Rejected { reason: String },
    /// Same-or-lower `variationID` than the version held: ignored.
    Duplicate { held_variation: u64 },
    /// Not processable at all (malformed XML, wrong envelope, no flow for the
    /// document): only a failure `ConfirmBOD` comes back.
    Failed { reason: String },
    /// Accepted by IMS (201) but lost before the ERP saw it: nothing comes back.
    Lost,
}

/// A message IMS accepted for routing (`received(ti)`), duplicates included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedMessage {
    /// `messageId` as sent, or the id IMS generated when none was sent.
    pub message_id: String,
    /// Which IMS method carried it: `v2/message`, `v2/multipartMessage`,
    /// `v3/multipartMessage`, `v3/message/multipart`.
    pub endpoint: String,
    pub document_name: String,
    pub from_logical_id: String,
    /// `toLogicalId` (`lid://default` when not sent).
    pub to_logical_id: String,
    /// `NONE` or `DEFLATE`.
    pub encoding: String,
    /// Every IMS parameter as sent (numbers as their decimal text).
    pub parameters: BTreeMap<String, String>,
    /// Payload bytes as sent (after base64, before inflating).
    pub payload_bytes: usize,
    /// The document after inflating (lossy UTF-8).
    pub xml: String,
    /// `ApplicationArea/BODID`, if the BOD got that far.
    pub bod_id: Option<String>,
    /// The noun's document id, if identified.
    pub document_id: Option<String>,
    pub variation_id: Option<u64>,
    pub accounting_entity: Option<String>,
    pub status: ReceivedStatus,
}

/// An outcome BOD the ERP sent back through ION (`Acknowledge.<Noun>` or `Confirm.BOD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboundMessage {
    /// IMS document name: `Acknowledge.SupplierInvoice`,
    /// `Acknowledge.SourceSystemJournalEntry` or `Confirm.BOD`.
    pub document_name: String,
    /// IMS `messageId` of this outcome.
    pub message_id: String,
    /// `BODID` of this outcome BOD.
    pub bod_id: String,
    /// `BODID` of the BOD it answers (None if that one had none).
    pub original_bod_id: Option<String>,
    /// IMS `messageId` of the message it answers.
    pub original_message_id: String,
    /// Sender logical id (the ERP's).
    pub from_logical_id: String,
    /// Logical id of the original sender.
    pub to_logical_id: String,
    pub xml: String,
}

/// State of one push of an outcome to the tenant's callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    /// A 2xx came back (its status).
    Delivered {
        status: u16,
    },
    /// Every attempt failed; the last status or transport error.
    Failed {
        last_error: String,
    },
}

/// One outcome pushed (or being pushed) to a callback URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackDelivery {
    /// `messageId` of the outcome ([`OutboundMessage::message_id`]).
    pub message_id: String,
    pub document_name: String,
    /// Full URL posted to (`{callback}/v3/multipartMessage`).
    pub url: String,
    pub attempts: u32,
    pub state: DeliveryState,
}

/// An accounting entity (M3 division / FSM company) of the Infor instance.
#[derive(Debug, Clone, Default)]
pub(crate) struct Entity {
    /// GL account → description.
    pub accounts: BTreeMap<String, String>,
    /// listID → values.
    pub dimensions: BTreeMap<String, BTreeSet<String>>,
    /// Supplier id → its M3 fields.
    pub suppliers: BTreeMap<String, Supplier>,
    /// Suppliers blocked for use (M3 status 90); the others are active (20).
    pub blocked_suppliers: BTreeSet<String>,
    /// Purchase orders by number (`PUNO`).
    pub purchase_orders: BTreeMap<String, M3PurchaseOrder>,
    /// Goods receipts of purchase order lines, in the order received.
    pub receipts: Vec<M3Receipt>,
}

/// A purchase order of M3 (`MPHEAD`) with its lines (`MPLINE`), as
/// [`super::InforSim::add_purchase_order`] seeds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct M3PurchaseOrder {
    /// `PUNO`.
    pub number: String,
    /// `SUNO`, a supplier of the accounting entity.
    pub supplier: String,
    /// `CUCD`.
    pub currency: String,
    /// `PUDT`.
    pub order_date: time::Date,
    /// The head's status while the order has no lines; with lines, M3
    /// shows the lowest and highest of theirs on the head (`PUSL`, `PUST`).
    pub status: u16,
    pub lines: Vec<M3PoLine>,
}

/// A purchase order line (`MPLINE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct M3PoLine {
    /// `PNLI`, `PNLS`.
    pub line: u32,
    pub subline: u32,
    /// `ITNO`.
    pub item: String,
    /// `PITD`.
    pub description: String,
    /// `ORQA`, in `PUUN`.
    pub quantity: Decimal,
    /// `PUUN`.
    pub unit: String,
    /// `PUPR`, of one `PUUN` in the order's currency.
    pub price: Decimal,
    /// `AIT1`, the GL account (blank when `None`).
    pub account: Option<String>,
    /// Two-digit line status: 05–15 preliminary, 20–80 released to put away, 85 closed.
    pub status: u16,
}

/// A goods receipt of a purchase order line (`MPTRNS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct M3Receipt {
    /// `PUNO`, `PNLI`, `PNLS`: the line received.
    pub order: String,
    pub line: u32,
    pub subline: u32,
    /// `REPN`.
    pub receiving_number: String,
    /// `TRDT`.
    pub date: time::Date,
    /// `RPQA`, in `PUUN`.
    pub quantity: Decimal,
    pub unit: String,
}

/// A supplier (M3 `CIDMAS`) as its M3 fields other than `SUNO` and `STAT`:
/// `SUNM`, `SUTY`, `CSCD`, `CUCD`, … as `CRS620MI` writes and reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Supplier {
    pub fields: BTreeMap<String, String>,
}

impl Supplier {
    /// A supplier known only by its name (seeded, or from `Sync.SupplierPartyMaster`).
    pub fn named(name: &str) -> Self {
        Self { fields: BTreeMap::from([("SUNM".to_owned(), name.to_owned())]) }
    }

    pub fn rename(&mut self, name: &str) {
        self.fields.insert("SUNM".to_owned(), name.to_owned());
    }
}

/// Key of a document held by the ERP: (noun, document id, accounting entity).
pub(crate) type DocKey = (String, String, String);

#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    pub ti: String,
    pub client_name: String,
    pub client_id: String,
    pub client_secret: String,
    pub saak: String,
    pub sask: String,
    pub ev: String,
    /// Connection point logical id → document names it may send.
    pub connection_points: BTreeMap<String, BTreeSet<String>>,
    /// Logical id the ERP sends its outcomes from.
    pub erp_logical_id: String,
    pub entities: BTreeMap<String, Entity>,
    /// Highest variation held per document, with the ERP id.
    pub held: HashMap<DocKey, (u64, String)>,
    pub journals: Vec<Journal>,
    pub supplier_invoices: Vec<SupplierInvoice>,
    pub received: Vec<ReceivedMessage>,
    pub outbox: Vec<OutboundMessage>,
    pub callback: Option<String>,
    /// Sent as `Authorization: Bearer …` with every push, when set.
    pub callback_token: Option<String>,
    pub deliveries: Vec<CallbackDelivery>,
    pub last_journal_number: u32,
    pub last_invoice_number: u32,
    /// Messages IMS still answers 201 for but loses before the ERP sees them.
    pub lose_next: u32,
    /// Statuses the gateway answers *after* IMS took (and the ERP
    /// processed) the next messages, first one first.
    pub fail_after_commit: Vec<u16>,
    /// DocumentID pattern → reason: the ERP refuses documents whose id contains it.
    pub refusals: BTreeMap<String, String>,
}

impl Tenant {
    pub fn entity_mut(&mut self, entity: &str) -> &mut Entity {
        self.entities.entry(entity.to_owned()).or_default()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub tenant: String,
    pub client_id: String,
    pub expires_at: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    pub tenant: String,
    pub client_id: String,
}

#[derive(Debug)]
pub(crate) struct State {
    pub tenants: BTreeMap<String, Tenant>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    pub token_lifetime: Duration,
    pub issue_refresh_tokens: bool,
    pub token_calls: Vec<TokenCall>,
    pub max_message_bytes: usize,
    pub rate_limit_per_minute: Option<u32>,
    /// Recent gateway calls per client id (sliding one-minute window).
    pub recent_calls: HashMap<String, VecDeque<Instant>>,
}

/// Default ION maximum message size (Essentials tier): 5 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 5 * 1024 * 1024;
/// Default API Gateway throttle per client id (reference §6).
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 120;
/// Default access-token lifetime (reference §2).
pub const DEFAULT_TOKEN_LIFETIME_SECONDS: u64 = 7200;

impl State {
    pub fn new() -> Self {
        Self {
            tenants: BTreeMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            token_lifetime: Duration::from_secs(DEFAULT_TOKEN_LIFETIME_SECONDS),
            issue_refresh_tokens: false,
            token_calls: Vec::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            rate_limit_per_minute: Some(DEFAULT_RATE_LIMIT_PER_MINUTE),
            recent_calls: HashMap::new(),
        }
    }

    /// The tenant, panicking on a name the test never registered (a setup error).
    pub fn tenant_mut(&mut self, ti: &str) -> &mut Tenant {
        self.tenants.get_mut(ti).unwrap_or_else(|| panic!("unknown Infor tenant {ti}: call add_tenant first"))
    }

    pub fn tenant(&self, ti: &str) -> &Tenant {
        self.tenants.get(ti).unwrap_or_else(|| panic!("unknown Infor tenant {ti}: call add_tenant first"))
    }
}
