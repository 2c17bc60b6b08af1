//! What one document costs in calls, counted on the real pipeline: every AWS call of event-intake, the
//! scheduled poller and the poster (an SDK interceptor on their clients, `platform::aws_calls`) and every
//! request the Concur and ERP simulators saw, while the 15 official examples go from READY in Concur to posted
//! and confirmed, webhook-driven and poll-driven, into Acumatica and IFS Cloud. Issue 16's budget on the happy
//! path: at most 4 DynamoDB write calls and 3 Concur calls per document, and no Secrets Manager read per
//! document (reads are per container, cached).
//!
//! Measured warm: a first document goes through alone (the functions' init reads, the Concur token), then the
//! counters start for the other examples. Not counted: the SQS receives and deletes of the Lambda event source
//! mapping (the test drives the queue as it does); token requests are counted apart.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use concur::fi::DocumentPage;
use domain::{DocumentType, ErpKind, WorkSource};
use erp_poster::Poster;
use event_intake::LiveIntake;
use integration::body_text;
use integration::posting::{COMPANY, POSTER, PostingWorld, consume_queue, example_files, test_options};
use platform::Env;
use platform::aws_calls::AwsCalls;
use scheduled_poller::{Poller, PollerOptions};
use simulators::concur::webhook::{EssSigner, ExpenseStatusChanged, test_public_key_base64};
use time::OffsetDateTime;

const INTAKE: &str = "EventIntakeFunction";
const POLLER: &str = "ScheduledPollerFunction";

/// What a run cost, in total.
#[derive(Debug)]
struct Cost {
    documents: usize,
    aws: BTreeMap<(String, String), u64>,
    dynamodb_writes: u64,
    secret_reads: u64,
    concur: BTreeMap<String, u64>,
    concur_tokens: u64,
    erp: usize,
    /// A poll tick's own DynamoDB writes and Concur calls, measured on a tick that finds nothing.
    tick: Option<(u64, u64)>,
}

impl Cost {
    fn per_document(&self, n: u64) -> f64 {
        n as f64 / self.documents as f64
    }

    fn concur_calls(&self) -> u64 {
        self.concur.values().sum()
    }
}

/// Concur requests by method and path shape (ids replaced), tokens apart.
fn concur_calls(world: &PostingWorld, before: usize) -> (BTreeMap<String, u64>, u64) {
    let mut calls = BTreeMap::new();
    let mut tokens = 0;
    for request in world.concur.requests().into_iter().skip(before) {
        if request.path.starts_with("/oauth2/") {
            tokens += 1;
            continue;
        }
        let shape: Vec<&str> = request
            .path
            .split('/')
            .map(|part| if part.len() > 16 || part.chars().any(|c| c.is_ascii_digit()) { "{id}" } else { part })
            .collect();
        *calls.entry(format!("{} {}", request.method, shape.join("/"))).or_default() += 1;
    }
    (calls, tokens)
}

fn erp_requests(world: &PostingWorld) -> usize {
    match world.erp_kind() {
        ErpKind::Acumatica => world.acumatica().faults().requests().len(),
        ErpKind::IfsCloud => world.ifs().requests().len(),
        ErpKind::Infor => world.infor().requests().len(),
    }
}

fn intake_env(world: &PostingWorld) -> Env {
    let mut env = world.stack.provisioned.function_env(INTAKE).clone();
    env.insert("CONCUR_WEBHOOK_PUBLIC_KEY".into(), test_public_key_base64().into());
    Env::from_map(env)
}

/// Each function's AWS calls, counted apart so that each can be held to what its role allows.
#[derive(Default)]
struct Counted {
    intake: AwsCalls,
    poller: AwsCalls,
    poster: AwsCalls,
}

impl Counted {
    fn each(&self) -> [(&'static str, &AwsCalls); 3] {
        [(INTAKE, &self.intake), (POLLER, &self.poller), (POSTER, &self.poster)]
    }

    fn reset(&self) {
        self.each().iter().for_each(|(_, calls)| calls.reset());
    }

    /// All three functions' calls by (service, operation).
    fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        let mut all = BTreeMap::new();
        for (_, calls) in self.each() {
            for (call, n) in calls.snapshot() {
                *all.entry(call).or_default() += n;
            }
        }
        all
    }

    fn dynamodb_writes(&self) -> u64 {
        self.each().iter().map(|(_, calls)| calls.dynamodb_writes()).sum()
    }

    fn count(&self, service: &str, operations: &[&str]) -> u64 {
        self.each().iter().map(|(_, calls)| calls.count(service, operations)).sum()
    }

    /// Every call a function made is an action its role in infra/template.yaml allows.
    fn assert_allowed_by_the_template(&self) {
        assert!(!self.snapshot().is_empty(), "no AWS call was counted: the check would prove nothing");
        for (function, calls) in self.each() {
            integration::assert_allowed_by_the_template(function, calls);
        }
    }
}

/// The functions of one deployment, each a warm container after its first run.
struct Functions {
    intake: LiveIntake,
    poller: Poller<platform::concur_grants::ConcurGrantStore>,
    poster: Poster<platform::concur_grants::ConcurGrantStore>,
}

/// Makes `files` READY in Concur, brings their documents in (`source`) and drains the queue into the poster;
/// the number of documents posted.
async fn bring_in(
    world: &PostingWorld,
    functions: &Functions,
    files: &[PathBuf],
    source: WorkSource,
    first_tick: bool,
) -> usize {
    let mut items = BTreeMap::new(); // (type, id) → (): one per document
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        world.concur.load_fi_example(COMPANY, &text).unwrap();
        let page = DocumentPage::parse(text.as_bytes()).unwrap();
        let document = &page.documents[0];
        let (id, _) = document.work_id().unwrap();
        let doc_type: DocumentType = document.doc_type.parse().unwrap();
        items.insert((doc_type, id.to_string()), ());
    }
    let sent = match source {
        WorkSource::Webhook => {
            // ESS sends expense report events; the other documents come with the poll.
            let signer = EssSigner::test_key();
            let reports: Vec<_> = items.keys().filter(|(doc_type, _)| *doc_type == DocumentType::Expense).collect();
            for (_, report) in &reports {
                let (body, signature) = ExpenseStatusChanged::approved(COMPANY, report).signed(&signer);
                let mut request = aws_lambda_events::apigw::ApiGatewayV2httpRequest::default();
                request.body = Some(String::from_utf8(body).unwrap());
                request.headers.insert("concur-signature", signature.parse().unwrap());
                let response = event_intake::handle(&functions.intake, request).await;
                assert_eq!(response.status_code, 202, "{}", body_text(&response));
            }
            reports.len()
        }
        _ => {
            let deadline = Instant::now() + Duration::from_secs(300);
            // The second tick comes when the connection's poll is due again.
            let at =
                OffsetDateTime::now_utc() + if first_tick { Duration::ZERO } else { Duration::from_secs(3 * 3600) };
            scheduled_poller::handle(&functions.poller, at, deadline).await.unwrap();
            items.len()
        }
    };
    let consumed = consume_queue(&world.stack, &functions.poster, &world.stack.work_queue_url(POSTER)).await.unwrap();
    let outcome = &consumed.outcome;
    assert_eq!(outcome.done, consumed.messages, "{source:?}: every message done: {outcome:?}");
    // The first tick also queues the connection's reference sync (once a period).
    let extra = if first_tick { outcome.done.saturating_sub(sent) } else { 0 };
    assert_eq!(outcome.done - extra, sent, "{source:?}: every document posted, once: {outcome:?}");
    sent
}

/// The cost of bringing the examples in through `source`, after a first document has warmed the functions
/// (their init reads, the Concur token): the steady state of a deployment that is running.
async fn run(kind: ErpKind, source: WorkSource) -> Cost {
    let world = PostingWorld::with_erp("calls", kind).await;
    let calls = Counted::default();
    let aws = |calls: &AwsCalls| world.stack.aws().counting(calls);
    let functions = Functions {
        intake: LiveIntake::from_env(&intake_env(&world), &aws(&calls.intake)).unwrap(),
        poller: Poller::from_env(&world.stack.env_of(POLLER), &aws(&calls.poller), PollerOptions::default())
            .await
            .unwrap(),
        poster: Poster::from_env(&world.stack.env_of(POSTER), &aws(&calls.poster), test_options()).await.unwrap(),
    };
    // The first expense report alone warms the containers; the other documents are measured (a second file
    // of the same report would be a duplicate delivery, not the happy path).
    let report =
        |file: &PathBuf| file.file_name().unwrap().to_string_lossy().split("-Example").next().unwrap().to_owned();
    let files = example_files();
    let first = files.iter().find(|f| report(f).contains("ReportID")).unwrap().clone();
    let warm: Vec<PathBuf> = files.into_iter().filter(|f| report(f) != report(&first)).collect();
    bring_in(&world, &functions, &[first], source, true).await;
    println!("{kind:?}, {source:?}-driven, the first document, cold: {:?}", calls.snapshot());
    calls.assert_allowed_by_the_template();

    calls.reset();
    let concur_before = world.concur.requests().len();
    let erp_before = erp_requests(&world);
    let documents = bring_in(&world, &functions, &warm, source, false).await;
    calls.assert_allowed_by_the_template();
    let (concur, concur_tokens) = concur_calls(&world, concur_before);
    let measured = Cost {
        documents,
        aws: calls.snapshot(),
        dynamodb_writes: calls.dynamodb_writes(),
        secret_reads: calls.count("Secrets Manager", &[]),
        concur,
        concur_tokens,
        erp: erp_requests(&world) - erp_before,
        tick: None,
    };
    if source != WorkSource::Poll {
        return measured;
    }
    // What a poll costs whatever it finds (the pages read, the poll recorded): a tick that finds nothing.
    calls.reset();
    let concur_before = world.concur.requests().len();
    let at = OffsetDateTime::now_utc() + Duration::from_secs(6 * 3600);
    scheduled_poller::handle(&functions.poller, at, Instant::now() + Duration::from_secs(300)).await.unwrap();
    let (empty, _) = concur_calls(&world, concur_before);
    calls.assert_allowed_by_the_template();
    Cost { tick: Some((calls.dynamodb_writes(), empty.values().sum())), ..measured }
}

fn report(kind: ErpKind, source: WorkSource, cost: &Cost) {
    println!(
        "{kind:?}, {source:?}-driven, {} documents: {:.2} DynamoDB writes, {:.2} Concur calls (+{} token requests), \
         {:.2} ERP calls, {:.2} Secrets Manager reads per document",
        cost.documents,
        cost.per_document(cost.dynamodb_writes),
        cost.per_document(cost.concur_calls()),
        cost.concur_tokens,
        cost.per_document(cost.erp as u64),
        cost.per_document(cost.secret_reads),
    );
    for ((service, operation), n) in &cost.aws {
        println!("  {service:<16} {operation:<20} {n:>4}  ({:.2} / document)", cost.per_document(*n));
    }
    for (call, n) in &cost.concur {
        println!("  Concur           {call:<60} {n:>4}");
    }
    if let Some((writes, concur)) = cost.tick {
        println!(
            "  of which the poll tick's own (a tick that finds nothing costs the same): {writes} DynamoDB writes, \
             {concur} Concur calls; per document beyond it: {:.2} writes, {:.2} Concur calls",
            cost.per_document(cost.dynamodb_writes - writes),
            cost.per_document(cost.concur_calls() - concur),
        );
    }
}

async fn holds_the_budget(kind: ErpKind, source: WorkSource) {
    let cost = run(kind, source).await;
    report(kind, source, &cost);
    let documents = cost.documents as u64;
    // A poll's own reads and records are per connection and schedule, not per document: a tick that finds
    // nothing costs them too.
    let (tick_writes, tick_concur) = cost.tick.unwrap_or_default();
    assert!(
        cost.dynamodb_writes - tick_writes <= 4 * documents,
        "{kind:?} {source:?}: at most 4 DynamoDB writes a document: {cost:?}"
    );
    assert!(
        cost.concur_calls() - tick_concur <= 3 * documents,
        "{kind:?} {source:?}: at most 3 Concur calls a document: {cost:?}"
    );
    assert!(tick_writes <= 4 && tick_concur <= 3, "{kind:?}: a tick costs a few calls a connection: {cost:?}");
    // Warm containers read no secret (they keep them five minutes).
    assert_eq!(cost.secret_reads, 0, "{kind:?} {source:?}: no Secrets Manager read per document: {cost:?}");
}

#[tokio::test]
async fn acumatica_poll_driven_stays_within_the_call_budget() {
    holds_the_budget(ErpKind::Acumatica, WorkSource::Poll).await;
}

#[tokio::test]
async fn acumatica_webhook_driven_stays_within_the_call_budget() {
    holds_the_budget(ErpKind::Acumatica, WorkSource::Webhook).await;
}

#[tokio::test]
async fn ifs_poll_driven_stays_within_the_call_budget() {
    holds_the_budget(ErpKind::IfsCloud, WorkSource::Poll).await;
}

#[tokio::test]
async fn ifs_webhook_driven_stays_within_the_call_budget() {
    holds_the_budget(ErpKind::IfsCloud, WorkSource::Webhook).await;
}

/// A cold start makes no AWS call at all: the Concur app secret is read by the first token refresh, the
/// connections' secrets when a document needs them (docs/performance.md, cold starts).
#[tokio::test]
async fn a_cold_start_makes_no_aws_call() {
    let world = PostingWorld::with_erp("cold", ErpKind::Acumatica).await;
    let calls = AwsCalls::new();
    let aws = world.stack.aws().counting(&calls);
    LiveIntake::from_env(&intake_env(&world), &aws).unwrap();
    Poller::from_env(&world.stack.env_of(POLLER), &aws, PollerOptions::default()).await.unwrap();
    Poster::from_env(&world.stack.env_of(POSTER), &aws, test_options()).await.unwrap();
    file_intake::FileIntake::from_env(&world.stack.env_of("FileIntakeFunction"), &aws, Default::default())
        .await
        .unwrap();
    assert!(calls.snapshot().is_empty(), "{:?}", calls.snapshot());
}
