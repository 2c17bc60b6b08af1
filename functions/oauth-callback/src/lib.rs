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
//! logs and the audit trail.

pub mod quick_connect;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use domain::CompanyUuid;
use platform::http_api::{query_param, response};

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

/// The connect step behind the page (token exchange, storage, subscriptions).
pub trait Connector {
    fn connect(&self, request: ConnectRequest) -> impl std::future::Future<Output = ConnectOutcome> + Send;
}

/// Handles one browser request.
pub async fn handle(connector: &impl Connector, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let connect = match parse_query(&request) {
        Ok(c) => c,
        Err(problem) => return incomplete_link_page(problem),
    };
    let company = connect.company.to_string();
    tracing::info!(company, admin_user = connect.admin_user.as_deref().unwrap_or("-"), "connect request");
    outcome_page(&company, connector.connect(connect).await)
}

/// The page for a link whose query cannot be used.
fn incomplete_link_page(problem: QueryProblem) -> ApiGatewayV2httpResponse {
    let (status, detail) = match problem {
        QueryProblem::Missing(name) => (400, format!("The link is missing its <code>{name}</code> parameter.")),
        QueryProblem::Malformed(name) => (400, format!("The link's <code>{name}</code> parameter is not valid.")),
    };
    tracing::warn!(?problem, "refused a connect request");
    page(
        status,
        "This connect link is incomplete",
        &detail,
        "Start again from the Connect button of our listing in the Concur App Center. If it happens again, send us the time of your attempt.",
    )
}

/// The page that tells the admin how the connect went for `company`.
fn outcome_page(company: &str, outcome: ConnectOutcome) -> ApiGatewayV2httpResponse {
    match outcome {
        ConnectOutcome::Connected {
            connection_id,
            company_name,
            edition,
            erp_configured,
            reconnected,
            webhooks,
            sync_queued: _,
        } => {
            let who = match &company_name {
                Some(name) => format!("<strong>{}</strong> (<code>{company}</code>)", escape(name)),
                None => format!("company <code>{company}</code>"),
            };
            let edition = match edition {
                Some(domain::Edition::Professional) => " It runs the Professional edition.",
                Some(domain::Edition::Standard) => " It runs the Standard edition.",
                _ => "",
            };
            let verb = if reconnected { "is connected again; its settings were kept" } else { "is connected" };
            let mut next = if erp_configured {
                "Approved expense reports, invoices and cash advances will now flow to your ERP. You can close this page.".to_owned()
            } else {
                "Your connector operator will now finish the ERP side; documents start flowing once it is set up. You can close this page.".to_owned()
            };
            if webhooks.error.is_some() {
                next.push_str(" Approved documents are picked up on the regular schedule for now.");
            }
            page(
                200,
                "Concur is connected",
                &format!("{who} {verb} as <code>{}</code>.{edition}", escape(&connection_id)),
                &next,
            )
        }
        ConnectOutcome::RequestTokenRefused => page(
            400,
            "Concur did not accept this connect link",
            "The link's one-time token has expired (it lasts 24 hours) or is not valid. Nothing was stored.",
            "Click Connect again on our listing in the Concur App Center to get a fresh link.",
        ),
        ConnectOutcome::CompanyNotEnabled => page(
            403,
            "This Concur company is not enabled for the connector",
            "Concur says the application is not enabled for your company. Nothing was stored.",
            "Ask your SAP Concur administrator to enable the application for your company in the App Center, then click Connect again.",
        ),
        ConnectOutcome::ConcurUnavailable => page(
            502,
            "Concur could not be reached",
            "We could not reach SAP Concur to complete the connection. Nothing was stored.",
            "Wait a few minutes and reload this page: the link stays valid for 24 hours.",
        ),
        ConnectOutcome::Unavailable => page(
            503,
            "The connection could not be completed",
            "Something failed on our side; it was not caused by anything you did, and our operators have the details.",
            "Reload this page in a few minutes: the link stays valid for 24 hours. If it keeps failing, send us the time of your attempt.",
        ),
    }
}

/// A small, self-contained HTML page. Every dynamic value is escaped.
fn page(status: u16, title: &str, detail: &str, next_step: &str) -> ApiGatewayV2httpResponse {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
<meta name=\"viewport\" content=\"width=device-width\"><style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;line-height:1.5}}</style></head>\
<body><h1>{title}</h1><p>{detail}</p><p>{next_step}</p></body></html>"
    );
    response(status, "text/html; charset=utf-8", body)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::encodings::Body;

    /// Answers with a fixed outcome and remembers what it was asked.
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

    fn valid() -> ApiGatewayV2httpRequest {
        request(&[("id", COMPANY), ("requestToken", "5l85ae5a-426f"), ("userId", "9bdded51")])
    }

    fn request(query: &[(&str, &str)]) -> ApiGatewayV2httpRequest {
        let mut r = ApiGatewayV2httpRequest::default();
        let map: std::collections::HashMap<String, String> =
            query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        r.query_string_parameters = map.into();
        r
    }

    fn body(r: &ApiGatewayV2httpResponse) -> &str {
        match &r.body {
            Some(Body::Text(t)) => t,
            _ => "",
        }
    }

    #[tokio::test]
    async fn missing_and_malformed_parameters_get_a_clear_page() {
        let r = handle(&Scripted(ConnectOutcome::Unavailable), request(&[("requestToken", "t")])).await;
        assert_eq!(r.status_code, 400);
        assert!(body(&r).contains("missing its <code>id</code>"));
        let r = handle(&Scripted(ConnectOutcome::Unavailable), request(&[("id", "nope"), ("requestToken", "t")])).await;
        assert_eq!(r.status_code, 400);
        assert!(body(&r).contains("<code>id</code> parameter is not valid"));
        let id = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";
        let r = handle(&Scripted(ConnectOutcome::Unavailable), request(&[("id", id)])).await;
        assert!(body(&r).contains("<code>requestToken</code>"));
    }

    #[tokio::test]
    async fn the_request_token_never_reaches_the_page() {
        let secret = "5l85ae5a-426f-4d6f-8af4-08648c4b696b";
        let r = handle(
            &Scripted(ConnectOutcome::Unavailable),
            request(&[
                ("id", "8568a4cd-8ffc-49d6-9417-be2d69aa075f"),
                ("requestToken", secret),
                ("userID", "9bdded51"),
            ]),
        )
        .await;
        assert_eq!(r.status_code, 503);
        assert!(!body(&r).contains(secret));
        assert!(body(&r).contains("not caused by anything you did"));
        let parsed =
            parse_query(&request(&[("id", "8568a4cd-8ffc-49d6-9417-be2d69aa075f"), ("requestToken", secret)])).unwrap();
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
            assert_eq!(r.status_code, status, "{outcome:?}");
            assert!(body(&r).contains(advice), "{outcome:?}: {}", body(&r));
            assert!(body(&r).contains("Nothing was stored") || status == 503, "{outcome:?}");
        }
    }

    #[tokio::test]
    async fn success_names_the_company_escaped_and_says_what_happens_next() {
        let r = handle(&connected(false, false), valid()).await;
        assert_eq!(r.status_code, 200);
        let html = body(&r);
        assert!(html.contains("<strong>Acme &lt;Corp&gt;</strong>"), "{html}");
        assert!(html.contains("<code>acme-8568a4cd</code>"));
        assert!(html.contains("Professional edition"));
        assert!(html.contains("operator will now finish the ERP side"));
        let r = handle(&connected(true, true), valid()).await;
        assert!(body(&r).contains("will now flow to your ERP"));
        assert!(body(&r).contains("regular schedule"));
        assert!(!body(&r).contains("503"), "internal details stay out of the page");
    }
}
