//! The simulator's in-memory Concur: companies, tokens, FI queues, subscriptions.
//!
//! Everything lives behind one mutex in [`super::ConcurSim`]; handlers lock it
//! briefly and never across an `.await`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::file_store::FileBook;
use super::list_store::ListBook;
use super::vendor_store::VendorBook;
use super::{CompanySpec, ConcurApp};

/// Access tokens (company and app) live one hour (auth.md §3.2).
pub(crate) const ACCESS_TOKEN_SECONDS: i64 = 3600;
/// A request token from App Center is valid 24 hours, reusable within them.
pub(crate) const REQUEST_TOKEN_SECONDS: i64 = 24 * 3600;
/// Refresh tokens: "a minimum of six months".
pub(crate) const REFRESH_TOKEN_SECONDS: i64 = 183 * 24 * 3600;

/// Seconds since the Unix epoch, now.
pub(crate) fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// Status of a Financial Integration document (swagger `docStatus` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DocStatus {
    /// Queued, waiting for an ERP to pick it up.
    Ready,
    /// Acknowledged by an ERP system.
    Acknowledged,
    /// The ERP confirmed a successful posting.
    PostingConfirmedSuccess,
    /// The ERP confirmed a failed posting.
    PostingConfirmedFailure,
    /// Paid (swagger enum only).
    Paid,
    /// Recalled by the processor.
    Recalled,
    /// Payment confirmed (CP / PP).
    PaymentConfirmedSuccess,
    /// Payment reversed (RE).
    PaymentConfirmedReversed,
    /// Payment obsolete (OB).
    PaymentConfirmedObsolete,
    /// Not ready: Concur is refreshing it (acknowledging answers 103).
    PendingSystemRefresh,
    /// Not ready: flagged as a duplicate (acknowledging answers 103).
    FlagDuplicate,
}

impl DocStatus {
    /// The wire name, e.g. `POSTING_CONFIRMED_SUCCESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocStatus::Ready => "READY",
            DocStatus::Acknowledged => "ACKNOWLEDGED",
            DocStatus::PostingConfirmedSuccess => "POSTING_CONFIRMED_SUCCESS",
            DocStatus::PostingConfirmedFailure => "POSTING_CONFIRMED_FAILURE",
            DocStatus::Paid => "PAID",
            DocStatus::Recalled => "RECALLED",
            DocStatus::PaymentConfirmedSuccess => "PAYMENT_CONFIRMED_SUCCESS",
            DocStatus::PaymentConfirmedReversed => "PAYMENT_CONFIRMED_REVERSED",
            DocStatus::PaymentConfirmedObsolete => "PAYMENT_CONFIRMED_OBSOLETE",
            DocStatus::PendingSystemRefresh => "PENDING_SYSTEM_REFRESH",
            DocStatus::FlagDuplicate => "FLAG_DUPLICATE",
        }
    }

    /// True once an ERP has acknowledged the document (acknowledging again → 101).
    pub(crate) fn is_acknowledged_or_later(self) -> bool {
        matches!(
            self,
            DocStatus::Acknowledged
                | DocStatus::PostingConfirmedSuccess
                | DocStatus::PostingConfirmedFailure
                | DocStatus::Paid
                | DocStatus::PaymentConfirmedSuccess
                | DocStatus::PaymentConfirmedReversed
                | DocStatus::PaymentConfirmedObsolete
        )
    }
}

/// The OAuth2 grant of a token call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grant {
    /// `grant_type=password` (company exchange of an App Center request token).
    Password,
    /// `grant_type=refresh_token`.
    RefreshToken,
    /// `grant_type=client_credentials` (application token for ESS).
    ClientCredentials,
}

impl Grant {
    /// The `grant_type` form value.
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::Password => "password",
            Grant::RefreshToken => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
        }
    }
}

/// One call to `POST /oauth2/v0/token`, as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCall {
    /// The `grant_type` sent (empty when none was readable).
    pub grant_type: String,
    /// Company the call was about (password: `username`; refresh: the token's owner), if known.
    pub company: Option<String>,
    /// Datacenter instance that received the call.
    pub datacenter: String,
    /// HTTP status answered.
    pub status: u16,
    /// OAuth error `code` answered, if the call failed.
    pub error_code: Option<u32>,
}

/// A posting confirmation item received on `.../postingconfirmations`.
#[derive(Debug, Clone, PartialEq)]
pub struct PostingConfirmationRecord {
    /// FI document id (`docId`).
    pub doc_id: String,
    /// docType of the URL the confirmation was posted to.
    pub doc_type: String,
    /// Request `systemId`.
    pub system_id: String,
    /// `success` or `error`.
    pub overall_posting_status_code: String,
    /// `postingDocs` as sent (ERP document numbers etc.).
    pub posting_docs: Value,
    /// `systemMessages` as sent.
    pub system_messages: Value,
    /// Service code answered for this item (0 = accepted).
    pub result_code: u32,
}

/// A payment confirmation item received on `.../paymentconfirmations`.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentConfirmationRecord {
    /// FI document id (`docId`).
    pub doc_id: String,
    /// Request `systemId`.
    pub system_id: String,
    /// `CP`, `PP`, `RE` or `OB`.
    pub processing_status_code: String,
    /// `additionalMessage`, if sent.
    pub additional_message: Option<String>,
    /// `clearingDetails` as sent.
    pub clearing_details: Value,
    /// Every `clearingReference.paymentRef` found in `clearingDetails`.
    pub payment_refs: Vec<String>,
    /// Service code answered for this item (0 = accepted, 298 = NOOP duplicate).
    pub result_code: u32,
}

/// An ESS webhook subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Globally unique subscription id.
    pub id: String,
    /// Topic, e.g. `public.concur.expense.report`.
    pub topic: String,
    /// Regular expression matched against `eventType`.
    pub filter: String,
    /// `webHookConfig.endpoint`.
    pub endpoint: String,
    /// Owner application UUID.
    pub application_id: String,
}

/// What a reference-data write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReferenceWriteKind {
    /// One record of `POST /api/v3.0/invoice/vendors`.
    VendorCreate,
    /// One record of `PUT /api/v3.0/invoice/vendors`.
    VendorUpdate,
    /// `DELETE /api/v3.0/invoice/vendors`.
    VendorDelete,
    /// `POST /list/v4/lists`.
    ListCreate,
    /// `POST /list/v4/items`.
    ListItemCreate,
    /// `PUT /list/v4/items/{id}`.
    ListItemUpdate,
    /// `DELETE /list/v4/items/{id}` or `DELETE /list/v4/lists/{listId}/items/{id}`.
    ListItemDelete,
    /// `POST /api/v3.0/invoice/purchaseorders`.
    PurchaseOrderCreate,
    /// `PUT /api/v3.0/invoice/purchaseorders`.
    PurchaseOrderUpdate,
    /// `POST` or `PUT /api/v3.0/invoice/purchaseorderreceipts`.
    PoReceiptWrite,
    /// `DELETE /api/v3.0/invoice/purchaseorderreceipts`.
    PoReceiptDelete,
}

/// One reference-data write as the simulator saw it (refused ones included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceWrite {
    /// Which call.
    pub kind: ReferenceWriteKind,
    /// Vendors: `VendorCode/AddressCode` as sent; lists: the name; item creates: the
    /// `shortCode`; item updates and deletes: the item id.
    pub key: String,
    /// False when the record or call was refused.
    pub succeeded: bool,
}

/// Who an access token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    Company(String),
    App,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub principal: Principal,
    /// Datacenter where the token is valid.
    pub datacenter: String,
    pub expires_at: i64,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    pub company: String,
    pub expires_at: i64,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct RequestToken {
    pub company: String,
    pub issued_at: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Company {
    pub spec: CompanySpec,
    /// Concur's numeric company id (`companyId` in FI documents; not the UUID).
    pub company_id: String,
}

/// One FI document in a company's queue.
#[derive(Debug, Clone)]
pub(crate) struct FiDoc {
    pub id: String,
    pub doc_type: String,
    pub company_id: Value,
    pub entity_id: Value,
    pub erp_system_id: Value,
    /// The financial document, kept as parsed so amounts round-trip untouched.
    pub document: Value,
    pub status: DocStatus,
    /// `systemId` of the acknowledgement, once acknowledged.
    pub ack_system_id: Option<String>,
    /// paymentRefs already confirmed (a repeat is a 298 NOOP).
    pub payment_refs: Vec<String>,
}

impl FiDoc {
    /// The business id a `docId` query may also use: reportId / requestId / cashAdvanceId.
    pub fn business_id(&self) -> Option<&str> {
        let pointer = match self.doc_type.as_str() {
            "expense" => "/report/reportId",
            "invoice" => "/requestHeader/requestId",
            "cashadvance" => "/cashAdvanceData/cashAdvanceId",
            _ => return None,
        };
        self.document.pointer(pointer).and_then(Value::as_str)
    }

    /// Documents not assigned to a system (`erpSystemId` null or "") are
    /// visible to every system; assigned ones only to theirs.
    pub fn visible_to_system(&self, system_id: &str) -> bool {
        match self.erp_system_id.as_str() {
            None | Some("") => true,
            Some(assigned) => assigned == system_id,
        }
    }

    /// The FIDocument as served, `document` as an object or a JSON-encoded string.
    pub fn to_json(&self, company_uuid: &str, document_as_text: bool) -> Value {
        let document = if document_as_text { Value::String(self.document.to_string()) } else { self.document.clone() };
        json!({
            "id": self.id,
            "docType": self.doc_type,
            "companyId": self.company_id,
            "entityId": self.entity_id,
            "companyUuid": company_uuid,
            "erpSystemId": self.erp_system_id,
            "document": document,
            "docStatus": self.status.as_str(),
            "links": [],
        })
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthError {
    Missing,
    Malformed,
    Unknown,
    Expired,
    /// Valid token, wrong datacenter; carries the base URL where it is valid.
    WrongDatacenter(String),
}

/// The authenticated caller of an API.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub principal: Principal,
    pub scopes: Vec<String>,
}

impl Caller {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

pub(crate) struct State {
    pub app: ConcurApp,
    pub datacenter_urls: BTreeMap<String, String>,
    pub companies: BTreeMap<String, Company>,
    pub request_tokens: HashMap<String, RequestToken>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    pub access_tokens: HashMap<String, AccessToken>,
    /// Companies whose next refresh grant rotates the refresh token.
    pub rotate_next_refresh: HashSet<String>,
    pub token_calls: Vec<TokenCall>,
    /// Companies that completed a password grant (ESS `companyIds`).
    pub connected: BTreeSet<String>,
    /// FI queues per company UUID, in arrival order.
    pub documents: BTreeMap<String, Vec<FiDoc>>,
    pub postings: BTreeMap<String, Vec<PostingConfirmationRecord>>,
    pub payments: BTreeMap<String, Vec<PaymentConfirmationRecord>>,
    pub subscriptions: BTreeMap<String, Subscription>,
    /// Invoice Vendor v3 records per company UUID.
    pub vendors: BTreeMap<String, VendorBook>,
    /// List v4 lists and items per company UUID.
    pub list_books: BTreeMap<String, ListBook>,
    /// Purchase Order v3 orders per company UUID, by number, as stored.
    pub purchase_orders: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// PO Receipt v3 receipts per company UUID, by (order, line ExternalID, receipt number).
    pub po_receipts: BTreeMap<String, BTreeMap<super::purchase_order::ReceiptKey, serde_json::Value>>,
    /// Per-company override of whether Vendor v3 is offered (see [`State::vendor_api_offered`]).
    pub vendor_api: BTreeMap<String, bool>,
    /// Reference-data writes per company UUID, oldest first.
    pub reference_writes: BTreeMap<String, Vec<ReferenceWrite>>,
    /// Extract v1 and Payment Batch v1 state per company UUID.
    pub files: BTreeMap<String, FileBook>,
}

impl State {
    pub fn new(app: ConcurApp) -> Self {
        Self {
            app,
            datacenter_urls: BTreeMap::new(),
            companies: BTreeMap::new(),
            request_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access_tokens: HashMap::new(),
            rotate_next_refresh: HashSet::new(),
            token_calls: Vec::new(),
            connected: BTreeSet::new(),
            documents: BTreeMap::new(),
            postings: BTreeMap::new(),
            payments: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            vendors: BTreeMap::new(),
            list_books: BTreeMap::new(),
            vendor_api: BTreeMap::new(),
            purchase_orders: BTreeMap::new(),
            po_receipts: BTreeMap::new(),
            reference_writes: BTreeMap::new(),
            files: BTreeMap::new(),
        }
    }

    /// Base URL of a datacenter: the registered one, else Concur's production host.
    pub fn geolocation(&self, datacenter: &str) -> String {
        self.datacenter_urls
            .get(datacenter)
            .cloned()
            .unwrap_or_else(|| format!("https://{datacenter}.api.concursolutions.com"))
    }

    /// Mints a JWT-shaped access token valid for one hour at `datacenter`.
    pub fn issue_access_token(&mut self, principal: Principal, datacenter: &str, scopes: Vec<String>) -> String {
        let issued = now();
        let (sub, kind) = match &principal {
            Principal::Company(uuid) => (uuid.clone(), "company"),
            Principal::App => (self.app.application_id.clone(), "app"),
        };
        let claims = json!({
            "iss": self.geolocation(datacenter),
            "sub": sub,
            "aud": "*",
            "concur.type": kind,
            "concur.version": 3,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ACCESS_TOKEN_SECONDS,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        let token = jwt(&claims);
        self.access_tokens.insert(
            token.clone(),
            AccessToken {
                principal,
                datacenter: datacenter.to_owned(),
                expires_at: issued + ACCESS_TOKEN_SECONDS,
                scopes,
            },
        );
        token
    }

    /// An OIDC `id_token` for a company (sub = company UUID).
    pub fn id_token(&self, company: &str, datacenter: &str) -> String {
        let issued = now();
        jwt(&json!({
            "iss": self.geolocation(datacenter),
            "sub": company,
            "aud": self.app.client_id,
            "concur.type": "company",
            "concur.version": 2,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ACCESS_TOKEN_SECONDS,
        }))
    }

    pub fn issue_refresh_token(&mut self, company: &str) -> (String, i64) {
        let token = uuid::Uuid::new_v4().to_string();
        let expires_at = now() + REFRESH_TOKEN_SECONDS;
        self.refresh_tokens
            .insert(token.clone(), RefreshToken { company: company.to_owned(), expires_at, revoked: false });
        (token, expires_at)
    }

    /// Checks `Authorization: Bearer …` for a call received at `datacenter`.
    pub fn authenticate(&self, datacenter: &str, headers: &HeaderMap) -> Result<Caller, AuthError> {
        let raw = headers.get(axum::http::header::AUTHORIZATION).ok_or(AuthError::Missing)?;
        let raw = raw.to_str().map_err(|_| AuthError::Malformed)?;
        let (scheme, token) = raw.trim().split_once(' ').ok_or(AuthError::Malformed)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(AuthError::Malformed);
        }
        let record = self.access_tokens.get(token).ok_or(AuthError::Unknown)?;
        if now() >= record.expires_at {
            return Err(AuthError::Expired);
        }
        if record.datacenter != datacenter {
            return Err(AuthError::WrongDatacenter(self.geolocation(&record.datacenter)));
        }
        Ok(Caller { principal: record.principal.clone(), scopes: record.scopes.clone() })
    }

    /// Topics the application may subscribe to, given its scopes (events.md §4).
    pub fn allowed_topics(&self) -> Vec<&'static str> {
        let has = |s: &str| self.app.scopes.iter().any(|x| x == s);
        if !has("events.topic.read") {
            return Vec::new();
        }
        let mut topics = Vec::new();
        if has("expense.report.read") || has("expense.report.readwrite") {
            topics.push("public.concur.expense.report");
        }
        if has("travel.request.write") {
            topics.push("public.concur.request");
        }
        if has("travel.itinerary.read") {
            topics.push("public.concur.travel.itinerary");
        }
        topics
    }

    pub fn find_doc_mut(&mut self, company: &str, id: &str) -> Option<&mut FiDoc> {
        self.documents.get_mut(company)?.iter_mut().find(|d| d.id == id)
    }

    /// Vendor v3 needs Concur Invoice and is not offered in the China datacenter (`cn`);
    /// [`super::ConcurSim::set_vendor_api_available`] overrides that per company.
    pub fn vendor_api_offered(&self, company: &str) -> bool {
        let in_china = self.companies.get(company).is_some_and(|c| c.spec.datacenter == "cn");
        self.vendor_api.get(company).copied().unwrap_or(!in_china)
    }

    /// Records one reference-data write (one vendor record, one list or list item call).
    pub fn log_write(&mut self, company: &str, kind: ReferenceWriteKind, key: &str, succeeded: bool) {
        let write = ReferenceWrite { kind, key: key.to_owned(), succeeded };
        self.reference_writes.entry(company.to_owned()).or_default().push(write);
    }

    /// The company's FI documents (read-only) and its file-API state, borrowed together.
    pub fn file_book(&mut self, company: &str) -> (&[FiDoc], &mut FileBook) {
        let documents = self.documents.get(company).map(Vec::as_slice).unwrap_or_default();
        (documents, self.files.entry(company.to_owned()).or_default())
    }

    /// Queues a document READY, replacing one with the same id (a resubmission).
    pub fn queue_doc(&mut self, company: &str, doc: FiDoc) {
        let queue = self.documents.entry(company.to_owned()).or_default();
        match queue.iter_mut().find(|d| d.id == doc.id) {
            Some(existing) => *existing = doc,
            None => queue.push(doc),
        }
    }
}

/// An unsigned-looking RS256 JWT: real header and claims, random signature.
/// Clients must treat Concur tokens as opaque; the shape only keeps logs realistic.
fn jwt(claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "concur-simulator"});
    let signature: [u8; 64] = rand::random();
    format!(
        "{}.{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes()),
        base64url(&signature)
    )
}

/// Base64url without padding (RFC 4648 §5), enough for token shapes.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk[0]);
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        for i in 0..=chunk.len() {
            let index = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }
}
