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
    ErpSettings, ErpUrl, Secret, UrlPolicy, WorkItem, WorkSource,
};
use erp_poster::{Poster, PosterOptions};
use platform::concur_grants::ConcurGrantStore;
use platform::mappings::MappingStore;
use simulators::RunningSimulator;
use simulators::acumatica::{AcumaticaSim, TenantSpec};
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim};
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

pub struct PostingWorld {
    pub stack: TestStack,
    pub concur: ConcurSim,
    pub acumatica: AcumaticaSim,
    pub connection: ConnectionId,
    _concur_server: RunningSimulator,
    _acumatica_server: RunningSimulator,
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
    }
}

impl PostingWorld {
    /// Everything running, the connection active with the example mapping,
    /// no document loaded yet.
    pub async fn new(connection_id: &str) -> Self {
        let concur = ConcurSim::new(ConcurApp::new(CLIENT_ID, CLIENT_SECRET));
        let concur_server = simulators::spawn(concur.router("us"), 0).await.expect("Concur simulator starts");
        concur.set_datacenter_url("us", &concur_server.base_url());
        concur.add_company(CompanySpec {
            uuid: COMPANY.into(),
            name: "Acme Travel Corp".into(),
            datacenter: "us".into(),
            marketing_name: "CTE".into(),
        });
        let acumatica = AcumaticaSim::new();
        seed_acumatica(&acumatica);
        let acumatica_server = acumatica.clone().start().await;
        let stack = TestStack::with_concur_app(CLIENT_ID, CLIENT_SECRET, &concur_server.base_url()).await;
        let connection = ConnectionId::parse(connection_id).expect("valid connection id");
        let world = Self {
            stack,
            concur,
            acumatica,
            connection,
            _concur_server: concur_server,
            _acumatica_server: acumatica_server,
        };
        world.connect(&world.acumatica_url()).await;
        world
    }

    pub fn acumatica_url(&self) -> String {
        self._acumatica_server.base_url()
    }

    /// Creates the active connection, its Concur grant (a real exchange with
    /// the simulator), its Acumatica credentials and the example mapping.
    async fn connect(&self, acumatica_url: &str) {
        let app_secret_id = self.stack.env_of(POSTER).required("CONCUR_APP_SECRET_ID").unwrap();
        let app: AppCredentials = self.stack.secrets().get_json(&app_secret_id).await.unwrap().unwrap();
        let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
        let erp = ErpSettings::Acumatica(AcumaticaSettings {
            base_url: ErpUrl::parse_with(acumatica_url, UrlPolicy::AllowLoopbackHttp).unwrap(),
            tenant: TENANT.into(),
            endpoint_name: "Default".into(),
            endpoint_version: "24.200.001".into(),
            branch: None,
        });
        let mut settings = Connection::new(self.connection.clone(), "Acme Travel Corp", Some(erp), &now);
        let company = CompanyUuid::parse(COMPANY).unwrap();
        settings.company_uuid = Some(company.clone());
        settings.status = ConnectionStatus::Active;
        settings.concurrency_level = ConcurrencyLevel::new(4).unwrap();
        let request_token = Secret::new(self.concur.issue_request_token(COMPANY));
        let client =
            ConcurClient::new(HttpClient::new(transport::build_client(Duration::from_secs(5)), test_options().retry));
        let token = client.exchange_request_token(&app, &company, &request_token).await.unwrap();
        settings.geolocation = Some(token.geolocation.clone());
        self.stack.connections(POSTER).create(&settings).await.unwrap();
        self.grants().save(&self.connection, &StoredGrant::from_token(&token).unwrap()).await.unwrap();
        let credentials = serde_json::json!({
            "client_id": ACUMATICA_CLIENT,
            "client_secret": ACUMATICA_SECRET,
            "username": ACUMATICA_USER.0,
            "password": ACUMATICA_USER.1,
        });
        let secret = format!("{}/connections/{}/erp", self.stack.stack_name(), self.connection);
        aws_sdk_secretsmanager::Client::new(&self.stack.sdk)
            .create_secret()
            .name(secret)
            .secret_string(credentials.to_string())
            .send()
            .await
            .expect("storing the Acumatica credentials");
        self.import_mapping(&example_mapping()).await;
    }

    pub fn grants(&self) -> ConcurGrantStore {
        self.stack.grant_store(POSTER)
    }

    pub fn mappings(&self) -> MappingStore {
        MappingStore::new(self.stack.dynamodb(), self.stack.env_of(POSTER).required("CONNECTIONS_TABLE").unwrap())
    }

    /// Stores `mapping` as the connection's (next revision).
    pub async fn import_mapping(&self, mapping: &Mapping) {
        let store = self.mappings();
        let revision = store.get(&self.connection).await.unwrap().map(|m| m.revision);
        let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
        store.put(&self.connection, mapping, revision, &now).await.expect("storing the mapping");
    }

    /// A poster as the Lambda builds it (a fresh "container" per call).
    pub async fn poster(&self) -> Poster<ConcurGrantStore> {
        Poster::from_env(&self.stack.env_of(POSTER), &self.stack.sdk, test_options())
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
    let mut accounts: Vec<&str> = mapping.accounts.values().map(String::as_str).collect();
    for rule in mapping.parties.values() {
        if let domain::mapping::PartyRule::Account { account } = rule {
            accounts.push(account);
        }
    }
    for rule in &mapping.taxes {
        accounts.push(&rule.reclaim_account);
        if let domain::mapping::NonDeductible::Account { account } = &rule.non_deductible {
            accounts.push(account);
        }
    }
    accounts.extend(mapping.payable_account.as_deref());
    accounts.sort_unstable();
    accounts.dedup();
    for account in accounts {
        let kind = match account.chars().next() {
            Some('1') => "Asset",
            Some('2') => "Liability",
            _ => "Expense",
        };
        sim.add_account(TENANT, account, &format!("Account {account}"), kind, true);
    }
    let mut vendors: Vec<&str> = mapping.employees.values().map(String::as_str).collect();
    for rule in mapping.parties.values() {
        if let domain::mapping::PartyRule::Vendor { vendor } = rule {
            vendors.push(vendor);
        }
    }
    for vendor in vendors {
        sim.add_vendor(TENANT, vendor, &format!("Vendor {vendor}"), "Active");
    }
    for rule in mapping.dimensions.values() {
        for value in rule.values.values().chain(rule.default.as_ref()) {
            sim.add_subaccount(TENANT, value, &format!("Subaccount {value}"), true);
        }
    }
}
