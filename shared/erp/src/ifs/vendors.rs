//! Vendors from Concur into IFS Cloud as suppliers (reference §5a, §4;
//! reference-data-from-erp §2.3). The order and the handling of a
//! concurrent writer are [`crate::vendor_write`]'s; this is IFS's
//! [`VendorStore`].
//!
//! In IFS a vendor of the company is three records, each its own POST
//! (IFS has no transaction across calls, §3):
//! 1. the supplier (`SupplierInfoGeneralSet`: `SupplierId`, `Name`,
//!    `Country`), environment-wide master data;
//! 2. its address whose `AddressId` is the Concur address code
//!    (`Address1`, `Address2`, `City`, `State`, `ZipCode`, `Country`), when
//!    the vendor has address lines;
//! 3. its invoice data in the connection's company
//!    (`SupplierInvoiceCompanies`: `Currency`), created last. That row
//!    makes the supplier a vendor of the company: IFS takes invoices only
//!    then, and the vendor read offers only such suppliers as active.
//!
//! So a supplier without that row reads as absent and the create makes
//! what it lacks: a record that exists already (a crash between the POSTs,
//! a concurrent create, a supplier of other companies) is refused as a
//! duplicate key and kept. Only the invoice data's refusal is a lost race
//! (another write made it a vendor of the company first), read again as an
//! update; so one call reports the create. A create whose answer is lost
//! (timeout, 5xx) is not sent again: the error is retryable and the next
//! run's read decides.
//!
//! An update reads the supplier again and PATCHes, with each record's
//! ETag (a 412 is read again and retried once), only the attributes that
//! differ. Not carried: the tax id (the supplier's tax data,
//! `SupplierDocumentTaxInfo`, has no OData names in the reference and the
//! simulator has none; the vendor read does not read it either) and the
//! active flag (blocking a supplier is IFS's own workflow). A value Concur
//! leaves empty that IFS defaults (currency, country) keeps IFS's.

use domain::reference::{VendorField, VendorFields, VendorRecord};
use serde_json::{Map, Value, json};

use super::odata::{Key, KeyValue, query, text};
use super::reference::SUPPLIER_SELECT;
use super::{IfsClient, IfsError, SERVICE, Sent, Set, Target};
use crate::vendor_write::{self, Stored, VendorStore};
use crate::{DocumentProblem, VendorWritten};

/// A supplier as read, with what a write needs of it.
struct Found {
    /// As the vendor read maps it, with the written address code.
    current: VendorRecord,
    in_company: bool,
    /// The address whose `AddressId` is the vendor's address code.
    address: Option<Value>,
}

/// The IFS attributes of the address lines, with the vendor's values.
fn address_lines(vendor: &VendorRecord) -> [(&'static str, Option<&str>); 5] {
    [
        ("Address1", vendor.address1.as_deref()),
        ("Address2", vendor.address2.as_deref()),
        ("City", vendor.city.as_deref()),
        ("State", vendor.state.as_deref()),
        ("ZipCode", vendor.postal_code.as_deref()),
    ]
}

fn has_address_lines(vendor: &VendorRecord) -> bool {
    address_lines(vendor).iter().any(|(_, value)| value.is_some_and(|v| !v.is_empty()))
}

/// `Some("")` as `None`: IFS answers an empty attribute as `null`.
fn present(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.is_empty())
}

/// Whether `record` already carries every member of `body` (`null` = absent).
fn carries(record: &Value, body: &Value) -> bool {
    let Value::Object(members) = body else { return false };
    members.iter().all(|(name, value)| record.get(name).unwrap_or(&Value::Null) == value)
}

/// The members of `wanted` whose values `record` does not have, as a body.
fn changed_members(record: &Value, wanted: &[(&'static str, Option<&str>)]) -> Map<String, Value> {
    wanted
        .iter()
        .filter(|(name, value)| text(record, name) != *value)
        .map(|(name, value)| ((*name).to_owned(), value.map_or(Value::Null, |v| json!(v))))
        .collect()
}

fn label(vendor: &VendorRecord) -> String {
    format!("supplier `{}`", vendor.vendor_code)
}

fn address_label(vendor: &VendorRecord) -> String {
    format!("address `{}` of supplier `{}`", vendor.address_code, vendor.vendor_code)
}

fn invoice_data_label(vendor: &VendorRecord) -> String {
    format!("the invoice data of supplier `{}` in the company", vendor.vendor_code)
}

fn supplier_key(vendor: &VendorRecord) -> Key {
    Key::unscoped(vec![("SupplierId", KeyValue::Text(vendor.vendor_code.clone()))])
}

fn address_key(vendor: &VendorRecord) -> Key {
    Key::unscoped(vec![
        ("SupplierId", KeyValue::Text(vendor.vendor_code.clone())),
        ("AddressId", KeyValue::Text(vendor.address_code.clone())),
    ])
}

/// The supplier's create body (reference §5a).
fn supplier_body(vendor: &VendorRecord) -> Value {
    let mut body = Map::new();
    body.insert("SupplierId".into(), json!(vendor.vendor_code));
    body.insert("Name".into(), json!(vendor.name));
    supplier_party(body, vendor)
}

/// `body` with what every supplier row carries: the country (when given),
/// `PartyType` and `DefaultDomain`.
fn supplier_party(mut body: Map<String, Value>, vendor: &VendorRecord) -> Value {
    body.extend(present(&vendor.country_code).map(|c| ("Country".to_owned(), json!(c))));
    body.insert("PartyType".into(), json!("Supplier"));
    body.insert("DefaultDomain".into(), json!(true));
    Value::Object(body)
}

/// The address's create body: the lines given, the country, and
/// `DefaultDomain` (required on the customer twin of this call, §5a).
fn address_body(vendor: &VendorRecord) -> Value {
    let mut body: Map<String, Value> = address_lines(vendor)
        .into_iter()
        .filter(|(_, value)| value.is_some_and(|v| !v.is_empty()))
        .map(|(name, value)| (name.to_owned(), json!(value)))
        .collect();
    body.insert("SupplierId".into(), json!(vendor.vendor_code));
    body.insert("AddressId".into(), json!(vendor.address_code));
    supplier_party(body, vendor)
}

impl IfsClient {
    /// Creates the supplier `vendor.vendor_code` as a vendor of the company,
    /// or writes its `fields` that differ (see [`crate::Erp::write_vendor`]
    /// and the module documentation).
    pub async fn write_supplier(
        &self,
        vendor: &VendorRecord,
        fields: &VendorFields,
    ) -> Result<VendorWritten, IfsError> {
        self.check_vendor(vendor)?;
        vendor_write::write_vendor(self, vendor, fields).await
    }

    /// Refuses a vendor IFS could not hold before anything is sent (the
    /// code is checked by the caller, as for every ERP).
    fn check_vendor(&self, vendor: &VendorRecord) -> Result<(), IfsError> {
        let empty = |what: &str| IfsError::Invalid {
            company: self.company().to_owned(),
            document: label(vendor),
            problem: Box::new(DocumentProblem::Empty { what: what.to_owned() }),
        };
        if vendor.name.trim().is_empty() {
            return Err(empty("the vendor name"));
        }
        if has_address_lines(vendor) && vendor.address_code.trim().is_empty() {
            return Err(empty("the address code (the AddressId of the supplier's address in IFS)"));
        }
        Ok(())
    }

    /// The supplier with its invoice data and addresses; `None` when IFS
    /// has no supplier with this id.
    async fn read_supplier(&self, vendor: &VendorRecord) -> Result<Option<Found>, IfsError> {
        let what = label(vendor);
        let expand = self.supplier_expand();
        let options = query(&[("$select", SUPPLIER_SELECT), ("$expand", &expand)]);
        let url = format!("{}{options}", self.entity_url(Set::Supplier, &supplier_key(vendor)));
        let Some(entity) = self.read_at(Set::Supplier, Target::Entity, &url, &what).await? else {
            return Ok(None);
        };
        let record = entity.record;
        if text(&record, "SupplierId") != Some(vendor.vendor_code.as_str()) {
            return Err(self.malformed(&what, "the record read carries another SupplierId".into()));
        }
        let current = self
            .vendor_record(&record, &vendor.address_code, vendor.limits)
            .ok_or_else(|| self.malformed(&what, "the record read carries no SupplierId".into()))?;
        let parts = self.supplier_parts(&record, &vendor.address_code);
        Ok(Some(Found { current, in_company: parts.company_row.is_some(), address: parts.address.cloned() }))
    }

    /// POSTs one record of a supplier; refused (with IFS's answer) when a
    /// record with its keys exists. A lost answer (timeout, 5xx) is an
    /// error: the create is never sent again blindly.
    async fn post_part(
        &self,
        set: Set,
        target: Target,
        url: &str,
        body: &Value,
        what: &str,
    ) -> Result<Stored<IfsError>, IfsError> {
        match self.create(set, target, url, body, what).await {
            Ok(Sent::Created(_)) => Ok(Stored::Written),
            Ok(Sent::Unknown(e)) => Err(e),
            Err(e) if e.is_duplicate_key() => {
                tracing::info!(service = SERVICE, what, "exists already (a concurrent or interrupted create)");
                Ok(Stored::Refused(e))
            }
            Err(e) => Err(e),
        }
    }

    /// Makes the address of `vendor` carry its lines and country: created
    /// when the supplier has none (and the vendor has lines), else PATCHed
    /// where it differs, which is also what follows a create refused
    /// because a concurrent write made the address first.
    async fn write_address(&self, vendor: &VendorRecord, found: &Found) -> Result<(), IfsError> {
        let what = address_label(vendor);
        let mut wanted = address_lines(vendor).to_vec();
        wanted.push(("Country", vendor.country_code.as_deref()));
        let members = match &found.address {
            Some(address) => changed_members(address, &wanted),
            None if !has_address_lines(vendor) => return Ok(()),
            None => {
                let url = self.rows_url(Set::SupplierAddress, &supplier_key(vendor));
                let body = address_body(vendor);
                match self.post_part(Set::SupplierAddress, Target::Rows, &url, &body, &what).await? {
                    Stored::Written => return Ok(()),
                    Stored::Refused(_) => changed_members(&Value::Null, &wanted),
                }
            }
        };
        if members.is_empty() {
            return Ok(());
        }
        let body = Value::Object(members);
        let url = self.row_url(Set::SupplierAddress, &supplier_key(vendor), &address_key(vendor));
        self.update_at(Set::SupplierAddress, Target::Rows, &url, &body, &what, |r| carries(r, &body)).await
    }
}

impl VendorStore for IfsClient {
    type Error = IfsError;

    /// The supplier as a vendor of the company; `None` also for a supplier
    /// without invoice data in the company (not a vendor of it yet), which
    /// the create completes.
    async fn read_vendor(&self, wanted: &VendorRecord) -> Result<Option<VendorRecord>, IfsError> {
        Ok(self.read_supplier(wanted).await?.filter(|found| found.in_company).map(|found| found.current))
    }

    /// Supplier, address, then the invoice data in the company; records
    /// that exist are kept. Refused when another write made it a vendor of
    /// the company first.
    async fn create_vendor(&self, vendor: &VendorRecord) -> Result<Stored<IfsError>, IfsError> {
        let supplier = supplier_key(vendor);
        // A supplier or address that exists is kept (refused as a duplicate key).
        let (set_url, what) = (self.set_url(Set::Supplier), label(vendor));
        self.post_part(Set::Supplier, Target::Set, &set_url, &supplier_body(vendor), &what).await?;
        if has_address_lines(vendor) {
            let url = self.rows_url(Set::SupplierAddress, &supplier);
            let what = address_label(vendor);
            self.post_part(Set::SupplierAddress, Target::Rows, &url, &address_body(vendor), &what).await?;
        }
        let mut fields = Map::new();
        fields.insert("SupplierId".into(), json!(vendor.vendor_code));
        fields.extend(present(&vendor.currency_code).map(|c| ("Currency".to_owned(), json!(c))));
        let (url, what) = (self.rows_url(Set::SupplierCompany, &supplier), invoice_data_label(vendor));
        self.post_part(Set::SupplierCompany, Target::Rows, &url, &self.company.body(fields), &what).await
    }

    /// Empty texts as absent (IFS answers them as `null`), a currency or
    /// country Concur leaves empty as IFS has it, and the tax id, which is
    /// not carried, as IFS has it (none): never a difference.
    fn as_written(&self, wanted: &VendorRecord, current: &VendorRecord) -> VendorRecord {
        VendorRecord {
            address1: present(&wanted.address1),
            address2: present(&wanted.address2),
            city: present(&wanted.city),
            state: present(&wanted.state),
            postal_code: present(&wanted.postal_code),
            country_code: present(&wanted.country_code).or_else(|| current.country_code.clone()),
            currency_code: present(&wanted.currency_code).or_else(|| current.currency_code.clone()),
            tax_id: current.tax_id.clone(),
            ..wanted.clone()
        }
    }

    /// Reads the supplier again (for the ETags and what each record holds)
    /// and PATCHes only the attributes of `changed` that differ: name and
    /// country on the supplier, the lines on its address, the currency on
    /// the company's invoice data. Refused when it is no longer a vendor
    /// of the company.
    async fn update_vendor(
        &self,
        vendor: &VendorRecord,
        changed: &[VendorField],
    ) -> Result<Stored<IfsError>, IfsError> {
        let gone = || IfsError::Vanished {
            company: self.company().to_owned(),
            document: label(vendor),
            again: Set::Supplier.try_again(),
        };
        let Some(found) = self.read_supplier(vendor).await?.filter(|found| found.in_company) else {
            return Ok(Stored::Refused(gone()));
        };
        let mut header = Map::new();
        if changed.contains(&VendorField::Name) {
            header.insert("Name".into(), json!(vendor.name));
        }
        if changed.contains(&VendorField::Address) && found.current.country_code != vendor.country_code {
            header.insert("Country".into(), json!(vendor.country_code));
        }
        if !header.is_empty() {
            let body = Value::Object(header);
            self.update(Set::Supplier, &supplier_key(vendor), &body, &label(vendor), |r| carries(r, &body)).await?;
        }
        if changed.contains(&VendorField::Address) {
            self.write_address(vendor, &found).await?;
        }
        if changed.contains(&VendorField::Currency) {
            let body = json!({ "Currency": vendor.currency_code });
            let row = self.company.key(vec![("SupplierId", KeyValue::Text(vendor.vendor_code.clone()))]);
            let url = self.row_url(Set::SupplierCompany, &supplier_key(vendor), &row);
            let what = invoice_data_label(vendor);
            self.update_at(Set::SupplierCompany, Target::Rows, &url, &body, &what, |r| carries(r, &body)).await?;
        }
        Ok(Stored::Written)
    }
}
