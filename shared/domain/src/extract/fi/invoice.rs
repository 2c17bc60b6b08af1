//! PRAE rows of one payment request → the FI invoice document (`docs/extract-files.md`, "PRAE").

use serde_json::Value;

use super::{Built, Cells, Groups, Object, Sources};
use crate::extract::error::ExtractError;
use crate::extract::row::Row;

/// Prorated VAT Amount n / Tax Code n (§5 212–219): amount columns, each followed by its code.
const VAT_AMOUNT_COLUMNS: [u16; 4] = [212, 214, 216, 218];

pub(super) fn document(rows: &[Row<'_>], sources: &mut Sources) -> Built {
    let head = Cells(&rows[0]);
    let business_id = head.business_id(51, "")?;
    let header = Object::default()
        .text("requestId", head.text(51))
        .text("requestTitle", head.text(4))
        .text("currencyAlphaCode", head.text(65))
        .text("ledgerCode", head.text(59))
        .amount("requestTotal", head.amount(10)?)
        .build();
    let vendor =
        Object::default().text("vendorCode", head.text(165)).text("vendorRemitToAddressCode", head.text(166)).build();
    let owner = Object::default().text("employeeId", head.text(94)).build();
    let mut items: Groups<&str, LineItem<'_>> = Groups::new();
    for row in rows {
        let cells = Cells(row);
        let (item, _) = items.entry(cells.text(132), || LineItem::new(cells));
        let (allocation, _) = item.allocations.entry(cells.text(89), || Allocation::new(cells));
        allocation.journals.push((journal(cells)?, row.number()));
    }
    let mut line_items = Vec::with_capacity(items.items.len());
    for (i, item) in items.items.into_iter().enumerate() {
        line_items.push(item.build(&format!("document.lineItem[{i}]"), sources));
    }
    let document = Object::default()
        .value("requestHeader", header)
        .value("vendor", vendor)
        .value("ownerEmployee", owner)
        .value("lineItem", Value::Array(line_items))
        .build();
    Ok((business_id, document))
}

/// The journal of one row, with its prorated VAT as tax rows.
fn journal(cells: Cells<'_>) -> Result<Value, ExtractError> {
    let mut taxes = Vec::new();
    for column in VAT_AMOUNT_COLUMNS {
        let amount = cells.amount(column)?;
        if amount.is_some_and(|a| !a.is_zero()) {
            taxes.push(Object::default().amount("amountTax", amount).text("taxCode", cells.text(column + 1)).build());
        }
    }
    Ok(Object::default()
        .text("accountCode", cells.text(61))
        .amount("amountGross", cells.amount(63)?)
        .amount("amountNet", Some(cells.0.journal_amount()))
        .amount("amountShipping", cells.amount(58)?)
        .value("tax", Value::Array(taxes))
        .build())
}

/// A line item: the rows sharing a Line Item Sequence Order (col 132).
struct LineItem<'r> {
    fields: Object,
    allocations: Groups<&'r str, Allocation>,
}

impl<'r> LineItem<'r> {
    fn new(cells: Cells<'r>) -> Self {
        let mut fields = Object::default();
        fields
            .text("lineItemSequenceOrder", cells.text(132))
            .text("lineItemDescription", cells.text(133))
            .text("expenseTypeCode", cells.text(134))
            .text("expenseTypeName", cells.text(135))
            .text("lineItemPurchaseOrderNumber", cells.text(128));
        LineItem { fields, allocations: Groups::new() }
    }

    fn build(mut self, path: &str, sources: &mut Sources) -> Value {
        let mut allocations = Vec::with_capacity(self.allocations.items.len());
        for (a, allocation) in self.allocations.items.into_iter().enumerate() {
            allocations.push(allocation.build(&format!("{path}.allocation[{a}]"), sources));
        }
        self.fields.value("allocation", Value::Array(allocations)).build()
    }
}

/// An allocation of a line item: its rows sharing an Allocation Key (col 89).
struct Allocation {
    fields: Object,
    journals: Vec<(Value, u64)>,
}

impl Allocation {
    fn new(cells: Cells<'_>) -> Self {
        let mut fields = Object::default();
        fields.text("allocationKey", cells.text(89)).text("allocationAccountCode", cells.text(68)).codes(
            cells,
            "allocationCustom",
            69,
            20,
        );
        Allocation { fields, journals: Vec::new() }
    }

    fn build(mut self, path: &str, sources: &mut Sources) -> Value {
        let mut journals = Vec::with_capacity(self.journals.len());
        for (j, (journal, row)) in self.journals.into_iter().enumerate() {
            sources.push((format!("{path}.journal[{j}]"), row));
            journals.push(journal);
        }
        self.fields.value("journal", Value::Array(journals)).build()
    }
}
