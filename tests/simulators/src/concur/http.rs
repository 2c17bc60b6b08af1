//! Response shapes shared by every Concur endpoint, the correlation-id layer
//! and the fault renderings.

use axum::{
    Json,
    body::Body,
    extract::Request,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::Ctx;
use super::state::{AuthError, Principal};
use crate::faults::FaultResponses;

/// Concur's support header, on every response (auth.md §5).
pub(crate) const CORRELATION_ID: HeaderName = HeaderName::from_static("concur-correlationid");
/// Simulator-only header explaining a rejection whose documented body is terse.
pub(crate) const SIM_REASON: HeaderName = HeaderName::from_static("x-sim-reason");

fn new_correlation_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).unwrap_or(HeaderValue::from_static("simulator"))
}

/// Adds `concur-correlationid` to every response that lacks one, echoing the
/// caller's own value when it sent one.
pub(crate) async fn correlation_id(request: Request<Body>, next: Next) -> Response {
    let incoming = request.headers().get(&CORRELATION_ID).cloned();
    let mut response = next.run(request).await;
    if !response.headers().contains_key(&CORRELATION_ID) {
        response.headers_mut().insert(CORRELATION_ID, incoming.unwrap_or_else(new_correlation_id));
    }
    response
}

/// Sets the simulator's explanation header (ignored when not a valid header value).
pub(crate) fn with_reason(mut response: Response, reason: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(&reason.replace(['\r', '\n'], " ")) {
        response.headers_mut().insert(SIM_REASON, value);
    }
    response
}

/// The service error body (Spring Boot style, as Concur's JSON services answer):
/// `{"timestamp","status","error","message","path"}`, plus the FI service
/// `code` where the FI code table has one.
pub(crate) fn service_error(status: StatusCode, message: &str, path: Option<&str>, code: Option<u32>) -> Response {
    let timestamp = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
    let mut body = json!({
        "timestamp": timestamp,
        "status": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    if let Value::Object(map) = &mut body {
        if let Some(path) = path {
            map.insert("path".into(), Value::String(path.to_owned()));
        }
        if let Some(code) = code {
            map.insert("code".into(), Value::from(code));
        }
    }
    (status, Json(body)).into_response()
}

/// 401/403 from the API gateway: `{"error","error_description"}`.
pub(crate) fn gateway_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (status, Json(json!({"error": error, "error_description": description}))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        let challenge = format!("Bearer realm=\"concur\", error=\"{error}\", error_description=\"{description}\"");
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// The 401 for a refused bearer token.
pub(crate) fn unauthorized(error: &AuthError) -> Response {
    let description = match error {
        AuthError::Missing => "Authorization header with a Bearer access token is required",
        AuthError::Malformed => "Authorization header is not 'Bearer <access token>'",
        AuthError::Unknown => "The access token is invalid",
        AuthError::Expired => "The access token expired",
        AuthError::WrongDatacenter(_) => "The access token is not valid in this data center",
    };
    gateway_error(StatusCode::UNAUTHORIZED, "invalid_token", description)
}

/// 403: a valid token of the wrong principal type or without the scope.
pub(crate) fn forbidden(description: &str) -> Response {
    gateway_error(StatusCode::FORBIDDEN, "access_denied", description)
}

/// A company token valid at this datacenter that holds one of `scopes`; returns the
/// company UUID. `api` names the API in the refusal.
pub(crate) fn company_with_scope(
    ctx: &Ctx,
    headers: &HeaderMap,
    api: &str,
    scopes: &[&str],
) -> Result<String, Rejection> {
    let caller = ctx.sim.lock().authenticate(&ctx.datacenter, headers).map_err(|e| unauthorized(&e))?;
    let Principal::Company(company) = caller.principal.clone() else {
        return Err(forbidden(&format!("{api} requires a company access token")).into());
    };
    if !scopes.iter().any(|s| caller.has_scope(s)) {
        return Err(forbidden(&format!("access denied: scope {} is required", scopes.join(" or "))).into());
    }
    Ok(company)
}

/// JSON 404 for paths no Concur API serves.
pub(crate) async fn not_found(uri: Uri) -> Response {
    service_error(StatusCode::NOT_FOUND, "No handler found", Some(uri.path()), None)
}

/// True when `Content-Type` is `application/json` (parameters allowed).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Injected faults rendered as Concur would answer them.
pub(crate) struct ConcurFaultResponses;

impl FaultResponses for ConcurFaultResponses {
    fn too_many_requests(&self, retry_after_seconds: Option<u64>) -> Response {
        let mut response = service_error(StatusCode::TOO_MANY_REQUESTS, "Rate limit reached", None, None);
        if let Some(seconds) = retry_after_seconds {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.headers_mut().insert(CORRELATION_ID, new_correlation_id());
        response
    }

    fn server_error(&self, status: StatusCode) -> Response {
        let message = match status {
            StatusCode::SERVICE_UNAVAILABLE => "Service is unavailable, please try again later",
            StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => "Upstream service did not answer",
            _ => "An internal error occurred",
        };
        let mut response = service_error(status, message, None, None);
        response.headers_mut().insert(CORRELATION_ID, new_correlation_id());
        response
    }

    fn expired_token(&self) -> Response {
        let mut response = unauthorized(&AuthError::Expired);
        response.headers_mut().insert(CORRELATION_ID, new_correlation_id());
        response
    }
}

/// An early answer from a step of a handler; boxed because responses are large.
pub(crate) struct Rejection(Box<Response>);

impl From<Response> for Rejection {
    fn from(response: Response) -> Self {
        Rejection(Box::new(response))
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// What handlers return: the answer, or an early rejection (both are responses).
pub(crate) type Answer = Result<Response, Rejection>;
