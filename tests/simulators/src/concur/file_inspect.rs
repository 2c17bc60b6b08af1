//! Test-side control and inspection of the file-based posting APIs:
//! configure a company's extract definitions, delimiter, timing and file
//! transform, run Concur's own scheduled jobs, close batches by hand in
//! Payment Manager, and read what the files carried.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::Value;
use time::OffsetDateTime;

use super::ConcurSim;
use super::extract_render::{Delimiter, FileSpec, render_prae, render_sae_keyed};
use super::file_store::{
    Batch, BatchState, Completion, ExtractDefinition, ExtractDefinitionSpec, ExtractJobStatus, FileApiError,
    FileTransform, Job,
};

/// An extract job as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractJobRecord {
    /// The encrypted job id.
    pub id: String,
    pub definition_id: String,
    pub status: ExtractJobStatus,
    /// Started by Concur's schedule ([`ConcurSim::run_scheduled_job`]), not through the API.
    pub scheduled: bool,
    /// FI ids of the documents its file carries.
    pub documents: Vec<String>,
    pub start_time: OffsetDateTime,
    pub stop_time: Option<OffsetDateTime>,
}

impl From<&Job> for ExtractJobRecord {
    fn from(job: &Job) -> Self {
        ExtractJobRecord {
            id: job.id.clone(),
            definition_id: job.definition.clone(),
            status: job.status(),
            scheduled: job.scheduled,
            documents: job.documents.clone(),
            start_time: job.start_time,
            stop_time: job.stop_time,
        }
    }
}

/// Where a payment batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentBatchStatus {
    Open,
    /// Open, with an asynchronous close scheduled.
    Closing,
    Closed,
}

/// A payment batch as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentBatchRecord {
    /// `BatchID` (GUID).
    pub batch_id: String,
    /// The encrypted id in `Batch-URL`.
    pub batch_key: String,
    pub name: String,
    pub currency: String,
    pub payee_type: String,
    pub payment_method: String,
    pub status: PaymentBatchStatus,
    /// FI ids of its documents.
    pub documents: Vec<String>,
    pub total: Decimal,
    /// The key of its file (`…/v1.1/batch/{file_key}/file`), once closed.
    pub file_key: Option<String>,
    /// Closed in Payment Manager ([`ConcurSim::close_batch_manually`]) rather than through the API.
    pub closed_manually: bool,
    pub closed_at: Option<OffsetDateTime>,
}

impl From<&Batch> for PaymentBatchRecord {
    fn from(batch: &Batch) -> Self {
        let (status, file_key, closed_manually, closed_at) = match &batch.state {
            BatchState::Open => (PaymentBatchStatus::Open, None, false, None),
            BatchState::Closing { .. } => (PaymentBatchStatus::Closing, None, false, None),
            BatchState::Closed { file_key, closed_at, manually, .. } => {
                (PaymentBatchStatus::Closed, Some(file_key.clone()), *manually, Some(*closed_at))
            }
        };
        PaymentBatchRecord {
            batch_id: batch.guid.clone(),
            batch_key: batch.key.clone(),
            name: batch.name(),
            currency: batch.currency.clone(),
            payee_type: batch.payee_type.clone(),
            payment_method: batch.payment_method.clone(),
            status,
            documents: batch.documents.clone(),
            total: batch.total,
            file_key,
            closed_manually,
            closed_at,
        }
    }
}

// ------------------------------------------------------------ Extract v1

impl ConcurSim {
    /// Replaces the company's extract definitions (by default it has one SAE
    /// definition, `Standard Accounting Extract`); their encrypted ids, in order.
    pub fn set_extract_definitions(&self, company: &str, definitions: Vec<ExtractDefinitionSpec>) -> Vec<String> {
        self.lock().file_book(company).1.set_definitions(definitions)
    }

    /// The company's extract definitions.
    pub fn extract_definitions(&self, company: &str) -> Vec<ExtractDefinition> {
        self.lock().file_book(company).1.definitions().to_vec()
    }

    /// A job Concur's own schedule ran (the overnight extract): complete at
    /// once, its file holding the documents READY now that no file carried.
    /// Returns the job id.
    pub fn run_scheduled_job(&self, company: &str, definition_id: &str) -> Result<String, FileApiError> {
        let mut state = self.lock();
        let (documents, book) = state.file_book(company);
        Ok(book.start_job(documents, definition_id, true)?.id.clone())
    }

    /// The definition's jobs, oldest first (reading them moves no job on).
    pub fn extract_jobs(&self, company: &str, definition_id: &str) -> Vec<ExtractJobRecord> {
        let mut state = self.lock();
        let book = state.file_book(company).1;
        book.jobs.iter().filter(|j| j.definition == definition_id).map(ExtractJobRecord::from).collect()
    }

    /// A job's file as rendered (before any transform), whatever its status.
    pub fn extract_job_file(&self, company: &str, definition_id: &str, job_id: &str) -> Option<Vec<u8>> {
        let mut state = self.lock();
        let job = state.file_book(company).1.job_mut(definition_id, job_id).ok()?;
        Some(job.file.bytes.clone())
    }

    /// When the company's extract jobs complete (default: on the second read of the job or its status).
    pub fn set_extract_job_completion(&self, company: &str, completion: Completion) {
        self.lock().file_book(company).1.job_completion = completion;
    }

    /// The field separator of the company's SAE and PRAE files (default comma).
    pub fn set_extract_delimiter(&self, company: &str, delimiter: Delimiter) {
        self.lock().file_book(company).1.delimiter = delimiter;
    }

    /// Transforms every extract and batch file of the company as it is served
    /// (e.g. PGP-encrypts it); `None` serves files as rendered.
    pub fn set_extract_file_transform(&self, company: &str, transform: Option<FileTransform>) {
        self.lock().file_book(company).1.transform = transform.map(Arc::from);
    }

    /// FI ids of the company's documents some file (or payment batch) already holds.
    pub fn extracted_documents(&self, company: &str) -> Vec<String> {
        self.lock().file_book(company).1.claimed.iter().cloned().collect()
    }

    /// The Cash Advance Key (SAE col 187) the company's files give an FI `cashAdvanceId`, once a file holds it.
    pub fn cash_advance_key(&self, company: &str, cash_advance_id: &str) -> Option<u64> {
        self.lock().file_book(company).1.cash_advance_keys.get(cash_advance_id)
    }

    /// The SAE of all the company's expense reports and cash advances,
    /// whatever their status, as its next file would number and separate it
    /// (nothing is claimed): what the file path should read back.
    pub fn company_sae(&self, company: &str) -> String {
        let mut state = self.lock();
        let (documents, book) = state.file_book(company);
        let spec = preview_spec(book.last_batch_id, book.delimiter);
        let inner: Vec<&Value> = documents.iter().filter(|d| d.doc_type != "invoice").map(|d| &d.document).collect();
        render_sae_keyed(&inner, &spec, &mut book.cash_advance_keys)
    }

    /// The PRAE of all the company's invoices, whatever their status (nothing is claimed).
    pub fn company_prae(&self, company: &str) -> String {
        let mut state = self.lock();
        let (documents, book) = state.file_book(company);
        let spec = preview_spec(book.last_batch_id, book.delimiter);
        let inner: Vec<&Value> = documents.iter().filter(|d| d.doc_type == "invoice").map(|d| &d.document).collect();
        render_prae(&inner, &spec)
    }
}

fn preview_spec(last_batch_id: u64, delimiter: Delimiter) -> FileSpec {
    FileSpec { batch_id: last_batch_id + 1, batch_date: OffsetDateTime::now_utc().date(), delimiter }
}

// ------------------------------------------------------- Payment Batch v1

impl ConcurSim {
    /// The company's payment batches, oldest first, once READY documents
    /// have joined their open batch (reading them is no batch list read).
    pub fn payment_batches(&self, company: &str) -> Vec<PaymentBatchRecord> {
        let mut state = self.lock();
        let (documents, book) = state.file_book(company);
        book.sweep(documents);
        book.finish_due_closes(documents);
        book.batches.iter().map(PaymentBatchRecord::from).collect()
    }

    /// Opens an empty batch of another kind (e.g. payee `Card Program`, method
    /// `Company Check (via Accounts Payable)`); its `BatchID`. READY documents
    /// keep going to the Expense Pay employee batch of their currency.
    pub fn open_payment_batch(&self, company: &str, currency: &str, payee_type: &str, payment_method: &str) -> String {
        let batch = Batch::new(currency, payee_type, payment_method);
        let guid = batch.guid.clone();
        self.lock().file_book(company).1.batches.push(batch);
        guid
    }

    /// An administrator closes the batch (`BatchID`) in Payment Manager, as
    /// the reference asks clients not to: it is CLOSED with its file, without
    /// any API call.
    pub fn close_batch_manually(&self, company: &str, batch_id: &str) -> Result<(), FileApiError> {
        let mut state = self.lock();
        let (documents, book) = state.file_book(company);
        book.sweep(documents);
        let at = book.batches.iter().position(|b| b.guid == batch_id);
        let at = at.ok_or_else(|| FileApiError::UnknownBatch(batch_id.to_owned()))?;
        book.close_batch(documents, at, true).map(drop)
    }

    /// When scheduled (v1.2) closes run (default: on the second batch list read after the close).
    pub fn set_batch_close_completion(&self, company: &str, completion: Completion) {
        self.lock().file_book(company).1.close_completion = completion;
    }

    /// The file of a closed batch (`BatchID`), as rendered (before any transform).
    pub fn payment_batch_file(&self, company: &str, batch_id: &str) -> Option<Vec<u8>> {
        let mut state = self.lock();
        let book = state.file_book(company).1;
        book.batches.iter().find(|b| b.guid == batch_id).and_then(|b| match &b.state {
            BatchState::Closed { file, .. } => Some(file.clone()),
            _ => None,
        })
    }
}
