//! `POST /oauth2/v0/token`: password (company, `credtype=authtoken`),
//! refresh_token and client_credentials grants, with auth.md §9 errors.

use std::collections::HashMap;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::Ctx;
use super::http::with_reason;
use super::state::{self, Principal, TokenCall};

/// Fields that must never travel in the URL ("requests with confidential keys/values appended to the URL are rejected").
const CREDENTIAL_FIELDS: &[&str] = &["client_id", "client_secret", "username", "password", "refresh_token"];

/// A refused token call: an auth.md §9 error code plus why (for `x-sim-reason`).
struct Refusal {
    code: u32,
    reason: String,
    /// `geolocation` to report instead of the serving instance's (code 16).
    geolocation: Option<String>,
}

fn refuse(code: u32, reason: impl Into<String>) -> Refusal {
    Refusal { code, reason: reason.into(), geolocation: None }
}

/// HTTP status, `error` and `error_description` of an auth.md §9 code.
fn describe(code: u32) -> (StatusCode, &'static str, &'static str) {
    match code {
        5 => (StatusCode::BAD_REQUEST, "invalid_grant", "Incorrect Credentials. Please Retry"),
        16 => (StatusCode::BAD_REQUEST, "invalid_request", "user lives elsewhere"),
        51 => (StatusCode::BAD_REQUEST, "invalid_request", "username was not supplied"),
        52 => (StatusCode::BAD_REQUEST, "invalid_request", "password was not supplied"),
        54 => (StatusCode::BAD_REQUEST, "invalid_scope", "requested scope exceeds granted scope"),
        60 => (StatusCode::BAD_REQUEST, "invalid_grant", "these are not the grants you are looking for"),
        61 => (StatusCode::UNAUTHORIZED, "invalid_client", "client not found"),
        62 => (StatusCode::BAD_REQUEST, "invalid_request", "client_id was not supplied"),
        63 => (StatusCode::BAD_REQUEST, "invalid_request", "client_secret was not supplied"),
        64 => (StatusCode::UNAUTHORIZED, "invalid_client", "Incorrect credentials. Please Retry"),
        65 => (StatusCode::BAD_REQUEST, "invalid_request", "grant_type was not supplied"),
        106 => (StatusCode::BAD_REQUEST, "invalid_request", "refresh_token was not supplied"),
        108 => (StatusCode::BAD_REQUEST, "invalid_grant", "bad or expired refresh token"),
        120 => (StatusCode::BAD_REQUEST, "invalid_request", "credtype is invalid"),
        _ => (StatusCode::BAD_REQUEST, "invalid_request", "invalid request"),
    }
}

fn refusal_response(refusal: &Refusal, here: &str) -> Response {
    let (status, error, description) = describe(refusal.code);
    let body = json!({
        "code": refusal.code,
        "error": error,
        "error_description": description,
        "geolocation": refusal.geolocation.as_deref().unwrap_or(here),
    });
    with_reason((status, Json(body)).into_response(), &refusal.reason)
}

/// Reads the form body. Anything but a plain `application/x-www-form-urlencoded`
/// body is unreadable for the token service, which then sees no fields at all;
/// the returned note explains that in `x-sim-reason`.
fn read_form(headers: &HeaderMap, body: &Bytes) -> (HashMap<String, String>, Option<&'static str>) {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim();
    let has_params = parts.any(|p| !p.trim().is_empty());
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return (HashMap::new(), Some("Content-Type must be application/x-www-form-urlencoded"));
    }
    if has_params {
        return (
            HashMap::new(),
            Some("Content-Type must not carry parameters such as charset=utf-8 (clients must remove it)"),
        );
    }
    let mut fields = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        // First occurrence wins; empty values count as not supplied.
        if !value.is_empty() {
            fields.entry(key.into_owned()).or_insert_with(|| value.into_owned());
        }
    }
    (fields, None)
}

pub(crate) async fn token(State(ctx): State<Ctx>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let here = ctx.sim.lock().geolocation(&ctx.datacenter);

    if let Some(query) = uri.query() {
        let leaked: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, _)| k.into_owned())
            .filter(|k| CREDENTIAL_FIELDS.contains(&k.as_str()))
            .collect();
        if !leaked.is_empty() {
            // Refused by the gateway before the OAuth service (no §9 code applies).
            let body = json!({
                "error": "invalid_request",
                "error_description": "Confidential values must be sent in the request body, not in the URL",
                "geolocation": here,
            });
            let reason = format!("credentials in the query string: {}", leaked.join(", "));
            ctx.sim.lock().token_calls.push(TokenCall {
                grant_type: String::new(),
                company: None,
                datacenter: ctx.datacenter.to_string(),
                status: 400,
                error_code: None,
            });
            return with_reason((StatusCode::BAD_REQUEST, Json(body)).into_response(), &reason);
        }
    }

    let (form, unreadable) = read_form(&headers, &body);
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    let (outcome, company) = grant(&ctx, &form);
    let response = match &outcome {
        Ok(body) => {
            let mut response = (StatusCode::OK, Json(body)).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            response
        }
        Err(refusal) => {
            let response = refusal_response(refusal, &here);
            match unreadable {
                Some(note) => with_reason(response, note),
                None => response,
            }
        }
    };
    ctx.sim.lock().token_calls.push(TokenCall {
        grant_type,
        company,
        datacenter: ctx.datacenter.to_string(),
        status: response.status().as_u16(),
        error_code: outcome.as_ref().err().map(|r| r.code),
    });
    response
}

/// Runs the grant; returns the token body or a refusal, and the company the call was about.
fn grant(ctx: &Ctx, form: &HashMap<String, String>) -> (Result<Value, Refusal>, Option<String>) {
    let field = |name: &str| form.get(name).map(String::as_str);
    let Some(client_id) = field("client_id") else {
        return (Err(refuse(62, "client_id missing")), None);
    };
    let Some(client_secret) = field("client_secret") else {
        return (Err(refuse(63, "client_secret missing")), None);
    };
    let Some(grant_type) = field("grant_type") else {
        return (Err(refuse(65, "grant_type missing")), None);
    };
    {
        let state = ctx.sim.lock();
        if client_id != state.app.client_id {
            return (Err(refuse(61, "unknown client_id")), None);
        }
        if client_secret != state.app.client_secret {
            return (Err(refuse(64, "wrong client_secret")), None);
        }
    }
    match grant_type {
        "password" => {
            let company = field("username").map(str::to_owned);
            (password_grant(ctx, form), company)
        }
        "refresh_token" => {
            let company =
                field("refresh_token").and_then(|t| ctx.sim.lock().refresh_tokens.get(t).map(|r| r.company.clone()));
            (refresh_grant(ctx, form), company)
        }
        "client_credentials" => (client_credentials_grant(ctx, form), None),
        other => (Err(refuse(60, format!("unsupported grant_type `{other}`"))), None),
    }
}

/// The granted scopes: the requested ones if all are the app's (else 54), or all the app's.
fn granted_scopes(app_scopes: &[String], requested: Option<&String>) -> Result<Vec<String>, Refusal> {
    let Some(requested) = requested else {
        return Ok(app_scopes.to_vec());
    };
    let wanted: Vec<String> = requested.split_whitespace().map(str::to_owned).collect();
    match wanted.iter().find(|s| !app_scopes.contains(s)) {
        Some(extra) => Err(refuse(54, format!("scope `{extra}` is not granted to the application"))),
        None => Ok(wanted),
    }
}

fn password_grant(ctx: &Ctx, form: &HashMap<String, String>) -> Result<Value, Refusal> {
    let field = |name: &str| form.get(name).map(String::as_str);
    let company = field("username").ok_or_else(|| refuse(51, "username missing"))?;
    let request_token = field("password").ok_or_else(|| refuse(52, "password missing"))?;
    match field("credtype") {
        Some("authtoken") => {}
        // Without credtype Concur assumes a user password login, which a company UUID cannot pass.
        None => {
            return Err(refuse(5, "credtype missing: a user password login was assumed; send credtype=authtoken"));
        }
        Some("password") => {
            return Err(refuse(5, "credtype=password is a user login; send credtype=authtoken"));
        }
        Some(other) => return Err(refuse(120, format!("credtype `{other}` is invalid"))),
    }
    let mut state = ctx.sim.lock();
    let Some(home) = state.companies.get(company).map(|c| c.spec.datacenter.clone()) else {
        return Err(refuse(5, "unknown company UUID"));
    };
    let issued_at = match state.request_tokens.get(request_token) {
        None => return Err(refuse(5, "unknown request token")),
        Some(t) if t.company != company => {
            return Err(refuse(5, "request token was issued for another company"));
        }
        Some(t) => t.issued_at,
    };
    if state::now() - issued_at >= state::REQUEST_TOKEN_SECONDS {
        return Err(refuse(5, "request token expired (older than 24 hours)"));
    }
    let scopes = granted_scopes(&state.app.scopes, form.get("scope"))?;
    state.connected.insert(company.to_owned());
    let access = state.issue_access_token(Principal::Company(company.to_owned()), &home, scopes.clone());
    let (refresh, refresh_expires) = state.issue_refresh_token(company);
    Ok(company_token_body(&state, company, &home, access, refresh, refresh_expires, &scopes))
}

fn refresh_grant(ctx: &Ctx, form: &HashMap<String, String>) -> Result<Value, Refusal> {
    let presented = form.get("refresh_token").ok_or_else(|| refuse(106, "refresh_token missing"))?;
    let mut state = ctx.sim.lock();
    let record = match state.refresh_tokens.get(presented) {
        None => return Err(refuse(108, "unknown refresh token")),
        Some(r) if r.revoked => return Err(refuse(108, "refresh token revoked")),
        Some(r) if state::now() >= r.expires_at => {
            return Err(refuse(108, "refresh token expired"));
        }
        Some(r) => r.clone(),
    };
    let Some(home) = state.companies.get(&record.company).map(|c| c.spec.datacenter.clone()) else {
        return Err(refuse(108, "the refresh token's company no longer exists"));
    };
    if home != *ctx.datacenter {
        return Err(Refusal {
            code: 16,
            reason: format!("company lives in datacenter `{home}`, this is `{}`", ctx.datacenter),
            geolocation: Some(state.geolocation(&home)),
        });
    }
    let scopes = granted_scopes(&state.app.scopes, form.get("scope"))?;
    let rotate = state.rotate_next_refresh.remove(&record.company) || state.app.rotate_refresh_tokens;
    let (refresh, refresh_expires) = if rotate {
        if let Some(old) = state.refresh_tokens.get_mut(presented) {
            old.revoked = true;
        }
        state.issue_refresh_token(&record.company)
    } else {
        (presented.clone(), record.expires_at)
    };
    let access = state.issue_access_token(Principal::Company(record.company.clone()), &home, scopes.clone());
    Ok(company_token_body(&state, &record.company, &home, access, refresh, refresh_expires, &scopes))
}

fn client_credentials_grant(ctx: &Ctx, form: &HashMap<String, String>) -> Result<Value, Refusal> {
    let mut state = ctx.sim.lock();
    let home = state.app.datacenter.clone();
    if home != *ctx.datacenter {
        return Err(Refusal {
            code: 16,
            reason: format!("the application lives in datacenter `{home}`, this is `{}`", ctx.datacenter),
            geolocation: Some(state.geolocation(&home)),
        });
    }
    let scopes = granted_scopes(&state.app.scopes, form.get("scope"))?;
    let access = state.issue_access_token(Principal::App, &home, scopes.clone());
    Ok(json!({
        // A string, as the company grant documents it.
        "expires_in": state::ACCESS_TOKEN_SECONDS.to_string(),
        "scope": scopes.join(" "),
        "token_type": "Bearer",
        "access_token": access,
        "geolocation": state.geolocation(&home),
    }))
}

fn company_token_body(
    state: &state::State,
    company: &str,
    home: &str,
    access: String,
    refresh: String,
    refresh_expires: i64,
    scopes: &[String],
) -> Value {
    json!({
        // Documented quirk: a string, not a number.
        "expires_in": state::ACCESS_TOKEN_SECONDS.to_string(),
        "scope": scopes.join(" "),
        "token_type": "Bearer",
        "access_token": access,
        "refresh_token": refresh,
        // Absolute expiry in epoch seconds, not a duration.
        "refresh_expires_in": refresh_expires,
        "id_token": state.id_token(company, home),
        "geolocation": state.geolocation(home),
    })
}
