//! Invoices / payment requests (`docType=invoice`), financial-integration-v4.md §8.2.
//!
//! Concur documents no invoice use case and ships no invoice example file
//! (§9.3 "docs silent"); this follows the schema table and the inline sample:
//! per `lineItem[].allocation[].journal` (an object in the sample, an array
//! accepted too) DR `accountCode` (fallback `allocationAccountCode`) with
//! `amountGross − Σ tax.amountTax` (net + shipping), one DR per tax row, and
//! one CR to the vendor for Σ `amountGross`, which must equal `requestTotal`.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::document::{InvoiceDocument, InvoiceJournal, LineItem, items};
use super::json::At;
use super::{Draft, Problem, add, cost_objects, currency, sub};
use crate::journal::{CostObject, JournalLine, LineRole, LineSource, TaxKey};

const HEADER_PATH: &str = "document.requestHeader";

pub(super) fn normalize(doc: &InvoiceDocument<'_>) -> Result<Draft, Problem> {
    let mut draft = header(doc)?;
    let vendor_code = draft.vendor_code.clone().unwrap_or_default();
    let line_items = items(&doc.line_item);
    if line_items.is_empty() {
        return Err(Problem::missing("document.lineItem"));
    }
    let mut total = Decimal::ZERO;
    for (n, item) in line_items.iter().enumerate() {
        let path = format!("document.lineItem[{n}]");
        let invoice = InvoiceLine::read(item, At(&path), draft.employee_id.clone(), vendor_code.clone())?;
        let purchase_order = At(&path).string(&item.line_item_purchase_order_number, "lineItemPurchaseOrderNumber")?;
        if let Some(number) = purchase_order.filter(|n| !draft.purchase_orders.contains(n)) {
            draft.purchase_orders.push(number);
        }
        invoice.lines(item, &mut total, &mut draft.lines)?;
    }
    let header = doc.request_header.as_ref().ok_or_else(|| Problem::missing(HEADER_PATH))?;
    if let Some(request_total) = At(HEADER_PATH).decimal(&header.request_total, "requestTotal")?
        && request_total != total
    {
        return Err(Problem::inconsistent(
            At(HEADER_PATH).child_path("requestTotal"),
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
        cost_objects: Arc::default(),
        expense_type_code: None,
        description: format!("invoice {title}"),
        source: Arc::new(LineSource { path: HEADER_PATH.to_owned(), ..LineSource::default() }),
    });
    Ok(draft)
}

/// The request's header, vendor and owner, read in the order a refusal names them.
fn header(doc: &InvoiceDocument<'_>) -> Result<Draft, Problem> {
    let header = doc.request_header.as_ref().ok_or_else(|| Problem::missing(HEADER_PATH))?;
    let vendor = doc.vendor.as_ref().ok_or_else(|| Problem::missing("document.vendor"))?;
    let vendor_at = At("document.vendor");
    let vendor_code = vendor_at.require_string(&vendor.vendor_code, "vendorCode")?;
    let employee_id = match &doc.owner_employee {
        Some(owner) => At("document.ownerEmployee").string(&owner.employee_id, "employeeId")?,
        None => None,
    };
    let at = At(HEADER_PATH);
    Ok(Draft {
        business_id: at.require_string(&header.request_id, "requestId")?,
        revision: at.string(&header.revision_number, "revisionNumber")?,
        name: at.string(&header.request_title, "requestTitle")?,
        currency: currency(at, &header.currency_alpha_code, "currencyAlphaCode")?,
        ledger_code: at.string(&header.ledger_code, "ledgerCode")?,
        employee_id,
        vendor_code: Some(vendor_code),
        vendor_remit_to: vendor_at.string(&vendor.vendor_remit_to_address_code, "vendorRemitToAddressCode")?,
        ..Draft::default()
    })
}

/// What every line of one `lineItem[]` shares.
struct InvoiceLine<'p> {
    at: At<'p>,
    sequence: Option<String>,
    type_code: Option<String>,
    label: String,
    employee_id: Option<String>,
    vendor_code: String,
}

impl<'p> InvoiceLine<'p> {
    fn read(
        item: &LineItem<'_>,
        at: At<'p>,
        employee_id: Option<String>,
        vendor_code: String,
    ) -> Result<Self, Problem> {
        let sequence = at.string(&item.line_item_sequence_order, "lineItemSequenceOrder")?;
        let type_code = at.string(&item.expense_type_code, "expenseTypeCode")?;
        let label = at
            .string(&item.line_item_description, "lineItemDescription")?
            .or(at.string(&item.expense_type_name, "expenseTypeName")?)
            .unwrap_or_else(|| format!("invoice line {}", sequence.as_deref().unwrap_or("?")));
        Ok(Self { at, sequence, type_code, label, employee_id, vendor_code })
    }

    /// Appends the lines of every allocation and adds their gross to `total`.
    fn lines(&self, item: &LineItem<'_>, total: &mut Decimal, lines: &mut Vec<JournalLine>) -> Result<(), Problem> {
        let allocations = &item.allocation.items;
        if allocations.is_empty() {
            return Err(Problem::missing(self.at.child_path("allocation")));
        }
        for (a, allocation) in allocations.iter().enumerate() {
            let path = item.allocation.path(self.at.path(), "allocation", a);
            let alloc = At(&path);
            let mut cost_objects_here = Vec::new();
            cost_objects(alloc, &allocation.custom, &mut cost_objects_here)?;
            let cost_objects_here: Arc<[CostObject]> = cost_objects_here.into();
            let journals = &allocation.journal.items;
            if journals.is_empty() {
                return Err(Problem::missing(alloc.child_path("journal")));
            }
            for (j, journal) in journals.iter().enumerate() {
                let path = allocation.journal.path(alloc.path(), "journal", j);
                let row = At(&path);
                let gross = row.require_decimal(&journal.amount_gross, "amountGross")?;
                *total = add(*total, gross, row.path())?;
                let account = match row.string(&journal.account_code, "accountCode")? {
                    Some(account) => account,
                    None => alloc
                        .string(&allocation.allocation_account_code, "allocationAccountCode")?
                        .ok_or_else(|| Problem::missing(row.child_path("accountCode")))?,
                };
                let source = Arc::new(LineSource {
                    path: row.path().to_owned(),
                    entry_id: self.sequence.clone(),
                    allocation_id: alloc.string(&allocation.allocation_key, "allocationKey")?,
                    ..LineSource::default()
                });
                let posting = JournalPosting { invoice: self, account, cost_objects: &cost_objects_here, source };
                posting.lines(journal, row, gross, lines)?;
            }
        }
        Ok(())
    }
}

/// One `journal` row of an allocation, with its account and source.
struct JournalPosting<'l> {
    invoice: &'l InvoiceLine<'l>,
    account: String,
    cost_objects: &'l Arc<[CostObject]>,
    source: Arc<LineSource>,
}

impl JournalPosting<'_> {
    fn line(&self, role: LineRole, amount: Decimal, tax: Option<TaxKey>, description: String) -> JournalLine {
        JournalLine {
            role,
            amount,
            account_code: Some(self.account.clone()),
            payment_code: None,
            payer: None,
            payee: None,
            employee_id: self.invoice.employee_id.clone(),
            vendor_code: Some(self.invoice.vendor_code.clone()),
            tax,
            cost_objects: Arc::clone(self.cost_objects),
            expense_type_code: self.invoice.type_code.clone(),
            description,
            source: self.source.clone(),
        }
    }

    /// DR the account with gross − tax, DR one line per tax row.
    fn lines(
        &self,
        journal: &InvoiceJournal<'_>,
        row: At<'_>,
        gross: Decimal,
        lines: &mut Vec<JournalLine>,
    ) -> Result<(), Problem> {
        let label = &self.invoice.label;
        let mut tax_sum = Decimal::ZERO;
        let mut tax_lines = Vec::new();
        let taxes = &journal.tax.items;
        for (t, tax) in taxes.iter().enumerate() {
            let path = journal.tax.path(row.path(), "tax", t);
            let at = At(&path);
            let amount = at.require_decimal(&tax.amount_tax, "amountTax")?;
            tax_sum = add(tax_sum, amount, &path)?;
            let key = TaxKey {
                authority: at.string(&tax.tax_field, "taxField")?,
                code: at.string(&tax.tax_code, "taxCode")?,
                reclaim_code: None,
                country: None,
            };
            let text = format!("{label}: tax {}", key.code.as_deref().unwrap_or("-"));
            tax_lines.push(self.line(LineRole::InvoiceTax, amount, Some(key), text));
        }
        let expense = sub(gross, tax_sum, row.path())?;
        // Net + shipping is what stays on the account; if Concur's parts
        // disagree with the gross, the split would be a guess.
        if let Some(net) = row.decimal(&journal.amount_net, "amountNet")? {
            let shipping = row.decimal(&journal.amount_shipping, "amountShipping")?.unwrap_or_default();
            if add(net, shipping, row.path())? != expense {
                return Err(Problem::inconsistent(
                    row.child_path("amountNet"),
                    format!("amountNet {net} + amountShipping {shipping} + tax {tax_sum} ≠ amountGross {gross}"),
                ));
            }
        }
        lines.push(self.line(LineRole::Expense, expense, None, label.clone()));
        lines.append(&mut tax_lines);
        Ok(())
    }
}
