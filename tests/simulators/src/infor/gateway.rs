//! What the ION API Gateway does before proxying a call (reference §3):
//! bearer-token check and the per-client rate-limit policy.
//!
//! Helpers return `Result<_, Response>` whose error is the HTTP answer itself.
#![allow(clippy::result_large_err)]

use std::time::{Duration, Instant};

use axum::{
    http::{HeaderMap, header},
    response::Response,
};

use super::InforSim;
use super::errors;

const WINDOW: Duration = Duration::from_secs(60);

/// Checks the bearer token for tenant `ti`, then the rate limit.
pub(crate) fn authorize(sim: &InforSim, ti: &str, headers: &HeaderMap) -> Result<(), Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(bearer) = bearer else {
        return Err(errors::unauthorized("Authorization header with a Bearer access token is required", false));
    };
    let now = Instant::now();
    let mut state = sim.lock();
    let Some(token) = state.access_tokens.get(bearer).cloned() else {
        return Err(errors::unauthorized("The access token is invalid", true));
    };
    if token.expires_at <= now {
        return Err(errors::expired_token());
    }
    if token.tenant != ti {
        return Err(errors::unauthorized(&format!("The access token is not valid for tenant {ti}"), true));
    }
    if let Some(limit) = state.rate_limit_per_minute {
        let calls = state.recent_calls.entry(token.client_id.clone()).or_default();
        while calls.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            calls.pop_front();
        }
        if calls.len() >= limit as usize {
            let oldest = calls.front().copied().unwrap_or(now);
            let wait = WINDOW.saturating_sub(now.duration_since(oldest));
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(errors::too_many_requests(Some(seconds.max(1))));
        }
        calls.push_back(now);
    }
    Ok(())
}
