//! Authenticated transport: the auth layer over [`HttpClient`]'s retry
//! layer. Every API the connector calls takes a bearer token that expires;
//! this module is the one place that keeps it.
//!
//! - [`TokenCache`] holds one token: it is renewed a margin before it
//!   expires, by one task at a time (the others wait and share the result),
//!   and a token the server refused is replaced once and the call retried
//!   once. Concur's token manager uses it per connection.
//! - [`BearerAuth`] puts a [`TokenSource`] (an ERP's grant) behind a
//!   [`TokenCache`] and sends requests with the token: it also keeps the
//!   refresh token a grant may issue (single-use and rotating at Infor),
//!   tries it first and falls back to signing in when it is refused.
//! - [`TokenAnswer`] and [`OAuthRefusal`] read an OAuth token endpoint's
//!   answers.

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use domain::Secret;
use serde::Deserialize;
use serde_json::Value;

use crate::{HttpClient, Idempotency, TransportError, bounded_text, read_body};

/// Longest token lifetime believed (guards the clock arithmetic).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How long before its expiry a token is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewMargin {
    /// Exactly this long before. A token that lives less is used only by
    /// the call that got it.
    Fixed(Duration),
    /// This long before, but at most half the token's lifetime, so a
    /// short-lived token still serves several calls.
    AtMostHalf(Duration),
}

impl RenewMargin {
    fn of(self, lifetime: Duration) -> Duration {
        match self {
            RenewMargin::Fixed(margin) => margin,
            RenewMargin::AtMostHalf(margin) => margin.min(lifetime / 2),
        }
    }

    /// Whether a token living `lifetime` is due for renewal as soon as it is issued.
    pub fn outlives(self, lifetime: Duration) -> bool {
        self.of(lifetime) >= lifetime
    }
}

/// A token and how long it is valid from now.
#[derive(Debug, Clone)]
pub struct Timed<T> {
    pub token: T,
    pub lifetime: Duration,
}

struct Held<T> {
    token: T,
    renew_at: Instant,
}

/// One cached token with single-flight renewal. Share it between tasks
/// (it lives in a client built once per cold start).
pub struct TokenCache<T> {
    margin: RenewMargin,
    held: Mutex<Option<Held<T>>>,
    /// Held while a new token is obtained, so concurrent tasks share one renewal.
    renewal: tokio::sync::Mutex<()>,
}

impl<T: Clone + PartialEq> TokenCache<T> {
    pub fn new(margin: RenewMargin) -> Self {
        Self { margin, held: Mutex::new(None), renewal: tokio::sync::Mutex::new(()) }
    }

    fn held(&self) -> MutexGuard<'_, Option<Held<T>>> {
        // A poisoned cache is still a valid cache (the value is replaced whole).
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached token while it is not due for renewal.
    pub fn cached(&self) -> Option<T> {
        self.held().as_ref().filter(|h| Instant::now() < h.renew_at).map(|h| h.token.clone())
    }

    /// Caches `token`, replacing any other.
    pub fn store(&self, timed: Timed<T>) {
        let lifetime = timed.lifetime.min(MAX_TOKEN_LIFETIME);
        let renew_at = Instant::now() + lifetime.saturating_sub(self.margin.of(lifetime));
        *self.held() = Some(Held { token: timed.token, renew_at });
    }

    /// The cached token, or the one `renew` obtains (cached for the next
    /// callers). Concurrent callers share a single renewal.
    pub async fn get_or_renew<E, F, Fut>(&self, renew: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Timed<T>, E>>,
    {
        if let Some(token) = self.cached() {
            return Ok(token);
        }
        let _single_flight = self.renewal.lock().await;
        // Whoever renewed before us may have left a fresh token.
        if let Some(token) = self.cached() {
            return Ok(token);
        }
        Ok(self.keep(renew().await?))
    }

    /// A token other than `rejected` (which the server refused): the one
    /// another task already put in its place, or a new one from `renew`.
    pub async fn replace_rejected<E, F, Fut>(&self, rejected: &T, renew: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Timed<T>, E>>,
    {
        let _single_flight = self.renewal.lock().await;
        {
            let mut held = self.held();
            match held.as_ref() {
                Some(h) if h.token != *rejected && Instant::now() < h.renew_at => return Ok(h.token.clone()),
                Some(h) if h.token == *rejected => *held = None,
                _ => {}
            }
        }
        Ok(self.keep(renew().await?))
    }

    fn keep(&self, timed: Timed<T>) -> T {
        let token = timed.token.clone();
        self.store(timed);
        token
    }

    /// Runs `call` with a token; when `rejected` says the server refused it,
    /// replaces the token once and runs `call` once more (a refused token
    /// means nothing was processed, so this holds for writes too).
    /// An error of `renew` becomes `call`'s error type `E`.
    pub async fn with_token<R, E, RenewError, Renew, RenewFut, Call, CallFut>(
        &self,
        renew: Renew,
        call: Call,
        rejected: impl Fn(&Result<R, E>) -> bool,
    ) -> Result<R, E>
    where
        E: From<RenewError>,
        Renew: Fn() -> RenewFut,
        RenewFut: Future<Output = Result<Timed<T>, RenewError>>,
        Call: Fn(T) -> CallFut,
        CallFut: Future<Output = Result<R, E>>,
    {
        let token = self.get_or_renew(&renew).await?;
        let outcome = call(token.clone()).await;
        if !rejected(&outcome) {
            return outcome;
        }
        let replacement = self.replace_rejected(&token, &renew).await?;
        call(replacement).await
    }
}

/// Which grant a [`TokenSource`] is asked for.
#[derive(Debug, Clone, Copy)]
pub enum Grant<'a> {
    /// The source's own credentials (password or client-credentials grant).
    SignIn,
    /// The refresh token the source issued last.
    Refresh(&'a Secret),
}

/// What a grant returns.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: Timed<Secret>,
    /// A refresh token for the next renewal, when the grant issues one.
    pub refresh_token: Option<Secret>,
}

/// An API's token grant: the only part of authentication that differs
/// between the APIs the connector calls.
pub trait TokenSource: Send + Sync {
    type Error: std::fmt::Display + Send;

    /// Names the API in logs.
    const SERVICE: &'static str;

    /// Runs `grant` against the token endpoint. A source that issues no
    /// refresh tokens is never asked for [`Grant::Refresh`].
    fn issue(&self, grant: Grant<'_>) -> impl Future<Output = Result<Issued, Self::Error>> + Send;

    /// Whether `error` is the token endpoint refusing a refresh token
    /// (spent, expired, revoked), as opposed to not answering: then a
    /// sign-in replaces it.
    fn refused(&self, error: &Self::Error) -> bool;

    /// Called with every new refresh token, before it is used (Infor's are
    /// single-use: the caller persists each one).
    fn rotated(&self, _refresh_token: &Secret) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// A bearer-authenticated request that failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizedError<E> {
    /// No token could be obtained.
    #[error("{0}")]
    Token(E),
    /// The request itself failed after the transport's retries.
    #[error(transparent)]
    Transport(TransportError),
}

impl<E> From<E> for AuthorizedError<E> {
    fn from(e: E) -> Self {
        AuthorizedError::Token(e)
    }
}

impl<E> AuthorizedError<E> {
    /// One error type for the caller: a transport failure becomes what
    /// `transport` makes of it (the caller adds which API it was).
    pub fn into_error(self, transport: impl FnOnce(TransportError) -> E) -> E {
        match self {
            AuthorizedError::Token(e) => e,
            AuthorizedError::Transport(e) => transport(e),
        }
    }
}

/// An API's bearer token, obtained from its [`TokenSource`]: cached,
/// renewed before it expires, replaced once on a 401.
pub struct BearerAuth {
    cache: TokenCache<Secret>,
    /// The refresh token to try before signing in again; taken while a
    /// renewal runs (renewals are single-flight).
    refresh: Mutex<Option<Secret>>,
}

impl BearerAuth {
    pub fn new(margin: RenewMargin) -> Self {
        Self { cache: TokenCache::new(margin), refresh: Mutex::new(None) }
    }

    /// Starts from a refresh token persisted earlier (Infor's rotating tokens).
    pub fn with_refresh_token(self, refresh_token: Option<Secret>) -> Self {
        *self.refresh() = refresh_token;
        self
    }

    fn refresh(&self) -> MutexGuard<'_, Option<Secret>> {
        self.refresh.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the cached access token and replaces the refresh token (tests
    /// use it to stand in for a token spent elsewhere).
    pub fn reset(&self, refresh_token: Option<Secret>) {
        *self.cache.held() = None;
        *self.refresh() = refresh_token;
    }

    /// The cached access token, or a new one.
    pub async fn token<S: TokenSource>(&self, source: &S) -> Result<Secret, S::Error> {
        self.cache.get_or_renew(|| self.renew(source)).await
    }

    /// Sends the request `build` makes with the bearer token (`build`
    /// receives it), through `http`'s retries. A 401 drops the token, gets
    /// a new one and sends once more; a second 401 is returned as it is.
    pub async fn send<S: TokenSource>(
        &self,
        source: &S,
        http: &HttpClient,
        idempotency: Idempotency,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, AuthorizedError<S::Error>> {
        let renew = || self.renew(source);
        let call = |token: Secret| {
            let build = &build;
            async move {
                http.send(S::SERVICE, idempotency, |c| build(c, token.expose()))
                    .await
                    .map_err(AuthorizedError::Transport)
            }
        };
        let rejected = |outcome: &Result<reqwest::Response, _>| {
            let refused = matches!(outcome, Ok(response) if response.status() == reqwest::StatusCode::UNAUTHORIZED);
            if refused {
                tracing::info!(
                    service = S::SERVICE,
                    "the access token was refused; getting a new one and retrying once"
                );
            }
            refused
        };
        self.cache.with_token(renew, call, rejected).await
    }

    /// A new access token: the refresh grant first, a sign-in when there is
    /// no refresh token or it was refused.
    async fn renew<S: TokenSource>(&self, source: &S) -> Result<Timed<Secret>, S::Error> {
        let stored = self.refresh().take();
        if let Some(refresh) = stored {
            match source.issue(Grant::Refresh(&refresh)).await {
                Ok(issued) => return Ok(self.keep(source, issued).await),
                Err(e) if source.refused(&e) => {
                    // Spent, expired or revoked: a fresh sign-in is the fix.
                    tracing::info!(service = S::SERVICE, error = %e, "the refresh token was refused; signing in again");
                }
                Err(e) => {
                    // Unknown whether it was spent; keep it, a later refusal falls back.
                    *self.refresh() = Some(refresh);
                    return Err(e);
                }
            }
        }
        let issued = source.issue(Grant::SignIn).await?;
        Ok(self.keep(source, issued).await)
    }

    async fn keep<S: TokenSource>(&self, source: &S, issued: Issued) -> Timed<Secret> {
        let lifetime = issued.access_token.lifetime;
        if let RenewMargin::Fixed(_) = self.cache.margin
            && self.cache.margin.outlives(lifetime)
        {
            tracing::warn!(
                service = S::SERVICE,
                lifetime_s = lifetime.as_secs(),
                "access tokens live less than the renewal margin: every call gets a new one; raise the token \
                 lifetime of the API client"
            );
        }
        if let Some(refresh) = issued.refresh_token {
            // Possibly rotated: the newest one is the one that works.
            source.rotated(&refresh).await;
            *self.refresh() = Some(refresh);
        }
        issued.access_token
    }
}

/// The 2xx answer of an OAuth token endpoint.
#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    pub access_token: Secret,
    /// Seconds, sent as a number or a string.
    #[serde(default)]
    expires_in: Option<Value>,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
}

impl TokenAnswer {
    /// What the answer grants, with `default_lifetime` when it does not say.
    pub fn issued(self, default_lifetime: Duration) -> Issued {
        let lifetime = match &self.expires_in {
            Some(Value::Number(n)) => n.as_u64().map(Duration::from_secs),
            Some(Value::String(s)) => s.trim().parse().ok().map(Duration::from_secs),
            _ => None,
        }
        .unwrap_or(default_lifetime)
        .min(MAX_TOKEN_LIFETIME);
        Issued { access_token: Timed { token: self.access_token, lifetime }, refresh_token: self.refresh_token }
    }
}

/// Why a token endpoint's 2xx answer could not be used. The body holds
/// tokens: a problem is described, the body never quoted.
#[derive(Debug, thiserror::Error)]
pub enum TokenAnswerError {
    #[error("the body could not be read: {0}")]
    Unreadable(#[source] TransportError),
    #[error("the token endpoint's answer has no access_token")]
    NoAccessToken,
}

/// Why a grant issued no token. Each API names its own fixes, so the
/// messages here are generic.
#[derive(Debug, thiserror::Error)]
pub enum TokenRequestError {
    /// The token endpoint could not be reached, or failed after the retries.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// 2xx whose body could not be used.
    #[error("the token endpoint's answer could not be used: {0}")]
    Unusable(#[source] TokenAnswerError),
    /// 404: there is no token endpoint at that URL.
    #[error("there is no token endpoint at {url}")]
    NoEndpoint { url: String },
    /// Another 4xx: the OAuth refusal (empty when the body is not one) and
    /// the body as sent, bounded (for a message when there is no refusal).
    #[error("the token endpoint refused the grant (HTTP {status}, `{}`)", crate::short_reason(&.refusal.error))]
    Refused { status: u16, refusal: OAuthRefusal, body: String },
}

/// POSTs a grant's `form` to the token endpoint at `url`, through `http`'s
/// retries (a grant creates nothing a repeat could duplicate). An answer
/// without `expires_in` is taken to live `default_lifetime`.
pub async fn request_token(
    http: &HttpClient,
    service: &'static str,
    url: &str,
    form: &[(&str, &str)],
    default_lifetime: Duration,
) -> Result<Issued, TokenRequestError> {
    let response = http
        .send(service, Idempotency::Safe, |c| {
            c.post(url).header(reqwest::header::ACCEPT, "application/json").form(form)
        })
        .await?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        let answer = read_token_answer(service, response).await.map_err(TokenRequestError::Unusable)?;
        return Ok(answer.issued(default_lifetime));
    }
    if status == 404 {
        return Err(TokenRequestError::NoEndpoint { url: url.to_owned() });
    }
    let body = bounded_text(response).await;
    Err(TokenRequestError::Refused { status, refusal: OAuthRefusal::parse(&body), body })
}

async fn read_token_answer(
    service: &'static str,
    response: reqwest::Response,
) -> Result<TokenAnswer, TokenAnswerError> {
    let bytes = read_body(service, response).await.map_err(TokenAnswerError::Unreadable)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenAnswerError::NoAccessToken)
}

/// A token endpoint's refusal: `{"error": "invalid_grant", "error_description": "…"}`.
#[derive(Debug, Default, Deserialize)]
pub struct OAuthRefusal {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}

impl OAuthRefusal {
    /// The refusal in `body`; empty when the body is not one.
    pub fn parse(body: &str) -> Self {
        serde_json::from_str(body).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn timed(token: &str, seconds: u64) -> Timed<String> {
        Timed { token: token.to_owned(), lifetime: Duration::from_secs(seconds) }
    }

    #[test]
    fn margins_renew_before_expiry() {
        assert_eq!(RenewMargin::AtMostHalf(Duration::from_secs(60)).of(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(
            RenewMargin::AtMostHalf(Duration::from_secs(60)).of(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
        assert!(RenewMargin::Fixed(Duration::from_secs(300)).outlives(Duration::from_secs(300)));
        assert!(!RenewMargin::Fixed(Duration::from_secs(300)).outlives(Duration::from_secs(301)));
    }

    #[tokio::test]
    async fn a_token_within_its_margin_is_renewed_and_one_outside_is_reused() {
        let cache = TokenCache::new(RenewMargin::Fixed(Duration::from_secs(300)));
        cache.store(timed("short", 300));
        assert_eq!(cache.cached(), None, "a token living no longer than the margin serves only its own call");
        cache.store(timed("long", 3600));
        assert_eq!(cache.cached().as_deref(), Some("long"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_one_renewal() {
        let cache = Arc::new(TokenCache::new(RenewMargin::Fixed(Duration::from_secs(60))));
        let renewals = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (cache, renewals) = (cache.clone(), renewals.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_renew(|| async {
                            renewals.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok::<_, String>(timed("shared", 3600))
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), "shared");
        }
        assert_eq!(renewals.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_rejected_token_is_replaced_once_and_the_call_retried_once() {
        let cache = TokenCache::new(RenewMargin::Fixed(Duration::from_secs(60)));
        cache.store(timed("revoked", 3600));
        let renewals = AtomicU32::new(0);
        let calls = AtomicU32::new(0);
        let outcome = cache
            .with_token(
                || async {
                    renewals.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, String>(timed("new", 3600))
                },
                |token| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async move { if token == "revoked" { Err("401".to_owned()) } else { Ok(token) } }
                },
                |outcome| outcome.as_ref().is_err_and(|e| e == "401"),
            )
            .await;
        assert_eq!(outcome.as_deref(), Ok("new"));
        assert_eq!((renewals.load(Ordering::SeqCst), calls.load(Ordering::SeqCst)), (1, 2));
    }

    #[tokio::test]
    async fn a_second_refusal_is_returned_not_looped() {
        let cache = TokenCache::new(RenewMargin::Fixed(Duration::from_secs(60)));
        let calls = AtomicU32::new(0);
        let outcome: Result<(), &str> = cache
            .with_token(
                || async { Ok::<_, &str>(timed("any", 3600)) },
                |_| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async { Err("401") }
                },
                |outcome| outcome.is_err(),
            )
            .await;
        assert_eq!(outcome, Err("401"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn token_answers_read_both_lifetime_forms_and_cap_them() {
        let answer = |json: &str| serde_json::from_str::<TokenAnswer>(json).unwrap().issued(Duration::from_secs(7));
        assert_eq!(answer(r#"{"access_token":"a","expires_in":60}"#).access_token.lifetime, Duration::from_secs(60));
        assert_eq!(
            answer(r#"{"access_token":"a","expires_in":" 60 "}"#).access_token.lifetime,
            Duration::from_secs(60)
        );
        assert_eq!(answer(r#"{"access_token":"a"}"#).access_token.lifetime, Duration::from_secs(7));
        assert_eq!(answer(r#"{"access_token":"a","expires_in":9999999}"#).access_token.lifetime, MAX_TOKEN_LIFETIME);
        let issued = answer(r#"{"access_token":"a","refresh_token":"r"}"#);
        assert_eq!(issued.refresh_token.map(|r| r.expose().to_owned()).as_deref(), Some("r"));
        assert_eq!(format!("{:?}", issued.access_token.token), format!("{:?}", Secret::new("x")), "redacted in Debug");
    }
}
