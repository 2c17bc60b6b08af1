//! oauth-callback: the Quick Connect landing page (`GET /concur/connect`).
//!
//! Concur's App Center redirects the admin's browser here with `id` (company
//! UUID), `requestToken` and `userId` (spelled `userID` on one docs page: both
//! are accepted). This module validates that query and renders the page the
//! admin sees. The token exchange, secret storage and subscriptions plug in
//! behind [`Connector`] (issue 3); until then a valid request gets a clear
//! "not available yet" page, and nothing is stored.

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

/// What connecting a company produced.
pub enum ConnectOutcome {
    Connected {
        connection_id: String,
    },
    /// Connecting is not deployed in this build (issue 3).
    NotAvailable,
}

/// The connect step behind the page (token exchange, storage, subscriptions).
pub trait Connector {
    fn connect(&self, request: ConnectRequest) -> impl std::future::Future<Output = ConnectOutcome> + Send;
}

/// Handles one browser request.
pub async fn handle(connector: &impl Connector, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let connect = match parse_query(&request) {
        Ok(c) => c,
        Err(problem) => {
            let (status, detail) = match problem {
                QueryProblem::Missing(name) => (400, format!("The link is missing its <code>{name}</code> parameter.")),
                QueryProblem::Malformed(name) => {
                    (400, format!("The link's <code>{name}</code> parameter is not valid."))
                }
            };
            tracing::warn!(?problem, "refused a connect request");
            return page(
                status,
                "This connect link is incomplete",
                &detail,
                "Start again from the Connect button of our listing in the Concur App Center. If it happens again, send us the time of your attempt.",
            );
        }
    };
    let company = connect.company.to_string();
    tracing::info!(company, admin_user = connect.admin_user.as_deref().unwrap_or("-"), "connect request");
    match connector.connect(connect).await {
        ConnectOutcome::Connected { connection_id } => page(
            200,
            "Concur is connected",
            &format!("Company <code>{company}</code> is connected as <code>{}</code>.", escape(&connection_id)),
            "Approved expense reports and invoices will now flow to your ERP. You can close this page.",
        ),
        ConnectOutcome::NotAvailable => page(
            503,
            "Connecting is not available yet",
            "This deployment of the connector cannot complete a Concur connection yet; nothing was stored.",
            "Your connect link stays valid for 24 hours. Ask your connector operator when connecting is enabled, then click Connect again.",
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

    struct NotYet;
    impl Connector for NotYet {
        async fn connect(&self, _: ConnectRequest) -> ConnectOutcome {
            ConnectOutcome::NotAvailable
        }
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
        let r = handle(&NotYet, request(&[("requestToken", "t")])).await;
        assert_eq!(r.status_code, 400);
        assert!(body(&r).contains("missing its <code>id</code>"));
        let r = handle(&NotYet, request(&[("id", "nope"), ("requestToken", "t")])).await;
        assert_eq!(r.status_code, 400);
        assert!(body(&r).contains("<code>id</code> parameter is not valid"));
        let id = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";
        let r = handle(&NotYet, request(&[("id", id)])).await;
        assert!(body(&r).contains("<code>requestToken</code>"));
    }

    #[tokio::test]
    async fn the_request_token_never_reaches_the_page() {
        let secret = "5l85ae5a-426f-4d6f-8af4-08648c4b696b";
        let r = handle(
            &NotYet,
            request(&[
                ("id", "8568a4cd-8ffc-49d6-9417-be2d69aa075f"),
                ("requestToken", secret),
                ("userID", "9bdded51"),
            ]),
        )
        .await;
        assert_eq!(r.status_code, 503);
        assert!(!body(&r).contains(secret));
        let parsed =
            parse_query(&request(&[("id", "8568a4cd-8ffc-49d6-9417-be2d69aa075f"), ("requestToken", secret)])).unwrap();
        assert!(!format!("{parsed:?}").contains(secret));
    }
}
