//! The ledger table: the exactly-once record, one item per Concur document
//! (`connection_id` + `document_key` = `doctype#id`).
//!
//! ```text
//! (none) ─claim─▶ CLAIMED ─record_posted─▶ POSTED ─record_confirmed─▶ CONFIRMED
//!    RECEIVED ◀─release─┘  └─record_failed─▶ FAILED ◀─record_failed─┘
//!    RECEIVED ◀──────── reset_for_replay ─────┘ (POSTED instead when it has an ERP reference)
//! ```
//!
//! Every write is conditioned on the state it expects (and on the holder of
//! the claim where one is involved), so a second delivery of the same
//! document, a worker that lost its claim, or a repeated call can never move
//! a document backwards or post it twice. A write whose condition fails is a
//! [`StoreError`] with `conflict` set that says what the item holds instead;
//! a call that repeats a transition already made (same data) is answered
//! with the stored record and writes nothing.
//!
//! Items hold identifiers, states, the ERP reference and bounded reasons:
//! never a document body and never a secret (callers must not put either
//! into a reason).

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use aws_sdk_dynamodb::{Client, types::AttributeValue, types::ReturnValue};
use base64::Engine as _;
use domain::{ConcurDocumentId, ConnectionId, DocumentType, ParseError, PostingForm, WorkItem};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{StoreError, sdk_error_message};

const BY_STATUS: &str = "by-status";

/// Longest error or failure reason kept on an item (shown, not parsed).
pub const REASON_LIMIT: usize = 1000;
/// Longest claim holder and failed-step name accepted.
pub const NAME_LIMIT: usize = 128;
/// Longest ERP reference accepted (refused, never cut: a cut reference
/// would name another ERP document).
pub const ERP_REFERENCE_LIMIT: usize = 256;
/// Most records one [`LedgerStore::list_by_status`] page returns.
pub const PAGE_LIMIT: u32 = 500;

/// Longest claim granted (a Lambda runs 15 minutes at most; a longer
/// claim would only delay the takeover after a crash).
pub const MAX_CLAIM: Duration = Duration::from_secs(3600);

/// How long after a document's last expected move the sweeper looks at it
/// (`due_at`): a claim's end, or a retry's planned redelivery, plus this.
/// Longer than the work queue's visibility timeout (12 minutes), so the
/// sweeper re-queues only what the queue itself no longer holds.
pub const SAFETY_NET: Duration = Duration::from_secs(15 * 60);

/// A claim that changed under us this many times in a row is reported as a
/// conflict rather than chased forever.
const CLAIM_ROUNDS: usize = 4;

/// Where a document stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LedgerStatus {
    /// Known, not being worked on: the next claim takes it.
    Received,
    /// A worker holds it to post it (until its claim lapses).
    Claimed,
    /// In the ERP (the record holds the reference); only the confirmation
    /// to Concur may still be missing. Never posted again.
    Posted,
    /// Done: confirmed to Concur, or no confirmation was required.
    Confirmed,
    /// Stopped permanently with a reason, until an operator replays it.
    Failed,
}

impl LedgerStatus {
    pub const ALL: [LedgerStatus; 5] = [
        LedgerStatus::Received,
        LedgerStatus::Claimed,
        LedgerStatus::Posted,
        LedgerStatus::Confirmed,
        LedgerStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LedgerStatus::Received => "RECEIVED",
            LedgerStatus::Claimed => "CLAIMED",
            LedgerStatus::Posted => "POSTED",
            LedgerStatus::Confirmed => "CONFIRMED",
            LedgerStatus::Failed => "FAILED",
        }
    }
}

impl fmt::Display for LedgerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LedgerStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LedgerStatus::ALL.into_iter().find(|status| status.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            format!("unknown ledger status `{s}` (expected RECEIVED, CLAIMED, POSTED, CONFIRMED or FAILED)")
        })
    }
}

/// How a posted document was finished towards Concur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// The Financial Integration posting confirmation was accepted by Concur.
    Sent,
    /// The connection's flow sends no confirmation (`confirm_postings` off).
    NotRequired,
}

/// Which document a record is about: the table key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LedgerKey {
    pub connection_id: ConnectionId,
    pub document_type: DocumentType,
    pub document_id: ConcurDocumentId,
}

impl LedgerKey {
    pub fn new(connection_id: ConnectionId, document_type: DocumentType, document_id: ConcurDocumentId) -> Self {
        Self { connection_id, document_type, document_id }
    }

    /// The sort key, `doctype#id`: the same as [`WorkItem::document_key`],
    /// so queue, ledger and audit name a document alike.
    pub fn document_key(&self) -> String {
        format!("{}#{}", self.document_type, self.document_id)
    }

    /// Reads a stored `doctype#id` back.
    pub fn from_document_key(connection_id: ConnectionId, document_key: &str) -> Result<Self, ParseError> {
        let (doctype, id) = document_key.split_once('#').ok_or_else(|| ParseError {
            what: "ledger document key",
            value: domain::text::truncate(document_key, 80).to_owned(),
            why: "expected `doctype#id`",
        })?;
        Ok(Self::new(connection_id, doctype.parse()?, ConcurDocumentId::parse(id)?))
    }
}

impl From<&WorkItem> for LedgerKey {
    fn from(item: &WorkItem) -> Self {
        Self::new(item.connection_id.clone(), item.document_type, item.document_id.clone())
    }
}

impl fmt::Display for LedgerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}#{} of connection {}", self.document_type, self.document_id, self.connection_id)
    }
}

/// The `by-status` partition of a connection's documents in one state.
pub fn status_key(connection_id: &ConnectionId, status: LedgerStatus) -> String {
    format!("{connection_id}#{status}")
}

/// One document's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRecord {
    pub key: LedgerKey,
    pub status: LedgerStatus,
    /// Who holds the claim (CLAIMED, and POSTED while being confirmed).
    pub holder: Option<String>,
    /// When the holder's claim lapses and another worker may take it over.
    pub claim_expires_at: Option<OffsetDateTime>,
    /// Times the document was claimed. More claims than `attempts + 1`
    /// means a worker crashed or timed out holding it.
    pub claims: u32,
    /// Retryable failures so far (each [`LedgerStore::release`]); reset by a replay.
    pub attempts: u32,
    /// The latest retryable error (or, after a replay, the failure replayed).
    pub last_error: Option<String>,
    pub erp_reference: Option<String>,
    pub posting_form: Option<PostingForm>,
    pub confirmation: Option<Confirmation>,
    /// The step that failed permanently (FAILED only).
    pub failed_step: Option<String>,
    pub failure_reason: Option<String>,
    /// Times an operator replayed the document.
    pub replays: u32,
    /// For ERPs that answer asynchronously (Infor ION): the parts of the
    /// document the ERP reported accepted so far (POSTED until all are).
    pub accepted_parts: Vec<String>,
    /// Asynchronous ERPs: the references (`ion:<DocumentID>:<variation>`)
    /// of what was sent before the document stopped at the ERP. A replay
    /// never sends again the parts among them the ERP accepted (even after
    /// the stop), unless the ERP replaces documents it holds, and names
    /// them in the document's reference.
    pub earlier_references: Vec<String>,
    /// Asynchronous ERPs: when the document's messages were last sent; its
    /// verdict is overdue a connection-set time after.
    pub sent_at: Option<OffsetDateTime>,
    /// Asynchronous ERPs: times the same messages were sent again because
    /// no verdict came.
    pub resends: u32,
    /// Asynchronous ERPs: a refusal that arrived before the document was
    /// recorded POSTED (or while another worker held it); whoever holds
    /// the document next acts on it.
    pub erp_refusal: Option<String>,
    /// When the sweeper re-queues the document if nothing else moved it
    /// (only on records that are not final; see [`SAFETY_NET`]).
    pub due_at: Option<OffsetDateTime>,
    /// When a failure confirmation for this document was accepted by Concur
    /// (RFC 3339): Concur then shows "posting failed", and the document
    /// coming back READY means a processor resubmitted it.
    pub failure_reported_at: Option<String>,
    /// An ERP create whose outcome is unknown (timeout, 5xx) may still
    /// commit until then: no attempt looks the document up and creates it
    /// before this time.
    pub settle_until: Option<OffsetDateTime>,
    /// RFC 3339 UTC, millisecond precision.
    pub created_at: String,
    pub updated_at: String,
}

impl LedgerRecord {
    /// The claim is still live at `now` (it has a holder whose time has not run out).
    pub fn is_held_at(&self, now: OffsetDateTime) -> bool {
        self.holder.is_some() && self.claim_expires_at.is_some_and(|until| until > now)
    }

    /// What kind of failure stopped it (FAILED records only).
    pub fn failure_class(&self) -> Option<domain::FailureClass> {
        (self.status == LedgerStatus::Failed)
            .then(|| domain::FailureClass::of_failed_step(self.failed_step.as_deref().unwrap_or_default()))
    }

    fn held_by(&self, holder: &str) -> bool {
        self.holder.as_deref() == Some(holder)
    }

    /// One line for a conflict message: what the item holds instead.
    fn describe(&self) -> String {
        let mut s = format!("it is {}", self.status);
        if let Some(holder) = &self.holder {
            let until = self.claim_expires_at.map(timestamp).unwrap_or_else(|| "?".into());
            s.push_str(&format!(", claimed by `{holder}` until {until}"));
        }
        if let Some(reference) = &self.erp_reference {
            s.push_str(&format!(", ERP reference `{reference}`"));
        }
        if let (Some(step), Some(reason)) = (&self.failed_step, &self.failure_reason) {
            s.push_str(&format!(", failed at {step}: {reason}"));
        }
        s
    }
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum ClaimOutcome {
    /// The caller holds the document until `claim_expires_at`: look it up
    /// in the ERP by its Concur key, post it, then [`LedgerStore::record_posted`].
    Claimed(LedgerRecord),
    /// Already in the ERP (`erp_reference`): never post it again. The caller
    /// now holds it to confirm it ([`LedgerStore::record_confirmed`]).
    AlreadyPosted(LedgerRecord),
    /// Nothing left to do: a duplicate delivery.
    AlreadyConfirmed(LedgerRecord),
    /// Another worker's claim is live: leave the message for later.
    HeldByOther { holder: String, until: OffsetDateTime },
    /// Stopped permanently; only an operator's replay takes it up again.
    Failed(LedgerRecord),
}

/// One page of [`LedgerStore::list_by_status`], oldest change first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerPage {
    pub records: Vec<LedgerRecord>,
    /// Pass back to get the next page; `None` after the last one.
    pub cursor: Option<String>,
}

/// The stored shape. Key and index attributes are kept next to the typed
/// record fields so one `GetItem` or index query returns everything.
#[derive(Debug, Serialize, Deserialize)]
struct Item {
    connection_id: ConnectionId,
    document_key: String,
    status: LedgerStatus,
    status_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    holder: Option<String>,
    /// Epoch seconds: a number, so a condition can compare it with now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim_expires_at: Option<i64>,
    #[serde(default)]
    claims: u32,
    #[serde(default)]
    attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    erp_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    posting_form: Option<PostingForm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confirmation: Option<Confirmation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failed_step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    #[serde(default)]
    replays: u32,
    /// Parts of a document posted in several ERP messages (Infor chunks)
    /// whose acceptance the ERP has reported, in arrival order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    accepted_parts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    earlier_references: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sent_at: Option<i64>,
    #[serde(default)]
    resends: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    erp_refusal: Option<String>,
    /// Epoch seconds (a number, so the sweeper's filter compares it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    due_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure_reported_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    settle_until: Option<i64>,
    created_at: String,
    updated_at: String,
}

/// Why a stored ledger item cannot be read back as a record.
#[derive(Debug, thiserror::Error)]
enum MalformedItem {
    #[error(transparent)]
    Key(#[from] ParseError),
    #[error("{name} {secs} is out of range")]
    OutOfRange {
        name: &'static str,
        secs: i64,
        #[source]
        source: time::error::ComponentRange,
    },
}

impl Item {
    fn into_record(self) -> Result<LedgerRecord, MalformedItem> {
        let key = LedgerKey::from_document_key(self.connection_id, &self.document_key)?;
        let epoch = |secs: Option<i64>, name: &'static str| -> Result<Option<OffsetDateTime>, MalformedItem> {
            secs.map(|secs| {
                OffsetDateTime::from_unix_timestamp(secs).map_err(|source| MalformedItem::OutOfRange {
                    name,
                    secs,
                    source,
                })
            })
            .transpose()
        };
        let claim_expires_at = epoch(self.claim_expires_at, "claim_expires_at")?;
        let due_at = epoch(self.due_at, "due_at")?;
        let settle_until = epoch(self.settle_until, "settle_until")?;
        let sent_at = epoch(self.sent_at, "sent_at")?;
        Ok(LedgerRecord {
            key,
            status: self.status,
            holder: self.holder,
            claim_expires_at,
            claims: self.claims,
            attempts: self.attempts,
            last_error: self.last_error,
            erp_reference: self.erp_reference,
            posting_form: self.posting_form,
            confirmation: self.confirmation,
            failed_step: self.failed_step,
            failure_reason: self.failure_reason,
            replays: self.replays,
            accepted_parts: self.accepted_parts,
            earlier_references: self.earlier_references,
            sent_at,
            resends: self.resends,
            erp_refusal: self.erp_refusal,
            due_at,
            failure_reported_at: self.failure_reported_at,
            settle_until,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A conditional update: condition, update expression, and the placeholders
/// both use (`#name` → attribute, `:value` → value).
struct Update {
    condition: &'static str,
    expression: &'static str,
    names: Vec<(&'static str, &'static str)>,
    values: Vec<(&'static str, AttributeValue)>,
}

impl Update {
    fn new(condition: &'static str, expression: &'static str) -> Self {
        // Every expression below may use these names; unused ones are
        // dropped before sending (DynamoDB refuses unused placeholders).
        let names = vec![
            ("#pk", "connection_id"),
            ("#s", "status"),
            ("#sk", "status_key"),
            ("#h", "holder"),
            ("#exp", "claim_expires_at"),
            ("#claims", "claims"),
            ("#attempts", "attempts"),
            ("#err", "last_error"),
            ("#ref", "erp_reference"),
            ("#form", "posting_form"),
            ("#conf", "confirmation"),
            ("#step", "failed_step"),
            ("#reason", "failure_reason"),
            ("#replays", "replays"),
            ("#parts", "accepted_parts"),
            ("#earlier", "earlier_references"),
            ("#sent", "sent_at"),
            ("#resends", "resends"),
            ("#refusal", "erp_refusal"),
            ("#due", "due_at"),
            ("#reported", "failure_reported_at"),
            ("#settle", "settle_until"),
            ("#created", "created_at"),
            ("#upd", "updated_at"),
        ];
        Self { condition, expression, names, values: Vec::new() }
    }

    fn value(mut self, placeholder: &'static str, value: AttributeValue) -> Self {
        self.values.push((placeholder, value));
        self
    }

    fn s(self, placeholder: &'static str, value: impl Into<String>) -> Self {
        self.value(placeholder, AttributeValue::S(value.into()))
    }

    fn n(self, placeholder: &'static str, value: impl fmt::Display) -> Self {
        self.value(placeholder, AttributeValue::N(value.to_string()))
    }

    /// A placeholder is used when it appears as a whole token (`#s` must
    /// not count as used because `#sk` is).
    fn uses(&self, placeholder: &str) -> bool {
        [self.condition, self.expression].iter().any(|text| {
            text.match_indices(placeholder).any(|(at, _)| {
                let next = text[at + placeholder.len()..].chars().next();
                !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        })
    }
}

#[derive(Clone)]
pub struct LedgerStore {
    client: Client,
    table: String,
}

impl LedgerStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The record of a document (strongly consistent), `None` if it was never claimed.
    pub async fn get(&self, key: &LedgerKey) -> Result<Option<LedgerRecord>, StoreError> {
        let action = || format!("reading the ledger record of {key}");
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("connection_id", AttributeValue::S(key.connection_id.to_string()))
            .key("document_key", AttributeValue::S(key.document_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::new(action(), sdk_error_message(&e)))?;
        out.item.map(|item| decode(item, action)).transpose()
    }

    /// The records of `keys` (strongly consistent, BatchGetItem 100 at a
    /// time); keys never claimed are absent.
    pub async fn get_many(&self, keys: &[LedgerKey]) -> Result<Vec<LedgerRecord>, StoreError> {
        let action = || format!("reading {} ledger records", keys.len());
        let keys = keys.iter().map(item_key).collect();
        let items = crate::batch_get(&self.client, &self.table, keys, None, &action).await?;
        items.into_iter().map(|item| decode(item, action)).collect()
    }

    /// Takes the document for `holder` until `now + ttl` (at most
    /// [`MAX_CLAIM`]): the one step that
    /// decides, among concurrent deliveries, who works on a document.
    ///
    /// A document never seen, RECEIVED, or CLAIMED by a lapsed claim (or
    /// already by `holder`) becomes CLAIMED. A POSTED document is never
    /// handed out for posting: the caller gets it to confirm, when no live
    /// claim of another worker is on it. A live claim of another worker,
    /// CONFIRMED and FAILED are reported without writing.
    pub async fn claim(
        &self,
        key: &LedgerKey,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        let action = || format!("claiming {key} for `{holder}`");
        check_name("claim holder", holder, action)?;
        let ttl = ttl.min(MAX_CLAIM);
        let until = now.unix_timestamp().saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(0));
        let stamp = timestamp(now);
        let due = until.saturating_add(safety_net_secs());
        let claim_values = |update: Update| {
            update
                .s(":h", holder)
                .n(":now", now.unix_timestamp())
                .n(":until", until)
                .n(":due", due)
                .s(":upd", stamp.clone())
                .n(":one", 1)
        };
        let mut seen = None;
        for _ in 0..CLAIM_ROUNDS {
            let next = match &seen {
                None => Next::ClaimForPosting,
                Some(record) => next_step(record, holder, now),
            };
            let attempt = match next {
                Next::Done(outcome) => return Ok(*outcome),
                Next::ClaimForPosting => {
                    let update = Update::new(
                        "attribute_not_exists(#pk) OR #s = :received \
                         OR (#s = :claimed AND (#h = :h OR #exp <= :now))",
                        "SET #s = :claimed, #sk = :sk, #h = :h, #exp = :until, #due = :due, #upd = :upd, \
                         #created = if_not_exists(#created, :upd), #attempts = if_not_exists(#attempts, :zero), \
                         #replays = if_not_exists(#replays, :zero) ADD #claims :one",
                    );
                    let update = claim_values(update)
                        .s(":received", LedgerStatus::Received.as_str())
                        .s(":claimed", LedgerStatus::Claimed.as_str())
                        .s(":sk", status_key(&key.connection_id, LedgerStatus::Claimed))
                        .n(":zero", 0);
                    self.update(key, update, action).await?.map(ClaimOutcome::Claimed)
                }
                Next::ClaimForConfirming => {
                    // Status stays POSTED: the claim only makes the
                    // confirmation single-flight.
                    let update = Update::new(
                        "#s = :posted AND (attribute_not_exists(#h) OR #h = :h OR #exp <= :now)",
                        "SET #h = :h, #exp = :until, #due = :due, #upd = :upd ADD #claims :one",
                    );
                    let update = claim_values(update).s(":posted", LedgerStatus::Posted.as_str());
                    self.update(key, update, action).await?.map(ClaimOutcome::AlreadyPosted)
                }
            };
            match attempt {
                Ok(outcome) => return Ok(outcome),
                // It changed between our write and read (or read and write): look again.
                Err(()) => seen = self.get(key).await?,
            }
        }
        Err(StoreError::conflict(action(), "the record kept changing while claiming; leave the message for a retry"))
    }

    /// The ERP accepted the document as `erp_reference` (in `form`):
    /// CLAIMED by `holder` → POSTED. The claim is kept so the same holder
    /// confirms next. Refused (conflict) when `holder` no longer holds it.
    /// An expired claim is still accepted if nobody took it over: the ERP
    /// has the document, and forgetting that would be the real danger.
    pub async fn record_posted(
        &self,
        key: &LedgerKey,
        holder: &str,
        erp_reference: &str,
        form: PostingForm,
        now: OffsetDateTime,
    ) -> Result<LedgerRecord, StoreError> {
        let action = || format!("recording {key} as posted (ERP reference `{erp_reference}`) for `{holder}`");
        check_name("claim holder", holder, action)?;
        if erp_reference.trim().is_empty() || erp_reference.len() > ERP_REFERENCE_LIMIT {
            return Err(StoreError::new(
                action(),
                format!(
                    "the ERP reference must be 1 to {ERP_REFERENCE_LIMIT} characters; the ERP adapter returned an unusable one"
                ),
            ));
        }
        let update = Update::new(
            "#s = :claimed AND #h = :h",
            "SET #s = :posted, #sk = :sk, #ref = :ref, #form = :form, #sent = :sentat, #upd = :upd \
             REMOVE #err, #settle",
        )
        .n(":sentat", now.unix_timestamp())
        .s(":claimed", LedgerStatus::Claimed.as_str())
        .s(":posted", LedgerStatus::Posted.as_str())
        .s(":sk", status_key(&key.connection_id, LedgerStatus::Posted))
        .s(":h", holder)
        .s(":ref", erp_reference)
        .value(":form", encode_value(&form, action)?)
        .s(":upd", timestamp(now));
        self.transition(key, update, action, |r| {
            matches!(r.status, LedgerStatus::Posted | LedgerStatus::Confirmed)
                && r.erp_reference.as_deref() == Some(erp_reference)
        })
        .await
    }

    /// Concur was told (or needs no telling): POSTED, held by `holder` →
    /// CONFIRMED, claim dropped.
    pub async fn record_confirmed(
        &self,
        key: &LedgerKey,
        holder: &str,
        confirmation: Confirmation,
        now: OffsetDateTime,
    ) -> Result<LedgerRecord, StoreError> {
        let action = || format!("recording {key} as confirmed for `{holder}`");
        check_name("claim holder", holder, action)?;
        let update = Update::new(
            "#s = :posted AND #h = :h",
            "SET #s = :confirmed, #sk = :sk, #conf = :conf, #upd = :upd REMOVE #h, #exp, #err, #due",
        )
        .s(":posted", LedgerStatus::Posted.as_str())
        .s(":confirmed", LedgerStatus::Confirmed.as_str())
        .s(":sk", status_key(&key.connection_id, LedgerStatus::Confirmed))
        .s(":h", holder)
        .value(":conf", encode_value(&confirmation, action)?)
        .s(":upd", timestamp(now));
        self.transition(key, update, action, |r| r.status == LedgerStatus::Confirmed).await
    }

    /// Stores an asynchronous ERP's verdict on one part of a document,
    /// whoever holds it and whatever its status short of CONFIRMED: an
    /// acceptance adds `part` to the accepted parts (once), a refusal
    /// (`Err(reason)`) is kept as the document's ERP refusal until the
    /// holder acts on it. A verdict is data on the record, so one that
    /// arrives before the poster recorded POSTED, or while another worker
    /// holds the document, is never lost. `None`: the ledger does not know
    /// the document.
    pub async fn record_verdict(
        &self,
        key: &LedgerKey,
        part: &str,
        verdict: Result<(), &str>,
        now: OffsetDateTime,
    ) -> Result<Option<LedgerRecord>, StoreError> {
        let action = || format!("recording the ERP's verdict on part `{part}` of {key}");
        check_name("part", part, action)?;
        let update = match verdict {
            Ok(()) => Update::new(
                "attribute_exists(#pk) AND #s <> :confirmed AND NOT contains(#parts, :p)",
                "SET #parts = list_append(if_not_exists(#parts, :empty), :plist), #upd = :upd",
            )
            .s(":p", part)
            .value(":plist", AttributeValue::L(vec![AttributeValue::S(part.to_owned())]))
            .value(":empty", AttributeValue::L(Vec::new())),
            Err(reason) => Update::new(
                "attribute_exists(#pk) AND (#s = :received OR #s = :claimed OR #s = :posted)",
                "SET #refusal = :reason, #upd = :upd",
            )
            .s(":reason", bounded(reason))
            .s(":received", LedgerStatus::Received.as_str())
            .s(":claimed", LedgerStatus::Claimed.as_str())
            .s(":posted", LedgerStatus::Posted.as_str()),
        }
        .s(":confirmed", LedgerStatus::Confirmed.as_str())
        .s(":upd", timestamp(now));
        match self.update(key, update, action).await? {
            Ok(record) => Ok(Some(record)),
            // Recorded already, final, or unknown: what the ledger holds.
            Err(()) => self.get(key).await,
        }
    }

    /// An asynchronous ERP refused a document it had accepted for routing
    /// (Infor's Acknowledge `Rejected` / ConfirmBOD failure), or never gave
    /// a verdict on it: POSTED, held by `holder` → FAILED at `erp`. Unlike
    /// [`LedgerStore::record_failed`] the document is *not* in the ERP: its
    /// reference is dropped, so a replay after the fix sends it again
    /// instead of only confirming it. What was sent stays known
    /// (`earlier_references`, with the accepted parts), so the replay does
    /// not send again what the ERP accepted.
    pub async fn record_rejected_by_erp(
        &self,
        key: &LedgerKey,
        holder: &str,
        step: &str,
        reason: &str,
        earlier_references: &[String],
        now: OffsetDateTime,
    ) -> Result<LedgerRecord, StoreError> {
        let action = || format!("recording {key} as refused by the ERP for `{holder}`");
        check_name("claim holder", holder, action)?;
        let reason = bounded(reason);
        let kept = earlier_references.iter().map(|r| AttributeValue::S(r.clone())).collect();
        let update = Update::new(
            "#s = :posted AND #h = :h",
            "SET #s = :failed, #sk = :sk, #step = :step, #reason = :reason, #earlier = :accrefs, #upd = :upd \
             REMOVE #h, #exp, #ref, #form, #due, #refusal, #sent, #resends",
        )
        .s(":posted", LedgerStatus::Posted.as_str())
        .s(":failed", LedgerStatus::Failed.as_str())
        .s(":sk", status_key(&key.connection_id, LedgerStatus::Failed))
        .s(":h", holder)
        .s(":step", step)
        .s(":reason", reason.clone())
        .value(":accrefs", AttributeValue::L(kept))
        .s(":upd", timestamp(now));
        self.transition(key, update, action, |r| {
            r.status == LedgerStatus::Failed
                && r.failed_step.as_deref() == Some(step)
                && r.failure_reason.as_deref() == Some(reason.as_str())
        })
        .await
    }

    /// An asynchronous ERP gave no verdict in time and `holder` sent the
    /// same messages again: the claim is dropped, `resends` + 1, and the
    /// verdict is awaited (the sweeper looks again) until `due`.
    pub async fn record_resent(
        &self,
        key: &LedgerKey,
        holder: &str,
        note: &str,
        due: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<LedgerRecord, StoreError> {
        let action = || format!("recording that {key} was sent to the ERP again for `{holder}`");
        check_name("claim holder", holder, action)?;
        let update = Update::new(
            "#s = :posted AND #h = :h",
            "SET #sent = :sentat, #due = :due, #err = :err, #upd = :upd ADD #resends :one REMOVE #h, #exp",
        )
        .s(":posted", LedgerStatus::Posted.as_str())
        .s(":h", holder)
        .n(":sentat", now.unix_timestamp())
        .n(":due", due.unix_timestamp())
        .s(":err", bounded(note))
        .n(":one", 1)
        .s(":upd", timestamp(now));
        match self.update(key, update, action).await? {
            Ok(record) => Ok(record),
            Err(()) => Err(StoreError::conflict(action(), "this worker no longer holds the document")),
        }
    }

    /// A permanent failure at `step` (fetch, map, post, confirm…): CLAIMED
    /// or POSTED, held by `holder` → FAILED with the reason, claim dropped.
    /// A POSTED document keeps its ERP reference, so a replay of it only
    /// confirms.
    pub async fn record_failed(
        &self,
        key: &LedgerKey,
        holder: &str,
        step: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<LedgerRecord, StoreError> {
        let action = || format!("recording {key} as failed at {step} for `{holder}`");
        check_name("claim holder", holder, action)?;
        check_name("failed step", step, action)?;
        let reason = bounded(reason);
        let update = Update::new(
            "(#s = :claimed OR #s = :posted) AND #h = :h",
            "SET #s = :failed, #sk = :sk, #step = :step, #reason = :reason, #upd = :upd REMOVE #h, #exp, #due",
        )
        .s(":claimed", LedgerStatus::Claimed.as_str())
        .s(":posted", LedgerStatus::Posted.as_str())
        .s(":failed", LedgerStatus::Failed.as_str())
        .s(":sk", status_key(&key.connection_id, LedgerStatus::Failed))
        .s(":h", holder)
        .s(":step", step)
        .s(":reason", reason.clone())
        .s(":upd", timestamp(now));
        self.transition(key, update, action, |r| {
            r.status == LedgerStatus::Failed
                && r.failed_step.as_deref() == Some(step)
                && r.failure_reason.as_deref() == Some(reason.as_str())
        })
        .await
    }

    /// Concur accepted a failure confirmation for this FAILED document: it
    /// shows "posting failed" there, and a processor may recall, fix and
    /// resubmit it (it then comes back READY; see [`Self::reset_for_replay`]).
    pub async fn record_failure_reported(&self, key: &LedgerKey, now: OffsetDateTime) -> Result<(), StoreError> {
        let action = || format!("recording that Concur was told {key} failed");
        let update = Update::new("#s = :failed", "SET #reported = :at")
            .s(":failed", LedgerStatus::Failed.as_str())
            .s(":at", timestamp(now));
        match self.update(key, update, action).await? {
            Ok(_) => Ok(()),
            Err(()) => Err(StoreError::conflict(action(), "it is no longer FAILED")),
        }
    }

    /// A retryable failure: `holder` lets go. CLAIMED → RECEIVED (a POSTED
    /// document stays POSTED, only its confirmation claim is dropped);
    /// `attempts` + 1, `error` kept as `last_error`. The sweeper looks at it
    /// again after [`SAFETY_NET`] unless a redelivery moves it first.
    pub async fn release(
        &self,
        key: &LedgerKey,
        holder: &str,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<LedgerRecord, StoreError> {
        self.release_until(key, holder, error, now + SAFETY_NET, now).await
    }

    /// [`Self::release`] with the time the sweeper should re-queue the
    /// document (`due`) when no message brings it back before.
    pub async fn release_until(
        &self,
        key: &LedgerKey,
        holder: &str,
        error: &str,
        due: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<LedgerRecord, StoreError> {
        self.release_with(key, holder, error, due, false, now).await
    }

    /// [`Self::release`] after an ERP create whose outcome is unknown: no
    /// attempt may look the document up and create it before `settle_until`
    /// (the first create may still commit), and the sweeper brings it back
    /// then if nothing else does.
    pub async fn release_unsettled(
        &self,
        key: &LedgerKey,
        holder: &str,
        error: &str,
        settle_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<LedgerRecord, StoreError> {
        self.release_with(key, holder, error, settle_until, true, now).await
    }

    /// CLAIMED → RECEIVED (or POSTED keeps its status), due at `due`; with
    /// `settle`, nothing may create the document again before `due` either.
    async fn release_with(
        &self,
        key: &LedgerKey,
        holder: &str,
        error: &str,
        due: OffsetDateTime,
        settle: bool,
        now: OffsetDateTime,
    ) -> Result<LedgerRecord, StoreError> {
        let action = || format!("releasing {key} for `{holder}`");
        check_name("claim holder", holder, action)?;
        let error = bounded(error);
        let to_received = Update::new(
            "#s = :claimed AND #h = :h",
            if settle {
                "SET #s = :received, #sk = :sk, #err = :err, #due = :due, #settle = :due, #upd = :upd \
                 ADD #attempts :one REMOVE #h, #exp"
            } else {
                "SET #s = :received, #sk = :sk, #err = :err, #due = :due, #upd = :upd ADD #attempts :one REMOVE #h, #exp"
            },
        )
        .s(":claimed", LedgerStatus::Claimed.as_str())
        .s(":received", LedgerStatus::Received.as_str())
        .s(":sk", status_key(&key.connection_id, LedgerStatus::Received))
        .s(":h", holder)
        .s(":err", error.clone())
        .n(":due", due.unix_timestamp())
        .s(":upd", timestamp(now))
        .n(":one", 1);
        if let Ok(record) = self.update(key, to_received, action).await? {
            return Ok(record);
        }
        let keep_posted = Update::new(
            "#s = :posted AND #h = :h",
            "SET #err = :err, #due = :due, #upd = :upd ADD #attempts :one REMOVE #h, #exp",
        )
        .s(":posted", LedgerStatus::Posted.as_str())
        .s(":h", holder)
        .s(":err", error.clone())
        .n(":due", due.unix_timestamp())
        .s(":upd", timestamp(now))
        .n(":one", 1);
        self.transition(key, keep_posted, action, |r| {
            matches!(r.status, LedgerStatus::Received | LedgerStatus::Posted)
                && r.holder.is_none()
                && r.last_error.as_deref() == Some(error.as_str())
        })
        .await
    }

    /// The ledger takes a document over from the queue: its message is about
    /// to be dropped (its receives are used up, or its connection cannot
    /// take it now) and the sweeper re-queues it at `due`, with `reason`
    /// shown meanwhile. A document never seen becomes RECEIVED; one that is
    /// RECEIVED, CLAIMED or POSTED only gets the new `due` and reason (a live
    /// claim is left alone: its holder moves it). CONFIRMED and FAILED
    /// documents need nothing: the call answers their record unchanged.
    pub async fn park(
        &self,
        key: &LedgerKey,
        reason: &str,
        due: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<LedgerRecord, StoreError> {
        let action = || format!("parking {key} in the ledger until {}", timestamp(due));
        let reason = bounded(reason);
        let update = Update::new(
            "attribute_not_exists(#pk) OR #s = :received OR #s = :posted \
             OR (#s = :claimed AND (attribute_not_exists(#exp) OR #exp <= :now))",
            "SET #s = if_not_exists(#s, :received), #sk = if_not_exists(#sk, :sk), #err = :err, #due = :due, \
             #upd = :upd, #created = if_not_exists(#created, :upd), #attempts = if_not_exists(#attempts, :zero), \
             #claims = if_not_exists(#claims, :zero), #replays = if_not_exists(#replays, :zero)",
        )
        .s(":received", LedgerStatus::Received.as_str())
        .s(":posted", LedgerStatus::Posted.as_str())
        .s(":claimed", LedgerStatus::Claimed.as_str())
        .s(":sk", status_key(&key.connection_id, LedgerStatus::Received))
        .s(":err", reason)
        .n(":due", due.unix_timestamp())
        .n(":now", now.unix_timestamp())
        .n(":zero", 0)
        .s(":upd", timestamp(now));
        if let Ok(record) = self.update(key, update, action).await? {
            return Ok(record);
        }
        match self.get(key).await? {
            // Final, or held by a live claim whose holder moves it on.
            Some(record) => Ok(record),
            None => {
                Err(StoreError::conflict(action(), "the record vanished while parking; leave the message for a retry"))
            }
        }
    }

    /// The sweeper moved the due time of a document it re-queued, from
    /// `seen` (what it read) to `due`. `Ok(false)` when the record moved
    /// meanwhile (another sweep or a worker got there first: nothing to do).
    pub async fn reschedule(
        &self,
        key: &LedgerKey,
        seen: OffsetDateTime,
        due: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let action = || format!("moving the sweeper's due time of {key}");
        let update = Update::new("#due = :seen", "SET #due = :due")
            .n(":seen", seen.unix_timestamp())
            .n(":due", due.unix_timestamp());
        Ok(self.update(key, update, action).await?.is_ok())
    }

    /// An operator's replay after fixing the cause: FAILED → RECEIVED, or
    /// → POSTED when the document is already in the ERP (so replay only
    /// confirms: it must never post again). Attempts start over; the
    /// failure is kept as `last_error`. Anything but FAILED is refused.
    pub async fn reset_for_replay(&self, key: &LedgerKey, now: OffsetDateTime) -> Result<LedgerRecord, StoreError> {
        let action = || format!("resetting {key} for replay");
        let Some(record) = self.get(key).await? else {
            return Err(StoreError::conflict(action(), "it is not in the ledger; there is nothing to replay"));
        };
        if record.status != LedgerStatus::Failed {
            let why = match record.status {
                LedgerStatus::Posted | LedgerStatus::Confirmed => {
                    "only FAILED documents are replayed, and this one is already in the ERP: it is never posted again"
                }
                _ => "only FAILED documents are replayed; this one is still being worked on",
            };
            return Err(StoreError::conflict(action(), format!("{}; {why}", record.describe())));
        }
        let previous = bounded(&format!(
            "replayed after failing at {}: {}",
            record.failed_step.as_deref().unwrap_or("?"),
            record.failure_reason.as_deref().unwrap_or("no reason recorded")
        ));
        let (condition, target) = if record.erp_reference.is_some() {
            ("#s = :failed AND attribute_exists(#ref)", LedgerStatus::Posted)
        } else {
            ("#s = :failed AND attribute_not_exists(#ref)", LedgerStatus::Received)
        };
        let update = Update::new(
            condition,
            "SET #s = :to, #sk = :sk, #err = :err, #attempts = :zero, #due = :due, #upd = :upd \
             ADD #replays :one REMOVE #step, #reason, #h, #exp, #reported, #refusal, #sent, #resends",
        )
        .s(":failed", LedgerStatus::Failed.as_str())
        .s(":to", target.as_str())
        .s(":sk", status_key(&key.connection_id, target))
        .s(":err", previous)
        .n(":due", (now + SAFETY_NET).unix_timestamp())
        .n(":zero", 0)
        .n(":one", 1)
        .s(":upd", timestamp(now));
        // No "already done" shortcut: a second reset is a second replay
        // request, and the document is no longer FAILED.
        self.transition(key, update, action, |_| false).await
    }

    /// A connection's documents in `status`, least recently changed first,
    /// `limit` (1–500) at a time; pass the returned cursor back for the
    /// next page. Reads the `by-status` index, which lags writes slightly.
    pub async fn list_by_status(
        &self,
        connection_id: &ConnectionId,
        status: LedgerStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<LedgerPage, StoreError> {
        let action = || format!("listing the {status} documents of connection {connection_id}");
        self.query_status(connection_id, status, None, limit, cursor, action).await
    }

    /// Like [`Self::list_by_status`], only the records whose `updated_at`
    /// lies between `since` and `until`, both included (millisecond
    /// precision, as stored).
    pub async fn list_by_status_between(
        &self,
        connection_id: &ConnectionId,
        status: LedgerStatus,
        since: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<LedgerPage, StoreError> {
        let (from, to) = (timestamp(since), timestamp(until));
        let action =
            || format!("listing the {status} documents of connection {connection_id} changed from {from} to {to}");
        self.query_status(connection_id, status, Some((from.clone(), to.clone())), limit, cursor, action).await
    }

    /// One page of the `by-status` index partition of `status`, optionally
    /// limited to an `updated_at` range (inclusive).
    /// Every record of [`Self::list_by_status`] (or, with `changed`, of
    /// [`Self::list_by_status_between`]), page after page: for operators'
    /// views and the failure digest, which want them all.
    pub async fn all_by_status(
        &self,
        connection_id: &ConnectionId,
        status: LedgerStatus,
        changed: Option<(OffsetDateTime, OffsetDateTime)>,
    ) -> Result<Vec<LedgerRecord>, StoreError> {
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = match changed {
                None => self.list_by_status(connection_id, status, PAGE_LIMIT, cursor.as_deref()).await?,
                Some((since, until)) => {
                    self.list_by_status_between(connection_id, status, since, until, PAGE_LIMIT, cursor.as_deref())
                        .await?
                }
            };
            records.extend(page.records);
            cursor = page.cursor;
            if cursor.is_none() {
                return Ok(records);
            }
        }
    }

    /// How many of a connection's documents are in `status`; with
    /// `changed`, only those whose `updated_at` lies in that range (both
    /// ends included). Counts the `by-status` index (`Select=COUNT`: the
    /// items are read, none is returned), page after page.
    pub async fn count_by_status(
        &self,
        connection_id: &ConnectionId,
        status: LedgerStatus,
        changed: Option<(OffsetDateTime, OffsetDateTime)>,
    ) -> Result<u64, StoreError> {
        let action = || format!("counting the {status} documents of connection {connection_id}");
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_STATUS)
            .select(aws_sdk_dynamodb::types::Select::Count)
            .expression_attribute_values(":sk", AttributeValue::S(status_key(connection_id, status)));
        query = match changed {
            None => query.key_condition_expression("status_key = :sk"),
            Some((since, until)) => query
                .key_condition_expression("status_key = :sk AND updated_at BETWEEN :from AND :to")
                .expression_attribute_values(":from", AttributeValue::S(timestamp(since)))
                .expression_attribute_values(":to", AttributeValue::S(timestamp(until))),
        };
        let (mut count, mut start) = (0u64, None);
        loop {
            let out = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::new(action(), sdk_error_message(&e)))?;
            count += u64::try_from(out.count).unwrap_or(0);
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    /// Which of `keys` (documents of one connection) the ledger knows,
    /// whatever their status: the read-only poll skips them cheaply (one
    /// BatchGetItem of up to 100 keys per call, keys only).
    pub async fn known(&self, keys: &[LedgerKey]) -> Result<std::collections::HashSet<LedgerKey>, StoreError> {
        let action = || format!("looking up {} documents in the ledger", keys.len());
        let keys = keys.iter().map(item_key).collect();
        let items =
            crate::batch_get(&self.client, &self.table, keys, Some("connection_id, document_key"), &action).await?;
        let mut known = std::collections::HashSet::new();
        for item in items {
            let connection = item.get("connection_id").and_then(|v| v.as_s().ok());
            let document_key = item.get("document_key").and_then(|v| v.as_s().ok());
            if let (Some(connection), Some(document_key)) = (connection, document_key)
                && let Ok(connection) = ConnectionId::parse(connection)
                && let Ok(key) = LedgerKey::from_document_key(connection, document_key)
            {
                known.insert(key);
            }
        }
        Ok(known)
    }

    /// Documents of `connection_id` in `status` whose due time has come
    /// (`due_at <= now`): what the sweeper re-queues. Reads index pages
    /// until `limit` records matched or the partition ends (at most
    /// [`PAGE_LIMIT`] per call); `cursor` continues a partition read.
    pub async fn list_due(
        &self,
        connection_id: &ConnectionId,
        status: LedgerStatus,
        now: OffsetDateTime,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<LedgerPage, StoreError> {
        let action = || format!("listing the {status} documents of connection {connection_id} due for the sweeper");
        let partition = status_key(connection_id, status);
        let mut start = match cursor {
            Some(cursor) => Some(decode_cursor(cursor, &partition).map_err(|why| StoreError::new(action(), why))?),
            None => None,
        };
        let limit = limit.clamp(1, PAGE_LIMIT) as usize;
        let mut records = Vec::new();
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_STATUS)
                .key_condition_expression("status_key = :sk")
                .filter_expression("due_at <= :now")
                .expression_attribute_values(":sk", AttributeValue::S(partition.clone()))
                .expression_attribute_values(":now", AttributeValue::N(now.unix_timestamp().to_string()))
                .limit(i32::try_from(limit - records.len()).unwrap_or(1).max(1))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::new(action(), sdk_error_message(&e)))?;
            for item in out.items.unwrap_or_default() {
                records.push(decode(item, action)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() || records.len() >= limit {
                break;
            }
        }
        Ok(LedgerPage { records, cursor: start.map(|k| encode_cursor(&k)) })
    }

    async fn query_status(
        &self,
        connection_id: &ConnectionId,
        status: LedgerStatus,
        range: Option<(String, String)>,
        limit: u32,
        cursor: Option<&str>,
        action: impl Fn() -> String,
    ) -> Result<LedgerPage, StoreError> {
        let partition = status_key(connection_id, status);
        let start = match cursor {
            Some(cursor) => Some(decode_cursor(cursor, &partition).map_err(|why| StoreError::new(action(), why))?),
            None => None,
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_STATUS)
            .expression_attribute_values(":sk", AttributeValue::S(partition));
        query = match range {
            None => query.key_condition_expression("status_key = :sk"),
            Some((from, to)) => query
                .key_condition_expression("status_key = :sk AND updated_at BETWEEN :from AND :to")
                .expression_attribute_values(":from", AttributeValue::S(from))
                .expression_attribute_values(":to", AttributeValue::S(to)),
        };
        let out = query
            .limit(i32::try_from(limit.clamp(1, PAGE_LIMIT)).unwrap_or(1))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::new(action(), sdk_error_message(&e)))?;
        let records =
            out.items.unwrap_or_default().into_iter().map(|item| decode(item, &action)).collect::<Result<_, _>>()?;
        let cursor = out.last_evaluated_key.map(|k| encode_cursor(&k));
        Ok(LedgerPage { records, cursor })
    }

    /// Runs one conditional update. `Ok(Err(()))` means its condition failed.
    async fn update(
        &self,
        key: &LedgerKey,
        update: Update,
        action: impl Fn() -> String,
    ) -> Result<Result<LedgerRecord, ()>, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("connection_id", AttributeValue::S(key.connection_id.to_string()))
            .key("document_key", AttributeValue::S(key.document_key()))
            .condition_expression(update.condition)
            .update_expression(update.expression)
            .return_values(ReturnValue::AllNew);
        for (placeholder, name) in &update.names {
            if update.uses(placeholder) {
                request = request.expression_attribute_names(*placeholder, *name);
            }
        }
        for (placeholder, value) in &update.values {
            if update.uses(placeholder) {
                request = request.expression_attribute_values(*placeholder, value.clone());
            }
        }
        match request.send().await {
            Ok(out) => match out.attributes {
                Some(item) => decode(item, &action).map(Ok),
                None => Err(StoreError::new(action(), "DynamoDB returned no attributes for the updated record")),
            },
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(Err(())),
            Err(e) => Err(StoreError::new(action(), sdk_error_message(&e))),
        }
    }

    /// A conditional update whose failed condition is either an exact
    /// repeat (`already_done` on the stored record: answered with it) or
    /// a conflict that says what the record holds instead.
    async fn transition(
        &self,
        key: &LedgerKey,
        update: Update,
        action: impl Fn() -> String,
        already_done: impl Fn(&LedgerRecord) -> bool,
    ) -> Result<LedgerRecord, StoreError> {
        if let Ok(record) = self.update(key, update, &action).await? {
            return Ok(record);
        }
        match self.get(key).await? {
            Some(record) if already_done(&record) => Ok(record),
            Some(record) => Err(StoreError::conflict(action(), conflict_advice(&record))),
            None => Err(StoreError::conflict(action(), "it is not in the ledger; claim it first")),
        }
    }
}

/// What the claim loop does next, given the record it found.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    ClaimForPosting,
    ClaimForConfirming,
    Done(Box<ClaimOutcome>),
}

fn next_step(record: &LedgerRecord, holder: &str, now: OffsetDateTime) -> Next {
    let held_by_other = record.is_held_at(now) && !record.held_by(holder);
    let other = || ClaimOutcome::HeldByOther {
        holder: record.holder.clone().unwrap_or_default(),
        until: record.claim_expires_at.unwrap_or(now),
    };
    match record.status {
        LedgerStatus::Confirmed => Next::Done(Box::new(ClaimOutcome::AlreadyConfirmed(record.clone()))),
        LedgerStatus::Failed => Next::Done(Box::new(ClaimOutcome::Failed(record.clone()))),
        _ if held_by_other => Next::Done(Box::new(other())),
        LedgerStatus::Posted => Next::ClaimForConfirming,
        LedgerStatus::Received | LedgerStatus::Claimed => Next::ClaimForPosting,
    }
}

fn conflict_advice(record: &LedgerRecord) -> String {
    let what = record.describe();
    let advice = match record.status {
        LedgerStatus::Claimed | LedgerStatus::Posted if record.holder.is_some() => {
            "this worker no longer holds the claim (it lapsed and was taken over); leave the document to the holder"
        }
        LedgerStatus::Posted if record.erp_reference.is_some() => {
            "the document is already in the ERP under another reference: check the ERP for a duplicate"
        }
        LedgerStatus::Confirmed => "the document is already done; nothing to record",
        LedgerStatus::Failed => "the document failed permanently; replay it once the cause is fixed",
        _ => "this worker no longer holds the claim; claim it again",
    };
    format!("{what}; {advice}")
}

fn check_name(what: &str, value: &str, action: impl Fn() -> String) -> Result<(), StoreError> {
    if value.trim().is_empty() || value.len() > NAME_LIMIT {
        return Err(StoreError::new(action(), format!("the {what} must be 1 to {NAME_LIMIT} characters")));
    }
    Ok(())
}

/// Trims a reason to [`REASON_LIMIT`] bytes on a character boundary.
fn bounded(reason: &str) -> String {
    let reason = reason.trim();
    if reason.is_empty() {
        return "no reason given".to_owned();
    }
    domain::text::ellipsized_bytes(reason, REASON_LIMIT)
}

/// RFC 3339 UTC with exactly three fraction digits: `updated_at` is the
/// index's sort key, and only a fixed width sorts as text in time order.
fn safety_net_secs() -> i64 {
    i64::try_from(SAFETY_NET.as_secs()).unwrap_or(i64::MAX)
}

fn timestamp(at: OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.format(FORMAT).unwrap_or_else(|_| format!("{}", utc.unix_timestamp()))
}

fn encode_value<T: Serialize>(value: &T, action: impl Fn() -> String) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::new(action(), e))
}

/// The table key of a document.
fn item_key(key: &LedgerKey) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("connection_id".to_owned(), AttributeValue::S(key.connection_id.to_string())),
        ("document_key".to_owned(), AttributeValue::S(key.document_key())),
    ])
}

fn decode(item: HashMap<String, AttributeValue>, action: impl Fn() -> String) -> Result<LedgerRecord, StoreError> {
    serde_dynamo::from_item::<_, Item>(item)
        .map_err(|e| e.to_string())
        .and_then(|item| item.into_record().map_err(|e| e.to_string()))
        .map_err(|e| StoreError::new(action(), format!("the stored ledger item is malformed: {e}")))
}

/// The index's last evaluated key as an opaque, URL-safe string.
fn encode_cursor(key: &HashMap<String, AttributeValue>) -> String {
    let plain: std::collections::BTreeMap<&str, &str> =
        key.iter().filter_map(|(name, value)| value.as_s().ok().map(|v| (name.as_str(), v.as_str()))).collect();
    let json = serde_json::to_vec(&plain).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

const CURSOR_ATTRIBUTES: [&str; 4] = ["connection_id", "document_key", "status_key", "updated_at"];

fn decode_cursor(cursor: &str, partition: &str) -> Result<HashMap<String, AttributeValue>, String> {
    const BAD: &str = "the cursor is not one this listing returned; start again without it";
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| BAD.to_owned())?;
    let plain: HashMap<String, String> = serde_json::from_slice(&json).map_err(|_| BAD.to_owned())?;
    let complete = plain.len() == CURSOR_ATTRIBUTES.len() && CURSOR_ATTRIBUTES.iter().all(|a| plain.contains_key(*a));
    if !complete || plain.get("status_key").map(String::as_str) != Some(partition) {
        return Err(BAD.to_owned());
    }
    Ok(plain.into_iter().map(|(name, value)| (name, AttributeValue::S(value))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn key() -> LedgerKey {
        LedgerKey::new(
            ConnectionId::parse("acme").unwrap(),
            DocumentType::CashAdvance,
            ConcurDocumentId::parse("E7F810CA").unwrap(),
        )
    }

    fn record(status: LedgerStatus, holder: Option<&str>, until: Option<OffsetDateTime>) -> LedgerRecord {
        LedgerRecord {
            key: key(),
            status,
            holder: holder.map(str::to_owned),
            claim_expires_at: until,
            claims: 1,
            attempts: 0,
            last_error: None,
            erp_reference: None,
            posting_form: None,
            confirmation: None,
            failed_step: None,
            failure_reason: None,
            replays: 0,
            accepted_parts: Vec::new(),
            earlier_references: Vec::new(),
            sent_at: None,
            resends: 0,
            erp_refusal: None,
            due_at: None,
            failure_reported_at: None,
            settle_until: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn keys_match_the_work_item_and_read_back() {
        let item = WorkItem::new(
            key().connection_id,
            DocumentType::CashAdvance,
            key().document_id,
            domain::WorkSource::Poll,
            datetime!(2026-11-23 10:00 UTC),
        );
        assert_eq!(LedgerKey::from(&item).document_key(), item.document_key());
        assert_eq!(key().document_key(), "cashadvance#E7F810CA");
        assert_eq!(LedgerKey::from_document_key(key().connection_id, "cashadvance#E7F810CA").unwrap(), key());
        for bad in ["cashadvance", "payroll#E7F8", "expense#", "expense#a#b"] {
            assert!(LedgerKey::from_document_key(key().connection_id, bad).is_err(), "{bad}");
        }
        assert_eq!(key().to_string(), "document cashadvance#E7F810CA of connection acme");
    }

    #[test]
    fn status_keys_and_names() {
        assert_eq!(status_key(&key().connection_id, LedgerStatus::Failed), "acme#FAILED");
        for status in LedgerStatus::ALL {
            assert_eq!(status.as_str().parse::<LedgerStatus>().unwrap(), status);
            let stored = serde_json::to_string(&status).unwrap();
            assert_eq!(stored, format!("\"{}\"", status.as_str()));
        }
        assert!("posted".parse::<LedgerStatus>().is_ok());
        assert!("DONE".parse::<LedgerStatus>().is_err());
        assert_eq!(serde_json::to_string(&Confirmation::NotRequired).unwrap(), "\"not_required\"");
    }

    #[test]
    fn timestamps_are_fixed_width_so_they_sort_as_text() {
        let whole = timestamp(datetime!(2026-11-23 10:00:00 UTC));
        let later = timestamp(datetime!(2026-11-23 10:00:00.5 UTC));
        let offset = timestamp(datetime!(2026-11-23 11:00:00.123456 +01:00));
        assert_eq!(whole, "2026-11-23T10:00:00.000Z");
        assert_eq!(later, "2026-11-23T10:00:00.500Z");
        assert_eq!(offset, "2026-11-23T10:00:00.123Z");
        assert!(whole < later);
    }

    #[test]
    fn reasons_are_bounded_on_a_character_boundary() {
        assert_eq!(bounded("  timeout  "), "timeout");
        assert_eq!(bounded(""), "no reason given");
        let long = bounded(&"é".repeat(REASON_LIMIT));
        assert!(long.len() <= REASON_LIMIT + '…'.len_utf8());
        assert!(long.ends_with('…'));
    }

    #[test]
    fn claim_decisions() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let until = now + time::Duration::minutes(5);
        let live = Some(until);
        let lapsed = Some(now - time::Duration::seconds(1));
        let next = |r: &LedgerRecord| next_step(r, "me", now);

        assert_eq!(next(&record(LedgerStatus::Received, None, None)), Next::ClaimForPosting);
        assert_eq!(next(&record(LedgerStatus::Claimed, Some("other"), lapsed)), Next::ClaimForPosting);
        assert_eq!(next(&record(LedgerStatus::Claimed, Some("me"), live)), Next::ClaimForPosting);
        assert_eq!(
            done(next(&record(LedgerStatus::Claimed, Some("other"), live))),
            Some(ClaimOutcome::HeldByOther { holder: "other".into(), until })
        );
        assert_eq!(next(&record(LedgerStatus::Posted, None, None)), Next::ClaimForConfirming);
        assert_eq!(next(&record(LedgerStatus::Posted, Some("other"), lapsed)), Next::ClaimForConfirming);
        assert_eq!(next(&record(LedgerStatus::Posted, Some("me"), live)), Next::ClaimForConfirming);
        assert!(matches!(
            done(next(&record(LedgerStatus::Posted, Some("other"), live))),
            Some(ClaimOutcome::HeldByOther { .. })
        ));
        // Done and failed documents are reported even under someone's claim.
        assert!(matches!(
            done(next(&record(LedgerStatus::Confirmed, None, None))),
            Some(ClaimOutcome::AlreadyConfirmed(_))
        ));
        assert!(matches!(
            done(next(&record(LedgerStatus::Failed, Some("other"), live))),
            Some(ClaimOutcome::Failed(_))
        ));
    }

    fn done(next: Next) -> Option<ClaimOutcome> {
        match next {
            Next::Done(outcome) => Some(*outcome),
            _ => None,
        }
    }

    #[test]
    fn placeholders_are_matched_as_whole_tokens() {
        let update = Update::new("#s = :claimed", "SET #sk = :sk");
        assert!(update.uses("#s") && update.uses("#sk") && update.uses(":claimed") && update.uses(":sk"));
        let update = Update::new("attribute_exists(#pk)", "SET #sk = :sk");
        assert!(!update.uses("#s") && !update.uses(":s"));
    }

    #[test]
    fn cursors_round_trip_and_refuse_other_listings() {
        let key: HashMap<String, AttributeValue> = [
            ("connection_id", "acme"),
            ("document_key", "expense#A1"),
            ("status_key", "acme#FAILED"),
            ("updated_at", "2026-11-23T10:00:00.000Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
        .collect();
        let cursor = encode_cursor(&key);
        assert_eq!(decode_cursor(&cursor, "acme#FAILED").unwrap(), key);
        assert!(decode_cursor(&cursor, "acme#POSTED").is_err());
        assert!(decode_cursor(&cursor, "other#FAILED").is_err());
        assert!(decode_cursor("not a cursor", "acme#FAILED").is_err());
    }
}
