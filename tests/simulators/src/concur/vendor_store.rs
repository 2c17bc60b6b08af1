//! Invoice Vendor v3 records (reference-data.md §4): validation, writes and
//! search, without HTTP.
//!
//! A vendor is one remit address, keyed by the pair `VendorCode` +
//! `AddressCode`. Every value is a string, as the swagger declares them.
//! Matching and keys are case-sensitive **[docs silent; simulator choice]**.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Longest `VendorCode` accepted **[docs silent]**: the width of the vendor code column of the
/// Concur extracts the vendor later shows up in (extracts-and-payment-batches.md, PRA columns 164–166).
pub const MAX_VENDOR_CODE_CHARS: usize = 32;
/// Longest `AddressCode` accepted **[docs silent]**: FIS `vendorRemitToAddressCode` is ≤64.
pub const MAX_ADDRESS_CODE_CHARS: usize = 64;
/// Longest `VendorName` accepted **[docs silent]**: FIS `vendorName` is ≤255.
pub const MAX_VENDOR_NAME_CHARS: usize = 255;
/// Most records in one create/update call **[docs silent for vendors]**: the limit the
/// http-status-codes page states for Concur's other legacy batch services.
pub const MAX_VENDOR_BATCH: usize = 1000;
/// Largest `limit` of a search (documented).
pub const MAX_VENDOR_PAGE: usize = 1000;
/// `limit` when none is given (documented).
pub const DEFAULT_VENDOR_PAGE: usize = 25;

/// `StatusList.Code` values **[docs silent: the simulator's own]**.
pub mod status_code {
    /// The record was written.
    pub const SUCCESS: u32 = 0;
    /// `VendorCode` or `AddressCode` missing or empty.
    pub const REQUIRED_FIELD_MISSING: u32 = 1001;
    /// A value is longer than its limit.
    pub const VALUE_TOO_LONG: u32 = 1002;
    /// Create of a `VendorCode` + `AddressCode` that exists.
    pub const ALREADY_EXISTS: u32 = 1003;
    /// Update or delete of a `VendorCode` + `AddressCode` that does not exist.
    pub const NOT_FOUND: u32 = 1004;
    /// A value outside its documented set (`PaymentMethodType`, `PaymentTerms`).
    pub const INVALID_VALUE: u32 = 1005;
    /// A field the Vendor schema does not have.
    pub const UNKNOWN_FIELD: u32 = 1006;
    /// The record is not a JSON object, or a value is not a string.
    pub const WRONG_DATA_TYPE: u32 = 1007;
}

/// Vendor fields a caller may write (swagger `Vendor`, without `Custom1`–`Custom20`).
const WRITABLE_FIELDS: &[&str] = &[
    "AccountNumber",
    "Address1",
    "Address2",
    "Address3",
    "AddressCode",
    "AddressImportSyncID",
    "Approved",
    "City",
    "ContactEmail",
    "ContactFirstName",
    "ContactLastName",
    "ContactPhoneNumber",
    "Country",
    "CountryCode",
    "CurrencyCode",
    "DefaultEmployeeID",
    "DefaultExpenseTypeName",
    "DiscountPercentage",
    "DiscountTermsDays",
    "IsLineItemVatIncld",
    "IsVisibleForContentExtraction",
    "PaymentMethodType",
    "PaymentTerms",
    "PostalCode",
    "ProvincialTaxID",
    "PurchaseOrderContactEmail",
    "PurchaseOrderContactFirstName",
    "PurchaseOrderContactLastName",
    "PurchaseOrderContactPhoneNumber",
    "ShippingMethod",
    "ShippingTerms",
    "State",
    "TaxID",
    "TaxType",
    "VendorCode",
    "VendorFormName",
    "VendorName",
    "VoucherNotes",
];

/// Response-only fields a client may echo back; they are ignored on writes.
const READ_ONLY_FIELDS: &[&str] = &["ID", "URI", "StatusList", "VendorBankList", "VendorGroupList"];

const PAYMENT_METHOD_TYPES: &[&str] = &["ACH", "CARD", "CHECK", "CLIENT", "PAYPVD", "VCHER", "WIRE"];

/// The canonical name of a writable field (`Custom1`–`Custom20` included), matched exactly.
fn writable_field(name: &str) -> Option<String> {
    if WRITABLE_FIELDS.contains(&name) {
        return Some(name.to_owned());
    }
    let n: u8 = name.strip_prefix("Custom")?.parse().ok()?;
    // "Custom01" parses to 1 but is not a field name.
    (1..=20).contains(&n).then(|| format!("Custom{n}")).filter(|canonical| canonical == name)
}

/// The canonical name of a field, compared case-insensitively (for `sortBy`).
fn field_named(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    WRITABLE_FIELDS
        .iter()
        .find(|f| f.to_ascii_lowercase() == lower)
        .map(|f| (*f).to_owned())
        .or_else(|| (1..=20).map(|n| format!("Custom{n}")).find(|f| f.to_ascii_lowercase() == lower))
}

/// One vendor remit address as the simulated Concur holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorRecord {
    /// Concur's resource id (`ID`).
    pub id: String,
    /// Every field stored, by Vendor v3 name (`VendorCode` and `AddressCode` included).
    pub fields: BTreeMap<String, String>,
    /// When the record was created or last updated (not exposed by Vendor v3).
    pub modified_at: OffsetDateTime,
}

impl VendorRecord {
    /// A stored field, e.g. `field("PaymentTerms")`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// `VendorCode`.
    pub fn vendor_code(&self) -> &str {
        self.field("VendorCode").unwrap_or_default()
    }

    /// `AddressCode`.
    pub fn address_code(&self) -> &str {
        self.field("AddressCode").unwrap_or_default()
    }

    /// `VendorName`, if set.
    pub fn vendor_name(&self) -> Option<&str> {
        self.field("VendorName")
    }

    fn key(&self) -> VendorKey {
        (self.vendor_code().to_owned(), self.address_code().to_owned())
    }
}

/// Why one record of a batch (or a delete) was refused: its `StatusList` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordRefusal {
    pub code: u32,
    pub message: String,
}

fn refuse(code: u32, message: impl Into<String>) -> RecordRefusal {
    RecordRefusal { code, message: message.into() }
}

/// `VendorCode` + `AddressCode`.
pub(crate) type VendorKey = (String, String);

/// The non-null string fields of a submitted record, validated.
pub(crate) struct VendorInput {
    fields: BTreeMap<String, String>,
}

impl VendorInput {
    /// Checks one record of a create/update body.
    pub fn parse(record: &Value) -> Result<Self, RecordRefusal> {
        let Value::Object(object) = record else {
            return Err(refuse(status_code::WRONG_DATA_TYPE, "The vendor record must be a JSON object"));
        };
        let fields = string_fields(object)?;
        for required in ["VendorCode", "AddressCode"] {
            if fields.get(required).is_none_or(|v| v.trim().is_empty()) {
                return Err(refuse(status_code::REQUIRED_FIELD_MISSING, format!("{required} is required")));
            }
        }
        check_lengths(&fields)?;
        check_values(&fields)?;
        Ok(Self { fields })
    }

    pub fn key(&self) -> VendorKey {
        let get = |f: &str| self.fields.get(f).cloned().unwrap_or_default();
        (get("VendorCode"), get("AddressCode"))
    }
}

fn string_fields(object: &Map<String, Value>) -> Result<BTreeMap<String, String>, RecordRefusal> {
    let mut fields = BTreeMap::new();
    for (name, value) in object {
        if READ_ONLY_FIELDS.contains(&name.as_str()) {
            continue;
        }
        let Some(field) = writable_field(name) else {
            return Err(refuse(status_code::UNKNOWN_FIELD, format!("{name} is not a field of the Vendor resource")));
        };
        match value {
            Value::Null => {}
            Value::String(text) => {
                fields.insert(field, text.clone());
            }
            // The swagger declares every vendor field a string; a strict client sends strings.
            _ => return Err(refuse(status_code::WRONG_DATA_TYPE, format!("{name} must be a string"))),
        }
    }
    Ok(fields)
}

fn check_lengths(fields: &BTreeMap<String, String>) -> Result<(), RecordRefusal> {
    for (field, max) in [
        ("VendorCode", MAX_VENDOR_CODE_CHARS),
        ("AddressCode", MAX_ADDRESS_CODE_CHARS),
        ("VendorName", MAX_VENDOR_NAME_CHARS),
    ] {
        if fields.get(field).is_some_and(|v| v.chars().count() > max) {
            return Err(refuse(status_code::VALUE_TOO_LONG, format!("{field} exceeds the maximum length of {max}")));
        }
    }
    Ok(())
}

fn check_values(fields: &BTreeMap<String, String>) -> Result<(), RecordRefusal> {
    if let Some(method) = fields.get("PaymentMethodType").filter(|m| !m.is_empty())
        && !PAYMENT_METHOD_TYPES.contains(&method.as_str())
    {
        return Err(refuse(
            status_code::INVALID_VALUE,
            format!("PaymentMethodType `{method}` is not one of {}", PAYMENT_METHOD_TYPES.join(", ")),
        ));
    }
    if let Some(terms) = fields.get("PaymentTerms").filter(|t| !t.is_empty())
        && !terms.parse::<u16>().is_ok_and(|days| (1..=999).contains(&days))
    {
        return Err(refuse(status_code::INVALID_VALUE, format!("PaymentTerms `{terms}` must be 1 to 999 days")));
    }
    Ok(())
}

/// The vendors of one company.
#[derive(Debug, Default)]
pub(crate) struct VendorBook {
    records: BTreeMap<VendorKey, VendorRecord>,
}

impl VendorBook {
    pub fn all(&self) -> impl Iterator<Item = &VendorRecord> {
        self.records.values()
    }

    pub fn get(&self, vendor_code: &str, address_code: &str) -> Option<&VendorRecord> {
        self.records.get(&(vendor_code.to_owned(), address_code.to_owned()))
    }

    pub fn get_mut(&mut self, vendor_code: &str, address_code: &str) -> Option<&mut VendorRecord> {
        self.records.get_mut(&(vendor_code.to_owned(), address_code.to_owned()))
    }

    pub fn create(&mut self, input: VendorInput) -> Result<&VendorRecord, RecordRefusal> {
        let key = input.key();
        if self.records.contains_key(&key) {
            return Err(refuse(
                status_code::ALREADY_EXISTS,
                format!("Vendor with VendorCode {} and AddressCode {} already exists", key.0, key.1),
            ));
        }
        let record = VendorRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            fields: input.fields,
            modified_at: OffsetDateTime::now_utc(),
        };
        Ok(self.records.entry(record.key()).or_insert(record))
    }

    /// Overwrites the fields the input carries; absent or null fields keep their value
    /// **[docs silent: simulator choice]**; an empty string clears a field.
    pub fn update(&mut self, input: VendorInput) -> Result<&VendorRecord, RecordRefusal> {
        let key = input.key();
        let Some(record) = self.records.get_mut(&key) else {
            return Err(not_found(&key.0, &key.1));
        };
        for (field, value) in input.fields {
            if value.is_empty() {
                record.fields.remove(&field);
            } else {
                record.fields.insert(field, value);
            }
        }
        // Clearing never removes the key fields: they were validated non-empty.
        record.modified_at = OffsetDateTime::now_utc();
        Ok(record)
    }

    pub fn delete(&mut self, vendor_code: &str, address_code: &str) -> Result<VendorRecord, RecordRefusal> {
        self.records
            .remove(&(vendor_code.to_owned(), address_code.to_owned()))
            .ok_or_else(|| not_found(vendor_code, address_code))
    }
}

fn not_found(vendor_code: &str, address_code: &str) -> RecordRefusal {
    refuse(
        status_code::NOT_FOUND,
        format!("Vendor with VendorCode {vendor_code} and AddressCode {address_code} does not exist"),
    )
}

// ------------------------------------------------------------------ search

/// `searchType`: how every search parameter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchType {
    Exact,
    Begins,
    Contains,
    Ends,
}

impl SearchType {
    fn parse(value: &str) -> Result<Self, String> {
        match value.to_ascii_lowercase().as_str() {
            "exact" => Ok(Self::Exact),
            "begins" => Ok(Self::Begins),
            "contains" => Ok(Self::Contains),
            "ends" => Ok(Self::Ends),
            _ => Err(format!("searchType must be exact, begins, contains or ends, got `{value}`")),
        }
    }

    fn matches(self, candidate: &str, wanted: &str) -> bool {
        match self {
            Self::Exact => candidate == wanted,
            Self::Begins => candidate.starts_with(wanted),
            Self::Contains => candidate.contains(wanted),
            Self::Ends => candidate.ends_with(wanted),
        }
    }
}

/// Search parameters (lower-cased, as .NET binds them case-insensitively) and their fields.
const SEARCH_PARAMETERS: &[(&str, &str)] = &[
    ("vendorcode", "VendorCode"),
    ("vendorname", "VendorName"),
    ("taxid", "TaxID"),
    ("buyeraccountnumber", "AccountNumber"),
    ("paymentmethodtype", "PaymentMethodType"),
    ("addresscode", "AddressCode"),
    ("address1", "Address1"),
    ("address2", "Address2"),
    ("address3", "Address3"),
    ("city", "City"),
    ("state", "State"),
    ("postalcode", "PostalCode"),
    ("approved", "Approved"),
    ("country", "Country"),
];

fn search_field(parameter: &str) -> Option<String> {
    if let Some((_, field)) = SEARCH_PARAMETERS.iter().find(|(p, _)| *p == parameter) {
        return Some((*field).to_owned());
    }
    let n: u8 = parameter.strip_prefix("custom")?.parse().ok()?;
    (1..=20).contains(&n).then(|| format!("Custom{n}")).filter(|f| f.to_ascii_lowercase() == parameter)
}

/// A validated `GET /api/v3.0/invoice/vendors` query.
#[derive(Debug)]
pub(crate) struct VendorSearch {
    pub limit: usize,
    /// Position of the first record of this page.
    pub start: usize,
    sort_by: String,
    descending: bool,
    search_type: SearchType,
    filters: Vec<(String, String)>,
    /// The query pairs other than `offset`, to build `NextPage` from.
    pub kept: Vec<(String, String)>,
}

impl VendorSearch {
    /// Parses the query. Parameter names match case-insensitively; the first
    /// occurrence wins. Unknown parameters are refused **[simulator strictness]**:
    /// a misspelt filter would otherwise silently list every vendor.
    pub fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut search = VendorSearch {
            limit: DEFAULT_VENDOR_PAGE,
            start: 0,
            sort_by: "VendorName".into(),
            descending: false,
            search_type: SearchType::Exact,
            filters: Vec::new(),
            kept: Vec::new(),
        };
        let mut seen: Vec<String> = Vec::new();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let name = key.to_ascii_lowercase();
            if seen.contains(&name) {
                continue;
            }
            seen.push(name.clone());
            search.apply(&name, &key, &value)?;
            if name != "offset" {
                search.kept.push((key.into_owned(), value.into_owned()));
            }
        }
        Ok(search)
    }

    fn apply(&mut self, name: &str, key: &str, value: &str) -> Result<(), String> {
        match name {
            "limit" => self.limit = parse_limit(value)?,
            "offset" => self.start = decode_offset(value)?,
            "sortby" => {
                self.sort_by = field_named(value).ok_or_else(|| format!("sortBy `{value}` is not a vendor field"))?
            }
            "sortdirection" => self.descending = parse_direction(value)?,
            "searchtype" => self.search_type = SearchType::parse(value)?,
            _ => match search_field(name) {
                Some(field) => self.filters.push((field, value.to_owned())),
                None => return Err(format!("`{key}` is not a parameter of the vendor search")),
            },
        }
        Ok(())
    }

    fn matches(&self, record: &VendorRecord) -> bool {
        self.filters
            .iter()
            .all(|(field, wanted)| self.search_type.matches(record.field(field).unwrap_or_default(), wanted))
    }

    /// Every matching record in the requested order.
    pub fn run<'a>(&self, book: &'a VendorBook) -> Vec<&'a VendorRecord> {
        let mut found: Vec<&VendorRecord> = book.all().filter(|r| self.matches(r)).collect();
        // Ties on the sort field fall back to the key, so pages never overlap.
        found.sort_by(|a, b| {
            let by_field = a.field(&self.sort_by).unwrap_or_default().cmp(b.field(&self.sort_by).unwrap_or_default());
            by_field.then_with(|| a.key().cmp(&b.key()))
        });
        if self.descending {
            found.reverse();
        }
        found
    }
}

fn parse_limit(value: &str) -> Result<usize, String> {
    let limit: i64 = value.parse().map_err(|_| format!("limit `{value}` is not an integer"))?;
    match usize::try_from(limit) {
        Ok(limit) if (1..=MAX_VENDOR_PAGE).contains(&limit) => Ok(limit),
        _ => Err(format!("limit must be between 1 and {MAX_VENDOR_PAGE}, got {limit}")),
    }
}

fn parse_direction(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "ascending" => Ok(false),
        "descending" => Ok(true),
        _ => Err(format!("sortDirection must be ascending or descending, got `{value}`")),
    }
}

/// Offsets are opaque to clients: they must follow `NextPage`, not compute one.
pub(crate) fn encode_offset(position: usize) -> String {
    format!("vo{:x}", position ^ OFFSET_MASK)
}

const OFFSET_MASK: usize = 0x5a5a_5a5a;

fn decode_offset(value: &str) -> Result<usize, String> {
    value
        .strip_prefix("vo")
        .and_then(|hex| usize::from_str_radix(hex, 16).ok())
        .map(|n| n ^ OFFSET_MASK)
        .ok_or_else(|| format!("offset `{value}` was not issued by this service"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn book_with(codes: &[(&str, &str, &str)]) -> VendorBook {
        let mut book = VendorBook::default();
        for (code, address, name) in codes {
            let input = VendorInput::parse(&json!({"VendorCode": code, "AddressCode": address, "VendorName": name}));
            book.create(input.expect("valid")).expect("created");
        }
        book
    }

    #[test]
    fn records_are_refused_for_missing_keys_lengths_types_and_unknown_fields() {
        let code = |v: Value| VendorInput::parse(&v).err().map(|r| r.code);
        assert_eq!(code(json!({"VendorCode": "V1", "AddressCode": "A"})), None);
        assert_eq!(code(json!({"VendorCode": "V1"})), Some(status_code::REQUIRED_FIELD_MISSING));
        assert_eq!(code(json!({"VendorCode": " ", "AddressCode": "A"})), Some(status_code::REQUIRED_FIELD_MISSING));
        let long = "X".repeat(MAX_VENDOR_CODE_CHARS + 1);
        assert_eq!(code(json!({"VendorCode": long, "AddressCode": "A"})), Some(status_code::VALUE_TOO_LONG));
        assert_eq!(
            code(json!({"VendorCode": "V", "AddressCode": "A", "Colour": "red"})),
            Some(status_code::UNKNOWN_FIELD)
        );
        assert_eq!(
            code(json!({"VendorCode": "V", "AddressCode": "A", "PaymentTerms": 30})),
            Some(status_code::WRONG_DATA_TYPE)
        );
        assert_eq!(
            code(json!({"VendorCode": "V", "AddressCode": "A", "PaymentTerms": "0"})),
            Some(status_code::INVALID_VALUE)
        );
        assert_eq!(code(json!({"VendorCode": "V", "AddressCode": "A", "Custom20": "x", "ID": "echo"})), None);
        assert_eq!(
            code(json!({"VendorCode": "V", "AddressCode": "A", "Custom21": "x"})),
            Some(status_code::UNKNOWN_FIELD)
        );
        assert_eq!(code(json!(["not", "an", "object"])), Some(status_code::WRONG_DATA_TYPE));
    }

    #[test]
    fn search_matches_by_search_type_and_sorts_by_name_then_key() {
        let book = book_with(&[("V2", "MAIN", "Beta"), ("V1", "MAIN", "Alpha"), ("V1", "REMIT", "Alpha")]);
        let keys = |query: &str| -> Vec<String> {
            let search = VendorSearch::parse(Some(query)).expect("valid query");
            search.run(&book).iter().map(|r| format!("{}/{}", r.vendor_code(), r.address_code())).collect()
        };
        assert_eq!(keys(""), ["V1/MAIN", "V1/REMIT", "V2/MAIN"]);
        assert_eq!(keys("vendorCode=V1"), ["V1/MAIN", "V1/REMIT"]);
        assert_eq!(keys("VENDORCODE=V1&addressCode=REM&searchType=begins"), ["V1/REMIT"]);
        assert_eq!(keys("vendorName=et&searchType=contains"), ["V2/MAIN"]);
        assert_eq!(keys("sortBy=vendorcode&sortDirection=descending"), ["V2/MAIN", "V1/REMIT", "V1/MAIN"]);
        assert!(VendorSearch::parse(Some("vendorcod=V1")).is_err());
        assert!(VendorSearch::parse(Some("limit=1001")).is_err());
        assert!(VendorSearch::parse(Some("offset=25")).is_err());
    }

    #[test]
    fn offsets_round_trip_and_are_not_plain_numbers() {
        for position in [0, 1, 25, 999_999] {
            let offset = encode_offset(position);
            assert!(offset.parse::<usize>().is_err());
            assert_eq!(decode_offset(&offset), Ok(position));
        }
    }
}
