//! Extract v1 over HTTP (Professional edition, extracts-and-payment-batches.md §2):
//! definitions, jobs and their files under `/api/expense/extract/v1.0/`.
//!
//! Company token with `EXTRCT`, of a Professional company (a Standard one
//! is a 403, see [`edition_caller`]). Answers are XML in the extract
//! namespace and carry full URLs on the datacenter that served the call.
//! Unknown definition or job ids are a 404, starting a job while one of the
//! definition is queued or running a 409, a started job a 201 with
//! `Location`. A job runs `Queued` → `In Process` → `Completed` as the
//! company's [`super::Completion`] says (reads of the job or its status
//! count; default: complete on the second). Its file is fixed when the job
//! starts: the documents READY then that no earlier file carried.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
};
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use super::Ctx;
use super::file_store::{ExtractDefinition, ExtractJobStatus, Job};
use super::http::{Answer, Rejection};
use super::legacy::{
    self, Edition, edition_caller, element, file, refusal, refuse_chunked, transformed, utc_timestamp, xml, xml_error,
};

pub(crate) const EXTRACT_PATH: &str = "/api/expense/extract/v1.0";
const NAMESPACE: &str = "http://www.concursolutions.com/api/expense/extract/2010/02";
/// "GET …/job: last 100 jobs of the definition" (§2).
const JOB_LIST_LIMIT: usize = 100;

fn caller(ctx: &Ctx, headers: &HeaderMap) -> Result<String, Rejection> {
    edition_caller(ctx, headers, "Extract v1", "EXTRCT", Edition::Professional)
}

/// `https://<datacenter>/api/expense/extract/v1.0`.
fn base_url(ctx: &Ctx) -> String {
    format!("{}{EXTRACT_PATH}", ctx.sim.datacenter_url(&ctx.datacenter))
}

fn rooted(name: &str, inner: &str) -> String {
    legacy::rooted(NAMESPACE, name, inner)
}

fn definition_fields(base: &str, definition: &ExtractDefinition) -> String {
    let id = format!("{base}/{}", definition.id);
    let job_link = format!("{id}/job");
    format!("{}{}{}", element("id", &id), element("job-link", &job_link), element("name", &definition.name))
}

/// A job's elements; `stop-time` and `file-link` only once it completed (§2).
fn job_fields(base: &str, job: &Job) -> String {
    let id = format!("{base}/{}/job/{}", job.definition, job.id);
    let mut out = element("id", &id) + &element("status-link", &format!("{id}/status"));
    out += &element("start-time", &utc_timestamp(job.start_time));
    if let Some(stop) = job.stop_time {
        out += &element("stop-time", &utc_timestamp(stop));
    }
    out += &element("status", job.status().as_str());
    if job.status() == ExtractJobStatus::Completed {
        out += &element("file-link", &format!("{id}/file"));
    }
    out
}

/// `GET /api/expense/extract/v1.0/`
pub(crate) async fn definitions(State(ctx): State<Ctx>, headers: HeaderMap) -> Answer {
    let company = caller(&ctx, &headers)?;
    let base = base_url(&ctx);
    let mut state = ctx.sim.lock();
    let (_, book) = state.file_book(&company);
    let inner: String = book
        .definitions()
        .iter()
        .map(|d| format!("<definition>{}</definition>", definition_fields(&base, d)))
        .collect();
    Ok(xml(StatusCode::OK, rooted("definitions", &inner)))
}

/// `GET /api/expense/extract/v1.0/{definition}`
pub(crate) async fn definition(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    let company = caller(&ctx, &headers)?;
    let base = base_url(&ctx);
    let mut state = ctx.sim.lock();
    let (_, book) = state.file_book(&company);
    let definition = book.definition(&id).map_err(|e| refusal(&e))?;
    Ok(xml(StatusCode::OK, rooted("definition", &definition_fields(&base, &definition))))
}

/// `GET /api/expense/extract/v1.0/{definition}/job`: the last 100 jobs, oldest first.
pub(crate) async fn jobs(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    let company = caller(&ctx, &headers)?;
    let base = base_url(&ctx);
    let mut state = ctx.sim.lock();
    let (_, book) = state.file_book(&company);
    book.definition(&id).map_err(|e| refusal(&e))?;
    let completion = book.job_completion;
    let mut of_definition: Vec<&mut Job> = book.jobs.iter_mut().filter(|j| j.definition == id).collect();
    let skip = of_definition.len().saturating_sub(JOB_LIST_LIMIT);
    let inner: String = of_definition
        .iter_mut()
        .skip(skip)
        .map(|job| {
            job.observe(completion, false);
            format!("<job>{}</job>", job_fields(&base, job))
        })
        .collect();
    Ok(xml(StatusCode::OK, rooted("jobs", &inner)))
}

/// Why a job request body was refused (400).
#[derive(Debug, thiserror::Error)]
enum JobRequestError {
    #[error("Content-Type must be application/xml")]
    NotXml,
    #[error("the body must be a <definition> in the extract namespace with the definition URI in <id>")]
    NotADefinition,
    #[error("the body names definition `{0}`, not the one of the URI")]
    OtherDefinition(String),
}

/// The definition URI in a job request body (§2), if the body is one.
fn requested_definition(body: &[u8]) -> Option<String> {
    let mut reader = NsReader::from_str(std::str::from_utf8(body).ok()?);
    // (in the extract namespace, local name) of each open element.
    let mut open: Vec<(bool, Vec<u8>)> = Vec::new();
    let (mut root_ok, mut id) = (false, None::<String>);
    loop {
        match reader.read_resolved_event().ok()? {
            (ns, Event::Start(start)) => {
                let ours = matches!(ns, ResolveResult::Bound(n) if n.0 == NAMESPACE.as_bytes());
                let name = start.local_name().as_ref().to_vec();
                if open.is_empty() {
                    root_ok = ours && name == b"definition";
                }
                open.push((ours, name));
            }
            (_, Event::End(_)) => {
                open.pop();
            }
            (_, Event::Text(text)) if open.len() == 2 && open[1] == (true, b"id".to_vec()) => {
                id.get_or_insert_with(String::new).push_str(&text.decode().ok()?);
            }
            (_, Event::Eof) => break,
            _ => {}
        }
    }
    if root_ok { id.map(|id| id.trim().to_owned()) } else { None }
}

fn check_job_request(headers: &HeaderMap, body: &[u8], definition: &str) -> Result<(), JobRequestError> {
    let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next());
    let media = media.map(|m| m.trim().to_ascii_lowercase()).unwrap_or_default();
    if media != "application/xml" && media != "text/xml" {
        return Err(JobRequestError::NotXml);
    }
    let id = requested_definition(body).ok_or(JobRequestError::NotADefinition)?;
    match id.trim_end_matches('/').rsplit('/').next() {
        Some(last) if last == definition => Ok(()),
        _ => Err(JobRequestError::OtherDefinition(id)),
    }
}

/// `POST /api/expense/extract/v1.0/{definition}/job`: 201, `Location`, the queued job.
pub(crate) async fn start_job(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let company = caller(&ctx, &headers)?;
    refuse_chunked(&headers)?;
    let base = base_url(&ctx);
    let mut state = ctx.sim.lock();
    let (documents, book) = state.file_book(&company);
    book.definition(&id).map_err(|e| refusal(&e))?;
    if let Err(problem) = check_job_request(&headers, &body, &id) {
        return Err(xml_error(StatusCode::BAD_REQUEST, "The request is invalid", &problem.to_string()).into());
    }
    let job = book.start_job(documents, &id, false).map_err(|e| refusal(&e))?;
    let location = format!("{base}/{id}/job/{}", job.id);
    let mut response = xml(StatusCode::CREATED, rooted("job", &job_fields(&base, job)));
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `GET …/job/{job}` and `GET …/job/{job}/status`: the job, one status read further.
pub(crate) async fn job(
    State(ctx): State<Ctx>,
    Path((id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let company = caller(&ctx, &headers)?;
    let base = base_url(&ctx);
    let mut state = ctx.sim.lock();
    let (_, book) = state.file_book(&company);
    let completion = book.job_completion;
    let job = book.job_mut(&id, &job_id).map_err(|e| refusal(&e))?;
    job.observe(completion, true);
    Ok(xml(StatusCode::OK, rooted("job", &job_fields(&base, job))))
}

/// `GET …/job/{job}/file`: `text/csv`, or `application/zip` for a definition producing several files.
pub(crate) async fn job_file(
    State(ctx): State<Ctx>,
    Path((id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let company = caller(&ctx, &headers)?;
    let (content_type, bytes, transform) = {
        let mut state = ctx.sim.lock();
        let (_, book) = state.file_book(&company);
        let (completion, transform) = (book.job_completion, book.transform.clone());
        let job = book.job_mut(&id, &job_id).map_err(|e| refusal(&e))?;
        if job.observe(completion, false) != ExtractJobStatus::Completed {
            let reason = "the job has not completed: poll its status-link until Completed, then use its file-link";
            return Err(xml_error(StatusCode::NOT_FOUND, "The file is not available", reason).into());
        }
        (job.file.content_type, job.file.bytes.clone(), transform)
    };
    Ok(file(content_type, transformed(bytes, transform)))
}
