//! Invoice Vendor v3 (reference-data.md §4): vendor remit addresses keyed
//! by `VendorCode` + `AddressCode`, written in batches whose answer is
//! always HTTP 200 with one `StatusList` per record.
//!
//! Concur has no upsert: POST creates (and refuses an existing pair), PUT
//! updates (and refuses a missing one), and the per-record codes are not
//! documented. So [`ConcurClient::write_vendors`] sends each record with
//! the verb the caller's state expects and, for a record refused, tries the
//! other verb once: a stale state, or a POST repeated after a timeout,
//! still ends in one vendor. Only a record both verbs refuse is reported,
//! with Concur's message.

use std::collections::HashMap;

use domain::reference::{SyncRecord, VendorLimits, VendorRecord};
use serde_json::{Map, Value, json};

use crate::client::{ConcurClient, ConcurError, WriteVerb};
use crate::tokens::AccessToken;

const VENDORS_PATH: &str = "/api/v3.0/invoice/vendors";

/// Records per request. The docs give no batch limit (only a page size of
/// 1000 for reads, and 1000 for other legacy batch services): a few hundred
/// keeps one refused request small [DEFAULT].
pub const VENDOR_BATCH: usize = 250;

/// How Concur took one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorWrite {
    /// [`SyncRecord::key`] of the record.
    pub key: String,
    /// `None`: written; `Some`: Concur's reason for refusing it.
    pub refused: Option<String>,
}

/// Vendors per read: Vendor v3's largest page.
pub const VENDOR_PAGE: usize = 1000;
/// Pages one read follows at most (a million vendors): a `NextPage` that
/// never ends is a fault, not a company.
const MAX_VENDOR_PAGES: usize = 1000;

impl ConcurClient {
    /// Writes `records` (each with the verb to try first): one outcome per
    /// record, in order. An error is the whole call failing (transport,
    /// 4xx, an unreadable answer); per-record refusals are outcomes.
    pub async fn write_vendors(
        &self,
        token: &AccessToken,
        records: &[(VendorRecord, WriteVerb)],
    ) -> Result<Vec<VendorWrite>, ConcurError> {
        let mut outcomes = Vec::with_capacity(records.len());
        for chunk in records.chunks(VENDOR_BATCH) {
            // Key → `None` written, `Some(reason)` refused by both verbs.
            let mut settled: HashMap<String, Option<String>> = HashMap::new();
            let mut retry: Vec<(&VendorRecord, WriteVerb, String)> = Vec::new();
            for verb in [WriteVerb::Create, WriteVerb::Update] {
                let batch: Vec<&VendorRecord> = chunk.iter().filter(|(_, v)| *v == verb).map(|(r, _)| r).collect();
                for (record, refused) in batch.iter().zip(self.send_vendors(token, verb, &batch).await?) {
                    match refused {
                        None => drop(settled.insert(record.key(), None)),
                        Some(reason) => retry.push((record, verb.other(), format!("{}: {reason}", verb.name()))),
                    }
                }
            }
            // Refused with the verb we expected: the other one, once.
            for verb in [WriteVerb::Create, WriteVerb::Update] {
                let batch: Vec<&(&VendorRecord, WriteVerb, String)> =
                    retry.iter().filter(|(_, v, _)| *v == verb).collect();
                let sent: Vec<&VendorRecord> = batch.iter().map(|(r, _, _)| *r).collect();
                for ((record, _, first), refused) in batch.iter().zip(self.send_vendors(token, verb, &sent).await?) {
                    let outcome = refused.map(|reason| format!("{first}; {}: {reason}", verb.name()));
                    settled.insert(record.key(), outcome);
                }
            }
            for (record, _) in chunk {
                let key = record.key();
                let refused = settled.remove(&key).unwrap_or_else(|| Some("Concur gave no answer for it".into()));
                outcomes.push(VendorWrite { key, refused });
            }
        }
        Ok(outcomes)
    }

    /// Deletes one vendor address (Concur has no inactive flag: an address
    /// inactive in the ERP is deleted). `Ok(Some(reason))` when Concur
    /// refused it (an address it does not hold counts as deleted).
    pub async fn delete_vendor(
        &self,
        token: &AccessToken,
        vendor_code: &str,
        address_code: &str,
    ) -> Result<Option<String>, ConcurError> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("vendorCode", vendor_code)
            .append_pair("addressCode", address_code)
            .finish();
        let path = format!("{VENDORS_PATH}?{query}");
        let answer: Value = self.write_json(reqwest::Method::DELETE, token, &path, None::<&Value>).await?;
        let statuses = record_statuses(&answer, 1)?;
        Ok(statuses.into_iter().next().flatten())
    }

    /// Whether Concur holds the vendor address (an exact search).
    pub async fn vendor_exists(
        &self,
        token: &AccessToken,
        vendor_code: &str,
        address_code: &str,
    ) -> Result<bool, ConcurError> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("vendorCode", vendor_code)
            .append_pair("addressCode", address_code)
            .append_pair("searchType", "exact")
            .finish();
        let answer: Value = self.get_json(token, &format!("{VENDORS_PATH}?{query}")).await?;
        let items = answer.get("Items").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let text = |item: &Value, field: &str| item.get(field).and_then(Value::as_str).map(str::to_owned);
        Ok(items.iter().any(|item| {
            text(item, "VendorCode").as_deref() == Some(vendor_code)
                && text(item, "AddressCode").as_deref() == Some(address_code)
        }))
    }

    /// Every vendor address Concur holds, page by page following
    /// `NextPage` (Vendor v3 has no change filter, so each read is a full
    /// one). `limits` are what the records are checked against later.
    pub async fn all_vendors(
        &self,
        token: &AccessToken,
        limits: VendorLimits,
    ) -> Result<Vec<VendorRecord>, ConcurError> {
        let mut vendors = Vec::new();
        let mut next = format!("{VENDORS_PATH}?limit={VENDOR_PAGE}");
        for _ in 0..MAX_VENDOR_PAGES {
            let answer: Value = self.get_json(token, &next).await?;
            let items = answer.get("Items").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            vendors.extend(items.iter().map(|item| vendor_record(item, limits)));
            match answer.get("NextPage").and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty()) {
                Some(link) if !items.is_empty() && link != next => next = link.to_owned(),
                _ => return Ok(vendors),
            }
        }
        Err(ConcurError::Malformed(format!(
            "Vendor v3 kept answering a next page after {MAX_VENDOR_PAGES} pages of {VENDOR_PAGE}: the read stops"
        )))
    }

    /// One request: the refusal reason of each record, in order.
    async fn send_vendors(
        &self,
        token: &AccessToken,
        verb: WriteVerb,
        records: &[&VendorRecord],
    ) -> Result<Vec<Option<String>>, ConcurError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let body = json!({ "Vendor": records.iter().map(|r| vendor_json(r)).collect::<Vec<Value>>() });
        let answer: Value = self.write_json(verb.method(), token, VENDORS_PATH, Some(&body)).await?;
        record_statuses(&answer, records.len())
    }
}

/// A record as Vendor v3 takes it; absent optional fields are left out
/// (an update then keeps what Concur holds for them).
fn vendor_json(record: &VendorRecord) -> Value {
    let mut map = Map::new();
    let mut put = |name: &str, value: Option<&String>| {
        if let Some(value) = value {
            map.insert(name.to_owned(), Value::String(value.clone()));
        }
    };
    put("VendorCode", Some(&record.vendor_code));
    put("AddressCode", Some(&record.address_code));
    put("VendorName", Some(&record.name));
    for (name, value) in ADDRESS_FIELDS.into_iter().zip(record.address()) {
        put(name, value.as_ref());
    }
    put("CurrencyCode", record.currency_code.as_ref());
    put("TaxID", record.tax_id.as_ref());
    Value::Object(map)
}

/// Vendor v3's address fields, in [`VendorRecord::address`]'s order.
const ADDRESS_FIELDS: [&str; 6] = ["Address1", "Address2", "City", "State", "PostalCode", "CountryCode"];

/// A vendor as Vendor v3 serves it (the reverse of [`vendor_json`]); an
/// empty field is an absent one. Concur has no inactive flag: every vendor
/// it holds is active.
fn vendor_record(item: &Value, limits: VendorLimits) -> VendorRecord {
    let text = |field: &str| item.get(field).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_owned);
    let mut record = VendorRecord::named(
        text("VendorCode").unwrap_or_default(),
        text("AddressCode").unwrap_or_default(),
        text("VendorName").unwrap_or_default(),
        limits,
    );
    record.set_address(ADDRESS_FIELDS.map(text));
    record.currency_code = text("CurrencyCode");
    record.tax_id = text("TaxID");
    record
}

/// Each record's refusal from a vendor answer (`Vendor[].StatusList`,
/// matched by `RecordNumber`, 1-based; by position when it is missing).
/// A record with no `ERROR` entry was taken.
fn record_statuses(answer: &Value, sent: usize) -> Result<Vec<Option<String>>, ConcurError> {
    let records = answer
        .get("Vendor")
        .and_then(Value::as_array)
        .ok_or_else(|| ConcurError::Malformed("the vendor answer has no `Vendor` list".into()))?;
    let mut outcomes: Vec<Option<Option<String>>> = vec![None; sent];
    for (position, record) in records.iter().enumerate() {
        let statuses = record.get("StatusList").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let number = statuses
            .iter()
            .find_map(|s| s.get("RecordNumber").and_then(Value::as_u64))
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| n.checked_sub(1))
            .unwrap_or(position);
        let error = statuses
            .iter()
            .find(|s| s.get("Type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("ERROR")));
        let refusal = error.map(|s| {
            let code = s.get("Code").map(Value::to_string).unwrap_or_default();
            let message = s.get("Message").and_then(Value::as_str).unwrap_or("no message");
            transport::short_reason(&format!("{message} (code {code})"))
        });
        if let Some(slot) = outcomes.get_mut(number) {
            *slot = Some(refusal);
        }
    }
    Ok(outcomes.into_iter().map(|o| o.unwrap_or_else(|| Some("Concur gave no answer for it".into()))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vendor_read_back_is_the_record_written() {
        let mut record = VendorRecord::named("V1".into(), "MAIN".into(), "Acme".into(), VendorLimits::default());
        record.city = Some("Bellevue".into());
        record.tax_id = Some("91-1234567".into());
        let mut served = vendor_json(&record);
        served.as_object_mut().unwrap().insert("Address1".into(), json!(""));
        assert_eq!(vendor_record(&served, VendorLimits::default()), record);
    }

    #[test]
    fn statuses_are_matched_by_record_number_and_a_missing_record_is_unanswered() {
        let answer = json!({"Vendor": [
            {"VendorCode": "V2", "StatusList": [{"Code": 1003, "Message": "exists", "RecordNumber": 2, "Type": "ERROR"}]},
            {"VendorCode": "V1", "StatusList": [{"Code": 0, "Message": "Vendor created", "RecordNumber": 1, "Type": "SUCCESS"}]},
        ]});
        let statuses = record_statuses(&answer, 3).unwrap();
        assert_eq!(statuses[0], None);
        assert_eq!(statuses[1].as_deref(), Some("exists (code 1003)"));
        assert_eq!(statuses[2].as_deref(), Some("Concur gave no answer for it"));
        assert!(record_statuses(&json!({"Items": []}), 1).is_err());
    }
}
