//! The audit table: append-only events per document (and per connection for
//! events that concern no single document), kept for a configurable time.

use aws_sdk_dynamodb::{Client, types::AttributeValue};
use serde::{Deserialize, Serialize};

use crate::{StoreError, sdk_error_message};

/// The connection id under which webhooks that reached no connection
/// (malformed, unknown company) are filed; no connection may be named so.
pub const UNROUTED: &str = "unrouted";

const EVENT_TIME: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");

/// One audit event. Never holds a secret or a document body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// `{connection}#{doctype}#{docid}` for documents, `{connection}#connection` otherwise.
    pub document_ref: String,
    /// `{RFC 3339 time}#{unique suffix}`: sorts by time, never collides.
    pub event_key: String,
    pub connection_id: String,
    /// What happened: received, claimed, fetched, posted, failed, connected…
    pub step: String,
    /// ok | failed | skipped | duplicate
    pub outcome: String,
    /// Which function recorded it.
    pub function: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp_reference: Option<String>,
    /// Epoch seconds when DynamoDB's TTL may delete the event.
    pub expires_at: i64,
}

#[derive(Clone)]
pub struct AuditLog {
    client: Client,
    table: String,
    retention_days: i64,
    function: String,
}

impl AuditLog {
    pub fn new(client: Client, table: impl Into<String>, retention_days: i64, function: impl Into<String>) -> Self {
        Self { client, table: table.into(), retention_days, function: function.into() }
    }

    /// Builds an event stamped now, with this log's function and retention.
    pub fn event(&self, connection_id: &str, subject: &str, step: &str, outcome: &str) -> AuditEvent {
        let now = time::OffsetDateTime::now_utc();
        // Fixed-width fraction: event keys must sort as text in time order
        // (RFC 3339's variable fraction puts `…:00Z` after `…:00.1Z`).
        let stamp = now.format(EVENT_TIME).unwrap_or_default();
        AuditEvent {
            document_ref: format!("{connection_id}#{subject}"),
            event_key: format!("{stamp}#{}", uuid::Uuid::new_v4().simple()),
            connection_id: connection_id.to_owned(),
            step: step.to_owned(),
            outcome: outcome.to_owned(),
            function: self.function.clone(),
            detail: None,
            erp_reference: None,
            expires_at: now.unix_timestamp() + self.retention_days * 86_400,
        }
    }

    pub async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(event).map_err(|e| StoreError::new("encoding an audit event", e))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(event_key)")
            .send()
            .await
            .map_err(|e| {
                StoreError::new(
                    format!("recording audit event {} for {}", event.step, event.document_ref),
                    sdk_error_message(&e),
                )
            })?;
        Ok(())
    }

    /// Records several events in as few calls as DynamoDB allows (BatchWriteItem, 25 a call): one document's
    /// run writes its trail at once. Event keys are unique, so no condition is needed.
    pub async fn record_all(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let items = events
            .iter()
            .map(|event| serde_dynamo::to_item(event).map_err(|e| StoreError::new("encoding an audit event", e)))
            .collect::<Result<Vec<_>, _>>()?;
        let subject = events.first().map(|event| event.document_ref.as_str()).unwrap_or_default();
        crate::batch_put(&self.client, &self.table, items, &|| {
            format!("recording {} audit events for {subject}", events.len())
        })
        .await
    }

    /// A document's (or connection's) history, oldest first.
    pub async fn history(&self, document_ref: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let mut events = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("document_ref = :d")
                .expression_attribute_values(":d", AttributeValue::S(document_ref.to_owned()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| {
                    StoreError::new(format!("reading the history of {document_ref}"), sdk_error_message(&e))
                })?;
            for item in out.items.unwrap_or_default() {
                events.push(serde_dynamo::from_item(item).map_err(|e| StoreError::new("decoding an audit event", e))?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(events);
            }
        }
    }
}
