//! Taking one file: open it whole, stage its documents, queue them, remember the file.

use std::collections::HashMap;

use concur::GrantStore;
use domain::posting_source::FILES;
use domain::reference::{ContentHash, KnownRecord};
use domain::{Connection, ConnectionId, Failure, WorkItem, WorkSource};
use files::{KeySource, Keyring, OpenedFile, open_file};
use platform::files::{KeyringSecret, StagedDocument, keyring_secret_id};
use platform::queue::{MAX_BATCH, Outgoing};
use platform::reference::{SyncLease, SyncState};
use time::OffsetDateTime;

use crate::{FUNCTION, FileIntake};

/// A file as the `files` partition remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKey {
    /// An Extract v1 job's file: definition id and job id.
    Job { definition: String, job: String },
    /// A payment batch (its `BatchID`).
    Batch(String),
    /// An object the file transfer dropped in the inbox.
    Inbox(String),
}

impl FileKey {
    /// The record key: `job:<definition>:<job>`, `batch:<id>`, `inbox:<object key>`.
    pub fn record_key(&self) -> String {
        match self {
            FileKey::Job { definition, job } => format!("job:{definition}:{job}"),
            FileKey::Batch(id) => format!("batch:{id}"),
            FileKey::Inbox(key) => format!("inbox:{key}"),
        }
    }

    /// How the audit trail and the staged documents name the file.
    pub fn label(&self) -> String {
        match self {
            FileKey::Job { job, .. } => format!("extract job {job}"),
            FileKey::Batch(id) => format!("payment batch {id}"),
            FileKey::Inbox(key) => format!("inbox file {key}"),
        }
    }
}

/// Where a file stands in the `files` partition.
pub(crate) mod state {
    /// A payment batch seen open (so a close by hand in Payment Manager is still taken).
    pub const OPEN: &str = "open";
    /// A payment batch this connector asked Concur to close.
    pub const CLOSING: &str = "closing";
    /// Its documents are staged and queued.
    pub const TAKEN: &str = "taken";
    /// Refused whole (the reason is in the audit trail); taken again on the next run, e.g. once the key
    /// it was encrypted to has been added.
    pub const REFUSED: &str = "refused";
}

/// What became of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Its documents were staged and queued.
    Queued { documents: usize, rows: u64 },
    /// Taken before: nothing done.
    AlreadyTaken,
    /// Refused whole; nothing staged or queued.
    Refused { reason: String },
    /// Another run of the connection's files holds the lease; the file is taken by it or by a retry.
    Busy,
}

impl<S: GrantStore> FileIntake<S> {
    /// A file of the inbox, under the connection's lease.
    pub(crate) async fn take_inbox_file(
        &self,
        connection_id: &ConnectionId,
        object_key: &str,
    ) -> Result<Taken, Failure> {
        let connection = self.connection(connection_id).await?;
        let key = FileKey::Inbox(object_key.to_owned());
        let Some(lease) = self.lease(connection_id).await? else {
            // The message comes back after its visibility timeout and finds the lease free.
            return Err(Failure::retryable("another run of this connection's files holds the lease", None));
        };
        let known = self.reference.known(connection_id, FILES, &[key.record_key()]).await.map_err(Failure::from)?;
        let taken = match known.get(&key.record_key()) {
            Some(record) if record.state.as_deref() == Some(state::TAKEN) => Ok(Taken::AlreadyTaken),
            _ => match self.files.inbox_file(object_key, concur::extracts::MAX_FILE_BYTES).await {
                Ok(bytes) => self.take_file(&connection, &key, &bytes).await,
                Err(e) => Err(Failure::from(e)),
            },
        };
        self.release(connection_id, lease, &taken).await;
        taken
    }

    /// Opens a file and, when it adds up, stages and queues its documents and remembers it as taken; a
    /// refused file is remembered as refused, with the reason in the audit trail.
    pub(crate) async fn take_file(
        &self,
        connection: &Connection,
        key: &FileKey,
        bytes: &[u8],
    ) -> Result<Taken, Failure> {
        let id = &connection.connection_id;
        let keys = if files::looks_encrypted(bytes) { self.keyring(id).await? } else { None };
        let opened = match open_file(id.as_str(), bytes, keys.as_ref(), Some(connection.posting_source.delimiter)) {
            Ok(opened) => opened,
            Err(refused) => {
                let reason = refused.to_string();
                self.audit_file(id, key, "refused", "failed", reason.clone()).await;
                self.remember(id, key, state::REFUSED, &reason).await?;
                return Ok(Taken::Refused { reason });
            }
        };
        if let Some(fingerprint) = &opened.key_fingerprint {
            self.key_used(connection, fingerprint).await;
        }
        let rows = opened.extracts.iter().map(|(_, summary)| summary.rows).sum();
        let documents = opened.documents.len();
        self.stage_and_queue(connection, key, &opened).await?;
        self.remember(id, key, state::TAKEN, &format!("{rows} rows")).await?;
        self.audit_file(id, key, "taken", "ok", describe(&opened, rows)).await;
        Ok(Taken::Queued { documents, rows })
    }

    async fn stage_and_queue(
        &self,
        connection: &Connection,
        key: &FileKey,
        opened: &OpenedFile,
    ) -> Result<(), Failure> {
        let id = &connection.connection_id;
        let (owner, level) = self.connections.slot_owner(connection).await.map_err(Failure::from)?;
        let now = OffsetDateTime::now_utc();
        let mut batch = Vec::with_capacity(MAX_BATCH);
        for document in &opened.documents {
            let staged = StagedDocument { file: key.label(), document: document.clone() };
            self.files.stage(id, &staged).await.map_err(Failure::from)?;
            let item =
                WorkItem::new(id.clone(), document.doc_type, document.business_id.clone(), WorkSource::File, now);
            batch.push(Outgoing::document(item, &owner, level));
            if batch.len() == MAX_BATCH {
                self.send(&mut batch).await?;
            }
        }
        self.send(&mut batch).await
    }

    async fn send(&self, batch: &mut Vec<Outgoing>) -> Result<(), Failure> {
        if batch.is_empty() {
            return Ok(());
        }
        let failed = self.queue.send_batch(batch).await.map_err(Failure::from)?;
        if let Some((_, reason)) = failed.first() {
            // The file is not remembered as taken: the next run stages and queues it again (harmless).
            return Err(Failure::retryable(
                format!("the work queue refused {} documents: {reason}", failed.len()),
                None,
            ));
        }
        batch.clear();
        Ok(())
    }

    /// Notes the key's use on the connection (`connector keys list`), and warns in the audit trail when it
    /// expires soon: files encrypted to it stop decrypting then. Best effort: the file is taken either way.
    async fn key_used(&self, connection: &Connection, fingerprint: &str) {
        let id = &connection.connection_id;
        let now = OffsetDateTime::now_utc();
        if let Err(e) = self.connections.record_key_used(id, fingerprint, &domain::clock::rfc3339(now)).await {
            tracing::warn!(connection = %id, %fingerprint, error = %e, "the key's last use was not recorded");
        }
        if let Some(key) = connection.pgp_keys.get(fingerprint).filter(|k| k.expires_soon(now)) {
            let when = key.expires_at.as_deref().unwrap_or("?");
            let detail = format!(
                "key {fingerprint} decrypted a file and expires at {when}: add the next key with `connector keys add` \
                 and give its public key to Concur"
            );
            let mut event = self.audit.event(id.as_str(), "connection", "key expiring", "warning");
            event.detail = Some(detail);
            if let Err(e) = self.audit.record(&event).await {
                tracing::warn!(connection = %id, error = %e, "could not record the key expiry warning");
            }
        }
    }

    /// The connection's keys; `None` when it holds none.
    async fn keyring(&self, id: &ConnectionId) -> Result<Option<Keyring>, Failure> {
        let secret_id = keyring_secret_id(&self.secret_prefix, id);
        // Read afresh for every encrypted file (files are few): a key the operator just added decrypts the
        // very next file, rather than after the secret cache's lifetime.
        self.secrets.invalidate(&secret_id);
        let Some(secret) = self.secrets.get_json::<KeyringSecret>(&secret_id).await.map_err(Failure::from)? else {
            return Ok(None);
        };
        let sources: Vec<KeySource<'_>> = secret
            .keys
            .iter()
            .map(|k| match &k.passphrase {
                Some(passphrase) => KeySource::with_passphrase(&k.armored, passphrase),
                None => KeySource::new(&k.armored),
            })
            .collect();
        Keyring::from_armored(&sources).map(Some).map_err(|e| {
            Failure::permanent(format!(
                "connection {id}'s OpenPGP keys cannot be read: {e}; replace the key with `connector keys add`"
            ))
        })
    }

    pub(crate) async fn connection(&self, id: &ConnectionId) -> Result<Connection, Failure> {
        self.connections
            .get(id)
            .await
            .map_err(Failure::from)?
            .ok_or_else(|| Failure::permanent(format!("there is no connection {id}: files for it are not taken")))
    }

    /// The connection's file lease; `None` while another run holds it.
    pub(crate) async fn lease(&self, id: &ConnectionId) -> Result<Option<SyncLease>, Failure> {
        let holder = format!("{FUNCTION}:{}", uuid::Uuid::new_v4().simple());
        match self.reference.lease(id, FILES, &holder, self.lease_ttl, OffsetDateTime::now_utc()).await {
            Ok(lease) => Ok(Some(lease)),
            Err(e) if e.conflict => Ok(None),
            Err(e) => Err(Failure::from(e)),
        }
    }

    /// Gives the lease back with the run's time and error, if any (best effort: it lapses anyway).
    pub(crate) async fn release<T>(&self, id: &ConnectionId, lease: SyncLease, outcome: &Result<T, Failure>) {
        let now = domain::clock::rfc3339(OffsetDateTime::now_utc());
        let state = SyncState {
            last_run_at: Some(now),
            last_error: outcome.as_ref().err().map(|f| f.reason.clone()),
            ..lease.state
        };
        if let Err(e) = self.reference.finish(id, FILES, &lease.holder, &state).await {
            tracing::warn!(connection = %id, error = %e, "could not release the files lease; it lapses");
        }
    }

    /// What the files partition knows of the connection's files.
    pub(crate) async fn known(&self, id: &ConnectionId) -> Result<HashMap<String, KnownRecord>, Failure> {
        self.reference.known_all(id, FILES).await.map_err(Failure::from)
    }

    pub(crate) async fn remember(
        &self,
        id: &ConnectionId,
        key: &FileKey,
        state: &str,
        note: &str,
    ) -> Result<(), Failure> {
        let record = KnownRecord {
            hash: ContentHash::of(&(state, note)),
            active: state != state::REFUSED,
            rank: 0,
            target_id: None,
            state: Some(state.to_owned()),
        };
        self.reference.remember(id, FILES, &key.record_key(), &record).await.map_err(Failure::from)
    }

    pub(crate) async fn audit_file(&self, id: &ConnectionId, key: &FileKey, step: &str, outcome: &str, detail: String) {
        let mut event = self.audit.event(id.as_str(), &format!("file#{}", key.record_key()), step, outcome);
        event.detail = Some(detail);
        if let Err(e) = self.audit.record(&event).await {
            tracing::warn!(connection = %id, error = %e, "could not record the file's audit event");
        }
    }
}

fn describe(opened: &OpenedFile, rows: u64) -> String {
    let extracts: Vec<String> = opened
        .extracts
        .iter()
        .map(|(name, s)| {
            format!(
                "{name}: {:?} batch {} of {}, {} rows, total {}",
                s.header.kind, s.header.batch_id, s.header.batch_date, s.rows, s.journal_amount_sum
            )
        })
        .collect();
    let mut text = format!("{} documents from {rows} rows ({})", opened.documents.len(), extracts.join("; "));
    if let Some(fingerprint) = &opened.key_fingerprint {
        text.push_str(&format!("; decrypted with key {fingerprint}"));
    }
    if !opened.skipped.is_empty() {
        text.push_str(&format!("; left alone: {}", opened.skipped.join(", ")));
    }
    text
}
