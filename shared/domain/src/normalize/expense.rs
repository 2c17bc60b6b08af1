//! Expense reports (`docType=expense`), financial-integration-v4.md §8.1 and §9.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::json::{Node, Owned};
use super::{Draft, NormalizeOptions, Problem, add, cost_objects, currency, sub};
use crate::journal::{CostObject, JournalLine, LineRole, LineSource, TaxKey};

/// Who the counter side of a journal row is against: the payee when the
/// company pays, else the payer (§9.3). Returns the payment code.
pub(super) fn counterparty_code(
    row: Node<'_>,
    payer_key: &str,
    payee_key: &str,
    options: &NormalizeOptions,
) -> Result<(Option<String>, Option<String>, String), Problem> {
    let payer = row.require_text(payer_key)?;
    let payee = row.text(payee_key)?;
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
    pub cost_objects: Vec<CostObject>,
    pub expense_type_code: Option<String>,
    pub description: String,
    pub source: LineSource,
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

pub(super) fn normalize(root: Node<'_>, options: &NormalizeOptions) -> Result<Draft, Problem> {
    let report = root.require("report")?;
    let report = report.node();
    let employee_id = match root.get("employee")? {
        Some(employee) => employee.node().text("employeeId")?,
        None => None,
    };
    let mut draft = Draft {
        business_id: report.require_text("reportId")?,
        revision: report.text("revisionNumber")?,
        name: report.text("reportName")?,
        currency: currency(report, "employeeCurrencyAlphaCode")?,
        ledger_code: report.text("ledgerCode")?,
        employee_id,
        cash_advance_returns: report.decimal("cashAdvanceReturnsAmount")?,
        ..Draft::default()
    };
    let employee_id = draft.employee_id.as_deref();

    // Σ entryApprovedAmount, as long as every entry states one.
    let mut approved_sum = Some(Decimal::ZERO);
    for entry in root.array("expenseEntry")? {
        let approved = entry_lines(entry.node(), employee_id, options, &mut draft.lines)?;
        approved_sum = match (approved_sum, approved) {
            (Some(sum), Some(a)) => Some(add(sum, a, entry.node().path())?),
            _ => None,
        };
    }
    // A report total that disagrees with its entries means entries are
    // missing from (or extra in) what Concur sent.
    if let (Some(total), Some(sum)) = (report.decimal("totalApprovedAmount")?, approved_sum)
        && total != sum
    {
        return Err(Problem::inconsistent(
            report.child_path("totalApprovedAmount"),
            format!("the report total {total} differs from the sum of its entries' entryApprovedAmount {sum}"),
        ));
    }

    for application in root.array("cashAdvanceApplication")? {
        let row = application.node();
        let amount = row.require_decimal("cashAdvanceApplicationAmount")?;
        let account = row.require_text("cashAdvanceClearingAccountCode")?;
        let cash_advance_id = row.text("cashAdvanceId")?;
        let source = LineSource {
            path: row.path().to_owned(),
            cash_advance_id: cash_advance_id.clone(),
            ..LineSource::default()
        };
        let description = match &cash_advance_id {
            Some(id) => format!("cash advance {id} applied"),
            None => "cash advance applied".to_owned(),
        };
        // Negative = the advance recovered: credit the clearing account,
        // debit the employee (it reduces what the report pays out).
        draft.lines.push(JournalLine {
            role: LineRole::CashAdvanceClearing,
            amount,
            account_code: Some(account),
            payment_code: Some(options.employee_code.clone()),
            payer: None,
            payee: None,
            employee_id: employee_id.map(str::to_owned),
            vendor_code: None,
            tax: None,
            cost_objects: Vec::new(),
            expense_type_code: None,
            description: description.clone(),
            source: source.clone(),
        });
        draft.lines.push(
            PartyLine {
                code: options.employee_code.clone(),
                amount: -amount,
                employee_id,
                employee_path: EMPLOYEE_ID_PATH,
                payer: None,
                payee: None,
                cost_objects: Vec::new(),
                expense_type_code: None,
                description,
                source,
            }
            .build(options)?,
        );
    }
    Ok(draft)
}

/// Appends the lines of one expense entry; returns its `entryApprovedAmount`.
fn entry_lines(
    entry: Node<'_>,
    employee_id: Option<&str>,
    options: &NormalizeOptions,
    lines: &mut Vec<JournalLine>,
) -> Result<Option<Decimal>, Problem> {
    let entry_id = entry.text("entryId")?;
    let type_code = entry.text("expenseTypeCode")?;
    let type_name = entry.text("expenseTypeName")?;
    let clearing_account = entry.text("clearingAccountCode")?;
    let personal = entry.flag("entryIsPersonal")?;
    let approved = entry.decimal("entryApprovedAmount")?;
    let label = match (&type_name, entry.text("entryDescription")?) {
        (Some(name), Some(desc)) if *name != desc => format!("{name}: {desc}"),
        (Some(name), _) => name.clone(),
        (None, Some(desc)) => desc,
        (None, None) => type_code.clone().unwrap_or_else(|| "expense".to_owned()),
    };

    let allocations = entry.array("allocation")?;
    if allocations.is_empty() {
        return Err(Problem::missing(entry.child_path("allocation")));
    }
    let mut entry_cost_objects = cost_objects(entry, "entryOrgUnit", 6)?;
    entry_cost_objects.extend(cost_objects(entry, "entryCustom", 40)?);
    let mut gross_sum = Decimal::ZERO;
    for allocation in &allocations {
        let alloc = allocation.node();
        let allocation_id = alloc.text("allocationId")?;
        // Most granular first (§9.1): the allocation's fields, then the
        // entry's as the fallback a mapping may name; never the employee's.
        let mut cost_objects = cost_objects(alloc, "allocationCustom", 20)?;
        cost_objects.extend(entry_cost_objects.iter().cloned());
        let tax_rows = TaxRows::read(alloc)?;
        let mut used_tax: HashMap<String, String> = HashMap::new();

        for journal in alloc.array("journal")? {
            let row = journal.node();
            let gross = row.require_decimal("amountGross")?;
            gross_sum = add(gross_sum, gross, row.path())?;
            let account = match row.text("journalAccountCode")? {
                Some(account) => account,
                None => {
                    clearing_account.clone().ok_or_else(|| Problem::missing(row.child_path("journalAccountCode")))?
                }
            };
            let (payer, payee, code) = counterparty_code(row, "journalPayer", "journalPayee", options)?;
            let source = LineSource {
                path: row.path().to_owned(),
                entry_id: entry_id.clone(),
                allocation_id: allocation_id.clone(),
                ..LineSource::default()
            };
            let line = |role, amount, tax: Option<TaxKey>, description: String, source: LineSource| JournalLine {
                role,
                amount,
                account_code: Some(account.clone()),
                payment_code: Some(code.clone()),
                payer: payer.clone(),
                payee: payee.clone(),
                employee_id: employee_id.map(str::to_owned),
                vendor_code: None,
                tax,
                cost_objects: cost_objects.clone(),
                expense_type_code: type_code.clone(),
                description,
                source,
            };

            let guids = tax_guids(row)?;
            let mut expense_amount = gross;
            let mut tax_lines = Vec::new();
            if !guids.is_empty() {
                let mut tax_sum = Decimal::ZERO;
                for guid in guids {
                    let Some(tax) = tax_rows.get(&guid) else {
                        return Err(Problem::inconsistent(
                            row.child_path("taxGuid"),
                            format!("taxGuid {guid} matches no row of {}", alloc.child_path("tax")),
                        ));
                    };
                    if let Some(first) = used_tax.insert(guid.clone(), row.path().to_owned()) {
                        return Err(Problem::inconsistent(
                            row.child_path("taxGuid"),
                            format!("tax row {guid} is already claimed by {first}; it would be posted twice"),
                        ));
                    }
                    tax_sum = add(tax_sum, tax.amount, &tax.path)?;
                    let non_deductible = sub(tax.amount, tax.reclaim, &tax.path)?;
                    let tax_source = LineSource { tax_guid: Some(guid.clone()), ..source.clone() };
                    tax_lines.push(line(
                        LineRole::TaxReclaimable,
                        tax.reclaim,
                        Some(tax.key.clone()),
                        format!("{label}: reclaimable tax {}", tax.key_label()),
                        tax_source.clone(),
                    ));
                    tax_lines.push(line(
                        LineRole::TaxNonDeductible,
                        non_deductible,
                        Some(tax.key.clone()),
                        format!("{label}: non-deductible tax {}", tax.key_label()),
                        tax_source,
                    ));
                }
                let net = sub(gross, tax_sum, row.path())?;
                // Concur states the net too; if it disagrees, the tax rows do
                // not belong to this gross and any split would be a guess.
                if let Some(stated) = row.decimal("amountNetOfTax")?
                    && stated != net
                {
                    return Err(Problem::inconsistent(
                        row.child_path("amountNetOfTax"),
                        format!("amountNetOfTax {stated} + tax {tax_sum} does not equal amountGross {gross}"),
                    ));
                }
                expense_amount = net;
            }
            let role = if personal { LineRole::PersonalClearing } else { LineRole::Expense };
            let description = if tax_lines.is_empty() { label.clone() } else { format!("{label} (net of tax)") };
            lines.push(line(role, expense_amount, None, description, source.clone()));
            lines.append(&mut tax_lines);
            lines.push(
                PartyLine {
                    code: code.clone(),
                    amount: -gross,
                    employee_id,
                    employee_path: EMPLOYEE_ID_PATH,
                    payer: payer.clone(),
                    payee: payee.clone(),
                    cost_objects: cost_objects.clone(),
                    expense_type_code: type_code.clone(),
                    description: format!(
                        "{label} ({}→{})",
                        payer.as_deref().unwrap_or("?"),
                        payee.as_deref().unwrap_or("?")
                    ),
                    source,
                }
                .build(options)?,
            );
        }
    }
    if let Some(approved) = approved
        && approved != gross_sum
    {
        return Err(Problem::inconsistent(
            entry.child_path("entryApprovedAmount"),
            format!(
                "the entry's approved amount {approved} differs from the sum of its journal amountGross {gross_sum}"
            ),
        ));
    }
    Ok(approved)
}

/// `journal.taxGuid`: an array of strings (data), a single string (schema), or null.
fn tax_guids(row: Node<'_>) -> Result<Vec<String>, Problem> {
    let Some(member) = row.get("taxGuid")? else {
        return Ok(Vec::new());
    };
    if member.value.is_string() {
        return Ok(row.text("taxGuid")?.into_iter().collect());
    }
    let mut guids = Vec::new();
    for item in row.array("taxGuid")? {
        match item.value.as_str().map(str::trim) {
            Some("") => {}
            Some(guid) => guids.push(guid.to_owned()),
            None => return Err(Problem::invalid(&item.path, "a taxGuid string", item.value)),
        }
    }
    Ok(guids)
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
    fn read(alloc: Node<'_>) -> Result<Self, Problem> {
        let mut rows = HashMap::new();
        for Owned { value, path } in alloc.array("tax")? {
            let row = Node::root(value, &path);
            let guid = row.require_text("taxGuid")?;
            let amount = row.require_decimal("amountTax")?;
            let reclaim = row.require_decimal("amountReclaim")?;
            // Reclaim is a part of the tax: same sign, not more.
            let same_sign = reclaim.is_zero() || amount.is_sign_negative() == reclaim.is_sign_negative();
            if !same_sign || reclaim.abs() > amount.abs() {
                return Err(Problem::inconsistent(
                    row.child_path("amountReclaim"),
                    format!("amountReclaim {reclaim} is not a part of amountTax {amount}"),
                ));
            }
            let key = TaxKey {
                authority: row.text("taxAuthorityLabel")?,
                code: row.text("taxCode")?,
                reclaim_code: row.text("taxReclaimCode")?,
                country: row.text("locationCountryCode")?,
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
