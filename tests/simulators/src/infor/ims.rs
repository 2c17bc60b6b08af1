//! The ION Messaging Service behind the gateway (reference §4):
//! `{ti}/IONSERVICES/api/ion/messaging/service/…` — `ping`, `v2/message`,
//! `v2/multipartMessage`, `v3/multipartMessage`, `v3/message/multipart`.
//!
//! Helpers return `Result<_, Response>` whose error is the HTTP answer itself,
//! handed straight back to axum; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::io::Read;

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::InforSim;
use super::erp::{self, Incoming};
use super::errors::{self, bad_request};
use super::gateway;
use super::multipart;

/// IMS service path below `{iu}/{ti}/`.
pub const IMS_SERVICE_PATH: &str = "IONSERVICES/api/ion/messaging/service";

/// IMS parameter names (ParameterRequest keys, `X-Infor-ION-<name>` headers).
pub const IMS_PARAMETERS: [&str; 14] = [
    "documentName",
    "fromLogicalId",
    "toLogicalId",
    "messageId",
    "encoding",
    "characterSet",
    "accountingEntity",
    "location",
    "documentId",
    "variationId",
    "revisionId",
    "batchId",
    "batchSequence",
    "batchSize",
];
const NUMERIC_PARAMETERS: [&str; 3] = ["variationId", "batchSequence", "batchSize"];
const MAX_CUSTOM_PARAMETERS: usize = 3;
/// Guard against inflating a small payload into something huge.
const MAX_INFLATED_BYTES: u64 = 256 * 1024 * 1024;

/// `/{ti}/IONSERVICES/{*rest}`.
pub(crate) async fn handle(
    State(sim): State<InforSim>,
    Path((ti, rest)): Path<(String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/{ti}/IONSERVICES/{rest}");
    if let Err(response) = gateway::authorize(&sim, &ti, &headers) {
        return response;
    }
    let Some(operation) = rest.strip_prefix("api/ion/messaging/service/") else {
        return errors::not_found(&path);
    };
    let expected = match operation {
        "ping" => Method::GET,
        "v2/message" | "v2/multipartMessage" | "v3/multipartMessage" | "v3/message/multipart" => Method::POST,
        _ => return errors::not_found(&path),
    };
    if method != expected {
        return errors::method_not_allowed(method.as_str(), &path);
    }
    let submitted = match operation {
        "ping" => return (StatusCode::OK, axum::Json(json!({"status": "OK"}))).into_response(),
        "v2/message" => json_message(&headers, &body),
        "v2/multipartMessage" | "v3/multipartMessage" => multipart_message(&headers, &body),
        _ => header_message(&headers, query.as_deref(), &body),
    };
    match submitted {
        Ok((parameters, payload)) => submit(&sim, &ti, operation, parameters, payload),
        Err(response) => response,
    }
}

type Submitted = Result<(BTreeMap<String, String>, Vec<u8>), Response>;

fn is_known(name: &str) -> bool {
    IMS_PARAMETERS.contains(&name) || name.strip_prefix("custom_").is_some_and(|p| !p.is_empty())
}

fn unknown_parameter(name: &str) -> Response {
    bad_request(&format!("Unknown IMS parameter '{name}'; known: {}, custom_<property>", IMS_PARAMETERS.join(", ")))
}

/// Adds one parameter, checking numeric ones and the custom-property count.
fn put(parameters: &mut BTreeMap<String, String>, name: &str, value: String) -> Result<(), Response> {
    if NUMERIC_PARAMETERS.contains(&name) && (value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad_request(&format!("Parameter '{name}' must be a non-negative integer, got '{value}'")));
    }
    if parameters.insert(name.to_owned(), value).is_some() {
        return Err(bad_request(&format!("Parameter '{name}' is given more than once")));
    }
    if parameters.keys().filter(|k| k.starts_with("custom_")).count() > MAX_CUSTOM_PARAMETERS {
        return Err(bad_request(&format!("At most {MAX_CUSTOM_PARAMETERS} custom_<property> parameters are allowed")));
    }
    Ok(())
}

/// IMS parameters from a JSON object; `extra` keys are the caller's to handle.
fn parameters_from_json(object: &Map<String, Value>, extra: &[&str]) -> Result<BTreeMap<String, String>, Response> {
    let mut parameters = BTreeMap::new();
    for (key, value) in object {
        if extra.contains(&key.as_str()) {
            continue;
        }
        if !is_known(key) {
            return Err(unknown_parameter(key));
        }
        let text = match value {
            Value::Null => continue,
            Value::String(s) if NUMERIC_PARAMETERS.contains(&key.as_str()) => {
                return Err(bad_request(&format!("Parameter '{key}' must be a JSON number, got the string \"{s}\"")));
            }
            Value::String(s) => s.clone(),
            Value::Number(n) if NUMERIC_PARAMETERS.contains(&key.as_str()) => n.to_string(),
            other => return Err(bad_request(&format!("Parameter '{key}' must be a string, got {other}"))),
        };
        put(&mut parameters, key, text)?;
    }
    Ok(parameters)
}

fn media_type(headers: &HeaderMap) -> String {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

/// `v2/message`: JSON with the document base64-encoded.
fn json_message(headers: &HeaderMap, body: &[u8]) -> Submitted {
    let content_type = media_type(headers);
    if !content_type.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")) {
        return Err(errors::errors(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("Content-Type must be application/json, got '{content_type}'"),
        ));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| bad_request(&format!("The request is not valid JSON: {e}")))?;
    let Value::Object(object) = value else { return Err(bad_request("The request must be a JSON object")) };
    let mut parameters = parameters_from_json(&object, &["document"])?;
    let Some(Value::Object(document)) = object.get("document") else {
        return Err(bad_request("'document' is required: {\"value\": <base64>, \"encoding\": \"BASE64\"}"));
    };
    if let Some(unknown) = document.keys().find(|k| !matches!(k.as_str(), "value" | "encoding" | "characterSet")) {
        return Err(bad_request(&format!(
            "Unknown member 'document.{unknown}'; expected value, encoding, characterSet"
        )));
    }
    match document.get("encoding") {
        None => {}
        Some(Value::String(e)) if e == "BASE64" => {}
        Some(other) => return Err(bad_request(&format!("document.encoding must be \"BASE64\", got {other}"))),
    }
    match document.get("characterSet") {
        None | Some(Value::Null) => {}
        Some(Value::String(c)) => {
            if !parameters.contains_key("characterSet") {
                parameters.insert("characterSet".into(), c.clone());
            }
        }
        Some(other) => return Err(bad_request(&format!("document.characterSet must be a string, got {other}"))),
    }
    let Some(Value::String(encoded)) = document.get("value") else {
        return Err(bad_request("document.value (the base64 document) is required"));
    };
    let payload = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| bad_request(&format!("document.value is not valid base64: {e}")))?;
    Ok((parameters, payload))
}

/// `v2|v3/multipartMessage`: parts `ParameterRequest` (JSON) and `MessagePayload`.
fn multipart_message(headers: &HeaderMap, body: &[u8]) -> Submitted {
    let parts = multipart::parse(&media_type(headers), body).map_err(|e| bad_request(&e))?;
    let mut request = None;
    let mut payload = None;
    for part in parts {
        let slot = match part.name.as_str() {
            "ParameterRequest" => &mut request,
            "MessagePayload" => &mut payload,
            other => {
                return Err(bad_request(&format!(
                    "Unexpected part '{other}'; expected ParameterRequest and MessagePayload"
                )));
            }
        };
        if slot.replace(part.body).is_some() {
            return Err(bad_request(&format!("Part '{}' is given more than once", part.name)));
        }
    }
    let request = request.ok_or_else(|| bad_request("Part 'ParameterRequest' is required"))?;
    let payload = payload.ok_or_else(|| bad_request("Part 'MessagePayload' is required"))?;
    let value: Value = serde_json::from_slice(&request)
        .map_err(|e| bad_request(&format!("Part 'ParameterRequest' is not valid JSON: {e}")))?;
    let Value::Object(object) = value else { return Err(bad_request("Part 'ParameterRequest' must be a JSON object")) };
    Ok((parameters_from_json(&object, &[])?, payload))
}

/// `v3/message/multipart`: parameters as `X-Infor-ION-<name>` headers or
/// query parameters, one part `MessagePayload`.
fn header_message(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Submitted {
    let mut parameters = BTreeMap::new();
    for (name, value) in headers {
        let Some(suffix) = name.as_str().strip_prefix("x-infor-ion-") else { continue };
        // Header names are case-insensitive: map to the canonical parameter name.
        let canonical = IMS_PARAMETERS
            .iter()
            .find(|p| p.eq_ignore_ascii_case(suffix))
            .map(|p| (*p).to_owned())
            .or_else(|| suffix.strip_prefix("custom_").filter(|p| !p.is_empty()).map(|_| suffix.to_owned()));
        let Some(canonical) = canonical else { return Err(unknown_parameter(&format!("X-Infor-ION-{suffix}"))) };
        let value =
            value.to_str().map_err(|_| bad_request(&format!("Header X-Infor-ION-{suffix} is not visible ASCII")))?;
        put(&mut parameters, &canonical, value.to_owned())?;
    }
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !is_known(&key) {
            return Err(unknown_parameter(&key));
        }
        put(&mut parameters, &key, value.into_owned())?;
    }
    let parts = multipart::parse(&media_type(headers), body).map_err(|e| bad_request(&e))?;
    let [part] = <[multipart::Part; 1]>::try_from(parts).map_err(|parts| {
        bad_request(&format!("Exactly one body part (MessagePayload) is expected, got {}", parts.len()))
    })?;
    if part.name != "MessagePayload" {
        return Err(bad_request(&format!("Unexpected part '{}'; expected MessagePayload", part.name)));
    }
    Ok((parameters, part.body))
}

/// IMS validation, then hand-over to the ERP; 201 with an empty body.
fn submit(
    sim: &InforSim,
    ti: &str,
    endpoint: &str,
    parameters: BTreeMap<String, String>,
    payload: Vec<u8>,
) -> Response {
    let required = |name: &str| parameters.get(name).filter(|v| !v.trim().is_empty()).cloned();
    let Some(document_name) = required("documentName") else {
        return bad_request("Parameter 'documentName' is required");
    };
    let Some(from_logical_id) = required("fromLogicalId") else {
        return bad_request("Parameter 'fromLogicalId' is required");
    };
    let encoding = parameters.get("encoding").cloned().unwrap_or_else(|| "NONE".into());
    if encoding != "NONE" && encoding != "DEFLATE" {
        return bad_request(&format!("Unsupported encoding '{encoding}'; use NONE or DEFLATE"));
    }
    if let Some(charset) = parameters.get("characterSet")
        && !charset.eq_ignore_ascii_case("UTF-8")
    {
        return bad_request(&format!("Unsupported characterSet '{charset}'; use UTF-8"));
    }
    let mut state = sim.lock();
    let max = state.max_message_bytes;
    let Some(tenant) = state.tenants.get(ti) else { return errors::not_found(&format!("/{ti}")) };
    let Some(documents) = tenant.connection_points.get(&from_logical_id) else {
        return bad_request(&format!("Connection point '{from_logical_id}' does not exist in tenant '{ti}'"));
    };
    if !documents.contains(&document_name) {
        return bad_request(&format!(
            "Document '{document_name}' is not configured for connection point '{from_logical_id}'"
        ));
    }
    if payload.is_empty() {
        return bad_request("The message payload is empty");
    }
    if payload.len() > max {
        return errors::errors(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Message size {} bytes exceeds the maximum message size of {max} bytes", payload.len()),
        );
    }
    let document = if encoding == "DEFLATE" {
        let mut inflated = Vec::new();
        let read =
            flate2::read::ZlibDecoder::new(payload.as_slice()).take(MAX_INFLATED_BYTES).read_to_end(&mut inflated);
        if let Err(e) = read {
            return bad_request(&format!("The payload is not valid DEFLATE (zlib) data: {e}"));
        }
        inflated
    } else {
        payload.clone()
    };
    let message_id = required("messageId").unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let incoming = Incoming {
        endpoint: endpoint.to_owned(),
        message_id,
        document_name,
        from_logical_id,
        to_logical_id: required("toLogicalId").unwrap_or_else(|| "lid://default".into()),
        encoding,
        parameters,
        payload_bytes: payload.len(),
        document,
    };
    let tenant = state.tenant_mut(ti);
    if tenant.lose_next > 0 {
        tenant.lose_next -= 1;
        tenant.received.push(erp::lost(incoming));
        return StatusCode::CREATED.into_response();
    }
    let outcomes = erp::process(tenant, incoming);
    let callback = tenant.callback.clone();
    let after_commit = tenant.fail_after_commit.pop();
    drop(state);
    if let Some(url) = callback {
        super::callback::schedule(sim, ti, &url, outcomes);
    }
    match after_commit {
        Some(status) => errors::errors(
            StatusCode::from_u16(status).unwrap_or(StatusCode::GATEWAY_TIMEOUT),
            "The gateway timed out waiting for the backend",
        ),
        None => StatusCode::CREATED.into_response(),
    }
}
