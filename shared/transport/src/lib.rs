//! HTTP transport shared by the Concur and ERP clients: one `reqwest` client
//! (rustls, built once per cold start) and retry with backoff as a layer
//! around each call, so API clients describe requests and never loop.
//!
//! Retry rules: 429 and 5xx answers, timeouts and connection failures are
//! transient. Waits use full jitter (a random delay between 0 and an
//! exponentially growing cap) and honour `Retry-After` when the server sends
//! it. Only requests the caller marks [`Idempotency::Safe`] are retried after
//! a timeout or 5xx: a create that timed out may have committed, and the
//! caller must look it up before sending it again.
//!
//! Authentication is a layer over the retry layer ([`auth`]): one
//! [`TokenCache`] per token (renewal margin, single-flight renewal, one
//! replacement and retry when the server refuses a token) and
//! [`BearerAuth`], which each ERP client feeds with its [`TokenSource`]
//! (its OAuth grant). Concur's token manager keeps one [`TokenCache`] per
//! connection.
//!
//! Bounds: every connection is checked against the deployment's
//! [`UrlPolicy`] ([`guard`]), redirects stay on their origin, and bodies are
//! read within a limit ([`body`]). Outside text becomes a reason only
//! through [`short_reason`].

pub mod auth;
mod body;
pub mod guard;
mod reason;
mod retry;

pub use auth::{
    AuthorizedError, BearerAuth, Grant, Issued, OAuthRefusal, RenewMargin, Timed, TokenAnswerError, TokenCache,
    TokenRequestError, TokenSource, request_token,
};
pub use body::{ERROR_BODY_BYTES, MAX_BODY_BYTES, bounded_text, read_body, read_body_within, read_json};
pub use reason::{REASON_CHARS, sanitized, short_reason};
pub use retry::{Backoff, RetryPolicy, parse_retry_after};

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use domain::{Failure, UrlPolicy};

/// Whether repeating a request can do harm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// GET, PUT-by-key, acknowledgements: repeat freely.
    Safe,
    /// A create without an idempotency key: only retried when the server
    /// certainly did not process it (429, connection refused).
    Unsafe,
}

/// A call that failed after the retries the policy allows.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// `body` is the first [`ERROR_BODY_BYTES`] as sent (callers parse it);
    /// the message shows it only as a [`short_reason`].
    #[error("{service} answered HTTP {status}: {}", short_reason(.body))]
    Status { service: &'static str, status: u16, retry_after: Option<Duration>, body: String },
    #[error("{service} did not answer within {timeout:?}")]
    Timeout { service: &'static str, timeout: Duration },
    #[error("could not reach {service}: {message}")]
    Connect { service: &'static str, message: String },
    #[error("{service} request failed: {message}")]
    Other { service: &'static str, message: String },
    /// The deployment's address policy forbids the connection: nothing was sent.
    #[error(
        "{service}: {forbidden}; the connector only talks to services on public addresses, so nothing was sent: \
         check the configured URL and its DNS records"
    )]
    Forbidden {
        service: &'static str,
        #[source]
        forbidden: Box<guard::Forbidden>,
    },
    /// The answer's body is larger than anything the API legitimately sends.
    #[error(
        "{service} answered with a body larger than {limit} bytes, which was refused unread: check that the URL \
         points at the API itself and not at a file or another service"
    )]
    TooLarge { service: &'static str, limit: usize },
}

impl TransportError {
    /// Whether repeating the call can only fail the same way (the policy
    /// forbids the address, the body is too large): adapters report these as
    /// permanent even where they treat "could not reach" as an outage.
    pub fn is_permanent(&self) -> bool {
        matches!(self, TransportError::Forbidden { .. } | TransportError::TooLarge { .. })
    }

    /// The wait the server asked for with its answer, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TransportError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// What went wrong on the way, without repeating "could not reach" (for
    /// messages that already say the service could not be reached).
    pub fn detail(&self) -> String {
        match self {
            TransportError::Connect { message, .. } | TransportError::Other { message, .. } => message.clone(),
            TransportError::Timeout { timeout, .. } => format!("no answer within {} s", timeout.as_secs()),
            TransportError::Status { .. } | TransportError::Forbidden { .. } | TransportError::TooLarge { .. } => {
                self.to_string()
            }
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            TransportError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Maps onto the domain's taxonomy: transient → retryable; 401/403 are
    /// left to the caller (it knows whether a refresh was already tried) and
    /// reported here as permanent; other 4xx → permanent.
    pub fn to_failure(&self, context: &str) -> Failure {
        let reason = format!("{context}: {self}");
        match self {
            TransportError::Status { status, retry_after, .. } if *status == 429 || *status >= 500 => {
                Failure::retryable(reason, *retry_after)
            }
            TransportError::Status { .. }
            | TransportError::Other { .. }
            | TransportError::Forbidden { .. }
            | TransportError::TooLarge { .. } => Failure::permanent(reason),
            TransportError::Timeout { .. } | TransportError::Connect { .. } => Failure::retryable(reason, None),
        }
    }
}

/// Builds an HTTP client under the local-stack policy (loopback allowed,
/// every other non-public address refused). For tests and tools; a deployed
/// function uses [`HttpClient::for_deployment`] with its deployment's policy.
pub fn build_client(timeout: Duration) -> reqwest::Client {
    build_client_for(timeout, UrlPolicy::AllowLoopbackHttp)
}

fn build_client_for(timeout: Duration, policy: UrlPolicy) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(50))
        .user_agent(concat!("concur-erp-connector/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(guard::shared(policy))
        .redirect(guard::redirect_policy(policy))
        .build()
        // Only fails when the TLS backend cannot initialise: a broken build, not input.
        .expect("the HTTP client must build with the compiled-in TLS backend")
}

/// How one HTTP call ended, as the call metrics count it (`ErpCalls`,
/// `ConcurCalls` in docs/metrics.md). Every attempt is one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// An answer below 400 (2xx; redirects are followed).
    Success,
    /// A 4xx other than 429.
    Refused,
    /// 429.
    Throttled,
    /// A 5xx.
    ServerError,
    /// No HTTP answer: the time limit passed or no connection was made.
    NoAnswer,
}

impl CallOutcome {
    pub fn of_status(status: u16) -> Self {
        match status {
            429 => CallOutcome::Throttled,
            500.. => CallOutcome::ServerError,
            400.. => CallOutcome::Refused,
            _ => CallOutcome::Success,
        }
    }

    /// The metrics' `Outcome` value.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Success => "2xx",
            CallOutcome::Refused => "4xx",
            CallOutcome::Throttled => "429",
            CallOutcome::ServerError => "5xx",
            CallOutcome::NoAnswer => "timeout",
        }
    }
}

/// Who hears of every HTTP call of the process: `service` is the name the
/// caller gave [`HttpClient::send`] (`concur-api`, `acumatica`, …).
pub type CallObserver = fn(service: &'static str, outcome: CallOutcome);

static CALL_OBSERVER: OnceLock<CallObserver> = OnceLock::new();

/// Installs the process's call observer, as a layer under every client
/// (platform's start-up counts the calls as metrics). The first one stays;
/// `false` when one was installed already.
pub fn observe_calls(observer: CallObserver) -> bool {
    CALL_OBSERVER.set(observer).is_ok()
}

fn observed(service: &'static str, outcome: CallOutcome) {
    if let Some(observer) = CALL_OBSERVER.get() {
        observer(service, outcome);
    }
}

/// A client with a retry policy. Clone freely (clones share one reqwest client and its pool).
#[derive(Clone)]
pub struct HttpClient {
    /// Built on the first request: building it loads the system's trust roots (about 3 ms, the largest part of
    /// a function's cold start after the AWS SDK's own; docs/performance.md), which an invocation that makes no
    /// HTTP call should not pay.
    inner: Arc<OnceLock<reqwest::Client>>,
    /// The request timeout `inner` is built with (the policy's when the client was made).
    timeout: Duration,
    policy: RetryPolicy,
    /// Judges address literals, which never reach `inner`'s resolver.
    addresses: UrlPolicy,
}

impl HttpClient {
    /// Wraps a client from [`build_client`] (the local-stack policy).
    pub fn new(inner: reqwest::Client, policy: RetryPolicy) -> Self {
        let timeout = policy.request_timeout;
        Self { inner: Arc::new(OnceLock::from(inner)), timeout, policy, addresses: UrlPolicy::AllowLoopbackHttp }
    }

    /// The client a deployed function uses: every connection judged by
    /// `addresses` (the production policy unless the stack is local, see
    /// [`UrlPolicy::for_aws_endpoint`]).
    pub fn for_deployment(policy: RetryPolicy, addresses: UrlPolicy) -> Self {
        Self { inner: Arc::new(OnceLock::new()), timeout: policy.request_timeout, policy, addresses }
    }

    /// The same connections and address policy with another retry policy.
    pub fn with_retry(&self, policy: RetryPolicy) -> Self {
        Self { inner: self.inner.clone(), timeout: self.timeout, policy, addresses: self.addresses }
    }

    pub fn reqwest(&self) -> &reqwest::Client {
        self.inner.get_or_init(|| build_client_for(self.timeout, self.addresses))
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Sends the request `build` makes, retrying transient failures per the
    /// policy. `build` is called once per attempt (bodies are rebuilt).
    /// Returns the first non-retryable response (2xx, 4xx other than 429),
    /// or the last error when the attempts run out.
    pub async fn send(
        &self,
        service: &'static str,
        idempotency: Idempotency,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, TransportError> {
        let mut backoff = self.policy.backoff();
        loop {
            let client = self.reqwest();
            let outcome = match build(client).build() {
                Ok(request) => match guard::check_literal(request.url(), self.addresses) {
                    Ok(()) => {
                        let sent = client.execute(request).await;
                        match &sent {
                            Ok(response) => observed(service, CallOutcome::of_status(response.status().as_u16())),
                            // Refused by our own resolver policy: nothing was sent.
                            Err(e) if guard::forbidden_in(e).is_some() => {}
                            Err(_) => observed(service, CallOutcome::NoAnswer),
                        }
                        sent
                    }
                    Err(forbidden) => {
                        return Err(TransportError::Forbidden { service, forbidden: Box::new(forbidden) });
                    }
                },
                Err(e) => Err(e),
            };
            let (error, may_retry) = match outcome {
                Ok(response) => {
                    let status = response.status().as_u16();
                    if status != 429 && status < 500 {
                        return Ok(response);
                    }
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    let body = bounded_text(response).await;
                    // 429 means "not processed"; a 5xx on a create may have committed.
                    let may_retry = status == 429 || idempotency == Idempotency::Safe;
                    (TransportError::Status { service, status, retry_after, body }, may_retry)
                }
                Err(e) => match guard::forbidden_in(&e) {
                    // Refused by our own policy: nothing was sent, and it would be refused again.
                    Some(forbidden) => (TransportError::Forbidden { service, forbidden: Box::new(forbidden) }, false),
                    None if e.is_timeout() => (
                        TransportError::Timeout { service, timeout: self.policy.request_timeout },
                        idempotency == Idempotency::Safe,
                    ),
                    None if e.is_connect() => (TransportError::Connect { service, message: with_causes(&e) }, true),
                    None => (TransportError::Other { service, message: with_causes(&e) }, false),
                },
            };
            let hint = match &error {
                TransportError::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            match (may_retry, backoff.next_delay(hint)) {
                (true, Some(delay)) => {
                    tracing::warn!(service, error = %error, delay_ms = delay.as_millis() as u64, "transient failure, retrying");
                    tokio::time::sleep(delay).await;
                }
                _ => return Err(error),
            }
        }
    }
}

/// reqwest's own text is "error sending request for url (…)"; the reason an
/// operator can act on (DNS, refused, TLS) is further down the source chain.
fn with_causes(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
