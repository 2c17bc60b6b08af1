//! Expense reports (`docType=expense`), financial-integration-v4.md §8.1 and §9.

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::document::{Allocation, Application, Entry, ExpenseDocument, Journal, Tax, TaxGuids, items};
use super::json::{At, Raw, Scalar};
use super::{Draft, NormalizeOptions, Problem, add, cost_objects, currency, sub};
use crate::journal::{CostObject, JournalLine, LineRole, LineSource, TaxKey};

/// Who the counter side of a journal row is against: the payee when the
/// company pays, else the payer (§9.3). Returns the payment code.
pub(super) fn counterparty_code(
    row: At<'_>,
    (payer, payer_key): (&Raw<'_>, &str),
    (payee, payee_key): (&Raw<'_>, &str),
    options: &NormalizeOptions,
) -> Result<(Option<String>, Option<String>, String), Problem> {
    let payer = row.require_string(payer, payer_key)?;
    let payee = row.string(payee, payee_key)?;
    let code = if payer == options.company_code {
        payee.clone().ok_or_else(|| Problem::missing(row.child_path(payee_key)))?
    } else {
        payer.clone()
    };
    if code == options.company_code {
        return Err(Problem::inconsistent(
            row.path(),
            format!("the row moves money from {code} to {code}: there is no counterparty to post against"),
        ));
    }
    Ok((Some(payer), payee, code))
}

/// The party line that offsets `amount` for payment code `code`.
pub(super) struct PartyLine<'a> {
    pub code: String,
    pub amount: Decimal,
    pub employee_id: Option<&'a str>,
    pub employee_path: &'a str,
    pub payer: Option<String>,
    pub payee: Option<String>,
    pub cost_objects: Arc<[CostObject]>,
    pub expense_type_code: Option<String>,
    pub description: String,
    pub source: Arc<LineSource>,
}

impl PartyLine<'_> {
    pub fn build(self, options: &NormalizeOptions) -> Result<JournalLine, Problem> {
        let role = if self.code == options.employee_code {
            // The employee vendor is keyed by employee id: without it the
            // mapping cannot find the payable.
            if self.employee_id.is_none() {
                return Err(Problem::missing(self.employee_path));
            }
            LineRole::EmployeePayable
        } else {
            LineRole::PaymentTypeClearing
        };
        Ok(JournalLine {
            role,
            amount: self.amount,
            account_code: None,
            payment_code: Some(self.code),
            payer: self.payer,
            payee: self.payee,
            employee_id: self.employee_id.map(str::to_owned),
            vendor_code: None,
            tax: None,
            cost_objects: self.cost_objects,
            expense_type_code: self.expense_type_code,
            description: self.description,
            source: self.source,
        })
    }
}

const EMPLOYEE_ID_PATH: &str = "document.employee.employeeId";

pub(super) fn normalize(doc: &ExpenseDocument<'_>, options: &NormalizeOptions) -> Result<Draft, Problem> {
    let mut draft = header(doc)?;
    let employee_id = draft.employee_id.clone();
    let employee_id = employee_id.as_deref();
    // Σ entryApprovedAmount, as long as every entry states one.
    let mut approved_sum = Some(Decimal::ZERO);
    for (e, entry) in items(&doc.expense_entry).iter().enumerate() {
        let path = format!("document.expenseEntry[{e}]");
        let approved = entry_lines(entry, At(&path), employee_id, options, &mut draft.lines)?;
        approved_sum = match (approved_sum, approved) {
            (Some(sum), Some(a)) => Some(add(sum, a, &path)?),
            _ => None,
        };
    }
    check_report_total(doc, approved_sum)?;
    for (i, application) in items(&doc.cash_advance_application).iter().enumerate() {
        let path = format!("document.cashAdvanceApplication[{i}]");
        application_lines(application, At(&path), employee_id, options, &mut draft.lines)?;
    }
    Ok(draft)
}

/// The report's header fields, read in the order a refusal names them.
fn header(doc: &ExpenseDocument<'_>) -> Result<Draft, Problem> {
    let report = doc.report.as_ref().ok_or_else(|| Problem::missing("document.report"))?;
    let employee_id = match &doc.employee {
        Some(employee) => At("document.employee").string(&employee.employee_id, "employeeId")?,
        None => None,
    };
    let at = At("document.report");
    Ok(Draft {
        business_id: at.require_string(&report.report_id, "reportId")?,
        revision: at.string(&report.revision_number, "revisionNumber")?,
        name: at.string(&report.report_name, "reportName")?,
        currency: currency(at, &report.employee_currency_alpha_code, "employeeCurrencyAlphaCode")?,
        ledger_code: at.string(&report.ledger_code, "ledgerCode")?,
        employee_id,
        cash_advance_returns: at.decimal(&report.cash_advance_returns_amount, "cashAdvanceReturnsAmount")?,
        ..Draft::default()
    })
}

/// A report total that disagrees with its entries means entries are
/// missing from (or extra in) what Concur sent.
fn check_report_total(doc: &ExpenseDocument<'_>, approved_sum: Option<Decimal>) -> Result<(), Problem> {
    let Some(report) = &doc.report else {
        return Ok(());
    };
    let at = At("document.report");
    if let (Some(total), Some(sum)) = (at.decimal(&report.total_approved_amount, "totalApprovedAmount")?, approved_sum)
        && total != sum
    {
        return Err(Problem::inconsistent(
            at.child_path("totalApprovedAmount"),
            format!("the report total {total} differs from the sum of its entries' entryApprovedAmount {sum}"),
        ));
    }
    Ok(())
}

/// A cash advance applied to the report: negative = the advance recovered,
/// credit the clearing account and debit the employee (it reduces what the
/// report pays out).
fn application_lines(
    application: &Application<'_>,
    row: At<'_>,
    employee_id: Option<&str>,
    options: &NormalizeOptions,
    lines: &mut Vec<JournalLine>,
) -> Result<(), Problem> {
    let amount = row.require_decimal(&application.cash_advance_application_amount, "cashAdvanceApplicationAmount")?;
    let account =
        row.require_string(&application.cash_advance_clearing_account_code, "cashAdvanceClearingAccountCode")?;
    let cash_advance_id = row.string(&application.cash_advance_id, "cashAdvanceId")?;
    let description = match &cash_advance_id {
        Some(id) => format!("cash advance {id} applied"),
        None => "cash advance applied".to_owned(),
    };
    let source = Arc::new(LineSource { path: row.path().to_owned(), cash_advance_id, ..LineSource::default() });
    let clearing = ClearingLine {
        amount,
        account,
        code: options.employee_code.clone(),
        payer: None,
        payee: None,
        description,
        source,
    };
    clearing.push_with_party(employee_id, EMPLOYEE_ID_PATH, options, lines)
}

/// What every line of one expense entry shares.
struct EntryContext<'a> {
    entry_id: Option<String>,
    type_code: Option<String>,
    clearing_account: Option<String>,
    personal: bool,
    label: String,
    employee_id: Option<&'a str>,
}

/// Appends the lines of one expense entry; returns its `entryApprovedAmount`.
fn entry_lines(
    entry: &Entry<'_>,
    at: At<'_>,
    employee_id: Option<&str>,
    options: &NormalizeOptions,
    lines: &mut Vec<JournalLine>,
) -> Result<Option<Decimal>, Problem> {
    let entry_id = at.string(&entry.entry_id, "entryId")?;
    let type_code = at.string(&entry.expense_type_code, "expenseTypeCode")?;
    let type_name = at.string(&entry.expense_type_name, "expenseTypeName")?;
    let clearing_account = at.string(&entry.clearing_account_code, "clearingAccountCode")?;
    let personal = at.flag(&entry.entry_is_personal, "entryIsPersonal")?;
    let approved = at.decimal(&entry.entry_approved_amount, "entryApprovedAmount")?;
    let label = match (&type_name, at.string(&entry.entry_description, "entryDescription")?) {
        (Some(name), Some(desc)) if *name != desc => format!("{name}: {desc}"),
        (Some(name), _) => name.clone(),
        (None, Some(desc)) => desc,
        (None, None) => type_code.clone().unwrap_or_else(|| "expense".to_owned()),
    };
    let context = EntryContext { entry_id, type_code, clearing_account, personal, label, employee_id };

    let allocations = items(&entry.allocation);
    if allocations.is_empty() {
        return Err(Problem::missing(at.child_path("allocation")));
    }
    let mut entry_cost_objects = Vec::new();
    cost_objects(at, &entry.org_units, &mut entry_cost_objects)?;
    cost_objects(at, &entry.custom, &mut entry_cost_objects)?;
    let mut gross_sum = Decimal::ZERO;
    for (a, allocation) in allocations.iter().enumerate() {
        let path = format!("{}.allocation[{a}]", at.path());
        allocation_lines(allocation, At(&path), &context, &entry_cost_objects, options, (&mut gross_sum, lines))?;
    }
    if let Some(approved) = approved
        && approved != gross_sum
    {
        return Err(Problem::inconsistent(
            at.child_path("entryApprovedAmount"),
            format!(
                "the entry's approved amount {approved} differs from the sum of its journal amountGross {gross_sum}"
            ),
        ));
    }
    Ok(approved)
}

/// Appends the lines of one allocation and adds its journal `amountGross`
/// to `gross_sum`.
fn allocation_lines(
    allocation: &Allocation<'_>,
    at: At<'_>,
    entry: &EntryContext<'_>,
    entry_cost_objects: &[CostObject],
    options: &NormalizeOptions,
    (gross_sum, lines): (&mut Decimal, &mut Vec<JournalLine>),
) -> Result<(), Problem> {
    let allocation_id = at.string(&allocation.allocation_id, "allocationId")?;
    // Most granular first (§9.1): the allocation's fields, then the
    // entry's as the fallback a mapping may name; never the employee's.
    let mut cost_objects_here = Vec::new();
    cost_objects(at, &allocation.custom, &mut cost_objects_here)?;
    cost_objects_here.extend_from_slice(entry_cost_objects);
    // Every line of the allocation shares them.
    let cost_objects_here: Arc<[CostObject]> = cost_objects_here.into();
    let tax_rows = TaxRows::read(items(&allocation.tax), at)?;
    let mut used_tax: HashMap<String, String> = HashMap::new();
    for (j, journal) in items(&allocation.journal).iter().enumerate() {
        let path = format!("{}.journal[{j}]", at.path());
        let row = JournalRow { journal, at: At(&path), allocation_at: at, allocation_id: allocation_id.clone() };
        let gross = row.lines(entry, &cost_objects_here, (&tax_rows, &mut used_tax), options, lines)?;
        *gross_sum = add(*gross_sum, gross, &path)?;
    }
    Ok(())
}

/// One `journal[]` row of an allocation.
struct JournalRow<'r, 'a> {
    journal: &'r Journal<'a>,
    at: At<'r>,
    allocation_at: At<'r>,
    allocation_id: Option<String>,
}

/// What the expense and tax lines of one journal row share: its account
/// and its counterparty.
struct AccountSide<'r> {
    entry: &'r EntryContext<'r>,
    cost_objects: &'r Arc<[CostObject]>,
    account: String,
    code: String,
    payer: Option<String>,
    payee: Option<String>,
}

impl AccountSide<'_> {
    fn line(
        &self,
        role: LineRole,
        amount: Decimal,
        tax: Option<TaxKey>,
        description: String,
        source: Arc<LineSource>,
    ) -> JournalLine {
        JournalLine {
            role,
            amount,
            account_code: Some(self.account.clone()),
            payment_code: Some(self.code.clone()),
            payer: self.payer.clone(),
            payee: self.payee.clone(),
            employee_id: self.entry.employee_id.map(str::to_owned),
            vendor_code: None,
            tax,
            cost_objects: Arc::clone(self.cost_objects),
            expense_type_code: self.entry.type_code.clone(),
            description,
            source,
        }
    }
}

impl JournalRow<'_, '_> {
    /// Appends the row's expense, tax and party lines; returns its `amountGross`.
    fn lines(
        &self,
        entry: &EntryContext<'_>,
        cost_objects: &Arc<[CostObject]>,
        taxes: (&TaxRows, &mut HashMap<String, String>),
        options: &NormalizeOptions,
        lines: &mut Vec<JournalLine>,
    ) -> Result<Decimal, Problem> {
        let (row, journal) = (self.at, self.journal);
        let gross = row.require_decimal(&journal.amount_gross, "amountGross")?;
        let account = match row.string(&journal.journal_account_code, "journalAccountCode")? {
            Some(account) => account,
            None => {
                entry.clearing_account.clone().ok_or_else(|| Problem::missing(row.child_path("journalAccountCode")))?
            }
        };
        let (payer, payee, code) = counterparty_code(
            row,
            (&journal.journal_payer, "journalPayer"),
            (&journal.journal_payee, "journalPayee"),
            options,
        )?;
        let source = Arc::new(LineSource {
            path: row.path().to_owned(),
            entry_id: entry.entry_id.clone(),
            allocation_id: self.allocation_id.clone(),
            ..LineSource::default()
        });
        let side = AccountSide { entry, cost_objects, account, code, payer, payee };
        let (expense_amount, mut tax_lines) = self.tax_split(gross, &side, &source, taxes)?;
        let label = &entry.label;
        let role = if entry.personal { LineRole::PersonalClearing } else { LineRole::Expense };
        let description = if tax_lines.is_empty() { label.clone() } else { format!("{label} (net of tax)") };
        lines.push(side.line(role, expense_amount, None, description, source.clone()));
        lines.append(&mut tax_lines);
        let (payer, payee) = (side.payer, side.payee);
        let party = PartyLine {
            code: side.code,
            amount: -gross,
            employee_id: entry.employee_id,
            employee_path: EMPLOYEE_ID_PATH,
            description: format!("{label} ({}→{})", payer.as_deref().unwrap_or("?"), payee.as_deref().unwrap_or("?")),
            payer,
            payee,
            cost_objects: Arc::clone(cost_objects),
            expense_type_code: entry.type_code.clone(),
            source,
        };
        lines.push(party.build(options)?);
        Ok(gross)
    }

    /// The row's tax lines (reclaimable and non-deductible per tax row it
    /// names) and what stays on the expense: the gross, or the net when the
    /// row names tax rows.
    fn tax_split(
        &self,
        gross: Decimal,
        side: &AccountSide<'_>,
        source: &LineSource,
        (tax_rows, used_tax): (&TaxRows, &mut HashMap<String, String>),
    ) -> Result<(Decimal, Vec<JournalLine>), Problem> {
        let guids = tax_guids(self.at, &self.journal.tax_guid)?;
        if guids.is_empty() {
            return Ok((gross, Vec::new()));
        }
        let label = &side.entry.label;
        let mut tax_lines = Vec::new();
        let mut tax_sum = Decimal::ZERO;
        for guid in guids {
            let tax = self.claim_tax(tax_rows, used_tax, guid.clone())?;
            tax_sum = add(tax_sum, tax.amount, &tax.path)?;
            let non_deductible = sub(tax.amount, tax.reclaim, &tax.path)?;
            let tax_source = Arc::new(LineSource { tax_guid: Some(guid), ..source.clone() });
            let key = tax.key_label();
            let reclaimable = format!("{label}: reclaimable tax {key}");
            let other = format!("{label}: non-deductible tax {key}");
            let key = Some(tax.key.clone());
            tax_lines.push(side.line(
                LineRole::TaxReclaimable,
                tax.reclaim,
                key.clone(),
                reclaimable,
                tax_source.clone(),
            ));
            tax_lines.push(side.line(LineRole::TaxNonDeductible, non_deductible, key, other, tax_source));
        }
        Ok((self.checked_net(gross, tax_sum)?, tax_lines))
    }

    /// The tax row `guid` names, which no other journal row may claim too.
    fn claim_tax<'t>(
        &self,
        tax_rows: &'t TaxRows,
        used_tax: &mut HashMap<String, String>,
        guid: String,
    ) -> Result<&'t TaxRow, Problem> {
        let Some(tax) = tax_rows.get(&guid) else {
            return Err(Problem::inconsistent(
                self.at.child_path("taxGuid"),
                format!("taxGuid {guid} matches no row of {}", self.allocation_at.child_path("tax")),
            ));
        };
        if let Some(first) = used_tax.insert(guid.clone(), self.at.path().to_owned()) {
            return Err(Problem::inconsistent(
                self.at.child_path("taxGuid"),
                format!("tax row {guid} is already claimed by {first}; it would be posted twice"),
            ));
        }
        Ok(tax)
    }

    /// Gross − tax, which must equal the net Concur states: if it disagrees,
    /// the tax rows do not belong to this gross and any split would be a guess.
    fn checked_net(&self, gross: Decimal, tax_sum: Decimal) -> Result<Decimal, Problem> {
        let row = self.at;
        let net = sub(gross, tax_sum, row.path())?;
        if let Some(stated) = row.decimal(&self.journal.amount_net_of_tax, "amountNetOfTax")?
            && stated != net
        {
            return Err(Problem::inconsistent(
                row.child_path("amountNetOfTax"),
                format!("amountNetOfTax {stated} + tax {tax_sum} does not equal amountGross {gross}"),
            ));
        }
        Ok(net)
    }
}

/// `journal.taxGuid`: an array of strings (data), a single string (schema), or null.
fn tax_guids(row: At<'_>, guids: &Option<TaxGuids<'_>>) -> Result<Vec<String>, Problem> {
    let path = || row.child_path("taxGuid");
    match guids {
        None => Ok(Vec::new()),
        Some(TaxGuids::One(Scalar::Text(guid))) => {
            Ok(Some(guid.trim()).filter(|g| !g.is_empty()).map(str::to_owned).into_iter().collect())
        }
        Some(TaxGuids::One(other)) => Err(Problem::invalid(&path(), "a string", &other.found())),
        Some(TaxGuids::NotArray(found)) => Err(Problem::invalid(&path(), "a JSON array", &found.found())),
        Some(TaxGuids::Many(items)) => {
            let mut guids = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    Some(Scalar::Text(guid)) if guid.trim().is_empty() => {}
                    Some(Scalar::Text(guid)) => guids.push(guid.trim().to_owned()),
                    other => {
                        let found = other.as_ref().map_or_else(|| "null".to_owned(), Scalar::found);
                        return Err(Problem::invalid(&format!("{}[{i}]", path()), "a taxGuid string", &found));
                    }
                }
            }
            Ok(guids)
        }
    }
}

/// A line against a clearing account and its offset against the party
/// (shared by cash advances applied to a report and issued ones).
pub(super) struct ClearingLine {
    pub amount: Decimal,
    pub account: String,
    pub code: String,
    pub payer: Option<String>,
    pub payee: Option<String>,
    pub description: String,
    pub source: Arc<LineSource>,
}

impl ClearingLine {
    pub fn push_with_party(
        self,
        employee_id: Option<&str>,
        employee_path: &str,
        options: &NormalizeOptions,
        lines: &mut Vec<JournalLine>,
    ) -> Result<(), Problem> {
        lines.push(JournalLine {
            role: LineRole::CashAdvanceClearing,
            amount: self.amount,
            account_code: Some(self.account),
            payment_code: Some(self.code.clone()),
            payer: self.payer.clone(),
            payee: self.payee.clone(),
            employee_id: employee_id.map(str::to_owned),
            vendor_code: None,
            tax: None,
            cost_objects: Arc::default(),
            expense_type_code: None,
            description: self.description.clone(),
            source: self.source.clone(),
        });
        let party = PartyLine {
            code: self.code,
            amount: -self.amount,
            employee_id,
            employee_path,
            payer: self.payer,
            payee: self.payee,
            cost_objects: Arc::default(),
            expense_type_code: None,
            description: self.description,
            source: self.source,
        };
        lines.push(party.build(options)?);
        Ok(())
    }
}

struct TaxRow {
    path: String,
    key: TaxKey,
    amount: Decimal,
    reclaim: Decimal,
}

impl TaxRow {
    fn key_label(&self) -> String {
        format!("{}/{}", self.key.authority.as_deref().unwrap_or("-"), self.key.code.as_deref().unwrap_or("-"))
    }
}

/// The allocation's `tax[]` rows by `taxGuid`.
struct TaxRows(HashMap<String, TaxRow>);

impl TaxRows {
    fn read(taxes: &[Tax<'_>], allocation: At<'_>) -> Result<Self, Problem> {
        let mut rows = HashMap::new();
        for (t, tax) in taxes.iter().enumerate() {
            let path = format!("{}.tax[{t}]", allocation.path());
            let row = At(&path);
            let guid = row.require_string(&tax.tax_guid, "taxGuid")?;
            let amount = row.require_decimal(&tax.amount_tax, "amountTax")?;
            let reclaim = row.require_decimal(&tax.amount_reclaim, "amountReclaim")?;
            // Reclaim is a part of the tax: same sign, not more.
            let same_sign = reclaim.is_zero() || amount.is_sign_negative() == reclaim.is_sign_negative();
            if !same_sign || reclaim.abs() > amount.abs() {
                return Err(Problem::inconsistent(
                    row.child_path("amountReclaim"),
                    format!("amountReclaim {reclaim} is not a part of amountTax {amount}"),
                ));
            }
            let key = TaxKey {
                authority: row.string(&tax.tax_authority_label, "taxAuthorityLabel")?,
                code: row.string(&tax.tax_code, "taxCode")?,
                reclaim_code: row.string(&tax.tax_reclaim_code, "taxReclaimCode")?,
                country: row.string(&tax.location_country_code, "locationCountryCode")?,
            };
            if rows.insert(guid.clone(), TaxRow { path: path.clone(), key, amount, reclaim }).is_some() {
                return Err(Problem::inconsistent(path, format!("taxGuid {guid} appears twice in this allocation")));
            }
        }
        Ok(Self(rows))
    }

    fn get(&self, guid: &str) -> Option<&TaxRow> {
        self.0.get(guid)
    }
}
