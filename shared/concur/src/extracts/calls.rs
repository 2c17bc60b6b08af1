//! The calls of the file APIs (extracts-and-payment-batches.md §2 Extract v1, §3 Payment Batch v1): XML
//! answers read with [`super`]'s parsers, links followed only on the connection's own datacenter with its
//! token, files read within a size bound.

use transport::{Idempotency, TransportError};

use super::{
    BatchCloseAnswer, ExtractDefinition, ExtractJob, Link, PaymentBatch, parse_batch_list, parse_close_answer,
    parse_definitions, parse_job, parse_jobs,
};
use crate::client::{ConcurClient, ConcurError, resolve};
use crate::tokens::AccessToken;

const SERVICE_FILES: &str = "concur-files";
const DEFINITIONS_PATH: &str = "/api/expense/extract/v1.0/";
/// The batch list; the status filter is a path segment (§3: the older doc; the newer names a parameter).
const BATCH_LIST_PATH: &str = "/api/expense/paymentbatch/v1.1/batchlist/";
const EXTRACT_NAMESPACE: &str = "http://www.concursolutions.com/api/expense/extract/2010/02";
/// §3 (500): "The batch you attempted to close does not contain any reports."
const EMPTY_BATCH_TEXT: &str = "does not contain any reports";

/// The largest extract file read (a month of a large company's SAE is tens of MB; §2 gives no bound).
pub const MAX_FILE_BYTES: usize = 512 * 1024 * 1024;

/// A file as Concur served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedFile {
    /// `text/csv`, `application/zip`, or what Concur said.
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// The answer to starting an extract job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStart {
    Started(Box<ExtractJob>),
    /// 409: a job of the definition is already queued or running (§2).
    AlreadyRunning,
}

/// Which batches to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchListStatus {
    Open,
    Closed,
}

/// The answer to closing a payment batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchClose {
    Answered(BatchCloseAnswer),
    /// 500 "does not contain any reports" (§3): nothing to close yet.
    Empty,
}

impl ConcurClient {
    /// The company's extract definitions (§2).
    pub async fn extract_definitions(&self, token: &AccessToken) -> Result<Vec<ExtractDefinition>, ConcurError> {
        let body = self.get_xml(token, DEFINITIONS_PATH).await?;
        parse_definitions(&body).map_err(|e| malformed("the extract definitions", &e))
    }

    /// The last 100 jobs of a definition (§2).
    pub async fn extract_jobs(
        &self,
        token: &AccessToken,
        definition: &ExtractDefinition,
    ) -> Result<Vec<ExtractJob>, ConcurError> {
        let body = self.get_xml(token, definition.job_link.as_str()).await?;
        parse_jobs(&body).map_err(|e| malformed("the extract jobs", &e))
    }

    /// A job's status (§2 `…/job/{id}/status`).
    pub async fn extract_job(&self, token: &AccessToken, job: &ExtractJob) -> Result<ExtractJob, ConcurError> {
        let body = self.get_xml(token, job.status_link.as_str()).await?;
        parse_job(&body).map_err(|e| malformed("the extract job", &e))
    }

    /// Starts a job of a definition (§2 POST, 201); a running one is [`JobStart::AlreadyRunning`]. Not retried
    /// on a lost answer: the job may have started, and the next run finds it in the job list.
    pub async fn start_extract_job(
        &self,
        token: &AccessToken,
        definition: &ExtractDefinition,
    ) -> Result<JobStart, ConcurError> {
        let url = definition.job_link.on_datacenter(&token.geolocation)?;
        let body = format!(
            "<definition xmlns=\"{EXTRACT_NAMESPACE}\"><id>{}</id></definition>",
            xml_text(definition.id.as_str())
        );
        let sent = self
            .http()
            .send(SERVICE_FILES, Idempotency::Unsafe, |c| {
                c.post(&url)
                    .bearer_auth(token.value.expose())
                    .header(reqwest::header::CONTENT_TYPE, "application/xml")
                    .body(body.clone())
            })
            .await;
        if let Ok(response) = &sent
            && response.status() == reqwest::StatusCode::CONFLICT
        {
            return Ok(JobStart::AlreadyRunning);
        }
        let body = read(sent).await?;
        parse_job(&body).map(|job| JobStart::Started(Box::new(job))).map_err(|e| malformed("the started job", &e))
    }

    /// The open or the closed payment batches (§3: the older doc's path segment, which the list's own
    /// answer does not contradict; the status element itself is not documented in the list).
    pub async fn payment_batches(
        &self,
        token: &AccessToken,
        status: BatchListStatus,
    ) -> Result<Vec<PaymentBatch>, ConcurError> {
        let segment = match status {
            BatchListStatus::Open => "OPEN",
            BatchListStatus::Closed => "CLOSED",
        };
        let body = self.get_xml(token, &format!("{BATCH_LIST_PATH}{segment}")).await?;
        parse_batch_list(&body).map_err(|e| malformed("the payment batch list", &e))
    }

    /// Closes a batch asynchronously (§3 v1.2): the batch shows CLOSED in the list once Concur has closed it.
    pub async fn close_batch(&self, token: &AccessToken, batch: &PaymentBatch) -> Result<BatchClose, ConcurError> {
        self.post_close(token, &batch.async_close_target()).await
    }

    /// The synchronous close (§3 v1.1) of a batch already closed: regenerates its file and names it in
    /// `File-Url`; safe to repeat.
    pub async fn closed_batch_file_link(
        &self,
        token: &AccessToken,
        batch: &PaymentBatch,
    ) -> Result<BatchClose, ConcurError> {
        let target = batch.async_close_target().replacen("/v1.2/", "/v1.1/", 1);
        self.post_close(token, &target).await
    }

    /// A file named by a job's `file-link` or a batch's `File-Url`, read within [`MAX_FILE_BYTES`].
    pub async fn fetch_file(&self, token: &AccessToken, link: &Link) -> Result<FetchedFile, ConcurError> {
        let url = link.on_datacenter(&token.geolocation)?;
        let sent =
            self.http().send(SERVICE_FILES, Idempotency::Safe, |c| c.get(&url).bearer_auth(token.value.expose())).await;
        let response = accept(sent).await?;
        let content_type =
            response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = transport::read_body_within(SERVICE_FILES, response, MAX_FILE_BYTES)
            .await
            .map_err(ConcurError::Transport)?;
        Ok(FetchedFile { content_type, bytes })
    }

    async fn post_close(&self, token: &AccessToken, target: &str) -> Result<BatchClose, ConcurError> {
        let url = resolve(&token.geolocation, target)?;
        // A close is not repeated on a lost answer: the next run reads the batch list.
        let sent = self
            .http()
            .send(SERVICE_FILES, Idempotency::Unsafe, |c| {
                c.post(&url).bearer_auth(token.value.expose()).header(reqwest::header::CONTENT_LENGTH, "0")
            })
            .await;
        if let Err(TransportError::Status { status: 500, body, .. }) = &sent
            && body.contains(EMPTY_BATCH_TEXT)
        {
            return Ok(BatchClose::Empty);
        }
        let body = read(sent).await?;
        parse_close_answer(&body).map(BatchClose::Answered).map_err(|e| malformed("the batch close answer", &e))
    }

    async fn get_xml(&self, token: &AccessToken, path_or_link: &str) -> Result<Vec<u8>, ConcurError> {
        let url = resolve(&token.geolocation, path_or_link)?;
        let sent = self
            .http()
            .send(SERVICE_FILES, Idempotency::Safe, |c| {
                c.get(&url).bearer_auth(token.value.expose()).header(reqwest::header::ACCEPT, "application/xml")
            })
            .await;
        read(sent).await
    }
}

/// The answer, or what went wrong: 401 → the token (refreshed and retried by the caller), another 4xx → refused
/// with Concur's text, a transport failure as it was.
async fn accept(sent: Result<reqwest::Response, TransportError>) -> Result<reqwest::Response, ConcurError> {
    let response = sent.map_err(ConcurError::Transport)?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(response);
    }
    if status == 401 {
        return Err(ConcurError::Unauthorized);
    }
    let message = transport::bounded_text(response).await;
    Err(ConcurError::Rejected { status, message: transport::short_reason(&message) })
}

/// An XML answer's body (bounded by the parsers' own limit, plus one byte to tell "too large" apart).
async fn read(sent: Result<reqwest::Response, TransportError>) -> Result<Vec<u8>, ConcurError> {
    let response = accept(sent).await?;
    transport::read_body_within(SERVICE_FILES, response, super::MAX_DOCUMENT_BYTES + 1)
        .await
        .map_err(ConcurError::Transport)
}

fn malformed(what: &str, error: &super::ExtractXmlError) -> ConcurError {
    ConcurError::Malformed(format!("{what}: {error}"))
}

/// `text` escaped for an XML text node.
fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
