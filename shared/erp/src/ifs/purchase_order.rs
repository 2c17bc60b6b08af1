//! Purchase orders from Concur (Purchase Order v3, reference-data §5) in IFS,
//! created exactly once.
//!
//! Looked up by the custom field `Cf_Concur_Po` (the Concur PO number) in
//! the company; else created as header (`OrderNo` = [`PO_ORDER_NO_PREFIX`] +
//! the Concur number [DEFAULT], `Cf_Concur_Status` = `incomplete`), one POST
//! per line on the lines navigation, then `Cf_Concur_Status` → `complete`.
//! A purchase order found `incomplete` is deleted and created again.
//!
//! IFS keys a purchase order by `OrderNo` alone (not by company), so its URL
//! cannot carry the company: the lookup filters by it, the create body
//! carries it, and every read of the order (and so every PATCH and DELETE,
//! which are preceded by one) refuses a record of another company.

use domain::reference::PurchaseOrderRecord;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use time::Date;

use super::documents::Completeness;
use super::odata::{Company, Key, KeyValue, literal, money, text};
use super::posting::{HeaderAndRows, HeaderNumber};
use super::{IfsClient, IfsError, Set};
use crate::{DocumentProblem, ErpReference};

/// [DEFAULT] `OrderNo` of a purchase order from Concur: this prefix and the
/// Concur PO number.
pub const PO_ORDER_NO_PREFIX: &str = "CNQ-";
/// The custom field carrying the Concur PO number.
const CONCUR_PO: &str = "Cf_Concur_Po";
/// The custom field carrying the completeness marker.
const CONCUR_STATUS: &str = "Cf_Concur_Status";
const INCOMPLETE: &str = "incomplete";
const COMPLETE: &str = "complete";
/// [DEFAULT] Release number of every line (Concur has no releases).
const RELEASE_NO: &str = "1";
const SELECT: &str = "Company,OrderNo,Cf_Concur_Po,Cf_Concur_Status";

/// A Concur purchase order as IFS receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfsPurchaseOrder {
    /// Concur `PurchaseOrderNumber` (`Cf_Concur_Po`).
    pub po_number: String,
    /// Concur `VendorCode` = the IFS supplier id (`VendorNo`).
    pub vendor: String,
    /// `CurrencyCode`.
    pub currency: String,
    /// `OrderDate`.
    pub order_date: Date,
    pub lines: Vec<IfsPurchaseOrderLine>,
}

/// One Concur `LineItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfsPurchaseOrderLine {
    /// Concur `LineNumber` (`LineNo`).
    pub line_number: String,
    pub description: String,
    /// `BuyQtyDue`.
    pub quantity: Decimal,
    /// `FbuyUnitPrice`, in the order's currency.
    pub unit_price: Decimal,
    /// Concur `UnitOfMeasureCode` (`BuyUnitMeas`), if given.
    pub unit_of_measure: Option<String>,
}

fn required(field: &'static str, value: &str) -> Result<String, DocumentProblem> {
    let value = value.trim();
    if value.is_empty() { Err(DocumentProblem::PurchaseOrderFieldEmpty { field }) } else { Ok(value.to_owned()) }
}

/// Concur sends amounts and quantities as strings.
fn number(field: &'static str, value: &str) -> Result<Decimal, DocumentProblem> {
    value
        .trim()
        .parse::<Decimal>()
        .map_err(|_| DocumentProblem::PurchaseOrderNotANumber { field, value: value.to_owned() })
}

impl IfsPurchaseOrder {
    /// From Concur Purchase Order v3 values: `PurchaseOrderNumber`,
    /// `VendorCode`, `CurrencyCode`, `OrderDate` (`YYYY-MM-DD`, or a
    /// timestamp whose date part is taken) and the `LineItem`s.
    pub fn from_concur(
        purchase_order_number: &str,
        vendor_code: &str,
        currency_code: &str,
        order_date: &str,
        lines: Vec<IfsPurchaseOrderLine>,
    ) -> Result<Self, DocumentProblem> {
        let day = order_date.trim().get(..10).unwrap_or(order_date.trim());
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let order_date = Date::parse(day, format)
            .map_err(|_| DocumentProblem::PurchaseOrderNotADate { value: order_date.to_owned() })?;
        Ok(Self {
            po_number: required("PurchaseOrderNumber", purchase_order_number)?,
            vendor: required("VendorCode", vendor_code)?,
            currency: required("CurrencyCode", currency_code)?,
            order_date,
            lines,
        })
    }

    /// `OrderNo` in IFS.
    pub fn order_no(&self) -> String {
        format!("{PO_ORDER_NO_PREFIX}{}", self.po_number)
    }

    pub fn label(&self) -> String {
        format!("the purchase order for Concur PO `{}` (supplier {})", self.po_number, self.vendor)
    }

    pub fn validate(&self) -> Result<(), DocumentProblem> {
        if self.lines.is_empty() {
            return Err(DocumentProblem::NoLinesFor { needs: "a purchase order needs at least one line" });
        }
        let mut numbers = std::collections::BTreeSet::new();
        for line in &self.lines {
            if line.line_number.trim().is_empty() {
                return Err(DocumentProblem::NoLineNumber);
            }
            if !numbers.insert(line.line_number.as_str()) {
                return Err(DocumentProblem::LineNumberTwice { line: line.line_number.clone() });
            }
            if line.quantity <= Decimal::ZERO {
                return Err(DocumentProblem::QuantityNotPositive {
                    line: line.line_number.clone(),
                    quantity: line.quantity,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn header_body(&self, company: &Company) -> Value {
        let mut m = Map::new();
        m.insert("OrderNo".into(), Value::String(self.order_no()));
        m.insert("VendorNo".into(), Value::String(self.vendor.clone()));
        m.insert("CurrencyCode".into(), Value::String(self.currency.clone()));
        m.insert("OrderDate".into(), Value::String(self.order_date.to_string()));
        m.insert(CONCUR_PO.into(), Value::String(self.po_number.clone()));
        m.insert(CONCUR_STATUS.into(), Value::String(INCOMPLETE.into()));
        company.body(m)
    }

    /// A line body: purchase order lines carry no `Company` in IFS (their
    /// key is the order's `OrderNo`).
    pub(crate) fn line_body(&self, order_no: &str, index: usize) -> Value {
        let line = &self.lines[index];
        let mut m = Map::new();
        m.insert("OrderNo".into(), Value::String(order_no.to_owned()));
        m.insert("LineNo".into(), Value::String(line.line_number.clone()));
        m.insert("ReleaseNo".into(), Value::String(RELEASE_NO.into()));
        m.insert("Description".into(), Value::String(line.description.clone()));
        m.insert("BuyQtyDue".into(), money(line.quantity));
        m.insert("FbuyUnitPrice".into(), money(line.unit_price));
        if let Some(unit) = &line.unit_of_measure {
            m.insert("BuyUnitMeas".into(), Value::String(unit.clone()));
        }
        Value::Object(m)
    }
}

impl IfsPurchaseOrderLine {
    /// From a Concur `LineItem`: `LineNumber`, `Description`, `Quantity`,
    /// `UnitPrice` (strings, as Concur sends them), `UnitOfMeasureCode`.
    pub fn from_concur(
        line_number: &str,
        description: Option<&str>,
        quantity: &str,
        unit_price: &str,
        unit_of_measure_code: Option<&str>,
    ) -> Result<Self, DocumentProblem> {
        Ok(Self {
            line_number: required("LineNumber", line_number)?,
            description: description.unwrap_or_default().trim().to_owned(),
            quantity: number("Quantity", quantity)?,
            unit_price: number("UnitPrice", unit_price)?,
            unit_of_measure: unit_of_measure_code.map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned),
        })
    }
}

impl HeaderAndRows for IfsPurchaseOrder {
    fn set(&self) -> Set {
        Set::PurchaseOrder
    }

    fn label(&self) -> String {
        IfsPurchaseOrder::label(self)
    }

    fn validate(&self) -> Result<(), DocumentProblem> {
        IfsPurchaseOrder::validate(self)
    }

    fn lookup(&self) -> (Vec<String>, &'static str) {
        (vec![format!("{CONCUR_PO} eq {}", literal(&self.po_number))], SELECT)
    }

    fn matches(&self, record: &Value) -> Option<Completeness> {
        (text(record, CONCUR_PO) == Some(self.po_number.as_str())).then(|| {
            if text(record, CONCUR_STATUS) == Some(INCOMPLETE) {
                Completeness::Incomplete
            } else {
                Completeness::Complete
            }
        })
    }

    fn header_key(&self, _company: &Company, record: &Value) -> Option<(Key, HeaderNumber)> {
        let order_no = text(record, "OrderNo")?.to_owned();
        Some((Key::unscoped(vec![("OrderNo", KeyValue::Text(order_no.clone()))]), HeaderNumber::Text(order_no)))
    }

    fn header_body(&self, company: &Company) -> Value {
        IfsPurchaseOrder::header_body(self, company)
    }

    fn row_count(&self) -> usize {
        self.lines.len()
    }

    fn row_body(&self, _company: &Company, number: &HeaderNumber, index: usize) -> Value {
        let order_no = match number {
            HeaderNumber::Text(order_no) => order_no.clone(),
            HeaderNumber::Number(n) => n.to_string(),
        };
        self.line_body(&order_no, index)
    }

    fn row_label(&self, index: usize) -> String {
        format!("line {} of {}", self.lines[index].line_number, self.label())
    }

    fn complete_body(&self) -> Value {
        serde_json::json!({ CONCUR_STATUS: COMPLETE })
    }
}

impl IfsPurchaseOrder {
    /// A purchase order read from Concur (Purchase Order v3).
    pub fn from_record(order: &PurchaseOrderRecord) -> Result<Self, DocumentProblem> {
        let lines = order
            .lines
            .iter()
            .map(|line| IfsPurchaseOrderLine {
                line_number: line.line_number.trim().to_owned(),
                description: line.description.clone().unwrap_or_default(),
                quantity: line.quantity,
                unit_price: line.unit_price,
                unit_of_measure: line.unit_of_measure.clone(),
            })
            .collect();
        Ok(Self {
            po_number: required("PurchaseOrderNumber", &order.number)?,
            vendor: required("VendorCode", &order.vendor_code)?,
            currency: required("CurrencyCode", &order.currency_code)?,
            order_date: order.order_date,
            lines,
        })
    }
}

impl IfsClient {
    /// Creates `order` in this company unless one carries its Concur PO
    /// number; either way returns its reference (`<purchase_order_set>/<OrderNo>`).
    pub async fn create_purchase_order(&self, order: &IfsPurchaseOrder) -> Result<ErpReference, IfsError> {
        self.create_once(order).await
    }

    /// Whether this company holds a complete purchase order for Concur PO
    /// `number` (one left incomplete by a cut-off create is not: creating
    /// it again repairs it).
    pub async fn holds_purchase_order(&self, number: &str) -> Result<bool, IfsError> {
        let conditions = [format!("{CONCUR_PO} eq {}", literal(number))];
        let what = format!("the lookup of Concur PO `{number}`");
        let rows = self.lookup_rows(Set::PurchaseOrder, &conditions, SELECT, &what).await?;
        Ok(rows.iter().any(|r| text(r, CONCUR_PO) == Some(number) && text(r, CONCUR_STATUS) != Some(INCOMPLETE)))
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use serde_json::json;

    fn order() -> IfsPurchaseOrder {
        let line = IfsPurchaseOrderLine::from_concur("1", Some("line 1"), "1.00", "106.74", Some("DA")).unwrap();
        IfsPurchaseOrder::from_concur("API101", "VEN1", "USD", "2011-08-12T20:17:46.384Z", vec![line]).unwrap()
    }

    #[test]
    fn concur_values_become_the_order() {
        let po = order();
        assert_eq!(po.order_date, time::macros::date!(2011 - 08 - 12));
        assert_eq!(po.order_no(), "CNQ-API101");
        assert_eq!(po.lines[0].unit_price, Decimal::from_str("106.74").unwrap());
        assert!(
            IfsPurchaseOrderLine::from_concur("1", None, "one", "1", None)
                .unwrap_err()
                .to_string()
                .contains("Quantity")
        );
        assert!(
            IfsPurchaseOrder::from_concur(" ", "V", "USD", "2024-01-01", vec![])
                .unwrap_err()
                .to_string()
                .contains("PurchaseOrderNumber")
        );
        assert!(
            IfsPurchaseOrder::from_concur("P", "V", "USD", "01/02/2024", vec![])
                .unwrap_err()
                .to_string()
                .contains("OrderDate")
        );
    }

    #[test]
    fn bodies_carry_the_company_the_concur_number_and_the_marker() {
        let po = order();
        let header = serde_json::to_string(&po.header_body(&Company::new("10"))).unwrap();
        assert_eq!(
            header,
            r#"{"Cf_Concur_Po":"API101","Cf_Concur_Status":"incomplete","Company":"10","CurrencyCode":"USD","OrderDate":"2011-08-12","OrderNo":"CNQ-API101","VendorNo":"VEN1"}"#
        );
        let line = serde_json::to_string(&po.line_body("CNQ-API101", 0)).unwrap();
        assert_eq!(
            line,
            r#"{"BuyQtyDue":1.00,"BuyUnitMeas":"DA","Description":"line 1","FbuyUnitPrice":106.74,"LineNo":"1","OrderNo":"CNQ-API101","ReleaseNo":"1"}"#
        );
        assert_eq!(
            po.matches(&json!({"Cf_Concur_Po": "API101", "Cf_Concur_Status": "incomplete"})),
            Some(Completeness::Incomplete)
        );
        assert_eq!(
            po.matches(&json!({"Cf_Concur_Po": "API101", "Cf_Concur_Status": "complete"})),
            Some(Completeness::Complete)
        );
        assert_eq!(po.matches(&json!({"Cf_Concur_Po": "API1011"})), None);
    }

    #[test]
    fn duplicate_line_numbers_are_refused() {
        let mut po = order();
        po.lines.push(po.lines[0].clone());
        assert!(po.validate().unwrap_err().to_string().contains("appears twice"));
    }
}
