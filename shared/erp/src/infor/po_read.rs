//! Purchase orders and their goods receipts out of M3, for Concur
//! (reference-data-from-erp.md §3.4): read through the ION API gateway
//! like the supplier read, [`PO_HEADS_PATH`] for the accounting entity's
//! orders, [`PO_LINES_PATH`] for each order's lines and [`PO_RECEIPTS_PATH`]
//! for the receipts, each with `maxrecs=0`. M3's list transactions page by
//! key, not by offset, so one read returns everything: the adapter answers
//! it as the first page and any later page as empty.
//!
//! [DEFAULT] transaction and field names (the reference names
//! `PPS200MI/GetHead` and `LstLine`, N17; the list of heads and the
//! receipts are ours):
//! - heads: `PUNO` order, `SUNO` supplier, `CUCD` currency, `PUDT` order
//!   date (`YYYYMMDD`), `PUSL` / `PUST` the lowest / highest status of its
//!   lines;
//! - lines: `PNLI` / `PNLS` line and subline, `PITD` text (else the item
//!   `ITNO`), `ORQA` quantity, `PUUN` unit, `PUPR` price of one unit in the
//!   order's currency, [`LINE_ACCOUNT`] the GL account;
//! - receipts: `PUNO`, `PNLI`, `PNLS`, `REPN` receiving number, `TRDT`
//!   date, `RPQA` quantity, `PUUN` unit.
//!
//! [DEFAULT] statuses (M3's two-digit purchase order status): an order none
//! of whose lines reached [`RELEASED_STATUS`] (05–15: proposals and
//! preliminary orders) is left out; one all of whose lines reached
//! [`CLOSED_STATUS`] (invoiced in full and closed) is sent `Closed`; every
//! other (20–80: released, confirmed, dispatched, received, put away) is
//! open. Line `ExternalID` is `{PNLI}-{PNLS}`, a receipt's
//! `GoodsReceiptNumber` its receiving number. A receipt reversed in M3
//! leaves the list: the full read (the daily one) deactivates it in Concur.
//!
//! An order, line or receipt without what Concur needs fails the read and
//! is named: M3 fills these fields, so a gap means this M3 names them
//! differently from the [DEFAULT]s above.

use domain::reference::{PoReceiptRecord, PurchaseOrderLine, PurchaseOrderRecord};
use rust_decimal::Decimal;
use serde_json::Value;
use time::Date;

use super::master_data::{M3Answer, m3_text};
use super::{InforClient, InforError};

/// The accounting entity's purchase order heads: `?DIVI=<entity>`.
pub const PO_HEADS_PATH: &str = "M3/m3api-rest/v2/execute/PPS200MI/LstHead";
/// One order's lines: `?DIVI=<entity>&PUNO=<order>`; nok on `PUNO` for an order M3 does not hold.
pub const PO_LINES_PATH: &str = "M3/m3api-rest/v2/execute/PPS200MI/LstLine";
/// The accounting entity's goods receipts of purchase order lines: `?DIVI=<entity>`.
pub const PO_RECEIPTS_PATH: &str = "M3/m3api-rest/v2/execute/PPS300MI/LstReceipts";
/// [DEFAULT] The status from which an order line is released (20: definite).
pub const RELEASED_STATUS: u16 = 20;
/// [DEFAULT] The status from which an order line is over (85: invoiced in full, closed).
pub const CLOSED_STATUS: u16 = 85;
/// [DEFAULT] The line field holding the GL account: accounting dimension 1,
/// which M3 accounting strings keep the account in.
pub const LINE_ACCOUNT: &str = "AIT1";

const ORDERS: &str = "the purchase order read (M3 API)";
const LINES: &str = "a purchase order line read (M3 API)";
const RECEIPTS: &str = "the purchase receipt read (M3 API)";
/// What the operator checks when a field is missing.
const CHECK_FIELDS: &str = "this M3 names the PPS200MI/PPS300MI fields differently from the connector's defaults";

impl InforClient {
    /// Every released purchase order of the accounting entity with its
    /// lines, as Concur purchase orders whose vendor address is
    /// `address_code` (see the module doc).
    pub async fn purchase_orders(&self, address_code: &str) -> Result<Vec<PurchaseOrderRecord>, InforError> {
        let heads = self.m3_list(PO_HEADS_PATH, &[], ORDERS).await?;
        let mut orders = Vec::with_capacity(heads.len());
        for head in &heads {
            let Some(mut order) = order_head(head, address_code)? else { continue };
            // None: deleted in M3 between the two reads.
            let Some(lines) = self.order_lines(&order.number).await? else { continue };
            order.lines = lines;
            orders.push(order);
        }
        Ok(orders)
    }

    /// The lines of order `order`; `None` when M3 no longer holds it.
    async fn order_lines(&self, order: &str) -> Result<Option<Vec<PurchaseOrderLine>>, InforError> {
        match self.m3_execute(PO_LINES_PATH, &[("PUNO", order), ("maxrecs", "0")], LINES).await? {
            M3Answer::Records(records) => {
                records.iter().map(|r| order_line(order, r)).collect::<Result<_, _>>().map(Some)
            }
            M3Answer::Refused { field, .. } if field == "PUNO" => Ok(None),
            M3Answer::Refused { message, .. } => {
                Err(InforError::Rejected { status: 200, what: LINES, message: format!("order `{order}`: {message}") })
            }
        }
    }

    /// Every goods receipt of the accounting entity's orders as Concur PO
    /// receipts (see the module doc).
    pub async fn po_receipts(&self) -> Result<Vec<PoReceiptRecord>, InforError> {
        let records = self.m3_list(PO_RECEIPTS_PATH, &[], RECEIPTS).await?;
        records.iter().map(receipt).collect()
    }
}

fn missing(what: &'static str, record: &str, field: &str) -> InforError {
    InforError::Malformed { what, detail: format!("{record} has no {field}; {CHECK_FIELDS}") }
}

fn unreadable(what: &'static str, record: &str, field: &str, value: &str) -> InforError {
    InforError::Malformed { what, detail: format!("{record} has {field} `{value}`, which is not {}", kind_of(field)) }
}

/// What a field's value should be, for [`unreadable`].
fn kind_of(field: &str) -> &'static str {
    match field {
        "PUDT" | "TRDT" => "a date (YYYYMMDD)",
        "PUSL" | "PUST" => "a status (two digits)",
        _ => "a number",
    }
}

/// A head as an order without its lines; `None` while none of its lines is released.
fn order_head(head: &Value, address_code: &str) -> Result<Option<PurchaseOrderRecord>, InforError> {
    let number = m3_text(head, "PUNO").ok_or_else(|| missing(ORDERS, "a purchase order", "PUNO"))?;
    let label = format!("purchase order `{number}`");
    let field = |name: &str| m3_text(head, name).ok_or_else(|| missing(ORDERS, &label, name));
    let status = |name: &str| {
        let text = field(name)?;
        text.parse::<u16>().map_err(|_| unreadable(ORDERS, &label, name, &text))
    };
    let (lowest, highest) = (status("PUSL")?, status("PUST")?);
    if highest < RELEASED_STATUS {
        return Ok(None);
    }
    let day = field("PUDT")?;
    Ok(Some(PurchaseOrderRecord {
        order_date: m3_date(&day).ok_or_else(|| unreadable(ORDERS, &label, "PUDT", &day))?,
        vendor_code: field("SUNO")?,
        currency_code: field("CUCD")?,
        closed: lowest >= CLOSED_STATUS,
        // [DEFAULT] An M3 order has no title: Concur's `Name` is its number.
        name: number.clone(),
        number,
        vendor_address_code: address_code.to_owned(),
        lines: Vec::new(),
    }))
}

fn order_line(order: &str, record: &Value) -> Result<PurchaseOrderLine, InforError> {
    let line = m3_text(record, "PNLI").ok_or_else(|| missing(LINES, &format!("a line of order `{order}`"), "PNLI"))?;
    let external_id = line_id(&line, record);
    let label = format!("line {external_id} of order `{order}`");
    let number = |name: &str| m3_decimal(LINES, &label, record, name);
    Ok(PurchaseOrderLine {
        quantity: number("ORQA")?,
        unit_price: number("PUPR")?,
        line_number: line,
        external_id,
        description: m3_text(record, "PITD").or_else(|| m3_text(record, "ITNO")),
        unit_of_measure: m3_text(record, "PUUN"),
        account_code: m3_text(record, LINE_ACCOUNT),
    })
}

fn receipt(record: &Value) -> Result<PoReceiptRecord, InforError> {
    let part = |name: &str| m3_text(record, name).ok_or_else(|| missing(RECEIPTS, "a receipt", name));
    let (order, line, number) = (part("PUNO")?, part("PNLI")?, part("REPN")?);
    let line_external_id = line_id(&line, record);
    let label = format!("receipt `{number}` of line {line_external_id} of order `{order}`");
    let day = m3_text(record, "TRDT").ok_or_else(|| missing(RECEIPTS, &label, "TRDT"))?;
    Ok(PoReceiptRecord {
        received_date: m3_date(&day).ok_or_else(|| unreadable(RECEIPTS, &label, "TRDT", &day))?,
        quantity: m3_decimal(RECEIPTS, &label, record, "RPQA")?,
        unit_of_measure: m3_text(record, "PUUN"),
        po_number: order,
        line_external_id,
        receipt_number: number,
        active: true,
    })
}

/// `{PNLI}-{PNLS}`: the Concur id of a line, as its lines and receipts name it
/// (a blank subline is `0`, M3's first).
fn line_id(line: &str, record: &Value) -> String {
    format!("{line}-{}", m3_text(record, "PNLS").unwrap_or_else(|| "0".into()))
}

/// A decimal field, read from its text (M3 answers every field as text).
fn m3_decimal(what: &'static str, label: &str, record: &Value, field: &str) -> Result<Decimal, InforError> {
    let text = m3_text(record, field).ok_or_else(|| missing(what, label, field))?;
    text.parse::<Decimal>().map_err(|_| unreadable(what, label, field, &text))
}

/// An M3 date, `YYYYMMDD` (or `YYYY-MM-DD`).
fn m3_date(text: &str) -> Option<Date> {
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    Date::parse(&digits, time::macros::format_description!("[year][month][day]")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_decide_left_out_open_and_closed() {
        let head = |low: &str, high: &str| json!({"PUNO": "4000001", "SUNO": "S1", "CUCD": "USD", "PUDT": "20240315", "PUSL": low, "PUST": high});
        assert_eq!(order_head(&head("05", "15"), "MAIN").unwrap(), None);
        let open = order_head(&head("15", "20"), "MAIN").unwrap().unwrap();
        assert_eq!((open.closed, open.order_date), (false, time::macros::date!(2024 - 03 - 15)));
        assert!(!order_head(&head("50", "85"), "MAIN").unwrap().unwrap().closed);
        assert!(order_head(&head("85", "85"), "MAIN").unwrap().unwrap().closed);
        let error = order_head(&head("x", "20"), "MAIN").unwrap_err().to_string();
        assert!(error.contains("purchase order `4000001`") && error.contains("PUSL `x`"), "{error}");
    }

    #[test]
    fn lines_and_receipts_are_read_exactly_from_their_text() {
        let record = json!({"PNLI": "10", "PNLS": "", "ORQA": "2.500000", "PUPR": "0.123456789012345678", "PUUN": "EA",
            "PITD": "", "ITNO": "ITEM-1", "AIT1": "6100"});
        let line = order_line("4000001", &record).unwrap();
        assert_eq!((line.external_id.as_str(), line.description.as_deref()), ("10-0", Some("ITEM-1")));
        assert_eq!(line.unit_price.to_string(), "0.123456789012345678");
        let error = order_line("4000001", &json!({"PNLI": "10", "ORQA": "2"})).unwrap_err().to_string();
        assert!(error.contains("line 10-0 of order `4000001` has no PUPR"), "{error}");
        let bad_date = json!({"PUNO": "4000001", "PNLI": "10", "REPN": "77", "TRDT": "2024", "RPQA": "1"});
        assert!(receipt(&bad_date).unwrap_err().to_string().contains("a date (YYYYMMDD)"));
    }
}
