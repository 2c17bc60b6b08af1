//! Cash advance issuance documents (`docType=cashadvance`), financial-integration-v4.md §8.3.

use super::expense::{PartyLine, counterparty_code};
use super::json::Node;
use super::{Draft, NormalizeOptions, Problem, currency};
use crate::journal::{JournalLine, LineRole, LineSource};

const EMPLOYEE_ID_PATH: &str = "document.employeeData.employeeId";

pub(super) fn normalize(root: Node<'_>, options: &NormalizeOptions) -> Result<Draft, Problem> {
    let data = root.require("cashAdvanceData")?;
    let data = data.node();
    let employee_id = match root.get("employeeData")? {
        Some(employee) => employee.node().text("employeeId")?,
        None => None,
    };
    let cash_advance_id = data.require_text("cashAdvanceId")?;
    // [derived] Post in the reimbursement currency: the report that later
    // applies the advance clears the same account in that currency, so the
    // clearing account nets out. The examples use rate 1, so they cannot
    // tell the two currencies apart (see the report of this change).
    let currency_key = if data.text("employeeCurrencyAlphaCode")?.is_some() {
        "employeeCurrencyAlphaCode"
    } else {
        "currencyAlphaCode"
    };
    let mut draft = Draft {
        business_id: cash_advance_id.clone(),
        name: data.text("name")?,
        currency: currency(data, currency_key)?,
        employee_id,
        ..Draft::default()
    };
    let employee_id = draft.employee_id.as_deref();
    let label = match &draft.name {
        Some(name) => format!("cash advance {name}"),
        None => format!("cash advance {cash_advance_id}"),
    };

    for journal in root.array("journalData")? {
        let row = journal.node();
        let raw = row.require_decimal("amount")?;
        // `amount` is signed (+ debit / − credit) and `debitOrCredit` says the
        // same thing; if they disagree we cannot know which one is right.
        let amount = match row.text("debitOrCredit")?.as_deref() {
            None => raw,
            Some("DR") if !raw.is_sign_negative() || raw.is_zero() => raw,
            Some("CR") if raw.is_sign_negative() || raw.is_zero() => raw,
            Some(side @ ("DR" | "CR")) => {
                return Err(Problem::inconsistent(
                    row.child_path("amount"),
                    format!("amount {raw} has the wrong sign for debitOrCredit {side} (+ is debit, − is credit)"),
                ));
            }
            Some(other) => {
                let found = serde_json::Value::String(other.to_owned());
                return Err(Problem::invalid(&row.child_path("debitOrCredit"), "DR or CR", &found));
            }
        };
        let account = row.require_text("accountCode")?;
        let (payer, payee, code) = counterparty_code(row, "payer", "payee", options)?;
        let description = match row.text("paymentCode")? {
            Some(method) => format!("{label} issued ({method})"),
            None => format!("{label} issued"),
        };
        let source = LineSource {
            path: row.path().to_owned(),
            cash_advance_id: Some(cash_advance_id.clone()),
            ..LineSource::default()
        };
        draft.lines.push(JournalLine {
            role: LineRole::CashAdvanceClearing,
            amount,
            account_code: Some(account),
            payment_code: Some(code.clone()),
            payer: payer.clone(),
            payee: payee.clone(),
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
                code,
                amount: -amount,
                employee_id,
                employee_path: EMPLOYEE_ID_PATH,
                payer,
                payee,
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
