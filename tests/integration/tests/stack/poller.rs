//! The scheduled poller against moto (the template's tables, queue and
//! secrets) and the strict Concur simulator served as two datacenters:
//! every READY document of every page is queued exactly once, a tenant's
//! failure stays that tenant's, and a tick stops cleanly at its deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::MessageSystemAttributeName;
use axum::{
    Router,
    extract::Request,
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use concur::{AppCredentials, ConcurClient, GrantStore, StoredGrant};
use domain::{
    AcumaticaSettings, CompanyUuid, ConcurrencyLevel, Connection, ConnectionId, ConnectionStatus, DocumentType,
    ErpSettings, ErpUrl, MessageGroupId, PollSchedule, Secret, WorkItem, WorkSource,
};
use integration::TestStack;
use platform::concur_grants::ConcurGrantStore;
use scheduled_poller::{PollOutcome, Poller, PollerOptions, TickReport};
use serde_json::{Value, json};
use simulators::RunningSimulator;
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim, DocStatus};
use simulators::faults::FaultSpec;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use transport::{HttpClient, RetryPolicy};

const POLLER: &str = "ScheduledPollerFunction";
const CLIENT_ID: &str = "6b4b4c4e-1d2a-4f51-9a55-0c1f7b7f3a01";
const CLIENT_SECRET: &str = "0f5d8f2e-8c3b-4a6e-b0a1-3e2f6c9d7b02";
const ACME: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";
const EURO: &str = "2fbfd79f-90e7-4f2a-b950-680a107c9f93";
const GONE: &str = "5d0c1a47-3b8e-4f0e-9c61-7a2b9e4d8f10";
const FI_PATH: &str = "/financialintegration/fi/v4/companies/transactiontypes";

/// Datacenters whose FI API answers 500 to everything (an outage there).
type Outages = Arc<Mutex<BTreeSet<&'static str>>>;

/// The Concur simulator (us + emea), a fresh stack whose app secret points
/// at `us`, and the connections' grants from real Quick Connect exchanges.
struct World {
    sim: ConcurSim,
    outages: Outages,
    _us: RunningSimulator,
    _emea: RunningSimulator,
    stack: TestStack,
    app: AppCredentials,
}

fn with_outages(router: Router, datacenter: &'static str, outages: Outages) -> Router {
    router.layer(middleware::from_fn(move |request: Request, next: Next| {
        let outages = outages.clone();
        async move {
            let down = outages.lock().unwrap().contains(datacenter);
            if down && request.uri().path().starts_with("/financialintegration") {
                let body = json!({"status": 500, "error": "Internal Server Error", "message": "FI is down"});
                return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
            }
            let response: Response = next.run(request).await;
            response
        }
    }))
}

impl World {
    async fn new() -> Self {
        let sim = ConcurSim::new(ConcurApp::new(CLIENT_ID, CLIENT_SECRET));
        let outages = Outages::default();
        let us = simulators::spawn(with_outages(sim.router("us"), "us", outages.clone()), 0).await.unwrap();
        let emea = simulators::spawn(with_outages(sim.router("emea"), "emea", outages.clone()), 0).await.unwrap();
        sim.set_datacenter_url("us", &us.base_url());
        sim.set_datacenter_url("emea", &emea.base_url());
        for (uuid, name, datacenter) in
            [(ACME, "Acme Corp", "us"), (EURO, "Euro GmbH", "emea"), (GONE, "Gone Inc", "us")]
        {
            sim.add_company(CompanySpec {
                uuid: uuid.into(),
                name: name.into(),
                datacenter: datacenter.into(),
                marketing_name: "CTE".into(),
            });
        }
        let stack = TestStack::with_concur_app(CLIENT_ID, CLIENT_SECRET, &us.base_url()).await;
        let app_secret_id = stack.env_of(POLLER).required("CONCUR_APP_SECRET_ID").unwrap();
        let app: AppCredentials = stack.secrets().get_json(&app_secret_id).await.unwrap().unwrap();
        Self { sim, outages, _us: us, _emea: emea, stack, app }
    }

    fn grants(&self) -> ConcurGrantStore {
        self.stack.grant_store(POLLER)
    }

    /// An active connection with an ERP, four slots and all document types,
    /// whose grant comes from a real Quick Connect exchange.
    async fn connect(&self, id: &str, company: &str) -> ConnectionId {
        let connection = ConnectionId::parse(id).unwrap();
        let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
        let erp = ErpSettings::Acumatica(AcumaticaSettings {
            base_url: ErpUrl::parse("https://acme.acumatica.com").unwrap(),
            tenant: "Acme".into(),
            endpoint_name: "Default".into(),
            endpoint_version: "24.200.001".into(),
            branch: None,
        });
        let mut settings = Connection::new(connection.clone(), format!("{id} corp"), Some(erp), &now);
        let company_uuid = CompanyUuid::parse(company).unwrap();
        settings.company_uuid = Some(company_uuid.clone());
        settings.status = ConnectionStatus::Active;
        settings.concurrency_level = ConcurrencyLevel::new(4).unwrap();
        let request_token = Secret::new(self.sim.issue_request_token(company));
        let token = client().exchange_request_token(&self.app, &company_uuid, &request_token).await.unwrap();
        settings.geolocation = Some(token.geolocation.clone());
        self.stack.connections(POLLER).create(&settings).await.unwrap();
        self.grants().save(&connection, &StoredGrant::from_token(&token).unwrap()).await.unwrap();
        connection
    }

    /// A poller as a fresh Lambda container builds it (no token cached).
    async fn poller(&self) -> Poller<ConcurGrantStore> {
        let options = PollerOptions {
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_secs(2),
                request_timeout: Duration::from_secs(10),
            },
            ..PollerOptions::default()
        };
        Poller::from_env(&self.stack.env_of(POLLER), &self.stack.aws(), options).await.unwrap()
    }

    async fn settings(&self, connection: &ConnectionId) -> Connection {
        self.stack.connections(POLLER).get(connection).await.unwrap().unwrap()
    }

    /// The connection's poll audit events: (outcome, detail).
    async fn poll_events(&self, connection: &ConnectionId) -> Vec<(String, String)> {
        let history = self.stack.audit(POLLER).history(&format!("{connection}#connection")).await.unwrap();
        history
            .into_iter()
            .filter(|e| e.step == "poll")
            .inspect(|e| assert_eq!(e.function, "scheduled-poller"))
            .map(|e| (e.outcome, e.detail.unwrap_or_default()))
            .collect()
    }

    /// FI GETs the simulator served so far: (path, query, status).
    fn fi_requests(&self) -> Vec<(String, String, u16)> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path.starts_with(FI_PATH))
            .map(|r| (r.path, r.query.unwrap_or_default(), r.status))
            .collect()
    }

    /// Receives and deletes every message on the work queue: the work
    /// items (the reference syncs a tick queues are left out; see
    /// [`Self::drain_syncs`]).
    async fn drain(&self) -> Vec<Received> {
        let work = self.drain_all().await.into_iter().filter(|(body, _)| body["kind"] != "reference_sync");
        work.map(|(body, group)| Received { item: WorkItem::from_json(&body.to_string()).unwrap(), body, group })
            .collect()
    }

    /// The reference sync requests on the work queue (drains it).
    async fn drain_syncs(&self) -> Vec<Value> {
        let all = self.drain_all().await.into_iter();
        all.filter(|(body, _)| body["kind"] == "reference_sync").map(|(body, _)| body).collect()
    }

    /// Every message's body and group.
    async fn drain_all(&self) -> Vec<(Value, String)> {
        let url = self.stack.work_queue_url(POLLER);
        let sqs = self.stack.sqs();
        let mut received = Vec::new();
        for _ in 0..200 {
            let out = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return received;
            }
            for m in messages {
                let attributes = m.attributes.clone().unwrap_or_default();
                let body: Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
                received.push((body, attributes[&MessageSystemAttributeName::MessageGroupId].clone()));
                sqs.delete_message().queue_url(&url).receipt_handle(m.receipt_handle.unwrap()).send().await.unwrap();
            }
        }
        panic!("the work queue never ran dry");
    }
}

struct Received {
    item: WorkItem,
    body: Value,
    group: String,
}

fn client() -> ConcurClient {
    let policy = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        request_timeout: Duration::from_secs(10),
    };
    ConcurClient::new(HttpClient::new(transport::build_client(policy.request_timeout), policy))
}

/// A tick time well inside a 15-minute slot: 12:01 UTC today.
fn noon() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_time(time::macros::time!(12:01))
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(120)
}

fn stamp(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0).unwrap().format(&Rfc3339).unwrap()
}

/// Queues `n` generated READY expense reports; returns their report ids.
fn add_expenses(sim: &ConcurSim, company: &str, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let report_id = format!("{prefix}{i:0width$}", width = 20 - prefix.len());
            let fi_id = uuid_like(&report_id);
            let document = json!({
                "employee": {"employeeId": "EMP0001"},
                "report": {"reportId": report_id, "reportName": format!("Trip {i}"), "employeeCurrencyAlphaCode": "USD"},
                "expenseEntry": [],
            });
            sim.add_fi_document(company, "expense", &fi_id, document);
            report_id
        })
        .collect()
}

/// A 32-character hex FI id derived from a business id (distinct from it).
fn uuid_like(seed: &str) -> String {
    let hash = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{hash:016x}{:016x}", hash.rotate_left(17))
}

/// Loads the official FI examples; returns (doc type, business id from the file name) of each.
fn load_examples(sim: &ConcurSim, company: &str) -> BTreeSet<(DocumentType, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/fi-examples");
    let mut expected = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        sim.load_fi_example(company, &std::fs::read_to_string(&path).unwrap()).unwrap();
        let (doc_type, rest) = match name.strip_prefix("FI-API-ReportID-") {
            Some(rest) => (DocumentType::Expense, rest),
            None => (DocumentType::CashAdvance, name.strip_prefix("FI-API-CashAdvanceID-").unwrap()),
        };
        expected.insert((doc_type, rest.split("-Example").next().unwrap().to_owned()));
    }
    expected
}

fn keys(received: &[Received]) -> BTreeSet<(DocumentType, String)> {
    received.iter().map(|r| (r.item.document_type, r.item.document_id.to_string())).collect()
}

fn assert_completed(report: &TickReport, connection: &str, queued: usize) {
    let poll = report.poll_of(connection).unwrap_or_else(|| panic!("{connection} was not polled: {report:?}"));
    assert_eq!((&poll.outcome, poll.queued()), (&PollOutcome::Completed, queued), "{report:?}");
}

#[tokio::test]
async fn every_ready_document_of_every_page_is_queued_once_despite_a_429() {
    let world = World::new().await;
    let acme = world.connect("acme", ACME).await;

    let mut expected = load_examples(&world.sim, ACME);
    for id in add_expenses(&world.sim, ACME, "RPT", 40) {
        expected.insert((DocumentType::Expense, id));
    }
    // An invoice (keyed by requestId), and an expense without a reportId
    // (keyed by its FI id, the fallback).
    world.sim.add_fi_document(ACME, "invoice", &uuid_like("inv"), json!({"requestHeader": {"requestId": "INV0001"}}));
    expected.insert((DocumentType::Invoice, "INV0001".into()));
    let orphan = uuid_like("orphan");
    world.sim.add_fi_document(ACME, "expense", &orphan, json!({"report": {"reportName": "no id"}}));
    expected.insert((DocumentType::Expense, orphan));
    // Not READY any more (another system acknowledged it): not listed, not queued.
    let acked = add_expenses(&world.sim, ACME, "ACK", 1).remove(0);
    assert!(world.sim.set_document_status(ACME, &uuid_like(&acked), DocStatus::Acknowledged));
    // 11 distinct example reports + 40 + the orphan = 52 READY expenses: pages 0, 1, 2.
    assert_eq!(expected.iter().filter(|(t, _)| *t == DocumentType::Expense).count(), 52);

    // Concur throttles the second expense page once.
    let throttle = FaultSpec::from_json(
        br#"{"kind":"too_many_requests","retry_after_seconds":1,"count":1,"fraction":0.5,
             "path_prefix":"/financialintegration/fi/v4/companies/transactiontypes/expense"}"#,
    )
    .unwrap();
    world.sim.faults().inject(throttle).unwrap();

    let poller = world.poller().await;
    let now = noon();
    let report = scheduled_poller::handle(&poller, now, far()).await.unwrap();
    assert_eq!(report.due, ["acme"]);
    assert_completed(&report, "acme", expected.len());
    assert_eq!(report.poll_of("acme").unwrap().read, 52 + 1 + 2, "two example files repeat an FI document");

    let requests = world.fi_requests();
    let expense = |query: &str| format!("{FI_PATH}/expense/transactions?{query}");
    assert_eq!(
        requests.iter().map(|(p, q, s)| (format!("{p}?{q}"), *s)).collect::<Vec<_>>(),
        [
            (expense("limit=25&page=0"), 200),
            (expense("limit=25&page=1"), 429),
            (expense("limit=25&page=1"), 200),
            (expense("limit=25&page=2"), 200),
            (format!("{FI_PATH}/invoice/transactions?limit=25&page=0"), 200),
            (format!("{FI_PATH}/cashadvance/transactions?limit=25&page=0"), 200),
        ]
    );

    let received = world.drain().await;
    assert_eq!(received.len(), expected.len(), "each document exactly once");
    assert_eq!(keys(&received), expected);
    let level = ConcurrencyLevel::new(4).unwrap();
    let mut slots = BTreeSet::new();
    for r in &received {
        assert_eq!(r.group, MessageGroupId::for_document(&acme, level, &r.item.document_key()).as_str());
        slots.insert(r.group.clone());
        assert_eq!((r.body["v"].as_u64(), r.body["source"].as_str()), (Some(1), Some("poll")), "{}", r.body);
        assert_eq!((r.item.source, &r.item.connection_id), (WorkSource::Poll, &acme));
        assert_eq!(r.item.received_at, stamp(now));
    }
    assert_eq!(slots.len(), 4, "spread over the connection's four slots: {slots:?}");
    // Nothing was acknowledged: the poster does that.
    assert_eq!(world.sim.document_status(ACME, &uuid_like("RPT00000000000000000")), Some(DocStatus::Ready));

    let settings = world.settings(&acme).await;
    assert_eq!(settings.last_poll_at, Some(stamp(now)));
    assert_eq!((settings.last_poll_error, settings.status), (None, ConnectionStatus::Active));
    let events = world.poll_events(&acme).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "ok");
    assert!(events[0].1.contains("expense 52, invoice 1, cashadvance 2") && events[0].1.contains("queued 55"));

    // A minute later the 15-minute schedule is not due: nothing is read or queued.
    let later = scheduled_poller::handle(&poller, now + Duration::from_secs(60), far()).await.unwrap();
    assert_eq!((later.due.len(), later.polls.len(), later.not_due.clone()), (0, 0, vec!["acme".to_owned()]));
    assert_eq!(world.fi_requests().len(), requests.len());
    assert!(world.drain().await.is_empty());
    assert_eq!(world.settings(&acme).await.last_poll_at, Some(stamp(now)));
}

#[tokio::test]
async fn one_tenants_failure_is_recorded_on_it_and_the_others_are_polled() {
    let world = World::new().await;
    let acme = world.connect("acme", ACME).await;
    let euro = world.connect("euro", EURO).await;
    let gone = world.connect("gone", GONE).await;
    let idle = world.connect("idle", ACME).await;
    let mut disabled = world.settings(&idle).await;
    disabled.status = ConnectionStatus::Disabled;
    world.stack.connections(POLLER).replace(&disabled).await.unwrap();
    // A daily schedule that already ran today and its slot passed: due.
    let mut daily = world.settings(&acme).await;
    daily.schedule = "daily 06:00".parse::<PollSchedule>().unwrap();
    daily.last_poll_at = Some(stamp(noon() - Duration::from_secs(24 * 3600)));
    world.stack.connections(POLLER).replace(&daily).await.unwrap();

    let acme_reports: BTreeSet<_> =
        add_expenses(&world.sim, ACME, "A", 30).into_iter().map(|id| (DocumentType::Expense, id)).collect();
    add_expenses(&world.sim, EURO, "E", 5);
    add_expenses(&world.sim, GONE, "G", 5);
    world.outages.lock().unwrap().insert("emea");
    world.sim.revoke_refresh_tokens(GONE);

    let poller = world.poller().await;
    let now = noon();
    let report = scheduled_poller::handle(&poller, now, far()).await.unwrap();
    assert_eq!(report.due, ["acme", "euro", "gone"]);
    assert_eq!(report.skipped.iter().map(|s| s.connection_id.as_str()).collect::<Vec<_>>(), ["idle"]);
    assert_completed(&report, "acme", 30);
    assert_eq!(report.failed().iter().map(|p| p.connection_id.as_str()).collect::<Vec<_>>(), ["euro", "gone"]);
    assert_eq!(keys(&world.drain().await), acme_reports, "only acme's documents are queued");

    let acme_now = world.settings(&acme).await;
    assert_eq!((acme_now.last_poll_at, acme_now.last_poll_error), (Some(stamp(now)), None));

    // EMEA's outage: recorded on euro, which stays active and due.
    let euro_now = world.settings(&euro).await;
    assert_eq!((euro_now.status, euro_now.last_poll_at), (ConnectionStatus::Active, None));
    let error = euro_now.last_poll_error.unwrap();
    assert!(error.starts_with(&stamp(now)) && error.contains("HTTP 500") && error.contains("expense"), "{error}");
    let events = world.poll_events(&euro).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "failed");
    assert!(events[0].1.contains("HTTP 500"), "{events:?}");

    // The revoked grant: needs_reauth (set by the token manager), and why.
    let gone_now = world.settings(&gone).await;
    assert_eq!((gone_now.status, gone_now.last_poll_at), (ConnectionStatus::NeedsReauth, None));
    let error = gone_now.last_poll_error.unwrap();
    assert!(error.contains("refresh token") && error.contains("click Connect"), "{error}");
    assert!(!error.contains(CLIENT_SECRET), "{error}");
    assert_eq!(world.poll_events(&gone).await[0].0, "failed");

    // Next tick: EMEA is back. acme is not due, gone is skipped with its
    // reason, euro (never polled to the end) is polled and its error cleared.
    world.outages.lock().unwrap().clear();
    let next = scheduled_poller::handle(&poller, now + Duration::from_secs(300), far()).await.unwrap();
    assert_eq!(next.due, ["euro"]);
    assert_eq!(next.not_due, ["acme"]);
    let skipped: BTreeMap<_, _> = next.skipped.iter().map(|s| (s.connection_id.as_str(), s.reason.as_str())).collect();
    assert_eq!(skipped["gone"], "the Concur connection needs a reconnect by an admin");
    assert_completed(&next, "euro", 5);
    assert_eq!(world.settings(&euro).await.last_poll_error, None);
    assert_eq!(world.drain().await.len(), 5);
}

#[tokio::test]
async fn a_tick_stops_at_its_deadline_and_the_next_one_finishes() {
    let world = World::new().await;
    let acme = world.connect("acme", ACME).await;
    let reports: BTreeSet<_> =
        add_expenses(&world.sim, ACME, "R", 60).into_iter().map(|id| (DocumentType::Expense, id)).collect();
    let poller = world.poller().await;
    let now = noon();

    // The deadline has already passed: nothing is started, nothing recorded.
    let report = scheduled_poller::handle(&poller, now, Instant::now()).await.unwrap();
    assert_eq!((report.due.clone(), report.deferred.clone()), (vec!["acme".to_owned()], vec!["acme".to_owned()]));
    assert!(report.polls.is_empty() && world.fi_requests().is_empty());
    assert!(world.poll_events(&acme).await.is_empty());

    // The deadline comes while Concur is slow with the second page: the
    // first page is queued, the second abandoned, last_poll_at not moved.
    let slow = FaultSpec::from_json(
        br#"{"kind":"slow","delay_ms":6000,"count":1,"fraction":0.5,"path_prefix":"/financialintegration"}"#,
    )
    .unwrap();
    world.sim.faults().inject(slow).unwrap();
    let started = Instant::now();
    let report = scheduled_poller::handle(&poller, now, Instant::now() + Duration::from_secs(2)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "the slow page was abandoned: {:?}", started.elapsed());
    let poll = report.poll_of("acme").unwrap();
    assert_eq!((&poll.outcome, poll.read, poll.queued()), (&PollOutcome::Stopped, 25, 25), "{report:?}");
    let settings = world.settings(&acme).await;
    assert_eq!((settings.last_poll_at, settings.last_poll_error), (None, None));
    let events = world.poll_events(&acme).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "skipped");
    assert!(events[0].1.contains("deadline") && events[0].1.contains("queuing 25"), "{events:?}");

    // The next tick goes on from the page where this one stopped (the
    // connection's poll cursor) and completes the pass.
    let report = scheduled_poller::handle(&poller, now + Duration::from_secs(300), far()).await.unwrap();
    assert_completed(&report, "acme", 35);
    let received = world.drain().await;
    assert_eq!(received.len(), 60, "each document exactly once");
    assert_eq!(keys(&received), reports);
    assert_eq!(world.settings(&acme).await.last_poll_at, Some(stamp(now + Duration::from_secs(300))));
}

#[tokio::test]
async fn the_reference_sync_is_queued_on_its_schedule_once_per_period() {
    let world = World::new().await;
    let acme = world.connect("acme-sched", ACME).await;
    let poller = world.poller().await;
    let now = noon();
    // Connected an hour before the first tick: the connect queued the first sync.
    let mut settings = world.settings(&acme).await;
    settings.connected_at = Some(stamp(now - Duration::from_secs(3600)));
    world.stack.connections(POLLER).replace(&settings).await.unwrap();
    let tick = |at| scheduled_poller::handle(&poller, at, far());
    assert!(tick(now).await.unwrap().syncs_queued.is_empty(), "not due an hour after the connect");
    let due = now + Duration::from_secs(5 * 3600);
    assert_eq!(tick(due).await.unwrap().syncs_queued, vec!["acme-sched".to_owned()]);
    assert_eq!(world.settings(&acme).await.last_sync_queued_at, Some(stamp(due)));
    assert!(tick(due + Duration::from_secs(900)).await.unwrap().syncs_queued.is_empty(), "once per period");
    let next = due + domain::reference::SYNC_EVERY;
    assert_eq!(tick(next).await.unwrap().syncs_queued, vec!["acme-sched".to_owned()]);
    let syncs = world.drain_syncs().await;
    assert_eq!(syncs.len(), 2, "{syncs:?}");
    assert!(syncs.iter().all(|s| s["reason"] == "scheduled" && s["connection_id"] == "acme-sched"), "{syncs:?}");
}

#[tokio::test]
async fn a_connection_that_reads_files_has_them_asked_of_file_intake_and_fis_read_only_where_its_source_says() {
    use domain::posting_source::{PostingSource, SourceChoice};
    let world = World::new().await;
    let files_only = world.connect("acme", ACME).await;
    let both = world.connect("euro", EURO).await;
    load_examples(&world.sim, ACME);
    let euro_expected = load_examples(&world.sim, EURO);
    let store = world.stack.connections(POLLER);
    for (id, choice) in [(&files_only, SourceChoice::PaymentBatch), (&both, SourceChoice::Auto)] {
        let mut settings = world.settings(id).await;
        settings.posting_source = PostingSource { choice, ..PostingSource::default() };
        settings.edition = Some(domain::Edition::Professional);
        store.replace(&settings).await.unwrap();
    }

    let report = scheduled_poller::handle(&world.poller().await, noon(), far()).await.unwrap();
    // `payment_batch` reads no Financial Integration: nothing of acme's READY documents is queued; `auto` on a
    // Professional company reads both.
    assert_completed(&report, "acme", 0);
    assert_completed(&report, "euro", euro_expected.len());
    let queued = keys(&world.drain().await);
    assert_eq!(queued, euro_expected);
    let inbox = world.stack.env_of(POLLER).required("INBOX_QUEUE_URL").unwrap();
    let out = world.stack.sqs().receive_message().queue_url(&inbox).max_number_of_messages(10).send().await.unwrap();
    let mut asked: Vec<String> = out
        .messages
        .unwrap_or_default()
        .iter()
        .filter_map(|m| match domain::inbox::InboxMessage::from_json(m.body.as_deref().unwrap_or("")) {
            Ok(domain::inbox::InboxMessage::Files(request)) => Some(request.connection_id.to_string()),
            _ => None,
        })
        .collect();
    asked.sort();
    assert_eq!(asked, ["acme", "euro"], "each file-reading connection's files are asked for once");
}

/// A tick's metrics as the EMF lines it writes (docs/metrics.md): the days
/// left on each polled connection's Concur token and OpenPGP keys, a failed
/// poll, and the documents not final past the stuck threshold (4 hours by
/// the template's default), counted for the fleet.
#[tokio::test]
async fn a_tick_writes_its_gauges_its_failed_polls_and_the_documents_not_final() {
    let captured = platform::telemetry::capture();
    let world = World::new().await;
    let acme = world.connect("acme", ACME).await;
    let euro = world.connect("euro", EURO).await;
    let now = noon();
    let mut settings = world.settings(&acme).await;
    settings.concur_refresh_expires_at = Some(stamp(now + Duration::from_secs(10 * 86_400 + 43_200)));
    let key = |days: u64| domain::posting_source::PgpKey {
        user_id: None,
        created_at: stamp(now),
        expires_at: Some(stamp(now + Duration::from_secs(days * 86_400))),
        added_at: stamp(now),
        last_used_at: None,
    };
    settings.pgp_keys = [("OLD".to_owned(), key(20)), ("NEW".to_owned(), key(700))].into();
    world.stack.connections(POLLER).replace(&settings).await.unwrap();
    world.outages.lock().unwrap().insert("emea");
    // acme: one document waiting five hours (stuck), one waiting one hour (not yet).
    let ledger = world.stack.ledger(POLLER);
    for (id, hours) in [("STUCK", 5), ("RECENT", 1)] {
        let key = platform::ledger::LedgerKey::new(
            acme.clone(),
            DocumentType::Expense,
            domain::ConcurDocumentId::parse(id).unwrap(),
        );
        let at = now - Duration::from_secs(hours * 3600);
        let claimed = ledger.claim(&key, "test", Duration::from_secs(60), at).await.unwrap();
        assert!(matches!(claimed, platform::ledger::ClaimOutcome::Claimed(_)), "{claimed:?}");
        ledger.release(&key, "test", "Acumatica answered 503", at).await.unwrap();
    }

    let report = scheduled_poller::handle(&world.poller().await, now, far()).await.unwrap();
    assert_eq!(report.failed().iter().map(|p| p.connection_id.as_str()).collect::<Vec<_>>(), ["euro"]);
    assert_eq!(report.not_final, Some(1));

    let lines = captured.lines();
    let of = |name: &str| -> Vec<&Value> { lines.iter().filter(|l| l.get(name).is_some()).collect() };
    let per_connection = json!([["ConnectionId"], []]);
    let token = of("ConcurTokenDaysLeft");
    assert_eq!(token.len(), 1, "acme's expiry is stored, euro's is not: {token:?}");
    assert_eq!((&token[0]["ConnectionId"], &token[0]["ConcurTokenDaysLeft"]), (&json!("acme"), &json!(10.5)));
    let metric = &token[0]["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(metric["Dimensions"], per_connection);
    assert_eq!(metric["Metrics"], json!([{"Name": "ConcurTokenDaysLeft", "Unit": "None"}]));
    let keys = of("PgpKeyDaysLeft");
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["PgpKeyDaysLeft"], 700.0, "the key that expires last");
    let failures = of("PollFailures");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!((&failures[0]["ConnectionId"], &failures[0]["PollFailures"]), (&json!(euro.as_str()), &json!(1.0)));
    assert_eq!(failures[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], per_connection);
    let not_final = of("DocumentsNotFinal");
    assert_eq!(not_final.len(), 1, "{not_final:?}");
    assert_eq!(not_final[0]["DocumentsNotFinal"], 1.0);
    assert_eq!(not_final[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
}

/// The daily webhook check: nothing is subscribed before a company is
/// connected; then every offered topic is put in place, and a subscription
/// Concur deleted (30 days of failed deliveries) is counted missing and put
/// back (`WebhookSubscriptionsMissing`, 0 when all are there).
#[tokio::test]
async fn the_daily_check_puts_back_a_webhook_subscription_concur_deleted() {
    let captured = platform::telemetry::capture();
    let world = World::new().await;
    let poller = world.poller().await;
    let check = || scheduled_poller::webhooks::reassert(&poller);
    assert_eq!(check().await.unwrap(), None, "no company connected: nothing to subscribe");
    assert!(world.sim.subscriptions().is_empty());

    // This world connects without Quick Connect: no subscription exists yet.
    world.connect("acme", ACME).await;
    let first = check().await.unwrap().expect("checked");
    assert!(!first.subscribed.is_empty(), "{first:?}");
    assert_eq!(first.missing, first.subscribed);
    assert!(check().await.unwrap().expect("checked").missing.is_empty(), "all in place");

    let plan = &poller.webhooks;
    let topic = &first.subscribed[0];
    let id = plan.subscription_id(topic);
    assert!(world.sim.drop_subscription(&id));
    let after = check().await.unwrap().expect("checked");
    assert_eq!(after.missing, std::slice::from_ref(topic));
    assert!(world.sim.subscriptions().iter().any(|s| s.id == id && s.endpoint == plan.events_url), "put back");

    let counts: Vec<f64> =
        captured.lines().iter().filter_map(|l| l.get("WebhookSubscriptionsMissing").and_then(Value::as_f64)).collect();
    assert_eq!(counts, [0.0, first.missing.len() as f64, 0.0, 1.0]);
}

/// `connector poll ID --now`: the poller's own poll run from the CLI, at
/// once and whatever the schedule says, showing what it queued; refused
/// (nothing read or written) for a connection that cannot be polled.
#[tokio::test]
async fn poll_now_from_the_cli_polls_outside_the_schedule_and_shows_what_it_queued() {
    let world = World::new().await;
    let acme = world.connect("acme", ACME).await;
    let euro = world.connect("euro", EURO).await;
    // Polled a minute ago on a daily schedule: not due for a day.
    let just_polled = stamp(OffsetDateTime::now_utc() - Duration::from_secs(60));
    for id in [&acme, &euro] {
        let mut c = world.settings(id).await;
        c.schedule = "daily 06:00".parse::<PollSchedule>().unwrap();
        c.last_poll_at = Some(just_polled.clone());
        world.stack.connections(POLLER).replace(&c).await.unwrap();
    }
    let reports: BTreeSet<_> =
        add_expenses(&world.sim, ACME, "NOW", 3).into_iter().map(|id| (DocumentType::Expense, id)).collect();
    add_expenses(&world.sim, EURO, "EU", 2);
    let stack = world.stack.stack_name();

    let shown = integration::connector(stack, &["poll", "acme"]).await;
    assert_eq!(shown.code, 0, "{}", shown.all());
    assert!(shown.out.contains("daily 06:00") && shown.out.contains("not due"), "{}", shown.out);
    assert!(shown.out.contains("connector poll acme --now"), "{}", shown.out);
    assert!(world.fi_requests().is_empty(), "showing the schedule reads nothing from Concur");

    let run = integration::connector(stack, &["poll", "acme", "--now", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let result: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(
        (result["outcome"].as_str(), result["read"].as_u64(), result["queued"].as_u64()),
        (Some("completed"), Some(3), Some(3))
    );
    let listed: BTreeSet<_> = result["queued_documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let (t, id) = k.as_str().unwrap().split_once('#').unwrap();
            (t.parse::<DocumentType>().unwrap(), id.to_owned())
        })
        .collect();
    assert_eq!(listed, reports, "it shows the documents it queued");
    let received = world.drain().await;
    assert_eq!(keys(&received), reports, "only acme's documents, each once, are on the work queue");
    assert!(received.iter().all(|r| r.item.source == WorkSource::Poll));
    // Recorded like a scheduled poll: on the connection and in the audit, by the operator.
    let after = world.settings(&acme).await;
    assert_ne!(after.last_poll_at, Some(just_polled.clone()), "last_poll_at moved");
    assert_eq!(after.last_poll_error, None);
    let events = world.stack.audit(POLLER).history(&format!("{acme}#connection")).await.unwrap();
    let poll = events.iter().find(|e| e.step == "poll").expect("the poll's audit event");
    assert_eq!((poll.outcome.as_str(), poll.function.as_str()), ("ok", "operator"));
    assert_eq!(world.settings(&euro).await.last_poll_at, Some(just_polled), "the other connection is untouched");

    // The human form names what was queued; nothing new is READY-and-unqueued twice.
    add_expenses(&world.sim, ACME, "LATE", 1);
    let again = integration::connector(stack, &["poll", "acme", "--now"]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.out.contains("read 4 READY documents; queued 4"), "{}", again.out);
    assert!(again.out.contains("queued  expense      LATE"), "{}", again.out);

    // Concur down: exit 1, the reason shown and recorded on the connection.
    world.outages.lock().unwrap().insert("emea");
    let failed = integration::connector(stack, &["poll", "euro", "--now"]).await;
    assert_eq!(failed.code, 1, "{}", failed.all());
    assert!(failed.out.contains("failed") && failed.out.contains("HTTP 500"), "{}", failed.out);
    assert!(world.settings(&euro).await.last_poll_error.unwrap().contains("HTTP 500"));

    // A connection waiting for a reconnect: refused, nothing read.
    let mut blocked = world.settings(&euro).await;
    blocked.status = ConnectionStatus::NeedsReauth;
    world.stack.connections(POLLER).replace(&blocked).await.unwrap();
    let before = world.fi_requests().len();
    let refused = integration::connector(stack, &["poll", "euro", "--now"]).await;
    assert_eq!(refused.code, 2, "{}", refused.all());
    assert!(refused.err.contains("cannot be polled: the Concur connection needs a reconnect"), "{}", refused.err);
    assert_eq!(world.fi_requests().len(), before, "nothing was read");
}
