//! What the transport's test binaries share: a fault layer whose answers are plain text.

use axum::{http::StatusCode, response::IntoResponse};
use simulators::faults::{FaultKind, FaultResponses, FaultSpec};

pub struct PlainFaults;

impl FaultResponses for PlainFaults {
    fn too_many_requests(&self, _: Option<u64>) -> axum::response::Response {
        (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response()
    }
    fn server_error(&self, status: StatusCode) -> axum::response::Response {
        (status, "boom").into_response()
    }
    fn expired_token(&self) -> axum::response::Response {
        (StatusCode::UNAUTHORIZED, "expired").into_response()
    }
}

/// `fault` on the next call only.
pub fn once(fault: FaultKind) -> FaultSpec {
    FaultSpec { fault, count: Some(1), fraction: None, path_prefix: None, method: None }
}
