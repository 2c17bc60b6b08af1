//! The normalized posting: one balanced journal entry per Concur document.
//!
//! This is what the per-connection mapping consumes (Concur codes → ERP
//! accounts, vendors, subaccounts) and what an ERP adapter finally posts as a
//! journal or an AP bill. It holds Concur's own codes, never ERP ones.
//!
//! Sign convention (the one of financial-integration-v4.md §9.3 and of SAE):
//! every [`JournalLine::amount`] is **signed — positive is a debit, negative
//! a credit** — in the entry's single [`JournalEntry::currency`]. Lines are
//! never zero. A [`JournalEntry`] can only be built balanced (Σ amounts = 0,
//! exactly: amounts are `rust_decimal`, never floats, and are not rounded
//! here — rounding to the ERP's currency precision is the adapter's job).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{ConcurDocumentId, DocumentType};

/// Debit or credit, derived from the sign of a line's amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Debit,
    Credit,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Debit => "DR",
            Side::Credit => "CR",
        })
    }
}

/// What a line stands for; the mapping picks the kind of ERP target from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineRole {
    /// Business spend on the journal's Concur account (expense type account),
    /// net of separately posted tax. Credits (refunds) are negative.
    Expense,
    /// The journal account of an entry marked personal (`entryIsPersonal = Y`):
    /// in Concur's examples the company-card clearing account a personal card
    /// charge runs through; its rows net to zero per entry.
    PersonalClearing,
    /// Reclaimable tax (`amountReclaim`) for a tax authority + code.
    TaxReclaimable,
    /// Non-deductible tax (`amountTax − amountReclaim`) for a tax authority + code.
    TaxNonDeductible,
    /// Tax of an invoice line; whether it is deductible is not in the document
    /// (the mapping decides by tax code).
    InvoiceTax,
    /// The employee's vendor / payable account (key: employee id). Credit =
    /// owed to the employee; debit = the employee owes (personal, credits,
    /// cash advance recovered).
    EmployeePayable,
    /// The counter-account of a non-employee payment type code (`IBCP`, `CBCP`,
    /// `COPD`, …: card vendor or card clearing, per connection mapping).
    PaymentTypeClearing,
    /// Cash advance clearing account (issuance and application).
    CashAdvanceClearing,
    /// The invoice vendor's payable.
    VendorPayable,
}

/// One cost-object value, from the most granular level that has it
/// (an expense allocation, an invoice allocation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CostObject {
    /// The Concur field it came from, e.g. `allocationCustom2` (a static
    /// name when normalized: lines share their cost objects).
    pub field: Cow<'static, str>,
    /// The list item code, e.g. `0021`.
    pub code: String,
    /// The list item name (`…Value`), e.g. `TemOD US 2`, when Concur sends it.
    pub name: Option<String>,
}

/// Tax identification of a tax line: what the mapping needs to pick a tax
/// account / ERP tax code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaxKey {
    /// `taxAuthorityLabel` (e.g. `DEVAT`, `CAGST`); invoices: `taxField`.
    pub authority: Option<String>,
    /// `taxCode` (e.g. `JC1E`); may be absent in Concur's data.
    pub code: Option<String>,
    /// `taxReclaimCode` (expense only), e.g. `VA`.
    pub reclaim_code: Option<String>,
    /// `locationCountryCode` of the tax row (expense only).
    pub country: Option<String>,
}

/// Where a line came from in the Concur document, for the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LineSource {
    /// JSON path of the row the line was derived from, relative to the FI
    /// envelope (e.g. `document.expenseEntry[1].allocation[0].journal[0]`).
    pub path: String,
    /// `entryId` (expense) or `lineItemSequenceOrder` (invoice).
    pub entry_id: Option<String>,
    /// `allocationId` / `allocationKey`.
    pub allocation_id: Option<String>,
    /// The tax row's `taxGuid`, for tax lines.
    pub tax_guid: Option<String>,
    /// The cash advance applied or issued.
    pub cash_advance_id: Option<String>,
}

/// One normalized journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalLine {
    pub role: LineRole,
    /// Signed: positive = debit, negative = credit; never zero.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// Concur account code for account lines (journal account, clearing
    /// account; on tax lines the account of the row the tax belongs to, so a
    /// mapping can fold non-deductible tax into that expense); `None` on
    /// party lines (employee, payment type, vendor).
    pub account_code: Option<String>,
    /// The Concur payment code of the party this line is against (`EMPL`,
    /// `IBCP`, `CBCP`, `COPD`…) on party lines; on the account side of a
    /// journal row, the row's counterparty code as well, so the mapping can
    /// route by payment type.
    pub payment_code: Option<String>,
    /// The source row's payer / payee codes (`journalPayer` / `journalPayee`).
    pub payer: Option<String>,
    pub payee: Option<String>,
    /// The document's employee (report owner / advance holder / invoice owner).
    pub employee_id: Option<String>,
    /// Invoice vendor code, on vendor lines.
    pub vendor_code: Option<String>,
    /// Present on tax lines.
    pub tax: Option<TaxKey>,
    /// Cost objects of the row the line comes from, most granular first:
    /// expense `allocationCustom1..20`, then the entry's `entryOrgUnit1..6`
    /// and `entryCustom1..40` (fallbacks a mapping may name; never the
    /// employee's fields, §9.1); invoice `allocationCustom1..20`. Party lines
    /// carry the cost objects of the row they offset (an ERP may need a
    /// company segment on the payable too). Empty on cash-advance lines.
    pub cost_objects: Arc<[CostObject]>,
    /// Expense type code (`LODNG`, `TAXIX`…) of the source entry, if any.
    pub expense_type_code: Option<String>,
    /// Human-readable line text.
    pub description: String,
    /// Shared by the lines of one source row.
    pub source: Arc<LineSource>,
}

impl JournalLine {
    pub fn side(&self) -> Side {
        if self.amount.is_sign_negative() { Side::Credit } else { Side::Debit }
    }

    /// The cost object read from Concur field `field` (e.g. `allocationCustom2`).
    pub fn cost_object(&self, field: &str) -> Option<&CostObject> {
        self.cost_objects.iter().find(|c| c.field == field)
    }

    /// The unsigned amount (what goes in the debit or credit column).
    pub fn magnitude(&self) -> Decimal {
        self.amount.abs()
    }
}

/// Header facts of the posted document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryHeader {
    pub doc_type: DocumentType,
    /// The FI document id (what confirmations use).
    pub document_id: ConcurDocumentId,
    /// `reportId` / `cashAdvanceId` / `requestId`: the key for ERP look-up.
    pub business_id: String,
    /// `revisionNumber` when the document has one (idempotency key with the id).
    pub revision: Option<String>,
    /// `reportName` / cash advance `name` / `requestTitle`.
    pub name: Option<String>,
    /// ISO 4217 code of every line: the reimbursement (employee) currency for
    /// expense reports and cash advances, the invoice currency for invoices.
    pub currency: String,
    /// `ledgerCode`, to route to an ERP company.
    pub ledger_code: Option<String>,
    pub employee_id: Option<String>,
    /// Invoice vendor (`vendorCode`), for AP bills.
    pub vendor_code: Option<String>,
    /// Invoice `vendorRemitToAddressCode`.
    pub vendor_remit_to: Option<String>,
    /// Expense report `cashAdvanceReturnsAmount` (cash handed back by the
    /// employee; not posted as a line — see the normalizer).
    #[serde(with = "rust_decimal::serde::str_option")]
    pub cash_advance_returns: Option<Decimal>,
    /// Invoice: the Concur purchase orders its lines reference
    /// (`lineItemPurchaseOrderNumber`), each once, in line order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purchase_orders: Vec<String>,
}

/// Why a set of lines is not a journal entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("the lines do not balance: debits {debits}, credits {credits}, difference {difference}")]
    Unbalanced { debits: Decimal, credits: Decimal, difference: Decimal },
    #[error("there is nothing to post: the document yields no non-zero line")]
    Empty,
    #[error("line {index} has a zero amount; zero lines are dropped before building an entry")]
    ZeroLine { index: usize },
    #[error("the amounts are too large to add up exactly (decimal overflow)")]
    Overflow,
}

/// A balanced journal entry: built only through [`JournalEntry::new`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntry {
    header: EntryHeader,
    lines: Vec<JournalLine>,
}

/// Σ debits and Σ credits (credits as a positive number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub debits: Decimal,
    pub credits: Decimal,
}

/// Adds up lines exactly, without panicking on overflow.
pub fn totals(lines: &[JournalLine]) -> Result<Totals, EntryError> {
    let mut debits = Decimal::ZERO;
    let mut credits = Decimal::ZERO;
    for line in lines {
        if line.amount.is_sign_negative() {
            credits = credits.checked_add(line.amount.abs()).ok_or(EntryError::Overflow)?;
        } else {
            debits = debits.checked_add(line.amount).ok_or(EntryError::Overflow)?;
        }
    }
    Ok(Totals { debits, credits })
}

impl JournalEntry {
    /// Checks that the lines are non-empty, non-zero and balance exactly.
    pub fn new(header: EntryHeader, lines: Vec<JournalLine>) -> Result<Self, EntryError> {
        if lines.is_empty() {
            return Err(EntryError::Empty);
        }
        if let Some(index) = lines.iter().position(|l| l.amount.is_zero()) {
            return Err(EntryError::ZeroLine { index });
        }
        let Totals { debits, credits } = totals(&lines)?;
        if debits != credits {
            let difference = debits.checked_sub(credits).ok_or(EntryError::Overflow)?;
            return Err(EntryError::Unbalanced { debits, credits, difference });
        }
        Ok(Self { header, lines })
    }

    pub fn header(&self) -> &EntryHeader {
        &self.header
    }

    pub fn lines(&self) -> &[JournalLine] {
        &self.lines
    }

    pub fn currency(&self) -> &str {
        &self.header.currency
    }

    /// Σ debits (= Σ credits).
    pub fn total(&self) -> Decimal {
        // Cannot fail: `new` already added these lines up.
        totals(&self.lines).map(|t| t.debits).unwrap_or_default()
    }

    pub fn into_parts(self) -> (EntryHeader, Vec<JournalLine>) {
        (self.header, self.lines)
    }
}
