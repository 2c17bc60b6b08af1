//! The company token manager: one access token per connection, refreshed
//! once, by one worker at a time.
//!
//! **Access tokens live in this process's memory only**, per connection,
//! until `refresh_margin` before they expire. They are never written
//! anywhere: Concur's guidance is to keep them in memory (auth.md §3.2), our
//! rule is that secrets never go to DynamoDB, and Secrets Manager is the
//! wrong place for a value that changes hourly in every container (its
//! writes are rate-limited account-wide and each one creates a version).
//! So Lambda containers do not *share* access tokens: each container
//! refreshes for itself, at most once an hour per connection.
//!
//! What containers must *not* do is refresh at the same moment: Concur may
//! rotate the refresh token on a refresh, and a second worker presenting the
//! consumed one gets `invalid_grant`, which looks exactly like a revoked
//! connection. Refreshes are therefore **serialised across containers** by a
//! lease in the [`GrantStore`]: take the lease, re-read the grant bypassing
//! any cache (another container may just have rotated it), refresh with it,
//! save a rotated token, release. Within one process a per-connection async
//! mutex makes concurrent tasks share a single refresh.
//!
//! The refresh and every API call use the grant's geolocation; only the
//! Quick Connect exchange and the application token use the app's base URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use domain::{ConnectionId, Secret};
use serde_json::{Value, json};

use transport::{RenewMargin, Timed, TokenCache};

use crate::app::AppCredentials;
use crate::client::{ConcurClient, ConcurError, same_base_url};
use crate::token::{TokenError, TokenResponse};

/// How often a worker waiting for another's refresh lease asks again.
const LEASE_POLL: Duration = Duration::from_millis(200);
/// Attempts to save a rotated refresh token (the old one is already dead).
const SAVE_ATTEMPTS: u32 = 3;
/// Longest access-token lifetime believed (guards the clock arithmetic).
const MAX_ACCESS_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A company access token and the datacenter it is valid at.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessToken {
    pub value: Secret,
    /// Base URL of every call made with this token.
    pub geolocation: String,
    pub expires_at: Instant,
}

impl AccessToken {
    /// The access token of a token response, timed from now.
    pub fn from_response(token: &TokenResponse) -> Self {
        let lifetime = Duration::from_secs(token.expires_in).min(MAX_ACCESS_LIFETIME);
        Self {
            value: token.access_token.clone(),
            geolocation: token.geolocation.trim().trim_end_matches('/').to_owned(),
            expires_at: Instant::now() + lifetime,
        }
    }

    /// The token with its remaining life, for the cache.
    fn timed(self) -> Timed<AccessToken> {
        let lifetime = self.expires_at.saturating_duration_since(Instant::now());
        Timed { token: self, lifetime }
    }
}

/// What the per-connection Concur secret holds (JSON keys `refresh_token`,
/// `refresh_expires_at` (epoch seconds, optional), `geolocation`).
#[derive(Debug, Clone)]
pub struct StoredGrant {
    pub refresh_token: Secret,
    pub refresh_expires_at: Option<i64>,
    pub geolocation: String,
}

impl StoredGrant {
    /// The grant to store from a token response; `None` when it carries no
    /// refresh token (an application token).
    pub fn from_token(t: &TokenResponse) -> Option<Self> {
        Some(Self {
            refresh_token: t.refresh_token.clone()?,
            refresh_expires_at: t.refresh_expires_in.and_then(|e| i64::try_from(e).ok()),
            geolocation: t.geolocation.trim().trim_end_matches('/').to_owned(),
        })
    }

    /// The secret's JSON. The only place a refresh token is exposed for storage.
    pub fn to_secret_json(&self) -> Value {
        json!({
            "refresh_token": self.refresh_token.expose(),
            "refresh_expires_at": self.refresh_expires_at,
            "geolocation": self.geolocation,
        })
    }

    /// Reads the secret's JSON. Errors name the key, never a value.
    pub fn from_secret_json(v: &Value) -> Result<Self, GrantSecretError> {
        let text = |key: &'static str| match v.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            _ => Err(GrantSecretError::MissingKey { key }),
        };
        let refresh_token = Secret::new(text("refresh_token")?);
        let geolocation = text("geolocation")?.trim_end_matches('/').to_owned();
        let refresh_expires_at = match v.get("refresh_expires_at") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_i64().ok_or(GrantSecretError::ExpiryNotWhole)?),
            Some(Value::String(s)) => Some(s.trim().parse().map_err(|_| GrantSecretError::ExpiryNotSeconds)?),
            Some(_) => return Err(GrantSecretError::ExpiryNotSeconds),
        };
        Ok(Self { refresh_token, refresh_expires_at, geolocation })
    }

    /// This grant after a refresh answered `t`: Concur may change the refresh
    /// token and geolocation; the newest values win (auth.md §4).
    fn after_refresh(&self, t: &TokenResponse) -> Self {
        let geolocation = t.geolocation.trim().trim_end_matches('/');
        Self {
            refresh_token: t.refresh_token.clone().unwrap_or_else(|| self.refresh_token.clone()),
            refresh_expires_at: t.refresh_expires_in.and_then(|e| i64::try_from(e).ok()).or(self.refresh_expires_at),
            geolocation: if geolocation.is_empty() { self.geolocation.clone() } else { geolocation.to_owned() },
        }
    }

    /// Whether storing `self` over `stored` changes what matters: the token or
    /// the datacenter (the expiry alone is recorded on the connection instead).
    fn differs_from(&self, stored: &StoredGrant) -> bool {
        self.refresh_token != stored.refresh_token || !same_base_url(&self.geolocation, &stored.geolocation)
    }
}

/// Why a stored grant secret cannot be used. Names the key, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantSecretError {
    #[error("the Concur grant secret has no non-empty string `{key}`")]
    MissingKey { key: &'static str },
    #[error("the Concur grant secret's `refresh_expires_at` is not whole epoch seconds")]
    ExpiryNotWhole,
    #[error("the Concur grant secret's `refresh_expires_at` is not epoch seconds")]
    ExpiryNotSeconds,
}

/// A failed [`GrantStore`] operation, worded for an operator.
#[derive(Debug, thiserror::Error)]
pub enum GrantStoreError {
    /// The stored grant is there but cannot be used.
    #[error("reading secret {secret}: {problem}; an admin must click Connect in the Concur App Center again")]
    Unusable {
        secret: String,
        #[source]
        problem: GrantSecretError,
    },
    /// The storage behind the store failed; its error says what was being done.
    #[error(transparent)]
    Storage(Box<dyn std::error::Error + Send + Sync>),
}

impl GrantStoreError {
    pub fn storage(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        GrantStoreError::Storage(Box::new(error))
    }
}

/// The refresh token's remaining life, recorded after each refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshHealth {
    /// Not expiring within `flag_before` (or Concur did not say when).
    Healthy { expires_at: Option<i64> },
    /// Expires within `flag_before`: an admin must reconnect before `expires_at` (epoch seconds).
    ExpiresSoon { expires_at: i64 },
}

/// Storage behind the manager, implemented over AWS in `platform` (and in
/// memory in unit tests). Errors are worded for an operator.
pub trait GrantStore: Send + Sync {
    /// The stored grant; may use a cache.
    fn load(
        &self,
        connection: &ConnectionId,
    ) -> impl Future<Output = Result<Option<StoredGrant>, GrantStoreError>> + Send;
    /// The stored grant, bypassing any cache.
    fn load_fresh(
        &self,
        connection: &ConnectionId,
    ) -> impl Future<Output = Result<Option<StoredGrant>, GrantStoreError>> + Send;
    fn save(
        &self,
        connection: &ConnectionId,
        grant: &StoredGrant,
    ) -> impl Future<Output = Result<(), GrantStoreError>> + Send;
    /// Cross-process single flight: true when this holder now owns the refresh lease for `ttl`.
    fn try_lock(
        &self,
        connection: &ConnectionId,
        holder: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, GrantStoreError>> + Send;
    fn unlock(
        &self,
        connection: &ConnectionId,
        holder: &str,
    ) -> impl Future<Output = Result<(), GrantStoreError>> + Send;
    /// After each successful refresh: record the refresh token's expiry on the connection and flag it when it expires soon.
    fn record_refresh(
        &self,
        connection: &ConnectionId,
        health: &RefreshHealth,
    ) -> impl Future<Output = Result<(), GrantStoreError>> + Send;
    /// invalid_grant on refresh: status NeedsReauth with the reason.
    fn mark_needs_reconnect(
        &self,
        connection: &ConnectionId,
        reason: &str,
    ) -> impl Future<Output = Result<(), GrantStoreError>> + Send;
    /// The app's own credentials, for a manager built with [`TokenManager::app_on_demand`]; `None` when the
    /// store does not hold them.
    fn app_credentials(&self) -> impl Future<Output = Result<Option<AppCredentials>, GrantStoreError>> + Send {
        async { Ok(None) }
    }
}

/// Timing of the token manager.
#[derive(Debug, Clone)]
pub struct TokenOptions {
    /// Refresh this long before the access token expires (5 min).
    pub refresh_margin: Duration,
    /// How long a refresh lease is held at most (30 s). Must exceed a token
    /// call's worst case (≈25 s, see the client) or a slow refresh could
    /// outlive its lease.
    pub lease_ttl: Duration,
    /// How long to wait for another worker's lease before giving up with a
    /// retryable error (20 s).
    pub lease_wait: Duration,
    /// Flag the connection `reconnect_soon` when the refresh token expires
    /// within this (30 days).
    pub flag_before: time::Duration,
}

impl Default for TokenOptions {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::from_secs(5 * 60),
            lease_ttl: Duration::from_secs(30),
            lease_wait: Duration::from_secs(20),
            flag_before: time::Duration::days(30),
        }
    }
}

/// One connection's cached token: renewed `refresh_margin` before it
/// expires, one refresh at a time.
type Slot = TokenCache<AccessToken>;

/// Company access tokens for many connections. Build one per process (cold
/// start) and share it (`Arc`) between tasks.
pub struct TokenManager<S> {
    client: ConcurClient,
    /// Given, or read from the store by the first refresh ([`TokenManager::app_on_demand`]).
    app: tokio::sync::OnceCell<AppCredentials>,
    store: S,
    options: TokenOptions,
    /// This process's name on refresh leases.
    holder: String,
    slots: Mutex<HashMap<ConnectionId, Arc<Slot>>>,
}

impl<S: GrantStore> TokenManager<S> {
    pub fn new(client: ConcurClient, app: AppCredentials, store: S, options: TokenOptions) -> Self {
        Self::with_app(client, tokio::sync::OnceCell::new_with(Some(app)), store, options)
    }

    /// A manager that reads the app's credentials from the store when a refresh first needs them: a function's
    /// cold start does not wait on the secret read, and an invocation that refreshes no token never makes it.
    pub fn app_on_demand(client: ConcurClient, store: S, options: TokenOptions) -> Self {
        Self::with_app(client, tokio::sync::OnceCell::new(), store, options)
    }

    fn with_app(
        client: ConcurClient,
        app: tokio::sync::OnceCell<AppCredentials>,
        store: S,
        options: TokenOptions,
    ) -> Self {
        Self {
            client,
            app,
            store,
            options,
            holder: format!("token-manager-{}", uuid::Uuid::new_v4()),
            slots: Mutex::default(),
        }
    }

    pub fn client(&self) -> &ConcurClient {
        &self.client
    }

    /// The app's credentials, read from the store the first time (boxed: a rare path that would otherwise
    /// deepen every refresh's future type).
    pub async fn app(&self) -> Result<&AppCredentials, ConcurError> {
        self.app
            .get_or_try_init(|| {
                Box::pin(async {
                    match self.store.app_credentials().await {
                        Ok(Some(app)) => Ok(app),
                        Ok(None) => Err(ConcurError::Store(
                            "the Concur app credentials (client id and secret) are not configured: set the app secret \
                         (README, Deploy) and the work is retried"
                                .into(),
                        )),
                        Err(e) => Err(ConcurError::Store(format!("reading the Concur app credentials: {e}"))),
                    }
                })
            })
            .await
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    fn slot(&self, connection: &ConnectionId) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let margin = RenewMargin::Fixed(self.options.refresh_margin);
        slots.entry(connection.clone()).or_insert_with(|| Arc::new(TokenCache::new(margin))).clone()
    }

    /// Cache the access token a Quick Connect just obtained (no extra refresh).
    pub fn seed(&self, connection: &ConnectionId, token: &TokenResponse) {
        self.slot(connection).store(AccessToken::from_response(token).timed());
    }

    /// A usable access token for the connection: the cached one, or one
    /// refresh shared by every task of this process that needs it.
    pub async fn access_token(&self, connection: &ConnectionId) -> Result<AccessToken, ConcurError> {
        let slot = self.slot(connection);
        slot.get_or_renew(|| self.refresh_into(&slot, connection)).await
    }

    /// Runs `call` with a token; on [`ConcurError::Unauthorized`] drops that
    /// token, refreshes once (or takes the token another task already got)
    /// and retries once.
    pub async fn with_token<T, F, Fut>(&self, connection: &ConnectionId, call: F) -> Result<T, ConcurError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, ConcurError>>,
    {
        let slot = self.slot(connection);
        let rejected = |outcome: &Result<T, ConcurError>| {
            let refused = matches!(outcome, Err(ConcurError::Unauthorized));
            if refused {
                tracing::info!(connection = %connection, "Concur refused the access token; refreshing once and retrying");
            }
            refused
        };
        slot.with_token(|| self.refresh_into(&slot, connection), call, rejected).await
    }

    /// Refreshes under the cross-process lease; the new token is cached even
    /// when saving a rotated refresh token fails. The caller holds the
    /// slot's single flight.
    async fn refresh_into(&self, slot: &Slot, connection: &ConnectionId) -> Result<Timed<AccessToken>, ConcurError> {
        // Fail fast, without a lease, for a connection that was never connected.
        let stored = self
            .store
            .load(connection)
            .await
            .map_err(|e| ConcurError::Store(format!("reading the Concur grant of connection {connection}: {e}")))?;
        if stored.is_none() {
            return Err(ConcurError::NotConnected { connection: connection.to_string() });
        }
        self.take_lease(connection).await?;
        let outcome = self.refresh_leased(slot, connection).await;
        if let Err(e) = self.store.unlock(connection, &self.holder).await {
            tracing::warn!(connection = %connection, error = %e,
                "releasing the Concur refresh lease failed; it lapses by itself after its TTL");
        }
        outcome
    }

    async fn take_lease(&self, connection: &ConnectionId) -> Result<(), ConcurError> {
        let deadline = Instant::now() + self.options.lease_wait;
        loop {
            match self.store.try_lock(connection, &self.holder, self.options.lease_ttl).await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => {
                    return Err(ConcurError::Store(format!(
                        "taking the Concur refresh lease of connection {connection}: {e}"
                    )));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ConcurError::Store(format!(
                    "another worker held the Concur refresh lease of connection {connection} for more than {} s; \
                     the work is retried shortly",
                    self.options.lease_wait.as_secs_f32()
                )));
            }
            tokio::time::sleep(LEASE_POLL.min(deadline - now)).await;
        }
    }

    /// The refresh itself, lease held.
    async fn refresh_leased(&self, slot: &Slot, connection: &ConnectionId) -> Result<Timed<AccessToken>, ConcurError> {
        let mut grant = self.load_fresh(connection).await?;
        let app = self.app().await?;
        let mut reread = false;
        let token = loop {
            match self.client.refresh(app, &grant.geolocation, &grant.refresh_token).await {
                Ok(token) => break token,
                Err(ConcurError::Grant(refusal)) if refusal.needs_reconnect() => {
                    // A worker whose lease lapsed mid-refresh may have rotated
                    // the token under us: try the newest stored one once before
                    // declaring the connection dead.
                    if !reread {
                        reread = true;
                        let latest = self.load_fresh(connection).await?;
                        if latest.refresh_token != grant.refresh_token {
                            grant = latest;
                            continue;
                        }
                    }
                    return Err(self.dead_grant(connection, &refusal).await);
                }
                Err(e) => return Err(e),
            }
        };

        let access = AccessToken::from_response(&token);
        slot.store(access.clone().timed());
        let updated = grant.after_refresh(&token);
        let saved = if updated.differs_from(&grant) { self.save(connection, &updated).await } else { Ok(()) };
        self.record_health(connection, updated.refresh_expires_at).await;
        tracing::info!(connection = %connection, geolocation = %access.geolocation, rotated = updated.differs_from(&grant),
            "Concur access token refreshed");
        saved.map(|()| access.timed())
    }

    async fn load_fresh(&self, connection: &ConnectionId) -> Result<StoredGrant, ConcurError> {
        self.store
            .load_fresh(connection)
            .await
            .map_err(|e| ConcurError::Store(format!("reading the Concur grant of connection {connection}: {e}")))?
            .ok_or_else(|| ConcurError::NotConnected { connection: connection.to_string() })
    }

    /// Saves a rotated grant, retrying: the previous refresh token may already be dead.
    async fn save(&self, connection: &ConnectionId, grant: &StoredGrant) -> Result<(), ConcurError> {
        let mut attempt = 1;
        let last = loop {
            match self.store.save(connection, grant).await {
                Ok(()) => return Ok(()),
                Err(_) if attempt < SAVE_ATTEMPTS => {
                    tokio::time::sleep(LEASE_POLL * attempt).await;
                    attempt += 1;
                }
                Err(e) => break e,
            }
        };
        tracing::error!(connection = %connection, error = %last,
            "Concur issued a new refresh token but saving it failed; the next refresh will be refused");
        Err(ConcurError::Store(format!(
            "saving the new Concur refresh token of connection {connection} failed ({last}); this container keeps \
             its access token for now, but once it expires an admin will likely have to click Connect again"
        )))
    }

    /// Records the refresh token's expiry on the connection; bookkeeping
    /// failures are logged, not returned (the token itself is fine).
    async fn record_health(&self, connection: &ConnectionId, expires_at: Option<i64>) {
        let health = health_of(expires_at, epoch_now(), self.options.flag_before);
        if let RefreshHealth::ExpiresSoon { expires_at } = health {
            tracing::warn!(connection = %connection, expires_on = %epoch_date(expires_at),
                "the Concur refresh token expires soon; an admin must click Connect in the Concur App Center before then");
        }
        if let Err(e) = self.store.record_refresh(connection, &health).await {
            tracing::warn!(connection = %connection, error = %e, "recording the Concur refresh token's expiry failed");
        }
    }

    /// invalid_grant on refresh: flag the connection and say so.
    async fn dead_grant(&self, connection: &ConnectionId, refusal: &TokenError) -> ConcurError {
        let reason = format!(
            "Concur refused the refresh token ({}{}); an admin must click Connect in the Concur App Center again",
            refusal.error_description.as_deref().unwrap_or(&refusal.error),
            refusal.code.map(|c| format!(", code {c}")).unwrap_or_default(),
        );
        tracing::warn!(connection = %connection, reason = %reason, "Concur grant is dead");
        if let Err(e) = self.store.mark_needs_reconnect(connection, &reason).await {
            tracing::error!(connection = %connection, error = %e, "marking the connection needs_reauth failed");
        }
        ConcurError::NeedsReconnect { connection: connection.to_string(), reason }
    }
}

fn health_of(expires_at: Option<i64>, now: i64, flag_before: time::Duration) -> RefreshHealth {
    match expires_at {
        Some(at) if at.saturating_sub(now) <= flag_before.whole_seconds() => {
            RefreshHealth::ExpiresSoon { expires_at: at }
        }
        other => RefreshHealth::Healthy { expires_at: other },
    }
}

fn epoch_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// `2027-05-01` for an epoch, or the number itself when out of range.
pub fn epoch_date(epoch_seconds: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(epoch_seconds) {
        Ok(t) => t.date().to_string(),
        Err(_) => format!("epoch {epoch_seconds}"),
    }
}

#[cfg(test)]
mod tests;
