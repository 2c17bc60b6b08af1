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

const SUPPLIER_SELECT: &str = "SupplierId,Name,Country";
/// The navigation to a supplier's company-specific invoice data (reference §5a).
const SUPPLIER_COMPANIES: &str = "SupplierInvoiceCompanies";
const ACCOUNT_SELECT: &str =
    "Company,Account,Description,AccntType,LogicalAccountType,ValidFrom,ValidUntil,BlockedForDirectPosting";
const CODE_PART_SELECT: &str = "Company,CodePart,CodeValue,Description,ValidFrom,ValidUntil";

fn owned(record: &Value, member: &str) -> Option<String> {
    text(record, member).map(str::to_owned)
}

/// An `Edm.Date` (`2024-03-15`); a timestamp's date part is taken.
fn date(record: &Value, member: &str) -> Option<Date> {
    let raw = text(record, member)?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(raw.get(..10).unwrap_or(raw), format).ok()
}

impl IfsClient {
    /// Every supplier (`SupplierId`, `Name`, `Country`) and whether it has
    /// invoice data in the company (`$expand` of its company rows), all pages.
    pub async fn suppliers(&self) -> Result<Vec<IfsSupplier>, IfsError> {
        let what = "the supplier list";
        let options = [("$select", SUPPLIER_SELECT), ("$expand", SUPPLIER_COMPANIES)];
        let url = format!("{}{}", self.set_url(Set::Supplier), query(&options));
        let rows = self.list(Set::Supplier, &url, what).await?;
        rows.iter()
            .map(|r| {
                Ok(IfsSupplier {
                    id: owned(r, "SupplierId")
                        .ok_or_else(|| self.malformed(what, "a supplier without SupplierId".into()))?,
                    name: owned(r, "Name"),
                    country: owned(r, "Country"),
                    in_company: r
                        .get(SUPPLIER_COMPANIES)
                        .and_then(Value::as_array)
                        .is_some_and(|rows| rows.iter().any(|c| text(c, "Company") == Some(self.company()))),
                })
            })
            .collect()
    }

    /// One page of suppliers (ordered by `SupplierId`) as Concur vendor
    /// records: active where the supplier has invoice data in the
    /// connection's company (IFS takes no invoice for another), with the
    /// company's currency. IFS has no filterable change time (reference
    /// §2.2): every read is a full read, the content hashes keep the
    /// writes to what changed. Every supplier gets `address_code`: the
    /// address ids are per supplier and not readable with the invoice
    /// data [DEFAULT `MAIN`].
    pub async fn vendors_page(
        &self,
        page: ReadPage,
        address_code: &str,
        limits: VendorLimits,
    ) -> Result<Vec<VendorRecord>, IfsError> {
        let what = format!("the supplier read (from row {})", page.skip);
        let (top, skip) = (page.top.to_string(), page.skip.to_string());
        let options = [
            ("$select", SUPPLIER_SELECT),
            ("$expand", SUPPLIER_COMPANIES),
            ("$orderby", "SupplierId"),
            ("$top", top.as_str()),
            ("$skip", skip.as_str()),
        ];
        let url = format!("{}{}", self.set_url(Set::Supplier), query(&options));
        let rows = self.list(Set::Supplier, &url, &what).await?;
        Ok(rows.iter().filter_map(|row| self.vendor_record(row, address_code, limits)).collect())
    }

    fn vendor_record(&self, row: &Value, address_code: &str, limits: VendorLimits) -> Option<VendorRecord> {
        let company_row = row
            .get(SUPPLIER_COMPANIES)
            .and_then(Value::as_array)
            .and_then(|rows| rows.iter().find(|c| text(c, "Company") == Some(self.company())));
        let (code, name) = (owned(row, "SupplierId")?, owned(row, "Name").unwrap_or_default());
        Some(VendorRecord {
            country_code: owned(row, "Country"),
            currency_code: company_row.and_then(|c| owned(c, "Currency")),
            active: company_row.is_some(),
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
