//! Business rules of the simulated PL/SQL layer: defaults, numbering and
//! validation per entity type. A failure is the message of a 400
//! `DATABASE_ERROR`, written `Lu.KEY: text` the way IFS messages read.
//!
//! Rules (beyond "mandatory attribute" and company access, checked by the
//! router): a supplier's and a supplier address's `Country` must be an ISO
//! alpha-2 code and a supplier's invoice data `Currency` an ISO 4217 code
//! (`IsoCountry.NOTEXIST`, `IsoCurrency.NOTEXIST`; the format only). A supplier invoice needs a supplier with a
//! `SupplierInvoiceCompanies` row for its company, a unique `InvoiceNo` per
//! supplier and company (cancelled invoices excluded) and, when all three
//! amounts are given, `Gross = Net + Vat`; a negative gross is a credit note
//! and is allowed. Posting rows need the invoice in `Preliminary`. Every
//! coding row needs an existing, unblocked account (`CodeA`) and existing
//! code-part values (`CodeB`…`CodeJ`) of a code part the company uses.
//! Voucher rows cannot carry both a debit and a credit; the voucher date must
//! lie in the accounting year; rows cannot be added to a posted, approved or
//! cancelled voucher. Balance is **not** enforced row by row (IFS checks it
//! when the voucher is approved); tests read it back with `IfsSim::vouchers`.
//! A purchase order needs a supplier linked to its company; a line needs
//! `PartNo` or `Description` and a positive `BuyQtyDue`, and a `Planned` order.
//! A goods receipt needs a line of a released order, in the order's company.

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::schema::EntityType;
use super::state::{Ifs, Row, Val};

fn company(row: &Row) -> &str {
    row.str("Company").unwrap_or_default()
}

/// Fills defaults before the mandatory check (and client-chosen-but-optional keys).
pub(crate) fn defaults(ifs: &Ifs, ty: &EntityType, row: &mut Row, parent: Option<&Row>) {
    let currency = ifs.companies.get(company(row)).map(|c| c.currency.clone());
    let set_default = |row: &mut Row, attr: &'static str, value: Option<Val>| {
        if row.get(attr).is_none()
            && let Some(v) = value
        {
            row.values.insert(attr, v);
        }
    };
    let supplier = Some(Val::Str("Supplier".into()));
    match ty.name {
        "SupplierInfoGeneral" => set_default(row, "PartyType", supplier),
        "SupplierInfoAddress" => {
            set_default(row, "PartyType", supplier);
            set_default(row, "Country", parent.and_then(|p| p.get("Country")).cloned());
        }
        "IdentityInvoiceInfo" => {
            set_default(row, "PartyType", supplier);
            set_default(row, "Currency", currency.map(Val::Str));
        }
        "ManSuppInvoice" => {
            set_default(row, "PartyType", supplier);
            set_default(row, "Currency", currency.map(Val::Str));
            set_default(row, "CurrRate", Some(Val::Dec(Decimal::ONE)));
            set_default(row, "Objstate", Some(Val::Str("Preliminary".into())));
        }
        "Voucher" => set_default(row, "Objstate", Some(Val::Str("Confirmed".into()))),
        "VoucherRow" => {
            set_default(row, "CurrencyCode", currency.map(Val::Str));
            set_default(row, "CurrencyRate", Some(Val::Dec(Decimal::ONE)));
            let rate = row.dec("CurrencyRate").unwrap_or(Decimal::ONE);
            for (currency_attr, accounting_attr) in
                [("CurrencyDebitAmount", "DebitAmount"), ("CurrencyCreditAmount", "CreditAmount")]
            {
                let converted = row.dec(currency_attr).map(|a| Val::Dec((a * rate).round_dp(2)));
                set_default(row, accounting_attr, converted);
            }
        }
        "PurchaseOrder" => {
            set_default(row, "CurrencyCode", currency.map(Val::Str));
            set_default(row, "OrderDate", Some(Val::Date(OffsetDateTime::now_utc().date())));
            set_default(row, "Objstate", Some(Val::Str("Planned".into())));
        }
        "PurchaseOrderLinePart" => {
            set_default(row, "ReleaseNo", Some(Val::Str("1".into())));
            if row.get("LineNo").is_none()
                && let Some(order) = parent
            {
                let next = ifs
                    .rows(ty)
                    .iter()
                    .filter(|r| r.str("OrderNo") == order.str("OrderNo"))
                    .filter_map(|r| r.str("LineNo")?.parse::<i64>().ok())
                    .max()
                    .unwrap_or(0)
                    + 1;
                row.values.insert("LineNo", Val::Str(next.to_string()));
            }
            set_default(row, "Objstate", Some(Val::Str("Planned".into())));
        }
        "PurchaseReceipt" => set_default(row, "Objstate", Some(Val::Str("Received".into()))),
        _ => {}
    }
}

/// Numbers server-assigned keys of a row about to be inserted.
pub(crate) fn assign(ifs: &mut Ifs, ty: &EntityType, row: &mut Row) {
    match ty.name {
        "ManSuppInvoice" => {
            ifs.last_invoice_id += 1;
            row.values.insert("InvoiceId", Val::Int(ifs.last_invoice_id));
        }
        "Voucher" => {
            let year = row.int("AccountingYear").unwrap_or_default();
            let key = (company(row).to_owned(), year, row.str("VoucherType").unwrap_or_default().to_owned());
            let serial = ifs.voucher_serials.entry(key).or_insert(0);
            *serial += 1;
            row.values.insert("VoucherNo", Val::Int(year * 1_000_000 + *serial));
        }
        "ManSuppInvoicePosting" | "VoucherRow" => {
            let link: Vec<(&'static str, Val)> =
                ty.keys.iter().filter(|k| **k != "RowNo").filter_map(|k| Some((*k, row.get(k)?.clone()))).collect();
            let next =
                ifs.rows(ty).iter().filter(|r| r.has_keys(&link)).filter_map(|r| r.int("RowNo")).max().unwrap_or(0) + 1;
            row.values.insert("RowNo", Val::Int(next));
        }
        _ => {}
    }
}

/// Validates a row about to be inserted (`existing == None`) or to replace
/// row `existing` of its table.
pub(crate) fn check(
    ifs: &Ifs,
    ty: &EntityType,
    row: &Row,
    parent: Option<&Row>,
    existing: Option<usize>,
) -> Result<(), String> {
    match ty.name {
        "SupplierInfoGeneral" | "SupplierInfoAddress" => iso_code(row, "Country", 2, "IsoCountry"),
        "IdentityInvoiceInfo" => iso_code(row, "Currency", 3, "IsoCurrency"),
        "ManSuppInvoice" => invoice(ifs, ty, row, existing),
        "ManSuppInvoicePosting" => {
            invoice_editable(parent)?;
            coding(ifs, row)
        }
        "Voucher" => {
            let year = row.int("AccountingYear").unwrap_or_default();
            if let Some(Val::Date(d)) = row.get("VoucherDate")
                && i64::from(d.year()) != year
            {
                return Err(format!(
                    "Voucher.WRONGYEAR: Voucher date {} is not in accounting year {year}.",
                    super::wire::format_date(*d)
                ));
            }
            Ok(())
        }
        "VoucherRow" => {
            voucher_editable(parent)?;
            let nonzero = |attr: &str| row.dec(attr).is_some_and(|d| !d.is_zero());
            let debit = nonzero("CurrencyDebitAmount") || nonzero("DebitAmount");
            let credit = nonzero("CurrencyCreditAmount") || nonzero("CreditAmount");
            if debit && credit {
                return Err(
                    "VoucherRow.DEBITCREDIT: A voucher row cannot have both a debit and a credit amount.".into()
                );
            }
            coding(ifs, row)
        }
        "PurchaseOrder" => {
            let vendor = row.str("VendorNo").unwrap_or_default();
            supplier_in_company(ifs, vendor, company(row)).map_err(|_| {
                format!("PurchaseOrder.NOVENDOR: Supplier {vendor} does not exist in company {}.", company(row))
            })
        }
        "PurchaseOrderLinePart" => {
            if let Some(order) = parent
                && order.str("Objstate") != Some("Planned")
            {
                return Err(format!(
                    "PurchaseOrderLinePart.NOTPLANNED: Lines can only be changed while order {} is Planned.",
                    order.str("OrderNo").unwrap_or_default()
                ));
            }
            if row.get("PartNo").is_none() && row.get("Description").is_none() {
                return Err("PurchaseOrderLinePart.NOPARTDESC: Either PartNo or Description must be given.".into());
            }
            if row.dec("BuyQtyDue").is_none_or(|q| q <= Decimal::ZERO) {
                return Err("PurchaseOrderLinePart.QTY: BuyQtyDue must be greater than zero.".into());
            }
            Ok(())
        }
        "PurchaseReceipt" => receipt(ifs, row),
        _ => Ok(()),
    }
}

/// May this existing row be updated or removed (state rules)?
pub(crate) fn may_change(
    ifs: &Ifs,
    ty: &EntityType,
    row: &Row,
    parent: Option<&Row>,
    removing: bool,
) -> Result<(), String> {
    match ty.name {
        "ManSuppInvoice" => invoice_editable(Some(row)),
        "ManSuppInvoicePosting" => invoice_editable(parent),
        "Voucher" if removing => match row.str("Objstate") {
            Some("Posted") => Err("Voucher.POSTED: A voucher updated to the general ledger cannot be removed.".into()),
            _ => Ok(()),
        },
        "Voucher" => voucher_editable(Some(row)),
        "VoucherRow" => voucher_editable(parent),
        "PurchaseOrder" if row.str("Objstate") != Some("Planned") => Err(format!(
            "PurchaseOrder.NOTPLANNED: Order {} is {} and can no longer be changed.",
            row.str("OrderNo").unwrap_or_default(),
            row.str("Objstate").unwrap_or_default()
        )),
        "PurchaseOrderLinePart" => match parent {
            Some(order) if order.str("Objstate") != Some("Planned") => Err(format!(
                "PurchaseOrderLinePart.NOTPLANNED: Lines can only be changed while order {} is Planned.",
                order.str("OrderNo").unwrap_or_default()
            )),
            _ => Ok(()),
        },
        "SupplierInfoGeneral" if removing => {
            let id = row.str("SupplierId").unwrap_or_default();
            let used = ifs.rows(&super::schema::MAN_SUPP_INVOICE).iter().any(|r| r.str("Identity") == Some(id))
                || ifs.rows(&super::schema::PURCHASE_ORDER).iter().any(|r| r.str("VendorNo") == Some(id));
            if used {
                return Err(format!(
                    "SupplierInfoGeneral.INUSE: Supplier {id} is used by invoices or purchase orders."
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A receipt is of an existing line of a released order, in its company.
fn receipt(ifs: &Ifs, row: &Row) -> Result<(), String> {
    let order_no = row.str("OrderNo").unwrap_or_default();
    let Some(order) = ifs.rows(&super::schema::PURCHASE_ORDER).iter().find(|r| r.str("OrderNo") == Some(order_no))
    else {
        return Err(format!("PurchaseOrder.NOTEXIST: Purchase order {order_no} does not exist."));
    };
    if order.str("Company") != Some(company(row)) {
        return Err(format!("PurchaseReceipt.COMPANY: Purchase order {order_no} is not of company {}.", company(row)));
    }
    if order.str("Objstate") == Some("Planned") {
        return Err(format!("PurchaseReceipt.NOTRELEASED: Purchase order {order_no} is Planned; release it first."));
    }
    let line = ["LineNo", "ReleaseNo"].map(|k| row.str(k).unwrap_or_default());
    let exists = ifs.rows(&super::schema::PURCHASE_ORDER_LINE).iter().any(|r| {
        r.str("OrderNo") == Some(order_no) && r.str("LineNo") == Some(line[0]) && r.str("ReleaseNo") == Some(line[1])
    });
    if !exists {
        return Err(format!(
            "PurchaseOrderLinePart.NOTEXIST: Line {}-{} of purchase order {order_no} does not exist.",
            line[0], line[1]
        ));
    }
    Ok(())
}

fn invoice(ifs: &Ifs, ty: &EntityType, row: &Row, existing: Option<usize>) -> Result<(), String> {
    let c = company(row);
    let identity = row.str("Identity").unwrap_or_default();
    if row.str("PartyType") != Some("Supplier") {
        return Err("ManSuppInvoice.PARTYTYPE: Only supplier invoices (PartyType Supplier) can be entered.".into());
    }
    supplier_in_company(ifs, identity, c)?;
    let invoice_no = row.str("InvoiceNo").unwrap_or_default();
    let duplicate = ifs.rows(ty).iter().enumerate().any(|(i, r)| {
        Some(i) != existing
            && r.str("Company") == Some(c)
            && r.str("Identity") == Some(identity)
            && r.str("InvoiceNo") == Some(invoice_no)
            && r.str("Objstate") != Some("Cancelled")
    });
    if duplicate {
        return Err(format!(
            "ManSuppInvoice.DUPLINVNO: Invoice number {invoice_no} already exists for supplier {identity} in company {c}."
        ));
    }
    if let (Some(net), Some(vat), Some(gross)) =
        (row.dec("NetCurrAmount"), row.dec("VatCurrAmount"), row.dec("GrossCurrAmount"))
        && net + vat != gross
    {
        return Err(format!(
            "ManSuppInvoice.GROSSAMOUNT: Gross amount {gross} must equal net amount {net} plus tax amount {vat}."
        ));
    }
    Ok(())
}

/// `attr`, when given, must look like an ISO code of `len` upper-case
/// letters (IFS checks it against its ISO tables; the simulator has none).
fn iso_code(row: &Row, attr: &str, len: usize, table: &str) -> Result<(), String> {
    match row.str(attr) {
        Some(code) if code.len() != len || !code.chars().all(|c| c.is_ascii_uppercase()) => {
            Err(format!("{table}.NOTEXIST: {attr} code {code} does not exist."))
        }
        _ => Ok(()),
    }
}

fn supplier_in_company(ifs: &Ifs, supplier: &str, company: &str) -> Result<(), String> {
    let exists = ifs.rows(&super::schema::SUPPLIER).iter().any(|r| r.str("SupplierId") == Some(supplier));
    if !exists {
        return Err(format!("SupplierInfoGeneral.NOTEXIST: Supplier {supplier} does not exist."));
    }
    let linked = ifs
        .rows(&super::schema::SUPPLIER_INVOICE_COMPANY)
        .iter()
        .any(|r| r.str("SupplierId") == Some(supplier) && r.str("Company") == Some(company));
    if !linked {
        return Err(format!("IdentityInvoiceInfo.NOTEXIST: Supplier {supplier} does not exist in company {company}."));
    }
    Ok(())
}

fn invoice_editable(invoice: Option<&Row>) -> Result<(), String> {
    match invoice.and_then(|r| r.str("Objstate")) {
        Some("Preliminary") | None => Ok(()),
        Some(state) => Err(format!(
            "ManSuppInvoice.NOTPRELIMINARY: Invoice {} is {state}; it can only be changed while Preliminary.",
            invoice.and_then(|r| r.int("InvoiceId")).unwrap_or_default()
        )),
    }
}

fn voucher_editable(voucher: Option<&Row>) -> Result<(), String> {
    match voucher.and_then(|r| r.str("Objstate")) {
        Some(state @ ("Posted" | "Approved" | "Cancelled")) => Err(format!(
            "Voucher.NOTEDITABLE: Voucher {} is {state} and can no longer be changed.",
            voucher.and_then(|r| r.int("VoucherNo")).unwrap_or_default()
        )),
        _ => Ok(()),
    }
}

/// `CodeA` (account) and `CodeB`…`CodeJ` against the company's basic data.
fn coding(ifs: &Ifs, row: &Row) -> Result<(), String> {
    let c = company(row);
    let account = row.str("CodeA").unwrap_or_default();
    let Some(acc) = ifs
        .rows(&super::schema::ACCOUNT)
        .iter()
        .find(|r| r.str("Company") == Some(c) && r.str("Account") == Some(account))
    else {
        return Err(format!("Account.NOTEXIST: Account {account} does not exist in company {c}."));
    };
    if acc.get("BlockedForDirectPosting") == Some(&Val::Bool(true)) {
        return Err(format!("Account.BLOCKED: Account {account} in company {c} is blocked for direct posting."));
    }
    for letter in ['B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'] {
        let attr = format!("Code{letter}");
        let Some(value) = row.str(&attr) else { continue };
        let part = letter.to_string();
        let used = ifs.rows(&super::schema::CODE_PART).iter().any(|r| {
            r.str("Company") == Some(c)
                && r.str("CodePart") == Some(&part)
                && r.get("CodePartUsed") == Some(&Val::Bool(true))
        });
        if !used {
            return Err(format!("AccountingCodeParts.NOTUSED: Code part {letter} is not used in company {c}."));
        }
        let known = ifs.rows(&super::schema::CODE_PART_VALUE).iter().any(|r| {
            r.str("Company") == Some(c) && r.str("CodePart") == Some(&part) && r.str("CodeValue") == Some(value)
        });
        if !known {
            return Err(format!(
                "AccountingCodePartValue.NOTEXIST: Value {value} does not exist for code part {letter} in company {c}."
            ));
        }
    }
    Ok(())
}
