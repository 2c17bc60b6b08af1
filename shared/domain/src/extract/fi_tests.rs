//! Extract documents → FI documents → the one normalizer: each compared with the FIS document that says the
//! same, plus the file-level refusals of cells the mapping reads.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::ids::{ConcurDocumentId, DocumentType};
use crate::journal::{JournalEntry, LineRole};
use crate::normalize::{NormalizeOptions, normalize};

/// A detail row of `layout` with the given (position, value) pairs.
fn row(layout: &Layout, values: &[(u16, &str)]) -> String {
    let width = values.iter().map(|(position, _)| usize::from(*position)).max().unwrap_or(1);
    let mut fields = vec![""; width];
    fields[0] = layout.detail_marker;
    for (position, value) in values {
        fields[usize::from(*position) - 1] = value;
    }
    fields.join(",")
}

/// The documents of a file whose header the rows are counted and summed into.
fn file_documents(layout: &Layout, rows: &[String]) -> Result<Vec<FileDocument>, ExtractError> {
    let total: Decimal = rows
        .iter()
        .map(|r| {
            let field = r.split(',').nth(usize::from(layout.journal_amount) - 1).unwrap_or("0");
            Decimal::from_str(field.trim_start_matches('+')).unwrap_or_default()
        })
        .sum();
    let header = match layout.kind {
        ExtractKind::Sae => format!("EXTRACT,2024-03-01,{},{total},1", rows.len()),
        ExtractKind::Prae => format!("Extract,1,2024/03/01,{},{total}", rows.len()),
    };
    let file = format!("{header}\n{}\n", rows.join("\n"));
    let reader = ExtractReader::new(file.as_bytes(), ExtractOptions::default())?;
    Documents::new(reader).map(|document| FileDocument::from_rows(&document?)).collect()
}

/// What an ERP receives of a line: everything but where it came from and the list items' names (which the
/// files do not carry).
fn posted(entry: &JournalEntry) -> Vec<String> {
    entry
        .lines()
        .iter()
        .map(|l| {
            let objects: Vec<&str> = l.cost_objects.iter().map(|c| c.code.as_str()).collect();
            format!(
                "{:?} {} {:?} {:?} {:?}/{:?} {:?} {:?} {objects:?}",
                l.role,
                l.amount.normalize(),
                l.account_code,
                l.payment_code,
                l.payer,
                l.payee,
                l.employee_id,
                l.tax
            )
        })
        .collect()
}

fn fis(doc_type: DocumentType, id: &str, document: serde_json::Value) -> JournalEntry {
    let id = ConcurDocumentId::parse(id).expect("id");
    normalize(doc_type, &id, &document, &NormalizeOptions::default()).expect("the FIS document normalizes")
}

/// A report whose one journal carries two taxes (FI example 2.3's shape), and a cash advance applied to it.
fn report_rows() -> Vec<String> {
    let report: &[(u16, &str)] =
        &[(5, "E1"), (19, "RPT23"), (20, "5160"), (21, "DEFAULT"), (22, "CAD"), (27, "Trip"), (61, "4291")];
    let with = |extra: &[(u16, &str)]| row(&SAE, &[report, extra].concat());
    vec![
        with(&[
            (189, "1"),
            (191, "CC1"),
            (170, "10"),
            (164, "COMP"),
            (166, "EMPL"),
            (167, "400"),
            (169, "+100.00"),
            (247, "88.50"),
            (158, "CA"),
            (226, "CAGST"),
            (228, "4.42"),
            (231, "0"),
            (232, "JC2E"),
            (238, "TM"),
        ]),
        with(&[
            (189, "1"),
            (191, "CC1"),
            (170, "10"),
            (164, "COMP"),
            (166, "EMPL"),
            (167, "400"),
            (169, "0"),
            (158, "CA"),
            (226, "CAPMB"),
            (228, "7.08"),
            (231, "3.54"),
            (232, "JC1U"),
            (238, "TM"),
        ]),
        with(&[(189, "1"), (170, "11"), (164, "COMP"), (166, "EMPL"), (167, "400"), (169, "-100.00")]),
        with(&[(185, "2"), (187, "77"), (164, "EMPL"), (166, "COMP"), (167, "CADV"), (169, "-30")]),
    ]
}

fn report_as_fis() -> serde_json::Value {
    json!({
        "report": {"reportId": "RPT23", "ledgerCode": "DEFAULT", "employeeCurrencyAlphaCode": "CAD", "reportName": "Trip"},
        "employee": {"employeeId": "E1"},
        "expenseEntry": [{
            "entryId": "4291",
            "allocation": [{
                "allocationId": "1", "allocationCustom1Code": "CC1",
                "journal": [
                    {"journalPayer": "COMP", "journalPayee": "EMPL", "journalAccountCode": "400",
                     "amountGross": 100, "amountNetOfTax": 88.5, "taxGuid": ["G1", "G2"]},
                    {"journalPayer": "COMP", "journalPayee": "EMPL", "journalAccountCode": "400", "amountGross": -100}
                ],
                "tax": [
                    {"taxGuid": "G1", "taxAuthorityLabel": "CAGST", "amountTax": 4.42, "amountReclaim": 0,
                     "taxCode": "JC2E", "taxReclaimCode": "TM", "locationCountryCode": "CA"},
                    {"taxGuid": "G2", "taxAuthorityLabel": "CAPMB", "amountTax": 7.08, "amountReclaim": 3.54,
                     "taxCode": "JC1U", "taxReclaimCode": "TM", "locationCountryCode": "CA"}
                ]
            }]
        }],
        "cashAdvanceApplication": [
            {"cashAdvanceApplicationAmount": -30, "cashAdvanceClearingAccountCode": "CADV", "cashAdvanceId": "X"}
        ]
    })
}

#[test]
fn extract_sae_report_posts_what_the_fis_report_posts() {
    let documents = file_documents(&SAE, &report_rows()).expect("the file adds up");
    assert_eq!(documents.len(), 1);
    let document = &documents[0];
    assert_eq!(
        (document.doc_type, document.business_id.as_str(), document.rows),
        (DocumentType::Expense, "RPT23", (2, 5))
    );
    let from_file = document.normalize(&NormalizeOptions::default()).expect("normalizes");
    let from_fis = fis(DocumentType::Expense, "RPT23", report_as_fis());
    assert_eq!(posted(&from_file), posted(&from_fis));
    assert_eq!(from_file.header().business_id, "RPT23");
    let tax_rows: Vec<&str> =
        from_file.lines().iter().filter(|l| l.tax.is_some()).map(|l| l.source.path.as_str()).collect();
    assert!(tax_rows.iter().any(|p| p.starts_with("row 3")), "the second tax names its own row: {tax_rows:?}");
}

#[test]
fn extract_sae_cash_advance_issuance_rows_are_a_cash_advance_document() {
    let employee: &[(u16, &str)] = &[(5, "E1"), (22, "USD")];
    let issuance = [
        (185, "1"),
        (187, "77"),
        (259, "TechEd"),
        (177, "300"),
        (178, "USD"),
        (180, "1"),
        (181, "USD"),
        (164, "COMP"),
        (166, "EMPL"),
        (167, "CASH"),
        (168, "DR"),
        (169, "+300.00"),
        (184, "Cash"),
    ];
    let rows = vec![row(&SAE, &[employee, &issuance].concat())];
    let documents = file_documents(&SAE, &rows).expect("adds up");
    let document = &documents[0];
    assert_eq!((document.doc_type, document.business_id.as_str()), (DocumentType::CashAdvance, "CAKEY77"));
    let from_file = document.normalize(&NormalizeOptions::default()).expect("normalizes");
    let from_fis = fis(
        DocumentType::CashAdvance,
        "CAKEY77",
        json!({
            "cashAdvanceData": {"cashAdvanceId": "CAKEY77", "name": "TechEd", "requestAmount": 300,
                                "currencyAlphaCode": "USD", "exchangeRate": 1, "employeeCurrencyAlphaCode": "USD"},
            "employeeData": {"employeeId": "E1"},
            "journalData": [{"amount": 300, "debitOrCredit": "DR", "accountCode": "CASH", "payer": "COMP",
                             "payee": "EMPL", "paymentCode": "Cash"}]
        }),
    );
    assert_eq!(posted(&from_file), posted(&from_fis));
    assert_eq!(from_file.lines()[0].role, LineRole::CashAdvanceClearing);
}

#[test]
fn extract_prae_request_posts_what_the_fis_invoice_posts() {
    let head: &[(u16, &str)] = &[
        (2, "9001"),
        (4, "Office"),
        (10, "238.00"),
        (51, "REQ1"),
        (59, "DEFAULT"),
        (65, "EUR"),
        (94, "E7"),
        (165, "V100"),
    ];
    let rows = vec![
        row(
            &PRAE,
            &[
                head,
                &[
                    (132, "1"),
                    (133, "Desk"),
                    (89, "1"),
                    (69, "CC1"),
                    (61, "6000"),
                    (62, "100.00"),
                    (63, "119.00"),
                    (212, "19.00"),
                    (213, "VAT19"),
                ],
            ]
            .concat(),
        ),
        row(
            &PRAE,
            &[head, &[(132, "2"), (133, "Chair"), (89, "2"), (61, "6000"), (58, "10"), (62, "109.00"), (63, "119.00")]]
                .concat(),
        ),
    ];
    let documents = file_documents(&PRAE, &rows).expect("adds up");
    let document = &documents[0];
    assert_eq!((document.doc_type, document.business_id.as_str()), (DocumentType::Invoice, "REQ1"));
    let from_file = document.normalize(&NormalizeOptions::default()).expect("normalizes");
    let from_fis = fis(
        DocumentType::Invoice,
        "REQ1",
        json!({
            "requestHeader": {"requestId": "REQ1", "requestTitle": "Office", "currencyAlphaCode": "EUR",
                              "ledgerCode": "DEFAULT", "requestTotal": 238},
            "vendor": {"vendorCode": "V100"},
            "ownerEmployee": {"employeeId": "E7"},
            "lineItem": [
                {"lineItemSequenceOrder": "1", "lineItemDescription": "Desk", "allocation": [{"allocationKey": "1",
                  "allocationCustom1Code": "CC1", "journal": [{"accountCode": "6000", "amountGross": 119, "amountNet": 100,
                  "tax": [{"amountTax": 19, "taxCode": "VAT19"}]}]}]},
                {"lineItemSequenceOrder": "2", "lineItemDescription": "Chair", "allocation": [{"allocationKey": "2",
                  "journal": [{"accountCode": "6000", "amountGross": 119, "amountNet": 109, "amountShipping": 10}]}]}
            ]
        }),
    );
    assert_eq!(posted(&from_file), posted(&from_fis));
}

/// A COMP → EMPL journal row of report `report_id` (Report Key `key`) on `account` (empty: left out).
fn journal_row(report_id: &str, key: &str, journal: &str, account: &str, amount: &str) -> String {
    let mut values = vec![(5, "E1"), (19, report_id), (20, key), (22, "USD"), (61, "1"), (189, "1"), (170, journal)];
    values.extend([(164, "COMP"), (166, "EMPL"), (169, amount)]);
    if !account.is_empty() {
        values.push((167, account));
    }
    row(&SAE, &values)
}

#[test]
fn extract_a_refused_document_names_its_file_row() {
    // The second journal has no account: the normalizer's refusal points at row 3, not at a JSON path.
    let rows = vec![journal_row("R1", "1", "1", "400", "10"), journal_row("R1", "1", "2", "", "-10")];
    let documents = file_documents(&SAE, &rows).expect("adds up");
    let refusal = documents[0].normalize(&NormalizeOptions::default()).expect_err("no account on row 3");
    let message = refusal.to_string();
    assert!(message.contains("row 3") && message.contains("journalAccountCode"), "{message}");
}

#[test]
fn extract_cells_the_mapping_reads_refuse_the_file_with_row_and_column() {
    let base: &[(u16, &str)] = &[(19, "R1"), (20, "1"), (61, "1"), (189, "1"), (170, "1"), (169, "0")];
    let bad_money = vec![row(&SAE, &[base, &[(247, "12.5O")]].concat())];
    match file_documents(&SAE, &bad_money) {
        Err(ExtractError::NotANumber { at, .. }) => {
            assert_eq!((at.row, at.position, at.name), (2, 247, "Net Tax Amount"))
        }
        other => panic!("unexpected {other:?}"),
    }
    let bad_key = vec![row(&SAE, &[(20, "1"), (185, "1"), (187, "7A"), (169, "0")])];
    assert!(matches!(file_documents(&SAE, &bad_key), Err(ExtractError::NotANumber { at, .. }) if at.position == 187));
    let no_report_id = vec![row(&SAE, base).replacen(",R1,", ",,", 1)];
    assert!(
        matches!(file_documents(&SAE, &no_report_id), Err(ExtractError::BadDocumentId { at, .. }) if at.position == 19)
    );
    let continued_with_amount = vec![
        row(&SAE, &[(19, "R1"), (20, "1"), (61, "1"), (189, "1"), (170, "1"), (169, "5")]),
        row(&SAE, &[(19, "R1"), (20, "1"), (61, "1"), (189, "1"), (170, "1"), (169, "-5")]),
    ];
    match file_documents(&SAE, &continued_with_amount) {
        Err(ExtractError::Inconsistent { at, detail }) => {
            assert_eq!((at.row, at.position), (3, 169));
            assert!(detail.contains("row 2"), "{detail}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn extract_issuance_and_report_rows_with_the_same_key_are_two_documents() {
    let rows = vec![
        journal_row("R77", "77", "1", "400", "10"),
        journal_row("R77", "77", "2", "400", "-10"),
        row(
            &SAE,
            &[
                (5, "E1"),
                (185, "1"),
                (187, "77"),
                (181, "USD"),
                (164, "COMP"),
                (166, "EMPL"),
                (167, "CASH"),
                (168, "DR"),
                (169, "5"),
            ],
        ),
    ];
    let kinds: Vec<(DocumentType, String)> = file_documents(&SAE, &rows)
        .expect("adds up")
        .into_iter()
        .map(|d| (d.doc_type, d.business_id.as_str().to_owned()))
        .collect();
    assert_eq!(kinds, [(DocumentType::Expense, "R77".to_owned()), (DocumentType::CashAdvance, "CAKEY77".to_owned())]);
}
