//! Payment Batch v1 over HTTP (Standard edition, extracts-and-payment-batches.md §3).
//!
//! Company token with `PAYBAT`, of a Standard company (a Professional one
//! is a 403). READY expense reports and cash advances join the open
//! Expense Pay batch of their reimbursement currency as the company's
//! batches are read. `v1.2/batch/{id}/close` schedules the close (the batch
//! turns CLOSED after the company's [`super::Completion`], counted in list
//! reads; default: on the second), `v1.1/batch/{id}/close` closes at once
//! and answers the `File-Url` (the same file again for a closed batch).
//! `{id}` is the encrypted id of `Batch-URL`, as the reference advises, not
//! the `BatchID` GUID (404 with the reason). Closing a batch without
//! reports is the documented 500. A closed batch's documents are in its
//! file; later documents go to a new open batch of the same kind.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode, Uri},
};

use super::Ctx;
use super::file_store::{Batch, FileApiError};
use super::http::{Answer, Rejection};
use super::legacy::{
    self, Edition, edition_caller, element, file, refusal, refuse_chunked, transformed, xml, xml_error,
};

pub(crate) const BATCH_PATH: &str = "/api/expense/paymentbatch";
const NAMESPACE: &str = "http://www.concursolutions.com/api/expense/paymentbatch/2011/11";

fn caller(ctx: &Ctx, headers: &HeaderMap) -> Result<String, Rejection> {
    edition_caller(ctx, headers, "Payment Batch v1", "PAYBAT", Edition::Standard)
}

/// `https://<datacenter>/api/expense/paymentbatch`.
fn base_url(ctx: &Ctx) -> String {
    format!("{}{BATCH_PATH}", ctx.sim.datacenter_url(&ctx.datacenter))
}

fn rooted(name: &str, inner: &str) -> String {
    legacy::rooted(NAMESPACE, name, inner)
}

/// Which batches a list call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    All,
    Open,
    Closed,
}

impl Filter {
    /// `OPEN` / `CLOSED` (any case) from the path segment or the `Status` parameter.
    fn parse(value: Option<&str>) -> Result<Self, Rejection> {
        match value.map(str::to_ascii_uppercase).as_deref() {
            None | Some("") => Ok(Filter::All),
            Some("OPEN") => Ok(Filter::Open),
            Some("CLOSED") => Ok(Filter::Closed),
            Some(other) => {
                let reason = format!("the batch status filter is OPEN or CLOSED, not `{other}`");
                Err(xml_error(StatusCode::BAD_REQUEST, "The request is invalid", &reason).into())
            }
        }
    }

    fn shows(self, batch: &Batch) -> bool {
        match self {
            Filter::All => true,
            Filter::Open => !batch.is_closed(),
            Filter::Closed => batch.is_closed(),
        }
    }
}

fn summary(base: &str, batch: &Batch) -> String {
    let fields = [
        element("BatchName", &batch.name()),
        element("BatchID", &batch.guid),
        element("BatchTotal", &batch.total.to_string()),
        element("Currency", &batch.currency),
        element("Count", &batch.documents.len().to_string()),
        element("Type", &batch.payee_type),
        element("PaymentMethod", &batch.payment_method),
        element("Batch-URL", &format!("{base}/v1.1/batch/{}", batch.key)),
    ];
    format!("<BatchSummary>{}</BatchSummary>", fields.concat())
}

async fn list_batches(ctx: &Ctx, headers: &HeaderMap, filter: Option<&str>) -> Answer {
    let company = caller(ctx, headers)?;
    let filter = Filter::parse(filter)?;
    let base = base_url(ctx);
    let mut state = ctx.sim.lock();
    let (documents, book) = state.file_book(&company);
    book.read_list(documents);
    let inner: String = book.batches.iter().filter(|b| filter.shows(b)).map(|b| summary(&base, b)).collect();
    Ok(xml(StatusCode::OK, rooted("BatchList", &inner)))
}

/// `GET /api/expense/paymentbatch/v1.1/batchlist/[?Status=OPEN|CLOSED]`
pub(crate) async fn list(State(ctx): State<Ctx>, uri: Uri, headers: HeaderMap) -> Answer {
    let query = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes());
    let status = query.into_iter().find(|(key, _)| key.eq_ignore_ascii_case("status")).map(|(_, v)| v.into_owned());
    list_batches(&ctx, &headers, status.as_deref()).await
}

/// `GET /api/expense/paymentbatch/v1.1/batchlist/{OPEN|CLOSED}` (the older doc's form).
pub(crate) async fn list_by_status(State(ctx): State<Ctx>, Path(status): Path<String>, headers: HeaderMap) -> Answer {
    list_batches(&ctx, &headers, Some(&status)).await
}

/// The 404 for an unknown batch id, saying when the caller used the `BatchID` instead of the `Batch-URL`.
fn unknown_batch(batches: &[Batch], id: &str) -> Rejection {
    let error = FileApiError::UnknownBatch(id.to_owned());
    if batches.iter().any(|b| b.guid.eq_ignore_ascii_case(id)) {
        let reason =
            "that is the unencrypted BatchID; act on the batch through its Batch-URL, as the reference advises";
        return xml_error(StatusCode::NOT_FOUND, &error.to_string(), reason).into();
    }
    refusal(&error).into()
}

/// `POST /api/expense/paymentbatch/v1.2/batch/{id}/close`: schedules the close.
pub(crate) async fn close_async(State(ctx): State<Ctx>, Path(key): Path<String>, headers: HeaderMap) -> Answer {
    let company = caller(&ctx, &headers)?;
    refuse_chunked(&headers)?;
    let mut state = ctx.sim.lock();
    let (documents, book) = state.file_book(&company);
    let job_queue_key = match book.schedule_close(documents, &key) {
        Ok(job_queue_key) => job_queue_key,
        Err(FileApiError::UnknownBatch(_)) => return Err(unknown_batch(&book.batches, &key)),
        Err(other) => return Err(refusal(&other).into()),
    };
    let inner = element("Status", "SUCCESS") + &element("JobQueueKey", &job_queue_key);
    Ok(xml(StatusCode::OK, rooted("BatchStatus", &inner)))
}

/// `POST /api/expense/paymentbatch/v1.1/batch/{id}/close`: closes now; the file URL.
pub(crate) async fn close_sync(State(ctx): State<Ctx>, Path(key): Path<String>, headers: HeaderMap) -> Answer {
    let company = caller(&ctx, &headers)?;
    refuse_chunked(&headers)?;
    let base = base_url(&ctx);
    let mut state = ctx.sim.lock();
    let (documents, book) = state.file_book(&company);
    book.sweep(documents);
    let at = book.batch_at(&key).map_err(|_| unknown_batch(&book.batches, &key))?;
    let file_key = book.close_batch(documents, at, false).map_err(|e| refusal(&e))?;
    let file_url = format!("{base}/v1.1/batch/{file_key}/file");
    let inner = element("BatchStatus", "CLOSED") + &element("File-Url", &file_url) + &element("Status", "SUCCESS");
    Ok(xml(StatusCode::OK, rooted("BatchStatus", &inner)))
}

/// `GET /api/expense/paymentbatch/v1.1/batch/{key}/file`: the closed batch's SAE.
pub(crate) async fn batch_file(State(ctx): State<Ctx>, Path(key): Path<String>, headers: HeaderMap) -> Answer {
    let company = caller(&ctx, &headers)?;
    let (bytes, transform) = {
        let mut state = ctx.sim.lock();
        let (_, book) = state.file_book(&company);
        let bytes = book.batch_file(&key).map(<[u8]>::to_vec);
        let bytes = bytes.ok_or_else(|| refusal(&FileApiError::UnknownBatch(key.clone())))?;
        (bytes, book.transform.clone())
    };
    Ok(file("text/csv", transformed(bytes, transform)))
}
