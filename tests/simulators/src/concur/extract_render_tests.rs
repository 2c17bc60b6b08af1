use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::macros::date;

use super::*;

macro_rules! example {
    ($file:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/fi-examples/", $file))
    };
}

const SINGLE_TAX_2_1: &str = example!("FI-API-ReportID-F071FADEA6B142DD884A-Example-2.1.json");
const TWO_TAXES_2_3: &str = example!("FI-API-ReportID-0EE74C75C9344DEA942F-Example-2.3.json");
const APPLIED_5_2_1: &str = example!("FI-API-ReportID-14A40453BED6493EB53F-Example-5.2.1.json");
const ADVANCE_5_2_1: &str = example!("FI-API-CashAdvanceID-2E6DA12BB8B87D468BD666383E44033D-Example-5.2.1.json");
const ADVANCE_5_1_1: &str = example!("FI-API-CashAdvanceID-E2A086D30B88AE4683BC48ADE47B8116-Example-5.1.1.json");
const PERSONAL_CARD_6_2_1: &str = example!("FI-API-ReportID-15298B27B5FC4EBC98B3-Example-6.2.1.json");

const SPEC: FileSpec = FileSpec { batch_id: 7, batch_date: date!(2024 - 05 - 31), delimiter: Delimiter::Comma };

/// The inner `document` of an example file.
fn document(example: &str) -> Value {
    let parsed: Value = serde_json::from_str(example).expect("example JSON");
    parsed["fIDocuments"][0]["document"].clone()
}

/// Splits one record as the connector's reader does (RFC 4180 quoting).
fn fields(line: &str, delimiter: char) -> Vec<String> {
    let (mut out, mut field, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, c) if c == delimiter => out.push(std::mem::take(&mut field)),
            (_, c) => field.push(c),
        }
    }
    out.push(field);
    out
}

/// Header fields and detail rows (1-based access through `col`).
fn parse(file: &str, delimiter: char) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = file.lines();
    let header = fields(lines.next().expect("header"), delimiter);
    (header, lines.map(|l| fields(l, delimiter)).collect())
}

fn col(row: &[String], column: usize) -> &str {
    &row[column - 1]
}

fn sum(rows: &[Vec<String>], column: usize) -> Decimal {
    rows.iter().map(|r| Decimal::from_str_exact(col(r, column)).expect("amount")).sum()
}

#[test]
fn sae_header_counts_and_totals_its_rows() {
    let docs = [document(SINGLE_TAX_2_1), document(TWO_TAXES_2_3), document(APPLIED_5_2_1), document(ADVANCE_5_2_1)];
    let file = render_sae(&docs.iter().collect::<Vec<_>>(), &SPEC);
    let (header, rows) = parse(&file, ',');
    assert_eq!(header[..3], ["EXTRACT", "2024-05-31", &rows.len().to_string()]);
    assert_eq!(header[4], "7");
    assert_eq!(Decimal::from_str_exact(&header[3]).unwrap(), sum(&rows, 169));
    assert!(rows.iter().all(|r| r.len() == SAE_COLUMNS && r[0] == "DETAIL" && r[1] == "7" && r[2] == "2024-05-31"));
    let sequence: Vec<String> = rows.iter().map(|r| col(r, 4).to_owned()).collect();
    assert_eq!(sequence, (1..=rows.len()).map(|n| n.to_string()).collect::<Vec<_>>());
    let journal_keys: std::collections::BTreeSet<&str> = rows.iter().map(|r| col(r, 170)).collect();
    assert_eq!(journal_keys.len(), rows.len() - 1, "only the second tax of 2.3 shares a journal key");
}

#[test]
fn an_empty_sae_is_a_header_with_no_rows() {
    assert_eq!(render_sae(&[], &SPEC), "EXTRACT,2024-05-31,0,0,7\n");
    let prae = FileSpec { delimiter: Delimiter::Pipe, ..SPEC };
    assert_eq!(render_prae(&[], &prae), "Extract|7|2024/05/31|0|0\n");
}

#[test]
fn report_entry_allocation_and_journal_columns_follow_the_docs_table() {
    let doc = document(SINGLE_TAX_2_1);
    let (_, rows) = parse(&render_sae(&[&doc], &SPEC), ',');
    let [row] = rows.as_slice() else { panic!("one journal: {rows:?}") };
    let report = &doc["report"];
    let entry = &doc["expenseEntry"][0];
    let journal = &entry["allocation"][0]["journal"][0];
    assert_eq!(col(row, 19), report["reportId"].as_str().unwrap());
    assert_eq!(col(row, 20), report["reportKey"].to_string());
    assert_eq!(col(row, 22), "EUR");
    assert_eq!(col(row, 5), doc["employee"]["employeeId"].as_str().unwrap());
    assert_eq!(col(row, 61), entry["legacyEntryId"].to_string());
    assert_eq!(col(row, 63), entry["expenseTypeName"].as_str().unwrap());
    assert_eq!(col(row, 126), entry["reportEntryPatKey"].as_str().unwrap());
    assert_eq!(col(row, 167), journal["journalAccountCode"].as_str().unwrap());
    assert_eq!((col(row, 164), col(row, 166)), ("COMP", "EMPL"));
    assert_eq!(col(row, 169), journal["amountGross"].to_string());
    assert_eq!(col(row, 226), "DEVAT");
    assert_eq!(col(row, 185), "", "an expense journal is no cash advance row");
    assert_eq!(col(row, 189), "1");
    let custom1 = entry["allocation"][0]["allocationCustom1Code"].as_str().unwrap_or("");
    assert_eq!(col(row, 191), custom1);
    assert_eq!(col(row, 62), "", "columns the docs table does not name stay empty");
}

#[test]
fn a_journal_with_two_taxes_continues_on_a_zero_row_of_the_same_journal_key() {
    let doc = document(TWO_TAXES_2_3);
    let (header, rows) = parse(&render_sae(&[&doc], &SPEC), ',');
    let [first, second] = rows.as_slice() else { panic!("two rows: {rows:?}") };
    assert_eq!(header[2], "2", "every row is counted");
    assert_eq!(header[3], "100");
    assert_eq!(col(first, 170), col(second, 170));
    assert_eq!((col(first, 169), col(second, 169)), ("100", "0"));
    assert_eq!((col(first, 226), col(second, 226)), ("CAGST", "CAPMB"));
    assert_eq!((col(first, 228), col(second, 228)), ("4.42", "7.08"), "FI decimals kept exactly");
    assert_eq!((col(first, 231), col(second, 231)), ("0", "3.54"));
    assert_eq!((col(first, 232), col(second, 232)), ("JC2E", "JC1U"));
    assert_eq!((col(first, 247), col(second, 247)), ("88.5", ""), "amounts only on the first row");
    assert_eq!(col(first, 18), "96.46");
    for column in [20, 61, 164, 166, 167, 189] {
        assert_eq!(col(first, column), col(second, column), "column {column}");
    }
}

#[test]
fn a_cash_advance_is_type_1_rows_signed_by_debit_or_credit() {
    let doc = document(ADVANCE_5_1_1);
    let mut credit = doc.clone();
    credit["journalData"][0]["debitOrCredit"] = json!("CR");
    let mut keys = CashAdvanceKeys::default();
    let (header, rows) = parse(&render_sae_keyed(&[&doc, &credit], &SPEC, &mut keys), ',');
    let [issued, returned] = rows.as_slice() else { panic!("{rows:?}") };
    assert_eq!(header[3], "0");
    assert_eq!(col(issued, 185), "1");
    assert_eq!(col(issued, 187), "1");
    assert_eq!(keys.get("E2A086D30B88AE4683BC48ADE47B8116"), Some(1));
    assert_eq!((col(issued, 169), col(issued, 168)), ("7000", "DR"));
    assert_eq!((col(returned, 169), col(returned, 168)), ("-7000", "CR"));
    assert_eq!((col(issued, 164), col(issued, 166), col(issued, 167)), ("COMP", "EMPL", "CASH"));
    assert_eq!((col(issued, 184), col(issued, 259)), ("Cash", "TechEd"));
    assert_eq!((col(issued, 177), col(issued, 178), col(issued, 181)), ("7000", "USD", "USD"));
    assert_eq!((col(issued, 20), col(issued, 61)), ("", ""), "no report, no entry");
    assert_eq!(col(issued, 5), "userCA5@p0182840729j.com");
}

#[test]
fn applications_carry_the_key_of_their_advance_and_advances_come_first() {
    let (report, advance) = (document(APPLIED_5_2_1), document(ADVANCE_5_2_1));
    let mut keys = CashAdvanceKeys::default();
    keys.key("SOME-EARLIER-ADVANCE");
    let (_, rows) = parse(&render_sae_keyed(&[&report, &advance], &SPEC, &mut keys), ',');
    assert_eq!(col(&rows[0], 185), "1", "issuance rows precede the reports");
    let applications: Vec<&Vec<String>> = rows.iter().filter(|r| col(r, 185) == "2").collect();
    assert_eq!(applications.len(), 2);
    for row in &applications {
        assert_eq!(col(row, 187), "2");
        assert_eq!(col(row, 187), col(&rows[0], 187));
        assert_eq!((col(row, 164), col(row, 166), col(row, 168), col(row, 167)), ("EMPL", "COMP", "CR", "CADV"));
        assert_eq!(col(row, 19), "14A40453BED6493EB53F");
    }
    assert_eq!((col(applications[0], 169), col(applications[1], 169)), ("-245", "-55"));
}

#[test]
fn missing_keys_are_numbered_above_the_explicit_ones() {
    let doc = document(PERSONAL_CARD_6_2_1);
    let (_, rows) = parse(&render_sae(&[&doc], &SPEC), ',');
    let mut explicit = document(SINGLE_TAX_2_1);
    explicit["report"]["reportKey"] = json!(null);
    let (_, more) = parse(&render_sae(&[&doc, &explicit], &SPEC), ',');
    assert!(rows.iter().all(|r| !col(r, 61).is_empty() && col(r, 61).parse::<u64>().is_ok()));
    let report_keys: Vec<&str> = more.iter().map(|r| col(r, 20)).collect();
    assert_eq!(report_keys.first(), Some(&"25"));
    assert_eq!(report_keys.last(), Some(&"26"), "above reportKey 25 of 6.2.1");
}

#[test]
fn fields_with_the_delimiter_a_quote_or_a_line_break_are_quoted() {
    assert_eq!(quote_field("plain", Delimiter::Comma), "plain");
    assert_eq!(quote_field("a,b", Delimiter::Comma), "\"a,b\"");
    assert_eq!(quote_field("a,b", Delimiter::Pipe), "a,b");
    assert_eq!(quote_field("a|b", Delimiter::Pipe), "\"a|b\"");
    assert_eq!(quote_field("17\" screen", Delimiter::Pipe), "\"17\"\" screen\"");
    assert_eq!(quote_field("two\nlines", Delimiter::Comma), "\"two\nlines\"");
    let mut doc = document(SINGLE_TAX_2_1);
    doc["report"]["reportName"] = json!("Berlin, \"Q2\"");
    let file = render_sae(&[&doc], &FileSpec { delimiter: Delimiter::Pipe, ..SPEC });
    assert!(file.contains("|\"Berlin, \"\"Q2\"\"\"|"), "{file}");
    let (_, rows) = parse(&file, '|');
    assert_eq!(col(&rows[0], 27), "Berlin, \"Q2\"");
}

/// An invoice as FIS sends one (§8.2; numbers parsed from text so `0E-8` and `1130.00` keep their form).
fn invoice() -> Value {
    serde_json::from_str(
        r#"{
        "requestHeader": {"requestId": "9B1D30723CBF4F86A574", "reqKey": 4711, "requestTitle": "Steel, rolled",
                          "currencyAlphaCode": "USD", "ledgerCode": "DEFAULT", "requestTotal": 1130.00,
                          "amountShippingTotal": 0E-8},
        "vendor": {"vendorCode": "V100", "vendorRemitToAddressCode": "MAIN"},
        "ownerEmployee": {"employeeId": "E42"},
        "lineItem": [
            {"lineItemSequenceOrder": 1, "lineItemDescription": "Plate", "expenseTypeCode": "2000   ",
             "expenseTypeName": "Materials", "lineItemPurchaseOrderNumber": "PO-9",
             "allocation": [{"allocationKey": 900, "allocationAccountCode": "5000", "allocationCustom1Code": "CC1",
                             "journal": {"accountCode": "MATER", "amountNet": 1000, "amountShipping": 0E-8,
                                         "amountGross": 1130.00,
                                         "tax": [{"amountTax": 100.00, "taxCode": "GST"},
                                                 {"amountTax": 30, "taxCode": "PST"}]}}]},
            {"lineItemDescription": "Freight", "allocation": [{"journal": null}]}
        ]
    }"#,
    )
    .expect("invoice JSON")
}

#[test]
fn an_invoice_is_one_prae_row_per_allocation_journal() {
    let doc = invoice();
    let (header, rows) = parse(&render_prae(&[&doc], &SPEC), ',');
    assert_eq!(header, ["Extract", "7", "2024/05/31", "2", "1000"]);
    let [plate, freight] = rows.as_slice() else { panic!("{rows:?}") };
    assert!(rows.iter().all(|r| r.len() == PRAE_COLUMNS && r[0] == "Detail"));
    assert_eq!((col(plate, 2), col(plate, 51), col(plate, 4)), ("4711", "9B1D30723CBF4F86A574", "Steel, rolled"));
    assert_eq!((col(plate, 65), col(plate, 59), col(plate, 10)), ("USD", "DEFAULT", "1130.00"));
    assert_eq!((col(plate, 165), col(plate, 166), col(plate, 94)), ("V100", "MAIN", "E42"));
    assert_eq!((col(plate, 132), col(plate, 133), col(plate, 134)), ("1", "Plate", "2000   "));
    assert_eq!((col(plate, 135), col(plate, 128)), ("Materials", "PO-9"));
    assert_eq!((col(plate, 89), col(plate, 68), col(plate, 69)), ("900", "5000", "CC1"));
    assert_eq!(
        (col(plate, 61), col(plate, 62), col(plate, 63), col(plate, 58)),
        ("MATER", "1000", "1130.00", "0.00000000")
    );
    assert_eq!((col(plate, 212), col(plate, 213), col(plate, 214), col(plate, 215)), ("100.00", "GST", "30", "PST"));
    assert_eq!(col(plate, 216), "");
    assert_eq!((col(freight, 132), col(freight, 89), col(freight, 62)), ("2", "901", "0"));
}

#[test]
fn documents_of_the_other_extract_are_left_out() {
    let (expense, invoice) = (document(SINGLE_TAX_2_1), invoice());
    assert_eq!(render_sae(&[&invoice], &SPEC), "EXTRACT,2024-05-31,0,0,7\n");
    assert_eq!(render_prae(&[&expense], &SPEC), "Extract,7,2024/05/31,0,0\n");
}
