//! `CRS620MI` supplier transactions of the M3 API (reference-data-from-erp.md
//! §3.4–3.5), strict about what the connector may get wrong:
//! - `GetBasicData?SUNO=` → the supplier's record; nok on `SUNO` when missing.
//! - `AddSupplier` → nok on `SUNO` when it exists, on the first mandatory
//!   field missing (`SUNM SUTY CSCD LNCD CUCD TEPY PYME`), on a value longer
//!   than its field or an unknown currency; the new supplier is active (20).
//! - `UpdSupplier` → nok on `SUNO` when missing; a blank input keeps the
//!   field as it is, as in M3 **[DEFAULT]**.
//!
//! Input fields other than the ones listed in [`FIELDS`] are refused (nok on
//! that field) so a misspelt name cannot go unnoticed. Messages are worded
//! like M3's English ones **[DEFAULT]**.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::state::{Entity, Supplier};

/// Input fields of `AddSupplier`/`UpdSupplier`, their lengths in M3
/// `CIDMAS` and labels **[DEFAULT]** (`SUA1`…`SUA4` address lines, `ECAR`
/// state, `VRNO` VAT registration number).
pub(crate) const FIELDS: [(&str, usize, &str); 15] = [
    ("SUNM", 36, "Supplier name"),
    ("SUTY", 1, "Supplier type"),
    ("CSCD", 3, "Country"),
    ("LNCD", 2, "Language"),
    ("CUCD", 3, "Currency"),
    ("TEPY", 3, "Payment terms"),
    ("PYME", 3, "Payment method"),
    ("SUA1", 36, "Address line 1"),
    ("SUA2", 36, "Address line 2"),
    ("SUA3", 36, "Address line 3"),
    ("SUA4", 36, "Address line 4"),
    ("TOWN", 40, "City"),
    ("ECAR", 3, "State"),
    ("PONO", 10, "Postal code"),
    ("VRNO", 16, "VAT registration number"),
];

/// What `AddSupplier` requires besides `SUNO` (reference §3.5).
pub(crate) const MANDATORY: [&str; 7] = ["SUNM", "SUTY", "CSCD", "LNCD", "CUCD", "TEPY", "PYME"];

/// Currencies the simulated company has (`CRS055`) **[DEFAULT]**.
pub(crate) const CURRENCIES: [&str; 12] =
    ["AUD", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "JPY", "NOK", "NZD", "SEK", "USD"];

/// Query parameters that are not input fields of a transaction.
const CONTROL: [&str; 4] = ["DIVI", "CONO", "SUNO", "maxrecs"];

/// A business error: M3's message and the field it blames.
pub(crate) struct Nok {
    pub message: String,
    pub field: String,
}

/// The nok of `message`, blaming `field`.
pub(crate) fn nok(message: String, field: &str) -> Nok {
    Nok { message, field: field.to_owned() }
}

/// The record `LstSuppliers` and `GetBasicData` return for a supplier.
pub(crate) fn supplier_json(id: &str, supplier: &Supplier, blocked: &BTreeSet<String>) -> Value {
    let mut record: Map<String, Value> =
        supplier.fields.iter().map(|(field, value)| (field.clone(), Value::String(value.clone()))).collect();
    record.insert("SUNO".into(), Value::String(id.to_owned()));
    let status = if blocked.contains(id) { "90" } else { "20" };
    record.insert("STAT".into(), Value::String(status.to_owned()));
    Value::Object(record)
}

/// Runs `GetBasicData`, `AddSupplier` or `UpdSupplier` against `entity`:
/// the records answered, or the nok.
pub(crate) fn execute(
    entity: &mut Entity,
    transaction: &str,
    params: &HashMap<String, String>,
) -> Result<Vec<Value>, Nok> {
    let suno = params.get("SUNO").map(|s| s.trim()).filter(|s| !s.is_empty());
    let Some(suno) = suno else { return Err(nok("Supplier number must be entered".into(), "SUNO")) };
    let exists = entity.suppliers.contains_key(suno);
    match transaction {
        "GetBasicData" => match entity.suppliers.get(suno) {
            Some(supplier) => Ok(vec![supplier_json(suno, supplier, &entity.blocked_suppliers)]),
            None => Err(nok(format!("Supplier {suno} does not exist"), "SUNO")),
        },
        "AddSupplier" if exists => Err(nok(format!("Supplier {suno} already exists"), "SUNO")),
        "AddSupplier" => {
            let inputs = inputs(params)?;
            if let Some(missing) = MANDATORY.into_iter().find(|field| !inputs.iter().any(|(f, _)| f == field)) {
                return Err(nok(format!("{} must be entered", label(missing)), missing));
            }
            let supplier = Supplier { fields: inputs.into_iter().map(|(f, v)| (f.to_owned(), v)).collect() };
            entity.suppliers.insert(suno.to_owned(), supplier);
            Ok(Vec::new())
        }
        "UpdSupplier" => {
            let inputs = inputs(params)?;
            let Some(supplier) = entity.suppliers.get_mut(suno) else {
                return Err(nok(format!("Supplier {suno} does not exist"), "SUNO"));
            };
            supplier.fields.extend(inputs.into_iter().map(|(f, v)| (f.to_owned(), v)));
            Ok(Vec::new())
        }
        other => Err(nok(format!("Transaction {other} does not exist in CRS620MI"), "")),
    }
}

/// The non-blank input fields, each checked: known, not too long, a known
/// currency. Blank ones are dropped (M3 treats them as not given).
fn inputs(params: &HashMap<String, String>) -> Result<Vec<(&'static str, String)>, Nok> {
    let mut inputs = Vec::new();
    let mut names: Vec<&String> = params.keys().collect();
    names.sort();
    for name in names {
        if CONTROL.contains(&name.as_str()) {
            continue;
        }
        let Some((field, length, label)) = FIELDS.iter().find(|(field, _, _)| field == name) else {
            return Err(nok(format!("Field {name} is not an input field of CRS620MI"), name));
        };
        let value = params[name].trim();
        if value.is_empty() {
            continue;
        }
        if value.chars().count() > *length {
            return Err(nok(format!("{label} {value} is too long; at most {length} characters"), field));
        }
        if *field == "CUCD" && !CURRENCIES.contains(&value) {
            return Err(nok(format!("Currency {value} does not exist"), field));
        }
        inputs.push((*field, value.to_owned()));
    }
    Ok(inputs)
}

fn label(field: &str) -> &str {
    FIELDS.iter().find(|(f, _, _)| *f == field).map(|(_, _, label)| *label).unwrap_or(field)
}
