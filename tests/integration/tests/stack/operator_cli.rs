//! The operator CLI (`connector`) end to end against moto and the
//! simulators: argument parsing, validation before any write, the stores,
//! and what an operator reads. Each test runs the CLI the way `main` does
//! (`operator::main_with`) on a fresh stack.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use concur::{AppCredentials, ConcurClient, GrantStore, StoredGrant};
use domain::{CompanyUuid, ConnectionId, ConnectionStatus, Secret};
use integration::{CliRun, TestStack};
use platform::concur_grants::ConcurGrantStore;
use platform::connections::ConnectionStore;
use serde_json::{Value, json};
use simulators::RunningSimulator;
use simulators::acumatica::{AcumaticaSim, TenantSpec};
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim};
use transport::{HttpClient, RetryPolicy};

const GUID: &str = "88358B02-A48D-A50E-F710-39C1636C30F6";
const CLIENT_SECRET: &str = "acu-client-secret-7f3e9b";
const PASSWORD: &str = "integration-user-pw-41c2";
const COMPANY: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";

async fn cli(stack: &TestStack, args: &[&str]) -> CliRun {
    let app_secret = format!("{}/concur-app", stack.stack_name());
    let mut full = vec!["--concur-app-secret", &app_secret];
    full.extend_from_slice(args);
    integration::connector(stack.stack_name(), &full).await
}

/// A JSON file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn json(value: &Value) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("operator-cli-{}-{}.json", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn credentials(client_secret: &str) -> TempFile {
    TempFile::json(&json!({
        "client_id": GUID, "client_secret": client_secret, "username": "concur_int", "password": PASSWORD
    }))
}

async fn acumatica() -> (AcumaticaSim, RunningSimulator) {
    let sim = AcumaticaSim::new();
    sim.add_tenant(TenantSpec {
        name: "Acme".into(),
        client_id: GUID.into(),
        client_secret: CLIENT_SECRET.into(),
        users: vec![("concur_int".into(), PASSWORD.into())],
        branches: vec!["HQ".into()],
    });
    sim.add_vendor("Acme", "V000123", "Acme Travel", "Active");
    let running = sim.clone().start().await;
    (sim, running)
}

fn store(stack: &TestStack) -> ConnectionStore {
    ConnectionStore::new(stack.dynamodb(), format!("{}-connections", stack.stack_name()))
}

fn id(raw: &str) -> ConnectionId {
    ConnectionId::parse(raw).unwrap()
}

/// Everything the CLI could have written: every connection's settings, the
/// number of items in the connections table, the per-connection secret
/// names and the ERP secrets' contents.
async fn snapshot(stack: &TestStack) -> (Vec<domain::Connection>, usize, Vec<String>, Vec<Option<Value>>) {
    let connections = store(stack).list().await.unwrap();
    let items = stack.scan_table("ConnectionsTable").await.len();
    let names = stack.connection_secret_names().await;
    let mut values = Vec::new();
    for name in &names {
        values.push(stack.secrets().get_json::<Value>(name).await.unwrap());
    }
    (connections, items, names, values)
}

async fn create_acumatica(stack: &TestStack, conn: &str, url: &str, file: &TempFile, extra: &[&str]) -> CliRun {
    let mut args =
        vec!["connections", "create", conn, "--name", conn, "--erp", "acumatica", "--erp-url", url, "--tenant", "Acme"];
    args.extend_from_slice(&["--erp-credentials-file", file.path()]);
    args.extend_from_slice(extra);
    cli(stack, &args).await
}

#[tokio::test]
async fn create_show_update_list_round_trip() {
    let stack = TestStack::new().await;
    let (_sim, acu) = acumatica().await;
    let file = credentials(CLIENT_SECRET);
    let name = stack.stack_name().to_owned();

    let created = cli(
        &stack,
        &[
            "connections",
            "create",
            "acme-us",
            "--name",
            "Acme US",
            "--company-uuid",
            COMPANY,
            "--erp",
            "acumatica",
            "--erp-url",
            &acu.base_url(),
            "--tenant",
            "Acme",
            "--branch",
            "HQ",
            "--erp-credentials-file",
            file.path(),
            "--schedule",
            "daily 06:00",
            "--document-types",
            "expense,invoice",
            "--concurrency",
            "3",
            "--cash-advance-as",
            "ap_bill",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.all());
    assert!(created.out.contains("created connection acme-us (pending)"), "{}", created.out);
    assert!(
        created.out.contains(&format!(
            "stored ERP credentials in secret {name}/connections/acme-us/erp (keys: client_id, client_secret, \
             password, username)"
        )),
        "{}",
        created.out
    );
    let stored: Value = stack.secrets().get_json(&format!("{name}/connections/acme-us/erp")).await.unwrap().unwrap();
    assert_eq!(stored["client_secret"], CLIENT_SECRET, "the file's credentials are what is stored");

    let shown = cli(&stack, &["connections", "show", "acme-us"]).await;
    assert_eq!(shown.code, 0, "{}", shown.all());
    for expected in [
        "name                  Acme US",
        "status                pending",
        &format!("concur company        {COMPANY}"),
        "erp                   acumatica",
        &format!("  url                 {}", acu.base_url()),
        "  tenant              Acme",
        "  endpoint            Default/24.200.001",
        "  branch              HQ",
        &format!(
            "erp credentials       stored in secret {name}/connections/acme-us/erp (keys: client_id, client_secret, \
             password, username)"
        ),
        "schedule              daily 06:00 (UTC)",
        "concurrency           level 3",
        "document types        expense, invoice",
        "confirm postings      yes",
        "cash advances as      ap_bill",
    ] {
        assert!(shown.out.contains(expected), "missing `{expected}` in:\n{}", shown.out);
    }

    // Quick Connect's fields, as oauth-callback would have written them.
    let mut connected = store(&stack).get(&id("acme-us")).await.unwrap().unwrap();
    connected.status = ConnectionStatus::Active;
    connected.geolocation = Some("https://us.api.concursolutions.com".into());
    connected.connected_at = Some("2026-11-23T10:00:00Z".into());
    connected.connected_by = Some("admin@acme.example".into());
    store(&stack).replace(&connected).await.unwrap();

    let updated =
        cli(&stack, &["connections", "update", "acme-us", "--schedule", "every 2h", "--concurrency", "5"]).await;
    assert_eq!(updated.code, 0, "{}", updated.all());
    assert!(
        updated.out.contains("updated connection acme-us (changed: concurrency_level, schedule)"),
        "{}",
        updated.out
    );
    let after = store(&stack).get(&id("acme-us")).await.unwrap().unwrap();
    assert_eq!(after.schedule.to_string(), "every 2h");
    assert_eq!(after.concurrency_level.get(), 5);
    let mut expected = connected.clone();
    expected.schedule = after.schedule;
    expected.concurrency_level = after.concurrency_level;
    expected.updated_at = after.updated_at.clone();
    assert_eq!(after, expected, "everything not given is kept: status, Concur fields, ERP, flow");

    let json = cli(&stack, &["connections", "show", "acme-us", "--json"]).await;
    let v: Value = serde_json::from_str(&json.out).unwrap();
    assert_eq!(v["schedule"], "every 2h");
    assert_eq!(v["erp"]["tenant"], "Acme");
    assert_eq!(v["erp_credentials"]["keys"], json!(["client_id", "client_secret", "password", "username"]));

    let unchanged = cli(&stack, &["connections", "update", "acme-us", "--schedule", "every 2h"]).await;
    assert_eq!((unchanged.code, unchanged.out.trim()), (0, "connection acme-us: nothing to change"));

    let borrower =
        cli(&stack, &["connections", "create", "acme-eu", "--name", "Acme EU", "--borrow-concurrency-from", "acme-us"])
            .await;
    assert_eq!(borrower.code, 0, "{}", borrower.all());

    let listed = cli(&stack, &["connections", "list"]).await;
    assert_eq!(listed.code, 0, "{}", listed.all());
    let lines: Vec<&str> = listed.out.lines().collect();
    assert_eq!(lines.len(), 3, "{}", listed.out);
    assert!(lines[0].starts_with("ID") && lines[0].contains("LAST POLL"), "{}", lines[0]);
    assert!(lines[1].starts_with("acme-eu") && lines[1].contains("borrows acme-us"), "{}", lines[1]);
    for cell in ["acme-us", "Acme US", "active", "acumatica", COMPANY, "every 2h", "5", "never"] {
        assert!(lines[2].contains(cell), "`{cell}` missing in {}", lines[2]);
    }
    let listed = cli(&stack, &["connections", "list", "--json"]).await;
    let v: Value = serde_json::from_str(&listed.out).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2));

    // Off and on again: back to where it was (connected → active).
    assert_eq!(cli(&stack, &["connections", "update", "acme-us", "--disable"]).await.code, 0);
    assert_eq!(store(&stack).get(&id("acme-us")).await.unwrap().unwrap().status, ConnectionStatus::Disabled);
    assert_eq!(cli(&stack, &["connections", "update", "acme-us", "--enable"]).await.code, 0);
    let back = store(&stack).get(&id("acme-us")).await.unwrap().unwrap();
    assert_eq!((back.status, back.status_reason), (ConnectionStatus::Active, None));

    let missing = cli(&stack, &["connections", "show", "nope"]).await;
    assert_eq!(missing.code, 2);
    assert!(missing.err.contains("connection nope does not exist"), "{}", missing.err);
}

#[tokio::test]
async fn refused_settings_leave_table_and_secrets_unchanged() {
    let stack = TestStack::new().await;
    let (_sim, acu) = acumatica().await;
    let url = acu.base_url();
    let file = credentials(CLIENT_SECRET);
    let incomplete = TempFile::json(&json!({"client_id": GUID, "client_secret": CLIENT_SECRET, "username": "u"}));
    let unknown_key = TempFile::json(&json!({
        "client_id": GUID, "client_secret": CLIENT_SECRET, "username": "u", "password": "p", "tenant": "Acme"
    }));
    assert_eq!(create_acumatica(&stack, "a", &url, &file, &[]).await.code, 0);
    assert_eq!(
        cli(&stack, &["connections", "create", "b", "--name", "b", "--borrow-concurrency-from", "a"]).await.code,
        0
    );
    assert_eq!(cli(&stack, &["connections", "create", "c", "--name", "c"]).await.code, 0);
    let before = snapshot(&stack).await;

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["connections", "create", "x", "--name", "x", "--concurrency", "0"], "between 1 and 25"),
        (vec!["connections", "create", "x", "--name", "x", "--concurrency", "26"], "between 1 and 25"),
        (vec!["connections", "update", "a", "--concurrency", "0"], "between 1 and 25"),
        (vec!["connections", "update", "a", "--concurrency", "26"], "between 1 and 25"),
        (vec!["connections", "create", "x", "--name", "x", "--borrow-concurrency-from", "zz"], "zz does not exist"),
        (vec!["connections", "update", "c", "--borrow-concurrency-from", "zz"], "zz does not exist"),
        (vec!["connections", "update", "c", "--borrow-concurrency-from", "c"], "from itself"),
        (vec!["connections", "create", "x", "--name", "x", "--borrow-concurrency-from", "b"], "b itself borrows"),
        (vec!["connections", "update", "c", "--borrow-concurrency-from", "b"], "b itself borrows"),
        (vec!["connections", "update", "a", "--borrow-concurrency-from", "c"], "a lends its concurrency to b"),
        (vec!["connections", "update", "a", "--erp-url", "http://acme.acumatica.com"], "must use https"),
        (vec!["connections", "update", "a", "--erp-url", "https://10.1.2.3"], "a private address"),
        (vec!["connections", "update", "a", "--erp-url", "https://169.254.169.254"], "link-local"),
        (vec!["connections", "update", "a", "--document-types", "expense,payroll"], "payroll"),
        (vec!["connections", "update", "a", "--schedule", "hourly"], "schedule `hourly` is invalid"),
        (vec!["connections", "update", "a", "--erp-credentials-file", incomplete.path()], "lack `password`"),
        (vec!["connections", "update", "a", "--erp-credentials-file", unknown_key.path()], "unknown keys `tenant`"),
        (vec!["connections", "update", "a", "--namespace", "prod"], "--namespace applies to --erp ifs_cloud only"),
        (vec!["connections", "update", "a", "--erp", "ifs_cloud"], "ifs_cloud needs --erp-url"),
        (vec!["connections", "create", "a", "--name", "again"], "connection a already exists"),
        (vec!["connections", "create", "x", "--name", "x", "--company-uuid", "not-a-uuid"], "not a UUID"),
    ];
    for (args, expected) in &cases {
        let run = cli(&stack, args).await;
        assert_eq!(run.code, 2, "{args:?} must be refused: {}", run.all());
        assert!(run.err.starts_with("error: refused, nothing was changed:"), "{args:?}: {}", run.err);
        assert!(run.err.contains(expected), "{args:?}: expected `{expected}` in {}", run.err);
        assert_eq!(snapshot(&stack).await, before, "{args:?} changed something");
    }

    // A refused setting next to a valid credentials file stores neither.
    let with_file: Vec<(&[&str], &str)> = vec![
        (&["--concurrency", "0"], "between 1 and 25"),
        (&["--concurrency", "26"], "between 1 and 25"),
        (&["--borrow-concurrency-from", "zz"], "zz does not exist"),
        (&["--borrow-concurrency-from", "x"], "from itself"),
        (&["--borrow-concurrency-from", "b"], "b itself borrows"),
    ];
    for (extra, expected) in with_file {
        let run = create_acumatica(&stack, "x", &url, &file, extra).await;
        assert_eq!(run.code, 2, "{extra:?}: {}", run.all());
        assert!(run.err.contains(expected), "{extra:?}: {}", run.err);
        assert_eq!(snapshot(&stack).await, before, "{extra:?} changed something");
    }
    for bad_url in ["http://acme.acumatica.com", "https://10.0.0.8", "https://169.254.169.254"] {
        let run = create_acumatica(&stack, "x", bad_url, &file, &[]).await;
        assert_eq!(run.code, 2, "{bad_url}: {}", run.all());
        assert!(run.err.contains("--erp-url"), "{bad_url}: {}", run.err);
        assert_eq!(snapshot(&stack).await, before, "{bad_url} changed something");
    }

    // Parse errors (clap) change nothing either.
    let run = cli(&stack, &["connections", "update", "a", "--enable", "--disable"]).await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert_eq!(snapshot(&stack).await, before);
}

#[tokio::test]
async fn show_list_and_outputs_never_print_credential_values() {
    let stack = TestStack::new().await;
    let (_sim, acu) = acumatica().await;
    let file = credentials(CLIENT_SECRET);
    let mut printed = String::new();
    let created = create_acumatica(&stack, "acme", &acu.base_url(), &file, &[]).await;
    assert_eq!(created.code, 0, "{}", created.all());
    printed.push_str(&created.all());
    let updated = cli(&stack, &["connections", "update", "acme", "--erp-credentials-file", file.path()]).await;
    assert_eq!(updated.code, 0, "{}", updated.all());
    assert!(updated.out.contains("stored ERP credentials"), "{}", updated.out);
    printed.push_str(&updated.all());
    for args in [
        &["connections", "show", "acme"][..],
        &["connections", "show", "acme", "--json"],
        &["connections", "list"],
        &["connections", "list", "--json"],
        &["connections", "test", "acme"],
    ] {
        printed.push_str(&cli(&stack, args).await.all());
    }
    assert!(printed.contains("keys: client_id, client_secret, password, username"), "{printed}");
    for secret in [CLIENT_SECRET, PASSWORD] {
        assert!(!printed.contains(secret), "`{secret}` was printed:\n{printed}");
    }
    let items = stack.scan_table("ConnectionsTable").await.join("\n");
    for secret in [CLIENT_SECRET, PASSWORD] {
        assert!(!items.contains(secret), "`{secret}` reached the connections table");
    }
}

#[tokio::test]
async fn test_prints_each_check_with_its_fix() {
    let stack = TestStack::new().await;
    let (_sim, acu) = acumatica().await;
    let good = credentials(CLIENT_SECRET);
    assert_eq!(create_acumatica(&stack, "acme", &acu.base_url(), &good, &[]).await.code, 0);

    // No Concur grant stored: the Concur side fails with its advice, the ERP side passes.
    let run = cli(&stack, &["connections", "test", "acme"]).await;
    assert_eq!(run.code, 1, "a failed check fails the command: {}", run.all());
    let expected = [
        "connection acme (pending, acumatica)",
        "✗ Concur access token: connection acme has no stored Concur grant (Concur was never connected)",
        "    fix: An admin with the Web Services Admin permission must click Connect on the connector's listing in \
         the Concur App Center to connect this company.",
        "- Concur company profile: skipped: needs an access token",
        &format!("✓ Acumatica sign-in: tenant Acme at {} as user concur_int", acu.base_url()),
        "✓ Acumatica read: Default/24.200.001 Vendor",
        "2 passed, 1 failed, 1 skipped",
    ];
    assert_eq!(run.out.lines().collect::<Vec<_>>(), expected, "{}", run.out);

    // Wrong client secret: the sign-in fails with what to fix; the read is skipped.
    let wrong = credentials("not-the-secret");
    assert_eq!(cli(&stack, &["connections", "update", "acme", "--erp-credentials-file", wrong.path()]).await.code, 0);
    let run = cli(&stack, &["connections", "test", "acme"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.out.contains(
            "✗ Acumatica sign-in: Acumatica refused the client credentials: check client_id/client_secret in the \
             credentials file and that the connected application exists in tenant Acme"
        ),
        "{}",
        run.out
    );
    assert!(run.out.contains("    fix: correct the credentials file and store it with"), "{}", run.out);
    assert!(run.out.contains("- Acumatica read: skipped: needs a sign-in"), "{}", run.out);

    // An endpoint version the instance does not publish: the read fails and names the published ones.
    let update = ["connections", "update", "acme", "--endpoint-version", "23.200.001", "--erp-credentials-file"];
    let mut args = update.to_vec();
    args.push(good.path());
    assert_eq!(cli(&stack, &args).await.code, 0);
    let run = cli(&stack, &["connections", "test", "acme"]).await;
    assert!(run.out.contains("✓ Acumatica sign-in"), "{}", run.out);
    assert!(
        run.out.contains(
            "✗ Acumatica read: endpoint Default/23.200.001 is not published on this instance (http://127.0.0.1:"
        ) && run.out.contains("published: Default/24.200.001"),
        "{}",
        run.out
    );
    assert!(run.out.contains("fix: `connector connections update acme --endpoint-version V`"), "{}", run.out);

    // No ERP configured.
    assert_eq!(cli(&stack, &["connections", "create", "bare", "--name", "bare"]).await.code, 0);
    let run = cli(&stack, &["connections", "test", "bare"]).await;
    assert!(run.out.contains("✗ ERP settings: no ERP is configured for this connection"), "{}", run.out);

    // An .ionapi file of an app without a service account is refused with
    // what to do; a complete one is stored, and the test names the failing sign-in.
    let partial = json!({
        "ti": "ACME_TST", "ci": "ACME_TST~q", "cs": "Zk3", "iu": "https://mingle-ionapi.inforcloudsuite.com",
        "pu": "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/", "ot": "token.oauth2"
    });
    let ionapi = TempFile::json(&partial);
    let refused = cli(
        &stack,
        &["connections", "create", "infor", "--name", "i", "--erp", "infor", "--erp-credentials-file", ionapi.path()],
    )
    .await;
    assert_eq!(refused.code, 2, "{}", refused.all());
    assert!(refused.err.contains("Create Service Account"), "{}", refused.all());
    assert!(!refused.all().contains("Zk3"), "no value is echoed");
    let mut complete = partial.clone();
    for (key, value) in [
        ("cn", "ConcurConnector"),
        ("oa", "authorization.oauth2"),
        ("or", "revoke_token.oauth2"),
        ("ev", "U1"),
        ("saak", "ACME_TST#Mx8"),
        ("sask", "Hq0"),
    ] {
        complete[key] = json!(value);
    }
    let ionapi = TempFile::json(&complete);
    let created = cli(
        &stack,
        &["connections", "create", "infor", "--name", "i", "--erp", "infor", "--erp-credentials-file", ionapi.path()],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.all());
    assert!(created.out.contains("created the ION inbox token in secret"), "{}", created.out);
    let run = cli(&stack, &["connections", "test", "infor"]).await;
    assert!(run.out.contains("✗ Infor ION token"), "{}", run.out);
    assert!(run.out.contains("- Infor ION messaging: skipped: needs a token"), "{}", run.out);
    assert!(!run.all().contains("Hq0") && !run.all().contains("Mx8"), "no secret is printed");
}

#[tokio::test]
async fn test_passes_when_both_sides_work() {
    let concur = ConcurSim::start(ConcurApp::new("cli-client", "cli-client-secret")).await;
    concur.sim.add_company(CompanySpec {
        uuid: COMPANY.into(),
        name: "Acme Corp".into(),
        datacenter: "us".into(),
        marketing_name: "CTE".into(),
    });
    let stack = TestStack::with_concur_app("cli-client", "cli-client-secret", &concur.us_url()).await;
    let (_sim, acu) = acumatica().await;
    let file = credentials(CLIENT_SECRET);
    let created = create_acumatica(&stack, "acme", &acu.base_url(), &file, &["--company-uuid", COMPANY]).await;
    assert_eq!(created.code, 0, "{}", created.all());

    // Store a grant the way oauth-callback does: a real Quick Connect exchange.
    let app: AppCredentials =
        stack.secrets().get_json(&format!("{}/concur-app", stack.stack_name())).await.unwrap().unwrap();
    let http = HttpClient::new(transport::build_client(std::time::Duration::from_secs(5)), RetryPolicy::default());
    let company = CompanyUuid::parse(COMPANY).unwrap();
    let request_token = Secret::new(concur.sim.issue_request_token(COMPANY));
    let token = ConcurClient::new(http).exchange_request_token(&app, &company, &request_token).await.unwrap();
    let grants = ConcurGrantStore::new(
        stack.secrets(),
        stack.dynamodb(),
        format!("{}-connections", stack.stack_name()),
        format!("{}/connections/", stack.stack_name()),
    );
    grants.save(&id("acme"), &StoredGrant::from_token(&token).unwrap()).await.unwrap();

    let run = cli(&stack, &["connections", "test", "acme"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.out.contains(&format!("✓ Concur access token: issued for datacenter {}", concur.us_url())),
        "{}",
        run.out
    );
    assert!(
        run.out.contains(&format!("✓ Concur company profile: Acme Corp ({COMPANY}), edition professional")),
        "{}",
        run.out
    );
    assert!(run.out.contains("4 passed, 0 failed, 0 skipped"), "{}", run.out);
}

#[tokio::test]
async fn a_failed_secret_write_after_create_says_what_is_stored_and_how_to_finish() {
    use aws_sdk_secretsmanager::config::{Builder, retry::RetryConfig};

    let stack = TestStack::new().await;
    let (_sim, acu) = acumatica().await;
    let file = credentials(CLIENT_SECRET);
    // Secrets Manager unreachable (nothing listens on port 1), DynamoDB fine:
    // the connection is created, the secret write after it fails.
    let broken = Builder::from(&stack.sdk).endpoint_url("http://127.0.0.1:1").retry_config(RetryConfig::disabled());
    let deps = operator::Deps {
        names: operator::stack::StackNames::new(stack.stack_name(), None).unwrap(),
        connections: store(&stack),
        secrets: platform::secrets::SecretStore::new(
            aws_sdk_secretsmanager::Client::from_conf(broken.build()),
            std::time::Duration::ZERO,
        ),
        aws: stack.aws(),
        url_policy: domain::UrlPolicy::AllowLoopbackHttp,
        resolver: operator::dns::Resolver::System,
        http: HttpClient::new(transport::build_client(std::time::Duration::from_secs(5)), RetryPolicy::default()),
    };
    let url = acu.base_url();
    let args = ["connector", "connections", "create", "acme", "--name", "Acme", "--erp", "acumatica", "--erp-url"];
    let mut args: Vec<&str> = args.to_vec();
    args.extend([url.as_str(), "--tenant", "Acme", "--erp-credentials-file", file.path()]);
    let cli = <operator::cli::Cli as clap::Parser>::try_parse_from(args).unwrap();
    let mut out = Vec::new();
    let err = operator::run(&cli.command, &deps, &mut out).await.unwrap_err();
    let (out, err_text) = (String::from_utf8_lossy(&out).into_owned(), err.to_string());
    assert_eq!(err.exit_code(), 1, "{err_text}");
    assert!(out.contains("created connection acme"), "{out}");
    let secret = format!("{}/connections/acme/erp", stack.stack_name());
    assert!(
        err_text.contains(&format!(
            "connection acme was created, but storing its ERP credentials in secret {secret} failed"
        )),
        "{err_text}"
    );
    assert!(
        err_text.contains(&format!("run `connector connections update acme --erp-credentials-file {}`", file.path())),
        "{err_text}"
    );
    assert!(!err_text.contains(CLIENT_SECRET) && !err_text.contains(PASSWORD), "{err_text}");
    assert!(
        store(&stack).get(&id("acme")).await.unwrap().is_some(),
        "the connection stays; only the secret is missing"
    );
}
