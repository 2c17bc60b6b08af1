//! Fault injection shared by every simulator.
//!
//! A test (or the demo) tells a simulator, through its control endpoint
//! `POST /_sim/faults`, to misbehave for the next N matching calls or for a
//! fraction of them: answer 429 (with or without `Retry-After`), a 5xx, answer
//! slowly, or answer as if the caller's token had expired. Each simulator
//! renders those answers in its own API's error shape through [`FaultResponses`],
//! so a client sees exactly what the real service would send.
//!
//! Control endpoints (never subject to faults):
//! - `POST   /_sim/faults`   body: [`FaultSpec`] → 201 `{"id": n}`
//! - `GET    /_sim/faults`   → the active rules with their remaining counts
//! - `DELETE /_sim/faults`   → clears all rules
//! - `GET    /_sim/requests` → every request seen (method, path, query, status, fault)
//! - `DELETE /_sim/requests` → clears the request log

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{
    Json, Router,
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::{Deserialize, Serialize};

/// What a fault does to a matching call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// 429; `Retry-After: <seconds>` only when `retry_after_seconds` is set.
    TooManyRequests {
        #[serde(default)]
        retry_after_seconds: Option<u64>,
    },
    /// A 5xx status (500..=599), rendered in the API's error shape.
    ServerError { status: u16 },
    /// Wait this long, then answer normally (a long delay makes a client time out).
    Slow { delay_ms: u64 },
    /// Answer 401 as the API does for an expired access token.
    ExpiredToken,
    /// 200 with a streamed body of `bytes` spaces and no `Content-Length`
    /// (a client must stop reading on its own).
    HugeBody { bytes: u64 },
    /// `status` with this `Location` and an empty body: a redirect (3xx),
    /// or an accepted long-running action whose status URL is `location`.
    Location { status: u16, location: String },
}

/// A rule: which calls it applies to and how often. (serde cannot combine
/// `flatten` with `deny_unknown_fields`; [`FaultSpec::from_json`] refuses
/// unknown keys instead, so a typo never becomes a silent, endless fault.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultSpec {
    #[serde(flatten)]
    pub fault: FaultKind,
    /// Apply to the next `count` matching calls, then retire the rule.
    #[serde(default)]
    pub count: Option<u32>,
    /// Apply to this share of matching calls (0.0..=1.0), spread evenly and
    /// deterministically (every call `n` where `floor(n*f)` steps up), so a
    /// test run is reproducible. Combined with `count`, counts injected calls.
    #[serde(default)]
    pub fraction: Option<f64>,
    /// Only calls whose path starts with this prefix.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Only calls with this HTTP method (e.g. "PUT").
    #[serde(default)]
    pub method: Option<String>,
}

impl FaultSpec {
    const KEYS: [&'static str; 10] = [
        "kind",
        "retry_after_seconds",
        "status",
        "delay_ms",
        "bytes",
        "location",
        "count",
        "fraction",
        "path_prefix",
        "method",
    ];

    /// Parses a rule from the control endpoint's JSON, refusing unknown keys.
    pub fn from_json(body: &[u8]) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let Some(object) = value.as_object() else {
            return Err("a fault rule is a JSON object".into());
        };
        if let Some(unknown) = object.keys().find(|k| !Self::KEYS.contains(&k.as_str())) {
            return Err(format!("unknown field `{unknown}`, expected one of {:?}", Self::KEYS));
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    fn validate(&self) -> Result<(), String> {
        if let FaultKind::ServerError { status } = self.fault
            && !(500..=599).contains(&status)
        {
            return Err(format!("server_error status must be 500..=599, got {status}"));
        }
        if let Some(f) = self.fraction
            && (!(0.0..=1.0).contains(&f) || f.is_nan())
        {
            return Err(format!("fraction must be within 0.0..=1.0, got {f}"));
        }
        if self.count.is_none() && self.fraction.is_none() {
            return Err("give `count` (next N calls) or `fraction` (share of calls), or both".into());
        }
        if let Some(m) = &self.method
            && Method::from_bytes(m.as_bytes()).is_err()
        {
            return Err(format!("`{m}` is not an HTTP method"));
        }
        Ok(())
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        self.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
    }
}

#[derive(Debug, Clone, Serialize)]
struct ActiveRule {
    id: u64,
    spec: FaultSpec,
    /// Matching calls seen so far (drives `fraction`).
    seen: u64,
    /// Calls this rule has faulted so far.
    injected: u64,
}

impl ActiveRule {
    /// Decides for one matching call; true = inject.
    fn fire(&mut self) -> bool {
        let n = self.seen;
        self.seen += 1;
        let by_fraction = match self.spec.fraction {
            None => true,
            Some(f) => ((n + 1) as f64 * f).floor() > (n as f64 * f).floor(),
        };
        if !by_fraction {
            return false;
        }
        if let Some(count) = self.spec.count
            && self.injected >= u64::from(count)
        {
            return false;
        }
        self.injected += 1;
        true
    }

    fn exhausted(&self) -> bool {
        self.spec.count.is_some_and(|c| self.injected >= u64::from(c))
    }
}

/// One request as the simulator saw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// The fault injected into this call, if any.
    pub fault: Option<String>,
}

/// How a simulator renders injected faults in its API's own error shape.
pub trait FaultResponses: Send + Sync + 'static {
    fn too_many_requests(&self, retry_after_seconds: Option<u64>) -> Response;
    fn server_error(&self, status: StatusCode) -> Response;
    fn expired_token(&self) -> Response;
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    rules: Vec<ActiveRule>,
    requests: Vec<SeenRequest>,
}

/// Shared fault state of one simulator instance.
#[derive(Clone)]
pub struct Faults {
    inner: Arc<Mutex<Inner>>,
    responses: Arc<dyn FaultResponses>,
}

impl Faults {
    pub fn new(responses: impl FaultResponses) -> Self {
        Self { inner: Arc::default(), responses: Arc::new(responses) }
    }

    /// Adds a rule (same as `POST /_sim/faults`).
    pub fn inject(&self, spec: FaultSpec) -> Result<u64, String> {
        spec.validate()?;
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.rules.push(ActiveRule { id, spec, seen: 0, injected: 0 });
        Ok(id)
    }

    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// Every request seen so far, oldest first.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panicking handler must not wedge the simulator for the rest of a test run.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The first active rule that fires for this call, if any. Rules are
    /// consulted in insertion order; exhausted rules are dropped.
    fn pick(&self, method: &Method, path: &str) -> Option<FaultKind> {
        let mut inner = self.lock();
        let mut chosen = None;
        for rule in inner.rules.iter_mut() {
            if rule.spec.matches(method, path) && rule.fire() {
                chosen = Some(rule.spec.fault.clone());
                break;
            }
        }
        inner.rules.retain(|r| !r.exhausted());
        chosen
    }

    fn record(&self, seen: SeenRequest) {
        self.lock().requests.push(seen);
    }

    /// Wraps a simulator's API router: adds the control endpoints and the
    /// fault layer (which leaves `/_sim/*` alone).
    pub fn wrap(self, api: Router) -> Router {
        let control = Router::new()
            .route("/_sim/faults", get(list_faults).post(add_fault).delete(clear_faults))
            .route("/_sim/requests", get(list_requests).delete(clear_requests))
            .with_state(self.clone());
        api.layer(middleware::from_fn_with_state(self, fault_layer)).merge(control)
    }
}

fn fault_name(kind: &FaultKind) -> String {
    match kind {
        FaultKind::TooManyRequests { .. } => "429".into(),
        FaultKind::ServerError { status } => status.to_string(),
        FaultKind::Slow { delay_ms } => format!("slow {delay_ms}ms"),
        FaultKind::ExpiredToken => "expired_token".into(),
        FaultKind::HugeBody { bytes } => format!("huge body {bytes} bytes"),
        FaultKind::Location { status, location } => format!("{status} to {location}"),
    }
}

async fn fault_layer(State(faults): State<Faults>, request: Request<Body>, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let fault = faults.pick(&method, &path);
    let response = match &fault {
        None => next.run(request).await,
        Some(FaultKind::Slow { delay_ms }) => {
            tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
            next.run(request).await
        }
        Some(FaultKind::TooManyRequests { retry_after_seconds }) => {
            faults.responses.too_many_requests(*retry_after_seconds)
        }
        Some(FaultKind::ServerError { status }) => {
            faults.responses.server_error(StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        }
        Some(FaultKind::ExpiredToken) => faults.responses.expired_token(),
        Some(FaultKind::HugeBody { bytes }) => huge_body(*bytes),
        Some(FaultKind::Location { status, location }) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::FOUND);
            (status, [(axum::http::header::LOCATION, location.clone())]).into_response()
        }
    };
    faults.record(SeenRequest {
        method: method.to_string(),
        path,
        query,
        status: response.status().as_u16(),
        fault: fault.as_ref().map(fault_name),
    });
    response
}

/// `bytes` spaces in 64 KiB chunks, produced as they are read.
fn huge_body(bytes: u64) -> Response {
    const CHUNK: u64 = 64 * 1024;
    let chunks = futures_stream(bytes, CHUNK);
    Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(chunks))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn futures_stream(
    total: u64,
    chunk: u64,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::convert::Infallible>> + Send {
    let block = axum::body::Bytes::from(vec![b' '; chunk as usize]);
    let mut left = total;
    futures_util::stream::poll_fn(move |_| {
        if left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = left.min(chunk);
        left -= n;
        std::task::Poll::Ready(Some(Ok(block.slice(..n as usize))))
    })
}

async fn add_fault(State(faults): State<Faults>, body: axum::body::Bytes) -> Response {
    let spec = match FaultSpec::from_json(&body) {
        Ok(spec) => spec,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": e}))).into_response(),
    };
    match faults.inject(spec) {
        Ok(id) => (StatusCode::CREATED, Json(serde_json::json!({"id": id}))).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": e}))).into_response(),
    }
}

async fn list_faults(State(faults): State<Faults>) -> Response {
    Json(serde_json::json!({"rules": faults.lock().rules.clone()})).into_response()
}

async fn clear_faults(State(faults): State<Faults>) -> StatusCode {
    faults.clear();
    StatusCode::NO_CONTENT
}

async fn list_requests(State(faults): State<Faults>) -> Response {
    Json(faults.requests()).into_response()
}

async fn clear_requests(State(faults): State<Faults>) -> StatusCode {
    faults.lock().requests.clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(spec: FaultSpec) -> ActiveRule {
        ActiveRule { id: 1, spec, seen: 0, injected: 0 }
    }

    #[test]
    fn count_applies_to_the_next_n_calls_only() {
        let mut r = rule(FaultSpec {
            fault: FaultKind::ExpiredToken,
            count: Some(2),
            fraction: None,
            path_prefix: None,
            method: None,
        });
        let fired: Vec<bool> = (0..4).map(|_| r.fire()).collect();
        assert_eq!(fired, [true, true, false, false]);
        assert!(r.exhausted());
    }

    #[test]
    fn fraction_is_spread_evenly_and_reproducibly() {
        let mut r = rule(FaultSpec {
            fault: FaultKind::ServerError { status: 503 },
            count: None,
            fraction: Some(0.25),
            path_prefix: None,
            method: None,
        });
        let fired: Vec<bool> = (0..8).map(|_| r.fire()).collect();
        assert_eq!(fired.iter().filter(|f| **f).count(), 2);
        assert_eq!(fired, [false, false, false, true, false, false, false, true]);
    }

    #[test]
    fn invalid_specs_are_refused() {
        let bad_status = FaultSpec {
            fault: FaultKind::ServerError { status: 404 },
            count: Some(1),
            fraction: None,
            path_prefix: None,
            method: None,
        };
        assert!(bad_status.validate().is_err());
        let unbounded = FaultSpec {
            fault: FaultKind::Slow { delay_ms: 10 },
            count: None,
            fraction: None,
            path_prefix: None,
            method: None,
        };
        assert!(unbounded.validate().is_err());
    }

    #[test]
    fn spec_parses_from_the_documented_json() {
        let spec = FaultSpec::from_json(
            br#"{"kind":"too_many_requests","retry_after_seconds":2,"count":3,"path_prefix":"/entity"}"#,
        )
        .unwrap();
        assert_eq!(spec.fault, FaultKind::TooManyRequests { retry_after_seconds: Some(2) });
        assert!(spec.matches(&Method::PUT, "/entity/Default/24.200.001/Bill"));
        assert!(!spec.matches(&Method::PUT, "/identity/connect/token"));
        let typo = FaultSpec::from_json(br#"{"kind":"expired_token","cout":1}"#).unwrap_err();
        assert!(typo.contains("unknown field `cout`"), "{typo}");
        let server = FaultSpec::from_json(br#"{"kind":"server_error","status":503,"fraction":0.5}"#).unwrap();
        assert_eq!(server.fault, FaultKind::ServerError { status: 503 });
    }
}
