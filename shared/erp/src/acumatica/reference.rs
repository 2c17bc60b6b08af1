//! Reference data out of Acumatica (reference-data-from-erp.md §1): the
//! vendors Concur's Vendor v3 keys by `VendorCode` + `AddressCode`, and
//! the codes of Concur lists (subaccounts, GL accounts, projects → tasks).
//!
//! `Vendor.LastModifiedDateTime` moves only with the vendor's own record
//! (`BAccount`), not with a contact or address edit, and the contract's
//! list GET has no `$orderby` (§1.2). So a changed-since read catches new
//! and renamed vendors between full reads, and the sync's full read (all
//! vendors, content hashes compared) catches the rest and the deletes.

use std::collections::HashMap;

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
/// of [`VendorRecord::address`](domain::reference::VendorRecord::address).
pub(super) const ADDRESS_MEMBERS: [&str; 6] =
    ["AddressLine1", "AddressLine2", "City", "State", "PostalCode", "Country"];
/// Rows per list read (the contract returns everything without `$top`, or
/// fails on a large table: reference §1.2).
const LIST_PAGE: usize = 500;

/// Statuses whose vendors Concur must not offer (deactivated there): the
/// ones Acumatica refuses a bill for, so an invoice coded to them would
/// only fail to post. `Hold Payments` still takes bills.
const INACTIVE_STATUSES: [&str; 2] = ["Inactive", "On Hold"];

/// The one project status whose project Concur offers [DEFAULT]: every
/// other (`In Planning`, `On Hold`, `Pending Approval`, `Suspended`,
/// `Completed`, `Canceled`) is a project Acumatica refuses new costs for,
/// so a code for it would only fail to post. An allow-list, so a status
/// this code does not know takes a project out rather than offer it.
const ACTIVE_PROJECT: &str = "Active";
/// The one task status whose task Concur offers, under an active project
/// [DEFAULT]: `In Planning` (not open for costs yet), `Completed` and
/// `Canceled` tasks are left out, as for projects.
const ACTIVE_TASK: &str = "Active";
const PROJECT_SELECT: &str = "ProjectID,Description,Status";
const PROJECT_SCREEN: &str = "PM301000";
const TASK_SELECT: &str = "ProjectID,ProjectTaskID,Description,Status";
const TASK_SCREEN: &str = "PM302000";

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
    /// Every subaccount, GL account or project with its tasks as items of
    /// Concur list `list`; `None` for a source Acumatica does not have.
    pub async fn list_items(
        &self,
        source: &ListSource,
        list: &str,
    ) -> Result<Option<Vec<ListItemRecord>>, AcumaticaError> {
        let (entity, screen, code_field) = match source {
            ListSource::Subaccounts => ("Subaccount", "GL203000", "SubaccountCD"),
            ListSource::Accounts => ("Account", "GL202500", "AccountCD"),
            ListSource::Projects => return self.project_items(list).await.map(Some),
            ListSource::CodePart(_) | ListSource::Dimension(_) => return Ok(None),
        };
        let query = list_query(&format!("{code_field},Description,Active"), None, None, Vec::new());
        let rows = self.all_rows(entity, screen, &query, LIST_PAGE, "a list read").await?;
        Ok(Some(rows.iter().filter_map(|row| list_item(row, code_field, list)).collect()))
    }

    /// Every project (level 1) and project task (level 2, under its
    /// project) as items of `list`. Two flat reads rather than `Project`
    /// with `$expand=Tasks`: each pages on its own (reference §1.2), where
    /// an expanded project would bring all its tasks in one row.
    async fn project_items(&self, list: &str) -> Result<Vec<ListItemRecord>, AcumaticaError> {
        let query = list_query(PROJECT_SELECT, None, None, Vec::new());
        let projects = self.all_rows("Project", PROJECT_SCREEN, &query, LIST_PAGE, "a project read").await?;
        let query = list_query(TASK_SELECT, None, None, Vec::new());
        let tasks = self.all_rows("ProjectTask", TASK_SCREEN, &query, LIST_PAGE, "a project task read").await?;
        Ok(project_tree(&projects, &tasks, list))
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

/// A subaccount or account row as a level-1 list item. `None` without a code.
fn list_item(row: &Value, code_field: &str, list: &str) -> Option<ListItemRecord> {
    let code = field_text(row, code_field)?;
    let active = row.pointer("/Active/value").and_then(Value::as_bool).unwrap_or(true);
    Some(item_at(row, list, vec![code], active))
}

/// Projects at level 1 and their tasks at level 2. A project is active
/// in its status ([`ACTIVE_PROJECT`]); a task in its own
/// ([`ACTIVE_TASK`]) and only under an active project, since Concur would
/// offer it under a project Acumatica refuses. A task sits under its
/// project's code as the project row spells it (Acumatica matches keys
/// without regard to case or padding), so it lands under that item; a
/// task of a project the read did not return (a project template's, or
/// a project created between the two reads: the next run has it) is left
/// out, as Concur holds no item without its parent. Rows without a code
/// are skipped (Acumatica always sends one).
fn project_tree(projects: &[Value], tasks: &[Value], list: &str) -> Vec<ListItemRecord> {
    let mut items = Vec::with_capacity(projects.len() + tasks.len());
    let mut parents: HashMap<String, (String, bool)> = HashMap::with_capacity(projects.len());
    for row in projects {
        let Some(code) = field_text(row, "ProjectID") else { continue };
        let active = field_text(row, "Status").as_deref() == Some(ACTIVE_PROJECT);
        parents.insert(code.to_uppercase(), (code.clone(), active));
        items.push(item_at(row, list, vec![code], active));
    }
    for row in tasks {
        let (Some(project), Some(task)) = (field_text(row, "ProjectID"), field_text(row, "ProjectTaskID")) else {
            continue;
        };
        let Some((project, project_active)) = parents.get(&project.to_uppercase()) else { continue };
        let active = *project_active && field_text(row, "Status").as_deref() == Some(ACTIVE_TASK);
        items.push(item_at(row, list, vec![project.clone(), task], active));
    }
    items
}

/// The item of `row` at `path` in `list`, its text the row's
/// `Description`, or the item's own code when there is none (Concur
/// requires a text).
fn item_at(row: &Value, list: &str, path: Vec<String>, active: bool) -> ListItemRecord {
    let code = path.last().cloned().unwrap_or_default();
    ListItemRecord { list: list.to_owned(), value: field_text(row, "Description").unwrap_or(code), path, active }
}

/// The text of `field` without Acumatica's trailing padding; `None` when
/// missing or blank.
fn field_text(row: &Value, field: &str) -> Option<String> {
    row.pointer(&format!("/{field}/value"))
        .and_then(Value::as_str)
        .map(str::trim_end)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
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
    let status = text("/Status/value").unwrap_or_default();
    let name = text("/VendorName/value").unwrap_or_default();
    let mut record = VendorRecord::named(text("/VendorID/value")?, address_code.to_owned(), name, limits);
    record.set_address(ADDRESS_MEMBERS.map(|member| text(&format!("/MainContact/Address/{member}/value"))));
    record.currency_code = text("/CurrencyID/value");
    record.tax_id = text("/TaxRegistrationID/value");
    record.active = !INACTIVE_STATUSES.contains(&status.as_str());
    Some(record)
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

    fn project(id: &str, status: &str) -> Value {
        json!({"ProjectID": {"value": id}, "Description": {"value": format!("Project {id}")},
            "Status": {"value": status}})
    }

    fn task(project: &str, id: &str, status: &str) -> Value {
        json!({"ProjectID": {"value": project}, "ProjectTaskID": {"value": id},
            "Description": {"value": format!("Task {id}")}, "Status": {"value": status}})
    }

    /// Path → (text, active) of the items.
    fn tree(items: &[ListItemRecord]) -> Vec<(String, &str, bool)> {
        items.iter().map(|i| (i.path.join("/"), i.value.as_str(), i.active)).collect()
    }

    #[test]
    fn projects_are_level_one_and_their_tasks_level_two_active_only_when_both_are() {
        let projects = [project("PRJ01  ", "Active"), project("PRJ02", "Completed"), project("PRJ03", "In Planning")];
        let tasks = [
            task("PRJ01", "T1", "Active"),
            task("prj01", "T2 ", "In Planning"),
            task("PRJ01", "T3", "Completed"),
            task("PRJ02", "T1", "Active"),
            task("PRJ03", "T1", "Active"),
            // A template's task: its project is not read.
            task("TEMPLATE", "T1", "Active"),
            json!({"ProjectID": {"value": "PRJ01"}, "Status": {"value": "Active"}}),
        ];
        let items = project_tree(&projects, &tasks, "Projects");
        assert!(items.iter().all(|i| i.list == "Projects"));
        assert_eq!(
            tree(&items),
            [
                ("PRJ01".into(), "Project PRJ01", true),
                ("PRJ02".into(), "Project PRJ02", false),
                ("PRJ03".into(), "Project PRJ03", false),
                ("PRJ01/T1".into(), "Task T1", true),
                // Under the project's own spelling of its code.
                ("PRJ01/T2".into(), "Task T2", false),
                ("PRJ01/T3".into(), "Task T3", false),
                // An active task of an inactive project is not offered.
                ("PRJ02/T1".into(), "Task T1", false),
                ("PRJ03/T1".into(), "Task T1", false),
            ]
        );
    }

    #[test]
    fn every_project_status_but_active_takes_the_project_out() {
        for status in ["On Hold", "Pending Approval", "Suspended", "Completed", "Canceled", "Something new"] {
            let items = project_tree(&[project("P", status)], &[task("P", "T", "Active")], "L");
            assert_eq!(items.iter().map(|i| i.active).collect::<Vec<_>>(), [false, false], "{status}");
        }
        let bare = json!({"ProjectID": {"value": "P"}, "Status": {"value": "Active"}});
        let items = project_tree(&[bare, json!({"Description": {"value": "no id"}})], &[], "L");
        assert_eq!(tree(&items), [("P".into(), "P", true)], "the code stands in for a missing text");
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
