//! Secrets Manager with an in-memory TTL cache: a warm Lambda reads a
//! connection's secret once per TTL, not once per document.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use serde::{Serialize, de::DeserializeOwned};

use crate::StoreError;

/// Secret id → (read at, value).
type Cache = Arc<Mutex<HashMap<String, (Instant, Arc<String>)>>>;

#[derive(Clone)]
pub struct SecretStore {
    client: Client,
    ttl: Duration,
    cache: Cache,
}

impl SecretStore {
    pub fn new(client: Client, ttl: Duration) -> Self {
        Self { client, ttl, cache: Arc::default() }
    }

    fn cached(&self, id: &str) -> Option<Arc<String>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(id).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    fn remember(&self, id: &str, value: String) -> Arc<String> {
        let value = Arc::new(value);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(id.to_owned(), (Instant::now(), value.clone()));
        value
    }

    /// Forgets a cached value (after a write elsewhere, or a 401 that suggests rotation).
    pub fn invalidate(&self, id: &str) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    /// The secret's JSON, or `None` when it does not exist.
    pub async fn get_json<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>, StoreError> {
        let raw = match self.cached(id) {
            Some(raw) => raw,
            None => {
                let out = match self.client.get_secret_value().secret_id(id).send().await {
                    Ok(out) => out,
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                        return Ok(None);
                    }
                    Err(e) => return Err(StoreError::new(format!("reading secret {id}"), sdk_message(&e))),
                };
                let Some(s) = out.secret_string else {
                    return Err(StoreError::new(format!("reading secret {id}"), "it has no string value"));
                };
                self.remember(id, s)
            }
        };
        // Never include the secret's text in the error: only the shape problem.
        serde_json::from_str(&raw).map(Some).map_err(|e| {
            StoreError::new(
                format!("reading secret {id}"),
                format!("its JSON does not have the expected keys ({})", e.classify_str()),
            )
        })
    }

    /// Writes a secret, creating it when it does not exist yet.
    pub async fn put_json<T: Serialize>(&self, id: &str, value: &T, description: &str) -> Result<(), StoreError> {
        let text = serde_json::to_string(value).map_err(|e| StoreError::new(format!("encoding secret {id}"), e))?;
        let put = self.client.put_secret_value().secret_id(id).secret_string(&text).send().await;
        match put {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                self.client
                    .create_secret()
                    .name(id)
                    .description(description)
                    .secret_string(&text)
                    .send()
                    .await
                    .map_err(|e| StoreError::new(format!("creating secret {id}"), sdk_message(&e)))?;
            }
            Err(e) => return Err(StoreError::new(format!("writing secret {id}"), sdk_message(&e))),
        }
        self.remember(id, text);
        Ok(())
    }
}

trait ClassifyStr {
    fn classify_str(&self) -> &'static str;
}

impl ClassifyStr for serde_json::Error {
    fn classify_str(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "a key is missing or has the wrong type",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

fn sdk_message<E, R>(err: &aws_sdk_secretsmanager::error::SdkError<E, R>) -> String
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(s) => format!("{}: {}", s.code().unwrap_or("ServiceError"), s.message().unwrap_or("no message")),
        None => format!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(err)),
    }
}
