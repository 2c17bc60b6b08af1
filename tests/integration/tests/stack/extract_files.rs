//! Posting through extract files (issue 15) on the real stack: moto (files bucket, inbox queue, ledger, audit,
//! sync state), the Concur simulator serving Extract v1 and Payment Batch v1 files rendered from the official
//! FI examples, the Acumatica simulator.
//!
//! Every example that comes in an extract file posts exactly what EXPECTED.md derives for it (the same
//! entries as through Financial Integration); a job or batch taken again posts nothing twice; a report seen in
//! a file and then through FIS posts once; a file that does not add up, is encrypted to a key the connection
//! does not hold, or was tampered with is refused whole and posts nothing; a key rotation loses no file.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use concur::TokenOptions;
use domain::connection::Edition;
use domain::posting_source::{FILES, PostingSource, SourceChoice};
use domain::{DocumentType, ErpKind, FlowOptions, WorkSource};
use erp_poster::{Poster, Processed};
use file_intake::{FileIntake, FileKey, IntakeOptions, Taken};
use integration::expected::{ErpPosting, compare, erp_postings, expected_by_file, ifs_postings, infor_postings};
use integration::posting::{
    COMPANY, IFS_COMPANY, INFOR_CHUNK_CLEARING, INFOR_TENANT, POSTER, PostingWorld, TENANT, consume_queue,
    example_work_items, test_options,
};
use platform::aws_calls::AwsCalls;
use platform::concur_grants::ConcurGrantStore;
use platform::files::{KeyringSecret, StoredKey, keyring_secret_id};
use platform::ledger::LedgerStatus;
use simulators::concur::{CompanySpec, Completion, DefinitionKind, ExtractDefinitionSpec, FileTransform};
use transport::RetryPolicy;

const INTAKE: &str = "FileIntakeFunction";

async fn intake(world: &PostingWorld) -> FileIntake<ConcurGrantStore> {
    intake_on(world, &world.stack.aws()).await
}

/// file-intake on `aws` (counting clients, say).
async fn intake_on(world: &PostingWorld, aws: &platform::Aws) -> FileIntake<ConcurGrantStore> {
    let options = IntakeOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(40),
            request_timeout: Duration::from_secs(5),
        },
        tokens: TokenOptions::default(),
        lease_ttl: Duration::from_secs(60),
    };
    FileIntake::from_env(&world.stack.env_of(INTAKE), aws, options).await.expect("file-intake builds")
}

/// The connection's posting source, and the edition Quick Connect read from the company's profile.
async fn set_source(world: &PostingWorld, source: PostingSource, edition: Edition) {
    let store = world.stack.connections(POSTER);
    let mut connection = store.get(&world.connection).await.unwrap().expect("the connection");
    connection.posting_source = source;
    connection.edition = Some(edition);
    store.replace(&connection).await.unwrap();
}

fn extract_source() -> PostingSource {
    PostingSource { choice: SourceChoice::Extract, ..PostingSource::default() }
}

/// The company's SAE definition, with one job Concur's schedule ran over every READY document.
fn scheduled_job(world: &PostingWorld) -> (String, String) {
    let definitions = world.concur.set_extract_definitions(
        COMPANY,
        vec![ExtractDefinitionSpec::new("Standard Accounting Extract", DefinitionKind::Sae)],
    );
    let job = world.concur.run_scheduled_job(COMPANY, &definitions[0]).expect("the job runs");
    (definitions[0].clone(), job)
}

/// The documents a run queued, over every file it took.
fn queued(files: &[(FileKey, Taken)]) -> usize {
    files
        .iter()
        .map(|(_, taken)| match taken {
            Taken::Queued { documents, .. } => *documents,
            _ => 0,
        })
        .sum()
}

/// The ledger key (business id) a file gives an example's document: a cash advance is keyed by the Cash
/// Advance Key the SAE carries instead of its FIS id (docs/extract-files.md).
fn file_key(world: &PostingWorld, doc_type: DocumentType, fis_id: &str) -> String {
    match doc_type {
        DocumentType::CashAdvance => {
            let key = world.concur.cash_advance_key(COMPANY, fis_id).expect("the file carries the advance");
            format!("{}{key}", domain::extract::CASH_ADVANCE_KEY_PREFIX)
        }
        _ => fis_id.to_owned(),
    }
}

/// What the world's ERP holds, per Concur key.
fn erp_records(world: &PostingWorld) -> BTreeMap<String, ErpPosting> {
    match world.erp_kind() {
        ErpKind::Acumatica => erp_postings(world.acumatica(), TENANT),
        ErpKind::IfsCloud => ifs_postings(world.ifs(), IFS_COMPANY),
        ErpKind::Infor => infor_postings(world.infor(), INFOR_TENANT, Some(INFOR_CHUNK_CLEARING)),
    }
}

/// Every example posted from a file: compared with EXPECTED.md line by line, one posting each.
fn assert_examples_posted_as_expected(world: &PostingWorld) {
    let expected = expected_by_file();
    let posted = erp_records(world);
    let mapping = world.mapping();
    let flow = FlowOptions::default_for(Some(world.erp_kind()));
    let mut problems = Vec::new();
    let mut keys = BTreeSet::new();
    for (file, item) in example_work_items(&world.connection, WorkSource::File) {
        let key = file_key(world, item.document_type, item.document_id.as_str());
        keys.insert(key.clone());
        let want = expected.get(&file).unwrap_or_else(|| panic!("EXPECTED.md has no entries for {file}"));
        let got = posted.get(&key).unwrap_or_else(|| panic!("{file}: nothing posted under {key}"));
        for problem in compare(want, got, &mapping, flow.form_for(item.document_type)) {
            problems.push(format!("{file} ({:?}): {problem}", got.documents));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(posted.keys().cloned().collect::<BTreeSet<_>>(), keys, "one posting per document, nothing else");
}

/// Runs the poster over the work queue until it is empty; an asynchronous ERP's verdicts (Infor ION) come
/// back through the queue and are handled too. Returns the documents posted.
async fn post_queued(world: &PostingWorld) -> usize {
    let poster = world.poster().await;
    let queue = world.stack.work_queue_url(POSTER);
    let consumed = consume_queue(&world.stack, &poster, &queue).await.unwrap();
    assert_eq!(consumed.outcome.stopped + consumed.outcome.malformed, 0, "{:?}", consumed.outcome);
    if world.erp_kind() == ErpKind::Infor {
        world.infor().flush_callbacks().await;
        let verdicts = consume_queue(&world.stack, &poster, &queue).await.unwrap();
        assert_eq!(verdicts.outcome.stopped, 0, "{:?}", verdicts.outcome);
    }
    consumed.outcome.done
}

#[tokio::test]
async fn every_example_in_an_extract_job_posts_as_through_fis_and_a_second_run_posts_nothing() {
    let world = PostingWorld::new("acme-extract").await;
    world.load_examples();
    set_source(&world, extract_source(), Edition::Professional).await;
    let (definition, job) = scheduled_job(&world);
    // Both functions' AWS calls are held to what their roles allow (at the end).
    let (intake_calls, poster_calls) = (AwsCalls::new(), AwsCalls::new());
    let intake = intake_on(&world, &world.stack.aws().counting(&intake_calls)).await;
    let run = intake.take_from_concur(&world.connection).await.expect("the files are taken");
    assert_eq!(run.files.len(), 1, "{run:?}");
    assert_eq!(run.files[0].0, FileKey::Job { definition, job });
    let documents = queued(&run.files);
    assert_eq!(documents, 13, "15 example files, two of them repeat a report: {run:?}");

    let poster =
        Poster::from_env(&world.stack.env_of(POSTER), &world.stack.aws().counting(&poster_calls), test_options())
            .await
            .unwrap();
    let queue = world.stack.work_queue_url(POSTER);
    let consumed = consume_queue(&world.stack, &poster, &queue).await.unwrap();
    assert_eq!((consumed.messages, consumed.outcome.done), (documents, documents), "{:?}", consumed.outcome);
    assert_examples_posted_as_expected(&world);
    // Concur stays read-only on this path: nothing acknowledged, nothing confirmed.
    assert!(world.concur.posting_confirmations(COMPANY).is_empty());
    for (file, item) in example_work_items(&world.connection, WorkSource::File) {
        let id = file_key(&world, item.document_type, item.document_id.as_str());
        let key = platform::ledger::LedgerKey::new(
            world.connection.clone(),
            item.document_type,
            domain::ConcurDocumentId::parse(&id).unwrap(),
        );
        let record = world.stack.ledger(POSTER).get(&key).await.unwrap().unwrap_or_else(|| panic!("{file}"));
        assert_eq!(record.status, LedgerStatus::Confirmed, "{file}: done, no confirmation required");
    }

    // The same job seen again, and the same documents queued again: nothing more.
    let again = intake.take_from_concur(&world.connection).await.unwrap();
    assert!(again.files.is_empty(), "{again:?}");
    let bills = world.acumatica().bills(TENANT).len();
    let journals = world.acumatica().journal_transactions(TENANT).len();
    let known = world.stack.reference(POSTER).known_all(&world.connection, FILES).await.unwrap();
    assert_eq!(known.len(), 1, "{known:?}");
    let replayed = intake.take_from_concur(&world.connection).await.unwrap();
    assert!(replayed.files.is_empty());
    assert_eq!(consume_queue(&world.stack, &poster, &queue).await.unwrap().messages, 0);
    assert_eq!(
        (world.acumatica().bills(TENANT).len(), world.acumatica().journal_transactions(TENANT).len()),
        (bills, journals)
    );
    assert!(!intake_calls.snapshot().is_empty() && !poster_calls.snapshot().is_empty(), "both were counted");
    integration::assert_allowed_by_the_template(INTAKE, &intake_calls);
    integration::assert_allowed_by_the_template(POSTER, &poster_calls);
}

/// The examples through an extract job into another ERP, compared with EXPECTED.md as its FIS test does.
async fn examples_through_an_extract_job_into(kind: ErpKind) {
    let world = PostingWorld::with_erp(&format!("acme-extract-{kind:?}").to_lowercase(), kind).await;
    world.load_examples();
    set_source(&world, extract_source(), Edition::Professional).await;
    scheduled_job(&world);
    let run = intake(&world).await.take_from_concur(&world.connection).await.unwrap();
    assert_eq!(queued(&run.files), 13, "{run:?}");
    // Infor counts its verdicts' messages too: what was posted is checked below, document by document.
    assert!(post_queued(&world).await >= 13);
    assert_examples_posted_as_expected(&world);
}

#[tokio::test]
async fn every_example_in_an_extract_job_posts_into_ifs_cloud_as_through_fis() {
    examples_through_an_extract_job_into(ErpKind::IfsCloud).await;
}

#[tokio::test]
async fn every_example_in_an_extract_job_posts_into_infor_as_through_fis() {
    examples_through_an_extract_job_into(ErpKind::Infor).await;
}

#[tokio::test]
async fn a_report_in_a_file_and_then_through_fis_posts_once() {
    let world = PostingWorld::new("acme-auto").await;
    world.load_examples();
    // Professional edition, `auto`: FIS, and the extract for reports in flight when FIS was enabled.
    let source = PostingSource { choice: SourceChoice::Auto, ..PostingSource::default() };
    assert!(source.resolve(Some(Edition::Professional)).fis);
    set_source(&world, source, Edition::Professional).await;
    scheduled_job(&world);
    let intake = intake(&world).await;
    let run = intake.take_from_concur(&world.connection).await.unwrap();
    assert_eq!(queued(&run.files), 13, "{run:?}");
    let poster = world.poster().await;
    let queue = world.stack.work_queue_url(POSTER);
    let consumed = consume_queue(&world.stack, &poster, &queue).await.unwrap();
    assert_eq!(consumed.outcome.done, 13);
    let bills = world.acumatica().bills(TENANT).len();
    let journals = world.acumatica().journal_transactions(TENANT).len();

    // The same reports, READY in Financial Integration, arrive through the poll.
    let mut duplicates = 0;
    for (file, item) in example_work_items(&world.connection, WorkSource::Poll) {
        if item.document_type == DocumentType::CashAdvance {
            continue; // keyed apart in files (docs/extract-files.md)
        }
        let processed = poster.process_item(&item).await.unwrap_or_else(|f| panic!("{file}: {}", f.reason));
        assert!(matches!(processed, Processed::Duplicate), "{file}: {processed:?}");
        duplicates += 1;
    }
    assert_eq!(duplicates, 13);
    assert_eq!(
        (world.acumatica().bills(TENANT).len(), world.acumatica().journal_transactions(TENANT).len()),
        (bills, journals)
    );
}

#[tokio::test]
async fn a_standard_company_posts_through_its_payment_batches_a_batch_closed_by_hand_included() {
    let world = PostingWorld::new("acme-standard").await;
    world.concur.add_company(CompanySpec {
        uuid: COMPANY.into(),
        name: "Acme Travel Corp".into(),
        datacenter: "us".into(),
        marketing_name: "Standard Edition".into(),
    });
    world.concur.set_batch_close_completion(COMPANY, Completion::AfterReads(1));
    let source = PostingSource { choice: SourceChoice::PaymentBatch, ..PostingSource::default() };
    set_source(&world, source, Edition::Standard).await;
    let intake = intake(&world).await;
    // A batch seen open and empty, then filled, then closed by hand in Payment Manager: still taken.
    let usd = world.concur.open_payment_batch(COMPANY, "USD", "Employee", "Expense Pay by SAP Concur");
    let first = intake.take_from_concur(&world.connection).await.unwrap();
    assert_eq!((first.batches_closed, first.files.len()), (0, 0), "{first:?}");
    world.load_examples();
    let _ = world.concur.payment_batches(COMPANY);
    world.concur.close_batch_manually(COMPANY, &usd).expect("closed by hand");

    let mut taken = Vec::new();
    for _ in 0..5 {
        let run = intake.take_from_concur(&world.connection).await.unwrap();
        taken.extend(run.files);
        if world
            .concur
            .payment_batches(COMPANY)
            .iter()
            .all(|b| b.status != simulators::concur::PaymentBatchStatus::Open || b.documents.is_empty())
            && !taken.is_empty()
        {
            let rest = intake.take_from_concur(&world.connection).await.unwrap();
            taken.extend(rest.files);
            break;
        }
    }
    let batches: BTreeSet<String> = taken.iter().map(|(key, _)| key.record_key()).collect();
    assert!(batches.iter().any(|k| k.contains(&usd)), "the batch closed by hand is taken: {batches:?}");
    assert!(taken.iter().all(|(_, t)| matches!(t, Taken::Queued { .. })), "{taken:?}");
    let documents = queued(&taken);
    let poster = world.poster().await;
    let queue = world.stack.work_queue_url(POSTER);
    let consumed = consume_queue(&world.stack, &poster, &queue).await.unwrap();
    assert_eq!(consumed.outcome.done, documents);
    let posted = erp_postings(world.acumatica(), TENANT);
    assert_eq!(posted.len(), documents, "one posting per document of the batches");

    // Taken again: nothing new.
    let again = intake.take_from_concur(&world.connection).await.unwrap();
    assert!(again.files.is_empty(), "{again:?}");
    assert_eq!(consume_queue(&world.stack, &poster, &queue).await.unwrap().messages, 0);
}

/// Serves the company's files through `transform` from now on.
fn serve_through(world: &PostingWorld, transform: impl Fn(Vec<u8>) -> Vec<u8> + Send + Sync + 'static) {
    world.concur.set_extract_file_transform(COMPANY, Some(Box::new(transform)));
}

/// Takes the connection's files once and returns the one file's outcome.
async fn take_one(intake: &FileIntake<ConcurGrantStore>, world: &PostingWorld) -> Taken {
    let run = intake.take_from_concur(&world.connection).await.unwrap();
    assert_eq!(run.files.len(), 1, "{run:?}");
    run.files[0].1.clone()
}

#[tokio::test]
async fn a_file_that_does_not_add_up_or_cannot_be_decrypted_is_refused_whole_and_taken_once_fixed() {
    let world = PostingWorld::new("acme-refused").await;
    world.load_examples();
    set_source(&world, extract_source(), Edition::Professional).await;
    scheduled_job(&world);
    let intake = intake(&world).await;
    let queue = world.stack.work_queue_url(POSTER);
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).unwrap();
    let header_field = |file: &str, n: usize, value: &str| {
        let (header, rest) = file.split_once('\n').unwrap();
        let mut fields: Vec<&str> = header.split(',').collect();
        fields[n] = value;
        format!("{}\n{rest}", fields.join(","))
    };
    let cases: Vec<(&str, FileTransform)> = vec![
        ("counts", Box::new(move |b| header_field(&text(&b), 2, "999").into_bytes())),
        ("the detail rows add up to", Box::new(move |b| header_field(&text(&b), 3, "1.01").into_bytes())),
        ("quote", Box::new(move |b| text(&b).replacen("\nDETAIL,", "\nDETAIL,\"", 1).into_bytes())),
    ];
    for (why, transform) in cases {
        world.concur.set_extract_file_transform(COMPANY, Some(transform));
        match take_one(&intake, &world).await {
            Taken::Refused { reason } => assert!(reason.contains(why) && reason.contains("row"), "{why}: {reason}"),
            other => panic!("{why}: {other:?}"),
        }
    }
    // Encrypted to a key the connection does not hold, then tampered with.
    let (_, stranger) = files::generate_key("Someone else <x@example.test>", None).unwrap();
    serve_through(&world, move |b| files::encrypt_to(&stranger, &b).unwrap());
    let Taken::Refused { reason } = take_one(&intake, &world).await else { panic!("no key") };
    assert!(reason.contains("connector keys add"), "{reason}");
    let (secret, public) = files::generate_key("Acme AP <ap@acme.test>", None).unwrap();
    store_keys(&world, &[&secret]).await;
    let public_for_tamper = public.clone();
    serve_through(&world, move |b| tamper(files::encrypt_to(&public_for_tamper, &b).unwrap()));
    let Taken::Refused { reason } = take_one(&intake, &world).await else { panic!("tampered") };
    assert!(!reason.is_empty(), "{reason}");
    // Nothing of any refused file was staged or queued.
    assert_eq!(consume_queue(&world.stack, &world.poster().await, &queue).await.unwrap().messages, 0);
    assert!(erp_postings(world.acumatica(), TENANT).is_empty());
    let audit = world.stack.audit(POSTER);
    let events = audit.history(&format!("{}#file#{}", world.connection, intake_key(&world))).await.unwrap();
    assert!(events.iter().filter(|e| e.step == "refused").count() >= 5, "{events:?}");

    // Served as Concur sent it, encrypted to the connection's key: taken and posted.
    serve_through(&world, move |b| files::encrypt_to(&public, &b).unwrap());
    assert!(matches!(take_one(&intake, &world).await, Taken::Queued { documents: 13, .. }));
    let consumed = consume_queue(&world.stack, &world.poster().await, &queue).await.unwrap();
    assert_eq!(consumed.outcome.done, 13);
    assert_examples_posted_as_expected(&world);
}

/// The one file's record key in the test's files partition.
fn intake_key(world: &PostingWorld) -> String {
    let definitions = world.concur.extract_definitions(COMPANY);
    let jobs = world.concur.extract_jobs(COMPANY, &definitions[0].id);
    FileKey::Job { definition: definitions[0].id.clone(), job: jobs[0].id.clone() }.record_key()
}

/// Flips a byte inside the encrypted data of an armored message.
fn tamper(armored: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8(armored).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let middle = lines.len() / 2;
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    let line = &mut out[middle];
    let flipped = if line.starts_with('A') { 'B' } else { 'A' };
    line.replace_range(0..1, &flipped.to_string());
    (out.join("\n") + "\n").into_bytes()
}

async fn store_keys(world: &PostingWorld, armored: &[&str]) {
    let prefix = world.stack.env_of(INTAKE).required("CONNECTION_SECRET_PREFIX").unwrap();
    let secret = KeyringSecret {
        keys: armored.iter().map(|a| StoredKey { armored: (*a).to_owned(), passphrase: None }).collect(),
    };
    world.stack.secrets().put_json(&keyring_secret_id(&prefix, &world.connection), &secret, "test keys").await.unwrap();
}

#[tokio::test]
async fn a_key_rotation_loses_no_file() {
    let world = PostingWorld::new("acme-rotation").await;
    set_source(&world, extract_source(), Edition::Professional).await;
    let definitions = world.concur.set_extract_definitions(
        COMPANY,
        vec![ExtractDefinitionSpec::new("Standard Accounting Extract", DefinitionKind::Sae)],
    );
    let (old_secret, old_public) = files::generate_key("Acme AP 2025 <ap@acme.test>", Some(30)).unwrap();
    let (new_secret, new_public) = files::generate_key("Acme AP 2026 <ap@acme.test>", None).unwrap();
    let intake = intake(&world).await;
    let files = world.load_examples();
    assert!(!files.is_empty());
    store_keys(&world, &[&old_secret]).await;
    // Concur still encrypts to the old key for one job…
    let encrypt_to = |public: String| move |b: Vec<u8>| files::encrypt_to(&public, &b).unwrap();
    serve_through(&world, encrypt_to(old_public));
    world.concur.run_scheduled_job(COMPANY, &definitions[0]).unwrap();
    let first = intake.take_from_concur(&world.connection).await.unwrap();
    // … the operator adds the new key and publishes it; the next files come encrypted to it.
    store_keys(&world, &[&old_secret, &new_secret]).await;
    let shared: Arc<str> = Arc::from(new_public.as_str());
    serve_through(&world, move |b| files::encrypt_to(&shared, &b).unwrap());
    world.concur.run_scheduled_job(COMPANY, &definitions[0]).unwrap();
    let second = intake.take_from_concur(&world.connection).await.unwrap();
    // Once no file uses the old key, it is removed.
    store_keys(&world, &[&new_secret]).await;
    world.concur.run_scheduled_job(COMPANY, &definitions[0]).unwrap();
    let third = intake.take_from_concur(&world.connection).await.unwrap();
    for run in [&first, &second, &third] {
        assert!(run.files.iter().all(|(_, t)| matches!(t, Taken::Queued { .. })), "{run:?}");
    }
    assert_eq!(queued(&first.files) + queued(&second.files) + queued(&third.files), 13);
    let consumed =
        consume_queue(&world.stack, &world.poster().await, &world.stack.work_queue_url(POSTER)).await.unwrap();
    assert_eq!(consumed.outcome.done, 13);
    assert_examples_posted_as_expected(&world);
}

#[tokio::test]
async fn a_file_dropped_in_the_inbox_for_a_key_added_later_is_decrypted_and_posted_once() {
    let captured = platform::telemetry::capture();
    let world = PostingWorld::new("acme-inbox").await;
    world.load_examples();
    set_source(&world, extract_source(), Edition::Professional).await;
    let (secret, public) = files::generate_key("Acme AP <ap@acme.test>", None).unwrap();
    // The file transfer already encrypts to the new key, which the connection does not hold yet.
    let (old_secret, _) = files::generate_key("Acme AP old <ap@acme.test>", None).unwrap();
    store_keys(&world, &[&old_secret]).await;
    let sae = world.concur.company_sae(COMPANY);
    let encrypted = files::encrypt_to(&public, sae.as_bytes()).unwrap();
    let bucket = world.stack.env_of(INTAKE).required("FILES_BUCKET").unwrap();
    let s3 = localstack::s3_client(&world.stack.sdk);
    let key = format!("inbox/{}/SAE 2026-12.csv.pgp", world.connection);
    s3.put_object().bucket(&bucket).key(&key).body(encrypted.into()).send().await.unwrap();

    let intake = intake(&world).await;
    let inbox = world.stack.env_of("ScheduledPollerFunction").required("INBOX_QUEUE_URL").unwrap();
    let sqs = world.stack.sqs();
    let mut handled = 0;
    for _ in 0..3 {
        let out = sqs
            .receive_message()
            .queue_url(&inbox)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        let response = file_intake::handle(&intake, integration::posting::sqs_event(&messages)).await;
        assert!(response.batch_item_failures.is_empty());
        for m in &messages {
            sqs.delete_message().queue_url(&inbox).set_receipt_handle(m.receipt_handle.clone()).send().await.unwrap();
        }
        handled += messages.len();
    }
    assert!(handled >= 1, "S3 notified the inbox queue");
    let ages: Vec<_> = captured.lines().into_iter().filter(|l| l.get("QueueAge").is_some()).collect();
    assert_eq!(ages.len(), handled, "one QueueAge per inbox message: {ages:?}");
    assert!(
        ages.iter().all(|l| l["Queue"] == "inbox" && l["QueueAge"].as_f64().is_some_and(|ms| ms >= 0.0)),
        "{ages:?}"
    );
    let poster = world.poster().await;
    let queue = world.stack.work_queue_url(POSTER);
    assert_eq!(consume_queue(&world.stack, &poster, &queue).await.unwrap().messages, 0, "refused: nothing queued");
    // The operator adds the key; the next scheduled run takes the refused file again.
    store_keys(&world, &[&old_secret, &secret]).await;
    let run = intake.take_from_concur(&world.connection).await.unwrap();
    assert!(matches!(run.files.as_slice(), [(FileKey::Inbox(_), Taken::Queued { documents: 13, .. })]), "{run:?}");
    let queue = world.stack.work_queue_url(POSTER);
    let consumed = consume_queue(&world.stack, &poster, &queue).await.unwrap();
    assert_eq!(consumed.outcome.done, 13);
    assert_examples_posted_as_expected(&world);
    // S3 may deliver its notice twice: the file is taken once.
    let dropped = domain::inbox::DroppedFile { bucket, key, size: None };
    assert_eq!(intake.take_dropped(&dropped).await.unwrap(), Taken::AlreadyTaken);
    assert_eq!(consume_queue(&world.stack, &poster, &queue).await.unwrap().messages, 0);
}
