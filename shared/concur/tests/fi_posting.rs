//! The posting pipeline's FI calls against the strict Concur simulator over HTTP.

mod support;

use concur::fi_posting::{AckItem, ErpPostingDoc, FiOutcome, MAX_MESSAGE, PostingConfirmation, PostingOutcome};
use concur::{AccessToken, ConcurClient, ConcurError};
use domain::DocumentType;
use serde_json::json;
use simulators::concur::{DocStatus, StartedConcur};
use support::COMPANY;

const FI_1: &str = "e7f810cabc8348cdb051dd9431c8cfb1";
const FI_2: &str = "e7f810cabc8348cdb051dd9431c8cfb2";
const REPORT_1: &str = "B1041655B4CE4171BDA1";
const SYSTEM: &str = "ERP-PROD";

/// A simulator with one US company holding two READY expense documents, and a company token.
async fn setup() -> (StartedConcur, ConcurClient, AccessToken) {
    let (concur, client, token) = support::connected(2).await;
    concur.sim.add_fi_document(COMPANY, "expense", FI_1, json!({"report": {"reportId": REPORT_1}}));
    concur.sim.add_fi_document(COMPANY, "expense", FI_2, json!({"report": {"reportId": "B1041655B4CE4171BDA2"}}));
    (concur, client, token)
}

fn ack(id: &str) -> AckItem {
    AckItem { doc_id: id.into(), system_id: Some(SYSTEM.into()) }
}

fn posted(id: &str, number: &str) -> PostingConfirmation {
    PostingConfirmation {
        doc_id: id.into(),
        system_id: Some(SYSTEM.into()),
        outcome: PostingOutcome::Posted(vec![ErpPostingDoc {
            company_id: "0100".into(),
            document_number: Some(number.into()),
            fiscal_year: Some(2024),
            posting_date: Some(time::macros::date!(2024 - 03 - 02)),
        }]),
    }
}

#[tokio::test]
async fn documents_are_fetched_by_business_id_and_by_fi_id() {
    let (_concur, client, token) = setup().await;
    let by_business = client.fi_document(&token, DocumentType::Expense, REPORT_1, false).await.unwrap().unwrap();
    assert_eq!(by_business.id, FI_1);
    assert_eq!(by_business.business_id(), Some(REPORT_1));
    let by_fi = client.fi_document(&token, DocumentType::Expense, FI_1, false).await.unwrap().unwrap();
    assert_eq!((&by_fi.id, by_fi.business_id()), (&by_business.id, by_business.business_id()));
    // Each comes normalized (this one is refused: it has no currency), keyed as it was asked for.
    let key = |d: &concur::fi::FiDocument| d.normalized.clone().unwrap().unwrap_err().document_id;
    assert_eq!((key(&by_business).as_str(), key(&by_fi).as_str()), (REPORT_1, FI_1));
    let all = client.fi_documents(&token, DocumentType::Expense, REPORT_1, true).await.unwrap();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn unknown_ids_and_non_ready_documents_are_none() {
    let (_concur, client, token) = setup().await;
    assert_eq!(client.fi_document(&token, DocumentType::Expense, "NOSUCHREPORT", true).await.unwrap(), None);
    // The expense document asked for as an invoice is not there either.
    assert_eq!(client.fi_document(&token, DocumentType::Invoice, FI_1, true).await.unwrap(), None);
    // Acknowledged: gone from the READY view, still there with ignoreDocumentStatus=yes.
    client.acknowledge(&token, DocumentType::Expense, &[ack(FI_1)]).await.unwrap();
    assert_eq!(client.fi_document(&token, DocumentType::Expense, REPORT_1, false).await.unwrap(), None);
    let doc = client.fi_document(&token, DocumentType::Expense, REPORT_1, true).await.unwrap().unwrap();
    assert_eq!(doc.doc_status.as_deref(), Some("ACKNOWLEDGED"));
    // A malformed id is refused before sending, naming the problem.
    let err = client.fi_document(&token, DocumentType::Expense, &"X".repeat(33), true).await.unwrap_err();
    assert!(matches!(&err, ConcurError::Rejected { status: 400, message } if message.contains("32")), "{err:?}");
}

#[tokio::test]
async fn acknowledging_twice_is_done_both_times() {
    let (concur, client, token) = setup().await;
    let first = client.acknowledge(&token, DocumentType::Expense, &[ack(FI_1), ack(FI_2)]).await.unwrap();
    assert_eq!(
        first.iter().map(|r| (r.doc_id.as_str(), r.code)).collect::<Vec<_>>(),
        [(FI_1, Some(0)), (FI_2, Some(0))]
    );
    assert!(first.iter().all(|r| r.is_done() && r.outcome == FiOutcome::Accepted), "{first:?}");
    let again = client.acknowledge(&token, DocumentType::Expense, &[ack(FI_1)]).await.unwrap();
    assert_eq!(again[0].code, Some(101));
    assert_eq!(again[0].outcome, FiOutcome::AlreadyAcknowledged);
    assert!(again[0].is_done());
    assert!(again[0].message.contains("previously acknowledged"), "{}", again[0].message);
    assert_eq!(concur.sim.document_status(COMPANY, FI_1), Some(DocStatus::Acknowledged));
    assert_eq!(concur.sim.document_status(COMPANY, FI_2), Some(DocStatus::Acknowledged));
}

#[tokio::test]
async fn acknowledgement_problems_are_typed_per_document() {
    let (concur, client, token) = setup().await;
    concur.sim.recall(COMPANY, FI_2);
    let unknown = "00000000000000000000000000000000";
    let items = [ack(FI_1), ack(FI_2), ack(unknown), ack(&"Y".repeat(40))];
    let results = client.acknowledge(&token, DocumentType::Expense, &items).await.unwrap();
    let outcomes: Vec<_> = results.iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(outcomes[..3], [FiOutcome::Accepted, FiOutcome::Recalled, FiOutcome::NotFound]);
    assert!(matches!(&outcomes[3], FiOutcome::RefusedLocally(p) if p.contains("32")), "{outcomes:?}");
    assert!(!results[1].is_done() && results[1].describe().contains(FI_2), "{}", results[1].describe());
    assert_eq!(concur.sim.document_status(COMPANY, FI_1), Some(DocStatus::Acknowledged));
}

#[tokio::test]
async fn confirming_success_twice_is_done_both_times_and_recorded() {
    let (concur, client, token) = setup().await;
    client.acknowledge(&token, DocumentType::Expense, &[ack(FI_1)]).await.unwrap();
    let first = client.confirm_posting(&token, DocumentType::Expense, &[posted(FI_1, "0123456")]).await.unwrap();
    assert_eq!((first[0].code, first[0].is_done()), (Some(0), true), "{first:?}");
    let again = client.confirm_posting(&token, DocumentType::Expense, &[posted(FI_1, "0123456")]).await.unwrap();
    assert_eq!((again[0].code, &again[0].outcome, again[0].is_done()), (Some(113), &FiOutcome::AlreadyConfirmed, true));
    assert_eq!(concur.sim.document_status(COMPANY, FI_1), Some(DocStatus::PostingConfirmedSuccess));
    let records = concur.sim.posting_confirmations(COMPANY);
    assert_eq!(records.len(), 2);
    assert_eq!(records.iter().map(|r| r.result_code).collect::<Vec<_>>(), [0, 113]);
    assert_eq!((records[0].system_id.as_str(), records[0].overall_posting_status_code.as_str()), (SYSTEM, "success"));
    assert_eq!(
        records[0].posting_docs,
        json!([{"companyId": "0100", "documentNumber": "0123456", "fiscalYear": "2024",
                "paymentRelevantLineItems": [], "postingDate": "2024-03-02"}])
    );
}

#[tokio::test]
async fn a_failed_posting_is_confirmed_with_a_bounded_reason() {
    let (concur, client, token) = setup().await;
    client.acknowledge(&token, DocumentType::Expense, &[ack(FI_1)]).await.unwrap();
    let reason = format!("Cost centre 4711 is blocked for posting. {}", "é".repeat(2000));
    let failed = PostingConfirmation {
        doc_id: FI_1.into(),
        system_id: Some(SYSTEM.into()),
        outcome: PostingOutcome::Failed { reason },
    };
    let result = client.confirm_posting(&token, DocumentType::Expense, &[failed]).await.unwrap();
    assert_eq!((result[0].code, result[0].is_done()), (Some(0), true), "{result:?}");
    assert_eq!(concur.sim.document_status(COMPANY, FI_1), Some(DocStatus::PostingConfirmedFailure));
    let record = &concur.sim.posting_confirmations(COMPANY)[0];
    assert_eq!(record.overall_posting_status_code, "error");
    assert_eq!(record.posting_docs, json!([]));
    let text = record.system_messages[0]["messageShortText"].as_str().unwrap();
    assert!(text.starts_with("Cost centre 4711 is blocked"), "{text}");
    assert_eq!(text.chars().count(), MAX_MESSAGE);
}

#[tokio::test]
async fn malformed_or_premature_confirmations_are_typed() {
    let (concur, client, token) = setup().await;
    let no_reason = PostingConfirmation {
        doc_id: FI_2.into(),
        system_id: Some(SYSTEM.into()),
        outcome: PostingOutcome::Failed { reason: "  ".into() },
    };
    let long_company = PostingConfirmation {
        outcome: PostingOutcome::Posted(vec![ErpPostingDoc {
            company_id: "C".repeat(33),
            document_number: None,
            fiscal_year: None,
            posting_date: None,
        }]),
        ..posted(FI_2, "1")
    };
    let no_docs = PostingConfirmation { outcome: PostingOutcome::Posted(vec![]), ..posted(FI_2, "1") };
    // FI_1 was never acknowledged: Concur answers 111.
    let batch = [posted(FI_1, "1"), no_reason, long_company, no_docs, posted(&"Z".repeat(33), "1")];
    let results = client.confirm_posting(&token, DocumentType::Expense, &batch).await.unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!((results[0].code, &results[0].outcome), (Some(111), &FiOutcome::NotAcknowledged));
    assert!(!results[0].is_done() && results[0].describe().contains("acknowledge it"), "{}", results[0].describe());
    for refused in &results[1..] {
        assert!(matches!(refused.outcome, FiOutcome::RefusedLocally(_)) && !refused.is_done(), "{refused:?}");
    }
    // Only the well-formed item reached Concur.
    let records = concur.sim.posting_confirmations(COMPANY);
    assert_eq!(records.iter().map(|r| (r.doc_id.as_str(), r.result_code)).collect::<Vec<_>>(), [(FI_1, 111)]);
    assert_eq!(concur.sim.document_status(COMPANY, FI_1), Some(DocStatus::Ready));
    // A system id other than the acknowledging one: 99.
    client.acknowledge(&token, DocumentType::Expense, &[ack(FI_2)]).await.unwrap();
    let other = PostingConfirmation { system_id: Some("OTHER".into()), ..posted(FI_2, "1") };
    let results = client.confirm_posting(&token, DocumentType::Expense, &[other]).await.unwrap();
    assert_eq!(results[0].outcome, FiOutcome::SystemIdMismatch);
}

#[tokio::test]
async fn an_expired_token_is_unauthorized() {
    let (concur, client, token) = setup().await;
    concur.sim.expire_access_tokens(COMPANY);
    let err = client.acknowledge(&token, DocumentType::Expense, &[ack(FI_1)]).await.unwrap_err();
    assert!(matches!(err, ConcurError::Unauthorized), "{err:?}");
    let err = client.fi_document(&token, DocumentType::Expense, FI_1, true).await.unwrap_err();
    assert!(matches!(err, ConcurError::Unauthorized), "{err:?}");
}
