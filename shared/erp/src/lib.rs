//! The ERP side as one trait. Each ERP (Acumatica now; IFS Cloud and Infor
//! next) is a module implementing [`ErpAdapter`]; the poster and the
//! reference sync only ever see the trait, so adding an ERP is one module.
//!
//! - [`credentials`]: which keys each ERP's credentials secret holds (checked
//!   by the operator CLI before it stores a credentials file).
//! - [`acumatica`]: OAuth sign-in with a cached token, a cheap read, and
//!   exactly-once creation of Bills and JournalTransactions.

pub mod acumatica;
pub mod credentials;
pub mod ifs;
pub mod infor;
mod problem;

pub use problem::DocumentProblem;

use domain::{ErpDocument, Failure};

/// An ERP document created for a Concur document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErpReference {
    /// What the ERP calls it: for Acumatica the entity and its key values as
    /// in its URL (`Bill/Bill/000187`, `JournalTransaction/GL/000042`).
    pub reference: String,
    /// Other ERP documents found with the same Concur key (made by someone
    /// or something else): never used, reported so a person can look.
    pub duplicates: Vec<String>,
}

impl ErpReference {
    pub fn new(reference: impl Into<String>) -> Self {
        Self { reference: reference.into(), duplicates: Vec::new() }
    }
}

/// What every ERP adapter offers the pipeline.
///
/// `find_by_external_key` comes before every create: it is the exactly-once
/// layer that covers a crash after the ERP accepted a document but before
/// the ledger recorded it.
pub trait ErpAdapter {
    /// A cheap authenticated read that proves credentials and URL work.
    fn check(&self) -> impl std::future::Future<Output = Result<(), Failure>> + Send;

    /// The ERP document already created for this Concur key, if any.
    fn find_by_external_key(
        &self,
        external_key: &str,
    ) -> impl std::future::Future<Output = Result<Option<ErpReference>, Failure>> + Send;

    /// Creates `document` unless the ERP already holds it under its key
    /// (looked up first, and again after any answer that leaves the outcome
    /// unknown); either way returns its reference. Errors are classified:
    /// retryable (throttling, outages), permanent (the ERP refused the
    /// document: the reason names the field), or needs-reauth.
    fn post(&self, document: &ErpDocument) -> impl std::future::Future<Output = Result<ErpReference, Failure>> + Send;
}
