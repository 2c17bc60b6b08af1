//! Validation and defaulting shared by the entities (accounts, subaccounts,
//! branches, periods, amounts), plus the per-save context.

use rust_decimal::{Decimal, RoundingStrategy};
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use super::schema::{Kind, label};
use super::state::{Record, Tenant, Val, same_text};
use super::wire::{Incoming, RecErrors};

/// What a save needs besides the record itself.
pub(crate) struct Ctx<'a> {
    pub tenant: &'a Tenant,
    pub inserting: bool,
    pub incoming: &'a Incoming,
    /// `PX-CbApiBusinessDate` or today: the default document date.
    pub business_date: Date,
    /// Branch of the session / `PX-CbApiBranch`, else the tenant's first.
    pub branch: Option<&'a str>,
}

impl Ctx<'_> {
    /// The branch new documents default to.
    pub(crate) fn default_branch(&self) -> Option<String> {
        self.branch.or(self.tenant.default_branch()).map(str::to_owned)
    }

    pub(crate) fn business_midnight(&self) -> OffsetDateTime {
        PrimitiveDateTime::new(self.business_date, Time::MIDNIGHT).assume_utc()
    }
}

/// `'Field' cannot be empty.`
pub(crate) fn required(rec: &Record, field: &str, errors: &mut RecErrors) -> bool {
    let present = match rec.values.get(field) {
        Some(Val::Str(s)) => !s.trim().is_empty(),
        Some(_) => true,
        None => false,
    };
    if !present {
        errors.field(field, format!("'{}' cannot be empty.", label(field)));
    }
    present
}

/// A stored record of `kind` whose key field equals `value` (case-insensitive).
pub(crate) fn find_by_cd<'t>(tenant: &'t Tenant, kind: Kind, key: &str, value: &str) -> Option<&'t Record> {
    tenant.records(kind).iter().find(|r| r.str(key).is_some_and(|v| same_text(v, value)))
}

/// Checks (and canonicalises) a GL account reference on `field`.
pub(crate) fn check_account(tenant: &Tenant, rec: &mut Record, field: &str, errors: &mut RecErrors) {
    if !required(rec, field, errors) {
        return;
    }
    let value = rec.str(field).unwrap_or_default().to_owned();
    match find_by_cd(tenant, Kind::Account, "AccountCD", &value) {
        None => errors.field(field, format!("'{}' cannot be found in the system.", label(field))),
        Some(account) if account.bool("Active") == Some(false) => {
            errors.field(field, format!("Account '{value}' is inactive."));
        }
        Some(account) => {
            let cd = account.str("AccountCD").unwrap_or(&value).to_owned();
            rec.set_str(field, cd);
        }
    }
}

/// Checks an optional subaccount reference on `field`.
pub(crate) fn check_subaccount(tenant: &Tenant, rec: &mut Record, field: &str, errors: &mut RecErrors) {
    let Some(value) = rec.str(field).map(str::to_owned) else { return };
    match find_by_cd(tenant, Kind::Subaccount, "SubaccountCD", &value) {
        None => errors.field(field, format!("'{}' cannot be found in the system.", label(field))),
        Some(sub) if sub.bool("Active") == Some(false) => {
            errors.field(field, format!("Subaccount '{value}' is inactive."));
        }
        Some(sub) => {
            let cd = sub.str("SubaccountCD").unwrap_or(&value).to_owned();
            rec.set_str(field, cd);
        }
    }
}

/// Defaults a branch field and checks it exists in the tenant.
pub(crate) fn check_branch(
    tenant: &Tenant,
    rec: &mut Record,
    field: &str,
    default: Option<String>,
    errors: &mut RecErrors,
) {
    if rec.str(field).is_none()
        && let Some(b) = default
    {
        rec.set_str(field, b);
    }
    if let Some(b) = rec.str(field)
        && !tenant.has_branch(b)
    {
        errors.field(field, format!("'{}' cannot be found in the system.", label(field)));
    }
}

/// `MMYYYY` financial period of a date.
pub(crate) fn period_of(date: OffsetDateTime) -> String {
    format!("{:02}{:04}", u8::from(date.month()), date.year())
}

/// Sets `PostPeriod` from the document date unless the request set it,
/// and checks an explicit one is a valid `MMYYYY`.
pub(crate) fn post_period(rec: &mut Record, date_field: &str, incoming: &Incoming, errors: &mut RecErrors) {
    let explicit = incoming.value("PostPeriod").is_some();
    if !explicit
        && (incoming.value(date_field).is_some() || rec.str("PostPeriod").is_none())
        && let Some(date) = rec.date(date_field)
    {
        rec.set_str("PostPeriod", period_of(date));
    }
    if let Some(period) = rec.str("PostPeriod") {
        let valid = period.len() == 6
            && period.chars().all(|c| c.is_ascii_digit())
            && matches!(period[..2].parse::<u8>(), Ok(1..=12));
        if !valid {
            errors.field("PostPeriod", format!("'{period}' is not a valid financial period (MMYYYY)."));
        }
    }
}

/// Money rounded to the currency precision (2 places, half away from zero).
pub(crate) fn money(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Sets `field` to `value` when the record has no value for it.
pub(crate) fn default(rec: &mut Record, field: &str, value: Val) {
    if !rec.values.contains_key(field) {
        rec.set(field, value);
    }
}

/// True when a string field holds one of `allowed`; errors otherwise.
pub(crate) fn one_of(rec: &Record, field: &str, allowed: &[&str], errors: &mut RecErrors) -> bool {
    match rec.str(field) {
        Some(v) if allowed.contains(&v) => true,
        Some(v) => {
            errors.field(
                field,
                format!("'{v}' is not a valid value for '{}'. Allowed: {}.", label(field), allowed.join(", ")),
            );
            false
        }
        None => true,
    }
}

/// True when the request changes anything beyond identifying the record.
pub(crate) fn changes_anything(incoming: &Incoming, keys: &[&str]) -> bool {
    incoming.values.keys().any(|k| !keys.contains(k))
        || !incoming.collections.is_empty()
        || !incoming.linked.is_empty()
        || !incoming.custom.is_empty()
        || incoming.note.is_some()
}
