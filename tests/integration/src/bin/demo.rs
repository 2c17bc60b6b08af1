//! The demo: the local stack as it stands, end to end where it exists.
//!
//! Run it with `tests/demo` (which starts moto). It provisions the stack's
//! tables, queues and secrets from infra/template.yaml, starts the Concur
//! simulator (US and EMEA datacenters) with a sandbox company whose READY
//! documents are Concur's official FI examples, runs the Quick Connect the
//! way the App Center hands it to us (the oauth-callback handler with its
//! real flow), shows the connection, secret, webhooks and sync it created,
//! lists the READY documents page by page through the token manager, sets
//! up the Acumatica side and the mapping with the operator CLI, takes a
//! signed webhook and a poller tick, and lets erp-poster post every
//! document into the Acumatica simulator and confirm it back to Concur: a
//! table per document, a failure fixed by a replay, a duplicate prevented,
//! and one document's audit trail. Two more tenants post into Acumatica
//! through Concur's files (issue 15) rather than Financial Integration: a
//! Standard-edition company through its payment batches, a Professional one
//! through an OpenPGP-encrypted extract file. `--json` prints a summary object.

use std::time::Duration;

use concur::app::AppCredentials;
use concur::client::ConcurClient;
use concur::fi::DocumentPage;
use concur::tokens::{TokenManager, TokenOptions};
use domain::posting_source::SourceChoice;
use domain::{CompanyUuid, DocumentType};
use file_intake::{FileIntake, IntakeOptions, Taken};
use integration::{TestStack, body_text, get_request, posting};
use oauth_callback::quick_connect::QuickConnect;
use platform::files::keyring_secret_id;
use simulators::acumatica::AcumaticaSim;
use simulators::concur::{
    CompanySpec, Completion, ConcurApp, ConcurSim, DefinitionKind, ExtractDefinitionSpec, Grant, PaymentBatchStatus,
    webhook,
};
use transport::{HttpClient, RetryPolicy};

const COMPANY: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";
const ADMIN: &str = "9bdded51-00b8-4f84-8bef-6d3afe727007";
/// The second sandbox company, posting into IFS Cloud.
const IFS_COMPANY_UUID: &str = "3f2b6c1e-7a4d-4e5f-9b8a-1c2d3e4f5a6b";
/// The third sandbox company, posting into Infor through ION.
const INFOR_COMPANY_UUID: &str = "6a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
/// The fourth sandbox company, Standard edition, posting through its payment batches.
const STANDARD_COMPANY_UUID: &str = "b7e4d2a1-5c3f-4e8a-9d6b-2f1a0c9e8d7b";
/// The fifth sandbox company, Professional edition, posting through an encrypted extract file.
const EXTRACT_COMPANY_UUID: &str = "d4c3b2a1-9e8f-4a7b-8c6d-5e4f3a2b1c0d";

/// `--json`: the narrative goes to stderr, stdout gets only the summary object.
static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn json_mode() -> bool {
    JSON.load(std::sync::atomic::Ordering::Relaxed)
}

/// Prints a line of the narrative (to stderr in `--json` mode).
macro_rules! say {
    ($($arg:tt)*) => {
        if json_mode() { eprintln!($($arg)*) } else { println!($($arg)*) }
    };
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("--json") => JSON.store(true, std::sync::atomic::Ordering::Relaxed),
        Some(other) => return Err(format!("unknown argument {other} (the demo takes only --json)").into()),
    }
    // The functions' CloudWatch metrics (EMF lines) are kept, not printed
    // between the steps; step 20 sums them up.
    let metrics = platform::telemetry::capture();
    say!("== 1. Local AWS stack (moto) provisioned from infra/template.yaml");
    let concur = ConcurSim::start(ConcurApp::new("demo-client", "demo-secret")).await;
    let stack = TestStack::with_concur_app("demo-client", "demo-secret", &concur.us_url()).await;
    for (logical, name) in &stack.provisioned.tables {
        say!("   table  {logical:<18} {name}");
    }
    for (logical, url) in &stack.provisioned.queue_urls {
        say!("   queue  {logical:<18} {url}");
    }

    say!("\n== 2. Concur simulator: sandbox company with the official FI example documents");
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
    say!("   US datacenter {}  EMEA datacenter {}", concur.us_url(), concur.emea_url());
    say!("   {loaded} example documents queued READY for company {COMPANY} (EMEA)");

    say!("\n== 3. Quick Connect: the admin clicks Connect in the Concur App Center");
    let request_token = concur.sim.issue_request_token(COMPANY);
    let link = [("id", COMPANY), ("requestToken", request_token.as_str()), ("userId", ADMIN)];
    say!("   browser → GET /concur/connect?id={COMPANY}&requestToken=…&userId={ADMIN}");
    let connector = QuickConnect::from_env(&stack.env_of("OAuthCallbackFunction"), &stack.aws())?;
    let page = oauth_callback::handle(&connector, get_request(&link)).await;
    say!("   HTTP {} — {}", page.status_code, title(&page));
    say!("   page: {}", paragraphs(&page));

    say!("\n== 4. What the connect created");
    let store = stack.connections("ScheduledPollerFunction");
    let connection =
        store.find_by_company(&CompanyUuid::parse(COMPANY)?).await?.ok_or("the connect created no connection")?;
    let id = connection.connection_id.clone();
    say!("   connection {id}: status {:?}, edition {:?}", connection.status, connection.edition);
    say!("   Concur datacenter (from the token): {}", connection.geolocation.as_deref().unwrap_or("-"));
    say!("   refresh token expires: {}", connection.concur_refresh_expires_at.as_deref().unwrap_or("-"));
    for name in stack.connection_secret_names().await {
        say!("   secret {name} (value never printed)");
    }
    for subscription in concur.sim.subscriptions() {
        say!("   webhook subscription {} → {}", subscription.id, subscription.endpoint);
    }
    for message in stack.peek_queue("WorkQueue").await {
        say!("   queued: {message}");
    }

    say!("\n== 5. READY Financial Integration documents, every page, from the company's datacenter");
    let grants = stack.grant_store("ErpPosterFunction");
    let app: AppCredentials = serde_json::from_value(serde_json::json!({
        "client_id": "demo-client", "client_secret": "demo-secret", "app_base_url": concur.us_url()
    }))?;
    let http = HttpClient::new(transport::build_client(Duration::from_secs(10)), RetryPolicy::default());
    let tokens = TokenManager::new(ConcurClient::new(http), app, grants, TokenOptions::default());
    say!("   {:<34} {:<12} {:<8} report / advance", "FI document id", "type", "status");
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
                let business_id = d.business_id().unwrap_or("-");
                say!(
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
    say!(
        "   Concur token calls: {} password (the connect), {} refresh (one, for all pages)",
        concur.sim.token_calls(COMPANY, Grant::Password),
        concur.sim.token_calls(COMPANY, Grant::RefreshToken)
    );

    say!("\n== 6. The operator finishes the ERP side with the CLI (an Acumatica sandbox tenant)");
    let acumatica_sim = AcumaticaSim::new();
    posting::seed_acumatica(&acumatica_sim);
    let acumatica = acumatica_sim.clone().start().await;
    let credentials = acumatica_credentials_file("first")?;
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
            posting::TENANT,
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
    say!("   (refused on purpose: concurrency 26, and an ERP URL on a private address)");
    operator_cli(&stack, &["connections", "update", id.as_str(), "--concurrency", "26"]).await;
    operator_cli(&stack, &["connections", "update", id.as_str(), "--erp-url", "https://10.0.0.8/erp"]).await;
    operator_cli(&stack, &["connections", "show", id.as_str()]).await;
    operator_cli(&stack, &["connections", "test", id.as_str()]).await;
    // The first mapping forgets the German laundry account (Concur 37): that
    // document will stop with its reason, and be replayed once it is fixed.
    let full_mapping = posting::example_mapping_text();
    let first_mapping = full_mapping.replace("  \"37\": \"61900\"         # laundry (DE)\n", "");
    let mapping_file = std::env::temp_dir().join(format!("demo-mapping-{}.yaml", std::process::id()));
    std::fs::write(&mapping_file, &first_mapping)?;
    let mapping_path = mapping_file.display().to_string();
    operator_cli(&stack, &["mapping", "import", id.as_str(), &mapping_path]).await;

    say!("\n== 7. Concur pushes a webhook: report {webhook_report} was approved and is ready for payment");
    // The simulated ESS signs with the test key pair; the intake verifies
    // with its public key (in production: Concur's, the template default).
    let mut intake_env = stack.provisioned.function_env("EventIntakeFunction").clone();
    intake_env.insert("CONCUR_WEBHOOK_PUBLIC_KEY".into(), webhook::test_public_key_base64().into());
    let intake = event_intake::LiveIntake::from_env(&platform::Env::from_map(intake_env), &stack.aws())?;
    let event = webhook::ExpenseStatusChanged::approved(COMPANY, &webhook_report);
    let (body, signature) = event.signed(&webhook::EssSigner::test_key());
    let answer = event_intake::handle(&intake, post_request(&body, Some(&signature))).await;
    say!(
        "   POST /concur/events (Concur-Signature: RSA-PSS SHA-256) → HTTP {} {}",
        answer.status_code,
        body_text(&answer)
    );
    let answer = event_intake::handle(&intake, post_request(&body, Some("Zm9yZ2Vk"))).await;
    say!("   the same body with a forged signature → HTTP {} {}", answer.status_code, body_text(&answer));
    let answer = event_intake::handle(&intake, post_request(&body, Some(&signature))).await;
    say!("   the same event delivered again → HTTP {} (deduplicated in the queue)", answer.status_code);

    say!("\n== 8. A scheduled-poller tick finds the READY documents (the webhook's report is not queued twice)");
    let poller = scheduled_poller::Poller::from_env(
        &stack.env_of("ScheduledPollerFunction"),
        &stack.aws(),
        scheduled_poller::PollerOptions::default(),
    )
    .await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let report = scheduled_poller::handle(&poller, time::OffsetDateTime::now_utc(), deadline).await?;
    for poll in &report.polls {
        say!(
            "   polled {}: {:?}, {} READY read, {} queued",
            poll.connection_id,
            poll.outcome,
            poll.read,
            poll.queued()
        );
    }

    say!("\n== 9. erp-poster consumes the work queue: claim → fetch → acknowledge → normalize → map → post → confirm");
    let poster = erp_poster::Poster::from_env(
        &stack.env_of("ErpPosterFunction"),
        &stack.aws(),
        erp_poster::PosterOptions::default(),
    )
    .await?;
    let queue_url = stack.work_queue_url("ErpPosterFunction");
    let consumed = posting::consume_queue(&stack, &poster, &queue_url).await?;
    say!("   {} messages handled: {:?}", consumed.messages, consumed.outcome);

    say!("\n== 10. The failed document: listed, the mapping fixed, replayed");
    operator_cli(&stack, &["documents", "failed", id.as_str()]).await;
    std::fs::write(&mapping_file, &full_mapping)?;
    operator_cli(&stack, &["mapping", "import", id.as_str(), &mapping_path]).await;
    std::fs::remove_file(&mapping_file)?;
    operator_cli(&stack, &["documents", "replay", id.as_str(), "--failed"]).await;
    let consumed = posting::consume_queue(&stack, &poster, &queue_url).await?;
    say!("   {} message handled: {:?}", consumed.messages, consumed.outcome);

    say!("\n== 11. Concur re-sends the webhook of report {webhook_report}, already posted");
    let answer = event_intake::handle(&intake, post_request(&body, Some(&signature))).await;
    say!("   POST /concur/events → HTTP {}", answer.status_code);
    // Real SQS drops a repeat within its 5-minute deduplication window; the
    // local moto delivers it, and after the window SQS would too: either way
    // the ledger recognises the document. An operator's replay of a posted
    // document is recognised the same way.
    operator_cli(&stack, &["documents", "replay", id.as_str(), "--document", &format!("expense:{webhook_report}")])
        .await;
    let consumed = posting::consume_queue(&stack, &poster, &queue_url).await?;
    say!("   {} message handled: {:?}", consumed.messages, consumed.outcome);

    say!("\n== 12. Every document: Concur → Acumatica");
    let mut summary = summarize(&stack, &id).await?;
    print_table(&summary.rows);
    say!(
        "   Acumatica holds {} bills / debit adjustments and {} journal transactions; Concur received {} posting confirmations",
        acumatica_sim.bills(posting::TENANT).len(),
        acumatica_sim.journal_transactions(posting::TENANT).len(),
        concur.sim.posting_confirmations(COMPANY).len()
    );

    say!("\n== 13. The audit trail of report {webhook_report}");
    operator_cli(&stack, &["documents", "history", id.as_str(), "expense", &webhook_report]).await;

    say!("\n== 14. A second sandbox tenant on IFS Cloud, polled daily; its Concur documents stay read-only");
    concur.sim.add_company(CompanySpec {
        uuid: IFS_COMPANY_UUID.into(),
        name: "Nordic Sandbox AB".into(),
        datacenter: "us".into(),
        marketing_name: "CTE".into(),
    });
    let mut ifs_fi_ids = Vec::new();
    for path in names.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        ifs_fi_ids.extend(concur.sim.load_fi_example(IFS_COMPANY_UUID, &std::fs::read_to_string(path)?)?);
    }
    let request_token = concur.sim.issue_request_token(IFS_COMPANY_UUID);
    let link = [("id", IFS_COMPANY_UUID), ("requestToken", request_token.as_str()), ("userId", ADMIN)];
    let page = oauth_callback::handle(&connector, get_request(&link)).await;
    say!("   Quick Connect of {IFS_COMPANY_UUID} → HTTP {} — {}", page.status_code, title(&page));
    let ifs_connection = store
        .find_by_company(&CompanyUuid::parse(IFS_COMPANY_UUID)?)
        .await?
        .ok_or("the second connect created no connection")?;
    let ifs_id = ifs_connection.connection_id.clone();
    let ifs_sim = simulators::ifs::IfsSim::new();
    posting::seed_ifs(&ifs_sim);
    let ifs = ifs_sim.clone().start().await;
    let ifs_credentials = std::env::temp_dir().join(format!("demo-ifs-{}.json", std::process::id()));
    std::fs::write(
        &ifs_credentials,
        serde_json::json!({ "client_id": posting::IFS_CLIENT.0, "client_secret": posting::IFS_CLIENT.1 }).to_string(),
    )?;
    let ifs_url = ifs.base_url();
    let ifs_credentials_path = ifs_credentials.display().to_string();
    operator_cli(
        &stack,
        &[
            "connections",
            "update",
            ifs_id.as_str(),
            "--erp",
            "ifs_cloud",
            "--erp-url",
            &ifs_url,
            "--namespace",
            posting::IFS_NAMESPACE,
            "--ifs-company",
            posting::IFS_COMPANY,
            "--erp-credentials-file",
            &ifs_credentials_path,
            "--schedule",
            "daily 06:00",
            "--confirm-postings",
            "false",
        ],
    )
    .await;
    std::fs::remove_file(&ifs_credentials)?;
    let ifs_mapping_file = std::env::temp_dir().join(format!("demo-mapping-ifs-{}.yaml", std::process::id()));
    std::fs::write(&ifs_mapping_file, posting::example_mapping_text_for(domain::ErpKind::IfsCloud))?;
    operator_cli(&stack, &["mapping", "import", ifs_id.as_str(), &ifs_mapping_file.display().to_string()]).await;
    std::fs::remove_file(&ifs_mapping_file)?;
    operator_cli(&stack, &["connections", "test", ifs_id.as_str()]).await;
    // The schedule's next 06:00 UTC: the demo moves the clock there instead of waiting.
    let now = time::OffsetDateTime::now_utc();
    let six = now.replace_time(time::macros::time!(06:00));
    let next_six = if six > now { six } else { six + time::Duration::days(1) };
    let report =
        scheduled_poller::handle(&poller, next_six, std::time::Instant::now() + Duration::from_secs(60)).await?;
    let stamp = next_six.format(&time::format_description::well_known::Rfc3339)?;
    say!("   scheduler tick at {stamp} (the daily run): due {:?}", report.due);
    for poll in &report.polls {
        say!(
            "   polled {}: {:?}, {} READY read, {} queued",
            poll.connection_id,
            poll.outcome,
            poll.read,
            poll.queued()
        );
    }
    let consumed = posting::consume_queue(&stack, &poster, &queue_url).await?;
    say!("   erp-poster: {} messages handled: {:?}", consumed.messages, consumed.outcome);
    let ifs_summary = summarize(&stack, &ifs_id).await?;
    print_table(&ifs_summary.rows);
    ifs_fi_ids.sort();
    ifs_fi_ids.dedup();
    let still_ready = ifs_fi_ids
        .iter()
        .filter(|fi| concur.sim.document_status(IFS_COMPANY_UUID, fi) == Some(simulators::concur::DocStatus::Ready))
        .count();
    say!(
        "   IFS company {} holds {} supplier invoices and {} vouchers (company 20: {}); in Concur {still_ready} of {} documents are still READY: nothing was acknowledged or confirmed",
        posting::IFS_COMPANY,
        ifs_sim.invoices(posting::IFS_COMPANY).len(),
        ifs_sim.vouchers(posting::IFS_COMPANY).len(),
        ifs_sim.invoices("20").len() + ifs_sim.vouchers("20").len(),
        ifs_fi_ids.len()
    );
    let unguarded = ifs_sim
        .writes()
        .iter()
        .filter(|w| {
            (w.method == "PATCH" || w.method == "DELETE")
                && (w.if_match.is_none() || (!w.was_current && w.status != 412))
        })
        .count();
    say!("   PATCH/DELETE calls without the current ETag: {unguarded}");
    say!(
        "   The next daily run finds the same READY documents again (Concur is not written to); the ledger stops them:"
    );
    let report = scheduled_poller::handle(
        &poller,
        next_six + time::Duration::days(1),
        std::time::Instant::now() + Duration::from_secs(60),
    )
    .await?;
    for poll in report.polls.iter().filter(|p| p.connection_id == ifs_id.as_str()) {
        say!(
            "   polled {}: {:?}, {} READY read, {} queued",
            poll.connection_id,
            poll.outcome,
            poll.read,
            poll.queued()
        );
    }
    let consumed = posting::consume_queue(&stack, &poster, &queue_url).await?;
    say!("   erp-poster: {} messages handled: {:?}", consumed.messages, consumed.outcome);
    let ifs_summary = summarize(&stack, &ifs_id).await?;

    say!("\n== 15. A third sandbox tenant on Infor CloudSuite through ION, driven by Concur's webhooks");
    concur.sim.add_company(CompanySpec {
        uuid: INFOR_COMPANY_UUID.into(),
        name: "Midwest Sandbox Inc".into(),
        datacenter: "us".into(),
        marketing_name: "CTE".into(),
    });
    for path in names.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        concur.sim.load_fi_example(INFOR_COMPANY_UUID, &std::fs::read_to_string(path)?)?;
    }
    let request_token = concur.sim.issue_request_token(INFOR_COMPANY_UUID);
    let link = [("id", INFOR_COMPANY_UUID), ("requestToken", request_token.as_str()), ("userId", ADMIN)];
    let page = oauth_callback::handle(&connector, get_request(&link)).await;
    say!("   Quick Connect of {INFOR_COMPANY_UUID} → HTTP {} — {}", page.status_code, title(&page));
    let infor_id = store
        .find_by_company(&CompanyUuid::parse(INFOR_COMPANY_UUID)?)
        .await?
        .ok_or("the third connect created no connection")?
        .connection_id;
    let infor_sim = simulators::infor::InforSim::new();
    let infor = infor_sim.clone().start().await;
    posting::seed_infor(&infor_sim);
    let ionapi_file = std::env::temp_dir().join(format!("demo-{}.ionapi", std::process::id()));
    std::fs::write(&ionapi_file, infor_sim.ionapi_file(&infor.base_url(), posting::INFOR_TENANT).to_string())?;
    let ionapi_path = ionapi_file.display().to_string();
    operator_cli(
        &stack,
        &[
            "connections",
            "update",
            infor_id.as_str(),
            "--erp",
            "infor",
            "--erp-credentials-file",
            &ionapi_path,
            "--ion-logical-id",
            posting::INFOR_LOGICAL_ID,
            "--ion-accounting-entity",
            posting::INFOR_ENTITY,
            "--ion-functional-currency",
            "USD",
            "--ion-functional-rates",
            "GBP=1.27,CAD=0.73,EUR=1.08",
            "--document-types",
            "expense,invoice",
            "--schedule",
            "weekly mon 06:00",
        ],
    )
    .await;
    std::fs::remove_file(&ionapi_file)?;
    let infor_mapping_file = std::env::temp_dir().join(format!("demo-mapping-infor-{}.yaml", std::process::id()));
    std::fs::write(&infor_mapping_file, posting::example_mapping_text_for(domain::ErpKind::Infor))?;
    operator_cli(&stack, &["mapping", "import", infor_id.as_str(), &infor_mapping_file.display().to_string()]).await;
    std::fs::remove_file(&infor_mapping_file)?;
    operator_cli(&stack, &["connections", "test", infor_id.as_str()]).await;
    // ION's side of the connection point: our inbox URL and the token the CLI created.
    let inbox = integration::ion::serve_inbox(&stack).await;
    let token: serde_json::Value = stack
        .secrets()
        .get_json(&format!("{}/connections/{infor_id}/ion-inbox", stack.stack_name()))
        .await?
        .ok_or("the CLI created no inbox token")?;
    infor_sim.set_callback(posting::INFOR_TENANT, &format!("{}/ion/{infor_id}", inbox.base_url()));
    infor_sim.set_callback_token(posting::INFOR_TENANT, token["token"].as_str().unwrap_or_default());
    say!("   ION configured to send its verdicts to {}/ion/{infor_id}/v3/multipartMessage", inbox.base_url());
    let reports: Vec<String> = posting::example_work_items(&infor_id, domain::WorkSource::Webhook)
        .into_iter()
        .filter(|(_, item)| item.document_type == DocumentType::Expense)
        .map(|(_, item)| item.document_id.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut accepted = 0;
    for report in &reports {
        // ESS delivers at least once: every event arrives twice here.
        for _ in 0..2 {
            let event = webhook::ExpenseStatusChanged::approved(INFOR_COMPANY_UUID, report);
            let (body, signature) = event.signed(&webhook::EssSigner::test_key());
            let answer = event_intake::handle(&intake, post_request(&body, Some(&signature))).await;
            accepted += usize::from(answer.status_code == 202);
        }
    }
    say!("   {} approved reports, each webhook delivered twice: {accepted} deliveries accepted (202)", reports.len());
    let consumed = posting::consume_queue(&stack, &poster, &queue_url).await?;
    say!(
        "   erp-poster sent the BODs to ION (2xx = accepted for routing) and handled ION's verdicts as they came back: {} messages, {:?}",
        consumed.messages,
        consumed.outcome
    );
    infor_sim.flush_callbacks().await;
    let delivered = infor_sim.deliveries(posting::INFOR_TENANT).len();
    let consumed = posting::consume_queue(&stack, &poster, &queue_url).await?;
    say!(
        "   ION pushed {delivered} acknowledgements and ConfirmBODs to ion-inbox; the last {} verdict messages handled: {:?}",
        consumed.messages,
        consumed.outcome
    );
    let infor_summary = summarize(&stack, &infor_id).await?;
    print_table(&infor_summary.rows);
    let received = infor_sim.received(posting::INFOR_TENANT);
    let duplicates =
        received.iter().filter(|m| matches!(m.status, simulators::infor::ReceivedStatus::Duplicate { .. })).count();
    say!(
        "   Infor holds {} journals and {} supplier invoices; ION received {} BODs, {duplicates} of them duplicates; Concur received {} posting confirmations",
        infor_sim.journals(posting::INFOR_TENANT).len(),
        infor_sim.supplier_invoices(posting::INFOR_TENANT).len(),
        received.len(),
        concur.sim.posting_confirmations(INFOR_COMPANY_UUID).len()
    );

    say!("\n== 16. Reference data: each tenant's vendors and a cost-object list into Concur, twice;");
    say!("   the IFS Cloud tenant also takes the vendors created in Concur, whose names and addresses Concur owns");
    let acumatica_sync = reference_sync(&stack, &concur.sim, &poster, &id, COMPANY, "subaccounts").await?;
    let mut ifs_sync = reference_sync(&stack, &concur.sim, &poster, &ifs_id, IFS_COMPANY_UUID, "code_part:B").await?;
    ifs_sync["vendors_to_erp"] = vendors_from_concur(&stack, &concur.sim, &poster, &ifs_id, IFS_COMPANY_UUID).await?;
    let created = ifs_sim.suppliers().into_iter().filter(|s| s["SupplierId"] == "V-CONCUR-1").count();
    say!("   IFS Cloud holds {created} supplier V-CONCUR-1 (created in Concur)");
    let infor_sync = reference_sync(&stack, &concur.sim, &poster, &infor_id, INFOR_COMPANY_UUID, "accounts").await?;
    let syncs = [acumatica_sync, ifs_sync, infor_sync];

    say!("\n== 17. A fourth tenant, Standard edition (no Financial Integration), posting through payment batches");
    let standard = FileTenant {
        company: STANDARD_COMPANY_UUID,
        name: "Prairie Sandbox LLC",
        marketing_name: "Standard Edition",
        choice: SourceChoice::PaymentBatch,
    };
    let (standard_id, standard_sim, _standard_erp) =
        file_tenant(&stack, &concur.sim, &connector, &names, &standard).await?;
    // Concur closes a batch asynchronously; here the close is done by the next batch list read.
    concur.sim.set_batch_close_completion(STANDARD_COMPANY_UUID, Completion::AfterReads(1));
    print_batches(&concur.sim, STANDARD_COMPANY_UUID);
    let intake =
        FileIntake::from_env(&stack.env_of("FileIntakeFunction"), &stack.aws(), IntakeOptions::default()).await?;
    let mut batches_taken = std::collections::BTreeSet::new();
    let (mut closed, mut queued) = (0, 0);
    for round in 1..=5 {
        let run = intake.take_from_concur(&standard_id).await?;
        say!(
            "   file-intake run {round}: {} batches asked to close, {} batch files taken",
            run.batches_closed,
            run.files.len()
        );
        closed += run.batches_closed;
        for (key, taken) in &run.files {
            say!("     {} → {}", key.label(), shown_taken(taken));
            queued += queued_documents(taken);
            batches_taken.insert(key.record_key());
        }
        let waiting = concur
            .sim
            .payment_batches(STANDARD_COMPANY_UUID)
            .iter()
            .filter(|b| !b.documents.is_empty() && !batches_taken.contains(&format!("batch:{}", b.batch_id)))
            .count();
        if waiting == 0 {
            break;
        }
    }
    print_batches(&concur.sim, STANDARD_COMPANY_UUID);
    let consumed = posting::consume_queue(&stack, &poster, &queue_url).await?;
    say!(
        "   erp-poster: {} messages handled{}: {:?}",
        consumed.messages,
        besides(consumed.messages, queued),
        consumed.outcome
    );
    let standard_summary = summarize_files(&stack, &standard_id, &concur.sim, STANDARD_COMPANY_UUID).await?;
    print_table(&standard_summary.rows);
    say!(
        "   {closed} batches closed, {} batch files taken, {queued} documents queued, {} posted; its Acumatica holds {} bills / debit adjustments and {} journal transactions; Concur received {} posting confirmations (files are read-only)",
        batches_taken.len(),
        standard_summary.posted(),
        standard_sim.bills(posting::TENANT).len(),
        standard_sim.journal_transactions(posting::TENANT).len(),
        concur.sim.posting_confirmations(STANDARD_COMPANY_UUID).len()
    );
    if batches_taken.is_empty() || standard_summary.posted() != queued {
        return Err(format!("the payment batches posted {} of {queued} documents", standard_summary.posted()).into());
    }
    let again = intake.take_from_concur(&standard_id).await?;
    let consumed = posting::consume_queue(&stack, &poster, &queue_url).await?;
    say!(
        "   file-intake again: {} batches asked to close, {} files taken; erp-poster: {} messages",
        again.batches_closed,
        again.files.len(),
        consumed.messages
    );
    if !again.files.is_empty() || consumed.messages != 0 {
        return Err("a second payment-batch run took files again".into());
    }

    say!("\n== 18. A fifth tenant, Professional edition, posting through an encrypted extract file");
    let professional = FileTenant {
        company: EXTRACT_COMPANY_UUID,
        name: "Cascade Sandbox GmbH",
        marketing_name: "CTE",
        choice: SourceChoice::Extract,
    };
    let (extract_id, extract_sim, _extract_erp) =
        file_tenant(&stack, &concur.sim, &connector, &names, &professional).await?;
    let (secret_key, public_key) = files::generate_key("Cascade Sandbox AP <ap@cascade.example>", Some(365))?;
    let fingerprint =
        files::Keyring::from_armored(&[files::KeySource::new(&secret_key)])?.keys()[0].fingerprint.clone();
    say!("   OpenPGP key {fingerprint} generated (expires in 365 days)");
    let key_file = std::env::temp_dir().join(format!("demo-key-{extract_id}-{}.asc", std::process::id()));
    std::fs::write(&key_file, &secret_key)?;
    operator_cli(&stack, &["keys", "add", extract_id.as_str(), "--file", &key_file.display().to_string()]).await;
    std::fs::remove_file(&key_file)?;
    let prefix = stack.env_of("FileIntakeFunction").required("CONNECTION_SECRET_PREFIX")?;
    let keyring_id = keyring_secret_id(&prefix, &extract_id);
    say!("   secret {keyring_id} holds its private part (value never printed); Concur encrypts to its public part");
    concur.sim.set_extract_file_transform(
        EXTRACT_COMPANY_UUID,
        Some(Box::new(move |bytes| files::encrypt_to(&public_key, &bytes).expect("the demo key encrypts"))),
    );
    let definitions = concur.sim.set_extract_definitions(
        EXTRACT_COMPANY_UUID,
        vec![ExtractDefinitionSpec::new("Standard Accounting Extract", DefinitionKind::Sae)],
    );
    let job = concur.sim.run_scheduled_job(EXTRACT_COMPANY_UUID, &definitions[0])?;
    let carried = concur
        .sim
        .extract_jobs(EXTRACT_COMPANY_UUID, &definitions[0])
        .into_iter()
        .find(|j| j.id == job)
        .map(|j| j.documents.len())
        .unwrap_or_default();
    say!("   Concur's schedule ran extract job {job} (Standard Accounting Extract): {carried} documents, encrypted");
    let run = intake.take_from_concur(&extract_id).await?;
    let mut queued = 0;
    let audit = stack.audit("ErpPosterFunction");
    let mut decrypted_with = Vec::new();
    for (key, taken) in &run.files {
        say!("   file-intake: {} → {}", key.label(), shown_taken(taken));
        queued += queued_documents(taken);
        for event in audit.history(&format!("{extract_id}#file#{}", key.record_key())).await? {
            if event.step == "taken" {
                let detail = event.detail.unwrap_or_default();
                say!("   audit file#{}: taken, {detail}", key.record_key());
                decrypted_with.extend(detail.split("decrypted with key ").nth(1).map(|rest| {
                    rest.split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or_default().to_owned()
                }));
            }
        }
    }
    if run.files.len() != 1 || decrypted_with != [fingerprint.clone()] {
        return Err(format!("the extract file was not decrypted with key {fingerprint}: {decrypted_with:?}").into());
    }
    say!("   the file was decrypted with key {fingerprint}, the connection's key");
    let consumed = posting::consume_queue(&stack, &poster, &queue_url).await?;
    say!(
        "   erp-poster: {} messages handled{}: {:?}",
        consumed.messages,
        besides(consumed.messages, queued),
        consumed.outcome
    );
    let extract_summary = summarize_files(&stack, &extract_id, &concur.sim, EXTRACT_COMPANY_UUID).await?;
    print_table(&extract_summary.rows);
    say!(
        "   {queued} documents queued, {} posted; its Acumatica holds {} bills / debit adjustments and {} journal transactions; Concur received {} posting confirmations (files are read-only)",
        extract_summary.posted(),
        extract_sim.bills(posting::TENANT).len(),
        extract_sim.journal_transactions(posting::TENANT).len(),
        concur.sim.posting_confirmations(EXTRACT_COMPANY_UUID).len()
    );
    if extract_summary.posted() != queued {
        return Err(format!("the extract file posted {} of {queued} documents", extract_summary.posted()).into());
    }
    let bills = extract_sim.bills(posting::TENANT).len() + extract_sim.journal_transactions(posting::TENANT).len();
    let again = intake.take_from_concur(&extract_id).await?;
    let consumed = posting::consume_queue(&stack, &poster, &queue_url).await?;
    let after = extract_sim.bills(posting::TENANT).len() + extract_sim.journal_transactions(posting::TENANT).len();
    say!(
        "   file-intake again: {} files taken; erp-poster: {} messages; Acumatica documents {bills} → {after}",
        again.files.len(),
        consumed.messages
    );
    if !again.files.is_empty() || consumed.messages != 0 || after != bills {
        return Err("a second extract run posted again".into());
    }

    say!("\n== 19. A report approved a minute ago, and month-end cannot wait for the schedule: post now");
    let late_report = "D3A10A7E5B2C4F6E8A91";
    concur.sim.load_fi_example(COMPANY, &late_example(late_report)?)?;
    operator_cli(&stack, &["poll", id.as_str(), "--now"]).await;
    let consumed = posting::consume_queue(&stack, &poster, &queue_url).await?;
    say!("   erp-poster: {} messages handled", consumed.messages);
    summary = summarize(&stack, &id).await?;
    match summary.rows.iter().find(|r| r.id == late_report) {
        Some(row) if row.status == "CONFIRMED" => {
            say!("   report {late_report}: posted as {}, confirmed to Concur", row.erp_reference);
        }
        other => return Err(format!("the report polled now did not post: {:?}", other.map(|r| &r.status)).into()),
    }

    say!("\n== 20. Did everything post? The fleet at a glance, then one connection in detail");
    operator_cli(&stack, &["status"]).await;
    operator_cli(&stack, &["status", id.as_str()]).await;
    say!("   the functions' CloudWatch metrics (EMF), summed over the demo:");
    for line in metric_totals(&metrics.lines()) {
        say!("     {line}");
    }

    let tenant = |connection: &domain::ConnectionId,
                  erp: &str,
                  summary: &Summary,
                  erp_documents: usize,
                  confirmations: usize| {
        serde_json::json!({
            "connection": connection.as_str(),
            "erp": erp,
            "documents": summary.rows.len(),
            "posted": summary.posted(),
            "failed": summary.failed(),
            "duplicates_prevented": summary.duplicates_prevented,
            "erp_documents": erp_documents,
            "confirmations_sent": confirmations,
            "rows": summary.rows.iter().map(|r| serde_json::json!({
                "id": r.id, "type": r.doc_type, "amount": r.amount, "currency": r.currency,
                "erp_reference": r.erp_reference, "status": r.status,
            })).collect::<Vec<_>>(),
        })
    };
    let mut tenants = [
        tenant(
            &id,
            "acumatica",
            &summary,
            acumatica_sim.bills(posting::TENANT).len() + acumatica_sim.journal_transactions(posting::TENANT).len(),
            concur.sim.posting_confirmations(COMPANY).len(),
        ),
        tenant(
            &ifs_id,
            "ifs_cloud",
            &ifs_summary,
            ifs_sim.invoices(posting::IFS_COMPANY).len() + ifs_sim.vouchers(posting::IFS_COMPANY).len(),
            concur.sim.posting_confirmations(IFS_COMPANY_UUID).len(),
        ),
        tenant(
            &infor_id,
            "infor",
            &infor_summary,
            infor_sim.journals(posting::INFOR_TENANT).len() + infor_sim.supplier_invoices(posting::INFOR_TENANT).len(),
            concur.sim.posting_confirmations(INFOR_COMPANY_UUID).len(),
        ),
        tenant(
            &standard_id,
            "acumatica",
            &standard_summary,
            standard_sim.bills(posting::TENANT).len() + standard_sim.journal_transactions(posting::TENANT).len(),
            concur.sim.posting_confirmations(STANDARD_COMPANY_UUID).len(),
        ),
        tenant(
            &extract_id,
            "acumatica",
            &extract_summary,
            extract_sim.bills(posting::TENANT).len() + extract_sim.journal_transactions(posting::TENANT).len(),
            concur.sim.posting_confirmations(EXTRACT_COMPANY_UUID).len(),
        ),
    ];
    for (tenant, source) in tenants.iter_mut().zip(["fis", "fis", "fis", "payment_batch", "extract"]) {
        tenant["posting_source"] = source.into();
    }
    for (tenant, sync) in tenants.iter_mut().zip(syncs) {
        tenant["sync"] = sync;
    }
    let total = |field: &str| tenants.iter().map(|t| t[field].as_u64().unwrap_or(0)).sum::<u64>();
    let json = serde_json::json!({
        "documents": total("documents"),
        "posted": total("posted"),
        "failed": total("failed"),
        "duplicates_prevented": total("duplicates_prevented"),
        "erp_documents": total("erp_documents"),
        "confirmations_sent": total("confirmations_sent"),
        "tenants": tenants,
    });
    if json_mode() {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        say!(
            "\nDone: {} documents in {} tenants, {} posted, {} failed, {} duplicates prevented.",
            json["documents"],
            tenants.len(),
            json["posted"],
            json["failed"],
            json["duplicates_prevented"]
        );
    }
    Ok(())
}

struct Row {
    id: String,
    doc_type: String,
    amount: String,
    currency: String,
    erp_reference: String,
    status: String,
}

struct Summary {
    rows: Vec<Row>,
    duplicates_prevented: usize,
}

impl Summary {
    fn posted(&self) -> usize {
        self.rows.iter().filter(|r| r.status == "CONFIRMED" || r.status == "POSTED").count()
    }

    fn failed(&self) -> usize {
        self.rows.iter().filter(|r| r.status == "FAILED").count()
    }
}

/// One row per document: Concur id, type, amount, currency, ERP reference, status.
fn print_table(rows: &[Row]) {
    say!("   {:<34} {:<11} {:>10} {:<4} {:<52} {}", "Concur id", "type", "amount", "cur", "ERP reference", "status");
    for row in rows {
        say!(
            "   {:<34} {:<11} {:>10} {:<4} {:<52} {}",
            row.id,
            row.doc_type,
            row.amount,
            row.currency,
            row.erp_reference,
            row.status
        );
    }
}

/// Each counted metric's total over the EMF lines (gauges, such as the
/// documents not final each tick, and latencies are left out).
fn metric_totals(lines: &[serde_json::Value]) -> Vec<String> {
    let mut totals = std::collections::BTreeMap::<String, f64>::new();
    for line in lines {
        let metric = &line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0];
        if let (Some(name), Some("Count")) = (metric["Name"].as_str(), metric["Unit"].as_str())
            && name != "DocumentsNotFinal"
        {
            *totals.entry(name.to_owned()).or_default() += line[name].as_f64().unwrap_or(0.0);
        }
    }
    totals.into_iter().map(|(name, total)| format!("{name:<28} {total}")).collect()
}

/// Official example 1.1 as a new report `report_id` (and a new FI id): a
/// report approved after the scheduled poll.
fn late_example(report_id: &str) -> Result<String, Box<dyn std::error::Error>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/fi-examples/FI-API-ReportID-B1041655B4CE4171BDAA-Example-1.1.json"
    );
    let mut example: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path)?.replace("B1041655B4CE4171BDAA", report_id))?;
    example["fIDocuments"][0]["id"] = "5e1a7e0d2c9b4f3aa6d18b7c0e2f4a61".into();
    Ok(example.to_string())
}

/// One row per document the ledger knows, with its amount from the FI
/// document, and the duplicates the audit trail recorded.
async fn summarize(stack: &TestStack, id: &domain::ConnectionId) -> Result<Summary, Box<dyn std::error::Error>> {
    summarize_keyed(stack, id, None).await
}

/// [`summarize`] for a tenant posting through files, where a cash advance
/// is keyed by the Cash Advance Key the company's files give it.
async fn summarize_files(
    stack: &TestStack,
    id: &domain::ConnectionId,
    concur: &ConcurSim,
    company: &str,
) -> Result<Summary, Box<dyn std::error::Error>> {
    summarize_keyed(stack, id, Some((concur, company))).await
}

async fn summarize_keyed(
    stack: &TestStack,
    id: &domain::ConnectionId,
    files_of: Option<(&ConcurSim, &str)>,
) -> Result<Summary, Box<dyn std::error::Error>> {
    let amounts: std::collections::BTreeMap<String, (String, String)> = posting::example_files()
        .iter()
        .filter_map(|file| {
            let bytes = std::fs::read(file).ok()?;
            let options = Default::default();
            let mut page = DocumentPage::read(&bytes, concur::fi::Reading::Entries(&options)).ok()?;
            let d = page.documents.remove(0);
            let doc_type: DocumentType = d.doc_type.parse().ok()?;
            let (doc_id, _) = d.work_id().ok()?;
            let entry = d.normalized?.ok()?;
            // The document's own total (what an approver saw), not Σ debits,
            // which also counts a cash advance applied.
            let file: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
            let stated =
                ["/report/totalApprovedAmount", "/cashAdvanceData/requestAmount", "/requestHeader/requestTotal"]
                    .iter()
                    .find_map(|p| file.pointer(&format!("/fIDocuments/0/document{p}")))
                    .and_then(|v| v.to_string().parse::<rust_decimal::Decimal>().ok())
                    .unwrap_or_else(|| entry.total());
            let file_key = files_of
                .filter(|_| doc_type == DocumentType::CashAdvance)
                .and_then(|(concur, company)| concur.cash_advance_key(company, doc_id.as_str()))
                .map(|key| format!("{}{key}", domain::extract::CASH_ADVANCE_KEY_PREFIX));
            let key = format!("{doc_type}#{}", file_key.as_deref().unwrap_or(doc_id.as_str()));
            Some((key, (format!("{stated:.2}"), entry.currency().to_owned())))
        })
        .collect();
    let ledger = stack.ledger("ErpPosterFunction");
    let audit = stack.audit("ErpPosterFunction");
    let mut rows = Vec::new();
    let mut duplicates_prevented = 0;
    for status in platform::ledger::LedgerStatus::ALL {
        let mut cursor = None;
        loop {
            let page = ledger.list_by_status(id, status, 100, cursor.as_deref()).await?;
            for record in page.records {
                let key = record.key.document_key();
                let history = audit.history(&format!("{id}#{key}")).await?;
                duplicates_prevented += history.iter().filter(|e| e.outcome == "duplicate").count();
                let (amount, currency) = amounts.get(&key).cloned().unwrap_or_default();
                rows.push(Row {
                    id: record.key.document_id.to_string(),
                    doc_type: record.key.document_type.to_string(),
                    amount,
                    currency,
                    erp_reference: record.erp_reference.clone().unwrap_or_else(|| "-".into()),
                    status: record.status.to_string(),
                });
            }
            cursor = page.cursor;
            if cursor.is_none() {
                break;
            }
        }
    }
    rows.sort_by(|a, b| (&a.doc_type, &a.id).cmp(&(&b.doc_type, &b.id)));
    Ok(Summary { rows, duplicates_prevented })
}

/// One tenant's reference sync, run twice: vendors, and a `Cost Centers`
/// list (created in Concur as an admin would) fed from `source`. Prints
/// and returns per kind what each run did; the second run writes nothing.
async fn reference_sync(
    stack: &TestStack,
    concur: &ConcurSim,
    poster: &erp_poster::Poster<platform::concur_grants::ConcurGrantStore>,
    id: &domain::ConnectionId,
    company: &str,
    source: &str,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    concur.create_list(company, "Cost Centers", 1)?;
    operator_cli(stack, &["sync", "lists", id.as_str(), "--feed", &format!("Cost Centers={source}")]).await;
    let connections = stack.connections("ErpPosterFunction");
    let connection = connections.get(id).await?.ok_or("the connection is gone")?;
    let shown = |outcome: &erp_poster::reference_sync::SyncOutcome| match outcome {
        erp_poster::reference_sync::SyncOutcome::Done(c) => serde_json::json!({
            "read": c.read, "written": c.written, "deactivated": c.deactivated,
            "unchanged": c.unchanged, "refused": c.refused,
        }),
        other => serde_json::json!(format!("{other:?}")),
    };
    let mut runs = serde_json::Map::new();
    for kind in ["vendors", "lists"] {
        let mut both = Vec::new();
        for run in ["first", "second"] {
            let outcome = match kind {
                "vendors" => poster.sync_vendors(&connection, true).await,
                _ => poster.sync_lists(&connection).await,
            }
            .map_err(|f| f.reason)?;
            say!("   {id} {kind}, {run} run: {}", shown(&outcome));
            both.push((run, shown(&outcome)));
        }
        runs.insert(
            kind.to_owned(),
            serde_json::Value::Object(both.into_iter().map(|(r, v)| (r.to_owned(), v)).collect()),
        );
    }
    Ok(serde_json::Value::Object(runs))
}

/// Vendors both ways for one tenant: Concur owns names and addresses; a
/// vendor created in Concur reaches the ERP on the first run, and the
/// second run writes nothing.
async fn vendors_from_concur(
    stack: &TestStack,
    concur: &ConcurSim,
    poster: &erp_poster::Poster<platform::concur_grants::ConcurGrantStore>,
    id: &domain::ConnectionId,
    company: &str,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let args = ["sync", "vendors", id.as_str(), "--direction", "both", "--owner", "name=concur"];
    operator_cli(stack, &[&args[..], &["--owner", "address=concur"]].concat()).await;
    let vendor = serde_json::json!({"VendorCode": "V-CONCUR-1", "AddressCode": "MAIN", "VendorName": "Northwind Traders",
        "Address1": "1 Pike St", "City": "Seattle", "CountryCode": "US", "CurrencyCode": "USD"});
    concur.add_vendor(company, vendor)?;
    let connection = stack.connections("ErpPosterFunction").get(id).await?.ok_or("the connection is gone")?;
    let mut runs = serde_json::Map::new();
    for run in ["first", "second"] {
        let mode = erp_poster::reference_sync::SyncMode { everything: true, dry_run: false };
        let kind = domain::reference::ReferenceKind::VendorsToErp;
        let outcome = poster.sync_kind(&connection, kind, mode).await.map_err(|f| f.reason)?;
        let shown = match &outcome {
            erp_poster::reference_sync::SyncOutcome::Done(c) => serde_json::json!({
                "read": c.read, "written": c.written, "unchanged": c.unchanged, "refused": c.refused,
            }),
            other => serde_json::json!(format!("{other:?}")),
        };
        say!("   {id} vendors_to_erp, {run} run: {shown}");
        runs.insert(run.to_owned(), shown);
    }
    Ok(serde_json::Value::Object(runs))
}

/// A sandbox company posting through Concur's files (issue 15).
struct FileTenant<'a> {
    company: &'a str,
    name: &'a str,
    /// The profile's marketing name, which gives the edition: `CTE` Professional, `Standard Edition` Standard.
    marketing_name: &'a str,
    choice: SourceChoice,
}

/// Sets up a tenant posting through Concur's files: its own Concur company
/// with the FI examples READY, a Quick Connect, its own Acumatica sandbox
/// (the ERP side with the CLI, the full mapping) and the connection's
/// posting source. Returns the connection, the ERP and its running server.
/// The Acumatica sandbox's credentials as the operator gives them (`--erp-credentials-file`), in a temp file
/// the caller removes.
fn acumatica_credentials_file(tag: &str) -> std::io::Result<std::path::PathBuf> {
    let path = std::env::temp_dir().join(format!("demo-acumatica-{tag}-{}.json", std::process::id()));
    let credentials = serde_json::json!({
        "client_id": format!("{}@{}", posting::ACUMATICA_CLIENT, posting::TENANT),
        "client_secret": posting::ACUMATICA_SECRET,
        "username": posting::ACUMATICA_USER.0,
        "password": posting::ACUMATICA_USER.1,
    });
    std::fs::write(&path, credentials.to_string())?;
    Ok(path)
}

async fn file_tenant(
    stack: &TestStack,
    concur: &ConcurSim,
    connector: &QuickConnect,
    examples: &[std::path::PathBuf],
    tenant: &FileTenant<'_>,
) -> Result<(domain::ConnectionId, AcumaticaSim, simulators::RunningSimulator), Box<dyn std::error::Error>> {
    let company = tenant.company;
    concur.add_company(CompanySpec {
        uuid: company.into(),
        name: tenant.name.into(),
        datacenter: "us".into(),
        marketing_name: tenant.marketing_name.into(),
    });
    let mut loaded = 0;
    for path in examples.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        loaded += concur.load_fi_example(company, &std::fs::read_to_string(path)?)?.len();
    }
    say!("   {loaded} example documents READY for company {company} (marketing name \"{}\")", tenant.marketing_name);
    let request_token = concur.issue_request_token(company);
    let link = [("id", company), ("requestToken", request_token.as_str()), ("userId", ADMIN)];
    let page = oauth_callback::handle(connector, get_request(&link)).await;
    say!("   Quick Connect of {company} → HTTP {} — {}", page.status_code, title(&page));
    let connections = stack.connections("ErpPosterFunction");
    let id = connections
        .find_by_company(&CompanyUuid::parse(company)?)
        .await?
        .ok_or("the connect created no connection")?
        .connection_id;

    let sim = AcumaticaSim::new();
    posting::seed_acumatica(&sim);
    let running = sim.clone().start().await;
    let credentials = acumatica_credentials_file(id.as_str())?;
    let (erp_url, credentials_path) = (running.base_url(), credentials.display().to_string());
    let args = ["connections", "update", id.as_str(), "--erp", "acumatica", "--erp-url", &erp_url];
    operator_cli(
        stack,
        &[&args[..], &["--tenant", posting::TENANT, "--erp-credentials-file", &credentials_path]].concat(),
    )
    .await;
    std::fs::remove_file(&credentials)?;
    let mapping_file = std::env::temp_dir().join(format!("demo-mapping-{id}-{}.yaml", std::process::id()));
    std::fs::write(&mapping_file, posting::example_mapping_text())?;
    operator_cli(stack, &["mapping", "import", id.as_str(), &mapping_file.display().to_string()]).await;
    std::fs::remove_file(&mapping_file)?;

    // The posting source, chosen with the operator CLI.
    let choice = serde_json::to_value(tenant.choice)?.as_str().unwrap_or("fis").to_owned();
    operator_cli(stack, &["connections", "update", id.as_str(), "--source", &choice]).await;
    let connection = connections.get(&id).await?.ok_or("the connection is gone")?;
    let resolved = connection.posting_source.resolve(connection.edition);
    let files = match resolved.files {
        Some(domain::posting_source::FileApi::Extract) => "Extract v1 jobs",
        Some(domain::posting_source::FileApi::PaymentBatch) => "Payment Batch v1 batches",
        None => "none",
    };
    say!(
        "   connection {id}: edition {} (from the profile); posting source {}: Financial Integration {}, files: {files}",
        connection.edition.map(|e| format!("{e:?}")).unwrap_or_else(|| "unknown".into()),
        serde_json::to_value(tenant.choice)?.as_str().unwrap_or("?"),
        if resolved.fis { "read" } else { "not read" },
    );
    Ok((id, sim, running))
}

/// The company's payment batches as Concur's Payment Manager lists them.
fn print_batches(concur: &ConcurSim, company: &str) {
    let batches = concur.payment_batches(company);
    let empty = batches.iter().filter(|b| b.documents.is_empty()).count();
    for batch in batches.iter().filter(|b| !b.documents.is_empty()) {
        let status = match batch.status {
            PaymentBatchStatus::Open => "open",
            PaymentBatchStatus::Closing => "closing",
            PaymentBatchStatus::Closed => "closed",
        };
        say!(
            "   Concur payment batch \"{}\": {status}, {}, total {} {}",
            batch.name,
            plural(batch.documents.len(), "document"),
            batch.total,
            batch.currency
        );
    }
    if empty > 0 {
        say!("   (and {empty} empty open batches, which Concur opened for the next payments)");
    }
}

/// What the poster handled besides a file's documents: the first reference
/// sync Quick Connect queued for the new connection.
fn besides(messages: usize, documents: usize) -> String {
    match messages.saturating_sub(documents) {
        0 => String::new(),
        other => format!(" ({documents} documents, {other} the reference sync Quick Connect queued)"),
    }
}

fn shown_taken(taken: &Taken) -> String {
    match taken {
        Taken::Queued { documents, rows } => {
            format!("taken: {} from {}, queued", plural(*documents, "document"), plural(*rows as usize, "row"))
        }
        Taken::AlreadyTaken => "taken before".into(),
        Taken::Refused { reason } => format!("refused: {reason}"),
        Taken::Busy => "busy (another run holds the lease)".into(),
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

fn queued_documents(taken: &Taken) -> usize {
    match taken {
        Taken::Queued { documents, .. } => *documents,
        _ => 0,
    }
}

/// Runs the operator CLI (`connector …`) against the demo's stack and
/// prints what an operator would see in a terminal.
async fn operator_cli(stack: &TestStack, args: &[&str]) {
    let app_secret = format!("{}/concur-app", stack.stack_name());
    let mut full = vec!["connector", "--stack", stack.stack_name(), "--concur-app-secret", app_secret.as_str()];
    full.extend_from_slice(args);
    say!("   $ connector --stack {} {}", stack.stack_name(), args.join(" "));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = operator::main_with(full, &mut out, &mut err).await;
    for line in String::from_utf8_lossy(&out).lines().chain(String::from_utf8_lossy(&err).lines()) {
        say!("     {line}");
    }
    if code != 0 {
        say!("     (exit code {code})");
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
