//! [`AcumaticaClient`] as an [`ErpAdapter`], and the fix the operator is
//! told for each of its errors.

use domain::reference::{
    DEFAULT_ADDRESS_CODE, ListSource, PoReceiptRecord, PurchaseOrderRecord, ReadPage, VendorFields, VendorLimits,
    VendorRecord,
};
use domain::{ConnectionId, ErpDocument, ErpDocumentKind, Failure, HeldVendorDocument};

use super::{AcumaticaClient, AcumaticaError, BillType};
use crate::{
    Erp, ErpChecks, ErpProblem, ErpReference, ListItemsRead, MasterData, MasterDataError, MasterDataRead, VendorWritten,
};

pub(crate) const CHECKS: ErpChecks = ErpChecks {
    sign_in: "Acumatica sign-in",
    read: "Acumatica read",
    read_needs: "needs a sign-in",
    missing_credentials: "no ERP credentials are stored",
    credentials_file: "FILE",
    verdict_inbox: None,
    master_data_unsupported: Some(NO_MASTER_DATA),
};

const NO_MASTER_DATA: &str =
    "the Acumatica adapter does not read accounts and vendors yet; `connections test` proves access";

impl Erp for AcumaticaClient {
    const CHECKS: ErpChecks = CHECKS;

    async fn sign_in(&self, connection: &ConnectionId) -> Result<String, ErpProblem> {
        self.authenticate().await.map_err(|e| problem(e, connection))?;
        let settings = &self.settings;
        Ok(format!("tenant {} at {} as user {}", settings.tenant, settings.base_url, self.credentials.username))
    }

    async fn read_probe(&self, connection: &ConnectionId) -> Result<String, ErpProblem> {
        AcumaticaClient::read_probe(self).await.map_err(|e| problem(e, connection))?;
        Ok(format!("{}/{} Vendor", self.settings.endpoint_name, self.settings.endpoint_version))
    }

    async fn check(&self) -> Result<(), Failure> {
        let context = format!("checking Acumatica tenant {} at {}", self.settings.tenant, self.base());
        self.check_access().await.map_err(|e| e.to_failure(&context))
    }

    /// A bill whose `VendorRef` is the key (any vendor), else a journal
    /// carrying it in the connection's journal key field.
    async fn find_by_external_key(&self, external_key: &str) -> Result<Option<ErpReference>, Failure> {
        let context = format!("looking up Concur key `{external_key}` in Acumatica tenant {}", self.settings.tenant);
        let bill = self.lookup_bill(None, external_key).await.map_err(|e| e.to_failure(&context))?;
        if let Some(found) = bill {
            return Ok(Some(found.reference));
        }
        self.find_journal_by_key(&self.posting.journal_key_field, external_key)
            .await
            .map_err(|e| e.to_failure(&context))
    }

    async fn vendor_documents_for_key(&self, external_key: &str) -> Result<Option<Vec<HeldVendorDocument>>, Failure> {
        let context =
            format!("listing the bills of Concur key `{external_key}` in Acumatica tenant {}", self.settings.tenant);
        self.bills_by_vendor_ref(external_key).await.map(Some).map_err(|e| e.to_failure(&context))
    }

    async fn post(&self, document: &ErpDocument) -> Result<ErpReference, Failure> {
        let context = format!(
            "posting the {} for Concur key `{}` in Acumatica tenant {}",
            document.label(),
            document.key,
            self.settings.tenant
        );
        let created = match &document.kind {
            ErpDocumentKind::Bill { vendor } => {
                self.create_bill(&self.bill_for(document, vendor, BillType::Bill)).await
            }
            ErpDocumentKind::DebitAdjustment { vendor } => {
                self.create_bill(&self.bill_for(document, vendor, BillType::DebitAdjustment)).await
            }
            ErpDocumentKind::Journal => self.create_journal(&self.journal_for(document)).await,
        };
        created.map_err(|e| e.to_failure(&context))
    }

    async fn read_vendors(&self, page: ReadPage, limits: VendorLimits) -> Result<Option<Vec<VendorRecord>>, Failure> {
        let context = format!("reading the vendors of Acumatica tenant {}", self.settings.tenant);
        self.vendors_page(page, DEFAULT_ADDRESS_CODE, limits).await.map(Some).map_err(|e| e.to_failure(&context))
    }

    async fn read_list_items(&self, source: &ListSource, list: &str) -> Result<ListItemsRead, Failure> {
        let context = format!("reading {source} of Acumatica tenant {} for Concur list `{list}`", self.settings.tenant);
        match self.list_items(source, list).await.map_err(|e| e.to_failure(&context))? {
            Some(items) => Ok(ListItemsRead::Items(items)),
            None => Ok(ListItemsRead::NotOffered(format!(
                "Acumatica has no list source `{source}`: use subaccounts, accounts or projects"
            ))),
        }
    }

    /// See [`AcumaticaClient::purchase_orders_page`]: every order names
    /// the vendors' address code.
    async fn read_purchase_orders(&self, page: ReadPage) -> Result<Option<Vec<PurchaseOrderRecord>>, Failure> {
        let context = format!("reading the purchase orders of Acumatica tenant {}", self.settings.tenant);
        let orders = self.purchase_orders_page(page, DEFAULT_ADDRESS_CODE).await;
        orders.map(Some).map_err(|e| e.to_failure(&context))
    }

    /// See [`AcumaticaClient::po_receipts_page`]: the first page holds every
    /// receipt of the window, a later one is empty.
    async fn read_po_receipts(&self, page: ReadPage) -> Result<Option<Vec<PoReceiptRecord>>, Failure> {
        let context = format!("reading the purchase receipts of Acumatica tenant {}", self.settings.tenant);
        self.po_receipts_page(page).await.map(Some).map_err(|e| e.to_failure(&context))
    }

    /// See [`AcumaticaClient::write_vendor`].
    async fn write_vendor(
        &self,
        vendor: &VendorRecord,
        fields: &VendorFields,
    ) -> Result<Option<VendorWritten>, Failure> {
        let context = format!("writing vendor `{}` into Acumatica tenant {}", vendor.vendor_code, self.settings.tenant);
        let write = AcumaticaClient::write_vendor(self, vendor, fields);
        crate::vendor_write::answer(vendor, "Acumatica", write, |e| e.to_failure(&context)).await
    }

    fn master_data_label(&self, _list: &MasterData) -> String {
        "ERP values".to_owned()
    }

    async fn read_master_data(&self, _list: &MasterData) -> Result<MasterDataRead, MasterDataError> {
        Err(MasterDataError::Unsupported(NO_MASTER_DATA))
    }
}

fn problem(error: AcumaticaError, connection: &ConnectionId) -> ErpProblem {
    let fix = fix(&error, connection);
    ErpProblem::new(error, fix)
}

/// Which command fixes an Acumatica failure.
fn fix(e: &AcumaticaError, id: &ConnectionId) -> String {
    match e {
        AcumaticaError::InvalidClient { .. } => format!(
            "correct the credentials file and store it with `connector connections update {id} \
             --erp-credentials-file FILE` (or correct the tenant with `--tenant`)"
        ),
        AcumaticaError::InvalidUser { .. }
        | AcumaticaError::InvalidScope { .. }
        | AcumaticaError::TokenRefused { .. } => {
            format!(
                "fix it in Acumatica or in the credentials file, then `connector connections update {id} \
                 --erp-credentials-file FILE`"
            )
        }
        AcumaticaError::NoTokenEndpoint { .. } | AcumaticaError::Unreachable { .. } => {
            format!("`connector connections update {id} --erp-url URL` if the URL is wrong; then test again")
        }
        AcumaticaError::EndpointNotPublished { .. } => {
            format!("`connector connections update {id} --endpoint-version V` (and `--endpoint-name N` if it differs)")
        }
        AcumaticaError::Unauthorized { .. } | AcumaticaError::Forbidden { .. } => {
            "give the integration user the rights named above in Acumatica, then test again".to_owned()
        }
        AcumaticaError::Unavailable { .. } => "wait a few minutes and test again; nothing to change".to_owned(),
        AcumaticaError::Rejected { .. } | AcumaticaError::Malformed { .. } => {
            "check the instance's web service endpoint configuration; report the message if it persists".to_owned()
        }
        // Posting errors; `test` only signs in and reads, so these come from posting paths.
        AcumaticaError::Invalid { .. }
        | AcumaticaError::Refused { .. }
        | AcumaticaError::BadRequest { .. }
        | AcumaticaError::ReleaseFailed { .. } => {
            "see the message: it names the document, line and field Acumatica refused".to_owned()
        }
        AcumaticaError::VendorRefused { .. } => {
            "see the message: it names the vendor and the field Acumatica refused".to_owned()
        }
    }
}
