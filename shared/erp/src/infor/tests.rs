//! BOD shape, identity and settings; no network (the simulator tests are in
//! `tests/infor_posting.rs`).

use std::collections::BTreeMap;
use std::str::FromStr;

use domain::{ErpDocumentKind, PlannedLine};
use rust_decimal::Decimal;
use time::macros::{date, datetime};

use super::*;

fn settings() -> InforSettings {
    InforSettings {
        logical_id: Some("lid://infor.ims.concurconnector".into()),
        accounting_entity: Some("1000".into()),
        functional_currency: Some("USD".into()),
        ..Default::default()
    }
}

fn bod_settings() -> BodSettings {
    BodSettings::new("ACME_TST", &settings()).unwrap()
}

fn line(account: &str, amount: &str, cost_center: Option<&str>, description: &str) -> PlannedLine {
    let mut dimensions = BTreeMap::new();
    if let Some(cc) = cost_center {
        dimensions.insert("CostCenter".to_owned(), cc.to_owned());
    }
    PlannedLine {
        account: account.into(),
        dimensions,
        amount: Decimal::from_str(amount).unwrap(),
        description: description.into(),
        source: 0,
    }
}

fn journal() -> ErpDocument {
    ErpDocument {
        kind: ErpDocumentKind::Journal,
        key: "CNQ-8842".into(),
        date: date!(2024 - 03 - 15),
        currency: "USD".into(),
        description: "T&E <report> \"CNQ-8842\"".into(),
        lines: vec![
            line("6100", "245.50", Some("110"), "Hotel & breakfast"),
            line("2440", "-245.50", None, "Employee payable"),
        ],
    }
}

fn bill(kind: ErpDocumentKind) -> ErpDocument {
    ErpDocument {
        kind,
        lines: vec![line("6100", "200.00", Some("110"), "Hotel 2 nights"), line("6200", "45.5", None, "Taxi")],
        description: "Concur expense report CNQ-8842 J. Doe".into(),
        ..journal()
    }
}

const CREATED: time::OffsetDateTime = datetime!(2024-03-15 14:02:11 UTC);

fn render(document: &ErpDocument, variation: u64) -> Bod {
    {
        let settings = bod_settings();
        let functional = functional::functional_amounts(document, &settings).unwrap();
        bod::render(&settings, &Chunk::whole(document, &functional), Variation(variation), CREATED)
    }
}

#[test]
fn a_journal_renders_as_process_source_system_journal_entry() {
    let bod = render(&journal(), 3);
    assert_eq!(bod.document_name.to_string(), "Process.SourceSystemJournalEntry");
    assert_eq!(bod.document_id, "CNQ-8842");
    assert_eq!(bod.bod_id, "infor-nid:ACME_TST:1000::CNQ-8842:3?SourceSystemJournalEntry&verb=Process");
    assert_eq!(bod.message_id, "CNQ-8842:SourceSystemJournalEntry:3");
    let expected = concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        r#"<ProcessSourceSystemJournalEntry xmlns="http://schema.infor.com/InforOAGIS/2" releaseID="9.2" versionID="2.14.0">"#,
        "<ApplicationArea><Sender><LogicalID>lid://infor.ims.concurconnector</LogicalID>",
        "<ComponentID>ConcurConnector</ComponentID><ConfirmationCode>Always</ConfirmationCode></Sender>",
        "<CreationDateTime>2024-03-15T14:02:11Z</CreationDateTime>",
        "<BODID>infor-nid:ACME_TST:1000::CNQ-8842:3?SourceSystemJournalEntry&amp;verb=Process</BODID></ApplicationArea>",
        "<DataArea><Process><TenantID>ACME_TST</TenantID><AccountingEntityID>1000</AccountingEntityID><LocationID/>",
        r#"<ActionCriteria><ActionExpression actionCode="Add"/></ActionCriteria></Process>"#,
        "<SourceSystemJournalEntry><JournalEntryHeader>",
        r#"<JournalID accountingEntity="1000" variationID="3">CNQ-8842</JournalID><DisplayID>CNQ-8842</DisplayID>"#,
        "<Description>T&amp;E &lt;report&gt; &quot;CNQ-8842&quot;</Description>",
        "<BaseJournalEntryHeader><LedgerID>A</LedgerID><LedgerType>Actual</LedgerType>",
        "<AccountingJournalReference><ID>TE</ID></AccountingJournalReference>",
        "<LedgerSetupReference><DocumentID><ID>A</ID></DocumentID><BookInstanceID>A</BookInstanceID></LedgerSetupReference>",
        "<JournalStatus><Code>Final</Code></JournalStatus></BaseJournalEntryHeader></JournalEntryHeader>",
        r#"<JournalEntryLine sequence="1"><Amount currencyID="USD">245.50</Amount>"#,
        r#"<FunctionalAmount currencyID="USD">245.50</FunctionalAmount>"#,
        "<GLAccount><GLNominalAccount>6100</GLNominalAccount><AccountingChartReference><ID>1000</ID></AccountingChartReference></GLAccount>",
        r#"<DimensionCodes><DimensionCode sequence="1" listID="CostCenter">110</DimensionCode></DimensionCodes>"#,
        "<DebitCreditFlag>D</DebitCreditFlag>",
        "<SourceAccountingDate><PeriodID>3</PeriodID><Year>2024</Year><PostDateTime>2024-03-15T00:00:00Z</PostDateTime></SourceAccountingDate>",
        "<TransactionReferenceText>CNQ-8842</TransactionReferenceText><Description>Hotel &amp; breakfast</Description></JournalEntryLine>",
        r#"<JournalEntryLine sequence="2"><Amount currencyID="USD">245.50</Amount>"#,
        r#"<FunctionalAmount currencyID="USD">245.50</FunctionalAmount>"#,
        "<GLAccount><GLNominalAccount>2440</GLNominalAccount><AccountingChartReference><ID>1000</ID></AccountingChartReference></GLAccount>",
        "<DebitCreditFlag>C</DebitCreditFlag>",
        "<SourceAccountingDate><PeriodID>3</PeriodID><Year>2024</Year><PostDateTime>2024-03-15T00:00:00Z</PostDateTime></SourceAccountingDate>",
        "<TransactionReferenceText>CNQ-8842</TransactionReferenceText><Description>Employee payable</Description></JournalEntryLine>",
        "</SourceSystemJournalEntry></DataArea></ProcessSourceSystemJournalEntry>",
    );
    assert_eq!(bod.xml, expected);
}

#[test]
fn a_bill_renders_as_process_supplier_invoice_with_exact_amounts() {
    let bod = render(&bill(ErpDocumentKind::Bill { vendor: "EMPJDOE".into() }), 20240315140211);
    assert_eq!(bod.document_id, "CNQ-8842.EMPJDOE", "one invoice per supplier of the Concur document");
    assert_eq!(bod.bod_id, "infor-nid:ACME_TST:1000::CNQ-8842.EMPJDOE:20240315140211?SupplierInvoice&verb=Process");
    let xml = &bod.xml;
    assert!(xml.contains(
        r#"<ProcessSupplierInvoice xmlns="http://schema.infor.com/InforOAGIS/2" releaseID="9.2" versionID="2.14.0">"#
    ));
    assert!(xml.contains(
        r#"<DocumentID><ID accountingEntity="1000" variationID="20240315140211">CNQ-8842.EMPJDOE</ID></DocumentID><AlternateDocumentID><ID schemeName="ConcurKey">CNQ-8842</ID></AlternateDocumentID><DocumentDateTime>2024-03-15T00:00:00Z</DocumentDateTime>"#
    ));
    // 200.00 + 45.5, exactly: the larger scale wins, nothing is rounded.
    assert!(xml.contains(r#"<TotalAmount currencyID="USD">245.50</TotalAmount>"#), "{xml}");
    assert!(
        xml.contains(r#"<SupplierParty><PartyIDs><ID accountingEntity="1000">EMPJDOE</ID></PartyIDs></SupplierParty>"#)
    );
    assert!(xml.contains(concat!(
        "<SupplierInvoiceLine><LineNumber>2</LineNumber><Description>Taxi</Description>",
        r#"<ExtendedAmount currencyID="USD">45.5</ExtendedAmount><Distribution><TotalAmount currencyID="USD">45.5</TotalAmount>"#,
        "<GLAccount><GLNominalAccount>6200</GLNominalAccount></GLAccount></Distribution></SupplierInvoiceLine>"
    )));
    assert!(xml.contains(
        r#"<DimensionCodes><DimensionCode sequence="1" listID="CostCenter">110</DimensionCode></DimensionCodes>"#
    ));
}

/// A GBP journal for a USD entity: each line in USD at the configured rate,
/// rounded to cents, the rounding difference on the largest line so the
/// journal balances in USD too; no rate, or no functional currency: refused
/// with the setting to fix.
#[test]
fn a_foreign_journal_carries_functional_amounts_at_the_configured_rate() {
    let mut gbp = journal();
    gbp.currency = "GBP".into();
    gbp.lines = vec![
        line("6100", "10.01", None, "a"),
        line("6100", "10.01", None, "b"),
        line("6100", "10.01", None, "c"),
        line("2440", "-30.03", None, "payable"),
    ];
    let mut with_rate = settings();
    with_rate.functional_rates.insert("GBP".into(), Decimal::from_str("1.255").unwrap());
    let settings_with_rate = BodSettings::new("ACME_TST", &with_rate).unwrap();
    let amounts = functional::functional_amounts(&gbp, &settings_with_rate).unwrap();
    // 10.01 × 1.255 = 12.56255 → 12.56 (×3 = 37.68); 30.03 × 1.255 = 37.68765 → 37.69.
    let expected: Vec<Decimal> =
        ["12.56", "12.56", "12.56", "-37.68"].iter().map(|a| Decimal::from_str(a).unwrap()).collect();
    assert_eq!(amounts, expected, "the largest line takes the cent");
    let bod = bod::render(&settings_with_rate, &Chunk::whole(&gbp, &amounts), Variation(1), CREATED);
    assert!(
        bod.xml.contains(
            r#"<Amount currencyID="GBP">30.03</Amount><FunctionalAmount currencyID="USD">37.68</FunctionalAmount>"#
        ),
        "{}",
        bod.xml
    );

    let e = functional::functional_amounts(&gbp, &bod_settings()).unwrap_err().to_string();
    assert!(e.contains("functional_rates") && e.contains("GBP") && e.contains("CNQ-8842"), "{e}");
    let mut unset = settings();
    unset.functional_currency = None;
    let e = functional::functional_amounts(&journal(), &BodSettings::new("ACME_TST", &unset).unwrap()).unwrap_err();
    assert!(e.to_string().contains("functional_currency"), "{e}");
    let mut bad = settings();
    bad.functional_rates.insert("GBP".into(), Decimal::ZERO);
    assert!(BodSettings::new("ACME_TST", &bad).unwrap_err().to_string().contains("positive"));
}

/// `credit_note`: positive amounts and TypeCode CreditNote instead of a
/// negative total.
#[test]
fn a_debit_adjustment_can_be_sent_as_a_credit_note() {
    let mut credit_note = settings();
    credit_note.debit_adjustment_form = domain::DebitAdjustmentForm::CreditNote;
    let settings = BodSettings::new("ACME_TST", &credit_note).unwrap();
    let document = bill(ErpDocumentKind::DebitAdjustment { vendor: "EMPJDOE".into() });
    let bod = bod::render(&settings, &Chunk::whole(&document, &[]), Variation(1), CREATED);
    assert!(
        bod.xml.contains(r#"<TypeCode>CreditNote</TypeCode><TotalAmount currencyID="USD">245.50</TotalAmount>"#),
        "{}",
        bod.xml
    );
    assert!(bod.xml.contains(r#"<ExtendedAmount currencyID="USD">200.00</ExtendedAmount>"#));
    let bill = render(&bill(ErpDocumentKind::Bill { vendor: "EMPJDOE".into() }), 1);
    assert!(!bill.xml.contains("TypeCode"), "a bill stays an invoice");
}

#[test]
fn a_debit_adjustment_is_a_supplier_invoice_with_negative_amounts() {
    let bod = render(&bill(ErpDocumentKind::DebitAdjustment { vendor: "EMPJDOE".into() }), 1);
    assert_eq!(bod.document_name.to_string(), "Process.SupplierInvoice");
    assert!(bod.xml.contains(r#"<TotalAmount currencyID="USD">-245.50</TotalAmount>"#));
    assert!(bod.xml.contains(r#"<ExtendedAmount currencyID="USD">-200.00</ExtendedAmount>"#));
    assert!(bod.xml.contains(r#"<ExtendedAmount currencyID="USD">-45.5</ExtendedAmount>"#));
}

#[test]
fn the_same_attempt_renders_the_same_bod() {
    let a = render(&journal(), 9);
    let b = render(&journal(), 9);
    assert_eq!(a, b);
    let next = render(&journal(), 10);
    assert_ne!(a.bod_id, next.bod_id);
    assert_eq!(bod::reference(&a.document_id, a.variation), "ion:CNQ-8842:9");
}

#[test]
fn the_outcome_parser_reads_our_own_bod_id() {
    let bod = render(&journal(), 3);
    let ack = format!(
        r#"<AcknowledgeSourceSystemJournalEntry><DataArea><Acknowledge><OriginalApplicationArea><BODID>{}</BODID></OriginalApplicationArea><ResponseCriteria><ResponseExpression actionCode="Modified"/></ResponseCriteria></Acknowledge><SourceSystemJournalEntry><JournalEntryHeader><JournalID>CNQ-8842</JournalID><DisplayID>JE-000007</DisplayID></JournalEntryHeader></SourceSystemJournalEntry></DataArea></AcknowledgeSourceSystemJournalEntry>"#,
        bod.bod_id.replace('&', "&amp;")
    );
    let outcome = parse_outcome(&ack).unwrap();
    assert_eq!(outcome.bod_id, bod.bod_id);
    assert_eq!(outcome.document_id, "CNQ-8842");
    assert!(outcome.accepted);
    assert_eq!(outcome.erp_id.as_deref(), Some("JE-000007"));
}

#[test]
fn documents_that_would_break_the_bod_id_or_the_ledger_are_refused() {
    let settings = bod_settings();
    let mut bad_key = journal();
    bad_key.key = "CNQ:8842".into();
    let e = chunk::chunk(&bad_key, &[], &settings, 1 << 20).unwrap_err();
    assert!(e.to_string().contains("contains `:`"), "{e}");

    let mut unbalanced = journal();
    unbalanced.lines[1].amount = Decimal::from_str("-245.49").unwrap();
    let e = chunk::chunk(&unbalanced, &[], &settings, 1 << 20).unwrap_err();
    assert!(e.to_string().contains("differ by 0.01"), "{e}");

    let mut long = journal();
    long.key = "K".repeat(bod::DOCUMENT_ID_MAX + 1);
    assert!(chunk::chunk(&long, &[], &settings, 1 << 20).is_err());
}

#[test]
fn settings_name_what_to_fix() {
    let e = BodSettings::new("ACME_TST", &InforSettings::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the Infor setting `logical_id` is not set (e.g. lid://infor.ims.concurconnector); set it with `connector \
         connections update`"
    );
    let mut s = settings();
    s.api.journal_document = "SourceSystemJournalEntry".into();
    let e = BodSettings::new("ACME_TST", &s).unwrap_err();
    assert!(e.to_string().contains("`journal_document` `SourceSystemJournalEntry` is not an ION document name"), "{e}");
    let mut s = settings();
    s.api.confirmation_code = "Sometimes".into();
    assert!(BodSettings::new("ACME_TST", &s).is_err());
    let mut s = settings();
    s.api.journal_document = "Process.JournalEntry".into();
    let named = BodSettings::new("ACME_TST", &s).unwrap();
    let bod = bod::render(&named, &Chunk::whole(&journal(), &[]), Variation(1), CREATED);
    assert!(bod.xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><ProcessJournalEntry "#));
    assert!(bod.bod_id.ends_with("?JournalEntry&verb=Process"));
}

#[test]
fn the_token_url_and_api_base_come_from_the_ionapi_file() {
    let ionapi = IonApi::from_value(&serde_json::json!({
        "ti": "ACME_TST", "ci": "ACME_TST~q", "cs": "s", "iu": "https://mingle-ionapi.inforcloudsuite.com/",
        "pu": "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/", "ot": "token.oauth2",
        "saak": "ACME_TST#Mx8", "sask": "Hq0"
    }))
    .unwrap();
    assert_eq!(ionapi.token_url(), "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/token.oauth2");
    assert_eq!(ionapi.api_base(), "https://mingle-ionapi.inforcloudsuite.com/ACME_TST");
}

#[test]
fn the_username_is_saak_as_is_with_the_hash_form_encoded() {
    // The same `.form()` the token call uses.
    let request = reqwest::Client::new()
        .post("https://example.invalid/token.oauth2")
        .form(&[("grant_type", "password"), ("username", "ACME_TST#Mx8+/="), ("password", "p&w")])
        .build()
        .unwrap();
    let body = std::str::from_utf8(request.body().unwrap().as_bytes().unwrap()).unwrap().to_owned();
    assert_eq!(body, "grant_type=password&username=ACME_TST%23Mx8%2B%2F%3D&password=p%26w");
}

#[test]
fn document_ids_read_back_into_key_supplier_and_part() {
    let parts = |id: &str| {
        let p = parse_document_id(id).unwrap();
        (p.key, p.supplier, p.part, p.parts)
    };
    assert_eq!(parts("4E9A0F8D1C2B"), ("4E9A0F8D1C2B".into(), None, 1, 1));
    assert_eq!(parts("4E9A0F8D1C2B-2of3"), ("4E9A0F8D1C2B".into(), None, 2, 3));
    assert_eq!(parts("4E9A0F8D1C2B.EMP-J-DOE"), ("4E9A0F8D1C2B".into(), Some("EMP-J-DOE".into()), 1, 1));
    assert_eq!(parts("4E9A0F8D1C2B.AMEX-12of12"), ("4E9A0F8D1C2B".into(), Some("AMEX".into()), 12, 12));
    // What the adapter renders reads back.
    let document = bill(ErpDocumentKind::Bill { vendor: "EMPJDOE".into() });
    assert_eq!(parts(&bod::document_id(&document)), ("CNQ-8842".into(), Some("EMPJDOE".into()), 1, 1));
    assert_eq!(parts("CNQ-8842"), ("CNQ-8842".into(), None, 1, 1), "a `-` alone is not a part suffix");
    assert_eq!(parse_document_id(""), None);

    let mut dotted = journal();
    dotted.key = "CNQ.1".into();
    let e = chunk::chunk(&dotted, &[], &bod_settings(), 1 << 20).unwrap_err();
    assert!(e.to_string().contains("contains `.`"), "{e}");
}

#[test]
fn references_and_bod_ids_name_the_part_and_its_variation() {
    use super::{Variation, parse_bod_id, parse_reference};
    assert_eq!(parse_reference("ion:CNQ-8842-2of3:7"), Some(("CNQ-8842-2of3", Variation(7))));
    assert_eq!(parse_reference(" ion:CNQ~V1:12 "), Some(("CNQ~V1", Variation(12))));
    for malformed in ["CNQ:7", "ion::7", "ion:CNQ:x", "ion:CNQ", ""] {
        assert_eq!(parse_reference(malformed), None, "{malformed}");
    }
    let bod_id = "infor-nid:ACME_TST:1000::CNQ-8842:20240315140211?SupplierInvoice&verb=Process";
    assert_eq!(parse_bod_id(bod_id), Some(("CNQ-8842", Variation(20240315140211))));
    for malformed in ["infor-nid:ACME", "infor-nid:A:1::CNQ:?x", "", "?:"] {
        assert_eq!(parse_bod_id(malformed), None, "{malformed}");
    }
}
