//! Acumatica's contract-based REST API: OAuth sign-in, a cheap read, and
//! exactly-once creation of Bills and JournalTransactions ([`posting`]).
//!
//! Sign-in is the OAuth password grant at `{base_url}/identity/connect/token`
//! with `client_id` = `<guid>@<tenant>` and scope `api offline_access`
//! (reference §3a), not a cookie session: sessions hold a licensed API seat
//! until they time out. The access token is kept in memory until shortly
//! before it expires and then renewed with the refresh token (which
//! Acumatica rotates); a refused refresh falls back to the password grant.
//! A 401 on an API call drops the token, signs in again and retries once.

mod documents;
mod error;
mod posting;
mod purchasing;
mod reference;
mod vendor_write;

use std::future::Future;
use std::time::Duration;

use domain::{AcumaticaSettings, ErpDocument, Secret};
use serde::Deserialize;
use serde_json::Value;
use transport::{
    BearerAuth, Grant, HttpClient, Idempotency, Issued, RenewMargin, TokenRequestError, TokenSource, TransportError,
    short_reason,
};

pub use documents::{
    AcumaticaBill, AcumaticaJournal, BillLine, BillType, JOURNAL_KEY_PREFIX, JournalKeyField, JournalLine,
    VENDOR_REF_MAX,
};
pub use error::AcumaticaError;
pub use purchasing::ORDER_TYPES_READ;

const SERVICE: &str = "acumatica";
const TOKEN_PATH: &str = "/identity/connect/token";
const SCOPE: &str = "api offline_access";
/// Renew this long before the token expires (at most half its lifetime).
const RENEW_MARGIN: RenewMargin = RenewMargin::AtMostHalf(Duration::from_secs(60));
/// Used when a token answer omits `expires_in` (the reference's usual value).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The connection's ERP secret for Acumatica (keys listed in
/// [`crate::credentials::CredentialKeys`]).
#[derive(Debug, Clone, Deserialize)]
pub struct AcumaticaCredentials {
    /// The connected application's client id: its GUID, or the full
    /// `<guid>@<tenant>` as Acumatica displays it.
    pub client_id: String,
    pub client_secret: Secret,
    /// The integration user.
    pub username: String,
    pub password: Secret,
}

impl AcumaticaCredentials {
    /// The OAuth `client_id`: `<guid>@<tenant>`. One already carrying an
    /// `@tenant` suffix is sent as given (it is how SM303010 shows it).
    pub fn oauth_client_id(&self, tenant: &str) -> String {
        let id = self.client_id.trim();
        if id.contains('@') { id.to_owned() } else { format!("{id}@{tenant}") }
    }
}

/// How a connection wants documents posted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostingOptions {
    /// Release documents after creating them (`ReleaseBill`,
    /// `ReleaseJournalTransaction`); otherwise bills stay on hold for review.
    pub release: bool,
    /// Where journals carry the Concur key; used by
    /// [`crate::ErpAdapter::find_by_external_key`].
    pub journal_key_field: JournalKeyField,
}

/// One Acumatica tenant's API, signed in as the integration user.
pub struct AcumaticaClient {
    http: HttpClient,
    settings: AcumaticaSettings,
    credentials: AcumaticaCredentials,
    posting: PostingOptions,
    /// The access token, renewed with Acumatica's rotating refresh token.
    auth: BearerAuth,
}

impl AcumaticaClient {
    pub fn new(http: HttpClient, settings: AcumaticaSettings, credentials: AcumaticaCredentials) -> Self {
        Self { http, settings, credentials, posting: PostingOptions::default(), auth: BearerAuth::new(RENEW_MARGIN) }
    }

    /// The connection's posting choices (default: no release, key in `Description`).
    pub fn with_posting(mut self, posting: PostingOptions) -> Self {
        self.posting = posting;
        self
    }

    pub fn settings(&self) -> &AcumaticaSettings {
        &self.settings
    }

    fn base(&self) -> &str {
        self.settings.base_url.as_str().trim_end_matches('/')
    }

    /// `{base}/entity/{endpoint}/{version}/{entity}`.
    fn entity_url(&self, entity: &str) -> String {
        format!("{}/entity/{}/{}/{entity}", self.base(), self.settings.endpoint_name, self.settings.endpoint_version)
    }

    /// Signs in (or reuses the cached token): proves client and user credentials.
    pub async fn authenticate(&self) -> Result<(), AcumaticaError> {
        self.auth.token(self).await.map(drop)
    }

    /// `GET …/Vendor?$top=1&$select=VendorID`: proves URL, endpoint version
    /// and the user's read access with one small answer.
    pub async fn read_probe(&self) -> Result<(), AcumaticaError> {
        let url = format!("{}?$top=1&$select=VendorID", self.entity_url("Vendor"));
        let response = self.get_authorized(&url).await?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            let bytes = transport::read_body(SERVICE, response).await.map_err(|e| AcumaticaError::Malformed {
                what: "a Vendor read",
                detail: format!("the body could not be read: {e}"),
            })?;
            return match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Array(_)) => Ok(()),
                _ => Err(AcumaticaError::Malformed {
                    what: "a Vendor read",
                    detail: "expected a JSON array of vendors".into(),
                }),
            };
        }
        let body = transport::bounded_text(response).await;
        Err(match status {
            401 | 403 => self.access_refused(status, "vendors (screen AP303000)"),
            404 => self.endpoint_not_published().await,
            _ => AcumaticaError::Rejected { status, what: "a Vendor read", message: error_message(&body) },
        })
    }

    /// A 401 (the user's sign-in) or 403 (its rights to `screen`) on an API call.
    fn access_refused(&self, status: u16, screen: &'static str) -> AcumaticaError {
        let tenant = self.settings.tenant.clone();
        let username = self.credentials.username.clone();
        if status == 401 {
            AcumaticaError::Unauthorized { tenant, username }
        } else {
            AcumaticaError::Forbidden { tenant, username, what: screen }
        }
    }

    /// Sign-in plus one cheap authenticated read.
    pub async fn check_access(&self) -> Result<(), AcumaticaError> {
        self.authenticate().await?;
        self.read_probe().await
    }

    /// A GET with the bearer token (see [`Self::send_authorized`]).
    async fn get_authorized(&self, url: &str) -> Result<reqwest::Response, AcumaticaError> {
        self.send_authorized(Idempotency::Safe, |c, token| {
            c.get(url).bearer_auth(token).header(reqwest::header::ACCEPT, "application/json")
        })
        .await
    }

    /// A request with the bearer token `build` adds; a 401 drops the token
    /// and retries once with a new one (the token may have been revoked or
    /// expired early).
    async fn send_authorized(
        &self,
        idempotency: Idempotency,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, AcumaticaError> {
        self.auth
            .send(self, &self.http, idempotency, build)
            .await
            .map_err(|e| e.into_error(|e| self.transport_error(e)))
    }

    async fn token_call(&self, grant: Grant<'_>) -> Result<Issued, AcumaticaError> {
        let url = format!("{}{TOKEN_PATH}", self.base());
        let tenant = &self.settings.tenant;
        let client_id = self.credentials.oauth_client_id(tenant);
        let mut form: Vec<(&str, &str)> =
            vec![("client_id", client_id.as_str()), ("client_secret", self.credentials.client_secret.expose())];
        match grant {
            Grant::SignIn => form.extend([
                ("grant_type", "password"),
                ("username", self.credentials.username.as_str()),
                ("password", self.credentials.password.expose()),
                ("scope", SCOPE),
            ]),
            Grant::Refresh(refresh) => {
                form.extend([("grant_type", "refresh_token"), ("refresh_token", refresh.expose())]);
            }
        }
        let (status, code, body) =
            match transport::request_token(&self.http, SERVICE, &url, &form, DEFAULT_LIFETIME).await {
                Ok(issued) => return Ok(issued),
                Err(TokenRequestError::Transport(e)) => return Err(self.transport_error(e)),
                Err(TokenRequestError::Unusable(e)) => {
                    return Err(AcumaticaError::Malformed { what: "the sign-in", detail: e.to_string() });
                }
                Err(TokenRequestError::NoEndpoint { url }) => return Err(AcumaticaError::NoTokenEndpoint { url }),
                Err(TokenRequestError::Refused { status, refusal, body }) => (status, refusal.error, body),
            };
        tracing::warn!(service = SERVICE, status, error = %code, tenant = %tenant, "Acumatica refused a token grant");
        let tenant = tenant.clone();
        Err(match code.as_str() {
            "invalid_client" | "unauthorized_client" => AcumaticaError::InvalidClient { tenant },
            "invalid_grant" => AcumaticaError::InvalidUser { tenant, username: self.credentials.username.clone() },
            "invalid_scope" => AcumaticaError::InvalidScope { tenant, scope: SCOPE },
            "" => AcumaticaError::TokenRefused { tenant, status, error: format!("`{}`", error_message(&body)) },
            other => AcumaticaError::TokenRefused { tenant, status, error: format!("`{}`", short_reason(other)) },
        })
    }

    /// A 404 under `/entity/{endpoint}/{version}`: asks `GET {base}/entity`
    /// (no sign-in needed) which endpoints are published, for the message.
    async fn endpoint_not_published(&self) -> AcumaticaError {
        let url = format!("{}/entity", self.base());
        let published = match self.http.send(SERVICE, Idempotency::Safe, |c| c.get(&url)).await {
            Ok(r) if r.status().is_success() => match transport::read_json::<Value>(SERVICE, r).await {
                Ok(v) => {
                    let names: Vec<String> = v
                        .get("endpoints")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|e| Some(format!("{}/{}", e.get("name")?.as_str()?, e.get("version")?.as_str()?)))
                        .map(|s| short_reason(&s))
                        .collect();
                    if names.is_empty() { String::new() } else { format!("; published: {}", names.join(", ")) }
                }
                Err(_) => String::new(),
            },
            _ => String::new(),
        };
        AcumaticaError::EndpointNotPublished {
            endpoint: self.settings.endpoint_name.clone(),
            version: self.settings.endpoint_version.clone(),
            base_url: self.base().to_owned(),
            published,
        }
    }

    fn transport_error(&self, e: TransportError) -> AcumaticaError {
        let base_url = self.base().to_owned();
        match e {
            TransportError::Status { .. } => AcumaticaError::Unavailable { base_url, source: e },
            _ => AcumaticaError::Unreachable { base_url, source: e },
        }
    }
}

/// Acumatica's OAuth grants: password, and refresh with the token it rotates.
impl TokenSource for AcumaticaClient {
    type Error = AcumaticaError;
    const SERVICE: &'static str = SERVICE;

    fn issue(&self, grant: Grant<'_>) -> impl Future<Output = Result<Issued, AcumaticaError>> + Send {
        self.token_call(grant)
    }

    fn refused(&self, error: &AcumaticaError) -> bool {
        error.is_refusal()
    }
}

/// Acumatica's `exceptionMessage` (or `message`), else the body, bounded.
fn error_message(body: &str) -> String {
    let parsed = serde_json::from_str::<Value>(body).ok();
    let text = parsed
        .as_ref()
        .and_then(|v| v.get("exceptionMessage").or_else(|| v.get("message")))
        .and_then(Value::as_str)
        .unwrap_or(body);
    short_reason(text.trim())
}

/// The mapping's dimension names Acumatica lines use; other dimensions
/// (named for other ERPs) are not sent.
const SUBACCOUNT: &str = "subaccount";
const BRANCH: &str = "branch";

impl AcumaticaClient {
    fn bill_for(&self, document: &ErpDocument, vendor: &str, bill_type: BillType) -> AcumaticaBill {
        AcumaticaBill {
            bill_type,
            vendor: vendor.to_owned(),
            vendor_ref: document.key.clone(),
            date: document.date,
            description: document.description.clone(),
            currency: document.currency.clone(),
            branch: self.settings.branch.clone(),
            lines: document
                .lines
                .iter()
                .map(|l| BillLine {
                    account: l.account.clone(),
                    subaccount: l.dimensions.get(SUBACCOUNT).cloned(),
                    branch: l.dimensions.get(BRANCH).cloned(),
                    amount: l.amount,
                    description: l.description.clone(),
                })
                .collect(),
        }
    }

    fn journal_for(&self, document: &ErpDocument) -> AcumaticaJournal {
        AcumaticaJournal {
            date: document.date,
            description: document.description.clone(),
            currency: document.currency.clone(),
            branch: self.settings.branch.clone(),
            key_field: self.posting.journal_key_field.clone(),
            key: document.key.clone(),
            lines: document
                .lines
                .iter()
                .map(|l| {
                    let (debit, credit) = if l.amount.is_sign_negative() {
                        (rust_decimal::Decimal::ZERO, -l.amount)
                    } else {
                        (l.amount, rust_decimal::Decimal::ZERO)
                    };
                    JournalLine {
                        account: l.account.clone(),
                        subaccount: l.dimensions.get(SUBACCOUNT).cloned(),
                        branch: l.dimensions.get(BRANCH).cloned(),
                        debit,
                        credit,
                        description: l.description.clone(),
                        // The key is on the header; a line's RefNbr holds 15
                        // characters, too few for a cash advance id.
                        reference: None,
                    }
                })
                .collect(),
        }
    }
}

mod adapter;
pub(crate) use adapter::CHECKS;

#[cfg(test)]
mod tests;
