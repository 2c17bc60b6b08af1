//! Invoice Vendor v3 over HTTP (reference-data.md §4): `/api/v3.0/invoice/vendors`.
//!
//! Company token with `INVVEN`; the company must be offered the API (Concur
//! Invoice, not the China datacenter) or every call is a 404. Creates and
//! updates are batches answered HTTP 200 with each record's outcome in its
//! `StatusList`; only a malformed request as a whole is a 400. JSON only:
//! the simulator does not speak the API's XML.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    response::IntoResponse,
};
use serde_json::{Map, Value, json};

use super::Ctx;
use super::http::{Answer, Rejection, company_with_scope, is_json, service_error, with_reason};
use super::state::{ReferenceWriteKind, State as SimState};
use super::vendor_store::{
    MAX_VENDOR_BATCH, RecordRefusal, VendorBook, VendorInput, VendorRecord, VendorSearch, encode_offset, status_code,
};

pub(crate) const VENDORS_PATH: &str = "/api/v3.0/invoice/vendors";

fn refused(status: StatusCode, message: &str) -> Rejection {
    with_reason(service_error(status, message, Some(VENDORS_PATH), None), message).into()
}

/// The calling company, if its token may use Vendor v3 and the API is offered to it.
fn vendor_caller(ctx: &Ctx, headers: &HeaderMap) -> Result<String, Rejection> {
    let company = company_with_scope(ctx, headers, "The Vendor API", &["INVVEN"])?;
    if !ctx.sim.lock().vendor_api_offered(&company) {
        // Undocumented refusal: answered as an unknown resource.
        let response = service_error(StatusCode::NOT_FOUND, "Not Found", Some(VENDORS_PATH), None);
        let reason =
            "Vendor v3 is not available to this company (needs Concur Invoice; not offered in the China datacenter)";
        return Err(with_reason(response, reason).into());
    }
    Ok(company)
}

fn base_url(state: &SimState, datacenter: &str) -> String {
    format!("{}{VENDORS_PATH}", state.geolocation(datacenter))
}

/// A vendor as served: every stored field, `ID` and a `URI` that finds it again.
fn vendor_json(record: &VendorRecord, base: &str) -> Value {
    let mut object: Map<String, Value> =
        record.fields.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("vendorCode", record.vendor_code())
        .append_pair("addressCode", record.address_code())
        .finish();
    object.insert("ID".into(), Value::String(record.id.clone()));
    object.insert("URI".into(), Value::String(format!("{base}?{query}")));
    object.insert("VendorBankList".into(), json!([]));
    object.insert("VendorGroupList".into(), json!([]));
    Value::Object(object)
}

// ------------------------------------------------------------------ search

pub(crate) async fn search(State(ctx): State<Ctx>, uri: Uri, headers: HeaderMap) -> Answer {
    let company = vendor_caller(&ctx, &headers)?;
    let search = VendorSearch::parse(uri.query()).map_err(|m| refused(StatusCode::BAD_REQUEST, &m))?;
    let state = ctx.sim.lock();
    let base = base_url(&state, &ctx.datacenter);
    let empty = VendorBook::default();
    let found = search.run(state.vendors.get(&company).unwrap_or(&empty));
    let items: Vec<Value> = found.iter().skip(search.start).take(search.limit).map(|r| vendor_json(r, &base)).collect();
    let end = search.start.saturating_add(items.len());
    let next_page = (end < found.len()).then(|| next_page_url(&base, &search.kept, end));
    let body = json!({
        "Items": items,
        "NextPage": next_page,
        "TotalCount": found.len(),
        "Vendor": null,
        "RequestRunSummary": null,
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// The caller's own query with the offset of the next page.
fn next_page_url(base: &str, kept: &[(String, String)], position: usize) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in kept {
        query.append_pair(key, value);
    }
    query.append_pair("offset", &encode_offset(position));
    format!("{base}?{}", query.finish())
}

// ------------------------------------------------------------ create/update

#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    Create,
    Update,
}

pub(crate) async fn create(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Answer {
    write_batch(&ctx, &headers, &body, Write::Create)
}

pub(crate) async fn update(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Answer {
    write_batch(&ctx, &headers, &body, Write::Update)
}

/// The `Vendor` array of a create/update body, 1 to [`MAX_VENDOR_BATCH`] records.
fn batch_records(headers: &HeaderMap, body: &Bytes) -> Result<Vec<Value>, Rejection> {
    if !is_json(headers) {
        return Err(refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json (the simulator does not speak the XML variant)",
        ));
    }
    let parsed: Value = serde_json::from_slice(body)
        .map_err(|e| refused(StatusCode::BAD_REQUEST, &format!("Malformed JSON request: {e}")))?;
    let Some(Value::Array(records)) = parsed.get("Vendor") else {
        return Err(refused(StatusCode::BAD_REQUEST, "The request body must be an object with a `Vendor` array"));
    };
    match records.len() {
        0 => Err(refused(StatusCode::BAD_REQUEST, "The request contains no vendor records")),
        n if n > MAX_VENDOR_BATCH => Err(refused(
            StatusCode::BAD_REQUEST,
            &format!("The request contains {n} vendor records; at most {MAX_VENDOR_BATCH} are allowed"),
        )),
        _ => Ok(records.clone()),
    }
}

fn write_batch(ctx: &Ctx, headers: &HeaderMap, body: &Bytes, write: Write) -> Answer {
    let company = vendor_caller(ctx, headers)?;
    let records = batch_records(headers, body)?;
    let mut state = ctx.sim.lock();
    let base = base_url(&state, &ctx.datacenter);
    let mut results = Vec::with_capacity(records.len());
    let mut failed = 0;
    for (index, record) in records.iter().enumerate() {
        let outcome = write_one(&mut state, &company, record, write);
        failed += usize::from(outcome.is_err());
        results.push(result_json(record, outcome, index + 1, write, &base));
    }
    let summary =
        format!("{} record(s) processed: {} succeeded, {failed} failed", records.len(), records.len() - failed);
    let body = json!({
        "Vendor": results,
        "RequestRunSummary": summary,
        "TotalCount": records.len(),
        "Items": null,
        "NextPage": null,
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}

fn write_one(state: &mut SimState, company: &str, record: &Value, write: Write) -> Result<VendorRecord, RecordRefusal> {
    let outcome = VendorInput::parse(record).and_then(|input| {
        let book = state.vendors.entry(company.to_owned()).or_default();
        match write {
            Write::Create => book.create(input).cloned(),
            Write::Update => book.update(input).cloned(),
        }
    });
    let kind = if write == Write::Create { ReferenceWriteKind::VendorCreate } else { ReferenceWriteKind::VendorUpdate };
    state.log_write(company, kind, &sent_key(record), outcome.is_ok());
    outcome
}

/// `VendorCode/AddressCode` as the record sent them (for the write log).
fn sent_key(record: &Value) -> String {
    let field = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or_default();
    format!("{}/{}", field("VendorCode"), field("AddressCode"))
}

fn status_entry(code: u32, message: &str, record_number: usize, succeeded: bool) -> Value {
    json!([{
        "Code": code,
        "Message": message,
        "RecordNumber": record_number,
        "Type": if succeeded { "SUCCESS" } else { "ERROR" },
    }])
}

/// A record of the response collection: the stored vendor, or the record as sent, with its `StatusList`.
fn result_json(
    sent: &Value,
    outcome: Result<VendorRecord, RecordRefusal>,
    record_number: usize,
    write: Write,
    base: &str,
) -> Value {
    let (mut object, status) = match outcome {
        Ok(record) => {
            let message = if write == Write::Create { "Vendor created" } else { "Vendor updated" };
            (vendor_json(&record, base), status_entry(status_code::SUCCESS, message, record_number, true))
        }
        Err(refusal) => {
            let echoed = if sent.is_object() { sent.clone() } else { json!({}) };
            (echoed, status_entry(refusal.code, &refusal.message, record_number, false))
        }
    };
    if let Value::Object(map) = &mut object {
        map.insert("StatusList".into(), status);
    }
    object
}

// ------------------------------------------------------------------ delete

/// `vendorCode` and `addressCode` (names case-insensitive, both required, nothing else).
fn delete_key(uri: &Uri) -> Result<(String, String), String> {
    let (mut vendor_code, mut address_code) = (None, None);
    for (key, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        let slot = match key.to_ascii_lowercase().as_str() {
            "vendorcode" => &mut vendor_code,
            "addresscode" => &mut address_code,
            _ => return Err(format!("`{key}` is not a parameter of the vendor delete")),
        };
        slot.get_or_insert_with(|| value.into_owned());
    }
    match (vendor_code.filter(|v| !v.is_empty()), address_code.filter(|a| !a.is_empty())) {
        (Some(v), Some(a)) => Ok((v, a)),
        _ => Err("vendorCode and addressCode are both required".into()),
    }
}

pub(crate) async fn delete(State(ctx): State<Ctx>, uri: Uri, headers: HeaderMap) -> Answer {
    let company = vendor_caller(&ctx, &headers)?;
    let (vendor_code, address_code) = delete_key(&uri).map_err(|m| refused(StatusCode::BAD_REQUEST, &m))?;
    let mut state = ctx.sim.lock();
    let outcome = state.vendors.entry(company.clone()).or_default().delete(&vendor_code, &address_code);
    state.log_write(
        &company,
        ReferenceWriteKind::VendorDelete,
        &format!("{vendor_code}/{address_code}"),
        outcome.is_ok(),
    );
    let status = match &outcome {
        Ok(_) => status_entry(status_code::SUCCESS, "Vendor deleted", 1, true),
        Err(refusal) => status_entry(refusal.code, &refusal.message, 1, false),
    };
    let record = json!({"VendorCode": vendor_code, "AddressCode": address_code, "StatusList": status});
    let body = json!({"Vendor": [record], "RequestRunSummary": null, "TotalCount": 1, "Items": null, "NextPage": null});
    Ok((StatusCode::OK, Json(body)).into_response())
}
