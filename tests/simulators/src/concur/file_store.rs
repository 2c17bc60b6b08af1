//! Per-company state of the file-based posting APIs
//! (extracts-and-payment-batches.md §2, §3): Extract v1 definitions and
//! jobs, Payment Batch v1 batches, and which FI documents a file already
//! carried. No HTTP here: `extract.rs` and `payment_batch.rs` serve it,
//! `file_inspect.rs` lets tests drive and read it.
//!
//! Like Concur's extract, every READY document goes into one file only:
//! the first job (or batch) to take it claims it, and later files leave it
//! out ("an extract file is always produced", so such a file is a header
//! with no rows).

use std::collections::BTreeSet;
use std::io::{Cursor, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::Value;
use time::OffsetDateTime;

use super::extract_render::{
    CashAdvanceKeys, Delimiter, FileSpec, array, exact_decimal, render_prae, render_sae_keyed,
};
use super::state::{DocStatus, FiDoc};

/// Applied to a file's bytes each time it is served (e.g. PGP encryption in a test).
pub type FileTransform = Box<dyn Fn(Vec<u8>) -> Vec<u8> + Send + Sync>;

/// A [`FileTransform`] as kept: shared, so a handler can call it after releasing the lock.
pub(crate) type SharedTransform = Arc<dyn Fn(Vec<u8>) -> Vec<u8> + Send + Sync>;

/// Why a file-API action could not be done (HTTP handlers map these to statuses).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileApiError {
    #[error("no extract definition {0}")]
    UnknownDefinition(String),
    #[error("no extract job {0}")]
    UnknownJob(String),
    #[error("A job for the specified definition is already queued or running")]
    JobRunning,
    #[error("The Batch ID specified in the URI is invalid")]
    UnknownBatch(String),
    #[error(
        "The batch you attempted to close does not contain any reports. If you recently approved reports for \
         payment, wait 30 minutes and try again."
    )]
    EmptyBatch,
    #[error("the extract archive could not be written: {0}")]
    Archive(String),
}

/// What an extract definition produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionKind {
    /// The Standard Accounting Extract: expense reports and cash advances, `text/csv`.
    Sae,
    /// The Payment Request Accounting Extract: invoices, `text/csv`.
    Prae,
    /// A definition configured to produce both files: `application/zip` holding the SAE and the PRAE.
    Zip,
}

impl DefinitionKind {
    fn takes(self, doc_type: &str) -> bool {
        match self {
            DefinitionKind::Sae => matches!(doc_type, "expense" | "cashadvance"),
            DefinitionKind::Prae => doc_type == "invoice",
            DefinitionKind::Zip => matches!(doc_type, "expense" | "cashadvance" | "invoice"),
        }
    }
}

/// An extract definition of a company, as a test configures it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractDefinitionSpec {
    /// `name`, e.g. `Standard Accounting Extract`.
    pub name: String,
    /// What its jobs produce.
    pub kind: DefinitionKind,
}

impl ExtractDefinitionSpec {
    pub fn new(name: impl Into<String>, kind: DefinitionKind) -> Self {
        Self { name: name.into(), kind }
    }
}

/// A definition as the simulator holds it: its opaque id and spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractDefinition {
    /// The encrypted id (may contain `$`), last segment of the definition URI.
    pub id: String,
    pub name: String,
    pub kind: DefinitionKind,
}

/// When an asynchronous step (an extract job, a batch close) is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// On the n-th read after it started (job: status reads; close: batch list reads). 0 or 1: the first read.
    AfterReads(u32),
    /// Once this much time has passed since it started (checked on every read).
    AfterDelay(Duration),
}

impl Default for Completion {
    /// Done on the second read: a client must poll at least once more after
    /// seeing the step still running.
    fn default() -> Self {
        Completion::AfterReads(2)
    }
}

impl Completion {
    fn reached(self, reads: u32, since: Instant) -> bool {
        match self {
            Completion::AfterReads(n) => reads >= n,
            Completion::AfterDelay(delay) => since.elapsed() >= delay,
        }
    }
}

/// A job's `status` (§2 shows `Queued` and `Completed`; `In Process` is ours for a started job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractJobStatus {
    Queued,
    InProcess,
    Completed,
}

impl ExtractJobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExtractJobStatus::Queued => "Queued",
            ExtractJobStatus::InProcess => "In Process",
            ExtractJobStatus::Completed => "Completed",
        }
    }
}

/// A file as served: media type and bytes (before any [`FileTransform`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExtractFile {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// One extract job.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub id: String,
    pub definition: String,
    pub start_time: OffsetDateTime,
    pub started: Instant,
    pub status_reads: u32,
    pub stop_time: Option<OffsetDateTime>,
    /// Run by Concur's own schedule rather than through the API.
    pub scheduled: bool,
    /// FI ids of the documents in its file.
    pub documents: Vec<String>,
    pub file: ExtractFile,
}

impl Job {
    pub fn status(&self) -> ExtractJobStatus {
        match (self.stop_time, self.status_reads) {
            (Some(_), _) => ExtractJobStatus::Completed,
            (None, 0) => ExtractJobStatus::Queued,
            (None, _) => ExtractJobStatus::InProcess,
        }
    }

    /// Moves the job on: a status read counts towards [`Completion::AfterReads`].
    pub fn observe(&mut self, completion: Completion, status_read: bool) -> ExtractJobStatus {
        if self.stop_time.is_none() {
            self.status_reads += u32::from(status_read);
            if completion.reached(self.status_reads, self.started) {
                self.stop_time = Some(OffsetDateTime::now_utc());
            }
        }
        self.status()
    }
}

/// Where a payment batch is.
#[derive(Debug, Clone)]
pub(crate) enum BatchState {
    Open,
    /// An asynchronous close is scheduled; documents still join until it runs.
    Closing {
        since: Instant,
        list_reads: u32,
    },
    Closed {
        file_key: String,
        file: Vec<u8>,
        closed_at: OffsetDateTime,
        manually: bool,
    },
}

/// One payment batch (§3): a currency, payee type and payment method.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    /// `BatchID`: the unencrypted GUID.
    pub guid: String,
    /// The encrypted id in `Batch-URL`, which the close calls take.
    pub key: String,
    pub currency: String,
    pub payee_type: String,
    pub payment_method: String,
    pub documents: Vec<String>,
    pub total: Decimal,
    pub job_queue_key: Option<String>,
    pub state: BatchState,
}

/// The default batch kind a READY expense document is paid through.
pub(crate) const EMPLOYEE: &str = "Employee";
pub(crate) const EXPENSE_PAY: &str = "Expense Pay by SAP Concur";

impl Batch {
    pub fn new(currency: &str, payee_type: &str, payment_method: &str) -> Self {
        Batch {
            guid: uuid::Uuid::new_v4().to_string(),
            key: opaque_id(),
            currency: currency.to_owned(),
            payee_type: payee_type.to_owned(),
            payment_method: payment_method.to_owned(),
            documents: Vec::new(),
            total: Decimal::ZERO,
            job_queue_key: None,
            state: BatchState::Open,
        }
    }

    /// `BatchName` as Payment Manager shows it (§3: `USD: Employees Batch Paid by Expense Pay`).
    pub fn name(&self) -> String {
        let payees = if self.payee_type == EMPLOYEE { "Employees" } else { self.payee_type.as_str() };
        let method = if self.payment_method.starts_with("Expense Pay") { "Expense Pay" } else { &self.payment_method };
        format!("{}: {payees} Batch Paid by {method}", self.currency)
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, BatchState::Closed { .. })
    }

    fn takes(&self, currency: &str) -> bool {
        !self.is_closed()
            && self.currency == currency
            && self.payee_type == EMPLOYEE
            && self.payment_method == EXPENSE_PAY
    }
}

/// Everything the file APIs keep for one company.
#[derive(Default)]
pub(crate) struct FileBook {
    /// `None` until first used or configured: then one SAE definition.
    definitions: Option<Vec<ExtractDefinition>>,
    pub jobs: Vec<Job>,
    /// FI ids already in a file (or in a payment batch).
    pub claimed: BTreeSet<String>,
    pub cash_advance_keys: CashAdvanceKeys,
    /// The last SAE/PRAE Batch ID used (§4: starts at 1, increments).
    pub last_batch_id: u64,
    pub delimiter: Delimiter,
    pub job_completion: Completion,
    pub close_completion: Completion,
    pub batches: Vec<Batch>,
    pub transform: Option<SharedTransform>,
}

/// An opaque id shaped like Concur's encrypted ones (`nYoPK$pZmcowMRUqcl5bnDAwwsMydyt$xd`, §2):
/// a client must take it from a link, never build or parse it.
pub(crate) fn opaque_id() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    let mut rng = rand::rng();
    let (head, body, tail) = (
        Alphanumeric.sample_string(&mut rng, 5),
        Alphanumeric.sample_string(&mut rng, 22),
        Alphanumeric.sample_string(&mut rng, 2),
    );
    format!("n{head}$p{body}${tail}")
}

impl FileBook {
    /// The company's definitions (one `Standard Accounting Extract` unless configured).
    pub fn definitions(&mut self) -> &[ExtractDefinition] {
        self.definitions.get_or_insert_with(|| {
            vec![ExtractDefinition {
                id: opaque_id(),
                name: "Standard Accounting Extract".into(),
                kind: DefinitionKind::Sae,
            }]
        })
    }

    pub fn set_definitions(&mut self, specs: Vec<ExtractDefinitionSpec>) -> Vec<String> {
        let definitions: Vec<ExtractDefinition> = specs
            .into_iter()
            .map(|spec| ExtractDefinition { id: opaque_id(), name: spec.name, kind: spec.kind })
            .collect();
        let ids = definitions.iter().map(|d| d.id.clone()).collect();
        self.definitions = Some(definitions);
        ids
    }

    pub fn definition(&mut self, id: &str) -> Result<ExtractDefinition, FileApiError> {
        let found = self.definitions().iter().find(|d| d.id == id).cloned();
        found.ok_or_else(|| FileApiError::UnknownDefinition(id.to_owned()))
    }

    pub fn job_mut(&mut self, definition: &str, job: &str) -> Result<&mut Job, FileApiError> {
        self.definition(definition)?;
        let found = self.jobs.iter_mut().find(|j| j.definition == definition && j.id == job);
        found.ok_or_else(|| FileApiError::UnknownJob(job.to_owned()))
    }

    fn next_spec(&mut self) -> FileSpec {
        self.last_batch_id += 1;
        FileSpec {
            batch_id: self.last_batch_id,
            batch_date: OffsetDateTime::now_utc().date(),
            delimiter: self.delimiter,
        }
    }

    /// The READY documents of `documents` that `kind` takes and no file carried yet.
    fn unclaimed<'d>(&self, documents: &'d [FiDoc], kind: DefinitionKind) -> Vec<&'d FiDoc> {
        let open =
            |d: &&FiDoc| d.status == DocStatus::Ready && kind.takes(&d.doc_type) && !self.claimed.contains(&d.id);
        documents.iter().filter(open).collect()
    }

    /// Marks documents as carried by a file (or a batch): no later one takes them.
    fn claim(&mut self, taken: &[&FiDoc]) {
        self.claimed.extend(taken.iter().map(|d| d.id.clone()));
    }

    /// The SAE of `documents`, numbered as the company's next batch.
    pub fn sae_file(&mut self, documents: &[&FiDoc]) -> String {
        let spec = self.next_spec();
        let inner: Vec<&Value> = documents.iter().map(|d| &d.document).collect();
        render_sae_keyed(&inner, &spec, &mut self.cash_advance_keys)
    }

    fn prae_file(&mut self, documents: &[&FiDoc]) -> String {
        let spec = self.next_spec();
        let inner: Vec<&Value> = documents.iter().map(|d| &d.document).collect();
        render_prae(&inner, &spec)
    }

    /// Starts a job of `definition` over the documents READY now. An API job is
    /// refused while another of the definition is queued or running; a
    /// scheduled one runs anyway and is complete at once (Concur ran it).
    pub fn start_job(
        &mut self,
        documents: &[FiDoc],
        definition: &str,
        scheduled: bool,
    ) -> Result<&mut Job, FileApiError> {
        let kind = self.definition(definition)?.kind;
        if !scheduled && self.jobs.iter().any(|j| j.definition == definition && j.stop_time.is_none()) {
            return Err(FileApiError::JobRunning);
        }
        let taken = self.unclaimed(documents, kind);
        let file = self.extract_file(&taken, kind)?;
        self.claim(&taken);
        let now = OffsetDateTime::now_utc();
        self.jobs.push(Job {
            id: opaque_id(),
            definition: definition.to_owned(),
            start_time: now,
            started: Instant::now(),
            status_reads: 0,
            stop_time: scheduled.then_some(now),
            scheduled,
            documents: taken.iter().map(|d| d.id.clone()).collect(),
            file,
        });
        let last = self.jobs.len() - 1;
        Ok(&mut self.jobs[last])
    }

    fn extract_file(&mut self, taken: &[&FiDoc], kind: DefinitionKind) -> Result<ExtractFile, FileApiError> {
        let (expenses, invoices): (Vec<&FiDoc>, Vec<&FiDoc>) = taken.iter().partition(|d| d.doc_type != "invoice");
        let csv = |text: String| ExtractFile { content_type: "text/csv", bytes: text.into_bytes() };
        Ok(match kind {
            DefinitionKind::Sae => csv(self.sae_file(&expenses)),
            DefinitionKind::Prae => csv(self.prae_file(&invoices)),
            DefinitionKind::Zip => {
                let sae = self.sae_file(&expenses);
                let sae_name = format!("SAE_{}.csv", self.last_batch_id);
                let prae = self.prae_file(&invoices);
                let prae_name = format!("PRAE_{}.csv", self.last_batch_id);
                let bytes = zip_archive(&[(sae_name.as_str(), sae.as_bytes()), (&prae_name, prae.as_bytes())])?;
                ExtractFile { content_type: "application/zip", bytes }
            }
        })
    }
}

/// A deflated zip of `files`. Entries carry the format's default
/// timestamp (no clock feature), so the same files give the same bytes.
fn zip_archive(files: &[(&str, &[u8])]) -> Result<Vec<u8>, FileApiError> {
    let archive_error = |e: &dyn std::fmt::Display| FileApiError::Archive(e.to_string());
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        writer.start_file(*name, options).map_err(|e| archive_error(&e))?;
        writer.write_all(bytes).map_err(|e| archive_error(&e))?;
    }
    Ok(writer.finish().map_err(|e| archive_error(&e))?.into_inner())
}

// ------------------------------------------------------- payment batches

/// What an expense or cash advance document adds to its batch total: the
/// amounts paid to the employee (journals with payee `EMPL`), less cash
/// advances recovered on the report **[ours]**: §3 only says BatchTotal is
/// a decimal.
fn amount_due_employee(document: &FiDoc) -> Decimal {
    let doc = &document.document;
    let amount = |v: &Value, name: &str| v.get(name).and_then(exact_decimal).unwrap_or_default();
    let to_employee = |v: &Value, payee: &str| v.get(payee).and_then(Value::as_str) == Some("EMPL");
    if document.doc_type == "cashadvance" {
        let paid = array(doc, "journalData").iter().filter(|j| to_employee(j, "payee"));
        return paid.map(|j| amount(j, "amount").abs()).sum();
    }
    let journals = array(doc, "expenseEntry")
        .iter()
        .flat_map(|e| array(e, "allocation"))
        .flat_map(|a| array(a, "journal"))
        .filter(|j| to_employee(j, "journalPayee"));
    let applied = array(doc, "cashAdvanceApplication").iter().map(|a| amount(a, "cashAdvanceApplicationAmount"));
    journals.map(|j| amount(j, "amountGross")).chain(applied).sum()
}

/// The reimbursement currency a document is paid in (`XXX`, "no currency", when it names none).
fn payment_currency(document: &FiDoc) -> String {
    let pointer = match document.doc_type.as_str() {
        "cashadvance" => "/cashAdvanceData/employeeCurrencyAlphaCode",
        _ => "/report/employeeCurrencyAlphaCode",
    };
    document.document.pointer(pointer).and_then(Value::as_str).unwrap_or("XXX").to_owned()
}

impl FileBook {
    /// Puts every READY expense and cash advance document no batch holds yet
    /// into the open Expense Pay batch of its currency (opening one if needed).
    pub fn sweep(&mut self, documents: &[FiDoc]) {
        let taken = self.unclaimed(documents, DefinitionKind::Sae);
        self.claim(&taken);
        for document in taken {
            let currency = payment_currency(document);
            let at = match self.batches.iter().position(|b| b.takes(&currency)) {
                Some(at) => at,
                None => {
                    self.batches.push(Batch::new(&currency, EMPLOYEE, EXPENSE_PAY));
                    self.batches.len() - 1
                }
            };
            let batch = &mut self.batches[at];
            batch.documents.push(document.id.clone());
            batch.total += amount_due_employee(document);
        }
    }

    /// One read of the batch list: scheduled closes move on, and those done close.
    pub fn read_list(&mut self, documents: &[FiDoc]) {
        self.sweep(documents);
        for batch in &mut self.batches {
            if let BatchState::Closing { list_reads, .. } = &mut batch.state {
                *list_reads += 1;
            }
        }
        self.finish_due_closes(documents);
    }

    /// Closes the batches whose scheduled close is due.
    pub fn finish_due_closes(&mut self, documents: &[FiDoc]) {
        let completion = self.close_completion;
        let due: Vec<usize> = (0..self.batches.len())
            .filter(|&at| match self.batches[at].state {
                BatchState::Closing { since, list_reads } => completion.reached(list_reads, since),
                _ => false,
            })
            .collect();
        for at in due {
            self.close_now(documents, at, false);
        }
    }

    pub fn batch_at(&self, key: &str) -> Result<usize, FileApiError> {
        self.batches.iter().position(|b| b.key == key).ok_or_else(|| FileApiError::UnknownBatch(key.to_owned()))
    }

    /// Schedules the close (v1.2); its `JobQueueKey`.
    pub fn schedule_close(&mut self, documents: &[FiDoc], key: &str) -> Result<String, FileApiError> {
        self.sweep(documents);
        let at = self.batch_at(key)?;
        let batch = &mut self.batches[at];
        if matches!(batch.state, BatchState::Open) {
            if batch.documents.is_empty() {
                return Err(FileApiError::EmptyBatch);
            }
            batch.state = BatchState::Closing { since: Instant::now(), list_reads: 0 };
        }
        Ok(batch.job_queue_key.get_or_insert_with(opaque_id).clone())
    }

    /// Closes the batch now (v1.1, or a manual close); its file key. A closed
    /// batch answers the file it already has.
    pub fn close_batch(&mut self, documents: &[FiDoc], at: usize, manually: bool) -> Result<String, FileApiError> {
        self.sweep(documents);
        match &self.batches[at].state {
            BatchState::Closed { file_key, .. } => return Ok(file_key.clone()),
            BatchState::Open if self.batches[at].documents.is_empty() => return Err(FileApiError::EmptyBatch),
            _ => {}
        }
        Ok(self.close_now(documents, at, manually))
    }

    /// Writes the batch's SAE, closes it and opens an empty batch of the same kind for later documents.
    fn close_now(&mut self, documents: &[FiDoc], at: usize, manually: bool) -> String {
        let ids = self.batches[at].documents.clone();
        let members: Vec<&FiDoc> = ids.iter().filter_map(|id| documents.iter().find(|d| d.id == *id)).collect();
        let file = self.sae_file(&members).into_bytes();
        let file_key = opaque_id();
        let batch = &mut self.batches[at];
        batch.state =
            BatchState::Closed { file_key: file_key.clone(), file, closed_at: OffsetDateTime::now_utc(), manually };
        let successor = Batch::new(&batch.currency, &batch.payee_type, &batch.payment_method);
        self.batches.push(successor);
        file_key
    }

    /// The file of the closed batch with this file key.
    pub fn batch_file(&self, file_key: &str) -> Option<&[u8]> {
        self.batches.iter().find_map(|b| match &b.state {
            BatchState::Closed { file_key: key, file, .. } if key == file_key => Some(file.as_slice()),
            _ => None,
        })
    }
}
