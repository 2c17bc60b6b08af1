//! GL JournalTransaction (screen GL301000): defaults, line rules, balance
//! check, status and release.

use rust_decimal::Decimal;

use super::state::{Record, Val};
use super::validate::{self, Ctx, check_account, check_branch, check_subaccount, money};
use super::wire::RecErrors;

/// Statuses after release.
const RELEASED: [&str; 2] = ["Unposted", "Posted"];

/// True when the batch has been released.
pub(crate) fn is_released(rec: &Record) -> bool {
    rec.str("Status").is_some_and(|s| RELEASED.contains(&s))
}

/// Applies defaults and business rules to a batch about to be saved.
pub(crate) fn prepare(ctx: &Ctx, rec: &mut Record, errors: &mut RecErrors) {
    let tenant = ctx.tenant;
    if !ctx.inserting && is_released(rec) {
        if validate::changes_anything(ctx.incoming, &["Module", "BatchNbr"]) {
            errors.record = Some("The batch has been released and cannot be edited.".into());
        }
        return;
    }
    validate::default(rec, "Module", Val::Str("GL".into()));
    validate::one_of(rec, "Module", &["GL"], errors);
    validate::default(rec, "Hold", Val::Bool(true));
    validate::default(rec, "LedgerID", Val::Str("ACTUAL".into()));
    validate::default(rec, "CurrencyID", Val::Str("USD".into()));
    validate::default(rec, "TransactionDate", Val::Date(ctx.business_midnight()));
    validate::post_period(rec, "TransactionDate", ctx.incoming, errors);
    check_branch(tenant, rec, "BranchID", ctx.default_branch(), errors);
    let header_branch = rec.str("BranchID").map(str::to_owned);

    let (mut debits, mut credits) = (Decimal::ZERO, Decimal::ZERO);
    let lines = rec.collections.entry("Details".into()).or_default();
    let mut next_line_nbr = lines
        .iter()
        .filter_map(|l| match l.values.get("LineNbr") {
            Some(Val::Int(n)) => Some(*n),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    for (i, line) in lines.iter_mut().enumerate() {
        let line_errors = errors.line("Details", i);
        if !line.values.contains_key("LineNbr") {
            next_line_nbr += 1;
            line.set("LineNbr", Val::Int(next_line_nbr));
        }
        check_account(tenant, line, "Account", line_errors);
        check_subaccount(tenant, line, "Subaccount", line_errors);
        check_branch(tenant, line, "BranchID", header_branch.clone(), line_errors);
        let debit = money(line.dec("DebitAmount").unwrap_or(Decimal::ZERO));
        let credit = money(line.dec("CreditAmount").unwrap_or(Decimal::ZERO));
        line.set("DebitAmount", Val::Dec(debit));
        line.set("CreditAmount", Val::Dec(credit));
        if !debit.is_zero() && !credit.is_zero() {
            line_errors.field("CreditAmount", "A transaction cannot have both a debit amount and a credit amount.");
        }
        debits += debit;
        credits += credit;
    }
    errors.lines.retain(|_, lines| {
        lines.retain(|_, e| !e.is_empty());
        !lines.is_empty()
    });

    let hold = rec.bool("Hold").unwrap_or(true);
    if !hold && debits != credits {
        errors.record = Some("Batch is out of balance, please review.".into());
    }
    rec.set_str("Status", if hold { "Hold" } else { "Balanced" });
}

/// `ReleaseJournalTransaction`: Balanced → Posted (auto-post on release).
pub(crate) fn release(rec: &mut Record) -> Result<(), String> {
    match rec.str("Status") {
        Some("Balanced") => {
            rec.set_str("Status", "Posted");
            Ok(())
        }
        Some("Hold") => Err("The batch is on hold and cannot be released.".into()),
        _ => Err("The batch has already been released.".into()),
    }
}
