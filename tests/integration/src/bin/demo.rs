//! The demo: the local stack as it stands, end to end where it exists.
//!
//! Run it with `tests/demo` (which starts moto). It provisions the stack's
//! tables, queues and secrets from infra/template.yaml, starts the Concur
//! simulator (US and EMEA datacenters) with a sandbox company whose READY
//! documents are Concur's official FI examples, performs the Quick Connect
//! token exchange the way App Center hands it to us, lists the READY
//! documents page by page, creates the sandbox connection, runs a poller
//! tick, and shows what the connect page answers today.

use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use concur::{fi::DocumentPage, token::TokenResponse};
use domain::{CompanyUuid, ConcurrencyLevel, Connection, ConnectionId, ConnectionStatus, DocumentType};
use integration::TestStack;
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim};
use transport::{HttpClient, Idempotency, RetryPolicy};

const COMPANY: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== 1. Local AWS stack (moto) provisioned from infra/template.yaml");
    let stack = TestStack::new().await;
    for (logical, name) in &stack.provisioned.tables {
        println!("   table  {logical:<18} {name}");
    }
    for (logical, url) in &stack.provisioned.queue_urls {
        println!("   queue  {logical:<18} {url}");
    }

    println!("\n== 2. Concur simulator: sandbox company with the official FI example documents");
    let concur = ConcurSim::start(ConcurApp::new("demo-client", "demo-secret")).await;
    concur.sim.add_company(CompanySpec {
        uuid: COMPANY.into(),
        name: "Sandbox Corp".into(),
        datacenter: "emea".into(),
        marketing_name: "CTE".into(),
    });
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/fi-examples");
    let mut loaded = 0;
    let mut names: Vec<_> = std::fs::read_dir(examples)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    names.sort();
    for path in names.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        loaded += concur.sim.load_fi_example(COMPANY, &std::fs::read_to_string(path)?)?.len();
    }
    println!("   US datacenter {}  EMEA datacenter {}", concur.us_url(), concur.emea_url());
    println!("   {loaded} example documents queued READY for company {COMPANY} (EMEA)");

    println!("\n== 3. Quick Connect token exchange (password grant, credtype=authtoken) at the app's datacenter");
    let http = HttpClient::new(transport::build_client(Duration::from_secs(10)), RetryPolicy::default());
    let request_token = concur.sim.issue_request_token(COMPANY);
    let token_url = format!("{}/oauth2/v0/token", concur.us_url());
    let response = http
        .send("Concur token", Idempotency::Safe, |c| {
            c.post(&token_url).form(&[
                ("client_id", "demo-client"),
                ("client_secret", "demo-secret"),
                ("grant_type", "password"),
                ("username", COMPANY),
                ("password", request_token.as_str()),
                ("credtype", "authtoken"),
            ])
        })
        .await?;
    let token: TokenResponse = response.json().await?;
    println!("   geolocation (base URL for every later call): {}", token.geolocation);
    println!("   access token: {:?}, expires in {} s", token.access_token, token.expires_in);

    println!("\n== 4. READY Financial Integration documents, every page, from the token's datacenter");
    println!("   {:<34} {:<12} {:<8} report / advance", "FI document id", "type", "status");
    for doc_type in DocumentType::ALL {
        let mut next = Some(format!(
            "{}/financialintegration/fi/v4/companies/transactiontypes/{doc_type}/transactions?limit=5",
            token.geolocation
        ));
        while let Some(url) = next.take() {
            let bearer = format!("Bearer {}", token.access_token.expose());
            let body = http
                .send("Concur FI", Idempotency::Safe, |c| c.get(&url).header("Authorization", &bearer))
                .await?
                .bytes()
                .await?;
            let page = DocumentPage::parse(&body)?;
            for d in &page.documents {
                let business_id = d.document["report"]["reportId"]
                    .as_str()
                    .or_else(|| d.document["cashAdvanceData"]["cashAdvanceId"].as_str())
                    .unwrap_or("-");
                println!(
                    "   {:<34} {:<12} {:<8} {}",
                    d.id,
                    d.doc_type,
                    d.doc_status.as_deref().unwrap_or("?"),
                    business_id
                );
            }
            next = page.next;
        }
    }

    println!("\n== 5. The sandbox connection in DynamoDB, and a scheduled-poller tick");
    let store = stack.connections("ScheduledPollerFunction");
    let now = "2026-11-23T10:00:00Z".to_owned();
    store
        .create(&Connection {
            company_uuid: Some(CompanyUuid::parse(COMPANY)?),
            status: ConnectionStatus::Active,
            geolocation: Some(token.geolocation.clone()),
            concurrency_level: ConcurrencyLevel::new(4)?,
            ..Connection::new(ConnectionId::parse("sandbox")?, "Sandbox Corp", None, &now)
        })
        .await?;
    let report = scheduled_poller::handle(&store).await?;
    println!("   connections due this tick: {:?}; skipped: {}", report.due, report.skipped.len());

    println!("\n== 6. What the connect page answers today");
    let mut request = ApiGatewayV2httpRequest::default();
    let query: std::collections::HashMap<String, String> =
        [("id", COMPANY), ("requestToken", "shown-to-nobody"), ("userId", "9bdded51")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    request.query_string_parameters = query.into();
    let page = oauth_callback::handle(&NotYet, request).await;
    println!("   HTTP {} — {}", page.status_code, title(&page));
    println!("\nDone. The ERP posting flow joins this demo as the pipeline lands (see README, Status).");
    Ok(())
}

struct NotYet;

impl oauth_callback::Connector for NotYet {
    async fn connect(&self, _: oauth_callback::ConnectRequest) -> oauth_callback::ConnectOutcome {
        oauth_callback::ConnectOutcome::NotAvailable
    }
}

fn title(r: &aws_lambda_events::apigw::ApiGatewayV2httpResponse) -> String {
    match &r.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => {
            t.split("<h1>").nth(1).and_then(|s| s.split("</h1>").next()).unwrap_or("").to_owned()
        }
        _ => String::new(),
    }
}
