//! A connection's mapping, stored beside its settings in the connections
//! table (`item = "mapping"`), as the canonical YAML an operator exported
//! or imported. Only a mapping that validated as a whole is ever written.

use aws_sdk_dynamodb::{Client, types::AttributeValue};
use domain::ConnectionId;
use domain::mapping::Mapping;

use crate::{StoreError, sdk_error_message};

const MAPPING: &str = "mapping";

/// A stored mapping and its revision (incremented by every import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMapping {
    pub mapping: Mapping,
    pub revision: u64,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

#[derive(Clone)]
pub struct MappingStore {
    client: Client,
    table: String,
}

impl MappingStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub async fn get(&self, connection: &ConnectionId) -> Result<Option<StoredMapping>, StoreError> {
        let action = || format!("reading the mapping of connection {connection}");
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("connection_id", AttributeValue::S(connection.to_string()))
            .key("item", AttributeValue::S(MAPPING.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::new(action(), sdk_error_message(&e)))?;
        let Some(item) = out.item else { return Ok(None) };
        let text = item
            .get("yaml")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| StoreError::new(action(), "the item has no yaml"))?;
        // A stored mapping validated when it was imported; if the rules got
        // stricter since, say so instead of using it half-understood.
        let mapping = Mapping::from_yaml(text).map_err(|e| StoreError::new(action(), e))?;
        let revision = item.get("revision").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
        let updated_at = item.get("updated_at").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        Ok(Some(StoredMapping { mapping, revision, updated_at }))
    }

    /// Stores a validated mapping for an existing connection, replacing the
    /// previous one; returns the new revision. `expected_revision` (the one
    /// read before) refuses to overwrite a concurrent import.
    pub async fn put(
        &self,
        connection: &ConnectionId,
        mapping: &Mapping,
        expected_revision: Option<u64>,
        now: &str,
    ) -> Result<u64, StoreError> {
        let action = format!("storing the mapping of connection {connection}");
        mapping.validate().map_err(|e| StoreError::new(action.clone(), e))?;
        let revision = expected_revision.map_or(1, |r| r + 1);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("connection_id", AttributeValue::S(connection.to_string()))
            .item("item", AttributeValue::S(MAPPING.into()))
            .item("yaml", AttributeValue::S(mapping.to_yaml()))
            .item("revision", AttributeValue::N(revision.to_string()))
            .item("updated_at", AttributeValue::S(now.to_owned()));
        put = match expected_revision {
            None => put.condition_expression("attribute_not_exists(connection_id)"),
            Some(seen) => put
                .condition_expression("revision = :seen")
                .expression_attribute_values(":seen", AttributeValue::N(seen.to_string())),
        };
        put.send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) {
                StoreError::conflict(
                    action.clone(),
                    "it changed since it was read; export it again and re-apply your edit",
                )
            } else {
                StoreError::new(action.clone(), sdk_error_message(&e))
            }
        })?;
        Ok(revision)
    }
}
