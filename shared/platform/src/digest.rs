//! The failure digest's two AWS parts: where it remembers what it already
//! told (one item of the connections table) and the SNS topic it tells.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use domain::{ConnectionStatus, ErpHoldKind};
use serde::{Deserialize, Serialize};

use crate::{StoreError, sdk_error_message};

/// The digest's item: a partition no connection id can take (ids have no `#`).
const PARTITION: &str = "#stack";
const ITEM: &str = "digest";

/// What the last digest covered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestState {
    /// RFC 3339 UTC (millisecond precision, as the ledger's `updated_at`):
    /// the next digest tells what changed after this.
    pub until: String,
    /// Each connection's status when it was last looked at, so a change to
    /// `needs_reauth` or `reconnect_soon` is told once.
    #[serde(default)]
    pub statuses: BTreeMap<String, ConnectionStatus>,
    /// The connections whose ERP was held then (and how), so a hold is told
    /// once, not at every renewal.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub holds: BTreeMap<String, ErpHoldKind>,
}

#[derive(Serialize, Deserialize)]
struct Item {
    connection_id: String,
    item: String,
    #[serde(flatten)]
    state: DigestState,
}

/// The digest's state, in the connections table.
#[derive(Clone)]
pub struct DigestStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DigestStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The last digest's state; `None` before the first.
    pub async fn load(&self) -> Result<Option<DigestState>, StoreError> {
        let action = "reading the failure digest's state";
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("connection_id", AttributeValue::S(PARTITION.into()))
            .key("item", AttributeValue::S(ITEM.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::new(action, sdk_error_message(&e)))?;
        let Some(item) = out.item else { return Ok(None) };
        let item: Item = serde_dynamo::from_item(item).map_err(|e| StoreError::new(action, e))?;
        Ok(Some(item.state))
    }

    /// Stores `state` if the stored one still ends at `previous_until`
    /// (`None`: none is stored): of two digests run at once, one moves the
    /// window; the other gets a conflict.
    pub async fn save(&self, state: &DigestState, previous_until: Option<&str>) -> Result<(), StoreError> {
        let action = "storing the failure digest's state";
        let item = Item { connection_id: PARTITION.into(), item: ITEM.into(), state: state.clone() };
        let item = serde_dynamo::to_item(item).map_err(|e| StoreError::new(action, e))?;
        let request = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let request = match previous_until {
            None => request.condition_expression("attribute_not_exists(connection_id)"),
            Some(until) => request
                .condition_expression("#until = :until")
                .expression_attribute_names("#until", "until")
                .expression_attribute_values(":until", AttributeValue::S(until.to_owned())),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Err(StoreError::conflict(action, "another digest ran at the same time and stored its own window"))
            }
            Err(e) => Err(StoreError::new(action, sdk_error_message(&e))),
        }
    }
}

/// An SNS topic that people (e-mail, chat, paging) subscribe to.
#[derive(Clone)]
pub struct Notifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Notifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self { client, topic_arn: topic_arn.into() }
    }

    /// Publishes one message. SNS limits: subject ≤ 100 characters, one line;
    /// message ≤ 256 KiB (both cut here rather than refused there).
    pub async fn publish(&self, subject: &str, message: &str) -> Result<(), StoreError> {
        let subject: String = subject.chars().filter(|c| !c.is_control()).take(100).collect();
        let message = domain::text::truncate_bytes(message, 250 * 1024);
        self.client.publish().topic_arn(&self.topic_arn).subject(subject).message(message).send().await.map_err(
            |e| StoreError::new(format!("publishing to SNS topic {}", self.topic_arn), sdk_error_message(&e)),
        )?;
        Ok(())
    }
}
