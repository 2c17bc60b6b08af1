//! Concur simulator over real HTTP: token endpoint, geolocation, bearer auth,
//! Company Profile, ESS subscriptions and injected faults.

use reqwest::{StatusCode, header::HeaderMap, redirect::Policy};
use serde_json::{Value, json};
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim, Grant, StartedConcur};
use simulators::faults::{FaultKind, FaultSpec};

const CLIENT_ID: &str = "6b4b4c4e-1d2a-4f51-9a55-0c1f7b7f3a01";
const CLIENT_SECRET: &str = "0f5d8f2e-8c3b-4a6e-b0a1-3e2f6c9d7b02";
const US_COMPANY: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";
const EMEA_COMPANY: &str = "2fbfd79f-90e7-4f2a-b950-680a107c9f93";
const FI_EXPENSE: &str = "/financialintegration/fi/v4/companies/transactiontypes/expense/transactions";

struct Harness {
    concur: StartedConcur,
    http: reqwest::Client,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("read body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") };
    Reply { status, headers, body }
}

async fn harness() -> Harness {
    harness_with(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await
}

async fn harness_with(app: ConcurApp) -> Harness {
    let concur = ConcurSim::start(app).await;
    concur.sim.add_company(CompanySpec {
        uuid: US_COMPANY.into(),
        name: "Acme Corp".into(),
        datacenter: "us".into(),
        marketing_name: "CTE".into(),
    });
    concur.sim.add_company(CompanySpec {
        uuid: EMEA_COMPANY.into(),
        name: "Euro GmbH".into(),
        datacenter: "emea".into(),
        marketing_name: "Standard Edition".into(),
    });
    // No redirects: the tests assert Profile's 301 itself.
    let http = reqwest::Client::builder().redirect(Policy::none()).build().expect("client");
    Harness { concur, http }
}

impl Harness {
    fn sim(&self) -> &ConcurSim {
        &self.concur.sim
    }

    async fn token(&self, base: &str, form: &[(&str, &str)]) -> Reply {
        reply(self.http.post(format!("{base}/oauth2/v0/token")).form(form).send().await.expect("token call")).await
    }

    /// Password grant for `company` at `base` with a fresh request token.
    async fn connect(&self, base: &str, company: &str) -> Reply {
        let request_token = self.sim().issue_request_token(company);
        self.password_grant(base, company, &request_token).await
    }

    async fn password_grant(&self, base: &str, company: &str, request_token: &str) -> Reply {
        self.token(
            base,
            &[
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("grant_type", "password"),
                ("username", company),
                ("password", request_token),
                ("credtype", "authtoken"),
            ],
        )
        .await
    }

    async fn refresh(&self, base: &str, refresh_token: &str) -> Reply {
        self.token(
            base,
            &[
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    async fn app_token(&self) -> String {
        let r = self
            .token(
                &self.concur.us_url(),
                &[("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET), ("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["access_token"].as_str().expect("access_token").to_owned()
    }

    async fn get(&self, url: &str, token: Option<&str>) -> Reply {
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        reply(request.send().await.expect("GET")).await
    }

    async fn put_json(&self, url: &str, token: &str, body: &Value) -> Reply {
        reply(self.http.put(url).bearer_auth(token).json(body).send().await.expect("PUT")).await
    }

    async fn delete(&self, url: &str, token: &str) -> Reply {
        reply(self.http.delete(url).bearer_auth(token).send().await.expect("DELETE")).await
    }
}

fn access_token(r: &Reply) -> String {
    r.body["access_token"].as_str().expect("access_token").to_owned()
}

fn refresh_token(r: &Reply) -> String {
    r.body["refresh_token"].as_str().expect("refresh_token").to_owned()
}

fn now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs())
        .expect("epoch fits")
}

fn oauth_error(code: u32, error: &str, description: &str, geolocation: &str) -> Value {
    json!({"code": code, "error": error, "error_description": description, "geolocation": geolocation})
}

#[tokio::test]
async fn password_grant_returns_a_company_token_with_string_expires_in_and_geolocation() {
    let h = harness().await;
    let us = h.concur.us_url();
    let r = h.connect(&us, US_COMPANY).await;

    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["expires_in"], json!("3600"), "documented quirk: a string");
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["geolocation"], json!(us));
    let refresh_expires = r.body["refresh_expires_in"].as_i64().expect("epoch seconds as an integer");
    assert!(refresh_expires > now() + 180 * 24 * 3600, "absolute epoch about six months ahead: {refresh_expires}");
    let scope = r.body["scope"].as_str().expect("scope");
    assert!(scope.split(' ').any(|s| s == "FISVC") && scope.split(' ').any(|s| s == "company.read"), "{scope}");
    assert_eq!(r.body["id_token"].as_str().expect("id_token").split('.').count(), 3);
    assert!(r.header("concur-correlationid").is_some_and(|v| !v.is_empty()));
    assert_eq!(h.sim().token_calls(US_COMPANY, Grant::Password), 1);
    assert_eq!(h.sim().connected_companies(), vec![US_COMPANY.to_owned()]);

    let profile = h.get(&format!("{us}/profile/v1/me"), Some(&access_token(&r))).await;
    assert_eq!(profile.status, StatusCode::OK);
    assert_eq!(profile.body["id"], US_COMPANY);
    assert_eq!(profile.body["name"], "Acme Corp");
    assert_eq!(profile.body["meta"]["principalType"], "company");
    assert_eq!(profile.body["com:concur:Expense:0.1"], json!({"offeringCode": "CES", "marketingName": "CTE"}));
}

#[tokio::test]
async fn an_emea_company_gets_emea_geolocation_and_the_us_instance_refuses_its_token() {
    let h = harness().await;
    let (us, emea) = (h.concur.us_url(), h.concur.emea_url());
    // The first token comes from the application's own (US) geolocation.
    let r = h.connect(&us, EMEA_COMPANY).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["geolocation"], json!(emea));
    let token = access_token(&r);

    let profile_us = h.get(&format!("{us}/profile/v1/me"), Some(&token)).await;
    assert_eq!(profile_us.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(profile_us.header("location"), Some(format!("{emea}/profile/v1/me").as_str()));

    let fi_us = h.get(&format!("{us}{FI_EXPENSE}"), Some(&token)).await;
    assert_eq!(fi_us.status, StatusCode::UNAUTHORIZED);
    assert_eq!(fi_us.body["error"], "invalid_token");

    let profile_emea = h.get(&format!("{emea}/profile/v1/me"), Some(&token)).await;
    assert_eq!(profile_emea.status, StatusCode::OK);
    assert_eq!(profile_emea.body["com:concur:Expense:0.1"]["marketingName"], "Standard Edition");
    assert_eq!(h.get(&format!("{emea}{FI_EXPENSE}"), Some(&token)).await.status, StatusCode::OK);

    // Refreshing at the wrong datacenter: code 16 naming the right one.
    let wrong = h.refresh(&us, &refresh_token(&r)).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.body, oauth_error(16, "invalid_request", "user lives elsewhere", &emea));
    let right = h.refresh(&emea, &refresh_token(&r)).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);
    assert_eq!(right.body["geolocation"], json!(emea));
    assert_eq!(h.sim().token_calls(EMEA_COMPANY, Grant::RefreshToken), 2);
}

#[tokio::test]
async fn bad_or_expired_request_tokens_get_invalid_grant_code_5() {
    let h = harness().await;
    let us = h.concur.us_url();
    let expected = oauth_error(5, "invalid_grant", "Incorrect Credentials. Please Retry", &us);

    let unknown = h.password_grant(&us, US_COMPANY, "5l85ae5a-426f-4d6f-8af4-08648c4b696b").await;
    assert_eq!((unknown.status, &unknown.body), (StatusCode::BAD_REQUEST, &expected));

    let old = h.sim().issue_request_token_with_age(US_COMPANY, std::time::Duration::from_secs(25 * 3600));
    let aged = h.password_grant(&us, US_COMPANY, &old).await;
    assert_eq!((aged.status, &aged.body), (StatusCode::BAD_REQUEST, &expected));

    let other_company = h.sim().issue_request_token(EMEA_COMPANY);
    let mismatched = h.password_grant(&us, US_COMPANY, &other_company).await;
    assert_eq!((mismatched.status, &mismatched.body), (StatusCode::BAD_REQUEST, &expected));

    // Reusable within 24 hours, refused once expired.
    let token = h.sim().issue_request_token(US_COMPANY);
    assert_eq!(h.password_grant(&us, US_COMPANY, &token).await.status, StatusCode::OK);
    assert_eq!(h.password_grant(&us, US_COMPANY, &token).await.status, StatusCode::OK);
    h.sim().expire_request_token(&token);
    let expired = h.password_grant(&us, US_COMPANY, &token).await;
    assert_eq!((expired.status, &expired.body), (StatusCode::BAD_REQUEST, &expected));
    assert!(expired.header("x-sim-reason").is_some_and(|r| r.contains("expired")));
    assert_eq!(h.sim().token_calls(US_COMPANY, Grant::Password), 6);
}

#[tokio::test]
async fn missing_or_wrong_fields_get_the_documented_codes() {
    let h = harness().await;
    let us = h.concur.us_url();
    let rt = h.sim().issue_request_token(US_COMPANY);
    let full = [
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("grant_type", "password"),
        ("username", US_COMPANY),
        ("password", rt.as_str()),
        ("credtype", "authtoken"),
    ];
    let without = |name: &str| full.iter().copied().filter(|(k, _)| *k != name).collect::<Vec<_>>();
    let with = |name: &str, value: &'static str| {
        full.iter().map(|(k, v)| if *k == name { (*k, value) } else { (*k, *v) }).collect::<Vec<_>>()
    };
    type Form<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Form, StatusCode, Value)> = vec![
        (
            without("client_id"),
            StatusCode::BAD_REQUEST,
            oauth_error(62, "invalid_request", "client_id was not supplied", &us),
        ),
        (
            without("client_secret"),
            StatusCode::BAD_REQUEST,
            oauth_error(63, "invalid_request", "client_secret was not supplied", &us),
        ),
        (
            without("grant_type"),
            StatusCode::BAD_REQUEST,
            oauth_error(65, "invalid_request", "grant_type was not supplied", &us),
        ),
        (
            without("username"),
            StatusCode::BAD_REQUEST,
            oauth_error(51, "invalid_request", "username was not supplied", &us),
        ),
        (
            without("password"),
            StatusCode::BAD_REQUEST,
            oauth_error(52, "invalid_request", "password was not supplied", &us),
        ),
        (
            without("credtype"),
            StatusCode::BAD_REQUEST,
            oauth_error(5, "invalid_grant", "Incorrect Credentials. Please Retry", &us),
        ),
        (
            with("credtype", "otp"),
            StatusCode::BAD_REQUEST,
            oauth_error(120, "invalid_request", "credtype is invalid", &us),
        ),
        (
            with("client_id", "not-our-client"),
            StatusCode::UNAUTHORIZED,
            oauth_error(61, "invalid_client", "client not found", &us),
        ),
        (
            with("client_secret", "wrong"),
            StatusCode::UNAUTHORIZED,
            oauth_error(64, "invalid_client", "Incorrect credentials. Please Retry", &us),
        ),
        (
            with("grant_type", "authorization_code"),
            StatusCode::BAD_REQUEST,
            oauth_error(60, "invalid_grant", "these are not the grants you are looking for", &us),
        ),
    ];
    for (form, status, body) in cases {
        let r = h.token(&us, &form).await;
        assert_eq!((r.status, &r.body), (status, &body), "form {form:?}");
        assert!(r.header("concur-correlationid").is_some());
    }
    let mut scoped = full.to_vec();
    scoped.push(("scope", "FISVC travel.write"));
    let r = h.token(&us, &scoped).await;
    assert_eq!(r.body, oauth_error(54, "invalid_scope", "requested scope exceeds granted scope", &us));
    let mut narrow = full.to_vec();
    narrow.push(("scope", "FISVC"));
    let r = h.token(&us, &narrow).await;
    assert_eq!((r.status, &r.body["scope"]), (StatusCode::OK, &json!("FISVC")));
}

#[tokio::test]
async fn charset_in_content_type_and_credentials_in_the_url_are_refused() {
    let h = harness().await;
    let us = h.concur.us_url();
    let rt = h.sim().issue_request_token(US_COMPANY);
    let body = format!(
        "client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&grant_type=password&username={US_COMPANY}&password={rt}&credtype=authtoken"
    );
    let send = |content_type: &'static str, url: String, body: String| {
        let request = h.http.post(url).header("content-type", content_type).body(body);
        async move { reply(request.send().await.expect("token call")).await }
    };
    let token_url = format!("{us}/oauth2/v0/token");

    let charset = send("application/x-www-form-urlencoded; charset=utf-8", token_url.clone(), body.clone()).await;
    assert_eq!(charset.status, StatusCode::BAD_REQUEST);
    assert_eq!(charset.body["error"], "invalid_request");
    assert!(charset.body.get("access_token").is_none());
    assert!(charset.header("x-sim-reason").is_some_and(|r| r.contains("charset")));

    let json_body = send("application/json", token_url.clone(), json!({"grant_type": "password"}).to_string()).await;
    assert_eq!(json_body.status, StatusCode::BAD_REQUEST);

    let in_url = send("application/x-www-form-urlencoded", format!("{token_url}?{body}"), String::new()).await;
    assert_eq!(in_url.status, StatusCode::BAD_REQUEST);
    assert_eq!(in_url.body["error"], "invalid_request");
    assert!(in_url.body.get("access_token").is_none());

    // The same request done right is accepted: the refusals were about the transport only.
    let ok = send("application/x-www-form-urlencoded", token_url, body).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

#[tokio::test]
async fn refresh_returns_the_same_refresh_token_unless_rotation_is_asked_for() {
    let h = harness().await;
    let us = h.concur.us_url();
    let connected = h.connect(&us, US_COMPANY).await;
    let first_refresh = refresh_token(&connected);

    let same = h.refresh(&us, &first_refresh).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    assert_eq!(same.body["refresh_token"], json!(first_refresh));
    assert_eq!(same.body["refresh_expires_in"], connected.body["refresh_expires_in"]);
    assert_eq!(same.body["expires_in"], json!("3600"));
    assert_ne!(access_token(&same), access_token(&connected));
    assert_eq!(h.sim().token_calls(US_COMPANY, Grant::RefreshToken), 1);

    h.sim().rotate_refresh_tokens_on_next_refresh(US_COMPANY);
    let rotated = h.refresh(&us, &first_refresh).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let second_refresh = refresh_token(&rotated);
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(h.sim().valid_refresh_tokens(US_COMPANY), vec![second_refresh.clone()]);

    let stale = h.refresh(&us, &first_refresh).await;
    assert_eq!(stale.body, oauth_error(108, "invalid_grant", "bad or expired refresh token", &us));
    // Rotation was one-shot: the new token now comes back unchanged.
    let again = h.refresh(&us, &second_refresh).await;
    assert_eq!(again.body["refresh_token"], json!(second_refresh));
    assert_eq!(h.sim().token_calls(US_COMPANY, Grant::RefreshToken), 4);
}

#[tokio::test]
async fn an_app_configured_to_rotate_gets_a_new_refresh_token_every_time() {
    let mut app = ConcurApp::new(CLIENT_ID, CLIENT_SECRET);
    app.rotate_refresh_tokens = true;
    let h = harness_with(app).await;
    let us = h.concur.us_url();
    let first = refresh_token(&h.connect(&us, US_COMPANY).await);
    let second = refresh_token(&h.refresh(&us, &first).await);
    let third = refresh_token(&h.refresh(&us, &second).await);
    assert!(first != second && second != third && first != third);
}

#[tokio::test]
async fn revoked_expired_or_missing_refresh_tokens_are_refused() {
    let h = harness().await;
    let us = h.concur.us_url();
    let expected = oauth_error(108, "invalid_grant", "bad or expired refresh token", &us);

    let revoked = refresh_token(&h.connect(&us, US_COMPANY).await);
    h.sim().revoke_refresh_tokens(US_COMPANY);
    let r = h.refresh(&us, &revoked).await;
    assert_eq!((r.status, &r.body), (StatusCode::BAD_REQUEST, &expected));

    let expiring = h.connect(&us, US_COMPANY).await;
    h.sim().set_refresh_expiry(US_COMPANY, now() - 1);
    let r = h.refresh(&us, &refresh_token(&expiring)).await;
    assert_eq!((r.status, &r.body), (StatusCode::BAD_REQUEST, &expected));

    let r = h.refresh(&us, "e013335d-b4ce-4c43-a7e4-b67abc1adcb0").await;
    assert_eq!((r.status, &r.body), (StatusCode::BAD_REQUEST, &expected));

    let r = h
        .token(&us, &[("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET), ("grant_type", "refresh_token")])
        .await;
    assert_eq!(r.body, oauth_error(106, "invalid_request", "refresh_token was not supplied", &us));
}

#[tokio::test]
async fn missing_garbage_and_expired_access_tokens_get_401() {
    let h = harness().await;
    let us = h.concur.us_url();
    let token = access_token(&h.connect(&us, US_COMPANY).await);
    let profile = format!("{us}/profile/v1/me");
    let fi = format!("{us}{FI_EXPENSE}");

    for url in [&profile, &fi] {
        let missing = h.get(url, None).await;
        assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
        assert_eq!(missing.body["error"], "invalid_token");
        assert!(missing.header("www-authenticate").is_some_and(|v| v.starts_with("Bearer")));
        assert_eq!(h.get(url, Some("garbage")).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(h.get(url, Some(&token)).await.status, StatusCode::OK);
    }
    let basic = h.http.get(&profile).header("authorization", format!("Basic {token}")).send().await.expect("GET");
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

    h.sim().expire_access_tokens(US_COMPANY);
    for url in [&profile, &fi] {
        let expired = h.get(url, Some(&token)).await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
        assert_eq!(expired.body, json!({"error": "invalid_token", "error_description": "The access token expired"}));
        assert!(expired.header("concur-correlationid").is_some());
    }
    // A refresh brings access back.
    let connected_refresh = h.sim().valid_refresh_tokens(US_COMPANY).pop().expect("refresh token");
    let fresh = access_token(&h.refresh(&us, &connected_refresh).await);
    assert_eq!(h.get(&profile, Some(&fresh)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn client_credentials_token_manages_ess_subscriptions() {
    let h = harness().await;
    let us = h.concur.us_url();
    h.connect(&us, US_COMPANY).await;

    let app = h
        .token(&us, &[("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET), ("grant_type", "client_credentials")])
        .await;
    assert_eq!(app.status, StatusCode::OK);
    assert!(app.body.get("refresh_token").is_none());
    assert_eq!(app.body["geolocation"], json!(us));
    assert_eq!(app.body["expires_in"], json!("3600"));
    let token = access_token(&app);
    assert_eq!(h.sim().app_token_calls(), 1);

    let topics = h.get(&format!("{us}/events/v4/topics"), Some(&token)).await;
    assert_eq!((topics.status, topics.body), (StatusCode::OK, json!(["public.concur.expense.report"])));

    let webhook = format!("{us}/events/v4/subscriptions/webhook");
    let subscription = json!({
        "id": "acme-erp.expense.test.v1",
        "filter": ".*",
        "topic": "public.concur.expense.report",
        "webHookConfig": {"endpoint": "https://hooks.example.com/concur"},
    });
    let saved = h.put_json(&webhook, &token, &subscription).await;
    assert_eq!(saved.status, StatusCode::OK);
    assert_eq!(saved.body, json!({"message": "Subscription 'acme-erp.expense.test.v1' saved successfully"}));

    let application_id = h.sim().subscriptions()[0].application_id.clone();
    let expected = json!([{
        "id": "acme-erp.expense.test.v1",
        "topic": "public.concur.expense.report",
        "filter": ".*",
        "webHookConfig": {"endpoint": "https://hooks.example.com/concur"},
        "applicationId": application_id,
        "scope": "",
        "groups": [],
        "companyIds": [US_COMPANY],
    }]);
    let all = h.get(&format!("{us}/events/v4/subscriptions"), Some(&token)).await;
    assert_eq!((all.status, &all.body), (StatusCode::OK, &expected));
    let one_url = format!("{us}/events/v4/subscriptions/acme-erp.expense.test.v1");
    assert_eq!(h.get(&one_url, Some(&token)).await.body, expected);

    // PUT again updates; a loopback http endpoint is allowed for local tests.
    let mut updated = subscription.clone();
    updated["webHookConfig"]["endpoint"] = json!("http://127.0.0.1:9000/events");
    assert_eq!(h.put_json(&webhook, &token, &updated).await.status, StatusCode::OK);
    assert_eq!(h.sim().subscriptions().len(), 1);
    assert_eq!(h.sim().subscriptions()[0].endpoint, "http://127.0.0.1:9000/events");

    let refused = [
        (
            json!({"id": "Acme_ERP", "topic": "public.concur.expense.report", "webHookConfig": {"endpoint": "https://x.example.com"}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"id": "acme", "topic": "public.concur.expense.report", "webHookConfig": {"endpoint": "http://hooks.example.com"}}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"id": "acme", "topic": "public.concur.expense.report"}), StatusCode::BAD_REQUEST),
        (
            json!({"topic": "public.concur.expense.report", "webHookConfig": {"endpoint": "https://x.example.com"}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"id": "acme", "topic": "public.concur.travel.itinerary", "webHookConfig": {"endpoint": "https://x.example.com"}}),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (body, status) in refused {
        let r = h.put_json(&webhook, &token, &body).await;
        assert_eq!(r.status, status, "{body}");
    }
    h.sim().add_foreign_subscription(
        "taken.by.someone",
        "public.concur.expense.report",
        "dabd27f0-23e7-415d-b5e5-19a7dbe4fb4d",
    );
    let taken = json!({"id": "taken.by.someone", "topic": "public.concur.expense.report", "webHookConfig": {"endpoint": "https://x.example.com"}});
    let conflict = h.put_json(&webhook, &token, &taken).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.body["message"], "Subscription id 'taken.by.someone' is already in use");
    // Foreign subscriptions are not listed for this app.
    assert_eq!(
        h.get(&format!("{us}/events/v4/subscriptions"), Some(&token)).await.body.as_array().map(Vec::len),
        Some(1)
    );

    let deleted = h.delete(&one_url, &token).await;
    assert_eq!(deleted.body, json!({"message": "Subscription 'acme-erp.expense.test.v1' marked for deletion"}));
    assert_eq!(h.get(&one_url, Some(&token)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.delete(&one_url, &token).await.status, StatusCode::NOT_FOUND);

    // Principals do not mix: a company token on ESS and an app token on FI are refused.
    let company_token = access_token(&h.connect(&us, US_COMPANY).await);
    assert_eq!(h.get(&format!("{us}/events/v4/topics"), Some(&company_token)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(h.get(&format!("{us}{FI_EXPENSE}"), Some(&token)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(h.get(&format!("{us}/profile/v1/me"), Some(&token)).await.status, StatusCode::FORBIDDEN);
    // The app lives in the US: client credentials at EMEA names the US.
    let emea = h
        .token(
            &h.concur.emea_url(),
            &[("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET), ("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(emea.body, oauth_error(16, "invalid_request", "user lives elsewhere", &us));
    // Expired app tokens are refused too.
    h.sim().expire_app_tokens();
    assert_eq!(h.get(&format!("{us}/events/v4/topics"), Some(&token)).await.status, StatusCode::UNAUTHORIZED);
    assert!(!h.app_token().await.is_empty());
}

/// Adds a rule for the next `count` calls through the shared fault layer.
fn inject(h: &Harness, fault: FaultKind, count: u32, path_prefix: Option<&str>) {
    let spec = FaultSpec {
        fault,
        count: Some(count),
        fraction: None,
        path_prefix: path_prefix.map(str::to_owned),
        method: None,
    };
    h.sim().faults().inject(spec).expect("valid rule");
}

#[tokio::test]
async fn injected_faults_come_back_in_concurs_shape_with_a_correlation_id() {
    let h = harness().await;
    let us = h.concur.us_url();
    let token = access_token(&h.connect(&us, US_COMPANY).await);
    let fi = format!("{us}{FI_EXPENSE}");

    inject(&h, FaultKind::TooManyRequests { retry_after_seconds: Some(7) }, 1, Some("/financialintegration"));
    // One rule set for the whole sim: every datacenter's control endpoint lists it.
    let listed = h.get(&format!("{}/_sim/faults", h.concur.emea_url()), None).await;
    assert_eq!(listed.body["rules"][0]["spec"]["kind"], "too_many_requests");
    let limited = h.get(&fi, Some(&token)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after"), Some("7"));
    assert_eq!(limited.body["status"], 429);
    assert_eq!(limited.body["error"], "Too Many Requests");
    assert_eq!(limited.body["message"], "Rate limit reached");
    assert!(limited.header("concur-correlationid").is_some_and(|v| !v.is_empty()));
    assert_eq!(h.get(&fi, Some(&token)).await.status, StatusCode::OK, "the rule was for one call");

    inject(&h, FaultKind::TooManyRequests { retry_after_seconds: None }, 1, None);
    let bare = h.get(&fi, Some(&token)).await;
    assert_eq!(bare.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(bare.header("retry-after"), None);
    assert!(bare.header("concur-correlationid").is_some());

    inject(&h, FaultKind::ServerError { status: 503 }, 1, None);
    let down = h.get(&format!("{}/profile/v1/me", h.concur.emea_url()), Some(&token)).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.body["status"], 503);
    assert_eq!(down.body["error"], "Service Unavailable");
    assert!(down.header("concur-correlationid").is_some_and(|v| !v.is_empty()));

    // The expired_token fault answers exactly what a really expired token gets.
    inject(&h, FaultKind::ExpiredToken, 1, None);
    let faulted = h.get(&fi, Some(&token)).await;
    h.sim().expire_access_tokens(US_COMPANY);
    let really = h.get(&fi, Some(&token)).await;
    assert_eq!(faulted.status, StatusCode::UNAUTHORIZED);
    assert_eq!((faulted.status, &faulted.body), (really.status, &really.body));
    assert_eq!(faulted.header("www-authenticate"), really.header("www-authenticate"));

    let faults: Vec<Option<String>> = h.sim().requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(faults.iter().flatten().collect::<Vec<_>>(), ["429", "429", "503", "expired_token"]);
}

#[tokio::test]
async fn every_response_carries_a_correlation_id_and_unknown_paths_are_json_404() {
    let h = harness().await;
    let us = h.concur.us_url();
    let missing = h.get(&format!("{us}/nothing/here"), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["path"], "/nothing/here");
    assert!(missing.header("concur-correlationid").is_some());
    // A caller-supplied correlation id is echoed.
    let echoed =
        h.http.get(format!("{us}/profile/v1/me")).header("concur-correlationid", "trace-42").send().await.expect("GET");
    assert_eq!(echoed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(echoed.headers().get("concur-correlationid").and_then(|v| v.to_str().ok()), Some("trace-42"));
}
