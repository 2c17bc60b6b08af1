//! The one boundary between callers (erp-poster, the operator CLI) and an
//! ERP: the [`ErpAdapter`] trait (each ERP implements [`Erp`]), and [`adapter_for`], the one place that
//! turns a connection's [`ErpSettings`] and stored credentials into one.
//! Futures are boxed so callers can hold `Arc<dyn ErpAdapter>`, and so the
//! poster's deeply nested async code stays under the compiler's depth limit.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

use domain::reference::{
    ListItemRecord, ListSource, PoReceiptRecord, PurchaseOrderRecord, ReadPage, VendorField, VendorFields,
    VendorLimits, VendorRecord,
};
use domain::{ConnectionId, ErpDocument, ErpSettings, Failure, HeldVendorDocument};
use transport::HttpClient;

use crate::ErpReference;
use crate::acumatica::{AcumaticaClient, AcumaticaCredentials};
use crate::ifs::{IfsClient, IfsCredentials};
use crate::infor::{InforClient, IonApi};

/// The JSON a connection's ERP credentials secret holds, as read; each
/// adapter takes from it what its ERP needs.
pub type StoredCredentials = serde_json::Value;

/// A boxed future, for object-safe traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Any error, kept as the cause of an [`ErpProblem`] or [`MasterDataError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A check of the ERP that failed, and what the operator should do about it.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct ErpProblem {
    #[source]
    source: BoxError,
    /// The command or action that fixes it, for the operator.
    pub fix: String,
}

impl ErpProblem {
    pub fn new(source: impl std::error::Error + Send + Sync + 'static, fix: impl Into<String>) -> Self {
        Self { source: Box::new(source), fix: fix.into() }
    }
}

/// How the operator's `connections test` names one ERP's checks, and how
/// its credentials are called; known before any credentials are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErpChecks {
    /// Proves the stored credentials: "Acumatica sign-in".
    pub sign_in: &'static str,
    /// A cheap authenticated read after it: "Acumatica read".
    pub read: &'static str,
    /// Why the read is skipped when the sign-in fails: "needs a sign-in".
    pub read_needs: &'static str,
    /// Said when the credentials secret is absent: "no ERP credentials are stored".
    pub missing_credentials: &'static str,
    /// The file `--erp-credentials-file` takes: "FILE", "FILE.ionapi".
    pub credentials_file: &'static str,
    /// The check of the verdict inbox's token, for an ERP whose outcomes
    /// arrive later through it ("ION inbox token").
    pub verdict_inbox: Option<&'static str>,
    /// Why `mapping check` cannot read this ERP's master data yet (known
    /// before credentials are read); `None` when it can.
    pub master_data_unsupported: Option<&'static str>,
}

impl ErpChecks {
    /// The command that stores corrected credentials for `id`.
    pub fn store_again(&self, id: &ConnectionId) -> String {
        format!("`connector connections update {id} --erp-credentials-file {}`", self.credentials_file)
    }
}

/// The names of `settings`' ERP checks.
pub fn checks_of(settings: &ErpSettings) -> ErpChecks {
    match settings {
        ErpSettings::Acumatica(_) => crate::acumatica::CHECKS,
        ErpSettings::IfsCloud(_) => crate::ifs::CHECKS,
        ErpSettings::Infor(_) => crate::infor::CHECKS,
    }
}

/// The adapter of `settings`' ERP, from the JSON its credentials secret
/// holds. Erp-poster adds what only it needs (posting options, Infor's
/// rotated refresh tokens) on the concrete client before boxing it.
pub fn adapter_for(
    http: HttpClient,
    connection: &ConnectionId,
    settings: &ErpSettings,
    credentials: StoredCredentials,
) -> Result<Box<dyn ErpAdapter>, ErpProblem> {
    let store_again = checks_of(settings).store_again(connection);
    Ok(match settings {
        ErpSettings::Acumatica(acumatica) => {
            let credentials: AcumaticaCredentials =
                serde_json::from_value(credentials).map_err(|e| ErpProblem::new(e, &store_again))?;
            Box::new(AcumaticaClient::new(http, acumatica.clone(), credentials))
        }
        ErpSettings::IfsCloud(ifs) => {
            let credentials: IfsCredentials =
                serde_json::from_value(credentials).map_err(|e| ErpProblem::new(e, &store_again))?;
            let client = IfsClient::new(http, ifs.clone(), credentials).map_err(|e| {
                let fix = crate::ifs::fix(&e, connection);
                ErpProblem::new(e, fix)
            })?;
            Box::new(client)
        }
        ErpSettings::Infor(infor) => {
            let ionapi = IonApi::from_value(&credentials).map_err(|e| ErpProblem::new(e, &store_again))?;
            Box::new(InforClient::new(http, infor.clone(), ionapi))
        }
    })
}

/// A master-data list a mapping names values of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterData {
    GlAccounts,
    /// Suppliers (vendors) documents are posted against.
    Suppliers,
    /// The values of the mapping's dimension with this name.
    Dimension(String),
}

/// What reading one [`MasterData`] list gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterDataRead {
    /// The values the ERP holds.
    Known(BTreeSet<String>),
    /// The ERP answered and refused this read (the reason says why); the
    /// other lists are still read.
    Refused(String),
    /// This ERP has no such list: the mapping's values are not checked.
    NotUsed(&'static str),
}

/// What reading the items of one Concur list's source gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListItemsRead {
    /// Every item the source holds, active or not.
    Items(Vec<ListItemRecord>),
    /// This ERP has no such source (the reason names the ones it has).
    NotOffered(String),
}

/// What writing one vendor from Concur into the ERP came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VendorWritten {
    /// The ERP had no vendor with this code: created with every field.
    Created,
    /// The ERP had it: these fields differed and were written.
    Updated(Vec<VendorField>),
    /// The ERP had it with the same values: nothing written.
    Unchanged,
}

/// A read of master data that failed.
#[derive(Debug, thiserror::Error)]
pub enum MasterDataError {
    /// This adapter reads no master data yet (the reason says what proves
    /// access instead).
    #[error("{0}")]
    Unsupported(&'static str),
    /// This list could not be read; the others may still be.
    #[error(transparent)]
    List(BoxError),
    /// The ERP could not be read at all: the check stops.
    #[error("reading from {erp} failed: {source}")]
    Erp {
        erp: &'static str,
        #[source]
        source: BoxError,
    },
}

/// What each ERP module implements, with plain `async fn`s. Callers never
/// name it: they hold the object-safe [`ErpAdapter`], which every `Erp` is
/// (the futures boxed once, here).
///
/// `find_by_external_key` comes before every create: it is the exactly-once
/// layer that covers a crash after the ERP accepted a document but before
/// the ledger recorded it.
pub trait Erp: Send + Sync {
    /// How the operator's checks of this ERP are named.
    const CHECKS: ErpChecks;

    /// Signs in with the stored credentials; what was proven (tenant, user…)
    /// on success, else what failed and how to fix it for `connection`.
    fn sign_in(&self, connection: &ConnectionId) -> impl Future<Output = Result<String, ErpProblem>> + Send;

    /// A cheap authenticated read after [`Self::sign_in`]: what was read, or
    /// what failed and how to fix it.
    fn read_probe(&self, connection: &ConnectionId) -> impl Future<Output = Result<String, ErpProblem>> + Send;

    /// A cheap authenticated read that proves credentials and URL work.
    fn check(&self) -> impl Future<Output = Result<(), Failure>> + Send;

    /// The ERP document already created for this Concur key, if any.
    fn find_by_external_key(
        &self,
        external_key: &str,
    ) -> impl Future<Output = Result<Option<ErpReference>, Failure>> + Send;

    /// Every bill and debit adjustment the ERP holds under Concur key
    /// `external_key`, on any vendor (complete ones only); `None` for an ERP
    /// that cannot list them (Infor: its verdicts name what it holds).
    fn vendor_documents_for_key(
        &self,
        external_key: &str,
    ) -> impl Future<Output = Result<Option<Vec<HeldVendorDocument>>, Failure>> + Send {
        let _ = external_key;
        async { Ok(None) }
    }

    /// Creates `document` unless the ERP already holds it under its key
    /// (looked up first, and again after any answer that leaves the outcome
    /// unknown); either way returns its reference. Errors are classified:
    /// retryable (throttling, outages), permanent (the ERP refused the
    /// document: the reason names the field), or needs-reauth.
    fn post(&self, document: &ErpDocument) -> impl Future<Output = Result<ErpReference, Failure>> + Send;

    /// [`Self::post`] for the `attempt`-th time (1 + the document's replays),
    /// leaving out the parts an asynchronous ERP accepted earlier (`kept`:
    /// part id → its reference then). An ERP that looks documents up by key
    /// needs neither, hence this default.
    fn post_attempt(
        &self,
        document: &ErpDocument,
        attempt: u32,
        kept: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<ErpReference, Failure>> + Send {
        let _ = (attempt, kept);
        self.post(document)
    }

    /// The parts `document` is sent in, for an ERP that answers per part
    /// (Infor: one DocumentID per BOD); `None` for the others.
    fn part_ids(&self, document: &ErpDocument) -> Option<Result<Vec<String>, Failure>> {
        let _ = document;
        None
    }

    /// Whether the answer to `post` only means "accepted for routing" and
    /// the verdict arrives later (Infor ION).
    fn is_asynchronous(&self) -> bool {
        false
    }

    /// How `mapping check` labels `list` in its report.
    fn master_data_label(&self, list: &MasterData) -> String;

    /// The values the ERP holds in `list` (read-only, fresh).
    fn read_master_data(
        &self,
        list: &MasterData,
    ) -> impl Future<Output = Result<MasterDataRead, MasterDataError>> + Send;

    /// One page of the ERP's vendors as Concur vendor records (reference
    /// sync); `None` for an ERP whose vendor read is not built yet.
    fn read_vendors(
        &self,
        page: ReadPage,
        limits: VendorLimits,
    ) -> impl Future<Output = Result<Option<Vec<VendorRecord>>, Failure>> + Send {
        let _ = (page, limits);
        async { Ok(None) }
    }

    /// Every item of `source` as items of Concur list `list` (reference
    /// sync). Always a full read: none of the sources (Acumatica's
    /// subaccounts and projects, IFS's code-part values, M3's dimensions)
    /// carries a filterable change time, and a full read is what finds the
    /// deletes.
    fn read_list_items(
        &self,
        source: &ListSource,
        list: &str,
    ) -> impl Future<Output = Result<ListItemsRead, Failure>> + Send {
        let _ = list;
        let reason = format!("this ERP has no list source `{source}` yet");
        async { Ok(ListItemsRead::NotOffered(reason)) }
    }

    /// One page of the ERP's purchase orders as Concur purchase orders
    /// (reference sync, ERP → Concur): open ones `Transmitted`, completed,
    /// closed or cancelled ones `closed`; orders not yet released (on
    /// hold, pending approval) are left out. `None` for an ERP whose read
    /// is not built.
    fn read_purchase_orders(
        &self,
        page: ReadPage,
    ) -> impl Future<Output = Result<Option<Vec<PurchaseOrderRecord>>, Failure>> + Send {
        let _ = page;
        async { Ok(None) }
    }

    /// One page of the ERP's goods receipts of purchase order lines
    /// (reference sync, ERP → Concur); a reversed or deleted receipt comes
    /// back inactive where the ERP shows it. `None` for an ERP whose read
    /// is not built.
    fn read_po_receipts(
        &self,
        page: ReadPage,
    ) -> impl Future<Output = Result<Option<Vec<PoReceiptRecord>>, Failure>> + Send {
        let _ = page;
        async { Ok(None) }
    }

    /// Whether the ERP holds Concur purchase order `number`, for an ERP
    /// that creates the Concur POs an invoice references before posting
    /// it (IFS Cloud); `None` for an ERP that keeps no Concur POs.
    fn holds_purchase_order(&self, number: &str) -> impl Future<Output = Result<Option<bool>, Failure>> + Send {
        let _ = number;
        async { Ok(None) }
    }

    /// Creates Concur purchase order `order` unless the ERP holds it
    /// (looked up by its number first); either way its reference.
    fn create_purchase_order(
        &self,
        order: &PurchaseOrderRecord,
    ) -> impl Future<Output = Result<ErpReference, Failure>> + Send {
        let number = order.number.clone();
        async move { Err(Failure::permanent(format!("this ERP keeps no Concur purchase orders (PO `{number}`)"))) }
    }

    /// Creates or updates one vendor from Concur (the Concur → ERP
    /// direction of the reference sync), keyed by `vendor.vendor_code`
    /// (the ERP's vendor id), in the connection's company:
    /// - not in the ERP: created with every field of `vendor`;
    /// - in the ERP: only the fields among `fields` (those Concur owns)
    ///   whose values differ are written, with the ERP's concurrency rule;
    ///   none differing is [`VendorWritten::Unchanged`] and writes nothing;
    /// - a create refused because the vendor now exists (a concurrent
    ///   create) is read again and handled as an existing vendor, so a
    ///   vendor is created once however often this runs.
    ///
    /// Errors are classified like [`Self::post`]'s: a refusal of the ERP is
    /// permanent with its reason. `None` for an ERP whose vendor write is
    /// not built.
    fn write_vendor(
        &self,
        vendor: &VendorRecord,
        fields: &VendorFields,
    ) -> impl Future<Output = Result<Option<VendorWritten>, Failure>> + Send {
        let _ = (vendor, fields);
        async { Ok(None) }
    }
}

/// The boundary every caller uses (erp-poster holds `Arc<dyn ErpAdapter>`,
/// the operator CLI a `Box`): [`Erp`] with boxed futures, so it is object
/// safe and keeps the poster's async nesting shallow. See [`Erp`] for what
/// each method does.
pub trait ErpAdapter: Send + Sync {
    fn checks(&self) -> ErpChecks;
    fn sign_in<'a>(&'a self, connection: &'a ConnectionId) -> BoxFuture<'a, Result<String, ErpProblem>>;
    fn read_probe<'a>(&'a self, connection: &'a ConnectionId) -> BoxFuture<'a, Result<String, ErpProblem>>;
    fn check(&self) -> BoxFuture<'_, Result<(), Failure>>;
    fn find_by_external_key<'a>(
        &'a self,
        external_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ErpReference>, Failure>>;
    fn vendor_documents_for_key<'a>(
        &'a self,
        external_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<HeldVendorDocument>>, Failure>>;
    fn post<'a>(&'a self, document: &'a ErpDocument) -> BoxFuture<'a, Result<ErpReference, Failure>>;
    fn post_attempt<'a>(
        &'a self,
        document: &'a ErpDocument,
        attempt: u32,
        kept: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<ErpReference, Failure>>;
    fn part_ids(&self, document: &ErpDocument) -> Option<Result<Vec<String>, Failure>>;
    fn is_asynchronous(&self) -> bool;
    fn master_data_label(&self, list: &MasterData) -> String;
    fn read_master_data<'a>(&'a self, list: &'a MasterData) -> BoxFuture<'a, Result<MasterDataRead, MasterDataError>>;
    fn read_vendors(
        &self,
        page: ReadPage,
        limits: VendorLimits,
    ) -> BoxFuture<'_, Result<Option<Vec<VendorRecord>>, Failure>>;
    fn read_list_items<'a>(
        &'a self,
        source: &'a ListSource,
        list: &'a str,
    ) -> BoxFuture<'a, Result<ListItemsRead, Failure>>;
    fn write_vendor<'a>(
        &'a self,
        vendor: &'a VendorRecord,
        fields: &'a VendorFields,
    ) -> BoxFuture<'a, Result<Option<VendorWritten>, Failure>>;
    fn read_purchase_orders(&self, page: ReadPage) -> BoxFuture<'_, Result<Option<Vec<PurchaseOrderRecord>>, Failure>>;
    fn read_po_receipts(&self, page: ReadPage) -> BoxFuture<'_, Result<Option<Vec<PoReceiptRecord>>, Failure>>;
    fn holds_purchase_order<'a>(&'a self, number: &'a str) -> BoxFuture<'a, Result<Option<bool>, Failure>>;
    fn create_purchase_order<'a>(
        &'a self,
        order: &'a PurchaseOrderRecord,
    ) -> BoxFuture<'a, Result<ErpReference, Failure>>;
}

impl<T: Erp> ErpAdapter for T {
    fn checks(&self) -> ErpChecks {
        T::CHECKS
    }

    fn sign_in<'a>(&'a self, connection: &'a ConnectionId) -> BoxFuture<'a, Result<String, ErpProblem>> {
        Box::pin(Erp::sign_in(self, connection))
    }

    fn read_probe<'a>(&'a self, connection: &'a ConnectionId) -> BoxFuture<'a, Result<String, ErpProblem>> {
        Box::pin(Erp::read_probe(self, connection))
    }

    fn check(&self) -> BoxFuture<'_, Result<(), Failure>> {
        Box::pin(Erp::check(self))
    }

    fn find_by_external_key<'a>(
        &'a self,
        external_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ErpReference>, Failure>> {
        Box::pin(Erp::find_by_external_key(self, external_key))
    }

    fn vendor_documents_for_key<'a>(
        &'a self,
        external_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<HeldVendorDocument>>, Failure>> {
        Box::pin(Erp::vendor_documents_for_key(self, external_key))
    }

    fn post<'a>(&'a self, document: &'a ErpDocument) -> BoxFuture<'a, Result<ErpReference, Failure>> {
        Box::pin(Erp::post(self, document))
    }

    fn post_attempt<'a>(
        &'a self,
        document: &'a ErpDocument,
        attempt: u32,
        kept: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<ErpReference, Failure>> {
        Box::pin(Erp::post_attempt(self, document, attempt, kept))
    }

    fn part_ids(&self, document: &ErpDocument) -> Option<Result<Vec<String>, Failure>> {
        Erp::part_ids(self, document)
    }

    fn is_asynchronous(&self) -> bool {
        Erp::is_asynchronous(self)
    }

    fn master_data_label(&self, list: &MasterData) -> String {
        Erp::master_data_label(self, list)
    }

    fn read_master_data<'a>(&'a self, list: &'a MasterData) -> BoxFuture<'a, Result<MasterDataRead, MasterDataError>> {
        Box::pin(Erp::read_master_data(self, list))
    }

    fn read_vendors(
        &self,
        page: ReadPage,
        limits: VendorLimits,
    ) -> BoxFuture<'_, Result<Option<Vec<VendorRecord>>, Failure>> {
        Box::pin(Erp::read_vendors(self, page, limits))
    }

    fn read_list_items<'a>(
        &'a self,
        source: &'a ListSource,
        list: &'a str,
    ) -> BoxFuture<'a, Result<ListItemsRead, Failure>> {
        Box::pin(Erp::read_list_items(self, source, list))
    }

    fn write_vendor<'a>(
        &'a self,
        vendor: &'a VendorRecord,
        fields: &'a VendorFields,
    ) -> BoxFuture<'a, Result<Option<VendorWritten>, Failure>> {
        Box::pin(Erp::write_vendor(self, vendor, fields))
    }

    fn read_purchase_orders(&self, page: ReadPage) -> BoxFuture<'_, Result<Option<Vec<PurchaseOrderRecord>>, Failure>> {
        Box::pin(Erp::read_purchase_orders(self, page))
    }

    fn read_po_receipts(&self, page: ReadPage) -> BoxFuture<'_, Result<Option<Vec<PoReceiptRecord>>, Failure>> {
        Box::pin(Erp::read_po_receipts(self, page))
    }

    fn holds_purchase_order<'a>(&'a self, number: &'a str) -> BoxFuture<'a, Result<Option<bool>, Failure>> {
        Box::pin(Erp::holds_purchase_order(self, number))
    }

    fn create_purchase_order<'a>(
        &'a self,
        order: &'a PurchaseOrderRecord,
    ) -> BoxFuture<'a, Result<ErpReference, Failure>> {
        Box::pin(Erp::create_purchase_order(self, order))
    }
}

/// The fix for a failure classified as `failure`: new credentials
/// (`reauth`), waiting, or corrected settings (`permanent`).
pub(crate) fn fix_by_kind(
    failure: &Failure,
    reauth: impl FnOnce() -> String,
    permanent: impl FnOnce() -> String,
) -> String {
    match failure.kind {
        domain::FailureKind::NeedsReauth => reauth(),
        domain::FailureKind::Retryable { .. } | domain::FailureKind::Parked => {
            "wait a few minutes and test again; nothing to change".to_owned()
        }
        domain::FailureKind::Permanent => permanent(),
    }
}
