//! The connections table: one `settings` item per connection (plus, in later
//! items of the same partition, mapping, leases and cursors). Items are
//! (de)serialized with serde_dynamo so the stored shape is the domain type.

use aws_sdk_dynamodb::{Client, types::AttributeValue};
use domain::{CompanyUuid, ConcurrencyLevel, Connection, ConnectionId};
use serde::{Deserialize, Serialize};

use crate::{StoreError, sdk_error_message};

const SETTINGS: &str = "settings";
const BY_COMPANY: &str = "by-company";

#[derive(Serialize, Deserialize)]
struct SettingsItem {
    item: String,
    #[serde(flatten)]
    connection: Connection,
}

#[derive(Clone)]
pub struct ConnectionStore {
    client: Client,
    table: String,
}

impl ConnectionStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub async fn get(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("connection_id", AttributeValue::S(id.to_string()))
            .key("item", AttributeValue::S(SETTINGS.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::new(format!("reading connection {id}"), sdk_error_message(&e)))?;
        out.item.map(|item| decode(item, id.as_str())).transpose()
    }

    /// The connection of a Concur company (webhooks name only the company).
    pub async fn find_by_company(&self, company: &CompanyUuid) -> Result<Option<Connection>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_COMPANY)
            .key_condition_expression("company_uuid = :c")
            .expression_attribute_values(":c", AttributeValue::S(company.to_string()))
            .limit(2)
            .send()
            .await
            .map_err(|e| {
                StoreError::new(format!("finding the connection of company {company}"), sdk_error_message(&e))
            })?;
        let mut items = out.items.unwrap_or_default().into_iter();
        let first = items.next().map(|i| decode(i, company.as_str())).transpose()?;
        if items.next().is_some() {
            return Err(StoreError::new(
                format!("finding the connection of company {company}"),
                "two connections claim this company; disable one with `connections update`",
            ));
        }
        Ok(first)
    }

    /// Creates the connection; fails if it exists (no silent overwrite).
    pub async fn create(&self, connection: &Connection) -> Result<(), StoreError> {
        let action = format!("creating connection {}", connection.connection_id);
        self.put_if(connection, "attribute_not_exists(connection_id)", None, action, "it already exists; use update")
            .await
    }

    /// Replaces the stored settings of an existing connection.
    pub async fn replace(&self, connection: &Connection) -> Result<(), StoreError> {
        let action = format!("updating connection {}", connection.connection_id);
        self.put_if(connection, "attribute_exists(connection_id)", None, action, "it does not exist; create it first")
            .await
    }

    /// Replaces the settings only if nobody wrote them since they were read
    /// (`updated_at` still `seen_updated_at`): an operator's update and a
    /// concurrent reconnect or token flag never silently undo each other.
    /// A `conflict` error means: read again and re-apply.
    pub async fn replace_if_unchanged(&self, connection: &Connection, seen_updated_at: &str) -> Result<(), StoreError> {
        self.put_if(
            connection,
            "attribute_exists(connection_id) AND updated_at = :seen",
            Some(seen_updated_at),
            format!("updating connection {}", connection.connection_id),
            "it changed since it was read (or was deleted); read it again and retry",
        )
        .await
    }

    /// Writes the settings item under `condition`; a failed condition is a
    /// `conflict` with `when_conflict` as its message.
    async fn put_if(
        &self,
        connection: &Connection,
        condition: &str,
        seen_updated_at: Option<&str>,
        action: String,
        when_conflict: &str,
    ) -> Result<(), StoreError> {
        let item = encode(connection)?;
        let mut put =
            self.client.put_item().table_name(&self.table).set_item(Some(item)).condition_expression(condition);
        if let Some(seen) = seen_updated_at {
            put = put.expression_attribute_values(":seen", AttributeValue::S(seen.to_owned()));
        }
        put.send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) {
                StoreError::conflict(action, when_conflict)
            } else {
                StoreError::new(action, sdk_error_message(&e))
            }
        })?;
        Ok(())
    }

    /// Whose concurrency slots this connection's documents use, and how
    /// many: its own, or the lender's when it borrows (the operator CLI
    /// refuses chains, so one hop is enough). A lender that disappeared
    /// falls back to the connection's own level, loudly.
    pub async fn slot_owner(&self, connection: &Connection) -> Result<(ConnectionId, ConcurrencyLevel), StoreError> {
        let own = (connection.connection_id.clone(), connection.concurrency_level);
        let Some(lender_id) = &connection.borrow_concurrency_from else {
            return Ok(own);
        };
        match self.get(lender_id).await? {
            Some(lender) => Ok((lender.connection_id, lender.concurrency_level)),
            None => {
                tracing::warn!(
                    connection = %connection.connection_id,
                    lender = %lender_id,
                    "borrows concurrency from a connection that does not exist; using its own level"
                );
                Ok(own)
            }
        }
    }

    /// Every connection's settings (operator listing); one malformed item
    /// fails the listing (the poller uses [`Self::list_readable`]).
    pub async fn list(&self) -> Result<Vec<Connection>, StoreError> {
        let (connections, mut unreadable) = self.list_readable().await?;
        match unreadable.pop() {
            Some(bad) => Err(bad.error),
            None => Ok(connections),
        }
    }
}

fn encode(connection: &Connection) -> Result<std::collections::HashMap<String, AttributeValue>, StoreError> {
    serde_dynamo::to_item(SettingsItem { item: SETTINGS.into(), connection: connection.clone() })
        .map_err(|e| StoreError::new(format!("encoding connection {}", connection.connection_id), e))
}

fn decode(item: std::collections::HashMap<String, AttributeValue>, key: &str) -> Result<Connection, StoreError> {
    serde_dynamo::from_item::<_, SettingsItem>(item)
        .map(|s| s.connection)
        .map_err(|e| StoreError::new(format!("reading connection {key}"), format!("the stored item is malformed: {e}")))
}

/// A `settings` item that could not be read as a connection.
#[derive(Debug)]
pub struct UnreadableConnection {
    /// Its `connection_id` attribute, or `?` when even that is missing.
    pub connection_id: String,
    pub error: StoreError,
}

/// Longest poll error kept on a connection (it is shown, not parsed).
const POLL_ERROR_LIMIT: usize = 1000;

/// Poll bookkeeping. These writes touch only the `last_poll_*` attributes,
/// never `status` or `updated_at`: a poll is not a settings change, so it
/// must not turn an operator's concurrent `connections update` into a
/// conflict. (Such an update may write back the poll fields it read; the
/// worst case is one extra poll or a stale error until the next poll.)
impl ConnectionStore {
    /// Every connection's settings, one malformed item not hiding the rest
    /// (the poller polls the others and reports the unreadable one).
    pub async fn list_readable(&self) -> Result<(Vec<Connection>, Vec<UnreadableConnection>), StoreError> {
        let mut connections = Vec::new();
        let mut unreadable = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#item = :settings")
                .expression_attribute_names("#item", "item")
                .expression_attribute_values(":settings", AttributeValue::S(SETTINGS.into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::new("listing connections", sdk_error_message(&e)))?;
            for item in out.items.unwrap_or_default() {
                let id = item.get("connection_id").and_then(|v| v.as_s().ok()).cloned().unwrap_or_else(|| "?".into());
                match decode(item, &id) {
                    Ok(connection) => connections.push(connection),
                    Err(error) => unreadable.push(UnreadableConnection { connection_id: id, error }),
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        connections.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        unreadable.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        Ok((connections, unreadable))
    }

    /// A poll read every page of every enabled type and queued every
    /// document: `last_poll_at` = `polled_at` (RFC 3339), the error cleared.
    pub async fn record_poll_success(&self, id: &ConnectionId, polled_at: &str) -> Result<(), StoreError> {
        self.update_poll_fields(
            id,
            "SET #at = :at REMOVE #error",
            &[("#at", "last_poll_at"), ("#error", "last_poll_error")],
            vec![(":at", AttributeValue::S(polled_at.to_owned()))],
        )
        .await
    }

    /// The schedule queued the connection's reference sync at `queued_at`
    /// (RFC 3339): `last_sync_queued_at`.
    pub async fn record_sync_queued(&self, id: &ConnectionId, queued_at: &str) -> Result<(), StoreError> {
        self.update_poll_fields(
            id,
            "SET #at = :at",
            &[("#at", "last_sync_queued_at")],
            vec![(":at", AttributeValue::S(queued_at.to_owned()))],
        )
        .await
    }

    /// A file was decrypted with key `fingerprint` at `at` (RFC 3339): its `last_used_at`. A key the
    /// connection does not list (put in the secret by hand) is refused, and the caller only logs it.
    pub async fn record_key_used(&self, id: &ConnectionId, fingerprint: &str, at: &str) -> Result<(), StoreError> {
        self.update_poll_fields(
            id,
            "SET #keys.#fingerprint.#used = :at",
            &[("#keys", "pgp_keys"), ("#fingerprint", fingerprint), ("#used", "last_used_at")],
            vec![(":at", AttributeValue::S(at.to_owned()))],
        )
        .await
    }

    /// Where the next poll starts (`poll_cursor`).
    pub async fn record_poll_cursor(&self, id: &ConnectionId, cursor: &domain::PollCursor) -> Result<(), StoreError> {
        let value = serde_dynamo::to_attribute_value(cursor)
            .map_err(|e| StoreError::new(format!("recording the poll cursor of connection {id}"), e))?;
        self.update_poll_fields(id, "SET #cursor = :cursor", &[("#cursor", "poll_cursor")], vec![(":cursor", value)])
            .await
    }

    /// A poll failed: `last_poll_error` = the reason, `last_poll_at` kept
    /// (the connection stays due and the next tick tries again).
    pub async fn record_poll_failure(&self, id: &ConnectionId, reason: &str) -> Result<(), StoreError> {
        let reason = domain::text::ellipsized_bytes(reason.trim(), POLL_ERROR_LIMIT);
        self.update_poll_fields(
            id,
            "SET #error = :error",
            &[("#error", "last_poll_error")],
            vec![(":error", AttributeValue::S(reason))],
        )
        .await
    }

    /// Sets (`Some`) or clears (`None`) the connection's ERP hold: the
    /// ERP refused its credentials, so documents wait in the ledger.
    pub async fn record_erp_hold(&self, id: &ConnectionId, hold: Option<&domain::ErpHold>) -> Result<(), StoreError> {
        match hold {
            Some(hold) => {
                let value = serde_dynamo::to_attribute_value(hold)
                    .map_err(|e| StoreError::new(format!("recording the ERP hold of connection {id}"), e))?;
                self.update_poll_fields(id, "SET #hold = :hold", &[("#hold", "erp_hold")], vec![(":hold", value)]).await
            }
            None => self.update_poll_fields(id, "REMOVE #hold", &[("#hold", "erp_hold")], vec![]).await,
        }
    }

    /// One more post that failed through every retry, on the connection's
    /// `Unavailable` hold (a refusal or no hold starts a new count at 1).
    /// Counted in DynamoDB (`ADD`), not from the connection a run read:
    /// one connection's documents run side by side (one per concurrency
    /// slot) and fail together when its ERP goes down. Returns the hold as
    /// stored.
    pub async fn count_erp_unavailable(
        &self,
        id: &ConnectionId,
        reason: &str,
        now: time::OffsetDateTime,
    ) -> Result<domain::ErpHold, StoreError> {
        let action = || format!("counting a failed ERP post on connection {id}");
        let fresh = domain::ErpHold::unavailable(None, reason, now);
        // The kind as the hold stores it, and the whole hold for a new count.
        let unavailable: AttributeValue =
            serde_dynamo::to_attribute_value(fresh.kind).map_err(|e| StoreError::new(action(), e))?;
        let value: AttributeValue =
            serde_dynamo::to_attribute_value(&fresh).map_err(|e| StoreError::new(action(), e))?;
        // Two tries each way: the other writer's hold exists by then.
        for _ in 0..2 {
            let counted = self
                .update_settings(id)
                .condition_expression("attribute_exists(connection_id) AND #hold.#kind = :unavailable")
                .update_expression("SET #hold.#since = :since, #hold.#reason = :reason ADD #hold.#failures :one")
                .expression_attribute_names("#hold", "erp_hold")
                .expression_attribute_names("#kind", "kind")
                .expression_attribute_names("#since", "since")
                .expression_attribute_names("#reason", "reason")
                .expression_attribute_names("#failures", "failures")
                .expression_attribute_values(":unavailable", unavailable.clone())
                .expression_attribute_values(":since", AttributeValue::S(fresh.since.clone()))
                .expression_attribute_values(":reason", AttributeValue::S(fresh.reason.clone()))
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
                .send()
                .await;
            match counted {
                Ok(out) => {
                    let hold = out.attributes.and_then(|mut item| item.remove("erp_hold")).ok_or_else(|| {
                        StoreError::new(action(), "DynamoDB returned no erp_hold after counting into it")
                    })?;
                    return serde_dynamo::from_attribute_value(hold).map_err(|e| StoreError::new(action(), e));
                }
                Err(e) if !e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                    return Err(StoreError::new(action(), sdk_error_message(&e)));
                }
                // No unavailable hold yet (none, or a refusal): start the count.
                Err(_) => {}
            }
            let started = self
                .update_settings(id)
                .condition_expression(
                    "attribute_exists(connection_id) AND (attribute_not_exists(#hold) OR #hold.#kind <> :unavailable)",
                )
                .update_expression("SET #hold = :hold")
                .expression_attribute_names("#hold", "erp_hold")
                .expression_attribute_names("#kind", "kind")
                .expression_attribute_values(":unavailable", unavailable.clone())
                .expression_attribute_values(":hold", value.clone())
                .send()
                .await;
            match started {
                Ok(_) => return Ok(fresh),
                Err(e) if !e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                    return Err(StoreError::new(action(), sdk_error_message(&e)));
                }
                // Another document started it (or the connection is gone): count into it.
                Err(_) => {}
            }
        }
        Err(StoreError::conflict(action(), "the connection no longer exists"))
    }

    /// An `UpdateItem` of the connection's settings item.
    fn update_settings(
        &self,
        id: &ConnectionId,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("connection_id", AttributeValue::S(id.to_string()))
            .key("item", AttributeValue::S(SETTINGS.into()))
    }

    async fn update_poll_fields(
        &self,
        id: &ConnectionId,
        expression: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .update_settings(id)
            // Never resurrect a deleted connection as a bare poll record.
            .condition_expression("attribute_exists(connection_id)")
            .update_expression(expression);
        for (placeholder, name) in names {
            update = update.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in values {
            update = update.expression_attribute_values(placeholder, value);
        }
        update.send().await.map_err(|e| {
            let action = format!("recording the poll of connection {id}");
            if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) {
                StoreError::conflict(action, "the connection no longer exists")
            } else {
                StoreError::new(action, sdk_error_message(&e))
            }
        })?;
        Ok(())
    }
}
