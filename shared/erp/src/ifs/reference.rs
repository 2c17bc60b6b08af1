//! The reference data mapping validation reads (reference §5a, §5d):
//! suppliers, the company's GL accounts and its code part values, every
//! page of each.

use domain::reference::{ReadPage, VendorLimits, VendorRecord};
use serde_json::Value;
use time::Date;

use super::documents::CODE_PARTS;
use super::odata::{literal, query, text};
use super::{IfsClient, IfsError, Set};
use crate::DocumentProblem;

/// A supplier (`SupplierInfoGeneralSet`). Suppliers are environment-wide
/// master data in IFS; invoices can only be entered for one that has
/// invoice data (`SupplierInvoiceCompanies`) in the company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfsSupplier {
    /// `SupplierId`: what an invoice's `Identity` names.
    pub id: String,
    pub name: Option<String>,
    pub country: Option<String>,
    /// It has invoice data in this client's company.
    pub in_company: bool,
}

/// A GL account of the company (`AccountSet`, code part A).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfsAccount {
    pub account: String,
    pub description: Option<String>,
    /// `AccntType` (the company's account type code).
    pub account_type: Option<String>,
    /// `LogicalAccountType`: `Asset`, `Liability`, `Cost`, `Revenue`, `Stat`…
    pub logical_type: Option<String>,
    pub valid_from: Option<Date>,
    pub valid_until: Option<Date>,
    pub blocked_for_direct_posting: bool,
}

/// A value of one of the company's code parts `B`…`J` (`CodePartValueSet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfsCodePartValue {
    pub code_part: char,
    pub value: String,
    pub description: Option<String>,
    pub valid_from: Option<Date>,
    pub valid_until: Option<Date>,
}

/// The supplier attributes the vendor read and write map.
pub(crate) const SUPPLIER_SELECT: &str = "SupplierId,Name,Country";
const ACCOUNT_SELECT: &str =
    "Company,Account,Description,AccntType,LogicalAccountType,ValidFrom,ValidUntil,BlockedForDirectPosting";
const CODE_PART_SELECT: &str = "Company,CodePart,CodeValue,Description,ValidFrom,ValidUntil";

pub(crate) fn owned(record: &Value, member: &str) -> Option<String> {
    text(record, member).map(str::to_owned)
}

/// The rows of navigation `name` expanded into `record`.
fn expanded<'a>(record: &'a Value, name: &str) -> impl Iterator<Item = &'a Value> {
    record.get(name).and_then(Value::as_array).into_iter().flatten()
}

/// The parts of a supplier read with [`IfsClient::supplier_expand`] that
/// one connection maps.
pub(crate) struct SupplierParts<'a> {
    /// Its invoice data in the client's company: present = a vendor of it.
    pub(crate) company_row: Option<&'a Value>,
    /// Its address whose `AddressId` is the Concur address code.
    pub(crate) address: Option<&'a Value>,
}

/// An `Edm.Date` (`2024-03-15`); a timestamp's date part is taken.
pub(crate) fn date(record: &Value, member: &str) -> Option<Date> {
    let raw = text(record, member)?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(raw.get(..10).unwrap_or(raw), format).ok()
}

impl IfsClient {
    /// Every supplier (`SupplierId`, `Name`, `Country`) and whether it has
    /// invoice data in the company (`$expand` of its company rows), all pages.
    pub async fn suppliers(&self) -> Result<Vec<IfsSupplier>, IfsError> {
        let what = "the supplier list";
        let companies = self.api().supplier_invoice_companies.as_str();
        let options = [("$select", SUPPLIER_SELECT), ("$expand", companies)];
        let url = format!("{}{}", self.set_url(Set::Supplier), query(&options));
        let rows = self.list(Set::Supplier, &url, what).await?;
        rows.iter()
            .map(|r| {
                Ok(IfsSupplier {
                    id: owned(r, "SupplierId")
                        .ok_or_else(|| self.malformed(what, "a supplier without SupplierId".into()))?,
                    name: owned(r, "Name"),
                    country: owned(r, "Country"),
                    in_company: expanded(r, companies).any(|c| text(c, "Company") == Some(self.company())),
                })
            })
            .collect()
    }

    /// One page of suppliers (ordered by `SupplierId`) as Concur vendor
    /// records: active where the supplier has invoice data in the
    /// connection's company (IFS takes no invoice for another), with the
    /// company's currency, and the lines of its address whose `AddressId`
    /// is `address_code` (the country is the supplier's). IFS has no
    /// filterable change time (reference §2.2): every read is a full read,
    /// the content hashes keep the writes to what changed. Every supplier
    /// gets `address_code` [DEFAULT `MAIN`]: a supplier's address ids are
    /// its own, and the vendor write creates the address under the Concur
    /// address code, so the two directions name the same address.
    pub async fn vendors_page(
        &self,
        page: ReadPage,
        address_code: &str,
        limits: VendorLimits,
    ) -> Result<Vec<VendorRecord>, IfsError> {
        let what = format!("the supplier read (from row {})", page.skip);
        let expand = self.supplier_expand();
        let options = [("$select", SUPPLIER_SELECT), ("$expand", expand.as_str())];
        let rows = self.read_page(Set::Supplier, &options, "SupplierId", page, &what).await?;
        Ok(rows.iter().filter_map(|row| self.vendor_record(row, address_code, limits)).collect())
    }

    /// One page of `set` (`options` plus `$orderby`, `$top`, `$skip`): IFS
    /// pages by offset, which holds only over a stable order (reference
    /// §2.2), so `order_by` names a key. Every server page of it is read.
    pub(crate) async fn read_page(
        &self,
        set: Set,
        options: &[(&str, &str)],
        order_by: &str,
        page: ReadPage,
        what: &str,
    ) -> Result<Vec<Value>, IfsError> {
        let (top, skip) = (page.top.to_string(), page.skip.to_string());
        let mut options = options.to_vec();
        options.extend([("$orderby", order_by), ("$top", top.as_str()), ("$skip", skip.as_str())]);
        let url = format!("{}{}", self.set_url(set), query(&options));
        self.list(set, &url, what).await
    }

    /// `$expand` of a supplier read: its invoice data and its addresses.
    pub(crate) fn supplier_expand(&self) -> String {
        format!("{},{}", self.api().supplier_invoice_companies, self.api().supplier_addresses)
    }

    /// The company row and address `address_code` of a supplier read with
    /// [`Self::supplier_expand`].
    pub(crate) fn supplier_parts<'a>(&self, row: &'a Value, address_code: &str) -> SupplierParts<'a> {
        SupplierParts {
            company_row: expanded(row, &self.api().supplier_invoice_companies)
                .find(|c| text(c, "Company") == Some(self.company())),
            address: expanded(row, &self.api().supplier_addresses).find(|a| text(a, "AddressId") == Some(address_code)),
        }
    }

    /// A supplier as a Concur vendor record: the one mapping of both
    /// directions (the vendor read, and the vendor write's comparison).
    pub(crate) fn vendor_record(&self, row: &Value, address_code: &str, limits: VendorLimits) -> Option<VendorRecord> {
        let parts = self.supplier_parts(row, address_code);
        let line = |member: &str| parts.address.and_then(|a| owned(a, member));
        let (code, name) = (owned(row, "SupplierId")?, owned(row, "Name").unwrap_or_default());
        Some(VendorRecord {
            address1: line("Address1"),
            address2: line("Address2"),
            city: line("City"),
            state: line("State"),
            postal_code: line("ZipCode"),
            country_code: owned(row, "Country"),
            currency_code: parts.company_row.and_then(|c| owned(c, "Currency")),
            active: parts.company_row.is_some(),
            ..VendorRecord::named(code, address_code.to_owned(), name, limits)
        })
    }

    /// The company's GL accounts, all pages.
    pub async fn accounts(&self) -> Result<Vec<IfsAccount>, IfsError> {
        let what = "the GL account list";
        let rows = self.lookup_rows(Set::Account, &[], ACCOUNT_SELECT, what).await?;
        rows.iter()
            .map(|r| {
                Ok(IfsAccount {
                    account: owned(r, "Account")
                        .ok_or_else(|| self.malformed(what, "an account without Account".into()))?,
                    description: owned(r, "Description"),
                    account_type: owned(r, "AccntType"),
                    logical_type: owned(r, "LogicalAccountType"),
                    valid_from: date(r, "ValidFrom"),
                    valid_until: date(r, "ValidUntil"),
                    blocked_for_direct_posting: r
                        .get("BlockedForDirectPosting")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
            })
            .collect()
    }

    /// The values of code part `code_part` (`B`…`J`) in the company, all pages.
    pub async fn code_part_values(&self, code_part: char) -> Result<Vec<IfsCodePartValue>, IfsError> {
        let letter = code_part.to_ascii_uppercase();
        if !CODE_PARTS.contains(&letter) {
            return Err(IfsError::Invalid {
                company: self.company().to_owned(),
                document: "the code part value list".into(),
                problem: Box::new(DocumentProblem::NotACodePart { code_part }),
            });
        }
        let what = format!("the values of code part {letter}");
        let condition = format!("CodePart eq {}", literal(&letter.to_string()));
        let rows = self.lookup_rows(Set::CodePartValue, &[condition], CODE_PART_SELECT, &what).await?;
        rows.iter()
            .filter(|r| text(r, "CodePart") == Some(letter.to_string().as_str()))
            .map(|r| {
                Ok(IfsCodePartValue {
                    code_part: letter,
                    value: owned(r, "CodeValue")
                        .ok_or_else(|| self.malformed(&what, "a code part value without CodeValue".into()))?,
                    description: owned(r, "Description"),
                    valid_from: date(r, "ValidFrom"),
                    valid_until: date(r, "ValidUntil"),
                })
            })
            .collect()
    }
}
