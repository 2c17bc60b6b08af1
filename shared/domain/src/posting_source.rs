//! Where a connection's documents come from (issue 15): Financial Integration, the extract files of a
//! Professional company (Extract v1), the payment batch files of a Standard company (Payment Batch v1), or
//! `auto`, chosen from the edition on the company's profile.
//!
//! Whichever way a document arrives, its ledger key is its business id (report id / request id), so a report
//! that comes in a file and again through FIS is posted once (`docs/extract-files.md`).

use serde::{Deserialize, Serialize};

use crate::connection::Edition;
use crate::extract::Delimiter;

/// The sync-state partition of a connection's files: its lease (one file run at a time) and one remembered
/// record per file taken (a job, a batch, an inbox object), so a file is posted once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilesPartition;

/// See [`FilesPartition`].
pub const FILES: FilesPartition = FilesPartition;

impl crate::reference::SyncPartition for FilesPartition {
    fn as_str(self) -> &'static str {
        "files"
    }
}

/// The choice an operator makes (`connector source ID …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceChoice {
    /// Financial Integration only (the default).
    #[default]
    Fis,
    /// Extract v1 files (Professional edition).
    Extract,
    /// Payment batch files (Standard edition).
    PaymentBatch,
    /// From the edition: Professional → FIS and the extract jobs Concur's schedule runs (reports already in
    /// flight when FIS was enabled keep going to the extract); Standard → payment batches; unknown → FIS.
    Auto,
}

impl std::str::FromStr for SourceChoice {
    type Err = crate::ids::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fis" => Ok(SourceChoice::Fis),
            "extract" => Ok(SourceChoice::Extract),
            "payment_batch" | "payment-batch" => Ok(SourceChoice::PaymentBatch),
            "auto" => Ok(SourceChoice::Auto),
            _ => Err(crate::ids::refuse("posting source", s, "expected fis, extract, payment_batch or auto")),
        }
    }
}

/// How long before `since` a job may have started and still be taken: clock skew and Concur's
/// whole-second start times.
pub const SINCE_GRACE: time::Duration = time::Duration::minutes(10);

/// The file APIs a connection reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileApi {
    /// Extract v1: definitions → jobs → file.
    Extract,
    /// Payment Batch v1: list → close → file.
    PaymentBatch,
}

/// A connection's posting source and how its files are read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PostingSource {
    pub choice: SourceChoice,
    /// Extract definitions to read, by name (`Standard Accounting Extract`) or id; empty = every definition.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub definitions: Vec<String>,
    /// Start a job when none is running and the last one is done; otherwise only the jobs Concur's own
    /// schedule ran are taken.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub start_jobs: bool,
    /// Payment batches to close, by `Type` (`Employee`, `Card Program`); empty = every type.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batch_types: Vec<String>,
    /// … by currency; empty = every currency.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batch_currencies: Vec<String>,
    /// … by `PaymentMethod`; empty = every method.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batch_payment_methods: Vec<String>,
    /// The files' field separator.
    #[serde(with = "delimiter_name")]
    pub delimiter: Delimiter,
    /// RFC 3339 UTC: extract jobs started before this are not taken (set when the source is chosen, so the
    /// last 100 jobs Concur lists are not posted again; an operator may set it earlier).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// What a connection reads, once `auto` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedSource {
    /// Financial Integration documents (poll and webhooks).
    pub fis: bool,
    /// Files, and from which API.
    pub files: Option<FileApi>,
    /// Whether jobs may be started (Extract v1).
    pub start_jobs: bool,
}

impl PostingSource {
    /// FIS only, nothing else set: not written to a stored connection.
    pub fn is_default(&self) -> bool {
        *self == PostingSource::default()
    }

    /// What the connection reads, given the edition on its profile.
    pub fn resolve(&self, edition: Option<Edition>) -> ResolvedSource {
        let start_jobs = self.start_jobs;
        let (fis, files) = match self.choice {
            SourceChoice::Fis => (true, None),
            SourceChoice::Extract => (false, Some(FileApi::Extract)),
            SourceChoice::PaymentBatch => (false, Some(FileApi::PaymentBatch)),
            SourceChoice::Auto => match edition {
                Some(Edition::Professional) => (true, Some(FileApi::Extract)),
                Some(Edition::Standard) => (false, Some(FileApi::PaymentBatch)),
                Some(Edition::Unknown) | None => (true, None),
            },
        };
        ResolvedSource { fis, files, start_jobs: start_jobs && files == Some(FileApi::Extract) }
    }

    /// Whether a payment batch with these facts is one to close.
    pub fn takes_batch(&self, batch_type: &str, currency: &str, payment_method: &str) -> bool {
        let allows = |wanted: &[String], value: &str| {
            wanted.is_empty() || wanted.iter().any(|w| w.trim().eq_ignore_ascii_case(value.trim()))
        };
        allows(&self.batch_types, batch_type)
            && allows(&self.batch_currencies, currency)
            && allows(&self.batch_payment_methods, payment_method)
    }

    /// Whether a job started at `started` (UTC) is recent enough to take. Concur's start times have whole
    /// seconds (or less) and Concur's clock is not ours: a job started up to [`SINCE_GRACE`] before `since`
    /// is taken too (at worst a few documents already ready then, each posted once).
    pub fn takes_job_started(&self, started: Option<time::OffsetDateTime>) -> bool {
        let since = self.since.as_deref().and_then(crate::clock::parse_rfc3339);
        match (since, started) {
            (Some(since), Some(started)) => started + SINCE_GRACE >= since,
            // No start time: taken (a job Concur does not date cannot be told old).
            _ => true,
        }
    }

    /// Whether an extract definition is one to read.
    pub fn takes_definition(&self, name: &str, id: &str) -> bool {
        self.definitions.is_empty()
            || self.definitions.iter().any(|d| d.trim().eq_ignore_ascii_case(name.trim()) || d.trim() == id)
    }
}

/// One of a connection's OpenPGP keys, as the connection shows it (the key itself is in the connection's
/// `pgp` secret; this is what is not secret about it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgpKey {
    /// The primary key's first user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC; `None`: it does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// RFC 3339 UTC, when an operator added it.
    pub added_at: String,
    /// RFC 3339 UTC, the last time a file was decrypted with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
}

/// How far ahead a key's expiry shows on its connection (as a Concur refresh token's does).
pub const KEY_EXPIRY_WARNING_DAYS: i64 = 30;

impl PgpKey {
    /// Whether the key expires within [`KEY_EXPIRY_WARNING_DAYS`] of `now` (or has expired).
    pub fn expires_soon(&self, now: time::OffsetDateTime) -> bool {
        self.expires_at
            .as_deref()
            .and_then(crate::clock::parse_rfc3339)
            .is_some_and(|at| at - now <= time::Duration::days(KEY_EXPIRY_WARNING_DAYS))
    }
}

/// The delimiter by name in stored settings: `comma`, `pipe`, `tab`, `semicolon`.
pub mod delimiter_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::extract::Delimiter;

    pub fn name(delimiter: Delimiter) -> &'static str {
        match delimiter {
            Delimiter::Comma => "comma",
            Delimiter::Pipe => "pipe",
            Delimiter::Tab => "tab",
            Delimiter::Semicolon => "semicolon",
        }
    }

    pub fn parse(name: &str) -> Option<Delimiter> {
        match name {
            "comma" | "," => Some(Delimiter::Comma),
            "pipe" | "|" => Some(Delimiter::Pipe),
            "tab" => Some(Delimiter::Tab),
            "semicolon" | ";" => Some(Delimiter::Semicolon),
            _ => None,
        }
    }

    pub fn serialize<S: Serializer>(delimiter: &Delimiter, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(name(*delimiter))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Delimiter, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown delimiter `{text}`: use comma, pipe, tab or semicolon"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_the_edition() {
        let auto = PostingSource { choice: SourceChoice::Auto, start_jobs: true, ..PostingSource::default() };
        let pro = auto.resolve(Some(Edition::Professional));
        assert_eq!((pro.fis, pro.files, pro.start_jobs), (true, Some(FileApi::Extract), true));
        let standard = auto.resolve(Some(Edition::Standard));
        assert_eq!((standard.fis, standard.files, standard.start_jobs), (false, Some(FileApi::PaymentBatch), false));
        assert_eq!(auto.resolve(None).files, None);
        assert!(PostingSource::default().resolve(Some(Edition::Standard)).fis);
    }

    #[test]
    fn batches_and_definitions_are_chosen_by_the_settings() {
        let source = PostingSource {
            batch_currencies: vec!["USD".into()],
            batch_types: vec!["Employee".into()],
            definitions: vec!["Standard Accounting Extract".into()],
            ..PostingSource::default()
        };
        assert!(source.takes_batch("employee", "USD", "Expense Pay by SAP Concur"));
        assert!(!source.takes_batch("Card Program", "USD", "x"));
        assert!(!source.takes_batch("Employee", "EUR", "x"));
        assert!(source.takes_definition("standard accounting extract", "abc"));
        assert!(!source.takes_definition("European Extract", "abc"));
    }

    #[test]
    fn jobs_are_taken_from_a_little_before_the_source_was_chosen() {
        let at = time::macros::datetime!(2026-12-07 06:07:49.532 UTC);
        let source = PostingSource { since: Some(crate::clock::rfc3339(at)), ..PostingSource::default() };
        // Concur's whole-second start time of a job started just after.
        assert!(source.takes_job_started(Some(time::macros::datetime!(2026-12-07 06:07:49 UTC))));
        assert!(source.takes_job_started(Some(at - time::Duration::minutes(9))));
        assert!(!source.takes_job_started(Some(at - time::Duration::minutes(11))));
        assert!(source.takes_job_started(None));
    }

    #[test]
    fn stored_settings_read_back_and_default_to_fis() {
        let source = PostingSource {
            choice: SourceChoice::PaymentBatch,
            delimiter: Delimiter::Pipe,
            ..PostingSource::default()
        };
        let json = serde_json::to_string(&source).expect("serializes");
        assert_eq!(json, r#"{"choice":"payment_batch","delimiter":"pipe"}"#);
        assert_eq!(serde_json::from_str::<PostingSource>(&json).expect("reads"), source);
        assert_eq!(serde_json::from_str::<PostingSource>("{}").expect("reads"), PostingSource::default());
    }
}
