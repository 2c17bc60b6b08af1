//! Vendor (screen AP303000): manual `VendorID` numbering, required name,
//! status list.

use super::state::{Record, Val};
use super::validate::{self, Ctx, required};
use super::wire::RecErrors;

/// Vendor statuses accepted by the contract.
pub(crate) const STATUSES: [&str; 5] = ["Active", "On Hold", "Hold Payments", "Inactive", "One-Time"];

/// Applies defaults and business rules to a vendor about to be saved.
pub(crate) fn prepare(_ctx: &Ctx, rec: &mut Record, errors: &mut RecErrors) {
    // The simulated tenant numbers vendors manually: the id must be given.
    required(rec, "VendorID", errors);
    required(rec, "VendorName", errors);
    validate::default(rec, "Status", Val::Str("Active".into()));
    validate::one_of(rec, "Status", &STATUSES, errors);
    validate::default(rec, "F1099Vendor", Val::Bool(false));
}
