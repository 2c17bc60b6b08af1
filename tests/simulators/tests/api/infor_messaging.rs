//! Infor simulator over real HTTP: the four IMS publish methods, IMS
//! validation (connection point documents, encoding, size), BOD processing
//! by the simulated ERP (variation dedup, balance, master data) and the
//! outcomes (Acknowledge / ConfirmBOD) through the outbox and a pushed callback.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode as AxumStatus, routing::post};
use base64::Engine;
use reqwest::{Client, StatusCode, header};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use simulators::RunningSimulator;
use simulators::infor::multipart::{self, Part};
use simulators::infor::{DebitCredit, DeliveryState, InforSim, ReceivedStatus};

const TI: &str = "ACME_TST";
const LID: &str = "lid://infor.ims.concurconnector";
const SERVICE: &str = "IONSERVICES/api/ion/messaging/service";
const JOURNAL_DOC: &str = "Process.SourceSystemJournalEntry";
const INVOICE_DOC: &str = "Process.SupplierInvoice";

struct Env {
    sim: InforSim,
    _server: RunningSimulator,
    http: Client,
    ionapi: Value,
    token: String,
}

impl Env {
    fn field(&self, key: &str) -> String {
        self.ionapi[key].as_str().unwrap().to_owned()
    }

    fn url(&self, operation: &str) -> String {
        format!("{}/{}/{SERVICE}/{operation}", self.field("iu"), self.field("ti"))
    }

    /// `v3/multipartMessage` with the given parameters and payload.
    async fn send_multipart(&self, operation: &str, parameters: &Value, payload: &[u8]) -> reqwest::Response {
        let boundary = multipart::new_boundary();
        let body = multipart::build(
            &boundary,
            &[
                Part::file("ParameterRequest", "ParameterRequest.json", "application/json", parameters.to_string()),
                Part::file("MessagePayload", "payload.xml", "application/octet-stream", payload.to_vec()),
            ],
        );
        self.http
            .post(self.url(operation))
            .bearer_auth(&self.token)
            .header(header::CONTENT_TYPE, multipart::content_type(&boundary))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Sends a BOD with `v3/multipartMessage`, asserting 201.
    async fn publish(&self, document_name: &str, message_id: &str, xml: &str) {
        let response =
            self.send_multipart("v3/multipartMessage", &params(document_name, message_id), xml.as_bytes()).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(body.is_empty(), "201 has an empty body: {body}");
    }
}

fn params(document_name: &str, message_id: &str) -> Value {
    json!({
        "documentName": document_name,
        "fromLogicalId": LID,
        "toLogicalId": "lid://default",
        "messageId": message_id,
        "encoding": "NONE",
        "characterSet": "UTF-8",
        "accountingEntity": "1000",
    })
}

async fn env() -> Env {
    let sim = InforSim::new();
    sim.add_tenant(TI);
    sim.add_connection_point(TI, LID, &[JOURNAL_DOC, INVOICE_DOC, "Sync.SupplierPartyMaster"]);
    for account in ["6100", "6200", "2440"] {
        sim.add_account(TI, "1000", account);
    }
    sim.add_dimension_value(TI, "1000", "CostCenter", "110");
    sim.add_supplier(TI, "1000", "EMPJDOE");
    let server = sim.clone().start().await;
    let ionapi = sim.ionapi_file(&server.base_url(), TI);
    let http = Client::new();
    let token_url = format!("{}{}", ionapi["pu"].as_str().unwrap(), ionapi["ot"].as_str().unwrap());
    let form = [
        ("grant_type", "password"),
        ("client_id", ionapi["ci"].as_str().unwrap()),
        ("client_secret", ionapi["cs"].as_str().unwrap()),
        ("username", ionapi["saak"].as_str().unwrap()),
        ("password", ionapi["sask"].as_str().unwrap()),
    ];
    let body: Value = http.post(token_url).form(&form).send().await.unwrap().json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    Env { sim, _server: server, http, ionapi, token }
}

/// A journal line: account, amount, D/C, optional cost center.
type Line<'a> = (&'a str, &'a str, char, Option<&'a str>);

fn application_area(noun: &str, doc: &str, variation: u64, confirmation: &str) -> String {
    format!(
        "<ApplicationArea><Sender><LogicalID>{LID}</LogicalID><ComponentID>ConcurConnector</ComponentID>\
         <ConfirmationCode>{confirmation}</ConfirmationCode></Sender>\
         <CreationDateTime>2024-03-15T14:02:11Z</CreationDateTime>\
         <BODID>infor-nid:{TI}:1000::{doc}:{variation}?{noun}&amp;verb=Process</BODID></ApplicationArea>"
    )
}

fn journal_bod(doc: &str, variation: u64, confirmation: &str, lines: &[Line<'_>]) -> String {
    let lines: String = lines
        .iter()
        .enumerate()
        .map(|(i, (account, amount, flag, cost_center))| {
            let dims = cost_center
                .map(|cc| format!(r#"<DimensionCodes><DimensionCode sequence="1" listID="CostCenter">{cc}</DimensionCode></DimensionCodes>"#))
                .unwrap_or_default();
            format!(
                r#"<JournalEntryLine sequence="{}"><Amount currencyID="USD">{amount}</Amount><FunctionalAmount currencyID="USD">{amount}</FunctionalAmount><GLAccount><GLNominalAccount>{account}</GLNominalAccount><AccountingChartReference><ID>1000</ID></AccountingChartReference></GLAccount>{dims}<DebitCreditFlag>{flag}</DebitCreditFlag><SourceAccountingDate><PeriodID>3</PeriodID><Year>2024</Year><PostDateTime>2024-03-15T00:00:00Z</PostDateTime></SourceAccountingDate><TransactionReferenceText>{doc}</TransactionReferenceText><Description languageID="en-US">T&amp;E {doc}</Description></JournalEntryLine>"#,
                i + 1
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ProcessSourceSystemJournalEntry xmlns="http://schema.infor.com/InforOAGIS/2" releaseID="9.2" versionID="2.9.0">{}<DataArea><Process><TenantID>{TI}</TenantID><AccountingEntityID>1000</AccountingEntityID><ActionCriteria><ActionExpression actionCode="Add"/></ActionCriteria></Process><SourceSystemJournalEntry><JournalEntryHeader><JournalID accountingEntity="1000" variationID="{variation}">{doc}</JournalID><DisplayID>{doc}</DisplayID><BaseJournalEntryHeader><LedgerID>A</LedgerID><LedgerType>Actual</LedgerType><JournalStatus><Code>Final</Code></JournalStatus></BaseJournalEntryHeader></JournalEntryHeader>{lines}</SourceSystemJournalEntry></DataArea></ProcessSourceSystemJournalEntry>"#,
        application_area("SourceSystemJournalEntry", doc, variation, confirmation)
    )
}

fn balanced(doc: &str, variation: u64, amount: &str) -> String {
    journal_bod(doc, variation, "OnError", &[("6100", amount, 'D', Some("110")), ("2440", amount, 'C', None)])
}

/// A supplier invoice with lines `(account, amount)` and the given header total.
fn invoice_bod(doc: &str, variation: u64, supplier: &str, total: &str, lines: &[(&str, &str)]) -> String {
    let lines: String = lines
        .iter()
        .enumerate()
        .map(|(i, (account, amount))| {
            format!(
                r#"<SupplierInvoiceLine><LineNumber>{}</LineNumber><Description>Line {}</Description><ExtendedAmount currencyID="USD">{amount}</ExtendedAmount><Distribution><TotalAmount currencyID="USD">{amount}</TotalAmount><GLAccount><GLNominalAccount>{account}</GLNominalAccount></GLAccount><DimensionCodes><DimensionCode sequence="1" listID="CostCenter">110</DimensionCode></DimensionCodes></Distribution></SupplierInvoiceLine>"#,
                i + 1,
                i + 1
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ProcessSupplierInvoice xmlns="http://schema.infor.com/InforOAGIS/2" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" releaseID="9.2" versionID="2.14.0">{}<DataArea><Process><TenantID>{TI}</TenantID><AccountingEntityID>1000</AccountingEntityID><LocationID/><ActionCriteria><ActionExpression actionCode="Add"/></ActionCriteria></Process><SupplierInvoice><SupplierInvoiceHeader><DocumentID><ID accountingEntity="1000" variationID="{variation}">{doc}</ID></DocumentID><AlternateDocumentID><ID schemeName="ConcurReportKey">9C1A77</ID></AlternateDocumentID><DocumentDateTime>2024-03-15T00:00:00Z</DocumentDateTime><Description>Concur expense report {doc}</Description><Status><Code>Open</Code></Status><TotalAmount currencyID="USD">{total}</TotalAmount><SupplierParty><PartyIDs><ID accountingEntity="1000">{supplier}</ID></PartyIDs></SupplierParty><PaymentTerm><PaymentTermCode>NET30</PaymentTermCode></PaymentTerm></SupplierInvoiceHeader>{lines}</SupplierInvoice></DataArea></ProcessSupplierInvoice>"#,
        application_area("SupplierInvoice", doc, variation, "Always")
    )
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn error_text(body: &Value) -> String {
    body["errors"][0].as_str().unwrap_or_else(|| panic!("no errors array in {body}")).to_owned()
}

#[tokio::test]
async fn each_publish_method_is_accepted() {
    let env = env().await;
    // v2/message: JSON, base64 document.
    let xml = balanced("J-V2", 1, "10.00");
    let mut body = params(JOURNAL_DOC, "m-v2");
    body["document"] = json!({"value": base64::engine::general_purpose::STANDARD.encode(&xml), "encoding": "BASE64", "characterSet": "UTF-8"});
    let response = env.http.post(env.url("v2/message")).bearer_auth(&env.token).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());

    // v2 and v3 multipartMessage.
    for (operation, doc) in [("v2/multipartMessage", "J-MP2"), ("v3/multipartMessage", "J-MP3")] {
        let response = env
            .send_multipart(operation, &params(JOURNAL_DOC, &format!("m-{doc}")), balanced(doc, 1, "20.00").as_bytes())
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{operation}: {}", response.text().await.unwrap());
    }

    // v3/message/multipart: headers + one part.
    let boundary = multipart::new_boundary();
    let part = Part::file("MessagePayload", "payload.xml", "application/octet-stream", balanced("J-HDR", 1, "30.00"));
    let response = env
        .http
        .post(env.url("v3/message/multipart"))
        .bearer_auth(&env.token)
        .header("X-Infor-ION-documentName", JOURNAL_DOC)
        .header("X-Infor-ION-fromLogicalId", LID)
        .header("X-Infor-ION-encoding", "NONE")
        .header("X-Infor-ION-messageId", "m-hdr")
        .header("X-Infor-ION-variationId", "1")
        .header(header::CONTENT_TYPE, multipart::content_type(&boundary))
        .body(multipart::build(&boundary, &[part]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());

    let received = env.sim.received(TI);
    let endpoints: Vec<&str> = received.iter().map(|r| r.endpoint.as_str()).collect();
    assert_eq!(endpoints, ["v2/message", "v2/multipartMessage", "v3/multipartMessage", "v3/message/multipart"]);
    let ids: Vec<&str> = received.iter().map(|r| r.message_id.as_str()).collect();
    assert_eq!(ids, ["m-v2", "m-J-MP2", "m-J-MP3", "m-hdr"]);
    assert!(received.iter().all(|r| matches!(r.status, ReceivedStatus::Accepted { .. })), "{received:?}");
    assert_eq!(received[3].parameters["variationId"], "1");
    let journals = env.sim.journals(TI);
    let erp_ids: Vec<&str> = journals.iter().map(|j| j.erp_id.as_str()).collect();
    assert_eq!(erp_ids, ["JE-000001", "JE-000002", "JE-000003", "JE-000004"]);
    // OnError + accepted: one Acknowledge each, no ConfirmBOD.
    let outbox = env.sim.outbox(TI);
    assert_eq!(outbox.len(), 4);
    assert!(outbox.iter().all(|m| m.document_name == "Acknowledge.SourceSystemJournalEntry"));
}

#[tokio::test]
async fn ims_refuses_what_the_connection_point_does_not_allow() {
    let env = env().await;
    let xml = balanced("J-1", 1, "10.00");
    let cases = [
        (
            params("Sync.ChartOfAccounts", "m1"),
            "Document 'Sync.ChartOfAccounts' is not configured for connection point 'lid://infor.ims.concurconnector'",
        ),
        (json!({"fromLogicalId": LID}), "Parameter 'documentName' is required"),
        (json!({"documentName": JOURNAL_DOC}), "Parameter 'fromLogicalId' is required"),
        (
            json!({"documentName": JOURNAL_DOC, "fromLogicalId": "lid://infor.ims.nobody"}),
            "Connection point 'lid://infor.ims.nobody' does not exist in tenant 'ACME_TST'",
        ),
        (
            json!({"documentName": JOURNAL_DOC, "fromLogicalId": LID, "encoding": "GZIP"}),
            "Unsupported encoding 'GZIP'; use NONE or DEFLATE",
        ),
        (
            json!({"documentName": JOURNAL_DOC, "fromLogicalId": LID, "variationId": "12"}),
            "Parameter 'variationId' must be a JSON number, got the string \"12\"",
        ),
    ];
    for (parameters, expected) in cases {
        let response = env.send_multipart("v3/multipartMessage", &parameters, xml.as_bytes()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{parameters}");
        assert_eq!(error_text(&response.json().await.unwrap()), expected);
    }
    // A typo in a parameter name is refused, not ignored.
    let typo = json!({"documentName": JOURNAL_DOC, "fromLogicalID": LID});
    let response = env.send_multipart("v3/multipartMessage", &typo, xml.as_bytes()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(&response.json().await.unwrap()).starts_with("Unknown IMS parameter 'fromLogicalID'"));
    // A missing part, and a body that is not multipart.
    let boundary = multipart::new_boundary();
    let only_params = multipart::build(
        &boundary,
        &[Part::file("ParameterRequest", "p.json", "application/json", params(JOURNAL_DOC, "x").to_string())],
    );
    let response = env
        .http
        .post(env.url("v3/multipartMessage"))
        .bearer_auth(&env.token)
        .header(header::CONTENT_TYPE, multipart::content_type(&boundary))
        .body(only_params)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_text(&response.json().await.unwrap()), "Part 'MessagePayload' is required");
    let response =
        env.http.post(env.url("v3/multipartMessage")).bearer_auth(&env.token).body(xml.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // Nothing reached the ERP.
    assert!(env.sim.received(TI).is_empty());
    // And without a token: 401.
    let response = env.http.post(env.url("v3/multipartMessage")).body(xml).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
}

#[tokio::test]
async fn payload_over_the_limit_is_413() {
    let env = env().await;
    let xml = balanced("J-BIG", 1, "10.00");
    env.sim.set_max_message_bytes(xml.len() - 1);
    let response = env.send_multipart("v3/multipartMessage", &params(JOURNAL_DOC, "big"), xml.as_bytes()).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error_text(&response.json().await.unwrap()).contains("exceeds the maximum message size"));
    env.sim.set_max_message_bytes(xml.len());
    env.publish(JOURNAL_DOC, "fits", &xml).await;
    // The default limit is 5 MiB and axum's own 2 MB body cap does not interfere.
    env.sim.set_max_message_bytes(simulators::infor::DEFAULT_MAX_MESSAGE_BYTES);
    let padded = xml.replace(
        "<DisplayID>J-BIG</DisplayID>",
        &format!("<DisplayID>J-BIG</DisplayID><!--{}-->", "x".repeat(3 * 1024 * 1024)),
    );
    let response = env.send_multipart("v3/multipartMessage", &params(JOURNAL_DOC, "3mb"), padded.as_bytes()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let huge = format!("{padded}<!--{}-->", "y".repeat(3 * 1024 * 1024));
    let response = env.send_multipart("v3/multipartMessage", &params(JOURNAL_DOC, "6mb"), huge.as_bytes()).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn deflate_payloads_are_inflated() {
    let env = env().await;
    let xml = balanced("J-Z", 1, "42.00");
    let mut parameters = params(JOURNAL_DOC, "z1");
    parameters["encoding"] = json!("DEFLATE");
    let compressed = deflate(xml.as_bytes());
    let response = env.send_multipart("v3/multipartMessage", &parameters, &compressed).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let received = env.sim.received(TI);
    assert_eq!(received[0].encoding, "DEFLATE");
    assert_eq!(received[0].payload_bytes, compressed.len());
    assert_eq!(received[0].xml, xml);
    assert_eq!(env.sim.journals(TI)[0].lines[0].amount, Decimal::new(4200, 2));
    // Plain bytes announced as DEFLATE are refused.
    parameters["messageId"] = json!("z2");
    let response = env.send_multipart("v3/multipartMessage", &parameters, xml.as_bytes()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(&response.json().await.unwrap()).contains("DEFLATE"));
}

#[tokio::test]
async fn same_variation_is_ignored_and_a_higher_one_replaces() {
    let env = env().await;
    env.publish(JOURNAL_DOC, "a", &balanced("CNQ-8842", 20240315140211, "245.50")).await;
    env.publish(JOURNAL_DOC, "a", &balanced("CNQ-8842", 20240315140211, "245.50")).await;
    env.publish(JOURNAL_DOC, "b", &balanced("CNQ-8842", 20240315000000, "1.00")).await;
    let journals = env.sim.journals(TI);
    assert_eq!(journals.len(), 1);
    assert_eq!(journals[0].erp_id, "JE-000001");
    assert_eq!(journals[0].lines[0].amount, Decimal::new(24550, 2));
    let statuses: Vec<ReceivedStatus> = env.sim.received(TI).into_iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            ReceivedStatus::Accepted { erp_id: "JE-000001".into(), replaced: false },
            ReceivedStatus::Duplicate { held_variation: 20240315140211 },
            ReceivedStatus::Duplicate { held_variation: 20240315140211 },
        ]
    );
    assert_eq!(env.sim.outbox(TI).len(), 1, "duplicates produce no outcome");

    env.publish(JOURNAL_DOC, "c", &balanced("CNQ-8842", 20240316090000, "300.00")).await;
    let journals = env.sim.journals(TI);
    assert_eq!(journals.len(), 1);
    assert_eq!(journals[0].erp_id, "JE-000001", "a replacement keeps the ERP id");
    assert_eq!(journals[0].variation_id, 20240316090000);
    assert_eq!(journals[0].lines[0].amount, Decimal::new(300, 0));
    assert_eq!(journals[0].replaced, 1);
    assert_eq!(journals[0].message_id, "c");
    let last = env.sim.received(TI).pop().unwrap();
    assert_eq!(last.status, ReceivedStatus::Accepted { erp_id: "JE-000001".into(), replaced: true });
    assert_eq!(env.sim.take_outbox(TI).len(), 2);
    assert!(env.sim.outbox(TI).is_empty(), "take_outbox drains");
}

#[tokio::test]
async fn unbalanced_journal_is_rejected_with_a_failure_confirm_bod() {
    let env = env().await;
    let xml = journal_bod("CNQ-9", 7, "OnError", &[("6100", "100.00", 'D', Some("110")), ("2440", "99.99", 'C', None)]);
    env.publish(JOURNAL_DOC, "unbalanced", &xml).await;
    assert!(env.sim.journals(TI).is_empty());
    let received = env.sim.received(TI);
    assert_eq!(
        received[0].bod_id.as_deref(),
        Some("infor-nid:ACME_TST:1000::CNQ-9:7?SourceSystemJournalEntry&verb=Process")
    );
    let ReceivedStatus::Rejected { reason } = &received[0].status else { panic!("{:?}", received[0].status) };
    assert_eq!(reason, "The journal is not balanced in USD: debits 100.00, credits 99.99");

    let outbox = env.sim.take_outbox(TI);
    let names: Vec<&str> = outbox.iter().map(|m| m.document_name.as_str()).collect();
    assert_eq!(names, ["Acknowledge.SourceSystemJournalEntry", "Confirm.BOD"]);
    let ack = &outbox[0];
    assert!(ack.xml.contains(r#"<ResponseExpression actionCode="Rejected"/>"#), "{}", ack.xml);
    assert!(
        ack.xml.contains("<BODID>infor-nid:ACME_TST:1000::CNQ-9:7?SourceSystemJournalEntry&amp;verb=Process</BODID>"),
        "{}",
        ack.xml
    );
    assert!(ack.xml.contains(r#"<JournalID accountingEntity="1000" variationID="7">CNQ-9</JournalID>"#), "{}", ack.xml);
    assert!(!ack.xml.contains("<DisplayID>"), "no ERP id for a rejected document");
    assert_eq!(ack.original_bod_id.as_deref(), received[0].bod_id.as_deref());
    assert_eq!(ack.original_message_id, "unbalanced");
    assert_eq!(ack.to_logical_id, LID);
    let confirm = &outbox[1];
    assert!(confirm.xml.starts_with(
        r#"<?xml version="1.0" encoding="UTF-8"?><ConfirmBOD xmlns="http://schema.infor.com/InforOAGIS/2""#
    ));
    assert!(confirm.xml.contains("<BODFailureMessage><ErrorProcessMessage><Description>The journal is not balanced in USD: debits 100.00, credits 99.99</Description>"), "{}", confirm.xml);
    assert!(confirm.xml.contains("<NounOutcome><NounID>CNQ-9</NounID></NounOutcome>"), "{}", confirm.xml);
    assert!(
        confirm.xml.contains("<OriginalApplicationArea><Sender><LogicalID>lid://infor.ims.concurconnector</LogicalID>"),
        "{}",
        confirm.xml
    );

    // A corrected resend (rejected documents are not held) is accepted.
    let fixed =
        journal_bod("CNQ-9", 7, "Always", &[("6100", "100.00", 'D', Some("110")), ("2440", "100.00", 'C', None)]);
    env.publish(JOURNAL_DOC, "fixed", &fixed).await;
    let outbox = env.sim.take_outbox(TI);
    assert_eq!(outbox.len(), 2, "Always: Acknowledge + success ConfirmBOD");
    assert!(outbox[0].xml.contains(r#"<ResponseExpression actionCode="Accepted"/>"#));
    assert!(outbox[0].xml.contains("<DisplayID>JE-000001</DisplayID>"));
    assert!(outbox[1].xml.contains("<BODSuccessMessage><NounOutcome><NounID>CNQ-9</NounID><DisplayID>JE-000001</DisplayID></NounOutcome></BODSuccessMessage>"), "{}", outbox[1].xml);
    let journal = &env.sim.journals(TI)[0];
    assert_eq!(journal.lines[0].debit_credit, DebitCredit::Debit);
    assert_eq!(journal.lines[0].dimensions[0].list_id, "CostCenter");
    assert_eq!(journal.lines[0].description.as_deref(), Some("T&E CNQ-9"));
}

#[tokio::test]
async fn journal_master_data_is_checked() {
    let env = env().await;
    let unknown_account = journal_bod("J-A", 1, "Never", &[("7777", "5.00", 'D', None), ("2440", "5.00", 'C', None)]);
    let unknown_cc = journal_bod("J-B", 1, "Never", &[("6100", "5.00", 'D', Some("999")), ("2440", "5.00", 'C', None)]);
    let negative = journal_bod("J-C", 1, "Never", &[("6100", "-5.00", 'D', None), ("2440", "-5.00", 'C', None)]);
    env.publish(JOURNAL_DOC, "a", &unknown_account).await;
    env.publish(JOURNAL_DOC, "b", &unknown_cc).await;
    env.publish(JOURNAL_DOC, "c", &negative).await;
    let reasons: Vec<String> = env
        .sim
        .received(TI)
        .into_iter()
        .map(|r| match r.status {
            ReceivedStatus::Rejected { reason } => reason,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(reasons[0], "GL account '7777' does not exist in accounting entity '1000'");
    assert_eq!(reasons[1], "Value '999' of dimension 'CostCenter' does not exist in accounting entity '1000'");
    assert!(reasons[2].contains("is negative"), "{}", reasons[2]);
    // Never: only the Acknowledge comes back.
    assert!(env.sim.outbox(TI).iter().all(|m| m.document_name == "Acknowledge.SourceSystemJournalEntry"));
}

#[tokio::test]
async fn supplier_invoices_are_parsed_and_validated() {
    let env = env().await;
    env.publish(
        INVOICE_DOC,
        "si-1",
        &invoice_bod("CNQ-8842", 1, "EMPJDOE", "245.50", &[("6100", "200.00"), ("6200", "45.50")]),
    )
    .await;
    let invoices = env.sim.supplier_invoices(TI);
    assert_eq!(invoices.len(), 1);
    let invoice = &invoices[0];
    assert_eq!(invoice.erp_id, "SI-000001");
    assert_eq!(invoice.supplier_id, "EMPJDOE");
    assert_eq!(invoice.total_amount, Decimal::new(24550, 2));
    assert_eq!(invoice.currency, "USD");
    assert_eq!(invoice.alternate_ids, [("ConcurReportKey".to_owned(), "9C1A77".to_owned())]);
    assert_eq!(invoice.payment_term.as_deref(), Some("NET30"));
    assert_eq!(invoice.lines.len(), 2);
    assert_eq!(invoice.lines[1].line_number, 2);
    assert_eq!(invoice.lines[1].extended_amount, Decimal::new(4550, 2));
    assert_eq!(invoice.lines[1].distributions[0].account, "6200");
    assert_eq!(invoice.lines[1].distributions[0].dimensions[0].value, "110");
    let outbox = env.sim.take_outbox(TI);
    let names: Vec<&str> = outbox.iter().map(|m| m.document_name.as_str()).collect();
    assert_eq!(names, ["Acknowledge.SupplierInvoice", "Confirm.BOD"]);
    assert!(outbox[0].xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><AcknowledgeSupplierInvoice "#));
    assert!(outbox[0].xml.contains(r#"<SupplierInvoiceHeader><DocumentID><ID accountingEntity="1000" variationID="1">CNQ-8842</ID></DocumentID><DisplayID>SI-000001</DisplayID>"#), "{}", outbox[0].xml);
    assert_eq!(outbox[0].bod_id, "infor-nid:ACME_TST:1000::CNQ-8842:1?SupplierInvoice&verb=Acknowledge");

    env.publish(INVOICE_DOC, "si-2", &invoice_bod("CNQ-2", 1, "NOBODY", "10.00", &[("6100", "10.00")])).await;
    env.publish(INVOICE_DOC, "si-3", &invoice_bod("CNQ-3", 1, "EMPJDOE", "10.00", &[("6100", "9.00")])).await;
    let reasons: Vec<ReceivedStatus> = env.sim.received(TI).into_iter().skip(1).map(|r| r.status).collect();
    assert_eq!(
        reasons,
        [
            ReceivedStatus::Rejected { reason: "Supplier 'NOBODY' does not exist in accounting entity '1000'".into() },
            ReceivedStatus::Rejected { reason: "The lines total 9.00 USD, TotalAmount is 10.00 USD".into() },
        ]
    );
    assert_eq!(env.sim.supplier_invoices(TI).len(), 1);
}

#[tokio::test]
async fn malformed_bods_are_accepted_then_fail_with_confirm_bod() {
    let env = env().await;
    let good = balanced("J-M", 1, "1.00");
    let cases = [
        ("not-xml", "this is not XML".to_owned(), "The BOD is not well-formed XML"),
        ("wrong-ns", good.replace("http://schema.infor.com/InforOAGIS/2", "urn:other"), "is not in namespace"),
        (
            "wrong-root",
            good.replace("ProcessSourceSystemJournalEntry", "SyncSourceSystemJournalEntry"),
            "does not match document name",
        ),
        ("release", good.replace(r#"releaseID="9.2""#, r#"releaseID="9.0""#), "releaseID must be 9.2"),
        (
            "sender",
            good.replace("<LogicalID>lid://infor.ims.concurconnector</LogicalID>", "<LogicalID>lid://x</LogicalID>"),
            "does not match fromLogicalId",
        ),
        ("tenant", good.replace("<TenantID>ACME_TST</TenantID>", "<TenantID>OTHER</TenantID>"), "TenantID 'OTHER'"),
        (
            "bodid",
            good.replace("infor-nid:ACME_TST:1000::J-M:1?", "infor-nid:ACME_TST:1000::J-OTHER:1?"),
            "names document 'J-OTHER'",
        ),
        ("variation", good.replace(r#"variationID="1""#, r#"variationID="x1""#), "is not a non-negative integer"),
    ];
    for (id, xml, expected) in &cases {
        env.publish(JOURNAL_DOC, id, xml).await;
        let last = env.sim.received(TI).pop().unwrap();
        let ReceivedStatus::Failed { reason } = &last.status else { panic!("{id}: {:?}", last.status) };
        assert!(reason.contains(expected), "{id}: {reason}");
        let outbox = env.sim.take_outbox(TI);
        assert_eq!(outbox.len(), 1, "{id}: only a ConfirmBOD");
        assert_eq!(outbox[0].document_name, "Confirm.BOD");
        assert!(outbox[0].xml.contains("<BODFailureMessage>"), "{id}");
        assert_eq!(outbox[0].original_message_id, *id);
    }
    // Without a BODID to echo, the failure names the messageId.
    env.publish(JOURNAL_DOC, "m-garbage", "<<<").await;
    let confirm = env.sim.take_outbox(TI).pop().unwrap();
    assert!(
        confirm.xml.contains("Message &apos;m-garbage&apos;") || confirm.xml.contains("Message 'm-garbage'"),
        "{}",
        confirm.xml
    );
    assert!(env.sim.journals(TI).is_empty());
}

#[tokio::test]
async fn sync_supplier_party_master_adds_a_supplier() {
    let env = env().await;
    let xml = format!(
        r#"<SyncSupplierPartyMaster xmlns="http://schema.infor.com/InforOAGIS/2" releaseID="9.2" versionID="2.14.0"><ApplicationArea><Sender><LogicalID>{LID}</LogicalID><ConfirmationCode>Always</ConfirmationCode></Sender><CreationDateTime>2024-03-15T14:00:00Z</CreationDateTime><BODID>infor-nid:{TI}:1000::EMPNEW:20240315140000?SupplierPartyMaster&amp;verb=Sync</BODID></ApplicationArea><DataArea><Sync><TenantID>{TI}</TenantID><AccountingEntityID>1000</AccountingEntityID><ActionCriteria><ActionExpression actionCode="Add"/></ActionCriteria></Sync><SupplierPartyMaster><PartyIDs><ID accountingEntity="1000" variationID="20240315140000">EMPNEW</ID></PartyIDs><Name>New Employee</Name></SupplierPartyMaster></DataArea></SyncSupplierPartyMaster>"#
    );
    env.publish("Sync.SupplierPartyMaster", "sp-1", &xml).await;
    assert_eq!(env.sim.suppliers(TI, "1000"), ["EMPJDOE", "EMPNEW"]);
    let outbox = env.sim.take_outbox(TI);
    assert_eq!(outbox.len(), 1, "Sync has no Acknowledge; Always asks for a ConfirmBOD");
    assert!(outbox[0].xml.contains("<BODSuccessMessage>"));
}

/// One call to the test's IMS endpoint: `X-TenantId`, ParameterRequest, MessagePayload.
type Call = (Option<String>, Value, String);

/// What the test's IMS application endpoint received.
#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<Mutex<Vec<Call>>>,
    fail_first: Arc<Mutex<u32>>,
}

async fn ims_endpoint(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    {
        let mut remaining = receiver.fail_first.lock().unwrap();
        if *remaining > 0 {
            *remaining -= 1;
            return AxumStatus::SERVICE_UNAVAILABLE;
        }
    }
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let Ok(parts) = multipart::parse(content_type, &body) else { return AxumStatus::BAD_REQUEST };
    let parameters =
        parts.iter().find(|p| p.name == "ParameterRequest").map(|p| serde_json::from_slice(&p.body).unwrap());
    let payload = parts.iter().find(|p| p.name == "MessagePayload").map(|p| String::from_utf8(p.body.clone()).unwrap());
    let (Some(parameters), Some(payload)) = (parameters, payload) else { return AxumStatus::BAD_REQUEST };
    let tenant = headers.get("x-tenantid").and_then(|v| v.to_str().ok()).map(str::to_owned);
    receiver.calls.lock().unwrap().push((tenant, parameters, payload));
    AxumStatus::ACCEPTED
}

#[tokio::test]
async fn outcomes_are_pushed_to_the_callback_with_retries() {
    let env = env().await;
    let receiver = Receiver::default();
    *receiver.fail_first.lock().unwrap() = 1;
    let app = Router::new().route("/ion/v3/multipartMessage", post(ims_endpoint)).with_state(receiver.clone());
    let server = simulators::spawn(app, 0).await.unwrap();
    env.sim.set_callback(TI, &format!("{}/ion", server.base_url()));

    let unbalanced = journal_bod("CNQ-P", 3, "OnError", &[("6100", "1.00", 'D', None), ("2440", "2.00", 'C', None)]);
    env.publish(JOURNAL_DOC, "push-1", &unbalanced).await;
    env.sim.flush_callbacks().await;

    let calls = receiver.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "Acknowledge then ConfirmBOD");
    for (tenant, _, _) in &calls {
        assert_eq!(tenant.as_deref(), Some(TI));
    }
    assert_eq!(calls[0].1["documentName"], "Acknowledge.SourceSystemJournalEntry");
    assert_eq!(calls[1].1["documentName"], "Confirm.BOD");
    assert_eq!(calls[0].1["fromLogicalId"], simulators::infor::DEFAULT_ERP_LOGICAL_ID);
    assert_eq!(calls[0].1["toLogicalId"], LID);
    assert!(calls[0].2.contains(r#"actionCode="Rejected""#));
    assert!(calls[1].2.contains("<BODFailureMessage>"));
    let outbox = env.sim.outbox(TI);
    assert_eq!(calls[0].1["messageId"], outbox[0].message_id.as_str());

    let deliveries = env.sim.deliveries(TI);
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0].attempts, 2, "the first attempt got 503");
    assert_eq!(deliveries[0].state, DeliveryState::Delivered { status: 202 });
    assert_eq!(deliveries[1].attempts, 1);
    assert!(deliveries[0].url.ends_with("/ion/v3/multipartMessage"));

    // An endpoint that never answers 2xx: the sim gives up after a few attempts.
    *receiver.fail_first.lock().unwrap() = 100;
    env.publish(JOURNAL_DOC, "push-2", &balanced("CNQ-Q", 1, "5.00")).await;
    env.sim.flush_callbacks().await;
    let last = env.sim.deliveries(TI).pop().unwrap();
    assert_eq!(last.attempts, simulators::infor::callback::MAX_ATTEMPTS);
    assert_eq!(last.state, DeliveryState::Failed { last_error: "HTTP 503".into() });
}

/// Infor's ledger books every journal line in the functional currency too:
/// a line without `FunctionalAmount`, or functional amounts that do not
/// balance, are rejected.
#[tokio::test]
async fn a_journal_line_without_a_balanced_functional_amount_is_rejected() {
    let env = env().await;
    let without = balanced("CNQ-F1", 1, "10.00").replacen(
        r#"<FunctionalAmount currencyID="USD">10.00</FunctionalAmount>"#,
        "",
        1,
    );
    env.publish(JOURNAL_DOC, "no-functional", &without).await;
    let unbalanced = balanced("CNQ-F2", 1, "10.00").replacen(
        r#"<FunctionalAmount currencyID="USD">10.00</FunctionalAmount>"#,
        r#"<FunctionalAmount currencyID="USD">12.70</FunctionalAmount>"#,
        1,
    );
    env.publish(JOURNAL_DOC, "functional-unbalanced", &unbalanced).await;
    assert!(env.sim.journals(TI).is_empty());
    let reasons: Vec<String> = env
        .sim
        .received(TI)
        .iter()
        .map(|r| match &r.status {
            ReceivedStatus::Rejected { reason } => reason.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "JournalEntryLine 1: FunctionalAmount is missing (the amount in the functional currency)",
            "The journal is not balanced in functional USD: debits 12.70, credits 10.00",
        ]
    );
}
