//! Purchase orders and their goods receipts out of IFS Cloud, for Concur
//! (reference-data-from-erp.md §2.1, §2.2): the ERP → Concur direction of
//! the reference sync.
//!
//! - **Orders**: `PurchaseOrderSet` of the connection's company, ordered by
//!   `OrderNo` and paged `$top`/`$skip` as the supplier read is. IFS has no
//!   filterable change time (§2.2): every read is a full one, and the
//!   content hashes keep the Concur writes to what changed. What Concur
//!   does not get is left out by the `$filter` itself, so every row of a
//!   page is a record and the caller's paging (a short page ends the read)
//!   stays true: orders still [`UNRELEASED_STATE`], and the connector's own
//!   orders created from Concur (`OrderNo` starting with
//!   [`PO_ORDER_NO_PREFIX`]), which Concur holds under its own numbers.
//! - **States** [DEFAULT]: [`CLOSED_STATES`] are sent `Closed`; every other
//!   state a released order reaches (`Released`, `Confirmed`, `Arrived`,
//!   `Received`, `Stopped`) is open (`Transmitted`).
//! - **Lines**, read per order through the lines navigation (`$expand` on
//!   the PO sets answers `ODP_NOT_IMPLEMENTED`, §2.2), in `LineNo`,
//!   `ReleaseNo` order: `LineNumber` = `LineNo`, `ExternalID` =
//!   `{LineNo}-{ReleaseNo}` [DEFAULT], quantity `BuyQtyDue`, price
//!   `FbuyUnitPrice` (the order's currency, what the PO create writes), else
//!   `BuyUnitPrice`, unit `BuyUnitMeas`, text `Description` (else `PartNo`),
//!   and the GL account from the attribute `api.purchase_order_line_account`
//!   names. A cancelled line of an open order is left out (it takes no
//!   invoice); a closed order keeps every line (Concur holds no order
//!   without one).
//! - **Receipts** (the reference found no OData set): the set
//!   `api.purchase_receipt_projection` / `api.purchase_receipt_set`, with
//!   `PURCHASE_RECEIPT_TAB`'s columns as OData names them (`OrderNo`,
//!   `LineNo`, `ReleaseNo`, `ReceiptNo`, `ArrivalDate`, `QtyArrived`,
//!   `Objstate`) and the order's `Company` to filter on [DEFAULT], paged as
//!   the orders are. `GoodsReceiptNumber` is
//!   `{OrderNo}-{LineNo}-{ReleaseNo}-{ReceiptNo}` (§2.1), the line id the
//!   order read's, and a `Cancelled` receipt is inactive (deleted in
//!   Concur). The rows carry no unit: Concur takes the line's. Receipts of
//!   the connector's own orders are left out: Concur knows their lines by
//!   its own ids, not IFS's.
//!
//! An order, line or receipt without what Concur needs (number, supplier,
//! currency, date, quantity, price) fails the read and is named: IFS always
//! fills these, so a gap means the tenant's names differ from the
//! connection's `api` settings, which is fixed there, not skipped.

use domain::reference::{PoReceiptRecord, PurchaseOrderLine, PurchaseOrderRecord, ReadPage};
use serde_json::Value;

use super::odata::{Key, KeyValue, decimal, literal, query, text, value_text};
use super::reference::date;
use super::{IfsClient, IfsError, PO_ORDER_NO_PREFIX, Set, Target};

/// [DEFAULT] The `Objstate`s of an order that is over: sent `Closed`.
pub(crate) const CLOSED_STATES: [&str; 2] = ["Closed", "Cancelled"];
/// [DEFAULT] The `Objstate` of an order not released yet: left out.
pub(crate) const UNRELEASED_STATE: &str = "Planned";
/// [DEFAULT] The `Objstate` of a cancelled line (left out of an open
/// order) or receipt (inactive).
pub(crate) const CANCELLED_STATE: &str = "Cancelled";
/// [DEFAULT] The enumeration type of an order's `Objstate`, which a
/// `$filter` literal names (`IfsApp.<projection>.PurchaseOrderState'Planned'`).
const ORDER_STATE_TYPE: &str = "PurchaseOrderState";
const ORDER_SELECT: &str = "Company,OrderNo,VendorNo,CurrencyCode,OrderDate,Objstate";
const LINE_SELECT: &str =
    "OrderNo,LineNo,ReleaseNo,PartNo,Description,BuyQtyDue,BuyUnitMeas,FbuyUnitPrice,BuyUnitPrice,Objstate";
const RECEIPT_SELECT: &str = "Company,OrderNo,LineNo,ReleaseNo,ReceiptNo,ArrivalDate,QtyArrived,Objstate";
/// The receipt set's key: a stable order to page over.
const RECEIPT_ORDER: &str = "OrderNo,LineNo,ReleaseNo,ReceiptNo";
/// Said with a value a record lacks.
const CHECK_NAMES: &str = "check the purchase order names in the connection's IFS settings (`api`)";

/// The Concur line id of IFS line `line_no`, release `release_no`: what
/// the order's lines and the receipts of them carry.
fn line_id(line_no: &str, release_no: &str) -> String {
    format!("{line_no}-{release_no}")
}

/// The `$filter` term leaving out the connector's own orders.
fn not_from_concur() -> String {
    format!("not startswith(OrderNo,{})", literal(PO_ORDER_NO_PREFIX))
}

impl IfsClient {
    /// One page of the company's released purchase orders (ordered by
    /// `OrderNo`), each with its lines, as Concur purchase orders whose
    /// vendor address is `address_code` (see the module doc).
    pub async fn purchase_orders_page(
        &self,
        page: ReadPage,
        address_code: &str,
    ) -> Result<Vec<PurchaseOrderRecord>, IfsError> {
        let what = format!("the purchase order read (from row {})", page.skip);
        let projection = &self.api().purchase_order_projection;
        let unreleased = format!("IfsApp.{projection}.{ORDER_STATE_TYPE}{}", literal(UNRELEASED_STATE));
        let filter = self.company.filter(&[format!("Objstate ne {unreleased}"), not_from_concur()]);
        let options = [("$filter", filter.as_str()), ("$select", ORDER_SELECT)];
        let rows = self.read_page(Set::PurchaseOrder, &options, "OrderNo", page, &what).await?;
        let mut orders = Vec::with_capacity(rows.len());
        for row in &rows {
            orders.push(self.order_record(row, address_code, &what).await?);
        }
        Ok(orders)
    }

    /// An order header read by [`Self::purchase_orders_page`], with its lines.
    async fn order_record(&self, row: &Value, address_code: &str, what: &str) -> Result<PurchaseOrderRecord, IfsError> {
        let order_no = value_text(row, "OrderNo")
            .ok_or_else(|| self.malformed(what, "a purchase order without OrderNo".into()))?;
        let missing =
            |attr: &str| self.malformed(what, format!("purchase order `{order_no}` has no {attr}; {CHECK_NAMES}"));
        let vendor_code = value_text(row, "VendorNo").ok_or_else(|| missing("VendorNo"))?;
        let currency_code = value_text(row, "CurrencyCode").ok_or_else(|| missing("CurrencyCode"))?;
        let order_date = date(row, "OrderDate").ok_or_else(|| missing("OrderDate"))?;
        let closed = text(row, "Objstate").is_some_and(|state| CLOSED_STATES.contains(&state));
        let lines = self.order_lines(&order_no, closed).await?;
        Ok(PurchaseOrderRecord {
            // [DEFAULT] An IFS order has no title: Concur's `Name` is its number.
            name: order_no.clone(),
            number: order_no,
            vendor_code,
            vendor_address_code: address_code.to_owned(),
            currency_code,
            order_date,
            closed,
            lines,
        })
    }

    /// The lines of order `order_no` (all pages), without the cancelled
    /// ones unless the order is `closed`.
    async fn order_lines(&self, order_no: &str, closed: bool) -> Result<Vec<PurchaseOrderLine>, IfsError> {
        let account = &self.api().purchase_order_line_account;
        let what = format!(
            "the lines of purchase order `{order_no}` (with the GL account attribute `{account}` the setting \
             `api.purchase_order_line_account` names)"
        );
        let select = format!("{LINE_SELECT},{account}");
        let key = Key::unscoped(vec![("OrderNo", KeyValue::Text(order_no.to_owned()))]);
        let options = [("$select", select.as_str()), ("$orderby", "LineNo,ReleaseNo")];
        let url = format!("{}{}", self.rows_url(Set::PurchaseOrder, &key), query(&options));
        let rows = self.list_at(Set::PurchaseOrder, Target::Rows, &url, &what).await?;
        rows.iter()
            .filter(|row| closed || text(row, "Objstate") != Some(CANCELLED_STATE))
            .map(|row| self.line_record(row, &what))
            .collect()
    }

    fn line_record(&self, row: &Value, what: &str) -> Result<PurchaseOrderLine, IfsError> {
        let part =
            |attr: &str| value_text(row, attr).ok_or_else(|| self.malformed(what, format!("a line without {attr}")));
        let (line_no, release_no) = (part("LineNo")?, part("ReleaseNo")?);
        let external_id = line_id(&line_no, &release_no);
        let missing = |attr: &str| self.malformed(what, format!("line {external_id} has no {attr}; {CHECK_NAMES}"));
        let quantity = decimal(row, "BuyQtyDue").ok_or_else(|| missing("BuyQtyDue"))?;
        let unit_price = decimal(row, "FbuyUnitPrice")
            .or_else(|| decimal(row, "BuyUnitPrice"))
            .ok_or_else(|| missing("FbuyUnitPrice nor BuyUnitPrice"))?;
        Ok(PurchaseOrderLine {
            line_number: line_no,
            external_id,
            description: value_text(row, "Description").or_else(|| value_text(row, "PartNo")),
            quantity,
            unit_price,
            unit_of_measure: value_text(row, "BuyUnitMeas"),
            account_code: value_text(row, &self.api().purchase_order_line_account),
        })
    }

    /// One page of the company's goods receipts (ordered by their key) as
    /// Concur PO receipts (see the module doc).
    pub async fn po_receipts_page(&self, page: ReadPage) -> Result<Vec<PoReceiptRecord>, IfsError> {
        let what = format!("the purchase receipt read (from row {})", page.skip);
        let filter = self.company.filter(&[not_from_concur()]);
        let options = [("$filter", filter.as_str()), ("$select", RECEIPT_SELECT)];
        let rows = self.read_page(Set::PurchaseReceipt, &options, RECEIPT_ORDER, page, &what).await?;
        rows.iter().map(|row| self.receipt_record(row, &what)).collect()
    }

    fn receipt_record(&self, row: &Value, what: &str) -> Result<PoReceiptRecord, IfsError> {
        let part =
            |attr: &str| value_text(row, attr).ok_or_else(|| self.malformed(what, format!("a receipt without {attr}")));
        let (order_no, line_no, release_no) = (part("OrderNo")?, part("LineNo")?, part("ReleaseNo")?);
        let receipt_number = format!("{order_no}-{line_no}-{release_no}-{}", part("ReceiptNo")?);
        let missing =
            |attr: &str| self.malformed(what, format!("receipt `{receipt_number}` has no {attr}; {CHECK_NAMES}"));
        let received_date = date(row, "ArrivalDate").ok_or_else(|| missing("ArrivalDate"))?;
        let quantity = decimal(row, "QtyArrived").ok_or_else(|| missing("QtyArrived"))?;
        Ok(PoReceiptRecord {
            po_number: order_no,
            line_external_id: line_id(&line_no, &release_no),
            receipt_number,
            received_date,
            quantity,
            unit_of_measure: None,
            active: text(row, "Objstate") != Some(CANCELLED_STATE),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_leaves_out_the_connectors_own_orders() {
        assert_eq!(not_from_concur(), "not startswith(OrderNo,'CNQ-')");
        assert_eq!(line_id("10", "2"), "10-2");
        assert!(CLOSED_STATES.contains(&CANCELLED_STATE));
        assert!(!CLOSED_STATES.contains(&UNRELEASED_STATE));
    }
}
