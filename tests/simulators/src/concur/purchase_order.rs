//! Purchase Order v3 over HTTP (reference-data.md §5): one purchase order
//! per call at `/api/v3.0/invoice/purchaseorders`.
//!
//! Company token with `INVPO`; offered where Vendor v3 is (Concur Invoice,
//! not the China datacenter), else every call is a 404. A write is answered
//! HTTP 200 with a `PurchaseOrderResult` whose `Status` says whether it was
//! taken ("the web service will not return a 4xx … even when every item
//! failed"); the documented error codes are checked: 1000 number, 2000
//! vendor, 3000 currency, 4000 policy, 5000 no lines, 5001 expense type xor
//! account code, 5600 line id twice, 6000/6001 ship-to/bill-to, 8000
//! required field, 8002 wrong type. A create of a number Concur holds and
//! an update of one it lacks are refused with 1000 **[docs silent:
//! simulator choice]**. `GET /purchaseorders/{id}` reads one back by
//! number (404 when there is none). JSON only.

use std::collections::BTreeSet;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use serde_json::{Value, json};

use super::Ctx;
use super::http::{Answer, Rejection, company_with_scope, is_json, service_error, with_reason};
use super::state::{ReferenceWriteKind, State as SimState};

pub(crate) const PURCHASE_ORDERS_PATH: &str = "/api/v3.0/invoice/purchaseorders";

/// The calling company, if its token may use PO v3 and the API is offered to it.
fn po_caller(ctx: &Ctx, headers: &HeaderMap) -> Result<String, Rejection> {
    let company = company_with_scope(ctx, headers, "The Purchase Order API", &["INVPO"])?;
    if !ctx.sim.lock().vendor_api_offered(&company) {
        let response = service_error(StatusCode::NOT_FOUND, "Not Found", Some(PURCHASE_ORDERS_PATH), None);
        let reason = "Purchase Order v3 is not available to this company (needs Concur Invoice with Purchase \
                      Orders; not offered in the China datacenter)";
        return Err(with_reason(response, reason).into());
    }
    Ok(company)
}

/// A refused purchase order: its code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoRefusal {
    pub code: u32,
    pub message: String,
}

fn refusal(code: u32, message: impl Into<String>) -> PoRefusal {
    PoRefusal { code, message: message.into() }
}

fn text<'v>(object: &'v Value, field: &str) -> Option<&'v str> {
    object.get(field).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty())
}

fn require(object: &Value, field: &str, level: &str) -> Result<(), PoRefusal> {
    text(object, field).map(drop).ok_or_else(|| refusal(8000, format!("{level} {field}: required field missing")))
}

/// Checks one purchase order as Concur does (its vendor must exist).
pub(crate) fn check_purchase_order(state: &SimState, company: &str, po: &Value) -> Result<String, PoRefusal> {
    let number = text(po, "PurchaseOrderNumber").ok_or_else(|| refusal(1000, "PO number missing or invalid"))?;
    for field in ["Name", "OrderDate", "PolicyExternalID"] {
        require(po, field, "Header")?;
    }
    let vendor = (text(po, "VendorCode"), text(po, "VendorAddressCode"));
    let known = match vendor {
        (Some(code), Some(address)) => state.vendors.get(company).is_some_and(|b| b.get(code, address).is_some()),
        _ => false,
    };
    if !known {
        return Err(refusal(2000, "No vendor exists for the Vendor Code and Vendor Address Code"));
    }
    let currency = text(po, "CurrencyCode").unwrap_or_default();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(refusal(3000, "Currency Code missing or invalid"));
    }
    let date = text(po, "OrderDate").unwrap_or_default();
    if time::Date::parse(date.get(..10).unwrap_or(date), time::macros::format_description!("[year]-[month]-[day]"))
        .is_err()
    {
        return Err(refusal(8002, format!("Header OrderDate `{date}`: wrong data type")));
    }
    for (field, code) in [("ShipToAddress", 6000), ("BillToAddress", 6001)] {
        let address =
            po.get(field).filter(|a| a.is_object()).ok_or_else(|| refusal(code, format!("{field} missing")))?;
        for part in ["ExternalID", "Address1", "City", "CountryCode", "PostalCode", "StateProvince"] {
            text(address, part).ok_or_else(|| refusal(code, format!("{field} {part} missing or invalid")))?;
        }
    }
    let lines = po.get("LineItem").and_then(Value::as_array).filter(|l| !l.is_empty());
    let lines = lines.ok_or_else(|| refusal(5000, "The purchase order has no line items"))?;
    let mut ids = BTreeSet::new();
    for line in lines {
        for field in ["LineNumber", "ExternalID", "Quantity", "UnitPrice"] {
            require(line, field, "LineItem")?;
        }
        for field in ["Quantity", "UnitPrice"] {
            let value = text(line, field).unwrap_or_default();
            value
                .parse::<rust_decimal::Decimal>()
                .map_err(|_| refusal(8002, format!("LineItem {field}: wrong data type")))?;
        }
        if text(line, "ExpenseType").is_some() == text(line, "AccountCode").is_some() {
            return Err(refusal(5001, "A line must have an expense type or an account code, not both"));
        }
        if !ids.insert(text(line, "ExternalID").unwrap_or_default().to_owned()) {
            return Err(refusal(5600, "Line item external id is not unique in the purchase order"));
        }
    }
    Ok(number.to_owned())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    Create,
    Update,
}

/// Stores `po` (create or update) after the checks; its number.
pub(crate) fn write_purchase_order(
    state: &mut SimState,
    company: &str,
    po: &Value,
    create: bool,
) -> Result<String, PoRefusal> {
    let number = check_purchase_order(state, company, po)?;
    let book = state.purchase_orders.entry(company.to_owned()).or_default();
    match (create, book.contains_key(&number)) {
        (true, true) => return Err(refusal(1000, format!("Purchase order {number} already exists"))),
        (false, false) => return Err(refusal(1000, format!("Purchase order {number} does not exist"))),
        _ => {}
    }
    let mut stored = po.clone();
    if let Value::Object(map) = &mut stored {
        map.insert("ID".into(), Value::String(number.clone()));
        map.entry("Status").or_insert_with(|| Value::String("Transmitted".into()));
    }
    book.insert(number.clone(), stored);
    Ok(number)
}

async fn write(ctx: &Ctx, headers: &HeaderMap, body: &Bytes, how: Write) -> Answer {
    let company = po_caller(ctx, headers)?;
    if !is_json(headers) {
        let message = "Content-Type must be application/json (the simulator does not speak the XML variant)";
        return Err(with_reason(service_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, message, None, None), message).into());
    }
    let po: Value = serde_json::from_slice(body).map_err(|e| {
        let message = format!("Malformed JSON request: {e}");
        Rejection::from(with_reason(service_error(StatusCode::BAD_REQUEST, &message, None, None), &message))
    })?;
    let mut state = ctx.sim.lock();
    let outcome = write_purchase_order(&mut state, &company, &po, how == Write::Create);
    let kind = match how {
        Write::Create => ReferenceWriteKind::PurchaseOrderCreate,
        Write::Update => ReferenceWriteKind::PurchaseOrderUpdate,
    };
    let sent = text(&po, "PurchaseOrderNumber").unwrap_or_default().to_owned();
    state.log_write(&company, kind, &sent, outcome.is_ok());
    let body = match outcome {
        Ok(number) => json!({"Status": "SUCCESS", "PurchaseOrderNumber": number, "Message": "Purchase order saved"}),
        Err(r) => json!({"Status": "FAILURE", "PurchaseOrderNumber": sent, "ErrorCode": r.code.to_string(),
            "ErrorMessage": r.message, "FieldCode": null, "LineItemExternalID": null}),
    };
    Ok((StatusCode::OK, Json(body)).into_response())
}

pub(crate) async fn create(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Answer {
    write(&ctx, &headers, &body, Write::Create).await
}

pub(crate) async fn update(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Answer {
    write(&ctx, &headers, &body, Write::Update).await
}

/// `GET /purchaseorders/{id}`: the purchase order with that number.
pub(crate) async fn get_one(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    let company = po_caller(&ctx, &headers)?;
    let state = ctx.sim.lock();
    let Some(po) = state.purchase_orders.get(&company).and_then(|book| book.get(&id)) else {
        let message = format!("Purchase order {id} was not found");
        let response = service_error(StatusCode::NOT_FOUND, &message, Some(PURCHASE_ORDERS_PATH), None);
        return Err(with_reason(response, &message).into());
    };
    Ok((StatusCode::OK, Json(po.clone())).into_response())
}

// ------------------------------------------------------------ receipts

pub(crate) const RECEIPTS_PATH: &str = "/api/v3.0/invoice/purchaseorderreceipts";

/// A receipt's key: order, line `ExternalID`, receipt number.
pub type ReceiptKey = (String, String, String);

/// Checks one receipt as PO Receipt v3 does (reference §6 codes): the
/// order and its line must exist (1000, 1001), the quantity be a number
/// (1003), the date `YYYY-MM-DD` (1004), the unit under 10 characters
/// (1005), the receipt number given (10010: Version 2.0 needs it).
fn check_receipt(state: &SimState, company: &str, receipt: &Value) -> Result<ReceiptKey, PoRefusal> {
    let number = text(receipt, "PurchaseOrderNumber").ok_or_else(|| refusal(1000, "PO number missing or invalid"))?;
    let Some(po) = state.purchase_orders.get(company).and_then(|book| book.get(number)) else {
        return Err(refusal(1000, format!("Purchase order {number} does not exist")));
    };
    let line = text(receipt, "LineItemExternalID").ok_or_else(|| refusal(1001, "External ID missing or invalid"))?;
    let lines = po.get("LineItem").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if !lines.iter().any(|l| text(l, "ExternalID") == Some(line)) {
        return Err(refusal(1001, format!("Purchase order {number} has no line with External ID {line}")));
    }
    let goods = text(receipt, "GoodsReceiptNumber")
        .ok_or_else(|| refusal(10010, "GoodsReceiptNumber: required field missing"))?;
    let quantity = text(receipt, "ReceivedQuantity").unwrap_or_default();
    if quantity.parse::<rust_decimal::Decimal>().is_err() {
        return Err(refusal(1003, "Received Quantity is not numeric"));
    }
    let date = text(receipt, "ReceivedDate").unwrap_or_default();
    if time::Date::parse(date, time::macros::format_description!("[year]-[month]-[day]")).is_err() {
        return Err(refusal(1004, "Received Date is not in the format YYYY-MM-DD"));
    }
    if text(receipt, "UnitOfMeasureCode").is_some_and(|u| u.chars().count() >= 10) {
        return Err(refusal(1005, "Unit of Measure Code is invalid (under 10 characters)"));
    }
    Ok((number.to_owned(), line.to_owned(), goods.to_owned()))
}

fn write_receipt(state: &mut SimState, company: &str, receipt: &Value, create: bool) -> Result<ReceiptKey, PoRefusal> {
    let key = check_receipt(state, company, receipt)?;
    let book = state.po_receipts.entry(company.to_owned()).or_default();
    match (create, book.contains_key(&key)) {
        (true, true) => return Err(refusal(9999, format!("Receipt {} already exists", key.2))),
        (false, false) => return Err(refusal(9999, format!("Receipt {} does not exist", key.2))),
        _ => {}
    }
    book.insert(key.clone(), receipt.clone());
    Ok(key)
}

fn result_json(outcome: &Result<ReceiptKey, PoRefusal>, sent: &Value) -> Value {
    let number = text(sent, "PurchaseOrderNumber").unwrap_or_default();
    let line = text(sent, "LineItemExternalID").unwrap_or_default();
    match outcome {
        Ok(_) => json!({"Status": "SUCCESS", "PurchaseOrderNumber": number, "LineItemExternalID": line}),
        Err(r) => json!({"Status": "FAILURE", "PurchaseOrderNumber": number, "LineItemExternalID": line,
            "ErrorCode": r.code.to_string(), "ErrorMessage": r.message}),
    }
}

async fn receipt_write(ctx: &Ctx, headers: &HeaderMap, body: &Bytes, how: Write) -> Answer {
    let company = po_caller(ctx, headers)?;
    let receipt: Value = serde_json::from_slice(body).map_err(|e| {
        let message = format!("Malformed JSON request: {e}");
        Rejection::from(with_reason(service_error(StatusCode::BAD_REQUEST, &message, None, None), &message))
    })?;
    let mut state = ctx.sim.lock();
    let outcome = write_receipt(&mut state, &company, &receipt, how == Write::Create);
    let sent = text(&receipt, "GoodsReceiptNumber").unwrap_or_default().to_owned();
    state.log_write(&company, ReferenceWriteKind::PoReceiptWrite, &sent, outcome.is_ok());
    Ok((StatusCode::OK, Json(result_json(&outcome, &receipt))).into_response())
}

pub(crate) async fn create_receipt(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Answer {
    receipt_write(&ctx, &headers, &body, Write::Create).await
}

pub(crate) async fn update_receipt(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Answer {
    receipt_write(&ctx, &headers, &body, Write::Update).await
}

/// The query of a receipt read or delete: `purchaseOrderNumber` and/or
/// `goodsReceiptNumber`, `lineItemExternalID` never alone (swagger).
fn receipt_query(uri: &axum::http::Uri) -> Result<[Option<String>; 3], String> {
    let mut found: [Option<String>; 3] = [None, None, None];
    for (key, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        let slot = match key.to_ascii_lowercase().as_str() {
            "purchaseordernumber" => 0,
            "lineitemexternalid" => 1,
            "goodsreceiptnumber" => 2,
            _ => return Err(format!("`{key}` is not a parameter of the receipts API")),
        };
        found[slot] = Some(value.into_owned()).filter(|v| !v.is_empty());
    }
    if found[0].is_none() && found[2].is_none() {
        return Err(
            "purchaseOrderNumber or goodsReceiptNumber is required (lineItemExternalID cannot be used alone)".into()
        );
    }
    Ok(found)
}

fn matching<'b>(
    book: &'b std::collections::BTreeMap<ReceiptKey, Value>,
    query: &[Option<String>; 3],
) -> Vec<&'b ReceiptKey> {
    let fits = |wanted: &Option<String>, have: &str| wanted.as_deref().is_none_or(|w| w == have);
    book.keys().filter(|k| fits(&query[0], &k.0) && fits(&query[1], &k.1) && fits(&query[2], &k.2)).collect()
}

/// `GET ?purchaseOrderNumber=&lineItemExternalID=&goodsReceiptNumber=`: at most 2000 receipts.
pub(crate) async fn read_receipts(State(ctx): State<Ctx>, uri: axum::http::Uri, headers: HeaderMap) -> Answer {
    let company = po_caller(&ctx, &headers)?;
    let query = receipt_query(&uri).map_err(|m| {
        Rejection::from(with_reason(service_error(StatusCode::BAD_REQUEST, &m, Some(RECEIPTS_PATH), None), &m))
    })?;
    let state = ctx.sim.lock();
    let empty = std::collections::BTreeMap::new();
    let book = state.po_receipts.get(&company).unwrap_or(&empty);
    let items: Vec<Value> =
        matching(book, &query).into_iter().take(2000).filter_map(|k| book.get(k).cloned()).collect();
    let body = json!({"Items": items, "TotalCount": items.len(), "NextPage": null,
        "Info": "Currently a maximum of 2000 PO receipts will be returned."});
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// `DELETE` with the same query: only when exactly one receipt matches.
pub(crate) async fn delete_receipt(State(ctx): State<Ctx>, uri: axum::http::Uri, headers: HeaderMap) -> Answer {
    let company = po_caller(&ctx, &headers)?;
    let query = receipt_query(&uri).map_err(|m| {
        Rejection::from(with_reason(service_error(StatusCode::BAD_REQUEST, &m, Some(RECEIPTS_PATH), None), &m))
    })?;
    let mut state = ctx.sim.lock();
    let book = state.po_receipts.entry(company.clone()).or_default();
    let found: Vec<ReceiptKey> = matching(book, &query).into_iter().cloned().collect();
    let outcome = match found.as_slice() {
        [one] => {
            book.remove(one);
            Ok(one.clone())
        }
        [] => Err(refusal(9999, "No receipt matches")),
        _ => Err(refusal(9999, "More than one receipt matches: name the order, line and receipt")),
    };
    let sent = query[2].clone().unwrap_or_default();
    state.log_write(&company, ReferenceWriteKind::PoReceiptDelete, &sent, outcome.is_ok());
    let sent_json = json!({"PurchaseOrderNumber": query[0], "LineItemExternalID": query[1]});
    Ok((StatusCode::OK, Json(result_json(&outcome, &sent_json))).into_response())
}
