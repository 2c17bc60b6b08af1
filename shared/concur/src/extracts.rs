//! The XML answers of the file-based posting APIs
//! (extracts-and-payment-batches.md): Extract v1 for Professional companies
//! ([`extract_v1`], §2) and Payment Batch v1 for Standard ones
//! ([`payment_batch`], §3), as typed models. Only parsing: the calls
//! themselves belong to the client.
//!
//! Every parser takes the raw body, refuses it whole when it is over
//! [`MAX_DOCUMENT_BYTES`], nested deeper than [`MAX_DEPTH`] or not
//! well-formed, never panics, and names what was wrong and where (the
//! element path) in an [`ExtractXmlError`]. Elements are matched by local
//! name, case-insensitively, because Concur's own examples disagree on
//! namespaces and casing.
//!
//! The answers carry full URLs (job, status, file and batch links). Those
//! are [`Link`]s, followed only on the connection's own datacenter host
//! ([`Link::on_datacenter`]) so the access token never leaves it.

mod calls;
pub mod extract_v1;
pub mod payment_batch;
mod xml;

pub use calls::{BatchClose, BatchListStatus, FetchedFile, JobStart, MAX_FILE_BYTES};
pub use extract_v1::{
    ExtractDefinition, ExtractJob, JobStatus, parse_definition, parse_definitions, parse_job, parse_jobs,
};
pub use payment_batch::{BatchCloseAnswer, PaymentBatch, parse_batch_list, parse_close_answer};

use crate::client::ConcurError;

/// The largest XML answer parsed. A job list holds at most 100 jobs of
/// under 1 KB each (§2) and a batch list one summary per open batch (§3);
/// 2 MiB leaves ample room while keeping a hostile or runaway answer from
/// being held in memory.
pub const MAX_DOCUMENT_BYTES: usize = 2 * 1024 * 1024;

/// The deepest element nesting accepted. Concur's answers nest three levels
/// (`jobs/job/id`, `BatchList/BatchSummary/BatchTotal`); the limit refuses
/// pathological nesting long before it could exhaust the stack when the
/// tree is dropped.
pub const MAX_DEPTH: usize = 16;

/// The most elements one answer may hold (about 10 per batch summary or
/// job). Bounds the tree a document within [`MAX_DOCUMENT_BYTES`] can
/// build out of tiny empty elements.
pub const MAX_ELEMENTS: usize = 50_000;

/// Why an Extract v1 or Payment Batch v1 answer was refused. Paths read
/// like `BatchList/BatchSummary[2]/BatchTotal` (1-based positions among
/// same-named siblings); quoted values are shortened and sanitized.
#[derive(Debug, thiserror::Error)]
pub enum ExtractXmlError {
    #[error("the XML answer is {bytes} bytes, over the {limit}-byte limit")]
    TooLarge { bytes: usize, limit: usize },
    #[error("the XML answer nests deeper than {limit} elements at {path}")]
    TooDeep { path: String, limit: usize },
    #[error("the XML answer holds more than {limit} elements")]
    TooManyElements { limit: usize },
    #[error("the XML answer is not UTF-8 (from byte {at_byte})")]
    NotUtf8 { at_byte: usize },
    #[error("the XML answer is not well-formed at byte {at_byte}: {source}")]
    Syntax {
        at_byte: u64,
        #[source]
        source: quick_xml::Error,
    },
    #[error("the XML answer ends inside {path}")]
    Truncated { path: String },
    #[error("the XML answer has a second root element {path}")]
    SecondRoot { path: String },
    #[error("the XML answer uses the undeclared entity `&{name};` in {path}")]
    UnknownEntity { name: String, path: String },
    #[error("the XML answer's root is `{found}`, expected `{expected}`")]
    UnexpectedRoot { expected: &'static str, found: String },
    #[error("{path} is missing or empty")]
    Missing { path: String },
    #[error("{path} appears more than once")]
    Repeated { path: String },
    #[error("{path} holds `{value}`, which is not {expected}")]
    Invalid { path: String, value: String, expected: &'static str },
}

/// Text that is not an absolute http(s) URL where a [`Link`] was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an absolute http(s) URL")]
pub struct NotALink;

/// A URL Concur returned in an answer (`id`, `job-link`, `status-link`,
/// `file-link`, `Batch-URL`, `File-Url`). Whitespace inside is removed:
/// URLs cannot contain it and Concur's own `File-Url` example carries a
/// stray space (§3). It must be an absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link(url::Url);

impl Link {
    /// `text` without whitespace as an absolute http(s) URL; `Ok(None)`
    /// when it is blank.
    pub fn parse(text: &str) -> Result<Option<Self>, NotALink> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Ok(None);
        }
        let url = url::Url::parse(&compact).map_err(|_| NotALink)?;
        match url.scheme() {
            "https" | "http" if url.host_str().is_some() => Ok(Some(Self(url))),
            _ => Err(NotALink),
        }
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The last non-empty path segment: the opaque id Concur encodes in the
    /// link (`…/v1.0/nYoPK$pZmc…` → `nYoPK$pZmc…`, §2).
    pub fn last_segment(&self) -> Option<&str> {
        self.0.path_segments()?.rev().find(|segment| !segment.is_empty())
    }

    /// This link as the URL to call, provided it is on the connection's own
    /// datacenter `geolocation` (same scheme, host and port) — the rule the
    /// client applies to every link before sending the token, reused here.
    /// Concur's legacy `www.concursolutions.com` links, or the `http://`
    /// of the §3 `File-Url` example, are refused with the reason.
    pub fn on_datacenter(&self, geolocation: &str) -> Result<String, ConcurError> {
        crate::client::resolve(geolocation, self.as_str())
    }

    /// The same link with the path segment `from` (ASCII case-insensitive)
    /// replaced by `to`, or unchanged when it has none.
    fn with_version(&self, from: &str, to: &str) -> Self {
        let segment = format!("/{}/", from.to_ascii_lowercase());
        let path = self.0.path();
        let Some(at) = path.to_ascii_lowercase().find(&segment) else {
            return self.clone();
        };
        let mut url = self.0.clone();
        url.set_path(&format!("{}/{to}/{}", &path[..at], &path[at + segment.len()..]));
        Self(url)
    }

    /// The same link with `segment` appended to its path.
    fn joined(&self, segment: &str) -> Self {
        let mut url = self.0.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(segment);
        }
        Self(url)
    }
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_links_lose_stray_whitespace_and_need_a_host() {
        let link = Link::parse(" https://us.api.concursolutions.com/api/x/\n  abc$d ").unwrap().unwrap();
        assert_eq!(link.as_str(), "https://us.api.concursolutions.com/api/x/abc$d");
        assert_eq!(link.last_segment(), Some("abc$d"));
        assert!(Link::parse("  ").unwrap().is_none());
        assert!(Link::parse("/api/x").is_err());
        assert!(Link::parse("ftp://us.api.concursolutions.com/x").is_err());
    }

    #[test]
    fn extract_links_are_followed_only_on_the_connection_datacenter() {
        let geo = "https://us.api.concursolutions.com";
        let own = Link::parse("https://US.api.concursolutions.com/api/expense/extract/v1.0/a$b/job").unwrap().unwrap();
        assert_eq!(
            own.on_datacenter(geo).unwrap(),
            "https://us.api.concursolutions.com/api/expense/extract/v1.0/a$b/job"
        );
        let legacy = Link::parse("https://www.concursolutions.com/api/expense/extract/v1.0/a").unwrap().unwrap();
        assert!(legacy.on_datacenter(geo).is_err());
        let plain = Link::parse("http://us.api.concursolutions.com/api/x").unwrap().unwrap();
        assert!(plain.on_datacenter(geo).is_err(), "no downgrade to http");
    }

    #[test]
    fn extract_links_join_segments_and_swap_versions() {
        let link = Link::parse("https://h.example/api/v1.0/def/").unwrap().unwrap();
        assert_eq!(link.joined("job").as_str(), "https://h.example/api/v1.0/def/job");
        let batch = Link::parse("https://h.example/p/V1.1/batch/n$s%2F").unwrap().unwrap();
        assert_eq!(batch.with_version("v1.1", "v1.2").as_str(), "https://h.example/p/v1.2/batch/n$s%2F");
        assert_eq!(link.with_version("v1.1", "v1.2"), link);
    }

    /// Every parser over hostile input: an error, never a panic.
    fn every_parser(body: &[u8]) -> Vec<Result<(), ExtractXmlError>> {
        vec![
            parse_definitions(body).map(drop),
            parse_definition(body).map(drop),
            parse_jobs(body).map(drop),
            parse_job(body).map(drop),
            parse_batch_list(body).map(drop),
            parse_close_answer(body).map(drop),
        ]
    }

    #[test]
    fn extract_parsers_refuse_garbage_and_truncation_without_panicking() {
        let job = "<job><id>https://h.example/d/job/j</id><status>Completed</status>\
                   <file-link>https://h.example/d/job/j/file</file-link></job>";
        let mut bodies: Vec<Vec<u8>> = (0..job.len()).map(|n| job.as_bytes()[..n].to_vec()).collect();
        bodies.extend([
            b"".to_vec(),
            b"\xff\xfe<\x00j".to_vec(),
            b"not xml at all".to_vec(),
            b"<job><id>&bogus;</id></job>".to_vec(),
            b"<job></jobs>".to_vec(),
            b"<job/><job/>".to_vec(),
            b"<!DOCTYPE job [<!ENTITY a \"aaaa\">]><job><status>&a;</status></job>".to_vec(),
            b"<job><id>&#xD800;</id></job>".to_vec(),
            b"<BatchList><BatchSummary><Batch-URL>https://h.example/</Batch-URL></BatchSummary></BatchList>".to_vec(),
        ]);
        for body in &bodies {
            for result in every_parser(body) {
                assert!(result.is_err(), "{:?}", String::from_utf8_lossy(body));
            }
        }
        let e = parse_job(&job.as_bytes()[..job.len() - 6]).unwrap_err();
        assert!(matches!(&e, ExtractXmlError::Truncated { path } if path == "job"), "{e}");
        let e = parse_job(b"<job><id>&bogus;</id></job>").unwrap_err();
        assert!(matches!(&e, ExtractXmlError::UnknownEntity { path, .. } if path == "job/id[1]"), "{e}");
    }

    #[test]
    fn extract_parsers_refuse_deep_large_and_crowded_documents() {
        let deep = "<jobs>".repeat(100_000);
        for result in every_parser(deep.as_bytes()) {
            assert!(matches!(result, Err(ExtractXmlError::TooDeep { limit: MAX_DEPTH, .. })), "{result:?}");
        }
        let large = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        for result in every_parser(&large) {
            assert!(matches!(result, Err(ExtractXmlError::TooLarge { .. })), "{result:?}");
        }
        let crowded = format!("<jobs>{}</jobs>", "<x/>".repeat(MAX_ELEMENTS));
        assert!(crowded.len() <= MAX_DOCUMENT_BYTES);
        assert!(matches!(parse_jobs(crowded.as_bytes()), Err(ExtractXmlError::TooManyElements { .. })));
    }
}
