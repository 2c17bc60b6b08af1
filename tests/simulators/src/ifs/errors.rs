//! IFS error bodies (§6 of the reference) and the fault renderer.
//!
//! Projection errors: `{"error":{"code":"…","message":"…"}}`. Codes used:
//! `ODP_RESOURCE_NOTFOUND` (404), `ODP_DESERIALIZATION_ERROR` (400),
//! `DATABASE_ERROR` (400 business rule; 409 duplicate key [DEFAULT]),
//! `ODP_FORBIDDEN` (403 [DEFAULT]), `ODP_PRECONDITION_FAILED` (412 [DEFAULT]),
//! `ODP_MISSING_PRECONDITION` (428 [DEFAULT status]), `MI_MODIFIED_ERROR`
//! (500/503), and, where the reference names no code, the [DEFAULT]s
//! `ODP_BAD_REQUEST` (400 malformed URL/query option), `ODP_METHOD_NOT_ALLOWED`
//! (405), `ODP_NOT_IMPLEMENTED` (501), `REQUEST_TOO_LARGE` (413),
//! `TOO_MANY_REQUESTS` (429), `SERVER_ERROR` (other 5xx). A 401 has an
//! empty body and `WWW-Authenticate: Bearer`. The token endpoint answers
//! Keycloak's `{"error":"…","error_description":"…"}`.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::faults::FaultResponses;

/// `{"error":{"code":code,"message":message}}` with `status`.
pub(crate) fn ifs_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

pub(crate) fn not_found() -> Response {
    ifs_error(StatusCode::NOT_FOUND, "ODP_RESOURCE_NOTFOUND", "Resource not found.")
}

/// 400 for a malformed URL, key predicate or query option.
pub(crate) fn bad_request(message: &str) -> Response {
    ifs_error(StatusCode::BAD_REQUEST, "ODP_BAD_REQUEST", message)
}

/// 400 for a body that cannot be read: content type, JSON, members, types.
pub(crate) fn deserialization(message: &str) -> Response {
    ifs_error(
        StatusCode::BAD_REQUEST,
        "ODP_DESERIALIZATION_ERROR",
        &format!("Error while de-serializing contents. {message}"),
    )
}

/// 400 business-rule failure raised by the (simulated) PL/SQL layer.
pub(crate) fn database(message: &str) -> Response {
    ifs_error(StatusCode::BAD_REQUEST, "DATABASE_ERROR", message)
}

/// 409 on POST with a key that already exists.
pub(crate) fn already_exists(luname: &str) -> Response {
    ifs_error(StatusCode::CONFLICT, "DATABASE_ERROR", &format!("{luname}.EXIST: The {luname} record already exists."))
}

pub(crate) fn forbidden(message: &str) -> Response {
    ifs_error(StatusCode::FORBIDDEN, "ODP_FORBIDDEN", message)
}

pub(crate) fn precondition_failed() -> Response {
    ifs_error(
        StatusCode::PRECONDITION_FAILED,
        "ODP_PRECONDITION_FAILED",
        "The record has been modified by another user. Refresh and try again.",
    )
}

pub(crate) fn missing_precondition() -> Response {
    ifs_error(
        StatusCode::PRECONDITION_REQUIRED,
        "ODP_MISSING_PRECONDITION",
        "The If-Match header is required for this operation.",
    )
}

pub(crate) fn method_not_allowed(method: &str) -> Response {
    ifs_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "ODP_METHOD_NOT_ALLOWED",
        &format!("The method {method} is not allowed on this resource."),
    )
}

pub(crate) fn not_implemented(message: &str) -> Response {
    ifs_error(StatusCode::NOT_IMPLEMENTED, "ODP_NOT_IMPLEMENTED", message)
}

pub(crate) fn too_large(limit: usize) -> Response {
    ifs_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "REQUEST_TOO_LARGE",
        &format!("The request body exceeds the limit of {limit} bytes."),
    )
}

/// 401 for a missing, unknown or expired bearer token.
pub(crate) fn unauthorized() -> Response {
    let mut response = StatusCode::UNAUTHORIZED.into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

pub(crate) fn too_many_requests(retry_after_seconds: Option<u64>) -> Response {
    let mut response =
        ifs_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", "Too many requests. Try again later.");
    if let Some(seconds) = retry_after_seconds
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// 500/503 → `MI_MODIFIED_ERROR` (the retryable metadata-cache condition);
/// any other 5xx → `SERVER_ERROR`.
pub(crate) fn server_error(status: StatusCode) -> Response {
    let status = if status.is_server_error() { status } else { StatusCode::INTERNAL_SERVER_ERROR };
    if matches!(status.as_u16(), 500 | 503) {
        return ifs_error(
            status,
            "MI_MODIFIED_ERROR",
            "The projection metadata has been modified. Please retry the request.",
        );
    }
    ifs_error(status, "SERVER_ERROR", status.canonical_reason().unwrap_or("Server error"))
}

/// Keycloak token-endpoint error.
pub(crate) fn keycloak(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (status, Json(json!({"error": error, "error_description": description}))).into_response();
    no_store(&mut response);
    response
}

/// Token responses must not be cached (RFC 6749 §5.1).
pub(crate) fn no_store(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Renders injected faults the way IFS answers.
pub(crate) struct IfsFaults;

impl FaultResponses for IfsFaults {
    fn too_many_requests(&self, retry_after_seconds: Option<u64>) -> Response {
        too_many_requests(retry_after_seconds)
    }

    fn server_error(&self, status: StatusCode) -> Response {
        server_error(status)
    }

    fn expired_token(&self) -> Response {
        unauthorized()
    }
}
