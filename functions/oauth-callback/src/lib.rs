//! oauth-callback: the Quick Connect landing page (`GET /concur/connect`).
//!
//! Concur's App Center redirects the admin's browser here with `id` (company
//! UUID), `requestToken` and `userId` (spelled `userID` on one docs page: both
//! are accepted). This module validates that query and renders the page the
//! admin sees; the flow itself (token exchange, grant secret, connection,
//! webhooks, first reference sync) is [`quick_connect::QuickConnect`] behind
//! the [`Connector`] trait, so the page logic is testable without AWS.
//!
//! Pages never show a token, a stack trace or an internal error: the admin
//! gets what happened and what to do; the operator gets the details in the
//! logs and the audit trail. Every outcome has the same page: one
//! self-contained document (inline style and icon, no script, nothing else
//! loaded, a CSP that allows nothing more) saying what happened, the company,
//! connection and edition, and what happens next; failure pages add a
//! reference to quote (API Gateway's request id), which the request's log
//! lines carry too. `tests/integration/tests/stack/connect_page.rs` checks
//! them in headless Chromium.

pub mod quick_connect;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::HeaderValue;
use domain::CompanyUuid;
use platform::http_api::{query_param, response};
use tracing::Instrument as _;

/// A validated Quick Connect request. The request token is a credential
/// (usable for 24 h), so it only ever travels as a `Secret`.
#[derive(Debug)]
pub struct ConnectRequest {
    pub company: CompanyUuid,
    pub request_token: domain::Secret,
    pub admin_user: Option<String>,
}

/// Why a request was refused, in words for the admin.
#[derive(Debug, PartialEq, Eq)]
pub enum QueryProblem {
    Missing(&'static str),
    Malformed(&'static str),
}

/// Validates the redirect's query string.
pub fn parse_query(request: &ApiGatewayV2httpRequest) -> Result<ConnectRequest, QueryProblem> {
    let id = query_param(request, &["id"]).ok_or(QueryProblem::Missing("id"))?;
    let company = CompanyUuid::parse(id).map_err(|_| QueryProblem::Malformed("id"))?;
    let token = query_param(request, &["requestToken"]).ok_or(QueryProblem::Missing("requestToken"))?;
    if token.is_empty() || token.len() > 256 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(QueryProblem::Malformed("requestToken"));
    }
    let admin_user = query_param(request, &["userId", "userID"])
        .filter(|u| !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned);
    Ok(ConnectRequest { company, request_token: domain::Secret::new(token), admin_user })
}

/// What became of the webhook subscriptions (useful, not essential: the
/// scheduled poll finds every document without them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookSetup {
    pub subscribed: Vec<String>,
    /// Topics this deployment wants that Concur does not offer the application.
    pub not_offered: Vec<String>,
    /// Why setting them up failed, for the operator (never shown to the admin).
    pub error: Option<String>,
}

/// What connecting a company produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectOutcome {
    Connected {
        connection_id: String,
        company_name: Option<String>,
        edition: Option<domain::Edition>,
        /// The ERP side is configured (else the operator still has to).
        erp_configured: bool,
        /// The company was known: settings and mappings were kept.
        reconnected: bool,
        webhooks: WebhookSetup,
        sync_queued: bool,
    },
    /// Concur answered `invalid_grant`: the request token expired (24 h) or is wrong.
    RequestTokenRefused,
    /// Concur answered code 53: the company is not enabled for this application.
    CompanyNotEnabled,
    /// Concur could not be reached (after retries).
    ConcurUnavailable,
    /// Our side failed (configuration, AWS); details are in the logs.
    Unavailable,
}

impl ConnectOutcome {
    /// The outcome in one word, for the log line of the page shown.
    fn label(&self) -> &'static str {
        match self {
            ConnectOutcome::Connected { reconnected: true, .. } => "reconnected",
            ConnectOutcome::Connected { .. } => "connected",
            ConnectOutcome::RequestTokenRefused => "request_token_refused",
            ConnectOutcome::CompanyNotEnabled => "company_not_enabled",
            ConnectOutcome::ConcurUnavailable => "concur_unavailable",
            ConnectOutcome::Unavailable => "unavailable",
        }
    }
}

/// The connect step behind the page (token exchange, storage, subscriptions).
pub trait Connector {
    fn connect(&self, request: ConnectRequest) -> impl std::future::Future<Output = ConnectOutcome> + Send;
}

/// Handles one browser request.
///
/// Each request has a reference: API Gateway's request id. Failure pages
/// show it for the admin to quote, and the request's log lines carry it
/// (the flow's own lines through the `connect` span), so the operator finds
/// the attempt from what the admin sends.
pub async fn handle(connector: &impl Connector, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let reference = reference_id(&request);
    let page = match parse_query(&request) {
        Err(problem) => {
            tracing::warn!(reference, ?problem, "refused a connect request: the link is incomplete");
            incomplete_link_page(problem, linked_company(&request).as_ref())
        }
        Ok(connect) => {
            let company = connect.company.to_string();
            tracing::info!(
                reference,
                company,
                admin_user = connect.admin_user.as_deref().unwrap_or("-"),
                "connect request"
            );
            let span = tracing::info_span!("connect", reference = reference.as_str(), company = company.as_str());
            // Boxed: the flow's future is deep, and wrapping it in the span's
            // future in place takes the binary's layout past rustc's query depth.
            let outcome = Box::pin(connector.connect(connect)).instrument(span).await;
            tracing::info!(reference, company, outcome = outcome.label(), "connect page shown");
            outcome_page(&company, outcome)
        }
    };
    page.render(&reference)
}

/// API Gateway's id of the request (the one in its access log), or one made
/// here when the event has none (a direct invoke).
fn reference_id(request: &ApiGatewayV2httpRequest) -> String {
    request
        .request_context
        .request_id
        .as_deref()
        .filter(|id| !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(local_reference_id, str::to_owned)
}

/// A reference unique enough to find one request in the logs: the clock
/// hashed with std's randomly keyed `RandomState` (new keys per call), so no
/// dependency is needed. Not a secret.
fn local_reference_id() -> String {
    use std::hash::BuildHasher;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("local-{:016x}", std::collections::hash_map::RandomState::new().hash_one(nanos))
}

/// The company the link names, when its `id` is a valid UUID (shown on the
/// incomplete-link page so the admin sees which company the link was for).
fn linked_company(request: &ApiGatewayV2httpRequest) -> Option<CompanyUuid> {
    query_param(request, &["id"]).and_then(|id| CompanyUuid::parse(id).ok())
}

/// The page for a link whose query cannot be used.
fn incomplete_link_page(problem: QueryProblem, company: Option<&CompanyUuid>) -> Page {
    let summary = match problem {
        QueryProblem::Missing(name) => format!("The link is missing its <code>{name}</code> parameter."),
        QueryProblem::Malformed(name) => format!("The link's <code>{name}</code> parameter is not valid."),
    };
    Page {
        status: 400,
        tone: Tone::Attention,
        title: "This connect link is incomplete",
        summary: format!("{summary} Nothing was stored."),
        company: company.map_or_else(|| "Not named in the link".to_owned(), |c| code(c.as_str())),
        connection: NOT_CREATED.to_owned(),
        edition: NOT_KNOWN.to_owned(),
        next_step: "Start again from the Connect button of our listing in the Concur App Center. \
If it happens again, contact us and quote the reference below."
            .to_owned(),
    }
}

const NOT_CREATED: &str = "Not created";
const NOT_KNOWN: &str = "Not known";

/// The page that tells the admin how the connect went for `company`.
fn outcome_page(company: &str, outcome: ConnectOutcome) -> Page {
    let refused = |status, title, summary: &str, next_step: &str| Page {
        status,
        tone: Tone::Attention,
        title,
        summary: format!("{summary} Nothing was stored."),
        company: code(company),
        connection: NOT_CREATED.to_owned(),
        edition: NOT_KNOWN.to_owned(),
        next_step: next_step.to_owned(),
    };
    match outcome {
        ConnectOutcome::Connected {
            connection_id,
            company_name,
            edition,
            erp_configured,
            reconnected,
            webhooks,
            sync_queued: _,
        } => connected_page(
            company,
            &connection_id,
            company_name.as_deref(),
            edition,
            erp_configured,
            reconnected,
            &webhooks,
        ),
        ConnectOutcome::RequestTokenRefused => refused(
            400,
            "Concur did not accept this connect link",
            "The link's one-time token has expired (it lasts 24 hours) or is not valid.",
            "Click Connect again on our listing in the Concur App Center to get a fresh link.",
        ),
        ConnectOutcome::CompanyNotEnabled => refused(
            403,
            "This Concur company is not enabled for the connector",
            "Concur says the application is not enabled for your company.",
            "Ask your SAP Concur administrator to enable the application for your company in the App Center, \
then click Connect again.",
        ),
        ConnectOutcome::ConcurUnavailable => refused(
            502,
            "Concur could not be reached",
            "We could not reach SAP Concur to complete the connection.",
            "Wait a few minutes and reload this page: the link stays valid for 24 hours. \
If it keeps failing, contact us and quote the reference below.",
        ),
        ConnectOutcome::Unavailable => Page {
            status: 503,
            tone: Tone::Failed,
            title: "The connection could not be completed",
            summary: "Something failed on our side; it was not caused by anything you did, and our operators \
have the details."
                .to_owned(),
            company: code(company),
            connection: "Not completed".to_owned(),
            edition: NOT_KNOWN.to_owned(),
            next_step: "Reload this page in a few minutes: the link stays valid for 24 hours. \
If it keeps failing, contact us and quote the reference below."
                .to_owned(),
        },
    }
}

/// The page of a connect that worked (first time or again).
fn connected_page(
    company: &str,
    connection_id: &str,
    company_name: Option<&str>,
    edition: Option<domain::Edition>,
    erp_configured: bool,
    reconnected: bool,
    webhooks: &WebhookSetup,
) -> Page {
    let (who, company) = match company_name.filter(|n| !n.trim().is_empty()) {
        Some(name) => (
            format!("<strong>{}</strong>", escape(name)),
            format!("<strong>{}</strong><br>{}", escape(name), code(company)),
        ),
        None => ("Your Concur company".to_owned(), code(company)),
    };
    let summary = if reconnected {
        format!("{who} is connected again; its settings were kept.")
    } else {
        format!("{who} is connected to the connector.")
    };
    let mut next_step = if erp_configured {
        "Approved expense reports, invoices and cash advances will now flow to your ERP.".to_owned()
    } else {
        "Your connector operator will now finish the ERP side; documents start flowing once it is set up.".to_owned()
    };
    if webhooks.error.is_some() {
        next_step.push_str(" Approved documents are picked up on the regular schedule for now.");
    }
    next_step.push_str(" You can close this page.");
    let edition = match edition {
        Some(domain::Edition::Professional) => "Professional edition",
        Some(domain::Edition::Standard) => "Standard edition",
        Some(domain::Edition::Unknown) | None => "Not known yet; your operator will check it",
    };
    Page {
        status: 200,
        tone: Tone::Done,
        title: "Concur is connected",
        summary,
        company,
        connection: code(connection_id),
        edition: edition.to_owned(),
        next_step,
    }
}

/// How an outcome looks: the colour and icon of its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    /// Connected.
    Done,
    /// Refused or not reachable: the admin can act (a fresh link, a reload).
    Attention,
    /// Our side failed.
    Failed,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Done => "done",
            Tone::Attention => "attention",
            Tone::Failed => "failed",
        }
    }

    /// The icon's shapes, drawn inline (no request); the heading says the
    /// same in words, so the icon is hidden from screen readers.
    fn icon_shapes(self) -> &'static str {
        match self {
            Tone::Done => r#"<circle cx="12" cy="12" r="10"/><path d="m7.5 12.5 3 3 6-6.5"/>"#,
            Tone::Attention => r#"<path d="M12 3 2 20.5h20z"/><path d="M12 10v4.5m0 3v.01"/>"#,
            Tone::Failed => r#"<circle cx="12" cy="12" r="10"/><path d="m8.5 8.5 7 7m0-7-7 7"/>"#,
        }
    }
}

/// One outcome's page before it is rendered. The HTML fields are built from
/// constants and escaped values only (see [`code`] and [`escape`]).
#[derive(Debug)]
struct Page {
    status: u16,
    tone: Tone,
    /// Plain text: the `<title>` and the one `<h1>`.
    title: &'static str,
    /// HTML: what happened.
    summary: String,
    /// HTML: the company's name and UUID, as far as known.
    company: String,
    /// HTML: the connection's id, or why there is none.
    connection: String,
    /// HTML: the Concur edition, as far as known.
    edition: String,
    /// HTML: what happens next (success) or what to do (failure).
    next_step: String,
}

/// The response headers of every page: nothing but the page itself may load
/// or run (no script at all, styles only inline), it cannot be framed, and
/// the link's token never leaves in a Referer. (`Cache-Control: no-store`
/// comes with every `platform::http_api::response`.)
const PAGE_HEADERS: [(&str, &str); 3] = [
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

/// The product's name as the admin knows it from the App Center listing.
const PRODUCT: &str = "Concur \u{2192} ERP connector";

impl Page {
    fn failed(&self) -> bool {
        self.tone != Tone::Done
    }

    /// The page as a response: one self-contained document (inline style and
    /// icon, no script, no external asset), the same layout for every outcome.
    fn render(self, reference: &str) -> ApiGatewayV2httpResponse {
        let Page { status, tone, title, summary, company, connection, edition, next_step } = &self;
        let (next_heading, reference) = if self.failed() {
            ("What to do", format!("<p class=\"reference\">Reference to quote: <code>{}</code></p>", escape(reference)))
        } else {
            ("What happens next", String::new())
        };
        let (class, icon) = (tone.class(), tone.icon_shapes());
        let body = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"color-scheme\" content=\"light dark\"><meta name=\"referrer\" content=\"no-referrer\">\
<meta name=\"robots\" content=\"noindex\">\
<title>{title} \u{2013} {PRODUCT}</title><style>{STYLE}</style></head>\n\
<body><div class=\"wrap\"><header><p class=\"product\">{PRODUCT}</p></header>\n\
<main class=\"{class}\"><div class=\"status\" role=\"status\">\
<svg viewBox=\"0 0 24 24\" width=\"32\" height=\"32\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"2\" \
stroke-linecap=\"round\" stroke-linejoin=\"round\" aria-hidden=\"true\" focusable=\"false\">{icon}</svg>\
<div><h1>{title}</h1><p>{summary}</p></div></div>\n\
<dl><div><dt>Company</dt><dd>{company}</dd></div><div><dt>Connection</dt><dd>{connection}</dd></div>\
<div><dt>Edition</dt><dd>{edition}</dd></div></dl>\n\
<h2>{next_heading}</h2><p>{next_step}</p>{reference}</main></div></body></html>\n"
        );
        let mut response = response(*status, "text/html; charset=utf-8", body);
        for (name, value) in PAGE_HEADERS {
            response.headers.insert(name, HeaderValue::from_static(value));
        }
        response
    }
}

/// The page's whole style: readable from 320 px up, system fonts, AA
/// contrast in light and dark, one accent per tone.
const STYLE: &str = "\
:root{color-scheme:light dark;--bg:#f6f8fa;--card:#fff;--text:#1f2328;--muted:#59636e;--line:#d1d9e0;\
--code:#eff2f5;--done:#1a7f37;--attention:#9a6700;--failed:#d1242f}\
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--text:#e6edf3;--muted:#9198a1;\
--line:#3d444d;--code:#262c36;--done:#3fb950;--attention:#d29922;--failed:#f85149}}\
*{box-sizing:border-box}\
body{margin:0;background:var(--bg);color:var(--text);\
font:1rem/1.55 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif}\
.wrap{max-width:40rem;margin:0 auto;padding:2.5rem 1rem}\
.product{margin:0 0 .75rem;color:var(--muted);font-size:.875rem;font-weight:600}\
main{background:var(--card);border:1px solid var(--line);border-top:.375rem solid var(--tone);\
border-radius:.5rem;padding:1.5rem}\
.done{--tone:var(--done)}.attention{--tone:var(--attention)}.failed{--tone:var(--failed)}\
.status{display:flex;gap:.875rem;align-items:flex-start}\
.status svg{flex:none;width:2rem;height:2rem;color:var(--tone);margin-top:.125rem}\
h1{font-size:1.5rem;line-height:1.25;margin:0}\
h2{font-size:1.0625rem;margin:1.25rem 0 .25rem}\
p{margin:.5rem 0 0}\
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.5rem 1.25rem;margin:1.25rem 0 0;\
padding:1rem 0;border-top:1px solid var(--line);border-bottom:1px solid var(--line)}\
dl div{display:contents}\
dt{color:var(--muted);font-weight:600}\
dd{margin:0;overflow-wrap:anywhere}\
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,\"DejaVu Sans Mono\",monospace;font-size:.9em;\
background:var(--code);padding:.1em .35em;border-radius:.25rem;overflow-wrap:anywhere}\
.reference{margin-top:1rem;padding:.75rem 1rem;background:var(--bg);border-left:.25rem solid var(--tone);\
border-radius:.25rem}\
.reference code{font-size:1em;user-select:all}\
@media (max-width:30rem){.wrap{padding:1rem .75rem}main{padding:1rem}h1{font-size:1.3125rem}\
dl{display:block}dl div{display:block}dl div+div{margin-top:.5rem}}";

/// `value` escaped, as inline code.
fn code(value: &str) -> String {
    format!("<code>{}</code>", escape(value))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::encodings::Body;

    /// Answers with a fixed outcome.
    struct Scripted(ConnectOutcome);
    impl Connector for Scripted {
        async fn connect(&self, _: ConnectRequest) -> ConnectOutcome {
            self.0.clone()
        }
    }

    fn connected(erp_configured: bool, webhook_error: bool) -> Scripted {
        Scripted(ConnectOutcome::Connected {
            connection_id: "acme-8568a4cd".into(),
            company_name: Some("Acme <Corp>".into()),
            edition: Some(domain::Edition::Professional),
            erp_configured,
            reconnected: false,
            webhooks: WebhookSetup { error: webhook_error.then(|| "503".to_owned()), ..Default::default() },
            sync_queued: true,
        })
    }

    const COMPANY: &str = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";
    const REQUEST_ID: &str = "JKJaXmPLvHcESHA=";

    fn valid() -> ApiGatewayV2httpRequest {
        request(&[("id", COMPANY), ("requestToken", "5l85ae5a-426f"), ("userId", "9bdded51")])
    }

    /// A request as API Gateway sends it, with its request id.
    fn request(query: &[(&str, &str)]) -> ApiGatewayV2httpRequest {
        let mut r = ApiGatewayV2httpRequest::default();
        let map: std::collections::HashMap<String, String> =
            query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        r.query_string_parameters = map.into();
        r.request_context.request_id = Some(REQUEST_ID.to_owned());
        r
    }

    fn body(r: &ApiGatewayV2httpResponse) -> &str {
        match &r.body {
            Some(Body::Text(t)) => t,
            _ => "",
        }
    }

    fn header<'a>(r: &'a ApiGatewayV2httpResponse, name: &str) -> &'a str {
        r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Every outcome the page can show, with the request that leads to it.
    fn every_outcome() -> Vec<(&'static str, Scripted, ApiGatewayV2httpRequest)> {
        let mut reconnected = connected(true, false);
        if let ConnectOutcome::Connected { reconnected: r, .. } = &mut reconnected.0 {
            *r = true;
        }
        vec![
            ("connected", connected(true, false), valid()),
            ("reconnected", reconnected, valid()),
            ("erp not configured", connected(false, true), valid()),
            ("refused", Scripted(ConnectOutcome::RequestTokenRefused), valid()),
            ("not enabled", Scripted(ConnectOutcome::CompanyNotEnabled), valid()),
            ("concur unreachable", Scripted(ConnectOutcome::ConcurUnavailable), valid()),
            ("ours", Scripted(ConnectOutcome::Unavailable), valid()),
            ("incomplete link", Scripted(ConnectOutcome::Unavailable), request(&[("id", COMPANY)])),
        ]
    }

    #[tokio::test]
    async fn missing_and_malformed_parameters_get_a_clear_page() {
        let r = handle(&Scripted(ConnectOutcome::Unavailable), request(&[("requestToken", "t")])).await;
        assert_eq!(r.status_code, 400);
        assert!(body(&r).contains("missing its <code>id</code>"));
        assert!(body(&r).contains("Not named in the link"), "no company to show");
        let r = handle(&Scripted(ConnectOutcome::Unavailable), request(&[("id", "nope"), ("requestToken", "t")])).await;
        assert_eq!(r.status_code, 400);
        assert!(body(&r).contains("<code>id</code> parameter is not valid"));
        assert!(!body(&r).contains("nope"), "an invalid id is not echoed");
        let r = handle(&Scripted(ConnectOutcome::Unavailable), request(&[("id", COMPANY)])).await;
        assert!(body(&r).contains("<code>requestToken</code>"));
        assert!(body(&r).contains(&format!("<dd><code>{COMPANY}</code></dd>")), "the link's company is shown");
    }

    #[tokio::test]
    async fn the_request_token_never_reaches_the_page() {
        let secret = "5l85ae5a-426f-4d6f-8af4-08648c4b696b";
        let r = handle(
            &Scripted(ConnectOutcome::Unavailable),
            request(&[("id", COMPANY), ("requestToken", secret), ("userID", "9bdded51")]),
        )
        .await;
        assert_eq!(r.status_code, 503);
        assert!(!body(&r).contains(secret));
        assert!(body(&r).contains("not caused by anything you did"));
        let parsed = parse_query(&request(&[("id", COMPANY), ("requestToken", secret)])).unwrap();
        assert!(!format!("{parsed:?}").contains(secret));
    }

    #[tokio::test]
    async fn each_outcome_has_its_status_and_advice() {
        let cases = [
            (ConnectOutcome::RequestTokenRefused, 400, "Click Connect again"),
            (ConnectOutcome::CompanyNotEnabled, 403, "enable the application"),
            (ConnectOutcome::ConcurUnavailable, 502, "reload this page"),
            (ConnectOutcome::Unavailable, 503, "Reload this page"),
        ];
        for (outcome, status, advice) in cases {
            let r = handle(&Scripted(outcome.clone()), valid()).await;
            let html = body(&r);
            assert_eq!(r.status_code, status, "{outcome:?}");
            assert!(html.contains(advice), "{outcome:?}: {html}");
            assert!(html.contains("Nothing was stored") || status == 503, "{outcome:?}");
            assert!(html.contains("<h2>What to do</h2>"), "{outcome:?}");
            assert!(html.contains(&format!("<dd><code>{COMPANY}</code></dd>")), "{outcome:?}");
        }
    }

    #[tokio::test]
    async fn success_names_the_company_escaped_and_says_what_happens_next() {
        let r = handle(&connected(false, false), valid()).await;
        assert_eq!(r.status_code, 200);
        let html = body(&r);
        assert!(html.contains("<strong>Acme &lt;Corp&gt;</strong> is connected"), "{html}");
        assert!(html.contains(&format!("<dd><strong>Acme &lt;Corp&gt;</strong><br><code>{COMPANY}</code></dd>")));
        assert!(html.contains("<dd><code>acme-8568a4cd</code></dd>"));
        assert!(html.contains("<dd>Professional edition</dd>"));
        assert!(html.contains("<h2>What happens next</h2>"));
        assert!(html.contains("operator will now finish the ERP side"));
        assert!(!html.contains("Reference"), "nothing to quote when it worked");
        let r = handle(&connected(true, true), valid()).await;
        assert!(body(&r).contains("will now flow to your ERP"));
        assert!(body(&r).contains("regular schedule"));
        assert!(!body(&r).contains("503"), "internal details stay out of the page");
    }

    #[tokio::test]
    async fn every_failure_page_shows_the_request_id_to_quote() {
        for (name, connector, request) in every_outcome() {
            let r = handle(&connector, request).await;
            let quoted = body(&r).contains(&format!("Reference to quote: <code>{REQUEST_ID}</code>"));
            assert_eq!(quoted, r.status_code != 200, "{name}: {}", body(&r));
        }
        // API Gateway's ids are plain, but the page trusts no input.
        let mut hostile = valid();
        hostile.request_context.request_id = Some("<b>\"x\"</b>&".into());
        let r = handle(&Scripted(ConnectOutcome::Unavailable), hostile).await;
        assert!(body(&r).contains("<code>&lt;b&gt;&quot;x&quot;&lt;/b&gt;&amp;</code>"), "{}", body(&r));
        // No request id (a direct invoke): one is made, and differs per request.
        let mut references = Vec::new();
        for _ in 0..2 {
            let mut direct = valid();
            direct.request_context.request_id = None;
            let r = handle(&Scripted(ConnectOutcome::ConcurUnavailable), direct).await;
            let html = body(&r);
            let at = html.find("Reference to quote: <code>local-").expect("a made-up reference");
            let id = &html[at + "Reference to quote: <code>".len()..][..("local-".len() + 16)];
            assert!(id["local-".len()..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            references.push(id.to_owned());
        }
        assert_ne!(references[0], references[1]);
    }

    #[tokio::test]
    async fn every_page_is_one_self_contained_accessible_document() {
        for (name, connector, request) in every_outcome() {
            let r = handle(&connector, request).await;
            let html = body(&r);
            assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"), "{name}");
            assert_eq!(html.matches("<h1>").count(), 1, "{name}: one heading");
            assert_eq!(html.matches("<main").count(), 1, "{name}");
            assert!(html.contains("role=\"status\""), "{name}");
            assert!(html.contains("<dt>Company</dt>") && html.contains("<dt>Connection</dt>"), "{name}");
            assert!(html.contains("<dt>Edition</dt>"), "{name}");
            assert!(html.contains("name=\"viewport\""), "{name}");
            for external in ["<script", "src=", "href=", "url(", "@import", "http"] {
                assert!(!html.contains(external), "{name}: the page loads nothing ({external})");
            }
            assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
            assert!(header(&r, "content-security-policy").starts_with("default-src 'none'; style-src 'unsafe-inline'"));
            assert_eq!(header(&r, "x-content-type-options"), "nosniff");
            assert_eq!(header(&r, "referrer-policy"), "no-referrer");
            assert_eq!(header(&r, "cache-control"), "no-store");
        }
    }

    /// Keeps every event's fields as `name=value` text (and the span fields
    /// of the spans created), to check what the operator can search for.
    #[derive(Clone, Default)]
    struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl Recorder {
        fn lines(&self) -> Vec<String> {
            self.0.lock().map(|l| l.clone()).unwrap_or_default()
        }
    }

    struct Fields(String);
    impl tracing::field::Visit for Fields {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!("{}={value:?} ", field.name()));
        }
    }

    impl tracing::Subscriber for Recorder {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            let mut fields = Fields(format!("span {}: ", span.metadata().name()));
            span.record(&mut fields);
            self.0.lock().unwrap().push(fields.0);
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            self.0.lock().unwrap().push(fields.0);
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[tokio::test]
    async fn the_reference_on_the_page_is_in_the_log_lines() {
        let recorder = Recorder::default();
        let _default = tracing::subscriber::set_default(recorder.clone());
        handle(&Scripted(ConnectOutcome::Unavailable), valid()).await;
        handle(&Scripted(ConnectOutcome::Unavailable), request(&[("id", "nope")])).await;
        let lines = recorder.lines();
        let quoted = format!("reference=\"{REQUEST_ID}\"");
        let with = |text: &str| lines.iter().any(|l| l.contains(text) && l.contains(&quoted));
        assert!(with("connect request"), "{lines:#?}");
        assert!(with("span connect"), "the flow's own lines carry it: {lines:#?}");
        assert!(with("outcome=\"unavailable\""), "{lines:#?}");
        assert!(with("the link is incomplete"), "{lines:#?}");
    }

    #[test]
    fn escape_covers_text_and_attribute_contexts() {
        assert_eq!(
            escape(r#"<a title='x' href="y">&amp;</a>"#),
            "&lt;a title=&#39;x&#39; href=&quot;y&quot;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(code("a&b"), "<code>a&amp;b</code>");
    }
}
