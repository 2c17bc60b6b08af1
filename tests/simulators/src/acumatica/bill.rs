//! AP Bill (screen AP301000): defaults, validation, totals, status, release.
//!
//! Amounts: a line's `ExtendedCost` is the value sent, else `Qty × UnitCost`
//! (Qty defaults to 1 when a unit cost is given), else the line `Amount`;
//! `Amount` is the value sent, else `ExtendedCost`. Money is rounded to 2
//! places. The header `Amount` is the control total: once a client sends it,
//! it is kept; otherwise it follows the lines. Taking the document off hold
//! requires control total = line total ("Validate Document Totals on Entry").

use rust_decimal::Decimal;

use super::schema::Kind;
use super::state::{Record, Val, same_text};
use super::validate::{self, Ctx, check_account, check_branch, check_subaccount, money, required};
use super::wire::RecErrors;

const TYPES: [&str; 4] = ["Bill", "Credit Adj.", "Debit Adj.", "Prepayment"];
/// Statuses after release; such documents can no longer be edited.
const RELEASED: [&str; 3] = ["Open", "Closed", "Voided"];

/// True when the bill has been released (status Open or later).
pub(crate) fn is_released(rec: &Record) -> bool {
    rec.str("Status").is_some_and(|s| RELEASED.contains(&s))
}

/// Applies defaults and business rules to a bill about to be saved.
pub(crate) fn prepare(ctx: &Ctx, rec: &mut Record, errors: &mut RecErrors) {
    let tenant = ctx.tenant;
    if !ctx.inserting && is_released(rec) {
        if validate::changes_anything(ctx.incoming, &["Type", "ReferenceNbr"]) {
            errors.record = Some("The document has been released and cannot be edited.".into());
        }
        return;
    }
    validate::default(rec, "Type", Val::Str("Bill".into()));
    validate::one_of(rec, "Type", &TYPES, errors);
    validate::default(rec, "Hold", Val::Bool(true));
    validate::default(rec, "ApprovedForPayment", Val::Bool(false));
    validate::default(rec, "Date", Val::Date(ctx.business_midnight()));
    if let Some(date) = rec.date("Date") {
        validate::default(rec, "DueDate", Val::Date(date));
    }
    validate::post_period(rec, "Date", ctx.incoming, errors);

    // Vendor: must exist and accept documents.
    let mut vendor_currency = None;
    if required(rec, "Vendor", errors) {
        let id = rec.str("Vendor").unwrap_or_default().to_owned();
        match validate::find_by_cd(tenant, Kind::Vendor, "VendorID", &id) {
            None => errors.field("Vendor", "'Vendor' cannot be found in the system."),
            Some(vendor) => {
                let status = vendor.str("Status").unwrap_or("Active");
                if matches!(status, "Inactive" | "On Hold") {
                    errors.field("Vendor", format!("The vendor status is '{status}'."));
                }
                vendor_currency = vendor.str("CurrencyID").map(str::to_owned);
                let canonical = vendor.str("VendorID").unwrap_or(&id).to_owned();
                rec.set_str("Vendor", canonical);
            }
        }
    }
    validate::default(rec, "CurrencyID", Val::Str(vendor_currency.unwrap_or_else(|| "USD".into())));

    // VendorRef: required and unique per vendor (AP preference DEFAULT: error).
    if required(rec, "VendorRef", errors) {
        let (vendor, vendor_ref) = (rec.str("Vendor").unwrap_or_default(), rec.str("VendorRef").unwrap_or_default());
        let duplicate = tenant.records(Kind::Bill).iter().find(|other| {
            other.id != rec.id
                && other.str("Status") != Some("Voided")
                && other.str("Vendor").is_some_and(|v| same_text(v, vendor))
                && other.str("VendorRef").is_some_and(|r| same_text(r, vendor_ref))
        });
        if let Some(other) = duplicate {
            errors.field(
                "VendorRef",
                format!(
                    "The document with the same vendor reference number already exists: {} {}.",
                    other.str("Type").unwrap_or("Bill"),
                    other.str("ReferenceNbr").unwrap_or_default()
                ),
            );
        }
    }

    check_branch(tenant, rec, "BranchID", ctx.default_branch(), errors);
    let header_branch = rec.str("BranchID").map(str::to_owned);

    let mut line_total = Decimal::ZERO;
    let lines = rec.collections.entry("Details".into()).or_default();
    for (i, line) in lines.iter_mut().enumerate() {
        let line_errors = errors.line("Details", i);
        check_account(tenant, line, "Account", line_errors);
        check_subaccount(tenant, line, "Subaccount", line_errors);
        check_branch(tenant, line, "Branch", header_branch.clone(), line_errors);
        match line_amounts(line) {
            Ok(amount) => line_total += amount,
            Err(()) => line_errors.field("ExtendedCost", "The extended cost is too large."),
        }
    }
    errors.lines.retain(|_, lines| {
        lines.retain(|_, e| !e.is_empty());
        !lines.is_empty()
    });

    match ctx.incoming.values.get("Amount") {
        Some(Some(Val::Dec(control))) => rec.control_total = Some(money(*control)),
        Some(_) => rec.control_total = None,
        None => {}
    }
    let amount = rec.control_total.unwrap_or(line_total);
    rec.set("Amount", Val::Dec(amount));
    rec.set("Balance", Val::Dec(amount));
    rec.set("TaxTotal", Val::Dec(Decimal::ZERO));
    let hold = rec.bool("Hold").unwrap_or(true);
    if !hold && amount != line_total {
        errors.field("Amount", "Document is out of balance.");
    }
    rec.set_str("Status", if hold { "On Hold" } else { "Balanced" });
}

/// Computes and rounds a line's amounts; returns its `Amount`.
/// A changed `Qty`/`UnitCost` recalculates `ExtendedCost` (unless it was
/// sent too), and a changed cost recalculates `Amount` (unless it was sent).
fn line_amounts(line: &mut Record) -> Result<Decimal, ()> {
    let unit_cost = line.dec("UnitCost");
    if unit_cost.is_some() {
        validate::default(line, "Qty", Val::Dec(Decimal::ONE));
    }
    let qty = line.dec("Qty").unwrap_or(Decimal::ONE);
    let ext_sent = line.touched.contains("ExtendedCost");
    let cost_sent = line.touched.contains("UnitCost") || line.touched.contains("Qty");
    // Qty × UnitCost can exceed what an amount column holds; treat that as an error.
    let computed = match unit_cost.map(|c| c.checked_mul(qty).filter(|p| p.abs() < too_large())) {
        Some(None) => return Err(()),
        other => other.flatten(),
    };
    let extended =
        if cost_sent && !ext_sent && computed.is_some() { computed } else { line.dec("ExtendedCost").or(computed) };
    let extended = money(extended.or_else(|| line.dec("Amount")).unwrap_or(Decimal::ZERO));
    let amount = if line.touched.contains("Amount") || !(ext_sent || cost_sent) {
        line.dec("Amount").unwrap_or(extended)
    } else {
        extended
    };
    let amount = money(amount);
    line.set("ExtendedCost", Val::Dec(extended));
    line.set("Amount", Val::Dec(amount));
    Ok(amount)
}

/// Amounts at or beyond this magnitude do not fit Acumatica's amount columns.
fn too_large() -> Decimal {
    Decimal::from(1_000_000_000_000_000_i64)
}

/// `ReleaseBill`: Balanced → Open; anything else is refused.
pub(crate) fn release(rec: &mut Record) -> Result<(), String> {
    match rec.str("Status") {
        Some("Balanced") => {
            rec.set_str("Status", "Open");
            Ok(())
        }
        Some("On Hold") => Err("The document is on hold and cannot be released.".into()),
        _ => Err("The document has already been released.".into()),
    }
}
