//! What can go wrong talking to Infor ION, each worded with the fix.

use domain::Failure;
use transport::TransportError;

use crate::DocumentProblem;

/// A failed Infor call or a document the adapter refused to send. No
/// variant's text contains a secret: token answers are never quoted, only
/// OAuth error codes and ION's own (bounded) error messages; `.ionapi`
/// problems name keys, never values.
#[derive(Debug, thiserror::Error)]
pub enum InforError {
    /// The `.ionapi` file cannot work (see [`super::IonApi::validate`]).
    #[error(
        "the connection's .ionapi file is not usable: {problems}. Download the credentials of the ION API \
         authorized app (type Backend Service, with a service account) again and store them for the connection"
    )]
    IonApiFile { problems: String },

    /// A connection setting the adapter needs is missing or malformed.
    #[error("the Infor setting `{setting}` {problem}; set it with `connector connections update`")]
    Setting { setting: &'static str, problem: String },

    /// `invalid_client`: the `ci`/`cs` pair was refused.
    #[error(
        "Infor refused the client credentials (ci/cs) of tenant {tenant}: the authorized app may have been \
         deleted or its secret regenerated; download its .ionapi file again"
    )]
    InvalidClient { tenant: String },

    /// `invalid_grant` on the password grant: the service-account keys.
    #[error(
        "Infor refused the service-account keys (saak/sask) of tenant {tenant}: the service account may have been \
         deleted or its keys regenerated, or its user is disabled; create the service account again for the \
         authorized app and download its .ionapi file"
    )]
    InvalidGrant { tenant: String },

    /// Another refusal from the token endpoint.
    #[error(
        "Infor's token endpoint refused the sign-in for tenant {tenant} (HTTP {status}, {error}): check that the \
         authorized app is of type Backend Service and the .ionapi file is current"
    )]
    TokenRefused { tenant: String, status: u16, error: String },

    /// 404 at `pu + ot`.
    #[error("no token endpoint at {url} (HTTP 404): check `pu` and `ot` in the .ionapi file")]
    NoTokenEndpoint { url: String },

    /// 401 with an access token obtained a moment before.
    #[error(
        "the ION API gateway of tenant {tenant} refused a fresh access token for {what} (HTTP 401): check that the \
         authorized app is active and its service account's user may use the ION API"
    )]
    Unauthorized { tenant: String, what: &'static str },

    /// 403: the token is valid but not allowed to do this.
    #[error("Infor denied {what} (HTTP 403: {message}): {fix}")]
    Forbidden { what: &'static str, message: String, fix: &'static str },

    /// 404 on an API path.
    #[error("Infor answered HTTP 404 to {what} at {url}: {fix}")]
    NotFound { what: &'static str, url: String, fix: &'static str },

    /// No answer (connection refused, DNS, TLS, timeout).
    #[error("could not reach Infor at {url} ({}); check `iu`/`pu` in the .ionapi file and retry later", .source.detail())]
    Unreachable {
        url: String,
        #[source]
        source: TransportError,
    },

    /// 429/5xx after the transport's retries.
    #[error("Infor at {url} is unavailable or throttling: {source}; retried automatically later")]
    Unavailable {
        url: String,
        #[source]
        source: TransportError,
    },

    /// 400 from IMS: the message or its parameters were refused.
    #[error(
        "ION refused {document} (HTTP 400: {message}): check that document {document_name} is on the Documents \
         tab of connection point {logical_id} in ION Desk and the connection's Infor settings (document names, \
         logical id, accounting entity)"
    )]
    BadRequest { document: String, document_name: String, logical_id: String, message: String },

    /// 413 from IMS or the gateway.
    #[error(
        "ION refused {document} as too large (HTTP 413, {bytes} bytes sent): the tenant's message limit is \
         smaller than `max_message_bytes` ({max}); lower max_message_bytes so the document is split into smaller \
         chunks, then post it again"
    )]
    TooLarge { document: String, bytes: usize, max: usize },

    /// Another 4xx.
    #[error("Infor answered HTTP {status} to {what}: {message}")]
    Rejected { status: u16, what: &'static str, message: String },

    /// A 2xx body (or an outcome BOD) we could not read.
    #[error("Infor's answer to {what} could not be read: {detail}")]
    Malformed { what: &'static str, detail: String },

    /// Our document broke a rule; nothing was sent.
    #[error("{document} was not sent to Infor: {problem}")]
    Invalid { document: String, problem: Box<DocumentProblem> },

    /// Accounts or dimension values the ledger does not know; nothing was sent.
    #[error(
        "{document} was not sent to Infor: accounting entity {entity} does not know {unknown}. Create them in \
         Infor (or correct the connection's mapping), then post the document again"
    )]
    UnknownMasterData { document: String, entity: String, unknown: String },

    /// M3 refused a supplier write from Concur (a refusal a fresh read of
    /// the supplier does not explain).
    #[error(
        "M3 refused to {action} supplier `{supplier}` in accounting entity {entity}: {message}. Nothing was \
         written; correct the vendor in Concur, or the defaults suppliers from Concur get (`supplier` in the \
         connection's Infor settings); the next vendor sync writes it again"
    )]
    SupplierRefused { supplier: String, entity: String, action: &'static str, message: String },

    /// A journal too large for one message and no account to carry the balance between its chunks.
    #[error(
        "{document} is too large for one ION message ({lines} lines, {bytes} bytes; one BOD holds at most \
         {max_lines} lines and `max_message_bytes` {max} bytes) and must be sent in {parts} chunks, but a \
         journal's chunks only balance through a clearing account: set `chunk_clearing_account` in the Infor \
         settings (a GL account that nets to zero once every chunk is posted)"
    )]
    NeedsClearingAccount { document: String, lines: usize, bytes: usize, max_lines: usize, max: usize, parts: usize },

    /// `max_message_bytes` cannot hold even one line with the BOD around it.
    #[error(
        "{document} cannot be split into messages of at most {max} bytes: line {line} alone needs {needed} \
         bytes with the BOD around it; raise `max_message_bytes`"
    )]
    LimitTooSmall { document: String, max: usize, line: usize, needed: usize },
}

impl InforError {
    /// The token endpoint said no (as opposed to: could not be reached).
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(
            self,
            InforError::InvalidClient { .. } | InforError::InvalidGrant { .. } | InforError::TokenRefused { .. }
        )
    }

    /// The domain failure: credentials that stopped working need a person
    /// with a new `.ionapi` file; outages are retried; the rest is permanent.
    pub fn to_failure(&self, context: &str) -> Failure {
        let reason = format!("{context}: {self}");
        match self {
            // Our own address policy refused: nothing was sent, and a retry would be refused too.
            InforError::Unreachable { source, .. } if source.is_permanent() => Failure::permanent(reason),
            InforError::IonApiFile { .. } | InforError::InvalidClient { .. } | InforError::InvalidGrant { .. } => {
                Failure::needs_reauth(reason)
            }
            InforError::Unreachable { .. } => Failure::retryable(reason, None),
            InforError::Unavailable { source, .. } => Failure::retryable(reason, source.retry_after()),
            _ => Failure::permanent(reason),
        }
    }
}
