//! Concur simulator over real HTTP: Payment Batch v1 (Standard edition) —
//! the batch list, the scheduled (v1.2) and immediate (v1.1) closes, and
//! the batch file, read back by the connector's own SAE reader.

use crate::concur_extracts_support;

use concur_extracts_support::*;
use domain::extract::Delimiter as ReaderDelimiter;
use reqwest::StatusCode;
use simulators::concur::{Completion, PaymentBatchStatus};

/// The batch summaries of a list answer: (BatchName, BatchID, BatchTotal, Currency, Count, Batch-URL).
fn summaries(xml: &str) -> Vec<[String; 6]> {
    texts(xml, "BatchSummary")
        .iter()
        .map(|s| ["BatchName", "BatchID", "BatchTotal", "Currency", "Count", "Batch-URL"].map(|tag| text(s, tag)))
        .collect()
}

fn list_url(env: &Env, rest: &str) -> String {
    env.url(&format!("{BATCHES}/v1.1/batchlist{rest}"))
}

/// The v1.2 close URL of a `Batch-URL` (§3 [derived]: same id, version segment moved).
fn async_close(batch_url: &str) -> String {
    format!("{}/close", batch_url.replace("/v1.1/batch/", "/v1.2/batch/"))
}

#[tokio::test]
async fn list_then_scheduled_close_then_closed_then_file_url_then_file() {
    let env = env().await;
    env.load(STD, CARD_1_1);
    env.load(STD, CREDIT_1_2);
    env.load(STD, SINGLE_TAX_2_1);

    let list = env.get(&env.std, &list_url(&env, "/")).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(list.text.contains("<BatchList xmlns=\"http://www.concursolutions.com/api/expense/paymentbatch/2011/11\""));
    let batches = summaries(&list.text);
    assert_eq!(batches.len(), 2, "one Expense Pay batch per currency: {batches:?}");
    let usd = batches.iter().find(|b| b[3] == "USD").expect("USD batch").clone();
    assert_eq!(usd[0], "USD: Employees Batch Paid by Expense Pay");
    assert_eq!(usd[4], "2");
    assert_eq!(usd[2], "0", "1.1 pays the card (COPD), 1.2 is owed by the employee (payee COMP)");
    assert!(uuid::Uuid::parse_str(&usd[1]).is_ok(), "BatchID is a GUID");
    assert!(usd[5].starts_with(&env.url(&format!("{BATCHES}/v1.1/batch/"))), "{}", usd[5]);
    assert!(texts(&list.text, "Type").iter().all(|t| t == "Employee"));
    assert!(texts(&list.text, "PaymentMethod").iter().all(|m| m == "Expense Pay by SAP Concur"));

    let scheduled = env.post(&env.std, &async_close(&usd[5]), None).await;
    assert_eq!(scheduled.status, StatusCode::OK, "{}", scheduled.text);
    assert_eq!(text(&scheduled.text, "Status"), "SUCCESS");
    assert!(!text(&scheduled.text, "JobQueueKey").is_empty());
    assert!(texts(&scheduled.text, "File-Url").is_empty(), "v1.2 answers Status and JobQueueKey");

    let open = env.get(&env.std, &list_url(&env, "/OPEN")).await;
    assert!(summaries(&open.text).iter().any(|b| b[1] == usd[1]), "still open on the first read after the close");
    let closed = env.get(&env.std, &list_url(&env, "/CLOSED")).await;
    let closed = summaries(&closed.text);
    assert_eq!(closed.iter().map(|b| b[1].clone()).collect::<Vec<_>>(), [usd[1].clone()], "closed on the second");
    let open = summaries(&env.get(&env.std, &list_url(&env, "/?Status=OPEN")).await.text);
    let successor = open.iter().find(|b| b[3] == "USD").expect("a new USD batch");
    assert_ne!(successor[1], usd[1]);
    assert_eq!(successor[4], "0");

    let sync = env.post(&env.std, &format!("{}/close", usd[5]), None).await;
    assert_eq!(sync.status, StatusCode::OK, "{}", sync.text);
    assert_eq!(texts(&sync.text, "BatchStatus"), ["CLOSED"], "the child BatchStatus of the root BatchStatus");
    assert_eq!(text(&sync.text, "Status"), "SUCCESS");
    let file_url = text(&sync.text, "File-Url");
    assert!(file_url.starts_with(&env.url(&format!("{BATCHES}/v1.1/batch/"))) && file_url.ends_with("/file"));

    let file = env.get(&env.std, &file_url).await;
    assert_eq!((file.status, file.header("content-type")), (StatusCode::OK, Some("text/csv")));
    let summary = verify(&file.bytes, ReaderDelimiter::Comma);
    assert_eq!(summary.rows, 3, "1.1's two journals and 1.2's one");
    assert_eq!(column(&file.text, 22), ["USD", "USD", "USD"]);

    let again = env.post(&env.std, &format!("{}/close", usd[5]), None).await;
    assert_eq!(text(&again.text, "File-Url"), file_url, "a closed batch answers its file again");
    assert_eq!(env.get(&env.std, &file_url).await.bytes, file.bytes, "the same file");

    let records = env.sim().payment_batches(STD);
    let record = records.iter().find(|b| b.batch_id == usd[1]).unwrap();
    assert_eq!((record.status, record.closed_manually, record.documents.len()), (PaymentBatchStatus::Closed, false, 2));
}

#[tokio::test]
async fn closing_a_batch_without_reports_is_the_documented_500() {
    let env = env().await;
    env.load(STD, CARD_1_1);
    let batches = summaries(&env.get(&env.std, &list_url(&env, "/")).await.text);
    let first = env.post(&env.std, &format!("{}/close", batches[0][5]), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let open = summaries(&env.get(&env.std, &list_url(&env, "/OPEN")).await.text);
    let [empty] = open.as_slice() else { panic!("{open:?}") };
    for url in [async_close(&empty[5]), format!("{}/close", empty[5])] {
        let r = env.post(&env.std, &url, None).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{url}");
        assert!(r.text.contains("does not contain any reports. If you recently approved reports"), "{}", r.text);
    }

    env.load(STD, CREDIT_1_2);
    let open = summaries(&env.get(&env.std, &list_url(&env, "/OPEN")).await.text);
    assert_eq!((open.len(), open[0][1].as_str(), open[0][4].as_str()), (1, empty[1].as_str(), "1"));
    let closed = env.post(&env.std, &format!("{}/close", open[0][5]), None).await;
    let file = env.get(&env.std, &text(&closed.text, "File-Url")).await;
    assert_eq!(column(&file.text, 19), ["6517F735E33A47B98D80"], "a later document goes into the later batch only");
    assert_eq!(verify(&file.bytes, ReaderDelimiter::Comma).header.batch_id, "2");
}

#[tokio::test]
async fn unknown_batches_and_unencrypted_batch_ids_are_404() {
    let env = env().await;
    env.load(STD, CARD_1_1);
    let batches = summaries(&env.get(&env.std, &list_url(&env, "/")).await.text);
    let base = env.url(&format!("{BATCHES}/v1.1/batch"));
    for url in [format!("{base}/nNo$pSuch$xd/close"), async_close(&format!("{base}/nNo$pSuch$xd"))] {
        let r = env.post(&env.std, &url, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{url}");
        assert!(r.text.contains("The Batch ID specified in the URI is invalid"), "{}", r.text);
    }
    let by_guid = env.post(&env.std, &format!("{base}/{}/close", batches[0][1]), None).await;
    assert_eq!(by_guid.status, StatusCode::NOT_FOUND);
    assert!(by_guid.header("x-sim-reason").is_some_and(|r| r.contains("Batch-URL")), "{:?}", by_guid.headers);
    assert_eq!(env.get(&env.std, &format!("{base}/nNo$pSuch$xd/file")).await.status, StatusCode::NOT_FOUND);
    let bad_filter = env.get(&env.std, &list_url(&env, "/PENDING")).await;
    assert_eq!(bad_filter.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_batch_closed_by_hand_in_payment_manager_lists_as_closed() {
    let env = env().await;
    env.load(STD, SINGLE_TAX_2_1);
    let records = env.sim().payment_batches(STD);
    let [batch] = records.as_slice() else { panic!("{records:?}") };
    assert_eq!((batch.currency.as_str(), batch.status), ("EUR", PaymentBatchStatus::Open));
    env.sim().close_batch_manually(STD, &batch.batch_id).expect("closed by hand");

    let closed = summaries(&env.get(&env.std, &list_url(&env, "?Status=CLOSED")).await.text);
    let closed_ids: Vec<&str> = closed.iter().map(|b| b[1].as_str()).collect();
    assert_eq!(closed_ids, [batch.batch_id.as_str()]);
    let sync = env.post(&env.std, &format!("{}/close", closed[0][5]), None).await;
    let file = env.get(&env.std, &text(&sync.text, "File-Url")).await;
    assert_eq!(Some(file.bytes), env.sim().payment_batch_file(STD, &batch.batch_id));
    let record = env.sim().payment_batches(STD).into_iter().find(|b| b.batch_id == batch.batch_id).unwrap();
    assert!(record.closed_manually);
    assert!(env.sim().close_batch_manually(STD, "no-such-batch").is_err());
}

#[tokio::test]
async fn a_scheduled_close_can_take_time_and_other_batch_kinds_are_listed() {
    let env = env().await;
    env.sim().set_batch_close_completion(STD, Completion::AfterDelay(std::time::Duration::from_millis(200)));
    let card = env.sim().open_payment_batch(STD, "USD", "Card Program", "Company Check (via Accounts Payable)");
    env.load(STD, CARD_1_1);
    let batches = summaries(&env.get(&env.std, &list_url(&env, "/")).await.text);
    assert_eq!(batches.len(), 2);
    let card_batch = batches.iter().find(|b| b[1] == card).expect("the card batch");
    assert_eq!(
        (card_batch[0].as_str(), card_batch[4].as_str()),
        ("USD: Card Program Batch Paid by Company Check (via Accounts Payable)", "0")
    );
    let employee = batches.iter().find(|b| b[1] != card).unwrap();
    assert_eq!(env.post(&env.std, &async_close(&employee[5]), None).await.status, StatusCode::OK);
    for _ in 0..3 {
        let open = summaries(&env.get(&env.std, &list_url(&env, "/OPEN")).await.text);
        assert!(open.iter().any(|b| b[1] == employee[1]), "not closed before the delay");
    }
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let closed = summaries(&env.get(&env.std, &list_url(&env, "/CLOSED")).await.text);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0][1], employee[1]);
}

#[tokio::test]
async fn payment_batch_v1_wants_a_standard_company_token_with_paybat() {
    let env = env().await;
    let url = list_url(&env, "/");
    assert_eq!(reply(env.http.get(&url).send().await.unwrap()).await.status, StatusCode::UNAUTHORIZED);
    let professional = env.get(&env.pro, &url).await;
    assert_eq!(professional.status, StatusCode::FORBIDDEN, "a Professional company has Extract v1 instead");
    let fis_only = company_token(&env.concur, &env.http, STD, Some("FISVC")).await;
    assert_eq!(env.get(&fis_only, &url).await.status, StatusCode::FORBIDDEN);
}
