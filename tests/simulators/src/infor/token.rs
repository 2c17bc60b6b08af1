//! The authorization server (`pu` = `{base}/{ti}/as/`): `token.oauth2`
//! (password and refresh_token grants) and `revoke_token.oauth2` (reference §2).

use std::collections::HashMap;
use std::time::Instant;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine;
use serde_json::json;

use super::InforSim;
use super::errors::{self, no_store, oauth_error};
use super::state::{AccessToken, RefreshToken, TokenCall};

/// A random opaque token (the real ones are JWTs; clients must treat them as opaque).
pub(crate) fn new_secret(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// `/{ti}/as/{endpoint}`.
pub(crate) async fn handle(
    State(sim): State<InforSim>,
    Path((ti, endpoint)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match endpoint.as_str() {
        "token.oauth2" | "revoke_token.oauth2" if method != Method::POST => {
            errors::method_not_allowed(method.as_str(), &format!("/{ti}/as/{endpoint}"))
        }
        "token.oauth2" => token(&sim, &ti, &headers, &body),
        "revoke_token.oauth2" => revoke(&sim, &ti, &headers, &body),
        _ => errors::not_found(&format!("/{ti}/as/{endpoint}")),
    }
}

/// The form fields (first occurrence wins) or an `invalid_request` refusal.
fn read_form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, (&'static str, String)> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(("invalid_request", "Content-Type must be application/x-www-form-urlencoded".into()));
    }
    let mut fields = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        if fields.insert(key.clone().into_owned(), value.into_owned()).is_some() {
            return Err(("invalid_request", format!("Parameter {key} is included more than once")));
        }
    }
    Ok(fields)
}

/// Client id and secret from HTTP Basic or the body (not both), RFC 6749 §2.3.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(String, String), (&'static str, String)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .map(str::trim);
    if let Some(encoded) = basic {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(("invalid_client", "Malformed HTTP Basic authorization header".to_owned()))?;
        let (id, secret) =
            decoded.split_once(':').ok_or(("invalid_client", "Malformed HTTP Basic credentials".to_owned()))?;
        // Basic values are form-encoded before base64 (RFC 6749 §2.3.1).
        let id = decode_basic_part(id);
        let secret = decode_basic_part(secret);
        if form.contains_key("client_secret") {
            return Err(("invalid_request", "Multiple client authentication methods were used".into()));
        }
        if form.get("client_id").is_some_and(|body_id| *body_id != id) {
            return Err(("invalid_client", "client_id in the body does not match the HTTP Basic client".into()));
        }
        return Ok((id, secret));
    }
    match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
        (Some(_), None) => Err(("invalid_client", "client_secret is required".into())),
        _ => Err(("invalid_client", "Client authentication is required".into())),
    }
}

fn decode_basic_part(part: &str) -> String {
    url::form_urlencoded::parse(format!("x={part}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| part.to_owned())
}

fn token(sim: &InforSim, ti: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let (grant_type, outcome) = run_grant(sim, ti, headers, body);
    let (response, call) = match outcome {
        Ok(body) => {
            let mut response = (StatusCode::OK, Json(body)).into_response();
            no_store(&mut response);
            let call = TokenCall { tenant: ti.to_owned(), grant_type, status: 200, error: None };
            (response, call)
        }
        Err((code, description)) => {
            let response = oauth_error(code, &description);
            let call = TokenCall {
                tenant: ti.to_owned(),
                grant_type,
                status: response.status().as_u16(),
                error: Some(code.to_owned()),
            };
            (response, call)
        }
    };
    sim.lock().token_calls.push(call);
    response
}

type GrantResult = Result<serde_json::Value, (&'static str, String)>;

fn run_grant(sim: &InforSim, ti: &str, headers: &HeaderMap, body: &[u8]) -> (String, GrantResult) {
    let form = match read_form(headers, body) {
        Ok(form) => form,
        Err(e) => return (String::new(), Err(e)),
    };
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    (grant_type.clone(), grant(sim, ti, headers, &form, &grant_type))
}

fn grant(
    sim: &InforSim,
    ti: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    grant_type: &str,
) -> GrantResult {
    let (client_id, client_secret) = client_credentials(headers, form)?;
    let mut state = sim.lock();
    let Some(tenant) = state.tenants.get(ti) else {
        return Err(("invalid_client", format!("Unknown tenant {ti}")));
    };
    if client_id != tenant.client_id || client_secret != tenant.client_secret {
        return Err(("invalid_client", "Invalid client or client credentials".into()));
    }
    let now = Instant::now();
    match grant_type {
        "" => Err(("invalid_request", "grant_type is required".into())),
        "password" => {
            let (Some(username), Some(password)) = (form.get("username"), form.get("password")) else {
                return Err(("invalid_request", "username and password are required".into()));
            };
            let prefix = format!("{ti}#");
            if !username.starts_with(&prefix) {
                return Err(("invalid_grant", format!("The service account access key must start with '{prefix}'")));
            }
            if username.starts_with(&format!("{prefix}{prefix}")) {
                return Err((
                    "invalid_grant",
                    "Unknown service account: the tenant prefix was added twice (send saak as-is)".into(),
                ));
            }
            if *username != tenant.saak || *password != tenant.sask {
                return Err(("invalid_grant", "Invalid service account credentials".into()));
            }
            Ok(issue(&mut state, ti, &client_id, now))
        }
        "refresh_token" => {
            let Some(presented) = form.get("refresh_token") else {
                return Err(("invalid_request", "refresh_token is required".into()));
            };
            let Some(stored) = state.refresh_tokens.get(presented).cloned() else {
                return Err(("invalid_grant", "Refresh token is invalid, expired or already used".into()));
            };
            if stored.tenant != ti || stored.client_id != client_id {
                return Err(("invalid_grant", "Refresh token was issued to another client".into()));
            }
            // Rotation: the presented refresh token is spent.
            state.refresh_tokens.remove(presented);
            Ok(issue(&mut state, ti, &client_id, now))
        }
        other => Err(("unsupported_grant_type", format!("Grant type {other} is not allowed for this client"))),
    }
}

fn issue(state: &mut super::state::State, ti: &str, client_id: &str, now: Instant) -> serde_json::Value {
    let access = new_secret(48);
    state.access_tokens.insert(
        access.clone(),
        AccessToken { tenant: ti.to_owned(), client_id: client_id.to_owned(), expires_at: now + state.token_lifetime },
    );
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": state.token_lifetime.as_secs(),
    });
    if state.issue_refresh_tokens {
        let refresh = new_secret(40);
        state
            .refresh_tokens
            .insert(refresh.clone(), RefreshToken { tenant: ti.to_owned(), client_id: client_id.to_owned() });
        body["refresh_token"] = json!(refresh);
    }
    body
}

/// `revoke_token.oauth2`: RFC 7009 — 200 whether or not the token existed.
fn revoke(sim: &InforSim, ti: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let form = match read_form(headers, body) {
        Ok(form) => form,
        Err((code, description)) => return oauth_error(code, &description),
    };
    let (client_id, client_secret) = match client_credentials(headers, &form) {
        Ok(c) => c,
        Err((code, description)) => return oauth_error(code, &description),
    };
    let mut state = sim.lock();
    let valid_client =
        state.tenants.get(ti).is_some_and(|t| t.client_id == client_id && t.client_secret == client_secret);
    if !valid_client {
        return oauth_error("invalid_client", "Invalid client or client credentials");
    }
    let Some(token) = form.get("token") else {
        return oauth_error("invalid_request", "token is required");
    };
    if state.refresh_tokens.get(token).is_some_and(|r| r.client_id == client_id) {
        state.refresh_tokens.remove(token);
    }
    if state.access_tokens.get(token).is_some_and(|a| a.client_id == client_id) {
        state.access_tokens.remove(token);
    }
    StatusCode::OK.into_response()
}
