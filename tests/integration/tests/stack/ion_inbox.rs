//! ion-inbox refuses what is not a verdict from ION for a known document,
//! and changes nothing when it does: no bearer token, a wrong one or an
//! unknown connection (401, alike), an unknown route (404), an oversized
//! body or a payload that inflates too far (413, 400), a body
//! that is not an IMS multipart message or not a verdict (400, audited). A
//! verdict for a document the ledger does not know is audited and answered
//! 200 so ION stops resending it. A real verdict is queued once.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use base64::Engine as _;
use domain::ErpKind;
use integration::posting::{INFOR_INBOX_TOKEN, PostingWorld};
use ion_inbox::Inbox;

fn request(method: &str, path: &str, token: Option<&str>, content_type: &str, body: &[u8]) -> ApiGatewayV2httpRequest {
    let mut r = ApiGatewayV2httpRequest::default();
    r.raw_path = Some(path.to_owned());
    r.request_context.http.method = method.parse().unwrap();
    r.headers.insert("content-type", content_type.parse().unwrap());
    r.headers.insert("x-tenantid", "ACME_TST".parse().unwrap());
    if let Some(token) = token {
        r.headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    r.body = Some(base64::engine::general_purpose::STANDARD.encode(body));
    r.is_base64_encoded = true;
    r
}

/// An IMS multipart message whose payload ION deflated.
fn deflated_message(payload: &[u8]) -> (String, Vec<u8>) {
    use std::io::Write as _;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(payload).unwrap();
    let deflated = encoder.finish().unwrap();
    let boundary = "----b1";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"ParameterRequest\"; filename=\"p.json\"\r\n\
         Content-Type: application/json\r\n\r\n{{\"documentName\":\"ConfirmBOD\",\"messageId\":\"m2\",\
         \"encoding\":\"DEFLATE\"}}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"MessagePayload\"; \
         filename=\"x.xml\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&deflated);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// An IMS multipart message with a verdict payload.
fn message(payload: &str) -> (String, Vec<u8>) {
    let boundary = "----b1";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"ParameterRequest\"; filename=\"p.json\"\r\n\
         Content-Type: application/json\r\n\r\n{{\"documentName\":\"Acknowledge.SourceSystemJournalEntry\",\
         \"messageId\":\"m1\",\"encoding\":\"NONE\"}}\r\n--{boundary}\r\nContent-Disposition: form-data; \
         name=\"MessagePayload\"; filename=\"x.xml\"\r\nContent-Type: application/octet-stream\r\n\r\n{payload}\r\n\
         --{boundary}--\r\n"
    );
    (format!("multipart/form-data; boundary={boundary}"), body.into_bytes())
}

fn acknowledge(document_id: &str) -> String {
    format!(
        r#"<AcknowledgeSourceSystemJournalEntry xmlns="http://schema.infor.com/InforOAGIS/2" releaseID="9.2">
  <ApplicationArea><Sender><LogicalID>lid://infor.erp.cloudsuite</LogicalID></Sender>
    <CreationDateTime>2026-11-23T10:00:00Z</CreationDateTime><BODID>infor-nid:ACME_TST:1000::ack:1?SourceSystemJournalEntry&amp;verb=Acknowledge</BODID></ApplicationArea>
  <DataArea>
    <Acknowledge><TenantID>ACME_TST</TenantID>
      <OriginalApplicationArea><BODID>infor-nid:ACME_TST:1000::{document_id}:1?SourceSystemJournalEntry&amp;verb=Process</BODID></OriginalApplicationArea>
      <ResponseCriteria><ResponseExpression actionCode="Accepted"/></ResponseCriteria></Acknowledge>
    <SourceSystemJournalEntry><JournalEntryHeader><JournalID accountingEntity="1000" variationID="1">{document_id}</JournalID><DisplayID>JE-000009</DisplayID></JournalEntryHeader></SourceSystemJournalEntry>
  </DataArea>
</AcknowledgeSourceSystemJournalEntry>"#
    )
}

#[tokio::test]
async fn what_is_not_a_verdict_for_a_known_document_changes_nothing() {
    let captured = platform::telemetry::capture();
    let world = PostingWorld::with_erp("acme-inbox", ErpKind::Infor).await;
    let inbox = Inbox::from_env(&world.stack.env_of("IonInboxFunction"), &world.stack.aws()).unwrap();
    let path = format!("/ion/{}/v3/multipartMessage", world.connection);
    let (content_type, body) = message(&acknowledge("0C45F960C3064ED88C39"));

    let cases: Vec<(ApiGatewayV2httpRequest, i64)> = vec![
        (request("POST", &path, None, &content_type, &body), 401),
        (request("POST", &path, Some("a-wrong-token"), &content_type, &body), 401),
        (request("POST", "/ion/nobody/v3/multipartMessage", Some(INFOR_INBOX_TOKEN), &content_type, &body), 401),
        (
            request(
                "POST",
                &format!("/ion/{}/v9/else", world.connection),
                Some(INFOR_INBOX_TOKEN),
                &content_type,
                &body,
            ),
            404,
        ),
        (
            request("POST", &path, Some(INFOR_INBOX_TOKEN), &content_type, &vec![b'x'; ion_inbox::MAX_BODY_BYTES + 1]),
            413,
        ),
        (request("POST", &path, Some(INFOR_INBOX_TOKEN), "application/json", b"{}"), 400),
        (request("POST", &path, Some(INFOR_INBOX_TOKEN), &content_type, &message("<notXml").1), 400),
    ];
    for (i, (req, status)) in cases.into_iter().enumerate() {
        let answer = ion_inbox::handle(&inbox, req).await;
        assert_eq!(answer.status_code, status, "case {i}: {:?}", answer.body);
        assert_eq!(world.stack.peek_queue("WorkQueue").await.len(), 0, "case {i} queued nothing");
    }
    let ping = ion_inbox::handle(
        &inbox,
        request("GET", &format!("/ion/{}/ping", world.connection), Some(INFOR_INBOX_TOKEN), "text/plain", b""),
    )
    .await;
    assert_eq!(ping.status_code, 200);

    // A verdict for a document the ledger does not know: audited, 200, nothing queued.
    let answer = ion_inbox::handle(&inbox, request("POST", &path, Some(INFOR_INBOX_TOKEN), &content_type, &body)).await;
    assert_eq!(answer.status_code, 200);
    assert_eq!(world.stack.peek_queue("WorkQueue").await.len(), 0);
    let audit = world.stack.scan_table("AuditTable").await.join("\n");
    assert!(audit.contains("which the ledger does not know"), "{audit}");
    assert!(!audit.contains(INFOR_INBOX_TOKEN));
    // Every call but the ping, counted by its answer.
    let counted = integration::inbound_calls(&captured.lines(), "ion_inbox");
    let expected = [("unauthorized", 3.0), ("refused", 4.0), ("ignored", 1.0)];
    assert_eq!(counted, expected.map(|(o, n)| (o.to_owned(), n)).into());
}

#[tokio::test]
async fn an_unknown_connection_is_answered_like_a_wrong_token() {
    let world = PostingWorld::with_erp("acme-inbox-enum", ErpKind::Infor).await;
    let inbox = Inbox::from_env(&world.stack.env_of("IonInboxFunction"), &world.stack.aws()).unwrap();
    let (content_type, body) = message(&acknowledge("0C45F960C3064ED88C39"));
    let known = format!("/ion/{}/v3/multipartMessage", world.connection);
    let wrong_token = ion_inbox::handle(&inbox, request("POST", &known, Some("guess"), &content_type, &body)).await;
    for path in ["/ion/nobody/v3/multipartMessage", "/ion/NOT%20AN%20ID/v3/multipartMessage"] {
        for token in [Some("guess"), Some(INFOR_INBOX_TOKEN), None] {
            let unknown = ion_inbox::handle(&inbox, request("POST", path, token, &content_type, &body)).await;
            assert_eq!(unknown.status_code, wrong_token.status_code, "{path} {token:?}");
            assert_eq!(unknown.body, wrong_token.body, "{path} {token:?}");
            assert_eq!(unknown.headers, wrong_token.headers, "{path} {token:?}");
        }
    }
    assert_eq!(wrong_token.status_code, 401);
}

#[tokio::test]
async fn hostile_payloads_are_refused_without_harm() {
    let world = PostingWorld::with_erp("acme-inbox-bombs", ErpKind::Infor).await;
    let inbox = Inbox::from_env(&world.stack.env_of("IonInboxFunction"), &world.stack.aws()).unwrap();
    let path = format!("/ion/{}/v3/multipartMessage", world.connection);

    // About 4 KB deflated, 150 KB inflated: once enough to abort the process.
    let depth = 50_000;
    let nested = format!("<ConfirmBOD>{}{}</ConfirmBOD>", "<a>".repeat(depth), "</a>".repeat(depth));
    let (content_type, body) = deflated_message(nested.as_bytes());
    assert!(body.len() < 8 * 1024, "{} bytes", body.len());
    let answer = ion_inbox::handle(&inbox, request("POST", &path, Some(INFOR_INBOX_TOKEN), &content_type, &body)).await;
    assert_eq!(answer.status_code, 400, "{:?}", answer.body);
    assert!(format!("{:?}", answer.body).contains("deeper than"), "{:?}", answer.body);

    // 64 MiB of blanks, deflated to about 64 KB: refused, not inflated.
    let (content_type, body) = deflated_message(&vec![b' '; 64 * 1024 * 1024]);
    assert!(body.len() < ion_inbox::MAX_BODY_BYTES);
    let answer = ion_inbox::handle(&inbox, request("POST", &path, Some(INFOR_INBOX_TOKEN), &content_type, &body)).await;
    assert_eq!(answer.status_code, 400, "{:?}", answer.body);
    assert!(format!("{:?}", answer.body).contains("inflates to more than"), "{:?}", answer.body);
    assert_eq!(world.stack.peek_queue("WorkQueue").await.len(), 0);
}
