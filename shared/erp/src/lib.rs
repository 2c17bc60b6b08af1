//! The ERP side as one trait. Each ERP (Acumatica, IFS Cloud, Infor ION) is
//! a module implementing [`ErpAdapter`]; erp-poster and the operator CLI
//! only ever see the trait, built by [`adapter_for`] from a connection's
//! settings, so adding an ERP is one module and its arm there.
//!
//! - [`credentials`]: which keys each ERP's credentials secret holds (checked
//!   by the operator CLI before it stores a credentials file).
//! - [`acumatica`]: OAuth sign-in with a cached token, a cheap read, and
//!   exactly-once creation of Bills and JournalTransactions.
//! - [`ifs`]: IFS Cloud supplier invoices and GL vouchers over OData.
//! - [`infor`]: Infor ION BODs, whose outcomes arrive later.

pub mod acumatica;
mod adapter;
pub mod credentials;
pub mod ifs;
pub mod infor;
mod odata;
mod problem;
mod vendor_write;

pub use adapter::{
    BoxError, BoxFuture, Erp, ErpAdapter, ErpChecks, ErpProblem, ListItemsRead, MasterData, MasterDataError,
    MasterDataRead, StoredCredentials, VendorWritten, adapter_for, checks_of,
};
pub use problem::DocumentProblem;

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
