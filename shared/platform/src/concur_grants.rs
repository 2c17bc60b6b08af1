//! The Concur [`GrantStore`] over AWS.
//!
//! - The grant (refresh token, its expiry, geolocation) is the connection's
//!   Concur secret `{prefix}{connection_id}/concur` in Secrets Manager,
//!   read through the [`SecretStore`] cache; `load_fresh` drops the cached
//!   copy first so a refresh always starts from what is stored now.
//! - The refresh lease is the item (`connection_id`, `lease#concur-refresh`)
//!   of the connections table, taken with a conditional put (free, lapsed,
//!   or already ours) and released with a delete conditioned on the holder.
//!   `expires_at` lets the table's TTL sweep leases nobody released.
//! - The refresh token's health goes to the connection's `settings` item:
//!   its expiry date, and the `active` ⇄ `reconnect_soon` and
//!   `needs_reauth` transitions. `pending` and `disabled` connections keep
//!   their status: an operator set it, a token refresh does not override it.
//!   Status writes are conditioned on the status read just before, so a
//!   concurrent operator change is never overwritten.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::{Client, types::AttributeValue};
use concur::tokens::{GrantStore, GrantStoreError, RefreshHealth, StoredGrant, epoch_date};
use domain::clock::{epoch_rfc3339, now_rfc3339};
use domain::{ConnectionId, ConnectionStatus};

use crate::secrets::SecretStore;
use crate::{StoreError, sdk_error_message};

const LEASE_ITEM: &str = "lease#concur-refresh";
const SETTINGS_ITEM: &str = "settings";

/// The Concur grants, refresh leases and token health of every connection.
#[derive(Clone)]
pub struct ConcurGrantStore {
    secrets: SecretStore,
    dynamodb: Client,
    table: String,
    secret_prefix: String,
    /// The app's own secret (client id and secret), read by the first token refresh that needs it.
    app_secret_id: Option<String>,
}

/// The status-related attributes of a `settings` item.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Current {
    status: ConnectionStatus,
    reason: Option<String>,
    refresh_expires_at: Option<String>,
}

/// What to write to a `settings` item (`None` = leave as is).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    status: Option<ConnectionStatus>,
    /// `Some(None)` removes the reason.
    reason: Option<Option<String>>,
    refresh_expires_at: Option<String>,
}

impl ConcurGrantStore {
    pub fn new(
        secrets: SecretStore,
        dynamodb: Client,
        connections_table: impl Into<String>,
        secret_prefix: impl Into<String>,
    ) -> Self {
        Self {
            secrets,
            dynamodb,
            table: connections_table.into(),
            secret_prefix: secret_prefix.into(),
            app_secret_id: None,
        }
    }

    /// The same store, also holding the app's credentials (the secret `app_secret_id`).
    pub fn with_app_secret(self, app_secret_id: impl Into<String>) -> Self {
        Self { app_secret_id: Some(app_secret_id.into()), ..self }
    }

    /// `{prefix}{connection_id}/concur`.
    pub fn secret_id(&self, connection: &ConnectionId) -> String {
        format!("{}{connection}/concur", self.secret_prefix)
    }

    async fn read_grant(&self, connection: &ConnectionId) -> Result<Option<StoredGrant>, GrantStoreError> {
        let id = self.secret_id(connection);
        let Some(value) = self.secrets.get_json::<serde_json::Value>(&id).await.map_err(GrantStoreError::storage)?
        else {
            return Ok(None);
        };
        StoredGrant::from_secret_json(&value)
            .map(Some)
            .map_err(|problem| GrantStoreError::Unusable { secret: id, problem })
    }

    async fn read_settings(&self, connection: &ConnectionId) -> Result<Current, StoreError> {
        let action = format!("reading the status of connection {connection}");
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("connection_id", AttributeValue::S(connection.to_string()))
            .key("item", AttributeValue::S(SETTINGS_ITEM.into()))
            .projection_expression("#status, #reason, #expiry")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#reason", "status_reason")
            .expression_attribute_names("#expiry", "concur_refresh_expires_at")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::new(&action, sdk_error_message(&e)))?;
        let Some(item) = out.item else {
            return Err(StoreError::new(action, format!("the connection does not exist in table {}", self.table)));
        };
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let raw_status = text("status").ok_or_else(|| StoreError::new(&action, "its settings item has no status"))?;
        let status = serde_json::from_value(serde_json::Value::String(raw_status.clone()))
            .map_err(|_| StoreError::new(&action, format!("unknown status `{raw_status}`")))?;
        Ok(Current { status, reason: text("status_reason"), refresh_expires_at: text("concur_refresh_expires_at") })
    }

    /// Writes `change` if the status is still `seen`; false when it was not.
    async fn apply(
        &self,
        connection: &ConnectionId,
        seen: ConnectionStatus,
        change: &Change,
    ) -> Result<bool, StoreError> {
        let mut set = vec!["#updated = :now"];
        let mut remove = Vec::new();
        let mut update = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key("connection_id", AttributeValue::S(connection.to_string()))
            .key("item", AttributeValue::S(SETTINGS_ITEM.into()))
            .condition_expression("#status = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_values(":seen", AttributeValue::S(status_name(seen)))
            .expression_attribute_values(":now", AttributeValue::S(now_rfc3339()));
        if let Some(status) = change.status {
            set.push("#status = :status");
            update = update.expression_attribute_values(":status", AttributeValue::S(status_name(status)));
        }
        match &change.reason {
            Some(Some(reason)) => {
                set.push("#reason = :reason");
                update = update
                    .expression_attribute_names("#reason", "status_reason")
                    .expression_attribute_values(":reason", AttributeValue::S(reason.clone()));
            }
            Some(None) => {
                remove.push("#reason");
                update = update.expression_attribute_names("#reason", "status_reason");
            }
            None => {}
        }
        if let Some(expiry) = &change.refresh_expires_at {
            set.push("#expiry = :expiry");
            update = update
                .expression_attribute_names("#expiry", "concur_refresh_expires_at")
                .expression_attribute_values(":expiry", AttributeValue::S(expiry.clone()));
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match update.update_expression(expression).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => {
                Err(StoreError::new(format!("updating the status of connection {connection}"), sdk_error_message(&e)))
            }
        }
    }

    /// Read, plan, write conditioned on what was read; once more if the
    /// status changed in between.
    async fn update_settings(
        &self,
        connection: &ConnectionId,
        plan: impl Fn(&Current) -> Option<Change>,
    ) -> Result<(), StoreError> {
        for _ in 0..2 {
            let current = self.read_settings(connection).await?;
            let Some(change) = plan(&current) else {
                return Ok(());
            };
            if self.apply(connection, current.status, &change).await? {
                return Ok(());
            }
        }
        Err(StoreError::conflict(
            format!("updating the status of connection {connection}"),
            "it changed concurrently twice; the next token refresh records it again",
        ))
    }
}

impl GrantStore for ConcurGrantStore {
    async fn app_credentials(&self) -> Result<Option<concur::AppCredentials>, GrantStoreError> {
        let Some(id) = &self.app_secret_id else {
            return Ok(None);
        };
        match self.secrets.get_json(id).await {
            Ok(Some(app)) => Ok(Some(app)),
            Ok(None) => Err(GrantStoreError::storage(crate::StoreError::new(
                format!("reading the Concur application secret {id}"),
                "it does not exist; create it with the client_id, client_secret and app_base_url SAP Concur issued \
                 (README, Deploy step 1)",
            ))),
            Err(e) => Err(GrantStoreError::storage(e)),
        }
    }

    async fn load(&self, connection: &ConnectionId) -> Result<Option<StoredGrant>, GrantStoreError> {
        self.read_grant(connection).await
    }

    async fn load_fresh(&self, connection: &ConnectionId) -> Result<Option<StoredGrant>, GrantStoreError> {
        self.secrets.invalidate(&self.secret_id(connection));
        self.read_grant(connection).await
    }

    async fn save(&self, connection: &ConnectionId, grant: &StoredGrant) -> Result<(), GrantStoreError> {
        let description = format!(
            "Concur refresh token of connection {connection}; written by the connector at Connect and when Concur \
             rotates it"
        );
        self.secrets
            .put_json(&self.secret_id(connection), &grant.to_secret_json(), &description)
            .await
            .map_err(GrantStoreError::storage)
    }

    async fn try_lock(&self, connection: &ConnectionId, holder: &str, ttl: Duration) -> Result<bool, GrantStoreError> {
        let now = now_ms();
        let until = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let put = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .item("connection_id", AttributeValue::S(connection.to_string()))
            .item("item", AttributeValue::S(LEASE_ITEM.into()))
            .item("holder", AttributeValue::S(holder.to_owned()))
            .item("lease_until_ms", AttributeValue::N(until.to_string()))
            // Rounded up: the TTL sweep never removes a live lease.
            .item("expires_at", AttributeValue::N((until / 1000 + 1).to_string()))
            // Free, lapsed, or ours already (a release that failed earlier).
            .condition_expression("attribute_not_exists(#cid) OR #until < :now OR #holder = :holder")
            .expression_attribute_names("#cid", "connection_id")
            .expression_attribute_names("#until", "lease_until_ms")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":holder", AttributeValue::S(holder.to_owned()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(GrantStoreError::storage(StoreError::new(
                format!("taking the refresh lease of connection {connection}"),
                sdk_error_message(&e),
            ))),
        }
    }

    async fn unlock(&self, connection: &ConnectionId, holder: &str) -> Result<(), GrantStoreError> {
        let delete = self
            .dynamodb
            .delete_item()
            .table_name(&self.table)
            .key("connection_id", AttributeValue::S(connection.to_string()))
            .key("item", AttributeValue::S(LEASE_ITEM.into()))
            .condition_expression("#holder = :holder")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_values(":holder", AttributeValue::S(holder.to_owned()))
            .send()
            .await;
        match delete {
            // Not ours any more (it lapsed and someone else took it): leave it.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(GrantStoreError::storage(StoreError::new(
                format!("releasing the refresh lease of connection {connection}"),
                sdk_error_message(&e),
            ))),
            Ok(_) => Ok(()),
        }
    }

    async fn record_refresh(&self, connection: &ConnectionId, health: &RefreshHealth) -> Result<(), GrantStoreError> {
        self.update_settings(connection, |current| plan_refresh(current, health))
            .await
            .map_err(GrantStoreError::storage)
    }

    async fn mark_needs_reconnect(&self, connection: &ConnectionId, reason: &str) -> Result<(), GrantStoreError> {
        self.update_settings(connection, |current| plan_needs_reconnect(current, reason))
            .await
            .map_err(GrantStoreError::storage)
    }
}

/// The `reconnect_soon` reason for a refresh token expiring at `expires_at`.
pub fn reconnect_soon_reason(expires_at: i64) -> String {
    format!(
        "the Concur refresh token expires on {}; an admin must click Connect in the Concur App Center before then",
        epoch_date(expires_at)
    )
}

fn plan_refresh(current: &Current, health: &RefreshHealth) -> Option<Change> {
    let expires_at = match health {
        RefreshHealth::Healthy { expires_at } => *expires_at,
        RefreshHealth::ExpiresSoon { expires_at } => Some(*expires_at),
    };
    let refresh_expires_at =
        expires_at.and_then(epoch_rfc3339).filter(|new| current.refresh_expires_at.as_deref() != Some(new.as_str()));
    let (status, reason) = match (health, current.status) {
        (RefreshHealth::ExpiresSoon { expires_at }, ConnectionStatus::Active | ConnectionStatus::ReconnectSoon) => {
            let reason = reconnect_soon_reason(*expires_at);
            let status = (current.status != ConnectionStatus::ReconnectSoon).then_some(ConnectionStatus::ReconnectSoon);
            (status, (current.reason.as_deref() != Some(reason.as_str())).then_some(Some(reason)))
        }
        (RefreshHealth::Healthy { .. }, ConnectionStatus::ReconnectSoon) => {
            (Some(ConnectionStatus::Active), Some(None))
        }
        // pending, disabled and needs_reauth keep their status and reason.
        _ => (None, None),
    };
    let change = Change { status, reason, refresh_expires_at };
    (change.status.is_some() || change.reason.is_some() || change.refresh_expires_at.is_some()).then_some(change)
}

fn plan_needs_reconnect(current: &Current, reason: &str) -> Option<Change> {
    match current.status {
        ConnectionStatus::Pending | ConnectionStatus::Disabled => None,
        ConnectionStatus::NeedsReauth if current.reason.as_deref() == Some(reason) => None,
        _ => Some(Change {
            status: (current.status != ConnectionStatus::NeedsReauth).then_some(ConnectionStatus::NeedsReauth),
            reason: Some(Some(reason.to_owned())),
            refresh_expires_at: None,
        }),
    }
}

fn status_name(status: ConnectionStatus) -> String {
    match serde_json::to_value(status) {
        Ok(serde_json::Value::String(name)) => name,
        // ConnectionStatus is a unit enum: it always serializes to a string.
        _ => format!("{status:?}").to_ascii_lowercase(),
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current(status: ConnectionStatus, reason: Option<&str>, expiry: Option<&str>) -> Current {
        Current { status, reason: reason.map(str::to_owned), refresh_expires_at: expiry.map(str::to_owned) }
    }

    // 2027-05-01T00:00:00Z
    const MAY_1: i64 = 1_809_129_600;

    #[test]
    fn expiring_soon_moves_active_to_reconnect_soon_once() {
        let soon = RefreshHealth::ExpiresSoon { expires_at: MAY_1 };
        let change = plan_refresh(&current(ConnectionStatus::Active, None, None), &soon).unwrap();
        assert_eq!(change.status, Some(ConnectionStatus::ReconnectSoon));
        let reason = change.reason.clone().flatten().unwrap();
        assert!(reason.contains("2027-05-01") && reason.contains("click Connect"), "{reason}");
        assert_eq!(change.refresh_expires_at.as_deref(), Some("2027-05-01T00:00:00Z"));
        // Already flagged with the same date: nothing to write.
        let flagged = current(ConnectionStatus::ReconnectSoon, Some(&reason), Some("2027-05-01T00:00:00Z"));
        assert_eq!(plan_refresh(&flagged, &soon), None);
    }

    #[test]
    fn healthy_moves_reconnect_soon_back_to_active_and_clears_the_reason() {
        let healthy = RefreshHealth::Healthy { expires_at: Some(MAY_1) };
        let flagged = current(ConnectionStatus::ReconnectSoon, Some("old"), Some("2026-12-01T00:00:00Z"));
        let change = plan_refresh(&flagged, &healthy).unwrap();
        assert_eq!(change.status, Some(ConnectionStatus::Active));
        assert_eq!(change.reason, Some(None));
        let steady = current(ConnectionStatus::Active, None, Some("2027-05-01T00:00:00Z"));
        assert_eq!(plan_refresh(&steady, &healthy), None, "an unchanged healthy refresh writes nothing");
        assert_eq!(plan_refresh(&steady, &RefreshHealth::Healthy { expires_at: None }), None);
    }

    #[test]
    fn pending_and_disabled_keep_their_status() {
        let soon = RefreshHealth::ExpiresSoon { expires_at: MAY_1 };
        for status in [ConnectionStatus::Pending, ConnectionStatus::Disabled, ConnectionStatus::NeedsReauth] {
            let change = plan_refresh(&current(status, Some("operator"), None), &soon).unwrap();
            assert_eq!((change.status, change.reason), (None, None), "{status:?}");
            assert!(change.refresh_expires_at.is_some());
        }
        for status in [ConnectionStatus::Pending, ConnectionStatus::Disabled] {
            assert_eq!(plan_needs_reconnect(&current(status, None, None), "revoked"), None);
        }
    }

    #[test]
    fn a_dead_grant_marks_needs_reauth_with_the_reason() {
        for status in [ConnectionStatus::Active, ConnectionStatus::ReconnectSoon] {
            let change = plan_needs_reconnect(&current(status, None, None), "revoked").unwrap();
            assert_eq!(change.status, Some(ConnectionStatus::NeedsReauth));
            assert_eq!(change.reason, Some(Some("revoked".into())));
        }
        let marked = current(ConnectionStatus::NeedsReauth, Some("revoked"), None);
        assert_eq!(plan_needs_reconnect(&marked, "revoked"), None);
    }

    #[test]
    fn status_names_are_the_stored_snake_case() {
        assert_eq!(status_name(ConnectionStatus::ReconnectSoon), "reconnect_soon");
        assert_eq!(status_name(ConnectionStatus::NeedsReauth), "needs_reauth");
    }
}
