//! The reference table: the state of each reference sync (issue 14), one
//! partition per connection and kind (`sync_id` = `<connection>#<kind>`).
//!
//! ```text
//! record_key "state"    the run: cursor, lease (holder, until), last run's counts, refused records
//! record_key "r#<key>"  one per record written: content hash, active, rank
//! ```
//!
//! A run takes the lease on `state` with a conditional write (two runs of
//! one sync never overlap), reads the known records it needs (by key for a
//! changed-since read, the whole partition for a full one), writes to the
//! target, stores each record's new hash as it goes, and only then moves
//! the cursor and gives the lease back. A run cut off anywhere leaves the
//! cursor where it was: the next run reads the same window again, and the
//! hashes already stored make it write only what the cut-off run had not.
//! Items hold keys, hashes, counts and bounded reasons, never record bodies
//! or secrets.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::ConnectionId;
use domain::reference::{ContentHash, KnownRecord, Refusal, SyncPartition};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{StoreError, sdk_error_message};

const STATE: &str = "state";
const RECORD_PREFIX: &str = "r#";
/// Refusals kept on the state item (the rest are counted): DynamoDB items
/// hold 400 KB.
pub const REFUSALS_KEPT: usize = 200;
const REASON_LIMIT: usize = 500;

/// What one run did, for `connector sync status` and the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub read: u64,
    pub written: u64,
    pub deactivated: u64,
    pub unchanged: u64,
    pub refused: u64,
}

/// The state of one sync (connection and kind).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// RFC 3339 UTC: the start of the last run that finished; the next run
    /// reads what changed after it (less the overlap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_at: Option<String>,
    /// RFC 3339 UTC: the start of the last finished run that read
    /// everything (the only read that finds deletes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_full_run_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunCounts>,
    /// Why the last run stopped, if it did (a target or source error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Records the target could not hold in the last run, with the reason
    /// (at most [`REFUSALS_KEPT`]); retried on every run until fixed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refusal>,
    /// What the last dry run (`connector sync run --dry-run`) would have done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_dry_run: Option<DryRun>,
}

/// A run that planned and wrote nothing: what it would write, deactivate
/// and refuse, against what Concur last got from us.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRun {
    /// RFC 3339 UTC.
    pub at: String,
    /// `written` and `deactivated` are what a real run would do now.
    pub would: RunCounts,
    /// The records it would refuse (at most [`REFUSALS_KEPT`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refusal>,
}

/// The lease a run holds on its sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncLease {
    pub holder: String,
    pub state: SyncState,
}

pub struct ReferenceStore {
    client: Client,
    table: String,
}

impl ReferenceStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The state of a sync, `None` before its first run.
    pub async fn state(
        &self,
        connection: &ConnectionId,
        kind: impl SyncPartition,
    ) -> Result<Option<SyncState>, StoreError> {
        let action = || format!("reading the {} sync state of connection {connection}", kind.as_str());
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("sync_id", sync_id(connection, kind))
            .key("record_key", AttributeValue::S(STATE.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::new(action(), sdk_error_message(&e)))?;
        out.item.map(|item| state_of(&item, &action)).transpose()
    }

    /// Takes the sync's lease for `ttl` (a run in progress elsewhere, with
    /// its lease not yet lapsed, is a conflict: the caller lets it finish).
    pub async fn lease(
        &self,
        connection: &ConnectionId,
        kind: impl SyncPartition,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<SyncLease, StoreError> {
        let action = || format!("starting the {} sync of connection {connection}", kind.as_str());
        let until = now + ttl;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("sync_id", sync_id(connection, kind))
            .key("record_key", AttributeValue::S(STATE.into()))
            .condition_expression("attribute_not_exists(#until) OR #until <= :now")
            .update_expression("SET #holder = :holder, #until = :until")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_names("#until", "lease_until")
            .expression_attribute_values(":holder", AttributeValue::S(holder.to_owned()))
            .expression_attribute_values(":until", AttributeValue::N(until.unix_timestamp().to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.unix_timestamp().to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) {
                    StoreError::conflict(
                        action(),
                        "another run of this sync is in progress; it finishes or its lease lapses",
                    )
                } else {
                    StoreError::new(action(), sdk_error_message(&e))
                }
            })?;
        let item = out.attributes.unwrap_or_default();
        let state = state_of(&item, &action)?;
        Ok(SyncLease { holder: holder.to_owned(), state })
    }

    /// Ends a run: stores `state` (the new cursor, counts and refusals) and
    /// gives the lease back, if `holder` still holds it.
    pub async fn finish(
        &self,
        connection: &ConnectionId,
        kind: impl SyncPartition,
        holder: &str,
        state: &SyncState,
    ) -> Result<(), StoreError> {
        let action = || format!("recording the {} sync run of connection {connection}", kind.as_str());
        let mut state = state.clone();
        let refused_total = state.refused.len();
        bound_refusals(&mut state.refused);
        if let Some(dry) = state.last_dry_run.as_mut() {
            bound_refusals(&mut dry.refused);
        }
        if refused_total > REFUSALS_KEPT {
            tracing::warn!(%connection, kind = kind.as_str(), refused_total, "only the first refusals are kept");
        }
        let value = serde_dynamo::to_attribute_value(&state).map_err(|e| StoreError::new(action(), e))?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("sync_id", sync_id(connection, kind))
            .key("record_key", AttributeValue::S(STATE.into()))
            .condition_expression("#holder = :holder")
            .update_expression("SET #state = :state REMOVE #holder, #until")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_names("#until", "lease_until")
            .expression_attribute_names("#state", "sync")
            .expression_attribute_values(":holder", AttributeValue::S(holder.to_owned()))
            .expression_attribute_values(":state", value)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) {
                    StoreError::conflict(action(), "the run's lease lapsed and another run took over")
                } else {
                    StoreError::new(action(), sdk_error_message(&e))
                }
            })?;
        Ok(())
    }

    /// What the target last got for `keys` (absent keys: never written).
    pub async fn known(
        &self,
        connection: &ConnectionId,
        kind: impl SyncPartition,
        keys: &[String],
    ) -> Result<HashMap<String, KnownRecord>, StoreError> {
        let action = || format!("reading the {} sync records of connection {connection}", kind.as_str());
        let mut unique: Vec<&String> = keys.iter().collect();
        unique.sort();
        unique.dedup();
        let keys = unique
            .into_iter()
            .map(|key| {
                HashMap::from([
                    ("sync_id".to_owned(), sync_id(connection, kind)),
                    ("record_key".to_owned(), AttributeValue::S(format!("{RECORD_PREFIX}{key}"))),
                ])
            })
            .collect();
        let mut known = HashMap::new();
        for item in crate::batch_get(&self.client, &self.table, keys, None, &action).await? {
            let (key, record) = known_of(&item, &action)?;
            known.insert(key, record);
        }
        Ok(known)
    }

    /// Everything the target got for this sync (a full read compares
    /// against it to find records deleted in the source).
    pub async fn known_all(
        &self,
        connection: &ConnectionId,
        kind: impl SyncPartition,
    ) -> Result<HashMap<String, KnownRecord>, StoreError> {
        let action = || format!("reading every {} sync record of connection {connection}", kind.as_str());
        let mut known = HashMap::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("sync_id = :id AND begins_with(record_key, :prefix)")
                .expression_attribute_values(":id", sync_id(connection, kind))
                .expression_attribute_values(":prefix", AttributeValue::S(RECORD_PREFIX.into()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::new(action(), sdk_error_message(&e)))?;
            for item in out.items.unwrap_or_default() {
                let (key, record) = known_of(&item, &action)?;
                known.insert(key, record);
            }
            match out.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(known),
            }
        }
    }

    /// The target now holds `record` for `key` (written, or deactivated).
    pub async fn remember(
        &self,
        connection: &ConnectionId,
        kind: impl SyncPartition,
        key: &str,
        record: &KnownRecord,
    ) -> Result<(), StoreError> {
        let action = || format!("recording {} record `{key}` of connection {connection}", kind.as_str());
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(connection, kind, key, record)))
            .send()
            .await
            .map_err(|e| StoreError::new(action(), sdk_error_message(&e)))?;
        Ok(())
    }

    /// [`Self::remember`] for many records: 25 per call (a chunk of
    /// records written to the target costs a few calls, not one each).
    pub async fn remember_many(
        &self,
        connection: &ConnectionId,
        kind: impl SyncPartition,
        records: &[(String, KnownRecord)],
    ) -> Result<(), StoreError> {
        let action = || format!("recording {} {} records of connection {connection}", records.len(), kind.as_str());
        let items = records.iter().map(|(key, record)| record_item(connection, kind, key, record)).collect();
        crate::batch_put(&self.client, &self.table, items, &action).await
    }
}

/// The item that remembers one record.
fn record_item(
    connection: &ConnectionId,
    kind: impl SyncPartition,
    key: &str,
    record: &KnownRecord,
) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("sync_id".to_owned(), sync_id(connection, kind)),
        ("record_key".to_owned(), AttributeValue::S(format!("{RECORD_PREFIX}{key}"))),
        ("hash".to_owned(), AttributeValue::S(record.hash.as_str().to_owned())),
        ("active".to_owned(), AttributeValue::Bool(record.active)),
        ("rank".to_owned(), AttributeValue::N(record.rank.to_string())),
    ]);
    if let Some(state) = &record.state {
        item.insert("state".to_owned(), AttributeValue::S(state.clone()));
    }
    if let Some(id) = &record.target_id {
        item.insert("target_id".to_owned(), AttributeValue::S(id.clone()));
    }
    item
}

/// At most [`REFUSALS_KEPT`] refusals, each reason bounded (items hold 400 KB).
fn bound_refusals(refused: &mut Vec<Refusal>) {
    refused.truncate(REFUSALS_KEPT);
    for refusal in refused {
        refusal.reason = domain::text::truncate(&refusal.reason, REASON_LIMIT).to_owned();
    }
}

fn sync_id(connection: &ConnectionId, kind: impl SyncPartition) -> AttributeValue {
    AttributeValue::S(format!("{connection}#{}", kind.as_str()))
}

fn state_of(item: &HashMap<String, AttributeValue>, action: &dyn Fn() -> String) -> Result<SyncState, StoreError> {
    match item.get("sync") {
        Some(value) => serde_dynamo::from_attribute_value(value.clone()).map_err(|e| {
            StoreError::new(
                action(),
                format!("the stored sync state cannot be read ({e}); delete the `state` item to start afresh"),
            )
        }),
        None => Ok(SyncState::default()),
    }
}

fn known_of(
    item: &HashMap<String, AttributeValue>,
    action: &dyn Fn() -> String,
) -> Result<(String, KnownRecord), StoreError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let malformed = |why: String| StoreError::new(action(), why);
    let key = text("record_key")
        .and_then(|k| k.strip_prefix(RECORD_PREFIX).map(str::to_owned))
        .ok_or_else(|| malformed("a sync record without its key".into()))?;
    let hash = text("hash").ok_or_else(|| malformed(format!("sync record `{key}` has no hash")))?;
    let active = item.get("active").and_then(|v| v.as_bool().ok()).copied().unwrap_or(true);
    let rank = item.get("rank").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
    let target_id = text("target_id");
    Ok((key, KnownRecord { hash: ContentHash::from_stored(hash), active, rank, target_id, state: text("state") }))
}
