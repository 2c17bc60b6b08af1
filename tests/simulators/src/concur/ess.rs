//! Event Subscription Service management API (events.md §2–§3), application
//! token only.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State, rejection::PathRejection},
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::Ctx;
use super::http::{Answer, Rejection, forbidden, is_json, service_error, unauthorized};
use super::state::{Principal, State as SimState, Subscription};

/// An application token with `events.topic.read`, valid at this datacenter.
fn app_caller(ctx: &Ctx, headers: &HeaderMap) -> Result<(), Rejection> {
    let caller = ctx.sim.lock().authenticate(&ctx.datacenter, headers).map_err(|e| unauthorized(&e))?;
    if caller.principal != Principal::App {
        return Err(
            forbidden("The Event Subscription Service requires an application (client_credentials) token").into()
        );
    }
    if !caller.has_scope("events.topic.read") {
        return Err(forbidden("access denied: scope events.topic.read is required").into());
    }
    Ok(())
}

fn subscription_json(state: &SimState, subscription: &Subscription) -> Value {
    json!({
        "id": subscription.id,
        "topic": subscription.topic,
        "filter": subscription.filter,
        "webHookConfig": {"endpoint": subscription.endpoint},
        "applicationId": subscription.application_id,
        "scope": "",
        "groups": [],
        "companyIds": state.connected.iter().collect::<Vec<_>>(),
    })
}

pub(crate) async fn topics(State(ctx): State<Ctx>, headers: HeaderMap) -> Answer {
    app_caller(&ctx, &headers)?;
    let topics = ctx.sim.lock().allowed_topics();
    Ok((StatusCode::OK, Json(topics)).into_response())
}

pub(crate) async fn list(State(ctx): State<Ctx>, headers: HeaderMap) -> Answer {
    app_caller(&ctx, &headers)?;
    let state = ctx.sim.lock();
    let own: Vec<Value> = state
        .subscriptions
        .values()
        .filter(|s| s.application_id == state.app.application_id)
        .map(|s| subscription_json(&state, s))
        .collect();
    Ok((StatusCode::OK, Json(own)).into_response())
}

fn id_of(path: Result<Path<String>, PathRejection>, uri: &Uri) -> Result<String, Rejection> {
    path.map(|Path(id)| id)
        .map_err(|_| service_error(StatusCode::BAD_REQUEST, "Invalid subscription id", Some(uri.path()), None).into())
}

fn not_found(id: &str, uri: &Uri) -> Response {
    service_error(StatusCode::NOT_FOUND, &format!("Subscription '{id}' not found"), Some(uri.path()), None)
}

fn read_one(ctx: &Ctx, id: &str, uri: &Uri) -> Response {
    let state = ctx.sim.lock();
    match state.subscriptions.get(id).filter(|s| s.application_id == state.app.application_id) {
        // The documented example answers a one-element array.
        Some(subscription) => (StatusCode::OK, Json(vec![subscription_json(&state, subscription)])).into_response(),
        None => not_found(id, uri),
    }
}

fn delete_one(ctx: &Ctx, id: &str, uri: &Uri) -> Response {
    let mut state = ctx.sim.lock();
    let owner = state.app.application_id.clone();
    if state.subscriptions.get(id).is_none_or(|s| s.application_id != owner) {
        return not_found(id, uri);
    }
    state.subscriptions.remove(id);
    let message = format!("Subscription '{id}' marked for deletion");
    (StatusCode::OK, Json(json!({"message": message}))).into_response()
}

pub(crate) async fn get_one(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Answer {
    app_caller(&ctx, &headers)?;
    let id = id_of(path, &uri)?;
    Ok(read_one(&ctx, &id, &uri))
}

pub(crate) async fn delete(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Answer {
    app_caller(&ctx, &headers)?;
    let id = id_of(path, &uri)?;
    Ok(delete_one(&ctx, &id, &uri))
}

/// `GET /events/v4/subscriptions/webhook` reads a subscription named "webhook"
/// (the static PUT route shadows the `{id}` route for that one name).
pub(crate) async fn get_named_webhook(State(ctx): State<Ctx>, uri: Uri, headers: HeaderMap) -> Answer {
    app_caller(&ctx, &headers)?;
    Ok(read_one(&ctx, "webhook", &uri))
}

/// `DELETE /events/v4/subscriptions/webhook`, see [`get_named_webhook`].
pub(crate) async fn delete_named_webhook(State(ctx): State<Ctx>, uri: Uri, headers: HeaderMap) -> Answer {
    app_caller(&ctx, &headers)?;
    Ok(delete_one(&ctx, "webhook", &uri))
}

/// Ids are lower-case letters, digits, `.` and `-`.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

/// HTTPS, or plain HTTP to the loopback address so tests can receive events locally.
fn valid_endpoint(endpoint: &str) -> bool {
    match url::Url::parse(endpoint) {
        Ok(url) => match url.scheme() {
            "https" => url.host_str().is_some(),
            "http" => matches!(url.host_str(), Some("127.0.0.1")),
            _ => false,
        },
        Err(_) => false,
    }
}

fn string_field<'a>(body: &'a Value, field: &str) -> Result<Option<&'a str>, String> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{field} must be a string")),
    }
}

pub(crate) async fn put_webhook(State(ctx): State<Ctx>, uri: Uri, headers: HeaderMap, body: Bytes) -> Answer {
    app_caller(&ctx, &headers)?;
    Ok(save_webhook(&ctx, &uri, &headers, &body))
}

/// Validates and creates or updates the caller's subscription.
fn save_webhook(ctx: &Ctx, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Response {
    let path = uri.path();
    let bad = |message: &str| service_error(StatusCode::BAD_REQUEST, message, Some(path), None);
    if !is_json(headers) {
        return service_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
            Some(path),
            None,
        );
    }
    let request: Value = match serde_json::from_slice(body) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) => return bad("Request body must be a JSON object"),
        Err(e) => return bad(&format!("Malformed JSON request: {e}")),
    };
    let fields = (|| {
        let id = string_field(&request, "id")?.ok_or("id is required")?;
        let topic = string_field(&request, "topic")?.ok_or("topic is required")?;
        let filter = string_field(&request, "filter")?.unwrap_or(".*");
        let config = match request.get("webHookConfig") {
            Some(config @ Value::Object(_)) => config,
            _ => return Err("webHookConfig is required and must be an object".to_owned()),
        };
        let endpoint = string_field(config, "endpoint")?.ok_or("webHookConfig.endpoint is required")?;
        Ok::<_, String>((id, topic, filter, endpoint))
    })();
    let (id, topic, filter, endpoint) = match fields {
        Ok(fields) => fields,
        Err(message) => return bad(&message),
    };
    if !valid_id(id) {
        return bad(&format!("Subscription id '{id}' may contain only lower-case letters, digits, '.' and '-'"));
    }
    if filter.is_empty() {
        return bad("filter must be a regular expression, e.g. .*");
    }
    if !valid_endpoint(endpoint) {
        return bad(&format!("webHookConfig.endpoint '{endpoint}' must be an https URL"));
    }
    let mut state = ctx.sim.lock();
    if !state.allowed_topics().contains(&topic) {
        return forbidden(&format!("The application is not allowed to subscribe to topic '{topic}'"));
    }
    let owner = state.app.application_id.clone();
    if state.subscriptions.get(id).is_some_and(|s| s.application_id != owner) {
        return service_error(
            StatusCode::CONFLICT,
            &format!("Subscription id '{id}' is already in use"),
            Some(path),
            None,
        );
    }
    state.subscriptions.insert(
        id.to_owned(),
        Subscription {
            id: id.to_owned(),
            topic: topic.to_owned(),
            filter: filter.to_owned(),
            endpoint: endpoint.to_owned(),
            application_id: owner,
        },
    );
    let message = format!("Subscription '{id}' saved successfully");
    (StatusCode::OK, Json(json!({"message": message}))).into_response()
}
