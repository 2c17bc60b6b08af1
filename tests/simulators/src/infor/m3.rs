//! Synchronous master-data reads through the gateway, modelled on the M3 API
//! REST v2 (`{ti}/M3/m3api-rest/v2/execute/{Program}/{Transaction}`,
//! reference §5.6). **[DEFAULT]** program/transaction names and fields:
//! - `GLS040MI/LstAccounts?DIVI=<entity>` → records `{"AITM","TX40"}`
//! - `CRS630MI/LstDimValues?DIVI=<entity>&DIMT=<listID>` → records `{"DIMT","AITM","TX40"}`
//! - `CRS620MI/LstSuppliers?DIVI=<entity>` → records `{"SUNO","SUNM","STAT",…}` (20 active, 90
//!   blocked, plus every field `AddSupplier`/`UpdSupplier` stored)
//! - `CRS620MI/GetBasicData|AddSupplier|UpdSupplier?DIVI=<entity>&SUNO=…` → see [`super::m3_supplier`]
//! - `PPS200MI/LstHead|LstLine`, `PPS300MI/LstReceipts?DIVI=<entity>…` → purchase orders and
//!   their receipts, see [`super::m3_purchase`]
//!
//! As M3 does, a business error (missing/unknown division) is HTTP 200 with
//! `errorMessage` in the transaction result and `nrOfFailedTransactions: 1`;
//! `maxrecs` caps the records (default 100, `0` = all).

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, Method},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::InforSim;
use super::errors;
use super::gateway;
use super::m3_purchase;
use super::m3_supplier::{self, Nok};
use super::state::Entity;

/// `m3api-rest` execute path below `{iu}/{ti}/`.
pub const M3_EXECUTE_PATH: &str = "M3/m3api-rest/v2/execute";
/// GL accounts of an accounting entity: `?DIVI=<entity>`.
pub const M3_LIST_ACCOUNTS_PATH: &str = "M3/m3api-rest/v2/execute/GLS040MI/LstAccounts";
/// Values of one accounting dimension: `?DIVI=<entity>&DIMT=<listID>`.
pub const M3_LIST_DIMENSION_VALUES_PATH: &str = "M3/m3api-rest/v2/execute/CRS630MI/LstDimValues";
/// Suppliers of an accounting entity: `?DIVI=<entity>`.
pub const M3_LIST_SUPPLIERS_PATH: &str = "M3/m3api-rest/v2/execute/CRS620MI/LstSuppliers";
/// One supplier: `?DIVI=<entity>&SUNO=<id>`.
pub const M3_GET_SUPPLIER_PATH: &str = "M3/m3api-rest/v2/execute/CRS620MI/GetBasicData";
/// Creates a supplier: `?DIVI=<entity>&SUNO=<id>&SUNM=…`.
pub const M3_ADD_SUPPLIER_PATH: &str = "M3/m3api-rest/v2/execute/CRS620MI/AddSupplier";
/// Changes the non-blank fields given of a supplier: `?DIVI=<entity>&SUNO=<id>&…`.
pub const M3_UPDATE_SUPPLIER_PATH: &str = "M3/m3api-rest/v2/execute/CRS620MI/UpdSupplier";
/// Purchase order heads of an accounting entity: `?DIVI=<entity>`.
pub const M3_LIST_PO_HEADS_PATH: &str = "M3/m3api-rest/v2/execute/PPS200MI/LstHead";
/// One purchase order's lines: `?DIVI=<entity>&PUNO=<order>`.
pub const M3_LIST_PO_LINES_PATH: &str = "M3/m3api-rest/v2/execute/PPS200MI/LstLine";
/// Goods receipts of an accounting entity's purchase orders: `?DIVI=<entity>`.
pub const M3_LIST_PO_RECEIPTS_PATH: &str = "M3/m3api-rest/v2/execute/PPS300MI/LstReceipts";
/// Records returned when `maxrecs` is not given.
pub const M3_DEFAULT_MAXRECS: usize = 100;

/// `/{ti}/M3/{*rest}`.
pub(crate) async fn handle(
    State(sim): State<InforSim>,
    Path((ti, rest)): Path<(String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = format!("/{ti}/M3/{rest}");
    if let Err(response) = gateway::authorize(&sim, &ti, &headers) {
        return response;
    }
    let Some(call) = rest.strip_prefix("m3api-rest/v2/execute/") else {
        return errors::not_found(&path);
    };
    let Some((program, transaction)) = call.split_once('/') else {
        return errors::not_found(&path);
    };
    if !matches!(
        (program, transaction),
        ("GLS040MI", "LstAccounts")
            | ("CRS630MI", "LstDimValues")
            | ("CRS620MI", "LstSuppliers" | "GetBasicData" | "AddSupplier" | "UpdSupplier")
            | ("PPS200MI", "LstHead" | "LstLine")
            | ("PPS300MI", "LstReceipts")
    ) {
        return errors::not_found(&path);
    }
    if method != Method::GET {
        return errors::method_not_allowed(method.as_str(), &path);
    }
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let maxrecs = match params.get("maxrecs").map(|m| m.parse::<usize>()) {
        None => M3_DEFAULT_MAXRECS,
        Some(Ok(0)) => usize::MAX,
        Some(Ok(n)) => n,
        Some(Err(_)) => return nok(transaction, "maxrecs must be a non-negative number", "maxrecs"),
    };
    let Some(divi) = params.get("DIVI").filter(|d| !d.is_empty()) else {
        return nok(transaction, "Division must be entered", "DIVI");
    };
    let mut state = sim.lock();
    let Some(tenant) = state.tenants.get_mut(&ti) else { return errors::not_found(&path) };
    let Some(entity) = tenant.entities.get_mut(divi) else {
        return nok(transaction, &format!("Division {divi} does not exist"), "DIVI");
    };
    let records = match records(entity, program, transaction, &params) {
        Ok(records) => records,
        Err(refused) => return nok(transaction, &refused.message, &refused.field),
    };
    let records: Vec<Value> = records.into_iter().take(maxrecs).collect();
    Json(json!({
        "results": [{"transaction": transaction, "records": records}],
        "wasTerminated": false,
        "nrOfSuccessfullTransactions": 1,
        "nrOfFailedTransactions": 0,
    }))
    .into_response()
}

/// The records transaction `program/transaction` (one the router serves)
/// answers in `entity`, or its nok.
fn records(
    entity: &mut Entity,
    program: &str,
    transaction: &str,
    params: &HashMap<String, String>,
) -> Result<Vec<Value>, Nok> {
    match (program, transaction) {
        ("GLS040MI", _) => Ok(entity.accounts.iter().map(|(a, d)| json!({"AITM": a, "TX40": d})).collect()),
        ("CRS620MI", "LstSuppliers") => Ok(entity
            .suppliers
            .iter()
            .map(|(id, supplier)| m3_supplier::supplier_json(id, supplier, &entity.blocked_suppliers))
            .collect()),
        ("CRS620MI", _) => m3_supplier::execute(entity, transaction, params),
        ("PPS200MI" | "PPS300MI", _) => m3_purchase::execute(entity, program, transaction, params),
        _ => {
            let Some(dimt) = params.get("DIMT").filter(|d| !d.is_empty()) else {
                return Err(m3_supplier::nok("Dimension type must be entered".into(), "DIMT"));
            };
            match entity.dimensions.get(dimt) {
                Some(values) => Ok(values.iter().map(|v| json!({"DIMT": dimt, "AITM": v, "TX40": ""})).collect()),
                None => Err(m3_supplier::nok(format!("Dimension type {dimt} does not exist"), "DIMT")),
            }
        }
    }
}

/// M3's "ServerReturnedNOK": HTTP 200 with the error inside the result.
fn nok(transaction: &str, message: &str, field: &str) -> Response {
    Json(json!({
        "results": [{
            "transaction": transaction,
            "errorMessage": message,
            "errorType": "ServerReturnedNOK",
            "errorField": field,
            "records": [],
        }],
        "wasTerminated": false,
        "nrOfSuccessfullTransactions": 0,
        "nrOfFailedTransactions": 1,
    }))
    .into_response()
}
