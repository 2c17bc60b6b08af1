//! The files bucket's staged documents (`platform::files::FileStore`) on the
//! local stack: the bucket provisioned from infra/template.yaml, its name
//! taken from the functions' FILES_BUCKET as the template sets it.

use domain::extract::{Documents, ExtractOptions, ExtractReader, FileDocument, SAE};
use domain::{ConcurDocumentId, ConnectionId, DocumentType};
use integration::TestStack;
use platform::files::{FileStore, StagedDocument};

const INTAKE: &str = "FileIntakeFunction";
const POSTER: &str = "ErpPosterFunction";

/// An SAE detail row with the given (position, value) pairs.
fn row(values: &[(u16, &str)]) -> String {
    let width = values.iter().map(|(position, _)| usize::from(*position)).max().unwrap_or(1);
    let mut fields = vec![""; width];
    fields[0] = SAE.detail_marker;
    for (position, value) in values {
        fields[usize::from(*position) - 1] = value;
    }
    fields.join(",")
}

/// The rows of one expense report (Report ID `id`, Report Key `key`): a taxed expense line and its offset.
fn report(id: &str, key: &str) -> Vec<String> {
    let report: &[(u16, &str)] =
        &[(5, "E1"), (19, id), (20, key), (21, "DEFAULT"), (22, "CAD"), (27, "Trip"), (61, "4291")];
    let with = |extra: &[(u16, &str)]| row(&[report, extra].concat());
    vec![
        with(&[
            (189, "1"),
            (191, "CC1"),
            (170, "10"),
            (164, "COMP"),
            (166, "EMPL"),
            (167, "400"),
            (169, "+100.00"),
            (247, "88.50"),
            (158, "CA"),
            (226, "CAGST"),
            (228, "4.42"),
            (231, "0"),
            (232, "JC2E"),
            (238, "TM"),
        ]),
        with(&[(189, "1"), (170, "11"), (164, "COMP"), (166, "EMPL"), (167, "400"), (169, "-100.00")]),
    ]
}

/// The documents of a tiny SAE file holding two reports (its journal total is 0).
fn file_documents() -> Vec<FileDocument> {
    let rows: Vec<String> = [report("RPT1", "5161"), report("RPT2", "5162")].concat();
    let file = format!("EXTRACT,2024-03-01,{},0.00,1\n{}\n", rows.len(), rows.join("\n"));
    let reader = ExtractReader::new(file.as_bytes(), ExtractOptions::default()).expect("the file's header reads");
    let documents: Vec<FileDocument> = Documents::new(reader)
        .map(|document| FileDocument::from_rows(&document.expect("the file's rows read")).expect("an FI document"))
        .collect();
    let ids: Vec<(DocumentType, &str)> = documents.iter().map(|d| (d.doc_type, d.business_id.as_str())).collect();
    assert_eq!(ids, [(DocumentType::Expense, "RPT1"), (DocumentType::Expense, "RPT2")]);
    documents
}

fn staged(document: FileDocument) -> StagedDocument {
    StagedDocument { file: "inbox inbox/acme/extract-2024-03-01.txt".into(), document }
}

fn store(stack: &TestStack, function: &str) -> FileStore {
    let bucket = stack.env_of(function).required("FILES_BUCKET").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bucket, stack.provisioned.bucket("FilesBucket"));
    stack.aws().files(bucket)
}

/// Every object of the files bucket under `prefix`: (key, ETag).
async fn objects(stack: &TestStack, prefix: &str) -> Vec<(String, String)> {
    let out = localstack::s3_client(&stack.sdk)
        .list_objects_v2()
        .bucket(stack.provisioned.bucket("FilesBucket"))
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .map(|o| (o.key().unwrap_or_default().to_owned(), o.e_tag().unwrap_or_default().to_owned()))
        .collect()
}

#[tokio::test]
async fn a_staged_document_reads_back_equal_from_the_posters_side() {
    let stack = TestStack::new().await;
    let (intake, poster) = (store(&stack, INTAKE), store(&stack, POSTER));
    let acme = ConnectionId::parse("acme").unwrap();
    let documents = file_documents();
    for document in &documents {
        intake.stage(&acme, &staged(document.clone())).await.unwrap();
    }
    for document in &documents {
        let read = poster.staged(&acme, document.doc_type, &document.business_id).await.unwrap();
        assert_eq!(read, Some(staged(document.clone())), "{}", document.business_id);
    }
    // One object per document, where the layout says.
    let keys: Vec<String> = objects(&stack, "").await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["staged/acme/expense/RPT1.json", "staged/acme/expense/RPT2.json"]);

    // Staging writes under staged/, which does not notify the inbox queue:
    // only the s3:TestEvent S3 sent when the notification was applied is there.
    let inbox = stack.peek_queue("InboxQueue").await;
    assert!(inbox.iter().all(|m| m.contains("s3:TestEvent") && !m.contains("Records")), "{inbox:?}");
}

#[tokio::test]
async fn a_document_no_file_brought_is_none() {
    let stack = TestStack::new().await;
    let store = store(&stack, POSTER);
    let acme = ConnectionId::parse("acme").unwrap();
    let document = file_documents().remove(0);
    let id = document.business_id.clone();

    // An empty bucket.
    assert_eq!(store.staged(&acme, DocumentType::Expense, &id).await.unwrap(), None);

    store.stage(&acme, &staged(document)).await.unwrap();
    // Another id, another document type, another connection: none of them.
    let other = ConcurDocumentId::parse("RPT404").unwrap();
    assert_eq!(store.staged(&acme, DocumentType::Expense, &other).await.unwrap(), None);
    assert_eq!(store.staged(&acme, DocumentType::CashAdvance, &id).await.unwrap(), None);
    let beta = ConnectionId::parse("beta").unwrap();
    assert_eq!(store.staged(&beta, DocumentType::Expense, &id).await.unwrap(), None);
    assert!(store.staged(&acme, DocumentType::Expense, &id).await.unwrap().is_some());
}

#[tokio::test]
async fn staging_a_document_twice_leaves_the_same_object() {
    let stack = TestStack::new().await;
    let store = store(&stack, INTAKE);
    let acme = ConnectionId::parse("acme").unwrap();
    let document = staged(file_documents().remove(1));

    store.stage(&acme, &document).await.unwrap();
    let first = objects(&stack, "staged/").await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].0, "staged/acme/expense/RPT2.json");

    // The same file taken again: the same key, the same bytes (same ETag).
    store.stage(&acme, &document).await.unwrap();
    assert_eq!(objects(&stack, "staged/").await, first);
    let read = store.staged(&acme, DocumentType::Expense, &document.document.business_id).await.unwrap();
    assert_eq!(read, Some(document));
}

#[tokio::test]
async fn a_bucket_that_does_not_exist_is_an_error_not_none() {
    let stack = TestStack::new().await;
    let store = stack.aws().files("concur-erp-files-missing-bucket");
    let acme = ConnectionId::parse("acme").unwrap();
    let id = ConcurDocumentId::parse("RPT1").unwrap();
    let err = store.staged(&acme, DocumentType::Expense, &id).await.unwrap_err();
    assert!(err.to_string().contains("missing-bucket"), "{err}");
    let document = staged(file_documents().remove(0));
    assert!(store.stage(&acme, &document).await.is_err());
}
