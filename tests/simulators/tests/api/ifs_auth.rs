//! IFS simulator over real HTTP: IAM token endpoint, bearer checks, routing,
//! injected faults in IFS's error shape, rate limit and body cap.

use crate::ifs_support;

use base64::Engine;
use ifs_support::{API, CLIENT, NS, SECRET, env, send};
use reqwest::StatusCode;
use serde_json::json;
use simulators::faults::{FaultKind, FaultSpec};

fn fault(kind: FaultKind, count: u32) -> FaultSpec {
    FaultSpec { fault: kind, count: Some(count), fraction: None, path_prefix: Some(API.into()), method: None }
}

#[tokio::test]
async fn client_credentials_issue_a_short_lived_keycloak_token() {
    let env = env().await;
    let calls_before = env.sim.token_calls();
    let answer = env
        .token_call(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("scope", "openid microprofile-jwt"),
        ])
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let body = &answer.body;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 180);
    assert_eq!(body["refresh_expires_in"], 1800);
    assert_eq!(body["not-before-policy"], 0);
    assert!(body["access_token"].as_str().unwrap().starts_with("eyJ"));
    assert!(body["refresh_token"].as_str().unwrap().starts_with("eyJ"));
    assert!(body["id_token"].is_string() && body["session_state"].is_string());
    assert!(body["scope"].as_str().unwrap().split(' ').any(|s| s == "openid"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    // The payload is a readable JWT claim set.
    let payload = body["access_token"].as_str().unwrap().split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["azp"], CLIENT);
    assert_eq!(env.sim.token_calls(), calls_before + 1);

    env.sim.set_token_lifetime(30);
    let basic = env
        .http
        .post(format!("{}/auth/realms/{NS}/protocol/openid-connect/token", env.server.base_url()))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "openid")]);
    let answer = send(basic).await;
    assert_eq!(answer.status, StatusCode::OK, "HTTP Basic client authentication: {}", answer.body);
    assert_eq!(answer.body["expires_in"], 30);
}

#[tokio::test]
async fn token_errors_follow_keycloak() {
    let env = env().await;
    type Case<'a> = (Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT),
                ("client_secret", "wrong"),
                ("scope", "openid"),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "NOPE"),
                ("client_secret", SECRET),
                ("scope", "openid"),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("scope", "microprofile-jwt"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            vec![("grant_type", "client_credentials"), ("client_id", CLIENT), ("client_secret", SECRET)],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("username", "jdoe"),
                ("password", "bad"),
                ("scope", "openid"),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
        ),
        (
            vec![("grant_type", "authorization_code"), ("client_id", CLIENT), ("client_secret", SECRET)],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (vec![("client_id", CLIENT), ("client_secret", SECRET)], StatusCode::BAD_REQUEST, "invalid_request"),
    ];
    for (form, status, error) in cases {
        let answer = env.token_call(&form).await;
        assert_eq!((answer.status, answer.body["error"].as_str().unwrap()), (status, error), "{form:?}");
        assert!(answer.body["error_description"].is_string());
    }
    assert_eq!(
        env.token_call(&[("grant_type", "client_credentials"), ("client_id", CLIENT), ("client_secret", "wrong")])
            .await
            .body["error_description"],
        "Invalid client credentials"
    );

    env.sim.set_client_grants(NS, CLIENT, false, true);
    let answer = env
        .token_call(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("scope", "openid"),
        ])
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"], "unauthorized_client");
    assert_eq!(answer.body["error_description"], "Client not enabled to retrieve service account");

    let unknown_realm = env
        .http
        .post(format!("{}/auth/realms/nowhere/protocol/openid-connect/token", env.server.base_url()))
        .form(&[("grant_type", "client_credentials")]);
    assert_eq!(send(unknown_realm).await.status, StatusCode::NOT_FOUND);
    let json_body = env
        .http
        .post(format!("{}/auth/realms/{NS}/protocol/openid-connect/token", env.server.base_url()))
        .json(&json!({"grant_type": "client_credentials"}));
    assert_eq!(send(json_body).await.body["error"], "invalid_request");
}

#[tokio::test]
async fn password_and_refresh_grants_carry_the_users_companies() {
    let env = env().await;
    let answer = env
        .token_call(&[
            ("grant_type", "password"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("username", "jdoe"),
            ("password", "pw"),
            ("scope", "openid microprofile-jwt"),
        ])
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let user_token = answer.body["access_token"].as_str().unwrap().to_owned();
    let accounts = |token: String, company: &'static str| {
        let url = env.url(&format!("AccountsHandling.svc/AccountSet?$filter=Company eq '{company}'"));
        let request = env.http.get(url).bearer_auth(token);
        async move { send(request).await.status }
    };
    assert_eq!(accounts(user_token.clone(), "10").await, StatusCode::OK);
    assert_eq!(accounts(user_token, "20").await, StatusCode::FORBIDDEN, "jdoe may access company 10 only");

    let refresh = answer.body["refresh_token"].as_str().unwrap();
    let renewed = env
        .token_call(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("refresh_token", refresh),
        ])
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    let again = env
        .token_call(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("refresh_token", refresh),
        ])
        .await;
    assert_eq!(again.body["error"], "invalid_grant", "a refresh token is spent once used");
}

#[tokio::test]
async fn expired_or_missing_tokens_get_401_with_a_bearer_challenge() {
    let env = env().await;
    let path = "AccountsHandling.svc/AccountSet?$filter=Company eq '10'";
    assert_eq!(send(env.get(path)).await.status, StatusCode::OK);

    let missing = send(env.http.get(env.url(path))).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    let forged = send(env.http.get(env.url(path)).bearer_auth("eyJhbGciOi.forged.x")).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    env.sim.expire_tokens();
    let expired = send(env.get(path)).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.header("www-authenticate"), Some("Bearer"));
    assert_eq!(expired.body, serde_json::Value::Null, "IFS answers 401 with an empty body");

    let fresh = ifs_support::client_token(&env.server, &env.http, CLIENT, SECRET).await;
    assert_eq!(send(env.http.get(env.url(path)).bearer_auth(fresh)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn faults_render_in_the_ifs_error_shape() {
    let env = env().await;
    let path = "AccountsHandling.svc/AccountSet?$filter=Company eq '10'";
    let faults = env.sim.faults();

    faults.inject(fault(FaultKind::ServerError { status: 503 }, 1)).unwrap();
    let answer = send(env.get(path)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.code(), "MI_MODIFIED_ERROR");
    assert_eq!(send(env.get(path)).await.status, StatusCode::OK, "the same request succeeds on retry");

    faults.inject(fault(FaultKind::ServerError { status: 500 }, 1)).unwrap();
    let answer = send(env.get(path)).await;
    assert_eq!((answer.status, answer.code()), (StatusCode::INTERNAL_SERVER_ERROR, "MI_MODIFIED_ERROR"));

    faults.inject(fault(FaultKind::TooManyRequests { retry_after_seconds: Some(2) }, 1)).unwrap();
    let answer = send(env.get(path)).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.header("retry-after"), Some("2"));
    assert!(answer.body["error"]["code"].is_string());

    faults.inject(fault(FaultKind::ExpiredToken, 1)).unwrap();
    let answer = send(env.get(path)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));

    let seen = env.sim.requests();
    let faulted: Vec<_> = seen.iter().filter_map(|r| r.fault.clone()).collect();
    assert_eq!(faulted, ["503", "500", "429", "expired_token"]);
}

#[tokio::test]
async fn rate_limit_and_body_cap() {
    let env = env().await;
    let path = "AccountsHandling.svc/AccountSet?$filter=Company eq '10'";
    env.sim.set_rate_limit(Some(2));
    assert_eq!(send(env.get(path)).await.status, StatusCode::OK);
    assert_eq!(send(env.get(path)).await.status, StatusCode::OK);
    let limited = send(env.get(path)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after"), Some("10"));
    // Per client id: another client still gets through.
    let other = ifs_support::client_token(&env.server, &env.http, "OTHER", "other").await;
    let url = env.url("AccountsHandling.svc/AccountSet?$filter=Company eq '30'");
    assert_eq!(send(env.http.get(url).bearer_auth(other)).await.status, StatusCode::OK);
    env.sim.set_rate_limit(None);

    let huge = format!(r#"{{"Company":"10","Text":"{}"}}"#, "x".repeat(10 * 1024 * 1024 + 1));
    let answer = send(
        env.http
            .post(env.url(ifs_support::INVOICES))
            .bearer_auth(&env.token)
            .header("Content-Type", "application/json")
            .body(huge),
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn routing_and_unknown_resources() {
    let env = env().await;
    for path in [
        "NoSuchHandling.svc/AccountSet",
        "AccountsHandling.svc/NoSuchSet",
        "AccountsHandling.svc/AccountSet(Company='10',Account='0000')",
        "SupplierHandling.svc/SupplierInfoGeneralSet(SupplierId='EMPJDOE')/NoSuchNavigation",
        "SupplierHandling.svc/SupplierInfoGeneralSet(SupplierId='NOBODY')/SupplierInvoiceCompanies",
    ] {
        let answer = send(env.get(path)).await;
        assert_eq!((answer.status, answer.code()), (StatusCode::NOT_FOUND, "ODP_RESOURCE_NOTFOUND"), "{path}");
        assert_eq!(answer.message(), "Resource not found.");
    }
    let other_prefix = send(
        env.http
            .get(format!("{}/foo/ifsapplications/projection/v1/X.svc/Y", env.server.base_url()))
            .bearer_auth(&env.token),
    )
    .await;
    assert_eq!(other_prefix.code(), "ODP_RESOURCE_NOTFOUND");

    // `/int/` serves the same projections with the same token.
    let int = env.server.base_url()
        + "/int/ifsapplications/projection/v1/SupplierHandling.svc/SupplierInfoGeneralSet(SupplierId='EMPJDOE')";
    let answer = send(env.http.get(int).bearer_auth(&env.token)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.body["@odata.context"].as_str().unwrap().contains(
            "/int/ifsapplications/projection/v1/SupplierHandling.svc/$metadata#SupplierInfoGeneralSet/$entity"
        )
    );

    let service = send(env.get("CodePartValuesHandling.svc/")).await;
    let names: Vec<&str> =
        service.body["value"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["CodePartValueSet", "CodePartSet"]);
    let metadata = env.get("ManualSupplierInvoiceHandling.svc/$metadata").send().await.unwrap().text().await.unwrap();
    assert!(metadata.contains("Namespace=\"IfsApp.ManualSupplierInvoiceHandling\""));
    assert!(metadata.contains("<EnumType Name=\"ManSuppInvoiceState\">"));

    let read_only =
        send(env.post("AccountsHandling.svc/AccountSet", &json!({"Company": "10", "Account": "7000"}))).await;
    assert_eq!(read_only.status, StatusCode::METHOD_NOT_ALLOWED);
    let bad_key =
        send(env.get("ManualSupplierInvoiceHandling.svc/ManSuppInvoiceSet(Company='10',InvoiceId='1')")).await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);

    let discovery =
        send(env.http.get(format!("{}/auth/realms/{NS}/.well-known/openid-configuration", env.server.base_url())))
            .await;
    assert!(
        discovery.body["token_endpoint"].as_str().unwrap().ends_with("/auth/realms/acme/protocol/openid-connect/token")
    );
}
