//! [`InforClient`] as an [`ErpAdapter`]: asynchronous outcomes, one part
//! per BOD, and the fix the operator is told for each of its errors.

use std::collections::BTreeMap;

use domain::{ConnectionId, ErpDocument, Failure};

use super::{InforClient, InforError, Listing, MasterList, Variation, references};
use crate::adapter::fix_by_kind;
use crate::{
    Erp, ErpChecks, ErpProblem, ErpReference, ListItemsRead, MasterData, MasterDataError, MasterDataRead, VendorWritten,
};

pub(crate) const CHECKS: ErpChecks = ErpChecks {
    sign_in: "Infor ION token",
    read: "Infor ION messaging",
    read_needs: "needs a token",
    missing_credentials: "no .ionapi file is stored",
    credentials_file: "FILE.ionapi",
    verdict_inbox: Some("ION inbox token"),
    master_data_unsupported: None,
};

impl Erp for InforClient {
    const CHECKS: ErpChecks = CHECKS;

    async fn sign_in(&self, connection: &ConnectionId) -> Result<String, ErpProblem> {
        self.authenticate().await.map_err(|e| problem(e, connection))?;
        Ok("the service account's password grant works".to_owned())
    }

    async fn read_probe(&self, connection: &ConnectionId) -> Result<String, ErpProblem> {
        self.ping().await.map_err(|e| problem(e, connection))?;
        Ok("IMS answers the ping".to_owned())
    }

    async fn check(&self) -> Result<(), Failure> {
        let context = format!("checking {} at {}", self.connection(), self.api_base());
        self.check_access().await.map_err(|e| e.to_failure(&context))
    }

    /// Always `Ok(None)`: ION offers no lookup of a document by our key.
    /// Exactly-once rests on the ledger (the poster records what it sent)
    /// and on ION's DocumentID + variationID check, which drops a resend of
    /// the same BOD.
    async fn find_by_external_key(&self, _external_key: &str) -> Result<Option<ErpReference>, Failure> {
        Ok(None)
    }

    /// [`InforClient::post_with_variation`] with [`Variation::FIRST`]: any
    /// resend is then the same BOD and is dropped as a repeat. A poster that
    /// must replace an earlier version (a replay after the ERP rejected it)
    /// calls `post_with_variation` with a higher variation.
    ///
    /// The reference lists every BOD sent, `ion:<DocumentID>:<variation>`,
    /// joined with `, `. ION accepted them for routing; the ERP's outcome
    /// comes back asynchronously ([`parse_outcome`]).
    async fn post(&self, document: &ErpDocument) -> Result<ErpReference, Failure> {
        let sent = self.post_with_variation(document, Variation::FIRST).await?;
        Ok(references(&sent))
    }

    /// `attempt` versions the BODs (their variationID): a resend after a
    /// crash is the same BOD (dropped as a duplicate by ION) while a replay
    /// after a refusal is a new one. Parts in `kept` are not sent again.
    async fn post_attempt(
        &self,
        document: &ErpDocument,
        attempt: u32,
        kept: &BTreeMap<String, String>,
    ) -> Result<ErpReference, Failure> {
        let variation = Variation(u64::from(attempt.max(1)));
        let sent = self.post_parts(document, variation, kept).await?;
        Ok(references(&sent))
    }

    fn part_ids(&self, document: &ErpDocument) -> Option<Result<Vec<String>, Failure>> {
        Some(InforClient::part_ids(self, document))
    }

    fn is_asynchronous(&self) -> bool {
        true
    }

    /// Synchronous reads through the ION API gateway (CRS620MI), not
    /// `Sync.SupplierPartyMaster` BODs: the poster already reads M3 master
    /// data with the connection's credentials, while BODs need a document
    /// flow the customer configures in ION. One page holds every supplier
    /// (M3 pages by key, not offset); a later page is empty.
    async fn read_list_items(
        &self,
        source: &domain::reference::ListSource,
        list: &str,
    ) -> Result<ListItemsRead, Failure> {
        let context = format!("reading {source} of the Infor accounting entity for Concur list `{list}`");
        match self.list_items(source, list).await.map_err(|e| e.to_failure(&context))? {
            Some(items) => Ok(ListItemsRead::Items(items)),
            None => Ok(ListItemsRead::NotOffered(format!(
                "Infor M3 has no list source `{source}`: use `accounts` or `dimension:NAME` (a dimension's DIMT)"
            ))),
        }
    }

    async fn read_vendors(
        &self,
        page: domain::reference::ReadPage,
        limits: domain::reference::VendorLimits,
    ) -> Result<Option<Vec<domain::reference::VendorRecord>>, Failure> {
        if page.skip > 0 {
            return Ok(Some(Vec::new()));
        }
        let context = "reading the suppliers of the Infor accounting entity";
        let records = self.supplier_vendors(domain::reference::DEFAULT_ADDRESS_CODE, limits).await;
        records.map(Some).map_err(|e| e.to_failure(context))
    }

    /// See [`InforClient::purchase_orders`]: one page holds every order (M3
    /// pages by key, not offset); a later page is empty.
    async fn read_purchase_orders(
        &self,
        page: domain::reference::ReadPage,
    ) -> Result<Option<Vec<domain::reference::PurchaseOrderRecord>>, Failure> {
        if page.skip > 0 {
            return Ok(Some(Vec::new()));
        }
        let context = format!("reading the purchase orders of {}", self.connection());
        let records = self.purchase_orders(domain::reference::DEFAULT_ADDRESS_CODE).await;
        records.map(Some).map_err(|e| e.to_failure(&context))
    }

    /// See [`InforClient::po_receipts`]: one page holds every receipt; a
    /// later page is empty.
    async fn read_po_receipts(
        &self,
        page: domain::reference::ReadPage,
    ) -> Result<Option<Vec<domain::reference::PoReceiptRecord>>, Failure> {
        if page.skip > 0 {
            return Ok(Some(Vec::new()));
        }
        let context = format!("reading the purchase receipts of {}", self.connection());
        self.po_receipts().await.map(Some).map_err(|e| e.to_failure(&context))
    }

    /// See [`InforClient::write_supplier`].
    async fn write_vendor(
        &self,
        vendor: &domain::reference::VendorRecord,
        fields: &domain::reference::VendorFields,
    ) -> Result<Option<VendorWritten>, Failure> {
        let context = format!("writing vendor `{}` into {} as an M3 supplier", vendor.vendor_code, self.connection());
        let write = self.write_supplier(vendor, fields);
        crate::vendor_write::answer(vendor, "Infor M3", write, |e| e.to_failure(&context)).await
    }

    fn master_data_label(&self, list: &MasterData) -> String {
        match list {
            MasterData::GlAccounts => "GL accounts".to_owned(),
            MasterData::Suppliers => "suppliers".to_owned(),
            MasterData::Dimension(name) => format!("dimension {name}"),
        }
    }

    async fn read_master_data(&self, list: &MasterData) -> Result<MasterDataRead, MasterDataError> {
        let list = match list {
            MasterData::GlAccounts => MasterList::GlAccounts,
            MasterData::Suppliers => MasterList::Suppliers,
            MasterData::Dimension(name) => MasterList::Dimension(name.clone()),
        };
        let (listing, _) = self.master_list(&list, true).await.map_err(|e| MasterDataError::List(e.into()))?;
        Ok(match listing.as_ref() {
            Listing::Values(known) => MasterDataRead::Known(known.clone()),
            Listing::Refused(reason) => MasterDataRead::Refused(format!("Infor refused the read: {reason}")),
        })
    }
}

fn problem(error: InforError, connection: &ConnectionId) -> ErpProblem {
    let fix = fix_by_kind(
        &error.to_failure(""),
        || format!("download the app's .ionapi file again, then {}", CHECKS.store_again(connection)),
        || {
            format!(
                "check the authorized app, the connection point and `connector connections update {connection} \
                 --ion-…`"
            )
        },
    );
    ErpProblem::new(error, fix)
}
