//! The reference sync of one connection (issue 14): the ERP's vendors into
//! Concur's Vendor v3 and its cost objects into Concur lists, incrementally
//! and resumably.
//!
//! One run, whatever the kind: it holds the sync's lease, reads the source
//! (everything on the first run, on request, once a day and for lists, else
//! what changed since the cursor less an overlap), plans against the content
//! hashes Concur last got from us, writes in chunks and remembers each
//! record as Concur took it, deactivates, and only then moves the cursor.
//! A run cut off anywhere is resumed by the next one: the hashes it stored
//! keep it from writing twice. What differs per kind — reading the source
//! and writing Concur — is a [`SyncTarget`].

mod lists;
mod purchase_orders;
mod vendors;
mod vendors_to_erp;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use domain::reference::{
    FULL_READ_EVERY, KnownRecord, ReadPage, ReadScope, ReferenceKind, Refusal, SyncRecord, full_read_due, plan_sync,
    read_from,
};
use domain::{Connection, Failure};
use platform::reference::{DryRun, RunCounts, SyncState};
use time::OffsetDateTime;

use crate::Poster;

/// How far before the cursor a changed-since read starts: clocks differ
/// and commits land late (reference-data-from-erp.md §0) [DEFAULT].
pub const READ_OVERLAP: Duration = Duration::from_secs(5 * 60);
/// Records read per ERP call.
pub const READ_PAGE: usize = 500;
/// Records written before their hashes are stored: what a run cut off
/// does again at worst.
const WRITE_CHUNK: usize = 250;

/// What a sync request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    Done(RunCounts),
    /// Another run of the same sync holds the lease: it covers this request.
    AlreadyRunning,
    /// The connection's ERP has no read for this kind yet, or the
    /// connection feeds nothing of it.
    NotSupported,
    /// Concur does not offer the API to this company (the China
    /// datacenter, or the product not enabled): the reason, kept on the state.
    NotOffered(String),
    /// A dry run: what a run would write, deactivate and refuse (kept on
    /// the state as `last_dry_run`); nothing written, the cursor unmoved.
    DryRun(RunCounts),
}

/// How a run goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncMode {
    /// Read everything (finds records deleted in the ERP), as every first run does.
    pub everything: bool,
    /// Plan only: write nothing, store no hash, leave the cursor.
    pub dry_run: bool,
}

/// What the source gave.
pub(crate) enum SourceRead<R> {
    Records {
        records: Vec<R>,
        /// Refusals of the source itself (a list whose source this ERP has not).
        refused: Vec<Refusal>,
    },
    NotSupported,
    /// Concur does not offer the source's API to this company (the reason).
    NotOffered(String),
}

impl<R> SourceRead<R> {
    /// A paged read's records ([`read_pages`]), or not supported.
    fn from_pages(read: Option<Vec<R>>) -> Self {
        read.map_or(Self::NotSupported, |records| Self::Records { records, refused: Vec::new() })
    }
}

/// The verb a record goes to Concur with first: an update for what Concur
/// holds from us, else a create (the client tries the other once).
pub(crate) fn first_verb(known: &HashMap<String, KnownRecord>, key: &str) -> concur::WriteVerb {
    match known.get(key) {
        Some(k) if k.active => concur::WriteVerb::Update,
        _ => concur::WriteVerb::Create,
    }
}

/// How the target took one record.
pub(crate) struct Written {
    pub key: String,
    /// `None`: written; `Some`: Concur's reason for refusing it.
    pub refused: Option<String>,
    /// Concur's id for it, where Concur keys by id (list items).
    pub target_id: Option<String>,
    /// Taken, but the target already held these values (an ERP vendor
    /// from Concur that did not differ): remembered, counted unchanged.
    pub unchanged: bool,
}

/// Why writing stopped before the end.
pub(crate) enum WriteStop {
    Failed(Failure),
    /// The API is not offered to this company (a 404 on its collection).
    NotOffered(String),
}

/// What writing every planned record came to.
enum WriteAll {
    /// Records changed in the target, and records it already held as sent.
    Written { written: u64, unchanged: u64 },
    /// The API is not offered to this company.
    NotOffered(String),
}

impl From<Failure> for WriteStop {
    fn from(failure: Failure) -> Self {
        Self::Failed(failure)
    }
}

/// One kind's source and target.
pub(crate) trait SyncTarget: Send {
    type Record: SyncRecord + Send + Sync;
    const KIND: ReferenceKind;

    /// Reads the source: everything when `changed_after` is `None`.
    fn read(
        &mut self,
        erp: &dyn erp::ErpAdapter,
        changed_after: Option<OffsetDateTime>,
    ) -> impl Future<Output = Result<SourceRead<Self::Record>, Failure>> + Send;

    /// Whether every read is a full read (no change time to filter on).
    fn reads_everything(&self) -> bool {
        false
    }

    /// Whether a known key belongs to what this run read (a list fed
    /// before and no longer, or one whose source was refused, is left alone).
    fn covers(&self, key: &str) -> bool {
        let _ = key;
        true
    }

    /// Whether a record gone from, or inactive in, the source is
    /// deactivated in the target (Concur's vendors leave the ERP's alone).
    fn deactivates(&self) -> bool {
        true
    }

    /// Writes records (parents first), one outcome each, in order.
    fn write(
        &mut self,
        erp: &dyn erp::ErpAdapter,
        records: &[Self::Record],
        known: &HashMap<String, KnownRecord>,
    ) -> impl Future<Output = Result<Vec<Written>, WriteStop>> + Send;

    /// Deactivates `key` in Concur: `Some(reason)` when Concur refused and
    /// still holds it.
    fn deactivate(
        &mut self,
        key: &str,
        known: Option<&KnownRecord>,
    ) -> impl Future<Output = Result<Option<String>, Failure>> + Send;
}

/// Every record of a paged source in the window (`changed_after`; `None`:
/// everything), page by page until a short page; `None` when the ERP has
/// no such read.
pub(crate) async fn read_pages<R, F, Fut>(
    changed_after: Option<OffsetDateTime>,
    mut read_page: F,
) -> Result<Option<Vec<R>>, Failure>
where
    F: FnMut(ReadPage) -> Fut,
    Fut: Future<Output = Result<Option<Vec<R>>, Failure>>,
{
    let mut records = Vec::new();
    loop {
        let page = ReadPage { changed_after, skip: records.len(), top: READ_PAGE };
        let Some(rows) = read_page(page).await? else { return Ok(None) };
        let short = rows.len() < READ_PAGE;
        records.extend(rows);
        if short {
            return Ok(Some(records));
        }
    }
}

impl<S: concur::GrantStore> Poster<S> {
    /// Brings Concur's vendors in step with the connection's ERP.
    /// `everything`: read every vendor (finds vendors deleted in the ERP),
    /// as every first run does.
    pub async fn sync_vendors(&self, connection: &Connection, everything: bool) -> Result<SyncOutcome, Failure> {
        self.sync_kind(connection, ReferenceKind::Vendors, SyncMode { everything, dry_run: false }).await
    }

    /// Brings the Concur lists the connection feeds in step with their ERP
    /// sources (always a full read).
    pub async fn sync_lists(&self, connection: &Connection) -> Result<SyncOutcome, Failure> {
        self.sync_kind(connection, ReferenceKind::Lists, SyncMode { everything: true, dry_run: false }).await
    }

    /// One kind's sync of the connection, as `mode` says.
    pub async fn sync_kind(
        &self,
        connection: &Connection,
        kind: ReferenceKind,
        mode: SyncMode,
    ) -> Result<SyncOutcome, Failure> {
        match kind {
            ReferenceKind::Vendors if !connection.reference.vendors.to_concur() => Ok(SyncOutcome::NotSupported),
            ReferenceKind::Vendors => {
                let token = self.concur_token(connection, "writing Concur's vendors").await?;
                let owners = connection.reference.vendors.clone();
                self.sync(connection, vendors::VendorTarget::new(self.tokens.client(), token, owners), mode).await
            }
            ReferenceKind::VendorsToErp if !connection.reference.vendors.to_erp() => Ok(SyncOutcome::NotSupported),
            ReferenceKind::VendorsToErp => {
                let token = self.concur_token(connection, "reading Concur's vendors").await?;
                let owners = &connection.reference.vendors;
                let target = vendors_to_erp::ConcurVendorTarget::new(self, connection, token, owners);
                self.sync(connection, target, mode).await
            }
            ReferenceKind::Lists if connection.reference.lists.is_empty() => Ok(SyncOutcome::NotSupported),
            ReferenceKind::Lists => {
                let token = self.concur_token(connection, "reading Concur's lists").await?;
                let feeds = connection.reference.lists.clone();
                self.sync(connection, lists::ListTarget::new(self.tokens.client(), token, feeds), mode).await
            }
            ReferenceKind::PurchaseOrders | ReferenceKind::PoReceipts => {
                let Some(settings) = connection.reference.purchase_orders.clone() else {
                    return Ok(SyncOutcome::NotSupported);
                };
                let token = self.concur_token(connection, "writing Concur's purchase orders").await?;
                let client = self.tokens.client();
                match kind {
                    ReferenceKind::PurchaseOrders => {
                        let target = purchase_orders::PurchaseOrderTarget::new(client, token, settings);
                        self.sync(connection, target, mode).await
                    }
                    _ => self.sync(connection, purchase_orders::ReceiptTarget::new(client, token), mode).await,
                }
            }
        }
    }

    async fn concur_token(&self, connection: &Connection, context: &str) -> Result<concur::AccessToken, Failure> {
        self.tokens.access_token(&connection.connection_id).await.map_err(|e| e.to_failure(context))
    }

    /// One sync under its lease; a run that did not finish gives the lease
    /// back at once, saying why (the retry of its message must not find it
    /// "already running").
    async fn sync<T: SyncTarget>(
        &self,
        connection: &Connection,
        mut target: T,
        mode: SyncMode,
    ) -> Result<SyncOutcome, Failure> {
        let id = &connection.connection_id;
        let started = OffsetDateTime::now_utc();
        let holder = format!("{}:{}", crate::FUNCTION, uuid::Uuid::new_v4().simple());
        // The lease lapses like a document's claim: after the invocation's
        // timeout, before the queue redelivers the message of a run the
        // timeout cut off, so that redelivery takes over and finishes it.
        let lease = match self.reference.lease(id, T::KIND, &holder, self.claim_ttl, started).await {
            Ok(lease) => lease,
            Err(e) if e.conflict => return Ok(SyncOutcome::AlreadyRunning),
            Err(e) => return Err(Failure::retryable(e.to_string(), None)),
        };
        let mode = SyncMode { everything: mode.everything || target.reads_everything(), ..mode };
        let run = self.run(connection, &mut target, &holder, &lease.state, mode, started).await;
        let released = |last_error: Option<String>| SyncState { last_error, ..lease.state.clone() };
        match run {
            // The run finished the state itself.
            Ok(done @ (SyncOutcome::Done(_) | SyncOutcome::DryRun(_))) => Ok(done),
            Ok(SyncOutcome::NotOffered(reason)) => {
                self.release_sync(connection, T::KIND, &holder, released(Some(reason.clone()))).await;
                Ok(SyncOutcome::NotOffered(reason))
            }
            Ok(other) => {
                self.release_sync(connection, T::KIND, &holder, lease.state.clone()).await;
                Ok(other)
            }
            Err(failure) => {
                let last_error = Some(domain::text::truncate(&failure.reason, 500).to_owned());
                self.release_sync(connection, T::KIND, &holder, released(last_error)).await;
                Err(failure)
            }
        }
    }

    /// One run under the lease: read, plan, write, remember, finish.
    async fn run<T: SyncTarget>(
        &self,
        connection: &Connection,
        target: &mut T,
        holder: &str,
        state: &SyncState,
        mode: SyncMode,
        started: OffsetDateTime,
    ) -> Result<SyncOutcome, Failure> {
        let id = &connection.connection_id;
        let cursor = state.cursor.as_deref().and_then(domain::clock::parse_rfc3339);
        let last_full = state.last_full_run_at.as_deref().and_then(domain::clock::parse_rfc3339);
        let full = mode.everything || cursor.is_none() || full_read_due(last_full, started, FULL_READ_EVERY);
        let scope = if full { ReadScope::Everything } else { ReadScope::Changed };
        // A full read takes everything; a changed-since read everything
        // changed after the cursor less the overlap. What changes while the
        // run reads is read again by the next run (the hashes make that free).
        let after = match scope {
            ReadScope::Everything => None,
            ReadScope::Changed => read_from(cursor, READ_OVERLAP),
        };
        let erp = self.erp.for_connection(connection).await?;
        let (records, mut refused) = match target.read(&*erp, after).await? {
            SourceRead::Records { records, refused } => (records, refused),
            SourceRead::NotSupported => return Ok(SyncOutcome::NotSupported),
            SourceRead::NotOffered(reason) => return Ok(SyncOutcome::NotOffered(reason)),
        };
        let keys: Vec<String> = records.iter().map(SyncRecord::key).collect();
        let mut known = match scope {
            ReadScope::Everything => self.reference.known_all(id, T::KIND).await,
            ReadScope::Changed => self.reference.known(id, T::KIND, &keys).await,
        }
        .map_err(|e| Failure::retryable(e.to_string(), None))?;
        known.retain(|key, _| target.covers(key));
        let read = records.len() as u64;
        let mut plan = plan_sync(records, &known, scope);
        if !target.deactivates() {
            plan.deactivate.clear();
        }
        let mut counts = RunCounts { read, unchanged: plan.unchanged as u64, ..RunCounts::default() };
        refused.extend(plan.refused.iter().cloned());
        if mode.dry_run {
            counts.written = plan.write.len() as u64;
            counts.deactivated = plan.deactivate.len() as u64;
            counts.refused = refused.len() as u64;
            let dry = DryRun { at: domain::clock::rfc3339(started), would: counts.clone(), refused };
            return self.finish_dry_run::<T>(connection, holder, state, dry).await;
        }

        match self.write_all(connection, target, &*erp, &plan.write, &known, &mut refused).await? {
            WriteAll::Written { written, unchanged } => {
                counts.written = written;
                counts.unchanged += unchanged;
            }
            WriteAll::NotOffered(reason) => return Ok(SyncOutcome::NotOffered(reason)),
        }
        counts.deactivated = self.deactivate_all(connection, target, &plan.deactivate, &known, &mut refused).await?;
        counts.refused = refused.len() as u64;
        let last_full_run_at = match scope {
            ReadScope::Everything => Some(domain::clock::rfc3339(started)),
            ReadScope::Changed => state.last_full_run_at.clone(),
        };
        let state = SyncState {
            cursor: Some(domain::clock::rfc3339(started)),
            last_run_at: Some(domain::clock::rfc3339(started)),
            last_full_run_at,
            last_run: Some(counts.clone()),
            last_error: None,
            refused,
            last_dry_run: state.last_dry_run.clone(),
        };
        self.reference
            .finish(id, T::KIND, holder, &state)
            .await
            .map_err(|e| Failure::retryable(e.to_string(), None))?;
        self.audit_sync(connection, T::KIND, &counts).await;
        Ok(SyncOutcome::Done(counts))
    }

    /// Keeps what a dry run would do on the state and gives the lease back.
    async fn finish_dry_run<T: SyncTarget>(
        &self,
        connection: &Connection,
        holder: &str,
        state: &SyncState,
        dry: DryRun,
    ) -> Result<SyncOutcome, Failure> {
        let counts = dry.would.clone();
        let state = SyncState { last_dry_run: Some(dry), ..state.clone() };
        let finished = self.reference.finish(&connection.connection_id, T::KIND, holder, &state).await;
        finished.map_err(|e| Failure::retryable(e.to_string(), None))?;
        Ok(SyncOutcome::DryRun(counts))
    }

    /// Writes `records` in chunks, storing each chunk's hashes once Concur
    /// took it: how many were written, or why the API is not offered.
    async fn write_all<T: SyncTarget>(
        &self,
        connection: &Connection,
        target: &mut T,
        erp: &dyn erp::ErpAdapter,
        records: &[T::Record],
        known: &HashMap<String, KnownRecord>,
        refused: &mut Vec<Refusal>,
    ) -> Result<WriteAll, Failure> {
        let (mut written, mut unchanged) = (0, 0);
        for chunk in records.chunks(WRITE_CHUNK) {
            let outcomes = match target.write(erp, chunk, known).await {
                Ok(outcomes) => outcomes,
                Err(WriteStop::NotOffered(reason)) => return Ok(WriteAll::NotOffered(reason)),
                Err(WriteStop::Failed(failure)) => return Err(failure),
            };
            let mut taken = Vec::with_capacity(chunk.len());
            for (record, outcome) in chunk.iter().zip(outcomes) {
                match outcome.refused {
                    None => {
                        unchanged += u64::from(outcome.unchanged);
                        let (hash, rank, target_id) = (record.content_hash(), record.rank(), outcome.target_id);
                        taken.push((outcome.key, KnownRecord { hash, active: true, rank, target_id, state: None }));
                    }
                    Some(reason) => refused.push(Refusal { key: outcome.key, reason }),
                }
            }
            written += taken.len() as u64;
            let stored = self.reference.remember_many(&connection.connection_id, T::KIND, &taken).await;
            stored.map_err(|e| Failure::retryable(e.to_string(), None))?;
        }
        Ok(WriteAll::Written { written: written - unchanged, unchanged })
    }

    /// Deactivates `keys` (children first), remembering each: how many.
    async fn deactivate_all<T: SyncTarget>(
        &self,
        connection: &Connection,
        target: &mut T,
        keys: &[String],
        known: &HashMap<String, KnownRecord>,
        refused: &mut Vec<Refusal>,
    ) -> Result<u64, Failure> {
        let mut deactivated = 0;
        for key in keys {
            let before = known.get(key);
            match target.deactivate(key, before).await? {
                None => {
                    deactivated += 1;
                    let hash = before.map_or_else(|| domain::reference::ContentHash::of(key), |k| k.hash.clone());
                    let rank = before.map_or(0, |k| k.rank);
                    self.remember(
                        connection,
                        T::KIND,
                        key,
                        &KnownRecord { hash, active: false, rank, target_id: None, state: None },
                    )
                    .await?;
                }
                Some(reason) => refused.push(Refusal { key: key.clone(), reason }),
            }
        }
        Ok(deactivated)
    }

    async fn remember(
        &self,
        connection: &Connection,
        kind: ReferenceKind,
        key: &str,
        known: &KnownRecord,
    ) -> Result<(), Failure> {
        self.reference
            .remember(&connection.connection_id, kind, key, known)
            .await
            .map_err(|e| Failure::retryable(e.to_string(), None))
    }

    /// Gives the lease back without moving anything.
    async fn release_sync(&self, connection: &Connection, kind: ReferenceKind, holder: &str, state: SyncState) {
        let id = &connection.connection_id;
        if let Err(e) = self.reference.finish(id, kind, holder, &state).await {
            tracing::warn!(connection = %id, kind = kind.as_str(), error = %e, "could not release the sync's lease; it lapses");
        }
    }

    async fn audit_sync(&self, connection: &Connection, kind: ReferenceKind, counts: &RunCounts) {
        let id = connection.connection_id.as_str();
        // Recorded under `<id>#sync` (the event adds the connection id).
        let mut event = self.audit.event(id, "sync", &format!("sync {}", kind.as_str()), "ok");
        event.detail = Some(format!(
            "read {}, written {}, deactivated {}, unchanged {}, refused {}",
            counts.read, counts.written, counts.deactivated, counts.unchanged, counts.refused
        ));
        if let Err(e) = self.audit.record(&event).await {
            tracing::warn!(error = %e, "audit event not recorded");
        }
        // docs/metrics.md: one line per outcome, 0 too (a run that wrote nothing is a data point).
        for (outcome, count) in [("written", counts.written), ("refused", counts.refused)] {
            platform::telemetry::emit(&platform::telemetry::Metric {
                name: "ReferenceRecords",
                unit: platform::telemetry::Unit::Count,
                value: count as f64,
                dimensions: &[("ConnectionId", id), ("Kind", kind.as_str()), ("Outcome", outcome)],
                sets: &[&["ConnectionId", "Kind", "Outcome"], &["Outcome"]],
            });
        }
    }
}
