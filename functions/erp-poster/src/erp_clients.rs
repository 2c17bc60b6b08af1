//! One ERP adapter per connection, built on first use and kept for the
//! container's life (its OAuth token with it), rebuilt when the
//! connection's ERP settings change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::Secret;
use domain::{Connection, ConnectionId, ErpSettings, ErpUrl, Failure, UrlPolicy};
use erp::infor::{InforClient, IonApi, RefreshTokenNotSaved, RefreshTokenSink};
use erp::{BoxFuture, ErpAdapter};
use platform::secrets::SecretStore;
use transport::HttpClient;

/// A connection's adapter and the ERP settings it was built from (a change
/// of settings builds a new one).
type Cached = (ErpSettings, Arc<dyn ErpAdapter>);

/// What the poster needs to talk to a connection's ERP.
pub struct ErpClients {
    http: HttpClient,
    secrets: SecretStore,
    /// `<stack>/connections/`: credentials are at `<prefix><id>/erp`.
    secret_prefix: String,
    /// The deployment's address policy: stored URLs are judged by it again
    /// (they were stored under whatever policy the operator's CLI had).
    url_policy: UrlPolicy,
    cache: Mutex<HashMap<ConnectionId, Cached>>,
}

impl ErpClients {
    pub fn new(
        http: HttpClient,
        secrets: SecretStore,
        secret_prefix: impl Into<String>,
        url_policy: UrlPolicy,
    ) -> Self {
        Self { http, secrets, secret_prefix: secret_prefix.into(), url_policy, cache: Mutex::default() }
    }

    /// The client for `connection`'s ERP. Missing settings or credentials
    /// are permanent for this document (an operator must add them; then a
    /// replay posts it); a secret store outage is retryable.
    pub async fn for_connection(&self, connection: &Connection) -> Result<Arc<dyn ErpAdapter>, Failure> {
        let id = &connection.connection_id;
        let Some(settings) = connection.erp.clone() else {
            return Err(Failure::permanent(format!(
                "connection {id} has no ERP configured: set it with `connector connections update {id} --erp …`"
            )));
        };
        if let Some((cached_settings, client)) = self.lock().get(id)
            && *cached_settings == settings
        {
            return Ok(client.clone());
        }
        check_stored_url(id, settings.base_url(), "the ERP URL", "--erp-url URL", self.url_policy)?;
        let secret = format!("{}{id}/erp", self.secret_prefix);
        // The one place that looks at which ERP a connection has: Infor needs
        // its rotating refresh tokens kept and its .ionapi URLs judged; any
        // other ERP is built by `erp::adapter_for` alone. Past this, the
        // poster only sees the trait.
        let client: Arc<dyn ErpAdapter> = match &settings {
            ErpSettings::Infor(infor) => {
                let ionapi: IonApi = self.credentials(id, &secret).await?;
                for (key, url) in [("iu", &ionapi.iu), ("pu", &ionapi.pu)] {
                    let stored = ErpUrl::parse_with(url, UrlPolicy::AllowLoopbackHttp).map_err(|e| {
                        Failure::permanent(format!(
                            "connection {id}: `{key}` of the stored .ionapi file is not usable ({e}): store a \
                             corrected file with `connector connections update {id} --erp-credentials-file FILE`"
                        ))
                    })?;
                    let what = format!("`{key}` of the stored .ionapi file");
                    check_stored_url(id, Some(&stored), &what, "--erp-credentials-file FILE", self.url_policy)?;
                }
                let refresh_secret = format!("{}{id}/ion-refresh", self.secret_prefix);
                // A missing or unreadable stored token only costs a password grant.
                let stored: Option<StoredRefreshToken> = self.secrets.get_json(&refresh_secret).await.ok().flatten();
                let sink = Arc::new(SecretRefreshTokens { secrets: self.secrets.clone(), secret: refresh_secret });
                Arc::new(
                    InforClient::new(self.http.clone(), infor.clone(), ionapi)
                        .with_refresh_tokens(sink, stored.map(|s| s.refresh_token)),
                )
            }
            other => {
                let credentials: erp::StoredCredentials = self.credentials(id, &secret).await?;
                // Credentials or settings the ERP's adapter refuses stay refused until an operator corrects them.
                let adapter = erp::adapter_for(self.http.clone(), id, other, credentials).map_err(|problem| {
                    Failure::permanent(format!(
                        "setting up the ERP adapter of connection {id}: {problem}; fix: {}",
                        problem.fix
                    ))
                })?;
                Arc::from(adapter)
            }
        };
        self.lock().insert(id.clone(), (settings, client.clone()));
        Ok(client)
    }

    /// Drops the connection's client and its cached credentials: after the
    /// ERP refused them, the next document reads the secret again, so new
    /// credentials stored by an operator take effect in warm containers too.
    pub fn forget(&self, connection: &ConnectionId) {
        self.lock().remove(connection);
        self.secrets.invalidate(&format!("{}{connection}/erp", self.secret_prefix));
    }

    /// The connection's ERP credentials: missing → permanent (an operator
    /// must store them; then a replay posts), unreadable store → retryable.
    async fn credentials<T: serde::de::DeserializeOwned>(&self, id: &ConnectionId, secret: &str) -> Result<T, Failure> {
        self.secrets
            .get_json(secret)
            .await
            .map_err(|e| Failure::retryable(format!("reading the ERP credentials of connection {id}: {e}"), None))?
            .ok_or_else(|| {
                Failure::permanent(format!(
                    "connection {id} has no ERP credentials (secret {secret}): store them with \
                     `connector connections update {id} --erp-credentials-file FILE`"
                ))
            })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, Cached>> {
        // A panic elsewhere while holding the lock leaves a usable map.
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A stored URL judged again by this deployment's policy before any
/// credential is sent to it: a loopback URL written by a local CLI, or a row
/// edited by hand, must not reach a production poster's HTTP client.
fn check_stored_url(
    id: &ConnectionId,
    url: Option<&ErpUrl>,
    what: &str,
    flag: &str,
    policy: UrlPolicy,
) -> Result<(), Failure> {
    let Some(url) = url else { return Ok(()) };
    ErpUrl::parse_with(url.as_str(), policy).map(drop).map_err(|e| {
        Failure::permanent(format!(
            "connection {id}: {what} is refused ({e}); nothing was sent to it: correct it with `connector \
             connections update {id} {flag}`"
        ))
    })
}

/// Infor's rotating refresh token as stored (`<prefix><id>/ion-refresh`).
#[derive(serde::Deserialize)]
struct StoredRefreshToken {
    refresh_token: Secret,
}

/// The same for writing: `Secret` cannot be serialized by accident, so the
/// one place that stores it says so explicitly.
#[derive(serde::Serialize)]
struct RefreshTokenToStore<'a> {
    refresh_token: &'a str,
}

/// Persists every refresh token Infor rotates to, so the next container
/// starts from the newest one (refresh tokens are single-use).
struct SecretRefreshTokens {
    secrets: SecretStore,
    secret: String,
}

impl RefreshTokenSink for SecretRefreshTokens {
    fn rotated<'a>(&'a self, refresh_token: &'a Secret) -> BoxFuture<'a, Result<(), RefreshTokenNotSaved>> {
        Box::pin(async move {
            let stored = RefreshTokenToStore { refresh_token: refresh_token.expose() };
            self.secrets
                .put_json(&self.secret, &stored, "Infor ION refresh token (rotated by erp-poster)")
                .await
                .map_err(RefreshTokenNotSaved::new)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_urls_are_judged_by_the_deployment_policy() {
        let id = ConnectionId::parse("acme").unwrap();
        // What a local CLI may have stored: readable, but never used in production.
        let loopback = ErpUrl::parse_with("http://127.0.0.1:8123", UrlPolicy::AllowLoopbackHttp).unwrap();
        let failure =
            check_stored_url(&id, Some(&loopback), "the ERP URL", "--erp-url URL", UrlPolicy::PublicHttpsOnly)
                .unwrap_err();
        assert!(!failure.is_retryable(), "{failure:?}");
        assert!(failure.reason.contains("connection acme") && failure.reason.contains("--erp-url"), "{failure:?}");
        assert!(
            check_stored_url(&id, Some(&loopback), "the ERP URL", "--erp-url URL", UrlPolicy::AllowLoopbackHttp)
                .is_ok()
        );
        let public = ErpUrl::parse("https://acme.acumatica.com").unwrap();
        assert!(
            check_stored_url(&id, Some(&public), "the ERP URL", "--erp-url URL", UrlPolicy::PublicHttpsOnly).is_ok()
        );
    }
}
