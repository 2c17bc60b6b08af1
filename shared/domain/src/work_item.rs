//! The work item: the small, versioned envelope that travels through the FIFO
//! work queue. It names a document; it never carries the document's body or
//! any secret (the poster fetches the body from Concur with the connection's
//! own token).

use serde::{Deserialize, Serialize};

use crate::clock::rfc3339;

use crate::ids::{ConcurDocumentId, ConcurrencyLevel, ConnectionId, DocumentType};

/// Where a work item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkSource {
    Webhook,
    Poll,
    Replay,
    /// Re-queued from the ledger by the sweeper: nothing else moved the
    /// document by its due time (its message ran out of receives, its
    /// connection could not take it, or an ERP verdict is overdue).
    Sweep,
    /// A document of an extract or payment batch file, staged in the files bucket (issue 15).
    File,
}

/// Version 1 of the queue message body. Unknown fields are refused so a
/// producer/consumer version skew is caught, not silently misread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkItem {
    /// Envelope version; always 1 for this struct.
    pub v: u8,
    pub connection_id: ConnectionId,
    pub document_type: DocumentType,
    pub document_id: ConcurDocumentId,
    pub source: WorkSource,
    /// RFC 3339 UTC time the connector first saw the document.
    pub received_at: String,
}

impl WorkItem {
    pub const VERSION: u8 = 1;

    pub fn new(
        connection_id: ConnectionId,
        document_type: DocumentType,
        document_id: ConcurDocumentId,
        source: WorkSource,
        received_at: time::OffsetDateTime,
    ) -> Self {
        let received_at = rfc3339(received_at);
        Self { v: Self::VERSION, connection_id, document_type, document_id, source, received_at }
    }

    /// Parses a queue message body, refusing other versions.
    pub fn from_json(body: &str) -> Result<Self, QueueMessageError> {
        let item: WorkItem =
            serde_json::from_str(body).map_err(|source| QueueMessageError::Malformed { what: "work item", source })?;
        if item.v != Self::VERSION {
            return Err(QueueMessageError::Version { what: "work item", found: item.v, expected: Self::VERSION });
        }
        Ok(item)
    }

    pub fn to_json(&self) -> String {
        // Serializing plain strings and enums cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The key that makes the same document land in the same FIFO message
    /// group every time: document type + id.
    pub fn document_key(&self) -> String {
        format!("{}#{}", self.document_type, self.document_id)
    }
}

/// Why a reference-data sync was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncReason {
    /// A Concur company was just connected: bring its vendors and lists in step first.
    Connected,
    Scheduled,
    Operator,
}

/// Version 1 of the queue message that asks for a reference-data sync
/// (ERP → Concur vendors, cost-object lists, purchase orders) of one
/// connection. It shares the work queue with [`WorkItem`] and is told apart
/// by its `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSyncRequest {
    pub v: u8,
    /// Always `reference_sync`.
    pub kind: String,
    pub connection_id: ConnectionId,
    pub reason: SyncReason,
    /// RFC 3339 UTC.
    pub requested_at: String,
    /// Only this kind (an operator's `sync run --kind`); every kind when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<crate::reference::ReferenceKind>,
    /// Plan only: record what the run would write, write nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Instead of a sync: these Concur purchase orders into the ERP (an
    /// operator's `sync po`, at most [`Self::MAX_PULLED`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purchase_orders: Vec<String>,
}

impl ReferenceSyncRequest {
    pub const KIND: &'static str = "reference_sync";
    /// Purchase orders one request pulls at most (a message stays small).
    pub const MAX_PULLED: usize = 100;

    pub fn new(connection_id: ConnectionId, reason: SyncReason, requested_at: time::OffsetDateTime) -> Self {
        let requested_at = rfc3339(requested_at);
        let (only, dry_run, purchase_orders) = (None, false, Vec::new());
        Self { v: 1, kind: Self::KIND.to_owned(), connection_id, reason, requested_at, only, dry_run, purchase_orders }
    }

    /// Whether the request asks for `kind`.
    pub fn wants(&self, kind: crate::reference::ReferenceKind) -> bool {
        self.only.is_none_or(|only| only.covers(kind))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// All syncs of a connection share one FIFO group: they never overlap,
    /// and they never hold back the connection's document slots.
    pub fn group(&self) -> String {
        format!("{}#sync", self.connection_id)
    }

    /// One sync per connection per request time.
    pub fn dedup_id(&self) -> String {
        let stamp: String = self.requested_at.chars().filter(char::is_ascii_alphanumeric).collect();
        format!("sync-{}-{stamp}", self.connection_id)
    }
}

/// Version 1 of the message that carries an asynchronous ERP's verdict on
/// a document it had accepted for routing (Infor ION's Acknowledge or
/// ConfirmBOD, received by `ion-inbox`). It travels in the document's own
/// FIFO group, so it is handled after the posting that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErpOutcome {
    pub v: u8,
    /// Always `erp_outcome`.
    pub kind: String,
    pub connection_id: ConnectionId,
    pub document_type: DocumentType,
    pub document_id: ConcurDocumentId,
    /// The part the verdict is about: the ERP document id (a chunk's own id
    /// when the document was sent in several messages).
    pub part: String,
    /// How many parts the document was sent in.
    pub parts: u32,
    pub accepted: bool,
    /// The ERP's own id for the posted part, when it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp_id: Option<String>,
    /// The ERP's reason, for a refusal (bounded, never a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The ERP message the verdict answers (e.g. the BODID), for the audit.
    pub answers: String,
    /// RFC 3339 UTC.
    pub received_at: String,
}

impl ErpOutcome {
    pub const KIND: &'static str = "erp_outcome";

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `doctype#id`, as the ledger and the document's work items name it.
    pub fn document_key(&self) -> String {
        format!("{}#{}", self.document_type, self.document_id)
    }
}

/// Why a queue message body cannot be read. The message says what the body
/// was taken for; the producer that wrote it is the one to fix.
#[derive(Debug, thiserror::Error)]
pub enum QueueMessageError {
    #[error("queue message is not JSON: {source}")]
    NotJson {
        #[source]
        source: serde_json::Error,
    },
    #[error("{what} is malformed: {source}")]
    Malformed {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what} version {found} is not supported (expected {expected})")]
    Version { what: &'static str, found: u8, expected: u8 },
    #[error("queue message kind `{kind}` is unknown")]
    UnknownKind { kind: String },
}

/// Any message of the work queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueMessage {
    Document(WorkItem),
    ReferenceSync(ReferenceSyncRequest),
    ErpOutcome(ErpOutcome),
}

impl QueueMessage {
    /// Parses a queue message body: a `kind` of `reference_sync` is a sync
    /// request; anything else must be a version-1 work item.
    pub fn from_json(body: &str) -> Result<Self, QueueMessageError> {
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|source| QueueMessageError::NotJson { source })?;
        match value.get("kind").and_then(serde_json::Value::as_str) {
            Some(ReferenceSyncRequest::KIND) => {
                let what = "reference sync request";
                let request: ReferenceSyncRequest =
                    serde_json::from_value(value).map_err(|source| QueueMessageError::Malformed { what, source })?;
                if request.v != 1 {
                    return Err(QueueMessageError::Version { what, found: request.v, expected: 1 });
                }
                Ok(QueueMessage::ReferenceSync(request))
            }
            Some(ErpOutcome::KIND) => {
                let what = "ERP outcome";
                let outcome: ErpOutcome =
                    serde_json::from_value(value).map_err(|source| QueueMessageError::Malformed { what, source })?;
                if outcome.v != 1 {
                    return Err(QueueMessageError::Version { what, found: outcome.v, expected: 1 });
                }
                Ok(QueueMessage::ErpOutcome(outcome))
            }
            Some(other) => Err(QueueMessageError::UnknownKind { kind: other.to_owned() }),
            None => WorkItem::from_json(body).map(QueueMessage::Document),
        }
    }
}

/// SQS FIFO `MessageGroupId` = slot owner + slot.
///
/// The slot is a stable hash of the document key modulo the concurrency
/// level, so (1) one document always maps to one group and is never worked on
/// twice at the same time, and (2) a tenant never has more than `level`
/// groups in flight. When a connection borrows concurrency from another, the
/// *owner* of the slots is the lender, so both share the lender's slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageGroupId(String);

impl MessageGroupId {
    pub fn for_document(slot_owner: &ConnectionId, level: ConcurrencyLevel, document_key: &str) -> Self {
        let slot = fnv1a(document_key.as_bytes()) % u64::from(level.get());
        Self(format!("{slot_owner}#{slot}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// FNV-1a: tiny, stable across Rust versions and processes (unlike
/// `DefaultHasher`), good enough to spread ids over at most 25 slots.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> WorkItem {
        WorkItem::new(
            ConnectionId::parse("acme").unwrap(),
            DocumentType::Expense,
            ConcurDocumentId::parse("e7f810cabc8348cdb051dd9431c8cfbb").unwrap(),
            WorkSource::Webhook,
            time::macros::datetime!(2026-11-23 10:00:00 UTC),
        )
    }

    #[test]
    fn round_trips_and_is_small() {
        let json = item().to_json();
        assert!(json.len() < 256, "{json}");
        assert_eq!(WorkItem::from_json(&json).unwrap(), item());
        assert!(json.contains("\"received_at\":\"2026-11-23T10:00:00Z\""));
    }

    #[test]
    fn refuses_other_versions_and_unknown_fields() {
        let v2 = item().to_json().replace("\"v\":1", "\"v\":2");
        assert!(WorkItem::from_json(&v2).unwrap_err().to_string().contains("version 2"));
        let extra = item().to_json().replace("{", "{\"body\":\"x\",");
        assert!(WorkItem::from_json(&extra).is_err());
    }

    #[test]
    fn queue_messages_are_told_apart_by_kind() {
        let json = item().to_json();
        assert_eq!(QueueMessage::from_json(&json).unwrap(), QueueMessage::Document(item()));
        let sync = ReferenceSyncRequest::new(
            ConnectionId::parse("acme").unwrap(),
            SyncReason::Connected,
            time::macros::datetime!(2026-11-23 10:00:00 UTC),
        );
        assert_eq!(QueueMessage::from_json(&sync.to_json()).unwrap(), QueueMessage::ReferenceSync(sync.clone()));
        assert_eq!(sync.group(), "acme#sync");
        assert_eq!(sync.dedup_id(), "sync-acme-20261123T100000Z");
        assert!(QueueMessage::from_json(r#"{"kind":"other"}"#).unwrap_err().to_string().contains("unknown"));
        assert!(QueueMessage::from_json("{").is_err());
    }

    #[test]
    fn same_document_same_group_and_slots_bounded() {
        let owner = ConnectionId::parse("lender").unwrap();
        let level = ConcurrencyLevel::new(4).unwrap();
        let a = MessageGroupId::for_document(&owner, level, "expense#ABC");
        assert_eq!(a, MessageGroupId::for_document(&owner, level, "expense#ABC"));
        let groups: std::collections::BTreeSet<String> = (0..500)
            .map(|i| MessageGroupId::for_document(&owner, level, &format!("expense#{i}")).as_str().to_owned())
            .collect();
        assert_eq!(groups.len(), 4, "500 documents spread over exactly 4 slots: {groups:?}");
        assert!(groups.iter().all(|g| g.starts_with("lender#")));
    }
}
