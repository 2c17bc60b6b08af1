//! Vendors from Concur into M3 as suppliers (reference-data-from-erp.md
//! §3.5), through the gateway like the supplier read: `CRS620MI/GetBasicData`
//! by `SUNO`, then `CRS620MI/AddSupplier` when M3 has none or
//! `CRS620MI/UpdSupplier` with the changed fields only. M3 has no
//! concurrency control and answers a refusal as HTTP 200 with
//! `errorMessage`; the order and the handling of a concurrent writer are
//! [`crate::vendor_write`]'s (an `AddSupplier` refused because the supplier
//! exists now is read again and updated).
//!
//! Fields ([DEFAULT] names, see [`SUPPLIER_ADDRESS_FIELDS`]): `SUNM` name,
//! `SUA1` `SUA2` `TOWN` `ECAR` `PONO` `CSCD` address, `CUCD` currency,
//! `VRNO` tax id. What `AddSupplier` requires and Concur lacks (`SUTY`,
//! `LNCD`, `TEPY`, `PYME`, and `CSCD`/`CUCD` when the vendor has none)
//! comes from the connection's [`domain::InforSupplierDefaults`].
//!
//! [DEFAULT] An M3 update keeps a field whose input is blank, so a value
//! Concur empties cannot be emptied in M3: it stays as M3 has it (and is no
//! difference), rather than being "written" again on every run.

use domain::reference::{VendorField, VendorFields, VendorRecord};

use super::master_data::{
    M3Answer, SUPPLIER_ADDRESS_FIELDS, SUPPLIER_CURRENCY, SUPPLIER_NAME, SUPPLIER_TAX_ID, supplier_record,
};
use super::{InforClient, InforError};
use crate::VendorWritten;
use crate::vendor_write::{self, Stored, VendorStore};

/// One supplier of the accounting entity: `?DIVI=<entity>&SUNO=<id>`.
pub const GET_SUPPLIER_PATH: &str = "M3/m3api-rest/v2/execute/CRS620MI/GetBasicData";
/// Creates a supplier (refused when `SUNO` exists).
pub const ADD_SUPPLIER_PATH: &str = "M3/m3api-rest/v2/execute/CRS620MI/AddSupplier";
/// Changes the fields given of a supplier (refused when `SUNO` does not exist).
pub const UPDATE_SUPPLIER_PATH: &str = "M3/m3api-rest/v2/execute/CRS620MI/UpdSupplier";

const READ: &str = "a supplier read (M3 API)";

/// Which of the two writes is sent.
#[derive(Clone, Copy)]
enum Write {
    Add,
    Update,
}

impl Write {
    fn path(self) -> &'static str {
        match self {
            Write::Add => ADD_SUPPLIER_PATH,
            Write::Update => UPDATE_SUPPLIER_PATH,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Write::Add => "a supplier create (M3 API)",
            Write::Update => "a supplier update (M3 API)",
        }
    }

    /// As the refusal words it: "M3 refused to create supplier …".
    fn action(self) -> &'static str {
        match self {
            Write::Add => "create",
            Write::Update => "update",
        }
    }
}

/// M3 input fields and their values, in the order sent.
type Params = Vec<(&'static str, String)>;

impl InforClient {
    /// Creates `vendor` as a supplier or writes its `fields` that differ,
    /// keyed by its code (see [`crate::Erp::write_vendor`]).
    pub async fn write_supplier(
        &self,
        vendor: &VendorRecord,
        fields: &VendorFields,
    ) -> Result<VendorWritten, InforError> {
        vendor_write::write_vendor(self, vendor, fields).await
    }

    /// Supplier `supplier` as a Concur record (mapped as the supplier read
    /// maps them), `None` when the accounting entity has none: M3 answers a
    /// supplier it does not have with an error on `SUNO`.
    pub async fn supplier(
        &self,
        supplier: &str,
        address_code: &str,
        limits: domain::reference::VendorLimits,
    ) -> Result<Option<VendorRecord>, InforError> {
        match self.m3_execute(GET_SUPPLIER_PATH, &[("SUNO", supplier.trim())], READ).await? {
            M3Answer::Records(records) => Ok(records.first().and_then(|r| supplier_record(r, address_code, limits))),
            M3Answer::Refused { field, .. } if field == "SUNO" => Ok(None),
            M3Answer::Refused { message, .. } => Err(InforError::Rejected { status: 200, what: READ, message }),
        }
    }

    /// One `AddSupplier` or `UpdSupplier` of `params` (after `SUNO`). A
    /// refusal may be a concurrent writer's doing, so it is read again
    /// before it stands. Safe to repeat: a repeated add is refused as
    /// existing, a repeated update writes the same values.
    async fn send_supplier(
        &self,
        write: Write,
        supplier: &str,
        params: Params,
    ) -> Result<Stored<InforError>, InforError> {
        let mut query: Vec<(&str, &str)> = vec![("SUNO", supplier.trim())];
        query.extend(params.iter().map(|(field, value)| (*field, value.as_str())));
        Ok(match self.m3_execute(write.path(), &query, write.what()).await? {
            M3Answer::Records(_) => Stored::Written,
            M3Answer::Refused { message, field } => Stored::Refused(InforError::SupplierRefused {
                supplier: supplier.to_owned(),
                entity: self.entity()?,
                action: write.action(),
                message: if field.is_empty() { message } else { format!("{message} (field {field})") },
            }),
        })
    }

    /// `AddSupplier`'s fields: every value `vendor` has, and the
    /// connection's defaults for what M3 requires and the vendor lacks.
    fn add_params(&self, vendor: &VendorRecord) -> Result<Params, InforError> {
        let defaults = &self.settings.supplier;
        let currency = match (&vendor.currency_code, &defaults.currency, &self.settings.functional_currency) {
            (Some(currency), _, _) | (None, Some(currency), _) | (None, None, Some(currency)) => currency.clone(),
            (None, None, None) => {
                return Err(InforError::Setting {
                    setting: "supplier.currency",
                    problem: format!(
                        "is not set, nor is `functional_currency`, and Concur gives vendor `{}` no currency: M3 \
                         needs one to create the supplier",
                        vendor.vendor_code
                    ),
                });
            }
        };
        let mut params = changed_params(vendor, &[VendorField::Name, VendorField::Address, VendorField::TaxId]);
        if vendor.country_code.is_none() {
            params.push(("CSCD", defaults.country.clone()));
        }
        params.extend([
            (SUPPLIER_CURRENCY, currency),
            ("SUTY", defaults.supplier_type.clone()),
            ("LNCD", defaults.language.clone()),
            ("TEPY", defaults.payment_terms.clone()),
            ("PYME", defaults.payment_method.clone()),
        ]);
        Ok(params)
    }
}

/// The M3 fields of `fields` that `vendor` has a value for (a blank input
/// would change nothing in M3).
fn changed_params(vendor: &VendorRecord, fields: &[VendorField]) -> Params {
    let mut params = Params::new();
    let mut put = |field: &'static str, value: Option<&str>| {
        if let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) {
            params.push((field, value.to_owned()));
        }
    };
    for field in fields {
        match field {
            VendorField::Name => put(SUPPLIER_NAME, Some(&vendor.name)),
            VendorField::Currency => put(SUPPLIER_CURRENCY, vendor.currency_code.as_deref()),
            VendorField::TaxId => put(SUPPLIER_TAX_ID, vendor.tax_id.as_deref()),
            VendorField::Address => {
                for (field, value) in SUPPLIER_ADDRESS_FIELDS.into_iter().zip(vendor.address()) {
                    put(field, value.as_deref());
                }
            }
        }
    }
    params
}

impl VendorStore for InforClient {
    type Error = InforError;

    async fn read_vendor(&self, wanted: &VendorRecord) -> Result<Option<VendorRecord>, InforError> {
        self.supplier(&wanted.vendor_code, &wanted.address_code, wanted.limits).await
    }

    /// Every field Concur leaves empty stays as M3 has it: an update
    /// cannot empty it (see the module doc).
    fn as_written(&self, wanted: &VendorRecord, current: &VendorRecord) -> VendorRecord {
        let mut written = wanted.clone();
        for (mine, theirs) in [
            (&mut written.address1, &current.address1),
            (&mut written.address2, &current.address2),
            (&mut written.city, &current.city),
            (&mut written.state, &current.state),
            (&mut written.postal_code, &current.postal_code),
            (&mut written.country_code, &current.country_code),
            (&mut written.currency_code, &current.currency_code),
            (&mut written.tax_id, &current.tax_id),
        ] {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        if written.name.trim().is_empty() {
            written.name.clone_from(&current.name);
        }
        written
    }

    async fn create_vendor(&self, vendor: &VendorRecord) -> Result<Stored<InforError>, InforError> {
        let params = self.add_params(vendor)?;
        self.send_supplier(Write::Add, &vendor.vendor_code, params).await
    }

    async fn update_vendor(
        &self,
        vendor: &VendorRecord,
        changed: &[VendorField],
    ) -> Result<Stored<InforError>, InforError> {
        self.send_supplier(Write::Update, &vendor.vendor_code, changed_params(vendor, changed)).await
    }
}
