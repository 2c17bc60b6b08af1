//! What became of each document, as metrics (docs/metrics.md): counted when
//! the ledger records it, per connection, ERP and document type, plus the
//! fleet total; and how long a document's steps took, per ERP.

use std::time::Duration;

use domain::{DocumentType, ErpKind, FailureClass};
use platform::telemetry::{Metric, Unit, emit};

const DOCUMENT_SETS: &[&[&str]] = &[&["ConnectionId", "Erp", "DocumentType"], &[]];
const FAILED_SETS: &[&[&str]] =
    &[&["ConnectionId", "Erp", "DocumentType"], &[], &["ConnectionId", "Reason"], &["Reason"]];

/// What a document's metrics carry as dimensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DocumentLabels<'a> {
    pub connection: &'a str,
    pub erp: ErpKind,
    pub doc_type: DocumentType,
}

/// The metric names of what becomes of a document.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Became {
    Received,
    Posted,
    Confirmed,
    DuplicatePrevented,
}

impl Became {
    fn name(self) -> &'static str {
        match self {
            Became::Received => "DocumentsReceived",
            Became::Posted => "DocumentsPosted",
            Became::Confirmed => "DocumentsConfirmed",
            Became::DuplicatePrevented => "DuplicatesPrevented",
        }
    }
}

impl DocumentLabels<'_> {
    pub fn count(&self, became: Became) {
        let dimensions = self.dimensions();
        emit(&Metric {
            name: became.name(),
            unit: Unit::Count,
            value: 1.0,
            dimensions: &dimensions,
            sets: DOCUMENT_SETS,
        });
    }

    /// The document stopped at `step` (the ledger's `failed_step`).
    pub fn failed(&self, step: &str) {
        let [connection, erp, doc_type] = self.dimensions();
        let dimensions = [connection, erp, doc_type, ("Reason", FailureClass::of_failed_step(step).as_str())];
        emit(&Metric {
            name: "DocumentsFailed",
            unit: Unit::Count,
            value: 1.0,
            dimensions: &dimensions,
            sets: FAILED_SETS,
        });
    }

    /// How long one step (`fetch`, `post`, `confirm`) of one document took.
    pub fn step_latency(&self, step: &'static str, took: Duration) {
        emit(&Metric {
            name: "StepLatency",
            unit: Unit::Milliseconds,
            value: took.as_secs_f64() * 1e3,
            dimensions: &[("Erp", erp_label(self.erp)), ("Step", step)],
            sets: &[&["Erp", "Step"]],
        });
    }

    fn dimensions(&self) -> [(&'static str, &str); 3] {
        [("ConnectionId", self.connection), ("Erp", erp_label(self.erp)), ("DocumentType", self.doc_type.as_str())]
    }
}

/// The ERP as the metrics name it.
fn erp_label(kind: ErpKind) -> &'static str {
    match kind {
        ErpKind::Acumatica => "acumatica",
        ErpKind::IfsCloud => "ifs",
        ErpKind::Infor => "infor",
    }
}
