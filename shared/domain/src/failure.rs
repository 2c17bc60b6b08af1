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

/// What kind of trouble stopped a document or holds a connection, as an
/// operator triages it: each class has its own fix. The same classes name
/// the `Reason` of the `DocumentsFailed` metric (docs/metrics.md), group the
/// failures of `connector status ID` and of the failure digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The mapping or settings cannot turn the document into ERP documents.
    Mapping,
    /// The ERP refused the document as sent.
    ErpRefusal,
    /// The ERP gave no usable answer through every retry.
    ErpUnavailable,
    /// Concur refused a fetch, an acknowledgement or a confirmation.
    ConcurRefusal,
    /// The connection's Concur grant or its ERP credentials were refused.
    Auth,
    Other,
}

impl FailureClass {
    pub const ALL: [FailureClass; 6] = [
        FailureClass::Mapping,
        FailureClass::ErpRefusal,
        FailureClass::ErpUnavailable,
        FailureClass::ConcurRefusal,
        FailureClass::Auth,
        FailureClass::Other,
    ];

    /// The class of a document stopped at `step` (the ledger's `failed_step`).
    pub fn of_failed_step(step: &str) -> Self {
        match step {
            "normalize" | "map" => FailureClass::Mapping,
            "post" | "erp" | "purchase orders" => FailureClass::ErpRefusal,
            // An asynchronous ERP (Infor through ION) gave no verdict after every resend.
            "verdict" => FailureClass::ErpUnavailable,
            "fetch" | "acknowledge" | "confirm" => FailureClass::ConcurRefusal,
            _ => FailureClass::Other,
        }
    }

    /// The value of the metrics' `Reason` dimension and of `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Mapping => "mapping",
            FailureClass::ErpRefusal => "erp_refusal",
            FailureClass::ErpUnavailable => "erp_unavailable",
            FailureClass::ConcurRefusal => "concur_refusal",
            FailureClass::Auth => "auth",
            FailureClass::Other => "other",
        }
    }

    /// In words, for a person.
    pub fn title(self) -> &'static str {
        match self {
            FailureClass::Mapping => "mapping",
            FailureClass::ErpRefusal => "ERP refusal",
            FailureClass::ErpUnavailable => "ERP unavailable",
            FailureClass::ConcurRefusal => "Concur refusal",
            FailureClass::Auth => "credentials refused",
            FailureClass::Other => "other",
        }
    }

    /// What fixes it for `connection`, ending with the command that brings
    /// its documents home (docs/runbook.md has the longer story).
    pub fn fix(self, connection: &str) -> String {
        let replay = format!("then `connector documents replay {connection} --failed`");
        match self {
            FailureClass::Mapping => format!(
                "add the missing codes to the mapping (`connector mapping export {connection}`, edit, \
                 `connector mapping import {connection} FILE`, `connector mapping check {connection}`), {replay}"
            ),
            FailureClass::ErpRefusal => format!(
                "read each reason (`connector documents history {connection} TYPE ID`), correct the data in the \
                 ERP or in Concur, {replay}"
            ),
            FailureClass::ErpUnavailable => format!(
                "documents wait and resume on their own once the ERP answers; check it with \
                 `connector connections test {connection}`; a stopped document: {replay}"
            ),
            FailureClass::ConcurRefusal => format!(
                "read each reason (`connector documents history {connection} TYPE ID`); once Concur takes the \
                 document again (it is in the right state, the app has the scope), {replay}"
            ),
            FailureClass::Auth => format!(
                "a Concur grant: the company's admin clicks Connect again in the Concur App Center; ERP \
                 credentials: `connector connections update {connection} --erp-credentials-file FILE`. Waiting \
                 documents resume on their own; a stopped document: {replay}"
            ),
            FailureClass::Other => {
                format!("read the reason (`connector documents history {connection} TYPE ID`) and the logs, {replay}")
            }
        }
    }
}

impl std::fmt::Display for FailureClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod class_tests {
    use super::FailureClass;

    #[test]
    fn each_step_a_document_stops_at_has_its_class() {
        for (step, class) in [
            ("normalize", "mapping"),
            ("map", "mapping"),
            ("post", "erp_refusal"),
            ("erp", "erp_refusal"),
            ("purchase orders", "erp_refusal"),
            ("verdict", "erp_unavailable"),
            ("fetch", "concur_refusal"),
            ("acknowledge", "concur_refusal"),
            ("confirm", "concur_refusal"),
            ("received", "other"),
        ] {
            assert_eq!(FailureClass::of_failed_step(step).as_str(), class, "{step}");
        }
    }

    #[test]
    fn every_fix_ends_with_the_replay_of_the_connection() {
        for class in FailureClass::ALL {
            let fix = class.fix("acme");
            assert!(fix.ends_with("`connector documents replay acme --failed`"), "{class}: {fix}");
        }
    }
}
