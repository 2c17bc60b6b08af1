//! Edge cases the official examples do not show: credits with tax, refusals
//! with their paths, options, invoices, exactness and garbage input.

use rust_decimal::Decimal;
use serde_json::Value;

use super::*;
use crate::journal::{LineRole, Side};

fn id() -> ConcurDocumentId {
    ConcurDocumentId::parse("0123456789abcdef0123456789abcdef").unwrap()
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("test JSON")
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

/// A one-entry expense report around `journals` (JSON array text) and `taxes`.
fn report_with(journals: &str, taxes: &str, approved: &str) -> Value {
    parse(&format!(
        r#"{{
          "employee": {{"employeeId": "E1"}},
          "report": {{"reportId": "R1", "employeeCurrencyAlphaCode": "EUR", "totalApprovedAmount": {approved}}},
          "expenseEntry": [{{
            "entryId": "EN1", "expenseTypeCode": "HOTEL", "expenseTypeName": "Hotel",
            "entryApprovedAmount": {approved}, "clearingAccountCode": "9999",
            "allocation": [{{"allocationId": "AL1", "allocationCustom1Code": "CC1",
                             "allocationCustom1Value": "Cost centre 1",
                             "journal": {journals}, "tax": {taxes}}}]
          }}],
          "cashAdvanceApplication": []
        }}"#
    ))
}

fn run(doc_type: DocumentType, doc: &Value) -> Result<JournalEntry, NormalizeError> {
    normalize(doc_type, &id(), doc, &NormalizeOptions::default())
}

fn problem(doc_type: DocumentType, doc: &Value) -> Problem {
    run(doc_type, doc).expect_err("document must be refused").problem
}

fn amounts(entry: &JournalEntry) -> Vec<(LineRole, Decimal)> {
    entry.lines().iter().map(|l| (l.role, l.amount)).collect()
}

const VAT_ROW: &str = r#"[{"taxGuid": "T1", "taxAuthorityLabel": "DEVAT", "taxCode": "V19",
    "amountTax": -19, "amountReclaim": -19}]"#;

#[test]
fn credit_with_reclaimable_vat_reverses_every_line() {
    let doc = report_with(
        r#"[{"journalAccountCode": "6000", "journalPayer": "EMPL", "journalPayee": "COMP",
             "amountGross": -119, "amountNetOfTax": -100, "taxGuid": ["T1"]}]"#,
        VAT_ROW,
        "-119",
    );
    let entry = run(DocumentType::Expense, &doc).unwrap();
    assert_eq!(
        amounts(&entry),
        [
            (LineRole::Expense, dec("-100")),
            (LineRole::TaxReclaimable, dec("-19")),
            (LineRole::EmployeePayable, dec("119"))
        ]
    );
    assert_eq!(entry.lines()[0].side(), Side::Credit);
    assert_eq!(entry.lines()[2].side(), Side::Debit);
    assert_eq!(entry.lines()[2].payment_code.as_deref(), Some("EMPL"));
}

#[test]
fn non_deductible_tax_is_its_own_line_on_the_rows_account() {
    let doc = report_with(
        r#"[{"journalAccountCode": "6000", "journalPayer": "COMP", "journalPayee": "EMPL",
             "amountGross": 110, "amountNetOfTax": 100, "taxGuid": ["T1"]}]"#,
        r#"[{"taxGuid": "T1", "taxAuthorityLabel": "X", "amountTax": 10, "amountReclaim": 4}]"#,
        "110",
    );
    let separate = run(DocumentType::Expense, &doc).unwrap();
    assert_eq!(
        amounts(&separate),
        [
            (LineRole::Expense, dec("100")),
            (LineRole::TaxReclaimable, dec("4")),
            (LineRole::TaxNonDeductible, dec("6")),
            (LineRole::EmployeePayable, dec("-110")),
        ]
    );
}

#[test]
fn empty_journal_account_falls_back_to_the_entry_clearing_account() {
    let doc = report_with(
        r#"[{"journalAccountCode": "  ", "journalPayer": "COMP", "journalPayee": "IBCP", "amountGross": 5}]"#,
        "[]",
        "5",
    );
    let entry = run(DocumentType::Expense, &doc).unwrap();
    assert_eq!(entry.lines()[0].account_code.as_deref(), Some("9999"));
    assert_eq!(entry.lines()[1].role, LineRole::PaymentTypeClearing);
    assert_eq!(entry.lines()[1].payment_code.as_deref(), Some("IBCP"));
    // Party lines carry the allocation's cost objects (a company segment may be needed).
    assert_eq!(entry.lines()[1].cost_objects[0].name.as_deref(), Some("Cost centre 1"));
}

#[test]
fn missing_amount_is_refused_with_its_path_and_advice() {
    let doc =
        report_with(r#"[{"journalAccountCode": "6000", "journalPayer": "COMP", "journalPayee": "EMPL"}]"#, "[]", "5");
    let err = run(DocumentType::Expense, &doc).unwrap_err();
    assert_eq!(
        err.problem,
        Problem::Missing { path: "document.expenseEntry[0].allocation[0].journal[0].amountGross".into() }
    );
    let message = err.to_string();
    assert!(message.contains("expense document 0123456789abcdef0123456789abcdef"), "{message}");
    assert!(message.contains("journal[0].amountGross is missing"), "{message}");
    assert!(message.contains("Nothing was posted"), "{message}");
    assert!(message.contains("error posting confirmation"), "{message}");
}

#[test]
fn missing_pieces_are_named() {
    let no_account = report_with(r#"[{"journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": 5}]"#, "[]", "5");
    let mut no_account = no_account;
    no_account["expenseEntry"][0]["clearingAccountCode"] = Value::Null;
    assert_eq!(
        problem(DocumentType::Expense, &no_account).path(),
        Some("document.expenseEntry[0].allocation[0].journal[0].journalAccountCode")
    );

    let mut no_employee = report_with(
        r#"[{"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": 5}]"#,
        "[]",
        "5",
    );
    no_employee["employee"] = parse(r#"{"employeeId": ""}"#);
    assert_eq!(problem(DocumentType::Expense, &no_employee).path(), Some("document.employee.employeeId"));

    let no_payee = report_with(r#"[{"journalAccountCode": "1", "journalPayer": "COMP", "amountGross": 5}]"#, "[]", "5");
    assert_eq!(
        problem(DocumentType::Expense, &no_payee).path(),
        Some("document.expenseEntry[0].allocation[0].journal[0].journalPayee")
    );

    let mut no_currency = no_payee.clone();
    no_currency["report"]["employeeCurrencyAlphaCode"] = Value::Null;
    assert_eq!(problem(DocumentType::Expense, &no_currency).path(), Some("document.report.employeeCurrencyAlphaCode"));

    let mut bad_currency = no_payee;
    bad_currency["report"]["employeeCurrencyAlphaCode"] = parse(r#""EURO""#);
    assert!(matches!(problem(DocumentType::Expense, &bad_currency), Problem::Invalid { .. }));

    let no_allocation = parse(
        r#"{"report": {"reportId": "R", "employeeCurrencyAlphaCode": "USD"}, "expenseEntry": [{"entryId": "E"}]}"#,
    );
    assert_eq!(problem(DocumentType::Expense, &no_allocation).path(), Some("document.expenseEntry[0].allocation"));
}

#[test]
fn entries_that_do_not_add_up_are_refused() {
    // The entry says 100 but its journals carry 90: a journal is missing.
    let short = report_with(
        r#"[{"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": 90}]"#,
        "[]",
        "100",
    );
    assert_eq!(problem(DocumentType::Expense, &short).path(), Some("document.expenseEntry[0].entryApprovedAmount"));

    let mut total = report_with(
        r#"[{"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": 90}]"#,
        "[]",
        "90",
    );
    total["report"]["totalApprovedAmount"] = parse("95");
    assert_eq!(problem(DocumentType::Expense, &total).path(), Some("document.report.totalApprovedAmount"));
}

#[test]
fn tax_rows_that_do_not_fit_are_refused() {
    let journal = |net: &str, guids: &str| {
        format!(
            r#"[{{"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL",
                 "amountGross": 119, "amountNetOfTax": {net}, "taxGuid": {guids}}}]"#
        )
    };
    let row = r#"[{"taxGuid": "T1", "amountTax": 19, "amountReclaim": 19}]"#;
    let wrong_net = report_with(&journal("90", r#"["T1"]"#), row, "119");
    assert_eq!(
        problem(DocumentType::Expense, &wrong_net).path(),
        Some("document.expenseEntry[0].allocation[0].journal[0].amountNetOfTax")
    );
    let unknown = report_with(&journal("100", r#"["T9"]"#), row, "119");
    assert!(problem(DocumentType::Expense, &unknown).to_string().contains("taxGuid T9 matches no row"));
    let twice = report_with(&journal("81", r#"["T1", "T1"]"#), row, "119");
    assert!(problem(DocumentType::Expense, &twice).to_string().contains("posted twice"));
    let reclaim_too_big = report_with(
        &journal("100", r#"["T1"]"#),
        r#"[{"taxGuid": "T1", "amountTax": 19, "amountReclaim": 20}]"#,
        "119",
    );
    assert_eq!(
        problem(DocumentType::Expense, &reclaim_too_big).path(),
        Some("document.expenseEntry[0].allocation[0].tax[0].amountReclaim")
    );
    let no_reclaim = report_with(&journal("100", r#"["T1"]"#), r#"[{"taxGuid": "T1", "amountTax": 19}]"#, "119");
    assert_eq!(
        problem(DocumentType::Expense, &no_reclaim).path(),
        Some("document.expenseEntry[0].allocation[0].tax[0].amountReclaim")
    );
}

#[test]
fn company_to_company_row_has_no_counterparty() {
    let doc = report_with(
        r#"[{"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "COMP", "amountGross": 5}]"#,
        "[]",
        "5",
    );
    assert!(problem(DocumentType::Expense, &doc).to_string().contains("no counterparty"));
}

#[test]
fn cash_advance_higher_than_expenses_leaves_the_employee_owing() {
    // §9.2: advance 300 > expenses 250: DR expenses 250 / DR employee 50 / CR clearing 300.
    let mut doc = report_with(
        r#"[{"journalAccountCode": "6000", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": 250}]"#,
        "[]",
        "250",
    );
    doc["report"]["cashAdvanceReturnsAmount"] = parse("50");
    doc["cashAdvanceApplication"] = parse(
        r#"[{"cashAdvanceId": "CA1", "cashAdvanceApplicationAmount": -300, "cashAdvanceClearingAccountCode": "CADV",
             "cashAdvanceTransactionType": 2}]"#,
    );
    let entry = run(DocumentType::Expense, &doc).unwrap();
    let employee_net: Decimal =
        entry.lines().iter().filter(|l| l.role == LineRole::EmployeePayable).map(|l| l.amount).sum();
    assert_eq!(employee_net, dec("50"), "the employee owes the returned cash");
    let clearing: Vec<_> = entry.lines().iter().filter(|l| l.role == LineRole::CashAdvanceClearing).collect();
    assert_eq!(clearing.len(), 1);
    assert_eq!(clearing[0].amount, dec("-300"));
    assert_eq!(clearing[0].account_code.as_deref(), Some("CADV"));
    assert_eq!(entry.header().cash_advance_returns, Some(dec("50")));
    assert_eq!(entry.total(), dec("550"));
}

#[test]
fn offsets_route_part_of_a_cash_entry_to_the_card() {
    // §9.2 IBCP with offsets (P ≤ O): the out-of-pocket entry is split
    // between the employee (O − P) and the card (P).
    let doc = report_with(
        r#"[{"journalAccountCode": "6000", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": 21},
            {"journalAccountCode": "6000", "journalPayer": "COMP", "journalPayee": "IBCP", "amountGross": 14}]"#,
        "[]",
        "35",
    );
    let entry = run(DocumentType::Expense, &doc).unwrap();
    let party: Vec<_> = entry
        .lines()
        .iter()
        .filter(|l| l.account_code.is_none())
        .map(|l| (l.payment_code.clone().unwrap(), l.amount))
        .collect();
    assert_eq!(party, [("EMPL".to_owned(), dec("-21")), ("IBCP".to_owned(), dec("-14"))]);
}

#[test]
fn amounts_are_exact_decimals_from_their_text() {
    // 0.1 + 0.2 is not 0.3 in f64; here it must be. Exponent and string forms too.
    let doc = report_with(
        r#"[{"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": 0.1},
            {"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": "0.2"},
            {"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": 0E-8},
            {"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": 1.00000001e1}]"#,
        "[]",
        "10.3000001",
    );
    let entry = run(DocumentType::Expense, &doc).unwrap();
    assert_eq!(entry.total(), dec("10.3000001"));
    assert_eq!(entry.lines().len(), 6, "the 0E-8 journal posts nothing");

    // More digits than a decimal holds exactly: refused, never rounded.
    let too_precise = report_with(
        r#"[{"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL",
             "amountGross": 1.00000000000000000000000000001}]"#,
        "[]",
        "1",
    );
    assert!(matches!(problem(DocumentType::Expense, &too_precise), Problem::Invalid { .. }));
}

/// Only Concur's documented forms (§8.4) are amounts: a blank, a sign `+`,
/// a ninth decimal or a float spelling is refused with the field's path,
/// never trimmed or rounded into something Concur did not send.
#[test]
fn hostile_amount_texts_are_refused_with_their_path() {
    let path = "document.expenseEntry[0].allocation[0].journal[0].amountGross";
    for hostile in [
        r#"" 12.5""#,
        r#""12.5 ""#,
        "12.345678901",
        r#""12.345678901""#,
        "1.5E-8",
        r#""+12.5""#,
        r#""1,5""#,
        r#""NaN""#,
        r#""Infinity""#,
        r#"".5""#,
        r#""5.""#,
        r#""0x10""#,
        r#""1E+999""#,
        r#""""#,
        "true",
    ] {
        let doc = report_with(
            &format!(
                r#"[{{"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": {hostile}}}]"#
            ),
            "[]",
            "null",
        );
        let refused = problem(DocumentType::Expense, &doc);
        assert_eq!(refused.path(), Some(path), "{hostile} must be refused: {refused}");
    }
    for fine in ["50.00000000", "0.00000001", r#""200.00000000""#, "1E+2", "-12.5", "1.5E-7"] {
        let doc = report_with(
            &format!(
                r#"[{{"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": {fine}}}]"#
            ),
            "[]",
            "null",
        );
        assert!(run(DocumentType::Expense, &doc).is_ok(), "{fine} is one of Concur's forms");
    }
}

#[test]
fn overflowing_amounts_are_refused_not_panicked() {
    let max = "79228162514264337593543950335";
    let doc = report_with(
        &format!(
            r#"[{{"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": {max}}},
                {{"journalAccountCode": "1", "journalPayer": "COMP", "journalPayee": "EMPL", "amountGross": {max}}}]"#
        ),
        "[]",
        "null",
    );
    assert!(matches!(problem(DocumentType::Expense, &doc), Problem::Inconsistent { .. }));
}

#[test]
fn a_report_without_amounts_is_nothing_to_post() {
    let doc = parse(r#"{"report": {"reportId": "R", "employeeCurrencyAlphaCode": "USD"}, "expenseEntry": []}"#);
    let err = run(DocumentType::Expense, &doc).unwrap_err();
    assert_eq!(err.problem, Problem::Entry(EntryError::Empty));
    assert!(err.to_string().contains("confirm it to Concur without an ERP document"));
}

fn cash_advance(rows: &str) -> Value {
    parse(&format!(
        r#"{{"employeeData": {{"employeeId": "E1"}},
            "cashAdvanceData": {{"cashAdvanceId": "CA1", "name": "Trip", "currencyAlphaCode": "USD",
                                 "employeeCurrencyAlphaCode": "USD", "requestAmount": 40}},
            "journalData": {rows}}}"#
    ))
}

#[test]
fn cash_advance_side_and_sign_must_agree() {
    let returned = cash_advance(
        r#"[{"amount": -40, "debitOrCredit": "CR", "accountCode": "CADV", "payer": "EMPL", "payee": "COMP"}]"#,
    );
    let entry = run(DocumentType::CashAdvance, &returned).unwrap();
    assert_eq!(amounts(&entry), [(LineRole::CashAdvanceClearing, dec("-40")), (LineRole::EmployeePayable, dec("40"))]);

    let contradictory = cash_advance(
        r#"[{"amount": -40, "debitOrCredit": "DR", "accountCode": "CADV", "payer": "COMP", "payee": "EMPL"}]"#,
    );
    assert_eq!(problem(DocumentType::CashAdvance, &contradictory).path(), Some("document.journalData[0].amount"));

    let no_account = cash_advance(r#"[{"amount": 40, "debitOrCredit": "DR", "payer": "COMP", "payee": "EMPL"}]"#);
    assert_eq!(problem(DocumentType::CashAdvance, &no_account).path(), Some("document.journalData[0].accountCode"));

    let no_employee = parse(
        r#"{"cashAdvanceData": {"cashAdvanceId": "CA1", "employeeCurrencyAlphaCode": "USD"},
            "journalData": [{"amount": 40, "debitOrCredit": "DR", "accountCode": "CADV", "payer": "COMP", "payee": "EMPL"}]}"#,
    );
    assert_eq!(problem(DocumentType::CashAdvance, &no_employee).path(), Some("document.employeeData.employeeId"));
}

/// The journal must move what the advance is (the total the document
/// carries), converted at its `exchangeRate` when the currencies differ.
#[test]
fn cash_advance_journal_is_checked_against_the_advance() {
    let more = cash_advance(
        r#"[{"amount": 400, "debitOrCredit": "DR", "accountCode": "CADV", "payer": "COMP", "payee": "EMPL"}]"#,
    );
    let refused = problem(DocumentType::CashAdvance, &more);
    assert_eq!(refused.path(), Some("document.cashAdvanceData.requestAmount"), "{refused}");
    assert!(refused.to_string().contains("moves 400 USD"), "{refused}");

    let converted = |journal: &str| {
        parse(&format!(
            r#"{{"employeeData": {{"employeeId": "E1"}},
                "cashAdvanceData": {{"cashAdvanceId": "CA1", "currencyAlphaCode": "USD", "requestAmount": 40,
                                     "employeeCurrencyAlphaCode": "GBP", "exchangeRate": 0.78125}},
                "journalData": [{{"amount": {journal}, "debitOrCredit": "DR", "accountCode": "CADV",
                                  "payer": "COMP", "payee": "EMPL"}}]}}"#
        ))
    };
    assert!(run(DocumentType::CashAdvance, &converted("31.25")).is_ok());
    let off = problem(DocumentType::CashAdvance, &converted("31.26"));
    assert_eq!(off.path(), Some("document.cashAdvanceData.requestAmount"), "{off}");
}

/// An advance's currency that is not a currency code is refused, not read as
/// "the posting currency" (found by the bad-input corpus); an absent one is.
#[test]
fn cash_advance_currency_must_be_a_code_when_given() {
    let rows = r#"[{"amount": 40, "debitOrCredit": "DR", "accountCode": "CADV", "payer": "COMP", "payee": "EMPL"}]"#;
    let mut doc = cash_advance(rows);
    doc["cashAdvanceData"]["currencyAlphaCode"] = "US$".into();
    let refused = problem(DocumentType::CashAdvance, &doc);
    assert_eq!(refused.path(), Some("document.cashAdvanceData.currencyAlphaCode"), "{refused}");
    doc["cashAdvanceData"]["currencyAlphaCode"] = Value::Null;
    assert!(run(DocumentType::CashAdvance, &doc).is_ok());
}

/// Shaped after the inline invoice sample of financial-integration-v4.md §8.2.
fn invoice(request_total: &str, tax: &str) -> Value {
    parse(&format!(
        r#"{{
          "requestHeader": {{"requestId": "9B1D30723CBF4F86A574", "requestTitle": "Office supplies",
                            "currencyAlphaCode": "USD", "requestTotal": {request_total}, "ledgerCode": "DEFAULT",
                            "revisionNumber": "1"}},
          "ownerEmployee": {{"employeeId": "E1"}},
          "vendor": {{"vendorCode": "V100  ", "vendorRemitToAddressCode": "R1"}},
          "lineItem": [{{
            "lineItemSequenceOrder": 1, "lineItemDescription": "Paper", "expenseTypeCode": "2000   ",
            "allocation": [{{"allocationKey": 7, "allocationCustom1Code": "CC1",
              "journal": {{"accountCode": "MATER", "amountNet": 40, "amountShipping": 5, "amountGross": 50,
                          "tax": {tax}}}}}]
          }}]
        }}"#
    ))
}

#[test]
fn invoice_posts_lines_and_one_vendor_credit() {
    let entry =
        run(DocumentType::Invoice, &invoice("50", r#"{"amountTax": 5, "taxCode": "T5", "taxField": "VAT1"}"#)).unwrap();
    assert_eq!(
        amounts(&entry),
        [(LineRole::Expense, dec("45")), (LineRole::InvoiceTax, dec("5")), (LineRole::VendorPayable, dec("-50"))]
    );
    let header = entry.header();
    assert_eq!(header.vendor_code.as_deref(), Some("V100"), "codes are trimmed");
    assert_eq!(header.vendor_remit_to.as_deref(), Some("R1"));
    assert_eq!(entry.lines()[0].expense_type_code.as_deref(), Some("2000"));
    assert_eq!(entry.lines()[0].source.allocation_id.as_deref(), Some("7"));

    let no_tax = run(DocumentType::Invoice, &invoice("50", "null"));
    assert!(no_tax.is_err(), "net 40 + shipping 5 without tax does not make 50");
    let mismatch = invoice("60", r#"{"amountTax": 5}"#);
    assert_eq!(problem(DocumentType::Invoice, &mismatch).path(), Some("document.requestHeader.requestTotal"));
    let mut no_vendor = invoice("50", r#"{"amountTax": 5}"#);
    no_vendor["vendor"]["vendorCode"] = Value::Null;
    assert_eq!(problem(DocumentType::Invoice, &no_vendor).path(), Some("document.vendor.vendorCode"));
}

#[test]
fn an_invoice_names_the_purchase_orders_its_lines_reference_each_once() {
    let mut doc = invoice("50", r#"{"amountTax": 5, "taxCode": "T5", "taxField": "VAT1"}"#);
    assert!(run(DocumentType::Invoice, &doc).unwrap().header().purchase_orders.is_empty());
    let line = doc["lineItem"][0].clone();
    doc["lineItem"][0]["lineItemPurchaseOrderNumber"] = Value::String(" PO-1 ".into());
    let mut second = line.clone();
    second["lineItemPurchaseOrderNumber"] = Value::String("PO-1".into());
    let mut third = line;
    third["lineItemPurchaseOrderNumber"] = Value::String("PO-2".into());
    doc["lineItem"].as_array_mut().unwrap().extend([second, third]);
    doc["requestHeader"]["requestTotal"] = serde_json::json!(150);
    let entry = run(DocumentType::Invoice, &doc).unwrap();
    assert_eq!(entry.header().purchase_orders, ["PO-1", "PO-2"]);
}

#[test]
fn wrong_document_type_is_refused_not_guessed() {
    let doc = cash_advance(r#"[]"#);
    assert_eq!(problem(DocumentType::Expense, &doc).path(), Some("document.report"));
    assert_eq!(problem(DocumentType::Invoice, &doc).path(), Some("document.requestHeader"));
}

#[test]
fn garbage_never_panics() {
    let garbage = [
        "null",
        "[]",
        "{}",
        "\"report\"",
        "12",
        "true",
        r#"{"report": 5}"#,
        r#"{"report": {"reportId": [], "employeeCurrencyAlphaCode": {}}}"#,
        r#"{"report": {"reportId": "R", "employeeCurrencyAlphaCode": "USD"}, "expenseEntry": {"a": 1}}"#,
        r#"{"report": {"reportId": "R", "employeeCurrencyAlphaCode": "USD"}, "expenseEntry": [null, 3]}"#,
        r#"{"report": {"reportId": "R", "employeeCurrencyAlphaCode": "USD"}, "expenseEntry": [{"allocation": [{"journal": [{"amountGross": 1e999999999}]}]}]}"#,
        r#"{"report": {"reportId": "R", "employeeCurrencyAlphaCode": "USD"}, "expenseEntry": [{"allocation": [{"journal": [{"amountGross": -0E-99999}]}]}]}"#,
        r#"{"cashAdvanceData": "x", "journalData": 1}"#,
        r#"{"requestHeader": [], "vendor": null, "lineItem": "x"}"#,
    ];
    for text in garbage {
        for doc_type in DocumentType::ALL {
            let result = normalize_json(doc_type, &id(), text, &NormalizeOptions::default());
            assert!(result.is_err(), "{doc_type} {text} must be refused");
        }
    }
    for text in ["", "{", "not json", "{\"report\": 1e}"] {
        let err = normalize_json(DocumentType::Expense, &id(), text, &NormalizeOptions::default()).unwrap_err();
        assert_eq!(err.problem.path(), Some("document"));
    }
}

/// Every field of every example, replaced by each hostile value in turn:
/// the normalizer either refuses or yields a balanced entry, and never panics.
#[test]
fn mutated_examples_never_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/fi-examples");
    let hostile: Vec<Value> =
        ["null", "\"\"", "\"x\"", "-1", "0", "1e400", "79228162514264337593543950335", "[]", "{}"]
            .iter()
            .map(|t| parse(t))
            .collect();
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    let mut runs = 0usize;
    for file in files {
        let page = parse(&std::fs::read_to_string(&file).unwrap());
        let fi = &page["fIDocuments"][0];
        let doc_type: DocumentType = fi["docType"].as_str().unwrap().parse().unwrap();
        let document = fi["document"].clone();
        let mut pointers = Vec::new();
        collect_pointers(&document, String::new(), &mut pointers);
        for pointer in &pointers {
            for value in &hostile {
                let mut mutated = document.clone();
                *mutated.pointer_mut(pointer).unwrap() = value.clone();
                if let Ok(entry) = run(doc_type, &mutated) {
                    let sum: Decimal = entry.lines().iter().map(|l| l.amount).sum();
                    assert!(sum.is_zero(), "{} {pointer}", file.display());
                }
                runs += 1;
            }
        }
    }
    assert!(runs > 10_000, "only {runs} mutations ran");
}

fn collect_pointers(value: &Value, at: String, out: &mut Vec<String>) {
    // Custom fields that are null everywhere add runs but no coverage.
    if value.is_null() {
        return;
    }
    if !at.is_empty() {
        out.push(at.clone());
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                collect_pointers(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn truncated_json_never_panics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/fi-examples");
    let text = std::fs::read_to_string(dir.join("FI-API-ReportID-0EE74C75C9344DEA942F-Example-2.3.json")).unwrap();
    let page = parse(&text);
    let document = page["fIDocuments"][0]["document"].to_string();
    for cut in (0..document.len()).step_by(61).filter(|&c| document.is_char_boundary(c)) {
        assert!(normalize_json(DocumentType::Expense, &id(), &document[..cut], &NormalizeOptions::default()).is_err());
    }
}
