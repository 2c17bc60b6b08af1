//! Authentication (§3): the OAuth 2.0 token endpoint (password and
//! refresh_token grants), cookie login/logout, and resolving the caller of an
//! `/entity` request to a tenant.
//!
//! Helpers return `Result<_, Response>` whose error is the HTTP answer itself,
//! handed straight back to axum; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::Instant;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::AcumaticaSim;
use super::errors::{self, binding_error, http_error, oauth_error};
use super::state::{AccessToken, RefreshToken, Session, Site, same_text};

const KNOWN_SCOPES: [&str; 6] = ["api", "offline_access", "api:concurrent_access", "openid", "email", "profile"];
const SESSION_COOKIE: &str = ".ASPXAUTH";

/// Who is calling an `/entity` route.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub tenant: usize,
    /// Branch chosen at cookie login, overridden by `PX-CbApiBranch`.
    pub branch: Option<String>,
}

fn new_token() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()).to_uppercase()
}

fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// 415 as ASP.NET Web API answers a body of the wrong media type.
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), Response> {
    if content_type_is(headers, "application/json") {
        return Ok(());
    }
    let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/octet-stream");
    Err(errors::message_only(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &format!("The request entity's media type '{media}' is not supported for this resource."),
    ))
}

/// `POST /identity/connect/token`.
pub(crate) async fn token(State(sim): State<AcumaticaSim>, headers: HeaderMap, body: Bytes) -> Response {
    let mut site = sim.lock();
    let mut params: HashMap<String, String> = HashMap::new();
    let mut duplicated = false;
    for (k, v) in url::form_urlencoded::parse(&body) {
        duplicated |= params.insert(k.into_owned(), v.into_owned()).is_some();
    }
    let grant = params.get("grant_type").cloned().unwrap_or_default();
    *site.token_calls.entry(grant.clone()).or_default() += 1;
    if !content_type_is(&headers, "application/x-www-form-urlencoded") || duplicated || grant.is_empty() {
        return oauth_error("invalid_request");
    }
    // Client authentication first: `<guid>@<TenantLoginName>` and its secret.
    let Some(client_id) = params.get("client_id") else { return oauth_error("invalid_client") };
    let Some((guid, tenant_name)) = client_id.split_once('@') else { return oauth_error("invalid_client") };
    let Some(tenant) = site.tenants.iter().position(|t| t.name == tenant_name) else {
        return oauth_error("invalid_client");
    };
    let t = &site.tenants[tenant];
    if !t.client_guid.eq_ignore_ascii_case(guid) || params.get("client_secret") != Some(&t.client_secret) {
        return oauth_error("invalid_client");
    }
    let client_guid = t.client_guid.clone();
    let now = Instant::now();
    match grant.as_str() {
        "password" => {
            let (Some(user), Some(password)) = (params.get("username"), params.get("password")) else {
                return oauth_error("invalid_request");
            };
            let scopes = match parse_scopes(params.get("scope").map(String::as_str).unwrap_or("")) {
                Some(s) if s.iter().any(|s| s == "api") => s,
                _ => return oauth_error("invalid_scope"),
            };
            let known = site.tenants[tenant].users.iter().any(|(u, p)| same_text(u, user) && p == password);
            if !known {
                return oauth_error("invalid_grant");
            }
            issue(&mut site, tenant, &client_guid, user, scopes, now)
        }
        "refresh_token" => {
            let Some(presented) = params.get("refresh_token") else { return oauth_error("invalid_request") };
            let Some(stored) = site.refresh_tokens.get(presented).cloned() else { return oauth_error("invalid_grant") };
            if stored.tenant != tenant || stored.client_guid != client_guid || stored.expires_at <= now {
                return oauth_error("invalid_grant");
            }
            let scopes = match params.get("scope") {
                None => stored.scopes.clone(),
                Some(requested) => match parse_scopes(requested) {
                    Some(s) if s.iter().all(|x| stored.scopes.contains(x)) => s,
                    _ => return oauth_error("invalid_scope"),
                },
            };
            // Rotation: the presented refresh token is spent.
            site.refresh_tokens.remove(presented);
            issue(&mut site, tenant, &client_guid, &stored.user, scopes, now)
        }
        _ => oauth_error("unsupported_grant_type"),
    }
}

/// Space-separated scopes; `None` if empty or any is unknown.
fn parse_scopes(scope: &str) -> Option<Vec<String>> {
    let scopes: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() || scopes.iter().any(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return None;
    }
    Some(scopes)
}

fn issue(site: &mut Site, tenant: usize, client_guid: &str, user: &str, scopes: Vec<String>, now: Instant) -> Response {
    let access = new_token();
    site.access_tokens.insert(access.clone(), AccessToken { tenant, expires_at: now + site.token_lifetime });
    let mut body = json!({
        "access_token": access,
        "expires_in": site.token_lifetime.as_secs(),
        "token_type": "Bearer",
        "scope": scopes.join(" "),
    });
    if scopes.iter().any(|s| s == "offline_access") {
        let refresh = new_token();
        site.refresh_tokens.insert(
            refresh.clone(),
            RefreshToken {
                tenant,
                client_guid: client_guid.to_owned(),
                user: user.to_owned(),
                scopes,
                expires_at: now + site.refresh_lifetime,
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    let mut response = (StatusCode::OK, Json(body)).into_response();
    errors::no_store(&mut response);
    response
}

fn invalid_credentials(detail: &str) -> Response {
    http_error(StatusCode::UNAUTHORIZED, &format!("Error: {detail}"), "PX.Data.PXException")
}

/// `POST /entity/auth/login` (cookie session).
pub(crate) async fn login(State(sim): State<AcumaticaSim>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = require_json(&headers) {
        return response;
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return binding_error("", &format!("Invalid JSON: {e}")),
    };
    let Value::Object(members) = value else {
        return binding_error("", "The credentials must be a JSON object.");
    };
    let mut fields: HashMap<&str, String> = HashMap::new();
    for (key, v) in &members {
        if !matches!(key.as_str(), "name" | "password" | "tenant" | "company" | "branch" | "locale") {
            return binding_error(
                key,
                &format!("Could not find member '{key}' on object of type 'Credentials'. Path '{key}'."),
            );
        }
        match v {
            Value::String(s) => {
                fields.insert(key.as_str(), s.clone());
            }
            Value::Null => {}
            other => {
                return binding_error(
                    key,
                    &format!("Error converting value {other} to type 'System.String'. Path '{key}'."),
                );
            }
        }
    }
    if fields.contains_key("tenant") && fields.contains_key("company") {
        return binding_error("", "Specify either 'tenant' or 'company', not both.");
    }
    let mut site = sim.lock();
    let tenant = match fields.get("tenant").or(fields.get("company")) {
        Some(name) => site.tenant_index(name),
        None if site.tenants.len() == 1 => Some(0),
        None => None,
    };
    let Some(tenant) = tenant else { return invalid_credentials("Invalid credentials. Please try again.") };
    let (Some(name), Some(password)) = (fields.get("name"), fields.get("password")) else {
        return invalid_credentials("Invalid credentials. Please try again.");
    };
    let t = &site.tenants[tenant];
    if !t.users.iter().any(|(u, p)| same_text(u, name) && p == password) {
        return invalid_credentials("Invalid credentials. Please try again.");
    }
    let branch = fields.get("branch").cloned();
    if let Some(b) = &branch
        && !t.has_branch(b)
    {
        return invalid_credentials(&format!("The branch '{b}' cannot be found in the system."));
    }
    let now = Instant::now();
    site.expire_idle_sessions(now);
    if site.sessions.len() >= site.max_sessions {
        return http_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Error: The number of concurrent API logins has reached the API Login Limit of the license.",
            "PX.Data.PXException",
        );
    }
    let auth = new_token();
    site.sessions.insert(auth.clone(), Session { tenant, branch: branch.clone(), last_used: now });
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cookies = [
        format!("{SESSION_COOKIE}={auth}; path=/; HttpOnly"),
        format!("ASP.NET_SessionId={}; path=/; HttpOnly; SameSite=Lax", Uuid::new_v4().simple()),
        format!("UserBranch={}; path=/", branch.as_deref().unwrap_or("1")),
        format!(
            "Locale=Culture={}&TimeZone=GMTE0000U; path=/",
            fields.get("locale").map(String::as_str).unwrap_or("en-US")
        ),
        format!("requestid={}; path=/", Uuid::new_v4().simple()),
    ];
    for cookie in cookies {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// `POST /entity/auth/logout`: always 204; frees the seat if the session exists.
pub(crate) async fn logout(State(sim): State<AcumaticaSim>, headers: HeaderMap) -> Response {
    if let Some(auth) = session_cookie(&headers) {
        sim.lock().sessions.remove(&auth);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    for name in [SESSION_COOKIE, "ASP.NET_SessionId", "UserBranch", "Locale", "requestid"] {
        if let Ok(v) = HeaderValue::from_str(&format!("{name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/")) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        line.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == SESSION_COOKIE).then(|| v.to_owned())
        })
    })
}

/// Resolves the caller from a bearer token or a session cookie; 401 otherwise.
pub(crate) fn authenticate(site: &mut Site, headers: &HeaderMap, now: Instant) -> Result<Caller, Response> {
    let override_branch = headers.get("PX-CbApiBranch").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(authz) = headers.get(header::AUTHORIZATION) {
        let token = authz.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
        let Some(stored) = token.and_then(|t| site.access_tokens.get(t)) else {
            return Err(errors::unauthorized(false));
        };
        if stored.expires_at <= now {
            return Err(errors::unauthorized(true));
        }
        return Ok(Caller { tenant: stored.tenant, branch: override_branch });
    }
    if let Some(auth) = session_cookie(headers) {
        site.expire_idle_sessions(now);
        if let Some(session) = site.sessions.get_mut(&auth) {
            session.last_used = now;
            return Ok(Caller { tenant: session.tenant, branch: override_branch.or(session.branch.clone()) });
        }
    }
    Err(errors::unauthorized(false))
}
