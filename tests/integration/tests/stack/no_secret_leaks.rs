//! No secret reaches a log line, a page, a DynamoDB item or a queue message.
//!
//! The test runs every flow that handles a secret — Quick Connect (first,
//! refused, again), token refresh with rotation, a 401 mid-call, a dead
//! refresh token, ERP credentials stored, shown and tested through the
//! operator CLI — with logs captured in the production JSON format at the
//! most verbose level the stack allows, then scans everything an operator or
//! an attacker with read access could see for every credential the Concur
//! simulator ever issued and every secret the test seeded.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use concur::client::ConcurClient;
use concur::tokens::{TokenManager, TokenOptions};
use domain::CompanyUuid;
use integration::{TestStack, body_text, get_request};
use oauth_callback::quick_connect::QuickConnect;
use simulators::acumatica::{AcumaticaSim, TenantSpec};
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim};

const COMPANY: &str = "59c5bfd1-1803-4ca8-b43a-df083a5c60f9";
const APP_SECRET: &str = "leak-canary-app-client-secret-7d1c0e";
const ERP_CLIENT_ID: &str = "5E0B3F2A-9C1D-4E7F-8A6B-2C4D6E8F0A1B";
const ERP_CLIENT_SECRET: &str = "leak-canary-erp-client-secret-41b2";
const ERP_PASSWORD: &str = "leak-canary-erp-password-93fa";

/// A `MakeWriter` that keeps every log line in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

// A current-thread runtime: the thread-local subscriber sees every task.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_a_log_a_page_a_table_or_a_queue() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(platform::telemetry::filter_for("trace", "oauth_callback"))
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let concur = ConcurSim::start(ConcurApp::new("leak-client", APP_SECRET)).await;
    concur.sim.add_company(CompanySpec {
        uuid: COMPANY.into(),
        name: "Canary Corp".into(),
        datacenter: "emea".into(),
        marketing_name: "Standard Edition".into(),
    });
    let stack = TestStack::with_concur_app("leak-client", APP_SECRET, &concur.us_url()).await;
    let env = stack.env_of("OAuthCallbackFunction");
    let connector = QuickConnect::from_env(&env, &stack.aws()).unwrap();
    let mut pages = Vec::new();
    let mut open = async |token: &str| {
        let query = [("id", COMPANY), ("requestToken", token), ("userId", "canary-admin")];
        let response = oauth_callback::handle(&connector, get_request(&query)).await;
        pages.push(format!("{:?} {}", response.headers, body_text(&response)));
        response.status_code
    };

    // Quick Connect: first, refused (expired link), again.
    assert_eq!(open(&concur.sim.issue_request_token(COMPANY)).await, 200);
    let expired = concur.sim.issue_request_token(COMPANY);
    concur.sim.expire_request_token(&expired);
    assert_eq!(open(&expired).await, 400);
    assert_eq!(open(&concur.sim.issue_request_token(COMPANY)).await, 200);

    // The token manager as a worker uses it: a 401 mid-call, a rotation, a
    // refresh token near its end, then a dead one.
    let connection = stack
        .connections("ErpPosterFunction")
        .find_by_company(&CompanyUuid::parse(COMPANY).unwrap())
        .await
        .unwrap()
        .unwrap()
        .connection_id;
    let grants = stack.grant_store("ErpPosterFunction");
    let app = serde_json::from_value(serde_json::json!({
        "client_id": "leak-client", "client_secret": APP_SECRET, "app_base_url": concur.us_url()
    }))
    .unwrap();
    let http = transport::HttpClient::new(transport::build_client(Duration::from_secs(5)), Default::default());
    let client = ConcurClient::new(http);
    let tokens = TokenManager::new(client.clone(), app, grants, TokenOptions::default());
    let profile = |t| {
        let client = client.clone();
        async move { client.company_profile(&t).await }
    };
    tokens.with_token(&connection, profile).await.expect("first call refreshes");
    concur.sim.rotate_refresh_tokens_on_next_refresh(COMPANY);
    concur.sim.expire_access_tokens(COMPANY);
    tokens.with_token(&connection, profile).await.expect("401 → refresh (rotating) → retry");
    let soon = time::OffsetDateTime::now_utc().unix_timestamp() + 5 * 86_400;
    concur.sim.set_refresh_expiry(COMPANY, soon);
    concur.sim.expire_access_tokens(COMPANY);
    tokens.with_token(&connection, profile).await.expect("refresh flags the near expiry");
    concur.sim.revoke_refresh_tokens(COMPANY);
    concur.sim.expire_access_tokens(COMPANY);
    assert!(tokens.with_token(&connection, profile).await.is_err(), "a dead refresh token fails");

    // An operator stores ERP credentials, then shows, lists and tests the connection.
    let acumatica = AcumaticaSim::new();
    acumatica.add_tenant(TenantSpec {
        name: "Canary".into(),
        client_id: ERP_CLIENT_ID.into(),
        client_secret: ERP_CLIENT_SECRET.into(),
        users: vec![("canary-user".into(), ERP_PASSWORD.into())],
        branches: vec!["HQ".into()],
    });
    let acumatica = acumatica.start().await;
    let credentials = std::env::temp_dir().join(format!("leak-canary-{}.json", std::process::id()));
    std::fs::write(
        &credentials,
        serde_json::json!({
            "client_id": format!("{ERP_CLIENT_ID}@Canary"),
            "client_secret": ERP_CLIENT_SECRET,
            "username": "canary-user",
            "password": ERP_PASSWORD,
        })
        .to_string(),
    )
    .unwrap();
    let (url, file) = (acumatica.base_url(), credentials.display().to_string());
    let id = connection.as_str();
    let update =
        ["update", id, "--erp", "acumatica", "--erp-url", &url, "--tenant", "Canary", "--erp-credentials-file", &file];
    let mut operator_output = Vec::new();
    for args in [&update[..], &["show", id], &["show", id, "--json"], &["list", "--json"], &["test", id]] {
        let app_secret = format!("{}/concur-app", stack.stack_name());
        let mut full =
            vec!["connector", "--stack", stack.stack_name(), "--concur-app-secret", &app_secret, "connections"];
        full.extend_from_slice(args);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        operator::main_with(full, &mut out, &mut err).await;
        operator_output.push(format!("{}{}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&err)));
    }
    std::fs::remove_file(&credentials).unwrap();
    assert!(operator_output[0].contains("stored ERP credentials"), "{operator_output:?}");
    assert!(operator_output[4].contains("Acumatica sign-in"), "{operator_output:?}");

    // What anyone with read access to logs, tables or queues would see.
    let log_text = logs.text();
    assert!(log_text.contains("Concur company connected"), "logs were captured: {log_text}");
    assert!(log_text.lines().count() > 20, "a meaningful amount of logging was scanned");
    let mut haystacks = vec![("logs".to_owned(), log_text)];
    haystacks.extend(pages.iter().map(|p| ("page".to_owned(), p.clone())));
    haystacks.extend(operator_output.iter().map(|o| ("operator CLI output".to_owned(), o.clone())));
    for table in ["ConnectionsTable", "LedgerTable", "AuditTable"] {
        let items = stack.scan_table(table).await;
        haystacks.push((table.to_owned(), items.join("\n")));
    }
    for queue in ["WorkQueue", "WorkDeadLetterQueue"] {
        haystacks.push((queue.to_owned(), stack.peek_queue(queue).await.join("\n")));
    }
    assert!(haystacks.iter().any(|(name, text)| name == "ConnectionsTable" && text.contains("needs_reauth")));

    let canaries = concur.sim.issued_credentials();
    assert!(canaries.len() >= 8, "request, refresh and access tokens were issued: {}", canaries.len());
    let seeded = [APP_SECRET, ERP_CLIENT_SECRET, ERP_PASSWORD].map(str::to_owned);
    for canary in canaries.iter().chain(&seeded) {
        for (name, text) in &haystacks {
            assert!(!text.contains(canary.as_str()), "a secret value ({} chars) leaked into {name}", canary.len());
        }
    }
}
