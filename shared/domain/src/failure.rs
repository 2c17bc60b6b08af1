//! The failure taxonomy every step reports in, so the poster can decide
//! uniformly: retry later, stop the document, or ask a human to reconnect.

use std::time::Duration;

/// What to do about a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// Transient (429, 5xx, timeout): try again later; `after` is the server's
    /// hint (Retry-After) when it gave one.
    Retryable { after: Option<Duration> },
    /// Will fail the same way again until someone changes data or mapping
    /// (unmappable account, unbalanced document, ERP 422).
    Permanent,
    /// The stored credentials no longer work (Concur `invalid_grant`, ERP
    /// refresh refused): the connection needs a reconnect by an admin.
    NeedsReauth,
    /// Not the document's fault and nothing for the queue to retry: it waits
    /// in the ledger (a dead grant, a connection that cannot take it now, a
    /// person in Concur) and the ledger's sweeper brings it back.
    Parked,
}

/// A failure with a reason written for the operator: what went wrong, for
/// which tenant/document, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Failure {
    pub kind: FailureKind,
    pub reason: String,
}

impl Failure {
    pub fn retryable(reason: impl Into<String>, after: Option<Duration>) -> Self {
        Self { kind: FailureKind::Retryable { after }, reason: reason.into() }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self { kind: FailureKind::Permanent, reason: reason.into() }
    }

    pub fn needs_reauth(reason: impl Into<String>) -> Self {
        Self { kind: FailureKind::NeedsReauth, reason: reason.into() }
    }

    pub fn parked(reason: impl Into<String>) -> Self {
        Self { kind: FailureKind::Parked, reason: reason.into() }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, FailureKind::Retryable { .. })
    }
}
