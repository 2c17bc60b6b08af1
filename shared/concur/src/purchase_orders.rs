//! Purchase Order v3 (reference-data.md §5): one purchase order per call,
//! keyed by `PurchaseOrderNumber`, read back by it
//! (`GET /purchaseorders/{id}`, whose `ID` is the number in Concur's own
//! example); and PO Receipt v3 (§6), one goods receipt per call, keyed by
//! order, line `ExternalID` and receipt number. Both answer every write
//! HTTP 200 with `Status` `SUCCESS` or `FAILURE`.

use domain::reference::{PoAddress, PoReceiptRecord, PurchaseOrderLine, PurchaseOrderRecord, PurchaseOrderSettings};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::client::{ConcurClient, ConcurError, WriteVerb};
use crate::tokens::AccessToken;

const PURCHASE_ORDERS_PATH: &str = "/api/v3.0/invoice/purchaseorders";
const RECEIPTS_PATH: &str = "/api/v3.0/invoice/purchaseorderreceipts";
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

impl ConcurClient {
    /// Writes one purchase order (PO v3 takes one per call) with `verb`,
    /// and with the other verb once when Concur refuses it: a stale state,
    /// or a create repeated after a timeout, still ends in one order.
    /// `Ok(Some(reason))`: both verbs refused, with Concur's codes.
    pub async fn write_purchase_order(
        &self,
        token: &AccessToken,
        order: &PurchaseOrderRecord,
        settings: &PurchaseOrderSettings,
        verb: WriteVerb,
    ) -> Result<Option<String>, ConcurError> {
        let body = purchase_order_json(order, settings);
        self.write_with_fallback(token, PURCHASE_ORDERS_PATH, &body, verb).await
    }

    /// Writes `body` to `path` with `verb`, then the other verb once if
    /// Concur refuses: `None` taken, else both refusals. PO v3 and PO
    /// Receipt v3 answer HTTP 200 with `Status` `SUCCESS`/`FAILURE`.
    async fn write_with_fallback(
        &self,
        token: &AccessToken,
        path: &str,
        body: &Value,
        verb: WriteVerb,
    ) -> Result<Option<String>, ConcurError> {
        let Some(first) = self.send_result(token, path, body, verb).await? else { return Ok(None) };
        let other = verb.other();
        let Some(second) = self.send_result(token, path, body, other).await? else { return Ok(None) };
        Ok(Some(format!("{}: {first}; {}: {second}", verb.name(), other.name())))
    }

    async fn send_result(
        &self,
        token: &AccessToken,
        path: &str,
        body: &Value,
        verb: WriteVerb,
    ) -> Result<Option<String>, ConcurError> {
        let answer: Value = self.write_json(verb.method(), token, path, Some(body)).await?;
        Ok(result_refusal(&answer))
    }

    /// Writes one goods receipt (PO Receipt v3), with the other verb once
    /// when Concur refuses it. `Ok(Some(reason))` when both refused.
    pub async fn write_po_receipt(
        &self,
        token: &AccessToken,
        receipt: &PoReceiptRecord,
        verb: WriteVerb,
    ) -> Result<Option<String>, ConcurError> {
        let body = receipt_json(receipt);
        self.write_with_fallback(token, RECEIPTS_PATH, &body, verb).await
    }

    /// Deletes one goods receipt (a receipt reversed in the ERP);
    /// `Ok(Some(reason))` when Concur refused (it keeps a receipt tied to
    /// a payment request).
    pub async fn delete_po_receipt(
        &self,
        token: &AccessToken,
        po_number: &str,
        line_external_id: &str,
        receipt_number: &str,
    ) -> Result<Option<String>, ConcurError> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("purchaseOrderNumber", po_number)
            .append_pair("lineItemExternalID", line_external_id)
            .append_pair("goodsReceiptNumber", receipt_number)
            .finish();
        let answer: Value = self
            .write_json(reqwest::Method::DELETE, token, &format!("{RECEIPTS_PATH}?{query}"), None::<&Value>)
            .await?;
        Ok(result_refusal(&answer))
    }
}

/// The refusal in a `PurchaseOrderResult` / receipt result: `None` for
/// `SUCCESS`; "the web service will not return a 4xx … even when every
/// item failed", so `Status` is the answer.
fn result_refusal(answer: &Value) -> Option<String> {
    let status = answer.get("Status").and_then(Value::as_str).unwrap_or_default();
    if status.eq_ignore_ascii_case("SUCCESS") {
        return None;
    }
    let code = optional(answer, "ErrorCode").unwrap_or_else(|| "?".into());
    let message = optional(answer, "ErrorMessage").or_else(|| optional(answer, "Message"));
    let field = optional(answer, "FieldCode").map(|f| format!(", field {f}")).unwrap_or_default();
    Some(transport::short_reason(&format!("{} (code {code}{field})", message.as_deref().unwrap_or("refused"))))
}

/// A purchase order as PO v3 takes it: the ERP's order with the
/// connection's policy and addresses.
fn purchase_order_json(order: &PurchaseOrderRecord, settings: &PurchaseOrderSettings) -> Value {
    let address = |a: &PoAddress| {
        json!({"ExternalID": a.external_id, "Address1": a.address1, "City": a.city,
            "StateProvince": a.state_province, "PostalCode": a.postal_code, "CountryCode": a.country_code})
    };
    let lines: Vec<Value> = order
        .lines
        .iter()
        .map(|line| {
            let mut item = json!({"LineNumber": line.line_number, "ExternalID": line.external_id,
                "Quantity": line.quantity.normalize().to_string(), "UnitPrice": line.unit_price.normalize().to_string()});
            for (field, value) in [
                ("Description", &line.description),
                ("UnitOfMeasureCode", &line.unit_of_measure),
                ("AccountCode", &line.account_code),
            ] {
                if let Some(value) = value {
                    item[field] = Value::String(value.clone());
                }
            }
            item
        })
        .collect();
    json!({
        "PurchaseOrderNumber": order.number, "Name": order.name, "CurrencyCode": order.currency_code,
        "OrderDate": order.order_date.to_string(), "PolicyExternalID": settings.policy_external_id,
        "VendorCode": order.vendor_code, "VendorAddressCode": order.vendor_address_code,
        "BillToAddress": address(&settings.bill_to), "ShipToAddress": address(&settings.ship_to),
        "Status": if order.closed { "Closed" } else { "Transmitted" },
        "LineItem": lines,
    })
}

/// A receipt as PO Receipt v3 takes it (`Version` 2.0: goods receipts).
fn receipt_json(receipt: &PoReceiptRecord) -> Value {
    let mut body = json!({
        "PurchaseOrderNumber": receipt.po_number, "LineItemExternalID": receipt.line_external_id,
        "GoodsReceiptNumber": receipt.receipt_number, "ReceivedDate": receipt.received_date.to_string(),
        "ReceivedQuantity": receipt.quantity.normalize().to_string(), "Deleted": "false", "Version": "2.0",
    });
    if let Some(unit) = &receipt.unit_of_measure {
        body["UnitOfMeasureCode"] = Value::String(unit.clone());
    }
    body
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
    fn an_order_written_reads_back_the_same_and_a_failure_is_a_refusal() {
        let answer = json!({
            "OrderDate": "2026-11-02", "PurchaseOrderNumber": "PO1", "Name": "Paper", "CurrencyCode": "EUR",
            "VendorCode": "V1", "VendorAddressCode": "MAIN", "Status": "Closed",
            "LineItem": [{"LineNumber": "1", "ExternalID": "Normal-PO1-1", "Quantity": "2.5", "UnitPrice": "4.10",
                "AccountCode": "6110"}]
        });
        let order = purchase_order_record(&answer).unwrap();
        let address = PoAddress::parse("HQ|1 Main St|Minneapolis|MN|55426|US").unwrap();
        let settings =
            PurchaseOrderSettings { policy_external_id: "PO".into(), bill_to: address.clone(), ship_to: address };
        let written = purchase_order_json(&order, &settings);
        assert_eq!(purchase_order_record(&written).unwrap(), order);
        assert_eq!(
            (written["Status"].as_str(), written["BillToAddress"]["StateProvince"].as_str()),
            (Some("Closed"), Some("MN"))
        );
        assert_eq!(result_refusal(&json!({"Status": "SUCCESS"})), None);
        let refused = json!({"Status": "FAILURE", "ErrorCode": "2000", "ErrorMessage": "No vendor"});
        assert_eq!(result_refusal(&refused).as_deref(), Some("No vendor (code 2000)"));
    }

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
