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
//! Every step leaves an audit event (no document bodies, no secrets).

use std::time::Duration;

use concur::fi::FiDocument;
use concur::fi_posting::{AckItem, ErpPostingDoc, FiOutcome, PostingConfirmation, PostingOutcome};
use concur::{GrantStore, TokenManager};
use domain::posting::plan;
use domain::{Connection, ErpOutcome, ErpSettings, Failure, FailureKind, NormalizeOptions, WorkItem, WorkSource};
use platform::StoreError;
use platform::audit::AuditLog;
use platform::connections::ConnectionStore;
use platform::ledger::{ClaimOutcome, Confirmation, LedgerKey, LedgerRecord, LedgerStore};
use platform::mappings::MappingStore;
use platform::queue::WorkQueue;
use time::OffsetDateTime;

use crate::erp_clients::ErpClients;

/// The function's name in audit events and claim holders.
pub const FUNCTION: &str = "erp-poster";

/// Everything the pipeline talks to, built once per cold start.
pub struct Poster<S> {
    pub connections: ConnectionStore,
    pub mappings: MappingStore,
    pub ledger: LedgerStore,
    pub audit: AuditLog,
    pub tokens: TokenManager<S>,
    pub erp: ErpClients,
    /// The work queue, to bring a retryable message back sooner than the
    /// visibility timeout; `None` in tests without a queue.
    pub queue: Option<WorkQueue>,
    /// How long a claim holds a document: longer than one invocation, shorter
    /// than the queue's visibility timeout, so a redelivery after a crash can
    /// take the document over.
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
        };
        run.audit("received", "ok", Some(format!("from {:?}", item.source).to_lowercase()), None).await;
        run.go().await
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
        };
        run.verdict(outcome).await
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
                let detail =
                    (record.claims > 1).then(|| format!("claim {} (an earlier run did not finish)", record.claims));
                self.audit("claimed", "ok", detail, None).await;
                self.claimed(connection, record.replays.saturating_add(1)).await
            }
            ClaimOutcome::AlreadyPosted(record) if awaits_erp_verdict(connection, &record) => {
                // Sent to an asynchronous ERP, verdict not in yet: nothing to
                // confirm; the verdict's own message finishes the document.
                let reference = record.erp_reference.clone().unwrap_or_default();
                let waiting = "a repeat delivery while the ERP's verdict is awaited";
                if let Err(e) = self.poster.ledger.release(&self.key, &self.holder, waiting, now).await {
                    tracing::warn!(document = %self.key, error = %e, "could not release the claim; it lapses on its own");
                }
                self.audit(
                    "duplicate detected",
                    "duplicate",
                    Some("sent to the ERP; awaiting its verdict".into()),
                    Some(&reference),
                )
                .await;
                Ok(Processed::Duplicate)
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

    async fn verdict(&self, outcome: &ErpOutcome) -> Result<Processed, Failure> {
        let connection = self.connection().await?;
        let now = OffsetDateTime::now_utc();
        let ledger = &self.poster.ledger;
        let detail = format!(
            "part {} of {} ({}): {}{}",
            outcome.part,
            outcome.parts,
            outcome.answers,
            if outcome.accepted { "accepted" } else { "refused" },
            outcome.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
        );
        let claim =
            ledger.claim(&self.key, &self.holder, self.poster.claim_ttl, now).await.map_err(|e| store_failure(&e))?;
        let record = match claim {
            ClaimOutcome::AlreadyPosted(record) => record,
            ClaimOutcome::AlreadyConfirmed(record) => {
                self.audit("erp verdict", "duplicate", Some(detail), record.erp_reference.as_deref()).await;
                return Ok(Processed::Duplicate);
            }
            ClaimOutcome::Failed(_) => {
                self.audit("erp verdict", "skipped", Some(format!("{detail}; the document is stopped")), None).await;
                return Ok(Processed::StoppedEarlier);
            }
            ClaimOutcome::HeldByOther { holder, until } => {
                let wait = (until - now).unsigned_abs().min(Duration::from_secs(900));
                return Err(Failure::retryable(
                    format!("{} is held by {holder}; the verdict waits", self.key),
                    Some(wait),
                ));
            }
            ClaimOutcome::Claimed(_) => {
                // Never posted by us: the verdict does not belong to what the
                // ledger knows. Leave it for the dead-letter queue and a person.
                let reason = format!("an ERP verdict for {} arrived, but the ledger has no posting of it", self.key);
                let _ = ledger.release(&self.key, &self.holder, &reason, now).await;
                self.audit("erp verdict", "failed", Some(format!("{detail}; {reason}")), None).await;
                return Err(Failure::retryable(reason, Some(Duration::from_secs(900))));
            }
        };
        let reference = record.erp_reference.clone().unwrap_or_default();
        if !outcome.accepted {
            let reason = format!(
                "the ERP refused {} ({}): {}",
                outcome.part,
                outcome.answers,
                outcome.message.as_deref().unwrap_or("no reason given")
            );
            ledger
                .record_rejected_by_erp(&self.key, &self.holder, &reason, now)
                .await
                .map_err(|e| store_failure(&e))?;
            self.audit("failed", "failed", Some(format!("erp: {reason}")), Some(&reference)).await;
            if connection.flow.confirm_postings
                && let Ok(document) = self.fetch(&connection).await
            {
                let confirmation = PostingConfirmation {
                    doc_id: document.id.clone(),
                    system_id: Some(system_id(&connection, &document)),
                    outcome: PostingOutcome::Failed { reason },
                };
                match self.send_confirmation(confirmation).await {
                    Ok(_) => self.audit("confirmed", "ok", Some("failure reported to Concur".into()), None).await,
                    Err(e) => self.audit("confirmed", "failed", Some(e.reason), None).await,
                }
            }
            return Ok(Processed::RefusedByErp);
        }
        self.audit("erp verdict", "ok", Some(detail), outcome.erp_id.as_deref().or(Some(&reference))).await;
        let record = ledger
            .record_part_accepted(&self.key, &self.holder, &outcome.part, now)
            .await
            .map_err(|e| store_failure(&e))?;
        // Every ERP message sent for the document is in its reference (one
        // per supplier invoice, journal and chunk): all must be accepted.
        let expected = reference.split(", ").filter(|r| !r.is_empty()).count().max(1);
        let accepted = record.accepted_parts.len();
        if accepted < expected {
            let waiting = format!("{accepted} of {expected} ERP messages accepted; waiting for the rest");
            ledger.release(&self.key, &self.holder, &waiting, now).await.map_err(|e| store_failure(&e))?;
            return Ok(Processed::PartAccepted { accepted, parts: u32::try_from(expected).unwrap_or(u32::MAX) });
        }
        let document = self.fetch(&connection).await?;
        self.confirm(&connection, &document, &reference).await?;
        Ok(Processed::Confirmed { erp_reference: reference })
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
            && let Some(recheck) = erp_hold_recheck(hold, self.poster.rules.erp_hold_recheck)
            && recheck > now
        {
            let reason = format!(
                "the ERP of connection {id} refused its credentials ({}); documents wait, the next try is at {}",
                hold.reason,
                recheck.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
            );
            return Err(self.park_until(reason, recheck, now).await);
        }
        Ok(connection)
    }

    /// Holding the claim: fetch → acknowledge → normalize → map → post → record → confirm.
    /// `attempt`: 1 + the document's replays (versions what an ERP without
    /// lookups receives; see `ErpClient::post`).
    async fn claimed(&self, connection: &Connection, attempt: u32) -> Result<Processed, Failure> {
        let mut document = match self.fetch(connection).await {
            Ok(document) => document,
            Err(failure) => return Err(self.fail("fetch", failure, None).await),
        };
        // A connection that does not confirm keeps Concur read-only (IFS
        // Cloud's flow): no acknowledgement either; the ledger alone keeps
        // a document from being posted twice.
        if connection.flow.confirm_postings {
            if let Err(failure) = self.acknowledge(&document, &system_id(connection, &document)).await {
                return Err(self.fail("acknowledge", failure, None).await);
            }
            document.doc_status = Some("ACKNOWLEDGED".into());
        }
        let entry = match domain::normalize(
            self.item.document_type,
            &self.item.document_id,
            &document.document,
            &NormalizeOptions::default(),
        ) {
            Ok(entry) => entry,
            Err(e) => {
                let failure = Failure::permanent(format!("the document cannot be turned into a balanced entry: {e}"));
                return Err(self.fail("normalize", failure, Some((connection, &document))).await);
            }
        };
        let form = connection.flow.form_for(self.item.document_type);
        let mapping = match self.poster.mappings.get(&connection.connection_id).await {
            Ok(Some(stored)) => stored.mapping,
            Ok(None) => {
                let failure = Failure::permanent(format!(
                    "connection {} has no mapping: import one with `connector mapping import {} FILE.yaml`, then replay",
                    connection.connection_id, connection.connection_id
                ));
                return Err(self.fail("map", failure, Some((connection, &document))).await);
            }
            Err(e) => return Err(self.fail("map", store_failure(&e), None).await),
        };
        let today = OffsetDateTime::now_utc().date();
        let plan = match plan(&mapping, &entry, form, today) {
            Ok(plan) => plan,
            Err(e) => {
                let failure = Failure::permanent(format!("the document cannot be mapped: {e}"));
                return Err(self.fail("map", failure, Some((connection, &document))).await);
            }
        };
        let summary = plan
            .documents
            .iter()
            .map(|d| format!("{} {} {}", d.label(), d.total(), d.currency))
            .collect::<Vec<_>>()
            .join("; ");
        self.audit("mapped", "ok", Some(format!("{} {}: {summary}", entry.total(), entry.currency())), None).await;

        let erp = match self.poster.erp.for_connection(connection).await {
            Ok(erp) => erp,
            Err(failure) => return Err(self.fail("post", failure, Some((connection, &document))).await),
        };
        let mut references = Vec::with_capacity(plan.documents.len());
        for erp_document in &plan.documents {
            match erp.post(erp_document, attempt).await {
                Ok(reference) => {
                    self.audit("posted", "ok", Some(erp_document.label()), Some(&reference.reference)).await;
                    if !reference.duplicates.is_empty() {
                        // Made outside this document's run (by hand, another tool): never used, reported.
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
                    references.push(reference.reference);
                }
                Err(failure) => {
                    let failure = if references.is_empty() || failure.is_retryable() {
                        failure
                    } else {
                        // The parts already created stay (each is found by its
                        // key on replay, never created twice); say so.
                        Failure {
                            reason: format!("{} (already created: {})", failure.reason, references.join(", ")),
                            kind: failure.kind,
                        }
                    };
                    return Err(self.fail("post", failure, Some((connection, &document))).await);
                }
            }
        }
        let reference = references.join(", ");
        let now = OffsetDateTime::now_utc();
        if let Err(e) = self.poster.ledger.record_posted(&self.key, &self.holder, &reference, form, now).await {
            // The ERP has it; the redelivery finds it by its key and records it then.
            return Err(store_failure(&e));
        }
        if connection.erp_hold.is_some() {
            // The ERP took our credentials again: the connection's documents flow.
            match self.poster.connections.record_erp_hold(&connection.connection_id, None).await {
                Ok(()) => {
                    tracing::info!(connection = %connection.connection_id, "the ERP accepts the credentials again")
                }
                Err(e) => {
                    tracing::warn!(connection = %connection.connection_id, error = %e, "could not clear the ERP hold")
                }
            }
        }
        if erp.is_asynchronous() {
            // Accepted for routing, not yet posted: the ERP's verdict comes
            // back as an `erp_outcome` message, which confirms or stops it.
            let waiting = "accepted for routing; waiting for the ERP's acknowledgement";
            if let Err(e) = self.poster.ledger.release(&self.key, &self.holder, waiting, now).await {
                tracing::warn!(document = %self.key, error = %e, "could not release the claim; it lapses on its own");
            }
            return Ok(Processed::AwaitingErp { erp_reference: reference });
        }
        self.confirm(connection, &document, &reference).await?;
        Ok(Processed::Posted { erp_reference: reference })
    }

    async fn fetch(&self, connection: &Connection) -> Result<FiDocument, Failure> {
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
        if !connection.flow.confirm_postings {
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
            Ok(_) => failure,
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
            .map(|_| ())
            .map_err(|e| store_failure(&e))
    }

    /// A POSTED document whose confirmation must wait: the claim lapses on
    /// its own and the redelivery confirms it.
    fn keep_for_retry_posted(&self, failure: &Failure) {
        tracing::warn!(document = %self.key, reason = %failure.reason, "posted; confirmation left for the redelivery");
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
                    tracing::warn!(document = %self.key, error = %e, "could not release the claim; it lapses on its own");
                    failure
                }
            };
        }
        if let Err(e) = self.poster.ledger.record_failed(&self.key, &self.holder, step, &failure.reason, now).await {
            // Not stopped in the ledger: let the message come back rather than lose the document.
            tracing::error!(document = %self.key, error = %e, "could not record the failure; leaving the message for a retry");
            return store_failure(&e);
        }
        self.audit("failed", "failed", Some(format!("{step}: {}", failure.reason)), None).await;
        if let Some((connection, document)) = concur.filter(|(c, _)| c.flow.confirm_postings) {
            let confirmation = PostingConfirmation {
                doc_id: document.id.clone(),
                system_id: Some(system_id(connection, document)),
                outcome: PostingOutcome::Failed { reason: failure.reason.clone() },
            };
            match self.send_confirmation(confirmation).await {
                Ok(_) => {
                    self.audit("confirmed", "ok", Some("failure reported to Concur".into()), None).await;
                    if let Err(e) = self.poster.ledger.record_failure_reported(&self.key, now).await {
                        tracing::warn!(document = %self.key, error = %e, "could not record that Concur was told");
                    }
                }
                Err(e) => {
                    let detail = format!("the failure could not be reported to Concur: {}", e.reason);
                    tracing::warn!(document = %self.key, %detail);
                    self.audit("confirmed", "failed", Some(detail), None).await;
                }
            }
        }
        failure
    }

    /// An earlier create of this document has an unknown outcome and may
    /// still commit: the document waits (claim released, due then) instead
    /// of being looked up and created again now.
    async fn wait_to_settle(&self, until: OffsetDateTime, now: OffsetDateTime) -> Failure {
        let reason = format!(
            "an earlier create may still commit in the ERP; looked up again after {}",
            until.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
        );
        self.audit("claimed", "waiting", Some(reason.clone()), None).await;
        if let Err(e) = self.poster.ledger.release_until(&self.key, &self.holder, &reason, until, now).await {
            tracing::warn!(document = %self.key, error = %e, "could not release the claim; it lapses on its own");
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
        let hold = domain::ErpHold {
            since: now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            reason: reason.chars().take(500).collect(),
        };
        self.poster.erp.forget(&self.item.connection_id);
        if let Err(e) = self.poster.connections.record_erp_hold(&self.item.connection_id, Some(&hold)).await {
            tracing::warn!(connection = %self.item.connection_id, error = %e, "could not record the ERP hold");
        }
    }

    async fn audit(&self, step: &str, outcome: &str, detail: Option<String>, erp_reference: Option<&str>) {
        let subject = self.item.document_key();
        let mut event = self.poster.audit.event(self.item.connection_id.as_str(), &subject, step, outcome);
        event.detail = detail.map(|d| d.chars().take(1000).collect());
        event.erp_reference = erp_reference.filter(|r| !r.is_empty()).map(str::to_owned);
        if let Err(e) = self.poster.audit.record(&event).await {
            // The ledger is the record of truth; a lost audit event is logged.
            tracing::warn!(document = %self.key, step, error = %e, "audit event not recorded");
        }
    }
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

/// When a held ERP may be tried again.
fn erp_hold_recheck(hold: &domain::ErpHold, wait: Duration) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(&hold.since, &time::format_description::well_known::Rfc3339).ok().map(|t| t + wait)
}

/// A POSTED document whose asynchronous ERP (Infor ION) has not accepted
/// every message sent for it yet.
fn awaits_erp_verdict(connection: &Connection, record: &platform::ledger::LedgerRecord) -> bool {
    let asynchronous = matches!(connection.erp, Some(ErpSettings::Infor(_)));
    let sent = record.erp_reference.as_deref().map_or(0, |r| r.split(", ").filter(|p| !p.is_empty()).count());
    asynchronous && record.accepted_parts.len() < sent.max(1)
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
    company.chars().take(32).collect()
}

fn store_failure(e: &StoreError) -> Failure {
    Failure::retryable(format!("the connector's own storage failed: {e}"), None)
}
