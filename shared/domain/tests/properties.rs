//! normalize → plan on generated documents: each one either becomes ERP
//! documents that balance in the currency's minor units, or is refused with
//! a reason. Never a panic, never an unbalanced plan.

use domain::currency::{minor_units, round_to};
use domain::mapping::Mapping;
use domain::posting::{ErpDocumentKind, plan};
use domain::{ConcurDocumentId, DocumentType, NormalizeOptions, PostingForm, normalize};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

const MAPPING: &str = r#"
version: 1
accounts: { "6000": "61000", CADV: "13100" }
default_account: "69999"
payable_account: "20000"
parties:
  EMPL: { kind: employee_vendor }
  IBCP: { kind: vendor, vendor: AMEX }
  CBCP: { kind: account, account: "20500" }
employees: { E1: EMP1 }
taxes:
  - { authority: DEVAT, reclaim_account: "14500", non_deductible: expense }
"#;

/// Amount texts: mostly Concur's forms with up to 8 decimals, some hostile.
fn amount() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => (-10_000_000_000i64..10_000_000_000, 0u32..=8).prop_map(|(m, s)| {
            serde_json::from_str(&Decimal::new(m, s).to_string()).expect("number")
        }),
        1 => (-1000i64..1000, 0u32..=8).prop_map(|(m, s)| Value::String(Decimal::new(m, s).to_string())),
        1 => prop::sample::select(vec![
            json!(" 12.5"),
            json!("1e400"),
            json!("NaN"),
            serde_json::from_str::<Value>("12.345678901").expect("number"),
            serde_json::from_str::<Value>("79228162514264337593543950335").expect("number"),
            json!(null),
            json!("0E-8"),
        ]),
    ]
}

fn payment_code() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["COMP", "EMPL", "IBCP", "CBCP", "COPD"])
}

fn currency() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["USD", "EUR", "JPY", "KWD", "GBP", "XYZ"])
}

fn journal_row() -> impl Strategy<Value = Value> {
    (amount(), payment_code(), payment_code(), prop::option::of(amount()), any::<bool>()).prop_map(
        |(gross, payer, payee, reclaim, taxed)| {
            let mut row = json!({
                "journalAccountCode": "6000", "journalPayer": payer, "journalPayee": payee, "amountGross": gross,
            });
            if taxed {
                row["taxGuid"] = json!(["T1"]);
                row["_tax"] = json!({"taxGuid": "T1", "taxAuthorityLabel": "DEVAT", "amountTax": reclaim.clone(),
                                     "amountReclaim": reclaim});
            }
            row
        },
    )
}

fn expense_report() -> impl Strategy<Value = Value> {
    (currency(), prop::collection::vec(journal_row(), 1..5), prop::option::of(amount())).prop_map(
        |(currency, mut journals, advance)| {
            let taxes: Vec<Value> = journals.iter_mut().filter_map(|j| j.as_object_mut()?.remove("_tax")).collect();
            let applications: Vec<Value> = advance
                .into_iter()
                .map(|a| json!({"cashAdvanceApplicationAmount": a, "cashAdvanceClearingAccountCode": "CADV"}))
                .collect();
            json!({
                "employee": {"employeeId": "E1"},
                "report": {"reportId": "R1", "employeeCurrencyAlphaCode": currency},
                "expenseEntry": [{"entryId": "EN1", "clearingAccountCode": "9999",
                                  "allocation": [{"allocationId": "AL1", "journal": journals, "tax": taxes}]}],
                "cashAdvanceApplication": applications,
            })
        },
    )
}

fn cash_advance() -> impl Strategy<Value = Value> {
    (currency(), amount(), amount(), any::<bool>(), prop::sample::select(vec!["DR", "CR"])).prop_map(
        |(currency, requested, journal, consistent, side)| {
            // Half of them state the advance their journal moves.
            let requested = if consistent { journal.clone() } else { requested };
            json!({
                "employeeData": {"employeeId": "E1"},
                "cashAdvanceData": {"cashAdvanceId": "CA1", "currencyAlphaCode": currency,
                                    "employeeCurrencyAlphaCode": currency, "requestAmount": requested},
                "journalData": [{"amount": journal, "debitOrCredit": side, "accountCode": "CADV",
                                 "payer": "COMP", "payee": "EMPL"}],
            })
        },
    )
}

fn document() -> impl Strategy<Value = (DocumentType, Value)> {
    prop_oneof![
        3 => expense_report().prop_map(|d| (DocumentType::Expense, d)),
        1 => cash_advance().prop_map(|d| (DocumentType::CashAdvance, d)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_document_balances_in_minor_units_or_is_refused_with_a_reason(
        (doc_type, document) in document(),
        rounding in prop::option::of(Just("69990")),
        form in prop::sample::select(vec![PostingForm::Journal, PostingForm::ApBill]),
    ) {
        let id = ConcurDocumentId::parse("0123456789abcdef0123456789abcdef").expect("id");
        let entry = match normalize(doc_type, &id, &document, &NormalizeOptions::default()) {
            Ok(entry) => entry,
            Err(refused) => {
                prop_assert!(!refused.to_string().is_empty());
                return Ok(());
            }
        };
        let mut mapping = Mapping::from_yaml(MAPPING).expect("mapping");
        mapping.rounding_account = rounding.map(str::to_owned);
        let date = time::macros::date!(2026 - 11 - 23);
        let planned = match plan(&mapping, &entry, form, date) {
            Ok(planned) => planned,
            Err(refused) => {
                prop_assert!(!refused.to_string().is_empty());
                return Ok(());
            }
        };
        let exponent = minor_units(&entry.header().currency).expect("a planned currency is known");
        prop_assert!(!planned.documents.is_empty());
        for doc in &planned.documents {
            prop_assert!(!doc.lines.is_empty());
            let mut sum = Decimal::ZERO;
            for line in &doc.lines {
                prop_assert_eq!(line.amount.scale(), exponent, "{} in {}", line.amount, doc.currency);
                prop_assert!(!line.amount.is_zero());
                sum = sum.checked_add(line.amount).expect("planned amounts add up");
            }
            match doc.kind {
                // A journal's lines balance; a bill's lines balance against
                // the vendor's total, which must be owed (> 0).
                ErpDocumentKind::Journal => prop_assert_eq!(sum, Decimal::ZERO),
                _ => {
                    prop_assert!(sum > Decimal::ZERO, "{} total {sum}", doc.label());
                    prop_assert_eq!(round_to(sum, exponent), Some(sum));
                }
            }
        }
    }
}
