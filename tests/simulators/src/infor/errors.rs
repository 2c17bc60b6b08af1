//! Error bodies: the gateway/IMS shape `{"errors":["..."]}` (reference §4,
//! [DEFAULT]), the OAuth token endpoint's RFC 6749 shape, and the fault renderer.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::faults::FaultResponses;

/// `status` with `{"errors":[message]}`.
pub(crate) fn errors(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "errors": [message] }))).into_response()
}

pub(crate) fn bad_request(message: &str) -> Response {
    errors(StatusCode::BAD_REQUEST, message)
}

pub(crate) fn not_found(path: &str) -> Response {
    errors(StatusCode::NOT_FOUND, &format!("No API is published at '{path}'"))
}

pub(crate) fn method_not_allowed(method: &str, path: &str) -> Response {
    errors(StatusCode::METHOD_NOT_ALLOWED, &format!("Method {method} is not allowed for '{path}'"))
}

/// 401 with `WWW-Authenticate: Bearer` (plus `error="invalid_token"` when a token was presented).
pub(crate) fn unauthorized(message: &str, token_presented: bool) -> Response {
    let mut response = errors(StatusCode::UNAUTHORIZED, message);
    let challenge = if token_presented {
        HeaderValue::from_static(r#"Bearer error="invalid_token""#)
    } else {
        HeaderValue::from_static("Bearer")
    };
    response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    response
}

pub(crate) fn expired_token() -> Response {
    unauthorized("The access token has expired", true)
}

/// 429 from the gateway's rate-limit policy; `Retry-After` only when given.
pub(crate) fn too_many_requests(retry_after_seconds: Option<u64>) -> Response {
    let mut response = errors(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded for this client; retry later");
    if let Some(seconds) = retry_after_seconds
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// OAuth token-endpoint error: `{"error","error_description"}`; 401 for
/// `invalid_client` (with a Basic challenge), 400 otherwise.
pub(crate) fn oauth_error(code: &str, description: &str) -> Response {
    let status = if code == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
    let mut response = (status, Json(json!({ "error": code, "error_description": description }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="PingFederate""#));
    }
    no_store(&mut response);
    response
}

/// Token responses must not be cached (RFC 6749 §5.1).
pub(crate) fn no_store(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Renders injected faults the way the gateway answers.
pub(crate) struct InforFaults;

impl FaultResponses for InforFaults {
    fn too_many_requests(&self, retry_after_seconds: Option<u64>) -> Response {
        too_many_requests(retry_after_seconds)
    }

    fn server_error(&self, status: StatusCode) -> Response {
        let message = match status.as_u16() {
            502 => "Bad gateway: the target service did not answer correctly".to_owned(),
            503 => "Service unavailable: ION is temporarily unavailable".to_owned(),
            504 => "Gateway timeout: the target service did not answer in time".to_owned(),
            _ => format!("Internal server error ({})", status.canonical_reason().unwrap_or("server error")),
        };
        errors(status, &message)
    }

    fn expired_token(&self) -> Response {
        expired_token()
    }
}
