//! Cash advance issuance documents (`docType=cashadvance`), financial-integration-v4.md §8.3.

use super::document::{AdvanceData, AdvanceJournal, CashAdvanceDocument, items};
use super::expense::{ClearingLine, counterparty_code};
use super::json::At;
use super::{Draft, NormalizeOptions, Problem, add, currency};
use crate::currency::round;
use crate::journal::{JournalLine, LineSource};
use rust_decimal::Decimal;

const EMPLOYEE_ID_PATH: &str = "document.employeeData.employeeId";
const DATA_PATH: &str = "document.cashAdvanceData";

pub(super) fn normalize(doc: &CashAdvanceDocument<'_>, options: &NormalizeOptions) -> Result<Draft, Problem> {
    let data = doc.cash_advance_data.as_ref().ok_or_else(|| Problem::missing(DATA_PATH))?;
    let (mut draft, cash_advance_id) = header(doc, data)?;
    let employee_id = draft.employee_id.clone();
    let label = match &draft.name {
        Some(name) => format!("cash advance {name}"),
        None => format!("cash advance {cash_advance_id}"),
    };
    let issue = Issue { cash_advance_id: &cash_advance_id, label: &label, employee_id: employee_id.as_deref() };
    let mut journal_total = Decimal::ZERO;
    for (j, journal) in items(&doc.journal_data).iter().enumerate() {
        let path = format!("document.journalData[{j}]");
        let amount = issue.journal_lines(journal, At(&path), options, &mut draft.lines)?;
        journal_total = add(journal_total, amount, &At(&path).child_path("amount"))?;
    }
    check_request_amount(data, &draft.currency, journal_total)?;
    Ok(draft)
}

/// The advance's header fields and its id.
fn header(doc: &CashAdvanceDocument<'_>, data: &AdvanceData<'_>) -> Result<(Draft, String), Problem> {
    let employee_id = match &doc.employee_data {
        Some(employee) => At("document.employeeData").string(&employee.employee_id, "employeeId")?,
        None => None,
    };
    let at = At(DATA_PATH);
    let cash_advance_id = at.require_string(&data.cash_advance_id, "cashAdvanceId")?;
    // [derived] Post in the reimbursement currency: the report that later
    // applies the advance clears the same account in that currency, so the
    // clearing account nets out. The examples use rate 1, so they cannot
    // tell the two currencies apart (see the report of this change).
    let (currency_raw, currency_key) =
        if at.text(&data.employee_currency_alpha_code, "employeeCurrencyAlphaCode")?.is_some() {
            (&data.employee_currency_alpha_code, "employeeCurrencyAlphaCode")
        } else {
            (&data.currency_alpha_code, "currencyAlphaCode")
        };
    let draft = Draft {
        business_id: cash_advance_id.clone(),
        name: at.string(&data.name, "name")?,
        currency: currency(at, currency_raw, currency_key)?,
        employee_id,
        ..Draft::default()
    };
    Ok((draft, cash_advance_id))
}

/// What every line of the advance shares.
struct Issue<'a> {
    cash_advance_id: &'a str,
    label: &'a str,
    employee_id: Option<&'a str>,
}

impl Issue<'_> {
    /// Appends one `journalData[]` row and its offset; returns its signed amount.
    fn journal_lines(
        &self,
        journal: &AdvanceJournal<'_>,
        row: At<'_>,
        options: &NormalizeOptions,
        lines: &mut Vec<JournalLine>,
    ) -> Result<Decimal, Problem> {
        let amount = signed_amount(journal, row)?;
        let account = row.require_string(&journal.account_code, "accountCode")?;
        let (payer, payee, code) =
            counterparty_code(row, (&journal.payer, "payer"), (&journal.payee, "payee"), options)?;
        let label = self.label;
        let description = match row.string(&journal.payment_code, "paymentCode")? {
            Some(method) => format!("{label} issued ({method})"),
            None => format!("{label} issued"),
        };
        let source = std::sync::Arc::new(LineSource {
            path: row.path().to_owned(),
            cash_advance_id: Some(self.cash_advance_id.to_owned()),
            ..LineSource::default()
        });
        let clearing = ClearingLine { amount, account, code, payer, payee, description, source };
        clearing.push_with_party(self.employee_id, EMPLOYEE_ID_PATH, options, lines)?;
        Ok(amount)
    }
}

/// `amount` is signed (+ debit / − credit) and `debitOrCredit` says the same
/// thing; if they disagree we cannot know which one is right.
fn signed_amount(journal: &AdvanceJournal<'_>, row: At<'_>) -> Result<Decimal, Problem> {
    let raw = row.require_decimal(&journal.amount, "amount")?;
    match row.text(&journal.debit_or_credit, "debitOrCredit")? {
        None => Ok(raw),
        Some("DR") if !raw.is_sign_negative() || raw.is_zero() => Ok(raw),
        Some("CR") if raw.is_sign_negative() || raw.is_zero() => Ok(raw),
        Some(side @ ("DR" | "CR")) => Err(Problem::inconsistent(
            row.child_path("amount"),
            format!("amount {raw} has the wrong sign for debitOrCredit {side} (+ is debit, − is credit)"),
        )),
        Some(other) => {
            let found = serde_json::Value::String(other.to_owned()).to_string();
            Err(Problem::invalid(&row.child_path("debitOrCredit"), "DR or CR", &found))
        }
    }
}

/// The journal must move what the advance says it is: |Σ journalData amount|
/// = `requestAmount` (in the advance currency) converted to the posting
/// currency. [derived] `exchangeRate` multiplies advance-currency amounts
/// into the reimbursement currency, as Concur's entry rates do; with two
/// currencies the comparison is made in the posting currency's minor units.
/// A document without `requestAmount` carries nothing to check against.
fn check_request_amount(data: &AdvanceData<'_>, posting_currency: &str, journal_total: Decimal) -> Result<(), Problem> {
    let at = At(DATA_PATH);
    let Some(requested) = at.decimal(&data.request_amount, "requestAmount")? else {
        return Ok(());
    };
    let request_path = at.child_path("requestAmount");
    // Absent: the advance is in the posting currency. Present but not a
    // currency code: refused, never read as "the same currency".
    let advance_currency = match at.text(&data.currency_alpha_code, "currencyAlphaCode")? {
        None => None,
        Some(_) => Some(currency(at, &data.currency_alpha_code, "currencyAlphaCode")?),
    };
    let (expected, moved) = if advance_currency.as_deref().is_none_or(|c| c == posting_currency) {
        (requested.abs(), journal_total.abs())
    } else {
        let rate = at.require_decimal(&data.exchange_rate, "exchangeRate")?;
        let converted = requested
            .checked_mul(rate)
            .ok_or_else(|| Problem::inconsistent(&request_path, "amount × exchangeRate is too large"))?;
        let in_minor_units = |amount: Decimal| {
            round(amount.abs(), posting_currency)
                .map_err(|e| Problem::inconsistent(at.child_path("employeeCurrencyAlphaCode"), e.to_string()))
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
