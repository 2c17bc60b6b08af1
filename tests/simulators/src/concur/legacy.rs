//! What the legacy XML web services (Extract v1, Payment Batch v1) share:
//! the caller check, XML answers and error bodies, file answers.
//! (extracts-and-payment-batches.md §1–§3, §7.)

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use time::OffsetDateTime;
use time::macros::format_description;

use super::Ctx;
use super::file_store::{FileApiError, SharedTransform};
use super::http::{Rejection, company_with_scope, with_reason};

/// Which edition an API serves (§1: determine the edition first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edition {
    /// `CTE` / `Enterprise`: Extract v1.
    Professional,
    /// `Standard…`: Payment Batch v1.
    Standard,
}

/// A company token with `scope`, of a company of `edition`; the company UUID.
///
/// A company of the other edition is refused with 403 **[docs silent:
/// simulator choice]**, so a client that skips the edition check fails here
/// rather than in production.
pub(crate) fn edition_caller(
    ctx: &Ctx,
    headers: &HeaderMap,
    api: &str,
    scope: &str,
    edition: Edition,
) -> Result<String, Rejection> {
    let company = company_with_scope(ctx, headers, api, &[scope])?;
    let marketing_name = ctx.sim.lock().companies.get(&company).map(|c| c.spec.marketing_name.clone());
    let standard = marketing_name.is_some_and(|name| name.to_ascii_lowercase().starts_with("standard"));
    if standard != (edition == Edition::Standard) {
        let reason =
            format!("{api} serves {edition:?} edition companies only (extracts-and-payment-batches.md section 1)");
        return Err(xml_error(StatusCode::FORBIDDEN, "Access to this API is not allowed", &reason).into());
    }
    Ok(company)
}

/// The XML error body of these services (§7: `Error` with `Message`, `Server-Time`, `Id`).
pub(crate) fn xml_error(status: StatusCode, message: &str, reason: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error><Message>{}</Message><Server-Time>{}</Server-Time>\
         <Id>{}</Id></Error>",
        escape(message),
        utc_timestamp(OffsetDateTime::now_utc()),
        uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
    );
    // Header values are ASCII: a non-ASCII reason would be dropped whole.
    let reason: String = reason.chars().map(|c| if c.is_ascii() { c } else { '?' }).collect();
    with_reason(xml(status, body), &reason)
}

/// The status and documented message of a refused file-API action.
pub(crate) fn refusal(error: &FileApiError) -> Response {
    let (status, message) = match error {
        FileApiError::UnknownDefinition(_) => (StatusCode::NOT_FOUND, "The Definition ID is invalid".to_owned()),
        FileApiError::UnknownJob(_) => (StatusCode::NOT_FOUND, "The Job ID is invalid".to_owned()),
        FileApiError::JobRunning => (StatusCode::CONFLICT, error.to_string()),
        FileApiError::UnknownBatch(_) => (StatusCode::NOT_FOUND, error.to_string()),
        FileApiError::EmptyBatch => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
        FileApiError::Archive(_) => (StatusCode::INTERNAL_SERVER_ERROR, "An internal error occurred".to_owned()),
    };
    xml_error(status, &message, &error.to_string())
}

/// A whole answer: the declaration, then the root element `name` with the
/// namespaces Concur's examples declare (the service's own and `xmlns:i`).
pub(crate) fn rooted(namespace: &str, name: &str, inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<{name} xmlns=\"{namespace}\" \
         xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">{inner}</{name}>"
    )
}

/// A file as served: the company's transform applied, if it has one. Called
/// outside the simulator's lock, since the transform is a test's code.
pub(crate) fn transformed(bytes: Vec<u8>, transform: Option<SharedTransform>) -> Vec<u8> {
    match transform {
        Some(transform) => transform(bytes),
        None => bytes,
    }
}

/// An XML answer.
pub(crate) fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body).into_response()
}

/// A file answer: `text/csv` or `application/zip` (§2, §3).
pub(crate) fn file(content_type: &'static str, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// §7: "do not send chunked request bodies" (answered 400).
pub(crate) fn refuse_chunked(headers: &HeaderMap) -> Result<(), Rejection> {
    let chunked = headers
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        let reason = "chunked transfer encoding is not supported (send a Content-Length)";
        return Err(xml_error(StatusCode::BAD_REQUEST, "The request is invalid", reason).into());
    }
    Ok(())
}

/// `2010-01-13T18:30:02Z` (§2 `start-time`).
pub(crate) fn utc_timestamp(time: OffsetDateTime) -> String {
    let utc = time.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")).unwrap_or_default()
}

/// XML text escaping.
pub(crate) fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// `<name>text</name>`, escaped.
pub(crate) fn element(name: &str, text: &str) -> String {
    format!("<{name}>{}</{name}>", escape(text))
}
