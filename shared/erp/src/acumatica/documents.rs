//! The documents the connector creates in Acumatica — an AP Bill and a GL
//! JournalTransaction — checked before any call and rendered in the
//! wrapped `{"value": …}` wire format (reference §2, §6a, §6b).
//!
//! Amounts are `rust_decimal::Decimal` end to end: they are written as JSON
//! numbers carrying the decimal's own text (serde_json's arbitrary-precision
//! numbers), never through `f64`.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Number, Value, json};
use time::Date;

use crate::problem::{DocumentProblem, check_balanced, require};

/// Longest `VendorRef` Acumatica stores. The reference is silent; 40 is the
/// width of the AP document's vendor-reference column (`APInvoice.InvoiceNbr`).
/// A longer key is refused: a truncated one could match another document.
pub const VENDOR_REF_MAX: usize = 40;

/// Prefix of a journal's `Description` when it carries the Concur key
/// (reference §4 [DEFAULT]: `"Concur CNQ-8842 ..."`).
pub const JOURNAL_KEY_PREFIX: &str = "Concur ";

/// The AP document type (`Type` of the Bill entity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BillType {
    /// The company owes the vendor.
    #[default]
    Bill,
    /// The vendor owes the company ("Debit Adj."): e.g. an employee's
    /// personal charges paid by the company card.
    DebitAdjustment,
}

impl BillType {
    pub fn wire(self) -> &'static str {
        match self {
            BillType::Bill => "Bill",
            BillType::DebitAdjustment => "Debit Adj.",
        }
    }
}

/// An AP Bill (or debit adjustment) for one Concur document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcumaticaBill {
    pub bill_type: BillType,
    /// `VendorID`.
    pub vendor: String,
    /// The Concur key, sent as `VendorRef` (at most [`VENDOR_REF_MAX`] characters).
    pub vendor_ref: String,
    pub date: Date,
    pub description: String,
    /// `CurrencyID`.
    pub currency: String,
    /// `BranchID`; `None` leaves Acumatica's default.
    pub branch: Option<String>,
    pub lines: Vec<BillLine>,
}

/// One expense line of a bill (quantity 1, unit cost = amount).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillLine {
    /// GL `AccountCD`.
    pub account: String,
    /// `SubaccountCD` exactly as Acumatica lists it.
    pub subaccount: Option<String>,
    pub branch: Option<String>,
    pub amount: Decimal,
    /// `TransactionDescription`.
    pub description: String,
}

/// Where a journal carries the Concur key, as the connection's mapping says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum JournalKeyField {
    /// [DEFAULT] in the header `Description`, as `"Concur <key> <description>"`.
    #[default]
    Description,
    /// A user-defined string field of the batch header (view `BatchModule`),
    /// e.g. `UsrConcurKey`; needs the customer's customization.
    Custom { field: String },
}

impl JournalKeyField {
    /// The custom view of the JournalTransaction header (reference §2).
    pub const HEADER_VIEW: &'static str = "BatchModule";
}

/// A balanced GL journal transaction for one Concur document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcumaticaJournal {
    /// `TransactionDate`.
    pub date: Date,
    pub description: String,
    pub currency: String,
    /// Header `BranchID`; `None` leaves Acumatica's default.
    pub branch: Option<String>,
    pub key_field: JournalKeyField,
    /// The Concur key.
    pub key: String,
    pub lines: Vec<JournalLine>,
}

/// One journal line: a debit or a credit (the other is zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalLine {
    pub account: String,
    pub subaccount: Option<String>,
    pub branch: Option<String>,
    pub debit: Decimal,
    pub credit: Decimal,
    /// `TransactionDescription`.
    pub description: String,
    /// Line `ReferenceNbr` (e.g. the Concur report id), if any.
    pub reference: Option<String>,
}

impl AcumaticaBill {
    /// How messages name this bill.
    pub fn label(&self) -> String {
        let kind = match self.bill_type {
            BillType::Bill => "bill",
            BillType::DebitAdjustment => "debit adjustment",
        };
        format!("the {kind} for vendor {} with vendor reference `{}`", self.vendor, self.vendor_ref)
    }

    /// The control total: Σ line amounts, exact.
    pub fn total(&self) -> Option<Decimal> {
        self.lines.iter().try_fold(Decimal::ZERO, |sum, l| sum.checked_add(l.amount))
    }

    /// Refuses what Acumatica would reject or silently change.
    pub fn validate(&self) -> Result<(), DocumentProblem> {
        require("the vendor", &self.vendor)?;
        require("the vendor reference (Concur key)", &self.vendor_ref)?;
        let length = self.vendor_ref.chars().count();
        if length > VENDOR_REF_MAX {
            return Err(DocumentProblem::VendorRefTooLong { length, max: VENDOR_REF_MAX });
        }
        require("the currency", &self.currency)?;
        if self.lines.is_empty() {
            return Err(DocumentProblem::NoLinesFor { needs: "a bill needs at least one expense line" });
        }
        for (i, line) in self.lines.iter().enumerate() {
            require(&format!("line {} account", i + 1), &line.account)?;
        }
        let total = self.total().ok_or(DocumentProblem::TotalOverflow)?;
        if total <= Decimal::ZERO {
            return Err(DocumentProblem::BillTotalNotPositive { total });
        }
        Ok(())
    }

    /// The PUT body. `hold`: create on hold (not releasable until taken off).
    pub(crate) fn to_wire(&self, hold: bool) -> Value {
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                let mut m = Map::new();
                m.insert("TransactionDescription".into(), wrap(&l.description));
                m.insert("Qty".into(), json!({"value": 1}));
                m.insert("UnitCost".into(), money(l.amount));
                m.insert("Amount".into(), money(l.amount));
                insert_account(&mut m, &l.account, l.subaccount.as_deref(), ("Branch", l.branch.as_deref()));
                Value::Object(m)
            })
            .collect();
        let mut m = Map::new();
        m.insert("Type".into(), wrap(self.bill_type.wire()));
        m.insert("Vendor".into(), wrap(&self.vendor));
        m.insert("VendorRef".into(), wrap(&self.vendor_ref));
        m.insert("Date".into(), date(self.date));
        m.insert("Description".into(), wrap(&self.description));
        m.insert("CurrencyID".into(), wrap(&self.currency));
        if let Some(branch) = &self.branch {
            m.insert("BranchID".into(), wrap(branch));
        }
        m.insert("Hold".into(), json!({"value": hold}));
        m.insert("Amount".into(), money(self.total().unwrap_or_default()));
        m.insert("Details".into(), Value::Array(lines));
        Value::Object(m)
    }
}

impl AcumaticaJournal {
    /// How messages name this journal.
    pub fn label(&self) -> String {
        format!("the journal transaction for Concur key `{}`", self.key)
    }

    /// The header `Description` as sent: carries the key when that is the key field.
    pub fn wire_description(&self) -> String {
        match self.key_field {
            JournalKeyField::Description => {
                let text = format!("{JOURNAL_KEY_PREFIX}{} {}", self.key, self.description.trim());
                text.trim_end().to_owned()
            }
            JournalKeyField::Custom { .. } => self.description.clone(),
        }
    }

    /// Σ debits and Σ credits, exact.
    pub fn totals(&self) -> Option<(Decimal, Decimal)> {
        self.lines.iter().try_fold((Decimal::ZERO, Decimal::ZERO), |(d, c), l| {
            Some((d.checked_add(l.debit)?, c.checked_add(l.credit)?))
        })
    }

    /// The balance check and the rules Acumatica applies to lines.
    pub fn validate(&self) -> Result<(), DocumentProblem> {
        require("the Concur key", &self.key)?;
        check_key_field(&self.key_field)?;
        if matches!(self.key_field, JournalKeyField::Description) && self.key.contains(char::is_whitespace) {
            // The lookup matches "Concur <key>" followed by a space or the end.
            return Err(DocumentProblem::KeyWithSpace { carrier: "Description key field" });
        }
        require("the currency", &self.currency)?;
        if self.lines.len() < 2 {
            return Err(DocumentProblem::TooFewLines { lines: "lines" });
        }
        for (i, line) in self.lines.iter().enumerate() {
            let n = i + 1;
            require(&format!("line {n} account"), &line.account)?;
            if line.debit.is_sign_negative() || line.credit.is_sign_negative() {
                return Err(DocumentProblem::NegativeLine { line: n });
            }
            match (line.debit.is_zero(), line.credit.is_zero()) {
                (false, false) => return Err(DocumentProblem::DebitAndCredit { line: n }),
                (true, true) => return Err(DocumentProblem::NeitherDebitNorCredit { line: n }),
                _ => {}
            }
        }
        check_balanced(self.totals())
    }

    /// The PUT body. Off hold: the batch is balanced (checked) and Acumatica
    /// checks it again.
    pub(crate) fn to_wire(&self) -> Value {
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                let mut m = Map::new();
                insert_account(&mut m, &l.account, l.subaccount.as_deref(), ("BranchID", l.branch.as_deref()));
                m.insert("DebitAmount".into(), money(l.debit));
                m.insert("CreditAmount".into(), money(l.credit));
                m.insert("TransactionDescription".into(), wrap(&l.description));
                if let Some(reference) = &l.reference {
                    m.insert("ReferenceNbr".into(), wrap(reference));
                }
                Value::Object(m)
            })
            .collect();
        let mut m = Map::new();
        m.insert("Module".into(), wrap("GL"));
        m.insert("TransactionDate".into(), date(self.date));
        m.insert("CurrencyID".into(), wrap(&self.currency));
        if let Some(branch) = &self.branch {
            m.insert("BranchID".into(), wrap(branch));
        }
        m.insert("Description".into(), wrap(&self.wire_description()));
        m.insert("Hold".into(), json!({"value": false}));
        m.insert("Details".into(), Value::Array(lines));
        if let JournalKeyField::Custom { field } = &self.key_field {
            m.insert(
                "custom".into(),
                json!({ JournalKeyField::HEADER_VIEW: { field: {"type": "CustomStringField", "value": self.key} } }),
            );
        }
        Value::Object(m)
    }
}

/// A custom field name goes into `$filter` and `$custom`: letters, digits
/// and `_` only, so configuration can never change the query's meaning.
pub(crate) fn check_key_field(key_field: &JournalKeyField) -> Result<(), DocumentProblem> {
    match key_field {
        JournalKeyField::Description => Ok(()),
        JournalKeyField::Custom { field } => {
            let valid = field.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if valid { Ok(()) } else { Err(DocumentProblem::KeyFieldName { field: field.clone() }) }
        }
    }
}

/// A line's `Account`, `Subaccount` and branch (bills and journals name the
/// branch field differently: `branch` is its name and value).
fn insert_account(m: &mut Map<String, Value>, account: &str, subaccount: Option<&str>, branch: (&str, Option<&str>)) {
    m.insert("Account".into(), wrap(account));
    if let Some(sub) = subaccount {
        m.insert("Subaccount".into(), wrap(sub));
    }
    if let (field, Some(value)) = branch {
        m.insert(field.into(), wrap(value));
    }
}

fn wrap(text: &str) -> Value {
    json!({ "value": text })
}

/// `{"value": <number>}` with the decimal's exact text as the JSON number.
pub(crate) fn money(amount: Decimal) -> Value {
    // serde_json is built with arbitrary_precision (via rust_decimal's
    // feature), so the number keeps this text; decimal text always parses.
    let number = Number::from_str(&amount.to_string()).map(Value::Number).unwrap_or(Value::Null);
    json!({ "value": number })
}

/// Date-only values travel as midnight UTC (reference §2).
fn date(d: Date) -> Value {
    wrap(&format!("{:04}-{:02}-{:02}T00:00:00+00:00", d.year(), u8::from(d.month()), d.day()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn line(debit: &str, credit: &str) -> JournalLine {
        JournalLine {
            account: "60100".into(),
            subaccount: None,
            branch: None,
            debit: dec(debit),
            credit: dec(credit),
            description: "x".into(),
            reference: None,
        }
    }

    fn journal(lines: Vec<JournalLine>) -> AcumaticaJournal {
        AcumaticaJournal {
            date: date!(2024 - 03 - 15),
            description: "accrual".into(),
            currency: "USD".into(),
            branch: None,
            key_field: JournalKeyField::default(),
            key: "CNQ-1".into(),
            lines,
        }
    }

    #[test]
    fn amounts_go_on_the_wire_as_their_exact_text() {
        let body = journal(vec![line("0.10", "0"), line("0", "0.1")]).to_wire();
        let text = serde_json::to_string(&body).unwrap();
        assert!(text.contains(r#""DebitAmount":{"value":0.10}"#), "{text}");
        assert!(text.contains(r#""CreditAmount":{"value":0.1}"#), "{text}");
        assert!(text.contains(r#""TransactionDate":{"value":"2024-03-15T00:00:00+00:00"}"#), "{text}");
        assert!(text.contains(r#""Description":{"value":"Concur CNQ-1 accrual"}"#), "{text}");
    }

    #[test]
    fn balance_is_exact() {
        let ok = journal(vec![line("0.1", "0"), line("0.2", "0"), line("0", "0.3")]);
        assert_eq!(ok.validate(), Ok(()));
        let off = journal(vec![line("245.50", "0"), line("0", "245.49")]);
        let e = off.validate().unwrap_err().to_string();
        assert!(e.contains("debits 245.50 ≠ credits 245.49 (difference 0.01)"), "{e}");
        let both = journal(vec![line("1", "1"), line("0", "0")]).validate().unwrap_err().to_string();
        assert!(both.contains("line 1 has both a debit and a credit"), "{both}");
    }

    #[test]
    fn custom_key_field_names_are_checked() {
        let mut j = journal(vec![line("1", "0"), line("0", "1")]);
        j.key_field = JournalKeyField::Custom { field: "Usr') or true or ('".into() };
        assert!(j.validate().unwrap_err().to_string().contains("is not a field name"));
        j.key_field = JournalKeyField::Custom { field: "UsrConcurKey".into() };
        assert_eq!(j.validate(), Ok(()));
        let text = serde_json::to_string(&j.to_wire()).unwrap();
        assert!(text.contains(r#""custom":{"BatchModule":{"UsrConcurKey""#), "{text}");
    }

    #[test]
    fn a_vendor_ref_over_the_limit_is_refused_not_cut() {
        let bill = AcumaticaBill {
            bill_type: BillType::Bill,
            vendor: "V1".into(),
            vendor_ref: "K".repeat(VENDOR_REF_MAX + 1),
            date: date!(2024 - 03 - 15),
            description: "d".into(),
            currency: "USD".into(),
            branch: None,
            lines: vec![BillLine {
                account: "60100".into(),
                subaccount: None,
                branch: None,
                amount: dec("1"),
                description: "x".into(),
            }],
        };
        let e = bill.validate().unwrap_err().to_string();
        assert!(e.contains("41 characters") && e.contains("at most 40"), "{e}");
    }
}
