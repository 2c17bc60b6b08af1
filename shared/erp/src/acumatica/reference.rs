//! Reference data out of Acumatica (reference-data-from-erp.md §1): the
//! vendors Concur's Vendor v3 keys by `VendorCode` + `AddressCode`.
//!
//! `Vendor.LastModifiedDateTime` moves only with the vendor's own record
//! (`BAccount`), not with a contact or address edit, and the contract's
//! list GET has no `$orderby` (§1.2). So a changed-since read catches new
//! and renamed vendors between full reads, and the sync's full read (all
//! vendors, content hashes compared) catches the rest and the deletes.

use domain::reference::{ReadPage, VendorLimits, VendorRecord};
use serde_json::Value;
use time::OffsetDateTime;

use super::{AcumaticaClient, AcumaticaError};
use crate::odata::literal;

/// Fields read per vendor (always with `$select`, reference §4).
const VENDOR_SELECT: &str = "VendorID,VendorName,Status,CurrencyID,TaxRegistrationID,LastModifiedDateTime,\
MainContact/Address/AddressLine1,MainContact/Address/AddressLine2,MainContact/Address/City,\
MainContact/Address/State,MainContact/Address/PostalCode,MainContact/Address/Country";
const VENDOR_EXPAND: &str = "MainContact,MainContact/Address";
const VENDOR_SCREEN: &str = "AP303000";

/// Statuses whose vendors Concur must not offer (deactivated there): the
/// ones Acumatica refuses a bill for, so an invoice coded to them would
/// only fail to post. `Hold Payments` still takes bills.
const INACTIVE_STATUSES: [&str; 2] = ["Inactive", "On Hold"];

impl AcumaticaClient {
    /// One page of vendors as Concur vendor records. `address_code` is
    /// the Concur `AddressCode` every vendor gets: the Default endpoint
    /// shows only the default location (§1.1) [DEFAULT `MAIN`].
    pub async fn vendors_page(
        &self,
        request: ReadPage,
        address_code: &str,
        limits: VendorLimits,
    ) -> Result<Vec<VendorRecord>, AcumaticaError> {
        let mut filters = Vec::new();
        if let Some(after) = request.changed_after {
            filters.push(format!("LastModifiedDateTime gt datetimeoffset{}", literal(&rfc3339(after))));
        }
        let mut query = vec![
            ("$select", VENDOR_SELECT.to_owned()),
            ("$expand", VENDOR_EXPAND.to_owned()),
            ("$top", request.top.to_string()),
            ("$skip", request.skip.to_string()),
        ];
        if !filters.is_empty() {
            query.push(("$filter", filters.join(" and ")));
        }
        let what = format!("the vendor read (from row {})", request.skip);
        let rows = self.list_rows("Vendor", VENDOR_SCREEN, &query, ("a vendor read", &what)).await?;
        Ok(rows.iter().filter_map(|row| vendor_record(row, address_code, limits)).collect())
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    domain::clock::rfc3339_seconds(at)
}

/// A vendor row as a Concur record; `None` for a row without an id (it
/// cannot be keyed: Acumatica always sends one).
fn vendor_record(row: &Value, address_code: &str, limits: VendorLimits) -> Option<VendorRecord> {
    let text = |pointer: &str| {
        row.pointer(pointer).and_then(Value::as_str).map(str::trim_end).filter(|t| !t.is_empty()).map(str::to_owned)
    };
    let address = |field: &str| text(&format!("/MainContact/Address/{field}/value"));
    let status = text("/Status/value").unwrap_or_default();
    Some(VendorRecord {
        vendor_code: text("/VendorID/value")?,
        address_code: address_code.to_owned(),
        name: text("/VendorName/value").unwrap_or_default(),
        address1: address("AddressLine1"),
        address2: address("AddressLine2"),
        city: address("City"),
        state: address("State"),
        postal_code: address("PostalCode"),
        country_code: address("Country"),
        currency_code: text("/CurrencyID/value"),
        tax_id: text("/TaxRegistrationID/value"),
        active: !INACTIVE_STATUSES.contains(&status.as_str()),
        limits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_vendor_row_becomes_a_concur_record_and_an_inactive_one_is_inactive() {
        let row = json!({
            "VendorID": {"value": "V100  "},
            "VendorName": {"value": "Acme Supplies"},
            "Status": {"value": "Active"},
            "CurrencyID": {"value": "USD"},
            "MainContact": {"Address": {"AddressLine1": {"value": "1 Main St"}, "City": {"value": "Bellevue"},
                "Country": {"value": "US"}, "AddressLine2": {"value": ""}}},
        });
        let record = vendor_record(&row, "MAIN", VendorLimits::default()).unwrap();
        assert_eq!((record.vendor_code.as_str(), record.address_code.as_str()), ("V100", "MAIN"));
        assert_eq!(record.address1.as_deref(), Some("1 Main St"));
        assert_eq!(record.address2, None, "an empty field is no field");
        assert_eq!(record.country_code.as_deref(), Some("US"));
        assert!(record.active);

        let mut inactive = row.clone();
        inactive["Status"] = json!({"value": "Inactive"});
        assert!(!vendor_record(&inactive, "MAIN", VendorLimits::default()).unwrap().active);
        // On Hold takes no bills; Hold Payments does (payment is what is held).
        let mut on_hold = row.clone();
        on_hold["Status"] = json!({"value": "On Hold"});
        assert!(!vendor_record(&on_hold, "MAIN", VendorLimits::default()).unwrap().active);
        let mut hold_payments = row;
        hold_payments["Status"] = json!({"value": "Hold Payments"});
        assert!(vendor_record(&hold_payments, "MAIN", VendorLimits::default()).unwrap().active);
        assert!(vendor_record(&json!({"VendorName": {"value": "no id"}}), "MAIN", VendorLimits::default()).is_none());
    }
}
