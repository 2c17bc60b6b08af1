//! Purchase orders (screen PO301000) and purchase receipts (PO302000).
//!
//! Tests seed them as a user enters, approves and releases them on screen,
//! and the connector reads them through the API like every other entity
//! (`$select $expand $filter $top $skip`, `Details` only when expanded,
//! `LastModifiedDateTime` moving with every change). The connector never
//! writes them, so a PUT, DELETE or action answers 501 rather than pretend
//! to the screens' rules (approval, a release updating the order's
//! received quantities) that are not simulated.

use axum::{http::StatusCode, response::Response};
use rust_decimal::Decimal;
use serde_json::Value;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use super::errors::http_error;
use super::schema::{EntityDef, Kind};
use super::state::{Record, Tenant, Val, same_text};
use super::{AcumaticaSim, entity, validate};

/// Order types of the `Default` endpoint (`POOrder.OrderType`).
pub const ORDER_TYPES: [&str; 4] = ["Normal", "Drop Ship", "Blanket", "Standard"];
/// Order statuses as the contract shows them; a new order is `On Hold`.
pub const ORDER_STATUSES: [&str; 9] = [
    "On Hold",
    "Pending Approval",
    "Rejected",
    "Pending Printing",
    "Pending Email",
    "Open",
    "Completed",
    "Canceled",
    "Closed",
];
/// Receipt types (`POReceipt.ReceiptType`).
pub const RECEIPT_TYPES: [&str; 3] = ["Receipt", "Return", "Transfer Receipt"];
/// Receipt statuses: `On Hold` and `Balanced` before the release; a
/// released receipt that is cancelled (which posts a return) is `Canceled`.
pub const RECEIPT_STATUSES: [&str; 4] = ["On Hold", "Balanced", "Released", "Canceled"];

/// A purchase order to seed.
#[derive(Debug, Clone)]
pub struct PurchaseOrderSpec {
    /// One of [`ORDER_TYPES`].
    pub order_type: String,
    pub number: String,
    pub vendor: String,
    pub description: Option<String>,
    pub currency: String,
    pub date: Date,
    /// One of [`ORDER_STATUSES`].
    pub status: String,
    /// Numbered 1, 2, … in this order (`LineNbr`).
    pub lines: Vec<PurchaseOrderLineSpec>,
}

/// One line of a seeded purchase order.
#[derive(Debug, Clone)]
pub struct PurchaseOrderLineSpec {
    /// `LineDescription`.
    pub description: Option<String>,
    pub quantity: Decimal,
    pub unit_cost: Decimal,
    pub uom: String,
    /// A GL account; when the tenant has it, the line's `Description`
    /// shows the account's description, as Acumatica's contract does.
    pub account: String,
}

/// A purchase receipt to seed.
#[derive(Debug, Clone)]
pub struct PurchaseReceiptSpec {
    /// One of [`RECEIPT_TYPES`].
    pub receipt_type: String,
    pub number: String,
    pub vendor: String,
    pub date: Date,
    /// One of [`RECEIPT_STATUSES`].
    pub status: String,
    /// Numbered 1, 2, … in this order (`LineNbr`).
    pub lines: Vec<ReceiptLineSpec>,
}

/// One line of a seeded receipt: what it received of which order line.
#[derive(Debug, Clone)]
pub struct ReceiptLineSpec {
    /// The order's type and number and the line's `LineNbr`; `None` for a
    /// line received without an order.
    pub order: Option<(String, String, i64)>,
    pub quantity: Decimal,
    pub uom: String,
}

fn midnight(date: Date) -> Val {
    Val::Date(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc())
}

/// The index of the stored record of `kind` whose key fields are `keys`
/// (compared as Acumatica compares keys, without regard to case).
pub(super) fn find<const N: usize>(tenant: &Tenant, kind: Kind, keys: [(&str, &str); N]) -> Option<usize> {
    tenant.records(kind).iter().position(|r| keys.iter().all(|(k, v)| r.str(k).is_some_and(|x| same_text(x, v))))
}

/// The order's lines as stored: `LineNbr` from 1, the extended cost, and
/// the account's description in `Description` (the contract's trap).
fn order_lines(tenant: &Tenant, lines: &[PurchaseOrderLineSpec]) -> Vec<Record> {
    let mut stored = Vec::with_capacity(lines.len());
    for (number, spec) in (1_i64..).zip(lines) {
        let mut line = Record::with_new_id();
        line.set("LineNbr", Val::Int(number));
        line.set_str("LineType", "Non-Stock");
        if let Some(text) = &spec.description {
            line.set_str("LineDescription", text.as_str());
        }
        line.set("OrderQty", Val::Dec(spec.quantity));
        line.set("UnitCost", Val::Dec(spec.unit_cost));
        line.set("ExtendedCost", Val::Dec(spec.quantity * spec.unit_cost));
        line.set_str("UOM", spec.uom.as_str());
        line.set_str("Account", spec.account.as_str());
        let account = validate::find_by_cd(tenant, Kind::Account, "AccountCD", &spec.account);
        if let Some(text) = account.and_then(|a| a.str("Description")) {
            line.set_str("Description", text);
        }
        for flag in ["Completed", "Cancelled"] {
            line.set(flag, Val::Bool(false));
        }
        stored.push(line);
    }
    stored
}

/// A receipt's lines, each checked to name a line of a stored order.
fn receipt_lines(tenant: &Tenant, receipt: &str, lines: &[ReceiptLineSpec]) -> Vec<Record> {
    let mut stored = Vec::with_capacity(lines.len());
    for (number, spec) in (1_i64..).zip(lines) {
        let mut line = Record::with_new_id();
        line.set("LineNbr", Val::Int(number));
        if let Some((order_type, order, order_line)) = &spec.order {
            let index = find(tenant, Kind::PurchaseOrder, [("Type", order_type), ("OrderNbr", order)]);
            let held = index.map(|i| &tenant.records(Kind::PurchaseOrder)[i]);
            let has_line = held.is_some_and(|o| {
                o.lines("Details").iter().any(|l| l.values.get("LineNbr") == Some(&Val::Int(*order_line)))
            });
            assert!(
                has_line,
                "receipt {receipt} names line {order_line} of {order_type} order {order}, which is not seeded"
            );
            line.set_str("POOrderType", order_type.as_str());
            line.set_str("POOrderNbr", order.as_str());
            line.set("POLineNbr", Val::Int(*order_line));
        }
        line.set("ReceiptQty", Val::Dec(spec.quantity));
        line.set_str("UOM", spec.uom.as_str());
        stored.push(line);
    }
    stored
}

impl AcumaticaSim {
    /// Seeds a purchase order (panics on an unknown type or status, or a
    /// key seeded twice: a test setup error).
    pub fn add_purchase_order(&self, tenant: &str, order: &PurchaseOrderSpec) {
        assert!(ORDER_TYPES.contains(&order.order_type.as_str()), "unknown order type {}", order.order_type);
        assert!(ORDER_STATUSES.contains(&order.status.as_str()), "unknown order status {}", order.status);
        self.seed(tenant, Kind::PurchaseOrder, |t, rec| {
            let key = [("Type", order.order_type.as_str()), ("OrderNbr", order.number.as_str())];
            assert!(find(t, Kind::PurchaseOrder, key).is_none(), "order {} seeded twice", order.number);
            let lines = order_lines(t, &order.lines);
            let total = lines.iter().filter_map(|l| l.dec("ExtendedCost")).sum::<Decimal>();
            rec.set_str("Type", order.order_type.as_str());
            rec.set_str("OrderNbr", order.number.as_str());
            rec.set_str("VendorID", order.vendor.as_str());
            rec.set_str("Location", "MAIN");
            rec.set_str("CurrencyID", order.currency.as_str());
            rec.set("Date", midnight(order.date));
            if let Some(text) = &order.description {
                rec.set_str("Description", text.as_str());
            }
            rec.set_str("Status", order.status.as_str());
            rec.set("Hold", Val::Bool(order.status == "On Hold"));
            if let Some(branch) = t.default_branch() {
                rec.set_str("Branch", branch);
            }
            rec.set("OrderTotal", Val::Dec(total));
            rec.set("TaxTotal", Val::Dec(Decimal::ZERO));
            rec.set("CreatedDateTime", Val::Date(OffsetDateTime::now_utc()));
            rec.collections.insert("Details".into(), lines);
        });
    }

    /// Moves an order to `status` as the screen's actions do (its
    /// `LastModifiedDateTime` moves); `false` when there is no such order.
    pub fn set_purchase_order_status(&self, tenant: &str, order_type: &str, number: &str, status: &str) -> bool {
        assert!(ORDER_STATUSES.contains(&status), "unknown order status {status}");
        let key = [("Type", order_type), ("OrderNbr", number)];
        self.change(tenant, Kind::PurchaseOrder, key, |rec| {
            rec.set_str("Status", status);
            rec.set("Hold", Val::Bool(status == "On Hold"));
        })
    }

    /// Seeds a purchase receipt whose lines name seeded order lines
    /// (panics otherwise, or on an unknown type or status).
    pub fn add_purchase_receipt(&self, tenant: &str, receipt: &PurchaseReceiptSpec) {
        assert!(RECEIPT_TYPES.contains(&receipt.receipt_type.as_str()), "unknown type {}", receipt.receipt_type);
        assert!(RECEIPT_STATUSES.contains(&receipt.status.as_str()), "unknown receipt status {}", receipt.status);
        self.seed(tenant, Kind::PurchaseReceipt, |t, rec| {
            let key = [("Type", receipt.receipt_type.as_str()), ("ReceiptNbr", receipt.number.as_str())];
            assert!(find(t, Kind::PurchaseReceipt, key).is_none(), "receipt {} seeded twice", receipt.number);
            let lines = receipt_lines(t, &receipt.number, &receipt.lines);
            rec.set_str("Type", receipt.receipt_type.as_str());
            rec.set_str("ReceiptNbr", receipt.number.as_str());
            rec.set_str("Status", receipt.status.as_str());
            rec.set("Hold", Val::Bool(receipt.status == "On Hold"));
            rec.set("Date", midnight(receipt.date));
            rec.set_str("VendorID", receipt.vendor.as_str());
            if let Some(branch) = t.default_branch() {
                rec.set_str("Branch", branch);
            }
            rec.set("TotalQty", Val::Dec(receipt.lines.iter().map(|l| l.quantity).sum()));
            rec.set("CreatedDateTime", Val::Date(OffsetDateTime::now_utc()));
            rec.collections.insert("Details".into(), lines);
        });
    }

    /// Moves a receipt of type `Receipt` to `status` (released, or
    /// cancelled after its release); `false` when there is no such receipt.
    pub fn set_purchase_receipt_status(&self, tenant: &str, number: &str, status: &str) -> bool {
        assert!(RECEIPT_STATUSES.contains(&status), "unknown receipt status {status}");
        self.change(tenant, Kind::PurchaseReceipt, [("Type", "Receipt"), ("ReceiptNbr", number)], |rec| {
            rec.set_str("Status", status);
            rec.set("Hold", Val::Bool(status == "On Hold"));
        })
    }

    /// The tenant's purchase orders with their lines.
    pub fn purchase_orders(&self, tenant: &str) -> Vec<Value> {
        entity::read_back(&self.lock(), tenant, Kind::PurchaseOrder)
    }

    /// The tenant's purchase receipts with their lines.
    pub fn purchase_receipts(&self, tenant: &str) -> Vec<Value> {
        entity::read_back(&self.lock(), tenant, Kind::PurchaseReceipt)
    }

    /// Sets every order's and receipt's `LastModifiedDateTime` to `at`
    /// (documents that have not changed for a while, for changed-since reads).
    pub fn backdate_purchasing(&self, tenant: &str, at: OffsetDateTime) {
        let mut site = self.lock();
        let Some(index) = site.tenant_index(tenant) else { return };
        for kind in [Kind::PurchaseOrder, Kind::PurchaseReceipt] {
            for rec in site.tenants[index].records_mut(kind).iter_mut() {
                rec.set("LastModifiedDateTime", Val::Date(at));
            }
        }
    }

    /// Applies `edit` to the record of `kind` with `key` and moves its
    /// `LastModifiedDateTime`; `false` when the tenant or record is unknown.
    pub(super) fn change<const N: usize>(
        &self,
        tenant: &str,
        kind: Kind,
        key: [(&str, &str); N],
        edit: impl FnOnce(&mut Record),
    ) -> bool {
        let mut site = self.lock();
        let Some(index) = site.tenant_index(tenant) else { return false };
        let tenant = &mut site.tenants[index];
        let Some(i) = find(tenant, kind, key) else { return false };
        let rec = &mut tenant.records_mut(kind)[i];
        edit(rec);
        rec.set("LastModifiedDateTime", Val::Date(OffsetDateTime::now_utc()));
        true
    }
}

/// 501 for a write to an entity the simulator only seeds.
pub(crate) fn not_simulated(def: &EntityDef, method: &str) -> Response {
    let message = format!(
        "The simulator does not {method} {} records through the API; tests seed them with AcumaticaSim's helpers.",
        def.name
    );
    http_error(StatusCode::NOT_IMPLEMENTED, &message, "PX.Api.ContractBased.NotSimulated")
}
