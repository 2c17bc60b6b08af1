//! Quick Connect end to end: the oauth-callback handler with its real flow,
//! against the Concur simulator (US + EMEA) and the stack's tables, queue
//! and secrets in moto.

use domain::{AcumaticaSettings, CompanyUuid, ConcurrencyLevel, ConnectionStatus, Edition, ErpSettings, ErpUrl};
use integration::{TestStack, body_text, get_request};
use oauth_callback::quick_connect::QuickConnect;
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim, StartedConcur};
use simulators::faults::FaultSpec;

const CALLBACK: &str = "OAuthCallbackFunction";
const EMEA_COMPANY: &str = "0ffa9ce0-f00b-408a-8344-8eaad502b0d7";
const ADMIN: &str = "9bdded51-00b8-4f84-8bef-6d3afe727007";

struct World {
    stack: TestStack,
    concur: StartedConcur,
    connector: QuickConnect,
}

async fn world() -> World {
    let concur = ConcurSim::start(ConcurApp::new("qc-client", "qc-client-secret")).await;
    concur.sim.add_company(CompanySpec {
        uuid: EMEA_COMPANY.into(),
        name: "Lqy3 Corp EMEA".into(),
        datacenter: "emea".into(),
        marketing_name: "CTE".into(),
    });
    let stack = TestStack::with_concur_app("qc-client", "qc-client-secret", &concur.us_url()).await;
    let connector =
        QuickConnect::from_env(&stack.env_of(CALLBACK), &stack.aws()).expect("the template's env is complete");
    World { stack, concur, connector }
}

impl World {
    async fn click_connect(&self) -> (u16, String) {
        let token = self.concur.sim.issue_request_token(EMEA_COMPANY);
        self.open_link(&[("id", EMEA_COMPANY), ("requestToken", &token), ("userId", ADMIN)]).await
    }

    async fn open_link(&self, query: &[(&str, &str)]) -> (u16, String) {
        let response = oauth_callback::handle(&self.connector, get_request(query)).await;
        (response.status_code as u16, body_text(&response))
    }

    async fn grant_secret(&self, connection: &str) -> serde_json::Value {
        let id = format!("{}/connections/{connection}/concur", self.stack.stack_name());
        // A fresh store: no cache between the flow's write and this read.
        self.stack.secrets().get_json(&id).await.unwrap().unwrap_or_else(|| panic!("secret {id} exists"))
    }

    async fn assert_nothing_stored(&self) {
        assert!(self.stack.scan_table("ConnectionsTable").await.is_empty(), "no connection item");
        assert!(self.stack.connection_secret_names().await.is_empty(), "no connection secret");
        assert!(self.stack.peek_queue("WorkQueue").await.is_empty(), "no queue message");
    }
}

fn company() -> CompanyUuid {
    CompanyUuid::parse(EMEA_COMPANY).unwrap()
}

#[tokio::test]
async fn first_connect_stores_the_grant_and_the_connection_and_sets_up_webhooks_and_a_sync() {
    let captured = platform::telemetry::capture();
    let w = world().await;
    let (status, page) = w.click_connect().await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Lqy3 Corp EMEA"), "{page}");
    assert!(page.contains("Professional edition"), "{page}");

    let connection = w.stack.connections(CALLBACK).find_by_company(&company()).await.unwrap().expect("created");
    assert_eq!(connection.connection_id.as_str(), "lqy3-corp-emea-0ffa9ce0");
    assert_eq!(connection.status, ConnectionStatus::Active);
    // The token's geolocation (EMEA), not the app's (US), is the company's base URL.
    assert_eq!(connection.geolocation.as_deref(), Some(w.concur.emea_url().as_str()));
    // The edition comes from /profile/v1/me, which the EMEA instance only
    // answers when called at EMEA with the company's token.
    assert_eq!(connection.edition, Some(Edition::Professional));
    assert_eq!(connection.connected_by.as_deref(), Some(ADMIN));
    assert!(connection.concur_refresh_expires_at.is_some());
    assert!(connection.erp.is_none(), "the ERP side is the operator's to configure");

    let grant = w.grant_secret(connection.connection_id.as_str()).await;
    let valid = w.concur.sim.valid_refresh_tokens(EMEA_COMPANY);
    assert!(
        valid.iter().any(|t| grant["refresh_token"] == t.as_str()),
        "the stored refresh token is Concur's live one"
    );
    assert_eq!(grant["geolocation"], w.concur.emea_url().as_str());

    let subscriptions = w.concur.sim.subscriptions();
    let expense = subscriptions.iter().find(|s| s.topic == "public.concur.expense.report").expect("subscribed");
    assert_eq!(expense.id, format!("concur-erp-connector.us-east-1.{}.expense.report", w.stack.stack_name()));
    assert_eq!(expense.endpoint, "https://local-api.execute-api.us-east-1.amazonaws.com/concur/events");

    let queued = w.stack.peek_queue("WorkQueue").await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert!(queued[0].contains("reference_sync") && queued[0].contains("lqy3-corp-emea-0ffa9ce0"), "{queued:?}");

    let history = w.stack.audit(CALLBACK).history("lqy3-corp-emea-0ffa9ce0#connection").await.unwrap();
    let steps: Vec<_> = history.iter().map(|e| (e.step.as_str(), e.outcome.as_str())).collect();
    assert_eq!(steps, [("connected", "ok"), ("webhooks", "ok")]);
    assert!(
        history[1]
            .detail
            .as_deref()
            .unwrap()
            .contains("not offered to the application: public.concur.invoice.paymentrequest")
    );

    // oauth-callback's metrics (docs/metrics.md) are its calls to Concur: token exchange, profile, app token,
    // topics, subscriptions, one PUT per offered topic; every one answered 2xx.
    let calls: Vec<serde_json::Value> =
        captured.lines().into_iter().filter(|l| l.get("ConcurCalls").is_some()).collect();
    assert!(calls.len() >= 6, "{calls:?}");
    assert!(calls.iter().all(|l| l["Outcome"] == "2xx" && l["ConcurCalls"] == 1.0), "{calls:?}");
}

#[tokio::test]
async fn reconnecting_rotates_the_secret_and_keeps_every_setting() {
    let w = world().await;
    assert_eq!(w.click_connect().await.0, 200);
    let store = w.stack.connections(CALLBACK);
    let mut configured = store.find_by_company(&company()).await.unwrap().unwrap();
    let id = configured.connection_id.clone();
    let first_grant = w.grant_secret(id.as_str()).await;

    // An operator configured it; later its refresh token died.
    configured.concurrency_level = ConcurrencyLevel::new(5).unwrap();
    configured.schedule = "daily 06:00".parse().unwrap();
    configured.erp = Some(ErpSettings::Acumatica(AcumaticaSettings {
        base_url: ErpUrl::parse("https://acme.acumatica.com").unwrap(),
        tenant: "Acme".into(),
        endpoint_name: "Default".into(),
        endpoint_version: "24.200.001".into(),
        branch: None,
    }));
    configured.status = ConnectionStatus::NeedsReauth;
    configured.status_reason = Some("refresh token refused".into());
    store.replace(&configured).await.unwrap();

    let (status, page) = w.click_connect().await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("connected again; its settings were kept"), "{page}");
    assert!(page.contains("will now flow to your ERP"), "{page}");

    let after = store.get(&id).await.unwrap().unwrap();
    assert_eq!(after.status, ConnectionStatus::Active);
    assert_eq!(after.status_reason, None);
    assert_eq!(after.concurrency_level, configured.concurrency_level);
    assert_eq!(after.schedule, configured.schedule);
    assert_eq!(after.erp, configured.erp);
    assert_eq!(after.created_at, configured.created_at);
    assert_eq!(w.stack.scan_table("ConnectionsTable").await.len(), 1, "one connection per company");

    let second_grant = w.grant_secret(id.as_str()).await;
    assert_ne!(first_grant["refresh_token"], second_grant["refresh_token"], "the secret holds the new grant");
    let valid = w.concur.sim.valid_refresh_tokens(EMEA_COMPANY);
    assert!(valid.iter().any(|t| second_grant["refresh_token"] == t.as_str()));
    let steps: Vec<_> = w
        .stack
        .audit(CALLBACK)
        .history(&format!("{id}#connection"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.step)
        .collect();
    assert_eq!(steps, ["connected", "webhooks", "reconnected", "webhooks"]);
}

#[tokio::test]
async fn an_expired_or_used_up_request_token_gets_invalid_grant_advice_and_stores_nothing() {
    let w = world().await;
    let token = w.concur.sim.issue_request_token(EMEA_COMPANY);
    w.concur.sim.expire_request_token(&token);
    let (status, page) = w.open_link(&[("id", EMEA_COMPANY), ("requestToken", &token), ("userId", ADMIN)]).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("expired"), "{page}");
    assert!(page.contains("Click Connect again"), "{page}");
    assert!(!page.contains(&token));
    w.assert_nothing_stored().await;

    let (status, page) = w.open_link(&[("id", EMEA_COMPANY), ("requestToken", "never-issued")]).await;
    assert_eq!(status, 400, "{page}");
    w.assert_nothing_stored().await;
}

#[tokio::test]
async fn missing_and_malformed_parameters_are_refused_before_anything_is_called() {
    let w = world().await;
    let token = w.concur.sim.issue_request_token(EMEA_COMPANY);
    for query in [
        vec![("requestToken", token.as_str())],
        vec![("id", EMEA_COMPANY)],
        vec![("id", "not-a-uuid"), ("requestToken", token.as_str())],
        vec![("id", EMEA_COMPANY), ("requestToken", "has spaces in it")],
        vec![],
    ] {
        let (status, page) = w.open_link(&query).await;
        assert_eq!(status, 400, "{query:?}: {page}");
        assert!(page.contains("incomplete"), "{page}");
    }
    assert!(w.concur.sim.requests().is_empty(), "Concur was never called");
    w.assert_nothing_stored().await;
}

#[tokio::test]
async fn concur_unreachable_gets_a_retry_later_page_and_stores_nothing() {
    let w = world().await;
    w.concur
        .sim
        .faults()
        .inject(
            FaultSpec::from_json(br#"{"kind":"server_error","status":503,"count":10,"path_prefix":"/oauth2"}"#)
                .unwrap(),
        )
        .unwrap();
    let (status, page) = w.click_connect().await;
    assert_eq!(status, 502, "{page}");
    assert!(page.contains("reload this page"), "{page}");
    w.assert_nothing_stored().await;
}
