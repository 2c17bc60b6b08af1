//! Typed calls to Concur over the retrying transport: the token grants
//! (Quick Connect exchange, refresh, application token), Company Profile,
//! the Event Subscription Service management API and authorized JSON reads.
//!
//! Base URLs (auth.md §6): only the Quick Connect exchange and the
//! application token go to the application's `app_base_url`; a refresh and
//! every company API call go to the geolocation the token service returned
//! for the company. A token call answered with code 16 ("user lives
//! elsewhere") is repeated once at the geolocation named in the error body.

use std::time::Duration;

use domain::{CompanyUuid, Edition, Failure, Secret};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use transport::{HttpClient, Idempotency, RetryPolicy, TransportError, short_reason};

use crate::app::AppCredentials;
use crate::token::{TokenError, TokenResponse};
use crate::tokens::AccessToken;

const TOKEN_PATH: &str = "/oauth2/v0/token";
const PROFILE_PATH: &str = "/profile/v1/me";
const TOPICS_PATH: &str = "/events/v4/topics";
const WEBHOOK_PATH: &str = "/events/v4/subscriptions/webhook";
const SUBSCRIPTIONS_PATH: &str = "/events/v4/subscriptions";

const SERVICE_TOKEN: &str = "concur-token";
const SERVICE_PROFILE: &str = "concur-profile";
const SERVICE_EVENTS: &str = "concur-events";
const SERVICE_API: &str = "concur-api";

/// Token calls run while the refresh lease is held (30 s by default): each
/// attempt is capped at 7 s and at most 3 attempts with ≤2 s pauses are
/// made, so a slow token endpoint ends the call (≈25 s worst case) before
/// the lease can expire under it.
const TOKEN_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(7);
const TOKEN_MAX_ATTEMPTS: u32 = 3;
const TOKEN_MAX_PAUSE: Duration = Duration::from_secs(2);

/// Concur's support header (auth.md §5): logged and quoted in errors.
const CORRELATION_HEADER: &str = "concur-correlationid";

/// Typed Concur calls. Clone freely (the HTTP pool is shared).
#[derive(Clone)]
pub struct ConcurClient {
    http: HttpClient,
    /// The same connection pool with the tighter token-call policy.
    token_http: HttpClient,
}

/// What `/profile/v1/me` says about the company (auth.md §11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyProfile {
    /// Company UUID.
    pub id: Option<String>,
    pub name: Option<String>,
    /// `com:concur:Expense:0.1`.`marketingName`: the edition indicator.
    pub marketing_name: Option<String>,
}

impl CompanyProfile {
    pub fn edition(&self) -> Edition {
        Edition::from_marketing_name(self.marketing_name.as_deref())
    }

    /// Reads the profile from parsed JSON. Parse the text into a
    /// `serde_json::Value` first: the documented sample repeats the key
    /// `com:concur:Expense:0.1`, which a derived struct refuses and a `Value`
    /// keeps the last occurrence of.
    pub fn from_json(value: &Value) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        Self {
            id: text(value.get("id")),
            name: text(value.get("name")),
            marketing_name: text(value.get("com:concur:Expense:0.1").and_then(|e| e.get("marketingName"))),
        }
    }
}

/// An ESS webhook subscription to create or update (events.md §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSubscription {
    /// Globally unique: lower-case letters, digits, `.` and `-`.
    pub id: String,
    pub topic: String,
    /// The HTTPS endpoint receiving the events.
    pub endpoint: String,
    /// Regular expression over `eventType` (`.*` = all).
    pub filter: String,
}

/// A failed Concur call. No variant's text ever contains a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConcurError {
    /// The token endpoint refused a grant (4xx JSON `TokenError`): invalid_grant etc.
    #[error("Concur's token endpoint refused the grant: {}", grant_text(.0))]
    Grant(TokenError),
    /// An API answered 401: the access token is no longer accepted.
    #[error("Concur refused the access token (HTTP 401)")]
    Unauthorized,
    /// Another 4xx from an API (status + bounded body text).
    #[error("Concur answered HTTP {status}: {message}")]
    Rejected { status: u16, message: String },
    #[error(transparent)]
    Transport(TransportError),
    /// A 2xx body we could not read (says what was expected).
    #[error("Concur's answer could not be read: {0}")]
    Malformed(String),
    /// No Concur grant is stored for this connection (never connected).
    #[error("connection {connection} has no stored Concur grant (Concur was never connected)")]
    NotConnected { connection: String },
    /// The refresh token is dead (invalid_grant on refresh): an admin must click Connect again.
    #[error("Concur refused the stored refresh token of connection {connection}: {reason}")]
    NeedsReconnect { connection: String, reason: String },
    /// Our own storage failed (secret/lease/connection table).
    #[error("Concur token storage: {0}")]
    Store(String),
}

fn grant_text(e: &TokenError) -> String {
    let mut text = e.error.clone();
    if let Some(code) = e.code {
        text.push_str(&format!(" (code {code})"));
    }
    if let Some(description) = e.error_description.as_deref().filter(|d| !d.is_empty()) {
        text.push_str(": ");
        text.push_str(&short_reason(description));
    }
    text
}

const RECONNECT_ADVICE: &str = "An admin with the Web Services Admin permission must click Connect on the connector's \
                                listing in the Concur App Center again; documents wait until then.";

impl ConcurError {
    /// The domain failure: a dead grant (or none) needs an admin's reconnect,
    /// transient problems are retried, everything else is permanent.
    pub fn to_failure(&self, context: &str) -> Failure {
        let reason = format!("{context}: {self}. {}", self.advice());
        match self {
            ConcurError::NeedsReconnect { .. } | ConcurError::NotConnected { .. } => Failure::needs_reauth(reason),
            ConcurError::Grant(e) if e.needs_reconnect() => Failure::needs_reauth(reason),
            ConcurError::Transport(e) => {
                let kind = e.to_failure(context).kind;
                Failure { kind, reason }
            }
            // A 401 here already survived one refresh-and-retry; the next
            // attempt starts with a new token, and a dead grant then shows as
            // invalid_grant (NeedsReauth) rather than as this.
            ConcurError::Unauthorized | ConcurError::Store(_) => Failure::retryable(reason, None),
            ConcurError::Grant(_) | ConcurError::Rejected { .. } | ConcurError::Malformed(_) => {
                Failure::permanent(reason)
            }
        }
    }

    /// A sentence for an admin/operator: what to do about it.
    pub fn advice(&self) -> &'static str {
        match self {
            ConcurError::NeedsReconnect { .. } => RECONNECT_ADVICE,
            ConcurError::NotConnected { .. } => {
                "An admin with the Web Services Admin permission must click Connect on the connector's listing in \
                 the Concur App Center to connect this company."
            }
            ConcurError::Grant(e) if e.needs_reconnect() => RECONNECT_ADVICE,
            ConcurError::Grant(e) if e.error == "invalid_client" => {
                "Check client_id and client_secret in the Concur application secret against the values SAP Concur \
                 issued for the app."
            }
            ConcurError::Grant(e) if e.error == "invalid_scope" => {
                "The Concur application lacks a scope it asked for: ask SAP Concur partner enablement to grant it."
            }
            ConcurError::Grant(_) => {
                "Check the Concur application secret (client_id, client_secret, app_base_url); if it is right, \
                 report the error code to SAP Concur."
            }
            ConcurError::Unauthorized => {
                "Retried automatically with a new access token; if it persists, an admin should click Connect in \
                 the Concur App Center again."
            }
            ConcurError::Rejected { status: 403, .. } => {
                "The Concur application or company lacks permission for this API (a missing scope, or the product \
                 is not enabled): ask SAP Concur to grant it."
            }
            ConcurError::Rejected { .. } => {
                "Concur refused the request as sent: check the data named in the message; quote the \
                 concur-correlationid when contacting SAP Concur."
            }
            ConcurError::Transport(_) => {
                "Concur is unavailable or throttling: the work is retried automatically later; nothing to do \
                 unless it persists for hours."
            }
            ConcurError::Malformed(_) => {
                "Concur answered in a shape the connector does not understand: report it with the \
                 concur-correlationid from the log."
            }
            ConcurError::Store(_) => {
                "Retried automatically; if it persists, check the connector's Secrets Manager and DynamoDB access \
                 (permissions, throttling) in the AWS account."
            }
        }
    }
}

impl ConcurClient {
    pub fn new(http: HttpClient) -> Self {
        let policy = http.policy();
        let token_policy = RetryPolicy {
            max_attempts: policy.max_attempts.clamp(1, TOKEN_MAX_ATTEMPTS),
            base_delay: policy.base_delay.min(TOKEN_MAX_PAUSE),
            max_delay: policy.max_delay.min(TOKEN_MAX_PAUSE),
            request_timeout: policy.request_timeout.min(TOKEN_ATTEMPT_TIMEOUT),
        };
        let token_http = http.with_retry(token_policy);
        Self { http, token_http }
    }

    /// The API transport (with its retry policy), for the calls of other modules.
    pub(crate) fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Quick Connect: password grant, `credtype=authtoken`, username = company
    /// UUID, password = request token, at `app.app_base_url` (auth.md §3).
    pub async fn exchange_request_token(
        &self,
        app: &AppCredentials,
        company: &CompanyUuid,
        request_token: &Secret,
    ) -> Result<TokenResponse, ConcurError> {
        let form = [
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.expose()),
            ("grant_type", "password"),
            ("username", company.as_str()),
            ("password", request_token.expose()),
            ("credtype", "authtoken"),
        ];
        self.token_call(&app.app_base_url, &form).await
    }

    /// Refresh grant at the token's geolocation (auth.md §4), not the app's base URL.
    pub async fn refresh(
        &self,
        app: &AppCredentials,
        geolocation: &str,
        refresh_token: &Secret,
    ) -> Result<TokenResponse, ConcurError> {
        let form = [
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.expose()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        self.token_call(geolocation, &form).await
    }

    /// Client-credentials grant at `app.app_base_url`: the application token for ESS (events.md §2).
    pub async fn app_token(&self, app: &AppCredentials) -> Result<TokenResponse, ConcurError> {
        let form = [
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.expose()),
            ("grant_type", "client_credentials"),
        ];
        self.token_call(&app.app_base_url, &form).await
    }

    /// `GET {token.geolocation}/profile/v1/me`.
    pub async fn company_profile(&self, token: &AccessToken) -> Result<CompanyProfile, ConcurError> {
        let url = format!("{}{PROFILE_PATH}", trim_base(&token.geolocation));
        let response = self
            .http
            .send(SERVICE_PROFILE, Idempotency::Safe, |c| c.get(&url).bearer_auth(token.value.expose()))
            .await
            .map_err(ConcurError::Transport)?;
        let value: Value = read_json(SERVICE_PROFILE, response, "the company profile").await?;
        if !value.is_object() {
            return Err(ConcurError::Malformed("the company profile is not a JSON object".into()));
        }
        Ok(CompanyProfile::from_json(&value))
    }

    /// `GET {app_base_url}/events/v4/topics` with the application token.
    pub async fn event_topics(&self, app: &AppCredentials, app_token: &Secret) -> Result<Vec<String>, ConcurError> {
        self.app_get(app, app_token, TOPICS_PATH, "the list of event topics (a JSON array of strings)").await
    }

    /// `GET {app_base_url}/events/v4/subscriptions`: the application's subscriptions.
    pub(crate) async fn webhook_subscriptions<T: DeserializeOwned>(
        &self,
        app: &AppCredentials,
        app_token: &Secret,
    ) -> Result<T, ConcurError> {
        self.app_get(app, app_token, SUBSCRIPTIONS_PATH, "the list of webhook subscriptions (a JSON array)").await
    }

    /// An ESS management GET at `{app_base_url}{path}` with the application token, read as JSON.
    async fn app_get<T: DeserializeOwned>(
        &self,
        app: &AppCredentials,
        app_token: &Secret,
        path: &str,
        expected: &str,
    ) -> Result<T, ConcurError> {
        let url = format!("{}{path}", trim_base(&app.app_base_url));
        let response = self
            .http
            .send(SERVICE_EVENTS, Idempotency::Safe, |c| c.get(&url).bearer_auth(app_token.expose()))
            .await
            .map_err(ConcurError::Transport)?;
        read_json(SERVICE_EVENTS, response, expected).await
    }

    /// `PUT {app_base_url}/events/v4/subscriptions/webhook`: create or update (idempotent).
    pub async fn put_webhook_subscription(
        &self,
        app: &AppCredentials,
        app_token: &Secret,
        subscription: &WebhookSubscription,
    ) -> Result<(), ConcurError> {
        let url = format!("{}{WEBHOOK_PATH}", trim_base(&app.app_base_url));
        let body = json!({
            "id": subscription.id,
            "filter": subscription.filter,
            "topic": subscription.topic,
            "webHookConfig": {"endpoint": subscription.endpoint},
        });
        let response = self
            .http
            .send(SERVICE_EVENTS, Idempotency::Safe, |c| c.put(&url).bearer_auth(app_token.expose()).json(&body))
            .await
            .map_err(ConcurError::Transport)?;
        accept(SERVICE_EVENTS, response).await.map(drop)
    }

    /// Authorized GET of JSON at `{token.geolocation}{path_and_query}`. An
    /// absolute URL (a paging link) is accepted only on the token's own
    /// datacenter: the bearer token never goes to another host.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        token: &AccessToken,
        path_and_query: &str,
    ) -> Result<T, ConcurError> {
        let body = self.get_body(token, path_and_query).await?;
        parse_json(SERVICE_API, &body, "the JSON the API documents")
    }

    /// [`Self::get_json`]'s body, unread: for a caller that reads it its own
    /// way (an FI page, read in one pass into typed documents).
    pub(crate) async fn get_body(&self, token: &AccessToken, path_and_query: &str) -> Result<Vec<u8>, ConcurError> {
        let url = resolve(&token.geolocation, path_and_query)?;
        let response = self
            .http
            .send(SERVICE_API, Idempotency::Safe, |c| c.get(&url).bearer_auth(token.value.expose()))
            .await
            .map_err(ConcurError::Transport)?;
        let response = accept(SERVICE_API, response).await?;
        transport::read_body(SERVICE_API, response)
            .await
            .map_err(|e| ConcurError::Malformed(format!("{SERVICE_API}: the body could not be read: {e}")))
    }

    /// Authorized POST of a JSON body to `{token.geolocation}{path}`, reading
    /// a JSON answer. Only for calls that are idempotent on Concur's side
    /// (the caller says why): the transport retries it on 429/5xx.
    pub(crate) async fn post_json<T: DeserializeOwned, B: serde::Serialize + ?Sized>(
        &self,
        token: &AccessToken,
        path: &str,
        body: &B,
    ) -> Result<T, ConcurError> {
        self.write_json(reqwest::Method::POST, token, path, Some(body)).await
    }

    /// Authorized `method` call (with a JSON body, if any) to
    /// `{token.geolocation}{path_and_query}`, reading a JSON answer. Only
    /// for calls that are idempotent on Concur's side (the caller says
    /// why): the transport retries them on 429/5xx.
    pub(crate) async fn write_json<T: DeserializeOwned, B: serde::Serialize + ?Sized>(
        &self,
        method: reqwest::Method,
        token: &AccessToken,
        path_and_query: &str,
        body: Option<&B>,
    ) -> Result<T, ConcurError> {
        let response = self.send_write(method, token, path_and_query, body).await?;
        read_json(SERVICE_API, response, "the JSON the API documents").await
    }

    /// As [`Self::write_json`], for an answer without a body (204).
    pub(crate) async fn write_no_content<B: serde::Serialize + ?Sized>(
        &self,
        method: reqwest::Method,
        token: &AccessToken,
        path_and_query: &str,
        body: Option<&B>,
    ) -> Result<(), ConcurError> {
        let response = self.send_write(method, token, path_and_query, body).await?;
        accept(SERVICE_API, response).await.map(drop)
    }

    async fn send_write<B: serde::Serialize + ?Sized>(
        &self,
        method: reqwest::Method,
        token: &AccessToken,
        path_and_query: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, ConcurError> {
        let url = resolve(&token.geolocation, path_and_query)?;
        self.http
            .send(SERVICE_API, Idempotency::Safe, |c| {
                let request = c.request(method.clone(), &url).bearer_auth(token.value.expose());
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await
            .map_err(ConcurError::Transport)
    }

    /// POSTs a grant form to `{base}/oauth2/v0/token`; follows one code-16
    /// "user lives elsewhere" answer to the geolocation it names.
    async fn token_call(&self, base: &str, form: &[(&str, &str)]) -> Result<TokenResponse, ConcurError> {
        let mut base = trim_base(base).to_owned();
        let mut followed = false;
        loop {
            let url = format!("{base}{TOKEN_PATH}");
            // `.form` sends `application/x-www-form-urlencoded` with no charset
            // parameter, which Concur requires (auth.md §3).
            let response = self
                .token_http
                .send(SERVICE_TOKEN, Idempotency::Safe, |c| c.post(&url).timeout(TOKEN_ATTEMPT_TIMEOUT).form(form))
                .await
                .map_err(ConcurError::Transport)?;
            let status = response.status().as_u16();
            let correlation = correlation_id(&response);
            if response.status().is_success() {
                let bytes = transport::read_body(SERVICE_TOKEN, response)
                    .await
                    .map_err(|e| ConcurError::Malformed(format!("the token answer could not be read: {e}")))?;
                // The body holds tokens: describe a problem by position, never by content.
                let token: TokenResponse = serde_json::from_slice(&bytes).map_err(|e| {
                    ConcurError::Malformed(format!(
                        "the token endpoint's answer is not a token response ({})",
                        json_problem(&e)
                    ))
                })?;
                if !usable_base_url(&token.geolocation) {
                    return Err(ConcurError::Malformed(format!(
                        "the token answer's geolocation `{}` is not an https base URL",
                        short_reason(&token.geolocation)
                    )));
                }
                tracing::debug!(service = SERVICE_TOKEN, status, correlation_id = %correlation, "token issued");
                return Ok(token);
            }
            let body = transport::bounded_text(response).await;
            let refusal = match serde_json::from_str::<TokenError>(&body) {
                Ok(refusal) => refusal,
                Err(_) => {
                    return Err(ConcurError::Rejected { status, message: with_correlation(&body, &correlation) });
                }
            };
            if refusal.code == Some(16)
                && !followed
                && let Some(elsewhere) = refusal.geolocation.as_deref().filter(|g| usable_base_url(g))
                && !same_base_url(elsewhere, &base)
            {
                tracing::info!(from = %base, to = %elsewhere, correlation_id = %correlation,
                            "Concur token service: the principal lives elsewhere; repeating the call there");
                base = trim_base(elsewhere).to_owned();
                followed = true;
                continue;
            }
            tracing::warn!(service = SERVICE_TOKEN, status, error = %refusal.error, code = ?refusal.code,
                correlation_id = %correlation, "Concur refused a token grant");
            return Err(ConcurError::Grant(refusal));
        }
    }
}

/// Returns a 2xx response; 401 → Unauthorized; other statuses → Rejected.
async fn accept(service: &'static str, response: reqwest::Response) -> Result<reqwest::Response, ConcurError> {
    let status = response.status().as_u16();
    let correlation = correlation_id(&response);
    if response.status().is_success() {
        tracing::debug!(service, status, correlation_id = %correlation, "Concur answered");
        return Ok(response);
    }
    tracing::warn!(service, status, correlation_id = %correlation, "Concur refused a call");
    if status == 401 {
        return Err(ConcurError::Unauthorized);
    }
    let body = transport::bounded_text(response).await;
    Err(ConcurError::Rejected { status, message: with_correlation(&body, &correlation) })
}

async fn read_json<T: DeserializeOwned>(
    service: &'static str,
    response: reqwest::Response,
    expected: &str,
) -> Result<T, ConcurError> {
    let response = accept(service, response).await?;
    let bytes = transport::read_body(service, response)
        .await
        .map_err(|e| ConcurError::Malformed(format!("{service}: the body could not be read: {e}")))?;
    parse_json(service, &bytes, expected)
}

fn parse_json<T: DeserializeOwned>(service: &'static str, body: &[u8], expected: &str) -> Result<T, ConcurError> {
    serde_json::from_slice(body).map_err(|e| {
        ConcurError::Malformed(format!("{service}: expected {expected}: {}", short_reason(&e.to_string())))
    })
}

fn correlation_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|c| transport::sanitized(c, 80))
        .unwrap_or_else(|| "-".to_owned())
}

fn with_correlation(body: &str, correlation: &str) -> String {
    format!("{} (concur-correlationid {correlation})", short_reason(body.trim()))
}

/// A JSON problem without the offending value (token bodies hold secrets).
fn json_problem(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let message = e.to_string();
    match e.classify() {
        Category::Data if message.starts_with("missing field") => {
            message.split(" at line").next().unwrap_or("a field is missing").to_owned()
        }
        Category::Data => format!("a value has the wrong type at line {} column {}", e.line(), e.column()),
        Category::Syntax => format!("not JSON at line {} column {}", e.line(), e.column()),
        Category::Eof => "the JSON is truncated".to_owned(),
        Category::Io => "the body is unreadable".to_owned(),
    }
}

fn trim_base(base: &str) -> &str {
    base.trim().trim_end_matches('/')
}

/// A base URL we may send credentials to: https, or plain http to the
/// loopback interface (local simulators).
pub(crate) fn usable_base_url(base: &str) -> bool {
    let Ok(url) = url::Url::parse(trim_base(base)) else {
        return false;
    };
    match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        },
        _ => false,
    }
}

/// Which verb a reference-data record goes with first. Vendor v3, PO v3
/// and PO Receipt v3 have no upsert: POST refuses a record Concur holds,
/// PUT one it lacks, so a refused write is tried with the [`Self::other`]
/// verb once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteVerb {
    Create,
    Update,
}

impl WriteVerb {
    pub(crate) fn method(self) -> reqwest::Method {
        match self {
            Self::Create => reqwest::Method::POST,
            Self::Update => reqwest::Method::PUT,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Create => Self::Update,
            Self::Update => Self::Create,
        }
    }
}

/// Whether two base URLs name the same place. Hosts compare
/// case-insensitively (Concur returns `https://us.api.Concursolutions.com`);
/// a trailing slash does not matter.
pub fn same_base_url(a: &str, b: &str) -> bool {
    match (url::Url::parse(trim_base(a)), url::Url::parse(trim_base(b))) {
        // `url` lower-cases domain hosts; compare origin and path.
        (Ok(a), Ok(b)) => a.origin() == b.origin() && a.path().trim_end_matches('/') == b.path().trim_end_matches('/'),
        _ => trim_base(a).eq_ignore_ascii_case(trim_base(b)),
    }
}

/// The URL of a path (or same-datacenter absolute link) on a geolocation.
pub(crate) fn resolve(geolocation: &str, path_and_query: &str) -> Result<String, ConcurError> {
    let base = trim_base(geolocation);
    let target = path_and_query.trim();
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let (Ok(link), Ok(home)) = (url::Url::parse(target), url::Url::parse(base)) else {
            return Err(ConcurError::Malformed(format!("the link `{}` is not a URL", short_reason(target))));
        };
        if link.origin() != home.origin() {
            return Err(ConcurError::Malformed(format!(
                "the link `{}` leaves the company's datacenter {base}; the access token is not sent there",
                short_reason(target)
            )));
        }
        return Ok(link.to_string());
    }
    if target.starts_with('/') { Ok(format!("{base}{target}")) } else { Ok(format!("{base}/{target}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_sample_with_a_repeated_key_parses_last_wins() {
        // v1.company.md, verbatim keys: `com:concur:Expense:0.1` appears twice.
        let sample = r#"{
          "id": "59c5bfd1-1803-4ca8-b43a-df083a5c60f9",
          "schemas": ["com:concur:Travel:0.1", "com:concur:Expense:0.1"],
          "internetDomain": "lqy3corexp.com",
          "companyDomain": "lqy3corexp.com",
          "name": "lqy3corexp",
          "defaultLanguage": "en-us",
          "meta": { "principalType": "company" },
          "com:concur:Expense:0.1": { "offeringCode": "CES", "marketingName": "CTE" },
          "addresses": [ { "formatted": "\n   nil\nUS", "streetAddress": "", "locality": "", "region": "", "country": "US", "postalCode": null } ],
          "com:concur:Travel:0.1": { "active": 1, "offeringCode": "STANDARD", "isVendor": false, "isBillable": true,
                                     "contact": { "name": "test contact", "phone": "", "emailAddress": null } },
          "com:concur:Expense:0.1": { "offeringCode": "DIRECT-BREEZE+", "marketingName": "Standard Edition",
                                      "_comment": "If marketingName is 'CTE', then the client is using 'Professional Edition'" }
        }"#;
        let value: Value = serde_json::from_str(sample).unwrap();
        let profile = CompanyProfile::from_json(&value);
        assert_eq!(profile.id.as_deref(), Some("59c5bfd1-1803-4ca8-b43a-df083a5c60f9"));
        assert_eq!(profile.name.as_deref(), Some("lqy3corexp"));
        assert_eq!(profile.marketing_name.as_deref(), Some("Standard Edition"));
        assert_eq!(profile.edition(), Edition::Standard);
        assert_eq!(CompanyProfile::from_json(&json!({})).edition(), Edition::Unknown);
    }

    #[test]
    fn base_urls_compare_hosts_case_insensitively() {
        assert!(same_base_url("https://us.api.Concursolutions.com", "https://us.api.concursolutions.com/"));
        assert!(!same_base_url("https://us.api.concursolutions.com", "https://emea.api.concursolutions.com"));
        assert!(!same_base_url("http://127.0.0.1:1000", "http://127.0.0.1:1001"));
    }

    #[test]
    fn credentials_go_only_to_https_or_loopback() {
        assert!(usable_base_url("https://emea.api.concursolutions.com"));
        assert!(usable_base_url("http://127.0.0.1:4000/"));
        assert!(!usable_base_url("http://emea.api.concursolutions.com"));
        assert!(!usable_base_url("ftp://x"));
        assert!(!usable_base_url("not a url"));
    }

    #[test]
    fn paths_and_same_datacenter_links_resolve_on_the_geolocation() {
        let geo = "https://us.api.Concursolutions.com/";
        assert_eq!(resolve(geo, "/a?b=1").unwrap(), "https://us.api.Concursolutions.com/a?b=1");
        assert_eq!(resolve(geo, "a").unwrap(), "https://us.api.Concursolutions.com/a");
        assert_eq!(
            resolve(geo, "https://US.api.concursolutions.com/next?page=2").unwrap(),
            "https://us.api.concursolutions.com/next?page=2"
        );
        let elsewhere = resolve(geo, "https://evil.example.com/next").unwrap_err();
        assert!(elsewhere.to_string().contains("not sent there"), "{elsewhere}");
    }

    #[test]
    fn json_problems_never_quote_values() {
        let e =
            serde_json::from_str::<TokenResponse>(r#"{"access_token": 12345678, "expires_in": 1, "geolocation": "x"}"#)
                .unwrap_err();
        assert!(!json_problem(&e).contains("12345678"), "{}", json_problem(&e));
        let e = serde_json::from_str::<TokenResponse>(r#"{"expires_in": 1, "geolocation": "x"}"#).unwrap_err();
        assert_eq!(json_problem(&e), "missing field `access_token`");
    }

    #[test]
    fn failures_map_onto_the_domain_taxonomy() {
        use domain::FailureKind;
        let dead = ConcurError::Grant(TokenError {
            code: Some(108),
            error: "invalid_grant".into(),
            error_description: Some("bad or expired refresh token".into()),
            geolocation: None,
        });
        assert_eq!(dead.to_failure("acme").kind, FailureKind::NeedsReauth);
        let reconnect = ConcurError::NeedsReconnect { connection: "acme".into(), reason: "revoked".into() };
        let failure = reconnect.to_failure("refreshing the Concur token of connection acme");
        assert_eq!(failure.kind, FailureKind::NeedsReauth);
        assert!(failure.reason.contains("click Connect"), "{}", failure.reason);
        assert!(ConcurError::Store("lease busy".into()).to_failure("x").is_retryable());
        assert!(ConcurError::Unauthorized.to_failure("x").is_retryable());
        let timeout =
            ConcurError::Transport(TransportError::Timeout { service: "concur-api", timeout: Duration::from_secs(1) });
        assert!(timeout.to_failure("x").is_retryable());
        let bad_client = ConcurError::Grant(TokenError {
            code: Some(64),
            error: "invalid_client".into(),
            error_description: None,
            geolocation: None,
        });
        assert_eq!(bad_client.to_failure("x").kind, FailureKind::Permanent);
        assert!(bad_client.advice().contains("client_secret"));
        assert_eq!(
            ConcurError::Rejected { status: 400, message: "bad".into() }.to_failure("x").kind,
            FailureKind::Permanent
        );
    }
}
