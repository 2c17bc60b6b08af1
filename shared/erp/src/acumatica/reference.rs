//! Reference data out of Acumatica (reference-data-from-erp.md §1): the
//! vendors Concur's Vendor v3 keys by `VendorCode` + `AddressCode`.
//!
//! `Vendor.LastModifiedDateTime` moves only with the vendor's own record
//! (`BAccount`), not with a contact or address edit, and the contract's
//! list GET has no `$orderby` (§1.2). So a changed-since read catches new
//! and renamed vendors between full reads, and the sync's full read (all
//! vendors, content hashes compared) catches the rest and the deletes.

use domain::reference::{ListItemRecord, ListSource, ReadPage, VendorLimits, VendorRecord};
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
/// The `MainContact/Address` members holding Concur's address, in the order
/// of [`crate::vendor_write::address_of`].
pub(super) const ADDRESS_MEMBERS: [&str; 6] =
    ["AddressLine1", "AddressLine2", "City", "State", "PostalCode", "Country"];
/// Rows per list read (the contract returns everything without `$top`, or
/// fails on a large table: reference §1.2).
const LIST_PAGE: usize = 500;

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
        let query = list_query(VENDOR_SELECT, Some(VENDOR_EXPAND), request.changed_after, Vec::new());
        let query = paged(query, request.skip, request.top);
        let what = format!("the vendor read (from row {})", request.skip);
        let rows = self.list_rows("Vendor", VENDOR_SCREEN, &query, ("a vendor read", &what)).await?;
        Ok(rows.iter().filter_map(|row| vendor_record(row, address_code, limits)).collect())
    }

    /// Vendor `vendor_id` as a Concur record (mapped as [`Self::vendors_page`]
    /// maps them), `None` when the tenant has none. A filtered list, not a
    /// GET by key: a missing key answers 500, which the transport retries.
    /// Acumatica compares keys without regard to case, and so does this.
    pub async fn vendor_by_id(
        &self,
        vendor_id: &str,
        address_code: &str,
        limits: VendorLimits,
    ) -> Result<Option<VendorRecord>, AcumaticaError> {
        let query = [
            ("$select", VENDOR_SELECT.to_owned()),
            ("$expand", VENDOR_EXPAND.to_owned()),
            ("$filter", format!("VendorID eq {}", literal(vendor_id))),
        ];
        let what = format!("the read of vendor `{vendor_id}`");
        let rows = self.list_rows("Vendor", VENDOR_SCREEN, &query, ("a vendor read", &what)).await?;
        Ok(rows
            .iter()
            .filter_map(|row| vendor_record(row, address_code, limits))
            .find(|vendor| vendor.vendor_code.eq_ignore_ascii_case(vendor_id.trim())))
    }
}

impl AcumaticaClient {
    /// Every subaccount or GL account as items of Concur list `list`;
    /// `None` for a source Acumatica does not have.
    pub async fn list_items(
        &self,
        source: &ListSource,
        list: &str,
    ) -> Result<Option<Vec<ListItemRecord>>, AcumaticaError> {
        let (entity, screen, code_field) = match source {
            ListSource::Subaccounts => ("Subaccount", "GL203000", "SubaccountCD"),
            ListSource::Accounts => ("Account", "GL202500", "AccountCD"),
            ListSource::CodePart(_) => return Ok(None),
        };
        let query = list_query(&format!("{code_field},Description,Active"), None, None, Vec::new());
        let rows = self.all_rows(entity, screen, &query, LIST_PAGE, "a list read").await?;
        Ok(Some(rows.iter().filter_map(|row| list_item(row, code_field, list)).collect()))
    }

    /// Every row of `entity` that `query` (no `$top`/`$skip`) selects,
    /// `page_size` rows a call until a short page: the contract has no
    /// next link, and without `$top` a large table fails (§1.2).
    pub(super) async fn all_rows(
        &self,
        entity: &str,
        screen: &'static str,
        query: &[(&'static str, String)],
        page_size: usize,
        read: &'static str,
    ) -> Result<Vec<Value>, AcumaticaError> {
        let page_size = page_size.max(1);
        let mut rows = Vec::new();
        loop {
            let skip = rows.len();
            let what = format!("the {entity} read (from row {skip})");
            let page = self.list_rows(entity, screen, &paged(query.to_vec(), skip, page_size), (read, &what)).await?;
            let short = page.len() < page_size;
            rows.extend(page);
            if short {
                return Ok(rows);
            }
        }
    }
}

/// The `$select`, `$expand` and `$filter` of a list read: always a
/// `$select` (reference §4: some lists fail without one), `filters` and,
/// with `changed_after`, only what changed after it (to the second).
pub(super) fn list_query(
    select: &str,
    expand: Option<&str>,
    changed_after: Option<OffsetDateTime>,
    mut filters: Vec<String>,
) -> Vec<(&'static str, String)> {
    let mut query = vec![("$select", select.to_owned())];
    if let Some(expand) = expand {
        query.push(("$expand", expand.to_owned()));
    }
    if let Some(after) = changed_after {
        filters.push(format!("LastModifiedDateTime gt datetimeoffset{}", literal(&rfc3339(after))));
    }
    if !filters.is_empty() {
        query.push(("$filter", filters.join(" and ")));
    }
    query
}

/// `query` restricted to `top` rows from row `skip`.
pub(super) fn paged(mut query: Vec<(&'static str, String)>, skip: usize, top: usize) -> Vec<(&'static str, String)> {
    query.push(("$top", top.to_string()));
    query.push(("$skip", skip.to_string()));
    query
}

/// A subaccount or account row as a level-1 list item; the code stands in
/// for a missing description (Concur requires a text). `None` without a code.
fn list_item(row: &Value, code_field: &str, list: &str) -> Option<ListItemRecord> {
    let text = |field: &str| {
        row.pointer(&format!("/{field}/value"))
            .and_then(Value::as_str)
            .map(str::trim_end)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let code = text(code_field)?;
    Some(ListItemRecord {
        list: list.to_owned(),
        value: text("Description").unwrap_or_else(|| code.clone()),
        path: vec![code],
        active: row.pointer("/Active/value").and_then(Value::as_bool).unwrap_or(true),
    })
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
    let [address1, address2, city, state, postal_code, country_code] =
        ADDRESS_MEMBERS.map(|member| text(&format!("/MainContact/Address/{member}/value")));
    let status = text("/Status/value").unwrap_or_default();
    Some(VendorRecord {
        vendor_code: text("/VendorID/value")?,
        address_code: address_code.to_owned(),
        name: text("/VendorName/value").unwrap_or_default(),
        address1,
        address2,
        city,
        state,
        postal_code,
        country_code,
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
    fn a_subaccount_row_becomes_a_level_one_item_and_keeps_its_active_flag() {
        let row = json!({"SubaccountCD": {"value": "000-100 "}, "Description": {"value": "Sales"},
            "Active": {"value": false}});
        let item = list_item(&row, "SubaccountCD", "Cost Centers").unwrap();
        assert_eq!(item.path, vec!["000-100".to_owned()]);
        assert_eq!((item.list.as_str(), item.value.as_str(), item.active), ("Cost Centers", "Sales", false));
        let bare = list_item(&json!({"SubaccountCD": {"value": "200"}}), "SubaccountCD", "CC").unwrap();
        assert_eq!((bare.value.as_str(), bare.active), ("200", true), "the code stands in for a missing text");
        assert!(list_item(&json!({"Description": {"value": "x"}}), "SubaccountCD", "CC").is_none());
    }

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
