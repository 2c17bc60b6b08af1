//! Acumatica's error bodies (§9 of the reference) and the fault renderer.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::faults::FaultResponses;

const STACK: &str = "   at PX.Api.ContractBased.EntityService.Process(...)\r\n   at PX.Api.ContractBased.WebApi.EntityController.Invoke(...)";

/// A `HttpError` body with the usual `message`/`exceptionMessage`/`exceptionType`.
pub(crate) fn http_error(status: StatusCode, exception_message: &str, exception_type: &str) -> Response {
    let body = json!({
        "message": "An error has occurred.",
        "exceptionMessage": exception_message,
        "exceptionType": exception_type,
        "stackTrace": STACK,
    });
    (status, Json(body)).into_response()
}

/// A `HttpError` with only `message` (how ASP.NET Web API itself answers 401/404/405/412).
pub(crate) fn message_only(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

/// 400 for a request-body binding failure: ASP.NET Web API's invalid
/// model-state shape, `modelState` keyed by the offending member path.
pub(crate) fn binding_error(member: &str, detail: &str) -> Response {
    let key = if member.is_empty() { "entity".to_owned() } else { format!("entity.{member}") };
    let body = json!({
        "message": "The request is invalid.",
        "modelState": { key: [detail] },
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// 400 for a malformed query option (`$filter`, `$select`, `$top`...).
pub(crate) fn query_error(detail: &str) -> Response {
    http_error(StatusCode::BAD_REQUEST, detail, "Microsoft.Data.OData.ODataException")
}

/// 500 `NoEntitySatisfiesTheConditionException`: what Acumatica answers for
/// a record that does not exist when addressed by keys or id.
pub(crate) fn no_entity() -> Response {
    http_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "No entity satisfies the condition.",
        "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException",
    )
}

/// 500 business exception (`PX.Data.PXException`).
pub(crate) fn px_exception(message: &str) -> Response {
    http_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("Error: {message}"), "PX.Data.PXException")
}

/// 404 for a URL that maps to no endpoint, version, entity or action.
pub(crate) fn not_found(path: &str) -> Response {
    message_only(StatusCode::NOT_FOUND, &format!("No HTTP resource was found that matches the request URI '{path}'."))
}

/// 405 for a method the resource does not support.
pub(crate) fn method_not_allowed(method: &str) -> Response {
    message_only(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("The requested resource does not support http method '{method}'."),
    )
}

/// 401 for a missing, unknown or expired bearer token / session.
pub(crate) fn unauthorized(expired: bool) -> Response {
    let mut response = message_only(StatusCode::UNAUTHORIZED, "Authorization has been denied for this request.");
    let challenge = if expired {
        r#"Bearer error="invalid_token", error_description="The access token expired""#
    } else {
        "Bearer"
    };
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

/// 429 for the per-minute request limit of the license.
pub(crate) fn too_many_requests(retry_after_seconds: Option<u64>) -> Response {
    let mut response = http_error(
        StatusCode::TOO_MANY_REQUESTS,
        "The number of API requests per minute has exceeded the limit set in the license.",
        "PX.Data.PXException",
    );
    if let Some(seconds) = retry_after_seconds
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// 422 with the entity echoed and `error` members attached.
pub(crate) fn entity_error(body: Value) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// OAuth token-endpoint error (RFC 6749 §5.2 shape, HTTP 400).
pub(crate) fn oauth_error(code: &str) -> Response {
    let mut response = (StatusCode::BAD_REQUEST, Json(json!({ "error": code }))).into_response();
    no_store(&mut response);
    response
}

/// Token responses must not be cached (RFC 6749 §5.1).
pub(crate) fn no_store(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache, max-age=0"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Renders injected faults the way Acumatica answers.
pub(crate) struct AcumaticaFaults;

impl FaultResponses for AcumaticaFaults {
    fn too_many_requests(&self, retry_after_seconds: Option<u64>) -> Response {
        too_many_requests(retry_after_seconds)
    }

    fn server_error(&self, status: StatusCode) -> Response {
        let reason = status.canonical_reason().unwrap_or("Server Error");
        http_error(status, reason, "System.Web.HttpException")
    }

    fn expired_token(&self) -> Response {
        unauthorized(true)
    }
}
