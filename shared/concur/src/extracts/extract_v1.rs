//! Extract v1 (Professional edition, extracts-and-payment-batches.md §2):
//! extract definitions and their jobs. Namespace
//! `http://www.concursolutions.com/api/expense/extract/2010/02`, ignored:
//! elements are matched by local name.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::xml::{Element, parse_root};
use super::{ExtractXmlError, Link};

/// An extract definition (`GET /api/expense/extract/v1.0/`): what the
/// customer's extract produces (`Standard Accounting Extract`, a regional
/// one…) and where its jobs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractDefinition {
    /// The definition's URI; its last segment is the encrypted id.
    pub id: Link,
    pub name: Option<String>,
    /// The URI that lists and starts jobs, always ending in `/job`: two of
    /// the three list examples in §2 omit that segment, so it is added when
    /// missing, and derived from [`Self::id`] when the element is absent.
    pub job_link: Link,
}

impl ExtractDefinition {
    /// The opaque encrypted id (may contain `$`), as the customer's chosen
    /// definitions are remembered.
    pub fn definition_id(&self) -> Option<&str> {
        self.id.last_segment()
    }
}

/// An extract job: one run of a definition, started through the API or by
/// Concur's own schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractJob {
    /// The job's URI; its last segment is the encrypted job id.
    pub id: Link,
    pub status: JobStatus,
    /// The status URI; `{id}/status` (§2 URI table) when the answer omits it.
    pub status_link: Link,
    /// UTC. Some examples lack the `Z` and carry fractional seconds.
    pub start_time: Option<OffsetDateTime>,
    /// Absent while the job runs.
    pub stop_time: Option<OffsetDateTime>,
    /// Absent while the job runs.
    pub file_link: Option<Link>,
}

impl ExtractJob {
    /// The opaque encrypted id, as processed jobs are remembered so a file
    /// is posted once (§2, ERP flow).
    pub fn job_id(&self) -> Option<&str> {
        self.id.last_segment()
    }

    /// The file to fetch, once the job is complete and names one.
    pub fn ready_file(&self) -> Option<&Link> {
        self.file_link.as_ref().filter(|_| self.status.is_complete())
    }
}

/// A job's `status`. §2 shows `Queued`, `Complete` and `Completed` (the
/// last two meaning the same); the full list is not documented, so any
/// other value is kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Completed,
    Other(String),
}

impl JobStatus {
    fn from_text(text: &str) -> Self {
        if text.eq_ignore_ascii_case("queued") {
            Self::Queued
        } else if text.eq_ignore_ascii_case("complete") || text.eq_ignore_ascii_case("completed") {
            Self::Completed
        } else {
            Self::Other(text.to_owned())
        }
    }

    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Completed)
    }
}

/// The definition list (`<definitions>`).
pub fn parse_definitions(body: &[u8]) -> Result<Vec<ExtractDefinition>, ExtractXmlError> {
    let root = parse_root(body, "definitions")?;
    root.children_named("definition").map(definition).collect()
}

/// One definition (`<definition>`).
pub fn parse_definition(body: &[u8]) -> Result<ExtractDefinition, ExtractXmlError> {
    definition(&parse_root(body, "definition")?)
}

/// A definition's job list (`<jobs>`, the last 100 jobs).
pub fn parse_jobs(body: &[u8]) -> Result<Vec<ExtractJob>, ExtractXmlError> {
    let root = parse_root(body, "jobs")?;
    root.children_named("job").map(job).collect()
}

/// One job (`<job>`): the answer to starting a job, to a job and to its
/// status.
pub fn parse_job(body: &[u8]) -> Result<ExtractJob, ExtractXmlError> {
    job(&parse_root(body, "job")?)
}

fn definition(element: &Element) -> Result<ExtractDefinition, ExtractXmlError> {
    let id = element.required_link("id")?;
    let job_link = match element.link("job-link")? {
        Some(link) if link.last_segment().is_some_and(|s| s.eq_ignore_ascii_case("job")) => link,
        Some(link) => link.joined("job"),
        None => id.joined("job"),
    };
    Ok(ExtractDefinition { name: element.text("name")?, id, job_link })
}

fn job(element: &Element) -> Result<ExtractJob, ExtractXmlError> {
    let id = element.required_link("id")?;
    let status_link = element.link("status-link")?.unwrap_or_else(|| id.joined("status"));
    Ok(ExtractJob {
        status: JobStatus::from_text(&element.required_text("status")?),
        start_time: utc_time(element, "start-time")?,
        stop_time: utc_time(element, "stop-time")?,
        file_link: element.link("file-link")?,
        status_link,
        id,
    })
}

/// A §2 timestamp: RFC 3339 (`2010-01-13T18:30:02Z`), or without an offset
/// and with optional fractional seconds (`2011-08-25T14:25:22.58`), which
/// the reference says is UTC too.
fn utc_time(element: &Element, name: &str) -> Result<Option<OffsetDateTime>, ExtractXmlError> {
    let Some(text) = element.text(name)? else {
        return Ok(None);
    };
    if let Ok(time) = OffsetDateTime::parse(&text, &Rfc3339) {
        return Ok(Some(time));
    }
    let without_offset = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]");
    PrimitiveDateTime::parse(&text, without_offset)
        .map(|time| Some(time.assume_utc()))
        .map_err(|_| element.invalid(name, &text, "a UTC timestamp like 2010-01-13T18:30:02Z"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    // §2, verbatim.
    const DEFINITIONS: &str = r#"<definitions xmlns="http://www.concursolutions.com/api/expense/extract/2010/02">
  <definition>
    <id>https://www.concursolutions.com/api/expense/extract/v1.0/nYoPK$pZmcowMRUqcl5bnDAwwsMydyt$xd</id>
    <job-link>https://www.concursolutions.com/api/expense/extract/v1.0/nYoPK$pZmcowMRUqcl5bnDAwwsMydyt$xd/job</job-link>
    <name>Standard Accounting Extract</name>
  </definition>
</definitions>"#;

    // §2, verbatim.
    const QUEUED_JOB: &str = r#"<job xmlns="http://www.concursolutions.com/api/expense/extract/2010/02">
  <id>https://www.concursolutions.com/api/expense/extract/v1.0/nYoPK$pZmcowMRUqcl5bnDAwwsMydyt$xd/job/uIo87jk3SHudi$sdlYle8$peot$pD21jyd</id>
  <status-link>https://www.concursolutions.com/api/expense/extract/v1.0/nYoPK$pZmcowMRUqcl5bnDAwwsMydyt$xd/job/uIo87jk3SHudi$sdlYle8$peot$pD21jyd/status</status-link>
  <start-time>2010-01-13T18:30:02Z</start-time>
  <status>Queued</status>
</job>"#;

    // §2; the reference abbreviates the status link as `…/status`, written
    // out here in full.
    const COMPLETED_JOB: &str = r#"<job xmlns="http://www.concursolutions.com/api/expense/extract/2010/02" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
  <id>https://www.concursolutions.com/api/expense/extract/v1.0/nX8O9$pytn6vJEWvLOZxyy3GcNGyj0ZklG/job/nIJp1lR2R0LNT4XcO5fXG$s$sZmVuRTuG$ps</id>
  <status-link>https://www.concursolutions.com/api/expense/extract/v1.0/nX8O9$pytn6vJEWvLOZxyy3GcNGyj0ZklG/job/nIJp1lR2R0LNT4XcO5fXG$s$sZmVuRTuG$ps/status</status-link>
  <start-time>2011-08-25T14:25:22.58</start-time>
  <stop-time>2011-08-25T14:25:23.537</stop-time>
  <status>Completed</status>
  <file-link>https://www.concursolutions.com/api/expense/extract/v1.0/nX8O9$pytn6vJEWvLOZxyy3GcNGyj0ZklG/job/nIJp1lR2R0LNT4XcO5fXG$s$sZmVuRTuG$ps/file</file-link>
</job>"#;

    const DEFINITION_URI: &str =
        "https://www.concursolutions.com/api/expense/extract/v1.0/nYoPK$pZmcowMRUqcl5bnDAwwsMydyt$xd";

    #[test]
    fn extract_definitions_example_parses() {
        let definitions = parse_definitions(DEFINITIONS.as_bytes()).unwrap();
        assert_eq!(definitions.len(), 1);
        let definition = &definitions[0];
        assert_eq!(definition.id.as_str(), DEFINITION_URI);
        assert_eq!(definition.definition_id(), Some("nYoPK$pZmcowMRUqcl5bnDAwwsMydyt$xd"));
        assert_eq!(definition.name.as_deref(), Some("Standard Accounting Extract"));
        assert_eq!(definition.job_link.as_str(), format!("{DEFINITION_URI}/job"));
    }

    #[test]
    fn extract_job_link_without_trailing_job_gets_it() {
        // Two of the three §2 list examples omit `/job`; one omits the element.
        let without = DEFINITIONS.replace("$xd/job</job-link>", "$xd</job-link>");
        let with_slash = DEFINITIONS.replace("$xd/job</job-link>", "$xd/</job-link>");
        let absent = DEFINITIONS.replace("<job-link>", "<!--").replace("</job-link>", "-->");
        for body in [without, with_slash, absent] {
            let definitions = parse_definitions(body.as_bytes()).unwrap();
            assert_eq!(definitions[0].job_link.as_str(), format!("{DEFINITION_URI}/job"), "{body}");
        }
    }

    #[test]
    fn extract_queued_job_example_parses() {
        let job = parse_job(QUEUED_JOB.as_bytes()).unwrap();
        assert_eq!(job.job_id(), Some("uIo87jk3SHudi$sdlYle8$peot$pD21jyd"));
        assert_eq!(job.status, JobStatus::Queued);
        assert_eq!(job.start_time, Some(datetime!(2010-01-13 18:30:02 UTC)));
        assert_eq!(job.stop_time, None);
        assert!(job.status_link.as_str().ends_with("$pD21jyd/status"));
        assert!(job.file_link.is_none() && job.ready_file().is_none());
    }

    #[test]
    fn extract_completed_job_without_offset_and_with_fractions_parses() {
        let job = parse_job(COMPLETED_JOB.as_bytes()).unwrap();
        assert!(job.status.is_complete());
        assert_eq!(job.start_time, Some(datetime!(2011-08-25 14:25:22.58 UTC)));
        assert_eq!(job.stop_time, Some(datetime!(2011-08-25 14:25:23.537 UTC)));
        let file = job.ready_file().unwrap();
        assert!(file.as_str().ends_with("/job/nIJp1lR2R0LNT4XcO5fXG$s$sZmVuRTuG$ps/file"));
    }

    #[test]
    fn extract_complete_and_completed_both_mean_done() {
        for status in ["Complete", "Completed", " COMPLETED "] {
            let body = COMPLETED_JOB.replace("<status>Completed</status>", &format!("<status>{status}</status>"));
            let job = parse_job(body.as_bytes()).unwrap();
            assert_eq!(job.status, JobStatus::Completed, "{status}");
        }
        let running = COMPLETED_JOB.replace("<status>Completed</status>", "<status>Running</status>");
        let job = parse_job(running.as_bytes()).unwrap();
        assert_eq!(job.status, JobStatus::Other("Running".into()));
        assert!(job.ready_file().is_none(), "no file before the job is complete");
    }

    #[test]
    fn extract_elements_match_by_local_name_in_any_case_and_namespace() {
        let prefixed = r#"<e:JOBS xmlns:e="http://www.concursolutions.com/api/expense/extract/2010/02">
            <e:Job><e:ID>https://us.api.concursolutions.com/api/expense/extract/v1.0/d/job/j1</e:ID>
            <e:Status>Completed</e:Status>
            <e:File-Link>https://us.api.concursolutions.com/api/expense/extract/v1.0/d/job/j1/file</e:File-Link></e:Job>
            <job><id>https://us.api.concursolutions.com/api/expense/extract/v1.0/d/job/j2</id><status>Queued</status></job>
        </e:JOBS>"#;
        let jobs = parse_jobs(prefixed.as_bytes()).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].job_id(), Some("j1"));
        assert!(jobs[0].ready_file().is_some());
        assert_eq!(
            jobs[1].status_link.as_str(),
            "https://us.api.concursolutions.com/api/expense/extract/v1.0/d/job/j2/status"
        );
    }

    #[test]
    fn extract_stray_whitespace_inside_links_is_removed() {
        let body = COMPLETED_JOB.replace("<file-link>https://www.", "<file-link>\n  https:// www.");
        let job = parse_job(body.as_bytes()).unwrap();
        assert!(job.ready_file().unwrap().as_str().starts_with("https://www.concursolutions.com/api/"));
    }

    #[test]
    fn extract_errors_name_the_element_path() {
        let no_status = QUEUED_JOB.replace("<status>Queued</status>", "");
        let e = parse_job(no_status.as_bytes()).unwrap_err();
        assert!(matches!(&e, ExtractXmlError::Missing { path } if path == "job/status"), "{e}");

        let bad_time = QUEUED_JOB.replace("2010-01-13T18:30:02Z", "yesterday");
        let e = parse_job(bad_time.as_bytes()).unwrap_err();
        assert!(matches!(&e, ExtractXmlError::Invalid { path, .. } if path == "job/start-time"), "{e}");

        let two = DEFINITIONS.replace("</definition>", "</definition><definition><id>not a url</id></definition>");
        let e = parse_definitions(two.as_bytes()).unwrap_err();
        assert!(matches!(&e, ExtractXmlError::Invalid { path, .. } if path == "definitions/definition[2]/id"), "{e}");

        let e = parse_jobs(QUEUED_JOB.as_bytes()).unwrap_err();
        assert!(matches!(e, ExtractXmlError::UnexpectedRoot { expected: "jobs", .. }), "{e}");
    }
}
