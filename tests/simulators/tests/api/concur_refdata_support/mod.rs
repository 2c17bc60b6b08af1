//! Shared set-up of the Concur reference-data tests: a simulator serving `us`,
//! `emea` and `cn`, a US company (token with every reference-data scope) and a
//! company in the China datacenter.
#![allow(dead_code)]

use reqwest::{Client, Method, StatusCode, header::HeaderMap};
use serde_json::Value;
use simulators::RunningSimulator;
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim, DEFAULT_SCOPES, StartedConcur};

pub const CLIENT_ID: &str = "6b4b4c4e-1d2a-4f51-9a55-0c1f7b7f3a01";
pub const CLIENT_SECRET: &str = "0f5d8f2e-8c3b-4a6e-b0a1-3e2f6c9d7b02";
pub const COMPANY: &str = "070fde04-3e0c-4716-89fd-6026ae292ed0";
pub const CHINA_COMPANY: &str = "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
pub const VENDORS: &str = "/api/v3.0/invoice/vendors";

pub struct Env {
    pub concur: StartedConcur,
    /// The `cn` datacenter instance.
    pub cn: RunningSimulator,
    pub http: Client,
    /// Company token of [`COMPANY`] with every granted scope.
    pub token: String,
}

/// A response: status, headers and the JSON body (`Null` when empty or not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("read body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, headers, body, text }
}

/// The application: the default scopes plus list administration.
pub fn app() -> ConcurApp {
    let mut app = ConcurApp::new(CLIENT_ID, CLIENT_SECRET);
    assert!(DEFAULT_SCOPES.contains(&"INVVEN"));
    app.scopes.extend(["spend.list.write".to_owned(), "spend.list.delete".to_owned()]);
    app
}

pub async fn env() -> Env {
    let concur = ConcurSim::start(app()).await;
    let cn = simulators::spawn(concur.sim.router("cn"), 0).await.expect("cn instance");
    concur.sim.set_datacenter_url("cn", &cn.base_url());
    for (uuid, name, datacenter) in [(COMPANY, "Acme Corp", "us"), (CHINA_COMPANY, "Acme Shanghai", "cn")] {
        concur.sim.add_company(CompanySpec {
            uuid: uuid.into(),
            name: name.into(),
            datacenter: datacenter.into(),
            marketing_name: "CTE".into(),
        });
    }
    let mut env = Env { concur, cn, http: Client::new(), token: String::new() };
    env.token = env.token_for(&env.concur.us_url(), COMPANY, None).await;
    env
}

impl Env {
    pub fn sim(&self) -> &ConcurSim {
        &self.concur.sim
    }

    /// `path` on the `us` instance.
    pub fn us(&self, path: &str) -> String {
        format!("{}{path}", self.concur.us_url())
    }

    /// A company token from the password grant at `base`, optionally narrowed to `scope`.
    pub async fn token_for(&self, base: &str, company: &str, scope: Option<&str>) -> String {
        let request_token = self.sim().issue_request_token(company);
        let mut form = vec![
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("grant_type", "password"),
            ("username", company),
            ("password", request_token.as_str()),
            ("credtype", "authtoken"),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let r = reply(self.http.post(format!("{base}/oauth2/v0/token")).form(&form).send().await.expect("token")).await;
        r.body["access_token"].as_str().unwrap_or_else(|| panic!("no token: {}", r.text)).to_owned()
    }

    /// A call with `token`; `body` goes as JSON.
    pub async fn call_as(&self, token: &str, method: Method, url: &str, body: Option<&Value>) -> Reply {
        let mut request = self.http.request(method, url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        reply(request.send().await.expect("HTTP call")).await
    }

    /// A call with the company's full token.
    pub async fn call(&self, method: Method, url: &str, body: Option<&Value>) -> Reply {
        self.call_as(&self.token, method, url, body).await
    }

    pub async fn get(&self, url: &str) -> Reply {
        self.call(Method::GET, url, None).await
    }

    /// A raw body with its own `Content-Type`.
    pub async fn send_raw(&self, method: Method, url: &str, content_type: &str, body: &str) -> Reply {
        let request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body.to_owned());
        reply(request.send().await.expect("HTTP call")).await
    }
}
