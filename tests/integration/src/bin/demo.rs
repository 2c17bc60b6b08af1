//! The demo: the local stack as it stands, end to end where it exists.
//!
//! Run it with `tests/demo` (which starts moto). It provisions the stack's
//! tables, queues and secrets from infra/template.yaml, starts the Concur
//! simulator (US and EMEA datacenters) with a sandbox company whose READY
//! documents are Concur's official FI examples, runs the Quick Connect the
//! way the App Center hands it to us (the oauth-callback handler with its
//! real flow), shows the connection, secret, webhooks and sync it created,
//! lists the READY documents page by page through the token manager, and
//! runs a poller tick.

use std::time::Duration;

use concur::app::AppCredentials;
use concur::client::ConcurClient;
use concur::fi::DocumentPage;
use concur::tokens::{TokenManager, TokenOptions};
use domain::{CompanyUuid, DocumentType};
use integration::{TestStack, body_text, get_request};
use oauth_callback::quick_connect::QuickConnect;
use simulators::acumatica::{AcumaticaSim, TenantSpec};
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim, Grant, webhook};
use transport::{HttpClient, RetryPolicy};

const COMPANY: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";
const ADMIN: &str = "9bdded51-00b8-4f84-8bef-6d3afe727007";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== 1. Local AWS stack (moto) provisioned from infra/template.yaml");
    let concur = ConcurSim::start(ConcurApp::new("demo-client", "demo-secret")).await;
    let stack = TestStack::with_concur_app("demo-client", "demo-secret", &concur.us_url()).await;
    for (logical, name) in &stack.provisioned.tables {
        println!("   table  {logical:<18} {name}");
    }
    for (logical, url) in &stack.provisioned.queue_urls {
        println!("   queue  {logical:<18} {url}");
    }

    println!("\n== 2. Concur simulator: sandbox company with the official FI example documents");
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

    println!("\n== 3. Quick Connect: the admin clicks Connect in the Concur App Center");
    let request_token = concur.sim.issue_request_token(COMPANY);
    let link = [("id", COMPANY), ("requestToken", request_token.as_str()), ("userId", ADMIN)];
    println!("   browser → GET /concur/connect?id={COMPANY}&requestToken=…&userId={ADMIN}");
    let connector = QuickConnect::from_env(&stack.env_of("OAuthCallbackFunction"), &stack.sdk)?;
    let page = oauth_callback::handle(&connector, get_request(&link)).await;
    println!("   HTTP {} — {}", page.status_code, title(&page));
    println!("   page: {}", paragraphs(&page));

    println!("\n== 4. What the connect created");
    let store = stack.connections("ScheduledPollerFunction");
    let connection =
        store.find_by_company(&CompanyUuid::parse(COMPANY)?).await?.ok_or("the connect created no connection")?;
    let id = connection.connection_id.clone();
    println!("   connection {id}: status {:?}, edition {:?}", connection.status, connection.edition);
    println!("   Concur datacenter (from the token): {}", connection.geolocation.as_deref().unwrap_or("-"));
    println!("   refresh token expires: {}", connection.concur_refresh_expires_at.as_deref().unwrap_or("-"));
    for name in stack.connection_secret_names().await {
        println!("   secret {name} (value never printed)");
    }
    for subscription in concur.sim.subscriptions() {
        println!("   webhook subscription {} → {}", subscription.id, subscription.endpoint);
    }
    for message in stack.peek_queue("WorkQueue").await {
        println!("   queued: {message}");
    }

    println!("\n== 5. READY Financial Integration documents, every page, from the company's datacenter");
    let grants = stack.grant_store("ErpPosterFunction");
    let app: AppCredentials = serde_json::from_value(serde_json::json!({
        "client_id": "demo-client", "client_secret": "demo-secret", "app_base_url": concur.us_url()
    }))?;
    let http = HttpClient::new(transport::build_client(Duration::from_secs(10)), RetryPolicy::default());
    let tokens = TokenManager::new(ConcurClient::new(http), app, grants, TokenOptions::default());
    println!("   {:<34} {:<12} {:<8} report / advance", "FI document id", "type", "status");
    let mut webhook_report = String::new();
    for doc_type in DocumentType::ALL {
        let mut next =
            Some(format!("/financialintegration/fi/v4/companies/transactiontypes/{doc_type}/transactions?limit=5"));
        while let Some(path) = next.take() {
            let body: serde_json::Value = tokens
                .with_token(&id, |token| {
                    let client = tokens.client();
                    let path = path.clone();
                    async move { client.get_json(&token, &path).await }
                })
                .await?;
            let page = DocumentPage::parse(body.to_string().as_bytes())?;
            for d in &page.documents {
                if webhook_report.is_empty() && d.doc_type == "expense" {
                    webhook_report = d.business_id().unwrap_or_default().to_owned();
                }
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
            // Next links are absolute; the token manager adds the base URL itself.
            next = page.next.map(|url| {
                url.split_once("/financialintegration")
                    .map(|(_, rest)| format!("/financialintegration{rest}"))
                    .unwrap_or(url)
            });
        }
    }
    println!(
        "   Concur token calls: {} password (the connect), {} refresh (one, for all pages)",
        concur.sim.token_calls(COMPANY, Grant::Password),
        concur.sim.token_calls(COMPANY, Grant::RefreshToken)
    );

    println!("\n== 6. The operator finishes the ERP side with the CLI (an Acumatica sandbox tenant)");
    let acumatica = AcumaticaSim::new();
    acumatica.add_tenant(TenantSpec {
        name: "SandboxCorp".into(),
        client_id: "88358B02-A48D-A50E-F710-39C1636C30F6".into(),
        client_secret: "demo-acumatica-secret".into(),
        users: vec![("concur-connector".into(), "demo-acumatica-password".into())],
        branches: vec!["HQ".into()],
    });
    acumatica.add_vendor("SandboxCorp", "EMP0001", "Ann Employee", "Active");
    let acumatica = acumatica.start().await;
    let credentials = std::env::temp_dir().join(format!("demo-acumatica-{}.json", std::process::id()));
    std::fs::write(
        &credentials,
        serde_json::json!({
            "client_id": "88358B02-A48D-A50E-F710-39C1636C30F6@SandboxCorp",
            "client_secret": "demo-acumatica-secret",
            "username": "concur-connector",
            "password": "demo-acumatica-password",
        })
        .to_string(),
    )?;
    let erp_url = acumatica.base_url();
    let credentials_path = credentials.display().to_string();
    operator_cli(
        &stack,
        &[
            "connections",
            "update",
            id.as_str(),
            "--erp",
            "acumatica",
            "--erp-url",
            &erp_url,
            "--tenant",
            "SandboxCorp",
            "--erp-credentials-file",
            &credentials_path,
            "--concurrency",
            "4",
            "--schedule",
            "every 15m",
        ],
    )
    .await;
    std::fs::remove_file(&credentials)?;
    println!("   (refused on purpose: concurrency 26, and an ERP URL on a private address)");
    operator_cli(&stack, &["connections", "update", id.as_str(), "--concurrency", "26"]).await;
    operator_cli(&stack, &["connections", "update", id.as_str(), "--erp-url", "https://10.0.0.8/erp"]).await;
    operator_cli(&stack, &["connections", "show", id.as_str()]).await;
    operator_cli(&stack, &["connections", "test", id.as_str()]).await;

    println!("\n== 7. Concur pushes a webhook: report {webhook_report} was approved and is ready for payment");
    // The simulated ESS signs with the test key pair; the intake verifies
    // with its public key (in production: Concur's, the template default).
    let mut intake_env = stack.provisioned.function_env("EventIntakeFunction").clone();
    intake_env.insert("CONCUR_WEBHOOK_PUBLIC_KEY".into(), webhook::test_public_key_base64().into());
    let intake = event_intake::LiveIntake::from_env(&platform::Env::from_map(intake_env), &stack.sdk)?;
    let event = webhook::ExpenseStatusChanged::approved(COMPANY, &webhook_report);
    let (body, signature) = event.signed(&webhook::EssSigner::test_key());
    let answer = event_intake::handle(&intake, post_request(&body, Some(&signature))).await;
    println!(
        "   POST /concur/events (Concur-Signature: RSA-PSS SHA-256) → HTTP {} {}",
        answer.status_code,
        body_text(&answer)
    );
    let answer = event_intake::handle(&intake, post_request(&body, Some("Zm9yZ2Vk"))).await;
    println!("   the same body with a forged signature → HTTP {} {}", answer.status_code, body_text(&answer));
    let answer = event_intake::handle(&intake, post_request(&body, Some(&signature))).await;
    println!("   the same event delivered again → HTTP {} (deduplicated in the queue)", answer.status_code);

    println!("\n== 8. A scheduled-poller tick finds the READY documents (the webhook's report is not queued twice)");
    let poller = scheduled_poller::Poller::from_env(
        &stack.env_of("ScheduledPollerFunction"),
        &stack.sdk,
        scheduled_poller::PollerOptions::default(),
    )
    .await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let report = scheduled_poller::handle(&poller, time::OffsetDateTime::now_utc(), deadline).await?;
    println!("   connections due this tick: {:?}", report.due);
    for skipped in &report.skipped {
        println!("   skipped {}: {}", skipped.connection_id, skipped.reason);
    }
    for poll in &report.polls {
        println!(
            "   polled {}: {:?}, {} READY read, {} queued",
            poll.connection_id, poll.outcome, poll.read, poll.queued
        );
    }
    let mut documents = 0;
    for message in stack.drain_queue("WorkQueue").await {
        let body = message.split(" [group").next().unwrap_or_default();
        let Ok(item) = serde_json::from_str::<serde_json::Value>(body) else { continue };
        if item["kind"] == "reference_sync" {
            continue;
        }
        documents += 1;
        println!(
            "   queued {:<12} {:<34} via {:<8} [{}",
            item["document_type"].as_str().unwrap_or("?"),
            item["document_id"].as_str().unwrap_or("?"),
            item["source"].as_str().unwrap_or("?"),
            message.split(" [").nth(1).unwrap_or("]")
        );
    }
    println!(
        "   {documents} documents in the work queue, one message each (drained here: no poster runs in this demo yet)"
    );
    println!("\nDone. ERP posting joins this demo as the pipeline lands (README, Status).");
    Ok(())
}

/// Runs the operator CLI (`connector …`) against the demo's stack and
/// prints what an operator would see in a terminal.
async fn operator_cli(stack: &TestStack, args: &[&str]) {
    let app_secret = format!("{}/concur-app", stack.stack_name());
    let mut full = vec!["connector", "--stack", stack.stack_name(), "--concur-app-secret", app_secret.as_str()];
    full.extend_from_slice(args);
    println!("   $ connector --stack {} {}", stack.stack_name(), args.join(" "));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = operator::main_with(full, &mut out, &mut err).await;
    for line in String::from_utf8_lossy(&out).lines().chain(String::from_utf8_lossy(&err).lines()) {
        println!("     {line}");
    }
    if code != 0 {
        println!("     (exit code {code})");
    }
}

/// An API Gateway HTTP API POST as ESS's delivery becomes.
fn post_request(body: &[u8], signature: Option<&str>) -> aws_lambda_events::apigw::ApiGatewayV2httpRequest {
    let mut request = aws_lambda_events::apigw::ApiGatewayV2httpRequest::default();
    request.body = Some(String::from_utf8_lossy(body).into_owned());
    request.headers.insert("content-type", "application/json".parse().expect("a valid header value"));
    if let Some(signature) = signature {
        request.headers.insert("concur-signature", signature.parse().expect("base64 is a valid header value"));
    }
    request
}

fn title(r: &aws_lambda_events::apigw::ApiGatewayV2httpResponse) -> String {
    between(&body_text(r), "<h1>", "</h1>").into_iter().next().unwrap_or_default()
}

/// The page's paragraphs as plain text.
fn paragraphs(r: &aws_lambda_events::apigw::ApiGatewayV2httpResponse) -> String {
    let text = between(&body_text(r), "<p>", "</p>").join(" ");
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    plain.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

fn between(text: &str, open: &str, close: &str) -> Vec<String> {
    text.split(open).skip(1).filter_map(|s| s.split(close).next()).map(str::to_owned).collect()
}
