//! Purchase orders and their goods receipts out of Acumatica, for Concur's
//! Purchase Order v3 and PO Receipt v3 (reference-data-from-erp.md §1.1,
//! §1.2): read like vendors ([`super::reference`]), always with `$select`
//! and `$expand=Details`, paged with `$top`/`$skip`, and between full reads
//! only what changed after the cursor (`LastModifiedDateTime`).
//!
//! Which orders and receipts count is decided in the `$filter`, not after
//! the read: every row of a page is then a record, so a short page still
//! means the end of the read to the caller that pages.

use std::str::FromStr;

use domain::reference::{PoReceiptRecord, PurchaseOrderLine, PurchaseOrderRecord, ReadPage};
use rust_decimal::Decimal;
use serde_json::Value;
use time::Date;

use super::posting::text;
use super::reference::{list_query, paged};
use super::{AcumaticaClient, AcumaticaError};
use crate::odata::literal;

/// The order types read [DEFAULT]. Concur keys a purchase order by its
/// number alone, while Acumatica keys it by type and number. Normal and
/// drop-ship orders are the ones goods are received and bills matched
/// against, and they share the regular numbering sequence, so their
/// numbers do not collide; blanket and standard orders are agreements and
/// templates (what is received comes on the normal orders released from
/// them) with sequences of their own, whose numbers may repeat a normal
/// order's. Reading them would send two orders under one Concur number.
pub const ORDER_TYPES_READ: [&str; 2] = ["Normal", "Drop Ship"];
/// A released order still being received and billed: `Transmitted` in Concur.
const OPEN: &str = "Open";
/// Released orders that are done: `Closed` in Concur [DEFAULT]. Every
/// other status (On Hold, Pending Approval, Rejected, Pending Printing,
/// Pending Email) is an order not yet released, left out of the read.
const CLOSED: [&str; 3] = ["Completed", "Closed", "Canceled"];
const ORDER_SELECT: &str = "Type,OrderNbr,Description,VendorID,CurrencyID,Date,Status,LastModifiedDateTime,\
Details/LineNbr,Details/LineDescription,Details/OrderQty,Details/UnitCost,Details/UOM,Details/Account";
const ORDER_SCREEN: &str = "PO301000";

/// The receipt type that receives goods [DEFAULT]: returns and transfer
/// receipts are not receipts of an order's goods.
const RECEIPT: &str = "Receipt";
/// A receipt that counts (`active`); a released one cancelled later
/// (any status but these and [`UNRELEASED`]) comes back inactive.
const RELEASED: &str = "Released";
/// A receipt not released yet: not read [DEFAULT].
const UNRELEASED: [&str; 2] = ["On Hold", "Balanced"];
const RECEIPT_SELECT: &str = "Type,ReceiptNbr,Status,Date,LastModifiedDateTime,\
Details/POOrderType,Details/POOrderNbr,Details/POLineNbr,Details/ReceiptQty,Details/UOM";
const RECEIPT_SCREEN: &str = "PO302000";

const DETAILS: &str = "Details";
const ORDER_READ: &str = "a purchase order read";
const RECEIPT_READ: &str = "a purchase receipt read";

impl AcumaticaClient {
    /// One page of purchase orders as Concur purchase orders: released
    /// ones of the [`ORDER_TYPES_READ`], open or closed, with every line.
    /// `address_code` is the vendor address every order names (the
    /// vendors' [DEFAULT] `MAIN`, reference §1.1).
    pub async fn purchase_orders_page(
        &self,
        request: ReadPage,
        address_code: &str,
    ) -> Result<Vec<PurchaseOrderRecord>, AcumaticaError> {
        let statuses: Vec<&str> = std::iter::once(OPEN).chain(CLOSED).collect();
        let filters = vec![any_of("Type", &ORDER_TYPES_READ), any_of("Status", &statuses)];
        let query = list_query(ORDER_SELECT, Some(DETAILS), request.changed_after, filters);
        let query = paged(query, request.skip, request.top);
        let what = format!("the purchase order read (from row {})", request.skip);
        let rows = self.list_rows("PurchaseOrder", ORDER_SCREEN, &query, (ORDER_READ, &what)).await?;
        let mut orders = Vec::with_capacity(rows.len());
        for row in &rows {
            orders.extend(purchase_order(row, address_code)?);
        }
        Ok(orders)
    }

    /// The goods receipts of order lines, one record per receipt and order
    /// line: released receipts active, those cancelled after their release
    /// inactive. One receipt holds any number of lines, so a page of
    /// receipts is no page of records: the first page (`skip` 0) reads
    /// every receipt in the window, `top` receipts a call, and a later
    /// page is empty, so a caller that pages until a short page reads each
    /// once.
    pub async fn po_receipts_page(&self, request: ReadPage) -> Result<Vec<PoReceiptRecord>, AcumaticaError> {
        if request.skip > 0 {
            return Ok(Vec::new());
        }
        let filters = vec![format!("Type eq {}", literal(RECEIPT)), none_of("Status", &UNRELEASED)];
        let query = list_query(RECEIPT_SELECT, Some(DETAILS), request.changed_after, filters);
        let rows = self.all_rows("PurchaseReceipt", RECEIPT_SCREEN, &query, request.top, RECEIPT_READ).await?;
        let mut records = Vec::new();
        for row in &rows {
            records.extend(receipt_records(row)?);
        }
        Ok(records)
    }
}

/// `(field eq 'a' or field eq 'b')`.
fn any_of(field: &str, values: &[&str]) -> String {
    let each: Vec<String> = values.iter().map(|v| format!("{field} eq {}", literal(v))).collect();
    format!("({})", each.join(" or "))
}

/// `field ne 'a' and field ne 'b'`.
fn none_of(field: &str, values: &[&str]) -> String {
    let each: Vec<String> = values.iter().map(|v| format!("{field} ne {}", literal(v))).collect();
    each.join(" and ")
}

/// The id of an order line in Concur, on the order's line and on every
/// receipt of it: unique across the order types read.
fn line_external_id(order_type: &str, order: &str, line: &str) -> String {
    format!("{order_type}-{order}-{line}")
}

/// A text member without Acumatica's padding; `None` when empty.
fn trimmed<'a>(row: &'a Value, field: &str) -> Option<&'a str> {
    text(row, field).map(str::trim_end).filter(|t| !t.is_empty())
}

/// The date of a `DateTimeValue` (date-only values come as midnight,
/// with or without an offset): its first ten characters.
fn date(row: &Value, field: &str) -> Option<Date> {
    let raw = text(row, field)?.trim();
    Date::parse(raw.get(..10).unwrap_or(raw), time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// A decimal member read exactly from its JSON text (never through f64).
fn decimal(row: &Value, field: &str) -> Result<Option<Decimal>, String> {
    let raw = match row.get(field).and_then(|v| v.get("value")) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(other) => return Err(format!("`{field}` is `{other}`, not a number")),
    };
    Decimal::from_str(&raw)
        .or_else(|_| Decimal::from_scientific(&raw))
        .map(Some)
        .map_err(|_| format!("`{field}` is `{raw}`, not a decimal Concur can hold"))
}

/// An integer member (`LineNbr`) as its text.
fn integer(row: &Value, field: &str) -> Option<String> {
    row.get(field)?.get("value")?.as_i64().map(|n| n.to_string())
}

fn malformed(what: &'static str, record: &str, problem: impl std::fmt::Display) -> AcumaticaError {
    AcumaticaError::Malformed {
        what,
        detail: format!(
            "{record} {problem}; check that the endpoint maps it (an extended endpoint may have dropped the field)"
        ),
    }
}

/// An order row as a Concur purchase order; `None` for an order not read
/// (not yet released, or of a type not read), which the `$filter` already
/// leaves out. The description names it, else its number.
fn purchase_order(row: &Value, address_code: &str) -> Result<Option<PurchaseOrderRecord>, AcumaticaError> {
    let closed = match trimmed(row, "Status") {
        Some(OPEN) => false,
        Some(status) if CLOSED.contains(&status) => true,
        _ => return Ok(None),
    };
    let Some(order_type) = trimmed(row, "Type").filter(|t| ORDER_TYPES_READ.contains(t)) else { return Ok(None) };
    let Some(number) = trimmed(row, "OrderNbr") else {
        return Err(malformed(ORDER_READ, &format!("a {order_type} purchase order"), "has no `OrderNbr`"));
    };
    let label = format!("purchase order `{order_type} {number}`");
    let order_date = date(row, "Date").ok_or_else(|| malformed(ORDER_READ, &label, "has no `Date`"))?;
    let lines = row.get(DETAILS).and_then(Value::as_array).into_iter().flatten();
    let lines: Vec<PurchaseOrderLine> =
        lines.map(|line| order_line(line, order_type, number, &label)).collect::<Result<_, _>>()?;
    Ok(Some(PurchaseOrderRecord {
        number: number.to_owned(),
        name: trimmed(row, "Description").unwrap_or(number).to_owned(),
        vendor_code: trimmed(row, "VendorID").unwrap_or_default().to_owned(),
        vendor_address_code: address_code.to_owned(),
        currency_code: trimmed(row, "CurrencyID").unwrap_or_default().to_owned(),
        order_date,
        closed,
        lines,
    }))
}

/// One order line. Its text is `LineDescription`: the line's
/// `Description` is its expense account's description (reference §1.1).
fn order_line(line: &Value, order_type: &str, order: &str, label: &str) -> Result<PurchaseOrderLine, AcumaticaError> {
    let Some(line_number) = integer(line, "LineNbr") else {
        return Err(malformed(ORDER_READ, label, "has a line without `LineNbr`"));
    };
    let line_label = format!("line {line_number} of {label}");
    let amount = |field: &str| match decimal(line, field) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(malformed(ORDER_READ, &line_label, format_args!("has no `{field}`"))),
        Err(problem) => Err(malformed(ORDER_READ, &line_label, format_args!("is unreadable: {problem}"))),
    };
    Ok(PurchaseOrderLine {
        external_id: line_external_id(order_type, order, &line_number),
        description: trimmed(line, "LineDescription").map(str::to_owned),
        quantity: amount("OrderQty")?,
        unit_price: amount("UnitCost")?,
        unit_of_measure: trimmed(line, "UOM").map(str::to_owned),
        account_code: trimmed(line, "Account").map(str::to_owned),
        line_number,
    })
}

/// A receipt row as one record per order line it received: released,
/// active; cancelled after its release, inactive; not released, none.
/// Lines received without an order, or on an order of a type not read,
/// are no receipts Concur can match.
fn receipt_records(row: &Value) -> Result<Vec<PoReceiptRecord>, AcumaticaError> {
    if trimmed(row, "Type") != Some(RECEIPT) {
        return Ok(Vec::new());
    }
    let Some(number) = trimmed(row, "ReceiptNbr") else {
        return Err(malformed(RECEIPT_READ, "a purchase receipt", "has no `ReceiptNbr`"));
    };
    let label = format!("purchase receipt `{number}`");
    let Some(status) = trimmed(row, "Status") else { return Err(malformed(RECEIPT_READ, &label, "has no `Status`")) };
    if UNRELEASED.contains(&status) {
        return Ok(Vec::new());
    }
    let received_date = date(row, "Date").ok_or_else(|| malformed(RECEIPT_READ, &label, "has no `Date`"))?;
    let mut records: Vec<PoReceiptRecord> = Vec::new();
    for line in row.get(DETAILS).and_then(Value::as_array).into_iter().flatten() {
        let Some(received) = received_line(line, &label)? else { continue };
        let record = PoReceiptRecord {
            po_number: received.order.to_owned(),
            line_external_id: received.external_id,
            receipt_number: number.to_owned(),
            received_date,
            quantity: received.quantity,
            unit_of_measure: received.unit,
            active: status == RELEASED,
        };
        add_line(&mut records, record, &label)?;
    }
    Ok(records)
}

/// What one receipt line received of an order line.
struct Received<'a> {
    order: &'a str,
    external_id: String,
    quantity: Decimal,
    unit: Option<String>,
}

/// A receipt line's order line and quantity; `None` for a line of no
/// order read.
fn received_line<'a>(line: &'a Value, label: &str) -> Result<Option<Received<'a>>, AcumaticaError> {
    let (Some(order_type), Some(order)) = (trimmed(line, "POOrderType"), trimmed(line, "POOrderNbr")) else {
        return Ok(None);
    };
    if !ORDER_TYPES_READ.contains(&order_type) {
        return Ok(None);
    }
    let Some(order_line) = integer(line, "POLineNbr") else {
        return Err(malformed(RECEIPT_READ, label, format_args!("has a line of order `{order}` without `POLineNbr`")));
    };
    let quantity = match decimal(line, "ReceiptQty") {
        Ok(Some(quantity)) => quantity,
        Ok(None) => {
            return Err(malformed(RECEIPT_READ, label, format_args!("has no `ReceiptQty` for order `{order}`")));
        }
        Err(problem) => return Err(malformed(RECEIPT_READ, label, format_args!("is unreadable: {problem}"))),
    };
    let external_id = line_external_id(order_type, order, &order_line);
    Ok(Some(Received { order, external_id, quantity, unit: trimmed(line, "UOM").map(str::to_owned) }))
}

/// Adds a receipt line to the receipt's records: a second line of the
/// same order line (split across locations or lots) adds its quantity,
/// since Concur holds one receipt per order line and receipt number.
/// One in another unit cannot be added and is left out, with a warning.
fn add_line(records: &mut Vec<PoReceiptRecord>, line: PoReceiptRecord, label: &str) -> Result<(), AcumaticaError> {
    let Some(held) = records.iter_mut().find(|r| r.line_external_id == line.line_external_id) else {
        records.push(line);
        return Ok(());
    };
    if held.unit_of_measure != line.unit_of_measure {
        tracing::warn!(
            receipt = %label, line = %line.line_external_id, units = ?(&held.unit_of_measure, &line.unit_of_measure),
            "a receipt line in a second unit of measure is left out: Concur holds one quantity per order line"
        );
        return Ok(());
    }
    held.quantity = held.quantity.checked_add(line.quantity).ok_or_else(|| {
        malformed(
            RECEIPT_READ,
            label,
            format_args!("receives more of `{}` than a decimal holds", line.line_external_id),
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order_row(status: &str) -> Value {
        json!({
            "Type": {"value": "Normal"}, "OrderNbr": {"value": "PO000123 "}, "Status": {"value": status},
            "VendorID": {"value": "V000123"}, "CurrencyID": {"value": "USD"},
            "Date": {"value": "2024-03-15T00:00:00+00:00"}, "Description": {"value": ""},
            "Details": [{"LineNbr": {"value": 1}, "LineDescription": {"value": "Laptops"},
                "Description": {"value": "Computer equipment"}, "OrderQty": {"value": 3.0},
                "UnitCost": {"value": 1234.5678}, "UOM": {"value": "EA"}, "Account": {"value": "60100"}}],
        })
    }

    #[test]
    fn an_order_row_becomes_a_concur_order_with_exact_amounts_and_the_line_text() {
        let order = purchase_order(&order_row("Open"), "MAIN").unwrap().unwrap();
        assert_eq!((order.number.as_str(), order.name.as_str()), ("PO000123", "PO000123"), "the number names it");
        assert_eq!(order.order_date, time::macros::date!(2024 - 03 - 15));
        assert!(!order.closed);
        let line = &order.lines[0];
        assert_eq!(line.external_id, "Normal-PO000123-1");
        assert_eq!(line.description.as_deref(), Some("Laptops"), "not the account's description");
        assert_eq!(line.unit_price.to_string(), "1234.5678");
        assert!(purchase_order(&order_row("Completed"), "MAIN").unwrap().unwrap().closed);
        assert_eq!(purchase_order(&order_row("Pending Approval"), "MAIN").unwrap(), None);
    }

    #[test]
    fn an_order_row_missing_what_concur_needs_is_an_error_naming_it() {
        let mut row = order_row("Open");
        row["Date"] = json!({});
        let e = purchase_order(&row, "MAIN").unwrap_err().to_string();
        assert!(e.contains("purchase order `Normal PO000123` has no `Date`"), "{e}");
        let mut row = order_row("Open");
        row["Details"][0]["OrderQty"] = json!({"value": "many"});
        let e = purchase_order(&row, "MAIN").unwrap_err().to_string();
        assert!(e.contains("line 1 of purchase order `Normal PO000123`") && e.contains("`many`"), "{e}");
    }

    fn receipt_row(status: &str, lines: Value) -> Value {
        json!({"Type": {"value": "Receipt"}, "ReceiptNbr": {"value": "RC000007"}, "Status": {"value": status},
            "Date": {"value": "2024-03-20T00:00:00"}, "Details": lines})
    }

    fn receipt_line(order_type: &str, line: i64, quantity: &str, uom: &str) -> Value {
        json!({"POOrderType": {"value": order_type}, "POOrderNbr": {"value": "PO000123"},
            "POLineNbr": {"value": line}, "ReceiptQty": {"value": quantity}, "UOM": {"value": uom}})
    }

    #[test]
    fn receipt_lines_of_one_order_line_add_up_and_other_lines_are_left_out() {
        let lines = json!([
            receipt_line("Normal", 1, "2", "EA"),
            receipt_line("Normal", 1, "0.5", "EA"),
            receipt_line("Normal", 1, "1", "BOX"),
            receipt_line("Blanket", 1, "4", "EA"),
            {"ReceiptQty": {"value": 1.0}, "UOM": {"value": "EA"}},
            receipt_line("Normal", 2, "1", "EA"),
        ]);
        let records = receipt_records(&receipt_row("Released", lines.clone())).unwrap();
        let read: Vec<(&str, String, bool)> =
            records.iter().map(|r| (r.line_external_id.as_str(), r.quantity.to_string(), r.active)).collect();
        assert_eq!(read, [("Normal-PO000123-1", "2.5".into(), true), ("Normal-PO000123-2", "1".into(), true)]);
        assert_eq!(records[0].received_date, time::macros::date!(2024 - 03 - 20));
        assert!(receipt_records(&receipt_row("Canceled", lines.clone())).unwrap().iter().all(|r| !r.active));
        assert!(receipt_records(&receipt_row("Balanced", lines)).unwrap().is_empty());
    }
}
