//! The reference sync of one connection (issue 14): the ERP's vendors into
//! Concur's Vendor v3, incrementally and resumably.
//!
//! A run holds the sync's lease, reads the ERP's vendors (all of them on
//! the first run and on request, else what changed since the cursor less
//! an overlap), plans against the content hashes Concur last got from us,
//! writes and deletes, remembers each record as Concur took it, and only
//! then moves the cursor. A run cut off anywhere is resumed by the next
//! one: the hashes it stored keep it from writing twice.

use std::collections::HashMap;
use std::time::Duration;

use concur::vendors::VendorVerb;
use domain::reference::{
    ContentHash, KnownRecord, ReadPage, ReadScope, ReferenceKind, Refusal, SyncRecord, VendorLimits, VendorRecord,
    plan_sync, read_from,
};
use domain::{Connection, Failure};
use platform::reference::{RunCounts, SyncState};
use time::OffsetDateTime;

use crate::Poster;

/// How far before the cursor a changed-since read starts: clocks differ
/// and commits land late (reference-data-from-erp.md §0) [DEFAULT].
pub const READ_OVERLAP: Duration = Duration::from_secs(5 * 60);
/// Vendors read per ERP call.
pub const READ_PAGE: usize = 500;
/// Longer than one invocation (the poster's timeout is 2 minutes): a run
/// that is cut off leaves the lease to lapse, and the next run takes over.
pub const SYNC_LEASE: Duration = Duration::from_secs(15 * 60);

/// What a sync request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    Done(RunCounts),
    /// Another run of the same sync holds the lease: it covers this request.
    AlreadyRunning,
    /// The connection's ERP has no vendor read yet.
    NotSupported,
    /// Concur does not offer Vendor v3 to this company (the China
    /// datacenter, or Invoice not enabled): the reason, kept on the state.
    NotOffered(String),
}

impl<S: concur::GrantStore> Poster<S> {
    /// Brings Concur's vendors in step with the connection's ERP.
    /// `everything`: read every vendor (finds vendors deleted in the ERP),
    /// as every first run does.
    pub async fn sync_vendors(&self, connection: &Connection, everything: bool) -> Result<SyncOutcome, Failure> {
        let id = &connection.connection_id;
        let kind = ReferenceKind::Vendors;
        let started = OffsetDateTime::now_utc();
        let holder = format!("{}:{}", crate::FUNCTION, uuid::Uuid::new_v4().simple());
        let lease = match self.reference.lease(id, kind, &holder, SYNC_LEASE, started).await {
            Ok(lease) => lease,
            Err(e) if e.conflict => return Ok(SyncOutcome::AlreadyRunning),
            Err(e) => return Err(Failure::retryable(e.to_string(), None)),
        };
        let run = self.vendor_run(connection, &holder, &lease.state, everything, started).await;
        // A run that did not finish gives the lease back at once, saying why
        // (the retry of its message must not find it "already running").
        match run {
            Ok(SyncOutcome::Done(counts)) => Ok(SyncOutcome::Done(counts)),
            Ok(SyncOutcome::NotOffered(reason)) => {
                let last_error = Some(reason.clone());
                self.release_sync(connection, &holder, SyncState { last_error, ..lease.state }).await;
                Ok(SyncOutcome::NotOffered(reason))
            }
            Ok(other) => {
                self.release_sync(connection, &holder, lease.state).await;
                Ok(other)
            }
            Err(failure) => {
                let last_error = Some(domain::text::truncate(&failure.reason, 500).to_owned());
                self.release_sync(connection, &holder, SyncState { last_error, ..lease.state }).await;
                Err(failure)
            }
        }
    }

    /// One run under the lease: read, plan, write, remember, finish.
    async fn vendor_run(
        &self,
        connection: &Connection,
        holder: &str,
        state: &SyncState,
        everything: bool,
        started: OffsetDateTime,
    ) -> Result<SyncOutcome, Failure> {
        let id = &connection.connection_id;
        let kind = ReferenceKind::Vendors;
        let cursor = state.cursor.as_deref().and_then(domain::clock::parse_rfc3339);
        let scope = if everything || cursor.is_none() { ReadScope::Everything } else { ReadScope::Changed };
        // A full read takes everything; a changed-since read everything
        // changed after the cursor less the overlap. What changes while the
        // run reads is read again by the next run (the hashes make that free).
        let after = match scope {
            ReadScope::Everything => None,
            ReadScope::Changed => read_from(cursor, READ_OVERLAP),
        };
        let erp = self.erp.for_connection(connection).await?;
        let Some(records) = read_all_vendors(&*erp, after).await? else {
            return Ok(SyncOutcome::NotSupported);
        };
        let keys: Vec<String> = records.iter().map(SyncRecord::key).collect();
        let known = match scope {
            ReadScope::Everything => self.reference.known_all(id, kind).await,
            ReadScope::Changed => self.reference.known(id, kind, &keys).await,
        }
        .map_err(|e| Failure::retryable(e.to_string(), None))?;
        let read = records.len() as u64;
        let plan = plan_sync(records, &known, scope);
        let mut counts = RunCounts { read, unchanged: plan.unchanged as u64, ..RunCounts::default() };
        let mut refused = plan.refused.clone();
        let token = self.tokens.access_token(id).await.map_err(|e| e.to_failure("reading Concur's vendors"))?;

        let writes = with_verbs(plan.write, &known);
        let outcomes = match self.tokens.client().write_vendors(&token, &writes).await {
            Ok(outcomes) => outcomes,
            // Not an outage and nothing to retry: the API is not there.
            Err(concur::ConcurError::Rejected { status: 404, message }) => {
                return Ok(SyncOutcome::NotOffered(format!(
                    "Concur does not offer the Vendor v3 API to this company (HTTP 404: {message}); it is not \
                     available in the China datacenter and needs Concur Invoice. Vendors are not synced."
                )));
            }
            Err(e) => return Err(e.to_failure("writing vendors to Concur")),
        };
        for ((record, _), outcome) in writes.iter().zip(outcomes) {
            match outcome.refused {
                None => {
                    counts.written += 1;
                    let known = KnownRecord { hash: record.content_hash(), active: true, rank: record.rank() };
                    self.remember(connection, &outcome.key, &known).await?;
                }
                Some(reason) => refused.push(Refusal { key: outcome.key, reason }),
            }
        }
        for key in &plan.deactivate {
            match self.delete_in_concur(&token, key).await? {
                None => {
                    counts.deactivated += 1;
                    let hash = known.get(key).map_or_else(|| ContentHash::of(key), |k| k.hash.clone());
                    self.remember(connection, key, &KnownRecord { hash, active: false, rank: 0 }).await?;
                }
                Some(reason) => refused.push(Refusal { key: key.clone(), reason }),
            }
        }
        counts.refused = refused.len() as u64;
        let state = SyncState {
            cursor: Some(domain::clock::rfc3339(started)),
            last_run_at: Some(domain::clock::rfc3339(started)),
            last_run: Some(counts.clone()),
            last_error: None,
            refused,
        };
        self.reference.finish(id, kind, holder, &state).await.map_err(|e| Failure::retryable(e.to_string(), None))?;
        self.audit_sync(connection, &counts).await;
        Ok(SyncOutcome::Done(counts))
    }

    /// Deletes the vendor address `key` names; `Some(reason)` when Concur
    /// refused and still holds it (a refusal for an address it does not
    /// hold is what a deactivation wants).
    async fn delete_in_concur(&self, token: &concur::AccessToken, key: &str) -> Result<Option<String>, Failure> {
        let Some((vendor_code, address_code)) = key.split_once('\u{1f}') else { return Ok(None) };
        let concur = self.tokens.client();
        let failed = |e: concur::ConcurError| e.to_failure("deleting a vendor in Concur");
        let Some(refusal) = concur.delete_vendor(token, vendor_code, address_code).await.map_err(failed)? else {
            return Ok(None);
        };
        let held = concur.vendor_exists(token, vendor_code, address_code).await.map_err(failed)?;
        Ok(held.then_some(refusal))
    }

    async fn remember(&self, connection: &Connection, key: &str, known: &KnownRecord) -> Result<(), Failure> {
        self.reference
            .remember(&connection.connection_id, ReferenceKind::Vendors, key, known)
            .await
            .map_err(|e| Failure::retryable(e.to_string(), None))
    }

    /// Gives the lease back without moving anything.
    async fn release_sync(&self, connection: &Connection, holder: &str, state: SyncState) {
        let id = &connection.connection_id;
        if let Err(e) = self.reference.finish(id, ReferenceKind::Vendors, holder, &state).await {
            tracing::warn!(connection = %id, error = %e, "could not release the vendor sync's lease; it lapses");
        }
    }

    async fn audit_sync(&self, connection: &Connection, counts: &RunCounts) {
        let id = connection.connection_id.as_str();
        let mut event = self.audit.event(id, &format!("{id}#sync"), "sync vendors", "ok");
        event.detail = Some(format!(
            "read {}, written {}, deactivated {}, unchanged {}, refused {}",
            counts.read, counts.written, counts.deactivated, counts.unchanged, counts.refused
        ));
        if let Err(e) = self.audit.record(&event).await {
            tracing::warn!(error = %e, "audit event not recorded");
        }
        platform::telemetry::metric("ReferenceRecordsWritten", counts.written as f64, id);
        platform::telemetry::metric("ReferenceRecordsRefused", counts.refused as f64, id);
    }
}

/// Each record with the verb Concur should see first: an update for what
/// it holds from us, else a create.
fn with_verbs(records: Vec<VendorRecord>, known: &HashMap<String, KnownRecord>) -> Vec<(VendorRecord, VendorVerb)> {
    let verb = |record: &VendorRecord| match known.get(&record.key()) {
        Some(k) if k.active => VendorVerb::Update,
        _ => VendorVerb::Create,
    };
    records
        .into_iter()
        .map(|record| {
            let first = verb(&record);
            (record, first)
        })
        .collect()
}

/// Every vendor in the window, page by page until a short page; `None`
/// when the ERP has no vendor read.
async fn read_all_vendors(
    erp: &dyn erp::ErpAdapter,
    changed_after: Option<OffsetDateTime>,
) -> Result<Option<Vec<VendorRecord>>, Failure> {
    let mut records = Vec::new();
    let mut skip = 0;
    loop {
        let page = ReadPage { changed_after, skip, top: READ_PAGE };
        let Some(rows) = erp.read_vendors(page, VendorLimits::default()).await? else { return Ok(None) };
        let short = rows.len() < READ_PAGE;
        skip += rows.len();
        records.extend(rows);
        if short {
            return Ok(Some(records));
        }
    }
}
