//! The connect page in a real browser: headless Chromium loads the page of
//! each outcome from the real oauth-callback handler with the real Quick
//! Connect flow (Concur simulator, the stack in moto), served over HTTP on
//! loopback. For each page it checks the visible text, that the page is the
//! only request the browser makes, that it fits 320 px without scrolling
//! sideways and that the inline style applies under the page's CSP; it saves
//! screenshots (desktop, 320 px, dark) under `target/connect-page/`.
//!
//! Chromium comes from Debian's `chromium` package (`infra/local/chromium.sh`,
//! run by `tests/run`). Where no Chromium is found the test says how to get
//! it and passes without running.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::{Method, StatusCode};
use base64::Engine as _;
use integration::{TestStack, body_text};
use oauth_callback::quick_connect::QuickConnect;
use serde_json::{Value, json};
use simulators::concur::{CompanySpec, ConcurApp, ConcurSim};
use simulators::faults::FaultSpec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream as AsyncTcpStream};
use tungstenite::{Message, WebSocket};

const CALLBACK: &str = "OAuthCallbackFunction";
const COMPANY: &str = "0ffa9ce0-f00b-408a-8344-8eaad502b0d7";
const COMPANY_NAME: &str = "Lqy3 Corp EMEA";
const CONNECTION: &str = "lqy3-corp-emea-0ffa9ce0";
const ADMIN: &str = "9bdded51-00b8-4f84-8bef-6d3afe727007";

/// Bounds on every wait, so a browser that hangs fails the test instead.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
const LOAD_TIMEOUT: Duration = Duration::from_secs(40);
/// How long to keep listening after the load event for late requests (a
/// favicon, a lazy asset): the page must make none.
const SETTLE: Duration = Duration::from_millis(500);

// Multi-threaded: the browser is driven with blocking calls (in
// `block_in_place`) while the page server answers on another worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outcome_of_the_connect_page_in_a_real_browser() {
    let Some(chromium) = find_chromium() else {
        eprintln!(
            "connect_page: SKIPPED, no Chromium found (looked for $CHROMIUM, `chromium` and `chromium-browser` on PATH). \
             Install it with infra/local/chromium.sh (tests/run does) or `apt-get install chromium`."
        );
        return;
    };
    let started = Instant::now();
    let concur = ConcurSim::start(ConcurApp::new("cp-client", "cp-client-secret")).await;
    concur.sim.add_company(CompanySpec {
        uuid: COMPANY.into(),
        name: COMPANY_NAME.into(),
        datacenter: "emea".into(),
        marketing_name: "CTE".into(),
    });
    let stack = TestStack::with_concur_app("cp-client", "cp-client-secret", &concur.us_url()).await;
    let connect =
        || QuickConnect::from_env(&stack.env_of(CALLBACK), &stack.aws()).expect("the template's env is complete");
    let working = Arc::new(connect());
    // Our side failing: Secrets Manager unreachable (nothing listens on port
    // 1, no retries), so the app secret cannot be read.
    let broken = {
        use aws_sdk_secretsmanager::config::{Builder, retry::RetryConfig};
        let unreachable =
            Builder::from(&stack.sdk).endpoint_url("http://127.0.0.1:1").retry_config(RetryConfig::disabled());
        let secrets = platform::secrets::SecretStore::new(
            aws_sdk_secretsmanager::Client::from_conf(unreachable.build()),
            Duration::ZERO,
        );
        Arc::new(QuickConnect { secrets, ..connect() })
    };
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).unwrap_or_else(|e| panic!("creating {}: {e}", shots.display()));
    let mut browser = Browser::launch(&chromium).unwrap_or_else(|e| panic!("starting {}: {e}", chromium.display()));

    // Connected: a fresh company, the ERP side not configured yet.
    let token = concur.sim.issue_request_token(COMPANY);
    let page =
        open(&mut browser, &working, "connected", &[("id", COMPANY), ("requestToken", &token), ("userId", ADMIN)])
            .await;
    page.assert_status(200);
    page.assert_shows(&[
        "Concur is connected",
        &format!("{COMPANY_NAME} is connected to the connector."),
        COMPANY,
        CONNECTION,
        "Professional edition",
        "What happens next",
        "Your connector operator will now finish the ERP side",
        "You can close this page.",
    ]);
    page.assert_hides(&[&token, "Reference to quote"]);

    // Refused: the request token expired (24 h) before the admin got here.
    let token = concur.sim.issue_request_token(COMPANY);
    concur.sim.expire_request_token(&token);
    let page =
        open(&mut browser, &working, "refused", &[("id", COMPANY), ("requestToken", &token), ("userId", ADMIN)]).await;
    page.assert_status(400);
    page.assert_shows(&[
        "Concur did not accept this connect link",
        "has expired (it lasts 24 hours) or is not valid. Nothing was stored.",
        COMPANY,
        "Not created",
        "What to do",
        "Click Connect again on our listing in the Concur App Center",
    ]);
    page.assert_hides(&[&token]);
    page.assert_quotes_its_reference();

    // Concur unreachable: its token endpoint answers 503 to every attempt.
    let token = concur.sim.issue_request_token(COMPANY);
    let outage = r#"{"kind":"server_error","status":503,"count":20,"path_prefix":"/oauth2"}"#;
    concur.sim.faults().inject(FaultSpec::from_json(outage.as_bytes()).unwrap()).unwrap();
    let page = open(
        &mut browser,
        &working,
        "concur-unreachable",
        &[("id", COMPANY), ("requestToken", &token), ("userId", ADMIN)],
    )
    .await;
    concur.sim.faults().clear();
    page.assert_status(502);
    page.assert_shows(&[
        "Concur could not be reached",
        "We could not reach SAP Concur to complete the connection. Nothing was stored.",
        COMPANY,
        "Wait a few minutes and reload this page",
    ]);
    page.assert_hides(&[&token, "503"]);
    page.assert_quotes_its_reference();

    // Ours: the app secret cannot be read. The page blames no one and shows
    // nothing of the internal error.
    let page =
        open(&mut browser, &broken, "ours", &[("id", COMPANY), ("requestToken", &token), ("userId", ADMIN)]).await;
    page.assert_status(503);
    page.assert_shows(&[
        "The connection could not be completed",
        "Something failed on our side; it was not caused by anything you did",
        COMPANY,
        "Not completed",
        "Reload this page in a few minutes",
    ]);
    page.assert_hides(&[&token, "127.0.0.1", "secret", "dispatch"]);
    page.assert_quotes_its_reference();

    // Incomplete link: no request token; the company it names is still shown.
    let page = open(&mut browser, &working, "incomplete-link", &[("id", COMPANY), ("userId", ADMIN)]).await;
    page.assert_status(400);
    page.assert_shows(&[
        "This connect link is incomplete",
        "The link is missing its requestToken parameter.",
        COMPANY,
        "Start again from the Connect button",
    ]);
    page.assert_quotes_its_reference();

    drop(browser);
    eprintln!(
        "connect_page: 5 outcomes checked in Chromium in {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        shots.display()
    );
}

/// What the browser saw of one page.
struct Visited {
    outcome: &'static str,
    url: String,
    /// The reference the page server gave the request (API Gateway's request id).
    request_id: String,
    /// `document.body.innerText`: what a person reads.
    text: String,
    /// Every request the page made (`Network.requestWillBeSent`).
    browser_requests: Vec<String>,
    /// Every request the page server received.
    served: Vec<String>,
    /// The status and headers of the page's response, as the browser got them.
    status: u64,
    headers: HashMap<String, String>,
    /// The document's structure (see [`STRUCTURE`]).
    structure: Value,
    /// `scrollWidth` at a 320 px wide viewport.
    width_at_320: u64,
}

impl Visited {
    fn assert_status(&self, status: u64) {
        assert_eq!(self.status, status, "{}: {}", self.outcome, self.text);
    }

    fn assert_shows(&self, texts: &[&str]) {
        for text in texts {
            assert!(self.text.contains(text), "{}: the page does not show {text:?}:\n{}", self.outcome, self.text);
        }
    }

    fn assert_hides(&self, texts: &[&str]) {
        for text in texts {
            assert!(!self.text.contains(text), "{}: the page shows {text:?}:\n{}", self.outcome, self.text);
        }
    }

    fn assert_quotes_its_reference(&self) {
        self.assert_shows(&[&format!("Reference to quote: {}", self.request_id)]);
    }

    /// What every outcome's page must be, whatever it says.
    fn assert_self_contained_and_accessible(&self) {
        let outcome = self.outcome;
        assert_eq!(self.browser_requests, std::slice::from_ref(&self.url), "{outcome}: the page is the only request");
        assert_eq!(self.served.len(), 1, "{outcome}: the server got one request: {:?}", self.served);
        let s = &self.structure;
        assert_eq!(s["lang"], "en", "{outcome}: {s}");
        assert_eq!(s["h1"].as_array().map(Vec::len), Some(1), "{outcome}: one heading: {s}");
        assert!(s["title"].as_str().unwrap_or("").starts_with(s["h1"][0].as_str().unwrap_or("?")), "{outcome}: {s}");
        assert_eq!(s["mains"], 1, "{outcome}: {s}");
        assert!(s["status"].as_str().is_some_and(|t| t.contains(s["h1"][0].as_str().unwrap_or("?"))), "{outcome}: {s}");
        assert_eq!(s["terms"], json!(["Company", "Connection", "Edition"]), "{outcome}: {s}");
        assert_eq!(s["scripts"], 0, "{outcome}: {s}");
        assert_eq!(s["styled"], "solid", "{outcome}: the inline style applies under the CSP: {s}");
        assert!(self.width_at_320 <= 320, "{outcome}: {} px wide at 320 px", self.width_at_320);
        let csp = self.headers.get("content-security-policy").map_or("", String::as_str);
        assert!(csp.starts_with("default-src 'none'"), "{outcome}: {:?}", self.headers);
        assert_eq!(self.headers.get("x-content-type-options").map(String::as_str), Some("nosniff"));
        assert_eq!(self.headers.get("referrer-policy").map(String::as_str), Some("no-referrer"));
        assert_eq!(self.headers.get("cache-control").map(String::as_str), Some("no-store"));
    }
}

/// Serves the link `query` through the real handler with `connector` and
/// opens it in the browser; checks what every page must be and saves the
/// screenshots.
async fn open(
    browser: &mut Browser,
    connector: &Arc<QuickConnect>,
    outcome: &'static str,
    query: &[(&str, &str)],
) -> Visited {
    static VISITS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = VISITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Shaped like API Gateway's ids (base64, 16 characters).
    let request_id = format!("Kq7Fx{n:03}gcEJbA=");
    let server = PageServer::start(Arc::clone(connector), request_id.clone()).await;
    let link: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", query_escape(v))).collect();
    let url = format!("{}/concur/connect?{}", server.base_url, link.join("&"));
    let shots = screenshot_dir();
    let seen = tokio::task::block_in_place(|| browser.visit(&url, &shots, outcome))
        .unwrap_or_else(|e| panic!("{outcome}: the browser could not show {url}: {e}"));
    let page = Visited { outcome, url, request_id, served: server.served(), ..seen };
    page.assert_self_contained_and_accessible();
    page
}

fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A tiny HTTP server on loopback standing in for API Gateway: each GET
/// becomes an `ApiGatewayV2httpRequest` for the real handler, and the
/// handler's status, headers and body are written back.
struct PageServer {
    base_url: String,
    served: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl PageServer {
    async fn start(connector: Arc<QuickConnect>, request_id: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let base_url = format!("http://{}", listener.local_addr().expect("a bound address"));
        let served = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&served);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if let Err(e) = serve(stream, &connector, &request_id, &log).await {
                    eprintln!("connect_page: page server: {e}");
                }
            }
        });
        Self { base_url, served, task }
    }

    fn served(&self) -> Vec<String> {
        self.served.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request on one connection (answered with `Connection: close`).
async fn serve(
    mut stream: AsyncTcpStream,
    connector: &QuickConnect,
    request_id: &str,
    served: &Mutex<Vec<String>>,
) -> Result<(), String> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .map_err(|_| "no request head within 10 s".to_owned())?
            .map_err(|e| format!("reading the request: {e}"))?;
        if read == 0 || head.len() > 64 * 1024 {
            return Err("the connection closed before a whole request head".into());
        }
        head.extend_from_slice(&chunk[..read]);
    }
    let head = String::from_utf8_lossy(&head);
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    served.lock().map_err(|_| "the request log is poisoned")?.push(request_line.clone());
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let url = reqwest::Url::parse(&format!("http://127.0.0.1{target}")).map_err(|e| format!("{target}: {e}"))?;
    let response = if method == "GET" && url.path() == "/concur/connect" {
        oauth_callback::handle(connector, gateway_request(&url, request_id)).await
    } else {
        not_found()
    };
    stream.write_all(&http_response(&response)).await.map_err(|e| format!("writing the response: {e}"))?;
    stream.shutdown().await.map_err(|e| format!("closing: {e}"))
}

/// The event API Gateway (HTTP API, payload 2.0) makes of the GET.
fn gateway_request(url: &reqwest::Url, request_id: &str) -> ApiGatewayV2httpRequest {
    let mut request = ApiGatewayV2httpRequest::default();
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    request.query_string_parameters = query.into();
    request.raw_path = Some(url.path().to_owned());
    request.raw_query_string = url.query().map(str::to_owned);
    request.route_key = Some("GET /concur/connect".into());
    request.request_context.request_id = Some(request_id.to_owned());
    request.request_context.http.method = Method::GET;
    request.request_context.http.path = Some(url.path().to_owned());
    request
}

fn not_found() -> ApiGatewayV2httpResponse {
    platform::http_api::response(404, "text/plain; charset=utf-8", "not found".into())
}

fn http_response(response: &ApiGatewayV2httpResponse) -> Vec<u8> {
    let status = u16::try_from(response.status_code).ok().and_then(|s| StatusCode::from_u16(s).ok());
    let status = status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = body_text(response);
    let mut out = format!("HTTP/1.1 {} {}\r\n", status.as_u16(), status.canonical_reason().unwrap_or(""));
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap_or("")));
    }
    out.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

/// The document's structure, read in the page (one JSON string).
const STRUCTURE: &str = "JSON.stringify({
    lang: document.documentElement.lang,
    title: document.title,
    h1: Array.from(document.querySelectorAll('h1'), h => h.textContent),
    mains: document.querySelectorAll('main').length,
    status: (document.querySelector('[role=status]') || {}).innerText || null,
    terms: Array.from(document.querySelectorAll('dl dt'), t => t.textContent),
    scripts: document.scripts.length,
    styled: getComputedStyle(document.querySelector('main') || document.body).borderTopStyle,
})";

/// Headless Chromium driven over the DevTools protocol, one page target.
struct Browser {
    devtools: WebSocket<TcpStream>,
    next_id: u64,
    /// Events read while waiting for answers, in order.
    events: Vec<Value>,
    /// Held for its `Drop`: the browser goes when this does.
    _process: BrowserProcess,
}

/// The Chromium process and its throw-away profile: killed and removed on
/// drop, whatever happened.
struct BrowserProcess {
    child: Child,
    profile: PathBuf,
    /// The browser's own DevTools endpoint (`ws://…/devtools/browser/…`), once known.
    browser_url: Option<String>,
}

impl Drop for BrowserProcess {
    fn drop(&mut self) {
        // A browser asked to close exits with its helper processes; one that
        // does not within 5 s is killed.
        if let Some(url) = &self.browser_url {
            close_browser(url);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Helpers of a killed browser may still write to the profile for a moment.
        for _ in 0..20 {
            if std::fs::remove_dir_all(&self.profile).is_ok() || !self.profile.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Browser {
    fn launch(binary: &Path) -> Result<Self, String> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let profile = std::env::temp_dir().join(format!("connect-page-chromium-{}-{nanos}", std::process::id()));
        let mut child = Command::new(binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-sync",
                "--hide-scrollbars",
                "--mute-audio",
                // Loopback goes direct; anything else would go to a proxy
                // that is not there: nothing this test starts leaves the machine.
                "--proxy-server=http://127.0.0.1:9",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start it: {e}"))?;
        let stderr = child.stderr.take();
        let mut process = BrowserProcess { child, profile, browser_url: None };
        // Chromium prints where DevTools listens on stderr; the thread keeps
        // reading it to the end so a full pipe never blocks the browser.
        let (found, listening) = mpsc::channel();
        std::thread::spawn(move || {
            let Some(stderr) = stderr else { return };
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = found.send(url.trim().to_owned());
                }
            }
        });
        let browser_url = listening
            .recv_timeout(LAUNCH_TIMEOUT)
            .map_err(|_| format!("no \"DevTools listening on\" line within {LAUNCH_TIMEOUT:?}"))?;
        process.browser_url = Some(browser_url.clone());
        let port = browser_url
            .strip_prefix("ws://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| format!("unexpected DevTools address {browser_url}"))?;
        let page_url = page_target(port)?;
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).map_err(|e| format!("DevTools: {e}"))?;
        let (devtools, _) = tungstenite::client(page_url.as_str(), stream).map_err(|e| format!("DevTools: {e}"))?;
        let mut browser = Self { devtools, next_id: 0, events: Vec::new(), _process: process };
        browser.call("Page.enable", json!({}))?;
        browser.call("Network.enable", json!({}))?;
        Ok(browser)
    }

    /// Opens `url`, reads what it shows and saves `<name>.png`,
    /// `<name>-320.png` and `<name>-dark.png` in `shots`.
    fn visit(&mut self, url: &str, shots: &Path, name: &'static str) -> Result<Visited, String> {
        self.viewport(1024, 768, false)?;
        self.color_scheme("light")?;
        self.events.clear();
        let navigated = self.call("Page.navigate", json!({ "url": url }))?;
        if let Some(error) = navigated.get("errorText") {
            return Err(format!("navigation failed: {error}"));
        }
        self.wait_for("Page.loadEventFired", LOAD_TIMEOUT)?;
        self.listen(SETTLE)?;

        let text = self.evaluate("document.body.innerText")?.as_str().unwrap_or_default().to_owned();
        let structure: Value = serde_json::from_str(self.evaluate(STRUCTURE)?.as_str().unwrap_or("null"))
            .map_err(|e| format!("the structure script: {e}"))?;
        self.screenshot(&shots.join(format!("{name}.png")))?;
        self.color_scheme("dark")?;
        self.screenshot(&shots.join(format!("{name}-dark.png")))?;
        self.color_scheme("light")?;
        self.viewport(320, 640, true)?;
        let width_at_320 = self.evaluate("document.documentElement.scrollWidth")?.as_u64().unwrap_or(u64::MAX);
        self.screenshot(&shots.join(format!("{name}-320.png")))?;
        self.listen(Duration::ZERO)?;

        let browser_requests = self
            .events_named("Network.requestWillBeSent")
            .filter_map(|p| p["request"]["url"].as_str().map(str::to_owned))
            .collect();
        let response = self
            .events_named("Network.responseReceived")
            .find(|p| p["response"]["url"] == url)
            .map(|p| p["response"].clone())
            .ok_or("the browser got no response for the page")?;
        let headers = response["headers"]
            .as_object()
            .map(|h| {
                h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or_default().to_owned())).collect()
            })
            .unwrap_or_default();
        Ok(Visited {
            outcome: name,
            url: String::new(),
            request_id: String::new(),
            text,
            browser_requests,
            served: Vec::new(),
            status: response["status"].as_u64().unwrap_or(0),
            headers,
            structure,
            width_at_320,
        })
    }

    fn viewport(&mut self, width: u32, height: u32, mobile: bool) -> Result<(), String> {
        let metrics = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile });
        self.call("Emulation.setDeviceMetricsOverride", metrics).map(drop)
    }

    fn color_scheme(&mut self, scheme: &str) -> Result<(), String> {
        let features = json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] });
        self.call("Emulation.setEmulatedMedia", features).map(drop)
    }

    /// The whole page, not just the viewport.
    fn screenshot(&mut self, path: &Path) -> Result<(), String> {
        let metrics = self.call("Page.getLayoutMetrics", json!({}))?;
        let size = &metrics["cssContentSize"];
        let clip = json!({
            "x": 0, "y": 0,
            "width": size["width"].as_f64().unwrap_or(1024.0),
            "height": size["height"].as_f64().unwrap_or(768.0),
            "scale": 1,
        });
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png", "clip": clip, "captureBeyondViewport": true }))?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .map_err(|e| format!("the screenshot is not base64: {e}"))?;
        std::fs::write(path, png).map_err(|e| format!("writing {}: {e}", path.display()))
    }

    fn evaluate(&mut self, expression: &str) -> Result<Value, String> {
        let result = self.call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true }))?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(format!("{expression}: {exception}"));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Sends one command and waits for its answer, keeping the events that
    /// arrive meanwhile.
    fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let command = json!({ "id": id, "method": method, "params": params }).to_string();
        self.devtools.send(Message::text(command)).map_err(|e| format!("{method}: {e}"))?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let message = self.read(deadline)?.ok_or_else(|| format!("{method}: no answer within {CALL_TIMEOUT:?}"))?;
            if message["id"] == id {
                return match message.get("error") {
                    Some(error) => Err(format!("{method}: {error}")),
                    None => Ok(message["result"].clone()),
                };
            }
            self.events.push(message);
        }
    }

    fn wait_for(&mut self, event: &str, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        while !self.events.iter().any(|e| e["method"] == event) {
            let message = self.read(deadline)?.ok_or_else(|| format!("no {event} within {within:?}"))?;
            self.events.push(message);
        }
        Ok(())
    }

    /// Keeps the events that arrive within `period` (and those already sent).
    fn listen(&mut self, period: Duration) -> Result<(), String> {
        let deadline = Instant::now() + period.max(Duration::from_millis(50));
        while let Some(message) = self.read(deadline)? {
            self.events.push(message);
        }
        Ok(())
    }

    fn events_named<'a>(&'a self, method: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["method"] == method).map(|e| &e["params"])
    }

    /// The next protocol message, or `None` once `deadline` passes.
    fn read(&mut self, deadline: Instant) -> Result<Option<Value>, String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.devtools.get_ref().set_read_timeout(Some(left)).map_err(|e| format!("DevTools: {e}"))?;
            match self.devtools.read() {
                Ok(Message::Text(text)) => {
                    return serde_json::from_str(text.as_str())
                        .map(Some)
                        .map_err(|e| format!("DevTools sent {text}: {e}"));
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(format!("DevTools: {e}")),
            }
        }
    }
}

/// Asks the browser to close (`Browser.close` on its own endpoint: page
/// targets do not offer it). Best effort, bounded: the caller waits for the
/// exit and kills the process if it does not come.
fn close_browser(browser_url: &str) {
    let Some(address) = browser_url.strip_prefix("ws://").and_then(|rest| rest.split('/').next()) else {
        return;
    };
    let Some(stream) = address.parse().ok().and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).ok())
    else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if let Ok((mut devtools, _)) = tungstenite::client(browser_url, stream) {
        let _ = devtools.send(Message::text(json!({ "id": 1, "method": "Browser.close" }).to_string()));
        let _ = devtools.read();
    }
}

/// The page target's DevTools WebSocket URL, from `/json/list` (the page
/// opened with `about:blank` may take a moment to be listed).
fn page_target(port: &str) -> Result<String, String> {
    let deadline = Instant::now() + LAUNCH_TIMEOUT;
    loop {
        let targets = http_get_json(port, "/json/list")?;
        let page = targets.as_array().into_iter().flatten().find(|t| t["type"] == "page");
        if let Some(url) = page.and_then(|t| t["webSocketDebuggerUrl"].as_str()) {
            return Ok(url.to_owned());
        }
        if Instant::now() > deadline {
            return Err(format!("no page target within {LAUNCH_TIMEOUT:?}: {targets}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn http_get_json(port: &str, path: &str) -> Result<Value, String> {
    let failed = |e: std::io::Error| format!("DevTools {path}: {e}");
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).map_err(failed)?;
    stream.set_read_timeout(Some(CALL_TIMEOUT)).map_err(failed)?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").map_err(failed)?;
    // DevTools keeps the connection open: read the head, then Content-Length bytes.
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(failed)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|e| format!("DevTools {path}: Content-Length {value:?}: {e}"))?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(failed)?;
    serde_json::from_slice(&body)
        .map_err(|e| format!("DevTools {path} answered {:?}: {e}", String::from_utf8_lossy(&body)))
}

/// `$CHROMIUM`, else `chromium` or `chromium-browser` on PATH.
fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").map(PathBuf::from).filter(|p| p.is_file()) {
        return Some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// `<target dir>/connect-page`: `$CARGO_TARGET_DIR` when set, else the
/// workspace's `target/`.
fn screenshot_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workspace = workspace.canonicalize().unwrap_or(workspace);
    let target = match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    };
    target.join("connect-page")
}
