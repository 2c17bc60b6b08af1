//! Shared set-up of the Concur file-API tests: a simulator serving `us` and
//! `emea`, a Professional company (Extract v1) and a Standard one (Payment
//! Batch v1) with company tokens, FI example documents, and the
//! connector's own reader to check the files served.
#![allow(dead_code)]

use domain::extract::{Delimiter, ExtractOptions, ExtractReader, ExtractSummary};
use reqwest::{Client, StatusCode, header::HeaderMap};
use serde_json::Value;
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim, StartedConcur};

pub const CLIENT_ID: &str = "6b4b4c4e-1d2a-4f51-9a55-0c1f7b7f3a01";
pub const CLIENT_SECRET: &str = "0f5d8f2e-8c3b-4a6e-b0a1-3e2f6c9d7b02";
/// A Professional (`CTE`) company: Extract v1.
pub const PRO: &str = "070fde04-3e0c-4716-89fd-6026ae292ed0";
/// A Standard edition company: Payment Batch v1.
pub const STD: &str = "9feee0e9-9bf2-4f01-9d8a-035741679491";
pub const EXTRACT: &str = "/api/expense/extract/v1.0";
pub const BATCHES: &str = "/api/expense/paymentbatch";
pub const EXTRACT_NS: &str = "http://www.concursolutions.com/api/expense/extract/2010/02";

macro_rules! example {
    ($file:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/fi-examples/", $file))
    };
}

/// Every FI example document (expense reports and cash advances).
pub const EXAMPLES: [&str; 15] = [
    example!("FI-API-CashAdvanceID-2E6DA12BB8B87D468BD666383E44033D-Example-5.2.1.json"),
    example!("FI-API-CashAdvanceID-E2A086D30B88AE4683BC48ADE47B8116-Example-5.1.1.json"),
    example!("FI-API-ReportID-0C45F960C3064ED88C39-Example-3.1.json"),
    example!("FI-API-ReportID-0C45F960C3064ED88C39-Example-6.1.4.json"),
    example!("FI-API-ReportID-0EE74C75C9344DEA942F-Example-2.3.json"),
    example!("FI-API-ReportID-14A40453BED6493EB53F-Example-5.2.1.json"),
    example!("FI-API-ReportID-15298B27B5FC4EBC98B3-Example-6.2.1.json"),
    example!("FI-API-ReportID-1B25850DD8B94D5F8B2D-Example-6.1.6.json"),
    example!("FI-API-ReportID-460EFDDC98634EA9A0AD-Example-4.1.json"),
    example!("FI-API-ReportID-6517F735E33A47B98D80-Example-1.2.json"),
    example!("FI-API-ReportID-815EF4FB5B4448A9B09E-Example-6.2.2.json"),
    example!("FI-API-ReportID-B1041655B4CE4171BDAA-Example-1.1.json"),
    example!("FI-API-ReportID-B1041655B4CE4171BDAA-Example-6.1.1.json"),
    example!("FI-API-ReportID-CDFDE0F4CACE4426A913-Example-6.1.2.json"),
    example!("FI-API-ReportID-F071FADEA6B142DD884A-Example-2.1.json"),
];
/// Example 2.1: one EUR journal with one tax (1 SAE row).
pub const SINGLE_TAX_2_1: &str = EXAMPLES[14];
/// Example 2.3: one CAD journal with two taxes (2 SAE rows).
pub const TWO_TAXES_2_3: &str = EXAMPLES[4];
/// Example 1.1: two USD journals (2 SAE rows).
pub const CARD_1_1: &str = EXAMPLES[11];
/// Example 1.2: one USD credit journal (1 SAE row).
pub const CREDIT_1_2: &str = EXAMPLES[9];

pub struct Env {
    pub concur: StartedConcur,
    pub http: Client,
    /// Company token of [`PRO`].
    pub pro: String,
    /// Company token of [`STD`].
    pub std: String,
}

/// A response: status, headers and the body as bytes and (lossy) text.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
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
    let bytes = response.bytes().await.expect("read body").to_vec();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Reply { status, headers, bytes, text }
}

pub async fn env() -> Env {
    let concur = ConcurSim::start(ConcurApp::new(CLIENT_ID, CLIENT_SECRET)).await;
    for (uuid, name, edition) in [(PRO, "Acme Corp", "CTE"), (STD, "Small Shop", "Standard Edition")] {
        concur.sim.add_company(CompanySpec {
            uuid: uuid.into(),
            name: name.into(),
            datacenter: "us".into(),
            marketing_name: edition.into(),
        });
    }
    let http = Client::new();
    let pro = company_token(&concur, &http, PRO, None).await;
    let std = company_token(&concur, &http, STD, None).await;
    Env { concur, http, pro, std }
}

/// A company token through the password grant (optionally asking for fewer scopes).
pub async fn company_token(concur: &StartedConcur, http: &Client, company: &str, scope: Option<&str>) -> String {
    let request_token = concur.sim.issue_request_token(company);
    let mut form = vec![
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("grant_type", "password"),
        ("username", company),
        ("password", request_token.as_str()),
        ("credtype", "authtoken"),
    ];
    form.extend(scope.map(|s| ("scope", s)));
    let url = format!("{}/oauth2/v0/token", concur.us_url());
    let body: Value = http.post(url).form(&form).send().await.expect("token").json().await.expect("token JSON");
    body["access_token"].as_str().expect("access_token").to_owned()
}

impl Env {
    pub fn sim(&self) -> &ConcurSim {
        &self.concur.sim
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.concur.us_url())
    }

    /// Queues an FI example file READY for `company`; its FI id.
    pub fn load(&self, company: &str, example: &str) -> String {
        self.sim().load_fi_example(company, example).expect("example loads").remove(0)
    }

    pub async fn get(&self, token: &str, url: &str) -> Reply {
        reply(self.http.get(url).bearer_auth(token).send().await.expect("GET")).await
    }

    /// A POST with an XML body (or none).
    pub async fn post(&self, token: &str, url: &str, body: Option<String>) -> Reply {
        let mut request = self.http.post(url).bearer_auth(token);
        if let Some(body) = body {
            request = request.header("Content-Type", "application/xml").body(body);
        }
        reply(request.send().await.expect("POST")).await
    }

    /// `POST {definition}/job` with the documented body.
    pub async fn start_job(&self, definition_url: &str) -> Reply {
        let body = format!("<definition xmlns=\"{EXTRACT_NS}\"><id>{definition_url}</id></definition>");
        self.post(&self.pro, &format!("{definition_url}/job"), Some(body)).await
    }

    /// Starts a job and reads its status until it completes; the completed job's XML.
    pub async fn run_job(&self, definition_url: &str) -> String {
        let started = self.start_job(definition_url).await;
        assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
        let status_link = text(&started.text, "status-link");
        for _ in 0..10 {
            let status = self.get(&self.pro, &status_link).await;
            assert_eq!(status.status, StatusCode::OK, "{}", status.text);
            if text(&status.text, "status") == "Completed" {
                return status.text;
            }
        }
        panic!("the job did not complete");
    }
}

/// The text of every `<tag>` element (the simulator writes no attributes on children, no entities in these).
pub fn texts(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open).skip(1).filter_map(|rest| rest.split_once(&close)).map(|(inside, _)| inside.to_owned()).collect()
}

/// The first `<tag>` text; empty when there is none.
pub fn text(xml: &str, tag: &str) -> String {
    texts(xml, tag).into_iter().next().unwrap_or_default()
}

/// The file read by the connector's reader: it adds up (count and total match the header).
pub fn verify(file: &[u8], delimiter: Delimiter) -> ExtractSummary {
    match ExtractReader::verify(file, ExtractOptions { delimiter }) {
        Ok(summary) => summary,
        Err(e) => panic!("the connector's reader refuses the file: {e}\n{}", String::from_utf8_lossy(file)),
    }
}

/// Column `n` (1-based) of each detail row of a comma-separated file without quoted fields.
pub fn column(file: &str, n: usize) -> Vec<String> {
    file.lines().skip(1).map(|line| line.split(',').nth(n - 1).unwrap_or_default().to_owned()).collect()
}
