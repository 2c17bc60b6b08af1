//! The reference-data records the ERP tests expect back or write: built
//! one way for every ERP's tests.
#![allow(dead_code)]

use std::str::FromStr;

use domain::reference::{DEFAULT_ADDRESS_CODE, PurchaseOrderLine, PurchaseOrderRecord, VendorLimits, VendorRecord};
use rust_decimal::Decimal;

pub fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// A vendor as Concur sends it to the ERP: every field filled.
pub fn concur_vendor(code: &str, name: &str, tax_id: &str) -> VendorRecord {
    let mut vendor =
        VendorRecord::named(code.into(), DEFAULT_ADDRESS_CODE.into(), name.into(), VendorLimits::default());
    vendor.address1 = Some("1 Main St".into());
    vendor.address2 = Some("Suite 4".into());
    vendor.city = Some("Austin".into());
    vendor.state = Some("TX".into());
    vendor.postal_code = Some("73301".into());
    vendor.country_code = Some("US".into());
    vendor.currency_code = Some("USD".into());
    vendor.tax_id = Some(tax_id.into());
    vendor
}

/// A purchase order line as an ERP's read should give it.
pub fn line(
    number: &str,
    id: &str,
    text: &str,
    quantity: &str,
    price: &str,
    unit: &str,
    account: &str,
) -> PurchaseOrderLine {
    PurchaseOrderLine {
        line_number: number.into(),
        external_id: id.into(),
        description: Some(text.into()),
        quantity: dec(quantity),
        unit_price: dec(price),
        unit_of_measure: Some(unit.into()),
        account_code: Some(account.into()),
    }
}

/// A purchase order (named by its number, address `MAIN`) without lines.
pub fn order(number: &str, vendor: &str, currency: &str, day: time::Date, closed: bool) -> PurchaseOrderRecord {
    PurchaseOrderRecord {
        number: number.into(),
        name: number.into(),
        vendor_code: vendor.into(),
        vendor_address_code: DEFAULT_ADDRESS_CODE.into(),
        currency_code: currency.into(),
        order_date: day,
        closed,
        lines: Vec::new(),
    }
}
