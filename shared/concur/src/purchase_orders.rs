//! Purchase Order v3 (reference-data.md §5): one purchase order per call,
//! keyed by `PurchaseOrderNumber`, read back by it
//! (`GET /purchaseorders/{id}`, whose `ID` is the number in Concur's own
//! example).

use domain::reference::{PurchaseOrderLine, PurchaseOrderRecord};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::client::{ConcurClient, ConcurError};
use crate::tokens::AccessToken;

const PURCHASE_ORDERS_PATH: &str = "/api/v3.0/invoice/purchaseorders";
/// Lines one purchase order may carry here: bounds what an answer can make us hold.
const MAX_LINES: usize = 10_000;

impl ConcurClient {
    /// Concur's purchase order `number`; `None` when Concur has none.
    pub async fn purchase_order(
        &self,
        token: &AccessToken,
        number: &str,
    ) -> Result<Option<PurchaseOrderRecord>, ConcurError> {
        const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_');
        let path = format!("{PURCHASE_ORDERS_PATH}/{}", percent_encoding::utf8_percent_encode(number, KEEP));
        match self.get_json::<Value>(token, &path).await {
            Ok(answer) => purchase_order_record(&answer).map(Some),
            Err(ConcurError::Rejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A `PurchaseOrder` as Concur serves it. Quantities and prices are
/// strings; the order date is `YYYY-MM-DD` or a timestamp (the doc's own
/// example) whose date is taken.
pub fn purchase_order_record(answer: &Value) -> Result<PurchaseOrderRecord, ConcurError> {
    let number = required(answer, "PurchaseOrderNumber", "the purchase order")?;
    let at = format!("purchase order `{number}`");
    let lines = answer.get("LineItem").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if lines.len() > MAX_LINES {
        return Err(ConcurError::Malformed(format!("{at} has {} lines; at most {MAX_LINES} are read", lines.len())));
    }
    let order_date = required(answer, "OrderDate", &at)?;
    let day = order_date.get(..10).unwrap_or(&order_date);
    let order_date = time::Date::parse(day, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| ConcurError::Malformed(format!("{at}: OrderDate `{order_date}` is not a date")))?;
    Ok(PurchaseOrderRecord {
        name: optional(answer, "Name").unwrap_or_else(|| number.clone()),
        vendor_code: required(answer, "VendorCode", &at)?,
        vendor_address_code: required(answer, "VendorAddressCode", &at)?,
        currency_code: required(answer, "CurrencyCode", &at)?,
        order_date,
        closed: optional(answer, "Status").is_some_and(|s| s.eq_ignore_ascii_case("Closed")),
        lines: lines.iter().map(|line| purchase_order_line(line, &at)).collect::<Result<_, _>>()?,
        number,
    })
}

fn purchase_order_line(line: &Value, order: &str) -> Result<PurchaseOrderLine, ConcurError> {
    let line_number = required(line, "LineNumber", order)?;
    let at = format!("line {line_number} of {order}");
    let decimal = |field: &str| -> Result<Decimal, ConcurError> {
        let text = required(line, field, &at)?;
        text.parse().map_err(|_| ConcurError::Malformed(format!("{at}: {field} `{text}` is not a number")))
    };
    Ok(PurchaseOrderLine {
        external_id: required(line, "ExternalID", &at)?,
        description: optional(line, "Description"),
        quantity: decimal("Quantity")?,
        unit_price: decimal("UnitPrice")?,
        unit_of_measure: optional(line, "UnitOfMeasureCode"),
        account_code: optional(line, "AccountCode"),
        line_number,
    })
}

/// A field as text (Concur sends numbers as strings, and sometimes not).
fn optional(object: &Value, field: &str) -> Option<String> {
    match object.get(field)? {
        Value::String(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn required(object: &Value, field: &str, at: &str) -> Result<String, ConcurError> {
    optional(object, field).ok_or_else(|| ConcurError::Malformed(format!("{at} has no {field}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_example_reads() {
        let answer = json!({
            "CurrencyCode": "USD", "OrderDate": "2011-08-12T20:17:46.384Z", "ID": "API101",
            "LineItem": [{"Description": "line 1", "ExpenseType": "Advertising", "ExternalID": "API100line1",
                "LineNumber": "1", "Quantity": "1.00", "UnitOfMeasureCode": "DA", "UnitPrice": "106.74"}],
            "Name": "poName", "PolicyExternalID": "PO", "PurchaseOrderNumber": "API101", "Status": "Transmitted",
            "VendorCode": "VEN1", "VendorAddressCode": "VEN1ADDR1"
        });
        let po = purchase_order_record(&answer).unwrap();
        assert_eq!((po.number.as_str(), po.vendor_code.as_str(), po.closed), ("API101", "VEN1", false));
        assert_eq!(po.order_date, time::macros::date!(2011 - 08 - 12));
        assert_eq!(po.lines[0].unit_price, Decimal::new(10674, 2));
        assert_eq!(po.lines[0].unit_of_measure.as_deref(), Some("DA"));

        let mut bad = answer.clone();
        bad["LineItem"][0]["Quantity"] = json!("one");
        let error = purchase_order_record(&bad).unwrap_err().to_string();
        assert!(error.contains("line 1 of purchase order `API101`: Quantity `one`"), "{error}");
        assert!(purchase_order_record(&json!({"PurchaseOrderNumber": "P"})).is_err());
    }
}
