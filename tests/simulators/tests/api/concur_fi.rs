//! Concur simulator over real HTTP: Financial Integration Service v4 paging,
//! acknowledgements, posting and payment confirmations.

use reqwest::StatusCode;
use serde_json::{Value, json};
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim, DocStatus, StartedConcur};

const CLIENT_ID: &str = "6b4b4c4e-1d2a-4f51-9a55-0c1f7b7f3a01";
const CLIENT_SECRET: &str = "0f5d8f2e-8c3b-4a6e-b0a1-3e2f6c9d7b02";
const COMPANY: &str = "070fde04-3e0c-4716-89fd-6026ae292ed0";
const OTHER_COMPANY: &str = "9feee0e9-9bf2-4f01-9d8a-035741679491";
const SYSTEM: &str = "ACUMATICA-PROD";
const FI: &str = "/financialintegration/fi/v4/companies/transactiontypes";

const EXAMPLE_2_1: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/fi-examples/FI-API-ReportID-F071FADEA6B142DD884A-Example-2.1.json"
));
const EXAMPLE_2_1_ID: &str = "f7a675d035bc44419cc0df2389c5b10c";
const CASH_ADVANCE_5_1_1: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/fi-examples/FI-API-CashAdvanceID-E2A086D30B88AE4683BC48ADE47B8116-Example-5.1.1.json"
));
const CASH_ADVANCE_ID: &str = "95d8abdbe1d642dfbf25df252857c17e";

struct Harness {
    concur: StartedConcur,
    http: reqwest::Client,
    token: String,
}

struct Reply {
    status: StatusCode,
    body: Value,
    text: String,
    correlation_id: Option<String>,
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let correlation_id =
        response.headers().get("concur-correlationid").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let text = response.text().await.expect("read body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, body, text, correlation_id }
}

async fn harness() -> Harness {
    let concur = ConcurSim::start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    for (uuid, name) in [(COMPANY, "Acme Corp"), (OTHER_COMPANY, "Other Inc")] {
        concur.sim.add_company(CompanySpec {
            uuid: uuid.into(),
            name: name.into(),
            datacenter: "us".into(),
            marketing_name: "CTE".into(),
        });
    }
    let http = reqwest::Client::new();
    let request_token = concur.sim.issue_request_token(COMPANY);
    let form = [
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("grant_type", "password"),
        ("username", COMPANY),
        ("password", request_token.as_str()),
        ("credtype", "authtoken"),
    ];
    let r =
        reply(http.post(format!("{}/oauth2/v0/token", concur.us_url())).form(&form).send().await.expect("token")).await;
    let token = r.body["access_token"].as_str().expect("access_token").to_owned();
    Harness { concur, http, token }
}

/// A 32-hex-character FI id.
fn fi_id(n: usize) -> String {
    format!("{n:032x}")
}

fn expense_document(report_id: &str) -> Value {
    json!({"report": {"reportId": report_id, "employeeCurrencyAlphaCode": "USD"}, "expenseEntry": []})
}

impl Harness {
    fn sim(&self) -> &ConcurSim {
        &self.concur.sim
    }

    fn url(&self, doc_type: &str, rest: &str) -> String {
        format!("{}{FI}/{doc_type}/transactions{rest}", self.concur.us_url())
    }

    async fn get(&self, url: &str) -> Reply {
        reply(self.http.get(url).bearer_auth(&self.token).send().await.expect("GET")).await
    }

    async fn get_as(&self, url: &str, format: &str) -> Reply {
        let request = self.http.get(url).bearer_auth(&self.token).header("DocumentFormatAs", format);
        reply(request.send().await.expect("GET")).await
    }

    async fn post(&self, doc_type: &str, call: &str, body: &Value) -> Reply {
        let url = self.url(doc_type, &format!("/{call}"));
        reply(self.http.post(url).bearer_auth(&self.token).json(body).send().await.expect("POST")).await
    }

    async fn ack(&self, doc_type: &str, ids: &[&str], system_id: &str) -> Vec<Value> {
        let r = self.post(doc_type, "acknowledgements", &json!({"ids": ids, "systemId": system_id})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body.as_array().expect("array").clone()
    }

    async fn confirm(&self, doc_type: &str, system_id: &str, items: Value) -> Vec<Value> {
        let body = json!({"systemId": system_id, "postingConfirmations": items});
        let r = self.post(doc_type, "postingconfirmations", &body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body.as_array().expect("array").clone()
    }
}

fn rels(page: &Value) -> Vec<String> {
    page["links"].as_array().expect("links").iter().map(|l| l["rel"].as_str().expect("rel").to_owned()).collect()
}

fn href(page: &Value, rel: &str) -> Option<String> {
    page["links"].as_array()?.iter().find(|l| l["rel"] == rel).and_then(|l| l["href"].as_str()).map(str::to_owned)
}

fn success(doc_id: &str, document_number: &str) -> Value {
    json!({
        "docId": doc_id,
        "overallPostingStatusCode": "success",
        "postingDocs": [{"companyId": "0100", "documentNumber": document_number, "fiscalYear": "2024",
                         "paymentRelevantLineItems": [], "postingDate": "2024-03-02"}],
        "systemMessages": [],
    })
}

fn failure(doc_id: &str) -> Value {
    json!({
        "docId": doc_id,
        "overallPostingStatusCode": "error",
        "postingDocs": [],
        "systemMessages": [{"concurTransactionLineItemId": "", "messageId": "003-CC", "messageLanguage": "EN",
                            "messageLongText": "", "messageShortText": "Profit centre assignment is not correct."}],
    })
}

#[tokio::test]
async fn thirty_documents_page_as_25_then_5_with_next_only_on_the_first_page() {
    let h = harness().await;
    for n in 0..30 {
        h.sim().add_fi_document(COMPANY, "expense", &fi_id(n), expense_document(&format!("R{n:019}")));
    }
    h.sim().add_fi_document(COMPANY, "invoice", &fi_id(100), json!({"requestHeader": {"requestId": "INV1"}}));
    h.sim().add_fi_document(OTHER_COMPANY, "expense", &fi_id(200), expense_document("OTHER"));

    let first = h.get(&h.url("expense", "")).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(first.correlation_id.is_some());
    assert_eq!(first.body["page"], json!({"size": 25, "totalElements": 30, "totalPages": 2, "number": 0}));
    let ids: Vec<&str> =
        first.body["content"].as_array().expect("content").iter().map(|d| d["id"].as_str().expect("id")).collect();
    assert_eq!(ids, (0..25).map(fi_id).collect::<Vec<_>>());
    assert_eq!(rels(&first.body), ["first", "self", "next", "last"]);
    let next = href(&first.body, "next").expect("next link");
    assert_eq!(next, h.url("expense", "?limit=25&page=1&size=25"));
    assert_eq!(href(&first.body, "last"), Some(h.url("expense", "?limit=25&page=1&size=25")));
    let doc = &first.body["content"][0];
    assert_eq!(doc["docType"], "expense");
    assert_eq!(doc["docStatus"], "READY");
    assert_eq!(doc["companyUuid"], COMPANY);
    assert_eq!(doc["document"]["report"]["reportId"], "R0000000000000000000");

    let second = h.get(&next).await;
    assert_eq!(second.body["page"], json!({"size": 25, "totalElements": 30, "totalPages": 2, "number": 1}));
    assert_eq!(second.body["content"].as_array().map(Vec::len), Some(5));
    assert_eq!(rels(&second.body), ["first", "self", "last"]);

    let small = h.get(&h.url("expense", "?limit=7&page=4")).await;
    assert_eq!(small.body["page"], json!({"size": 7, "totalElements": 30, "totalPages": 5, "number": 4}));
    assert_eq!(small.body["content"].as_array().map(Vec::len), Some(2));
    let beyond = h.get(&h.url("expense", "?page=9")).await;
    assert_eq!(beyond.body["content"], json!([]));

    let invoices = h.get(&h.url("invoice", "")).await;
    assert_eq!(invoices.body["page"]["totalElements"], 1);
    assert_eq!(invoices.body["content"][0]["id"], fi_id(100));
    let cash = h.get(&h.url("cashadvance", "")).await;
    assert_eq!((cash.status, &cash.body["content"]), (StatusCode::OK, &json!([])));
}

#[tokio::test]
async fn invalid_get_requests_are_400_in_the_documented_shape() {
    let h = harness().await;
    for (doc_type, query, code) in [
        ("payroll", "", 105),
        ("expenses", "", 105),
        ("expense", "?page=-1", 198),
        ("expense", "?limit=0", 198),
        ("expense", "?limit=ten", 198),
        ("expense", "?docId=x&ignoreDocumentStatus=maybe", 198),
    ] {
        let r = h.get(&h.url(doc_type, query)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{doc_type}{query}");
        assert_eq!(r.body["code"], code, "{doc_type}{query}: {}", r.text);
        assert_eq!(r.body["status"], 400);
        assert_eq!(r.body["path"], format!("{FI}/{doc_type}/transactions"));
        assert!(r.correlation_id.is_some());
    }
    let bad_format = h.get_as(&h.url("expense", ""), "xml").await;
    assert_eq!(bad_format.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn document_format_text_returns_the_document_as_a_json_string_with_amounts_untouched() {
    let h = harness().await;
    let ids = h.sim().load_fi_example(COMPANY, EXAMPLE_2_1).expect("example loads");
    assert_eq!(ids, [EXAMPLE_2_1_ID]);
    let original: Value = serde_json::from_str(EXAMPLE_2_1).expect("fixture");
    let original_document = &original["fIDocuments"][0]["document"];

    let as_json = h.get(&h.url("expense", "")).await;
    assert_eq!(&as_json.body["content"][0]["document"], original_document);
    assert_eq!(as_json.body["content"][0]["companyUuid"], COMPANY);
    let explicit_json = h.get_as(&h.url("expense", ""), "json").await;
    assert!(explicit_json.body["content"][0]["document"].is_object());

    let as_text = h.get_as(&h.url("expense", ""), "text").await;
    let text = as_text.body["content"][0]["document"].as_str().expect("document is a string");
    assert_eq!(&serde_json::from_str::<Value>(text).expect("JSON inside"), original_document);

    // Money is echoed exactly as loaded, never through f64 (serde_json may lower-case an exponent's `E`).
    let exact = r#"{"report": {"reportId": "EXACT", "totalApprovedAmount": 50.00000000}, "amountShippingTotal": 0E-8, "big": 12345678901234567890.12345678}"#;
    h.sim().add_fi_document(COMPANY, "expense", &fi_id(1), serde_json::from_str(exact).expect("doc"));
    for format in ["json", "text"] {
        let r = h.get_as(&h.url("expense", &format!("?docId={}", fi_id(1))), format).await;
        let raw = if format == "json" {
            r.text.clone()
        } else {
            r.body["content"][0]["document"].as_str().expect("text").to_owned()
        };
        for literal in ["50.00000000", "0E-8", "12345678901234567890.12345678"] {
            assert!(
                raw.to_ascii_lowercase().contains(&literal.to_ascii_lowercase()),
                "{format}: {literal} not in {raw}"
            );
        }
    }
}

#[tokio::test]
async fn doc_id_finds_by_fi_id_or_business_id_and_ignore_document_status_reaches_processed_ones() {
    let h = harness().await;
    h.sim().load_fi_example(COMPANY, EXAMPLE_2_1).expect("example");
    h.sim().load_fi_example(COMPANY, CASH_ADVANCE_5_1_1).expect("example");

    let by_id = h.get(&h.url("expense", &format!("?docId={EXAMPLE_2_1_ID}"))).await;
    assert_eq!(by_id.body["content"][0]["id"], EXAMPLE_2_1_ID);
    assert_eq!(by_id.body["page"], json!({"size": 1, "totalElements": 1, "totalPages": 1, "number": 0}));
    let by_report = h.get(&h.url("expense", "?docId=F071FADEA6B142DD884A")).await;
    assert_eq!(by_report.body["content"][0]["id"], EXAMPLE_2_1_ID);
    let by_advance = h.get(&h.url("cashadvance", "?docId=E2A086D30B88AE4683BC48ADE47B8116")).await;
    assert_eq!(by_advance.body["content"][0]["id"], CASH_ADVANCE_ID);
    let wrong_type = h.get(&h.url("invoice", &format!("?docId={EXAMPLE_2_1_ID}"))).await;
    assert_eq!(wrong_type.body["content"], json!([]));

    h.ack("expense", &[EXAMPLE_2_1_ID], SYSTEM).await;
    let hidden = h.get(&h.url("expense", &format!("?docId={EXAMPLE_2_1_ID}&ignoreDocumentStatus=no"))).await;
    assert_eq!(hidden.body["content"], json!([]));
    let shown = h.get(&h.url("expense", &format!("?docId={EXAMPLE_2_1_ID}&ignoreDocumentStatus=yes"))).await;
    assert_eq!(shown.body["content"][0]["docStatus"], "ACKNOWLEDGED");
    assert_eq!(shown.body["content"][0]["erpSystemId"], SYSTEM);
    // Acknowledged documents leave the READY queue.
    assert_eq!(h.get(&h.url("expense", "")).await.body["page"]["totalElements"], 0);
}

#[tokio::test]
async fn acknowledgements_answer_each_document_with_its_code() {
    let h = harness().await;
    let (ready, again, recalled, not_ready, invoice) = (fi_id(1), fi_id(2), fi_id(3), fi_id(4), fi_id(5));
    for id in [&ready, &again, &recalled, &not_ready] {
        h.sim().add_fi_document(COMPANY, "expense", id, expense_document(id));
    }
    h.sim().add_fi_document(COMPANY, "invoice", &invoice, json!({"requestHeader": {"requestId": "INV"}}));
    h.sim().add_fi_document(OTHER_COMPANY, "expense", &fi_id(6), expense_document("other"));
    assert_eq!(h.ack("expense", &[&again], "").await[0]["code"], 0);
    assert!(h.sim().recall(COMPANY, &recalled));
    assert!(h.sim().set_document_status(COMPANY, &not_ready, DocStatus::PendingSystemRefresh));

    let unknown = fi_id(99);
    let other_company = fi_id(6);
    let items =
        h.ack("expense", &[&ready, &again, &recalled, &not_ready, &invoice, &unknown, &other_company], SYSTEM).await;
    let item = |code: u32, id: &str, result: &str, message: &str| json!({"code": code, "docId": id, "systemId": SYSTEM, "acknowledgeResult": result, "errorMessage": message});
    assert_eq!(
        items,
        vec![
            item(0, &ready, "SUCCESS", ""),
            item(101, &again, "FAILURE", "This document was previously acknowledged by SystemId: null."),
            item(102, &recalled, "FAILURE", "This document has been recalled."),
            item(103, &not_ready, "FAILURE", "This document is not ready."),
            item(105, &invoice, "FAILURE", "This document is not of type expense."),
            item(104, &unknown, "FAILURE", "This document does not exist."),
            item(104, &other_company, "FAILURE", "This document does not exist."),
        ]
    );
    assert_eq!(h.sim().document_status(COMPANY, &ready), Some(DocStatus::Acknowledged));
    let repeat = h.ack("expense", &[&ready], "OTHER-ERP").await;
    assert_eq!(repeat[0]["errorMessage"], format!("This document was previously acknowledged by SystemId: {SYSTEM}."));

    // A document routed to another ERP system is not this system's to acknowledge.
    let routed = fi_id(7);
    h.sim().add_fi_document(COMPANY, "expense", &routed, expense_document("routed"));
    assert!(h.sim().set_erp_system_id(COMPANY, &routed, "SAP-Q16"));
    assert_eq!(h.ack("expense", &[&routed], SYSTEM).await[0]["code"], 99);
    let filtered = h.get(&h.url("expense", &format!("?systemId={SYSTEM}"))).await;
    assert_eq!(filtered.body["content"], json!([]));
    let theirs = h.get(&h.url("expense", "?systemId=SAP-Q16")).await;
    assert_eq!(theirs.body["content"][0]["id"], routed);
    assert_eq!(href(&theirs.body, "self"), Some(h.url("expense", "?limit=25&page=0&size=25&systemId=SAP-Q16")));
}

#[tokio::test]
async fn malformed_acknowledgement_requests_are_400_and_nothing_changes() {
    let h = harness().await;
    let id = fi_id(1);
    h.sim().add_fi_document(COMPANY, "expense", &id, expense_document("R1"));
    for body in [
        json!({"ids": [id]}),
        json!({"systemId": SYSTEM}),
        json!({"ids": id, "systemId": SYSTEM}),
        json!({"ids": [], "systemId": SYSTEM}),
        json!({"ids": [1], "systemId": SYSTEM}),
        json!({"ids": [id], "systemId": null}),
        json!([id]),
    ] {
        let r = h.post("expense", "acknowledgements", &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.body["code"], 198, "{body}");
        assert!(r.correlation_id.is_some());
    }
    let url = h.url("expense", "/acknowledgements");
    let garbage = reply(
        h.http
            .post(&url)
            .bearer_auth(&h.token)
            .header("content-type", "application/json")
            .body("{\"ids\": [")
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    let not_json = reply(
        h.http
            .post(&url)
            .bearer_auth(&h.token)
            .header("content-type", "text/plain")
            .body(json!({"ids": [id], "systemId": ""}).to_string())
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let payroll = h.post("payroll", "acknowledgements", &json!({"ids": [id], "systemId": SYSTEM})).await;
    assert_eq!((payroll.status, &payroll.body["code"]), (StatusCode::BAD_REQUEST, &json!(105)));
    assert_eq!(h.sim().document_status(COMPANY, &id), Some(DocStatus::Ready));
}

#[tokio::test]
async fn posting_confirmations_answer_each_document_with_its_code_and_are_recorded() {
    let h = harness().await;
    let ids: Vec<String> = (1..=6).map(fi_id).collect();
    for id in &ids {
        h.sim().add_fi_document(COMPANY, "expense", id, expense_document(id));
    }
    h.sim().add_fi_document(COMPANY, "invoice", &fi_id(7), json!({"requestHeader": {"requestId": "INV"}}));
    h.ack("expense", &[&ids[0], &ids[1], &ids[2], &ids[4]], SYSTEM).await;
    h.ack("invoice", &[&fi_id(7)], SYSTEM).await;
    h.sim().recall(COMPANY, &ids[5]);

    let items = h
        .confirm(
            "expense",
            SYSTEM,
            json!([
                success(&ids[0], "0123456"),
                failure(&ids[1]),
                success(&ids[3], "0000001"),
                success(&fi_id(99), "0000002"),
                success(&ids[5], "0000003"),
                success(&fi_id(7), "0000004"),
            ]),
        )
        .await;
    let item = |code: u32, id: &str, result: &str, message: &str| {
        json!({"code": code, "docId": id, "systemId": SYSTEM, "postingConfirmationResult": result,
               "errorMessage": message, "detailMessage": ""})
    };
    assert_eq!(
        items,
        vec![
            item(0, &ids[0], "SUCCESS", ""),
            item(0, &ids[1], "SUCCESS", ""),
            item(111, &ids[3], "NOT_YET_ACKNOWLEDGED", "This document has not been acknowledged."),
            item(116, &fi_id(99), "FAILURE", "This document does not exist."),
            item(112, &ids[5], "WAS_RECALLED", "This document has been recalled."),
            item(115, &fi_id(7), "FAILURE", "This document is not of type expense."),
        ]
    );
    assert_eq!(h.sim().document_status(COMPANY, &ids[0]), Some(DocStatus::PostingConfirmedSuccess));
    assert_eq!(h.sim().document_status(COMPANY, &ids[1]), Some(DocStatus::PostingConfirmedFailure));

    let twice = h.confirm("expense", SYSTEM, json!([success(&ids[0], "0123456")])).await;
    assert_eq!(twice[0], item(113, &ids[0], "FAILURE", "Confirmation has been posted for this document."));
    let other_system = h.confirm("expense", "SOMEONE-ELSE", json!([success(&ids[2], "1")])).await;
    assert_eq!(other_system[0]["code"], 99);
    assert_eq!(other_system[0]["errorMessage"], "System ID in request does not match system ID in FI database.");
    assert_eq!(h.sim().document_status(COMPANY, &ids[2]), Some(DocStatus::Acknowledged));

    let accepted: Vec<_> = h.sim().posting_confirmations(COMPANY).into_iter().filter(|c| c.result_code == 0).collect();
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[0].doc_id, ids[0]);
    assert_eq!(accepted[0].system_id, SYSTEM);
    assert_eq!(accepted[0].overall_posting_status_code, "success");
    assert_eq!(accepted[0].posting_docs[0]["documentNumber"], "0123456");
    assert_eq!(accepted[1].system_messages[0]["messageId"], "003-CC");
    assert_eq!(h.sim().posting_confirmations(COMPANY).len(), 8);
}

#[tokio::test]
async fn malformed_posting_confirmations_are_400() {
    let h = harness().await;
    let id = fi_id(1);
    h.sim().add_fi_document(COMPANY, "expense", &id, expense_document("R1"));
    h.ack("expense", &[&id], SYSTEM).await;
    let mut wrong_status = success(&id, "1");
    wrong_status["overallPostingStatusCode"] = json!("SUCCESS");
    let mut no_docs = success(&id, "1");
    no_docs.as_object_mut().expect("object").remove("postingDocs");
    let mut no_messages = success(&id, "1");
    no_messages.as_object_mut().expect("object").remove("systemMessages");
    let mut no_company = success(&id, "1");
    no_company["postingDocs"][0].as_object_mut().expect("object").remove("companyId");
    for body in [
        json!({"postingConfirmations": [success(&id, "1")]}),
        json!({"systemId": SYSTEM}),
        json!({"systemId": SYSTEM, "postingConfirmations": []}),
        json!({"systemId": SYSTEM, "postingConfirmations": [wrong_status]}),
        json!({"systemId": SYSTEM, "postingConfirmations": [no_docs]}),
        json!({"systemId": SYSTEM, "postingConfirmations": [no_messages]}),
        json!({"systemId": SYSTEM, "postingConfirmations": [no_company]}),
        json!({"systemId": "x".repeat(51), "postingConfirmations": [success(&id, "1")]}),
    ] {
        let r = h.post("expense", "postingconfirmations", &body).await;
        assert_eq!((r.status, &r.body["code"]), (StatusCode::BAD_REQUEST, &json!(198)), "{body}");
    }
    let obligation = h
        .post(
            "obligation",
            "postingconfirmations",
            &json!({"systemId": SYSTEM, "postingConfirmations": [success(&id, "1")]}),
        )
        .await;
    assert_eq!((obligation.status, &obligation.body["code"]), (StatusCode::BAD_REQUEST, &json!(115)));
    assert_eq!(h.sim().document_status(COMPANY, &id), Some(DocStatus::Acknowledged));
    assert!(h.sim().posting_confirmations(COMPANY).is_empty());
}

fn payment(doc_id: &str, code: &str, payment_ref: &str) -> Value {
    json!({
        "docId": doc_id,
        "processingStatusCode": code,
        "clearingDetails": [{
            "clearingDate": "2019-02-06T12:00:00.27Z", "clearingAmount": 220.00, "clearingCurrency": "USD",
            "receiver": {"receiverId": "22344", "receiverName": "Charles", "receiverType": "EMPLOYEE"},
            "clearingReference": {"companyCode": "US01", "financialDocumentId": "667799", "fiscalYear": "2019",
                                  "paymentRef": payment_ref, "paymentMethod": "E"},
        }],
    })
}

#[tokio::test]
async fn payment_confirmations_need_a_successful_posting_and_repeats_are_noop() {
    let h = harness().await;
    let (posted, acked) = (fi_id(1), fi_id(2));
    for id in [&posted, &acked] {
        h.sim().add_fi_document(COMPANY, "expense", id, expense_document(id));
    }
    h.ack("expense", &[&posted, &acked], SYSTEM).await;
    h.confirm("expense", SYSTEM, json!([success(&posted, "0123456")])).await;

    let body = json!({"systemId": SYSTEM, "processingConfirmation": [
        payment(&posted, "CP", "US01/667799/2019/2"),
        payment(&acked, "CP", "US01/667800/2019/2"),
        payment(&fi_id(99), "CP", "US01/667801/2019/2"),
        payment(&posted, "CP", "US01/667799/2019/2"),
    ]});
    let r = h.post("expense", "paymentconfirmations", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let item = |code: u32, id: &str, result: &str, message: Option<&str>, payment_ref: &str| {
        json!({"code": code, "docId": id, "systemId": SYSTEM, "paymentConfirmationResult": result,
               "errorMessage": message, "paymentRef": payment_ref, "detailMessage": ""})
    };
    assert_eq!(
        r.body,
        json!([
            item(0, &posted, "SUCCESS", None, "US01/667799/2019/2"),
            item(
                111,
                &acked,
                "NOT_POSTING_CONFIRMED",
                Some("This document has not been posting confirmed."),
                "US01/667800/2019/2"
            ),
            item(116, &fi_id(99), "FAILURE", Some("This document does not exist."), "US01/667801/2019/2"),
            item(
                298,
                &posted,
                "NOOP",
                Some("Payment confirmation already exist US01/667799/2019/2."),
                "US01/667799/2019/2"
            ),
        ])
    );
    assert_eq!(h.sim().document_status(COMPANY, &posted), Some(DocStatus::PaymentConfirmedSuccess));
    let recorded = h.sim().payment_confirmations(COMPANY);
    assert_eq!(recorded.len(), 4);
    assert_eq!(recorded[0].payment_refs, ["US01/667799/2019/2"]);

    let reversal =
        json!({"systemId": SYSTEM, "processingConfirmation": [payment(&posted, "RE", "US01/667799/2019/3")]});
    assert_eq!(h.post("expense", "paymentconfirmations", &reversal).await.body[0]["code"], 0);
    assert_eq!(h.sim().document_status(COMPANY, &posted), Some(DocStatus::PaymentConfirmedReversed));

    for bad in [
        json!({"processingConfirmation": [payment(&posted, "CP", "x")]}),
        json!({"systemId": SYSTEM, "processingConfirmation": [payment(&posted, "XX", "x")]}),
        json!({"systemId": SYSTEM, "processingConfirmation": [{"docId": posted, "processingStatusCode": "CP"}]}),
    ] {
        let r = h.post("expense", "paymentconfirmations", &bad).await;
        assert_eq!((r.status, &r.body["code"]), (StatusCode::BAD_REQUEST, &json!(198)), "{bad}");
    }
    let invoice = h.post("invoice", "paymentconfirmations", &body).await;
    assert_eq!(invoice.status, StatusCode::BAD_REQUEST);
}
