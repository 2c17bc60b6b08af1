//! Acumatica simulator over real HTTP: OAuth token endpoint, bearer checks,
//! cookie sessions, discovery, injected faults and the request limiter.

use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};
use simulators::RunningSimulator;
use simulators::acumatica::{AcumaticaSim, TenantSpec};

const GUID: &str = "88358B02-A48D-A50E-F710-39C1636C30F6";
const OTHER_GUID: &str = "11111111-2222-3333-4444-555555555555";
const BASE: &str = "/entity/Default/24.200.001";

struct Env {
    sim: AcumaticaSim,
    server: RunningSimulator,
    http: Client,
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    async fn token_call(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self.http.post(self.url("/identity/connect/token")).form(form).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    async fn password_token(&self, scope: &str) -> Value {
        let client_id = format!("{GUID}@Acme");
        let (status, body) = self
            .token_call(&[
                ("grant_type", "password"),
                ("client_id", &client_id),
                ("client_secret", "s3cr3t"),
                ("username", "concur_int"),
                ("password", "p@ss"),
                ("scope", scope),
            ])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn get_vendors(&self, bearer: &str) -> reqwest::Response {
        self.http.get(self.url(&format!("{BASE}/Vendor"))).bearer_auth(bearer).send().await.unwrap()
    }
}

async fn env() -> Env {
    let sim = AcumaticaSim::new();
    sim.add_tenant(TenantSpec {
        name: "Acme".into(),
        client_id: GUID.into(),
        client_secret: "s3cr3t".into(),
        users: vec![("concur_int".into(), "p@ss".into())],
        branches: vec!["HQ".into(), "EAST".into()],
    });
    sim.add_tenant(TenantSpec {
        name: "Globex".into(),
        client_id: OTHER_GUID.into(),
        client_secret: "other".into(),
        users: vec![("concur_int".into(), "p@ss".into())],
        branches: vec!["MAIN".into()],
    });
    sim.add_vendor("Acme", "V000123", "Acme Supplies", "Active");
    sim.add_vendor("Globex", "G1", "Globex vendor", "Active");
    let server = sim.clone().start().await;
    Env { sim, server, http: Client::new() }
}

#[tokio::test]
async fn password_grant_needs_the_tenant_suffix_in_client_id() {
    let env = env().await;
    let body = env.password_token("api offline_access").await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "api offline_access");
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() >= 32));
    assert!(body["refresh_token"].is_string());

    // The token reaches Acme's data only.
    let token = body["access_token"].as_str().unwrap();
    let vendors: Value = env.get_vendors(token).await.json().await.unwrap();
    let ids: Vec<&str> = vendors.as_array().unwrap().iter().map(|v| v["VendorID"]["value"].as_str().unwrap()).collect();
    assert_eq!(ids, ["V000123"]);

    let refused = [
        (GUID.to_owned(), "s3cr3t", "concur_int", "p@ss", "api", "invalid_client"), // bare GUID
        (format!("{GUID}@Nope"), "s3cr3t", "concur_int", "p@ss", "api", "invalid_client"),
        (format!("{GUID}@Globex"), "s3cr3t", "concur_int", "p@ss", "api", "invalid_client"), // GUID of another tenant
        (format!("{GUID}@Acme"), "wrong", "concur_int", "p@ss", "api", "invalid_client"),
        (format!("{GUID}@Acme"), "s3cr3t", "concur_int", "bad", "api", "invalid_grant"),
        (format!("{GUID}@Acme"), "s3cr3t", "concur_int", "p@ss", "offline_access", "invalid_scope"),
        (format!("{GUID}@Acme"), "s3cr3t", "concur_int", "p@ss", "api bogus", "invalid_scope"),
    ];
    for (client_id, secret, user, password, scope, error) in refused {
        let (status, body) = env
            .token_call(&[
                ("grant_type", "password"),
                ("client_id", &client_id),
                ("client_secret", secret),
                ("username", user),
                ("password", password),
                ("scope", scope),
            ])
            .await;
        assert_eq!(
            (status, body),
            (StatusCode::BAD_REQUEST, json!({ "error": error })),
            "{client_id} {secret} {password} {scope}"
        );
    }
    let (status, body) = env
        .token_call(&[
            ("grant_type", "client_credentials"),
            ("client_id", &format!("{GUID}@Acme")),
            ("client_secret", "s3cr3t"),
        ])
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"error": "unsupported_grant_type"})));
    assert_eq!(env.sim.token_calls("password"), 8);
    assert_eq!(env.sim.token_calls("client_credentials"), 1);
    // Without offline_access no refresh token is issued.
    assert!(env.password_token("api").await.get("refresh_token").is_none());
}

#[tokio::test]
async fn refresh_tokens_rotate_and_are_single_use() {
    let env = env().await;
    env.sim.set_token_lifetime(60);
    let first = env.password_token("api offline_access").await;
    assert_eq!(first["expires_in"], 60);
    let client_id = format!("{GUID}@Acme");
    let old_refresh = first["refresh_token"].as_str().unwrap();
    let refresh = |token: String| {
        let client_id = client_id.clone();
        let env = &env;
        async move {
            env.token_call(&[
                ("grant_type", "refresh_token"),
                ("client_id", &client_id),
                ("client_secret", "s3cr3t"),
                ("refresh_token", &token),
            ])
            .await
        }
    };
    let (status, second) = refresh(old_refresh.to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let new_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, old_refresh);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["scope"], "api offline_access");

    // The spent refresh token is refused; the newest works.
    assert_eq!(refresh(old_refresh.to_owned()).await, (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"})));
    let (status, third) = refresh(new_refresh.clone()).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_eq!(env.get_vendors(third["access_token"].as_str().unwrap()).await.status(), StatusCode::OK);
    assert_eq!(env.sim.token_calls("refresh_token"), 3);

    // A refresh token only works for the client it was issued to.
    let (status, body) = env
        .token_call(&[
            ("grant_type", "refresh_token"),
            ("client_id", &format!("{OTHER_GUID}@Globex")),
            ("client_secret", "other"),
            ("refresh_token", third["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"})));
}

#[tokio::test]
async fn missing_bad_or_expired_bearer_gets_401() {
    let env = env().await;
    let denied = json!({"message": "Authorization has been denied for this request."});

    let response = env.http.get(env.url(&format!("{BASE}/Vendor"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.json::<Value>().await.unwrap(), denied);

    let response = env.get_vendors("not-a-token").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.json::<Value>().await.unwrap(), denied);

    let token = env.password_token("api").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(env.get_vendors(&token).await.status(), StatusCode::OK);
    env.sim.expire_access_tokens();
    let response = env.get_vendors(&token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    assert_eq!(response.json::<Value>().await.unwrap(), denied);
}

#[tokio::test]
async fn cookie_login_logout_and_seat_limit() {
    let env = env().await;
    let login = |body: Value| env.http.post(env.url("/entity/auth/login")).json(&body).send();

    let bad = login(json!({"name": "concur_int", "password": "nope", "tenant": "Acme"})).await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["message"], "An error has occurred.");
    assert_eq!(body["exceptionMessage"], "Error: Invalid credentials. Please try again.");
    assert_eq!(body["exceptionType"], "PX.Data.PXException");

    let both =
        login(json!({"name": "concur_int", "password": "p@ss", "tenant": "Acme", "company": "Acme"})).await.unwrap();
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);

    let ok =
        login(json!({"name": "concur_int", "password": "p@ss", "tenant": "Acme", "branch": "HQ", "locale": "EN-US"}))
            .await
            .unwrap();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    let cookies: Vec<String> = ok
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    assert!(cookies.iter().any(|c| c.starts_with(".ASPXAUTH=")), "{cookies:?}");
    assert!(cookies.iter().any(|c| c.starts_with("ASP.NET_SessionId=")), "{cookies:?}");
    let cookie_header = cookies.join("; ");
    let with_cookie =
        || env.http.get(env.url(&format!("{BASE}/Vendor"))).header(header::COOKIE, cookie_header.clone()).send();
    assert_eq!(with_cookie().await.unwrap().status(), StatusCode::OK);
    assert_eq!(env.sim.active_sessions(), 1);

    // Second seat is fine, the third exceeds the default limit of 2.
    let second = login(json!({"name": "concur_int", "password": "p@ss", "tenant": "Acme"})).await.unwrap();
    assert_eq!(second.status(), StatusCode::NO_CONTENT);
    let third = login(json!({"name": "concur_int", "password": "p@ss", "tenant": "Acme"})).await.unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = third.json().await.unwrap();
    assert!(body["exceptionMessage"].as_str().unwrap().contains("API Login Limit"), "{body}");

    let out = env
        .http
        .post(env.url("/entity/auth/logout"))
        .header(header::COOKIE, cookie_header.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(env.sim.active_sessions(), 1);
    assert_eq!(with_cookie().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn discovery_lists_endpoints_and_unknown_versions_are_404() {
    let env = env().await;
    let root: Value = env.http.get(env.url("/entity")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        root["endpoints"],
        json!([{"name": "Default", "version": "24.200.001", "href": "/entity/Default/24.200.001/"}])
    );
    assert!(root["version"]["acumaticaBuildVersion"].is_string());

    let token = env.password_token("api").await["access_token"].as_str().unwrap().to_owned();
    for path in [
        "/entity/Default/23.200.001/Vendor",
        "/entity/ConcurExt/24.200.001/Vendor",
        "/entity/Default/24.200.001/Vendors",
    ] {
        let response = env.http.get(env.url(path)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().starts_with("No HTTP resource was found"), "{body}");
    }
}

#[tokio::test]
async fn injected_faults_come_back_in_acumaticas_shape() {
    let env = env().await;
    let token = env.password_token("api").await["access_token"].as_str().unwrap().to_owned();
    let inject = |spec: Value| env.http.post(env.url("/_sim/faults")).json(&spec).send();

    assert_eq!(inject(json!({"kind": "too_many_requests", "count": 1})).await.unwrap().status(), StatusCode::CREATED);
    let response = env.get_vendors(&token).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get(header::RETRY_AFTER).is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "An error has occurred.");
    assert_eq!(body["exceptionType"], "PX.Data.PXException");

    inject(json!({"kind": "too_many_requests", "retry_after_seconds": 7, "count": 1})).await.unwrap();
    let response = env.get_vendors(&token).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "7");

    inject(json!({"kind": "server_error", "status": 503, "count": 1, "path_prefix": "/entity"})).await.unwrap();
    let response = env.get_vendors(&token).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "An error has occurred.");
    assert_eq!(body["exceptionMessage"], "Service Unavailable");

    inject(json!({"kind": "expired_token", "count": 1})).await.unwrap();
    let response = env.get_vendors(&token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().contains("invalid_token"));
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"message": "Authorization has been denied for this request."})
    );

    // Rules are spent: the next call is normal again.
    assert_eq!(env.get_vendors(&token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn request_limiter_answers_429() {
    let env = env().await;
    let token = env.password_token("api").await["access_token"].as_str().unwrap().to_owned();
    env.sim.set_rate_limit(Some(2));
    assert_eq!(env.get_vendors(&token).await.status(), StatusCode::OK);
    assert_eq!(env.get_vendors(&token).await.status(), StatusCode::OK);
    let response = env.get_vendors(&token).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["exceptionType"], "PX.Data.PXException");
    assert!(body["exceptionMessage"].as_str().unwrap().contains("per minute"), "{body}");
    env.sim.set_rate_limit(None);
    assert_eq!(env.get_vendors(&token).await.status(), StatusCode::OK);
}
