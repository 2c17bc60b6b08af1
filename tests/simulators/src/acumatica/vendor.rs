//! Vendor (screen AP303000): manual `VendorID` numbering, required name,
//! status list, the vendor class of AP Preferences on a new vendor, and
//! currency and country checked against what the tenant knows.

use super::state::{Record, Val};
use super::validate::{self, Ctx, required};
use super::wire::RecErrors;

/// Vendor statuses accepted by the contract.
pub(crate) const STATUSES: [&str; 5] = ["Active", "On Hold", "Hold Payments", "Inactive", "One-Time"];

/// The vendor class AP Preferences (AP101000) give a vendor created
/// without one **[DEFAULT]**.
pub(crate) const DEFAULT_VENDOR_CLASS: &str = "DEFAULT";

/// Currencies the simulated tenant has (screen CM202000) **[DEFAULT]**.
pub(crate) const CURRENCIES: [&str; 12] =
    ["AUD", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "JPY", "NOK", "NZD", "SEK", "USD"];

/// Applies defaults and business rules to a vendor about to be saved.
pub(crate) fn prepare(ctx: &Ctx, rec: &mut Record, errors: &mut RecErrors) {
    // The simulated tenant numbers vendors manually: the id must be given.
    required(rec, "VendorID", errors);
    required(rec, "VendorName", errors);
    if ctx.inserting {
        validate::default(rec, "VendorClass", Val::Str(DEFAULT_VENDOR_CLASS.into()));
    }
    validate::default(rec, "Status", Val::Str("Active".into()));
    validate::one_of(rec, "Status", &STATUSES, errors);
    validate::default(rec, "F1099Vendor", Val::Bool(false));
    if let Some(currency) = rec.str("CurrencyID")
        && !CURRENCIES.contains(&currency)
    {
        errors.field("CurrencyID", "'Currency' cannot be found in the system.");
    }
    check_country(rec, errors);
}

/// `MainContact/Address/Country` must be a country of the tenant (CS204000):
/// here, any ISO 3166 alpha-2 code.
fn check_country(rec: &Record, errors: &mut RecErrors) {
    let country = rec.linked.get("MainContact").and_then(|c| c.linked.get("Address")).and_then(|a| a.str("Country"));
    if let Some(country) = country
        && !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()))
    {
        let contact = errors.linked.entry("MainContact".to_owned()).or_default();
        contact
            .linked
            .entry("Address".to_owned())
            .or_default()
            .field("Country", "'Country' cannot be found in the system.");
    }
}
