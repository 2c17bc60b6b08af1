//! What can go wrong talking to Acumatica, each worded with the fix.

use domain::Failure;
use transport::TransportError;

use crate::DocumentProblem;

/// A failed Acumatica call. No variant's text contains a secret: token
/// bodies are never quoted, only OAuth error codes and Acumatica's own
/// (bounded) error messages.
#[derive(Debug, thiserror::Error)]
pub enum AcumaticaError {
    /// `invalid_client`: wrong client id or secret, or no such connected
    /// application in that tenant (Acumatica answers the same for an unknown tenant).
    #[error(
        "Acumatica refused the client credentials: check client_id/client_secret in the credentials file and that \
         the connected application exists in tenant {tenant} (screen SM303010; the tenant is its login name, as \
         given with --tenant)"
    )]
    InvalidClient { tenant: String },

    /// `invalid_grant` on the password grant.
    #[error(
        "Acumatica refused user `{username}` in tenant {tenant}: check username/password in the credentials file, \
         and that the user is active, not locked out and may sign in to tenant {tenant}"
    )]
    InvalidUser { tenant: String, username: String },

    /// `invalid_scope`.
    #[error(
        "Acumatica refused the scopes `{scope}` for the connected application of tenant {tenant}: allow the \
         application the `api` and `offline_access` scopes (screen SM303010)"
    )]
    InvalidScope { tenant: String, scope: &'static str },

    /// Another refusal from the token endpoint.
    #[error(
        "Acumatica's token endpoint refused the sign-in for tenant {tenant} (HTTP {status}, {error}): check that the \
         connected application uses the resource-owner password flow and the credentials file is current"
    )]
    TokenRefused { tenant: String, status: u16, error: String },

    /// 404 at `/identity/connect/token`: the base URL is not an Acumatica site.
    #[error(
        "no Acumatica token endpoint at {url} (HTTP 404): check the ERP URL; it is everything before /entity, e.g. \
         https://acme.acumatica.com or https://erp.example.com/AcumaticaERP"
    )]
    NoTokenEndpoint { url: String },

    /// 404 under `/entity/{endpoint}/{version}`.
    #[error(
        "endpoint {endpoint}/{version} is not published on this instance ({base_url}){published}: set \
         --endpoint-name/--endpoint-version to a published one, or publish it (screen SM207060)"
    )]
    EndpointNotPublished { endpoint: String, version: String, base_url: String, published: String },

    /// 401 with an access token obtained a moment before.
    #[error(
        "Acumatica refused a fresh access token for user `{username}` (HTTP 401): check that the user may use the \
         web services API in tenant {tenant}"
    )]
    Unauthorized { tenant: String, username: String },

    /// 403 on a read.
    #[error(
        "Acumatica denied user `{username}` access to {what} (HTTP 403): give the user's role access to that screen \
         in tenant {tenant}"
    )]
    Forbidden { tenant: String, username: String, what: &'static str },

    /// No answer (connection refused, DNS, TLS, timeout).
    #[error(
        "could not reach Acumatica at {base_url} ({}); check the ERP URL and that the instance is up",
        .source.detail()
    )]
    Unreachable {
        base_url: String,
        #[source]
        source: TransportError,
    },

    /// 429/5xx after the transport's retries.
    #[error("Acumatica at {base_url} is unavailable or throttling: {source}; retried automatically later")]
    Unavailable {
        base_url: String,
        #[source]
        source: TransportError,
    },

    /// Another 4xx on an API call.
    #[error("Acumatica answered HTTP {status} to {what}: {message}")]
    Rejected { status: u16, what: &'static str, message: String },

    /// A 2xx body we could not read.
    #[error("Acumatica's answer to {what} could not be read: {detail}")]
    Malformed { what: &'static str, detail: String },

    /// Our document broke a rule; nothing was sent.
    #[error("{document} was not sent to Acumatica: {problem}")]
    Invalid { document: String, problem: Box<DocumentProblem> },

    /// 422: Acumatica's business validation refused the document.
    #[error(
        "Acumatica refused {document} (HTTP 422): {errors}. Nothing was created; correct the mapping or the record \
         in Acumatica (e.g. create or activate the vendor, account or subaccount), then post the document again"
    )]
    Refused { document: String, errors: String },

    /// 400: Acumatica could not read our request.
    #[error(
        "Acumatica could not read the connector's request for {document} (HTTP 400: {message}); this is a bug in \
         the connector, not in your data: report it with this message"
    )]
    BadRequest { document: String, message: String },

    /// A vendor write from Concur refused: field errors (422), or a
    /// precondition (412) a fresh read of the vendor does not explain.
    #[error(
        "Acumatica refused to {action} vendor `{vendor}` (HTTP {status}): {errors}. Nothing was written; correct the \
         vendor in Concur (or the default Acumatica gives new vendors, e.g. the vendor class of AP Preferences, \
         screen AP101000); the next vendor sync writes it again"
    )]
    VendorRefused { vendor: String, action: &'static str, status: u16, errors: String },

    /// Created, but the requested release failed.
    #[error(
        "{document} was created in Acumatica as {reference}, but releasing it failed: {message}; release it in \
         Acumatica or fix the cause and post the document again (it will not be created twice)"
    )]
    ReleaseFailed { document: String, reference: String, message: String },
}

impl AcumaticaError {
    /// The token endpoint said no (as opposed to: could not be reached).
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(
            self,
            AcumaticaError::InvalidClient { .. }
                | AcumaticaError::InvalidUser { .. }
                | AcumaticaError::InvalidScope { .. }
                | AcumaticaError::TokenRefused { .. }
        )
    }

    /// The domain failure: credentials that stopped working need a person
    /// with new credentials; outages are retried; the rest is permanent.
    pub fn to_failure(&self, context: &str) -> Failure {
        let reason = format!("{context}: {self}");
        match self {
            // Our own address policy refused: nothing was sent, and a retry would be refused too.
            AcumaticaError::Unreachable { source, .. } if source.is_permanent() => Failure::permanent(reason),
            AcumaticaError::InvalidClient { .. } | AcumaticaError::InvalidUser { .. } => Failure::needs_reauth(reason),
            AcumaticaError::Unreachable { .. } => Failure::retryable(reason, None),
            AcumaticaError::Unavailable { source, .. } => Failure::retryable(reason, source.retry_after()),
            _ => Failure::permanent(reason),
        }
    }
}
