//! Purchase order lists (`PPS200MI`) and goods receipts (`PPS300MI`) of the
//! M3 API **[DEFAULT]** names (reference-data-from-erp.md §3.4 names
//! `PPS200MI/GetHead` and `LstLine`), strict about what the connector may
//! get wrong:
//! - `PPS200MI/LstHead` → every order of the division: `PUNO`, `SUNO`,
//!   `CUCD`, `PUDT` (`YYYYMMDD`), `PUSL` / `PUST` (the lowest / highest
//!   status of its lines, two digits; the head's own while it has none);
//! - `PPS200MI/LstLine?PUNO=` → the order's lines in `PNLI`, `PNLS` order:
//!   `PUNO`, `PNLI`, `PNLS`, `ITNO`, `PITD`, `ORQA`, `PUUN`, `PUPR`, `AIT1`
//!   (blank without an account), `PUSL`, `PUST`; nok on `PUNO` when it is
//!   missing or the division has no such order;
//! - `PPS300MI/LstReceipts` → every receipt of the division: `PUNO`,
//!   `PNLI`, `PNLS`, `REPN`, `TRDT`, `RPQA`, `PUUN`.
//!
//! Every value is text, as M3 answers. An input field a transaction does
//! not take is refused (nok on that field), so a misspelt one cannot go
//! unnoticed.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::m3_supplier::{Nok, nok};
use super::state::{Entity, M3PoLine, M3PurchaseOrder, M3Receipt};

/// Query parameters that are not input fields of a transaction.
const CONTROL: [&str; 3] = ["DIVI", "CONO", "maxrecs"];

/// Runs `transaction` of `program` (`PPS200MI` or `PPS300MI`) against
/// `entity`: the records answered, or the nok.
pub(crate) fn execute(
    entity: &Entity,
    program: &str,
    transaction: &str,
    params: &HashMap<String, String>,
) -> Result<Vec<Value>, Nok> {
    let inputs: &[&str] = match transaction {
        "LstLine" => &["PUNO"],
        _ => &[],
    };
    let mut names: Vec<&String> = params.keys().collect();
    names.sort();
    if let Some(name) = names.into_iter().find(|n| !CONTROL.contains(&n.as_str()) && !inputs.contains(&n.as_str())) {
        return Err(nok(format!("Field {name} is not an input field of {program}/{transaction}"), name));
    }
    match transaction {
        "LstHead" => Ok(entity.purchase_orders.values().map(head_json).collect()),
        "LstLine" => {
            let puno = params.get("PUNO").map(|p| p.trim()).filter(|p| !p.is_empty());
            let Some(puno) = puno else { return Err(nok("Purchase order number must be entered".into(), "PUNO")) };
            let Some(order) = entity.purchase_orders.get(puno) else {
                return Err(nok(format!("Purchase order {puno} does not exist"), "PUNO"));
            };
            let mut lines: Vec<&M3PoLine> = order.lines.iter().collect();
            lines.sort_by_key(|l| (l.line, l.subline));
            Ok(lines.into_iter().map(|line| line_json(&order.number, line)).collect())
        }
        "LstReceipts" => Ok(entity.receipts.iter().map(receipt_json).collect()),
        other => Err(nok(format!("Transaction {other} does not exist in {program}"), "")),
    }
}

/// `20240315`.
fn m3_date(date: time::Date) -> String {
    format!("{:04}{:02}{:02}", date.year(), u8::from(date.month()), date.day())
}

fn status(status: u16) -> String {
    format!("{status:02}")
}

fn head_json(order: &M3PurchaseOrder) -> Value {
    let statuses = order.lines.iter().map(|l| l.status);
    let lowest = statuses.clone().min().unwrap_or(order.status);
    let highest = statuses.max().unwrap_or(order.status);
    json!({
        "PUNO": order.number,
        "SUNO": order.supplier,
        "CUCD": order.currency,
        "PUDT": m3_date(order.order_date),
        "PUSL": status(lowest),
        "PUST": status(highest),
    })
}

fn line_json(order: &str, line: &M3PoLine) -> Value {
    json!({
        "PUNO": order,
        "PNLI": line.line.to_string(),
        "PNLS": line.subline.to_string(),
        "ITNO": line.item,
        "PITD": line.description,
        "ORQA": line.quantity.to_string(),
        "PUUN": line.unit,
        "PUPR": line.price.to_string(),
        "AIT1": line.account.clone().unwrap_or_default(),
        "PUSL": status(line.status),
        "PUST": status(line.status),
    })
}

fn receipt_json(receipt: &M3Receipt) -> Value {
    json!({
        "PUNO": receipt.order,
        "PNLI": receipt.line.to_string(),
        "PNLS": receipt.subline.to_string(),
        "REPN": receipt.receiving_number,
        "TRDT": m3_date(receipt.date),
        "RPQA": receipt.quantity.to_string(),
        "PUUN": receipt.unit,
    })
}
