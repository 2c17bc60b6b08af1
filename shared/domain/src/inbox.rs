//! The messages of the inbox queue (issue 15), which `file-intake` consumes: the poller's request to take a
//! connection's files from Concur's file APIs, and S3's notice of a file the customer's file transfer dropped
//! in the files bucket under `inbox/<connection id>/`.

use serde::{Deserialize, Serialize};

use crate::clock::rfc3339;
use crate::ids::ConnectionId;
use crate::work_item::QueueMessageError;

/// Version 1 of the poller's request: take the connection's new extract or payment batch files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesRequest {
    pub v: u8,
    /// Always `files`.
    pub kind: String,
    pub connection_id: ConnectionId,
    /// RFC 3339 UTC.
    pub requested_at: String,
}

impl FilesRequest {
    pub const KIND: &'static str = "files";

    pub fn new(connection_id: ConnectionId, requested_at: time::OffsetDateTime) -> Self {
        Self { v: 1, kind: Self::KIND.to_owned(), connection_id, requested_at: rfc3339(requested_at) }
    }

    pub fn to_json(&self) -> String {
        // Plain strings: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A file in the bucket, from an S3 event record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedFile {
    pub bucket: String,
    /// The object key, URL-decoded (S3 events encode it as a form value).
    pub key: String,
    pub size: Option<u64>,
}

impl DroppedFile {
    /// The connection a dropped file belongs to: `inbox/<connection id>/…`; `None` for any other key.
    pub fn connection_id(&self) -> Option<ConnectionId> {
        let rest = self.key.strip_prefix(INBOX_PREFIX)?;
        let (id, name) = rest.split_once('/')?;
        if name.is_empty() {
            return None;
        }
        ConnectionId::parse(id).ok()
    }
}

/// Where the customer's file transfer drops files.
pub const INBOX_PREFIX: &str = "inbox/";

/// Any message of the inbox queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxMessage {
    Files(FilesRequest),
    /// Files created in the bucket (an S3 event holds one record, in practice).
    Dropped(Vec<DroppedFile>),
    /// S3's `s3:TestEvent`, sent once when the notification is configured: nothing to do.
    S3Test,
}

#[derive(Deserialize)]
struct S3Event {
    #[serde(rename = "Records", default)]
    records: Vec<S3Record>,
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Deserialize)]
struct S3Record {
    #[serde(rename = "eventName", default)]
    event_name: String,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: S3Bucket,
    object: S3Object,
}

#[derive(Deserialize)]
struct S3Bucket {
    name: String,
}

#[derive(Deserialize)]
struct S3Object {
    key: String,
    size: Option<u64>,
}

impl InboxMessage {
    /// Parses an inbox queue message body.
    pub fn from_json(body: &str) -> Result<Self, QueueMessageError> {
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|source| QueueMessageError::NotJson { source })?;
        if value.get("kind").and_then(serde_json::Value::as_str) == Some(FilesRequest::KIND) {
            let what = "files request";
            let request: FilesRequest =
                serde_json::from_value(value).map_err(|source| QueueMessageError::Malformed { what, source })?;
            if request.v != 1 {
                return Err(QueueMessageError::Version { what, found: request.v, expected: 1 });
            }
            return Ok(InboxMessage::Files(request));
        }
        let what = "S3 event";
        let event: S3Event =
            serde_json::from_value(value).map_err(|source| QueueMessageError::Malformed { what, source })?;
        if event.event.as_deref() == Some("s3:TestEvent") {
            return Ok(InboxMessage::S3Test);
        }
        let files = event
            .records
            .into_iter()
            .filter(|r| r.event_name.starts_with("ObjectCreated"))
            .map(|r| DroppedFile {
                bucket: r.s3.bucket.name,
                key: form_decoded(&r.s3.object.key),
                size: r.s3.object.size,
            })
            .collect();
        Ok(InboxMessage::Dropped(files))
    }
}

/// S3 event keys are form-encoded: `+` is a space, `%XX` a byte.
fn form_decoded(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_requests_round_trip() {
        let request =
            FilesRequest::new(ConnectionId::parse("acme").unwrap(), time::macros::datetime!(2026-12-07 10:00 UTC));
        assert_eq!(InboxMessage::from_json(&request.to_json()).unwrap(), InboxMessage::Files(request));
    }

    #[test]
    fn s3_events_name_the_file_and_its_connection() {
        let body = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},
            "object":{"key":"inbox/acme/SAE+March%202026.pgp","size":42}}}]}"#;
        let InboxMessage::Dropped(files) = InboxMessage::from_json(body).unwrap() else { panic!("a dropped file") };
        assert_eq!(files[0].key, "inbox/acme/SAE March 2026.pgp");
        assert_eq!(files[0].connection_id().unwrap().as_str(), "acme");
        let elsewhere = DroppedFile { bucket: "b".into(), key: "staged/acme/x.json".into(), size: None };
        assert_eq!(elsewhere.connection_id(), None);
        assert_eq!(InboxMessage::from_json(r#"{"Event":"s3:TestEvent"}"#).unwrap(), InboxMessage::S3Test);
        assert!(InboxMessage::from_json("not json").is_err());
        assert!(InboxMessage::from_json(r#"{"kind":"files","v":2,"connection_id":"a","requested_at":"x"}"#).is_err());
    }
}
