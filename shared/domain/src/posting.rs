//! From a balanced [`JournalEntry`] (Concur's codes) and a connection's
//! [`Mapping`] to the ERP documents to create (ERP accounts, vendors and
//! dimensions): the posting plan every ERP adapter executes.
//!
//! Pure and ERP-neutral: an adapter only renders [`ErpDocument`]s in its own
//! wire format. Two forms (the connection's [`PostingForm`] per document type):
//!
//! * **Journal** — one balanced GL journal with every line; lines against a
//!   vendor (employee, card issuer, invoice supplier) post on the mapping's
//!   `payable_account`.
//! * **AP bill** — the lines are split by counterparty (the payment code each
//!   line carries: every Concur journal row pairs its account side with its
//!   payer/payee, so each counterparty's lines net to zero on their own).
//!   Counterparties the mapping sends to a vendor become one AP document per
//!   vendor: a *bill* when the company owes the vendor, a *debit adjustment*
//!   when the vendor (e.g. the employee, for personal charges) owes the
//!   company. Counterparties mapped to a GL account (a company-paid card's
//!   clearing account) go into one journal. So a report with out-of-pocket
//!   and card spend becomes a bill to the employee plus a bill to the card
//!   issuer (or a journal on the card clearing account).
//!
//! Every amount is brought to the currency's minor units (ISO 4217 exponent,
//! [`crate::currency::ROUNDING`]) here, once, for every ERP: each line is
//! rounded on its own, a document's total is the rounding of its exact total
//! (zero for a journal), and what the rounded lines miss goes on one line on
//! the mapping's `rounding_account` — or the document is refused. Lines that
//! round to zero are dropped.
//!
//! Every ERP document carries the Concur document's business id as its key;
//! adapters look it up before creating, so a document split into several ERP
//! documents is still created exactly once, each part on its own.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::connection::PostingForm;
use crate::currency::{UnknownCurrency, minor_units, round_to};
use crate::journal::{JournalEntry, JournalLine, LineRole};
use crate::mapping::{Mapping, NonDeductible, NonDeductibleKeyword, PartyRule, Unmapped};

/// What one normalized line posts on in the ERP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Target {
    /// A GL account.
    Account(String),
    /// A vendor's payable (the employee's vendor, a card issuer, the invoice supplier).
    Vendor(String),
}

/// One normalized line with its ERP target and dimension values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedLine {
    /// Index of the line in [`JournalEntry::lines`].
    pub index: usize,
    pub target: Target,
    /// Dimension name (as the mapping names it: `subaccount`, `branch`,
    /// `cost_center`…) → ERP value.
    pub dimensions: BTreeMap<String, String>,
}

/// Maps one line: its account or vendor, and its dimensions.
pub fn map_line(mapping: &Mapping, line: &JournalLine, index: usize) -> Result<MappedLine, Unmapped> {
    let target = match line.role {
        LineRole::Expense | LineRole::PersonalClearing | LineRole::CashAdvanceClearing => {
            Target::Account(mapping.account(concur_account(line)?)?.to_owned())
        }
        LineRole::TaxReclaimable | LineRole::InvoiceTax => {
            Target::Account(tax_rule(mapping, line)?.reclaim_account.clone())
        }
        LineRole::TaxNonDeductible => match &tax_rule(mapping, line)?.non_deductible {
            NonDeductible::Keyword(NonDeductibleKeyword::Expense) => {
                Target::Account(mapping.account(concur_account(line)?)?.to_owned())
            }
            NonDeductible::Account { account } => Target::Account(account.clone()),
        },
        LineRole::EmployeePayable | LineRole::PaymentTypeClearing => {
            let code = line.payment_code.as_deref().unwrap_or_default();
            match mapping.party(code)? {
                PartyRule::EmployeeVendor {} => {
                    let employee = line.employee_id.as_deref().unwrap_or_default();
                    Target::Vendor(mapping.employee_vendor(employee)?.to_owned())
                }
                PartyRule::Vendor { vendor } => Target::Vendor(vendor.clone()),
                PartyRule::Account { account } => Target::Account(account.clone()),
            }
        }
        // Concur's vendor list is kept in step with the ERP's (reference data
        // sync), so an invoice's vendor code is the ERP vendor id.
        LineRole::VendorPayable => Target::Vendor(
            line.vendor_code
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Unmapped { what: "invoice vendor", code: "(none)".into(), section: "the invoice" })?
                .to_owned(),
        ),
    };
    let field = |name: &str| line.cost_object(name).map(|c| c.code.as_str());
    let dimensions = mapping.dimensions(field)?;
    Ok(MappedLine { index, target, dimensions })
}

fn concur_account(line: &JournalLine) -> Result<&str, Unmapped> {
    line.account_code.as_deref().ok_or_else(|| Unmapped {
        what: "line without a Concur account",
        code: line.description.clone(),
        section: "accounts",
    })
}

fn tax_rule<'m>(mapping: &'m Mapping, line: &JournalLine) -> Result<&'m crate::mapping::TaxRule, Unmapped> {
    let tax = line.tax.as_ref();
    let authority = tax.and_then(|t| t.authority.as_deref()).unwrap_or_default();
    mapping.tax(authority, tax.and_then(|t| t.code.as_deref()))
}

/// Every line mapped, or every reason the document cannot be (deduplicated,
/// in line order), so one fix of the mapping can address them all.
pub fn map_entry(mapping: &Mapping, entry: &JournalEntry) -> Result<Vec<MappedLine>, PlanError> {
    let mut mapped = Vec::with_capacity(entry.lines().len());
    let mut problems: Vec<Unmapped> = Vec::new();
    for (index, line) in entry.lines().iter().enumerate() {
        match map_line(mapping, line, index) {
            Ok(line) => mapped.push(line),
            Err(problem) if !problems.contains(&problem) => problems.push(problem),
            Err(_) => {}
        }
    }
    if problems.is_empty() { Ok(mapped) } else { Err(PlanError::Unmapped(problems)) }
}

/// The kind of ERP document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErpDocumentKind {
    /// The company owes `vendor` the document total.
    Bill { vendor: String },
    /// `vendor` owes the company the document total (Acumatica "Debit Adj.").
    DebitAdjustment { vendor: String },
    /// A balanced GL journal.
    Journal,
}

/// One line of an ERP document.
///
/// Bills and debit adjustments: `amount` is the line amount of the document
/// (positive adds to the total, negative reduces it, e.g. a cash advance
/// recovered on a bill). Journals: signed, positive = debit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedLine {
    pub account: String,
    pub dimensions: BTreeMap<String, String>,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub description: String,
    /// Index of the normalized line it comes from.
    pub source: usize,
}

/// `2026-11-23`, not time's default tuple.
fn iso_date<S: serde::Serializer>(date: &time::Date, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(date)
}

/// One document to create in the ERP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErpDocument {
    #[serde(flatten)]
    pub kind: ErpDocumentKind,
    /// The Concur business id: `VendorRef` of a bill, the journal key.
    pub key: String,
    /// Document date (the date the connector posts it; the ERP derives the
    /// financial period from it).
    #[serde(serialize_with = "iso_date")]
    pub date: time::Date,
    pub currency: String,
    pub description: String,
    pub lines: Vec<PlannedLine>,
}

impl ErpDocument {
    /// Bills: Σ lines (the amount owed, > 0). Journals: Σ debits.
    pub fn total(&self) -> Decimal {
        match self.kind {
            ErpDocumentKind::Journal => {
                self.lines.iter().filter(|l| l.amount.is_sign_positive()).map(|l| l.amount).sum()
            }
            _ => self.lines.iter().map(|l| l.amount).sum(),
        }
    }

    /// How messages and the audit name it.
    pub fn label(&self) -> String {
        match &self.kind {
            ErpDocumentKind::Bill { vendor } => format!("bill to {vendor}"),
            ErpDocumentKind::DebitAdjustment { vendor } => format!("debit adjustment of {vendor}"),
            ErpDocumentKind::Journal => "journal".to_owned(),
        }
    }
}

/// The ERP documents for one Concur document: bills first, then the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostingPlan {
    pub form: PostingForm,
    pub documents: Vec<ErpDocument>,
    /// Concur purchase orders the documents reference: an ERP that keeps
    /// Concur's POs (IFS Cloud) must hold them before the documents post.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub purchase_orders: Vec<String>,
}

impl ErpDocument {
    /// The vendor of a bill or debit adjustment; `None` for a journal.
    pub fn vendor(&self) -> Option<&str> {
        match &self.kind {
            ErpDocumentKind::Bill { vendor } | ErpDocumentKind::DebitAdjustment { vendor } => Some(vendor),
            ErpDocumentKind::Journal => None,
        }
    }
}

/// A vendor document (bill or debit adjustment) an ERP holds for a Concur key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldVendorDocument {
    /// The ERP's reference, as the ledger records it.
    pub reference: String,
    pub vendor: String,
}

/// What an ERP holds for a plan's key, next to the plan's vendor documents.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeldComparison {
    /// Held on vendors the plan does not name: an earlier attempt created
    /// them under a mapping that has changed since.
    pub strays: Vec<HeldVendorDocument>,
    /// Indexes (into the plan's documents) of vendor documents the ERP does
    /// not hold on their vendor.
    pub missing: Vec<usize>,
}

impl PostingPlan {
    /// The Concur key of the plan's vendor documents; `None` when it has none.
    pub fn vendor_key(&self) -> Option<&str> {
        self.documents.iter().find(|d| d.vendor().is_some()).map(|d| d.key.as_str())
    }

    /// Compares `held` (every vendor document the ERP holds under the plan's
    /// key, on any vendor) with the plan's vendor documents. Lookups before
    /// a create match key *and* vendor (one report bills the employee and
    /// the card issuer under one key), so a vendor whose mapping changed
    /// between attempts is only seen here.
    pub fn compare_held(&self, held: &[HeldVendorDocument]) -> HeldComparison {
        let planned: std::collections::BTreeSet<&str> = self.documents.iter().filter_map(ErpDocument::vendor).collect();
        let strays = held.iter().filter(|h| !planned.contains(h.vendor.as_str())).cloned().collect();
        let missing = self
            .documents
            .iter()
            .enumerate()
            .filter(|(_, d)| d.vendor().is_some_and(|v| !held.iter().any(|h| h.vendor == v)))
            .map(|(index, _)| index)
            .collect();
        HeldComparison { strays, missing }
    }
}

/// Why a document cannot be planned: it is stopped with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{}", describe_unmapped(.0))]
    Unmapped(Vec<Unmapped>),
    #[error(
        "lines against a vendor must post in an AP document or on an account: set `payable_account` in the \
         mapping to post {what} inside a journal"
    )]
    NoPayableAccount { what: String },
    #[error(
        "the lines of counterparty {counterparty} do not net to zero ({amount}); the document cannot be split into AP documents"
    )]
    CounterpartyUnbalanced { counterparty: String, amount: Decimal },
    #[error("the amounts are too large to add up exactly (decimal overflow)")]
    Overflow,
    #[error(transparent)]
    UnknownCurrency(#[from] UnknownCurrency),
    #[error(
        "rounded to {currency} minor units, the lines of the {document} miss {difference}: set `rounding_account` in \
         the mapping to the GL account that takes rounding differences"
    )]
    RoundingWithoutAccount { document: String, currency: String, difference: Decimal },
    #[error(
        "the {document} amounts to {total} {currency}, which is nothing once rounded to the currency's minor units"
    )]
    RoundsToNothing { document: String, total: Decimal, currency: String },
}

fn describe_unmapped(problems: &[Unmapped]) -> String {
    match problems {
        [one] => one.to_string(),
        many => format!(
            "{} codes are not mapped: {}",
            many.len(),
            many.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
        ),
    }
}

/// Maps `entry` and arranges it as ERP documents in `form`.
pub fn plan(
    mapping: &Mapping,
    entry: &JournalEntry,
    form: PostingForm,
    date: time::Date,
) -> Result<PostingPlan, PlanError> {
    let mapped = map_entry(mapping, entry)?;
    let header = entry.header();
    let description = match header.name.as_deref() {
        Some(name) => bounded_description(name),
        None => bounded_description(&format!("Concur {} {}", header.doc_type, header.business_id)),
    };
    let document = |kind, lines| ErpDocument {
        kind,
        key: header.business_id.clone(),
        date,
        currency: header.currency.clone(),
        description: description.clone(),
        lines,
    };
    let lines = entry.lines();
    let mut documents = Vec::new();
    let mut journal_lines: Vec<&MappedLine> = Vec::new();
    match form {
        PostingForm::Journal => journal_lines.extend(&mapped),
        PostingForm::ApBill => {
            let by_vendor = by_vendor(lines, &mapped, &mut journal_lines)?;
            for (kind, planned) in vendor_documents(lines, by_vendor, &mut journal_lines)? {
                documents.push(document(kind, planned));
            }
        }
    }
    if !journal_lines.is_empty() {
        let planned = journal_lines
            .iter()
            .map(|m| planned(lines, m, Decimal::ONE, mapping.payable_account.as_deref()))
            .collect::<Result<_, _>>()?;
        documents.push(document(ErpDocumentKind::Journal, planned));
    }
    let exponent = minor_units(&header.currency).ok_or_else(|| UnknownCurrency { code: header.currency.clone() })?;
    let rounding_account = mapping.rounding_account.as_deref();
    let documents =
        documents.into_iter().map(|d| in_minor_units(d, exponent, rounding_account)).collect::<Result<Vec<_>, _>>()?;
    Ok(PostingPlan { form, documents, purchase_orders: header.purchase_orders.clone() })
}

/// AP bill form: the lines of each counterparty (its payment code for
/// reports and cash advances, its vendor for invoices) whose party lines go
/// to one vendor, merged by vendor. The others go to `journal_lines`.
fn by_vendor<'m>(
    lines: &[JournalLine],
    mapped: &'m [MappedLine],
    journal_lines: &mut Vec<&'m MappedLine>,
) -> Result<BTreeMap<String, Vec<&'m MappedLine>>, PlanError> {
    let mut by_counterparty: BTreeMap<&str, Vec<&MappedLine>> = BTreeMap::new();
    for m in mapped {
        let line = &lines[m.index];
        let counterparty = line.payment_code.as_deref().or(line.vendor_code.as_deref()).unwrap_or_default();
        by_counterparty.entry(counterparty).or_default().push(m);
    }
    let mut by_vendor: BTreeMap<String, Vec<&MappedLine>> = BTreeMap::new();
    for (counterparty, group) in by_counterparty {
        let sum = sum(group.iter().map(|m| lines[m.index].amount))?;
        if !sum.is_zero() {
            return Err(PlanError::CounterpartyUnbalanced { counterparty: counterparty.to_owned(), amount: sum });
        }
        let vendors: std::collections::BTreeSet<&str> = group
            .iter()
            .filter_map(|m| match &m.target {
                Target::Vendor(v) => Some(v.as_str()),
                Target::Account(_) => None,
            })
            .collect();
        match vendors.into_iter().collect::<Vec<_>>()[..] {
            [vendor] => by_vendor.entry(vendor.to_owned()).or_default().extend(group),
            _ => journal_lines.extend(group),
        }
    }
    Ok(by_vendor)
}

/// One bill per vendor owed, one debit adjustment per vendor owing; a vendor
/// owed nothing either way (e.g. a charge and its refund) leaves its account
/// lines to `journal_lines`, where they balance on their own.
fn vendor_documents<'m>(
    lines: &[JournalLine],
    by_vendor: BTreeMap<String, Vec<&'m MappedLine>>,
    journal_lines: &mut Vec<&'m MappedLine>,
) -> Result<Vec<(ErpDocumentKind, Vec<PlannedLine>)>, PlanError> {
    let mut documents = Vec::new();
    for (vendor, group) in by_vendor {
        let vendor_lines: Vec<&MappedLine> =
            group.iter().copied().filter(|m| matches!(m.target, Target::Account(_))).collect();
        let owed = -sum(group.iter().filter(|m| matches!(m.target, Target::Vendor(_))).map(|m| lines[m.index].amount))?;
        if owed.is_zero() {
            journal_lines.extend(vendor_lines);
            continue;
        }
        let (kind, sign) = if owed.is_sign_positive() {
            (ErpDocumentKind::Bill { vendor }, Decimal::ONE)
        } else {
            (ErpDocumentKind::DebitAdjustment { vendor }, Decimal::NEGATIVE_ONE)
        };
        let planned = vendor_lines.iter().map(|m| planned(lines, m, sign, None)).collect::<Result<_, _>>()?;
        documents.push((kind, planned));
    }
    Ok(documents)
}

/// `document` with every line in `exponent` decimals, its total the rounding
/// of its exact total, the difference on `rounding_account`.
fn in_minor_units(
    mut document: ErpDocument,
    exponent: u32,
    rounding_account: Option<&str>,
) -> Result<ErpDocument, PlanError> {
    let exact_total = sum(document.lines.iter().map(|l| l.amount))?;
    let target = round_to(exact_total, exponent).ok_or(PlanError::Overflow)?;
    // The line the rounding difference is traced to: the largest one.
    let largest = document.lines.iter().max_by_key(|l| l.amount.abs()).map(|l| l.source).unwrap_or_default();
    for line in &mut document.lines {
        line.amount = round_to(line.amount, exponent).ok_or(PlanError::Overflow)?;
    }
    document.lines.retain(|l| !l.amount.is_zero());
    let difference = target.checked_sub(sum(document.lines.iter().map(|l| l.amount))?).ok_or(PlanError::Overflow)?;
    if !difference.is_zero() {
        let Some(account) = rounding_account else {
            return Err(PlanError::RoundingWithoutAccount {
                document: document.label(),
                currency: document.currency.clone(),
                difference,
            });
        };
        document.lines.push(PlannedLine {
            account: account.to_owned(),
            dimensions: BTreeMap::new(),
            amount: difference,
            description: format!("Rounding to {} minor units", document.currency),
            source: largest,
        });
    }
    let bill = !matches!(document.kind, ErpDocumentKind::Journal);
    if document.lines.is_empty() || (bill && target.is_zero()) {
        return Err(PlanError::RoundsToNothing {
            document: document.label(),
            total: exact_total,
            currency: document.currency.clone(),
        });
    }
    Ok(document)
}

/// `payable`: the GL account vendor lines post on inside a journal.
fn planned(
    lines: &[JournalLine],
    m: &MappedLine,
    sign: Decimal,
    payable: Option<&str>,
) -> Result<PlannedLine, PlanError> {
    let line = &lines[m.index];
    let account = match (&m.target, payable) {
        (Target::Account(account), _) => account.clone(),
        (Target::Vendor(_), Some(payable)) => payable.to_owned(),
        (Target::Vendor(vendor), None) => {
            return Err(PlanError::NoPayableAccount { what: format!("the line owed to vendor {vendor}") });
        }
    };
    Ok(PlannedLine {
        account,
        dimensions: m.dimensions.clone(),
        amount: line.amount.checked_mul(sign).ok_or(PlanError::Overflow)?,
        description: bounded_description(&line.description),
        source: m.index,
    })
}

/// Longest description an ERP document or line carries (Acumatica's
/// description fields hold 255 characters; IFS and Infor cut shorter
/// themselves). Report names and expense type names come from Concur
/// unbounded: one of 10 MB would otherwise be rendered into every request.
pub const MAX_DESCRIPTION_CHARS: usize = 255;

fn bounded_description(text: &str) -> String {
    crate::text::truncate(text, MAX_DESCRIPTION_CHARS).to_owned()
}

fn sum(mut amounts: impl Iterator<Item = Decimal>) -> Result<Decimal, PlanError> {
    amounts.try_fold(Decimal::ZERO, |s, a| s.checked_add(a).ok_or(PlanError::Overflow))
}

/// Σ of a journal's signed lines is zero (checked again by adapters before sending).
pub fn journal_balances(document: &ErpDocument) -> bool {
    let lines: Vec<Decimal> = document.lines.iter().map(|l| l.amount).collect();
    sum(lines.into_iter()).is_ok_and(|s| s.is_zero())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::ids::{ConcurDocumentId, DocumentType};
    use crate::journal::{EntryHeader, JournalEntry};

    const MAPPING: &str = r#"
version: 1
accounts: { "6000": "61000", "1990": "12800", CADV: "13100" }
payable_account: "20000"
parties:
  EMPL: { kind: employee_vendor }
  IBCP: { kind: vendor, vendor: AMEX }
  CBCP: { kind: account, account: "20500" }
employees: { E1: EMP1 }
dimensions:
  subaccount: { sources: [allocationCustom1], default: "000-000" }
taxes:
  - { authority: DEVAT, reclaim_account: "14500", non_deductible: expense }
"#;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn line(role: LineRole, amount: &str, account: Option<&str>, code: &str) -> JournalLine {
        JournalLine {
            role,
            amount: dec(amount),
            account_code: account.map(str::to_owned),
            payment_code: Some(code.to_owned()),
            payer: None,
            payee: None,
            employee_id: Some("E1".into()),
            vendor_code: None,
            tax: matches!(role, LineRole::TaxReclaimable | LineRole::TaxNonDeductible).then(|| {
                crate::journal::TaxKey {
                    authority: Some("DEVAT".into()),
                    code: None,
                    reclaim_code: None,
                    country: None,
                }
            }),
            cost_objects: Default::default(),
            expense_type_code: None,
            description: format!("{role:?} {amount}"),
            source: Default::default(),
        }
    }

    fn entry(lines: Vec<JournalLine>) -> JournalEntry {
        entry_in("EUR", lines)
    }

    fn entry_in(currency: &str, lines: Vec<JournalLine>) -> JournalEntry {
        let header = EntryHeader {
            doc_type: DocumentType::Expense,
            document_id: ConcurDocumentId::parse("R1").unwrap(),
            business_id: "R1".into(),
            revision: None,
            name: Some("Trip".into()),
            currency: currency.into(),
            ledger_code: None,
            employee_id: Some("E1".into()),
            vendor_code: None,
            vendor_remit_to: None,
            cash_advance_returns: None,
            purchase_orders: Vec::new(),
        };
        JournalEntry::new(header, lines).unwrap()
    }

    fn mapping() -> Mapping {
        Mapping::from_yaml(MAPPING).unwrap()
    }

    fn date() -> time::Date {
        time::macros::date!(2026 - 11 - 23)
    }

    /// Concur's report names and line descriptions are unbounded; the ERP
    /// documents carry at most `MAX_DESCRIPTION_CHARS` of them (found by the
    /// bad-input corpus: a 10 MB report name went into every request).
    #[test]
    fn descriptions_are_bounded() {
        let mut long = line(LineRole::Expense, "100", Some("6000"), "EMPL");
        long.description = "é".repeat(10_000);
        let e = entry(vec![long, line(LineRole::EmployeePayable, "-100", None, "EMPL")]);
        let mut e_header = e.header().clone();
        e_header.name = Some("N".repeat(1 << 20));
        let e = JournalEntry::new(e_header, e.lines().to_vec()).unwrap();
        let plan = plan(&mapping(), &e, PostingForm::Journal, date()).unwrap();
        let document = &plan.documents[0];
        assert_eq!(document.description.chars().count(), MAX_DESCRIPTION_CHARS);
        assert!(document.lines.iter().all(|l| l.description.chars().count() <= MAX_DESCRIPTION_CHARS));
        assert_eq!(document.lines[0].description, "é".repeat(MAX_DESCRIPTION_CHARS));
    }

    /// Out of pocket, an IBCP card charge, a CBCP personal charge: one bill
    /// to the employee (out of pocket less the personal charge they owe),
    /// one to the card issuer, and a journal on the CBCP clearing account.
    #[test]
    fn ap_bill_form_splits_by_counterparty_and_vendor() {
        let e = entry(vec![
            line(LineRole::Expense, "100", Some("6000"), "EMPL"),
            line(LineRole::TaxNonDeductible, "5", Some("6000"), "EMPL"),
            line(LineRole::TaxReclaimable, "14", Some("6000"), "EMPL"),
            line(LineRole::EmployeePayable, "-119", None, "EMPL"),
            line(LineRole::Expense, "50", Some("6000"), "IBCP"),
            line(LineRole::PaymentTypeClearing, "-50", None, "IBCP"),
            line(LineRole::PersonalClearing, "30", Some("1990"), "CBCP"),
            line(LineRole::PaymentTypeClearing, "-30", None, "CBCP"),
            line(LineRole::PersonalClearing, "-30", Some("1990"), "EMPL"),
            line(LineRole::EmployeePayable, "30", None, "EMPL"),
        ]);
        let plan = plan(&mapping(), &e, PostingForm::ApBill, date()).unwrap();
        type Summary = Vec<(String, Decimal, Vec<(String, Decimal)>)>;
        let summary: Summary = plan
            .documents
            .iter()
            .map(|d| (d.label(), d.total(), d.lines.iter().map(|l| (l.account.clone(), l.amount)).collect()))
            .collect();
        assert_eq!(
            summary,
            [
                ("bill to AMEX".to_owned(), dec("50"), vec![("61000".to_owned(), dec("50"))]),
                (
                    "bill to EMP1".to_owned(),
                    dec("89"),
                    vec![
                        ("61000".to_owned(), dec("100")),
                        ("61000".to_owned(), dec("5")),
                        ("14500".to_owned(), dec("14")),
                        ("12800".to_owned(), dec("-30")),
                    ]
                ),
                (
                    "journal".to_owned(),
                    dec("30"),
                    vec![("12800".to_owned(), dec("30")), ("20500".to_owned(), dec("-30"))]
                ),
            ]
        );
        assert!(plan.documents.iter().all(|d| d.key == "R1" && d.currency == "EUR" && d.date == date()));
        assert_eq!(plan.documents[1].lines[0].dimensions["subaccount"], "000-000", "the default dimension");
    }

    #[test]
    fn held_documents_on_vendors_the_plan_no_longer_names_are_strays() {
        let e = entry(vec![
            line(LineRole::Expense, "100", Some("6000"), "EMPL"),
            line(LineRole::EmployeePayable, "-100", None, "EMPL"),
            line(LineRole::Expense, "50", Some("6000"), "IBCP"),
            line(LineRole::PaymentTypeClearing, "-50", None, "IBCP"),
        ]);
        let plan = plan(&mapping(), &e, PostingForm::ApBill, date()).unwrap();
        assert_eq!(plan.vendor_key(), Some("R1"));
        let held = |vendor: &str| HeldVendorDocument { reference: format!("Bill/{vendor}"), vendor: vendor.into() };
        // Nothing held: both bills are missing, nothing strays.
        let none = plan.compare_held(&[]);
        assert_eq!((none.strays.len(), none.missing), (0, vec![0, 1]));
        // The card issuer's bill is held; the employee's was made on EMP0,
        // the employee's vendor before the mapping changed.
        let changed = plan.compare_held(&[held("AMEX"), held("EMP0")]);
        assert_eq!(changed.strays, [held("EMP0")]);
        assert_eq!(changed.missing, [1], "the bill to EMP1");
        // Everything held where the plan says.
        let same = plan.compare_held(&[held("EMP1"), held("AMEX")]);
        assert_eq!(same, HeldComparison::default());
    }

    #[test]
    fn what_the_employee_owes_is_a_debit_adjustment() {
        let e = entry(vec![
            line(LineRole::Expense, "-50", Some("6000"), "EMPL"),
            line(LineRole::EmployeePayable, "50", None, "EMPL"),
        ]);
        let plan = plan(&mapping(), &e, PostingForm::ApBill, date()).unwrap();
        assert_eq!(plan.documents.len(), 1);
        assert_eq!(plan.documents[0].kind, ErpDocumentKind::DebitAdjustment { vendor: "EMP1".into() });
        assert_eq!(plan.documents[0].lines[0].amount, dec("50"), "lines of a debit adjustment add up to what is owed");
    }

    #[test]
    fn journal_form_is_one_balanced_journal_with_vendors_on_the_payable_account() {
        let e = entry(vec![
            line(LineRole::Expense, "100", Some("6000"), "EMPL"),
            line(LineRole::EmployeePayable, "-100", None, "EMPL"),
            line(LineRole::Expense, "50", Some("6000"), "CBCP"),
            line(LineRole::PaymentTypeClearing, "-50", None, "CBCP"),
        ]);
        let plan = plan(&mapping(), &e, PostingForm::Journal, date()).unwrap();
        assert_eq!(plan.documents.len(), 1);
        let journal = &plan.documents[0];
        assert!(journal_balances(journal));
        let accounts: Vec<&str> = journal.lines.iter().map(|l| l.account.as_str()).collect();
        assert_eq!(accounts, ["61000", "20000", "61000", "20500"]);
        let mut without_payable = mapping();
        without_payable.payable_account = None;
        let e = plan_error(&without_payable, &e);
        assert!(e.contains("payable_account"), "{e}");
    }

    fn plan_error(mapping: &Mapping, e: &JournalEntry) -> String {
        plan(mapping, e, PostingForm::Journal, date()).unwrap_err().to_string()
    }

    #[test]
    fn every_unmapped_code_is_named_once() {
        let e = entry(vec![
            line(LineRole::Expense, "10", Some("7777"), "EMPL"),
            line(LineRole::Expense, "10", Some("7777"), "EMPL"),
            line(LineRole::Expense, "5", Some("8888"), "COPD"),
            line(LineRole::EmployeePayable, "-20", None, "EMPL"),
            line(LineRole::PaymentTypeClearing, "-5", None, "COPD"),
        ]);
        let error = plan(&mapping(), &e, PostingForm::ApBill, date()).unwrap_err();
        let PlanError::Unmapped(problems) = &error else { panic!("{error}") };
        let codes: Vec<&str> = problems.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["7777", "8888", "COPD"]);
        assert!(error.to_string().starts_with("3 codes are not mapped"), "{error}");
    }

    fn amounts(document: &ErpDocument) -> Vec<(String, String)> {
        document.lines.iter().map(|l| (l.account.clone(), l.amount.to_string())).collect()
    }

    /// Lines in the currency's minor units; what rounding leaves goes on the
    /// rounding account, so the journal still balances; without that account
    /// the document is refused rather than balanced silently.
    #[test]
    fn amounts_are_rounded_to_minor_units_and_the_difference_is_posted_on_the_rounding_account() {
        let e = entry_in(
            "USD",
            vec![
                line(LineRole::Expense, "10.005", Some("6000"), "EMPL"),
                line(LineRole::Expense, "10.005", Some("6000"), "EMPL"),
                line(LineRole::EmployeePayable, "-20.01", None, "EMPL"),
            ],
        );
        let mut with_rounding = mapping();
        with_rounding.rounding_account = Some("69990".into());
        let plan = plan(&with_rounding, &e, PostingForm::Journal, date()).unwrap();
        let journal = &plan.documents[0];
        assert_eq!(
            amounts(journal),
            [("61000", "10.01"), ("61000", "10.01"), ("20000", "-20.01"), ("69990", "-0.01")]
                .map(|(a, m)| (a.to_owned(), m.to_owned()))
        );
        assert!(journal_balances(journal));

        let refused = plan_error(&mapping(), &e);
        assert!(refused.contains("rounding_account") && refused.contains("-0.01"), "{refused}");
    }

    /// A bill's total is its exact total rounded (0.999 → 1.00), not the sum
    /// of its rounded lines (0.99).
    #[test]
    fn a_bill_totals_its_exact_amount_rounded() {
        let e = entry_in(
            "USD",
            vec![
                line(LineRole::Expense, "0.333", Some("6000"), "EMPL"),
                line(LineRole::Expense, "0.333", Some("6000"), "EMPL"),
                line(LineRole::Expense, "0.333", Some("6000"), "EMPL"),
                line(LineRole::EmployeePayable, "-0.999", None, "EMPL"),
            ],
        );
        let mut with_rounding = mapping();
        with_rounding.rounding_account = Some("69990".into());
        let plan = plan(&with_rounding, &e, PostingForm::ApBill, date()).unwrap();
        assert_eq!(plan.documents[0].total().to_string(), "1.00");
        assert_eq!(plan.documents[0].lines.last().unwrap().account, "69990");
    }

    #[test]
    fn amounts_take_the_precision_of_their_currency() {
        let lines = |a: &str, b: &str| {
            vec![line(LineRole::Expense, a, Some("6000"), "EMPL"), line(LineRole::EmployeePayable, b, None, "EMPL")]
        };
        let jpy = plan(&mapping(), &entry_in("JPY", lines("1234.00", "-1234.00")), PostingForm::Journal, date());
        assert_eq!(amounts(&jpy.unwrap().documents[0])[0].1, "1234");
        let kwd = plan(&mapping(), &entry_in("KWD", lines("1.5", "-1.5")), PostingForm::Journal, date());
        assert_eq!(amounts(&kwd.unwrap().documents[0])[0].1, "1.500");
        let gbp =
            plan(&mapping(), &entry_in("GBP", lines("50.00000000", "-50.00000000")), PostingForm::Journal, date());
        assert_eq!(amounts(&gbp.unwrap().documents[0])[0].1, "50.00");

        let unknown = plan(&mapping(), &entry_in("XYZ", lines("1", "-1")), PostingForm::Journal, date()).unwrap_err();
        assert!(matches!(unknown, PlanError::UnknownCurrency(_)), "{unknown}");
        assert!(unknown.to_string().contains("XYZ"), "{unknown}");
    }
}
