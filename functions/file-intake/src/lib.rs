//! file-intake: takes a connection's extract files into the posting pipeline (issue 15).
//!
//! It consumes the inbox queue, whose messages are the scheduled poller's requests to take a connection's
//! new files from Concur (Extract v1 jobs for a Professional company, payment batches for a Standard one:
//! [`concur_files`]) and S3's notices of files the customer's file transfer dropped under
//! `inbox/<connection>/` in the files bucket. A file is opened whole first ([`files::open_file`]: decrypted with the
//! connection's keys, unzipped, every extract checked against its header); only a file that adds up has its
//! documents staged in the bucket and queued for the poster, one work item each, keyed by business id like
//! every other document. Each file is remembered in the connection's `files` sync partition, under its lease,
//! so a file is taken once however often it is seen.

pub mod concur_files;
mod setup;
mod take;

use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use concur::{GrantStore, TokenManager};
use domain::Failure;
use domain::inbox::{DroppedFile, InboxMessage};
use platform::audit::AuditLog;
use platform::connections::ConnectionStore;
use platform::files::FileStore;
use platform::queue::WorkQueue;
use platform::reference::ReferenceStore;
use platform::secrets::SecretStore;

pub use setup::{IntakeOptions, Settings};
pub use take::{FileKey, Taken};

/// The function's name in audit events and lease holders.
pub const FUNCTION: &str = "file-intake";

/// Everything the function talks to, built once per cold start.
pub struct FileIntake<S> {
    pub connections: ConnectionStore,
    /// The `files` partition of the sync state: the lease and the files taken.
    pub reference: ReferenceStore,
    pub files: FileStore,
    /// The connections' OpenPGP keys.
    pub secrets: SecretStore,
    pub secret_prefix: String,
    pub tokens: TokenManager<S>,
    pub queue: WorkQueue,
    pub audit: AuditLog,
    /// How long a connection's file run holds its lease: longer than one invocation.
    pub lease_ttl: Duration,
}

/// Handles a batch of the inbox queue; a message that failed retryably is reported for redelivery.
pub async fn handle<S: GrantStore>(intake: &FileIntake<S>, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for message in event.records {
        platform::telemetry::queue_age("inbox", &message);
        let id = message.message_id.clone().unwrap_or_default();
        let body = message.body.as_deref().unwrap_or("");
        match intake.take_message(body).await {
            Ok(()) => {}
            Err(failure) if failure.is_retryable() => {
                tracing::warn!(message = %id, reason = %failure.reason, "will retry");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failures.push(failure);
            }
            // Recorded where it belongs (the connection's audit trail); a retry would fail the same way.
            Err(failure) => tracing::error!(message = %id, reason = %failure.reason, "dropped"),
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

impl<S: GrantStore> FileIntake<S> {
    /// One message of the inbox queue.
    pub async fn take_message(&self, body: &str) -> Result<(), Failure> {
        match InboxMessage::from_json(body) {
            Ok(InboxMessage::Files(request)) => self.take_from_concur(&request.connection_id).await.map(drop),
            Ok(InboxMessage::Dropped(files)) => {
                for file in files {
                    self.take_dropped(&file).await?;
                }
                Ok(())
            }
            Ok(InboxMessage::S3Test) => Ok(()),
            Err(e) => Err(Failure::permanent(format!("the inbox message is malformed: {e}"))),
        }
    }

    /// A file the customer's file transfer dropped in the inbox.
    pub async fn take_dropped(&self, file: &DroppedFile) -> Result<Taken, Failure> {
        if file.bucket != self.files.bucket() {
            return Err(Failure::permanent(format!(
                "an S3 event names bucket {}, not this stack's files bucket {}",
                file.bucket,
                self.files.bucket()
            )));
        }
        let Some(connection) = file.connection_id() else {
            return Err(Failure::permanent(format!(
                "{} is not under inbox/<connection id>/: the file transfer must drop each connection's files in \
                 its own folder",
                file.key
            )));
        };
        self.take_inbox_file(&connection, &file.key).await
    }
}
