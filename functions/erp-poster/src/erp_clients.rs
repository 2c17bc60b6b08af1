//! One ERP client per connection, built on first use and kept for the
//! container's life (its OAuth token with it), rebuilt when the
//! connection's ERP settings change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::{Connection, ConnectionId, ErpDocument, ErpSettings, Failure};
use erp::acumatica::{AcumaticaClient, AcumaticaCredentials, PostingOptions};
use erp::{ErpAdapter, ErpReference};
use platform::secrets::SecretStore;
use transport::HttpClient;

/// The ERP of one connection, whichever it is.
pub enum ErpClient {
    Acumatica(AcumaticaClient),
}

impl ErpClient {
    pub async fn post(&self, document: &ErpDocument) -> Result<ErpReference, Failure> {
        match self {
            ErpClient::Acumatica(client) => client.post(document).await,
        }
    }
}

/// What the poster needs to talk to a connection's ERP.
pub struct ErpClients {
    http: HttpClient,
    secrets: SecretStore,
    /// `<stack>/connections/`: credentials are at `<prefix><id>/erp`.
    secret_prefix: String,
    cache: Mutex<HashMap<ConnectionId, (ErpSettings, Arc<ErpClient>)>>,
}

impl ErpClients {
    pub fn new(http: HttpClient, secrets: SecretStore, secret_prefix: impl Into<String>) -> Self {
        Self { http, secrets, secret_prefix: secret_prefix.into(), cache: Mutex::default() }
    }

    /// The client for `connection`'s ERP. Missing settings or credentials
    /// are permanent for this document (an operator must add them; then a
    /// replay posts it); a secret store outage is retryable.
    pub async fn for_connection(&self, connection: &Connection) -> Result<Arc<ErpClient>, Failure> {
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
        let secret = format!("{}{id}/erp", self.secret_prefix);
        let client = match &settings {
            ErpSettings::Acumatica(acumatica) => {
                let credentials: AcumaticaCredentials = self
                    .secrets
                    .get_json(&secret)
                    .await
                    .map_err(|e| {
                        Failure::retryable(format!("reading the ERP credentials of connection {id}: {e}"), None)
                    })?
                    .ok_or_else(|| {
                        Failure::permanent(format!(
                            "connection {id} has no ERP credentials (secret {secret}): store them with \
                             `connector connections update {id} --erp-credentials-file FILE`"
                        ))
                    })?;
                let posting = PostingOptions { release: false, journal_key_field: Default::default() };
                ErpClient::Acumatica(
                    AcumaticaClient::new(self.http.clone(), acumatica.clone(), credentials).with_posting(posting),
                )
            }
            other => {
                return Err(Failure::permanent(format!(
                    "connection {id} posts to {:?}, whose adapter is not part of this build yet",
                    other.kind()
                )));
            }
        };
        let client = Arc::new(client);
        self.lock().insert(id.clone(), (settings, client.clone()));
        Ok(client)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, (ErpSettings, Arc<ErpClient>)>> {
        // A panic elsewhere while holding the lock leaves a usable map.
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
