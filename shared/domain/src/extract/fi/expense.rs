//! SAE rows of one report → the FI expense document (`docs/extract-files.md`, "SAE").

use rust_decimal::Decimal;
use serde_json::Value;

use super::{Built, Cells, Groups, Object, Sources, sae_employee, tax_guid};
use crate::extract::error::ExtractError;
use crate::extract::row::Row;

/// Cash Advance Transaction Type of an application row (§4 col 185: 2 = applied to a report).
const APPLICATION: &str = "2";

pub(super) fn document(rows: &[Row<'_>], sources: &mut Sources) -> Built {
    let head = Cells(&rows[0]);
    let business_id = head.business_id(19, "")?;
    let report = Object::default()
        .text("reportId", head.text(19))
        .text("reportKey", head.text(20))
        .text("ledgerCode", head.text(21))
        .text("employeeCurrencyAlphaCode", head.text(22))
        .text("reportName", head.text(27))
        .amount("totalApprovedAmount", head.amount(32)?)
        .amount("cashAdvanceReturnsAmount", head.amount(327)?)
        .codes(head, "reportOrgUnit", 35, 6)
        .codes(head, "reportCustom", 41, 20)
        .build();
    let mut entries = Groups::new();
    let mut applications = Vec::new();
    for row in rows {
        let cells = Cells(row);
        if cells.text(185) == Some(APPLICATION) {
            sources.push((format!("document.cashAdvanceApplication[{}]", applications.len()), row.number()));
            applications.push(application(cells)?);
            continue;
        }
        let (entry, _) = entries.entry(cells.text(61), || Entry::new(cells));
        entry.add(cells)?;
    }
    let entries: Vec<Value> = entries
        .items
        .into_iter()
        .enumerate()
        .map(|(e, entry)| entry.build(&format!("document.expenseEntry[{e}]"), sources))
        .collect();
    let document = Object::default()
        .value("report", report)
        .value("employee", sae_employee(head))
        .value("expenseEntry", Value::Array(entries))
        .value("cashAdvanceApplication", Value::Array(applications))
        .build();
    Ok((business_id, document))
}

/// A cash advance applied to the report (col 185 = 2).
fn application(cells: Cells<'_>) -> Result<Value, ExtractError> {
    let key = cells.key(187)?.map(|key| format!("{}{key}", super::CASH_ADVANCE_KEY_PREFIX));
    Ok(Object::default()
        .amount("cashAdvanceApplicationAmount", cells.amount(169)?)
        .text("cashAdvanceClearingAccountCode", cells.text(167))
        .text("cashAdvanceId", key.as_deref())
        .text("cashAdvanceTransactionType", Some(APPLICATION))
        .build())
}

/// An expense entry: the rows sharing a Report Entry Id (col 61).
struct Entry<'r> {
    fields: Object,
    allocations: Groups<&'r str, Allocation<'r>>,
}

impl<'r> Entry<'r> {
    fn new(cells: Cells<'r>) -> Self {
        let mut fields = Object::default();
        fields
            .text("entryId", cells.text(61))
            .text("expenseTypeName", cells.text(63))
            .text("entryIsPersonal", cells.text(68))
            .text("entryDescription", cells.text(69))
            .text("reportEntryPatKey", cells.text(126))
            .codes(cells, "entryOrgUnit", 77, 6)
            .codes(cells, "entryCustom", 83, 40);
        Entry { fields, allocations: Groups::new() }
    }

    fn add(&mut self, cells: Cells<'r>) -> Result<(), ExtractError> {
        if !self.fields.0.contains_key("entryApprovedAmount") {
            self.fields.amount("entryApprovedAmount", cells.amount(125)?);
        }
        let (allocation, _) = self.allocations.entry(cells.text(189), || Allocation::new(cells));
        allocation.add(cells)
    }

    fn build(mut self, path: &str, sources: &mut Sources) -> Value {
        let allocations = self
            .allocations
            .items
            .into_iter()
            .enumerate()
            .map(|(a, allocation)| allocation.build(&format!("{path}.allocation[{a}]"), sources))
            .collect();
        self.fields.value("allocation", Value::Array(allocations)).build()
    }
}

/// An allocation of an entry: its rows sharing an Allocation Key (col 189).
struct Allocation<'r> {
    fields: Object,
    journals: Groups<&'r str, Journal>,
    /// Tax rows with the file row each came from.
    taxes: Vec<(Value, u64)>,
}

impl<'r> Allocation<'r> {
    fn new(cells: Cells<'r>) -> Self {
        let mut fields = Object::default();
        fields.text("allocationId", cells.text(189)).codes(cells, "allocationCustom", 191, 20);
        Allocation { fields, journals: Groups::new(), taxes: Vec::new() }
    }

    /// The row's journal (a Journal Key seen before: one more tax of that journal, with no amount of its own).
    fn add(&mut self, cells: Cells<'r>) -> Result<(), ExtractError> {
        let row = cells.0.number();
        let (journal, new) = self.journals.entry(cells.text(170), || Journal::new(row));
        if new {
            journal.read(cells)?;
        } else if !cells.0.journal_amount().is_zero() {
            return Err(ExtractError::Inconsistent {
                at: cells.cell(169),
                detail: format!(
                    "journal key {} continues the journal of row {} (one more tax) but has an amount of its own",
                    cells.text(170).unwrap_or(""),
                    journal.row
                ),
            });
        }
        if let Some(tax) = tax(cells)? {
            let guid = tax_guid(row);
            journal.tax_guids.push(Value::String(guid.clone()));
            let mut tax = tax;
            self.taxes.push((tax.text("taxGuid", Some(&guid)).build(), row));
        }
        Ok(())
    }

    fn build(mut self, path: &str, sources: &mut Sources) -> Value {
        let mut journals = Vec::with_capacity(self.journals.items.len());
        for (j, journal) in self.journals.items.into_iter().enumerate() {
            sources.push((format!("{path}.journal[{j}]"), journal.row));
            journals.push(journal.build());
        }
        let mut taxes = Vec::with_capacity(self.taxes.len());
        for (t, (tax, row)) in self.taxes.into_iter().enumerate() {
            sources.push((format!("{path}.tax[{t}]"), row));
            taxes.push(tax);
        }
        self.fields.value("journal", Value::Array(journals)).value("tax", Value::Array(taxes)).build()
    }
}

/// The tax columns of a row (§4 225–238), when it carries a tax authority or a tax amount.
fn tax(cells: Cells<'_>) -> Result<Option<Object>, ExtractError> {
    let label = cells.text(226);
    let amount = cells.amount(228)?;
    if label.is_none() && amount.is_none_or(|a| a.is_zero()) {
        return Ok(None);
    }
    let mut tax = Object::default();
    tax.text("taxAuthorityLabel", label)
        .amount("amountTax", amount)
        .amount("amountReclaim", cells.amount(231)?)
        .text("taxCode", cells.text(232))
        .text("taxReclaimCode", cells.text(238))
        .text("locationCountryCode", cells.text(158));
    Ok(Some(tax))
}

/// One journal: the amounts of its first row, the tax rows of every row sharing its key.
struct Journal {
    fields: Object,
    tax_guids: Vec<Value>,
    row: u64,
}

impl Journal {
    fn new(row: u64) -> Self {
        Journal { fields: Object::default(), tax_guids: Vec::new(), row }
    }

    fn read(&mut self, cells: Cells<'_>) -> Result<(), ExtractError> {
        let gross: Decimal = cells.0.journal_amount();
        self.fields
            .text("journalPayer", cells.text(164))
            .text("journalPayee", cells.text(166))
            .text("journalAccountCode", cells.text(167))
            .amount("amountGross", Some(gross))
            .amount("amountNetOfTax", cells.amount(247)?)
            .amount("amountNetOfReclaim", cells.amount(18)?);
        Ok(())
    }

    fn build(mut self) -> Value {
        self.fields.value("taxGuid", Value::Array(self.tax_guids)).build()
    }
}
