//! Shared set-up of the IFS simulator tests: one environment (realm `acme`)
//! with companies 10 (USD), 20 (EUR) and 30 (SEK); the `CONCUR_INT` client
//! may access 10 and 20 only.
#![allow(dead_code)]

use reqwest::{Client, RequestBuilder, StatusCode, header::HeaderMap};
use serde_json::Value;
use simulators::RunningSimulator;
use simulators::ifs::IfsSim;

pub const NS: &str = "acme";
pub const CLIENT: &str = "CONCUR_INT";
pub const SECRET: &str = "8f0c2d";
pub const API: &str = "/main/ifsapplications/projection/v1";
pub const INVOICES: &str = "ManualSupplierInvoiceHandling.svc/ManSuppInvoiceSet";

pub struct Env {
    pub sim: IfsSim,
    pub server: RunningSimulator,
    pub http: Client,
    pub token: String,
}

/// A response: status, headers and the JSON body (`Null` when empty).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(request: RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Answer { status, headers, body }
}

impl Env {
    /// `{base}/main/ifsapplications/projection/v1/{path}`
    pub fn url(&self, path: &str) -> String {
        format!("{}{API}/{path}", self.server.base_url())
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(&self.token)
    }

    pub fn post(&self, path: &str, body: &Value) -> RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(&self.token).json(body)
    }

    pub fn patch(&self, path: &str, body: &Value) -> RequestBuilder {
        self.http.patch(self.url(path)).bearer_auth(&self.token).json(body)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(&self.token)
    }

    pub async fn token_call(&self, form: &[(&str, &str)]) -> Answer {
        let url = format!("{}/auth/realms/{NS}/protocol/openid-connect/token", self.server.base_url());
        send(self.http.post(url).form(form)).await
    }

    /// Creates an invoice of `supplier` in company 10; returns its InvoiceId.
    pub async fn create_invoice(&self, supplier: &str, invoice_no: &str, gross: f64) -> i64 {
        let body = serde_json::json!({
            "Company": "10", "Identity": supplier, "PartyType": "Supplier", "InvoiceNo": invoice_no,
            "InvoiceDate": "2024-03-15", "DueDate": "2024-04-14", "Currency": "USD",
            "NetCurrAmount": gross, "VatCurrAmount": 0, "GrossCurrAmount": gross,
        });
        let created = send(self.post(INVOICES, &body)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        created.body["InvoiceId"].as_i64().unwrap()
    }
}

pub async fn client_token(server: &RunningSimulator, http: &Client, client: &str, secret: &str) -> String {
    let url = format!("{}/auth/realms/{NS}/protocol/openid-connect/token", server.base_url());
    let answer = send(http.post(url).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("client_secret", secret),
        ("scope", "openid microprofile-jwt"),
    ]))
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["access_token"].as_str().unwrap().to_owned()
}

/// The seeded simulator (not started).
pub fn seeded() -> IfsSim {
    let sim = IfsSim::new();
    sim.add_realm(NS);
    sim.add_company("10", "USD");
    sim.add_company("20", "EUR");
    sim.add_company("30", "SEK");
    sim.add_client(NS, CLIENT, SECRET, &["10", "20"]);
    sim.add_client(NS, "OTHER", "other", &["30"]);
    sim.add_user(NS, "jdoe", "pw", &["10"]);
    sim.add_supplier("EMPJDOE", "Jane Doe (employee)", &["10", "20"]);
    sim.add_supplier("S1000", "Acme Supplies", &["10"]);
    sim.add_supplier("S3000", "Only in 30", &["30"]);
    for company in ["10", "20", "30"] {
        sim.add_account(company, "6100", "Cost", false);
        sim.add_account(company, "2440", "Liability", false);
        sim.add_account(company, "6999", "Cost", true);
        sim.add_code_part(company, "B", "Cost Center");
        sim.add_code_part_value(company, "B", "110");
        sim.add_code_part_value(company, "B", "120");
    }
    sim.add_code_part("10", "C", "Project");
    sim.add_code_part_value("10", "C", "P1");
    sim
}

pub async fn env_with(sim: IfsSim) -> Env {
    let server = sim.clone().start().await;
    let http = Client::new();
    let token = client_token(&server, &http, CLIENT, SECRET).await;
    Env { sim, server, http, token }
}

pub async fn env() -> Env {
    env_with(seeded()).await
}
