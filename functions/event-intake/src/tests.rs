//! The handler with in-memory ports: every answer ESS can get.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aws_lambda_events::encodings::Body;
use domain::{ConnectionStatus, DocumentType, ErpSettings, InforSettings};
use simulators::concur::webhook::{EssSigner, ExpenseStatusChanged, SAMPLE_COMPANY, test_public_key_base64};

use super::*;

const OTHER_COMPANY: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";

/// Connections, a FIFO queue that deduplicates like SQS, an audit trail,
/// and a switch per port to make it fail.
#[derive(Default)]
struct World {
    connections: Mutex<Vec<Connection>>,
    messages: Mutex<Vec<Outgoing>>,
    audit: Mutex<Vec<AuditEntry>>,
    sends: Mutex<usize>,
    fail_lookup: AtomicBool,
    fail_slots: AtomicBool,
    fail_send: AtomicBool,
    fail_audit: AtomicBool,
}

fn store_error(what: &str) -> StoreError {
    StoreError::new(what, "simulated outage")
}

impl ConnectionLookup for Arc<World> {
    async fn find_by_company(&self, company: &CompanyUuid) -> Result<Option<Connection>, StoreError> {
        if self.fail_lookup.load(Ordering::SeqCst) {
            return Err(store_error("finding a connection"));
        }
        let all = self.connections.lock().unwrap();
        Ok(all.iter().find(|c| c.company_uuid.as_ref() == Some(company)).cloned())
    }

    async fn slot_owner(&self, connection: &Connection) -> Result<(ConnectionId, ConcurrencyLevel), StoreError> {
        if self.fail_slots.load(Ordering::SeqCst) {
            return Err(store_error("reading the lender"));
        }
        let all = self.connections.lock().unwrap();
        let owner = connection
            .borrow_concurrency_from
            .as_ref()
            .and_then(|lender| all.iter().find(|c| &c.connection_id == lender))
            .unwrap_or(connection);
        Ok((owner.connection_id.clone(), owner.concurrency_level))
    }
}

impl WorkSender for Arc<World> {
    async fn send(&self, message: &Outgoing) -> Result<(), StoreError> {
        if self.fail_send.load(Ordering::SeqCst) {
            return Err(store_error("queueing"));
        }
        *self.sends.lock().unwrap() += 1;
        let mut messages = self.messages.lock().unwrap();
        if !messages.iter().any(|m| m.dedup_id == message.dedup_id) {
            messages.push(message.clone());
        }
        Ok(())
    }
}

impl AuditSink for Arc<World> {
    async fn record(&self, entry: AuditEntry) -> Result<(), StoreError> {
        if self.fail_audit.load(Ordering::SeqCst) {
            return Err(store_error("recording"));
        }
        self.audit.lock().unwrap().push(entry);
        Ok(())
    }
}

fn connection(id: &str, company: &str) -> Connection {
    let mut c = Connection::new(
        ConnectionId::parse(id).unwrap(),
        id,
        Some(ErpSettings::Infor(InforSettings::default())),
        "2026-11-01T00:00:00Z",
    );
    c.company_uuid = Some(CompanyUuid::parse(company).unwrap());
    c.status = ConnectionStatus::Active;
    c.geolocation = Some("https://us.api.concursolutions.com".into());
    c.concurrency_level = ConcurrencyLevel::new(4).unwrap();
    c
}

struct Fixture {
    world: Arc<World>,
    intake: Intake<Arc<World>, Arc<World>, Arc<World>>,
    signer: EssSigner,
}

fn fixture() -> Fixture {
    let world = Arc::new(World::default());
    world.connections.lock().unwrap().push(connection("acme", SAMPLE_COMPANY));
    let intake = Intake {
        verifier: WebhookVerifier::from_public_key(test_public_key_base64()).unwrap(),
        connections: world.clone(),
        queue: world.clone(),
        audit: world.clone(),
    };
    Fixture { world, intake, signer: EssSigner::test_key() }
}

fn post(body: &[u8], signature: Option<&str>) -> ApiGatewayV2httpRequest {
    let mut r = ApiGatewayV2httpRequest::default();
    r.body = Some(String::from_utf8_lossy(body).into_owned());
    if let Some(signature) = signature {
        r.headers.insert("concur-signature", http::HeaderValue::from_str(signature).unwrap());
    }
    r
}

impl Fixture {
    async fn deliver(&self, body: &[u8], signature: Option<&str>) -> (u16, String) {
        let response = handle(&self.intake, post(body, signature)).await;
        assert!(response.headers.get("www-authenticate").is_none());
        let text = match response.body {
            Some(Body::Text(t)) => t,
            other => panic!("expected a text body, got {other:?}"),
        };
        (u16::try_from(response.status_code).unwrap(), text)
    }

    async fn deliver_event(&self, event: &ExpenseStatusChanged) -> (u16, String) {
        let (body, signature) = event.signed(&self.signer);
        self.deliver(&body, Some(&signature)).await
    }

    async fn deliver_json(&self, json: serde_json::Value) -> (u16, String) {
        let (body, signature) = self.signer.signed(&json);
        self.deliver(&body, Some(&signature)).await
    }

    fn messages(&self) -> Vec<Outgoing> {
        self.world.messages.lock().unwrap().clone()
    }

    fn audit(&self) -> Vec<AuditEntry> {
        self.world.audit.lock().unwrap().clone()
    }

    fn nothing_queued_or_recorded(&self) {
        assert!(self.messages().is_empty(), "{:?}", self.messages());
        assert_eq!(*self.world.sends.lock().unwrap(), 0);
        assert!(self.audit().is_empty(), "{:?}", self.audit());
    }
}

#[tokio::test]
async fn an_approved_report_is_queued_and_answered_202() {
    let f = fixture();
    let event = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "1B5A6194DFB047DAB0BD");
    assert_eq!(f.deliver_event(&event).await, (202, r#"{"message":"queued"}"#.into()));

    let messages = f.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.item.connection_id.as_str(), "acme");
    assert_eq!(m.item.document_type, DocumentType::Expense);
    assert_eq!(m.item.document_id.as_str(), "1B5A6194DFB047DAB0BD");
    assert_eq!(m.item.source, WorkSource::Webhook);
    assert_eq!(m.dedup_id, "acme#expense#1B5A6194DFB047DAB0BD");
    assert!(m.group.as_str().starts_with("acme#"), "{}", m.group.as_str());

    // No DynamoDB write on the way in: the poster's run records the receipt with the rest of the document's story.
    assert!(f.audit().is_empty(), "{:?}", f.audit());
}

#[tokio::test]
async fn a_borrowing_connection_uses_the_lenders_slots() {
    let f = fixture();
    {
        let mut all = f.world.connections.lock().unwrap();
        all.push(connection("lender", OTHER_COMPANY));
        all[0].borrow_concurrency_from = Some(ConnectionId::parse("lender").unwrap());
    }
    assert_eq!(f.deliver_event(&ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1")).await.0, 202);
    let m = &f.messages()[0];
    assert!(m.group.as_str().starts_with("lender#"), "{}", m.group.as_str());
    assert_eq!(m.dedup_id, "acme#expense#R1", "the document still belongs to its own connection");
}

#[tokio::test]
async fn repeats_and_out_of_order_events_of_one_report_make_one_work_item() {
    let f = fixture();
    let approved = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1");
    for _ in 0..3 {
        assert_eq!(f.deliver_event(&approved).await.0, 202);
    }
    assert_eq!(f.deliver_event(&ExpenseStatusChanged::paid(SAMPLE_COMPANY, "R1")).await.0, 200);
    assert_eq!(f.deliver_event(&ExpenseStatusChanged::sent_back(SAMPLE_COMPANY, "R1")).await.0, 200);
    // A second approval (resubmitted after a send-back) is a new event id.
    assert_eq!(f.deliver_event(&ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1")).await.0, 202);
    assert_eq!(*f.world.sends.lock().unwrap(), 4, "every approval was sent…");
    assert_eq!(f.messages().len(), 1, "…and deduplicated by connection + document");
}

#[tokio::test]
async fn a_missing_or_invalid_signature_is_401_and_nothing_happens() {
    let f = fixture();
    let (body, signature) = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1").signed(&f.signer);

    let (status, message) = f.deliver(&body, None).await;
    assert_eq!((status, message.contains("missing")), (401, true), "{message}");
    for bad in ["", "garbage!", "c2hvcnQ="] {
        assert_eq!(f.deliver(&body, Some(bad)).await.0, 401, "{bad:?}");
    }
    // The same signature over another body (a replay with an altered report id).
    let altered = String::from_utf8(body.clone()).unwrap().replace("\"R1\"", "\"R2\"");
    assert_eq!(f.deliver(altered.as_bytes(), Some(&signature)).await.0, 401);
    // Signed by our test key, verified with Concur's real one.
    let concur_key = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxS1LsXrEWEEMPooLHa4rosCAnmkO3HaBAk0YcsDMR6hQeuQNLqRWP65TpbfTbKWmZ22Hzep3Ekhs1qvSZgI+iq/bnVeDhkcD+LqVQGP+7fyE0E0bO96FOzMmtbRet4wAiiE9+uw5GmZfg+fRG3yIy2N5u5p7VHJ1RwNugrIUQjhrLvZc+lhqR/aKTxQCQ5CGAgLZIcr3FIWCWrSBMK3dWy3KI+qe3ZX0STrCCNxl2UFnuuAa2RZZ2j4QtWHlNkyK+UEup+cGkvpc1XrT7anLHlbTP6jE7MqB5sJ9r2EEzrJzJZjD13UqlzvI61tTC8SKpuk5AEaSsUV7RKlKUCjB8wIDAQAB";
    let concur = Intake {
        verifier: WebhookVerifier::from_public_key(concur_key).unwrap(),
        connections: f.world.clone(),
        queue: f.world.clone(),
        audit: f.world.clone(),
    };
    assert_eq!(handle(&concur, post(&body, Some(&signature))).await.status_code, 401);
    // Unsigned garbage is refused on the signature, not parsed.
    assert_eq!(f.deliver(b"{not json", None).await.0, 401);
    f.nothing_queued_or_recorded();
}

#[tokio::test]
async fn an_oversized_body_is_413_before_anything_else() {
    let f = fixture();
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
    let signature = f.signer.sign(big.as_bytes());
    assert_eq!(f.deliver(big.as_bytes(), Some(&signature)).await.0, 413);
    assert_eq!(f.deliver(big.as_bytes(), None).await.0, 413);
    f.nothing_queued_or_recorded();
}

#[tokio::test]
async fn a_signed_body_that_is_no_notification_is_400_and_audited() {
    let f = fixture();
    for body in [&b"{not json"[..], b"42", b"[]", br#"{"id": 5}"#] {
        let signature = f.signer.sign(body);
        let (status, message) = f.deliver(body, Some(&signature)).await;
        assert_eq!(status, 400, "{message}");
    }
    let audit = f.audit();
    assert_eq!(audit.len(), 4);
    assert!(audit.iter().all(|e| e.connection_id == UNROUTED && e.subject == "malformed" && e.step == "rejected"));
    assert!(audit[0].detail.contains("not valid JSON"), "{}", audit[0].detail);
    assert!(f.messages().is_empty());
}

#[tokio::test]
async fn a_notification_without_a_usable_report_id_is_400_and_audited() {
    let f = fixture();
    let mut json = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1").with_event_id("evt-7").to_json();
    json["facts"]["reportId"] = "not/an id".into();
    let (status, message) = f.deliver_json(json).await;
    assert_eq!(status, 400);
    assert!(message.contains("facts.reportId"), "{message}");
    let audit = f.audit();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].connection_id, UNROUTED);
    assert_eq!(audit[0].subject, format!("company-{SAMPLE_COMPANY}"));
    assert!(audit[0].detail.contains("evt-7") && audit[0].detail.contains("public.concur.expense.report"));
    assert!(f.messages().is_empty());
}

#[tokio::test]
async fn an_unknown_company_is_404_and_audited_for_an_operator() {
    let f = fixture();
    let event = ExpenseStatusChanged::approved(OTHER_COMPANY, "R1");
    let (status, message) = f.deliver_event(&event).await;
    assert_eq!(status, 404);
    assert!(message.contains(OTHER_COMPANY), "{message}");
    let audit = f.audit();
    assert_eq!(audit.len(), 1);
    let e = &audit[0];
    assert_eq!((e.connection_id.as_str(), e.step, e.outcome), (UNROUTED, "rejected", "failed"));
    assert_eq!(e.subject, format!("company-{OTHER_COMPANY}"));
    for part in [event.event_id.as_str(), "public.concur.expense.report", "no connection", "expense#R1"] {
        assert!(e.detail.contains(part), "{part} in {}", e.detail);
    }
    assert!(f.messages().is_empty());
}

#[tokio::test]
async fn a_connection_not_taking_documents_gets_2xx_and_an_audit_event() {
    for (change, reason) in [
        (
            Box::new(|c: &mut Connection| c.status = ConnectionStatus::Disabled) as Box<dyn Fn(&mut Connection)>,
            "disabled",
        ),
        (Box::new(|c: &mut Connection| c.status = ConnectionStatus::NeedsReauth), "reconnect"),
        (Box::new(|c: &mut Connection| c.erp = None), "no ERP"),
        (Box::new(|c: &mut Connection| c.enabled_document_types = vec![DocumentType::Invoice]), "not enabled"),
    ] {
        let f = fixture();
        change(&mut f.world.connections.lock().unwrap()[0]);
        let (status, message) = f.deliver_event(&ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1")).await;
        assert_eq!(status, 200, "{message}");
        assert!(message.contains(reason), "{reason} in {message}");
        let audit = f.audit();
        assert_eq!(audit.len(), 1);
        assert_eq!((audit[0].connection_id.as_str(), audit[0].subject.as_str()), ("acme", "expense#R1"));
        assert_eq!((audit[0].step, audit[0].outcome), ("received", "skipped"));
        assert!(f.messages().is_empty());
    }
}

#[tokio::test]
async fn status_changes_and_topics_we_do_not_act_on_are_2xx_without_work() {
    let f = fixture();
    assert_eq!(f.deliver_event(&ExpenseStatusChanged::sent_back(SAMPLE_COMPANY, "R1")).await.0, 200);
    assert_eq!(f.deliver_event(&ExpenseStatusChanged::paid(SAMPLE_COMPANY, "R1")).await.0, 200);
    // Ignored before any lookup: an unknown company's sent-back is no 404.
    assert_eq!(f.deliver_event(&ExpenseStatusChanged::sent_back(OTHER_COMPANY, "R1")).await.0, 200);
    let test_topic = serde_json::json!({"id": "t", "topic": "public.test", "eventType": "ping", "facts": {}});
    let (status, message) = f.deliver_json(test_topic).await;
    assert_eq!(status, 200);
    assert!(message.contains("public.test"), "{message}");
    f.nothing_queued_or_recorded();
}

#[tokio::test]
async fn aws_failures_are_503_so_ess_retries() {
    let event = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1");
    for port in ["queue", "connections", "slots"] {
        let f = fixture();
        let switch = match port {
            "queue" => &f.world.fail_send,
            "connections" => &f.world.fail_lookup,
            _ => &f.world.fail_slots,
        };
        switch.store(true, Ordering::SeqCst);
        let (status, message) = f.deliver_event(&event).await;
        assert_eq!(status, 503, "{port}: {message}");
        assert!(!message.contains("simulated"), "internal errors stay in the logs: {message}");
        assert!(f.messages().is_empty());
    }
    // A refusal that cannot be recorded is retried too (ESS would not resend a 404).
    let f = fixture();
    f.world.fail_audit.store(true, Ordering::SeqCst);
    assert_eq!(f.deliver_event(&ExpenseStatusChanged::approved(OTHER_COMPANY, "R1")).await.0, 503);
    let signature = f.signer.sign(b"{not json");
    assert_eq!(f.deliver(b"{not json", Some(&signature)).await.0, 503);
    // A queued document needs no audit write: the audit being down changes nothing.
    assert_eq!(f.deliver_event(&event).await.0, 202);
    assert_eq!(f.messages().len(), 1);
}

#[tokio::test]
async fn an_array_is_answered_by_its_most_severe_outcome() {
    let f = fixture();
    let two = serde_json::json!([
        ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1").to_json(),
        ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R2").to_json(),
    ]);
    assert_eq!(f.deliver_json(two).await.0, 202);
    let ids: BTreeSet<String> = f.messages().iter().map(|m| m.item.document_id.to_string()).collect();
    assert_eq!(ids, BTreeSet::from(["R1".to_owned(), "R2".to_owned()]));

    let mixed = serde_json::json!([
        ExpenseStatusChanged::paid(SAMPLE_COMPANY, "R3").to_json(),
        ExpenseStatusChanged::approved(OTHER_COMPANY, "R4").to_json(),
        ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R5").to_json(),
    ]);
    assert_eq!(f.deliver_json(mixed).await.0, 404, "queued R5, refused R4: the refusal is answered");
    assert_eq!(f.messages().len(), 3);
}

#[tokio::test]
async fn a_base64_encoded_body_is_verified_over_its_decoded_bytes() {
    use base64::Engine as _;
    let f = fixture();
    let (body, signature) = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1").signed(&f.signer);
    let mut request = post(b"", Some(&signature));
    request.body = Some(base64::engine::general_purpose::STANDARD.encode(&body));
    request.is_base64_encoded = true;
    assert_eq!(handle(&f.intake, request).await.status_code, 202);
}
