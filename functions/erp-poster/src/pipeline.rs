//! The posting pipeline for one work item:
//!
//! ```text
//! claim ─▶ fetch ─▶ acknowledge ─▶ normalize ─▶ map ─▶ post ─▶ record ─▶ confirm
//! ```
//!
//! - **claim**: a conditional write in the ledger. A second delivery of the
//!   same document backs off while the claim is live; a POSTED document is
//!   only ever confirmed, never posted again; a CONFIRMED one is a duplicate.
//! - **post**: every ERP document of the plan is looked up by the Concur key
//!   before it is created (the adapter does it), so a crash between the ERP
//!   accepting and the ledger recording costs nothing on redelivery.
//! - **failures**: retryable ones (429, 5xx, timeouts, tokens, our stores)
//!   release the claim and leave the message for redelivery; permanent ones
//!   (unmappable, unbalanced, refused by the ERP) stop the document in the
//!   ledger with the step and reason, tell Concur where the flow confirms,
//!   and let the rest of the batch go on. An operator's replay takes a
//!   stopped document up again.
//!
//! Every step leaves an audit event (no document bodies, no secrets). A run
//! keeps its events and writes them together when it ends (one BatchWriteItem
//! for a document's whole story on the happy path, instead of one PutItem a
//! step): the ledger, written at each step, is the record of truth, and a run
//! the Lambda kills before it ends loses only its own events — the next run
//! says "claim 2 (an earlier run did not finish)".

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use concur::fi::FiDocument;
use concur::fi_posting::{AckItem, ErpPostingDoc, FiOutcome, PostingConfirmation, PostingOutcome};
use concur::{GrantStore, TokenManager};
use domain::posting::plan;
use domain::{
    Connection, ErpHold, ErpHoldKind, ErpOutcome, ErpSettings, Failure, FailureKind, HeldComparison, NormalizeOptions,
    WorkItem, WorkSource,
};
use erp::ErpAdapter;
use platform::StoreError;
use platform::audit::{AuditEvent, AuditLog};
use platform::connections::ConnectionStore;
use platform::ledger::{ClaimOutcome, Confirmation, LedgerKey, LedgerRecord, LedgerStore};
use platform::mappings::MappingStore;
use platform::queue::WorkQueue;
use time::OffsetDateTime;
use tracing::Instrument;

use crate::erp_clients::ErpClients;
use crate::metrics::{Became, DocumentLabels};
use crate::purchase_orders::Brought;

/// The function's name in audit events and claim holders.
pub const FUNCTION: &str = "erp-poster";

/// Everything the pipeline talks to, built once per cold start.
pub struct Poster<S> {
    pub connections: ConnectionStore,
    pub mappings: MappingStore,
    pub ledger: LedgerStore,
    /// The reference syncs' state: cursors, leases and record hashes.
    pub reference: platform::reference::ReferenceStore,
    /// Documents staged by their extract files (issue 15).
    pub files: platform::files::FileStore,
    pub audit: AuditLog,
    pub tokens: TokenManager<S>,
    pub erp: ErpClients,
    /// The work queue, to bring a retryable message back sooner than the
    /// visibility timeout; `None` in tests without a queue.
    pub queue: Option<WorkQueue>,
    /// How long a claim holds a document, and a lease a reference sync:
    /// longer than one invocation, shorter than the queue's visibility
    /// timeout, so a redelivery after a crash or a timeout takes over.
    pub claim_ttl: Duration,
    /// Retry waits, the receive limit and the per-document time budget.
    pub rules: crate::BatchRules,
}

/// How often the sweeper looks again at a document that waits on a person
/// in Concur (recalled, or showing "posting failed" after a replay posted it).
pub const CONCUR_WAIT_RECHECK: Duration = Duration::from_secs(24 * 3600);

/// What became of one document, for the batch log and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Posted (and confirmed where the flow asks) now.
    Posted { erp_reference: String },
    /// Already posted by an earlier delivery; only the confirmation was (re)done.
    Confirmed { erp_reference: String },
    /// Accepted for routing by an asynchronous ERP (Infor ION): recorded as
    /// POSTED; confirmed once the ERP's acknowledgement arrives.
    AwaitingErp { erp_reference: String },
    /// An asynchronous ERP accepted one part; more parts are awaited.
    PartAccepted { accepted: usize, parts: u32 },
    /// An asynchronous ERP refused the document: stopped, replayable.
    RefusedByErp,
    /// Waiting in the ledger (the connection or its ERP cannot take it now,
    /// or Concur waits on a person); the sweeper brings it back.
    Parked { reason: String },
    /// A duplicate delivery: nothing to do.
    Duplicate,
    /// Stopped earlier; waits for an operator's replay.
    StoppedEarlier,
}

/// One document's run: the ledger key, the claim holder and the audit trail.
struct Run<'a, S> {
    poster: &'a Poster<S>,
    item: &'a WorkItem,
    key: LedgerKey,
    holder: String,
    /// The document as its extract file staged it, once fetched (issue 15).
    file: std::sync::OnceLock<domain::extract::FileDocument>,
    /// The run's audit events not yet written.
    trail: Trail,
    /// The connection's ERP, once the connection is read (the metrics' `Erp`).
    erp: std::sync::OnceLock<domain::ErpKind>,
}

/// Audit events kept until the run writes them (at its end, or when a batch is full); events left when a run
/// is dropped half way (its future cancelled) are written by a task of their own.
struct Trail {
    audit: AuditLog,
    events: std::sync::Mutex<Vec<AuditEvent>>,
}

/// Events a BatchWriteItem call takes.
const TRAIL_BATCH: usize = 25;

impl Trail {
    fn new(audit: &AuditLog) -> Self {
        Self { audit: audit.clone(), events: std::sync::Mutex::new(Vec::new()) }
    }

    fn take(&self) -> Vec<AuditEvent> {
        self.events.lock().map(|mut events| std::mem::take(&mut *events)).unwrap_or_default()
    }

    /// Keeps `event`; writes the trail when a batch is full.
    async fn push(&self, event: AuditEvent) {
        let full = self
            .events
            .lock()
            .map(|mut events| {
                events.push(event);
                events.len() >= TRAIL_BATCH
            })
            .unwrap_or(false);
        if full {
            self.write().await;
        }
    }

    async fn write(&self) {
        record_trail(&self.audit, self.take()).await;
    }
}

impl Drop for Trail {
    fn drop(&mut self) {
        let events = self.take();
        if events.is_empty() {
            return;
        }
        let audit = self.audit.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { record_trail(&audit, events).await });
        }
    }
}

async fn record_trail(audit: &AuditLog, events: Vec<AuditEvent>) {
    if let Err(e) = audit.record_all(&events).await {
        // The ledger is the record of truth; lost audit events are logged.
        tracing::warn!(events = events.len(), error = %e, "audit events not recorded");
    }
}

impl<S: GrantStore> Poster<S> {
    /// Runs the pipeline for one work item. `Err` is the failure the batch
    /// reports: retryable → redelivered; permanent → already recorded.
    pub async fn process_item(&self, item: &WorkItem) -> Result<Processed, Failure> {
        let run = Run {
            poster: self,
            item,
            key: LedgerKey::new(item.connection_id.clone(), item.document_type, item.document_id.clone()),
            holder: format!("{FUNCTION}:{}", uuid::Uuid::new_v4().simple()),
            file: std::sync::OnceLock::new(),
            trail: Trail::new(&self.audit),
            erp: std::sync::OnceLock::new(),
        };
        // Every log line of the document's run carries these fields.
        let span = tracing::info_span!("document", connection = %item.connection_id, document = %item.document_key(),
            source = ?item.source);
        async {
            let source = format!("{:?}", item.source).to_lowercase();
            let received = format!("from {source}, first seen {}", item.received_at);
            run.audit("received", "ok", Some(received), None).await;
            let processed = run.go().await;
            run.trail.write().await;
            if let (Ok(Processed::Duplicate), Some(labels)) = (&processed, run.labels()) {
                labels.count(Became::DuplicatePrevented);
            }
            processed
        }
        .instrument(span)
        .await
    }

    /// Handles an asynchronous ERP's verdict on a document it accepted for
    /// routing: a part accepted (all parts → confirmed to Concur), or the
    /// document refused (stopped at `erp`, Concur told, replayable).
    pub async fn process_outcome(&self, outcome: &ErpOutcome) -> Result<Processed, Failure> {
        let received = OffsetDateTime::now_utc();
        let item = WorkItem::new(
            outcome.connection_id.clone(),
            outcome.document_type,
            outcome.document_id.clone(),
            WorkSource::Poll,
            received,
        );
        let run = Run {
            poster: self,
            item: &item,
            key: LedgerKey::new(item.connection_id.clone(), item.document_type, item.document_id.clone()),
            holder: format!("{FUNCTION}:{}", uuid::Uuid::new_v4().simple()),
            file: std::sync::OnceLock::new(),
            trail: Trail::new(&self.audit),
            erp: std::sync::OnceLock::new(),
        };
        let span = tracing::info_span!("erp_verdict", connection = %item.connection_id, document = %item.document_key(),
            part = %outcome.part);
        async {
            let processed = run.verdict(outcome).await;
            run.trail.write().await;
            processed
        }
        .instrument(span)
        .await
    }

    /// The ledger takes a document's retry over from the queue: the
    /// sweeper re-queues it after `wait`. `false` when the ledger could not
    /// be written (the message then stays on the queue).
    pub async fn park_item(&self, item: &WorkItem, reason: &str, wait: Duration) -> bool {
        let key = LedgerKey::new(item.connection_id.clone(), item.document_type, item.document_id.clone());
        let now = OffsetDateTime::now_utc();
        match self.ledger.park(&key, reason, now + wait, now).await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(document = %key, error = %e, "could not park the document in the ledger");
                false
            }
        }
    }

    /// The ledger takes over an ERP verdict's retry: the verdict is stored
    /// on the document's record (a repeat stores nothing new) and the
    /// document is parked, so the sweeper brings it back to act on it.
    pub async fn park_outcome(&self, outcome: &ErpOutcome, reason: &str, wait: Duration) -> bool {
        let key = LedgerKey::new(outcome.connection_id.clone(), outcome.document_type, outcome.document_id.clone());
        let now = OffsetDateTime::now_utc();
        let refusal = refusal_reason(outcome);
        let verdict = refusal.as_deref().map_or(Ok(()), Err);
        match self.ledger.record_verdict(&key, &outcome.part, verdict, now).await {
            Ok(Some(_)) => {}
            Ok(None) => return false,
            Err(e) => {
                tracing::error!(document = %key, error = %e, "could not store the ERP's verdict in the ledger");
                return false;
            }
        }
        match self.ledger.park(&key, reason, now + wait, now).await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(document = %key, error = %e, "could not park the document in the ledger");
                false
            }
        }
    }

    /// Sets the message's visibility timeout so it comes back after `after`.
    pub async fn defer_message(&self, receipt_handle: &str, after: Duration) {
        if let Some(queue) = &self.queue {
            queue.defer(receipt_handle, after).await;
        }
    }
}

impl<S: GrantStore> Run<'_, S> {
    async fn go(&self) -> Result<Processed, Failure> {
        let connection = self.connection().await?;
        let mut resubmission_checked = false;
        loop {
            let now = OffsetDateTime::now_utc();
            let claim = self
                .poster
                .ledger
                .claim(&self.key, &self.holder, self.poster.claim_ttl, now)
                .await
                .map_err(|e| store_failure(&e))?;
            if let ClaimOutcome::Failed(record) = &claim
                && !resubmission_checked
            {
                resubmission_checked = true;
                if self.resubmitted(&connection, record).await? {
                    continue;
                }
            }
            return self.claim_outcome(&connection, claim, now).await;
        }
    }

    /// A document stopped after Concur was told it failed is READY again:
    /// a processor recalled, fixed and resubmitted it. It is taken up again
    /// like a replay (a new ERP version where the ERP keeps versions).
    async fn resubmitted(&self, connection: &Connection, record: &LedgerRecord) -> Result<bool, Failure> {
        let new_delivery = matches!(self.item.source, WorkSource::Poll | WorkSource::Webhook);
        if !new_delivery || record.failure_reported_at.is_none() || !connection.flow.confirm_postings {
            return Ok(false);
        }
        let document = self.fetch(connection).await?;
        if document.doc_status.as_deref() != Some(READY) {
            return Ok(false);
        }
        let now = OffsetDateTime::now_utc();
        self.poster.ledger.reset_for_replay(&self.key, now).await.map_err(|e| store_failure(&e))?;
        self.audit(
            "resubmitted",
            "ok",
            Some("READY again in Concur after its failure was reported: taken up again".into()),
            None,
        )
        .await;
        Ok(true)
    }

    async fn claim_outcome(
        &self,
        connection: &Connection,
        claim: ClaimOutcome,
        now: OffsetDateTime,
    ) -> Result<Processed, Failure> {
        match claim {
            ClaimOutcome::Claimed(record) => {
                if let Some(until) = record.settle_until.filter(|until| *until > now) {
                    return Err(self.wait_to_settle(until, now).await);
                }
                if record.claims == 1
                    && record.replays == 0
                    && let Some(labels) = self.labels()
                {
                    labels.count(Became::Received);
                }
                let detail =
                    (record.claims > 1).then(|| format!("claim {} (an earlier run did not finish)", record.claims));
                self.audit("claimed", "ok", detail, None).await;
                self.claimed(connection, &record).await
            }
            ClaimOutcome::AlreadyPosted(record) if awaits_erp_verdict(connection, &record) => {
                self.awaiting_verdict(connection, record, now).await
            }
            ClaimOutcome::AlreadyPosted(record) if record.erp_refusal.is_some() => {
                let reason = record.erp_refusal.clone().unwrap_or_default();
                self.refused_by_erp(connection, &record, &reason).await
            }
            ClaimOutcome::AlreadyPosted(record) => {
                let reference = record.erp_reference.unwrap_or_default();
                self.audit(
                    "duplicate detected",
                    "duplicate",
                    Some("already posted; confirming only".into()),
                    Some(&reference),
                )
                .await;
                let document = match self.fetch(connection).await {
                    Ok(document) => document,
                    Err(failure) if failure.is_retryable() => {
                        self.keep_for_retry_posted(&failure);
                        return Err(failure);
                    }
                    Err(failure) => return Err(self.stop_posted(failure, &reference).await),
                };
                self.confirm(connection, &document, &reference).await?;
                Ok(Processed::Confirmed { erp_reference: reference })
            }
            ClaimOutcome::AlreadyConfirmed(record) => {
                self.audit(
                    "duplicate detected",
                    "duplicate",
                    Some("already posted and confirmed".into()),
                    record.erp_reference.as_deref(),
                )
                .await;
                Ok(Processed::Duplicate)
            }
            ClaimOutcome::HeldByOther { holder, until } => {
                self.audit("claimed", "skipped", Some(format!("held by {holder}; redelivered later")), None).await;
                let wait = (until - now).unsigned_abs().min(Duration::from_secs(900));
                Err(Failure::retryable(
                    format!("{} is being posted by {holder}; it will be looked at again", self.key),
                    Some(wait),
                ))
            }
            ClaimOutcome::Failed(record) => {
                let reason = record.failure_reason.unwrap_or_default();
                self.audit(
                    "duplicate detected",
                    "skipped",
                    Some(format!("stopped earlier: {reason}; replay it to post")),
                    None,
                )
                .await;
                Ok(Processed::StoppedEarlier)
            }
        }
    }

    /// An asynchronous ERP's verdict on one part: stored on the ledger
    /// record first (so nothing that happens next loses it), then acted on
    /// by whoever can hold the document.
    async fn verdict(&self, outcome: &ErpOutcome) -> Result<Processed, Failure> {
        let now = OffsetDateTime::now_utc();
        let ledger = &self.poster.ledger;
        let detail = format!(
            "part {} of {} ({}): {}{}; received by ion-inbox at {}",
            outcome.part,
            outcome.parts,
            outcome.answers,
            if outcome.accepted { "accepted" } else { "refused" },
            outcome.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default(),
            outcome.received_at
        );
        let Some(record) = ledger.get(&self.key).await.map_err(|e| store_failure(&e))? else {
            let reason = format!("an ERP verdict for {} arrived, but the ledger does not know the document", self.key);
            self.audit("erp verdict", "failed", Some(format!("{detail}; {reason}")), None).await;
            return Err(Failure::permanent(reason));
        };
        if is_stale(&record, outcome) {
            let why = "answers an earlier variation than the one now sent; ignored";
            self.audit("erp verdict", "stale", Some(format!("{detail}; {why}")), None).await;
            return Ok(Processed::Duplicate);
        }
        let refusal = refusal_reason(outcome);
        let stored = ledger
            .record_verdict(&self.key, &outcome.part, refusal.as_deref().map_or(Ok(()), Err), now)
            .await
            .map_err(|e| store_failure(&e))?;
        let reference = stored.as_ref().and_then(|r| r.erp_reference.clone());
        let outcome_word = if outcome.accepted { "ok" } else { "refused" };
        self.audit("erp verdict", outcome_word, Some(detail), outcome.erp_id.as_deref().or(reference.as_deref())).await;
        let connection = self.connection().await?;
        let claim =
            ledger.claim(&self.key, &self.holder, self.poster.claim_ttl, now).await.map_err(|e| store_failure(&e))?;
        match claim {
            ClaimOutcome::AlreadyPosted(record) => self.act_on_verdicts(&connection, record).await,
            ClaimOutcome::AlreadyConfirmed(_) => Ok(Processed::Duplicate),
            // Stopped: an accepted part is remembered for the replay.
            ClaimOutcome::Failed(_) => Ok(Processed::StoppedEarlier),
            ClaimOutcome::HeldByOther { holder, until } => {
                // The verdict waits on the record; this message comes back
                // to act on it once the holder is done.
                let wait = (until - now).unsigned_abs().min(self.poster.rules.longest_queue_wait);
                Err(Failure::retryable(format!("{} is held by {holder}; the verdict waits", self.key), Some(wait)))
            }
            ClaimOutcome::Claimed(_) => self.verdict_before_posted(&connection, refusal, now).await,
        }
    }

    /// A verdict on a document the ledger does not show as POSTED: the
    /// worker that sent it stopped before recording it. A refusal stops the
    /// document (Concur told); an acceptance waits on the record, and the
    /// redelivery sends the same messages again (ION drops the repeats)
    /// and finds the part accepted.
    async fn verdict_before_posted(
        &self,
        connection: &Connection,
        refusal: Option<String>,
        now: OffsetDateTime,
    ) -> Result<Processed, Failure> {
        let Some(reason) = refusal else {
            let waiting = "the ERP accepted a part before the posting was recorded; sent again to record it";
            self.poster.ledger.release(&self.key, &self.holder, waiting, now).await.map_err(|e| store_failure(&e))?;
            return Ok(Processed::PartAccepted { accepted: 1, parts: 0 });
        };
        let document = match self.fetch(connection).await {
            Ok(document) => Some(document),
            Err(failure) if failure.is_retryable() => return Err(self.fail("erp", failure, None).await),
            Err(_) => None,
        };
        let concur = document.as_ref().map(|d| (connection, d));
        self.fail("erp", Failure::permanent(reason), concur).await;
        Ok(Processed::RefusedByErp)
    }

    /// Holding a POSTED document of an asynchronous ERP: a stored refusal
    /// stops it, every part accepted confirms it, otherwise it waits for
    /// the rest until its verdict is overdue.
    async fn act_on_verdicts(&self, connection: &Connection, record: LedgerRecord) -> Result<Processed, Failure> {
        let reference = record.erp_reference.clone().unwrap_or_default();
        match verdict_state(&record) {
            VerdictState::Refused(reason) => self.refused_by_erp(connection, &record, &reason).await,
            VerdictState::AllAccepted => {
                let document = self.fetch(connection).await.map_err(waits_for_reauth)?;
                self.confirm(connection, &document, &reference).await?;
                Ok(Processed::Confirmed { erp_reference: reference })
            }
            VerdictState::Waiting { accepted, parts } => {
                let now = OffsetDateTime::now_utc();
                let due = record.sent_at.unwrap_or(now) + verdict_wait(connection);
                let waiting = format!("{accepted} of {parts} ERP messages accepted; waiting for the rest");
                self.poster
                    .ledger
                    .release_until(&self.key, &self.holder, &waiting, due, now)
                    .await
                    .map_err(|e| store_failure(&e))?;
                Ok(match accepted {
                    0 => Processed::AwaitingErp { erp_reference: reference },
                    _ => Processed::PartAccepted { accepted, parts: u32::try_from(parts).unwrap_or(u32::MAX) },
                })
            }
        }
    }

    /// The ERP refused a part: the document stops at `erp` (parts it
    /// accepted stay known, so a replay does not send them again), and
    /// Concur is told where the flow confirms.
    async fn refused_by_erp(
        &self,
        connection: &Connection,
        record: &LedgerRecord,
        reason: &str,
    ) -> Result<Processed, Failure> {
        let now = OffsetDateTime::now_utc();
        let reference = record.erp_reference.clone().unwrap_or_default();
        self.poster
            .ledger
            .record_rejected_by_erp(&self.key, &self.holder, "erp", reason, &earlier_references(record), now)
            .await
            .map_err(|e| store_failure(&e))?;
        if let Some(labels) = self.labels() {
            labels.failed("erp");
        }
        self.audit("failed", "failed", Some(format!("erp: {reason}")), Some(&reference)).await;
        if connection.flow.confirm_postings
            && let Ok(document) = self.fetch(connection).await
            && confirms(connection, &document)
        {
            self.report_failure(connection, &document, reason, now).await;
        }
        Ok(Processed::RefusedByErp)
    }

    /// A POSTED document of an asynchronous ERP, not every part accepted:
    /// a repeat delivery while its verdict is not due yet changes nothing;
    /// an overdue one sends the same messages again, a bounded number of
    /// times, then stops the document for an operator.
    async fn awaiting_verdict(
        &self,
        connection: &Connection,
        record: LedgerRecord,
        now: OffsetDateTime,
    ) -> Result<Processed, Failure> {
        let reference = record.erp_reference.clone().unwrap_or_default();
        let due = record.sent_at.map(|sent| sent + verdict_wait(connection));
        if let Some(due) = due.filter(|due| *due > now) {
            let waiting = "a repeat delivery while the ERP's verdict is awaited";
            if let Err(e) = self.poster.ledger.release_until(&self.key, &self.holder, waiting, due, now).await {
                tracing::warn!(error = %e, "could not release the claim; it lapses on its own");
            }
            let detail = "sent to the ERP; awaiting its verdict".to_owned();
            self.audit("duplicate detected", "duplicate", Some(detail), Some(&reference)).await;
            return Ok(Processed::Duplicate);
        }
        let resends = infor_settings(connection).map_or(0, |s| s.api.verdict_resends);
        if record.resends < resends {
            return self.resend(connection, &record, now).await;
        }
        Err(self.no_verdict(connection, &record, now).await)
    }

    /// No verdict in time: the same messages again (same DocumentID and
    /// variation, so the ERP drops any it has), parts already accepted left
    /// out. A document that would now go in other parts is not sent.
    async fn resend(
        &self,
        connection: &Connection,
        record: &LedgerRecord,
        now: OffsetDateTime,
    ) -> Result<Processed, Failure> {
        let reference = record.erp_reference.clone().unwrap_or_default();
        let number = record.resends + 1;
        let sent = match self.send_again(connection, record).await {
            Ok(sent) => Ok(sent),
            Err(failure) if failure.is_retryable() => {
                // Left for the next try: the claim goes, the due time stays.
                let due = now + self.poster.rules.retry_wait(record.attempts.saturating_add(1));
                let _ = self.poster.ledger.release_until(&self.key, &self.holder, &failure.reason, due, now).await;
                return Err(failure);
            }
            Err(failure) => Err(failure.reason),
        };
        let note = match &sent {
            Ok(_) => format!(
                "no verdict from the ERP {} after sending; the same messages sent again ({number} of {})",
                describe_wait(verdict_wait(connection)),
                infor_settings(connection).map_or(0, |s| s.api.verdict_resends)
            ),
            Err(reason) => format!("no verdict from the ERP, and the messages could not be sent again: {reason}"),
        };
        let due = now + verdict_wait(connection);
        self.poster
            .ledger
            .record_resent(&self.key, &self.holder, &note, due, now)
            .await
            .map_err(|e| store_failure(&e))?;
        self.audit("erp verdict overdue", if sent.is_ok() { "resent" } else { "failed" }, Some(note), Some(&reference))
            .await;
        platform::telemetry::metric("VerdictsOverdue", 1.0, self.item.connection_id.as_str());
        Ok(Processed::AwaitingErp { erp_reference: reference })
    }

    /// Rebuilds the document's messages and sends those not accepted yet.
    async fn send_again(&self, connection: &Connection, record: &LedgerRecord) -> Result<String, Failure> {
        let mut document = self.fetch(connection).await?;
        let plan = self.build_plan(connection, &mut document).await.map_err(|(_, failure)| failure)?;
        let erp = self.poster.erp.for_connection(connection).await?;
        let sent_parts = reference_parts(record.erp_reference.as_deref().unwrap_or_default());
        let now_parts = part_ids(erp.as_ref(), &plan)?;
        let before: Vec<&str> = sent_parts.iter().map(|(id, _)| id.as_str()).collect();
        if now_parts.iter().map(String::as_str).ne(before.iter().copied()) {
            return Err(Failure::permanent(format!(
                "it was sent as {} and would now be sent as {} (the mapping changed?); sending it would make \
                 new ERP documents",
                before.join(", "),
                now_parts.join(", ")
            )));
        }
        let kept: BTreeMap<String, String> =
            sent_parts.into_iter().filter(|(id, _)| record.accepted_parts.contains(id)).collect();
        // The parts were compared above: no vendor can have changed.
        self.post_plan(&*erp, &plan, record.replays.saturating_add(1), &kept, false).await
    }

    /// No verdict after every resend: stopped at `verdict` (the ERP
    /// unavailable, not refusing) for an operator,
    /// who checks ION and replays (a higher variation, which the ERP takes
    /// as a replacement). Concur is not told: nobody knows it failed.
    async fn no_verdict(&self, connection: &Connection, record: &LedgerRecord, now: OffsetDateTime) -> Failure {
        let reference = record.erp_reference.clone().unwrap_or_default();
        let reason = format!(
            "no verdict from the ERP on {reference} after sending it {} times, {} apart: look the messages up in \
             ION (OneView). Replay the document to send it with a higher variation, which the ERP takes as a \
             replacement of anything it holds",
            record.resends + 1,
            describe_wait(verdict_wait(connection))
        );
        let recorded = self
            .poster
            .ledger
            .record_rejected_by_erp(&self.key, &self.holder, "verdict", &reason, &earlier_references(record), now)
            .await;
        if recorded.is_ok()
            && let Some(labels) = self.labels()
        {
            labels.failed("verdict");
        }
        self.audit("erp verdict overdue", "failed", Some(reason.clone()), Some(&reference)).await;
        platform::telemetry::metric("VerdictsMissing", 1.0, self.item.connection_id.as_str());
        match recorded {
            Ok(_) => Failure::permanent(reason),
            Err(e) => store_failure(&e),
        }
    }

    /// The connection, if it exists and its Concur side can be used.
    async fn connection(&self) -> Result<Connection, Failure> {
        let id = &self.item.connection_id;
        let connection = self.poster.connections.get(id).await.map_err(|e| store_failure(&e))?;
        let Some(connection) = connection else {
            let reason = format!("connection {id} does not exist (deleted after the document was queued?)");
            self.audit("received", "failed", Some(reason.clone()), None).await;
            return Err(Failure::permanent(reason));
        };
        if let Some(erp) = &connection.erp {
            let _ = self.erp.set(erp.kind());
        }
        let now = OffsetDateTime::now_utc();
        if !connection.is_flowing() {
            // Nothing is lost: the ledger keeps the document and the sweeper
            // re-queues it once the connection is active again.
            let reason = format!(
                "connection {id} is {:?}{}; documents wait until it is active again",
                connection.status,
                connection.status_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
            );
            return Err(self.park(reason, now).await);
        }
        if let Some(hold) = &connection.erp_hold
            && let Some(recheck) = hold.holds_until(&self.poster.rules.erp_holds())
            && recheck > now
        {
            let what = match hold.kind {
                ErpHoldKind::Refused => "refused its credentials".to_owned(),
                ErpHoldKind::Unavailable => format!("failed {} posts in a row", hold.failures),
            };
            let reason = format!(
                "the ERP of connection {id} {what} ({}); documents wait, the next try is at {}",
                hold.reason,
                domain::clock::rfc3339(recheck)
            );
            return Err(self.park_until(reason, recheck, now).await);
        }
        Ok(connection)
    }

    /// Holding the claim: fetch → acknowledge → normalize → map → post → record → confirm.
    /// `record`: the claimed ledger record (its replays version what an
    /// ERP without lookups receives, see `ErpAdapter::post_attempt`; its accepted
    /// parts are not sent again).
    async fn claimed(&self, connection: &Connection, record: &LedgerRecord) -> Result<Processed, Failure> {
        let started = Instant::now();
        let mut document = match self.fetch(connection).instrument(step("fetch")).await {
            Ok(document) => document,
            Err(failure) => return Err(self.fail("fetch", failure, None).await),
        };
        self.step_took("fetch", started);
        // A connection that does not confirm keeps Concur read-only (IFS
        // Cloud's flow): no acknowledgement either; the ledger alone keeps
        // a document from being posted twice.
        if confirms(connection, &document) {
            let acknowledged =
                self.acknowledge(&document, &system_id(connection, &document)).instrument(step("acknowledge")).await;
            if let Err(failure) = acknowledged {
                return Err(self.fail("acknowledge", failure, None).await);
            }
            document.doc_status = Some("ACKNOWLEDGED".into());
        }
        let plan = match self.build_plan(connection, &mut document).instrument(step("map")).await {
            Ok(plan) => plan,
            Err((step, failure)) => {
                let concur = (!failure.is_retryable()).then_some((connection, &document));
                return Err(self.fail(step, failure, concur).await);
            }
        };
        let erp = match self.poster.erp.for_connection(connection).await {
            Ok(erp) => erp,
            Err(failure) => return Err(self.fail("post", failure, Some((connection, &document))).await),
        };
        let ordered = self.purchase_orders_first(connection, &*erp, &plan).instrument(step("purchase orders")).await;
        if let Err(failure) = ordered {
            return Err(self.fail("post", failure, Some((connection, &document))).await);
        }
        let kept = kept_parts(connection, record);
        let attempt = record.replays.saturating_add(1);
        // Only an earlier claim can have reached the ERP under another mapping.
        let earlier_attempt = record.claims > 1 || record.replays > 0;
        let posting = self.post_plan(&*erp, &plan, attempt, &kept, earlier_attempt);
        let started = Instant::now();
        let reference = match posting.instrument(step("post")).await {
            Ok(reference) => reference,
            Err(failure) => return Err(self.fail("post", failure, Some((connection, &document))).await),
        };
        self.step_took("post", started);
        let now = OffsetDateTime::now_utc();
        let posted = match self.poster.ledger.record_posted(&self.key, &self.holder, &reference, plan.form, now).await {
            Ok(posted) => {
                if let Some(labels) = self.labels() {
                    labels.count(Became::Posted);
                }
                posted
            }
            // The ERP has it; the redelivery finds it by its key and records it then.
            Err(e) => return Err(store_failure(&e)),
        };
        self.clear_erp_hold(connection).await;
        if erp.is_asynchronous() {
            // Accepted for routing, not yet posted: the ERP's verdict comes
            // back as an `erp_outcome` message (or came already: it waits
            // on the record), which confirms or stops it.
            return self.act_on_verdicts(connection, posted).await;
        }
        let started = Instant::now();
        self.confirm(connection, &document, &reference).instrument(step("confirm")).await?;
        self.step_took("confirm", started);
        Ok(Processed::Posted { erp_reference: reference })
    }

    /// normalize → map → plan. `Err` names the step that failed.
    async fn build_plan(
        &self,
        connection: &Connection,
        document: &mut FiDocument,
    ) -> Result<domain::posting::PostingPlan, (&'static str, Failure)> {
        let entry = match (self.file.get(), document.normalized.take()) {
            // Refusals and line sources name the file's rows.
            (Some(file), _) => file.normalize(&NormalizeOptions::default()),
            // Normalized as it was fetched (`ConcurClient::fi_documents`).
            (None, Some(normalized)) => normalized,
            (None, None) => {
                return Err((
                    "normalize",
                    Failure::retryable("the document was fetched without its entry (a fetch is retried)", None),
                ));
            }
        }
        .map_err(|e| {
            ("normalize", Failure::permanent(format!("the document cannot be turned into a balanced entry: {e}")))
        })?;
        let form = connection.flow.form_for(self.item.document_type);
        let mapping = match self.poster.mappings.get(&connection.connection_id).await {
            Ok(Some(stored)) => stored.mapping,
            Ok(None) => {
                return Err((
                    "map",
                    Failure::permanent(format!(
                        "connection {} has no mapping: import one with `connector mapping import {} FILE.yaml`, then replay",
                        connection.connection_id, connection.connection_id
                    )),
                ));
            }
            Err(e) => return Err(("map", store_failure(&e))),
        };
        let today = OffsetDateTime::now_utc().date();
        let plan = plan(&mapping, &entry, form, today)
            .map_err(|e| ("map", Failure::permanent(format!("the document cannot be mapped: {e}"))))?;
        let summary = plan
            .documents
            .iter()
            .map(|d| format!("{} {} {}", d.label(), d.total(), d.currency))
            .collect::<Vec<_>>()
            .join("; ");
        self.audit("mapped", "ok", Some(format!("{} {}: {summary}", entry.total(), entry.currency())), None).await;
        Ok(plan)
    }

    /// Creates in the ERP the Concur purchase orders the plan references,
    /// where the ERP keeps them (IFS Cloud), before the plan posts (see
    /// [`crate::purchase_orders`]).
    async fn purchase_orders_first(
        &self,
        connection: &Connection,
        erp: &dyn ErpAdapter,
        plan: &domain::posting::PostingPlan,
    ) -> Result<(), Failure> {
        for number in &plan.purchase_orders {
            match self.poster.bring_purchase_order(connection, erp, number).await? {
                Brought::NotKept => return Ok(()),
                Brought::Held => {}
                Brought::Created { reference, lines } => {
                    let detail = format!("Concur PO {number} ({lines} lines) created in the ERP");
                    self.audit("purchase order", "ok", Some(detail), Some(&reference)).await;
                }
                Brought::NotInConcur => {
                    return Err(Failure::permanent(format!(
                        "the invoice references purchase order `{number}`, which Concur's Purchase Order API does \
                         not have: correct the PO number on the invoice in Concur, or create the PO in the ERP, then \
                         replay"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Posts every ERP document of the plan; the joined references. Parts
    /// in `kept` are not sent again, and must still be parts of the plan.
    /// After an `earlier_attempt`, vendor documents the ERP already holds
    /// under a vendor the mapping no longer names stand for the plan's.
    async fn post_plan(
        &self,
        erp: &dyn ErpAdapter,
        plan: &domain::posting::PostingPlan,
        attempt: u32,
        kept: &BTreeMap<String, String>,
        earlier_attempt: bool,
    ) -> Result<String, Failure> {
        if !kept.is_empty() {
            check_kept_parts(erp, plan, kept)?;
        }
        let earlier = match earlier_attempt {
            true => self.posted_under_earlier_mapping(erp, plan).await?,
            false => None,
        };
        let mut references = Vec::with_capacity(plan.documents.len());
        if let Some(earlier) = &earlier {
            references.extend(earlier.strays.iter().map(|held| held.reference.clone()));
        }
        for (index, erp_document) in plan.documents.iter().enumerate() {
            if earlier.as_ref().is_some_and(|e| e.missing.contains(&index)) {
                continue;
            }
            match erp.post_attempt(erp_document, attempt, kept).await {
                Ok(reference) => {
                    self.audit("posted", "ok", Some(erp_document.label()), Some(&reference.reference)).await;
                    if !reference.duplicates.is_empty() {
                        self.report_duplicates(&reference).await;
                    }
                    references.push(reference.reference);
                }
                Err(failure) if references.is_empty() || failure.is_retryable() => return Err(failure),
                // The parts already created stay (each is found by its key
                // on replay, never created twice); say so.
                Err(failure) => {
                    return Err(Failure {
                        reason: format!("{} (already created: {})", failure.reason, references.join(", ")),
                        kind: failure.kind,
                    });
                }
            }
        }
        Ok(references.join(", "))
    }

    /// What an earlier attempt created on vendors the mapping has stopped
    /// naming since (the operator changed it between attempts). Lookups
    /// before a create match key and vendor, so without this a changed
    /// vendor would get a second copy. `None`: nothing of the kind. When the
    /// ERP's documents stand one for one for the vendor documents the plan
    /// misses, they are the posting (reported); when they cannot, the
    /// document stops, nothing more created.
    async fn posted_under_earlier_mapping(
        &self,
        erp: &dyn ErpAdapter,
        plan: &domain::posting::PostingPlan,
    ) -> Result<Option<HeldComparison>, Failure> {
        let Some(key) = plan.vendor_key() else { return Ok(None) };
        let Some(held) = erp.vendor_documents_for_key(key).await? else { return Ok(None) };
        let comparison = plan.compare_held(&held);
        if comparison.strays.is_empty() {
            return Ok(None);
        }
        let strays = comparison
            .strays
            .iter()
            .map(|h| format!("{} (vendor {})", h.reference, h.vendor))
            .collect::<Vec<_>>()
            .join(", ");
        let missing = comparison.missing.iter().map(|&i| plan.documents[i].label()).collect::<Vec<_>>().join(", ");
        // One earlier document per missing one: the vendors were renamed.
        // Anything else (a vendor now mapped to an account, two vendors
        // merged) cannot be paired safely.
        if comparison.missing.len() != comparison.strays.len() {
            let asks = if missing.is_empty() { "no document on those vendors".to_owned() } else { missing };
            return Err(Failure::permanent(format!(
                "an earlier attempt created {strays} for Concur key `{key}`, but the mapping now asks for {asks}; \
                 which of them the earlier documents stand for is unknown, so nothing more was created. Either \
                 restore the earlier vendor mapping and replay (the documents are then found), or remove the \
                 earlier documents in the ERP and replay"
            )));
        }
        let detail = format!(
            "the ERP already holds {strays} for this document, created by an earlier attempt before the vendor \
             mapping changed; the mapping now asks for {missing}. Recorded as posted, nothing created twice; if the \
             earlier vendor is wrong, correct it in the ERP"
        );
        self.audit("posted under an earlier mapping", "warning", Some(detail), Some(&strays)).await;
        platform::telemetry::metric("PostedUnderEarlierMapping", 1.0, self.item.connection_id.as_str());
        Ok(Some(comparison))
    }

    /// Other ERP documents carry this document's Concur key (made by hand,
    /// by another tool): never used, reported.
    async fn report_duplicates(&self, reference: &erp::ErpReference) {
        let detail = format!(
            "the ERP holds other documents with this Concur key: {}; check them in the ERP",
            reference.duplicates.join(", ")
        );
        self.audit("duplicate found", "warning", Some(detail), Some(&reference.reference)).await;
        platform::telemetry::metric(
            "DuplicatesFound",
            reference.duplicates.len() as f64,
            self.item.connection_id.as_str(),
        );
    }

    /// The ERP took our credentials again: the connection's documents flow.
    async fn clear_erp_hold(&self, connection: &Connection) {
        if connection.erp_hold.is_none() {
            return;
        }
        match self.poster.connections.record_erp_hold(&connection.connection_id, None).await {
            Ok(()) => tracing::info!(connection = %connection.connection_id, "the ERP posts again: hold cleared"),
            Err(e) => {
                tracing::warn!(connection = %connection.connection_id, error = %e, "could not clear the ERP hold")
            }
        }
    }

    async fn fetch(&self, connection: &Connection) -> Result<FiDocument, Failure> {
        if let Some(document) = self.staged(connection).await? {
            return Ok(document);
        }
        let (doc_type, id) = (self.item.document_type, self.item.document_id.as_str());
        let client = self.poster.tokens.client();
        // Any status: a document this connector acknowledged on an earlier
        // attempt is no longer READY.
        let fetched = self
            .poster
            .tokens
            .with_token(&connection.connection_id, |token| async move {
                client.fi_document(&token, doc_type, id, true).await
            })
            .await
            .map_err(|e| e.to_failure(&format!("fetching {doc_type} {id} from Concur")))?;
        match fetched {
            Some(document) => {
                self.audit(
                    "fetched",
                    "ok",
                    Some(format!("FI document {} ({})", document.id, document.doc_status.as_deref().unwrap_or("?"))),
                    None,
                )
                .await;
                Ok(document)
            }
            // Concur announces documents before Financial Integration has
            // them ready; nothing is lost by waiting.
            None => Err(Failure::retryable(
                format!("Concur has no Financial Integration {doc_type} document `{id}` (yet)"),
                Some(Duration::from_secs(300)),
            )),
        }
    }

    /// The document as an extract file staged it, when the connection takes files and a file brought it
    /// (it is then never fetched from, acknowledged to or confirmed to Financial Integration).
    async fn staged(&self, connection: &Connection) -> Result<Option<FiDocument>, Failure> {
        let takes_files = connection.posting_source.resolve(connection.edition).files.is_some();
        if !takes_files && self.item.source != WorkSource::File {
            return Ok(None);
        }
        let staged = self
            .poster
            .files
            .staged(&connection.connection_id, self.item.document_type, &self.item.document_id)
            .await
            .map_err(|e| store_failure(&e))?;
        let Some(staged) = staged else {
            if self.item.source == WorkSource::File {
                return Err(Failure::retryable(
                    "the document's staged file copy is missing from the files bucket",
                    None,
                ));
            }
            return Ok(None);
        };
        self.audit(
            "fetched",
            "ok",
            Some(format!("from {} (rows {}–{})", staged.file, staged.document.rows.0, staged.document.rows.1)),
            None,
        )
        .await;
        let document = FiDocument {
            id: staged.document.business_id.to_string(),
            doc_type: self.item.document_type.as_str().to_owned(),
            doc_status: Some(FROM_FILE.to_owned()),
            company_uuid: None,
            erp_system_id: None,
            business_id: Some(staged.document.business_id.to_string()),
            // The file's own reading (`self.file`) normalizes it.
            normalized: None,
        };
        let _ = self.file.set(staged.document);
        Ok(Some(document))
    }

    async fn acknowledge(&self, document: &FiDocument, system_id: &str) -> Result<(), Failure> {
        let doc_type = self.item.document_type;
        let client = self.poster.tokens.client();
        let items = [AckItem { doc_id: document.id.clone(), system_id: Some(system_id.to_owned()) }];
        let items = &items;
        let results =
            self.poster
                .tokens
                .with_token(&self.item.connection_id, |token| async move {
                    client.acknowledge(&token, doc_type, items).await
                })
                .await
                .map_err(|e| e.to_failure(&format!("acknowledging FI document {}", document.id)))?;
        let Some(result) = results.into_iter().next() else {
            return Err(Failure::retryable("Concur's acknowledgement answer was empty", None));
        };
        if result.is_done() {
            self.audit("acknowledged", "ok", Some(format!("{:?}", result.outcome)), None).await;
            Ok(())
        } else if result.outcome == FiOutcome::Recalled {
            // Not a failure of the document: it comes back READY when the
            // processor resubmits it, and the poll or webhook brings it then.
            Err(Failure::parked(format!(
                "recalled in Concur by the processor; posted once it is resubmitted and READY again ({})",
                result.describe()
            )))
        } else if result.outcome.is_retryable() {
            Err(Failure::retryable(result.describe(), None))
        } else {
            Err(Failure::permanent(result.describe()))
        }
    }

    /// Sends the success confirmation where the flow asks, then marks the
    /// document CONFIRMED — only when Concur ends up showing success. What
    /// is sent depends on what Concur shows (the fetched `docStatus`):
    /// success already (an earlier answer was lost) → recorded only;
    /// READY (resubmitted after a reported failure) → acknowledged first;
    /// "posting failed" or recalled → Concur cannot turn that into success
    /// (a second confirmation is answered 113), so the document stays
    /// POSTED, visibly unconfirmed with the reason, until a processor
    /// resubmits it. A retryable Concur failure leaves it POSTED (the
    /// redelivery confirms only); a permanent one stops it at `confirm`.
    async fn confirm(&self, connection: &Connection, document: &FiDocument, reference: &str) -> Result<(), Failure> {
        let now = OffsetDateTime::now_utc();
        if !confirms(connection, document) {
            self.record_confirmed(Confirmation::NotRequired, now).await?;
            self.audit(
                "confirmed",
                "skipped",
                Some("this connection's flow sends no confirmation to Concur".into()),
                Some(reference),
            )
            .await;
            return Ok(());
        }
        match ConcurShows::of(document) {
            ConcurShows::Success => return self.confirmed_already(reference).await,
            ConcurShows::FailureOrRecalled => return Err(self.unconfirmable(document, reference).await),
            ConcurShows::Ready => {
                if let Err(failure) = self.acknowledge(document, &system_id(connection, document)).await {
                    return Err(self.keep_posted(failure, reference).await);
                }
            }
            ConcurShows::Acknowledged => {}
        }
        let system_id = system_id(connection, document);
        let company_id = erp_company(connection);
        let docs = reference
            .split(", ")
            .map(|r| ErpPostingDoc {
                company_id: company_id.clone(),
                document_number: Some(r.rsplit('/').next().unwrap_or(r).to_owned()),
                fiscal_year: Some(now.year()),
                posting_date: Some(now.date()),
            })
            .collect();
        let confirmation = PostingConfirmation {
            doc_id: document.id.clone(),
            system_id: Some(system_id),
            outcome: PostingOutcome::Posted(docs),
        };
        match self.send_confirmation(confirmation).await {
            Ok(FiOutcome::AlreadyConfirmed) => {
                // 113: Concur holds a confirmation already — ours whose answer
                // was lost, or a failure. Only its status says which.
                let document = self.fetch(connection).await.map_err(waits_for_reauth)?;
                match ConcurShows::of(&document) {
                    ConcurShows::Success => self.confirmed_already(reference).await,
                    _ => Err(self.unconfirmable(&document, reference).await),
                }
            }
            Ok(_) => {
                self.record_confirmed(Confirmation::Sent, OffsetDateTime::now_utc()).await?;
                self.audit("confirmed", "ok", None, Some(reference)).await;
                Ok(())
            }
            Err(failure) => Err(self.keep_posted(failure, reference).await),
        }
    }

    /// A confirmation that could not be sent: retryable → the document stays
    /// POSTED and the redelivery confirms; permanent → stopped at `confirm`.
    async fn keep_posted(&self, failure: Failure, reference: &str) -> Failure {
        if failure.is_retryable() || failure.kind == FailureKind::NeedsReauth {
            self.audit("confirmed", "failed", Some(format!("will retry: {}", failure.reason)), Some(reference)).await;
            self.keep_for_retry_posted(&failure);
            return failure;
        }
        self.stop_posted(failure, reference).await
    }

    async fn confirmed_already(&self, reference: &str) -> Result<(), Failure> {
        self.record_confirmed(Confirmation::Sent, OffsetDateTime::now_utc()).await?;
        self.audit("confirmed", "ok", Some("Concur already shows the posting as successful".into()), Some(reference))
            .await;
        Ok(())
    }

    /// Posted in the ERP, but Concur shows "posting failed" (a failure was
    /// confirmed before a replay posted it) or the report was recalled:
    /// Concur cannot be told success now. The document stays POSTED with
    /// its ERP reference and the reason, and is looked at again daily; when
    /// a processor resubmits it, it is acknowledged and confirmed, never
    /// posted again.
    async fn unconfirmable(&self, document: &FiDocument, reference: &str) -> Failure {
        let now = OffsetDateTime::now_utc();
        let reason = format!(
            "posted in the ERP as {reference}, but Concur shows FI document {} as {} and cannot change it to \
             success; a processor must recall and resubmit it in Concur, then the connector confirms it without \
             posting again",
            document.id,
            document.doc_status.as_deref().unwrap_or("?")
        );
        self.audit("confirmed", "blocked", Some(reason.clone()), Some(reference)).await;
        let due = now + CONCUR_WAIT_RECHECK;
        match self.poster.ledger.release_until(&self.key, &self.holder, &reason, due, now).await {
            Ok(_) => Failure::parked(reason),
            Err(e) => store_failure(&e),
        }
    }

    /// A posted document whose confirmation cannot be sent: stopped at
    /// `confirm` (a replay retries the confirmation only, never the post).
    async fn stop_posted(&self, failure: Failure, reference: &str) -> Failure {
        let now = OffsetDateTime::now_utc();
        let recorded = self.poster.ledger.record_failed(&self.key, &self.holder, "confirm", &failure.reason, now).await;
        self.audit("failed", "failed", Some(format!("confirm: {}", failure.reason)), Some(reference)).await;
        match recorded {
            Ok(_) => {
                if let Some(labels) = self.labels() {
                    labels.failed("confirm");
                }
                failure
            }
            Err(e) => store_failure(&e),
        }
    }

    /// Sends one confirmation; `Ok` with Concur's outcome when it is done
    /// (accepted, or 113: a confirmation is already there).
    async fn send_confirmation(&self, confirmation: PostingConfirmation) -> Result<FiOutcome, Failure> {
        let doc_type = self.item.document_type;
        let client = self.poster.tokens.client();
        let doc_id = confirmation.doc_id.clone();
        let confirmations = [confirmation];
        let confirmations = &confirmations;
        let results = self
            .poster
            .tokens
            .with_token(&self.item.connection_id, |token| async move {
                client.confirm_posting(&token, doc_type, confirmations).await
            })
            .await
            .map_err(|e| e.to_failure(&format!("confirming the posting of FI document {doc_id}")))?;
        match results.into_iter().next() {
            Some(result) if result.is_done() => Ok(result.outcome),
            Some(result) if result.outcome.is_retryable() => Err(Failure::retryable(result.describe(), None)),
            Some(result) => Err(Failure::permanent(result.describe())),
            None => Err(Failure::retryable("Concur's confirmation answer was empty", None)),
        }
    }

    async fn record_confirmed(&self, confirmation: Confirmation, now: OffsetDateTime) -> Result<(), Failure> {
        self.poster
            .ledger
            .record_confirmed(&self.key, &self.holder, confirmation, now)
            .await
            .map_err(|e| store_failure(&e))?;
        if let Some(labels) = self.labels() {
            labels.count(Became::Confirmed);
        }
        Ok(())
    }

    /// The metrics' dimensions of this document, once its connection is read.
    fn labels(&self) -> Option<DocumentLabels<'_>> {
        let erp = *self.erp.get()?;
        Some(DocumentLabels { connection: self.item.connection_id.as_str(), erp, doc_type: self.item.document_type })
    }

    fn step_took(&self, step: &'static str, started: Instant) {
        if let Some(labels) = self.labels() {
            labels.step_latency(step, started.elapsed());
        }
    }

    /// A POSTED document whose confirmation must wait: the claim lapses on
    /// its own and the redelivery confirms it.
    fn keep_for_retry_posted(&self, failure: &Failure) {
        tracing::warn!(reason = %failure.reason, "posted; confirmation left for the redelivery");
    }

    /// Records a failure while holding the claim: retryable → the claim is
    /// released with the error (the message is redelivered); permanent →
    /// the document is stopped with its step and reason, and Concur is told
    /// when the flow confirms and the document was acknowledged.
    async fn fail(&self, step: &str, failure: Failure, concur: Option<(&Connection, &FiDocument)>) -> Failure {
        let now = OffsetDateTime::now_utc();
        if failure.kind == FailureKind::NeedsReauth {
            // A dead grant needs a person, not the document: it waits in the
            // ledger, visibly, and resumes on its own once the grant works.
            let due = if step == "post" {
                self.hold_erp(&failure.reason, now).await;
                now + self.poster.rules.erp_hold_recheck
            } else {
                // Concur's grant: the token manager marked the connection
                // needs_reauth; the sweeper waits until it is active again.
                now
            };
            let reason = format!("waiting for a working grant: {}", failure.reason);
            self.audit(step, "waiting", Some(reason.clone()), None).await;
            return match self.poster.ledger.release_until(&self.key, &self.holder, &reason, due, now).await {
                Ok(_) => parked(reason),
                Err(e) => store_failure(&e),
            };
        }
        if failure.kind == FailureKind::Parked {
            self.audit(step, "waiting", Some(failure.reason.clone()), None).await;
            let due = now + CONCUR_WAIT_RECHECK;
            return match self.poster.ledger.release_until(&self.key, &self.holder, &failure.reason, due, now).await {
                Ok(_) => failure,
                Err(e) => store_failure(&e),
            };
        }
        if let FailureKind::Retryable { after } = failure.kind {
            self.audit(step, "failed", Some(format!("will retry: {}", failure.reason)), None).await;
            if step == "post" && concur.is_some() {
                self.note_erp_unavailable(&failure.reason, now).await;
            }
            let released = if step == "post" {
                // The create's outcome is unknown: it may commit after any
                // lookup made now. Nothing looks again before it settles.
                let until = now + self.poster.rules.settle_window;
                self.poster.ledger.release_unsettled(&self.key, &self.holder, &failure.reason, until, now).await
            } else {
                self.poster.ledger.release(&self.key, &self.holder, &failure.reason, now).await
            };
            return match released {
                // The wait grows with the document's attempts, which the
                // ledger counts across messages (unlike SQS's receive count).
                Ok(record) => {
                    let settle = record.settle_until.map_or(Duration::ZERO, |until| (until - now).unsigned_abs());
                    let wait = after.unwrap_or_else(|| self.poster.rules.retry_wait(record.attempts)).max(settle);
                    Failure::retryable(failure.reason, Some(wait))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not release the claim; it lapses on its own");
                    failure
                }
            };
        }
        if let Err(e) = self.poster.ledger.record_failed(&self.key, &self.holder, step, &failure.reason, now).await {
            // Not stopped in the ledger: let the message come back rather than lose the document.
            tracing::error!(error = %e, "could not record the failure; leaving the message for a retry");
            return store_failure(&e);
        }
        if let Some(labels) = self.labels() {
            labels.failed(step);
        }
        self.audit("failed", "failed", Some(format!("{step}: {}", failure.reason)), None).await;
        if let Some((connection, document)) = concur.filter(|(c, d)| confirms(c, d)) {
            self.report_failure(connection, document, &failure.reason, now).await;
        }
        failure
    }

    /// Tells Concur the document failed (it then shows "posting failed")
    /// and records that it was told; a failure to tell is audited.
    async fn report_failure(&self, connection: &Connection, document: &FiDocument, reason: &str, now: OffsetDateTime) {
        let confirmation = PostingConfirmation {
            doc_id: document.id.clone(),
            system_id: Some(system_id(connection, document)),
            outcome: PostingOutcome::Failed { reason: reason.to_owned() },
        };
        match self.send_confirmation(confirmation).await {
            Ok(_) => {
                self.audit("confirmed", "ok", Some("failure reported to Concur".into()), None).await;
                if let Err(e) = self.poster.ledger.record_failure_reported(&self.key, now).await {
                    tracing::warn!(error = %e, "could not record that Concur was told");
                }
            }
            Err(e) => {
                let detail = format!("the failure could not be reported to Concur: {}", e.reason);
                tracing::warn!(%detail);
                self.audit("confirmed", "failed", Some(detail), None).await;
            }
        }
    }

    /// An earlier create of this document has an unknown outcome and may
    /// still commit: the document waits (claim released, due then) instead
    /// of being looked up and created again now.
    async fn wait_to_settle(&self, until: OffsetDateTime, now: OffsetDateTime) -> Failure {
        let reason = format!(
            "an earlier create may still commit in the ERP; looked up again after {}",
            domain::clock::rfc3339(until)
        );
        self.audit("claimed", "waiting", Some(reason.clone()), None).await;
        if let Err(e) = self.poster.ledger.release_until(&self.key, &self.holder, &reason, until, now).await {
            tracing::warn!(error = %e, "could not release the claim; it lapses on its own");
        }
        Failure::retryable(reason, Some((until - now).unsigned_abs()))
    }

    /// Hands the document to the ledger (no claim needed): the sweeper
    /// re-queues it once its connection flows again. The answer is a
    /// [`Failure`] the batch treats as done ([`parked`]) when the ledger
    /// holds it, or a retryable one when it could not be written.
    async fn park(&self, reason: String, now: OffsetDateTime) -> Failure {
        self.park_until(reason, now, now).await
    }

    async fn park_until(&self, reason: String, due: OffsetDateTime, now: OffsetDateTime) -> Failure {
        match self.poster.ledger.park(&self.key, &reason, due, now).await {
            Ok(_) => {
                self.audit("parked", "waiting", Some(reason.clone()), None).await;
                parked(reason)
            }
            Err(e) => store_failure(&e),
        }
    }

    /// Marks the connection's ERP as refusing its credentials (visible in
    /// `connector connections show`), so other documents wait instead of
    /// trying the same dead login.
    async fn hold_erp(&self, reason: &str, now: OffsetDateTime) {
        let hold = ErpHold::refused(reason, now);
        self.poster.erp.forget(&self.item.connection_id);
        if let Err(e) = self.poster.connections.record_erp_hold(&self.item.connection_id, Some(&hold)).await {
            tracing::warn!(connection = %self.item.connection_id, error = %e, "could not record the ERP hold");
        }
    }

    /// A post failed through every retry: one more failure in a row on
    /// the connection's hold, counted in the store (the connection's
    /// documents in flight at once fail together). From `erp_outage_after`
    /// on, its documents wait in the ledger instead of each trying an ERP
    /// that is down; the ones already in flight finish their try.
    async fn note_erp_unavailable(&self, reason: &str, now: OffsetDateTime) {
        let id = &self.item.connection_id;
        match self.poster.connections.count_erp_unavailable(id, reason, now).await {
            Ok(hold) if hold.failures == self.poster.rules.erp_holds().unavailable_after => {
                tracing::warn!(failures = hold.failures, %reason,
                    "the ERP failed posts in a row: the connection's documents wait until it answers again");
                platform::telemetry::metric("ErpOnHold", 1.0, id.as_str());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not count the failed post on the connection's ERP hold"),
        }
    }

    async fn audit(&self, step: &str, outcome: &str, detail: Option<String>, erp_reference: Option<&str>) {
        let subject = self.item.document_key();
        let mut event = self.poster.audit.event(self.item.connection_id.as_str(), &subject, step, outcome);
        event.detail = detail.map(|d| domain::text::truncate(&d, 1000).to_owned());
        event.erp_reference = erp_reference.filter(|r| !r.is_empty()).map(str::to_owned);
        self.trail.push(event).await;
    }
}

/// The `doc_status` of a document read from its extract file: there is no Financial Integration document to
/// acknowledge or confirm (the path keeps Concur read-only).
const FROM_FILE: &str = "FROM_EXTRACT_FILE";

/// Whether the document's posting is acknowledged and confirmed to Concur: the connection's flow says so and
/// the document came through Financial Integration.
fn confirms(connection: &Connection, document: &FiDocument) -> bool {
    connection.flow.confirm_postings && document.doc_status.as_deref() != Some(FROM_FILE)
}

/// What Concur shows for a document, as far as confirming goes.
enum ConcurShows {
    Ready,
    Acknowledged,
    Success,
    FailureOrRecalled,
}

const READY: &str = "READY";

impl ConcurShows {
    fn of(document: &FiDocument) -> Self {
        match document.doc_status.as_deref().map(str::trim) {
            Some(READY) => Self::Ready,
            Some(
                "POSTING_CONFIRMED_SUCCESS"
                | "PAID"
                | "PAYMENT_CONFIRMED_SUCCESS"
                | "PAYMENT_CONFIRMED_REVERSED"
                | "PAYMENT_CONFIRMED_OBSOLETE",
            ) => Self::Success,
            Some("POSTING_CONFIRMED_FAILURE" | "RECALLED") => Self::FailureOrRecalled,
            // ACKNOWLEDGED, or a status Concur may add: send, and read its code.
            _ => Self::Acknowledged,
        }
    }
}

/// The span of one pipeline step inside a document's span.
fn step(name: &'static str) -> tracing::Span {
    tracing::info_span!("step", step = name)
}

/// The failure a parked document answers with: the ledger holds it, so
/// the batch is done with its message.
fn parked(reason: String) -> Failure {
    Failure::parked(reason)
}

/// A dead grant met outside a claim (an ERP verdict's confirmation): the
/// message waits through the queue's retries.
pub fn waits_for_reauth(failure: Failure) -> Failure {
    match failure.kind {
        FailureKind::NeedsReauth => Failure::retryable(failure.reason, Some(Duration::from_secs(900))),
        _ => failure,
    }
}

/// Where an asynchronous ERP's verdicts on a POSTED document stand.
#[derive(Debug, PartialEq, Eq)]
enum VerdictState {
    /// A part was refused (the reason).
    Refused(String),
    /// Every message sent for it was accepted.
    AllAccepted,
    Waiting {
        accepted: usize,
        parts: usize,
    },
}

fn verdict_state(record: &LedgerRecord) -> VerdictState {
    if let Some(reason) = &record.erp_refusal {
        return VerdictState::Refused(reason.clone());
    }
    // Every ERP message sent for the document is in its reference (one per
    // supplier invoice, journal and chunk): all must be accepted.
    let parts = reference_parts(record.erp_reference.as_deref().unwrap_or_default());
    let accepted = parts.iter().filter(|(id, _)| record.accepted_parts.contains(id)).count();
    if !parts.is_empty() && accepted == parts.len() {
        VerdictState::AllAccepted
    } else {
        VerdictState::Waiting { accepted, parts: parts.len().max(1) }
    }
}

/// A POSTED document whose asynchronous ERP (Infor ION) has not accepted
/// every message sent for it yet (nor refused one).
fn awaits_erp_verdict(connection: &Connection, record: &LedgerRecord) -> bool {
    infor_settings(connection).is_some() && matches!(verdict_state(record), VerdictState::Waiting { .. })
}

/// The parts a reference lists: DocumentID → its reference
/// (`ion:<DocumentID>:<variation>`), in the order sent.
fn reference_parts(reference: &str) -> Vec<(String, String)> {
    reference
        .split(", ")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|entry| (erp::infor::parse_reference(entry).map_or(entry, |(id, _)| id).to_owned(), entry.to_owned()))
        .collect()
}

/// What was sent for the document (now and before an earlier stop), one
/// reference per part, kept when it stops at the ERP so a replay can leave
/// out the parts the ERP accepted, even those accepted after the stop.
fn earlier_references(record: &LedgerRecord) -> Vec<String> {
    let now_sent = reference_parts(record.erp_reference.as_deref().unwrap_or_default());
    let mut kept: Vec<String> = reference_parts(&record.earlier_references.join(", "))
        .into_iter()
        .filter(|(id, _)| !now_sent.iter().any(|(sent, _)| sent == id))
        .map(|(_, reference)| reference)
        .collect();
    kept.extend(now_sent.into_iter().map(|(_, reference)| reference));
    kept
}

/// Parts a (re)post leaves out: those the ERP accepted before, unless the
/// ERP replaces what it holds when a higher variation comes.
fn kept_parts(connection: &Connection, record: &LedgerRecord) -> BTreeMap<String, String> {
    match infor_settings(connection) {
        Some(settings) if !settings.api.replaces_on_higher_variation => record
            .earlier_references
            .iter()
            .filter_map(|r| erp::infor::parse_reference(r).map(|(id, _)| (id.to_owned(), r.clone())))
            .filter(|(id, _)| record.accepted_parts.contains(id))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The parts the plan's ERP documents are sent in (empty for an ERP that
/// does not answer per part).
fn part_ids(erp: &dyn ErpAdapter, plan: &domain::posting::PostingPlan) -> Result<Vec<String>, Failure> {
    let mut parts = Vec::new();
    for erp_document in &plan.documents {
        if let Some(ids) = erp.part_ids(erp_document) {
            parts.extend(ids?);
        }
    }
    Ok(parts)
}

/// Parts the ERP accepted before must be parts of what is sent now, or
/// their lines would reach the ERP twice under other DocumentIDs.
fn check_kept_parts(
    erp: &dyn ErpAdapter,
    plan: &domain::posting::PostingPlan,
    kept: &BTreeMap<String, String>,
) -> Result<(), Failure> {
    let now_parts = part_ids(erp, plan)?;
    let missing: Vec<&str> = kept.keys().filter(|id| !now_parts.contains(id)).map(String::as_str).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure::permanent(format!(
        "the ERP accepted {} earlier, but the document would now be sent as {}: sending it would post those \
         lines twice. Map it as it was when it was sent, or reverse the accepted parts in the ERP and post the \
         rest by hand",
        missing.join(", "),
        now_parts.join(", ")
    )))
}

/// What a refusal verdict is recorded as (`None` for an acceptance).
fn refusal_reason(outcome: &ErpOutcome) -> Option<String> {
    (!outcome.accepted).then(|| {
        format!(
            "the ERP refused {} ({}): {}",
            outcome.part,
            outcome.answers,
            outcome.message.as_deref().unwrap_or("no reason given")
        )
    })
}

/// A verdict on an earlier variation of a part than the one now sent
/// (e.g. a refusal that arrives after a replay sent the part again).
fn is_stale(record: &LedgerRecord, outcome: &ErpOutcome) -> bool {
    let Some((part, variation)) = erp::infor::parse_bod_id(&outcome.answers) else { return false };
    let sent = reference_parts(record.erp_reference.as_deref().unwrap_or_default());
    let current = match sent.iter().find(|(id, _)| id == part).and_then(|(_, r)| erp::infor::parse_reference(r)) {
        Some((_, current)) => current.0,
        None => u64::from(record.replays.saturating_add(1)),
    };
    let known_accepted = outcome.accepted && record.accepted_parts.iter().any(|p| p == part);
    variation.0 < current && !known_accepted
}

fn infor_settings(connection: &Connection) -> Option<&domain::InforSettings> {
    match &connection.erp {
        Some(ErpSettings::Infor(settings)) => Some(settings),
        _ => None,
    }
}

/// How long the connection's ERP may take to give its verdict.
fn verdict_wait(connection: &Connection) -> Duration {
    Duration::from_secs(infor_settings(connection).map_or(3600, |s| s.api.verdict_wait_seconds))
}

fn describe_wait(wait: Duration) -> String {
    match wait.as_secs() {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// The system id acknowledgements and confirmations carry: the one that
/// already acknowledged the document (Concur refuses a confirmation from
/// another, code 99), else this connection's id.
fn system_id(connection: &Connection, document: &FiDocument) -> String {
    document.erp_system_id.clone().unwrap_or_else(|| connection.connection_id.to_string())
}

/// The ERP company a confirmation names (`companyId`, ≤ 32 characters).
fn erp_company(connection: &Connection) -> String {
    let company = match &connection.erp {
        Some(ErpSettings::Acumatica(a)) => a.branch.clone().unwrap_or_else(|| a.tenant.clone()),
        Some(ErpSettings::IfsCloud(i)) => i.company.clone(),
        Some(ErpSettings::Infor(i)) => i.logical_id.clone().unwrap_or_else(|| connection.connection_id.to_string()),
        None => connection.connection_id.to_string(),
    };
    domain::text::truncate(&company, 32).to_owned()
}

fn store_failure(e: &StoreError) -> Failure {
    Failure::from(e)
}
