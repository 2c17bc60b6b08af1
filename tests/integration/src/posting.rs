//! A posting world: a fresh stack in moto, the Concur simulator with the
//! official FI example documents, the Acumatica simulator seeded with the
//! accounts, vendors and subaccounts of `tests/fixtures/mappings/fi-examples.yaml`,
//! and an active connection between them with that mapping. Used by the
//! pipeline tests and the demo.

use std::path::PathBuf;
use std::time::Duration;

use concur::fi::DocumentPage;
use concur::{AppCredentials, ConcurClient, GrantStore, StoredGrant, TokenOptions};
use domain::mapping::Mapping;
use domain::{
    AcumaticaSettings, CompanyUuid, ConcurrencyLevel, Connection, ConnectionId, ConnectionStatus, DocumentType,
    ErpKind, ErpSettings, ErpUrl, IfsCloudSettings, Secret, UrlPolicy, WorkItem, WorkSource,
};
use erp_poster::{Poster, PosterOptions};
use platform::concur_grants::ConcurGrantStore;
use platform::mappings::MappingStore;
use simulators::RunningSimulator;
use simulators::acumatica::{AcumaticaSim, TenantSpec};
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim};
use simulators::ifs::IfsSim;
use simulators::infor::InforSim;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use transport::{HttpClient, RetryPolicy};

use crate::TestStack;

/// The poster's logical id in the template.
pub const POSTER: &str = "ErpPosterFunction";
pub const CLIENT_ID: &str = "6b4b4c4e-1d2a-4f51-9a55-0c1f7b7f3a01";
pub const CLIENT_SECRET: &str = "0f5d8f2e-8c3b-4a6e-b0a1-3e2f6c9d7b02";
/// The sandbox company of the examples.
pub const COMPANY: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";
/// The Acumatica tenant and its integration user.
pub const TENANT: &str = "Acme";
pub const ACUMATICA_CLIENT: &str = "88358B02-A48D-A50E-F710-39C1636C30F6";
pub const ACUMATICA_SECRET: &str = "acumatica-client-secret-for-tests";
pub const ACUMATICA_USER: (&str, &str) = ("concur_int", "acumatica-password-for-tests");

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The official example files, sorted by name.
pub fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("fi-examples"))
        .expect("tests/fixtures/fi-examples is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// The mapping of the examples (tests/fixtures/mappings/fi-examples.yaml).
pub fn example_mapping_text() -> String {
    std::fs::read_to_string(fixtures().join("mappings/fi-examples.yaml")).expect("the example mapping is readable")
}

pub fn example_mapping() -> Mapping {
    Mapping::from_yaml(&example_mapping_text()).expect("the example mapping is valid")
}

/// The IFS Cloud side of the examples: realm, IAM client, company.
pub const IFS_NAMESPACE: &str = "acme";
pub const IFS_COMPANY: &str = "10";
pub const IFS_CLIENT: (&str, &str) = ("CONCUR_INT", "ifs-client-secret-for-tests");

/// The mapping file of the examples for an ERP (tests/fixtures/mappings).
pub fn example_mapping_text_for(kind: ErpKind) -> String {
    let file = match kind {
        ErpKind::Acumatica => "fi-examples.yaml",
        ErpKind::IfsCloud => "fi-examples-ifs.yaml",
        ErpKind::Infor => "fi-examples-infor.yaml",
    };
    std::fs::read_to_string(fixtures().join("mappings").join(file)).expect("the example mapping is readable")
}

pub fn example_mapping_for(kind: ErpKind) -> Mapping {
    Mapping::from_yaml(&example_mapping_text_for(kind)).expect("the example mapping is valid")
}

/// The Infor side of the examples: ION tenant, accounting entity, our
/// connection point and the token ION presents to ion-inbox.
pub const INFOR_TENANT: &str = "ACME_TST";
pub const INFOR_ENTITY: &str = "1000";
pub const INFOR_LOGICAL_ID: &str = "lid://infor.ims.concurconnector";
pub const INFOR_INBOX_TOKEN: &str = "ion-inbox-token-for-tests";
/// The account that carries a chunked journal's balance between its parts.
pub const INFOR_CHUNK_CLEARING: &str = "1999";

/// The ERP simulator a world posts into.
pub enum ErpSim {
    Acumatica(AcumaticaSim),
    Ifs(IfsSim),
    /// With ion-inbox served for its verdicts (once the stack exists).
    Infor(InforSim, Option<RunningSimulator>),
}

pub struct PostingWorld {
    pub stack: TestStack,
    pub concur: ConcurSim,
    pub erp: ErpSim,
    pub connection: ConnectionId,
    _concur_server: RunningSimulator,
    _erp_server: RunningSimulator,
}

/// Fast retries for tests: a fault storm is ridden out in milliseconds.
pub fn test_options() -> PosterOptions {
    PosterOptions {
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(40),
            request_timeout: Duration::from_secs(3),
        },
        tokens: TokenOptions::default(),
        claim_ttl: Duration::from_secs(300),
        batch: erp_poster::BatchRules {
            first_retry: Duration::ZERO,
            longest_retry: Duration::ZERO,
            settle_window: Duration::ZERO,
            // An ERP outage holds the connection only where a test asks.
            erp_outage_recheck: Duration::ZERO,
            ..erp_poster::BatchRules::default()
        },
    }
}

impl PostingWorld {
    /// Everything running, the connection active on Acumatica with the
    /// example mapping, no document loaded yet.
    pub async fn new(connection_id: &str) -> Self {
        Self::with_erp(connection_id, ErpKind::Acumatica).await
    }

    /// The same on another ERP's simulator.
    pub async fn with_erp(connection_id: &str, kind: ErpKind) -> Self {
        let concur = ConcurSim::new(ConcurApp::new(CLIENT_ID, CLIENT_SECRET));
        let concur_server = simulators::spawn(concur.router("us"), 0).await.expect("Concur simulator starts");
        concur.set_datacenter_url("us", &concur_server.base_url());
        concur.add_company(CompanySpec {
            uuid: COMPANY.into(),
            name: "Acme Travel Corp".into(),
            datacenter: "us".into(),
            marketing_name: "CTE".into(),
        });
        let (erp, erp_server) = match kind {
            ErpKind::Acumatica => {
                let sim = AcumaticaSim::new();
                seed_acumatica(&sim);
                let server = sim.clone().start().await;
                (ErpSim::Acumatica(sim), server)
            }
            ErpKind::IfsCloud => {
                let sim = IfsSim::new();
                seed_ifs(&sim);
                let server = sim.clone().start().await;
                (ErpSim::Ifs(sim), server)
            }
            ErpKind::Infor => {
                let sim = InforSim::new();
                let server = sim.clone().start().await;
                seed_infor(&sim);
                // The inbox needs the stack: it is started below.
                (ErpSim::Infor(sim, None), server)
            }
        };
        let stack = TestStack::with_concur_app(CLIENT_ID, CLIENT_SECRET, &concur_server.base_url()).await;
        let erp = match erp {
            ErpSim::Infor(sim, _) => {
                let inbox = crate::ion::serve_inbox(&stack).await;
                sim.set_callback(INFOR_TENANT, &format!("{}/ion/{connection_id}", inbox.base_url()));
                sim.set_callback_token(INFOR_TENANT, INFOR_INBOX_TOKEN);
                ErpSim::Infor(sim, Some(inbox))
            }
            other => other,
        };
        let connection = ConnectionId::parse(connection_id).expect("valid connection id");
        let world = Self { stack, concur, erp, connection, _concur_server: concur_server, _erp_server: erp_server };
        world.connect().await;
        world
    }

    pub fn erp_url(&self) -> String {
        self._erp_server.base_url()
    }

    /// The Acumatica simulator (panics on a world of another ERP: a test bug).
    pub fn acumatica(&self) -> &AcumaticaSim {
        match &self.erp {
            ErpSim::Acumatica(sim) => sim,
            _ => panic!("this world does not post into Acumatica"),
        }
    }

    /// The IFS simulator (panics on a world of another ERP: a test bug).
    pub fn ifs(&self) -> &IfsSim {
        match &self.erp {
            ErpSim::Ifs(sim) => sim,
            _ => panic!("this world does not post into IFS Cloud"),
        }
    }

    pub fn erp_kind(&self) -> ErpKind {
        match &self.erp {
            ErpSim::Acumatica(_) => ErpKind::Acumatica,
            ErpSim::Ifs(_) => ErpKind::IfsCloud,
            ErpSim::Infor(..) => ErpKind::Infor,
        }
    }

    /// The Infor simulator (panics on a world of another ERP: a test bug).
    pub fn infor(&self) -> &InforSim {
        match &self.erp {
            ErpSim::Infor(sim, _) => sim,
            _ => panic!("this world does not post into Infor"),
        }
    }

    /// The example mapping of this world's ERP.
    pub fn mapping(&self) -> Mapping {
        example_mapping_for(self.erp_kind())
    }

    /// Creates the active connection, its Concur grant (a real exchange with
    /// the simulator), its ERP credentials and the example mapping.
    async fn connect(&self) {
        let (erp, credentials) = match self.erp_kind() {
            ErpKind::Acumatica => acumatica_settings(&self.erp_url()),
            ErpKind::IfsCloud => (
                ErpSettings::IfsCloud(IfsCloudSettings {
                    base_url: loopback_url(&self.erp_url()),
                    namespace: IFS_NAMESPACE.into(),
                    company: IFS_COMPANY.into(),
                    api: Default::default(),
                }),
                serde_json::json!({ "client_id": IFS_CLIENT.0, "client_secret": IFS_CLIENT.1 }),
            ),
            ErpKind::Infor => {
                let ErpSim::Infor(sim, _) = &self.erp else { unreachable!("the world's ERP is Infor") };
                let api = domain::InforApiNames {
                    chunk_clearing_account: Some(INFOR_CHUNK_CLEARING.into()),
                    ..Default::default()
                };
                (
                    ErpSettings::Infor(domain::InforSettings {
                        logical_id: Some(INFOR_LOGICAL_ID.into()),
                        accounting_entity: Some(INFOR_ENTITY.into()),
                        // The examples are in USD, GBP, CAD and EUR.
                        functional_currency: Some("USD".into()),
                        functional_rates: [("GBP", "1.27"), ("CAD", "0.73"), ("EUR", "1.08")]
                            .into_iter()
                            .map(|(c, r)| (c.to_owned(), r.parse().expect("rate")))
                            .collect(),
                        api,
                        ..Default::default()
                    }),
                    sim.ionapi_file(&self.erp_url(), INFOR_TENANT),
                )
            }
        };
        connect(&self.stack, &self.concur, &self.connection, COMPANY, erp, &credentials, 4).await;
        if self.erp_kind() == ErpKind::Infor {
            aws_sdk_secretsmanager::Client::new(&self.stack.sdk)
                .create_secret()
                .name(format!("{}/connections/{}/ion-inbox", self.stack.stack_name(), self.connection))
                .secret_string(serde_json::json!({ "token": INFOR_INBOX_TOKEN }).to_string())
                .send()
                .await
                .expect("storing the inbox token");
        }
        self.import_mapping(&self.mapping()).await;
    }

    /// An admin clicks Connect again: a fresh grant from a real exchange
    /// and the connection active again (what Quick Connect leaves behind).
    pub async fn reconnect_concur(&self) {
        let app_secret_id = self.stack.env_of(POSTER).required("CONCUR_APP_SECRET_ID").unwrap();
        let app: AppCredentials = self.stack.secrets().get_json(&app_secret_id).await.unwrap().unwrap();
        let company = CompanyUuid::parse(COMPANY).unwrap();
        let request_token = Secret::new(self.concur.issue_request_token(COMPANY));
        let client =
            ConcurClient::new(HttpClient::new(transport::build_client(Duration::from_secs(5)), test_options().retry));
        let token = client.exchange_request_token(&app, &company, &request_token).await.unwrap();
        self.grants().save(&self.connection, &StoredGrant::from_token(&token).unwrap()).await.unwrap();
        let connections = self.stack.connections(POSTER);
        let mut settings = connections.get(&self.connection).await.unwrap().unwrap();
        settings.status = ConnectionStatus::Active;
        settings.status_reason = None;
        connections.replace(&settings).await.unwrap();
    }

    pub fn grants(&self) -> ConcurGrantStore {
        self.stack.grant_store(POSTER)
    }

    pub fn mappings(&self) -> MappingStore {
        MappingStore::new(self.stack.dynamodb(), self.stack.env_of(POSTER).required("CONNECTIONS_TABLE").unwrap())
    }

    /// Stores `mapping` as the connection's (next revision).
    pub async fn import_mapping(&self, mapping: &Mapping) {
        import_mapping(&self.stack, &self.connection, mapping).await;
    }

    /// A poster as the Lambda builds it (a fresh "container" per call).
    pub async fn poster(&self) -> Poster<ConcurGrantStore> {
        Poster::from_env(&self.stack.env_of(POSTER), &self.stack.aws(), test_options())
            .await
            .expect("the poster wires from the template's environment")
    }

    /// Loads every example file READY into the company; returns (file, FI ids).
    pub fn load_examples(&self) -> Vec<(PathBuf, Vec<String>)> {
        example_files()
            .into_iter()
            .map(|file| {
                let text = std::fs::read_to_string(&file).unwrap();
                let ids = self.concur.load_fi_example(COMPANY, &text).unwrap();
                (file, ids)
            })
            .collect()
    }
}

/// A simulator's base URL as connection settings hold it (loopback allowed).
fn loopback_url(url: &str) -> ErpUrl {
    ErpUrl::parse_with(url, UrlPolicy::AllowLoopbackHttp).expect("a simulator URL")
}

/// Acumatica connection settings and credentials for the simulator at `url`
/// (seeded by [`seed_acumatica`]).
pub fn acumatica_settings(url: &str) -> (ErpSettings, serde_json::Value) {
    (
        ErpSettings::Acumatica(AcumaticaSettings {
            base_url: loopback_url(url),
            tenant: TENANT.into(),
            endpoint_name: "Default".into(),
            endpoint_version: "24.200.001".into(),
            branch: None,
        }),
        serde_json::json!({
            "client_id": ACUMATICA_CLIENT,
            "client_secret": ACUMATICA_SECRET,
            "username": ACUMATICA_USER.0,
            "password": ACUMATICA_USER.1,
        }),
    )
}

/// Creates `connection`, active, for Concur company `company` (its grant
/// from a real exchange with the simulator), posting into `erp` with
/// `credentials` (stored where the poster reads them) at concurrency `level`.
pub async fn connect(
    stack: &TestStack,
    concur: &ConcurSim,
    connection: &ConnectionId,
    company: &str,
    erp: ErpSettings,
    credentials: &serde_json::Value,
    level: u8,
) {
    let app_secret_id = stack.env_of(POSTER).required("CONCUR_APP_SECRET_ID").unwrap();
    let app: AppCredentials = stack.secrets().get_json(&app_secret_id).await.unwrap().unwrap();
    let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
    let mut settings = Connection::new(connection.clone(), "Acme Travel Corp", Some(erp), &now);
    let company_uuid = CompanyUuid::parse(company).unwrap();
    settings.company_uuid = Some(company_uuid.clone());
    settings.status = ConnectionStatus::Active;
    settings.concurrency_level = ConcurrencyLevel::new(level).unwrap();
    let request_token = Secret::new(concur.issue_request_token(company));
    let client =
        ConcurClient::new(HttpClient::new(transport::build_client(Duration::from_secs(5)), test_options().retry));
    let token = client.exchange_request_token(&app, &company_uuid, &request_token).await.unwrap();
    settings.geolocation = Some(token.geolocation.clone());
    stack.connections(POSTER).create(&settings).await.unwrap();
    stack.grant_store(POSTER).save(connection, &StoredGrant::from_token(&token).unwrap()).await.unwrap();
    aws_sdk_secretsmanager::Client::new(&stack.sdk)
        .create_secret()
        .name(format!("{}/connections/{connection}/erp", stack.stack_name()))
        .secret_string(credentials.to_string())
        .send()
        .await
        .expect("storing the ERP credentials");
}

/// Stores `mapping` as `connection`'s (next revision).
pub async fn import_mapping(stack: &TestStack, connection: &ConnectionId, mapping: &Mapping) {
    let store = MappingStore::new(stack.dynamodb(), stack.env_of(POSTER).required("CONNECTIONS_TABLE").unwrap());
    let revision = store.get(connection).await.unwrap().map(|m| m.revision);
    let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
    store.put(connection, mapping, revision, &now).await.expect("storing the mapping");
}

/// `n` READY copies in `company` of an official expense report example
/// (Example 2.1: one entry, one employee payable), each with its own report
/// id (`{PREFIX}000000`, …) and FI id (`{prefix}fi000…`, 32 characters).
/// Returns (report id, FI id) of each, in order.
pub fn add_expense_copies(concur: &ConcurSim, company: &str, prefix: &str, n: usize) -> Vec<(String, String)> {
    let path = fixtures().join("fi-examples/FI-API-ReportID-F071FADEA6B142DD884A-Example-2.1.json");
    let example: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let document = &example["fIDocuments"][0]["document"];
    let width = 30usize.saturating_sub(prefix.len());
    (0..n)
        .map(|i| {
            let report_id = format!("{}{i:06}", prefix.to_ascii_uppercase());
            let fi_id = format!("{prefix}fi{i:0width$}");
            let mut copy = document.clone();
            copy["report"]["reportId"] = serde_json::json!(report_id);
            concur.add_fi_document(company, "expense", &fi_id, copy);
            (report_id, fi_id)
        })
        .collect()
}

/// Each example file's work item (keyed by business id, as intake queues
/// it), with the file name.
pub fn example_work_items(connection: &ConnectionId, source: WorkSource) -> Vec<(String, WorkItem)> {
    example_files()
        .into_iter()
        .map(|file| {
            let page = DocumentPage::parse(&std::fs::read(&file).unwrap()).expect("an FI page");
            let document = &page.documents[0];
            let doc_type: DocumentType = document.doc_type.parse().expect("a known docType");
            let (id, _) = document.work_id().expect("a business id");
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            (name, WorkItem::new(connection.clone(), doc_type, id, source, OffsetDateTime::now_utc()))
        })
        .collect()
}

/// The demo tenant: a branch, the integration user, and every account,
/// vendor and subaccount the example mapping names.
pub fn seed_acumatica(sim: &AcumaticaSim) {
    sim.add_tenant(TenantSpec {
        name: TENANT.into(),
        client_id: ACUMATICA_CLIENT.into(),
        client_secret: ACUMATICA_SECRET.into(),
        users: vec![(ACUMATICA_USER.0.into(), ACUMATICA_USER.1.into())],
        branches: vec!["HQ".into()],
    });
    let mapping = example_mapping();
    let accounts = mapping.erp_values().accounts;
    for account in accounts {
        let kind = match account.chars().next() {
            Some('1') => "Asset",
            Some('2') => "Liability",
            _ => "Expense",
        };
        sim.add_account(TENANT, &account, &format!("Account {account}"), kind, true);
    }
    for vendor in &mapping.erp_values().vendors {
        sim.add_vendor(TENANT, vendor, &format!("Vendor {vendor}"), "Active");
    }
    for rule in mapping.dimensions.values() {
        for value in rule.values.values().chain(rule.default.as_ref()) {
            sim.add_subaccount(TENANT, value, &format!("Subaccount {value}"), true);
        }
    }
}

/// The demo IFS company 10: the IAM client, and every account, supplier
/// and cost center the IFS example mapping names.
pub fn seed_ifs(sim: &IfsSim) {
    sim.add_realm(IFS_NAMESPACE);
    sim.add_client(IFS_NAMESPACE, IFS_CLIENT.0, IFS_CLIENT.1, &[IFS_COMPANY]);
    sim.add_company(IFS_COMPANY, "USD");
    // Another company the client may not write to: isolation is tested against it.
    sim.add_company("20", "EUR");
    let mapping = example_mapping_for(ErpKind::IfsCloud);
    let accounts = mapping.erp_values().accounts;
    for account in accounts {
        let kind = match account.chars().next() {
            Some('1') => "Asset",
            Some('2') => "Liability",
            _ => "Cost",
        };
        sim.add_account(IFS_COMPANY, &account, kind, false);
    }
    for vendor in &mapping.erp_values().vendors {
        sim.add_supplier(vendor, &format!("Supplier {vendor}"), &[IFS_COMPANY]);
    }
    sim.add_code_part(IFS_COMPANY, "B", "Cost Center");
    for rule in mapping.dimensions.values() {
        for value in rule.values.values().chain(rule.default.as_ref()) {
            sim.add_code_part_value(IFS_COMPANY, "B", value);
        }
    }
}

/// The demo Infor tenant: connection point, accounting entity, and every
/// account, supplier and CostCenter value the Infor example mapping names.
pub fn seed_infor(sim: &InforSim) {
    sim.add_tenant(INFOR_TENANT);
    let settings = domain::InforApiNames::default();
    sim.add_connection_point(
        INFOR_TENANT,
        INFOR_LOGICAL_ID,
        &[settings.supplier_invoice_document.as_str(), settings.journal_document.as_str()],
    );
    sim.add_accounting_entity(INFOR_TENANT, INFOR_ENTITY);
    // The tests send more than the gateway's default 120 calls a minute.
    sim.set_rate_limit(None);
    let mapping = example_mapping_for(ErpKind::Infor);
    let mut accounts = mapping.erp_values().accounts;
    accounts.insert(INFOR_CHUNK_CLEARING.to_owned());
    for account in accounts {
        sim.add_account(INFOR_TENANT, INFOR_ENTITY, &account);
    }
    for vendor in &mapping.erp_values().vendors {
        sim.add_supplier(INFOR_TENANT, INFOR_ENTITY, vendor);
    }
    for (name, rule) in &mapping.dimensions {
        for value in rule.values.values().chain(rule.default.as_ref()) {
            sim.add_dimension_value(INFOR_TENANT, INFOR_ENTITY, name, value);
        }
    }
}

/// The event the SQS event source mapping hands the poster for `messages`.
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message]) -> aws_lambda_events::sqs::SqsEvent {
    let mut event = aws_lambda_events::sqs::SqsEvent::default();
    for m in messages {
        let mut record = aws_lambda_events::sqs::SqsMessage::default();
        record.message_id = m.message_id.clone();
        record.receipt_handle = m.receipt_handle.clone();
        record.body = m.body.clone();
        for (name, value) in m.attributes.clone().unwrap_or_default() {
            record.attributes.insert(name.as_str().to_owned(), value);
        }
        event.records.push(record);
    }
    event
}

/// What one run of the poster over the queue did.
pub struct Consumed {
    pub messages: usize,
    pub outcome: erp_poster::BatchOutcome,
}

/// Runs `post` until `saved()` says the ERP saved the document (its answer
/// still held back by an `AfterCommit::Delay`), then stops it, as a Lambda
/// timeout would. Waiting for the save, not for a fixed time, keeps a crash
/// test the same on a slow or loaded machine. Panics if the post ends first.
pub async fn stop_once_saved(post: impl Future, saved: impl Fn() -> bool) {
    let committed = async {
        while !saved() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let stopped = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::select! {
            _ = post => false,
            () = committed => true,
        }
    })
    .await;
    assert_eq!(stopped, Ok(true), "the poster was stopped mid-post, after the ERP saved the document");
}

/// Feeds the work queue to the poster as the SQS event source mapping
/// does (batches of up to ten, partial failures left on the queue) until
/// no message is visible.
pub async fn consume_queue(
    stack: &TestStack,
    poster: &erp_poster::Poster<platform::concur_grants::ConcurGrantStore>,
    queue_url: &str,
) -> Result<Consumed, Box<dyn std::error::Error>> {
    let sqs = stack.sqs();
    let mut total = Consumed { messages: 0, outcome: erp_poster::BatchOutcome::default() };
    for _ in 0..100 {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        let event = sqs_event(&messages);
        let (response, outcome) = erp_poster::handle(poster, event, &poster.rules, None).await;
        let retry: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        for m in &messages {
            if !retry.contains(&m.message_id.as_deref().unwrap_or_default()) {
                sqs.delete_message().queue_url(queue_url).set_receipt_handle(m.receipt_handle.clone()).send().await?;
            }
        }
        total.messages += messages.len();
        total.outcome.done += outcome.done;
        total.outcome.malformed += outcome.malformed;
        total.outcome.stopped += outcome.stopped;
        total.outcome.retry += outcome.retry;
        total.outcome.parked += outcome.parked;
        total.outcome.returned += outcome.returned;
    }
    Ok(total)
}
