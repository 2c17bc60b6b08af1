//! The FI documents as typed structs: only the members the normalizer reads,
//! borrowed from the input (JSON text or a parsed `Value`); everything else
//! is skipped.
//!
//! Objects and arrays are checked while parsing: a member that should be an
//! object or an array and is not refuses the document with its JSON path
//! (from `serde_path_to_error`). Scalars stay as Concur sent them ([`Raw`])
//! and are checked when read (see [`super::json`]).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, SeqAccessDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};
use serde_json::Value;
use serde_path_to_error::Segment;

use super::Problem;
use super::json::{NUMBER_TOKEN, Raw, Scalar};

/// What a refusal says a member should be when it is not an object / an array.
const OBJECT: &str = "a JSON object";
const ARRAY: &str = "a JSON array";

/// A document read into the typed structs of its type.
pub(crate) enum Typed<'a> {
    Expense(ExpenseDocument<'a>),
    CashAdvance(CashAdvanceDocument<'a>),
    Invoice(InvoiceDocument<'a>),
}

/// Parses `json` (the FI document or a part of it at `path`) as `T`.
///
/// Tracking the path costs an allocation per member, so it is done only to
/// explain a failure, on a second parse.
pub(crate) fn parse<'a, T: Deserialize<'a>>(json: &'a str, path: &str) -> Result<T, Problem> {
    match serde_json::from_str(json) {
        Ok(parsed) => Ok(parsed),
        Err(_) => parse_tracking_path(json, path),
    }
}

/// [`parse`] for a document already read as a JSON value (its strings are
/// borrowed from the value).
pub(crate) fn parse_value<'a, T: Deserialize<'a>>(value: &'a Value, path: &str) -> Result<T, Problem> {
    match T::deserialize(value) {
        Ok(parsed) => Ok(parsed),
        Err(_) => serde_path_to_error::deserialize(value).map_err(|e| shape_problem(path, &e)),
    }
}

fn parse_tracking_path<'a, T: Deserialize<'a>>(json: &'a str, path: &str) -> Result<T, Problem> {
    let mut de = serde_json::Deserializer::from_str(json);
    let parsed = serde_path_to_error::deserialize(&mut de).map_err(|e| shape_problem(path, &e))?;
    de.end().map_err(|e| Problem::invalid(path, "JSON", &e.to_string()))?;
    Ok(parsed)
}

/// The refusal for a parse failure: the member's path and what it should be.
fn shape_problem(prefix: &str, error: &serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let mut path = prefix.to_owned();
    for segment in error.path().iter() {
        match segment {
            Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            Segment::Map { key } => path.push_str(&format!(".{key}")),
            Segment::Enum { variant } => path.push_str(&format!(".{variant}")),
            Segment::Unknown => path.push_str(".?"),
        }
    }
    let inner = error.inner();
    if inner.classify() == serde_json::error::Category::Data {
        // serde_json words a type error "invalid type: <found>, expected <what>".
        let message = inner.to_string();
        let found = message.strip_prefix("invalid type: ").and_then(|m| m.split_once(", expected "));
        for expected in [OBJECT, ARRAY] {
            if let Some((found, rest)) = found
                && rest.starts_with(expected)
            {
                return Problem::invalid(&path, expected, found);
            }
        }
    }
    Problem::invalid(&path, "JSON", &inner.to_string())
}

/// An array member; absent or `null` reads as empty (`Option<List<T>>`).
pub(crate) struct List<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Items<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Items<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(ARRAY)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(List(items))
            }
        }
        deserializer.deserialize_seq(Items(PhantomData))
    }
}

/// The elements of an optional array member.
pub(crate) fn items<T>(list: &Option<List<T>>) -> &[T] {
    list.as_ref().map_or(&[], |l| l.0.as_slice())
}

/// Numbered custom fields `{prefix}{n}Code` / `{prefix}{n}Value`, n = 1..=N.
pub(crate) struct Numbered<'a, const N: usize> {
    pub prefix: &'static str,
    /// `{prefix}{n}` at index n − 1: a cost object names its field with
    /// these, without allocating.
    pub names: &'static [&'static str; N],
    /// `(code, value)` of field n at index n − 1. Boxed: an entry holds 46
    /// of them, and entries are moved as they are read.
    pub fields: Box<[(Raw<'a>, Raw<'a>); N]>,
}

/// `[concat!(prefix, 1), …]`: the names of numbered fields.
macro_rules! numbered_names {
    ($prefix:literal: $($n:literal)*) => { [$(concat!($prefix, $n)),*] };
}

pub(crate) const ALLOCATION_CUSTOM: [&str; 20] =
    numbered_names!("allocationCustom": 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20);
pub(crate) const ENTRY_ORG_UNIT: [&str; 6] = numbered_names!("entryOrgUnit": 1 2 3 4 5 6);
pub(crate) const ENTRY_CUSTOM: [&str; 40] = numbered_names!("entryCustom": 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17
    18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40);

impl Numbered<'_, 20> {
    /// `allocationCustom1..20` (expense and invoice allocations).
    fn allocation_custom() -> Self {
        Self::new("allocationCustom", &ALLOCATION_CUSTOM)
    }
}

impl<'a, const N: usize> Numbered<'a, N> {
    fn new(prefix: &'static str, names: &'static [&'static str; N]) -> Self {
        Self { prefix, names, fields: Box::new(std::array::from_fn(|_| (None, None))) }
    }

    /// Reads member `key` when it is one of these fields.
    fn read<'de: 'a, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match self.slot(key) {
            Some(slot) => {
                *slot = map.next_value()?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The slot of `key` when it is one of these fields.
    fn slot(&mut self, key: &str) -> Option<&mut Raw<'a>> {
        let rest = key.strip_prefix(self.prefix)?;
        let (n, code) = match rest.strip_suffix("Code") {
            Some(n) => (n, true),
            None => (rest.strip_suffix("Value")?, false),
        };
        // Plain digits only: `+1` or `01` are other fields.
        if n.starts_with(['0', '+']) {
            return None;
        }
        let n: usize = n.parse().ok()?;
        let (code_raw, value_raw) = self.fields.get_mut(n.checked_sub(1)?)?;
        Some(if code { code_raw } else { value_raw })
    }
}

/// A member name, borrowed from the input unless it holds an escape (also
/// what `concur::fi` reads the FI page's members with).
pub struct Key<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Hand-read object types (those with numbered custom fields, which a
/// derived struct would need a field each for).
trait ReadObject<'de>: Sized {
    /// The object with none of its members read.
    fn empty() -> Self;
    /// Reads member `key` when it is one of this type's; `false` skips it.
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

/// Reads a hand-read object. A repeated member keeps its last value, as a
/// JSON object read into a map does.
struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: ReadObject<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(OBJECT)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut object = T::empty();
        while let Some(Key(key)) = map.next_key()? {
            if !object.member(&key, &mut map)? {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(object)
    }
}

/// A struct of the members named, each read when present (the others are
/// skipped), as a hand-read object: only a JSON object is one.
macro_rules! object {
    ($(#[$doc:meta])* $name:ident<$lt:lifetime> { $($field:ident: $ty:ty = $key:literal,)* }) => {
        $(#[$doc])*
        #[derive(Default)]
        pub(crate) struct $name<$lt> {
            $(pub $field: $ty,)*
        }

        impl<'de: $lt, $lt> ReadObject<'de> for $name<$lt> {
            fn empty() -> Self {
                Self::default()
            }

            fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
                match key {
                    $($key => self.$field = map.next_value()?,)*
                    _ => return Ok(false),
                }
                Ok(true)
            }
        }

        hand_read!($name);
    };
}

macro_rules! hand_read {
    ($t:ident) => {
        impl<'de: 'a, 'a> Deserialize<'de> for $t<'a> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_map(ObjectVisitor::<$t<'a>>(PhantomData))
            }
        }
    };
}

// ---------------------------------------------------------------- expense

object! {
    /// `docType=expense` (financial-integration-v4.md §8.1).
    ExpenseDocument<'a> {
        report: Option<Report<'a>> = "report",
        employee: Option<Employee<'a>> = "employee",
        expense_entry: Option<List<Entry<'a>>> = "expenseEntry",
        cash_advance_application: Option<List<Application<'a>>> = "cashAdvanceApplication",
    }
}

object! {
    Report<'a> {
        report_id: Raw<'a> = "reportId",
        revision_number: Raw<'a> = "revisionNumber",
        report_name: Raw<'a> = "reportName",
        employee_currency_alpha_code: Raw<'a> = "employeeCurrencyAlphaCode",
        ledger_code: Raw<'a> = "ledgerCode",
        cash_advance_returns_amount: Raw<'a> = "cashAdvanceReturnsAmount",
        total_approved_amount: Raw<'a> = "totalApprovedAmount",
    }
}

object! {
    /// `employee` (expense), `employeeData` (cash advance), `ownerEmployee` (invoice).
    Employee<'a> {
        employee_id: Raw<'a> = "employeeId",
    }
}

/// `expenseEntry[]`.
pub(crate) struct Entry<'a> {
    pub entry_id: Raw<'a>,
    pub expense_type_code: Raw<'a>,
    pub expense_type_name: Raw<'a>,
    pub entry_description: Raw<'a>,
    pub clearing_account_code: Raw<'a>,
    pub entry_is_personal: Raw<'a>,
    pub entry_approved_amount: Raw<'a>,
    pub allocation: Option<List<Allocation<'a>>>,
    pub org_units: Numbered<'a, 6>,
    pub custom: Numbered<'a, 40>,
}

impl<'de: 'a, 'a> ReadObject<'de> for Entry<'a> {
    fn empty() -> Self {
        Entry {
            entry_id: None,
            expense_type_code: None,
            expense_type_name: None,
            entry_description: None,
            clearing_account_code: None,
            entry_is_personal: None,
            entry_approved_amount: None,
            allocation: None,
            org_units: Numbered::new("entryOrgUnit", &ENTRY_ORG_UNIT),
            custom: Numbered::new("entryCustom", &ENTRY_CUSTOM),
        }
    }

    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        // Most of an entry's members are its custom fields: looked at first.
        if self.custom.read(key, map)? || self.org_units.read(key, map)? {
            return Ok(true);
        }
        match key {
            "entryId" => self.entry_id = map.next_value()?,
            "expenseTypeCode" => self.expense_type_code = map.next_value()?,
            "expenseTypeName" => self.expense_type_name = map.next_value()?,
            "entryDescription" => self.entry_description = map.next_value()?,
            "clearingAccountCode" => self.clearing_account_code = map.next_value()?,
            "entryIsPersonal" => self.entry_is_personal = map.next_value()?,
            "entryApprovedAmount" => self.entry_approved_amount = map.next_value()?,
            "allocation" => self.allocation = map.next_value()?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}
hand_read!(Entry);

/// `expenseEntry[].allocation[]`.
pub(crate) struct Allocation<'a> {
    pub allocation_id: Raw<'a>,
    pub journal: Option<List<Journal<'a>>>,
    pub tax: Option<List<Tax<'a>>>,
    pub custom: Numbered<'a, 20>,
}

impl<'de: 'a, 'a> ReadObject<'de> for Allocation<'a> {
    fn empty() -> Self {
        Allocation { allocation_id: None, journal: None, tax: None, custom: Numbered::allocation_custom() }
    }

    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "allocationId" => self.allocation_id = map.next_value()?,
            "journal" => self.journal = map.next_value()?,
            "tax" => self.tax = map.next_value()?,
            _ => return self.custom.read(key, map),
        }
        Ok(true)
    }
}
hand_read!(Allocation);

object! {
    /// `expenseEntry[].allocation[].journal[]`.
    Journal<'a> {
        journal_account_code: Raw<'a> = "journalAccountCode",
        journal_payer: Raw<'a> = "journalPayer",
        journal_payee: Raw<'a> = "journalPayee",
        amount_gross: Raw<'a> = "amountGross",
        amount_net_of_tax: Raw<'a> = "amountNetOfTax",
        tax_guid: Option<TaxGuids<'a>> = "taxGuid",
    }
}

object! {
    /// `expenseEntry[].allocation[].tax[]`.
    Tax<'a> {
        tax_guid: Raw<'a> = "taxGuid",
        amount_tax: Raw<'a> = "amountTax",
        amount_reclaim: Raw<'a> = "amountReclaim",
        tax_authority_label: Raw<'a> = "taxAuthorityLabel",
        tax_code: Raw<'a> = "taxCode",
        tax_reclaim_code: Raw<'a> = "taxReclaimCode",
        location_country_code: Raw<'a> = "locationCountryCode",
    }
}

object! {
    /// `cashAdvanceApplication[]`.
    Application<'a> {
        cash_advance_application_amount: Raw<'a> = "cashAdvanceApplicationAmount",
        cash_advance_clearing_account_code: Raw<'a> = "cashAdvanceClearingAccountCode",
        cash_advance_id: Raw<'a> = "cashAdvanceId",
    }
}

// ----------------------------------------------------------- cash advance

object! {
    /// `docType=cashadvance` (financial-integration-v4.md §8.3).
    CashAdvanceDocument<'a> {
        cash_advance_data: Option<AdvanceData<'a>> = "cashAdvanceData",
        employee_data: Option<Employee<'a>> = "employeeData",
        journal_data: Option<List<AdvanceJournal<'a>>> = "journalData",
    }
}

object! {
    AdvanceData<'a> {
        cash_advance_id: Raw<'a> = "cashAdvanceId",
        name: Raw<'a> = "name",
        employee_currency_alpha_code: Raw<'a> = "employeeCurrencyAlphaCode",
        currency_alpha_code: Raw<'a> = "currencyAlphaCode",
        request_amount: Raw<'a> = "requestAmount",
        exchange_rate: Raw<'a> = "exchangeRate",
    }
}

object! {
    /// `journalData[]`.
    AdvanceJournal<'a> {
        amount: Raw<'a> = "amount",
        debit_or_credit: Raw<'a> = "debitOrCredit",
        account_code: Raw<'a> = "accountCode",
        payer: Raw<'a> = "payer",
        payee: Raw<'a> = "payee",
        payment_code: Raw<'a> = "paymentCode",
    }
}

// ---------------------------------------------------------------- invoice

object! {
    /// `docType=invoice` (financial-integration-v4.md §8.2). `allocation`,
    /// `journal` and `tax` may be one object or an array ([`OneOrMany`]).
    InvoiceDocument<'a> {
        request_header: Option<RequestHeader<'a>> = "requestHeader",
        vendor: Option<Vendor<'a>> = "vendor",
        owner_employee: Option<Employee<'a>> = "ownerEmployee",
        line_item: Option<List<LineItem<'a>>> = "lineItem",
    }
}

object! {
    RequestHeader<'a> {
        request_id: Raw<'a> = "requestId",
        revision_number: Raw<'a> = "revisionNumber",
        request_title: Raw<'a> = "requestTitle",
        currency_alpha_code: Raw<'a> = "currencyAlphaCode",
        ledger_code: Raw<'a> = "ledgerCode",
        request_total: Raw<'a> = "requestTotal",
    }
}

object! {
    Vendor<'a> {
        vendor_code: Raw<'a> = "vendorCode",
        vendor_remit_to_address_code: Raw<'a> = "vendorRemitToAddressCode",
    }
}

object! {
    /// `lineItem[]`.
    LineItem<'a> {
        line_item_sequence_order: Raw<'a> = "lineItemSequenceOrder",
        expense_type_code: Raw<'a> = "expenseTypeCode",
        expense_type_name: Raw<'a> = "expenseTypeName",
        line_item_description: Raw<'a> = "lineItemDescription",
        line_item_purchase_order_number: Raw<'a> = "lineItemPurchaseOrderNumber",
        allocation: OneOrMany<InvoiceAllocation<'a>> = "allocation",
    }
}

/// `lineItem[].allocation`.
pub(crate) struct InvoiceAllocation<'a> {
    pub allocation_key: Raw<'a>,
    pub allocation_account_code: Raw<'a>,
    pub journal: OneOrMany<InvoiceJournal<'a>>,
    pub custom: Numbered<'a, 20>,
}

impl<'de: 'a, 'a> ReadObject<'de> for InvoiceAllocation<'a> {
    fn empty() -> Self {
        InvoiceAllocation {
            allocation_key: None,
            allocation_account_code: None,
            journal: OneOrMany::default(),
            custom: Numbered::allocation_custom(),
        }
    }

    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "allocationKey" => self.allocation_key = map.next_value()?,
            "allocationAccountCode" => self.allocation_account_code = map.next_value()?,
            "journal" => self.journal = map.next_value()?,
            _ => return self.custom.read(key, map),
        }
        Ok(true)
    }
}
hand_read!(InvoiceAllocation);

object! {
    /// `lineItem[].allocation.journal`.
    InvoiceJournal<'a> {
        account_code: Raw<'a> = "accountCode",
        amount_gross: Raw<'a> = "amountGross",
        amount_net: Raw<'a> = "amountNet",
        amount_shipping: Raw<'a> = "amountShipping",
        tax: OneOrMany<InvoiceTax<'a>> = "tax",
    }
}

object! {
    /// `lineItem[].allocation.journal.tax`.
    InvoiceTax<'a> {
        amount_tax: Raw<'a> = "amountTax",
        tax_field: Raw<'a> = "taxField",
        tax_code: Raw<'a> = "taxCode",
    }
}

/// A member that is one object or an array of them (invoice `allocation`,
/// `journal`, `tax`: objects in Concur's sample); `null` or absent: none.
pub(crate) struct OneOrMany<T> {
    pub items: Vec<T>,
    /// Sent as one object, not an array: its path has no index.
    pub one_object: bool,
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        Self { items: Vec::new(), one_object: false }
    }
}

impl<T> OneOrMany<T> {
    fn one(item: T) -> Self {
        Self { items: vec![item], one_object: true }
    }

    /// The path of element `i` under `parent`'s member `key`: `key` for one
    /// object, `key[i]` in an array.
    pub fn path(&self, parent: &str, key: &str, i: usize) -> String {
        if self.one_object { format!("{parent}.{key}") } else { format!("{parent}.{key}[{i}]") }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Either<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(ARRAY)
            }
            fn visit_unit<E>(self) -> Result<OneOrMany<T>, E> {
                Ok(OneOrMany::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<OneOrMany<T>, A::Error> {
                let List(items) = List::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(OneOrMany { items, one_object: false })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OneOrMany<T>, A::Error> {
                let Some(Key(first)) = map.next_key()? else {
                    return T::deserialize(MapAccessDeserializer::new(map)).map(OneOrMany::one);
                };
                if first == NUMBER_TOKEN {
                    let number: String = map.next_value()?;
                    return Err(de::Error::invalid_type(Unexpected::Other(&number), &self));
                }
                let replayed = Replay { first: Some(first), map };
                T::deserialize(MapAccessDeserializer::new(replayed)).map(OneOrMany::one)
            }
        }
        deserializer.deserialize_any(Either(PhantomData))
    }
}

/// A map whose first member name was already read to look at it: it is
/// handed out again before the rest.
struct Replay<'de, A> {
    first: Option<Cow<'de, str>>,
    map: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(Cow::Borrowed(key)) => seed.deserialize(BorrowedStrDeserializer::new(key)).map(Some),
            Some(Cow::Owned(key)) => seed.deserialize(StringDeserializer::new(key)).map(Some),
            None => self.map.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// `journal.taxGuid`: an array of strings (data), a single string (schema),
/// or null; anything else is kept to be refused when read.
pub(crate) enum TaxGuids<'a> {
    One(Scalar<'a>),
    Many(Vec<Option<Scalar<'a>>>),
    NotArray(Scalar<'a>),
}

impl<'de: 'a, 'a> Deserialize<'de> for TaxGuids<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A scalar or an array of scalars: read as one, then sorted out.
        struct Guids<'a>(PhantomData<TaxGuids<'a>>);
        impl<'de: 'a, 'a> Visitor<'de> for Guids<'a> {
            type Value = TaxGuids<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a taxGuid string or an array of them")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TaxGuids<'a>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(TaxGuids::Many(items))
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<TaxGuids<'a>, E> {
                Ok(TaxGuids::One(Scalar::Text(Cow::Borrowed(text))))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<TaxGuids<'a>, E> {
                Ok(TaxGuids::One(Scalar::Text(Cow::Owned(text.to_owned()))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<TaxGuids<'a>, E> {
                Ok(TaxGuids::Many(Vec::new()))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<TaxGuids<'a>, E> {
                Ok(TaxGuids::NotArray(Scalar::Other(b.to_string())))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<TaxGuids<'a>, E> {
                Ok(TaxGuids::NotArray(Scalar::Number(Cow::Owned(n.to_string()))))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<TaxGuids<'a>, E> {
                Ok(TaxGuids::NotArray(Scalar::Number(Cow::Owned(n.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<TaxGuids<'a>, E> {
                Ok(TaxGuids::NotArray(Scalar::Number(Cow::Owned(n.to_string()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TaxGuids<'a>, A::Error> {
                // A number (arbitrary_precision) or an object.
                Scalar::deserialize(MapAccessDeserializer::new(map)).map(TaxGuids::NotArray)
            }
        }
        deserializer.deserialize_any(Guids(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::DOCUMENT_PATH;

    #[test]
    fn numbered_fields_take_plain_numbers_in_range_only() {
        let mut fields = Numbered::<'_, 20>::new("allocationCustom", &ALLOCATION_CUSTOM);
        assert!(fields.slot("allocationCustom1Code").is_some());
        assert!(fields.slot("allocationCustom20Value").is_some());
        for other in [
            "allocationCustom0Code",
            "allocationCustom21Code",
            "allocationCustom01Code",
            "allocationCustom1",
            "allocationCustom+1Code",
            "allocationCustomCode",
        ] {
            assert!(fields.slot(other).is_none(), "{other}");
        }
    }

    #[test]
    fn numbered_names_are_prefix_and_number() {
        let tables: [(&str, &[&str]); 3] = [
            ("allocationCustom", &ALLOCATION_CUSTOM),
            ("entryOrgUnit", &ENTRY_ORG_UNIT),
            ("entryCustom", &ENTRY_CUSTOM),
        ];
        for (prefix, names) in tables {
            for (i, name) in names.iter().enumerate() {
                assert_eq!(*name, format!("{prefix}{}", i + 1));
            }
        }
    }

    #[test]
    fn shapes_are_refused_with_their_path() {
        let refused = parse::<ExpenseDocument<'_>>(r#"{"expenseEntry": [{"allocation": {"a": 1}}]}"#, DOCUMENT_PATH)
            .err()
            .expect("an object where an array belongs");
        assert_eq!(refused.path(), Some("document.expenseEntry[0].allocation"));
        assert!(refused.to_string().contains("should be a JSON array"), "{refused}");
        let refused = parse::<ExpenseDocument<'_>>(r#"{"report": 5}"#, DOCUMENT_PATH).err().expect("a number");
        assert!(refused.to_string().contains("document.report should be a JSON object"), "{refused}");
        // serde reads a derived struct from an array too; an FI object never is one.
        for (json, path) in [("[]", "document"), (r#"{"report": [1, 2]}"#, "document.report")] {
            let refused = parse::<ExpenseDocument<'_>>(json, DOCUMENT_PATH).err().expect("an array");
            assert_eq!(refused.path(), Some(path));
            assert!(refused.to_string().contains("should be a JSON object"), "{refused}");
        }
    }

    #[test]
    fn one_object_is_named_without_an_index_and_an_array_element_with_one() {
        let one: InvoiceDocument<'_> =
            parse(r#"{"lineItem": [{"allocation": {"journal": {}}}]}"#, DOCUMENT_PATH).expect("an invoice");
        let allocation = &items(&one.line_item)[0].allocation;
        assert_eq!(allocation.path("document.lineItem[0]", "allocation", 0), "document.lineItem[0].allocation");
        let many: InvoiceDocument<'_> =
            parse(r#"{"lineItem": [{"allocation": [{"journal": {}}]}]}"#, DOCUMENT_PATH).expect("an invoice");
        let allocation = &items(&many.line_item)[0].allocation;
        assert_eq!(allocation.path("document.lineItem[0]", "allocation", 0), "document.lineItem[0].allocation[0]");
    }
}
