//! The postings `tests/fixtures/fi-examples/EXPECTED.md` derives for each
//! official example, translated into ERP terms through a mapping, and the
//! postings the Acumatica simulator actually holds, in the same terms, so a
//! test can compare them line by line.
//!
//! A posting is `(target, signed amount)`: `acct:<GL account>` or
//! `vendor:<vendor id>`, positive = debit.

use std::collections::BTreeMap;
use std::str::FromStr;

use domain::PostingForm;
use domain::mapping::{Mapping, NonDeductible, PartyRule};
use rust_decimal::Decimal;
use serde_json::Value;

/// One expected line of EXPECTED.md: `DR EXP:474230 250.00`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedLine {
    pub key: String,
    /// Signed: positive = debit.
    pub amount: Decimal,
}

/// Every example file's "JSON-derived entries", by file name.
pub fn expected_by_file() -> BTreeMap<String, Vec<ExpectedLine>> {
    let text = std::fs::read_to_string(crate::posting::fixtures().join("fi-examples/EXPECTED.md"))
        .expect("EXPECTED.md is readable");
    let mut out = BTreeMap::new();
    let mut file: Option<String> = None;
    let mut in_block = false;
    let mut seen_entries = false;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("## `").and_then(|l| l.strip_suffix('`')) {
            file = Some(name.to_owned());
            seen_entries = false;
            continue;
        }
        if line.starts_with("* JSON-derived entries") {
            seen_entries = true;
            continue;
        }
        if line.starts_with("```") {
            in_block = seen_entries && !in_block;
            if !in_block {
                seen_entries = false;
            }
            continue;
        }
        if in_block && let Some(file) = &file {
            let mut words = line.split_whitespace();
            let (Some(side), Some(key), Some(amount)) = (words.next(), words.next(), words.next()) else { continue };
            let amount = Decimal::from_str(amount).expect("EXPECTED.md amount");
            let amount = if side == "CR" { -amount } else { amount };
            out.entry(file.clone()).or_insert_with(Vec::new).push(ExpectedLine { key: key.to_owned(), amount });
        }
    }
    out
}

/// The ERP target of an EXPECTED.md key under `mapping`, for documents
/// posted in `form` (a vendor posts on the payable account inside a journal).
pub fn target(mapping: &Mapping, form: PostingForm, key: &str) -> String {
    let (kind, code) = key.split_once(':').expect("KIND:code");
    let account = |a: &str| format!("acct:{a}");
    let party = |rule: &PartyRule, employee: Option<&str>| match (rule, form) {
        (PartyRule::Account { account: a }, _) => account(a),
        (_, PostingForm::Journal) => account(mapping.payable_account.as_deref().expect("payable_account for journals")),
        (PartyRule::Vendor { vendor }, _) => format!("vendor:{vendor}"),
        (PartyRule::EmployeeVendor {}, _) => {
            format!("vendor:{}", mapping.employee_vendor(employee.expect("employee id")).unwrap())
        }
    };
    match kind {
        "EXP" | "CA_CLEARING" => account(mapping.account(code).unwrap()),
        "TAX_RECLAIM" | "TAX_NONDEDUCTIBLE" => {
            let (authority, tax_code) = code.split_once('/').expect("authority/code");
            let tax_code = (tax_code != "None").then_some(tax_code);
            let rule = mapping.tax(authority, tax_code).unwrap();
            if kind == "TAX_RECLAIM" {
                account(&rule.reclaim_account)
            } else {
                match &rule.non_deductible {
                    NonDeductible::Account { account: a } => account(a),
                    NonDeductible::Keyword(_) => panic!("{key}: folded into the expense; not in the examples"),
                }
            }
        }
        "EMPLOYEE" => party(mapping.party("EMPL").unwrap(), Some(code)),
        "CARD" => party(mapping.party(code).unwrap(), None),
        other => panic!("unknown EXPECTED.md key kind {other}"),
    }
}

/// One posting line read back from the simulator.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ErpLine {
    pub target: String,
    pub amount: Decimal,
}

/// What the simulator holds for one Concur key: its documents' lines (a
/// bill: one line per detail, and the vendor's side as one total).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErpPosting {
    /// `Bill/Bill/000001`, `JournalTransaction/GL/000002`…
    pub documents: Vec<String>,
    pub lines: Vec<ErpLine>,
}

fn number(value: &Value) -> Decimal {
    let raw = value.get("value").unwrap_or(value);
    Decimal::from_str(raw.to_string().trim_matches('"')).unwrap_or_else(|_| panic!("amount {raw}"))
}

fn text<'a>(record: &'a Value, field: &str) -> &'a str {
    record[field]["value"].as_str().unwrap_or_default()
}

/// Every bill and journal of `tenant`, by the Concur key it carries.
pub fn erp_postings(sim: &simulators::acumatica::AcumaticaSim, tenant: &str) -> BTreeMap<String, ErpPosting> {
    let mut out: BTreeMap<String, ErpPosting> = BTreeMap::new();
    for bill in sim.bills(tenant) {
        let posting = out.entry(text(&bill, "VendorRef").to_owned()).or_default();
        let bill_type = text(&bill, "Type");
        posting.documents.push(format!("Bill/{bill_type}/{}", text(&bill, "ReferenceNbr")));
        let sign = if bill_type == "Debit Adj." { Decimal::NEGATIVE_ONE } else { Decimal::ONE };
        let mut total = Decimal::ZERO;
        for detail in bill["Details"].as_array().into_iter().flatten() {
            let amount = number(&detail["Amount"]) * sign;
            total += amount;
            posting.lines.push(ErpLine { target: format!("acct:{}", text(detail, "Account")), amount });
        }
        assert_eq!(number(&bill["Amount"]) * sign, total, "the bill's control total is its lines' sum");
        posting.lines.push(ErpLine { target: format!("vendor:{}", text(&bill, "Vendor")), amount: -total });
    }
    for batch in sim.journal_transactions(tenant) {
        let description = text(&batch, "Description");
        let key = description.split_whitespace().nth(1).unwrap_or_default().to_owned();
        let posting = out.entry(key).or_default();
        posting.documents.push(format!("JournalTransaction/GL/{}", text(&batch, "BatchNbr")));
        for detail in batch["Details"].as_array().into_iter().flatten() {
            let amount = number(&detail["DebitAmount"]) - number(&detail["CreditAmount"]);
            posting.lines.push(ErpLine { target: format!("acct:{}", text(detail, "Account")), amount });
        }
    }
    out
}

/// Compares what the simulator holds with what EXPECTED.md derives: every
/// account line one for one (same account, same signed amount), every
/// vendor's payable in total (a bill carries one total per vendor), and
/// every document balanced. Returns the differences, empty when equal.
pub fn compare(expected: &[ExpectedLine], actual: &ErpPosting, mapping: &Mapping, form: PostingForm) -> Vec<String> {
    let mut problems = Vec::new();
    let expected: Vec<ErpLine> =
        expected.iter().map(|l| ErpLine { target: target(mapping, form, &l.key), amount: l.amount }).collect();
    let accounts = |lines: &[ErpLine]| {
        let mut v: Vec<ErpLine> = lines.iter().filter(|l| l.target.starts_with("acct:")).cloned().collect();
        v.sort();
        v
    };
    let vendors = |lines: &[ErpLine]| {
        let mut m: BTreeMap<String, Decimal> = BTreeMap::new();
        for l in lines.iter().filter(|l| l.target.starts_with("vendor:")) {
            *m.entry(l.target.clone()).or_default() += l.amount;
        }
        m.retain(|_, v| !v.is_zero());
        m
    };
    let (want, got) = (accounts(&expected), accounts(&actual.lines));
    if want != got {
        problems.push(format!("account lines differ:\n  expected {want:?}\n  posted   {got:?}"));
    }
    let (want, got) = (vendors(&expected), vendors(&actual.lines));
    if want != got {
        problems.push(format!("vendor balances differ: expected {want:?}, posted {got:?}"));
    }
    let sum: Decimal = actual.lines.iter().map(|l| l.amount).sum();
    if !sum.is_zero() {
        problems.push(format!("the posting does not balance: Σ = {sum}"));
    }
    problems
}

/// Every supplier invoice and voucher of an IFS company, by the Concur key
/// it carries (`InvoiceNo`; the voucher's `Text` "Concur <key> …"), in the
/// same terms as [`erp_postings`]: a credit note's rows are negative.
pub fn ifs_postings(sim: &simulators::ifs::IfsSim, company: &str) -> BTreeMap<String, ErpPosting> {
    let plain = |record: &Value, field: &str| record[field].as_str().unwrap_or_default().to_owned();
    let mut out: BTreeMap<String, ErpPosting> = BTreeMap::new();
    for invoice in sim.invoices(company) {
        let posting = out.entry(plain(&invoice, "InvoiceNo")).or_default();
        posting.documents.push(format!("ManSuppInvoiceSet/{company}/{}", invoice["InvoiceId"]));
        let mut total = Decimal::ZERO;
        for row in invoice["ManSuppInvoicePostings"].as_array().into_iter().flatten() {
            let amount = number(&row["CurrAmount"]);
            total += amount;
            posting.lines.push(ErpLine { target: format!("acct:{}", plain(row, "CodeA")), amount });
        }
        assert_eq!(number(&invoice["GrossCurrAmount"]), total, "the invoice's gross is its rows' sum");
        posting.lines.push(ErpLine { target: format!("vendor:{}", plain(&invoice, "Identity")), amount: -total });
    }
    for voucher in sim.vouchers(company) {
        let text = plain(&voucher, "Text");
        let key = text.split_whitespace().nth(1).unwrap_or_default().to_owned();
        let posting = out.entry(key).or_default();
        posting.documents.push(format!(
            "VoucherSet/{company}/{}/{}/{}",
            voucher["AccountingYear"],
            plain(&voucher, "VoucherType"),
            voucher["VoucherNo"]
        ));
        for row in voucher["VoucherRowArray"].as_array().into_iter().flatten() {
            let side = |field: &str| if row[field].is_null() { Decimal::ZERO } else { number(&row[field]) };
            let amount = side("CurrencyDebitAmount") - side("CurrencyCreditAmount");
            posting.lines.push(ErpLine { target: format!("acct:{}", plain(row, "CodeA")), amount });
        }
    }
    out
}

/// Every journal and supplier invoice the Infor simulator holds for a
/// tenant, by Concur key (DocumentIDs `<key>[.<supplier>][-<i>of<n>]`;
/// chunks merge), in the terms of [`erp_postings`]. Lines on the
/// `chunk_clearing` account (what carries a chunked journal's balance from
/// part to part) must net to zero per document and are then left out.
pub fn infor_postings(
    sim: &simulators::infor::InforSim,
    tenant: &str,
    chunk_clearing: Option<&str>,
) -> BTreeMap<String, ErpPosting> {
    use simulators::infor::DebitCredit;
    let key_of = |document_id: &str| {
        erp::infor::parse_document_id(document_id).map(|p| p.key).unwrap_or_else(|| document_id.to_owned())
    };
    let mut out: BTreeMap<String, ErpPosting> = BTreeMap::new();
    for journal in sim.journals(tenant) {
        let posting = out.entry(key_of(&journal.document_id)).or_default();
        posting.documents.push(format!("ion:{}:{}", journal.document_id, journal.variation_id));
        for line in &journal.lines {
            let amount = match line.debit_credit {
                DebitCredit::Debit => line.amount,
                DebitCredit::Credit => -line.amount,
            };
            posting.lines.push(ErpLine { target: format!("acct:{}", line.account), amount });
        }
    }
    for invoice in sim.supplier_invoices(tenant) {
        let posting = out.entry(key_of(&invoice.document_id)).or_default();
        posting.documents.push(format!("ion:{}:{}", invoice.document_id, invoice.variation_id));
        let mut total = Decimal::ZERO;
        for line in &invoice.lines {
            for distribution in &line.distributions {
                let amount = distribution.amount.unwrap_or(line.extended_amount);
                total += amount;
                posting.lines.push(ErpLine { target: format!("acct:{}", distribution.account), amount });
            }
        }
        assert_eq!(invoice.total_amount, total, "the invoice's total is its lines' sum");
        posting.lines.push(ErpLine { target: format!("vendor:{}", invoice.supplier_id), amount: -total });
    }
    if let Some(clearing) = chunk_clearing {
        let target = format!("acct:{clearing}");
        for (key, posting) in &mut out {
            let carried: Decimal = posting.lines.iter().filter(|l| l.target == target).map(|l| l.amount).sum();
            assert!(carried.is_zero(), "{key}: the chunk clearing account does not net to zero ({carried})");
            posting.lines.retain(|l| l.target != target);
        }
    }
    out
}
