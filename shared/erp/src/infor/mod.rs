//! Infor CloudSuite through the ION API Gateway and the ION Messaging
//! Service (reference `infor-ion.md`): sign-in with the customer's `.ionapi`
//! file, BODs published into ION, master data read to validate first.
//!
//! * [`IonApi`]: the `.ionapi` file, checked by [`IonApi::validate`].
//! * Tokens: the OAuth password grant with the service-account keys
//!   (`username` = `saak` as in the file), cached and renewed **before** it
//!   has less than [`RENEW_BEFORE`] left, so no write meets an expired
//!   token; a 401 anyway drops it, signs in again and retries once. When the
//!   app issues refresh tokens, the next sign-in uses the refresh grant and
//!   every new refresh token goes to the caller's [`RefreshTokenSink`]; a
//!   refused refresh falls back to the password grant.
//! * [`bod`]: `Process.SupplierInvoice` / `Process.SourceSystemJournalEntry`.
//! * [`chunk`](chunk::chunk): documents above `max_message_bytes` go as
//!   several BODs that each balance.
//! * [`InforMasterData`]: accounts, dimension values and suppliers checked
//!   before anything is sent.
//! * Reference reads through the M3 API: suppliers, and purchase orders
//!   and their receipts ([`InforClient::purchase_orders`],
//!   [`InforClient::po_receipts`]) for Concur.
//! * Publishing: IMS `v3/multipartMessage` ([`InforClient::publish`]); a 2xx
//!   means ION accepted the message for routing, not that the ERP posted it:
//!   the outcome comes back asynchronously ([`parse_outcome`]).
//!
//! Exactly once: ION has no lookup by our key. The poster records what it
//! sent in the ledger and passes a [`Variation`] derived from it; a resend
//! after a crash is then the same BOD (same DocumentID, variationID, BODID
//! and messageId), which ION and the ERP drop as a repeat (reference §7).

pub mod bod;
pub mod chunk;
mod error;
pub mod functional;
mod ionapi;
mod master_data;
mod outcome;
mod po_read;
mod publish;
mod supplier_write;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use domain::{ErpDocument, Failure, InforSettings, Secret};
use serde_json::Value;
use transport::{
    BearerAuth, Grant, HttpClient, Idempotency, Issued, RenewMargin, TokenRequestError, TokenSource, TransportError,
    short_reason,
};

pub use bod::{
    Bod, BodSettings, DocumentIdParts, DocumentName, Variation, parse_bod_id, parse_document_id, parse_reference,
};
pub use chunk::{Chunk, MAX_LINES};
pub use error::InforError;
pub use ionapi::{IonApi, IonApiProblems};
pub use master_data::{DIMENSION_VALUES_PATH, GL_ACCOUNTS_PATH, InforMasterData, Listing, MasterList, SUPPLIERS_PATH};
pub use outcome::{InforOutcome, parse_outcome};
pub use po_read::{CLOSED_STATUS, LINE_ACCOUNT, PO_HEADS_PATH, PO_LINES_PATH, PO_RECEIPTS_PATH, RELEASED_STATUS};
pub use publish::{DEFLATE_ABOVE, PUBLISH_PATH, SentBod};
pub use supplier_write::{ADD_SUPPLIER_PATH, GET_SUPPLIER_PATH, UPDATE_SUPPLIER_PATH};

use crate::ErpReference;

const SERVICE: &str = "infor";
/// Renew the access token when less than this is left (reference §2 [DEFAULT]).
pub const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// Used when a token answer omits `expires_in` (the reference's usual value).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(7200);
/// The IMS service below the API base.
pub const IMS_SERVICE_PATH: &str = "IONSERVICES/api/ion/messaging/service";
/// `GET` it to prove the token and the IMS route.
pub const PING_PATH: &str = "IONSERVICES/api/ion/messaging/service/ping";

/// A boxed future, for the object-safe [`RefreshTokenSink`].
pub use crate::BoxFuture;

/// Where rotated refresh tokens go. Infor's refresh tokens are single-use:
/// each refresh grant returns a new one and spends the old, so the platform
/// persists every one it is handed (the next cold start passes the latest
/// to [`InforClient::with_refresh_tokens`]). A failure to persist is logged
/// and not fatal: the next start's refresh is then refused and the client
/// falls back to the password grant.
pub trait RefreshTokenSink: Send + Sync {
    fn rotated<'a>(&'a self, refresh_token: &'a Secret) -> BoxFuture<'a, Result<(), RefreshTokenNotSaved>>;
}

/// A rotated refresh token the [`RefreshTokenSink`] could not persist.
#[derive(Debug, thiserror::Error)]
#[error(
    "could not persist Infor's new refresh token ({source}); the next cold start's refresh will be refused and \
     fall back to the password grant"
)]
pub struct RefreshTokenNotSaved {
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl RefreshTokenNotSaved {
    pub fn new(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self { source: Box::new(source) }
    }
}

/// Keeps the refresh tokens in memory (tests, and a process that does not persist them).
#[derive(Debug, Default)]
pub struct InMemoryRefreshTokens {
    tokens: std::sync::Mutex<Vec<Secret>>,
}

impl InMemoryRefreshTokens {
    /// The newest refresh token handed over.
    pub fn latest(&self) -> Option<Secret> {
        self.lock().last().cloned()
    }

    /// How many were handed over.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Secret>> {
        self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl RefreshTokenSink for InMemoryRefreshTokens {
    fn rotated<'a>(&'a self, refresh_token: &'a Secret) -> BoxFuture<'a, Result<(), RefreshTokenNotSaved>> {
        self.lock().push(refresh_token.clone());
        Box::pin(async { Ok(()) })
    }
}

/// One Infor tenant (one connection): its `.ionapi` file and settings.
pub struct InforClient {
    http: HttpClient,
    settings: InforSettings,
    ionapi: IonApi,
    /// Why the `.ionapi` file cannot work, found once at construction.
    ionapi_problems: Option<IonApiProblems>,
    /// The access token; renewed with the rotating refresh token when the app issues them.
    auth: BearerAuth,
    refresh_sink: Option<Arc<dyn RefreshTokenSink>>,
    master: InforMasterData,
}

impl InforClient {
    pub fn new(http: HttpClient, settings: InforSettings, ionapi: IonApi) -> Self {
        let ionapi_problems = ionapi.validate().err();
        let ttl = Duration::from_secs(settings.api.master_data_ttl_seconds);
        Self {
            http,
            settings,
            ionapi,
            ionapi_problems,
            auth: BearerAuth::new(RenewMargin::Fixed(RENEW_BEFORE)),
            refresh_sink: None,
            master: InforMasterData::new(ttl),
        }
    }

    /// Uses the refresh grant when the app issues refresh tokens: `stored`
    /// is the last one persisted (if any), `sink` receives every new one.
    pub fn with_refresh_tokens(mut self, sink: Arc<dyn RefreshTokenSink>, stored: Option<Secret>) -> Self {
        self.refresh_sink = Some(sink);
        self.auth = BearerAuth::new(RenewMargin::Fixed(RENEW_BEFORE)).with_refresh_token(stored);
        self
    }

    pub fn settings(&self) -> &InforSettings {
        &self.settings
    }

    pub fn ionapi(&self) -> &IonApi {
        &self.ionapi
    }

    /// The connection's master-data cache.
    pub fn master_data(&self) -> &InforMasterData {
        &self.master
    }

    /// The settings every BOD needs, checked.
    pub fn bod_settings(&self) -> Result<BodSettings, InforError> {
        BodSettings::new(&self.ionapi.ti, &self.settings)
    }

    /// `iu/ti`, no trailing slash.
    fn api_base(&self) -> String {
        self.ionapi.api_base()
    }

    fn entity(&self) -> Result<String, InforError> {
        self.settings
            .accounting_entity
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .ok_or(InforError::Setting { setting: "accounting_entity", problem: "is not set (e.g. 1000)".into() })
    }

    /// How messages name this connection.
    fn connection(&self) -> String {
        match self.settings.accounting_entity.as_deref() {
            Some(entity) => format!("Infor tenant {} (accounting entity {entity})", self.ionapi.ti),
            None => format!("Infor tenant {}", self.ionapi.ti),
        }
    }

    fn posting_context(&self, document: &ErpDocument) -> String {
        format!("posting the {} for Concur key `{}` to {}", document.label(), document.key, self.connection())
    }

    /// Signs in (or reuses the cached token): proves the `.ionapi` file works.
    pub async fn authenticate(&self) -> Result<(), InforError> {
        self.auth.token(self).await.map(drop)
    }

    /// `GET …/messaging/service/ping`: proves the token reaches IMS.
    pub async fn ping(&self) -> Result<(), InforError> {
        let url = format!("{}/{PING_PATH}", self.api_base());
        let what = "the ION Messaging Service ping";
        let response = self.send_authorized(what, Idempotency::Safe, |c, token| c.get(&url).bearer_auth(token)).await?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(());
        }
        let body = transport::bounded_text(response).await;
        Err(match status {
            403 => InforError::Forbidden {
                what,
                message: error_message(&body),
                fix: "give the authorized app's service account access to ION (IONAPI and ION Messaging Service)",
            },
            404 => InforError::NotFound { what, url, fix: "check `iu` and `ti` in the .ionapi file" },
            _ => InforError::Rejected { status, what, message: error_message(&body) },
        })
    }

    /// Sign-in plus the ping (which signs in first).
    pub async fn check_access(&self) -> Result<(), InforError> {
        self.ping().await
    }

    /// A request with the bearer token `build` adds; a 401 drops the token
    /// and retries once with a new one (a 401 means nothing was processed).
    async fn send_authorized(
        &self,
        what: &'static str,
        idempotency: Idempotency,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, InforError> {
        let response = self
            .auth
            .send(self, &self.http, idempotency, build)
            .await
            .map_err(|e| e.into_error(|e| self.transport_error(e)))?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            // Refused again with a token just issued: the app's grant no longer works.
            return Err(InforError::Unauthorized { tenant: self.ionapi.ti.clone(), what });
        }
        Ok(response)
    }

    /// A `.ionapi` file that cannot work is reported before any request.
    async fn token_call(&self, grant: Grant<'_>) -> Result<Issued, InforError> {
        if let Some(problems) = &self.ionapi_problems {
            return Err(InforError::IonApiFile { problems: problems.to_string() });
        }
        let url = self.ionapi.token_url();
        let ionapi = &self.ionapi;
        let mut form: Vec<(&str, &str)> = vec![("client_id", ionapi.ci.trim()), ("client_secret", ionapi.cs.expose())];
        let grant_name = match grant {
            Grant::SignIn => {
                // `saak` already carries `<ti>#`; the form encoding sends `#` as `%23`.
                form.extend([
                    ("grant_type", "password"),
                    ("username", ionapi.saak.expose()),
                    ("password", ionapi.sask.expose()),
                ]);
                "password"
            }
            Grant::Refresh(refresh) => {
                form.extend([("grant_type", "refresh_token"), ("refresh_token", refresh.expose())]);
                "refresh_token"
            }
        };
        let refused = transport::request_token(&self.http, SERVICE, &url, &form, DEFAULT_LIFETIME).await;
        let (status, code, body) = match refused {
            Ok(issued) => return Ok(issued),
            Err(TokenRequestError::Transport(e)) => return Err(self.transport_error(e)),
            Err(TokenRequestError::Unusable(e)) => {
                return Err(InforError::Malformed { what: "the sign-in", detail: e.to_string() });
            }
            Err(TokenRequestError::NoEndpoint { url }) => return Err(InforError::NoTokenEndpoint { url }),
            Err(TokenRequestError::Refused { status, refusal, body }) => (status, refusal.error, body),
        };
        let tenant = ionapi.ti.clone();
        tracing::warn!(service = SERVICE, status, error = %code, grant = grant_name, tenant = %tenant, "Infor refused a token grant");
        Err(match code.as_str() {
            "invalid_client" | "unauthorized_client" => InforError::InvalidClient { tenant },
            "invalid_grant" if grant_name == "password" => InforError::InvalidGrant { tenant },
            "" => InforError::TokenRefused { tenant, status, error: format!("`{}`", error_message(&body)) },
            other => InforError::TokenRefused { tenant, status, error: format!("`{}`", short_reason(other)) },
        })
    }

    fn transport_error(&self, e: TransportError) -> InforError {
        let url = self.api_base();
        match e {
            TransportError::Status { .. } => InforError::Unavailable { url, source: e },
            _ => InforError::Unreachable { url, source: e },
        }
    }

    /// Validates, splits and publishes `document` with the caller's
    /// `variation` (see [`Variation`]); returns every BOD ION accepted, in
    /// order. The same document and variation always give the same BODs,
    /// so calling this again after any failure is safe: parts ION already
    /// has are dropped as repeats.
    pub async fn post_with_variation(
        &self,
        document: &ErpDocument,
        variation: Variation,
    ) -> Result<Vec<SentBod>, Failure> {
        self.post_parts(document, variation, &BTreeMap::new()).await
    }

    /// The DocumentIDs `document` is sent under, one per BOD, in order
    /// (nothing is sent): a poster compares them with the parts the ERP
    /// accepted earlier before it sends anything again.
    pub fn part_ids(&self, document: &ErpDocument) -> Result<Vec<String>, Failure> {
        let context = self.posting_context(document);
        let (_, chunks) = self.split(document).map_err(|e| e.to_failure(&context))?;
        Ok(chunks.into_iter().map(|c| c.document_id).collect())
    }

    fn split(&self, document: &ErpDocument) -> Result<(BodSettings, Vec<Chunk>), InforError> {
        let settings = self.bod_settings()?;
        let functional = functional::functional_amounts(document, &settings)?;
        let chunks = chunk::chunk(document, &functional, &settings, settings.max_message_bytes)?;
        Ok((settings, chunks))
    }

    /// [`Self::post_with_variation`], except that the parts named in `kept`
    /// (DocumentID → the reference under which the ERP accepted it earlier)
    /// are not sent: they come back with `kept` set and that reference.
    pub async fn post_parts(
        &self,
        document: &ErpDocument,
        variation: Variation,
        kept: &BTreeMap<String, String>,
    ) -> Result<Vec<SentBod>, Failure> {
        let context = self.posting_context(document);
        let (settings, chunks) = self.split(document).map_err(|e| e.to_failure(&context))?;
        let clearing = if chunks.len() > 1 && matches!(document.kind, domain::ErpDocumentKind::Journal) {
            settings.chunk_clearing_account.as_deref()
        } else {
            None
        };
        self.check_master_data(document, clearing).await.map_err(|e| e.to_failure(&context))?;
        let created = time::OffsetDateTime::now_utc();
        let mut sent: Vec<SentBod> = Vec::with_capacity(chunks.len());
        for chunk in &chunks {
            let bod = bod::render(&settings, chunk, variation, created);
            if let Some(reference) = kept.get(&chunk.document_id) {
                sent.push(SentBod::kept(&bod, reference));
                continue;
            }
            match self.publish(&settings, &bod).await {
                Ok(accepted) => sent.push(accepted),
                Err(e) => {
                    let mut context = context.clone();
                    if !sent.is_empty() {
                        context.push_str(&format!(
                            " (parts 1 to {} of {} were accepted by ION; sending the document again with the same \
                             variation repeats them unchanged and ION drops the repeats)",
                            sent.len(),
                            chunks.len()
                        ));
                    }
                    return Err(e.to_failure(&context));
                }
            }
        }
        tracing::info!(
            service = SERVICE,
            key = %document.key,
            variation = variation.0,
            parts = sent.len(),
            kept = sent.iter().filter(|s| s.kept).count(),
            duplicates = sent.iter().filter(|s| s.duplicate).count(),
            "published to ION"
        );
        Ok(sent)
    }
}

/// Infor's OAuth grants: the service account's password grant, and the
/// refresh grant with single-use refresh tokens, each one handed to the
/// [`RefreshTokenSink`].
impl TokenSource for InforClient {
    type Error = InforError;
    const SERVICE: &'static str = SERVICE;

    fn issue(&self, grant: Grant<'_>) -> impl Future<Output = Result<Issued, InforError>> + Send {
        self.token_call(grant)
    }

    fn refused(&self, error: &InforError) -> bool {
        error.is_refusal()
    }

    async fn rotated(&self, refresh_token: &Secret) {
        if let Some(sink) = &self.refresh_sink
            && let Err(e) = sink.rotated(refresh_token).await
        {
            tracing::warn!(service = SERVICE, error = %e, "Infor rotated its refresh token and the new one was not saved");
        }
    }
}

/// The [`ErpReference`] of the BODs sent for one document.
pub fn references(sent: &[SentBod]) -> ErpReference {
    ErpReference::new(sent.iter().map(|s| s.reference.as_str()).collect::<Vec<_>>().join(", "))
}

/// ION's `{"errors":[…]}` (or `error`/`message`), else the body, bounded.
fn error_message(body: &str) -> String {
    let parsed = serde_json::from_str::<Value>(body).ok();
    let text = match parsed.as_ref() {
        Some(v) => match v.get("errors").and_then(Value::as_array) {
            Some(errors) => errors.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "),
            None => v
                .get("error_description")
                .or_else(|| v.get("message"))
                .or_else(|| v.get("error"))
                .and_then(Value::as_str)
                .unwrap_or(body)
                .to_owned(),
        },
        None => body.to_owned(),
    };
    short_reason(text.trim())
}

mod adapter;
pub(crate) use adapter::CHECKS;

#[cfg(test)]
mod tests;
