//! Invoices / payment requests (`docType=invoice`), financial-integration-v4.md §8.2.
//!
//! Concur documents no invoice use case and ships no invoice example file
//! (§9.3 "docs silent"); this follows the schema table and the inline sample:
//! per `lineItem[].allocation[].journal` (an object in the sample, an array
//! accepted too) DR `accountCode` (fallback `allocationAccountCode`) with
//! `amountGross − Σ tax.amountTax` (net + shipping), one DR per tax row, and
//! one CR to the vendor for Σ `amountGross`, which must equal `requestTotal`.

use rust_decimal::Decimal;

use super::json::Node;
use super::{Draft, Problem, add, cost_objects, currency, sub};
use crate::journal::{JournalLine, LineRole, LineSource, TaxKey};

pub(super) fn normalize(root: Node<'_>) -> Result<Draft, Problem> {
    let header = root.require("requestHeader")?;
    let header = header.node();
    let vendor = root.require("vendor")?;
    let vendor = vendor.node();
    let vendor_code = vendor.require_text("vendorCode")?;
    let employee_id = match root.get("ownerEmployee")? {
        Some(owner) => owner.node().text("employeeId")?,
        None => None,
    };
    let mut draft = Draft {
        business_id: header.require_text("requestId")?,
        revision: header.text("revisionNumber")?,
        name: header.text("requestTitle")?,
        currency: currency(header, "currencyAlphaCode")?,
        ledger_code: header.text("ledgerCode")?,
        employee_id,
        vendor_code: Some(vendor_code.clone()),
        vendor_remit_to: vendor.text("vendorRemitToAddressCode")?,
        ..Draft::default()
    };

    let employee_id = draft.employee_id.clone();
    let mut total = Decimal::ZERO;
    let line_items = root.array("lineItem")?;
    if line_items.is_empty() {
        return Err(Problem::missing(root.child_path("lineItem")));
    }
    for item in &line_items {
        let item = item.node();
        let sequence = item.text("lineItemSequenceOrder")?;
        let type_code = item.text("expenseTypeCode")?;
        let label = item
            .text("lineItemDescription")?
            .or(item.text("expenseTypeName")?)
            .unwrap_or_else(|| format!("invoice line {}", sequence.as_deref().unwrap_or("?")));
        let allocations = item.array_or_object("allocation")?;
        if allocations.is_empty() {
            return Err(Problem::missing(item.child_path("allocation")));
        }
        for allocation in &allocations {
            let alloc = allocation.node();
            let cost_objects = cost_objects(alloc, "allocationCustom", 20)?;
            let journals = alloc.array_or_object("journal")?;
            if journals.is_empty() {
                return Err(Problem::missing(alloc.child_path("journal")));
            }
            for journal in &journals {
                let row = journal.node();
                let gross = row.require_decimal("amountGross")?;
                total = add(total, gross, row.path())?;
                let account = match row.text("accountCode")? {
                    Some(account) => account,
                    None => alloc
                        .text("allocationAccountCode")?
                        .ok_or_else(|| Problem::missing(row.child_path("accountCode")))?,
                };
                let source = LineSource {
                    path: row.path().to_owned(),
                    entry_id: sequence.clone(),
                    allocation_id: alloc.text("allocationKey")?,
                    ..LineSource::default()
                };
                let line = |role, amount, account_code, tax, description| JournalLine {
                    role,
                    amount,
                    account_code,
                    payment_code: None,
                    payer: None,
                    payee: None,
                    employee_id: employee_id.clone(),
                    vendor_code: Some(vendor_code.clone()),
                    tax,
                    cost_objects: cost_objects.clone(),
                    expense_type_code: type_code.clone(),
                    description,
                    source: source.clone(),
                };
                let mut tax_sum = Decimal::ZERO;
                let mut tax_lines = Vec::new();
                for tax in row.array_or_object("tax")? {
                    let tax_node = tax.node();
                    let amount = tax_node.require_decimal("amountTax")?;
                    tax_sum = add(tax_sum, amount, &tax.path)?;
                    let key = TaxKey {
                        authority: tax_node.text("taxField")?,
                        code: tax_node.text("taxCode")?,
                        reclaim_code: None,
                        country: None,
                    };
                    let text = format!("{label}: tax {}", key.code.as_deref().unwrap_or("-"));
                    tax_lines.push(line(LineRole::InvoiceTax, amount, Some(account.clone()), Some(key), text));
                }
                let expense = sub(gross, tax_sum, row.path())?;
                // Net + shipping is what stays on the account; if Concur's
                // parts disagree with the gross, the split would be a guess.
                if let Some(net) = row.decimal("amountNet")? {
                    let shipping = row.decimal("amountShipping")?.unwrap_or_default();
                    if add(net, shipping, row.path())? != expense {
                        return Err(Problem::inconsistent(
                            row.child_path("amountNet"),
                            format!(
                                "amountNet {net} + amountShipping {shipping} + tax {tax_sum} ≠ amountGross {gross}"
                            ),
                        ));
                    }
                }
                draft.lines.push(line(LineRole::Expense, expense, Some(account.clone()), None, label.clone()));
                draft.lines.append(&mut tax_lines);
            }
        }
    }
    if let Some(request_total) = header.decimal("requestTotal")?
        && request_total != total
    {
        return Err(Problem::inconsistent(
            header.child_path("requestTotal"),
            format!("requestTotal {request_total} differs from the sum of the allocations' amountGross {total}"),
        ));
    }
    let title = draft.name.clone().unwrap_or_else(|| draft.business_id.clone());
    draft.lines.push(JournalLine {
        role: LineRole::VendorPayable,
        amount: -total,
        account_code: None,
        payment_code: None,
        payer: None,
        payee: None,
        employee_id: draft.employee_id.clone(),
        vendor_code: Some(vendor_code),
        tax: None,
        cost_objects: Vec::new(),
        expense_type_code: None,
        description: format!("invoice {title}"),
        source: LineSource { path: root.child_path("requestHeader"), ..LineSource::default() },
    });
    Ok(draft)
}
