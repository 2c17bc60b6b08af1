//! The files bucket (issue 15): the documents of an extract file, staged one object each until the poster
//! posts them, so a replay months later still finds a document that came in a file.
//!
//! ```text
//! staged/<connection>/<doc type>/<business id>.json   one FileDocument (the FI document its rows make)
//! ```
//!
//! A staged document holds what the normalizer reads (no banking columns, no secret). Staging the same
//! document again overwrites it with the same content: a file taken twice stages nothing new.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use domain::extract::FileDocument;
use domain::{ConcurDocumentId, ConnectionId, DocumentType};
use serde::{Deserialize, Serialize};

use crate::{StoreError, sdk_error_message};

/// The largest staged document read back (a report of thousands of allocated lines is well under it).
const MAX_STAGED_BYTES: usize = 16 * 1024 * 1024;

/// A document of a file, waiting in the bucket for the poster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagedDocument {
    /// Which file it came from (`extract job …`, `payment batch …`, `inbox …`), for the audit trail.
    pub file: String,
    pub document: FileDocument,
}

#[derive(Debug, Clone)]
pub struct FileStore {
    client: Client,
    bucket: String,
}

impl FileStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// Stages a document of a file under its ledger key.
    pub async fn stage(&self, connection: &ConnectionId, staged: &StagedDocument) -> Result<(), StoreError> {
        let key = staged_key(connection, staged.document.doc_type, &staged.document.business_id);
        let action = || format!("staging {key} in bucket {}", self.bucket);
        let body = serde_json::to_vec(staged).map_err(|e| StoreError::new(action(), e))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| StoreError::new(action(), sdk_error_message(&e)))?;
        Ok(())
    }

    /// The staged document of a ledger key; `None` when no file brought it.
    pub async fn staged(
        &self,
        connection: &ConnectionId,
        doc_type: DocumentType,
        id: &ConcurDocumentId,
    ) -> Result<Option<StagedDocument>, StoreError> {
        let key = staged_key(connection, doc_type, id);
        let action = || format!("reading {key} from bucket {}", self.bucket);
        let out = match self.client.get_object().bucket(&self.bucket).key(&key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(StoreError::new(action(), sdk_error_message(&e))),
        };
        if out.content_length().is_some_and(|n| n > MAX_STAGED_BYTES as i64) {
            return Err(StoreError::new(action(), format!("the object is over {MAX_STAGED_BYTES} bytes")));
        }
        let bytes = out.body.collect().await.map_err(|e| StoreError::new(action(), e))?.into_bytes();
        serde_json::from_slice(&bytes).map(Some).map_err(|e| StoreError::new(action(), e))
    }
}

fn staged_key(connection: &ConnectionId, doc_type: DocumentType, id: &ConcurDocumentId) -> String {
    format!("staged/{connection}/{doc_type}/{id}.json")
}

/// The secret holding a connection's OpenPGP private keys (`<prefix><connection>/pgp`): every key a file may
/// be encrypted to during a rotation. Written by `connector keys add`/`remove`, read by `file-intake`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyringSecret {
    pub keys: Vec<StoredKey>,
}

/// One private key, ASCII-armored as `gpg --export-secret-keys --armor` writes it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub armored: String,
    /// The key's passphrase, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

/// Key material never reaches a log: only how many keys there are.
impl std::fmt::Debug for KeyringSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyringSecret {{ {} key(s) }}", self.keys.len())
    }
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredKey(<redacted>)")
    }
}

/// The id of a connection's key secret.
pub fn keyring_secret_id(secret_prefix: &str, connection: &ConnectionId) -> String {
    format!("{secret_prefix}{connection}/pgp")
}

impl FileStore {
    /// A file the customer's file transfer dropped in the inbox, read whole within `limit` bytes.
    pub async fn inbox_file(&self, key: &str, limit: usize) -> Result<Vec<u8>, StoreError> {
        let action = || format!("reading {key} from bucket {}", self.bucket);
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| StoreError::new(action(), sdk_error_message(&e)))?;
        if out.content_length().is_some_and(|n| n > limit as i64) {
            return Err(StoreError::new(action(), format!("the file is over {limit} bytes, the largest taken")));
        }
        let bytes = out.body.collect().await.map_err(|e| StoreError::new(action(), e))?.into_bytes();
        Ok(bytes.to_vec())
    }

    /// The bucket's name (an S3 event names the bucket it came from).
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}
