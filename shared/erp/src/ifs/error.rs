//! What can go wrong talking to IFS Cloud, each worded with the fix.

use domain::Failure;
use transport::TransportError;

use crate::DocumentProblem;

/// Why the connection's IFS settings cannot be used. Values are shortened
/// and stripped of control characters for the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsProblem {
    #[error("the company `{company}` is empty or has surrounding spaces")]
    Company { company: String },
    #[error("the namespace `{namespace}` is not a realm name (letters, digits, `-`, `_`, `.`)")]
    Namespace { namespace: String },
    #[error("`api.path_prefix` is `{value}`; it must be `main` or `int`")]
    PathPrefix { value: String },
    #[error("`{setting}` is `{value}`; projection, entity-set and navigation names are letters, digits and _ only")]
    NotAName { setting: &'static str, value: String },
    #[error("`{setting}` is empty")]
    Empty { setting: &'static str },
    #[error("`api.cost_center_code_part` is `{value}`; it must be one of the code parts B…J (A is the account)")]
    CostCenterCodePart { value: String },
    #[error(
        "company `{company}` has no GL accounts in {projection}.svc/{set}: check the company id in the \
         connection's IFS settings (IFS companies are ids like `10`)"
    )]
    NoAccounts { company: String, projection: String, set: String },
}

/// A failed IFS call. No variant's text contains a secret: token bodies are
/// never quoted, only OAuth error codes and descriptions and IFS's own
/// (bounded) error messages.
#[derive(Debug, thiserror::Error)]
pub enum IfsError {
    /// The connection's IFS settings cannot be used; nothing was sent.
    #[error("the IFS Cloud settings of this connection cannot be used: {problem}")]
    Settings { problem: SettingsProblem },

    /// `invalid_client`: wrong client id or secret, or no such IAM client in the realm.
    #[error(
        "IFS IAM refused the client credentials of IAM client `{client_id}` in realm {namespace}: check \
         client_id/client_secret in the credentials file and that the IAM client exists and is confidential \
         (Solution Manager → Users and Permissions → IAM Client)"
    )]
    InvalidClient { namespace: String, client_id: String },

    /// `unauthorized_client`: the IAM client may not use the client-credentials grant.
    #[error(
        "IFS IAM does not let IAM client `{client_id}` in realm {namespace} obtain a token for its service account \
         ({description}): enable Service Accounts for the IAM client and tie it to a service-account user"
    )]
    ServiceAccountDisabled { namespace: String, client_id: String, description: String },

    /// `invalid_scope`.
    #[error(
        "IFS IAM refused the scopes `{scope}` for IAM client `{client_id}` in realm {namespace}: allow the client \
         the `openid` and `microprofile-jwt` client scopes"
    )]
    InvalidScope { namespace: String, client_id: String, scope: &'static str },

    /// Another refusal from the token endpoint.
    #[error(
        "the IFS IAM token endpoint of realm {namespace} refused the client-credentials grant for IAM client \
         `{client_id}` (HTTP {status}, {error}): check the IAM client and the credentials file"
    )]
    TokenRefused { namespace: String, client_id: String, status: u16, error: String },

    /// 404 at the token URL: wrong base URL or namespace (realm).
    #[error(
        "no IFS IAM realm at {url} (HTTP 404): check the connection's IFS base URL and namespace (the realm name \
         shown as the token URL in API Explorer → Documentation)"
    )]
    NoRealm { url: String },

    /// 401 with an access token obtained a moment before.
    #[error(
        "IFS refused a fresh access token of IAM client `{client_id}` for {what} in company {company} (HTTP 401): \
         check that the IAM client's service-account user is active and may use the APIs"
    )]
    Unauthorized { client_id: String, company: String, what: String },

    /// 403: the service user lacks a permission-set grant.
    #[error(
        "IFS denied IAM client `{client_id}` access to projection {projection} ({what}, company {company}, HTTP 403{code}): \
         grant the permission set that includes projection {projection} to the IAM client's service-account user \
         (Solution Manager → Users and Permissions)"
    )]
    Forbidden { client_id: String, company: String, projection: String, what: String, code: String },

    /// 404/405 on an entity set: the projection or entity set name does not exist in this tenant.
    #[error(
        "IFS has no {what} at {projection}.svc/{set} (HTTP {status}{code}): look the name up in the tenant's API \
         Explorer and set `{setting}` in the connection's IFS settings (`api`)"
    )]
    NotConfigured {
        what: String,
        projection: String,
        set: String,
        status: u16,
        code: String,
        /// The settings field(s) to correct, e.g. `api.invoice_projection` / `api.invoice_set`.
        setting: String,
    },

    /// No answer (connection refused, DNS, TLS, timeout).
    #[error(
        "could not reach IFS Cloud at {base_url} ({}); check the base URL and that the environment is up",
        .source.detail()
    )]
    Unreachable {
        base_url: String,
        #[source]
        source: TransportError,
    },

    /// 429/5xx after the transport's retries (`MI_MODIFIED_ERROR` included).
    #[error("IFS Cloud at {base_url} is unavailable or throttling ({detail}); retried automatically later")]
    Unavailable {
        base_url: String,
        detail: String,
        #[source]
        source: TransportError,
    },

    /// 400 (`DATABASE_ERROR`, validation) or 409: IFS refused the document
    /// or supplier data.
    #[error("IFS refused {document} in company {company} (HTTP {status} {code}): {message}. {fix}")]
    Refused {
        company: String,
        document: String,
        status: u16,
        code: String,
        message: String,
        /// What the operator corrects and runs again.
        fix: &'static str,
    },

    /// 412 twice in a row: someone else keeps changing the record.
    #[error(
        "{document} in company {company} was changed in IFS while the connector updated it (HTTP 412 twice); {again}"
    )]
    Conflict {
        company: String,
        document: String,
        /// How the write is tried again ("post the document again").
        again: &'static str,
    },

    /// The record disappeared between reading and updating it.
    #[error(
        "{document} in company {company} was deleted in IFS while the connector updated it; {again} (it is looked \
         up first, so it is not created twice)"
    )]
    Vanished { company: String, document: String, again: &'static str },

    /// Another 4xx on an API call.
    #[error("IFS answered HTTP {status}{code} to {what} in company {company}: {message}")]
    Rejected { company: String, status: u16, code: String, what: String, message: String },

    /// A 2xx body we could not use (including a record of another company).
    #[error("IFS's answer to {what} in company {company} could not be used: {detail}")]
    Malformed { company: String, what: String, detail: String },

    /// Our document broke a rule; nothing was sent.
    #[error("{document} was not sent to IFS (company {company}): {problem}")]
    Invalid { company: String, document: String, problem: Box<DocumentProblem> },

    /// A row was refused and the header created for it could not be removed.
    #[error(
        "{error}; the incomplete {document} ({reference}) could not be deleted ({cleanup}): it is marked \
         incomplete and the next post of this document replaces it"
    )]
    LeftIncomplete {
        document: String,
        reference: String,
        cleanup: String,
        #[source]
        error: Box<IfsError>,
    },
}

impl IfsError {
    /// The answer says nothing about whether a write committed (timeout,
    /// 5xx, `MI_MODIFIED_ERROR`, throttling that outlasted the retries).
    pub(crate) fn outcome_unknown(&self) -> bool {
        match self {
            // Refused by our own address policy before anything was sent.
            IfsError::Unreachable { source, .. } => !source.is_permanent(),
            IfsError::Unavailable { .. } => true,
            _ => false,
        }
    }

    /// IFS refused a create because a record with its keys exists: 409
    /// (the reference's [DEFAULT] for a duplicate key), or a 400 whose
    /// message carries IFS's `<Lu>.EXIST` error key.
    pub(crate) fn is_duplicate_key(&self) -> bool {
        match self {
            IfsError::Refused { status: 409, .. } => true,
            IfsError::Refused { message, .. } => message.contains(".EXIST:"),
            _ => false,
        }
    }

    /// The domain failure: credentials that stopped working need a person
    /// with new credentials; outages are retried; the rest is permanent.
    pub fn to_failure(&self, context: &str) -> Failure {
        let reason = format!("{context}: {self}");
        match self {
            // Our own address policy refused: nothing was sent, and a retry would be refused too.
            IfsError::Unreachable { source, .. } if source.is_permanent() => Failure::permanent(reason),
            IfsError::InvalidClient { .. }
            | IfsError::ServiceAccountDisabled { .. }
            | IfsError::Unauthorized { .. } => Failure::needs_reauth(reason),
            IfsError::Unreachable { .. } | IfsError::Conflict { .. } | IfsError::Vanished { .. } => {
                Failure::retryable(reason, None)
            }
            IfsError::Unavailable { source, .. } => Failure::retryable(reason, source.retry_after()),
            IfsError::LeftIncomplete { error, .. } => {
                let mut failure = error.to_failure(context);
                failure.reason = reason;
                failure
            }
            _ => Failure::permanent(reason),
        }
    }
}
