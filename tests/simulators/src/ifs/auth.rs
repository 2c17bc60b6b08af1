//! IFS IAM (Keycloak) token endpoint and bearer checks (§2).
//!
//! `POST /auth/realms/{namespace}/protocol/openid-connect/token`, form body;
//! client authentication by `client_id`/`client_secret` form fields or HTTP
//! Basic. Grants: `client_credentials` (service account enabled),
//! `password` (direct access grants enabled; a user of the realm) and
//! `refresh_token`. The scope of the first two must contain `openid`.
//! Tokens are JWT-shaped (`eyJ…`), opaque to the simulator: it looks them up.
//!
//! Helpers return `Result<_, Response>` whose error is the HTTP answer itself.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::Instant;

use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use uuid::Uuid;

use super::IfsSim;
use super::errors::{self, keycloak};
use super::state::{AccessToken, Ifs, RefreshToken};
use super::wire::{has_media_type, read_body};

/// Scopes the realm knows (Keycloak default client scopes plus `microprofile-jwt`).
const KNOWN_SCOPES: [&str; 10] = [
    "openid",
    "microprofile-jwt",
    "audience",
    "email",
    "profile",
    "roles",
    "web-origins",
    "offline_access",
    "address",
    "phone",
];

fn invalid_client() -> Response {
    keycloak(StatusCode::UNAUTHORIZED, "invalid_client", "Invalid client credentials")
}

fn invalid_request(description: &str) -> Response {
    keycloak(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn host(headers: &HeaderMap) -> String {
    headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost").to_owned()
}

/// `GET /auth/realms/{namespace}/.well-known/openid-configuration`.
pub(crate) async fn discovery(State(sim): State<IfsSim>, Path(realm): Path<String>, headers: HeaderMap) -> Response {
    if !sim.lock().realms.contains(&realm) {
        return keycloak(StatusCode::NOT_FOUND, "Realm does not exist", "Realm does not exist");
    }
    let issuer = format!("http://{}/auth/realms/{realm}", host(&headers));
    Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/protocol/openid-connect/token"),
        "authorization_endpoint": format!("{issuer}/protocol/openid-connect/auth"),
        "grant_types_supported": ["authorization_code", "client_credentials", "password", "refresh_token"],
        "scopes_supported": KNOWN_SCOPES,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
    .into_response()
}

/// `client_id`/`client_secret` from HTTP Basic, else from the form.
fn client_credentials(headers: &HeaderMap, params: &HashMap<String, String>) -> Option<(String, String)> {
    if let Some(basic) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = STANDARD.decode(basic.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        let decode =
            |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        return Some((decode(id)?, decode(secret)?));
    }
    Some((params.get("client_id")?.clone(), params.get("client_secret")?.clone()))
}

/// `POST /auth/realms/{namespace}/protocol/openid-connect/token`.
pub(crate) async fn token(
    State(sim): State<IfsSim>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let mut ifs = sim.lock();
    ifs.token_calls += 1;
    if !ifs.realms.contains(&realm) {
        return keycloak(StatusCode::NOT_FOUND, "Realm does not exist", "Realm does not exist");
    }
    if !has_media_type(&headers, header::CONTENT_TYPE, "application/x-www-form-urlencoded") {
        return invalid_request("Content-Type must be application/x-www-form-urlencoded");
    }
    let mut params: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        if params.insert(k.to_string(), v.into_owned()).is_some() {
            return invalid_request(&format!("duplicated parameter: {k}"));
        }
    }
    let Some(grant) = params.get("grant_type").cloned() else {
        return invalid_request("Missing form parameter: grant_type");
    };
    let Some((client_id, secret)) = client_credentials(&headers, &params) else { return invalid_client() };
    let Some(client) = ifs.clients.iter().find(|c| c.realm == realm && c.client_id == client_id).cloned() else {
        return invalid_client();
    };
    if client.secret != secret {
        return invalid_client();
    }
    let host = host(&headers);
    match grant.as_str() {
        "client_credentials" => {
            if !client.service_accounts {
                return keycloak(
                    StatusCode::BAD_REQUEST,
                    "unauthorized_client",
                    "Client not enabled to retrieve service account",
                );
            }
            let scope = match check_scope(params.get("scope")) {
                Ok(s) => s,
                Err(response) => return response,
            };
            let subject = format!("service-account-{}", client.client_id.to_lowercase());
            issue(&mut ifs, &host, &realm, &client.client_id, None, &subject, client.companies.clone(), &scope)
        }
        "password" => {
            if !client.direct_access {
                return keycloak(
                    StatusCode::BAD_REQUEST,
                    "unauthorized_client",
                    "Client not allowed for direct access grants",
                );
            }
            let (Some(username), Some(password)) = (params.get("username"), params.get("password")) else {
                return invalid_request("Missing parameter: username");
            };
            let Some(user) = ifs
                .users
                .iter()
                .find(|u| u.realm == realm && u.username.eq_ignore_ascii_case(username) && &u.password == password)
                .cloned()
            else {
                return keycloak(StatusCode::UNAUTHORIZED, "invalid_grant", "Invalid user credentials");
            };
            let scope = match check_scope(params.get("scope")) {
                Ok(s) => s,
                Err(response) => return response,
            };
            let companies = user.companies.clone();
            issue(&mut ifs, &host, &realm, &client.client_id, Some(&user.username), &user.username, companies, &scope)
        }
        "refresh_token" => {
            let Some(presented) = params.get("refresh_token") else {
                return invalid_request("Missing parameter: refresh_token");
            };
            let now = Instant::now();
            let Some(stored) = ifs.refresh_tokens.get(presented).cloned() else {
                return keycloak(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid refresh token");
            };
            if stored.realm != realm || stored.client_id != client.client_id {
                return keycloak(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid refresh token. Token client and authorized client don't match",
                );
            }
            if stored.expires_at <= now {
                return keycloak(StatusCode::BAD_REQUEST, "invalid_grant", "Token is not active");
            }
            let (subject, companies) = match &stored.user {
                None => (format!("service-account-{}", client.client_id.to_lowercase()), client.companies.clone()),
                Some(name) => {
                    let Some(user) = ifs.users.iter().find(|u| u.realm == realm && &u.username == name) else {
                        return keycloak(StatusCode::BAD_REQUEST, "invalid_grant", "User not found");
                    };
                    (name.clone(), user.companies.clone())
                }
            };
            ifs.refresh_tokens.remove(presented);
            let user = stored.user.clone();
            issue(&mut ifs, &host, &realm, &client.client_id, user.as_deref(), &subject, companies, &stored.scope)
        }
        _ => keycloak(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Unsupported grant_type"),
    }
}

/// The granted scope: the requested one (must include `openid`) plus the
/// realm's default client scopes.
fn check_scope(requested: Option<&String>) -> Result<String, Response> {
    let requested: Vec<&str> = requested.map(|s| s.split_whitespace().collect()).unwrap_or_default();
    let bad =
        || keycloak(StatusCode::BAD_REQUEST, "invalid_scope", &format!("Invalid scopes: {}", requested.join(" ")));
    if !requested.contains(&"openid") || requested.iter().any(|s| !KNOWN_SCOPES.contains(s)) {
        return Err(bad());
    }
    let mut granted: Vec<&str> = requested.clone();
    for default in ["audience", "email", "profile"] {
        if !granted.contains(&default) {
            granted.push(default);
        }
    }
    Ok(granted.join(" "))
}

fn jwt(claims: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT","kid":"ifs-sim"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    format!("{header}.{payload}.{signature}")
}

#[allow(clippy::too_many_arguments)]
fn issue(
    ifs: &mut Ifs,
    host: &str,
    realm: &str,
    client_id: &str,
    user: Option<&str>,
    subject: &str,
    companies: Vec<String>,
    scope: &str,
) -> Response {
    let now = Instant::now();
    let iat = time::OffsetDateTime::now_utc().unix_timestamp();
    let lifetime = ifs.token_lifetime.as_secs();
    let issuer = format!("http://{host}/auth/realms/{realm}");
    let session = Uuid::new_v4().to_string();
    let claims = |typ: &str, exp: u64| {
        json!({
            "exp": iat + exp as i64, "iat": iat, "jti": Uuid::new_v4().to_string(), "iss": issuer,
            "aud": "account", "sub": subject, "typ": typ, "azp": client_id, "session_state": session,
            "scope": scope, "preferred_username": subject,
        })
    };
    let access = jwt(claims("Bearer", lifetime));
    let refresh = jwt(claims("Refresh", ifs.refresh_lifetime.as_secs()));
    let id_token = jwt(claims("ID", lifetime));
    ifs.access_tokens.insert(
        access.clone(),
        AccessToken { client_id: client_id.to_owned(), companies, expires_at: now + ifs.token_lifetime },
    );
    ifs.refresh_tokens.insert(
        refresh.clone(),
        RefreshToken {
            realm: realm.to_owned(),
            client_id: client_id.to_owned(),
            user: user.map(str::to_owned),
            scope: scope.to_owned(),
            expires_at: now + ifs.refresh_lifetime,
        },
    );
    let mut response = Json(json!({
        "access_token": access,
        "expires_in": lifetime,
        "refresh_expires_in": ifs.refresh_lifetime.as_secs(),
        "refresh_token": refresh,
        "token_type": "Bearer",
        "id_token": id_token,
        "not-before-policy": 0,
        "session_state": session,
        "scope": scope,
    }))
    .into_response();
    errors::no_store(&mut response);
    response
}

/// Resolves the bearer token of a projection call; 401 if missing, unknown or expired.
pub(crate) fn authenticate(ifs: &Ifs, headers: &HeaderMap, now: Instant) -> Result<AccessToken, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(errors::unauthorized)?;
    match ifs.access_tokens.get(token) {
        Some(stored) if stored.expires_at > now => Ok(stored.clone()),
        _ => Err(errors::unauthorized()),
    }
}
