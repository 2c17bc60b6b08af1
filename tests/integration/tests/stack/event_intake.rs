//! event-intake end to end: the handler wired from the template's
//! environment (with the test webhook key), signed deliveries built like
//! ESS's, and the stack's connections table, audit table and FIFO work
//! queue in moto.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::http::HeaderValue;
use domain::{CompanyUuid, ConcurrencyLevel, Connection, ConnectionId, ConnectionStatus, ErpSettings, InforSettings};
use domain::{MessageGroupId, WorkItem, WorkSource};
use event_intake::{LiveIntake, MAX_BODY_BYTES, UNROUTED};
use integration::{TestStack, body_text};
use platform::Env;
use simulators::concur::webhook::{EssSigner, ExpenseStatusChanged, test_public_key_base64};

const INTAKE: &str = "EventIntakeFunction";
const COMPANY: &str = "0ffa9ce0-f00b-408a-8344-8eaad502b0d7";
const UNKNOWN_COMPANY: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";
const DISABLED_COMPANY: &str = "11111111-2222-4333-8444-555555555555";

struct World {
    stack: TestStack,
    intake: LiveIntake,
    signer: EssSigner,
}

/// The function's environment from the template, with the test key (the
/// template's default is Concur's real key) and any overrides.
fn intake_env(stack: &TestStack, overrides: &[(&str, &str)]) -> Env {
    let mut env = stack.provisioned.function_env(INTAKE).clone();
    env.insert("CONCUR_WEBHOOK_PUBLIC_KEY".into(), test_public_key_base64().into());
    for (name, value) in overrides {
        env.insert((*name).into(), (*value).into());
    }
    Env::from_map(env)
}

fn connection(id: &str, company: &str, status: ConnectionStatus) -> Connection {
    let erp = Some(ErpSettings::Infor(InforSettings::default()));
    let mut c = Connection::new(ConnectionId::parse(id).unwrap(), format!("{id} corp"), erp, "2026-11-23T10:00:00Z");
    c.company_uuid = Some(CompanyUuid::parse(company).unwrap());
    c.status = status;
    c.geolocation = Some("https://us.api.concursolutions.com".into());
    c.concurrency_level = ConcurrencyLevel::new(3).unwrap();
    c
}

async fn world() -> World {
    let stack = TestStack::new().await;
    let store = stack.connections(INTAKE);
    store.create(&connection("acme", COMPANY, ConnectionStatus::Active)).await.unwrap();
    store.create(&connection("dormant", DISABLED_COMPANY, ConnectionStatus::Disabled)).await.unwrap();
    let intake = LiveIntake::from_env(&intake_env(&stack, &[]), &stack.aws()).expect("the template's env is complete");
    World { stack, intake, signer: EssSigner::test_key() }
}

fn post(body: &[u8], signature: Option<&str>) -> ApiGatewayV2httpRequest {
    let mut request = ApiGatewayV2httpRequest::default();
    request.body = Some(String::from_utf8_lossy(body).into_owned());
    if let Some(signature) = signature {
        request.headers.insert("concur-signature", HeaderValue::from_str(signature).unwrap());
    }
    request
}

/// A received work-queue message: the parsed item, its group and dedup id.
#[derive(Debug)]
struct Queued {
    item: WorkItem,
    group: String,
    dedup: String,
}

impl World {
    async fn deliver(&self, body: &[u8], signature: Option<&str>) -> (u16, String) {
        let response = event_intake::handle(&self.intake, post(body, signature)).await;
        (response.status_code as u16, body_text(&response))
    }

    async fn deliver_event(&self, event: &ExpenseStatusChanged) -> (u16, String) {
        let (body, signature) = event.signed(&self.signer);
        self.deliver(&body, Some(&signature)).await
    }

    /// Every message on the work queue (receives them; deletes none).
    async fn queued(&self) -> Vec<Queued> {
        self.stack
            .peek_queue("WorkQueue")
            .await
            .iter()
            .map(|text| {
                let (body, attributes) = text.rsplit_once(" [group ").unwrap_or_else(|| panic!("{text}"));
                let (group, dedup) = attributes.trim_end_matches(']').split_once(", dedup ").unwrap();
                let item = WorkItem::from_json(body).unwrap_or_else(|e| panic!("{e}: {body}"));
                Queued { item, group: group.to_owned(), dedup: dedup.to_owned() }
            })
            .collect()
    }

    async fn history(&self, document_ref: &str) -> Vec<platform::audit::AuditEvent> {
        self.stack.audit(INTAKE).history(document_ref).await.unwrap()
    }
}

#[tokio::test]
async fn a_signed_approval_becomes_exactly_one_work_item() {
    let w = world().await;
    let event = ExpenseStatusChanged::approved(COMPANY, "1B5A6194DFB047DAB0BD");
    assert_eq!(w.deliver_event(&event).await, (202, r#"{"message":"queued"}"#.to_owned()));

    let queued = w.queued().await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    let q = &queued[0];
    assert_eq!(q.item.connection_id.as_str(), "acme");
    assert_eq!(q.item.document_type, domain::DocumentType::Expense);
    assert_eq!(q.item.document_id.as_str(), "1B5A6194DFB047DAB0BD");
    assert_eq!(q.item.source, WorkSource::Webhook);
    assert_eq!(q.dedup, "acme#expense#1B5A6194DFB047DAB0BD");
    let owner = ConnectionId::parse("acme").unwrap();
    let expected = MessageGroupId::for_document(&owner, ConcurrencyLevel::new(3).unwrap(), &q.item.document_key());
    assert_eq!(q.group, expected.as_str());

    // The receipt is the poster's to record, with the rest of the document's story (one write).
    let history = w.history("acme#expense#1B5A6194DFB047DAB0BD").await;
    assert!(history.is_empty(), "{history:?}");
}

#[tokio::test]
async fn a_queued_webhook_costs_one_sqs_send_and_no_dynamodb_write() {
    let w = world().await;
    let calls = platform::aws_calls::AwsCalls::new();
    let intake = LiveIntake::from_env(&intake_env(&w.stack, &[]), &w.stack.aws().counting(&calls)).unwrap();
    for id in ["R1", "R2", "R3"] {
        let (body, signature) = ExpenseStatusChanged::approved(COMPANY, id).signed(&w.signer);
        let response = event_intake::handle(&intake, post(&body, Some(&signature))).await;
        assert_eq!(response.status_code, 202, "{}", body_text(&response));
    }
    assert_eq!(calls.dynamodb_writes(), 0, "{:?}", calls.snapshot());
    assert_eq!(calls.count("SQS", &["SendMessage"]), 3, "{:?}", calls.snapshot());
    assert_eq!(calls.count("Secrets Manager", &[]), 0, "{:?}", calls.snapshot());
    println!("event-intake, three queued webhooks: {:?}", calls.snapshot());
}

#[tokio::test]
async fn bad_missing_or_replayed_signatures_are_401_and_queue_nothing() {
    let w = world().await;
    let (body, signature) = ExpenseStatusChanged::approved(COMPANY, "R1").signed(&w.signer);
    assert_eq!(w.deliver(&body, None).await.0, 401);
    assert_eq!(w.deliver(&body, Some("bm90IGEgc2lnbmF0dXJl")).await.0, 401);
    assert_eq!(w.deliver(&body, Some("")).await.0, 401);
    // A captured delivery replayed with another report id.
    let altered = String::from_utf8(body).unwrap().replace("\"R1\"", "\"R666\"");
    assert_eq!(w.deliver(altered.as_bytes(), Some(&signature)).await.0, 401);

    assert!(w.queued().await.is_empty());
    assert!(w.stack.scan_table("AuditTable").await.is_empty(), "unsigned requests leave no record");
}

#[tokio::test]
async fn malformed_oversized_and_unroutable_events_get_4xx_queue_nothing_and_leave_a_record() {
    let captured = platform::telemetry::capture();
    let w = world().await;

    let (status, message) = w.deliver(b"{\"id\": ", Some(&w.signer.sign(b"{\"id\": "))).await;
    assert_eq!(status, 400, "{message}");
    let malformed = w.history(&format!("{UNROUTED}#malformed")).await;
    assert_eq!(malformed.len(), 1, "{malformed:?}");
    assert!(malformed[0].detail.as_deref().unwrap().contains("not valid JSON"), "{malformed:?}");

    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
    assert_eq!(w.deliver(big.as_bytes(), Some(&w.signer.sign(big.as_bytes()))).await.0, 413);

    let mut bad_report = ExpenseStatusChanged::approved(COMPANY, "R1").to_json();
    bad_report["facts"]["reportId"] = "R-1".into();
    let (body, signature) = w.signer.signed(&bad_report);
    assert_eq!(w.deliver(&body, Some(&signature)).await.0, 400);
    let refused = w.history(&format!("{UNROUTED}#company-{COMPANY}")).await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].detail.as_deref().unwrap().contains("facts.reportId"), "{refused:?}");

    let stranger = ExpenseStatusChanged::approved(UNKNOWN_COMPANY, "R2");
    let (status, message) = w.deliver_event(&stranger).await;
    assert_eq!(status, 404, "{message}");
    let unknown = w.history(&format!("{UNROUTED}#company-{UNKNOWN_COMPANY}")).await;
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    let e = &unknown[0];
    assert_eq!((e.connection_id.as_str(), e.step.as_str(), e.outcome.as_str()), (UNROUTED, "rejected", "failed"));
    let detail = e.detail.as_deref().unwrap();
    for part in [stranger.event_id.as_str(), "public.concur.expense.report", "no connection"] {
        assert!(detail.contains(part), "{part} in {detail}");
    }

    // A disabled connection: acknowledged, not queued, and said so on the document.
    let (status, message) = w.deliver_event(&ExpenseStatusChanged::approved(DISABLED_COMPANY, "R3")).await;
    assert_eq!(status, 200, "{message}");
    let skipped = w.history("dormant#expense#R3").await;
    assert_eq!((skipped[0].step.as_str(), skipped[0].outcome.as_str()), ("received", "skipped"));
    // A forged one.
    assert_eq!(w.deliver(&body, Some("Zm9yZ2Vk")).await.0, 401);

    assert!(w.queued().await.is_empty());
    let counted = integration::inbound_calls(&captured.lines(), "concur_events");
    let expected = [("refused", 3.0), ("unknown_company", 1.0), ("ignored", 1.0), ("unauthorized", 1.0)];
    assert_eq!(counted, expected.map(|(o, n)| (o.to_owned(), n)).into(), "each delivery counted by its answer");
}

#[tokio::test]
async fn repeated_and_out_of_order_deliveries_make_one_work_item_per_document() {
    let captured = platform::telemetry::capture();
    let w = world().await;
    let approved = ExpenseStatusChanged::approved(COMPANY, "R1");
    for _ in 0..3 {
        assert_eq!(w.deliver_event(&approved).await.0, 202);
    }
    // Another report, its events in mixed order (paid before it was approved).
    for (event, status) in [
        (ExpenseStatusChanged::paid(COMPANY, "R2"), 200),
        (ExpenseStatusChanged::approved(COMPANY, "R2"), 202),
        (ExpenseStatusChanged::sent_back(COMPANY, "R2"), 200),
        (ExpenseStatusChanged::approved(COMPANY, "R2"), 202),
    ] {
        assert_eq!(w.deliver_event(&event).await.0, status, "{:?}", event.change);
    }

    let mut documents: Vec<String> = w.queued().await.iter().map(|q| q.dedup.clone()).collect();
    documents.sort();
    assert_eq!(documents, ["acme#expense#R1", "acme#expense#R2"]);
    // A repeated delivery is answered (and counted) as queued: the queue's deduplication drops it.
    let counted = integration::inbound_calls(&captured.lines(), "concur_events");
    assert_eq!(counted, [("ignored".to_owned(), 2.0), ("queued".to_owned(), 5.0)].into());
}

#[tokio::test]
async fn an_unavailable_queue_is_503_so_ess_retries() {
    let w = world().await;
    let real = w.stack.work_queue_url(INTAKE);
    let missing = format!("{}/no-such-queue.fifo", real.rsplit_once('/').unwrap().0);
    let env = intake_env(&w.stack, &[("WORK_QUEUE_URL", &missing)]);
    let broken = LiveIntake::from_env(&env, &w.stack.aws()).unwrap();
    let (body, signature) = ExpenseStatusChanged::approved(COMPANY, "R1").signed(&w.signer);
    let response = event_intake::handle(&broken, post(&body, Some(&signature))).await;
    assert_eq!(response.status_code, 503, "{}", body_text(&response));
    assert!(w.history("acme#expense#R1").await.is_empty(), "nothing claims it was received");
    assert!(w.queued().await.is_empty());
}

#[tokio::test]
async fn a_missing_or_invalid_webhook_key_stops_the_cold_start() {
    let stack = TestStack::new().await;
    let mut env = stack.provisioned.function_env(INTAKE).clone();
    // The template's default (Concur's published key) is usable as is.
    assert!(LiveIntake::from_env(&Env::from_map(env.clone()), &stack.aws()).is_ok());
    env.insert("CONCUR_WEBHOOK_PUBLIC_KEY".into(), "bm90IGEga2V5".into());
    let err = LiveIntake::from_env(&Env::from_map(env.clone()), &stack.aws()).err().unwrap().to_string();
    assert!(err.contains("CONCUR_WEBHOOK_PUBLIC_KEY") && err.contains("ConcurWebhookPublicKey"), "{err}");
    env.remove("CONCUR_WEBHOOK_PUBLIC_KEY");
    let err = LiveIntake::from_env(&Env::from_map(env), &stack.aws()).err().unwrap().to_string();
    assert!(err.contains("CONCUR_WEBHOOK_PUBLIC_KEY is not set"), "{err}");
}
