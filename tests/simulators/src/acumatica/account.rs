//! GL Account (GL202500) and Subaccount (GL203000): the lists the connector
//! maps Concur expense types and cost centres to.

use super::state::{Record, Val};
use super::validate::{self, Ctx, required};
use super::wire::RecErrors;

/// Account types accepted by the contract.
pub(crate) const ACCOUNT_TYPES: [&str; 4] = ["Asset", "Liability", "Income", "Expense"];

/// Applies defaults and business rules to an account about to be saved.
pub(crate) fn prepare_account(ctx: &Ctx, rec: &mut Record, errors: &mut RecErrors) {
    required(rec, "AccountCD", errors);
    required(rec, "Description", errors);
    if required(rec, "Type", errors) {
        validate::one_of(rec, "Type", &ACCOUNT_TYPES, errors);
    }
    validate::default(rec, "Active", Val::Bool(true));
    for flag in ["CashAccount", "RequireUnits", "Secured", "UseDefaultSubaccount"] {
        validate::default(rec, flag, Val::Bool(false));
    }
    if ctx.inserting {
        let next = ctx.tenant.last_account_id + 1;
        rec.set("AccountID", Val::Int(next));
    }
}

/// Applies defaults and business rules to a subaccount about to be saved.
pub(crate) fn prepare_subaccount(ctx: &Ctx, rec: &mut Record, errors: &mut RecErrors) {
    required(rec, "SubaccountCD", errors);
    validate::default(rec, "Active", Val::Bool(true));
    validate::default(rec, "Secured", Val::Bool(false));
    if ctx.inserting {
        let next = ctx.tenant.last_subaccount_id + 1;
        rec.set("SubaccountID", Val::Int(next));
    }
}
