//! Concur simulator over real HTTP: Extract v1 (Professional edition) —
//! definitions, jobs, their status and files — with every file read back by
//! the connector's own SAE/PRAE reader.

use crate::concur_extracts_support;

use std::io::Read;
use std::time::Duration;

use concur_extracts_support::*;
use domain::extract::{Delimiter as ReaderDelimiter, Documents, ExtractOptions, ExtractReader, FileDocument};
use domain::ids::{ConcurDocumentId, DocumentType};
use domain::journal::JournalEntry;
use domain::normalize::{NormalizeOptions, normalize};
use reqwest::StatusCode;
use serde_json::{Value, json};
use simulators::concur::{Completion, DefinitionKind, Delimiter, ExtractDefinitionSpec, ExtractJobStatus};

/// The company's one default definition: its URL.
async fn default_definition(env: &Env) -> String {
    let r = env.get(&env.pro, &env.url(&format!("{EXTRACT}/"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ids = texts(&r.text, "id");
    assert_eq!(ids.len(), 1, "{}", r.text);
    ids[0].clone()
}

#[tokio::test]
async fn definitions_then_a_job_polled_to_completion_then_its_file() {
    let env = env().await;
    env.load(PRO, SINGLE_TAX_2_1);
    env.load(PRO, TWO_TAXES_2_3);

    let list = env.get(&env.pro, &env.url(EXTRACT)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.header("content-type").is_some_and(|t| t.starts_with("application/xml")));
    assert!(list.text.contains(&format!("<definitions xmlns=\"{EXTRACT_NS}\"")), "{}", list.text);
    let definition = default_definition(&env).await;
    let definition_id = definition.rsplit('/').next().unwrap().to_owned();
    assert!(definition.starts_with(&env.url(&format!("{EXTRACT}/"))), "a full URL on the serving datacenter");
    assert!(definition_id.contains('$'), "opaque ids may contain $: {definition_id}");
    assert_eq!(texts(&list.text, "job-link"), [format!("{definition}/job")]);
    assert_eq!(texts(&list.text, "name"), ["Standard Accounting Extract"]);
    let one = env.get(&env.pro, &definition).await;
    assert_eq!((one.status, text(&one.text, "id")), (StatusCode::OK, definition.clone()));

    let started = env.start_job(&definition).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let job = text(&started.text, "id");
    assert_eq!(started.header("location"), Some(job.as_str()));
    assert!(job.starts_with(&format!("{definition}/job/")));
    assert_eq!(text(&started.text, "status"), "Queued");
    assert!(!text(&started.text, "start-time").is_empty());
    assert!(texts(&started.text, "file-link").is_empty() && texts(&started.text, "stop-time").is_empty());

    let status_link = text(&started.text, "status-link");
    assert_eq!(status_link, format!("{job}/status"));
    let first = env.get(&env.pro, &status_link).await;
    assert_eq!(text(&first.text, "status"), "In Process");
    assert!(texts(&first.text, "file-link").is_empty(), "no file while running");
    let early = env.get(&env.pro, &format!("{job}/file")).await;
    assert_eq!(early.status, StatusCode::NOT_FOUND, "no file before the job completed");
    let second = env.get(&env.pro, &status_link).await;
    assert_eq!(text(&second.text, "status"), "Completed");
    assert!(!text(&second.text, "stop-time").is_empty());
    let file_link = text(&second.text, "file-link");
    assert_eq!(file_link, format!("{job}/file"));

    let file = env.get(&env.pro, &file_link).await;
    assert_eq!((file.status, file.header("content-type")), (StatusCode::OK, Some("text/csv")));
    let summary = verify(&file.bytes, ReaderDelimiter::Comma);
    assert_eq!(summary.rows, 3, "2.1 has one journal, 2.3 one journal with two taxes");
    assert_eq!(summary.header.batch_id, "1");
    assert_eq!(summary.journal_amount_sum.to_string(), "110", "10 + 100 + 0");
    assert_eq!(column(&file.text, 19), ["F071FADEA6B142DD884A", "0EE74C75C9344DEA942F", "0EE74C75C9344DEA942F"]);

    let jobs = env.get(&env.pro, &format!("{definition}/job")).await;
    assert_eq!(texts(&jobs.text, "id"), std::slice::from_ref(&job));
    assert_eq!(texts(&jobs.text, "status"), ["Completed"]);
    let records = env.sim().extract_jobs(PRO, &definition_id);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, ExtractJobStatus::Completed);
    assert_eq!(records[0].documents.len(), 2);
}

#[tokio::test]
async fn unknown_ids_are_404_and_a_second_job_while_one_runs_is_409() {
    let env = env().await;
    let definition = default_definition(&env).await;
    let base = env.url(EXTRACT);
    for url in [
        format!("{base}/nUnknown$pDefinition$xd"),
        format!("{base}/nUnknown$pDefinition$xd/job"),
        format!("{definition}/job/nNoSuch$pJob$xd"),
        format!("{definition}/job/nNoSuch$pJob$xd/status"),
        format!("{definition}/job/nNoSuch$pJob$xd/file"),
    ] {
        let r = env.get(&env.pro, &url).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{url}");
        assert!(r.text.contains("<Error><Message>"), "{}", r.text);
    }
    let unknown = env.start_job(&format!("{base}/nUnknown$pDefinition$xd")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let first = env.start_job(&definition).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let conflict = env.start_job(&definition).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.text);
    assert!(conflict.text.contains("already queued or running"), "{}", conflict.text);
    let status_link = text(&first.text, "status-link");
    env.get(&env.pro, &status_link).await;
    let running = env.start_job(&definition).await;
    assert_eq!(running.status, StatusCode::CONFLICT, "In Process is running too");
    env.get(&env.pro, &status_link).await;
    assert_eq!(env.start_job(&definition).await.status, StatusCode::CREATED, "free again once completed");
}

#[tokio::test]
async fn a_job_request_must_be_the_documented_definition_body() {
    let env = env().await;
    let definition = default_definition(&env).await;
    let job_url = format!("{definition}/job");
    let no_body = env.post(&env.pro, &job_url, None).await;
    assert_eq!(no_body.status, StatusCode::BAD_REQUEST, "{}", no_body.text);
    let other = format!("<definition xmlns=\"{EXTRACT_NS}\"><id>{}/nOther$pDef$xd</id></definition>", env.url(EXTRACT));
    let r = env.post(&env.pro, &job_url, Some(other)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.header("x-sim-reason").is_some_and(|m| m.contains("not the one of the URI")), "{:?}", r.headers);
    let no_namespace = format!("<definition><id>{definition}</id></definition>");
    assert_eq!(env.post(&env.pro, &job_url, Some(no_namespace)).await.status, StatusCode::BAD_REQUEST);
    let json = env.http.post(&job_url).bearer_auth(&env.pro).json(&json!({"id": definition})).send().await.unwrap();
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);
    assert!(env.sim().extract_jobs(PRO, definition.rsplit('/').next().unwrap()).is_empty());
}

#[tokio::test]
async fn each_document_is_extracted_once_and_an_empty_file_is_still_a_file() {
    let env = env().await;
    let definition = default_definition(&env).await;
    let report = env.load(PRO, CARD_1_1);
    let advance = env.load(PRO, EXAMPLES[1]);

    let first = env.run_job(&definition).await;
    let file = env.get(&env.pro, &text(&first, "file-link")).await;
    assert_eq!(verify(&file.bytes, ReaderDelimiter::Comma).rows, 3, "1.1's two journals and 5.1.1's issuance");
    let mut extracted = env.sim().extracted_documents(PRO);
    extracted.sort();
    let mut expected = vec![report, advance];
    expected.sort();
    assert_eq!(extracted, expected);

    let second = env.run_job(&definition).await;
    let empty = env.get(&env.pro, &text(&second, "file-link")).await;
    let summary = verify(&empty.bytes, ReaderDelimiter::Comma);
    assert_eq!((summary.rows, summary.header.batch_id.as_str()), (0, "2"));
    assert_eq!(empty.text.lines().count(), 1, "only the header: {}", empty.text);
    assert!(empty.text.starts_with("EXTRACT,") && empty.text.ends_with(",0,0,2\n"), "{}", empty.text);

    env.load(PRO, CREDIT_1_2);
    let third = env.run_job(&definition).await;
    let file = env.get(&env.pro, &text(&third, "file-link")).await;
    assert_eq!(column(&file.text, 19), ["6517F735E33A47B98D80"], "only the document that arrived since");
    assert_eq!(column(&file.text, 169), ["-50"]);
}

#[tokio::test]
async fn scheduled_jobs_are_listed_complete_with_their_file() {
    let env = env().await;
    let definition = default_definition(&env).await;
    let definition_id = definition.rsplit('/').next().unwrap();
    env.load(PRO, SINGLE_TAX_2_1);
    let scheduled = env.sim().run_scheduled_job(PRO, definition_id).expect("scheduled job");
    assert!(env.sim().run_scheduled_job(PRO, "nNo$pSuch$xd").is_err());

    let jobs = env.get(&env.pro, &format!("{definition}/job")).await;
    assert_eq!(texts(&jobs.text, "id"), [format!("{definition}/job/{scheduled}")]);
    assert_eq!(texts(&jobs.text, "status"), ["Completed"]);
    let file = env.get(&env.pro, &text(&jobs.text, "file-link")).await;
    assert_eq!(verify(&file.bytes, ReaderDelimiter::Comma).rows, 1);
    assert!(env.sim().extract_jobs(PRO, definition_id)[0].scheduled);

    let api_job = env.run_job(&definition).await;
    let empty = env.get(&env.pro, &text(&api_job, "file-link")).await;
    assert_eq!(verify(&empty.bytes, ReaderDelimiter::Comma).rows, 0, "the schedule already extracted 2.1");
}

#[tokio::test]
async fn the_job_list_holds_the_last_100_jobs() {
    let env = env().await;
    let definition = default_definition(&env).await;
    let definition_id = definition.rsplit('/').next().unwrap();
    let ids: Vec<String> = (0..103).map(|_| env.sim().run_scheduled_job(PRO, definition_id).unwrap()).collect();
    let jobs = env.get(&env.pro, &format!("{definition}/job")).await;
    let listed: Vec<String> = texts(&jobs.text, "id").iter().map(|id| id.rsplit('/').next().unwrap().into()).collect();
    assert_eq!(listed, ids[3..]);
}

#[tokio::test]
async fn a_zip_definition_answers_the_sae_and_the_prae_in_one_archive() {
    let env = env().await;
    let ids = env.sim().set_extract_definitions(
        PRO,
        vec![
            ExtractDefinitionSpec::new("Standard Accounting Extract", DefinitionKind::Sae),
            ExtractDefinitionSpec::new("Payment Request Accounting Extract", DefinitionKind::Prae),
            ExtractDefinitionSpec::new("SAE and PRAE", DefinitionKind::Zip),
        ],
    );
    let list = env.get(&env.pro, &env.url(EXTRACT)).await;
    assert_eq!(
        texts(&list.text, "name"),
        ["Standard Accounting Extract", "Payment Request Accounting Extract", "SAE and PRAE"]
    );
    env.load(PRO, SINGLE_TAX_2_1);
    env.sim().add_fi_document(PRO, "invoice", &format!("{:032x}", 77), invoice());

    let zip_definition = env.url(&format!("{EXTRACT}/{}", ids[2]));
    let job = env.run_job(&zip_definition).await;
    let file = env.get(&env.pro, &text(&job, "file-link")).await;
    assert_eq!(file.header("content-type"), Some("application/zip"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(file.bytes)).expect("a zip");
    let mut names = Vec::new();
    let mut contents = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        names.push(entry.name().to_owned());
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        contents.push(bytes);
    }
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(verify(&contents[0], ReaderDelimiter::Comma).rows, 1, "the SAE: 2.1");
    let prae = verify(&contents[1], ReaderDelimiter::Comma);
    assert_eq!((prae.rows, prae.header.kind), (1, domain::extract::ExtractKind::Prae));

    let prae_definition = env.url(&format!("{EXTRACT}/{}", ids[1]));
    let job = env.run_job(&prae_definition).await;
    let file = env.get(&env.pro, &text(&job, "file-link")).await;
    assert_eq!(file.header("content-type"), Some("text/csv"));
    assert_eq!(verify(&file.bytes, ReaderDelimiter::Comma).rows, 0, "the zip job already took the invoice");
}

fn invoice() -> Value {
    json!({
        "requestHeader": {"requestId": "9B1D30723CBF4F86A574", "reqKey": 4711, "requestTitle": "Steel",
                          "currencyAlphaCode": "USD", "ledgerCode": "DEFAULT", "requestTotal": 110},
        "vendor": {"vendorCode": "V100", "vendorRemitToAddressCode": "MAIN"},
        "ownerEmployee": {"employeeId": "E42"},
        "lineItem": [{"lineItemSequenceOrder": 1, "expenseTypeCode": "MATER",
                      "allocation": [{"allocationKey": 900, "allocationAccountCode": "5000",
                                      "journal": {"accountCode": "MATER", "amountNet": 100, "amountGross": 110,
                                                  "tax": [{"amountTax": 10, "taxCode": "GST"}]}}]}]
    })
}

#[tokio::test]
async fn completion_can_take_time_instead_of_reads() {
    let env = env().await;
    env.sim().set_extract_job_completion(PRO, Completion::AfterDelay(Duration::from_millis(300)));
    let definition = default_definition(&env).await;
    let started = env.start_job(&definition).await;
    let status_link = text(&started.text, "status-link");
    for _ in 0..3 {
        assert_eq!(text(&env.get(&env.pro, &status_link).await.text, "status"), "In Process");
    }
    tokio::time::sleep(Duration::from_millis(350)).await;
    let jobs = env.get(&env.pro, &format!("{definition}/job")).await;
    assert_eq!(texts(&jobs.text, "status"), ["Completed"], "the list sees the time pass too");
}

#[tokio::test]
async fn files_follow_the_company_delimiter_and_transform() {
    let env = env().await;
    env.sim().set_extract_delimiter(PRO, Delimiter::Pipe);
    let mut document: Value = serde_json::from_str(SINGLE_TAX_2_1).unwrap();
    document["fIDocuments"][0]["document"]["report"]["reportName"] = json!("Berlin | \"Q2\", 2019");
    env.sim().load_fi_example(PRO, &document.to_string()).unwrap();
    let definition = default_definition(&env).await;
    let job = env.run_job(&definition).await;
    let plain = env.get(&env.pro, &text(&job, "file-link")).await;
    assert!(plain.text.starts_with("EXTRACT|"), "{}", plain.text);
    assert!(plain.text.contains("|\"Berlin | \"\"Q2\"\", 2019\"|"), "{}", plain.text);
    assert_eq!(verify(&plain.bytes, ReaderDelimiter::Pipe).rows, 1);

    let armor = |bytes: Vec<u8>| [b"-----BEGIN PGP MESSAGE-----\n".as_slice(), &bytes].concat();
    env.sim().set_extract_file_transform(PRO, Some(Box::new(armor)));
    let wrapped = env.get(&env.pro, &text(&job, "file-link")).await;
    assert_eq!(wrapped.bytes, armor(plain.bytes.clone()));
    env.sim().set_extract_file_transform(PRO, None);
    assert_eq!(env.get(&env.pro, &text(&job, "file-link")).await.bytes, plain.bytes);
}

#[tokio::test]
async fn extract_v1_wants_a_professional_company_token_with_extrct() {
    let env = env().await;
    let url = env.url(&format!("{EXTRACT}/"));
    let anonymous = reply(env.http.get(&url).send().await.unwrap()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let standard = env.get(&env.std, &url).await;
    assert_eq!(standard.status, StatusCode::FORBIDDEN, "a Standard company has Payment Batch instead");
    assert!(standard.header("x-sim-reason").is_some_and(|r| r.contains("Professional")));
    let fis_only = company_token(&env.concur, &env.http, PRO, Some("FISVC")).await;
    assert_eq!(env.get(&fis_only, &url).await.status, StatusCode::FORBIDDEN);
    let emea = env.get(&env.pro, &format!("{}{EXTRACT}/", env.concur.emea_url())).await;
    assert_eq!(emea.status, StatusCode::UNAUTHORIZED, "the token is valid at its own datacenter only");
}

#[tokio::test]
async fn injected_faults_reach_the_extract_routes() {
    let env = env().await;
    let rule = json!({"kind": "server_error", "status": 503, "count": 1, "path_prefix": EXTRACT});
    let added = env.http.post(env.url("/_sim/faults")).json(&rule).send().await.unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    assert_eq!(env.get(&env.pro, &env.url(EXTRACT)).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(env.get(&env.pro, &env.url(EXTRACT)).await.status, StatusCode::OK);
}

/// What an ERP receives of a line (as the domain's own FIS-vs-file tests compare them).
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

/// Every FI example, served in one SAE and read back by the connector, posts what its FIS document posts.
#[tokio::test]
async fn every_example_reads_back_from_the_file_as_its_fis_document_posts() {
    let env = env().await;
    let mut fis = Vec::new();
    for example in EXAMPLES {
        let parsed: Value = serde_json::from_str(example).unwrap();
        let item = &parsed["fIDocuments"][0];
        let doc_type: DocumentType = serde_json::from_value(item["docType"].clone()).unwrap();
        let id = ConcurDocumentId::parse(&item["id"].as_str().unwrap().to_uppercase()).unwrap();
        let entry = normalize(doc_type, &id, &item["document"], &NormalizeOptions::default()).expect("FIS normalizes");
        if !fis.iter().any(|(_, seen): &(DocumentType, Vec<String>)| *seen == posted(&entry)) {
            fis.push((doc_type, posted(&entry)));
        }
        env.sim().load_fi_example(PRO, example).unwrap();
    }
    let definition = default_definition(&env).await;
    let job = env.run_job(&definition).await;
    let file = env.get(&env.pro, &text(&job, "file-link")).await;
    let reader = ExtractReader::new(file.bytes.as_slice(), ExtractOptions::default()).expect("header");
    let mut from_file = Vec::new();
    for document in Documents::new(reader) {
        let document = FileDocument::from_rows(&document.expect("grouped")).expect("an FI document");
        let entry = document.normalize(&NormalizeOptions::default()).expect("the file document normalizes");
        from_file.push((document.doc_type, posted(&entry)));
    }
    assert_eq!(from_file.len(), fis.len(), "one file document per distinct FIS document");
    for expected in &fis {
        assert!(from_file.contains(expected), "no file document posts {expected:#?}\nfile documents: {from_file:#?}");
    }
}
