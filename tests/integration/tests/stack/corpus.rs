//! The bad-input corpus (`tests/corpus/<kind>/*.case`, see its README)
//! replayed through the real code: event-intake's and ion-inbox's `handle`
//! on the stack, normalize + the posting plan + `connector preview`, the
//! operator CLI on the stack (mapping import, credentials and `.ionapi`
//! files), and the real Concur and ERP clients against a local server that
//! gives the case's answer.
//!
//! Every case must be refused with an error that contains each of its
//! `expect` lines (or, for `outcome: ignored`, change nothing), without a
//! panic (each call runs in its own task or under `catch_unwind`, so a
//! panic fails the case by name; a stack overflow aborts the binary, which
//! fails the run), and without a write: the stack's tables and the work
//! queue are compared before and after every case. The only writes allowed
//! are the audit records the design asks for (a signed but unusable webhook
//! under `unrouted`, an unreadable ION verdict under the connection), and
//! the case names the one it expects. Each test prints how many cases ran.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::http::HeaderValue;
use base64::Engine as _;
use domain::{CompanyUuid, ConcurrencyLevel, Connection, ConnectionId, ConnectionStatus, DocumentType, ErpKind};
use domain::{ErpSettings, ErpUrl, InforSettings, Secret, UrlPolicy};
use integration::TestStack;
use integration::posting::{INFOR_INBOX_TOKEN, PostingWorld};
use platform::Env;
use serde_json::Value;
use simulators::concur::webhook::{EssSigner, test_public_key_base64};
use transport::{HttpClient, RetryPolicy};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const COMPANY: &str = "0ffa9ce0-f00b-408a-8344-8eaad502b0d7";

// ------------------------------------------------------------------ cases

/// One corpus file: its header lines and the raw input after them.
struct Case {
    kind: &'static str,
    name: String,
    header: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Case {
    fn get(&self, key: &str) -> Option<&str> {
        self.header.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn expects(&self) -> Vec<&str> {
        self.header.iter().filter(|(k, _)| k == "expect").map(|(_, v)| v.as_str()).collect()
    }

    fn status(&self) -> i64 {
        self.get("status").and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{}: no `status`", self.label()))
    }

    fn label(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// The input: the file's bytes, or what `generated` names (too large to commit).
    fn input(&self) -> Vec<u8> {
        match self.get("generated") {
            Some(recipe) => generated(recipe),
            None => self.body.clone(),
        }
    }

    /// `Err` naming what is missing when `error` lacks an expected fragment.
    fn check_error(&self, error: &str) -> Result<(), String> {
        if std::env::var_os("CORPUS_SHOW").is_some() {
            println!("{}: {}", self.label(), cut(&error.replace('\n', " ")));
        }
        let missing: Vec<&str> = self.expects().into_iter().filter(|e| !error.contains(e)).collect();
        if missing.is_empty() { Ok(()) } else { Err(format!("the error lacks {missing:?}: {}", cut(error))) }
    }
}

fn corpus_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus").join(kind)
}

/// Every `*.case` of a kind, by name.
fn load(kind: &'static str) -> Vec<Case> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir(kind))
        .unwrap_or_else(|e| panic!("tests/corpus/{kind}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let (mut header, mut at) = (Vec::new(), 0);
            loop {
                let end = bytes[at..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |i| at + i);
                let line = std::str::from_utf8(&bytes[at..end]).unwrap_or_else(|_| panic!("{name}: header"));
                at = (end + 1).min(bytes.len());
                if line.is_empty() {
                    break;
                }
                let (key, value) = line
                    .strip_prefix("# ")
                    .and_then(|l| l.split_once(": ").or_else(|| l.strip_suffix(':').map(|k| (k, ""))))
                    .unwrap_or_else(|| panic!("{kind}/{name}: header line `{line}` is not `# key: value`"));
                header.push((key.to_owned(), value.to_owned()));
            }
            assert!(header.iter().any(|(k, _)| k == "tries"), "{kind}/{name} says what it tries");
            Case { kind, name, header, body: bytes[at..].to_vec() }
        })
        .collect()
}

/// Inputs built here rather than committed (sizes, bombs).
fn generated(recipe: &str) -> Vec<u8> {
    match recipe {
        "oversized-notification" => {
            let pad = "x".repeat(event_intake::MAX_BODY_BYTES);
            format!(r#"{{"topic":"public.concur.expense.report","pad":"{pad}"}}"#).into_bytes()
        }
        "one-mib-of-x" => vec![b'x'; 1024 * 1024],
        "deep-array-100k" => {
            let mut body = "[".repeat(100_000);
            body.push_str(&"]".repeat(100_000));
            body.into_bytes()
        }
        "seventeen-mib" => {
            let mut body = br#"{"pad":""#.to_vec();
            body.resize(17 * 1024 * 1024, b'x');
            body.extend_from_slice(b"\"}");
            body
        }
        "seventy-kb-credentials" => format!(r#"{{"client_id":"{}"}}"#, "x".repeat(70 * 1024)).into_bytes(),
        "ten-mb-report-name" => fi_example_with(|doc| doc["report"]["reportName"] = "N".repeat(10 << 20).into()),
        "ten-mb-account-code" => fi_example_with(|doc| {
            doc["expenseEntry"][0]["allocation"][0]["journal"][0]["journalAccountCode"] = "7".repeat(10 << 20).into();
        }),
        "ten-mb-amount" => {
            let text = fi_example_with(|doc| doc["report"]["totalApprovedAmount"] = "@AMOUNT@".into());
            let text = String::from_utf8(text).unwrap();
            text.replace("\"@AMOUNT@\"", &"9".repeat(10 << 20)).into_bytes()
        }
        "oversized-ion" => ims_body(r#"{"encoding":"NONE"}"#, &vec![b'x'; ion_inbox::MAX_BODY_BYTES + 1]),
        "deflate-bomb" => ims_body(r#"{"encoding":"DEFLATE"}"#, &deflate(&vec![b' '; 64 << 20])),
        "deflate-deep-xml" => {
            let mut xml = "<a>".repeat(50_000);
            xml.push_str(&"</a>".repeat(50_000));
            ims_body(r#"{"encoding":"DEFLATE"}"#, &deflate(xml.as_bytes()))
        }
        "deflate-truncated" => {
            let full = deflate(&vec![b'<'; 10_000]);
            ims_body(r#"{"encoding":"DEFLATE"}"#, &full[..full.len() / 2])
        }
        other => panic!("unknown generated input `{other}`"),
    }
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// An IMS multipart message (boundary `B`).
fn ims_body(parameters: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--B\r\nContent-Disposition: form-data; name=\"ParameterRequest\"; filename=\"p.json\"\r\n\
         Content-Type: application/json\r\n\r\n{parameters}\r\n--B\r\nContent-Disposition: form-data; \
         name=\"MessagePayload\"; filename=\"x.xml\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(payload);
    body.extend_from_slice(b"\r\n--B--\r\n");
    body
}

const EXPENSE_EXAMPLE: &str = "FI-API-ReportID-F071FADEA6B142DD884A-Example-2.1.json";

/// The expense example 2.1's document, changed by `edit`, as JSON text.
fn fi_example_with(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut doc = fi_example_document();
    edit(&mut doc);
    serde_json::to_vec(&doc).unwrap()
}

fn fi_example_document() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/fi-examples").join(EXPENSE_EXAMPLE);
    let envelope: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    envelope["fIDocuments"][0]["document"].clone()
}

fn cut(text: &str) -> String {
    let mut out: String = text.chars().take(600).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// What a kind's replay found; fails with every failed case at once.
struct Tally {
    kind: &'static str,
    ran: usize,
    failures: Vec<String>,
}

impl Tally {
    fn new(kind: &'static str) -> Self {
        Self { kind, ran: 0, failures: Vec::new() }
    }

    fn record(&mut self, case: &Case, result: Result<(), String>) {
        self.ran += 1;
        if std::env::var_os("CORPUS_SHOW").is_some() {
            println!("{} → {result:?}", case.label());
        }
        if let Err(why) = result {
            self.failures.push(format!("{}: {why}", case.label()));
        }
    }

    fn finish(self, started: Instant) {
        println!("corpus {}: {} cases ran in {:.1?}", self.kind, self.ran, started.elapsed());
        assert!(self.ran > 0, "no {} cases found", self.kind);
        assert!(
            self.failures.is_empty(),
            "{} of {} {} cases failed:\n{}",
            self.failures.len(),
            self.ran,
            self.kind,
            self.failures.join("\n")
        );
    }
}

/// Runs `work` in its own task: a panic becomes the case's failure.
async fn guarded<T: Send + 'static>(work: impl std::future::Future<Output = T> + Send + 'static) -> Result<T, String> {
    tokio::spawn(work).await.map_err(|e| match e.try_into_panic() {
        Ok(payload) => format!("PANIC: {}", panic_text(payload.as_ref())),
        Err(e) => format!("the task failed: {e}"),
    })
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".into())
}

/// The stack's state a refused input must leave as it was.
#[derive(PartialEq, Eq)]
struct Snapshot {
    connections: BTreeSet<String>,
    ledger: BTreeSet<String>,
    audit: BTreeSet<String>,
    queued: Vec<String>,
    secrets: Vec<String>,
}

async fn snapshot(stack: &TestStack) -> Snapshot {
    Snapshot {
        connections: scan(stack, "ConnectionsTable").await,
        ledger: scan(stack, "LedgerTable").await,
        audit: scan(stack, "AuditTable").await,
        queued: stack.peek_queue("WorkQueue").await,
        secrets: stack.connection_secret_names().await,
    }
}

/// Every item of a table, attributes in name order (a `HashMap`'s own
/// order differs between two reads of the same item).
async fn scan(stack: &TestStack, logical_id: &str) -> BTreeSet<String> {
    let table = stack.provisioned.table(logical_id).to_owned();
    let mut items = BTreeSet::new();
    let mut start = None;
    loop {
        let out = stack.dynamodb().scan().table_name(&table).set_exclusive_start_key(start).send().await.unwrap();
        for item in out.items.unwrap_or_default() {
            items.insert(render(&aws_sdk_dynamodb::types::AttributeValue::M(item)));
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

/// An attribute as text, map members in name order at every depth.
fn render(value: &aws_sdk_dynamodb::types::AttributeValue) -> String {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    match value {
        A::M(members) => {
            let sorted: std::collections::BTreeMap<_, _> = members.iter().map(|(k, v)| (k, render(v))).collect();
            format!("{sorted:?}")
        }
        A::L(items) => format!("{:?}", items.iter().map(render).collect::<Vec<_>>()),
        A::Ss(set) | A::Ns(set) => {
            let sorted: BTreeSet<_> = set.iter().collect();
            format!("{sorted:?}")
        }
        other => format!("{other:?}"),
    }
}

/// Nothing changed, except the one audit record `audit` names (`none`: none).
fn unchanged(before: &Snapshot, after: &Snapshot, audit: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    if before.connections != after.connections {
        problems.push("the connections table changed".to_owned());
    }
    if before.ledger != after.ledger {
        problems.push("the ledger changed".to_owned());
    }
    if !after.queued.is_empty() {
        problems.push(format!("something was queued: {:?}", after.queued));
    }
    if before.secrets != after.secrets {
        problems.push(format!("secrets changed: {:?} → {:?}", before.secrets, after.secrets));
    }
    let added: Vec<&String> = after.audit.difference(&before.audit).collect();
    let removed = before.audit.difference(&after.audit).count();
    match audit {
        "none" if added.is_empty() && removed == 0 => {}
        "none" => problems.push(format!("the audit table changed: {added:?}")),
        expected if added.len() == 1 && removed == 0 && added[0].contains(expected) => {}
        expected => problems.push(format!("expected one audit record with `{expected}`, got {added:?}")),
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

// ------------------------------------------------------------------ webhooks

fn webhook_request(case: &Case, signer: &EssSigner, other: &EssSigner) -> ApiGatewayV2httpRequest {
    let body = case.input();
    let mut request = ApiGatewayV2httpRequest::default();
    match case.get("encoding") {
        Some("base64") => {
            request.body = Some(BASE64.encode(&body));
            request.is_base64_encoded = true;
        }
        Some("as-is-base64") => {
            request.body = Some(String::from_utf8(body.clone()).unwrap());
            request.is_base64_encoded = true;
        }
        None => request.body = Some(String::from_utf8(body.clone()).expect("a text body")),
        Some(other) => panic!("{}: encoding `{other}`", case.label()),
    }
    let genuine = || signer.sign(&body);
    let signature: Option<HeaderValue> = match case.get("signature").unwrap_or("valid") {
        "none" => None,
        "valid" => Some(genuine().parse().unwrap()),
        "digest-salt" => Some(signer.with_salt_len(32).sign(&body).parse().unwrap()),
        "empty" => Some(HeaderValue::from_static("")),
        "zeros" => Some(BASE64.encode([0u8; 256]).parse().unwrap()),
        "other-key" => Some(other.sign(&body).parse().unwrap()),
        "other-body" => Some(signer.sign(b"{}").parse().unwrap()),
        "urlsafe" => Some(genuine().replace('+', "-").replace('/', "_").replace('=', "").parse().unwrap()),
        "truncated" => {
            let s = genuine();
            Some(s[..s.len() - 8].parse().unwrap())
        }
        "doubled" => Some(genuine().repeat(2).parse().unwrap()),
        "prefixed" => Some(format!("sha256={}", genuine()).parse().unwrap()),
        "control" => Some(format!("{}\t{}", &genuine()[..10], &genuine()[10..]).parse().unwrap()),
        "non-ascii" => Some(HeaderValue::from_bytes(b"\xff\xfe\xfd").unwrap()),
        "huge" => Some("A".repeat(60_000).parse().unwrap()),
        other => {
            if let Some(value) = other.strip_prefix("literal:") {
                Some(HeaderValue::from_str(value).unwrap())
            } else if let Some(text) = other.strip_prefix("signature-of:") {
                Some(signer.sign(text.as_bytes()).parse().unwrap())
            } else {
                panic!("{}: signature `{other}`", case.label())
            }
        }
    };
    if let Some(signature) = signature {
        request.headers.insert("concur-signature", signature);
    }
    if let Some(content_type) = case.get("content-type") {
        request.headers.insert("content-type", content_type.parse().unwrap());
    }
    request
}

#[tokio::test]
async fn corpus_webhooks_through_event_intake() {
    let started = Instant::now();
    let stack = TestStack::new().await;
    let erp = Some(ErpSettings::Infor(InforSettings::default()));
    let mut acme = Connection::new(ConnectionId::parse("acme").unwrap(), "Acme", erp, "2026-11-23T10:00:00Z");
    acme.company_uuid = Some(CompanyUuid::parse(COMPANY).unwrap());
    acme.status = ConnectionStatus::Active;
    acme.geolocation = Some("https://us.api.concursolutions.com".into());
    acme.concurrency_level = ConcurrencyLevel::new(3).unwrap();
    stack.connections("EventIntakeFunction").create(&acme).await.unwrap();
    let mut env = stack.provisioned.function_env("EventIntakeFunction").clone();
    env.insert("CONCUR_WEBHOOK_PUBLIC_KEY".into(), test_public_key_base64().into());
    let intake = Arc::new(event_intake::LiveIntake::from_env(&Env::from_map(env), &stack.aws()).unwrap());
    let signer = EssSigner::test_key();
    // A test-only key made for the corpus (see tests/corpus/README.md): a
    // well-formed signature that is not Concur's.
    let other_pem = std::fs::read_to_string(corpus_dir("webhook").join("test-only-other-key.pem")).unwrap();
    let other = EssSigner::from_pkcs8_pem(&other_pem).unwrap();

    let mut tally = Tally::new("webhook");
    for case in load("webhook") {
        let request = webhook_request(&case, &signer, &other);
        let before = snapshot(&stack).await;
        let intake = intake.clone();
        let result = guarded(async move { event_intake::handle(&intake, request).await }).await;
        let after = snapshot(&stack).await;
        let verdict = result.and_then(|response| {
            let text = integration::body_text(&response);
            if response.status_code != case.status() {
                return Err(format!("answered {} (expected {}): {text}", response.status_code, case.status()));
            }
            case.check_error(&text)?;
            unchanged(&before, &after, case.get("audit").unwrap_or("none"))
        });
        tally.record(&case, verdict);
    }
    tally.finish(started);
}

// ------------------------------------------------------------------ ION

fn ion_request(case: &Case, connection: &str) -> ApiGatewayV2httpRequest {
    let mut request = ApiGatewayV2httpRequest::default();
    let mut path =
        case.get("path").unwrap_or("/ion/{connection}/v3/multipartMessage").replace("{connection}", connection);
    request.request_context.http.method = case.get("method").unwrap_or("POST").parse().unwrap();
    let body = match case.get("form") {
        Some("ims") => ims_body(
            r#"{"documentName":"Acknowledge.SourceSystemJournalEntry","messageId":"m1","encoding":"NONE"}"#,
            &case.input(),
        ),
        Some("raw") => case.input(),
        other => panic!("{}: form {other:?}", case.label()),
    };
    let content_type = case.get("content-type").unwrap_or("multipart/form-data; boundary=B");
    if !content_type.is_empty() {
        request.headers.insert("content-type", content_type.parse().unwrap());
    }
    let authorization: Option<HeaderValue> = match case.get("token").unwrap_or("right") {
        "right" => Some(format!("Bearer {INFOR_INBOX_TOKEN}").parse().unwrap()),
        "none" => None,
        "wrong" => Some("Bearer not-the-token".parse().unwrap()),
        "empty" => Some("Bearer ".parse().unwrap()),
        "basic" => Some(format!("Basic {}", BASE64.encode(format!("ion:{INFOR_INBOX_TOKEN}"))).parse().unwrap()),
        "prefix" => Some(format!("Bearer {}", &INFOR_INBOX_TOKEN[..INFOR_INBOX_TOKEN.len() - 1]).parse().unwrap()),
        "longer" => Some(format!("Bearer {INFOR_INBOX_TOKEN}x").parse().unwrap()),
        "other-connection" => {
            path = path.replacen(connection, "nobody", 1);
            Some(format!("Bearer {INFOR_INBOX_TOKEN}").parse().unwrap())
        }
        "non-ascii" => Some(HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap()),
        other => panic!("{}: token `{other}`", case.label()),
    };
    if let Some(authorization) = authorization {
        request.headers.insert("authorization", authorization);
    }
    request.raw_path = Some(path);
    request.body = Some(BASE64.encode(&body));
    request.is_base64_encoded = true;
    request
}

#[tokio::test]
async fn corpus_ion_messages_through_ion_inbox() {
    let started = Instant::now();
    let world = PostingWorld::with_erp("acme-ion", ErpKind::Infor).await;
    let inbox =
        Arc::new(ion_inbox::Inbox::from_env(&world.stack.env_of("IonInboxFunction"), &world.stack.aws()).unwrap());
    let mut tally = Tally::new("ion");
    for case in load("ion") {
        let request = ion_request(&case, world.connection.as_str());
        let before = snapshot(&world.stack).await;
        let inbox = inbox.clone();
        let result = guarded(async move { ion_inbox::handle(&inbox, request).await }).await;
        let after = snapshot(&world.stack).await;
        let verdict = result.and_then(|response| {
            let text = integration::body_text(&response);
            if response.status_code != case.status() {
                return Err(format!("answered {} (expected {}): {text}", response.status_code, case.status()));
            }
            case.check_error(&text)?;
            unchanged(&before, &after, case.get("audit").unwrap_or("none"))
        });
        tally.record(&case, verdict);
    }
    tally.finish(started);
}

// ------------------------------------------------------------------ FI documents

fn mapping() -> domain::mapping::Mapping {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/mappings/fi-examples.yaml");
    domain::mapping::Mapping::from_yaml(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// normalize → plan, as the poster runs them; the ERP documents as JSON.
fn post_offline(doc_type: DocumentType, json: &[u8], mapping: &domain::mapping::Mapping) -> Result<Value, String> {
    let id = domain::ConcurDocumentId::parse("CORPUS1").unwrap();
    let text = std::str::from_utf8(json).map_err(|_| "not UTF-8".to_owned())?;
    let entry =
        domain::normalize_json(doc_type, &id, text, &domain::NormalizeOptions::default()).map_err(|e| e.to_string())?;
    let form = domain::FlowOptions::default().form_for(doc_type);
    let today = time::OffsetDateTime::now_utc().date();
    let plan = domain::posting::plan(mapping, &entry, form, today).map_err(|e| e.to_string())?;
    Ok(serde_json::to_value(&plan.documents).unwrap())
}

/// `connector preview` of the document in an FI document wrapper.
fn preview(doc_type: DocumentType, json: &[u8], mapping: &domain::mapping::Mapping) -> Result<Value, String> {
    let mut file = format!(r#"{{"id":"CORPUS1","docType":"{}","document":"#, fi_doc_type(doc_type)).into_bytes();
    file.extend_from_slice(json);
    file.push(b'}');
    operator::preview::preview(&file, Some(mapping), &domain::FlowOptions::default()).map_err(|e| e.to_string())
}

fn fi_doc_type(doc_type: DocumentType) -> &'static str {
    match doc_type {
        DocumentType::Expense => "expense",
        DocumentType::Invoice => "invoice",
        DocumentType::CashAdvance => "cashadvance",
    }
}

#[test]
fn corpus_fi_documents_through_normalize_plan_and_preview() {
    let started = Instant::now();
    let mapping = mapping();
    let cases = load("fi-document");
    let doc_type_of = |case: &Case| match case.get("type") {
        Some("expense") => DocumentType::Expense,
        Some("invoice") => DocumentType::Invoice,
        Some("cash_advance") => DocumentType::CashAdvance,
        other => panic!("{}: type {other:?}", case.label()),
    };
    // What each type's reference document posts: an `ignored` case must post the same.
    let bases: std::collections::HashMap<DocumentType, Value> = cases
        .iter()
        .filter(|c| c.get("outcome") == Some("base"))
        .map(|c| {
            let posted = post_offline(doc_type_of(c), &c.input(), &mapping);
            (doc_type_of(c), posted.unwrap_or_else(|e| panic!("{} must post: {e}", c.label())))
        })
        .collect();
    let mut tally = Tally::new("fi-document");
    for case in cases.iter().filter(|c| c.get("outcome") != Some("base")) {
        let doc_type = doc_type_of(case);
        let input = case.input();
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
            (post_offline(doc_type, &input, &mapping), preview(doc_type, &input, &mapping))
        }));
        let verdict = match ran {
            Err(payload) => Err(format!("PANIC: {}", panic_text(payload.as_ref()))),
            Ok((posted, previewed)) => judge_fi(case, posted, previewed, bases.get(&doc_type)),
        };
        tally.record(case, verdict);
    }
    tally.finish(started);
}

fn judge_fi(
    case: &Case,
    posted: Result<Value, String>,
    previewed: Result<Value, String>,
    base: Option<&Value>,
) -> Result<(), String> {
    let preview_refused = match &previewed {
        Err(_) => true,
        Ok(Value::Array(docs)) => docs.iter().all(|d| d.get("error").is_some()),
        Ok(_) => false,
    };
    match (case.get("outcome"), posted) {
        // A field the connector does not read: what is posted does not change.
        (Some("ignored"), Ok(documents)) if Some(&documents) == base && !preview_refused => Ok(()),
        (Some("ignored"), Ok(_)) => Err("an ignored field changed what would be posted".into()),
        (Some("ignored"), Err(e)) => Err(format!("refused a field that is not read: {e}")),
        // Posted, but nothing unbounded reaches the ERP.
        (Some("bounded"), Ok(documents)) if documents.to_string().len() < 16 * 1024 => Ok(()),
        (Some("bounded"), Ok(documents)) => Err(format!("{} bytes would be posted", documents.to_string().len())),
        (_, Ok(documents)) => Err(format!("accepted; it would post {}", cut(&documents.to_string()))),
        (_, Err(error)) => {
            case.check_error(&error)?;
            if preview_refused {
                Ok(())
            } else {
                Err(format!("preview accepted it: {}", cut(&format!("{previewed:?}"))))
            }
        }
    }
}

// ------------------------------------------------------------------ operator CLI files

/// A case's input in the temp directory, removed when dropped.
struct TempInput(PathBuf);

impl TempInput {
    fn new(case: &Case) -> Self {
        let path = std::env::temp_dir().join(format!("corpus-{}-{}-{}", std::process::id(), case.kind, case.name));
        std::fs::write(&path, case.input()).unwrap();
        Self(path)
    }
}

impl Drop for TempInput {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `connector` as `main` does, in its own task; (exit code, stderr + stdout).
async fn connector(stack: &TestStack, args: Vec<String>) -> Result<(i32, String), String> {
    let app_secret = format!("{}/concur-app", stack.stack_name());
    let mut full = vec![
        "connector".to_owned(),
        "--stack".into(),
        stack.stack_name().into(),
        "--concur-app-secret".into(),
        app_secret,
    ];
    full.extend(args);
    // `main_with` is not `Send` (it writes to `&mut dyn Write`): it gets a
    // thread and a runtime of its own, where a panic is still caught.
    let run = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = runtime.block_on(operator::main_with(full, &mut out, &mut err));
        (code, format!("{}{}", String::from_utf8_lossy(&err), String::from_utf8_lossy(&out)))
    });
    run.await.map_err(|e| match e.try_into_panic() {
        Ok(payload) => format!("PANIC: {}", panic_text(payload.as_ref())),
        Err(e) => format!("the task failed: {e}"),
    })
}

async fn replay_cli_kind(kind: &'static str, stack: &TestStack, args_for: impl Fn(&Case, &str) -> Vec<String>) {
    let started = Instant::now();
    let mut tally = Tally::new(kind);
    for case in load(kind) {
        let file = TempInput::new(&case);
        let before = snapshot(stack).await;
        let result = connector(stack, args_for(&case, file.0.to_str().unwrap())).await;
        let after = snapshot(stack).await;
        let verdict = result.and_then(|(code, text)| {
            if code != 2 {
                return Err(format!("exit code {code} (expected 2, refused): {}", cut(&text)));
            }
            case.check_error(&text)?;
            unchanged(&before, &after, "none")
        });
        tally.record(&case, verdict);
    }
    tally.finish(started);
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

#[tokio::test]
async fn corpus_mapping_files_through_mapping_import() {
    let stack = TestStack::new().await;
    let created = connector(&stack, strings(&["connections", "create", "acme", "--name", "Acme"])).await.unwrap();
    assert_eq!(created.0, 0, "{}", created.1);
    replay_cli_kind("mapping", &stack, |_, file| strings(&["mapping", "import", "acme", file])).await;
}

#[tokio::test]
async fn corpus_ionapi_files_through_connections_create() {
    let stack = TestStack::new().await;
    replay_cli_kind("ionapi", &stack, |_, file| {
        strings(&["connections", "create", "infor", "--name", "i", "--erp", "infor", "--erp-credentials-file", file])
    })
    .await;
}

#[tokio::test]
async fn corpus_credentials_files_through_connections_create() {
    let stack = TestStack::new().await;
    replay_cli_kind("credentials", &stack, |case, file| match case.get("erp") {
        Some("acumatica") => strings(&[
            "connections",
            "create",
            "acu",
            "--name",
            "a",
            "--erp",
            "acumatica",
            "--erp-url",
            "http://127.0.0.1:9",
            "--tenant",
            "Acme",
            "--erp-credentials-file",
            file,
        ]),
        Some("ifs_cloud") => strings(&[
            "connections",
            "create",
            "ifs",
            "--name",
            "i",
            "--erp",
            "ifs_cloud",
            "--erp-url",
            "http://127.0.0.1:9",
            "--namespace",
            "acme",
            "--ifs-company",
            "10",
            "--erp-credentials-file",
            file,
        ]),
        other => panic!("{}: erp {other:?}", case.label()),
    })
    .await;
}

// ------------------------------------------------------------------ ERP and Concur answers

/// What the answering server says next.
#[derive(Clone, Default)]
struct Answer {
    status: u16,
    content_type: String,
    headers: Vec<(String, String)>,
    body: axum::body::Bytes,
    /// Token requests get a good token; everything else gets this answer.
    good_tokens: bool,
}

const GOOD_TOKEN: &str = r#"{"access_token":"t0k3n","token_type":"Bearer","expires_in":3600,"refresh_token":"r","geolocation":"GEO","refresh_expires_in":1900000000}"#;

async fn answer(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<Answer>>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let answer = state.lock().unwrap().clone();
    let path = request.uri().path().to_owned();
    let host = request.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or_default().to_owned();
    let mut builder = axum::http::Response::builder();
    if answer.good_tokens && path.contains("token") {
        let token = GOOD_TOKEN.replace("GEO", &format!("http://{host}"));
        return builder.status(200).header("content-type", "application/json").body(token.into()).unwrap();
    }
    builder = builder.status(answer.status).header("content-type", answer.content_type);
    for (name, value) in &answer.headers {
        builder = builder.header(name, value);
    }
    builder.body(axum::body::Body::from(answer.body)).unwrap()
}

fn fast_http() -> HttpClient {
    let policy = RetryPolicy {
        max_attempts: 1,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        request_timeout: Duration::from_secs(10),
    };
    HttpClient::new(transport::build_client(Duration::from_secs(10)), policy)
}

/// One call of a real client against `base`; `Ok` text when it accepted the answer.
async fn call(service: &str, call: &str, base: &str) -> Result<String, String> {
    let http = fast_http();
    let url = |b: &str| ErpUrl::parse_with(b, UrlPolicy::AllowLoopbackHttp).unwrap();
    match service {
        "concur" => {
            let client = concur::ConcurClient::new(http);
            let token = concur::AccessToken {
                value: Secret::new("t0k3n"),
                geolocation: base.to_owned(),
                expires_at: std::time::Instant::now() + Duration::from_secs(3600),
            };
            let doc_type = DocumentType::Expense;
            let show = |r: Result<String, concur::ConcurError>| r.map_err(|e| e.to_string());
            match call {
                "token" => {
                    let app = concur::AppCredentials {
                        client_id: "c".into(),
                        client_secret: Secret::new("s"),
                        app_base_url: base.to_owned(),
                    };
                    show(
                        client
                            .refresh(&app, base, &Secret::new("r"))
                            .await
                            .map(|t| format!("token for {}", t.geolocation)),
                    )
                }
                "fi-page" => show(
                    client.fi_ready_page(&token, doc_type, 0).await.map(|p| format!("{} documents", p.documents.len())),
                ),
                "fi-document" => show(
                    client
                        .fi_document(&token, doc_type, "F071FADEA6B142DD884A", true)
                        .await
                        .map(|d| format!("{:?}", d.map(|d| d.id))),
                ),
                "acknowledge" => {
                    let items = [concur::fi_posting::AckItem {
                        doc_id: "f7a675d035bc44419cc0df2389c5b10c".into(),
                        system_id: None,
                    }];
                    let results = client.acknowledge(&token, doc_type, &items).await.map_err(|e| e.to_string())?;
                    // A result that is not an acknowledgement is the error here.
                    match results.iter().find(|r| !r.is_done()) {
                        Some(r) => Err(r.describe()),
                        None => Ok(format!("{} acknowledged", results.len())),
                    }
                }
                "confirm" => {
                    let confirmations = [concur::fi_posting::PostingConfirmation {
                        doc_id: "f7a675d035bc44419cc0df2389c5b10c".into(),
                        system_id: None,
                        outcome: concur::fi_posting::PostingOutcome::Failed { reason: "corpus".into() },
                    }];
                    let results =
                        client.confirm_posting(&token, doc_type, &confirmations).await.map_err(|e| e.to_string())?;
                    match results.iter().find(|r| !r.is_done()) {
                        Some(r) => Err(r.describe()),
                        None => Ok(format!("{} confirmed", results.len())),
                    }
                }
                "profile" => show(client.company_profile(&token).await.map(|p| format!("{p:?}"))),
                other => panic!("concur call {other}"),
            }
        }
        "acumatica" => {
            let settings = domain::AcumaticaSettings {
                base_url: url(base),
                tenant: "Acme".into(),
                endpoint_name: "Default".into(),
                endpoint_version: "24.200.001".into(),
                branch: None,
            };
            let credentials = serde_json::from_value(serde_json::json!({
                "client_id": "G", "client_secret": "s", "username": "u", "password": "p"
            }))
            .unwrap();
            let client = erp::acumatica::AcumaticaClient::new(http, settings, credentials);
            let result = match call {
                "token" => client.authenticate().await.map(|()| "signed in".to_owned()),
                "read" => client.check_access().await.map(|()| "read".to_owned()),
                "lookup" => client.find_bill_by_vendor_ref("V100", "CORPUS1").await.map(|r| format!("{r:?}")),
                other => panic!("acumatica call {other}"),
            };
            result.map_err(|e| e.to_string())
        }
        "ifs" => {
            let settings = domain::IfsCloudSettings {
                base_url: url(base),
                namespace: "acme".into(),
                company: "10".into(),
                api: Default::default(),
            };
            let credentials =
                serde_json::from_value(serde_json::json!({"client_id": "c", "client_secret": "s"})).unwrap();
            let client = erp::ifs::IfsClient::new(http, settings, credentials).map_err(|e| e.to_string())?;
            let result = match call {
                "token" => client.authenticate().await.map(|()| "signed in".to_owned()),
                "read" => client.check_access().await.map(|()| "read".to_owned()),
                "lookup" => client.find_voucher("CORPUS1").await.map(|r| format!("{r:?}")),
                other => panic!("ifs call {other}"),
            };
            result.map_err(|e| e.to_string())
        }
        "infor" => {
            let ionapi = erp::infor::IonApi::from_value(&serde_json::json!({
                "ti": "ACME_TST", "cn": "c", "ci": "ACME_TST~q", "cs": "s", "iu": base,
                "pu": format!("{base}/ACME_TST/as/"), "oa": "authorization.oauth2", "ot": "token.oauth2",
                "or": "revoke_token.oauth2", "saak": "ACME_TST#a", "sask": "b"
            }))
            .unwrap();
            let settings = InforSettings {
                logical_id: Some("lid://infor.ims.concurconnector".into()),
                accounting_entity: Some("1000".into()),
                ..Default::default()
            };
            let client = erp::infor::InforClient::new(http, settings, ionapi);
            let result = match call {
                "token" => client.authenticate().await.map(|()| "signed in".to_owned()),
                "ping" => client.ping().await.map(|()| "pinged".to_owned()),
                other => panic!("infor call {other}"),
            };
            result.map_err(|e| e.to_string())
        }
        other => panic!("service {other}"),
    }
}

#[tokio::test]
async fn corpus_erp_and_concur_answers_through_the_real_clients() {
    let started = Instant::now();
    let state = Arc::new(Mutex::new(Answer::default()));
    let router = axum::Router::new().fallback(answer).with_state(state.clone());
    let server = simulators::spawn(router, 0).await.unwrap();
    let base = server.base_url();
    let mut tally = Tally::new("response");
    for case in load("response") {
        let (service, call_name) = (case.get("service").unwrap().to_owned(), case.get("call").unwrap().to_owned());
        *state.lock().unwrap() = Answer {
            status: u16::try_from(case.status()).unwrap(),
            content_type: case.get("content-type").unwrap_or("application/json").to_owned(),
            headers: case
                .header
                .iter()
                .filter(|(k, _)| k == "header")
                .filter_map(|(_, v)| v.split_once(": ").map(|(n, v)| (n.to_owned(), v.to_owned())))
                .collect(),
            body: case.input().into(),
            good_tokens: call_name != "token",
        };
        let base = base.clone();
        let result = guarded(async move { call(&service, &call_name, &base).await }).await;
        let verdict = result.and_then(|outcome| match outcome {
            Ok(accepted) => Err(format!("accepted the answer: {}", cut(&accepted))),
            Err(error) => case.check_error(&error),
        });
        tally.record(&case, verdict);
    }
    tally.finish(started);
}
