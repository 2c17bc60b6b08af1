//! Cash advance issuance documents (`docType=cashadvance`), financial-integration-v4.md §8.3.

use super::expense::{PartyLine, counterparty_code};
use super::json::Node;
use super::{Draft, NormalizeOptions, Problem, add, currency};
use crate::currency::round;
use crate::journal::{JournalLine, LineRole, LineSource};
use rust_decimal::Decimal;

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

    let mut journal_total = Decimal::ZERO;
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
        journal_total = add(journal_total, amount, &row.child_path("amount"))?;
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
    check_request_amount(data, &draft.currency, journal_total)?;
    Ok(draft)
}

/// The journal must move what the advance says it is: |Σ journalData amount|
/// = `requestAmount` (in the advance currency) converted to the posting
/// currency. [derived] `exchangeRate` multiplies advance-currency amounts
/// into the reimbursement currency, as Concur's entry rates do; with two
/// currencies the comparison is made in the posting currency's minor units.
/// A document without `requestAmount` carries nothing to check against.
fn check_request_amount(data: Node<'_>, posting_currency: &str, journal_total: Decimal) -> Result<(), Problem> {
    let Some(requested) = data.decimal("requestAmount")? else {
        return Ok(());
    };
    let request_path = data.child_path("requestAmount");
    // Absent: the advance is in the posting currency. Present but not a
    // currency code: refused, never read as "the same currency".
    let advance_currency = match data.text("currencyAlphaCode")? {
        None => None,
        Some(_) => Some(currency(data, "currencyAlphaCode")?),
    };
    let (expected, moved) = if advance_currency.as_deref().is_none_or(|c| c == posting_currency) {
        (requested.abs(), journal_total.abs())
    } else {
        let rate = data.require_decimal("exchangeRate")?;
        let converted = requested
            .checked_mul(rate)
            .ok_or_else(|| Problem::inconsistent(&request_path, "amount × exchangeRate is too large"))?;
        let in_minor_units = |amount: Decimal| {
            round(amount.abs(), posting_currency)
                .map_err(|e| Problem::inconsistent(data.child_path("employeeCurrencyAlphaCode"), e.to_string()))
        };
        (in_minor_units(converted)?, in_minor_units(journal_total)?)
    };
    if expected == moved {
        Ok(())
    } else {
        Err(Problem::inconsistent(
            request_path,
            format!(
                "the advance is {requested}{} but its journalData moves {moved} {posting_currency}",
                advance_currency.map(|c| format!(" {c}")).unwrap_or_default()
            ),
        ))
    }
}
