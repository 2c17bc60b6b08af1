//! Financial Integration Service v4 (financial-integration-v4.md §2–§7, §12).
//!
//! Per company (from the token) and docType, a queue of documents moving
//! READY → ACKNOWLEDGED → POSTING_CONFIRMED_* → PAYMENT_CONFIRMED_*.
//! Per-document outcomes are reported inside HTTP 200 bodies with the FI
//! service codes; only a malformed request is a 400.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State, rejection::PathRejection},
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::Ctx;
use super::http::{Answer, Rejection, forbidden, is_json, service_error, unauthorized};
use super::state::{
    DocStatus, FiDoc, PaymentConfirmationRecord, PostingConfirmationRecord, Principal, State as SimState,
};

/// docTypes this simulator serves (the connector's); `payroll`/`obligation` are undocumented.
const SUPPORTED_DOC_TYPES: [&str; 3] = ["expense", "invoice", "cashadvance"];
const NOT_OF_TYPE: &str = "Document is not of type (expense, invoice, cashadvance)";
/// FI code for an invalid request that will not work if tried again.
const INVALID_REQUEST: u32 = 198;
const MAX_SYSTEM_ID: usize = 50;
const MAX_DOC_ID: usize = 32;
const DEFAULT_LIMIT: u32 = 25;

fn bad_request(message: &str, path: &str, code: u32) -> Response {
    service_error(StatusCode::BAD_REQUEST, message, Some(path), Some(code))
}

/// A company token with `FISVC`, valid at this datacenter; returns the company UUID.
fn company_caller(ctx: &Ctx, headers: &HeaderMap) -> Result<String, Rejection> {
    let caller = ctx.sim.lock().authenticate(&ctx.datacenter, headers).map_err(|e| unauthorized(&e))?;
    let Principal::Company(company) = caller.principal.clone() else {
        return Err(forbidden("The Financial Integration Service only supports company-level access tokens").into());
    };
    if !caller.has_scope("FISVC") {
        return Err(forbidden("access denied: scope FISVC is required").into());
    }
    Ok(company)
}

/// The `{docType}` path segment, if one this service serves (else 400 with `code`).
fn doc_type_of(path: Result<Path<String>, PathRejection>, uri: &Uri, code: u32) -> Result<String, Rejection> {
    match path {
        Ok(Path(doc_type)) if SUPPORTED_DOC_TYPES.contains(&doc_type.as_str()) => Ok(doc_type),
        _ => Err(bad_request(NOT_OF_TYPE, uri.path(), code).into()),
    }
}

/// The JSON body of a POST: `application/json` (else 415), well-formed (else 400).
fn json_body(headers: &HeaderMap, body: &Bytes, uri: &Uri) -> Result<Value, Rejection> {
    if !is_json(headers) {
        return Err(service_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
            Some(uri.path()),
            None,
        )
        .into());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(bad_request("Request body must be a JSON object", uri.path(), INVALID_REQUEST).into()),
        Err(e) => Err(bad_request(&format!("Malformed JSON request: {e}"), uri.path(), INVALID_REQUEST).into()),
    }
}

// ---------------------------------------------------------------- GET

/// Validated query of the GET call.
struct ListQuery {
    page: u32,
    limit: u32,
    doc_id: Option<String>,
    ignore_status: bool,
    system_id: Option<String>,
}

impl ListQuery {
    fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut parsed =
            ListQuery { page: 0, limit: DEFAULT_LIMIT, doc_id: None, ignore_status: false, system_id: None };
        let mut seen: Vec<String> = Vec::new();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            // First occurrence wins, as a servlet's getParameter does.
            if seen.iter().any(|k| *k == key) {
                continue;
            }
            seen.push(key.to_string());
            match key.as_ref() {
                "page" => {
                    let page: i32 = value.parse().map_err(|_| format!("page: `{value}` is not an int32"))?;
                    parsed.page = u32::try_from(page).map_err(|_| "page must not be negative".to_owned())?;
                }
                "limit" => {
                    let limit: i32 = value.parse().map_err(|_| format!("limit: `{value}` is not an int32"))?;
                    parsed.limit = u32::try_from(limit)
                        .ok()
                        .filter(|l| *l > 0)
                        .ok_or_else(|| "limit must be greater than 0".to_owned())?;
                }
                "docId" => parsed.doc_id = Some(value.into_owned()),
                "ignoreDocumentStatus" => {
                    parsed.ignore_status = match value.as_ref() {
                        "yes" => true,
                        "no" => false,
                        other => {
                            return Err(format!("ignoreDocumentStatus must be yes or no, got `{other}`"));
                        }
                    }
                }
                "systemId" => {
                    if value.chars().count() > MAX_SYSTEM_ID {
                        return Err(format!("systemId is longer than {MAX_SYSTEM_ID} characters"));
                    }
                    parsed.system_id = Some(value.into_owned());
                }
                _ => {}
            }
        }
        Ok(parsed)
    }
}

/// `DocumentFormatAs`: `json` (default) → object, `text` → JSON-encoded string.
fn document_as_text(headers: &HeaderMap) -> Result<bool, String> {
    match headers.get("DocumentFormatAs") {
        None => Ok(false),
        Some(v) => match v.to_str().map(str::trim) {
            Ok(f) if f.eq_ignore_ascii_case("json") => Ok(false),
            Ok(f) if f.eq_ignore_ascii_case("text") => Ok(true),
            _ => Err("DocumentFormatAs must be text or json".into()),
        },
    }
}

fn link(rel: &str, href: String) -> Value {
    json!({"rel": rel, "href": href, "hreflang": null, "media": null, "title": null, "type": null, "deprecation": null})
}

fn page_href(base: &str, limit: u32, page: u64, system_id: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("limit", &limit.to_string());
    query.append_pair("page", &page.to_string());
    query.append_pair("size", &limit.to_string());
    if let Some(system_id) = system_id {
        query.append_pair("systemId", system_id);
    }
    format!("{base}?{}", query.finish())
}

pub(crate) async fn get_documents(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Answer {
    let company = company_caller(&ctx, &headers)?;
    let doc_type = doc_type_of(path, &uri, 105)?;
    let query = match ListQuery::parse(uri.query()) {
        Ok(query) => query,
        Err(message) => return Err(bad_request(&message, uri.path(), INVALID_REQUEST).into()),
    };
    let as_text = match document_as_text(&headers) {
        Ok(as_text) => as_text,
        Err(message) => return Err(bad_request(&message, uri.path(), INVALID_REQUEST).into()),
    };

    let state = ctx.sim.lock();
    let base = format!("{}{}", state.geolocation(&ctx.datacenter), uri.path());
    let queue: &[FiDoc] = state.documents.get(&company).map(Vec::as_slice).unwrap_or_default();
    let system_ok = |d: &FiDoc| query.system_id.as_deref().is_none_or(|s| d.visible_to_system(s));
    let of_type = queue.iter().filter(|d| d.doc_type == doc_type).filter(|d| system_ok(d));

    let body = if let Some(doc_id) = &query.doc_id {
        // A single document, by FI id or business id; paging does not apply.
        let content: Vec<Value> = of_type
            .filter(|d| d.id == *doc_id || d.business_id() == Some(doc_id.as_str()))
            .filter(|d| query.ignore_status || d.status == DocStatus::Ready)
            .take(1)
            .map(|d| d.to_json(&company, as_text))
            .collect();
        let n = content.len();
        let self_href = format!("{base}?{}", uri.query().unwrap_or(""));
        json!({
            "links": [link("self", self_href)],
            "content": content,
            "page": {"size": n, "totalElements": n, "totalPages": n, "number": 0},
        })
    } else {
        let ready: Vec<&FiDoc> = of_type.filter(|d| d.status == DocStatus::Ready).collect();
        let total = ready.len() as u64;
        let limit = u64::from(query.limit);
        let page = u64::from(query.page);
        let total_pages = total.div_ceil(limit);
        let content: Vec<Value> = ready
            .iter()
            .skip(usize::try_from(page * limit).unwrap_or(usize::MAX))
            .take(query.limit as usize)
            .map(|d| d.to_json(&company, as_text))
            .collect();
        let system_id = query.system_id.as_deref();
        let mut links = vec![
            link("first", page_href(&base, query.limit, 0, system_id)),
            link("self", page_href(&base, query.limit, page, system_id)),
        ];
        if page + 1 < total_pages {
            links.push(link("next", page_href(&base, query.limit, page + 1, system_id)));
        }
        links.push(link("last", page_href(&base, query.limit, total_pages.saturating_sub(1), system_id)));
        json!({
            "links": links,
            "content": content,
            "page": {"size": query.limit, "totalElements": total, "totalPages": total_pages, "number": page},
        })
    };
    Ok((StatusCode::OK, Json(body)).into_response())
}

// ------------------------------------------------------- request validation

fn required<'a>(object: &'a Value, field: &str, at: &str) -> Result<&'a Value, String> {
    match object.get(field) {
        None | Some(Value::Null) => Err(format!("{at}.{field} is required")),
        Some(value) => Ok(value),
    }
}

fn required_str<'a>(object: &'a Value, field: &str, at: &str, max_len: Option<usize>) -> Result<&'a str, String> {
    let value = required(object, field, at)?.as_str().ok_or_else(|| format!("{at}.{field} must be a string"))?;
    match max_len {
        Some(max) if value.chars().count() > max => Err(format!("{at}.{field} is longer than {max} characters")),
        _ => Ok(value),
    }
}

fn required_array<'a>(object: &'a Value, field: &str, at: &str) -> Result<&'a Vec<Value>, String> {
    required(object, field, at)?.as_array().ok_or_else(|| format!("{at}.{field} must be an array"))
}

/// An optional field must, when present and not null, satisfy `ok`.
fn optional(object: &Value, field: &str, at: &str, expected: &str, ok: fn(&Value) -> bool) -> Result<(), String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(value) if ok(value) => Ok(()),
        Some(_) => Err(format!("{at}.{field} must be {expected}")),
    }
}

fn as_object<'a>(value: &'a Value, at: &str) -> Result<&'a Value, String> {
    if value.is_object() { Ok(value) } else { Err(format!("{at} must be an object")) }
}

fn system_id_of(body: &Value) -> Result<String, String> {
    required_str(body, "systemId", "request", Some(MAX_SYSTEM_ID)).map(str::to_owned)
}

/// `systemId` echoed in result items; the message renders a missing one as `null`.
fn system_id_in_message(system_id: Option<&str>) -> &str {
    match system_id {
        None | Some("") => "null",
        Some(s) => s,
    }
}

// ---------------------------------------------------------- acknowledgements

fn parse_acknowledgement(body: &Value) -> Result<(Vec<String>, String), String> {
    let ids = required_array(body, "ids", "request")?;
    if ids.is_empty() {
        return Err("request.ids must not be empty".into());
    }
    let ids = ids
        .iter()
        .enumerate()
        .map(|(i, id)| id.as_str().map(str::to_owned).ok_or_else(|| format!("request.ids[{i}] must be a string")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((ids, system_id_of(body)?))
}

pub(crate) async fn acknowledge(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let company = company_caller(&ctx, &headers)?;
    let doc_type = doc_type_of(path, &uri, 105)?;
    let request = json_body(&headers, &body, &uri)?;
    let (ids, system_id) = match parse_acknowledgement(&request) {
        Ok(parsed) => parsed,
        Err(message) => return Err(bad_request(&message, uri.path(), INVALID_REQUEST).into()),
    };
    let mut state = ctx.sim.lock();
    let items: Vec<Value> =
        ids.iter().map(|id| acknowledge_one(&mut state, &company, &doc_type, id, &system_id)).collect();
    Ok((StatusCode::OK, Json(Value::Array(items))).into_response())
}

fn acknowledge_one(state: &mut SimState, company: &str, doc_type: &str, id: &str, system_id: &str) -> Value {
    let item = |code: u32, message: &str| {
        json!({
            "code": code,
            "docId": id,
            "systemId": system_id,
            "acknowledgeResult": if code == 0 { "SUCCESS" } else { "FAILURE" },
            "errorMessage": message,
        })
    };
    let Some(doc) = state.find_doc_mut(company, id) else {
        return item(104, "This document does not exist.");
    };
    if doc.doc_type != doc_type {
        return item(105, &format!("This document is not of type {doc_type}."));
    }
    match doc.status {
        DocStatus::Ready if !doc.visible_to_system(system_id) => {
            item(99, "System ID in request does not match system ID in FI database.")
        }
        DocStatus::Ready => {
            doc.status = DocStatus::Acknowledged;
            doc.ack_system_id = Some(system_id.to_owned());
            doc.erp_system_id = Value::String(system_id.to_owned());
            item(0, "")
        }
        DocStatus::Recalled => item(102, "This document has been recalled."),
        status if status.is_acknowledged_or_later() => item(
            101,
            &format!(
                "This document was previously acknowledged by SystemId: {}.",
                system_id_in_message(doc.ack_system_id.as_deref())
            ),
        ),
        _ => item(103, "This document is not ready."),
    }
}

// ------------------------------------------------------ posting confirmations

struct PostingItem {
    doc_id: String,
    status_code: String,
    posting_docs: Value,
    system_messages: Value,
}

fn parse_posting(body: &Value) -> Result<(String, Vec<PostingItem>), String> {
    let system_id = system_id_of(body)?;
    let confirmations = required_array(body, "postingConfirmations", "request")?;
    if confirmations.is_empty() {
        return Err("request.postingConfirmations must not be empty".into());
    }
    let mut items = Vec::with_capacity(confirmations.len());
    for (i, confirmation) in confirmations.iter().enumerate() {
        let at = format!("postingConfirmations[{i}]");
        let confirmation = as_object(confirmation, &at)?;
        let doc_id = required_str(confirmation, "docId", &at, Some(MAX_DOC_ID))?;
        let status_code = required_str(confirmation, "overallPostingStatusCode", &at, None)?;
        if status_code != "success" && status_code != "error" {
            return Err(format!("{at}.overallPostingStatusCode must be success or error, got `{status_code}`"));
        }
        for (j, posting_doc) in required_array(confirmation, "postingDocs", &at)?.iter().enumerate() {
            let at = format!("{at}.postingDocs[{j}]");
            let posting_doc = as_object(posting_doc, &at)?;
            required_str(posting_doc, "companyId", &at, Some(32))?;
            optional(posting_doc, "documentNumber", &at, "a string", Value::is_string)?;
            optional(posting_doc, "postingDate", &at, "a string", Value::is_string)?;
            // Documented as int32, swagger says string: accept both.
            optional(posting_doc, "fiscalYear", &at, "a string or an integer", |v| v.is_string() || v.is_i64())?;
            optional(posting_doc, "paymentRelevantLineItems", &at, "an array", Value::is_array)?;
        }
        for (j, message) in required_array(confirmation, "systemMessages", &at)?.iter().enumerate() {
            let at = format!("{at}.systemMessages[{j}]");
            let message = as_object(message, &at)?;
            for field in ["concurTransactionLineItemId", "messageId", "messageLanguage", "messageShortText"] {
                optional(message, field, &at, "a string", Value::is_string)?;
            }
            // Declared an array, sent as "" in the documented example: accept both.
            optional(message, "messageLongText", &at, "a string or an array", |v| v.is_string() || v.is_array())?;
        }
        items.push(PostingItem {
            doc_id: doc_id.to_owned(),
            status_code: status_code.to_owned(),
            posting_docs: confirmation.get("postingDocs").cloned().unwrap_or(Value::Null),
            system_messages: confirmation.get("systemMessages").cloned().unwrap_or(Value::Null),
        });
    }
    Ok((system_id, items))
}

pub(crate) async fn posting_confirmations(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let company = company_caller(&ctx, &headers)?;
    let doc_type = doc_type_of(path, &uri, 115)?;
    let request = json_body(&headers, &body, &uri)?;
    let (system_id, confirmations) = match parse_posting(&request) {
        Ok(parsed) => parsed,
        Err(message) => return Err(bad_request(&message, uri.path(), INVALID_REQUEST).into()),
    };
    let mut state = ctx.sim.lock();
    let mut items = Vec::with_capacity(confirmations.len());
    for confirmation in confirmations {
        let (code, item) = confirm_posting(&mut state, &company, &doc_type, &confirmation, &system_id);
        items.push(item);
        state.postings.entry(company.clone()).or_default().push(PostingConfirmationRecord {
            doc_id: confirmation.doc_id,
            doc_type: doc_type.clone(),
            system_id: system_id.clone(),
            overall_posting_status_code: confirmation.status_code,
            posting_docs: confirmation.posting_docs,
            system_messages: confirmation.system_messages,
            result_code: code,
        });
    }
    Ok((StatusCode::OK, Json(Value::Array(items))).into_response())
}

fn confirm_posting(
    state: &mut SimState,
    company: &str,
    doc_type: &str,
    confirmation: &PostingItem,
    system_id: &str,
) -> (u32, Value) {
    let item = |code: u32, result: &str, message: &str| {
        let body = json!({
            "code": code,
            "docId": confirmation.doc_id,
            "systemId": system_id,
            "postingConfirmationResult": result,
            "errorMessage": message,
            "detailMessage": "",
        });
        (code, body)
    };
    let Some(doc) = state.find_doc_mut(company, &confirmation.doc_id) else {
        return item(116, "FAILURE", "This document does not exist.");
    };
    if doc.doc_type != doc_type {
        return item(115, "FAILURE", &format!("This document is not of type {doc_type}."));
    }
    match doc.status {
        DocStatus::Acknowledged if doc.ack_system_id.as_deref() != Some(system_id) => {
            item(99, "FAILURE", "System ID in request does not match system ID in FI database.")
        }
        DocStatus::Acknowledged => {
            doc.status = if confirmation.status_code == "success" {
                DocStatus::PostingConfirmedSuccess
            } else {
                DocStatus::PostingConfirmedFailure
            };
            item(0, "SUCCESS", "")
        }
        DocStatus::Ready => item(111, "NOT_YET_ACKNOWLEDGED", "This document has not been acknowledged."),
        DocStatus::Recalled => item(112, "WAS_RECALLED", "This document has been recalled."),
        status if status.is_acknowledged_or_later() => {
            item(113, "FAILURE", "Confirmation has been posted for this document.")
        }
        _ => item(114, "FAILURE", "This document is not in a known state."),
    }
}

// ------------------------------------------------------ payment confirmations

struct PaymentItem {
    doc_id: String,
    status_code: String,
    additional_message: Option<String>,
    clearing_details: Value,
    payment_refs: Vec<String>,
}

/// `receiver` / `clearingReference` are declared arrays but sent as objects: accept both.
fn object_or_array_of_objects(value: &Value) -> bool {
    value.is_object() || value.as_array().is_some_and(|a| a.iter().all(Value::is_object))
}

fn parse_payment(body: &Value) -> Result<(String, Vec<PaymentItem>), String> {
    let system_id = system_id_of(body)?;
    let confirmations = required_array(body, "processingConfirmation", "request")?;
    if confirmations.is_empty() {
        return Err("request.processingConfirmation must not be empty".into());
    }
    let mut items = Vec::with_capacity(confirmations.len());
    for (i, confirmation) in confirmations.iter().enumerate() {
        let at = format!("processingConfirmation[{i}]");
        let confirmation = as_object(confirmation, &at)?;
        let doc_id = required_str(confirmation, "docId", &at, Some(MAX_DOC_ID))?;
        let status_code = required_str(confirmation, "processingStatusCode", &at, Some(3))?;
        if !["CP", "PP", "RE", "OB"].contains(&status_code) {
            return Err(format!("{at}.processingStatusCode must be CP, PP, RE or OB, got `{status_code}`"));
        }
        optional(confirmation, "additionalMessage", &at, "a string", Value::is_string)?;
        let mut payment_refs = Vec::new();
        for (j, detail) in required_array(confirmation, "clearingDetails", &at)?.iter().enumerate() {
            let at = format!("{at}.clearingDetails[{j}]");
            let detail = as_object(detail, &at)?;
            optional(detail, "clearingDate", &at, "a string", Value::is_string)?;
            optional(detail, "clearingAmount", &at, "a number", Value::is_number)?;
            optional(detail, "clearingCurrency", &at, "a string", Value::is_string)?;
            optional(detail, "receiver", &at, "an object", object_or_array_of_objects)?;
            optional(detail, "clearingReference", &at, "an object", object_or_array_of_objects)?;
            let references = match detail.get("clearingReference") {
                Some(Value::Array(list)) => list.iter().collect(),
                Some(reference @ Value::Object(_)) => vec![reference],
                _ => Vec::new(),
            };
            for reference in references {
                optional(reference, "paymentRef", &at, "a string", Value::is_string)?;
                if let Some(payment_ref) = reference.get("paymentRef").and_then(Value::as_str) {
                    payment_refs.push(payment_ref.to_owned());
                }
            }
        }
        items.push(PaymentItem {
            doc_id: doc_id.to_owned(),
            status_code: status_code.to_owned(),
            additional_message: confirmation.get("additionalMessage").and_then(Value::as_str).map(str::to_owned),
            clearing_details: confirmation.get("clearingDetails").cloned().unwrap_or(Value::Null),
            payment_refs,
        });
    }
    Ok((system_id, items))
}

pub(crate) async fn payment_confirmations(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let company = company_caller(&ctx, &headers)?;
    let doc_type = doc_type_of(path, &uri, 115)?;
    if doc_type != "expense" {
        return Err(bad_request(
            "Payment confirmations are only supported for docType expense",
            uri.path(),
            INVALID_REQUEST,
        )
        .into());
    }
    let request = json_body(&headers, &body, &uri)?;
    let (system_id, confirmations) = match parse_payment(&request) {
        Ok(parsed) => parsed,
        Err(message) => return Err(bad_request(&message, uri.path(), INVALID_REQUEST).into()),
    };
    let mut state = ctx.sim.lock();
    let mut items = Vec::with_capacity(confirmations.len());
    for confirmation in confirmations {
        let (code, item) = confirm_payment(&mut state, &company, &doc_type, &confirmation, &system_id);
        items.push(item);
        state.payments.entry(company.clone()).or_default().push(PaymentConfirmationRecord {
            doc_id: confirmation.doc_id,
            system_id: system_id.clone(),
            processing_status_code: confirmation.status_code,
            additional_message: confirmation.additional_message,
            clearing_details: confirmation.clearing_details,
            payment_refs: confirmation.payment_refs,
            result_code: code,
        });
    }
    Ok((StatusCode::OK, Json(Value::Array(items))).into_response())
}

fn confirm_payment(
    state: &mut SimState,
    company: &str,
    doc_type: &str,
    confirmation: &PaymentItem,
    system_id: &str,
) -> (u32, Value) {
    let payment_ref = confirmation.payment_refs.first().cloned();
    let item = |code: u32, result: &str, message: Option<String>| {
        let body = json!({
            "code": code,
            "docId": confirmation.doc_id,
            "systemId": system_id,
            "paymentConfirmationResult": result,
            "errorMessage": message,
            "paymentRef": payment_ref,
            "detailMessage": "",
        });
        (code, body)
    };
    let Some(doc) = state.find_doc_mut(company, &confirmation.doc_id) else {
        return item(116, "FAILURE", Some("This document does not exist.".into()));
    };
    if doc.doc_type != doc_type {
        return item(115, "FAILURE", Some(format!("This document is not of type {doc_type}.")));
    }
    match doc.status {
        DocStatus::PostingConfirmedSuccess
        | DocStatus::Paid
        | DocStatus::PaymentConfirmedSuccess
        | DocStatus::PaymentConfirmedReversed
        | DocStatus::PaymentConfirmedObsolete => {
            if doc.ack_system_id.as_deref() != Some(system_id) {
                return item(
                    99,
                    "FAILURE",
                    Some("System ID in request does not match system ID in FI database.".into()),
                );
            }
            if let Some(duplicate) = confirmation.payment_refs.iter().find(|r| doc.payment_refs.contains(r)) {
                return item(298, "NOOP", Some(format!("Payment confirmation already exist {duplicate}.")));
            }
            doc.payment_refs.extend(confirmation.payment_refs.iter().cloned());
            doc.status = match confirmation.status_code.as_str() {
                "RE" => DocStatus::PaymentConfirmedReversed,
                "OB" => DocStatus::PaymentConfirmedObsolete,
                _ => DocStatus::PaymentConfirmedSuccess,
            };
            item(0, "SUCCESS", None)
        }
        DocStatus::Recalled => item(112, "FAILURE", Some("This document has been recalled.".into())),
        _ => item(111, "NOT_POSTING_CONFIRMED", Some("This document has not been posting confirmed.".into())),
    }
}
