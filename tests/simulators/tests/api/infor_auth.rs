//! Infor simulator over real HTTP: the `.ionapi` file, the token endpoint
//! (password grant with `saak` as-is, client auth in the body or Basic,
//! rotating refresh tokens), gateway 401s, injected faults in the
//! `{"errors":[...]}` shape, the rate limit and the M3 master-data reads.

use base64::Engine;
use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};
use simulators::RunningSimulator;
use simulators::faults::{FaultKind, FaultSpec};
use simulators::infor::{
    InforSim, M3_ADD_SUPPLIER_PATH, M3_GET_SUPPLIER_PATH, M3_LIST_ACCOUNTS_PATH, M3_LIST_DIMENSION_VALUES_PATH,
    M3_LIST_PO_HEADS_PATH, M3_LIST_PO_LINES_PATH, M3_LIST_PO_RECEIPTS_PATH, M3_LIST_SUPPLIERS_PATH,
    M3_UPDATE_SUPPLIER_PATH, M3PoLine, M3PurchaseOrder, M3Receipt,
};

const TI: &str = "ACME_TST";
const PING: &str = "IONSERVICES/api/ion/messaging/service/ping";

struct Env {
    sim: InforSim,
    _server: RunningSimulator,
    http: Client,
    ionapi: Value,
}

impl Env {
    fn field(&self, key: &str) -> String {
        self.ionapi[key].as_str().unwrap_or_else(|| panic!("{key} missing from {}", self.ionapi)).to_owned()
    }

    fn token_url(&self) -> String {
        format!("{}{}", self.field("pu"), self.field("ot"))
    }

    fn api(&self, path: &str) -> String {
        format!("{}/{}/{path}", self.field("iu"), self.field("ti"))
    }

    async fn post_token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self.http.post(self.token_url()).form(form).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// Password grant with client auth in the body.
    async fn token_response(&self) -> Value {
        let (ci, cs, saak, sask) = (self.field("ci"), self.field("cs"), self.field("saak"), self.field("sask"));
        let (status, body) = self
            .post_token(&[
                ("grant_type", "password"),
                ("client_id", &ci),
                ("client_secret", &cs),
                ("username", &saak),
                ("password", &sask),
            ])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn token(&self) -> String {
        self.token_response().await["access_token"].as_str().unwrap().to_owned()
    }

    async fn get(&self, path: &str, bearer: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(self.api(path));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send().await.unwrap()
    }
}

async fn env() -> Env {
    let sim = InforSim::new();
    sim.add_tenant(TI);
    sim.add_tenant("OTHER_TST");
    let server = sim.clone().start().await;
    let ionapi = sim.ionapi_file(&server.base_url(), TI);
    Env { sim, _server: server, http: Client::new(), ionapi }
}

#[tokio::test]
async fn ionapi_file_is_complete_and_consistent() {
    let env = env().await;
    let file = &env.ionapi;
    for key in ["ti", "cn", "ci", "cs", "iu", "pu", "oa", "ot", "or", "ev", "v", "saak", "sask"] {
        assert!(file[key].as_str().is_some_and(|v| !v.is_empty()), "{key} in {file}");
    }
    assert_eq!(file["ti"], TI);
    assert!(env.field("ci").starts_with("ACME_TST~"));
    assert!(env.field("saak").starts_with("ACME_TST#"));
    assert_eq!(env.field("iu"), env._server.base_url());
    assert_eq!(env.field("pu"), format!("{}/ACME_TST/as/", env._server.base_url()));
    assert_eq!(file["ot"], "token.oauth2");
    assert_eq!(file["oa"], "authorization.oauth2");
    assert_eq!(file["or"], "revoke_token.oauth2");
    let other = env.sim.ionapi_file(&env.field("iu"), "OTHER_TST");
    assert_ne!(other["ci"], file["ci"], "every tenant has its own app");
}

#[tokio::test]
async fn password_grant_with_body_client_auth() {
    let env = env().await;
    let body = env.token_response().await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 7200);
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() >= 32));
    assert!(body.get("refresh_token").is_none(), "refresh tokens are off by default");
    assert_eq!(env.sim.token_calls(), 1);
    let token = body["access_token"].as_str().unwrap();
    let ping = env.get(PING, Some(token)).await;
    assert_eq!(ping.status(), StatusCode::OK);
}

#[tokio::test]
async fn password_grant_with_basic_client_auth() {
    let env = env().await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", env.field("ci"), env.field("cs")));
    let (saak, sask) = (env.field("saak"), env.field("sask"));
    let form = [("grant_type", "password"), ("username", saak.as_str()), ("password", sask.as_str())];
    let response = env
        .http
        .post(env.token_url())
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");

    // Basic and a client_secret in the body: two authentication methods.
    let cs = env.field("cs");
    let mut both = form.to_vec();
    both.push(("client_secret", cs.as_str()));
    let response = env
        .http
        .post(env.token_url())
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .form(&both)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    // A wrong Basic secret is invalid_client (401).
    let wrong = base64::engine::general_purpose::STANDARD.encode(format!("{}:nope", env.field("ci")));
    let response = env
        .http
        .post(env.token_url())
        .header(header::AUTHORIZATION, format!("Basic {wrong}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_client");
}

#[tokio::test]
async fn username_must_be_saak_exactly() {
    let env = env().await;
    let (ci, cs, saak, sask) = (env.field("ci"), env.field("cs"), env.field("saak"), env.field("sask"));
    let doubled = format!("{TI}#{saak}");
    let bare = saak.strip_prefix("ACME_TST#").unwrap().to_owned();
    for (username, password) in
        [(doubled.as_str(), sask.as_str()), (bare.as_str(), sask.as_str()), (saak.as_str(), "wrong")]
    {
        let (status, body) = env
            .post_token(&[
                ("grant_type", "password"),
                ("client_id", &ci),
                ("client_secret", &cs),
                ("username", username),
                ("password", password),
            ])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{username}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{username}: {body}");
    }
    // The `#` travels form-encoded as %23 (reqwest's form does that); a raw body proves the server decodes it.
    let raw = format!(
        "grant_type=password&client_id={}&client_secret={}&username={}&password={}",
        urlencode(&ci),
        urlencode(&cs),
        urlencode(&saak),
        urlencode(&sask)
    );
    assert!(raw.contains("ACME_TST%23"));
    let response = env
        .http
        .post(env.token_url())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Wrong client secret: invalid_client.
    let (status, body) = env
        .post_token(&[
            ("grant_type", "password"),
            ("client_id", &ci),
            ("client_secret", "nope"),
            ("username", &saak),
            ("password", &sask),
        ])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    // The other tenant's token URL does not know this app.
    let other_url = env.token_url().replace("/ACME_TST/", "/OTHER_TST/");
    let response = env
        .http
        .post(other_url)
        .form(&[
            ("grant_type", "password"),
            ("client_id", ci.as_str()),
            ("client_secret", cs.as_str()),
            ("username", saak.as_str()),
            ("password", sask.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(env.sim.token_calls_with("password"), 6);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn refresh_tokens_rotate() {
    let env = env().await;
    env.sim.issue_refresh_tokens(true);
    let first = env.token_response().await;
    let refresh = first["refresh_token"].as_str().expect("refresh token issued").to_owned();
    let (ci, cs) = (env.field("ci"), env.field("cs"));
    let refresh_with = |token: String| {
        let (ci, cs) = (ci.clone(), cs.clone());
        let env = &env;
        async move {
            env.post_token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &token),
                ("client_id", &ci),
                ("client_secret", &cs),
            ])
            .await
        }
    };
    let (status, second) = refresh_with(refresh.clone()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let rotated = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, refresh);
    assert_ne!(second["access_token"], first["access_token"]);
    // The spent refresh token is refused; the rotated one works once.
    let (status, body) = refresh_with(refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let (status, _) = refresh_with(rotated.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = refresh_with(rotated).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(env.sim.token_calls_with("refresh_token"), 4);
}

#[tokio::test]
async fn gateway_requires_a_valid_bearer_of_the_tenant() {
    let env = env().await;
    let missing = env.get(PING, None).await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.headers()[header::WWW_AUTHENTICATE], "Bearer");
    let body: Value = missing.json().await.unwrap();
    assert!(body["errors"][0].as_str().is_some(), "{body}");

    let garbage = env.get(PING, Some("not-a-token")).await;
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
    assert!(garbage.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Bearer"));

    let token = env.token().await;
    assert_eq!(env.get(PING, Some(&token)).await.status(), StatusCode::OK);
    // Another tenant's path with this tenant's token.
    let other =
        env.http.get(env.api(PING).replace("/ACME_TST/", "/OTHER_TST/")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);

    env.sim.expire_tokens();
    let expired = env.get(PING, Some(&token)).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert!(expired.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Bearer"));
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body, json!({"errors": ["The access token has expired"]}));
    // A new token works again.
    let fresh = env.token().await;
    assert_eq!(env.get(PING, Some(&fresh)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn token_lifetime_is_configurable() {
    let env = env().await;
    env.sim.set_token_lifetime(0);
    let body = env.token_response().await;
    assert_eq!(body["expires_in"], 0);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(env.get(PING, Some(token)).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_paths_are_404_in_the_errors_shape() {
    let env = env().await;
    let token = env.token().await;
    for path in
        ["IONSERVICES/api/ion/messaging/service/v9/nothing", "IONSERVICES/other", "M3/m3api-rest/v2/execute/XYZ/Lst"]
    {
        let response = env.get(path, Some(&token)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["errors"][0].as_str().is_some(), "{body}");
    }
    let wrong_method = env.http.post(env.api(PING)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn injected_faults_use_the_errors_shape() {
    let env = env().await;
    let token = env.token().await;
    let faults = env.sim.faults();
    let only = |kind| FaultSpec {
        fault: kind,
        count: Some(1),
        fraction: None,
        path_prefix: Some("/ACME_TST/IONSERVICES".into()),
        method: None,
    };

    faults.inject(only(FaultKind::TooManyRequests { retry_after_seconds: Some(7) })).unwrap();
    let response = env.get(PING, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"][0].as_str().is_some(), "{body}");

    faults.inject(only(FaultKind::TooManyRequests { retry_after_seconds: None })).unwrap();
    let response = env.get(PING, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get(header::RETRY_AFTER).is_none());

    faults.inject(only(FaultKind::ServerError { status: 503 })).unwrap();
    let response = env.get(PING, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"][0].as_str().unwrap().contains("unavailable"), "{body}");

    faults.inject(only(FaultKind::ExpiredToken)).unwrap();
    let response = env.get(PING, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"errors": ["The access token has expired"]}));

    // Rules are used up; the request log shows what happened.
    assert_eq!(env.get(PING, Some(&token)).await.status(), StatusCode::OK);
    let faulted: Vec<_> = env.sim.requests().into_iter().filter_map(|r| r.fault).collect();
    assert_eq!(faulted, ["429", "429", "503", "expired_token"]);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let env = env().await;
    let token = env.token().await;
    env.sim.set_rate_limit(Some(3));
    for _ in 0..3 {
        assert_eq!(env.get(PING, Some(&token)).await.status(), StatusCode::OK);
    }
    let limited = env.get(PING, Some(&token)).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(limited.json::<Value>().await.unwrap()["errors"][0].is_string());
    env.sim.set_rate_limit(None);
    assert_eq!(env.get(PING, Some(&token)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn m3_master_data_reads() {
    let env = env().await;
    env.sim.add_account_named(TI, "1000", "6100", "Travel");
    env.sim.add_account(TI, "1000", "2440");
    env.sim.add_account(TI, "2000", "9999");
    env.sim.add_dimension_value(TI, "1000", "CostCenter", "110");
    env.sim.add_dimension_value(TI, "1000", "CostCenter", "120");
    env.sim.add_supplier_named(TI, "1000", "EMPJDOE", "Jane Doe");
    let token = env.token().await;

    let unauthenticated = env.get(&format!("{M3_LIST_ACCOUNTS_PATH}?DIVI=1000"), None).await;
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);

    let accounts: Value =
        env.get(&format!("{M3_LIST_ACCOUNTS_PATH}?DIVI=1000"), Some(&token)).await.json().await.unwrap();
    assert_eq!(
        accounts["results"][0]["records"],
        json!([{"AITM": "2440", "TX40": ""}, {"AITM": "6100", "TX40": "Travel"}])
    );
    assert_eq!(accounts["nrOfFailedTransactions"], 0);

    let values: Value = env
        .get(&format!("{M3_LIST_DIMENSION_VALUES_PATH}?DIVI=1000&DIMT=CostCenter"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let codes: Vec<&str> =
        values["results"][0]["records"].as_array().unwrap().iter().map(|r| r["AITM"].as_str().unwrap()).collect();
    assert_eq!(codes, ["110", "120"]);

    let suppliers: Value =
        env.get(&format!("{M3_LIST_SUPPLIERS_PATH}?DIVI=1000"), Some(&token)).await.json().await.unwrap();
    assert_eq!(suppliers["results"][0]["records"], json!([{"SUNO": "EMPJDOE", "SUNM": "Jane Doe", "STAT": "20"}]));

    // maxrecs caps the records; 0 = all.
    let capped: Value =
        env.get(&format!("{M3_LIST_ACCOUNTS_PATH}?DIVI=1000&maxrecs=1"), Some(&token)).await.json().await.unwrap();
    assert_eq!(capped["results"][0]["records"].as_array().unwrap().len(), 1);
    let all: Value =
        env.get(&format!("{M3_LIST_ACCOUNTS_PATH}?DIVI=1000&maxrecs=0"), Some(&token)).await.json().await.unwrap();
    assert_eq!(all["results"][0]["records"].as_array().unwrap().len(), 2);

    // Business errors are 200 with the error inside the result, as M3 answers.
    let missing = env.get(M3_LIST_ACCOUNTS_PATH, Some(&token)).await;
    assert_eq!(missing.status(), StatusCode::OK);
    let missing: Value = missing.json().await.unwrap();
    assert_eq!(missing["nrOfFailedTransactions"], 1);
    assert_eq!(missing["results"][0]["errorField"], "DIVI");
    let unknown: Value =
        env.get(&format!("{M3_LIST_ACCOUNTS_PATH}?DIVI=7777"), Some(&token)).await.json().await.unwrap();
    assert_eq!(unknown["results"][0]["errorMessage"], "Division 7777 does not exist");
    let no_dimt: Value =
        env.get(&format!("{M3_LIST_DIMENSION_VALUES_PATH}?DIVI=1000"), Some(&token)).await.json().await.unwrap();
    assert_eq!(no_dimt["results"][0]["errorField"], "DIMT");
}

#[tokio::test]
async fn m3_supplier_writes_are_strict() {
    let env = env().await;
    env.sim.add_supplier_named(TI, "1000", "EMPJDOE", "Jane Doe");
    let token = env.token().await;
    let call = |path: &str, query: &str| {
        let url = format!("{path}?DIVI=1000&{query}");
        let token = token.clone();
        let env = &env;
        async move { env.get(&url, Some(&token)).await.json::<Value>().await.unwrap() }
    };
    let refusal = |answer: &Value| {
        assert_eq!(answer["nrOfFailedTransactions"], 1, "{answer}");
        let result = &answer["results"][0];
        (result["errorField"].as_str().unwrap().to_owned(), result["errorMessage"].as_str().unwrap().to_owned())
    };

    let missing = call(M3_GET_SUPPLIER_PATH, "SUNO=EMPNEW").await;
    assert_eq!(refusal(&missing), ("SUNO".into(), "Supplier EMPNEW does not exist".into()));
    let known = call(M3_GET_SUPPLIER_PATH, "SUNO=EMPJDOE").await;
    assert_eq!(known["results"][0]["records"], json!([{"SUNO": "EMPJDOE", "SUNM": "Jane Doe", "STAT": "20"}]));

    let complete = "SUNO=EMPNEW&SUNM=New%20Hire&SUTY=0&CSCD=US&LNCD=GB&CUCD=USD&TEPY=30&PYME=TRF&TOWN=Austin";
    let no_terms = complete.replace("&TEPY=30", "");
    assert_eq!(refusal(&call(M3_ADD_SUPPLIER_PATH, &no_terms).await).0, "TEPY");
    let typo = format!("{complete}&TOWNN=Austin");
    assert_eq!(refusal(&call(M3_ADD_SUPPLIER_PATH, &typo).await).0, "TOWNN", "an unknown field is refused");
    let long_name = complete.replace("New%20Hire", &"N".repeat(37));
    assert_eq!(refusal(&call(M3_ADD_SUPPLIER_PATH, &long_name).await).0, "SUNM");
    let added = call(M3_ADD_SUPPLIER_PATH, complete).await;
    assert_eq!(added["nrOfFailedTransactions"], 0, "{added}");
    let again = call(M3_ADD_SUPPLIER_PATH, complete).await;
    assert_eq!(refusal(&again), ("SUNO".into(), "Supplier EMPNEW already exists".into()));

    // A blank input keeps the field; a given one replaces it.
    let updated = call(M3_UPDATE_SUPPLIER_PATH, "SUNO=EMPNEW&SUNM=New%20Hire%20Jr&TOWN=").await;
    assert_eq!(updated["nrOfFailedTransactions"], 0, "{updated}");
    let stored = env.sim.supplier(TI, "1000", "EMPNEW").unwrap();
    assert_eq!((stored["SUNM"].as_str(), stored["TOWN"].as_str()), ("New Hire Jr", "Austin"));
    let ghost = call(M3_UPDATE_SUPPLIER_PATH, "SUNO=EMPGHOST&SUNM=Nobody").await;
    assert_eq!(refusal(&ghost), ("SUNO".into(), "Supplier EMPGHOST does not exist".into()));

    let listed = call(M3_LIST_SUPPLIERS_PATH, "maxrecs=0").await;
    let codes: Vec<&str> =
        listed["results"][0]["records"].as_array().unwrap().iter().map(|r| r["SUNO"].as_str().unwrap()).collect();
    assert_eq!(codes, ["EMPJDOE", "EMPNEW"], "LstSuppliers returns the written supplier");
    assert_eq!(listed["results"][0]["records"][1]["CUCD"], "USD");
}

#[tokio::test]
async fn m3_purchase_order_lists_are_strict() {
    use rust_decimal::Decimal;
    use time::macros::date;

    let env = env().await;
    env.sim.add_supplier_named(TI, "1000", "S1000", "Contoso");
    let line = |number: u32, status: u16| M3PoLine {
        line: number,
        subline: 0,
        item: "ITEM-1".into(),
        description: "Laptop".into(),
        quantity: Decimal::new(25, 1),
        unit: "EA".into(),
        price: Decimal::new(99990, 2),
        account: (number == 10).then(|| "6100".into()),
        status,
    };
    let order = M3PurchaseOrder {
        number: "4000001".into(),
        supplier: "S1000".into(),
        currency: "USD".into(),
        order_date: date!(2024 - 03 - 15),
        status: 20,
        lines: vec![line(20, 85), line(10, 50)],
    };
    env.sim.add_purchase_order(TI, "1000", order);
    let receipt = M3Receipt {
        order: "4000001".into(),
        line: 10,
        subline: 0,
        receiving_number: "R1".into(),
        date: date!(2024 - 03 - 20),
        quantity: Decimal::ONE,
        unit: "EA".into(),
    };
    env.sim.add_purchase_receipt(TI, "1000", receipt);
    let token = env.token().await;
    let call = |path: &str, query: &str| {
        let url = format!("{path}?DIVI=1000&{query}");
        let token = token.clone();
        let env = &env;
        async move { env.get(&url, Some(&token)).await.json::<Value>().await.unwrap() }
    };

    let heads = call(M3_LIST_PO_HEADS_PATH, "maxrecs=0").await;
    let head =
        json!({"PUNO": "4000001", "SUNO": "S1000", "CUCD": "USD", "PUDT": "20240315", "PUSL": "50", "PUST": "85"});
    assert_eq!(heads["results"][0]["records"], json!([head]));
    let lines = call(M3_LIST_PO_LINES_PATH, "PUNO=4000001").await;
    let lines = lines["results"][0]["records"].as_array().unwrap().clone();
    assert_eq!(lines.iter().map(|l| l["PNLI"].as_str().unwrap()).collect::<Vec<_>>(), ["10", "20"]);
    assert_eq!((lines[0]["ORQA"].as_str(), lines[0]["PUPR"].as_str()), (Some("2.5"), Some("999.90")));
    assert_eq!((lines[0]["AIT1"].as_str(), lines[1]["AIT1"].as_str()), (Some("6100"), Some("")));
    let receipts = call(M3_LIST_PO_RECEIPTS_PATH, "").await;
    assert_eq!(receipts["results"][0]["records"][0]["REPN"], "R1");
    assert_eq!(receipts["results"][0]["records"][0]["TRDT"], "20240320");

    // Business errors are 200 with the error inside the result, as M3 answers.
    for (path, query, field) in [
        (M3_LIST_PO_LINES_PATH, "", "PUNO"),
        (M3_LIST_PO_LINES_PATH, "PUNO=4999999", "PUNO"),
        (M3_LIST_PO_HEADS_PATH, "PUNOO=4000001", "PUNOO"),
        (M3_LIST_PO_RECEIPTS_PATH, "PUNO=4000001", "PUNO"),
    ] {
        let answer = call(path, query).await;
        assert_eq!(answer["nrOfFailedTransactions"], 1, "{path}?{query}: {answer}");
        assert_eq!(answer["results"][0]["errorField"], field, "{path}?{query}");
    }
}

#[tokio::test]
async fn revoke_invalidates_a_refresh_token() {
    let env = env().await;
    env.sim.issue_refresh_tokens(true);
    let body = env.token_response().await;
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let (ci, cs) = (env.field("ci"), env.field("cs"));
    let revoke_url = format!("{}{}", env.field("pu"), env.field("or"));
    let response = env
        .http
        .post(revoke_url)
        .form(&[
            ("token", refresh.as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", &ci),
            ("client_secret", &cs),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = env
        .post_token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &ci),
            ("client_secret", &cs),
        ])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}
