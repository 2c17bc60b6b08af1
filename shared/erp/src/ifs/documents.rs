//! Supplier invoices and GL vouchers as IFS receives them: the wire bodies,
//! the completeness markers and the checks made before anything is sent.
//!
//! IFS creates a header and its rows in separate calls (reference §3), so a
//! document is first created *marked incomplete* and the marker is changed
//! after the last row:
//!
//! * invoice `OurReference`: `Concur <key> (incomplete)` → `Concur <key>`;
//! * voucher `Text`: `Concur <key> (incomplete) <description>` →
//!   `Concur <key> <description>`.
//!
//! A document found still marked incomplete was left by a crash (or a
//! failed clean-up) and is replaced, never counted as posted.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use time::Date;

use super::odata::{Company, money};
use crate::problem::{DocumentProblem, check_balanced, require};

/// Every marker starts with this, then the Concur key.
pub const KEY_PREFIX: &str = "Concur ";
/// What follows the key while rows are still being added.
pub const INCOMPLETE: &str = "(incomplete)";
/// [DEFAULT] Longest voucher `Text` sent; the description part is cut to fit
/// (the key part never is).
pub const VOUCHER_TEXT_MAX: usize = 200;

/// The code parts `CodeB`…`CodeJ` (`CodeA` is the account).
pub const CODE_PARTS: [char; 9] = ['B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'];

/// Whether every row of a document was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    Complete,
    /// Created by a post that did not get to the end: to be replaced.
    Incomplete,
}

/// A supplier invoice (IFS's credit note is an invoice with negative amounts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceKind {
    /// The company owes the supplier: positive amounts.
    Invoice,
    /// The supplier owes the company: `NetCurrAmount`, `GrossCurrAmount` and
    /// every posting `CurrAmount` negated.
    CreditNote,
}

/// `CodeB`…`CodeJ` of a posting row, by letter.
pub type CodeParts = BTreeMap<char, String>;

/// One posting row: the code string and an amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingRow {
    /// `CodeA`: the GL account.
    pub account: String,
    pub code_parts: CodeParts,
    /// Invoices: the line amount of the document as planned (negated on the
    /// wire for a credit note). Vouchers: signed, positive = debit.
    pub amount: Decimal,
    /// Row `Text`.
    pub text: String,
}

/// A supplier invoice for one Concur document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfsInvoice {
    pub kind: InvoiceKind,
    /// `Identity`: the supplier id.
    pub supplier: String,
    /// `InvoiceNo`: the Concur key.
    pub invoice_no: String,
    /// `InvoiceDate` and `DueDate`.
    pub date: Date,
    pub currency: String,
    pub rows: Vec<PostingRow>,
}

/// A GL voucher for one Concur document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfsVoucher {
    /// The Concur key (header `Text` marker and every row's `ReferenceNumber`).
    pub key: String,
    /// `VoucherDate`; its year is the `AccountingYear` [DEFAULT: calendar year].
    pub date: Date,
    pub voucher_type: String,
    pub user_group: String,
    pub currency: String,
    pub description: String,
    pub rows: Vec<PostingRow>,
}

/// Which dimension names post on which code part: `code_b`…`code_j` on
/// that letter, `cost_center` on the company's cost-center code part;
/// other names (meant for other ERPs) are not sent. Two names for one code
/// part with different values are refused.
pub fn code_parts(dimensions: &BTreeMap<String, String>, cost_center: char) -> Result<CodeParts, DocumentProblem> {
    let mut parts = CodeParts::new();
    for (name, value) in dimensions {
        let letter = match name.as_str() {
            "cost_center" => cost_center,
            other => match other.strip_prefix("code_").map(|l| l.to_ascii_uppercase()) {
                Some(l) if l.len() == 1 && CODE_PARTS.contains(&l.chars().next().unwrap_or('A')) => {
                    l.chars().next().unwrap_or('A')
                }
                _ => continue,
            },
        };
        match parts.get(&letter) {
            Some(existing) if existing != value => {
                return Err(DocumentProblem::CodePartConflict {
                    letter,
                    existing: existing.clone(),
                    value: value.clone(),
                    cost_center,
                });
            }
            _ => {
                parts.insert(letter, value.clone());
            }
        }
    }
    Ok(parts)
}

/// `CodeA` … `CodeJ` of a row into a body.
fn code_string(row: &PostingRow, body: &mut Map<String, Value>) {
    body.insert("CodeA".into(), Value::String(row.account.clone()));
    for (letter, value) in &row.code_parts {
        body.insert(format!("Code{letter}"), Value::String(value.clone()));
    }
}

/// `OurReference` of an invoice with this key.
pub fn invoice_marker(key: &str, completeness: Completeness) -> String {
    match completeness {
        Completeness::Complete => format!("{KEY_PREFIX}{key}"),
        Completeness::Incomplete => format!("{KEY_PREFIX}{key} {INCOMPLETE}"),
    }
}

/// Reads an invoice's `OurReference`. Only our exact incomplete marker
/// counts as incomplete: an invoice whose reference someone changed in IFS
/// is a finished invoice and is never deleted.
pub fn invoice_completeness(key: &str, our_reference: Option<&str>) -> Completeness {
    if our_reference == Some(invoice_marker(key, Completeness::Incomplete).as_str()) {
        Completeness::Incomplete
    } else {
        Completeness::Complete
    }
}

/// The voucher header `Text` for this key.
pub fn voucher_text(key: &str, completeness: Completeness, description: &str) -> String {
    let mut description = description.trim().to_owned();
    if description.is_empty() {
        description = "journal".to_owned();
    }
    if description.starts_with(INCOMPLETE) {
        // Never let a description read as the marker.
        description = format!("- {description}");
    }
    let head = match completeness {
        Completeness::Complete => format!("{KEY_PREFIX}{key} "),
        Completeness::Incomplete => format!("{KEY_PREFIX}{key} {INCOMPLETE} "),
    };
    let room = VOUCHER_TEXT_MAX.saturating_sub(head.chars().count()).max(1);
    let description = domain::text::truncate(&description, room);
    format!("{head}{}", description.trim_end())
}

/// Whether a voucher `Text` carries exactly this key (`K1` is not `K12`),
/// and if so whether it is complete.
pub fn voucher_completeness(key: &str, text: &str) -> Option<Completeness> {
    let rest = text.strip_prefix(KEY_PREFIX)?.strip_prefix(key)?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let rest = rest.trim_start_matches(' ');
    if rest == INCOMPLETE || rest.strip_prefix(INCOMPLETE).is_some_and(|r| r.starts_with(' ')) {
        Some(Completeness::Incomplete)
    } else {
        Some(Completeness::Complete)
    }
}

impl IfsInvoice {
    /// How messages name this invoice.
    pub fn label(&self) -> String {
        let kind = match self.kind {
            InvoiceKind::Invoice => "supplier invoice",
            InvoiceKind::CreditNote => "supplier credit note",
        };
        format!("the {kind} of supplier {} with invoice number `{}`", self.supplier, self.invoice_no)
    }

    /// Σ row amounts as planned (what is owed, > 0 for a valid document).
    pub fn total(&self) -> Option<Decimal> {
        self.rows.iter().try_fold(Decimal::ZERO, |sum, r| sum.checked_add(r.amount))
    }

    fn sign(&self) -> Decimal {
        match self.kind {
            InvoiceKind::Invoice => Decimal::ONE,
            InvoiceKind::CreditNote => Decimal::NEGATIVE_ONE,
        }
    }

    /// Refuses what IFS would reject or what would break the lookup.
    pub fn validate(&self) -> Result<(), DocumentProblem> {
        require("the supplier", &self.supplier)?;
        require("the invoice number (Concur key)", &self.invoice_no)?;
        if self.invoice_no.trim() != self.invoice_no {
            return Err(DocumentProblem::InvoiceNoSpaces);
        }
        require("the currency", &self.currency)?;
        if self.rows.is_empty() {
            return Err(DocumentProblem::NoLinesFor { needs: "an invoice needs at least one posting row" });
        }
        for (i, row) in self.rows.iter().enumerate() {
            require(&format!("line {} account", i + 1), &row.account)?;
        }
        let total = self.total().ok_or(DocumentProblem::TotalOverflow)?;
        if total <= Decimal::ZERO {
            return Err(DocumentProblem::InvoiceTotalNotPositive { total });
        }
        Ok(())
    }

    /// The header create body, marked incomplete.
    pub(crate) fn header_body(&self, company: &Company) -> Value {
        let total = money(self.total().unwrap_or_default() * self.sign());
        let date = Value::String(self.date.to_string());
        let mut m = Map::new();
        m.insert("Identity".into(), Value::String(self.supplier.clone()));
        m.insert("PartyType".into(), Value::String("Supplier".into()));
        m.insert("InvoiceNo".into(), Value::String(self.invoice_no.clone()));
        m.insert("InvoiceDate".into(), date.clone());
        m.insert("DueDate".into(), date);
        m.insert("Currency".into(), Value::String(self.currency.clone()));
        m.insert("NetCurrAmount".into(), total.clone());
        m.insert("VatCurrAmount".into(), money(Decimal::ZERO));
        m.insert("GrossCurrAmount".into(), total);
        m.insert("OurReference".into(), Value::String(invoice_marker(&self.invoice_no, Completeness::Incomplete)));
        company.body(m)
    }

    /// The body of posting row `index` on invoice `invoice_id`.
    pub(crate) fn row_body(&self, company: &Company, invoice_id: i64, index: usize) -> Value {
        let row = &self.rows[index];
        let mut m = Map::new();
        m.insert("InvoiceId".into(), Value::from(invoice_id));
        code_string(row, &mut m);
        m.insert("CurrAmount".into(), money(row.amount * self.sign()));
        m.insert("Text".into(), Value::String(row.text.clone()));
        company.body(m)
    }

    /// The PATCH body that marks the invoice complete.
    pub(crate) fn complete_body(&self) -> Value {
        serde_json::json!({ "OurReference": invoice_marker(&self.invoice_no, Completeness::Complete) })
    }
}

impl IfsVoucher {
    /// How messages name this voucher.
    pub fn label(&self) -> String {
        format!("the GL voucher for Concur key `{}`", self.key)
    }

    /// `AccountingYear` [DEFAULT]: the voucher date's calendar year.
    pub fn accounting_year(&self) -> i64 {
        i64::from(self.date.year())
    }

    /// Σ debits and Σ credits, exact.
    pub fn totals(&self) -> Option<(Decimal, Decimal)> {
        self.rows.iter().try_fold((Decimal::ZERO, Decimal::ZERO), |(d, c), r| {
            if r.amount.is_sign_negative() {
                Some((d, c.checked_add(-r.amount)?))
            } else {
                Some((d.checked_add(r.amount)?, c))
            }
        })
    }

    /// The balance check and what the lookup needs of the key.
    pub fn validate(&self) -> Result<(), DocumentProblem> {
        require("the Concur key", &self.key)?;
        if self.key.contains(char::is_whitespace) {
            // The lookup matches "Concur <key>" followed by a space.
            return Err(DocumentProblem::KeyWithSpace { carrier: "voucher Text marker" });
        }
        require("the currency", &self.currency)?;
        require("the voucher type", &self.voucher_type)?;
        require("the user group", &self.user_group)?;
        if self.rows.len() < 2 {
            return Err(DocumentProblem::TooFewLines { lines: "rows" });
        }
        for (i, row) in self.rows.iter().enumerate() {
            require(&format!("line {} account", i + 1), &row.account)?;
            if row.amount.is_zero() {
                return Err(DocumentProblem::ZeroAmount { line: i + 1 });
            }
        }
        check_balanced(self.totals())
    }

    /// The header create body, marked incomplete.
    pub(crate) fn header_body(&self, company: &Company) -> Value {
        let mut m = Map::new();
        m.insert("AccountingYear".into(), Value::from(self.accounting_year()));
        m.insert("VoucherType".into(), Value::String(self.voucher_type.clone()));
        m.insert("VoucherDate".into(), Value::String(self.date.to_string()));
        m.insert("UserGroup".into(), Value::String(self.user_group.clone()));
        m.insert("Text".into(), Value::String(voucher_text(&self.key, Completeness::Incomplete, &self.description)));
        company.body(m)
    }

    /// The body of row `index` on voucher number `voucher_no`. The
    /// accounting-currency amounts equal the transaction-currency amounts
    /// ([DEFAULT] rate 1: the connector has no rate; IFS recalculates them
    /// where the company's currency differs and its rate types say so).
    pub(crate) fn row_body(&self, company: &Company, voucher_no: i64, index: usize) -> Value {
        let row = &self.rows[index];
        let mut m = Map::new();
        m.insert("AccountingYear".into(), Value::from(self.accounting_year()));
        m.insert("VoucherType".into(), Value::String(self.voucher_type.clone()));
        m.insert("VoucherNo".into(), Value::from(voucher_no));
        code_string(row, &mut m);
        m.insert("CurrencyCode".into(), Value::String(self.currency.clone()));
        if row.amount.is_sign_negative() {
            m.insert("CurrencyCreditAmount".into(), money(-row.amount));
            m.insert("CreditAmount".into(), money(-row.amount));
        } else {
            m.insert("CurrencyDebitAmount".into(), money(row.amount));
            m.insert("DebitAmount".into(), money(row.amount));
        }
        m.insert("Text".into(), Value::String(row.text.clone()));
        m.insert("ReferenceNumber".into(), Value::String(self.key.clone()));
        company.body(m)
    }

    /// The PATCH body that marks the voucher complete.
    pub(crate) fn complete_body(&self) -> Value {
        serde_json::json!({ "Text": voucher_text(&self.key, Completeness::Complete, &self.description) })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use time::macros::date;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn row(account: &str, amount: &str) -> PostingRow {
        PostingRow {
            account: account.into(),
            code_parts: BTreeMap::from([('B', "110".to_owned())]),
            amount: dec(amount),
            text: "Hotel".into(),
        }
    }

    fn invoice(kind: InvoiceKind) -> IfsInvoice {
        IfsInvoice {
            kind,
            supplier: "EMPJDOE".into(),
            invoice_no: "CNQ-8842".into(),
            date: date!(2024 - 03 - 15),
            currency: "USD".into(),
            rows: vec![row("6100", "200.00"), row("6200", "45.50"), row("1990", "-30")],
        }
    }

    fn voucher(rows: Vec<PostingRow>) -> IfsVoucher {
        IfsVoucher {
            key: "CNQ-8842".into(),
            date: date!(2024 - 03 - 15),
            voucher_type: "M".into(),
            user_group: "AC".into(),
            currency: "USD".into(),
            description: "accrual".into(),
            rows,
        }
    }

    #[test]
    fn invoice_bodies_carry_the_company_exact_amounts_and_the_incomplete_marker() {
        let company = Company::new("10");
        let inv = invoice(InvoiceKind::Invoice);
        let header = serde_json::to_string(&inv.header_body(&company)).unwrap();
        assert_eq!(
            header,
            r#"{"Company":"10","Currency":"USD","DueDate":"2024-03-15","GrossCurrAmount":215.50,"Identity":"EMPJDOE","InvoiceDate":"2024-03-15","InvoiceNo":"CNQ-8842","NetCurrAmount":215.50,"OurReference":"Concur CNQ-8842 (incomplete)","PartyType":"Supplier","VatCurrAmount":0}"#
        );
        let row = serde_json::to_string(&inv.row_body(&company, 104233, 1)).unwrap();
        assert_eq!(
            row,
            r#"{"CodeA":"6200","CodeB":"110","Company":"10","CurrAmount":45.50,"InvoiceId":104233,"Text":"Hotel"}"#
        );
        assert_eq!(inv.complete_body(), serde_json::json!({"OurReference": "Concur CNQ-8842"}));
    }

    #[test]
    fn a_credit_note_negates_header_and_rows() {
        let company = Company::new("10");
        let note = invoice(InvoiceKind::CreditNote);
        let header = note.header_body(&company);
        assert_eq!(header["NetCurrAmount"].to_string(), "-215.50");
        assert_eq!(header["GrossCurrAmount"].to_string(), "-215.50");
        assert_eq!(note.row_body(&company, 1, 0)["CurrAmount"].to_string(), "-200.00");
        assert_eq!(note.row_body(&company, 1, 2)["CurrAmount"].to_string(), "30", "a reducing line flips too");
        assert!(note.label().contains("credit note"));
    }

    #[test]
    fn invoice_checks() {
        assert_eq!(invoice(InvoiceKind::Invoice).validate(), Ok(()));
        let mut inv = invoice(InvoiceKind::Invoice);
        inv.rows[0].amount = dec("-500");
        assert!(inv.validate().unwrap_err().to_string().contains("must be positive"));
        inv.rows.clear();
        assert!(inv.validate().unwrap_err().to_string().contains("no lines"));
        let mut inv = invoice(InvoiceKind::Invoice);
        inv.supplier = " ".into();
        assert_eq!(inv.validate().unwrap_err().to_string(), "the supplier is empty");
    }

    #[test]
    fn voucher_rows_put_each_amount_on_one_side_in_both_currencies() {
        let company = Company::new("10");
        let v = voucher(vec![row("6100", "245.50"), row("2440", "-245.50")]);
        assert_eq!(v.validate(), Ok(()));
        let header = serde_json::to_string(&v.header_body(&company)).unwrap();
        assert_eq!(
            header,
            r#"{"AccountingYear":2024,"Company":"10","Text":"Concur CNQ-8842 (incomplete) accrual","UserGroup":"AC","VoucherDate":"2024-03-15","VoucherType":"M"}"#
        );
        let debit = serde_json::to_string(&v.row_body(&company, 2024000123, 0)).unwrap();
        assert_eq!(
            debit,
            r#"{"AccountingYear":2024,"CodeA":"6100","CodeB":"110","Company":"10","CurrencyCode":"USD","CurrencyDebitAmount":245.50,"DebitAmount":245.50,"ReferenceNumber":"CNQ-8842","Text":"Hotel","VoucherNo":2024000123,"VoucherType":"M"}"#
        );
        let credit = v.row_body(&company, 2024000123, 1);
        assert_eq!(credit["CurrencyCreditAmount"].to_string(), "245.50");
        assert_eq!(credit["CreditAmount"].to_string(), "245.50");
        assert!(credit.get("CurrencyDebitAmount").is_none() && credit.get("DebitAmount").is_none());
        assert_eq!(v.complete_body(), serde_json::json!({"Text": "Concur CNQ-8842 accrual"}));
    }

    #[test]
    fn an_unbalanced_voucher_is_refused_exactly() {
        let e = voucher(vec![row("6100", "245.50"), row("2440", "-245.49")]).validate().unwrap_err().to_string();
        assert!(e.contains("debits 245.50 ≠ credits 245.49 (difference 0.01)"), "{e}");
        let mut spaced = voucher(vec![row("6100", "1"), row("2440", "-1")]);
        spaced.key = "CNQ 1".into();
        assert!(spaced.validate().unwrap_err().to_string().contains("space"));
        assert!(voucher(vec![row("6100", "0"), row("2440", "0")]).validate().unwrap_err().to_string().contains("zero"));
    }

    #[test]
    fn markers_are_read_back_exactly() {
        use Completeness::*;
        assert_eq!(invoice_completeness("K1", Some("Concur K1 (incomplete)")), Incomplete);
        assert_eq!(invoice_completeness("K1", Some("Concur K1")), Complete);
        assert_eq!(invoice_completeness("K1", Some("edited by AP")), Complete, "never delete someone's invoice");
        assert_eq!(invoice_completeness("K1", None), Complete);

        assert_eq!(voucher_completeness("K1", "Concur K1 accrual"), Some(Complete));
        assert_eq!(voucher_completeness("K1", "Concur K1 (incomplete) accrual"), Some(Incomplete));
        assert_eq!(voucher_completeness("K1", "Concur K1 (incomplete)"), Some(Incomplete));
        assert_eq!(voucher_completeness("K1", "Concur K12 accrual"), None, "K1 never matches K12");
        assert_eq!(voucher_completeness("K1", "Concur K1"), Some(Complete));
        assert_eq!(voucher_completeness("K1", "concur K1 x"), None);

        let tricky = voucher_text("K1", Complete, "(incomplete) trip");
        assert_eq!(tricky, "Concur K1 - (incomplete) trip");
        assert_eq!(voucher_completeness("K1", &tricky), Some(Complete));
        assert_eq!(voucher_text("K1", Complete, "  "), "Concur K1 journal");
        let long = voucher_text("K1", Incomplete, &"x".repeat(500));
        assert_eq!(long.chars().count(), VOUCHER_TEXT_MAX);
        assert_eq!(voucher_completeness("K1", &long), Some(Incomplete));
    }

    #[test]
    fn dimensions_map_onto_code_parts() {
        let dims = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        let parts = code_parts(&dims(&[("cost_center", "110"), ("code_c", "P1"), ("subaccount", "000")]), 'B').unwrap();
        assert_eq!(parts, BTreeMap::from([('B', "110".to_owned()), ('C', "P1".to_owned())]));
        let parts = code_parts(&dims(&[("cost_center", "110"), ("code_b", "110")]), 'B').unwrap();
        assert_eq!(parts.len(), 1, "the same value twice is one code part");
        let e = code_parts(&dims(&[("cost_center", "110"), ("code_b", "120")]), 'B').unwrap_err().to_string();
        assert!(e.contains("code part B"), "{e}");
        assert!(code_parts(&dims(&[("code_a", "1"), ("code_k", "1"), ("code_bb", "1")]), 'B').unwrap().is_empty());
        assert_eq!(code_parts(&dims(&[("code_j", "X")]), 'D').unwrap(), BTreeMap::from([('J', "X".to_owned())]));
    }
}
