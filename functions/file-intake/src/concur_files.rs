//! A connection's files from Concur's file APIs (extracts-and-payment-batches.md): the jobs of its Extract
//! v1 definitions (Professional) or its payment batches (Standard), each file taken once.
//!
//! - **Extract v1**: the chosen definitions' completed jobs started since the source was chosen, oldest
//!   first, each taken once; with `start_jobs`, a job is started when none of the definition is running
//!   (its file is taken by a later run, once complete). Otherwise only the jobs Concur's schedule runs.
//! - **Payment batches**: an open batch of the chosen type, currency and payment method is remembered, and
//!   closed asynchronously when it holds payment demands; a remembered batch that shows closed — closed by
//!   this connector or by hand in Payment Manager — has its file taken through the synchronous close, which
//!   only regenerates the file of a closed batch. A batch first seen closed was closed before the connection
//!   watched it and is left alone.

use std::collections::HashMap;

use concur::extracts::{BatchClose, BatchListStatus, ExtractDefinition, ExtractJob, JobStart, JobStatus, PaymentBatch};
use concur::{ConcurError, GrantStore};
use domain::posting_source::FileApi;
use domain::reference::KnownRecord;
use domain::{Connection, ConnectionId, Failure};

use crate::FileIntake;
use crate::take::{FileKey, Taken, state};

/// What a run over a connection's Concur files did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilesRun {
    /// Each file looked at and what became of it.
    pub files: Vec<(FileKey, Taken)>,
    /// Extract jobs started.
    pub jobs_started: usize,
    /// Payment batches asked to close.
    pub batches_closed: usize,
    /// The run was skipped (another holds the lease, the source takes no files…), and why.
    pub skipped: Option<String>,
}

impl<S: GrantStore> FileIntake<S> {
    /// Takes the connection's new files from Concur, under its lease.
    pub async fn take_from_concur(&self, id: &ConnectionId) -> Result<FilesRun, Failure> {
        let connection = self.connection(id).await?;
        let skip = |why: &str| Ok(FilesRun { skipped: Some(why.to_owned()), ..FilesRun::default() });
        if !connection.is_flowing() {
            return skip("the connection is not flowing");
        }
        let Some(api) = connection.posting_source.resolve(connection.edition).files else {
            return skip("the connection's posting source takes no files");
        };
        let Some(lease) = self.lease(id).await? else {
            return skip("another run of this connection's files holds the lease");
        };
        let run = match self.known(id).await {
            Ok(known) => {
                let run = match api {
                    FileApi::Extract => self.extract_run(&connection, &known).await,
                    FileApi::PaymentBatch => self.batch_run(&connection, &known).await,
                };
                match run {
                    Ok(run) => self.retake_refused_inbox_files(&connection, &known, run).await,
                    failed => failed,
                }
            }
            Err(failure) => Err(failure),
        };
        self.release(id, lease, &run).await;
        run
    }

    async fn extract_run(
        &self,
        connection: &Connection,
        known: &HashMap<String, KnownRecord>,
    ) -> Result<FilesRun, Failure> {
        let id = &connection.connection_id;
        let source = &connection.posting_source;
        let definitions =
            self.concur(id, |client, token| async move { client.extract_definitions(&token).await }).await?;
        let mut run = FilesRun::default();
        for definition in definitions
            .iter()
            .filter(|d| source.takes_definition(d.name.as_deref().unwrap_or(""), d.definition_id().unwrap_or("")))
        {
            let jobs =
                self.concur(id, |client, token| async move { client.extract_jobs(&token, definition).await }).await?;
            let mut ready: Vec<&ExtractJob> =
                jobs.iter().filter(|j| j.ready_file().is_some() && source.takes_job_started(j.start_time)).collect();
            ready.sort_by_key(|j| j.start_time);
            for job in ready {
                let key = FileKey::Job {
                    definition: definition.definition_id().unwrap_or_default().to_owned(),
                    job: job.job_id().unwrap_or_default().to_owned(),
                };
                if taken(known, &key) {
                    continue;
                }
                let taken = self.take_job(connection, &key, job).await?;
                run.files.push((key, taken));
            }
            if connection.posting_source.resolve(connection.edition).start_jobs && !jobs.iter().any(running) {
                run.jobs_started += usize::from(self.start_job(id, definition).await?);
            }
        }
        Ok(run)
    }

    async fn take_job(&self, connection: &Connection, key: &FileKey, job: &ExtractJob) -> Result<Taken, Failure> {
        let Some(link) = job.ready_file() else { return Ok(Taken::AlreadyTaken) };
        let id = &connection.connection_id;
        let file = self.concur(id, |client, token| async move { client.fetch_file(&token, link).await }).await?;
        self.take_file(connection, key, &file.bytes).await
    }

    async fn start_job(&self, id: &ConnectionId, definition: &ExtractDefinition) -> Result<bool, Failure> {
        let started =
            self.concur(id, |client, token| async move { client.start_extract_job(&token, definition).await }).await?;
        Ok(matches!(started, JobStart::Started(_)))
    }

    async fn batch_run(
        &self,
        connection: &Connection,
        known: &HashMap<String, KnownRecord>,
    ) -> Result<FilesRun, Failure> {
        let id = &connection.connection_id;
        let source = &connection.posting_source;
        let mut run = FilesRun::default();
        let open = self
            .concur(id, |client, token| async move { client.payment_batches(&token, BatchListStatus::Open).await })
            .await?;
        for batch in &open {
            let chosen = source.takes_batch(
                batch.payee_type.as_deref().unwrap_or(""),
                batch.currency.as_deref().unwrap_or(""),
                batch.payment_method.as_deref().unwrap_or(""),
            );
            let key = FileKey::Batch(batch.id.clone());
            let seen = known.get(&key.record_key()).and_then(|r| r.state.as_deref());
            if !chosen || seen == Some(state::CLOSING) {
                continue;
            }
            if batch.count.unwrap_or(0) == 0 {
                if seen.is_none() {
                    self.remember(id, &key, state::OPEN, "").await?;
                }
                continue;
            }
            if self.close(id, batch).await? {
                self.remember(id, &key, state::CLOSING, "").await?;
                run.batches_closed += 1;
            }
        }
        let closed = self
            .concur(id, |client, token| async move { client.payment_batches(&token, BatchListStatus::Closed).await })
            .await?;
        for batch in &closed {
            let key = FileKey::Batch(batch.id.clone());
            // A batch first seen closed was closed before the connection watched it; a taken one is done.
            let seen = known.get(&key.record_key()).and_then(|r| r.state.as_deref());
            if let Some(state::OPEN | state::CLOSING | state::REFUSED) = seen {
                let taken = self.take_batch(connection, &key, batch).await?;
                run.files.push((key, taken));
            }
        }
        Ok(run)
    }

    /// Inbox files refused earlier are taken again with each run, as refused Concur files are: a key the
    /// operator added since makes them post, and nothing dropped is lost to a rotation. A file the bucket
    /// no longer holds (its 30 days are over) is left as it stands.
    async fn retake_refused_inbox_files(
        &self,
        connection: &Connection,
        known: &HashMap<String, KnownRecord>,
        mut run: FilesRun,
    ) -> Result<FilesRun, Failure> {
        for (record_key, record) in known {
            let Some(object) = record_key.strip_prefix("inbox:") else { continue };
            if record.state.as_deref() != Some(state::REFUSED) {
                continue;
            }
            let key = FileKey::Inbox(object.to_owned());
            match self.files.inbox_file(object, concur::extracts::MAX_FILE_BYTES).await {
                Ok(bytes) => {
                    let taken = self.take_file(connection, &key, &bytes).await?;
                    run.files.push((key, taken));
                }
                Err(e) => tracing::warn!(connection = %connection.connection_id, file = object, error = %e,
                    "a refused inbox file could not be read again"),
            }
        }
        Ok(run)
    }

    /// Asks Concur to close a batch; `false` when it holds no reports yet (§3 500).
    async fn close(&self, id: &ConnectionId, batch: &PaymentBatch) -> Result<bool, Failure> {
        match self.concur(id, |client, token| async move { client.close_batch(&token, batch).await }).await? {
            BatchClose::Answered(answer) if answer.succeeded() => Ok(true),
            BatchClose::Answered(answer) => Err(Failure::retryable(
                format!("Concur answered {} to closing payment batch {}", answer.status, batch.id),
                None,
            )),
            BatchClose::Empty => Ok(false),
        }
    }

    async fn take_batch(&self, connection: &Connection, key: &FileKey, batch: &PaymentBatch) -> Result<Taken, Failure> {
        let id = &connection.connection_id;
        let answer =
            self.concur(id, |client, token| async move { client.closed_batch_file_link(&token, batch).await }).await?;
        let link = match answer {
            BatchClose::Answered(answer) => answer.file_url,
            BatchClose::Empty => None,
        };
        let Some(link) = link else {
            return Err(Failure::retryable(
                format!("Concur named no file for closed payment batch {}", batch.id),
                None,
            ));
        };
        let link = &link;
        let file = self.concur(id, |client, token| async move { client.fetch_file(&token, link).await }).await?;
        self.take_file(connection, key, &file.bytes).await
    }

    /// A Concur call with the connection's token (refreshed once on a 401).
    async fn concur<'a, T, F, Fut>(&'a self, id: &ConnectionId, call: F) -> Result<T, Failure>
    where
        F: Fn(&'a concur::ConcurClient, concur::AccessToken) -> Fut,
        Fut: std::future::Future<Output = Result<T, ConcurError>>,
    {
        let client = self.tokens.client();
        self.tokens
            .with_token(id, |token| call(client, token))
            .await
            .map_err(|e| e.to_failure(&format!("reading connection {id}'s files from Concur")))
    }
}

/// Whether the files partition holds the file as taken.
fn taken(known: &HashMap<String, KnownRecord>, key: &FileKey) -> bool {
    known.get(&key.record_key()).and_then(|r| r.state.as_deref()) == Some(state::TAKEN)
}

/// A job queued or running (any status but complete: §2 documents only `Queued` and `Completed`).
fn running(job: &ExtractJob) -> bool {
    !matches!(job.status, JobStatus::Completed)
}
