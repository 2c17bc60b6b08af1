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

mod retry;

pub use retry::{Backoff, RetryPolicy, parse_retry_after};

use std::time::Duration;

use domain::Failure;

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
    #[error("{service} answered HTTP {status}: {body}")]
    Status { service: &'static str, status: u16, retry_after: Option<Duration>, body: String },
    #[error("{service} did not answer within {timeout:?}")]
    Timeout { service: &'static str, timeout: Duration },
    #[error("could not reach {service}: {message}")]
    Connect { service: &'static str, message: String },
    #[error("{service} request failed: {message}")]
    Other { service: &'static str, message: String },
}

impl TransportError {
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
            TransportError::Status { .. } | TransportError::Other { .. } => Failure::permanent(reason),
            TransportError::Timeout { .. } | TransportError::Connect { .. } => Failure::retryable(reason, None),
        }
    }
}

/// Builds the one HTTP client a function uses for every outside API.
pub fn build_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(50))
        .user_agent(concat!("concur-erp-connector/", env!("CARGO_PKG_VERSION")))
        .build()
        // Only fails when the TLS backend cannot initialise: a broken build, not input.
        .expect("the HTTP client must build with the compiled-in TLS backend")
}

/// A client with a retry policy. Clone freely (reqwest clients share a pool).
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    policy: RetryPolicy,
}

impl HttpClient {
    pub fn new(inner: reqwest::Client, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
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
            let outcome = build(&self.inner).send().await;
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
                Err(e) if e.is_timeout() => (
                    TransportError::Timeout { service, timeout: self.policy.request_timeout },
                    idempotency == Idempotency::Safe,
                ),
                Err(e) if e.is_connect() => (TransportError::Connect { service, message: with_causes(&e) }, true),
                Err(e) => (TransportError::Other { service, message: with_causes(&e) }, false),
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

/// Reads at most 4 KiB of an error body for messages and the audit trail.
pub async fn bounded_text(response: reqwest::Response) -> String {
    const LIMIT: usize = 4096;
    match response.bytes().await {
        Ok(bytes) => {
            let cut = &bytes[..bytes.len().min(LIMIT)];
            String::from_utf8_lossy(cut).into_owned()
        }
        Err(e) => format!("(body unreadable: {e})"),
    }
}
