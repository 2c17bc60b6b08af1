//! Test-side inspection of what the simulator handed out.

use serde_json::Value;
use time::OffsetDateTime;

use super::ConcurSim;
use super::list_store::{ListBook, ListItemRecord, ListRecord, MAX_LIST_LEVELS, NewItem};
use super::state::{ReferenceWrite, ReferenceWriteKind};
use super::vendor_store::{VendorInput, VendorRecord};

impl ConcurSim {
    /// Every credential this simulator ever issued or knows: the app's
    /// client secret, request tokens, refresh tokens (live or dead) and
    /// access tokens. Tests scan logs, pages, tables and queues for them.
    pub fn issued_credentials(&self) -> Vec<String> {
        let state = self.lock();
        let mut all = vec![state.app.client_secret.clone()];
        all.extend(state.request_tokens.keys().cloned());
        all.extend(state.refresh_tokens.keys().cloned());
        all.extend(state.access_tokens.keys().cloned());
        all
    }
}

// ------------------------------------------------------- reference data

impl ConcurSim {
    /// Offers or withdraws Invoice Vendor v3 for a company (withdrawn: every call is a 404,
    /// as in the China datacenter, whose companies start withdrawn).
    pub fn set_vendor_api_available(&self, company: &str, available: bool) {
        self.lock().vendor_api.insert(company.to_owned(), available);
    }

    /// The company's vendors, by `VendorCode` then `AddressCode`.
    pub fn vendors(&self, company: &str) -> Vec<VendorRecord> {
        self.lock().vendors.get(company).map(|book| book.all().cloned().collect()).unwrap_or_default()
    }

    /// One vendor remit address, if the company has it.
    pub fn vendor(&self, company: &str, vendor_code: &str, address_code: &str) -> Option<VendorRecord> {
        self.lock().vendors.get(company)?.get(vendor_code, address_code).cloned()
    }

    /// Seeds a vendor as `POST /api/v3.0/invoice/vendors` would create it (same checks;
    /// `record` is one Vendor object). Not logged as a write. Errors carry the `StatusList` message.
    pub fn add_vendor(&self, company: &str, record: Value) -> Result<VendorRecord, String> {
        let input = VendorInput::parse(&record).map_err(|r| r.message)?;
        let mut state = self.lock();
        let book = state.vendors.entry(company.to_owned()).or_default();
        book.create(input).cloned().map_err(|r| r.message)
    }

    /// Changes a vendor as `PUT /api/v3.0/invoice/vendors` would (an admin's
    /// edit in Concur: same checks, fields not given kept). Not logged as a write.
    pub fn update_vendor(&self, company: &str, record: Value) -> Result<VendorRecord, String> {
        let input = VendorInput::parse(&record).map_err(|r| r.message)?;
        let mut state = self.lock();
        let book = state.vendors.entry(company.to_owned()).or_default();
        book.update(input).cloned().map_err(|r| r.message)
    }

    /// Seeds a purchase order as `POST /api/v3.0/invoice/purchaseorders` would create it
    /// (same checks: its vendor must exist). Not logged as a write.
    pub fn add_purchase_order(&self, company: &str, po: Value) -> Result<String, String> {
        let mut state = self.lock();
        super::purchase_order::write_purchase_order(&mut state, company, &po, true)
            .map_err(|r| format!("{} (code {})", r.message, r.code))
    }

    /// The company's goods receipts as stored, by (order, line ExternalID, receipt number).
    pub fn po_receipts(&self, company: &str) -> Vec<(super::purchase_order::ReceiptKey, Value)> {
        let state = self.lock();
        state
            .po_receipts
            .get(company)
            .map(|b| b.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Every purchase order of the company, by number.
    pub fn purchase_orders(&self, company: &str) -> Vec<Value> {
        self.lock().purchase_orders.get(company).map(|b| b.values().cloned().collect()).unwrap_or_default()
    }

    /// The company's purchase order `number` as stored.
    pub fn purchase_order(&self, company: &str, number: &str) -> Option<Value> {
        self.lock().purchase_orders.get(company)?.get(number).cloned()
    }

    /// Vendors created or updated at or after `since` (Vendor v3 itself has no such filter).
    pub fn vendors_changed_since(&self, company: &str, since: OffsetDateTime) -> Vec<VendorRecord> {
        self.vendors(company).into_iter().filter(|v| v.modified_at >= since).collect()
    }

    /// Back-dates (or forwards) a vendor's last-modified time. False if unknown.
    pub fn set_vendor_modified_at(
        &self,
        company: &str,
        vendor_code: &str,
        address_code: &str,
        at: OffsetDateTime,
    ) -> bool {
        let mut state = self.lock();
        let record = state.vendors.get_mut(company).and_then(|b| b.get_mut(vendor_code, address_code));
        record.map(|r| r.modified_at = at).is_some()
    }

    /// Creates a list with `level_count` levels (1..=10) in the Normal category; returns its id.
    /// Errors when the company already has a list of that name.
    pub fn create_list(&self, company: &str, name: &str, level_count: u32) -> Result<String, String> {
        if !(1..=MAX_LIST_LEVELS).contains(&level_count) {
            return Err(format!("a list has 1 to {MAX_LIST_LEVELS} levels, not {level_count}"));
        }
        let mut state = self.lock();
        let book = state.list_books.entry(company.to_owned()).or_default();
        let list = book.create_list(name, level_count, None, "TEXT", "(CODE) TEXT").map_err(|e| e.message)?;
        Ok(list.id.clone())
    }

    /// The company's lists, in creation order.
    pub fn lists(&self, company: &str) -> Vec<ListRecord> {
        self.lock().list_books.get(company).map(|b| b.lists().to_vec()).unwrap_or_default()
    }

    /// Items live in the list (every level), by long code.
    pub fn list_items(&self, company: &str, list_id: &str) -> Vec<ListItemRecord> {
        let mut items: Vec<ListItemRecord> =
            self.all_list_items(company).into_iter().filter(|i| i.lists.iter().any(|l| l == list_id)).collect();
        items.sort_by(|a, b| a.code.cmp(&b.code));
        items
    }

    /// Every item the company ever had, deleted ones included.
    pub fn all_list_items(&self, company: &str) -> Vec<ListItemRecord> {
        self.lock().list_books.get(company).map(ListBook::item_records).unwrap_or_default()
    }

    /// One item (deleted or not).
    pub fn list_item(&self, company: &str, item_id: &str) -> Option<ListItemRecord> {
        self.lock().list_books.get(company)?.item_record(item_id)
    }

    /// Seeds an item as `POST /list/v4/items` would create it (same checks); returns its id.
    pub fn add_list_item(
        &self,
        company: &str,
        list_id: &str,
        parent_id: Option<&str>,
        short_code: &str,
        value: &str,
    ) -> Result<String, String> {
        let new = NewItem {
            list_id: list_id.to_owned(),
            short_code: short_code.to_owned(),
            value: value.to_owned(),
            parent_id: parent_id.map(str::to_owned),
            parent_code: None,
        };
        let mut state = self.lock();
        let item = state.list_books.entry(company.to_owned()).or_default().create_item(new).map_err(|e| e.message)?;
        Ok(item["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Shares an item (and its descendants) into another list, as Concur's shared lists do.
    /// False when the item or list is unknown or the item's parent is not in that list.
    pub fn share_list_item(&self, company: &str, item_id: &str, list_id: &str) -> bool {
        self.lock().list_books.get_mut(company).is_some_and(|b| b.share_item(item_id, list_id))
    }

    /// Items created, updated or deleted at or after `since` (List Item v4 has no such filter).
    pub fn list_items_changed_since(&self, company: &str, since: OffsetDateTime) -> Vec<ListItemRecord> {
        self.all_list_items(company).into_iter().filter(|i| i.modified_at >= since).collect()
    }

    /// Back-dates (or forwards) an item's last-modified time. False if unknown.
    pub fn set_list_item_modified_at(&self, company: &str, item_id: &str, at: OffsetDateTime) -> bool {
        self.lock().list_books.get_mut(company).is_some_and(|b| b.set_item_modified_at(item_id, at))
    }

    /// Every vendor/list/list-item write the company made over HTTP, oldest first (refused ones too).
    pub fn reference_writes(&self, company: &str) -> Vec<ReferenceWrite> {
        self.lock().reference_writes.get(company).cloned().unwrap_or_default()
    }

    /// How many writes of `kind` the company made (`succeeded` = only accepted / only refused).
    pub fn reference_write_count(&self, company: &str, kind: ReferenceWriteKind, succeeded: bool) -> usize {
        self.reference_writes(company).iter().filter(|w| w.kind == kind && w.succeeded == succeeded).count()
    }
}
