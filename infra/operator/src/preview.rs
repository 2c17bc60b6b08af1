//! `connector preview`: what the connector would post for Concur FI
//! documents or an SAE / PRAE extract file, offline — no AWS, no Concur, no ERP. Finance checks a
//! document (and a mapping) before trusting the connector with it.
//!
//! Output: a JSON array, one object per document:
//! `{"document": {"id", "type", "currency"}, "balanced": true, "lines": [{"side", "amount", "role",
//! "concur_account", "party", "cost_objects", "erp_account"?, "erp_vendor"?}], "erp_documents"?: […]}`,
//! or `{"document": {…}, "error": "<reason>"}` for a document that would be stopped.

use domain::posting::{map_line, plan};
use domain::{DocumentType, FlowOptions, JournalLine, LineRole, NormalizeOptions, Target};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

/// The preview of every document in `bytes`: an SAE / PRAE extract file (recognised by its content: an
/// OpenPGP message, a zip, or an extract header record, comma or pipe delimited) or FI JSON. `keys` decrypt
/// an encrypted file. `Err` only when the file is neither; a document that cannot be posted is an error
/// object, a file that does not add up an error.
pub fn preview_file(
    bytes: &[u8],
    keys: Option<&files::Keyring>,
    mapping: Option<&domain::mapping::Mapping>,
    flow: &FlowOptions,
) -> Result<Value, NotFiDocument> {
    if !files::looks_like_extract(bytes) {
        return preview(bytes, mapping, flow);
    }
    let opened = files::open_file("preview", bytes, keys, None).map_err(|e| NotFiDocument::File(e.to_string()))?;
    let today = time::OffsetDateTime::now_utc().date();
    let documents = opened
        .documents
        .iter()
        .map(|d| {
            let header = json!({
                "id": d.business_id.as_str(),
                "type": d.doc_type.as_str(),
                "currency": Value::Null,
                "rows": format!("{}-{}", d.rows.0, d.rows.1),
            });
            let entry = d.normalize(&NormalizeOptions::default());
            preview_entry(header, d.doc_type, entry, mapping, flow, today)
        })
        .collect();
    Ok(Value::Array(documents))
}

/// The preview of every document in `bytes` (an FI response in either
/// envelope, or one FI document). `Err` only when the file is not an FI
/// document at all; a document that cannot be posted is an error object.
pub fn preview(
    bytes: &[u8],
    mapping: Option<&domain::mapping::Mapping>,
    flow: &FlowOptions,
) -> Result<Value, NotFiDocument> {
    let page = parse(bytes)?;
    let today = time::OffsetDateTime::now_utc().date();
    let documents = page
        .documents
        .into_iter()
        .map(|d| {
            let business_id = d.business_id().unwrap_or(d.id.as_str()).to_owned();
            let header = json!({"id": business_id, "type": d.doc_type, "currency": Value::Null});
            let fail = |header: Value, reason: String| json!({"document": header, "error": reason});
            let doc_type: DocumentType = match d.doc_type.parse() {
                Ok(t) => t,
                Err(e) => return fail(header, format!("unknown docType: {e}")),
            };
            let (id, _) = match d.work_id() {
                Ok(id) => id,
                Err(e) => return fail(header, e.to_string()),
            };
            // `Reading::Entries` normalizes every document of a known type and key.
            let Some(entry) = d.normalized else {
                return fail(header, format!("document {id} was read without its entry"));
            };
            preview_entry(header, doc_type, entry, mapping, flow, today)
        })
        .collect();
    Ok(Value::Array(documents))
}

/// One document's preview: its lines (with ERP accounts under a mapping) and the ERP documents it becomes,
/// or the reason it would be stopped.
fn preview_entry(
    mut header: Value,
    doc_type: DocumentType,
    entry: Result<domain::JournalEntry, domain::NormalizeError>,
    mapping: Option<&domain::mapping::Mapping>,
    flow: &FlowOptions,
    today: time::Date,
) -> Value {
    let fail = |header: Value, reason: String| json!({"document": header, "error": reason});
    let entry = match entry {
        Ok(entry) => entry,
        Err(e) => return fail(header, format!("the document cannot be turned into a balanced entry: {e}")),
    };
    header["currency"] = json!(entry.currency());
    let mut lines = Vec::with_capacity(entry.lines().len());
    for (index, line) in entry.lines().iter().enumerate() {
        let mut out = describe(line);
        if let Some(mapping) = mapping {
            match map_line(mapping, line, index) {
                Ok(mapped) => match mapped.target {
                    Target::Account(account) => {
                        out.insert("erp_account".into(), json!(account));
                    }
                    Target::Vendor(vendor) => {
                        out.insert("erp_account".into(), json!(mapping.payable_account));
                        out.insert("erp_vendor".into(), json!(vendor));
                    }
                },
                Err(e) => return fail(header, format!("the document cannot be mapped: {e}")),
            }
        }
        lines.push(Value::Object(out));
    }
    let mut result = json!({"document": header, "balanced": true, "lines": lines});
    if let Some(mapping) = mapping {
        match plan(mapping, &entry, flow.form_for(doc_type), today) {
            Ok(plan) => result["erp_documents"] = serde_json::to_value(&plan.documents).unwrap_or_default(),
            Err(e) => return fail(result["document"].clone(), format!("the document cannot be mapped: {e}")),
        }
    }
    result
}

/// The file is not an FI response nor one FI document.
#[derive(Debug, thiserror::Error)]
pub enum NotFiDocument {
    #[error("the file is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// JSON, but not in the FI shape: what the FI parser said.
    #[error("{0}")]
    NotFi(String),
    /// An extract file that was refused whole (or could not be decrypted).
    #[error("{0}")]
    File(String),
}

fn parse(bytes: &[u8]) -> Result<concur::fi::DocumentPage, NotFiDocument> {
    let options = NormalizeOptions::default();
    let reading = concur::fi::Reading::Entries(&options);
    match concur::fi::DocumentPage::read(bytes, reading) {
        Ok(page) => Ok(page),
        Err(envelope_error) => {
            // One FI document without an envelope.
            let value: Value = serde_json::from_slice(bytes).map_err(NotFiDocument::NotJson)?;
            if value.get("id").is_some() && value.get("document").is_some() {
                concur::fi::DocumentPage::read(json!({"content": [value]}).to_string().as_bytes(), reading)
                    .map_err(|e| NotFiDocument::NotFi(e.to_string()))
            } else {
                Err(NotFiDocument::NotFi(envelope_error.to_string()))
            }
        }
    }
}

/// The line as finance reads it: side, unsigned amount, role, where it comes from.
fn describe(line: &JournalLine) -> Map<String, Value> {
    let role = match line.role {
        LineRole::Expense => "expense",
        LineRole::PersonalClearing => "card_clearing",
        LineRole::TaxReclaimable | LineRole::InvoiceTax => "tax_reclaim",
        LineRole::TaxNonDeductible => "tax_nondeductible",
        LineRole::EmployeePayable => "employee",
        LineRole::PaymentTypeClearing => "card",
        LineRole::CashAdvanceClearing => "cash_advance_clearing",
        LineRole::VendorPayable => "vendor",
    };
    let is_party =
        matches!(line.role, LineRole::EmployeePayable | LineRole::PaymentTypeClearing | LineRole::VendorPayable);
    let party = match line.role {
        LineRole::EmployeePayable => line.employee_id.clone(),
        LineRole::PaymentTypeClearing => line.payment_code.clone(),
        LineRole::VendorPayable => line.vendor_code.clone(),
        _ => None,
    };
    let mut amount: Decimal = line.magnitude();
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    let cost_objects: Map<String, Value> =
        line.cost_objects.iter().map(|c| (c.field.to_string(), json!(c.code))).collect();
    let mut out = Map::new();
    out.insert("side".into(), json!(line.side().to_string()));
    out.insert("amount".into(), json!(amount.to_string()));
    out.insert("role".into(), json!(role));
    let concur_account = if is_party { String::new() } else { line.account_code.clone().unwrap_or_default() };
    out.insert("concur_account".into(), json!(concur_account));
    out.insert("party".into(), json!(party.unwrap_or_default()));
    out.insert("cost_objects".into(), Value::Object(cost_objects));
    out.insert("description".into(), json!(line.description));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/fi-examples");
        let path = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.to_string_lossy().contains(name))
            .unwrap();
        std::fs::read(path).unwrap()
    }

    fn mapping() -> domain::mapping::Mapping {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/mappings/fi-examples.yaml"
        ))
        .unwrap();
        domain::mapping::Mapping::from_yaml(&text).unwrap()
    }

    #[test]
    fn a_vat_report_previews_line_by_line() {
        let out = preview(&example("Example-2.1.json"), None, &FlowOptions::default()).unwrap();
        let doc = &out[0];
        assert_eq!(doc["document"], json!({"id": "F071FADEA6B142DD884A", "type": "expense", "currency": "EUR"}));
        assert_eq!(doc["balanced"], true);
        let lines: Vec<(String, String, String, String, String)> = doc["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let s = |k: &str| l[k].as_str().unwrap().to_owned();
                (s("side"), s("amount"), s("role"), s("concur_account"), s("party"))
            })
            .collect();
        let want = [
            ("DR", "8.40", "expense", "37", ""),
            ("DR", "1.60", "tax_reclaim", "37", ""),
            ("CR", "10.00", "employee", "", "49038128"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(a, b, c, d, e)| (a.to_string(), b.to_string(), c.to_string(), d.to_string(), e.to_string()))
            .collect();
        assert_eq!(lines, want);
        assert!(doc["lines"][0].get("erp_account").is_none(), "no mapping, no ERP account");
    }

    #[test]
    fn with_a_mapping_it_shows_erp_accounts_and_documents() {
        let out = preview(&example("Example-6.1.2"), Some(&mapping()), &FlowOptions::default()).unwrap();
        let doc = &out[0];
        assert_eq!(doc["lines"][0]["erp_account"], "61700");
        assert_eq!(doc["lines"][1]["erp_vendor"], "AMEXCORP");
        let kinds: Vec<&str> =
            doc["erp_documents"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["bill", "bill"]);
    }

    #[test]
    fn what_would_be_stopped_is_an_error_object() {
        let mut m = mapping();
        m.accounts.remove("37");
        let out = preview(&example("Example-2.1.json"), Some(&m), &FlowOptions::default()).unwrap();
        assert!(out[0]["error"].as_str().unwrap().contains("`37` is not mapped"), "{}", out[0]);
        assert_eq!(out[0]["document"]["id"], "F071FADEA6B142DD884A");
        let broken = String::from_utf8(example("Example-2.1.json"))
            .unwrap()
            .replace("\"amountGross\": 10", "\"amountGross\": 11");
        let out = preview(broken.as_bytes(), None, &FlowOptions::default()).unwrap();
        assert!(out[0]["error"].as_str().is_some(), "{}", out[0]);
        assert!(preview(b"{not json", None, &FlowOptions::default()).is_err());
        assert!(preview(b"{\"x\": 1}", None, &FlowOptions::default()).is_err());
    }

    /// An SAE of one report (a debit and its credit), pipe delimited.
    fn sae() -> String {
        let row = |amount: &str| {
            let mut fields = vec![""; 170];
            fields[0] = "DETAIL";
            let values = [(5, "E1"), (19, "R1"), (20, "11"), (22, "USD"), (61, "1"), (164, "COMP"), (166, "EMPL")];
            for (position, value) in values.into_iter().chain([(167, "400"), (169, amount)]) {
                fields[position - 1] = value;
            }
            fields.join("|")
        };
        format!("EXTRACT|2026-12-01|2|0|1\n{}\n{}\n", row("10.00"), row("-10.00"))
    }

    #[test]
    fn an_extract_file_is_recognised_by_its_header_plain_or_encrypted() {
        let out = preview_file(sae().as_bytes(), None, None, &FlowOptions::default()).unwrap();
        assert_eq!(out[0]["document"], json!({"id": "R1", "type": "expense", "currency": "USD", "rows": "2-3"}));
        let sides: Vec<&str> =
            out[0]["lines"].as_array().unwrap().iter().map(|l| l["side"].as_str().unwrap()).collect();
        assert_eq!(sides, ["DR", "CR", "CR", "DR"], "each row a journal and its counterpart");
        let (secret, public) = files::generate_key("Acme <ap@acme.test>", None).unwrap();
        let encrypted = files::encrypt_to(&public, sae().as_bytes()).unwrap();
        let keys = files::Keyring::from_armored(&[files::KeySource::new(&secret)]).unwrap();
        let decrypted = preview_file(&encrypted, Some(&keys), None, &FlowOptions::default()).unwrap();
        assert_eq!(decrypted, out);
        let refused = preview_file(&encrypted, None, None, &FlowOptions::default()).unwrap_err();
        assert!(refused.to_string().contains("decryption key"), "{refused}");
        let wrong_total = sae().replacen("|2|0|1", "|2|5|1", 1);
        assert!(preview_file(wrong_total.as_bytes(), None, None, &FlowOptions::default()).is_err());
        // FI JSON still goes the FI way.
        assert_eq!(
            preview_file(&example("Example-2.1.json"), None, None, &FlowOptions::default()).unwrap()[0]["document"]["id"],
            "F071FADEA6B142DD884A"
        );
    }

    #[test]
    fn one_document_without_an_envelope_and_many_in_one() {
        let page: Value = serde_json::from_slice(&example("Example-2.1.json")).unwrap();
        let single = serde_json::to_vec(&page["fIDocuments"][0]).unwrap();
        assert_eq!(preview(&single, None, &FlowOptions::default()).unwrap().as_array().unwrap().len(), 1);
        let two = json!({"fIDocuments": [page["fIDocuments"][0], page["fIDocuments"][0]]});
        let out = preview(&serde_json::to_vec(&two).unwrap(), None, &FlowOptions::default()).unwrap();
        assert_eq!(out.as_array().unwrap().len(), 2);
    }
}
